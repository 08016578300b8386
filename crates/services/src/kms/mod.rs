//! AWS Key Management Service (awsJson1.1, target prefix `TrentService`, regional).
//!
//! Keys (symmetric AES-256-GCM `SYMMETRIC_DEFAULT`, `HMAC_224/256/384/512`, RSA 2048/3072/4096
//! for ENCRYPT_DECRYPT or SIGN_VERIFY, ECC NIST P-256/384/521 and secp256k1 for SIGN_VERIFY),
//! aliases, key policies, tags, deletion windows on the business clock, and real cryptography
//! with aws-lc-rs: Encrypt / Decrypt / ReEncrypt (symmetric and RSAES-OAEP) /
//! GenerateDataKey(WithoutPlaintext) / GenerateDataKeyPair(WithoutPlaintext) / GenerateRandom /
//! GenerateMac / VerifyMac / Sign / Verify / GetPublicKey (`pk`, [`asym`]). Ciphertext blobs
//! are described in [`blob`]; key material is stored only sealed under the data dir's master
//! key ([`store`]). Rotation ([`rotation`], with [`run_due_rotations`] for the scheduler),
//! grants ([`grants`], with [`grants_allow`] for the authorizer) and imported key material
//! ([`import`]) keep their state in side records beside the key.
//!
//! Authorization: every operation names `kms:<Action>` on the key ARN it targets (on the
//! alias ARN when `KeyId` is an alias: authz() cannot read state; [`key_policy_for_arn`]
//! resolves alias ARNs to their key's policy), with `kms:CallerAccount`,
//! `kms:EncryptionContext:*`, `kms:EncryptionContextKeys`, `kms:EncryptionAlgorithm`,
//! `kms:RequestAlias` and, for CreateKey, `kms:KeySpec` / `kms:KeyUsage` / `kms:KeyOrigin`.

pub mod asym;
pub mod blob;
pub mod error;
pub mod grants;
pub mod import;
pub mod internal;
mod pk;
pub mod rotation;
pub mod store;

pub use grants::grants_allow;
pub use rotation::{run_due_rotations, work_due};
pub use store::key_policy_for_arn;

use crate::{
    authz::AuthzCheck, context::RequestContext, env::Env, error::ApiError, input::Input, Reply,
};
use base64::Engine as _;
// A request blob's bytes, by the rule every JSON service decodes them with.
use crate::model_checks::decode_blob as unb64;
use error::{self as kerr, err};
use palisade_store::{ReadTx, WriteTx};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use store::{KeyRecord, KeyRef};
use time::OffsetDateTime;

type Context = BTreeMap<String, String>;

const MAX_KEY_POLICY: usize = 32_768;

const KEY_SPECS: &[&str] = &[
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "SYMMETRIC_DEFAULT",
    "HMAC_224",
    "HMAC_256",
    "HMAC_384",
    "HMAC_512",
    "SM2",
    "ML_DSA_44",
    "ML_DSA_65",
    "ML_DSA_87",
    "ECC_NIST_EDWARDS25519",
];
const KEY_USAGES: &[&str] = &[
    "SIGN_VERIFY",
    "ENCRYPT_DECRYPT",
    "GENERATE_VERIFY_MAC",
    "KEY_AGREEMENT",
];
const ORIGINS: &[&str] = &["AWS_KMS", "EXTERNAL", "AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"];
const ENCRYPTION_ALGORITHMS: &[&str] = &[
    "SYMMETRIC_DEFAULT",
    "RSAES_OAEP_SHA_1",
    "RSAES_OAEP_SHA_256",
    "SM2PKE",
];
const DATA_KEY_SPECS: &[&str] = &["AES_256", "AES_128"];
const SIGNING_ALGORITHMS: &[&str] = &[
    "RSASSA_PSS_SHA_256",
    "RSASSA_PSS_SHA_384",
    "RSASSA_PSS_SHA_512",
    "RSASSA_PKCS1_V1_5_SHA_256",
    "RSASSA_PKCS1_V1_5_SHA_384",
    "RSASSA_PKCS1_V1_5_SHA_512",
    "ECDSA_SHA_256",
    "ECDSA_SHA_384",
    "ECDSA_SHA_512",
    "SM2DSA",
    "ML_DSA_SHAKE_256",
    "ED25519_SHA_512",
    "ED25519_PH_SHA_512",
];
const MESSAGE_TYPES: &[&str] = &["RAW", "DIGEST", "EXTERNAL_MU"];
const DATA_KEY_PAIR_SPECS: &[&str] = &[
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "SM2",
    "ECC_NIST_EDWARDS25519",
];
const MAC_ALGORITHMS: &[&str] = &[
    "HMAC_SHA_224",
    "HMAC_SHA_256",
    "HMAC_SHA_384",
    "HMAC_SHA_512",
];

// ---------------------------------------------------------------- inputs

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagIn {
    pub tag_key: String,
    pub tag_value: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateKeyInput {
    pub policy: Option<String>,
    pub description: Option<String>,
    pub key_usage: Option<String>,
    pub customer_master_key_spec: Option<String>,
    pub key_spec: Option<String>,
    pub origin: Option<String>,
    pub custom_key_store_id: Option<String>,
    pub bypass_policy_lockout_safety_check: Option<bool>,
    pub tags: Option<Vec<TagIn>>,
    pub multi_region: Option<bool>,
    pub xks_key_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyIdInput {
    pub key_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleKeyDeletionInput {
    pub key_id: String,
    pub pending_window_in_days: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateKeyDescriptionInput {
    pub key_id: String,
    pub description: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagResourceInput {
    pub key_id: String,
    pub tags: Vec<TagIn>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagResourceInput {
    pub key_id: String,
    pub tag_keys: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListInput {
    pub key_id: Option<String>,
    pub limit: Option<i64>,
    pub marker: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AliasInput {
    pub alias_name: String,
    pub target_key_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteAliasInput {
    pub alias_name: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EncryptInput {
    pub key_id: String,
    pub plaintext: String,
    pub encryption_context: Option<Context>,
    pub encryption_algorithm: Option<String>,
    pub dry_run: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DecryptInput {
    pub ciphertext_blob: String,
    pub encryption_context: Option<Context>,
    pub key_id: Option<String>,
    pub encryption_algorithm: Option<String>,
    pub dry_run: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReEncryptInput {
    pub ciphertext_blob: String,
    pub source_encryption_context: Option<Context>,
    pub source_key_id: Option<String>,
    pub destination_key_id: String,
    pub destination_encryption_context: Option<Context>,
    pub source_encryption_algorithm: Option<String>,
    pub destination_encryption_algorithm: Option<String>,
    pub dry_run: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateDataKeyInput {
    pub key_id: String,
    pub encryption_context: Option<Context>,
    pub number_of_bytes: Option<i64>,
    pub key_spec: Option<String>,
    pub dry_run: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateRandomInput {
    pub number_of_bytes: Option<i64>,
    pub custom_key_store_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MacInput {
    pub key_id: String,
    pub message: String,
    pub mac_algorithm: String,
    /// VerifyMac only.
    pub mac: Option<String>,
    pub dry_run: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SignInput {
    pub key_id: String,
    pub message: String,
    pub message_type: Option<String>,
    pub signing_algorithm: String,
    /// Verify only.
    pub signature: Option<String>,
    pub grant_tokens: Option<Vec<String>>,
    pub dry_run: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetPublicKeyInput {
    pub key_id: String,
    pub grant_tokens: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateDataKeyPairInput {
    pub key_id: String,
    pub key_pair_spec: String,
    pub encryption_context: Option<Context>,
    pub grant_tokens: Option<Vec<String>>,
    pub dry_run: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutKeyPolicyInput {
    pub key_id: String,
    pub policy_name: Option<String>,
    pub policy: String,
    pub bypass_policy_lockout_safety_check: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetKeyPolicyInput {
    pub key_id: String,
    pub policy_name: Option<String>,
}

/// The KMS actions Palisade implements.
#[derive(Debug)]
pub enum Operation {
    CreateKey(CreateKeyInput),
    DescribeKey(KeyIdInput),
    ListKeys(ListInput),
    EnableKey(KeyIdInput),
    DisableKey(KeyIdInput),
    ScheduleKeyDeletion(ScheduleKeyDeletionInput),
    CancelKeyDeletion(KeyIdInput),
    UpdateKeyDescription(UpdateKeyDescriptionInput),
    TagResource(TagResourceInput),
    UntagResource(UntagResourceInput),
    ListResourceTags(ListInput),
    CreateAlias(AliasInput),
    UpdateAlias(AliasInput),
    DeleteAlias(DeleteAliasInput),
    ListAliases(ListInput),
    Encrypt(EncryptInput),
    Decrypt(DecryptInput),
    ReEncrypt(ReEncryptInput),
    GenerateDataKey(GenerateDataKeyInput),
    GenerateDataKeyWithoutPlaintext(GenerateDataKeyInput),
    GenerateRandom(GenerateRandomInput),
    GenerateMac(MacInput),
    VerifyMac(MacInput),
    PutKeyPolicy(PutKeyPolicyInput),
    GetKeyPolicy(GetKeyPolicyInput),
    ListKeyPolicies(ListInput),
    Sign(SignInput),
    Verify(SignInput),
    GetPublicKey(GetPublicKeyInput),
    GenerateDataKeyPair(GenerateDataKeyPairInput),
    GenerateDataKeyPairWithoutPlaintext(GenerateDataKeyPairInput),
    EnableKeyRotation(rotation::EnableKeyRotationInput),
    DisableKeyRotation(KeyIdInput),
    GetKeyRotationStatus(KeyIdInput),
    RotateKeyOnDemand(KeyIdInput),
    ListKeyRotations(rotation::ListKeyRotationsInput),
    CreateGrant(grants::CreateGrantInput),
    ListGrants(grants::ListGrantsInput),
    ListRetirableGrants(grants::ListRetirableGrantsInput),
    RetireGrant(grants::RetireGrantInput),
    RevokeGrant(grants::RevokeGrantInput),
    GetParametersForImport(import::GetParametersForImportInput),
    ImportKeyMaterial(import::ImportKeyMaterialInput),
    DeleteImportedKeyMaterial(import::DeleteImportedKeyMaterialInput),
}

/// Whether a JSON body may hold the member `name`: it spells it, or it has an escape (a
/// member name can be spelled with `\u` escapes). The cheap test before a second parse.
fn mentions(body: &[u8], name: &[u8]) -> bool {
    body.contains(&b'\\') || body.windows(name.len()).any(|w| w == name)
}

/// GrantTokens, for every operation that takes them ([`grants::check_grant_tokens`]). The
/// body is searched first so requests without tokens are not parsed twice.
fn check_grant_tokens(input: &Input<'_>) -> Result<(), ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Tokens {
        grant_tokens: Option<Vec<String>>,
    }
    let Input::Json(body) = input else {
        return Ok(());
    };
    if !mentions(body, b"GrantTokens") {
        return Ok(());
    }
    match input.parse::<Tokens>()?.grant_tokens {
        Some(tokens) => grants::check_grant_tokens(&tokens),
        None => Ok(()),
    }
}

/// The operations that take a `Recipient` (an AWS Nitro Enclaves or NitroTPM attestation
/// document whose public key should receive the plaintext instead of the caller).
const RECIPIENT_OPERATIONS: [&str; 5] = [
    "Decrypt",
    "DeriveSharedSecret",
    "GenerateDataKey",
    "GenerateDataKeyPair",
    "GenerateRandom",
];

/// `Recipient`: checked against the model, then refused. KMS accepts only attestation
/// documents signed by the AWS Nitro PKI and answers them with `CiphertextForRecipient`
/// and no plaintext; Palisade cannot verify such a signature, so it never answers a
/// Recipient call at all rather than hand back the plaintext the caller asked to withhold.
/// AWS documents no error code for a document it cannot verify; ValidationException, the
/// code of every other malformed input to these operations, is inferred.
fn check_recipient(action: &str, input: &Input<'_>) -> Result<(), ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct RecipientInfo {
        key_encryption_algorithm: Option<String>,
        attestation_document: Option<String>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct WithRecipient {
        recipient: Option<RecipientInfo>,
    }
    let Input::Json(body) = input else {
        return Ok(());
    };
    if !RECIPIENT_OPERATIONS.contains(&action) || !mentions(body, b"Recipient") {
        return Ok(());
    }
    let Some(r) = input.parse::<WithRecipient>()?.recipient else {
        return Ok(());
    };
    if let Some(alg) = r.key_encryption_algorithm.as_deref() {
        if alg != "RSAES_OAEP_SHA_256" {
            return Err(kerr::enum_violation(
                alg,
                "recipient.keyEncryptionAlgorithm",
                &["RSAES_OAEP_SHA_256"],
            ));
        }
    }
    if let Some(doc) = r.attestation_document.as_deref() {
        // Its size is the model's (model_checks).
        unb64(doc, "Recipient.AttestationDocument")?;
    }
    Err(kerr::validation(
        "The attestation document in Recipient is not valid: it is not signed by the AWS Nitro PKI.",
    ))
}

pub fn decode(
    action: &str,
    input: &Input<'_>,
) -> Option<Result<Box<dyn crate::Operation>, ApiError>> {
    use Operation as O;
    let op = match action {
        "CreateKey" => input
            .parse::<CreateKeyInput>()
            .and_then(|i| check_create_key_input(&i).map(|()| O::CreateKey(i))),
        "DescribeKey" => input.parse().map(O::DescribeKey),
        "ListKeys" => input.parse().map(O::ListKeys),
        "EnableKey" => input.parse().map(O::EnableKey),
        "DisableKey" => input.parse().map(O::DisableKey),
        "ScheduleKeyDeletion" => input.parse().map(O::ScheduleKeyDeletion),
        "CancelKeyDeletion" => input.parse().map(O::CancelKeyDeletion),
        "UpdateKeyDescription" => input.parse().map(O::UpdateKeyDescription),
        "TagResource" => input.parse().map(O::TagResource),
        "UntagResource" => input.parse().map(O::UntagResource),
        "ListResourceTags" => input
            .parse()
            .and_then(require_key_id)
            .map(O::ListResourceTags),
        "CreateAlias" => input.parse().map(O::CreateAlias),
        "UpdateAlias" => input.parse().map(O::UpdateAlias),
        "DeleteAlias" => input.parse().map(O::DeleteAlias),
        "ListAliases" => input.parse().map(O::ListAliases),
        "Encrypt" => input.parse().map(O::Encrypt),
        "Decrypt" => input.parse().map(O::Decrypt),
        "ReEncrypt" => input.parse().map(O::ReEncrypt),
        "GenerateDataKey" => input
            .parse::<GenerateDataKeyInput>()
            .and_then(|i| check_data_key_input(&i).map(|()| O::GenerateDataKey(i))),
        "GenerateDataKeyWithoutPlaintext" => input
            .parse::<GenerateDataKeyInput>()
            .and_then(|i| check_data_key_input(&i).map(|()| O::GenerateDataKeyWithoutPlaintext(i))),
        "GenerateRandom" => input.parse().map(O::GenerateRandom),
        "GenerateMac" => input.parse().map(O::GenerateMac),
        "VerifyMac" => input.parse().and_then(require_mac).map(O::VerifyMac),
        "PutKeyPolicy" => input.parse().map(O::PutKeyPolicy),
        "GetKeyPolicy" => input.parse().map(O::GetKeyPolicy),
        "ListKeyPolicies" => input
            .parse()
            .and_then(require_key_id)
            .map(O::ListKeyPolicies),
        "Sign" => input.parse().map(O::Sign),
        "Verify" => input.parse().and_then(require_signature).map(O::Verify),
        "GetPublicKey" => input.parse().map(O::GetPublicKey),
        "GenerateDataKeyPair" => input.parse().map(O::GenerateDataKeyPair),
        "GenerateDataKeyPairWithoutPlaintext" => {
            input.parse().map(O::GenerateDataKeyPairWithoutPlaintext)
        }
        "EnableKeyRotation" => input.parse().map(O::EnableKeyRotation),
        "DisableKeyRotation" => input.parse().map(O::DisableKeyRotation),
        "GetKeyRotationStatus" => input.parse().map(O::GetKeyRotationStatus),
        "RotateKeyOnDemand" => input.parse().map(O::RotateKeyOnDemand),
        "ListKeyRotations" => input.parse().map(O::ListKeyRotations),
        "CreateGrant" => input.parse().map(O::CreateGrant),
        "ListGrants" => input.parse().map(O::ListGrants),
        "ListRetirableGrants" => input.parse().map(O::ListRetirableGrants),
        "RetireGrant" => input.parse().map(O::RetireGrant),
        "RevokeGrant" => input.parse().map(O::RevokeGrant),
        "GetParametersForImport" => input.parse().map(O::GetParametersForImport),
        "ImportKeyMaterial" => input.parse().map(O::ImportKeyMaterial),
        "DeleteImportedKeyMaterial" => input.parse().map(O::DeleteImportedKeyMaterial),
        _ => return None,
    };
    Some(
        op.and_then(|op| check_grant_tokens(input).map(|()| op))
            .and_then(|op| check_recipient(action, input).map(|()| op))
            .and_then(|op| check_key_only(action, input).map(|()| op))
            .map(|op| Box::new(op) as Box<dyn crate::Operation>),
    )
}

fn null_member(member: &str) -> ApiError {
    kerr::validation(format!(
        "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
    ))
}

fn require_key_id(i: ListInput) -> Result<ListInput, ApiError> {
    if i.key_id.is_none() {
        return Err(null_member("keyId"));
    }
    Ok(i)
}

fn require_signature(i: SignInput) -> Result<SignInput, ApiError> {
    if i.signature.is_none() {
        return Err(null_member("signature"));
    }
    Ok(i)
}

fn require_mac(i: MacInput) -> Result<MacInput, ApiError> {
    if i.mac.is_none() {
        return Err(null_member("mac"));
    }
    Ok(i)
}

// ---------------------------------------------------------------- outputs

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyMetadata {
    #[serde(rename = "AWSAccountId")]
    pub aws_account_id: String,
    pub key_id: String,
    pub arn: String,
    pub creation_date: f64,
    pub enabled: bool,
    pub description: String,
    pub key_usage: String,
    pub key_state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_date: Option<f64>,
    pub origin: String,
    pub key_manager: String,
    pub customer_master_key_spec: String,
    pub key_spec: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_algorithms: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_algorithms: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac_algorithms: Option<Vec<String>>,
    pub multi_region: bool,
}

fn epoch(t: OffsetDateTime) -> f64 {
    // Millisecond precision, as AWS's timestamps.
    (t.unix_timestamp_nanos() / 1_000_000) as f64 / 1000.0
}

fn metadata(k: &KeyRecord) -> KeyMetadata {
    let hmac = k.key_spec.starts_with("HMAC_");
    KeyMetadata {
        aws_account_id: k.account.clone(),
        key_id: k.key_id.clone(),
        arn: k.arn.clone(),
        creation_date: epoch(k.creation_date),
        enabled: k.enabled && k.deletion_date.is_none() && !k.materials.is_empty(),
        description: k.description.clone(),
        key_usage: k.key_usage.clone(),
        key_state: k.state().to_owned(),
        deletion_date: k.deletion_date.map(epoch),
        origin: "AWS_KMS".into(),
        key_manager: if internal::is_aws_managed(k) {
            "AWS".into()
        } else {
            "CUSTOMER".into()
        },
        customer_master_key_spec: k.key_spec.clone(),
        key_spec: k.key_spec.clone(),
        encryption_algorithms: encryption_algorithms(k),
        signing_algorithms: (k.key_usage == "SIGN_VERIFY")
            .then(|| asym::signing_algorithms(&k.key_spec)),
        mac_algorithms: hmac.then(|| {
            vec![format!(
                "HMAC_SHA_{}",
                k.key_spec.trim_start_matches("HMAC_")
            )]
        }),
        multi_region: false,
    }
}

/// The encryption algorithms of an ENCRYPT_DECRYPT key.
fn encryption_algorithms(k: &KeyRecord) -> Option<Vec<String>> {
    if k.key_usage != "ENCRYPT_DECRYPT" {
        return None;
    }
    if asym::is_rsa(&k.key_spec) {
        return Some(
            asym::RSA_ENCRYPTION_ALGORITHMS
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
        );
    }
    Some(vec!["SYMMETRIC_DEFAULT".to_owned()])
}

/// The encryption algorithm a request uses with key `k` (SYMMETRIC_DEFAULT when omitted),
/// or InvalidKeyUsageException when the key's spec does not support it.
fn algorithm_for_key(k: &KeyRecord, alg: &Option<String>) -> Result<String, ApiError> {
    let a = alg.as_deref().unwrap_or("SYMMETRIC_DEFAULT");
    let ok = encryption_algorithms(k).is_some_and(|algs| algs.iter().any(|x| x == a));
    if !ok {
        return Err(err(
            "InvalidKeyUsageException",
            format!(
                "The encryption algorithm {a} is not compatible with the KMS key's key spec, {}.",
                k.key_spec
            ),
        ));
    }
    Ok(a.to_owned())
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn key_resources(k: &KeyRecord) -> Vec<(String, String)> {
    vec![("AWS::KMS::Key".to_owned(), k.arn.clone())]
}

// ---------------------------------------------------------------- validation

fn check_enum(value: &str, member: &str, allowed: &[&str]) -> Result<(), ApiError> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(kerr::enum_violation(value, member, allowed))
    }
}

/// Operations whose KeyId is "the key ID or key ARN" only (botocore's model documents
/// aliases for the cryptographic operations and DescribeKey, not for these): an alias
/// names no key here, and a destructive call through one (ScheduleKeyDeletion) must not
/// reach the key behind it. ListResourceTags refuses it with InvalidArnException itself.
const KEY_ONLY: &[&str] = &[
    "CancelKeyDeletion",
    "CreateGrant",
    "DeleteImportedKeyMaterial",
    "DisableKey",
    "DisableKeyRotation",
    "EnableKey",
    "EnableKeyRotation",
    "GetKeyPolicy",
    "GetKeyRotationStatus",
    "GetParametersForImport",
    "ImportKeyMaterial",
    "ListGrants",
    "ListKeyPolicies",
    "ListKeyRotations",
    "PutKeyPolicy",
    "RetireGrant",
    "RevokeGrant",
    "RotateKeyOnDemand",
    "ScheduleKeyDeletion",
    "TagResource",
    "UntagResource",
    "UpdateKeyDescription",
];

/// A [`KEY_ONLY`] operation given an alias (name or ARN): NotFoundException, in the form
/// KMS answers for a KeyId it cannot use ("Invalid keyId alias/...").
fn check_key_only(action: &str, input: &Input<'_>) -> Result<(), ApiError> {
    if !KEY_ONLY.contains(&action) {
        return Ok(());
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct KeyIdOnly {
        key_id: Option<String>,
    }
    let Some(id) = input.parse::<KeyIdOnly>()?.key_id else {
        return Ok(());
    };
    let alias = id.starts_with("alias/")
        || (id.starts_with("arn:")
            && id
                .split(':')
                .nth(5)
                .is_some_and(|r| r.starts_with("alias/")));
    if alias {
        return Err(kerr::err(
            "NotFoundException",
            format!("Invalid keyId {id}"),
        ));
    }
    Ok(())
}

fn check_context(c: &Option<Context>) -> Result<(), ApiError> {
    if let Some(c) = c {
        if c.keys().any(String::is_empty) {
            return Err(kerr::validation(
                "1 validation error detected: Value at 'encryptionContext' failed to satisfy constraint: Map keys must satisfy constraint: [Member must have length greater than or equal to 1]",
            ));
        }
    }
    Ok(())
}

/// KMS's own tag rules. Key and value lengths are the model's, checked before
/// authorization (`model_checks`) as ValidationException.
fn check_tags(tags: &[TagIn]) -> Result<(), ApiError> {
    for t in tags {
        if t.tag_key.starts_with("aws:") {
            return Err(err("TagException", "Tags beginning with aws: are reserved"));
        }
    }
    if tags.len() > 50 {
        return Err(err("TagException", "Too many tags"));
    }
    Ok(())
}

fn check_dry_run(d: Option<bool>) -> Result<(), ApiError> {
    if d == Some(true) {
        return Err(ApiError::new(
            "DryRunOperationException",
            412,
            "The request would have succeeded, but the DryRun option is set.",
        ));
    }
    Ok(())
}

fn require_usage(k: &KeyRecord, usage: &str, op: &str) -> Result<(), ApiError> {
    if k.key_usage != usage {
        return Err(err(
            "InvalidKeyUsageException",
            format!(
                "{} key usage is {} which is not valid for {op}.",
                k.arn, k.key_usage
            ),
        ));
    }
    Ok(())
}

/// Validates a key policy document: a resource policy the engine can parse, within KMS's
/// 32 KB quota.
/// A key policy's IAM user and role principals must exist when it is set (AWS:
/// MalformedPolicyDocumentException).
fn key_policy_principals_exist(tx: &dyn ReadTx, doc: &str) -> Result<(), ApiError> {
    match crate::iam::principals::missing_principal(tx, doc)? {
        Some(_) => Err(err(
            "MalformedPolicyDocumentException",
            "Policy contains a statement with one or more invalid principals.",
        )),
        None => Ok(()),
    }
}

/// A key policy's own rules; its model size (1..=131072) is checked at decode.
fn check_key_policy(doc: &str) -> Result<(), ApiError> {
    if doc.len() > MAX_KEY_POLICY {
        return Err(err(
            "LimitExceededException",
            format!("Policy document exceeds the maximum size of {MAX_KEY_POLICY} bytes."),
        ));
    }
    if !doc
        .chars()
        .all(|c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{FF}'))
    {
        return Err(kerr::validation(
            "1 validation error detected: Value at 'policy' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u00FF]+",
        ));
    }
    if serde_json::from_str::<Value>(doc).is_err() {
        return Err(err(
            "MalformedPolicyDocumentException",
            "Policy contains invalid JSON.",
        ));
    }
    palisade_policy::Policy::parse(doc, palisade_policy::PolicyKind::Resource).map_err(|e| {
        err(
            "MalformedPolicyDocumentException",
            format!("Policy is malformed: {}", e.message),
        )
    })?;
    Ok(())
}

/// AWS's policy lockout safety check: unless the caller bypasses it, a key policy must let
/// the caller call PutKeyPolicy on the key again, by naming it or by delegating to its
/// account (whose IAM policies then decide; the check assumes they allow).
fn check_lockout(
    env: &Env,
    doc: &str,
    ctx: &RequestContext,
    key_arn: &str,
    bypass: Option<bool>,
) -> Result<(), ApiError> {
    use palisade_policy::{evaluate, Policy, PolicyKind, PolicySet, Request, ResourcePolicy};
    if bypass == Some(true) {
        return Ok(());
    }
    let lockout = || {
        err(
            "MalformedPolicyDocumentException",
            "The new key policy will not allow you to update the key policy in the future.",
        )
    };
    let key_policy = Policy::parse(doc, PolicyKind::Resource).map_err(|_| lockout())?;
    let iam_allows = Policy::parse(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        PolicyKind::Identity,
    )
    .map_err(|_| ApiError::internal("kms: lockout check policy"))?;
    let mut check = AuthzCheck::new("kms:PutKeyPolicy", key_arn);
    check.context.push((
        "kms:CallerAccount".to_owned(),
        vec![ctx.principal.account_id.clone()],
    ));
    let context = env.authorizer.request_context(&check, ctx)?;
    let p = &ctx.principal;
    let request = Request {
        principal: &p.arn,
        principal_account: Some(&p.account_id),
        action: &check.action,
        resource: key_arn,
        resource_account: None,
        context: &context,
    };
    let set = PolicySet {
        identity: std::slice::from_ref(&iam_allows),
        resource: Some(ResourcePolicy {
            policy: &key_policy,
            kind: palisade_policy::ResourcePolicyType::KmsKey,
        }),
        permissions_boundary: None,
        session: &[],
        scps: &[],
        rcps: &[],
    };
    if evaluate(&request, &set).decision.is_allowed() {
        Ok(())
    } else {
        Err(lockout())
    }
}

fn check_alias_name(name: &str) -> Result<(), ApiError> {
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/:_-".contains(&b))
    {
        return Err(kerr::validation(format!(
            "1 validation error detected: Value '{name}' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"
        )));
    }
    if !name.starts_with("alias/") || name.len() == 6 {
        return Err(err(
            "ValidationException",
            "Alias must start with the prefix \"alias/\". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html",
        ));
    }
    if name.starts_with("alias/aws/") || name == "alias/aws" {
        return Err(err(
            "NotAuthorizedException",
            format!("{name} is reserved: alias names beginning with alias/aws/ are reserved for AWS managed keys."),
        ));
    }
    Ok(())
}

/// A page's size and start. The model's bounds (Limit 1..=1000, Marker 1..=1024) were
/// checked at decode (model_checks).
fn paging(limit: Option<i64>, marker: &Option<String>) -> Result<(usize, usize), ApiError> {
    let limit = limit.and_then(|l| usize::try_from(l).ok()).unwrap_or(100);
    let start = match marker {
        Some(m) => m
            .parse::<usize>()
            .map_err(|_| err("InvalidMarkerException", "The marker is invalid."))?,
        None => 0,
    };
    Ok((limit, start))
}

/// One page of `items` and the (Truncated, NextMarker) pair.
fn page<T: Clone>(
    items: &[T],
    limit: usize,
    start: usize,
) -> Result<(Vec<T>, bool, Option<String>), ApiError> {
    if start > items.len() {
        return Err(err("InvalidMarkerException", "The marker is invalid."));
    }
    let end = start.saturating_add(limit).min(items.len());
    let slice = items.get(start..end).unwrap_or_default().to_vec();
    let truncated = end < items.len();
    Ok((slice, truncated, truncated.then(|| end.to_string())))
}

// ---------------------------------------------------------------- authorization

fn context_keys(c: &Option<Context>) -> Vec<(String, Vec<String>)> {
    let mut keys = Vec::new();
    if let Some(c) = c {
        if !c.is_empty() {
            for (k, v) in c {
                keys.push((format!("kms:EncryptionContext:{k}"), vec![v.clone()]));
            }
            keys.push((
                "kms:EncryptionContextKeys".to_owned(),
                c.keys().cloned().collect(),
            ));
        }
    }
    keys
}

fn key_check(
    action: &str,
    key_id: &str,
    ctx: &RequestContext,
    mut extra: Vec<(String, Vec<String>)>,
) -> AuthzCheck {
    let r = KeyRef::parse(key_id, ctx);
    let (arn, account) = r.arn();
    let mut c = AuthzCheck::new(format!("kms:{action}"), arn);
    c.resource_account = account;
    c.context.push((
        "kms:CallerAccount".to_owned(),
        vec![ctx.principal.account_id.clone()],
    ));
    if let KeyRef::Alias { name, .. } = &r {
        c.context
            .push(("kms:RequestAlias".to_owned(), vec![name.clone()]));
    }
    c.context.append(&mut extra);
    c
}

/// `aws:RequestTag/*` and `aws:TagKeys` of KMS tags.
fn request_tags(tags: &[TagIn]) -> Vec<(String, Vec<String>)> {
    crate::authz::request_tags(
        tags.iter()
            .map(|t| (t.tag_key.as_str(), t.tag_value.as_str())),
    )
}

/// Notes for the authorizer on a ReEncrypt whose destination is an alias: the source
/// key's ARN and the destination alias's ARN (it sets `kms:ReEncryptOnSameKey`).
pub const REENCRYPT_SOURCE_KEY: &str = "palisade:ReEncryptSource";
pub const REENCRYPT_DESTINATION_KEY: &str = "palisade:ReEncryptDestination";

/// The check on an alias itself, for the alias operations: matched as named, never as
/// the key it points at.
fn alias_check(action: &str, alias_name: &str, ctx: &RequestContext) -> AuthzCheck {
    let mut c = aliased_key_check(action, alias_name, ctx);
    c.resolve = false;
    c
}

/// The check on the key an alias points at now (the authorizer resolves the alias ARN;
/// without such an alias it stays the alias, and the operation answers NotFound).
fn aliased_key_check(action: &str, alias_name: &str, ctx: &RequestContext) -> AuthzCheck {
    let arn = store::alias_arn(&ctx.region, &ctx.principal.account_id, alias_name);
    let mut c = AuthzCheck::new(format!("kms:{action}"), arn);
    c.resource_account = Some(ctx.principal.account_id.clone());
    c.context.push((
        "kms:CallerAccount".to_owned(),
        vec![ctx.principal.account_id.clone()],
    ));
    c
}

fn star_check(
    action: &str,
    ctx: &RequestContext,
    mut extra: Vec<(String, Vec<String>)>,
) -> AuthzCheck {
    let mut c = AuthzCheck::new(format!("kms:{action}"), "*");
    c.resource_account = Some(ctx.principal.account_id.clone());
    c.context.push((
        "kms:CallerAccount".to_owned(),
        vec![ctx.principal.account_id.clone()],
    ));
    c.context.append(&mut extra);
    c
}

fn alg_key(alg: &Option<String>) -> (String, Vec<String>) {
    (
        "kms:EncryptionAlgorithm".to_owned(),
        vec![alg
            .clone()
            .unwrap_or_else(|| "SYMMETRIC_DEFAULT".to_owned())],
    )
}

/// The key ARN inside a ciphertext blob, when it parses.
fn blob_key_arn(b64blob: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64blob.trim())
        .ok()?;
    blob::parse(&bytes).map(|b| b.key_arn.to_owned())
}

// ---------------------------------------------------------------- crypto helpers

struct Sealed {
    ciphertext: Vec<u8>,
}

fn encrypt_with(
    env: &Env,
    k: &KeyRecord,
    ctx: &Context,
    plaintext: &[u8],
) -> Result<Sealed, ApiError> {
    if k.key_spec != "SYMMETRIC_DEFAULT" {
        return Err(kerr::not_symmetric(k));
    }
    let version = k.current_version();
    let material = store::material(&env.master_key, k, version)?
        .ok_or_else(|| ApiError::internal("kms key without material"))?;
    let mut material = material;
    let ciphertext = blob::seal(&k.arn, version, &material, ctx, plaintext);
    material.fill(0);
    let ciphertext = ciphertext.ok_or_else(|| ApiError::internal("kms encryption failed"))?;
    Ok(Sealed { ciphertext })
}

/// Decrypts a blob: finds its key (in the blob), checks it against `key_id` when given,
/// checks the key's state, authenticates with the context. Returns (key, plaintext).
fn decrypt_blob(
    tx: &dyn ReadTx,
    env: &Env,
    ctx: &RequestContext,
    blob_b64: &str,
    key_id: Option<&str>,
    enc_ctx: &Context,
) -> Result<(KeyRecord, Vec<u8>), ApiError> {
    // Its size (1..=6144 bytes) is the model's (model_checks).
    let bytes = unb64(blob_b64, "CiphertextBlob")?;
    let parsed = blob::parse(&bytes).ok_or_else(kerr::invalid_ciphertext)?;
    let key = match KeyRef::parse(parsed.key_arn, ctx) {
        KeyRef::Key {
            account,
            region,
            id,
        } => store::get_key(tx, &account, &region, &id)?
            .filter(|k| !k.deleted(ctx.now))
            .ok_or_else(kerr::invalid_ciphertext)?,
        _ => return Err(kerr::invalid_ciphertext()),
    };
    if let Some(given) = key_id {
        let named = store::resolve(tx, ctx, given)?;
        if named.arn != key.arn {
            return Err(kerr::incorrect_key());
        }
    }
    if key.key_usage != "ENCRYPT_DECRYPT" || key.key_spec != "SYMMETRIC_DEFAULT" {
        return Err(kerr::invalid_ciphertext());
    }
    key.check_usable()?;
    let material = store::material(&env.master_key, &key, parsed.material_version)?
        .ok_or_else(kerr::invalid_ciphertext)?;
    let mut material = material;
    let plaintext = blob::open(&parsed, &material, enc_ctx);
    material.fill(0);
    let plaintext = plaintext.map_err(|_| kerr::invalid_ciphertext())?;
    Ok((key, plaintext))
}

fn random_bytes(n: usize) -> Result<Vec<u8>, ApiError> {
    let mut out = vec![0u8; n];
    palisade_store::seal::fill_random(&mut out)
        .map_err(|_| ApiError::internal("system random source failed"))?;
    Ok(out)
}

/// The HMAC key of a GENERATE_VERIFY_MAC key (clear material zeroed once keyed).
fn hmac_key(env: &Env, k: &KeyRecord) -> Result<aws_lc_rs::hmac::Key, ApiError> {
    let mut material = store::material(&env.master_key, k, k.current_version())?
        .ok_or_else(|| ApiError::internal("kms key without material"))?;
    let alg = match k.key_spec.as_str() {
        "HMAC_224" => aws_lc_rs::hmac::HMAC_SHA224,
        "HMAC_384" => aws_lc_rs::hmac::HMAC_SHA384,
        "HMAC_512" => aws_lc_rs::hmac::HMAC_SHA512,
        _ => aws_lc_rs::hmac::HMAC_SHA256,
    };
    let key = aws_lc_rs::hmac::Key::new(alg, &material);
    material.fill(0);
    Ok(key)
}

// ---------------------------------------------------------------- operations

/// CreateKey's checks that need nothing but the request (the model's enums and lengths,
/// and the members that exclude each other), made at decode: before authorization.
fn check_create_key_input(i: &CreateKeyInput) -> Result<(), ApiError> {
    if let (Some(a), Some(b)) = (&i.key_spec, &i.customer_master_key_spec) {
        if a != b {
            return Err(kerr::validation(
                "You cannot specify KeySpec and CustomerMasterKeySpec in the same request. CustomerMasterKeySpec is deprecated.",
            ));
        }
    }
    let spec = i
        .key_spec
        .clone()
        .or_else(|| i.customer_master_key_spec.clone())
        .unwrap_or_else(|| "SYMMETRIC_DEFAULT".to_owned());
    let member = if i.key_spec.is_some() {
        "keySpec"
    } else {
        "customerMasterKeySpec"
    };
    check_enum(&spec, member, KEY_SPECS)?;
    if let Some(u) = &i.key_usage {
        check_enum(u, "keyUsage", KEY_USAGES)?;
    }
    if let Some(o) = &i.origin {
        check_enum(o, "origin", ORIGINS)?;
    }
    if i.xks_key_id.is_some() && i.origin.as_deref() != Some("EXTERNAL_KEY_STORE") {
        // The model: "This parameter is required for a KMS key with an Origin value of
        // EXTERNAL_KEY_STORE. It is not valid for KMS keys with any other Origin value."
        return Err(kerr::validation(
            "XksKeyId is valid only for a KMS key with an Origin value of EXTERNAL_KEY_STORE.",
        ));
    }
    // Description's 0..8192 characters are the model's (`model_checks`).
    Ok(())
}

fn create_key(
    tx: &mut dyn WriteTx,
    env: &Env,
    ctx: &RequestContext,
    i: &CreateKeyInput,
) -> Result<Reply, ApiError> {
    // The request's model checks were made at decode (check_create_key_input).
    let spec = i
        .key_spec
        .clone()
        .or_else(|| i.customer_master_key_spec.clone())
        .unwrap_or_else(|| "SYMMETRIC_DEFAULT".to_owned());
    let default_usage = if spec.starts_with("HMAC_") {
        "GENERATE_VERIFY_MAC"
    } else {
        "ENCRYPT_DECRYPT"
    };
    let usage = i
        .key_usage
        .clone()
        .unwrap_or_else(|| default_usage.to_owned());
    let supported = matches!(
        (spec.as_str(), usage.as_str()),
        ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")
            | (
                "HMAC_224" | "HMAC_256" | "HMAC_384" | "HMAC_512",
                "GENERATE_VERIFY_MAC"
            )
            | (
                "RSA_2048" | "RSA_3072" | "RSA_4096",
                "ENCRYPT_DECRYPT" | "SIGN_VERIFY"
            )
            | (
                "ECC_NIST_P256" | "ECC_NIST_P384" | "ECC_NIST_P521" | "ECC_SECG_P256K1",
                "SIGN_VERIFY"
            )
    );
    if spec == "SYMMETRIC_DEFAULT" && usage != "ENCRYPT_DECRYPT"
        || spec.starts_with("HMAC_") && usage != "GENERATE_VERIFY_MAC"
        || spec.starts_with("RSA_") && !matches!(usage.as_str(), "ENCRYPT_DECRYPT" | "SIGN_VERIFY")
        || spec.starts_with("ECC_") && !matches!(usage.as_str(), "SIGN_VERIFY" | "KEY_AGREEMENT")
    {
        return Err(kerr::validation(format!(
            "KeyUsage {usage} is not compatible with KeySpec {spec}"
        )));
    }
    if !supported {
        return Err(err(
            "UnsupportedOperationException",
            format!("KeySpec {spec} with KeyUsage {usage} is not supported by this KMS yet."),
        ));
    }
    let external = i.origin.as_deref() == Some("EXTERNAL");
    match i.origin.as_deref() {
        None | Some("AWS_KMS") => {}
        Some("EXTERNAL") if spec == "SYMMETRIC_DEFAULT" => {}
        Some(o) => {
            return Err(err(
                "UnsupportedOperationException",
                format!("Origin {o} is not supported by this KMS yet."),
            ))
        }
    }
    if i.custom_key_store_id.is_some() {
        return Err(err("CustomKeyStoreNotFoundException", ""));
    }
    if i.multi_region == Some(true) {
        return Err(err(
            "UnsupportedOperationException",
            "Multi-Region keys are not supported by this KMS yet.",
        ));
    }
    let tags = i.tags.clone().unwrap_or_default();
    check_tags(&tags)?;
    let account = ctx.principal.account_id.clone();
    let key_id = uuid::Uuid::new_v4().to_string();
    let arn = store::key_arn(&ctx.region, &account, &key_id);
    let policy = match &i.policy {
        Some(p) => {
            check_key_policy(p)?;
            key_policy_principals_exist(tx, p)?;
            check_lockout(env, p, ctx, &arn, i.bypass_policy_lockout_safety_check)?;
            p.clone()
        }
        None => store::default_policy(&account),
    };
    let material = if external {
        String::new()
    } else if asym::is_asymmetric(&spec) {
        let mut pkcs8 = asym::generate(&spec)
            .ok_or_else(|| ApiError::internal("kms key pair generation failed"))?;
        let sealed = store::seal_material(&env.master_key, &arn, 1, &pkcs8);
        pkcs8.fill(0);
        sealed?
    } else {
        let len = match spec.as_str() {
            "HMAC_224" => 28,
            "HMAC_384" => 48,
            "HMAC_512" => 64,
            _ => blob::MATERIAL_LEN,
        };
        store::new_sealed_material(&env.master_key, &arn, 1, len)?
    };
    let key = KeyRecord {
        key_id,
        arn,
        account,
        region: ctx.region.clone(),
        creation_date: ctx.now,
        description: i.description.clone().unwrap_or_default(),
        key_usage: usage,
        key_spec: spec,
        enabled: true,
        deletion_date: None,
        pending_window_in_days: None,
        policy,
        tags: tags.into_iter().map(|t| (t.tag_key, t.tag_value)).collect(),
        materials: if external { vec![] } else { vec![material] },
    };
    store::put_key(tx, &key)?;
    // The users and roles the policy names, for the unique-id binding (`iam::principals`).
    crate::iam::principals::update_references(
        tx,
        None,
        Some(&key.policy),
        &crate::iam::principals::Referrer::of_key(&key),
    )?;
    let md = metadata(&key);
    let mut md_json = json!(md);
    let mut md_trail = crate::iam::camel_json(&md).unwrap_or(Value::Null);
    if external {
        import::new_external(tx, &key)?;
        if let Some(o) = md_json.as_object_mut() {
            o.insert("Origin".into(), json!("EXTERNAL"));
        }
        if let Some(o) = md_trail.as_object_mut() {
            o.insert("origin".into(), json!("EXTERNAL"));
        }
    }
    let mut reply = Reply::new(json!({ "KeyMetadata": md_json }));
    if let Some(o) = md_trail.as_object_mut() {
        o.insert("creationDate".into(), trail_date(key.creation_date).into());
    }
    reply.response_elements = Some(json!({ "keyMetadata": md_trail }));
    reply.resources = key_resources(&key);
    Ok(reply)
}

fn schedule_deletion(
    tx: &mut dyn WriteTx,
    ctx: &RequestContext,
    i: &ScheduleKeyDeletionInput,
) -> Result<Reply, ApiError> {
    let days = i.pending_window_in_days.unwrap_or(30);
    if !(1..=365).contains(&days) {
        return Err(kerr::out_of_range(days, "pendingWindowInDays", 1, 365));
    }
    if !(7..=30).contains(&days) {
        return Err(kerr::validation(
            "PendingWindowInDays value must be between 7 and 30 for this key.",
        ));
    }
    let mut k = store::resolve_own(tx, ctx, &i.key_id)?;
    not_pending_deletion(&k)?;
    let date = ctx.now + time::Duration::days(days);
    k.deletion_date = Some(date);
    k.pending_window_in_days = Some(days);
    k.enabled = false;
    store::put_key(tx, &k)?;
    let mut reply = Reply::new(json!({
        "KeyId": k.arn, "DeletionDate": epoch(date), "KeyState": "PendingDeletion", "PendingWindowInDays": days,
    }));
    reply.response_elements = Some(json!({
        "keyId": k.arn, "deletionDate": trail_date(date), "keyState": "PendingDeletion", "pendingWindowInDays": days,
    }));
    reply.resources = key_resources(&k);
    Ok(reply)
}

/// CloudTrail's KMS date form in responseElements (`Jan 4, 2023, 11:44:55 PM`).
fn trail_date(t: OffsetDateTime) -> String {
    let fmt = time::macros::format_description!(
        "[month repr:short] [day padding:none], [year], [hour repr:12 padding:none]:[minute]:[second] [period]"
    );
    t.format(&fmt).unwrap_or_default()
}

/// A key's type as UpdateAlias compares them: symmetric, asymmetric or HMAC.
fn key_type(k: &KeyRecord) -> &'static str {
    if k.key_spec == "SYMMETRIC_DEFAULT" {
        "symmetric"
    } else if k.key_spec.starts_with("HMAC_") {
        "hmac"
    } else {
        "asymmetric"
    }
}

/// Refuses a key scheduled for deletion, for the operations the key-state table (KMS
/// Developer Guide, "Key states of AWS KMS keys") marks as failing in PendingDeletion.
fn not_pending_deletion(k: &KeyRecord) -> Result<(), ApiError> {
    match k.deletion_date {
        Some(_) => Err(kerr::pending_deletion(&k.arn)),
        None => Ok(()),
    }
}

fn alias_write(
    tx: &mut dyn WriteTx,
    ctx: &RequestContext,
    i: &AliasInput,
    create: bool,
) -> Result<Reply, ApiError> {
    check_alias_name(&i.alias_name)?;
    if matches!(KeyRef::parse(&i.target_key_id, ctx), KeyRef::Alias { .. }) {
        return Err(kerr::validation("Aliases must refer to keys. Not aliases"));
    }
    let key = store::resolve_own(tx, ctx, &i.target_key_id)?;
    let account = ctx.principal.account_id.clone();
    if key.account != account || key.region != ctx.region {
        return Err(kerr::key_not_found(&key.arn));
    }
    if create {
        not_pending_deletion(&key)?;
    }
    let existing = store::get_alias(tx, &account, &ctx.region, &i.alias_name)?
        .filter(|a| alias_target_live(tx, ctx, a));
    let record = if create {
        if existing.is_some() {
            return Err(err(
                "AlreadyExistsException",
                format!(
                    "An alias with the name {} already exists",
                    store::alias_arn(&ctx.region, &account, &i.alias_name)
                ),
            ));
        }
        store::AliasRecord {
            name: i.alias_name.clone(),
            target_key_id: key.key_id.clone(),
            creation_date: ctx.now,
            last_updated_date: ctx.now,
        }
    } else {
        let Some(mut a) = existing else {
            return Err(kerr::alias_not_found(&store::alias_arn(
                &ctx.region,
                &account,
                &i.alias_name,
            )));
        };
        if let Some(old) = store::get_key(tx, &account, &ctx.region, &a.target_key_id)? {
            // AWS: "The current and new KMS key must be the same type (both symmetric or
            // both asymmetric or both HMAC), and they must have the same key usage."
            if key_type(&old) != key_type(&key) || old.key_usage != key.key_usage {
                return Err(kerr::validation(format!(
                    "{} key usage {} and key spec {} do not match the key the alias names now, {} (key usage {}, key spec {}): an alias moves only between keys of the same type and key usage.",
                    key.arn, key.key_usage, key.key_spec, old.arn, old.key_usage, old.key_spec
                )));
            }
        }
        a.target_key_id = key.key_id.clone();
        a.last_updated_date = ctx.now;
        a
    };
    store::put_alias(tx, &account, &ctx.region, &record)?;
    let mut reply = Reply::empty();
    reply.resources = vec![
        ("AWS::KMS::Key".to_owned(), key.arn.clone()),
        (
            "AWS::KMS::Alias".to_owned(),
            store::alias_arn(&ctx.region, &account, &i.alias_name),
        ),
    ];
    Ok(reply)
}

/// Whether an alias's target key still exists (aliases die with their key).
fn alias_target_live(tx: &dyn ReadTx, ctx: &RequestContext, a: &store::AliasRecord) -> bool {
    store::get_key(tx, &ctx.principal.account_id, &ctx.region, &a.target_key_id)
        .ok()
        .flatten()
        .is_some_and(|k| !k.deleted(ctx.now))
}

fn list_aliases(tx: &dyn ReadTx, ctx: &RequestContext, i: &ListInput) -> Result<Reply, ApiError> {
    let (limit, start) = paging(i.limit, &i.marker)?;
    let account = &ctx.principal.account_id;
    let filter = match &i.key_id {
        Some(k) => match KeyRef::parse(k, ctx) {
            KeyRef::Key { .. } => Some(store::resolve(tx, ctx, k)?.key_id),
            _ => return Err(kerr::invalid_key_id(k)),
        },
        None => None,
    };
    let aliases = store::all_aliases(tx, account, &ctx.region)?;
    // AWS: "The response might also include aliases that have no TargetKeyId field. These
    // are predefined aliases that AWS has created but has not yet associated with a KMS
    // key." Here: the AWS managed keys Palisade's services make on first use.
    let predefined: Vec<(String, Option<&store::AliasRecord>)> = match filter {
        Some(_) => Vec::new(),
        None => internal::MANAGED_KEY_SERVICES
            .iter()
            .map(|s| format!("alias/aws/{s}"))
            .filter(|name| !aliases.iter().any(|a| a.name == *name))
            .map(|name| (name, None))
            .collect(),
    };
    let mut named: Vec<(String, Option<&store::AliasRecord>)> = aliases
        .iter()
        .filter(|a| alias_target_live(tx, ctx, a))
        .filter(|a| filter.as_ref().is_none_or(|f| *f == a.target_key_id))
        .map(|a| (a.name.clone(), Some(a)))
        .chain(predefined)
        .collect();
    named.sort_by(|x, y| x.0.cmp(&y.0));
    let entries: Vec<Value> = named
        .into_iter()
        .map(|(name, a)| {
            let arn = store::alias_arn(&ctx.region, account, &name);
            match a {
                Some(a) => json!({
                    "AliasName": name,
                    "AliasArn": arn,
                    "TargetKeyId": a.target_key_id,
                    "CreationDate": epoch(a.creation_date),
                    "LastUpdatedDate": epoch(a.last_updated_date),
                }),
                None => json!({ "AliasName": name, "AliasArn": arn }),
            }
        })
        .collect();
    let (items, truncated, next) = page(&entries, limit, start)?;
    let mut out = json!({ "Aliases": items, "Truncated": truncated });
    if let (Some(n), Some(o)) = (next, out.as_object_mut()) {
        o.insert("NextMarker".into(), n.into());
    }
    Ok(Reply::new(out))
}

fn list_keys(tx: &dyn ReadTx, ctx: &RequestContext, i: &ListInput) -> Result<Reply, ApiError> {
    let (limit, start) = paging(i.limit, &i.marker)?;
    let keys: Vec<Value> = store::all_keys(tx, &ctx.principal.account_id, &ctx.region)?
        .into_iter()
        .filter(|k| !k.deleted(ctx.now))
        .map(|k| json!({ "KeyId": k.key_id, "KeyArn": k.arn }))
        .collect();
    let (items, truncated, next) = page(&keys, limit, start)?;
    let mut out = json!({ "Keys": items, "Truncated": truncated });
    if let (Some(n), Some(o)) = (next, out.as_object_mut()) {
        o.insert("NextMarker".into(), n.into());
    }
    Ok(Reply::new(out))
}

/// GenerateDataKey's checks that need nothing but the request, made at decode: before
/// authorization.
fn check_data_key_input(i: &GenerateDataKeyInput) -> Result<(), ApiError> {
    check_context(&i.encryption_context)?;
    if let Some(s) = &i.key_spec {
        check_enum(s, "keySpec", DATA_KEY_SPECS)?;
    }
    if let Some(n) = i.number_of_bytes {
        if !(1..=1024).contains(&n) {
            return Err(kerr::out_of_range(n, "numberOfBytes", 1, 1024));
        }
    }
    if i.key_spec.is_some() == i.number_of_bytes.is_some() {
        return Err(kerr::validation(
            "Please specify either number of bytes or key spec.",
        ));
    }
    Ok(())
}

fn generate_data_key(
    tx: &dyn ReadTx,
    env: &Env,
    ctx: &RequestContext,
    i: &GenerateDataKeyInput,
    with_plaintext: bool,
) -> Result<Reply, ApiError> {
    // The request's own checks were made at decode (check_data_key_input).
    let len = match (i.key_spec.as_deref(), i.number_of_bytes) {
        (Some("AES_128"), _) => 16,
        (None, Some(n)) => usize::try_from(n).unwrap_or(32),
        _ => 32,
    };
    let key = store::resolve(tx, ctx, &i.key_id)?;
    require_usage(
        &key,
        "ENCRYPT_DECRYPT",
        if with_plaintext {
            "GenerateDataKey"
        } else {
            "GenerateDataKeyWithoutPlaintext"
        },
    )?;
    key.check_usable()?;
    check_dry_run(i.dry_run)?;
    let data_key = random_bytes(len)?;
    let sealed = encrypt_with(
        env,
        &key,
        &i.encryption_context.clone().unwrap_or_default(),
        &data_key,
    )?;
    let mut out = json!({ "CiphertextBlob": b64(&sealed.ciphertext), "KeyId": key.arn });
    if let (true, Some(o)) = (with_plaintext, out.as_object_mut()) {
        o.insert("Plaintext".into(), b64(&data_key).into());
    }
    let mut reply = Reply::new(out);
    reply.resources = key_resources(&key);
    Ok(reply)
}

fn encrypt(
    tx: &dyn ReadTx,
    env: &Env,
    ctx: &RequestContext,
    i: &EncryptInput,
) -> Result<Reply, ApiError> {
    // Its size (1..=4096 bytes) is the model's (model_checks).
    let plaintext = unb64(&i.plaintext, "Plaintext")?;
    check_context(&i.encryption_context)?;
    if let Some(a) = &i.encryption_algorithm {
        check_enum(a, "encryptionAlgorithm", ENCRYPTION_ALGORITHMS)?;
    }
    let key = store::resolve(tx, ctx, &i.key_id)?;
    require_usage(&key, "ENCRYPT_DECRYPT", "Encrypt")?;
    let alg = algorithm_for_key(&key, &i.encryption_algorithm)?;
    key.check_usable()?;
    if asym::is_rsa(&key.key_spec) {
        return pk::rsa_encrypt(
            env,
            &key,
            &alg,
            &i.encryption_context,
            &plaintext,
            i.dry_run,
        );
    }
    check_dry_run(i.dry_run)?;
    let sealed = encrypt_with(
        env,
        &key,
        &i.encryption_context.clone().unwrap_or_default(),
        &plaintext,
    )?;
    let mut reply = Reply::new(json!({
        "CiphertextBlob": b64(&sealed.ciphertext), "KeyId": key.arn, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
    }));
    reply.resources = key_resources(&key);
    Ok(reply)
}

fn decrypt(
    tx: &dyn ReadTx,
    env: &Env,
    ctx: &RequestContext,
    i: &DecryptInput,
) -> Result<Reply, ApiError> {
    check_context(&i.encryption_context)?;
    if let Some(a) = &i.encryption_algorithm {
        check_enum(a, "encryptionAlgorithm", ENCRYPTION_ALGORITHMS)?;
        if a != "SYMMETRIC_DEFAULT" {
            return pk::rsa_decrypt(tx, env, ctx, i, a);
        }
    }
    let (key, plaintext) = decrypt_blob(
        tx,
        env,
        ctx,
        &i.ciphertext_blob,
        i.key_id.as_deref(),
        &i.encryption_context.clone().unwrap_or_default(),
    )?;
    check_dry_run(i.dry_run)?;
    let mut reply = Reply::new(json!({
        "KeyId": key.arn, "Plaintext": b64(&plaintext), "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
    }));
    reply.resources = key_resources(&key);
    Ok(reply)
}

fn re_encrypt(
    tx: &dyn ReadTx,
    env: &Env,
    ctx: &RequestContext,
    i: &ReEncryptInput,
) -> Result<Reply, ApiError> {
    check_context(&i.source_encryption_context)?;
    check_context(&i.destination_encryption_context)?;
    for (alg, member) in [
        (&i.source_encryption_algorithm, "sourceEncryptionAlgorithm"),
        (
            &i.destination_encryption_algorithm,
            "destinationEncryptionAlgorithm",
        ),
    ] {
        if let Some(a) = alg {
            check_enum(a, member, ENCRYPTION_ALGORITHMS)?;
        }
    }
    let source_alg = i
        .source_encryption_algorithm
        .clone()
        .unwrap_or_else(|| "SYMMETRIC_DEFAULT".to_owned());
    let (source, mut plaintext) = if source_alg == "SYMMETRIC_DEFAULT" {
        decrypt_blob(
            tx,
            env,
            ctx,
            &i.ciphertext_blob,
            i.source_key_id.as_deref(),
            &i.source_encryption_context.clone().unwrap_or_default(),
        )?
    } else {
        pk::rsa_decrypt_raw(
            tx,
            env,
            ctx,
            &i.ciphertext_blob,
            i.source_key_id.as_deref(),
            &source_alg,
            &i.source_encryption_context,
        )?
    };
    let dest = store::resolve(tx, ctx, &i.destination_key_id)?;
    let checked = require_usage(&dest, "ENCRYPT_DECRYPT", "ReEncrypt")
        .and_then(|_| algorithm_for_key(&dest, &i.destination_encryption_algorithm))
        .and_then(|alg| dest.check_usable().map(|_| alg))
        .and_then(|alg| check_dry_run(i.dry_run).map(|_| alg));
    let dest_alg = match checked {
        Ok(a) => a,
        Err(e) => {
            plaintext.fill(0);
            return Err(e);
        }
    };
    let ciphertext = if asym::is_rsa(&dest.key_spec) {
        pk::rsa_encrypt_raw(
            env,
            &dest,
            &dest_alg,
            &i.destination_encryption_context,
            &plaintext,
        )
    } else {
        encrypt_with(
            env,
            &dest,
            &i.destination_encryption_context.clone().unwrap_or_default(),
            &plaintext,
        )
        .map(|s| s.ciphertext)
    };
    plaintext.fill(0);
    let sealed = Sealed {
        ciphertext: ciphertext?,
    };
    let mut reply = Reply::new(json!({
        "CiphertextBlob": b64(&sealed.ciphertext),
        "SourceKeyId": source.arn,
        "KeyId": dest.arn,
        "SourceEncryptionAlgorithm": source_alg,
        "DestinationEncryptionAlgorithm": dest_alg,
    }));
    reply.resources = vec![
        ("AWS::KMS::Key".to_owned(), source.arn.clone()),
        ("AWS::KMS::Key".to_owned(), dest.arn.clone()),
    ];
    Ok(reply)
}

fn mac_op(
    tx: &dyn ReadTx,
    env: &Env,
    ctx: &RequestContext,
    i: &MacInput,
    verify: bool,
) -> Result<Reply, ApiError> {
    // Message's and Mac's sizes are the model's (model_checks).
    let message = unb64(&i.message, "Message")?;
    check_enum(&i.mac_algorithm, "macAlgorithm", MAC_ALGORITHMS)?;
    let given_mac = match (&i.mac, verify) {
        (Some(m), true) => Some(unb64(m, "Mac")?),
        _ => None,
    };
    let key = store::resolve(tx, ctx, &i.key_id)?;
    require_usage(
        &key,
        "GENERATE_VERIFY_MAC",
        if verify { "VerifyMac" } else { "GenerateMac" },
    )?;
    if i.mac_algorithm != format!("HMAC_SHA_{}", key.key_spec.trim_start_matches("HMAC_")) {
        return Err(err(
            "InvalidKeyUsageException",
            format!(
                "The MAC algorithm {} is not compatible with the KMS key's key spec, {}.",
                i.mac_algorithm, key.key_spec
            ),
        ));
    }
    key.check_usable()?;
    check_dry_run(i.dry_run)?;
    let hk = hmac_key(env, &key)?;
    let mut reply = if let Some(given) = given_mac {
        if aws_lc_rs::hmac::verify(&hk, &message, &given).is_err() {
            return Err(err("KMSInvalidMacException", ""));
        }
        Reply::new(json!({ "KeyId": key.arn, "MacValid": true, "MacAlgorithm": i.mac_algorithm }))
    } else {
        let mac = aws_lc_rs::hmac::sign(&hk, &message);
        Reply::new(
            json!({ "Mac": b64(mac.as_ref()), "MacAlgorithm": i.mac_algorithm, "KeyId": key.arn }),
        )
    };
    reply.resources = key_resources(&key);
    Ok(reply)
}

/// A key has one policy, `default` (the name's shape is checked at decode).
fn policy_name_ok(name: &Option<String>) -> Result<(), ApiError> {
    match name.as_deref() {
        None | Some("default") => Ok(()),
        Some(_) => Err(err("NotFoundException", "No such policy exists")),
    }
}

fn key_write(
    tx: &mut dyn WriteTx,
    ctx: &RequestContext,
    key_id: &str,
    f: impl FnOnce(&mut KeyRecord) -> Result<(), ApiError>,
) -> Result<Reply, ApiError> {
    let mut k = store::resolve_own(tx, ctx, key_id)?;
    f(&mut k)?;
    store::put_key(tx, &k)?;
    let mut reply = Reply::empty();
    reply.resources = key_resources(&k);
    Ok(reply)
}

impl crate::Operation for Operation {
    fn name(&self) -> &'static str {
        use Operation as O;
        match self {
            O::CreateKey(_) => "CreateKey",
            O::DescribeKey(_) => "DescribeKey",
            O::ListKeys(_) => "ListKeys",
            O::EnableKey(_) => "EnableKey",
            O::DisableKey(_) => "DisableKey",
            O::ScheduleKeyDeletion(_) => "ScheduleKeyDeletion",
            O::CancelKeyDeletion(_) => "CancelKeyDeletion",
            O::UpdateKeyDescription(_) => "UpdateKeyDescription",
            O::TagResource(_) => "TagResource",
            O::UntagResource(_) => "UntagResource",
            O::ListResourceTags(_) => "ListResourceTags",
            O::CreateAlias(_) => "CreateAlias",
            O::UpdateAlias(_) => "UpdateAlias",
            O::DeleteAlias(_) => "DeleteAlias",
            O::ListAliases(_) => "ListAliases",
            O::Encrypt(_) => "Encrypt",
            O::Decrypt(_) => "Decrypt",
            O::ReEncrypt(_) => "ReEncrypt",
            O::GenerateDataKey(_) => "GenerateDataKey",
            O::GenerateDataKeyWithoutPlaintext(_) => "GenerateDataKeyWithoutPlaintext",
            O::GenerateRandom(_) => "GenerateRandom",
            O::GenerateMac(_) => "GenerateMac",
            O::VerifyMac(_) => "VerifyMac",
            O::PutKeyPolicy(_) => "PutKeyPolicy",
            O::GetKeyPolicy(_) => "GetKeyPolicy",
            O::ListKeyPolicies(_) => "ListKeyPolicies",
            O::Sign(_) => "Sign",
            O::Verify(_) => "Verify",
            O::GetPublicKey(_) => "GetPublicKey",
            O::GenerateDataKeyPair(_) => "GenerateDataKeyPair",
            O::GenerateDataKeyPairWithoutPlaintext(_) => "GenerateDataKeyPairWithoutPlaintext",
            O::EnableKeyRotation(_) => "EnableKeyRotation",
            O::DisableKeyRotation(_) => "DisableKeyRotation",
            O::GetKeyRotationStatus(_) => "GetKeyRotationStatus",
            O::RotateKeyOnDemand(_) => "RotateKeyOnDemand",
            O::ListKeyRotations(_) => "ListKeyRotations",
            O::CreateGrant(_) => "CreateGrant",
            O::ListGrants(_) => "ListGrants",
            O::ListRetirableGrants(_) => "ListRetirableGrants",
            O::RetireGrant(_) => "RetireGrant",
            O::RevokeGrant(_) => "RevokeGrant",
            O::GetParametersForImport(_) => "GetParametersForImport",
            O::ImportKeyMaterial(_) => "ImportKeyMaterial",
            O::DeleteImportedKeyMaterial(_) => "DeleteImportedKeyMaterial",
        }
    }

    fn read_only(&self) -> bool {
        use Operation as O;
        matches!(
            self,
            O::DescribeKey(_)
                | O::ListKeys(_)
                | O::ListResourceTags(_)
                | O::ListAliases(_)
                | O::Encrypt(_)
                | O::Decrypt(_)
                | O::ReEncrypt(_)
                | O::GenerateDataKey(_)
                | O::GenerateDataKeyWithoutPlaintext(_)
                | O::GenerateRandom(_)
                | O::GenerateMac(_)
                | O::VerifyMac(_)
                | O::GetKeyPolicy(_)
                | O::ListKeyPolicies(_)
                | O::Sign(_)
                | O::Verify(_)
                | O::GetPublicKey(_)
                | O::GenerateDataKeyPair(_)
                | O::GenerateDataKeyPairWithoutPlaintext(_)
                | O::GetKeyRotationStatus(_)
                | O::ListKeyRotations(_)
                | O::ListGrants(_)
                | O::ListRetirableGrants(_)
        )
    }

    fn reads_state(&self) -> bool {
        !matches!(self, Operation::GenerateRandom(_))
    }

    fn authz(&self, ctx: &RequestContext) -> Vec<AuthzCheck> {
        use Operation as O;
        match self {
            O::CreateKey(i) => {
                let spec = i
                    .key_spec
                    .clone()
                    .or_else(|| i.customer_master_key_spec.clone())
                    .unwrap_or_else(|| "SYMMETRIC_DEFAULT".to_owned());
                let usage = i.key_usage.clone().unwrap_or_else(|| {
                    if spec.starts_with("HMAC_") {
                        "GENERATE_VERIFY_MAC"
                    } else {
                        "ENCRYPT_DECRYPT"
                    }
                    .to_owned()
                });
                let mut extra = vec![
                    ("kms:KeySpec".to_owned(), vec![spec]),
                    ("kms:KeyUsage".to_owned(), vec![usage]),
                    (
                        "kms:KeyOrigin".to_owned(),
                        vec![i.origin.clone().unwrap_or_else(|| "AWS_KMS".to_owned())],
                    ),
                    (
                        "kms:MultiRegion".to_owned(),
                        vec![i.multi_region.unwrap_or(false).to_string()],
                    ),
                    (
                        "kms:BypassPolicyLockoutSafetyCheck".to_owned(),
                        vec![i
                            .bypass_policy_lockout_safety_check
                            .unwrap_or(false)
                            .to_string()],
                    ),
                ];
                let tags = request_tags(i.tags.as_deref().unwrap_or_default());
                extra.extend(tags.iter().cloned());
                let mut checks = vec![star_check("CreateKey", ctx, extra)];
                // AWS: tags at creation also need kms:TagResource (IAM policy).
                if !tags.is_empty() {
                    checks.push(star_check("TagResource", ctx, tags));
                }
                checks
            }
            O::ListKeys(_) => vec![star_check("ListKeys", ctx, vec![])],
            O::ListAliases(_) => vec![star_check("ListAliases", ctx, vec![])],
            O::GenerateRandom(_) => vec![star_check("GenerateRandom", ctx, vec![])],
            O::DescribeKey(i) => vec![key_check("DescribeKey", &i.key_id, ctx, vec![])],
            O::EnableKey(i) => vec![key_check("EnableKey", &i.key_id, ctx, vec![])],
            O::DisableKey(i) => vec![key_check("DisableKey", &i.key_id, ctx, vec![])],
            O::ScheduleKeyDeletion(i) => vec![key_check(
                "ScheduleKeyDeletion",
                &i.key_id,
                ctx,
                vec![(
                    "kms:ScheduleKeyDeletionPendingWindowInDays".to_owned(),
                    vec![i.pending_window_in_days.unwrap_or(30).to_string()],
                )],
            )],
            O::CancelKeyDeletion(i) => vec![key_check("CancelKeyDeletion", &i.key_id, ctx, vec![])],
            O::UpdateKeyDescription(i) => {
                vec![key_check("UpdateKeyDescription", &i.key_id, ctx, vec![])]
            }
            O::TagResource(i) => {
                vec![key_check(
                    "TagResource",
                    &i.key_id,
                    ctx,
                    request_tags(&i.tags),
                )]
            }
            O::UntagResource(i) => vec![key_check(
                "UntagResource",
                &i.key_id,
                ctx,
                vec![("aws:TagKeys".to_owned(), i.tag_keys.clone())],
            )],
            O::ListResourceTags(i) => vec![key_check(
                "ListResourceTags",
                i.key_id.as_deref().unwrap_or_default(),
                ctx,
                vec![],
            )],
            // AWS: the alias operations need the permission on the alias (IAM policies
            // only; an alias has no policy) and on each key involved (its key policy): the
            // key the alias is moved to or created for, and the key it points at now.
            O::CreateAlias(i) => vec![
                alias_check("CreateAlias", &i.alias_name, ctx),
                key_check("CreateAlias", &i.target_key_id, ctx, vec![]),
            ],
            O::UpdateAlias(i) => vec![
                alias_check("UpdateAlias", &i.alias_name, ctx),
                aliased_key_check("UpdateAlias", &i.alias_name, ctx),
                key_check("UpdateAlias", &i.target_key_id, ctx, vec![]),
            ],
            O::DeleteAlias(i) => vec![
                alias_check("DeleteAlias", &i.alias_name, ctx),
                aliased_key_check("DeleteAlias", &i.alias_name, ctx),
            ],
            O::Encrypt(i) => {
                let mut extra = context_keys(&i.encryption_context);
                extra.push(alg_key(&i.encryption_algorithm));
                vec![key_check("Encrypt", &i.key_id, ctx, extra)]
            }
            O::Decrypt(i) => {
                let mut extra = context_keys(&i.encryption_context);
                extra.push(alg_key(&i.encryption_algorithm));
                match (blob_key_arn(&i.ciphertext_blob), &i.key_id) {
                    (Some(arn), _) => vec![key_check("Decrypt", &arn, ctx, extra)],
                    (None, Some(k)) => vec![key_check("Decrypt", k, ctx, extra)],
                    // Not a blob of ours: the call fails with InvalidCiphertextException.
                    (None, None) => vec![],
                }
            }
            O::ReEncrypt(i) => {
                let same = blob_key_arn(&i.ciphertext_blob);
                let dest_arn = KeyRef::parse(&i.destination_key_id, ctx).arn().0;
                let on_same = same.as_deref() == Some(dest_arn.as_str());
                let same_key = (
                    "kms:ReEncryptOnSameKey".to_owned(),
                    vec![on_same.to_string()],
                );
                let mut from_extra = context_keys(&i.source_encryption_context);
                from_extra.push(alg_key(&i.source_encryption_algorithm));
                from_extra.push(same_key.clone());
                let mut to_extra = context_keys(&i.destination_encryption_context);
                to_extra.push(alg_key(&i.destination_encryption_algorithm));
                to_extra.push(same_key);
                let mut checks = Vec::new();
                match (&same, &i.source_key_id) {
                    (Some(arn), _) => checks.push(key_check("ReEncryptFrom", arn, ctx, from_extra)),
                    (None, Some(k)) => checks.push(key_check("ReEncryptFrom", k, ctx, from_extra)),
                    (None, None) => {}
                }
                checks.push(key_check(
                    "ReEncryptTo",
                    &i.destination_key_id,
                    ctx,
                    to_extra,
                ));
                // A destination named by alias is the same key only once the alias is
                // read: the authorizer decides kms:ReEncryptOnSameKey then.
                if let (Some(source), KeyRef::Alias { .. }) =
                    (&same, KeyRef::parse(&i.destination_key_id, ctx))
                {
                    for c in &mut checks {
                        c.note(REENCRYPT_SOURCE_KEY, source.clone());
                        c.note(REENCRYPT_DESTINATION_KEY, dest_arn.clone());
                    }
                }
                checks
            }
            O::GenerateDataKey(i) => vec![key_check(
                "GenerateDataKey",
                &i.key_id,
                ctx,
                context_keys(&i.encryption_context),
            )],
            O::GenerateDataKeyWithoutPlaintext(i) => vec![key_check(
                "GenerateDataKeyWithoutPlaintext",
                &i.key_id,
                ctx,
                context_keys(&i.encryption_context),
            )],
            O::GenerateMac(i) | O::VerifyMac(i) => {
                let action = if matches!(self, O::GenerateMac(_)) {
                    "GenerateMac"
                } else {
                    "VerifyMac"
                };
                vec![key_check(
                    action,
                    &i.key_id,
                    ctx,
                    vec![("kms:MacAlgorithm".to_owned(), vec![i.mac_algorithm.clone()])],
                )]
            }
            O::PutKeyPolicy(i) => vec![key_check(
                "PutKeyPolicy",
                &i.key_id,
                ctx,
                vec![(
                    "kms:BypassPolicyLockoutSafetyCheck".to_owned(),
                    vec![i
                        .bypass_policy_lockout_safety_check
                        .unwrap_or(false)
                        .to_string()],
                )],
            )],
            O::GetKeyPolicy(i) => vec![key_check("GetKeyPolicy", &i.key_id, ctx, vec![])],
            O::ListKeyPolicies(i) => vec![key_check(
                "ListKeyPolicies",
                i.key_id.as_deref().unwrap_or_default(),
                ctx,
                vec![],
            )],
            O::Sign(i) | O::Verify(i) => {
                let action = if matches!(self, O::Sign(_)) {
                    "Sign"
                } else {
                    "Verify"
                };
                vec![key_check(
                    action,
                    &i.key_id,
                    ctx,
                    vec![
                        (
                            "kms:SigningAlgorithm".to_owned(),
                            vec![i.signing_algorithm.clone()],
                        ),
                        (
                            "kms:MessageType".to_owned(),
                            vec![i.message_type.clone().unwrap_or_else(|| "RAW".into())],
                        ),
                    ],
                )]
            }
            O::GetPublicKey(i) => vec![key_check("GetPublicKey", &i.key_id, ctx, vec![])],
            O::GenerateDataKeyPair(i) | O::GenerateDataKeyPairWithoutPlaintext(i) => {
                let action = if matches!(self, O::GenerateDataKeyPair(_)) {
                    "GenerateDataKeyPair"
                } else {
                    "GenerateDataKeyPairWithoutPlaintext"
                };
                let mut extra = context_keys(&i.encryption_context);
                extra.push((
                    "kms:DataKeyPairSpec".to_owned(),
                    vec![i.key_pair_spec.clone()],
                ));
                vec![key_check(action, &i.key_id, ctx, extra)]
            }
            O::EnableKeyRotation(i) => vec![key_check(
                "EnableKeyRotation",
                &i.key_id,
                ctx,
                vec![(
                    "kms:RotationPeriodInDays".to_owned(),
                    vec![i
                        .rotation_period_in_days
                        .unwrap_or(rotation::DEFAULT_PERIOD)
                        .to_string()],
                )],
            )],
            O::DisableKeyRotation(i) => {
                vec![key_check("DisableKeyRotation", &i.key_id, ctx, vec![])]
            }
            O::GetKeyRotationStatus(i) => {
                vec![key_check("GetKeyRotationStatus", &i.key_id, ctx, vec![])]
            }
            O::RotateKeyOnDemand(i) => {
                vec![key_check("RotateKeyOnDemand", &i.key_id, ctx, vec![])]
            }
            O::ListKeyRotations(i) => {
                vec![key_check("ListKeyRotations", &i.key_id, ctx, vec![])]
            }
            O::CreateGrant(i) => {
                let mut extra = vec![
                    (
                        "kms:GranteePrincipal".to_owned(),
                        vec![i.grantee_principal.clone()],
                    ),
                    ("kms:GrantOperations".to_owned(), i.operations.clone()),
                    (
                        "kms:GrantIsForAWSResource".to_owned(),
                        vec!["false".to_owned()],
                    ),
                ];
                if let Some(r) = &i.retiring_principal {
                    extra.push(("kms:RetiringPrincipal".to_owned(), vec![r.clone()]));
                }
                if let Some(c) = &i.constraints {
                    let mut types = Vec::new();
                    if c.encryption_context_equals.is_some() {
                        types.push("EncryptionContextEquals".to_owned());
                    }
                    if c.encryption_context_subset.is_some() {
                        types.push("EncryptionContextSubset".to_owned());
                    }
                    if !types.is_empty() {
                        extra.push(("kms:GrantConstraintType".to_owned(), types));
                    }
                }
                vec![key_check("CreateGrant", &i.key_id, ctx, extra)]
            }
            O::ListGrants(i) => vec![key_check("ListGrants", &i.key_id, ctx, vec![])],
            O::ListRetirableGrants(_) => vec![star_check("ListRetirableGrants", ctx, vec![])],
            // Who may retire depends on the grant, which the operation reads and then
            // authorizes (`grants::authorize_retire`).
            O::RetireGrant(_) => vec![],
            O::RevokeGrant(i) => vec![key_check("RevokeGrant", &i.key_id, ctx, vec![])],
            O::GetParametersForImport(i) => vec![key_check(
                "GetParametersForImport",
                &i.key_id,
                ctx,
                vec![
                    (
                        "kms:WrappingAlgorithm".to_owned(),
                        vec![i.wrapping_algorithm.clone()],
                    ),
                    (
                        "kms:WrappingKeySpec".to_owned(),
                        vec![i.wrapping_key_spec.clone()],
                    ),
                ],
            )],
            O::ImportKeyMaterial(i) => vec![key_check(
                "ImportKeyMaterial",
                &i.key_id,
                ctx,
                vec![(
                    "kms:ExpirationModel".to_owned(),
                    vec![i
                        .expiration_model
                        .clone()
                        .unwrap_or_else(|| "KEY_MATERIAL_EXPIRES".into())],
                )],
            )],
            O::DeleteImportedKeyMaterial(i) => vec![key_check(
                "DeleteImportedKeyMaterial",
                &i.key_id,
                ctx,
                vec![],
            )],
        }
    }

    fn request_parameters(&self) -> Option<Value> {
        use Operation as O;
        let mut p = serde_json::Map::new();
        let mut put = |k: &str, v: Value| {
            p.insert(k.to_owned(), v);
        };
        let ctx_value = |c: &Option<Context>| c.as_ref().map(|c| json!(c));
        match self {
            O::CreateKey(i) => {
                if let Some(v) = &i.description {
                    put("description", json!(v));
                }
                put(
                    "keyUsage",
                    json!(i
                        .key_usage
                        .clone()
                        .unwrap_or_else(|| "ENCRYPT_DECRYPT".into())),
                );
                put(
                    "keySpec",
                    json!(i
                        .key_spec
                        .clone()
                        .or_else(|| i.customer_master_key_spec.clone())
                        .unwrap_or_else(|| "SYMMETRIC_DEFAULT".into())),
                );
                put(
                    "origin",
                    json!(i.origin.clone().unwrap_or_else(|| "AWS_KMS".into())),
                );
                if let Some(v) = &i.policy {
                    put("policy", json!(v));
                }
                if let Some(v) = i.bypass_policy_lockout_safety_check {
                    put("bypassPolicyLockoutSafetyCheck", json!(v));
                }
                if let Some(v) = i.multi_region {
                    put("multiRegion", json!(v));
                }
                if let Some(tags) = &i.tags {
                    put(
                        "tags",
                        json!(tags
                            .iter()
                            .map(|t| json!({"tagKey": t.tag_key, "tagValue": t.tag_value}))
                            .collect::<Vec<_>>()),
                    );
                }
            }
            O::DescribeKey(i) | O::EnableKey(i) | O::DisableKey(i) | O::CancelKeyDeletion(i) => {
                put("keyId", json!(i.key_id))
            }
            O::ScheduleKeyDeletion(i) => {
                put("keyId", json!(i.key_id));
                if let Some(d) = i.pending_window_in_days {
                    put("pendingWindowInDays", json!(d));
                }
            }
            O::UpdateKeyDescription(i) => {
                put("keyId", json!(i.key_id));
                put("description", json!(i.description));
            }
            O::TagResource(i) => {
                put("keyId", json!(i.key_id));
                put(
                    "tags",
                    json!(i
                        .tags
                        .iter()
                        .map(|t| json!({"tagKey": t.tag_key, "tagValue": t.tag_value}))
                        .collect::<Vec<_>>()),
                );
            }
            O::UntagResource(i) => {
                put("keyId", json!(i.key_id));
                put("tagKeys", json!(i.tag_keys));
            }
            O::ListKeys(i) | O::ListAliases(i) | O::ListResourceTags(i) | O::ListKeyPolicies(i) => {
                if let Some(k) = &i.key_id {
                    put("keyId", json!(k));
                }
                if let Some(l) = i.limit {
                    put("limit", json!(l));
                }
                if let Some(m) = &i.marker {
                    put("marker", json!(m));
                }
            }
            O::CreateAlias(i) | O::UpdateAlias(i) => {
                put("aliasName", json!(i.alias_name));
                put("targetKeyId", json!(i.target_key_id));
            }
            O::DeleteAlias(i) => put("aliasName", json!(i.alias_name)),
            O::Encrypt(i) => {
                put("keyId", json!(i.key_id));
                put(
                    "encryptionAlgorithm",
                    json!(i
                        .encryption_algorithm
                        .clone()
                        .unwrap_or_else(|| "SYMMETRIC_DEFAULT".into())),
                );
                if let Some(c) = ctx_value(&i.encryption_context) {
                    put("encryptionContext", c);
                }
            }
            O::Decrypt(i) => {
                if let Some(k) = &i.key_id {
                    put("keyId", json!(k));
                }
                put(
                    "encryptionAlgorithm",
                    json!(i
                        .encryption_algorithm
                        .clone()
                        .unwrap_or_else(|| "SYMMETRIC_DEFAULT".into())),
                );
                if let Some(c) = ctx_value(&i.encryption_context) {
                    put("encryptionContext", c);
                }
            }
            O::ReEncrypt(i) => {
                if let Some(k) = &i.source_key_id {
                    put("sourceKeyId", json!(k));
                }
                put("destinationKeyId", json!(i.destination_key_id));
                put("sourceAAD", Value::Null);
                if let Some(c) = ctx_value(&i.source_encryption_context) {
                    put("sourceEncryptionContext", c);
                }
                if let Some(c) = ctx_value(&i.destination_encryption_context) {
                    put("destinationEncryptionContext", c);
                }
                put(
                    "sourceEncryptionAlgorithm",
                    json!(i
                        .source_encryption_algorithm
                        .clone()
                        .unwrap_or_else(|| "SYMMETRIC_DEFAULT".into())),
                );
                put(
                    "destinationEncryptionAlgorithm",
                    json!(i
                        .destination_encryption_algorithm
                        .clone()
                        .unwrap_or_else(|| "SYMMETRIC_DEFAULT".into())),
                );
                p.remove("sourceAAD");
            }
            O::GenerateDataKey(i) | O::GenerateDataKeyWithoutPlaintext(i) => {
                put("keyId", json!(i.key_id));
                if let Some(s) = &i.key_spec {
                    put("keySpec", json!(s));
                }
                if let Some(n) = i.number_of_bytes {
                    put("numberOfBytes", json!(n));
                }
                if let Some(c) = ctx_value(&i.encryption_context) {
                    put("encryptionContext", c);
                }
            }
            O::GenerateRandom(i) => {
                if let Some(n) = i.number_of_bytes {
                    put("numberOfBytes", json!(n));
                }
            }
            O::GenerateMac(i) | O::VerifyMac(i) => {
                put("keyId", json!(i.key_id));
                put("macAlgorithm", json!(i.mac_algorithm));
            }
            O::PutKeyPolicy(i) => {
                put("keyId", json!(i.key_id));
                put(
                    "policyName",
                    json!(i.policy_name.clone().unwrap_or_else(|| "default".into())),
                );
                put("policy", json!(i.policy));
                put(
                    "bypassPolicyLockoutSafetyCheck",
                    json!(i.bypass_policy_lockout_safety_check.unwrap_or(false)),
                );
            }
            O::GetKeyPolicy(i) => {
                put("keyId", json!(i.key_id));
                put(
                    "policyName",
                    json!(i.policy_name.clone().unwrap_or_else(|| "default".into())),
                );
            }
            O::Sign(i) | O::Verify(i) => {
                put("keyId", json!(i.key_id));
                put("signingAlgorithm", json!(i.signing_algorithm));
                put(
                    "messageType",
                    json!(i.message_type.clone().unwrap_or_else(|| "RAW".into())),
                );
            }
            O::GetPublicKey(i) => put("keyId", json!(i.key_id)),
            O::DisableKeyRotation(i) | O::GetKeyRotationStatus(i) | O::RotateKeyOnDemand(i) => {
                put("keyId", json!(i.key_id))
            }
            O::EnableKeyRotation(i) => {
                put("keyId", json!(i.key_id));
                if let Some(d) = i.rotation_period_in_days {
                    put("rotationPeriodInDays", json!(d));
                }
            }
            O::CreateGrant(i) => {
                put("keyId", json!(i.key_id));
                put("granteePrincipal", json!(i.grantee_principal));
                if let Some(r) = &i.retiring_principal {
                    put("retiringPrincipal", json!(r));
                }
                put("operations", json!(i.operations));
                if let Some(c) = &i.constraints {
                    let mut m = serde_json::Map::new();
                    if let Some(e) = &c.encryption_context_equals {
                        m.insert("encryptionContextEquals".into(), json!(e));
                    }
                    if let Some(e) = &c.encryption_context_subset {
                        m.insert("encryptionContextSubset".into(), json!(e));
                    }
                    put("constraints", Value::Object(m));
                }
                if let Some(n) = &i.name {
                    put("name", json!(n));
                }
            }
            O::ListGrants(i) => {
                put("keyId", json!(i.key_id));
                if let Some(g) = &i.grant_id {
                    put("grantId", json!(g));
                }
                if let Some(g) = &i.grantee_principal {
                    put("granteePrincipal", json!(g));
                }
            }
            O::ListRetirableGrants(i) => put("retiringPrincipal", json!(i.retiring_principal)),
            O::RetireGrant(i) => {
                if let Some(k) = &i.key_id {
                    put("keyId", json!(k));
                }
                if let Some(g) = &i.grant_id {
                    put("grantId", json!(g));
                }
            }
            O::RevokeGrant(i) => {
                put("keyId", json!(i.key_id));
                put("grantId", json!(i.grant_id));
            }
            O::GetParametersForImport(i) => {
                put("keyId", json!(i.key_id));
                put("wrappingAlgorithm", json!(i.wrapping_algorithm));
                put("wrappingKeySpec", json!(i.wrapping_key_spec));
            }
            O::ImportKeyMaterial(i) => {
                put("keyId", json!(i.key_id));
                put(
                    "expirationModel",
                    json!(i
                        .expiration_model
                        .clone()
                        .unwrap_or_else(|| "KEY_MATERIAL_EXPIRES".into())),
                );
                // As AWS's ImportKeyMaterial example: "validTo": "May 21, 2025, 5:47:45 AM".
                if let Some(t) = i
                    .valid_to
                    .and_then(|v| OffsetDateTime::from_unix_timestamp(v as i64).ok())
                {
                    put("validTo", json!(trail_date(t)));
                }
                if let Some(t) = &i.import_type {
                    put("importType", json!(t));
                }
                if let Some(d) = &i.key_material_description {
                    put("keyMaterialDescription", json!(d));
                }
                if let Some(id) = &i.key_material_id {
                    put("keyMaterialId", json!(id));
                }
            }
            O::DeleteImportedKeyMaterial(i) => {
                put("keyId", json!(i.key_id));
                if let Some(id) = &i.key_material_id {
                    put("keyMaterialId", json!(id));
                }
            }
            O::ListKeyRotations(i) => {
                put("keyId", json!(i.key_id));
                if let Some(v) = &i.include_key_material {
                    put("includeKeyMaterial", json!(v));
                }
                if let Some(l) = i.limit {
                    put("limit", json!(l));
                }
                if let Some(m) = &i.marker {
                    put("marker", json!(m));
                }
            }
            O::GenerateDataKeyPair(i) | O::GenerateDataKeyPairWithoutPlaintext(i) => {
                put("keyId", json!(i.key_id));
                put("keyPairSpec", json!(i.key_pair_spec));
                if let Some(c) = ctx_value(&i.encryption_context) {
                    put("encryptionContext", c);
                }
            }
        }
        Some(Value::Object(p))
    }

    fn read(&self, tx: &dyn ReadTx, env: &Env, ctx: &RequestContext) -> Result<Reply, ApiError> {
        use Operation as O;
        match self {
            O::DescribeKey(i) => {
                let k = store::resolve(tx, ctx, &i.key_id)?;
                let mut md = json!(metadata(&k));
                import::annotate(tx, &k, &mut md)?;
                let mut reply = Reply::new(json!({ "KeyMetadata": md }));
                reply.resources = key_resources(&k);
                Ok(reply)
            }
            O::ListKeys(i) => list_keys(tx, ctx, i),
            O::ListAliases(i) => list_aliases(tx, ctx, i),
            O::ListResourceTags(i) => {
                let key_id = i.key_id.as_deref().unwrap_or_default();
                let (limit, start) = paging(i.limit, &i.marker)?;
                let k = store::resolve_own(tx, ctx, key_id)?;
                if !matches!(KeyRef::parse(key_id, ctx), KeyRef::Key { .. }) {
                    return Err(err(
                        "InvalidArnException",
                        "The key ID must be a key ID or key ARN.",
                    ));
                }
                let tags: Vec<Value> = k
                    .tags
                    .iter()
                    .map(|(a, b)| json!({"TagKey": a, "TagValue": b}))
                    .collect();
                let (items, truncated, next) = page(&tags, limit, start)?;
                let mut out = json!({ "Tags": items, "Truncated": truncated });
                if let (Some(n), Some(o)) = (next, out.as_object_mut()) {
                    o.insert("NextMarker".into(), n.into());
                }
                let mut reply = Reply::new(out);
                reply.resources = key_resources(&k);
                Ok(reply)
            }
            O::Encrypt(i) => encrypt(tx, env, ctx, i),
            O::Decrypt(i) => decrypt(tx, env, ctx, i),
            O::ReEncrypt(i) => re_encrypt(tx, env, ctx, i),
            O::GenerateDataKey(i) => generate_data_key(tx, env, ctx, i, true),
            O::GenerateDataKeyWithoutPlaintext(i) => generate_data_key(tx, env, ctx, i, false),
            O::GenerateRandom(i) => {
                let n = i
                    .number_of_bytes
                    .ok_or_else(|| kerr::validation("Please specify either number of bytes."))?;
                if !(1..=1024).contains(&n) {
                    return Err(kerr::out_of_range(n, "numberOfBytes", 1, 1024));
                }
                if i.custom_key_store_id.is_some() {
                    return Err(err("CustomKeyStoreNotFoundException", ""));
                }
                let bytes = random_bytes(usize::try_from(n).unwrap_or(1))?;
                Ok(Reply::new(json!({ "Plaintext": b64(&bytes) })))
            }
            O::GenerateMac(i) => mac_op(tx, env, ctx, i, false),
            O::VerifyMac(i) => mac_op(tx, env, ctx, i, true),
            O::GetKeyPolicy(i) => {
                policy_name_ok(&i.policy_name)?;
                let k = store::resolve_own(tx, ctx, &i.key_id)?;
                let mut reply = Reply::new(json!({ "Policy": k.policy, "PolicyName": "default" }));
                reply.resources = key_resources(&k);
                Ok(reply)
            }
            O::ListKeyPolicies(i) => {
                let key_id = i.key_id.as_deref().unwrap_or_default();
                paging(i.limit, &i.marker)?;
                let k = store::resolve_own(tx, ctx, key_id)?;
                let mut reply =
                    Reply::new(json!({ "PolicyNames": ["default"], "Truncated": false }));
                reply.resources = key_resources(&k);
                Ok(reply)
            }
            O::Sign(i) => pk::sign_op(tx, env, ctx, i, false),
            O::Verify(i) => pk::sign_op(tx, env, ctx, i, true),
            O::GetPublicKey(i) => pk::get_public_key(tx, env, ctx, i),
            O::GenerateDataKeyPair(i) => pk::generate_data_key_pair(tx, env, ctx, i, true),
            O::GenerateDataKeyPairWithoutPlaintext(i) => {
                pk::generate_data_key_pair(tx, env, ctx, i, false)
            }
            O::GetKeyRotationStatus(i) => rotation::status(tx, ctx, &i.key_id),
            O::ListKeyRotations(i) => rotation::list(tx, ctx, i),
            O::ListGrants(i) => grants::list(tx, ctx, i),
            O::ListRetirableGrants(i) => grants::list_retirable(tx, i),
            _ => Err(ApiError::internal("read() on a mutating KMS operation")),
        }
    }

    fn write(
        &self,
        tx: &mut dyn WriteTx,
        env: &Env,
        ctx: &RequestContext,
    ) -> Result<Reply, ApiError> {
        use Operation as O;
        match self {
            O::CreateKey(i) => create_key(tx, env, ctx, i),
            O::EnableKey(i) => key_write(tx, ctx, &i.key_id, |k| {
                not_pending_deletion(k)?;
                if k.materials.is_empty() {
                    return k.check_usable();
                }
                k.enabled = true;
                Ok(())
            }),
            O::DisableKey(i) => key_write(tx, ctx, &i.key_id, |k| {
                not_pending_deletion(k)?;
                if k.materials.is_empty() {
                    return k.check_usable();
                }
                k.enabled = false;
                Ok(())
            }),
            O::ScheduleKeyDeletion(i) => schedule_deletion(tx, ctx, i),
            O::CancelKeyDeletion(i) => {
                let mut reply = key_write(tx, ctx, &i.key_id, |k| {
                    if k.deletion_date.is_none() {
                        return Err(err(
                            "KMSInvalidStateException",
                            format!("{} is not pending deletion.", k.arn),
                        ));
                    }
                    // As AWS: a key whose deletion is cancelled comes back disabled.
                    k.deletion_date = None;
                    k.pending_window_in_days = None;
                    k.enabled = false;
                    Ok(())
                })?;
                let arn = reply
                    .resources
                    .first()
                    .map(|r| r.1.clone())
                    .unwrap_or_default();
                reply.output = Some(Box::new(json!({ "KeyId": arn })));
                reply.response_elements = Some(json!({ "keyId": arn }));
                Ok(reply)
            }
            O::UpdateKeyDescription(i) => {
                // Description's 0..8192 characters: the model's, checked before
                // authorization (`model_checks`).
                key_write(tx, ctx, &i.key_id, |k| {
                    not_pending_deletion(k)?;
                    k.description = i.description.clone();
                    Ok(())
                })
            }
            O::TagResource(i) => {
                check_tags(&i.tags)?;
                key_write(tx, ctx, &i.key_id, |k| {
                    not_pending_deletion(k)?;
                    for t in &i.tags {
                        match k.tags.iter_mut().find(|(key, _)| *key == t.tag_key) {
                            Some(existing) => existing.1 = t.tag_value.clone(),
                            None => k.tags.push((t.tag_key.clone(), t.tag_value.clone())),
                        }
                    }
                    if k.tags.len() > 50 {
                        return Err(err("TagException", "Too many tags"));
                    }
                    Ok(())
                })
            }
            O::UntagResource(i) => key_write(tx, ctx, &i.key_id, |k| {
                not_pending_deletion(k)?;
                k.tags.retain(|(key, _)| !i.tag_keys.contains(key));
                Ok(())
            }),
            O::CreateAlias(i) => alias_write(tx, ctx, i, true),
            O::UpdateAlias(i) => alias_write(tx, ctx, i, false),
            O::DeleteAlias(i) => {
                check_alias_name(&i.alias_name)?;
                let account = ctx.principal.account_id.clone();
                let arn = store::alias_arn(&ctx.region, &account, &i.alias_name);
                let a = store::get_alias(tx, &account, &ctx.region, &i.alias_name)?
                    .filter(|a| alias_target_live(tx, ctx, a))
                    .ok_or_else(|| kerr::alias_not_found(&arn))?;
                store::delete_alias(tx, &account, &ctx.region, &i.alias_name)?;
                let mut reply = Reply::empty();
                reply.resources = vec![
                    (
                        "AWS::KMS::Key".to_owned(),
                        store::key_arn(&ctx.region, &account, &a.target_key_id),
                    ),
                    ("AWS::KMS::Alias".to_owned(), arn),
                ];
                Ok(reply)
            }
            O::PutKeyPolicy(i) => {
                policy_name_ok(&i.policy_name)?;
                check_key_policy(&i.policy)?;
                key_policy_principals_exist(tx, &i.policy)?;
                let mut replaced = None;
                let reply = key_write(tx, ctx, &i.key_id, |k| {
                    check_lockout(
                        env,
                        &i.policy,
                        ctx,
                        &k.arn,
                        i.bypass_policy_lockout_safety_check,
                    )?;
                    let before = std::mem::replace(&mut k.policy, i.policy.clone());
                    replaced = Some((before, crate::iam::principals::Referrer::of_key(k)));
                    Ok(())
                })?;
                if let Some((before, referrer)) = replaced {
                    crate::iam::principals::update_references(
                        tx,
                        Some(&before),
                        Some(&i.policy),
                        &referrer,
                    )?;
                }
                Ok(reply)
            }
            O::EnableKeyRotation(i) => rotation::enable(tx, ctx, i),
            O::DisableKeyRotation(i) => rotation::disable(tx, ctx, &i.key_id),
            O::RotateKeyOnDemand(i) => rotation::on_demand(tx, env, ctx, &i.key_id),
            O::CreateGrant(i) => grants::create(tx, ctx, i),
            O::RetireGrant(i) => grants::retire(tx, env, ctx, i),
            O::RevokeGrant(i) => grants::revoke(tx, ctx, i),
            O::GetParametersForImport(i) => import::get_parameters(tx, env, ctx, i),
            O::ImportKeyMaterial(i) => import::import_material(tx, env, ctx, i),
            O::DeleteImportedKeyMaterial(i) => import::delete_material(tx, ctx, i),
            _ => Err(ApiError::internal("write() on a read-only KMS operation")),
        }
    }
}
