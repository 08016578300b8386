//! AWS Systems Manager Parameter Store (awsJson1.1, target prefix `AmazonSSM`, signing
//! name `ssm`, regional). Only the parameter operations of the SSM API live here.
//!
//! A parameter is one record (name, tags, up to 100 versions) under
//! `("ssmp", account, region, name)`, so a hierarchy listing is one prefix scan. Parameter
//! policies that fire at a time have an entry in a due index `("ssmdue", micros, account,
//! region, name, type)` that [`run_due_policies`] walks on the business clock.
//!
//! SecureString values reach the store only as KMS ciphertext blobs (base64); the
//! plaintext is never written, logged or recorded in CloudTrail.
//!
//! Authorization: `ssm:<Action>` on `arn:aws:ssm:REGION:ACCOUNT:parameter/NAME` (the
//! leading `/` of a hierarchical name dropped, as AWS's ARNs do); KMS permissions for
//! SecureString values are checked when the value is encrypted or decrypted.

use crate::{
    authz::AuthzCheck, context::RequestContext, env::Env, error::ApiError, input::Input, Reply,
};
use base64::Engine as _;
use palisade_store::{keys::Key, Range, ReadTx, WriteTx};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::ops::Bound;
use time::OffsetDateTime;

const STANDARD_MAX_VALUE: usize = 4096;
const ADVANCED_MAX_VALUE: usize = 8192;
const MAX_VERSIONS: usize = 100;
const MAX_DEPTH: usize = 15;
/// The longest name AWS accepts counts the ARN prefix in front of it.
const MAX_QUALIFIED_NAME: usize = 1011;
const MAX_LABELS_PER_VERSION: usize = 10;
const MAX_TAGS: usize = 50;
const MAX_POLICIES: usize = 10;
const DEFAULT_KEY_ALIAS: &str = "alias/aws/ssm";

// ---------------------------------------------------------------- errors

fn err(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(code, 400, message)
}

fn validation(message: impl Into<String>) -> ApiError {
    err("ValidationException", message)
}

fn not_found(name: &str) -> ApiError {
    err("ParameterNotFound", format!("Parameter {name} not found."))
}

fn version_not_found(name: &str, version: &str) -> ApiError {
    err(
        "ParameterVersionNotFound",
        format!("Systems Manager could not find version {version} of {name}. Verify the version and try again."),
    )
}

const NAME_RULES: &str = "Parameter name: can't be prefixed with \"aws\" or \"ssm\" (case-insensitive). If formed as a path, it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, numbers and the following 3 symbols .-_";

fn too_long(member: &str, value_desc: &str, max: usize) -> ApiError {
    validation(format!(
        "1 validation error detected: Value {value_desc}at '{member}' failed to satisfy constraint: Member must have length less than or equal to {max}"
    ))
}

fn invalid_next_token() -> ApiError {
    err("InvalidNextToken", "The specified token isn't valid.")
}

// ---------------------------------------------------------------- records

/// One parameter policy as attached to a version.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PolicyRecord {
    pub policy_text: String,
    pub policy_type: String,
    /// `Pending` until it fires, then `Finished`.
    pub policy_status: String,
}

/// One version of a parameter. `value` is the plaintext for String and StringList, and
/// the base64 KMS ciphertext blob for SecureString.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VersionRecord {
    pub version: u64,
    pub r#type: String,
    pub value: String,
    #[serde(default)]
    pub key_id: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub allowed_pattern: Option<String>,
    pub data_type: String,
    pub tier: String,
    #[serde(default)]
    pub policies: Vec<PolicyRecord>,
    #[serde(default)]
    pub labels: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub last_modified_date: OffsetDateTime,
    pub last_modified_user: String,
}

/// A parameter: its versions (oldest first, at most 100) and tags.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ParameterRecord {
    pub name: String,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    pub versions: Vec<VersionRecord>,
}

impl ParameterRecord {
    fn current(&self) -> Result<&VersionRecord, ApiError> {
        self.versions
            .last()
            .ok_or_else(|| ApiError::internal("ssm parameter without versions"))
    }
}

fn params_prefix(account: &str, region: &str) -> Key {
    Key::new().str("ssmp").str(account).str(region)
}

/// A parameter's record key.
pub fn parameter_key(account: &str, region: &str, name: &str) -> Vec<u8> {
    params_prefix(account, region).str(name).finish()
}

fn due_prefix() -> Key {
    Key::new().str("ssmdue")
}

fn micros(t: OffsetDateTime) -> u64 {
    u64::try_from(t.unix_timestamp_nanos() / 1000).unwrap_or(0)
}

fn due_key(at: OffsetDateTime, account: &str, region: &str, name: &str, ptype: &str) -> Vec<u8> {
    due_prefix()
        .u64(micros(at))
        .str(account)
        .str(region)
        .str(name)
        .str(ptype)
        .finish()
}

/// Policy notifications (ExpirationNotification, NoChangeNotification, Expiration) as
/// they fired, newest last: `("ssmpe", account, region, micros, name, type)`.
fn policy_event_key(
    account: &str,
    region: &str,
    at: OffsetDateTime,
    name: &str,
    ptype: &str,
) -> Vec<u8> {
    Key::new()
        .str("ssmpe")
        .str(account)
        .str(region)
        .u64(micros(at))
        .str(name)
        .str(ptype)
        .finish()
}

fn decode_record<T: serde::de::DeserializeOwned>(raw: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(raw).map_err(|e| ApiError::internal(format!("ssm record: {e}")))
}

fn get_param(
    tx: &dyn ReadTx,
    account: &str,
    region: &str,
    name: &str,
) -> Result<Option<ParameterRecord>, ApiError> {
    tx.get(&parameter_key(account, region, name))?
        .map(|raw| decode_record(&raw))
        .transpose()
}

fn put_param(
    tx: &mut dyn WriteTx,
    account: &str,
    region: &str,
    p: &ParameterRecord,
) -> Result<(), ApiError> {
    let raw = serde_json::to_vec(p).map_err(ApiError::internal)?;
    tx.put(&parameter_key(account, region, &p.name), &raw)?;
    Ok(())
}

/// Every parameter whose name starts with `prefix`, by name.
fn scan_params(
    tx: &dyn ReadTx,
    account: &str,
    region: &str,
    prefix: &str,
) -> Result<Vec<ParameterRecord>, ApiError> {
    let start = params_prefix(account, region).str_prefix(prefix).finish();
    let mut end = Vec::new();
    let range = Range::prefix(&start, &mut end);
    tx.scan(&range, usize::MAX)?
        .into_iter()
        .map(|(_, v)| decode_record(&v))
        .collect()
}

/// The ARN of a parameter: `parameter/` + the name without its leading slash.
pub fn parameter_arn(region: &str, account: &str, name: &str) -> String {
    format!(
        "arn:aws:ssm:{region}:{account}:parameter/{}",
        name.strip_prefix('/').unwrap_or(name)
    )
}

/// A key only checks carry (never a request): the name the call gives its parameter, so
/// that the authorizer reads the tags of the parameter the call acts on (`a` and `/a`
/// share an ARN).
pub const PARAMETER_NAME_KEY: &str = "palisade:ParameterName";

/// Condition keys of the parameter `arn` names (`named`, as the call gave it, when it gave
/// one): its tags (`aws:ResourceTag/*`, `ssm:resourceTag/*`). Empty when there is no such
/// parameter.
pub fn parameter_facts(
    tx: &dyn ReadTx,
    arn: &str,
    named: Option<&str>,
) -> Result<Vec<(String, Vec<String>)>, ApiError> {
    let Some((region, account, _)) = parse_parameter_arn(arn) else {
        return Ok(Vec::new());
    };
    // The candidates in the order the operation tries them ([`find_param`]).
    let (names, _) = split_selector(named.unwrap_or(arn));
    let mut found = None;
    for n in &names {
        found = get_param(tx, account, region, n)?;
        if found.is_some() {
            break;
        }
    }
    Ok(found
        .map(|p| {
            crate::authz::resource_tags(
                Some("ssm:resourceTag"),
                p.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            )
        })
        .unwrap_or_default())
}

/// Splits `name[:selector]` (also accepting a parameter ARN) into the candidate stored
/// names and the selector.
fn split_selector(raw: &str) -> (Vec<String>, Option<String>) {
    let (names, rest) = match raw.strip_prefix("arn:") {
        Some(_) => {
            // arn:aws:ssm:REGION:ACCOUNT:parameter/NAME[:selector]
            let resource = raw.splitn(6, ':').nth(5).unwrap_or_default();
            let bare = resource.strip_prefix("parameter/").unwrap_or(resource);
            let (n, sel) = match bare.split_once(':') {
                Some((n, s)) => (n, Some(s.to_owned())),
                None => (bare, None),
            };
            let names = if n.contains('/') {
                vec![format!("/{n}")]
            } else {
                vec![n.to_owned(), format!("/{n}")]
            };
            (names, sel)
        }
        None => match raw.split_once(':') {
            Some((n, s)) => (vec![n.to_owned()], Some(s.to_owned())),
            None => (vec![raw.to_owned()], None),
        },
    };
    (names, rest)
}

/// The stored name a request names (`name`, `name:selector` or an ARN), for authz.
fn bare_name(raw: &str) -> String {
    let (names, _) = split_selector(raw);
    names.into_iter().last().unwrap_or_default()
}

/// `(region, account, name after "parameter/")` of an SSM parameter ARN.
fn parse_parameter_arn(raw: &str) -> Option<(&str, &str, &str)> {
    match palisade_policy::split_arn(raw)? {
        [_, _, "ssm", region, account, res] => {
            Some((region, account, res.strip_prefix("parameter/")?))
        }
        _ => None,
    }
}

/// The `(region, account)` of a parameter ARN, when `raw` is an SSM parameter ARN.
fn arn_home(raw: &str) -> Option<(&str, &str)> {
    parse_parameter_arn(raw).map(|(region, account, _)| (region, account))
}

fn find_param(
    tx: &dyn ReadTx,
    ctx: &RequestContext,
    raw: &str,
) -> Result<(Option<ParameterRecord>, Option<String>), ApiError> {
    if raw.is_empty() {
        return Err(validation(
            "1 validation error detected: Value '' at 'name' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ));
    }
    if raw.chars().count() > 2048 {
        return Err(too_long("name", "", 2048));
    }
    let (names, selector) = split_selector(raw);
    // An ARN names the parameter of its own account and region: another one's (or an
    // ARN of another service) is not found here.
    if raw.starts_with("arn:")
        && arn_home(raw) != Some((ctx.region.as_str(), ctx.principal.account_id.as_str()))
    {
        return Ok((None, selector));
    }
    for n in &names {
        if let Some(p) = get_param(tx, &ctx.principal.account_id, &ctx.region, n)? {
            return Ok((Some(p), selector));
        }
    }
    Ok((None, selector))
}

/// The version a selector names (`3` or a label); `None` selector is the current one.
fn select<'a>(
    p: &'a ParameterRecord,
    selector: &Option<String>,
) -> Result<Option<&'a VersionRecord>, ApiError> {
    match selector {
        None => Ok(Some(p.current()?)),
        Some(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            let v: u64 = s.parse().unwrap_or(0);
            match p.versions.iter().find(|x| x.version == v) {
                Some(x) => Ok(Some(x)),
                None => Err(version_not_found(&p.name, s)),
            }
        }
        Some(label) => Ok(p.versions.iter().find(|x| x.labels.contains(label))),
    }
}

// ---------------------------------------------------------------- SecureString through KMS

/// KMS on the caller's behalf (`kms:ViaService = ssm.REGION.amazonaws.com`), with the
/// parameter's ARN as encryption context as AWS does.
mod secure {
    use super::*;
    use crate::kms::internal::{self, Caller};
    use std::collections::BTreeMap;

    fn context(arn: &str) -> BTreeMap<String, String> {
        BTreeMap::from([("PARAMETER_ARN".to_owned(), arn.to_owned())])
    }

    /// KMS's answers as Parameter Store gives them: an unknown or unusable key is
    /// `InvalidKeyId`; a denial stays `AccessDeniedException`.
    fn map_kms(e: ApiError, key_id: &str) -> ApiError {
        match e.code.as_ref() {
            "NotFoundException" | "InvalidKeyUsageException" => {
                err("InvalidKeyId", format!("Invalid keyId {key_id}"))
            }
            "DisabledException" | "KMSInvalidStateException" => err(
                "InvalidKeyId",
                format!("The KMS key {key_id} is not usable: {}", e.message),
            ),
            _ => e,
        }
    }

    /// Encrypts a SecureString value; returns the base64 blob. AWS encrypts a standard
    /// parameter under the key directly (kms:Encrypt) and an advanced one with a data key
    /// (kms:GenerateDataKey).
    pub fn encrypt(
        tx: &mut dyn WriteTx,
        env: &Env,
        ctx: &RequestContext,
        key_id: &str,
        arn: &str,
        tier: &str,
        plaintext: &str,
    ) -> Result<String, ApiError> {
        let requested = (key_id != DEFAULT_KEY_ALIAS).then_some(key_id);
        let action = if tier == "Advanced" {
            "GenerateDataKey"
        } else {
            "Encrypt"
        };
        let (blob, _key_arn) = internal::encrypt_for(
            tx,
            env,
            ctx,
            Caller::Principal,
            requested,
            "ssm",
            &[action],
            plaintext.as_bytes(),
            &context(arn),
        )
        .map_err(|e| map_kms(e, key_id))?;
        Ok(base64::engine::general_purpose::STANDARD.encode(blob))
    }

    /// Decrypts a stored SecureString blob for the caller (kms:Decrypt via ssm).
    pub fn decrypt(
        tx: &dyn ReadTx,
        env: &Env,
        ctx: &RequestContext,
        arn: &str,
        blob_b64: &str,
    ) -> Result<String, ApiError> {
        let blob = base64::engine::general_purpose::STANDARD
            .decode(blob_b64)
            .map_err(|_| ApiError::internal("ssm SecureString blob is not base64"))?;
        let plain =
            internal::decrypt_for(tx, env, ctx, Caller::Principal, "ssm", &blob, &context(arn))
                .map_err(|e| map_kms(e, "of this parameter"))?;
        String::from_utf8(plain).map_err(|_| ApiError::internal("ssm SecureString is not UTF-8"))
    }
}

// ---------------------------------------------------------------- inputs

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagIn {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutParameterInput {
    pub name: String,
    pub description: Option<String>,
    pub value: String,
    pub r#type: Option<String>,
    pub key_id: Option<String>,
    pub overwrite: Option<bool>,
    pub allowed_pattern: Option<String>,
    pub tags: Option<Vec<TagIn>>,
    pub tier: Option<String>,
    pub policies: Option<String>,
    pub data_type: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetParameterInput {
    pub name: String,
    pub with_decryption: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetParametersInput {
    pub names: Vec<String>,
    pub with_decryption: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StringFilter {
    pub key: String,
    pub option: Option<String>,
    pub values: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LegacyFilter {
    pub key: String,
    pub values: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetParametersByPathInput {
    pub path: String,
    pub recursive: Option<bool>,
    pub parameter_filters: Option<Vec<StringFilter>>,
    pub with_decryption: Option<bool>,
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeParametersInput {
    pub filters: Option<Vec<LegacyFilter>>,
    pub parameter_filters: Option<Vec<StringFilter>>,
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
    pub shared: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetParameterHistoryInput {
    pub name: String,
    pub with_decryption: Option<bool>,
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LabelInput {
    pub name: String,
    pub parameter_version: Option<u64>,
    pub labels: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NameInput {
    pub name: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NamesInput {
    pub names: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AddTagsInput {
    pub resource_type: String,
    pub resource_id: String,
    pub tags: Vec<TagIn>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RemoveTagsInput {
    pub resource_type: String,
    pub resource_id: String,
    pub tag_keys: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsInput {
    pub resource_type: String,
    pub resource_id: String,
}

/// The Parameter Store actions Palisade implements.
#[derive(Debug)]
pub enum Operation {
    PutParameter(PutParameterInput),
    GetParameter(GetParameterInput),
    GetParameters(GetParametersInput),
    GetParametersByPath(GetParametersByPathInput),
    DescribeParameters(DescribeParametersInput),
    GetParameterHistory(GetParameterHistoryInput),
    LabelParameterVersion(LabelInput),
    UnlabelParameterVersion(LabelInput),
    DeleteParameter(NameInput),
    DeleteParameters(NamesInput),
    AddTagsToResource(AddTagsInput),
    RemoveTagsFromResource(RemoveTagsInput),
    ListTagsForResource(ListTagsInput),
}

pub fn decode(
    action: &str,
    input: &Input<'_>,
) -> Option<Result<Box<dyn crate::Operation>, ApiError>> {
    use Operation as O;
    let op = match action {
        // "The service removes any spaces specified for the beginning or end of a
        // parameter name" (PutParameter); the trimmed name is the one authorized.
        "PutParameter" => input.parse().map(|mut i: PutParameterInput| {
            let trimmed = i.name.trim_matches(' ');
            if trimmed.len() != i.name.len() {
                i.name = trimmed.to_owned();
            }
            O::PutParameter(i)
        }),
        "GetParameter" => input.parse().map(O::GetParameter),
        // The list's model checks (model_checks) come before authorization, which is
        // per name.
        "GetParameters" => input.parse().map(O::GetParameters),
        "GetParametersByPath" => input.parse().map(O::GetParametersByPath),
        "DescribeParameters" => input
            .parse::<DescribeParametersInput>()
            .and_then(|i| check_describe_input(&i).map(|()| O::DescribeParameters(i))),
        "GetParameterHistory" => input.parse().map(O::GetParameterHistory),
        "LabelParameterVersion" => input.parse().map(O::LabelParameterVersion),
        "UnlabelParameterVersion" => input
            .parse()
            .and_then(|i: LabelInput| {
                if i.parameter_version.is_none() {
                    Err(validation("1 validation error detected: Value null at 'parameterVersion' failed to satisfy constraint: Member must not be null"))
                } else {
                    Ok(i)
                }
            })
            .map(O::UnlabelParameterVersion),
        "DeleteParameter" => input.parse().map(O::DeleteParameter),
        "DeleteParameters" => input.parse().map(O::DeleteParameters),
        "AddTagsToResource" => input.parse().map(O::AddTagsToResource),
        "RemoveTagsFromResource" => input.parse::<RemoveTagsInput>().and_then(|i| {
            match crate::input::untag_keys_violation(
                &i.tag_keys,
                Some("^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$"),
            ) {
                Some(message) => Err(ApiError::new("ValidationException", 400, message)),
                None => Ok(O::RemoveTagsFromResource(i)),
            }
        }),
        "ListTagsForResource" => input.parse().map(O::ListTagsForResource),
        _ => return None,
    };
    Some(
        op.and_then(|op| non_empty_name(&op).map(|()| op))
            .map(|op| Box::new(op) as Box<dyn crate::Operation>),
    )
}

/// PSParameterName's minimum of 1, a model check made before authorization (AWS's
/// ValidationException, never AccessDenied or ParameterNotFound).
fn non_empty_name(op: &Operation) -> Result<(), ApiError> {
    use Operation as O;
    let name = match op {
        O::GetParameter(i) => &i.name,
        O::GetParameterHistory(i) => &i.name,
        O::LabelParameterVersion(i) | O::UnlabelParameterVersion(i) => &i.name,
        O::DeleteParameter(i) => &i.name,
        _ => return Ok(()),
    };
    if name.is_empty() {
        return Err(validation(
            "1 validation error detected: Value '' at 'name' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------- outputs

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct ParameterOut {
    name: String,
    r#type: String,
    /// `None` for a binary Secrets Manager secret read through a reference.
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<String>,
    version: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    selector: Option<String>,
    last_modified_date: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_result: Option<String>,
    #[serde(rename = "ARN")]
    arn: String,
    /// `None` for a Secrets Manager secret read through a reference.
    #[serde(skip_serializing_if = "Option::is_none")]
    data_type: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct PolicyOut {
    policy_text: String,
    policy_type: String,
    policy_status: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct MetadataOut {
    name: String,
    #[serde(rename = "ARN")]
    arn: String,
    r#type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<String>,
    last_modified_date: f64,
    last_modified_user: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    allowed_pattern: Option<String>,
    version: u64,
    tier: String,
    policies: Vec<PolicyOut>,
    data_type: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct HistoryOut {
    name: String,
    r#type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<String>,
    last_modified_date: f64,
    last_modified_user: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    allowed_pattern: Option<String>,
    version: u64,
    labels: Vec<String>,
    tier: String,
    policies: Vec<PolicyOut>,
    data_type: String,
}

fn epoch(t: OffsetDateTime) -> f64 {
    (t.unix_timestamp_nanos() / 1_000_000) as f64 / 1000.0
}

fn policies_out(v: &VersionRecord) -> Vec<PolicyOut> {
    v.policies
        .iter()
        .map(|p| PolicyOut {
            policy_text: p.policy_text.clone(),
            policy_type: p.policy_type.clone(),
            policy_status: p.policy_status.clone(),
        })
        .collect()
}

fn metadata_out(ctx: &RequestContext, p: &ParameterRecord) -> Result<MetadataOut, ApiError> {
    let v = p.current()?;
    Ok(MetadataOut {
        name: p.name.clone(),
        arn: parameter_arn(&ctx.region, &ctx.principal.account_id, &p.name),
        r#type: v.r#type.clone(),
        key_id: v.key_id.clone(),
        last_modified_date: epoch(v.last_modified_date),
        last_modified_user: v.last_modified_user.clone(),
        description: v.description.clone(),
        allowed_pattern: v.allowed_pattern.clone(),
        version: v.version,
        tier: v.tier.clone(),
        policies: policies_out(v),
        data_type: v.data_type.clone(),
    })
}

/// The value a caller sees: plaintext, or for SecureString the ciphertext unless it asks
/// for (and may have) decryption.
fn visible_value(
    tx: &dyn ReadTx,
    env: &Env,
    ctx: &RequestContext,
    name: &str,
    v: &VersionRecord,
    with_decryption: bool,
) -> Result<String, ApiError> {
    if v.r#type == "SecureString" && with_decryption {
        let arn = parameter_arn(&ctx.region, &ctx.principal.account_id, name);
        secure::decrypt(tx, env, ctx, &arn, &v.value)
    } else {
        Ok(v.value.clone())
    }
}

fn parameter_out(
    tx: &dyn ReadTx,
    env: &Env,
    ctx: &RequestContext,
    p: &ParameterRecord,
    v: &VersionRecord,
    selector: Option<String>,
    with_decryption: bool,
) -> Result<ParameterOut, ApiError> {
    Ok(ParameterOut {
        name: p.name.clone(),
        r#type: v.r#type.clone(),
        value: Some(visible_value(tx, env, ctx, &p.name, v, with_decryption)?),
        version: v.version,
        selector: selector.map(|s| format!(":{s}")),
        last_modified_date: epoch(v.last_modified_date),
        source_result: None,
        arn: parameter_arn(&ctx.region, &ctx.principal.account_id, &p.name),
        data_type: Some(v.data_type.clone()),
    })
}

// ---------------------------------------------------------------- Secrets Manager references

/// `/aws/reference/secretsmanager/SECRET[:selector]`: GetParameter and GetParameters read
/// a Secrets Manager secret through Parameter Store, which keeps nothing of it (AWS
/// Systems Manager User Guide, "Referencing AWS Secrets Manager secrets from Parameter
/// Store parameters"). The caller needs ssm:GetParameter(s) on the reference name (the
/// pipeline's check) and secretsmanager:GetSecretValue on the secret, which Parameter
/// Store asks for on the caller's behalf (logged as Secrets Manager's event, `invokedBy`
/// ssm.amazonaws.com). The selector is a version id (a UUID) or a staging label.
///
/// The documentation leaves the answers' details out. These are as two other emulators
/// report having measured them against AWS (floci's and stackd's reference tests, which
/// agree): no DataType; LastModifiedDate the version's CreatedDate; SourceResult the
/// Secrets Manager result as Parameter Store's Java client serializes it (Gson, HTML-safe
/// escapes, `createdDate` as `MMM d, yyyy, h:mm:ss a`); a binary secret has no Value; a
/// missing secret or version is ParameterNotFound with the wording below; a selector
/// that is empty or holds another `:` (an ARN as the id, for one) is refused before the
/// WithDecryption check; Secrets Manager's other refusals come back as
/// ValidationException and fail a whole GetParameters call.
mod reference {
    use super::*;
    use crate::secrets::{self, SecretValue, VersionRef};
    use time::macros::format_description;

    /// The reserved path, without the leading `/` (AWS takes the name either way).
    const PREFIX: &str = "aws/reference/secretsmanager/";

    /// Whether `raw` names a secret reference.
    pub fn is_reference(raw: &str) -> bool {
        raw.strip_prefix('/').unwrap_or(raw).starts_with(PREFIX)
    }

    /// `(name as given without the selector, secret id, selector)`; the selector is what
    /// follows the first `:`, which may be empty or hold more colons.
    pub fn split(raw: &str) -> (&str, &str, Option<&str>) {
        let (name, selector) = match raw.split_once(':') {
            Some((n, s)) => (n, Some(s)),
            None => (raw, None),
        };
        let id = name.strip_prefix('/').unwrap_or(name);
        (name, id.strip_prefix(PREFIX).unwrap_or(id), selector)
    }

    /// A read that found the secret: the parameter, and the secret version whose
    /// LastAccessedDate must move (a direct GetSecretValue would move it).
    pub struct Found {
        pub out: ParameterOut,
        pub touch: Option<(String, String)>,
    }

    /// A reference read: `Ok(Ok(found))`; `Ok(Err(e))` when this name reads nothing
    /// (GetParameter answers `e`, GetParameters lists the name under InvalidParameters);
    /// `Err(e)` when the whole call fails.
    pub fn read(
        tx: &dyn ReadTx,
        env: &Env,
        ctx: &RequestContext,
        raw: &str,
        with_decryption: Option<bool>,
    ) -> Result<Result<Found, ApiError>, ApiError> {
        let (name, id, selector) = split(raw);
        if selector.is_some_and(|s| s.is_empty() || s.contains(':')) {
            return Ok(Err(validation(
                "Invalid parameter name. Please use correct syntax for referencing a version/label  <name>:<version/label>",
            )));
        }
        if with_decryption != Some(true) {
            return Ok(Err(validation(
                "WithDecryption flag must be True for retrieving a Secret Manager secret.",
            )));
        }
        // A version id in its usual form (a hyphenated UUID) is an id, anything else a
        // staging label (as the emulators' measurements have it: a token-style version id
        // is not found this way).
        let version = selector.map(|s| {
            let hyphenated = s.len() == 36 && uuid::Uuid::try_parse(s).is_ok();
            if hyphenated {
                VersionRef::Id(s)
            } else {
                VersionRef::Stage(s)
            }
        });
        let not_found = || {
            err(
                "ParameterNotFound",
                format!(
                    "An error occurred (ParameterNotFound) when referencing Secrets Manager: Secret {}{} not found.",
                    name.strip_prefix('/').unwrap_or(name),
                    selector.map_or_else(|| "null".to_owned(), |s| format!(":{s}")),
                ),
            )
        };
        if id.is_empty() {
            return Ok(Err(not_found()));
        }
        let served = match secrets::read_for_service(tx, env, ctx, "ssm", id, version) {
            Ok(s) => s,
            Err(e) if e.is_internal() => return Err(e),
            Err(e) => {
                return match e.code.as_ref() {
                    "ResourceNotFoundException" => Ok(Err(not_found())),
                    // A secret scheduled for deletion.
                    "InvalidRequestException" => {
                        Err(validation("Invalid Request to Secrets Manager"))
                    }
                    // A denial (the GetSecretValue event in CloudTrail says which) or
                    // a key Secrets Manager could not use.
                    _ => Err(validation(
                        "An error occurred while calling one AWS dependency service.",
                    )),
                };
            }
        };
        let source = source_result(&served)?;
        let touch = served
            .access_stale
            .then(|| (served.arn.clone(), served.version_id.clone()));
        let value = match served.value {
            SecretValue::String(s) => Some(s),
            SecretValue::Binary(_) => None,
        };
        Ok(Ok(Found {
            out: ParameterOut {
                name: name.to_owned(),
                r#type: "SecureString".into(),
                value,
                // References have no Parameter Store versions.
                version: 0,
                selector: selector.map(|s| format!(":{s}")),
                last_modified_date: epoch(served.created),
                source_result: Some(source),
                arn: served.arn,
                data_type: None,
            },
            touch,
        }))
    }

    /// Java's HeapByteBuffer as Gson writes it (a binary secret's `secretBinary`).
    #[derive(Serialize)]
    struct JavaBuffer {
        hb: Vec<i8>,
        offset: u32,
        #[serde(rename = "isReadOnly")]
        is_read_only: bool,
        #[serde(rename = "bigEndian")]
        big_endian: bool,
        #[serde(rename = "nativeByteOrder")]
        native_byte_order: bool,
        mark: i32,
        position: u32,
        limit: usize,
        capacity: usize,
        address: u32,
    }

    /// The GetSecretValue result, in the Java client's member order.
    #[derive(Serialize)]
    struct Source<'a> {
        #[serde(rename = "ARN")]
        arn: &'a str,
        name: &'a str,
        #[serde(rename = "versionId")]
        version_id: &'a str,
        #[serde(rename = "secretString", skip_serializing_if = "Option::is_none")]
        secret_string: Option<&'a str>,
        #[serde(rename = "secretBinary", skip_serializing_if = "Option::is_none")]
        secret_binary: Option<JavaBuffer>,
        #[serde(rename = "versionStages")]
        version_stages: &'a [String],
        #[serde(rename = "createdDate")]
        created_date: String,
    }

    fn source_result(s: &secrets::ServedValue) -> Result<String, ApiError> {
        let (secret_string, secret_binary) = match &s.value {
            SecretValue::String(x) => (Some(x.as_str()), None),
            SecretValue::Binary(b) => (
                None,
                Some(JavaBuffer {
                    hb: b.iter().map(|&x| i8::from_ne_bytes([x])).collect(),
                    offset: 0,
                    is_read_only: false,
                    big_endian: true,
                    native_byte_order: false,
                    mark: -1,
                    position: 0,
                    limit: b.len(),
                    capacity: b.len(),
                    address: 8,
                }),
            ),
        };
        let created_date = s
            .created
            .to_offset(time::UtcOffset::UTC)
            .format(format_description!(
                "[month repr:short] [day padding:none], [year], [hour repr:12 padding:none]:[minute]:[second] [period]"
            ))
            .map_err(ApiError::internal)?;
        let json = serde_json::to_string(&Source {
            arn: &s.arn,
            name: &s.name,
            version_id: &s.version_id,
            secret_string,
            secret_binary,
            version_stages: &s.stages,
            created_date,
        })
        .map_err(ApiError::internal)?;
        Ok(gson_html_safe(&json))
    }

    /// Gson's default escapes, on top of JSON's: `< > & = '` and the line and paragraph
    /// separators as `\uXXXX`.
    fn gson_html_safe(json: &str) -> String {
        let mut out = String::with_capacity(json.len());
        for c in json.chars() {
            match c {
                '<' | '>' | '&' | '=' | '\'' | '\u{2028}' | '\u{2029}' => {
                    out.push_str(&format!("\\u{:04x}", u32::from(c)));
                }
                c => out.push(c),
            }
        }
        out
    }
}

// ---------------------------------------------------------------- validation

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/')
}

/// AWS's parameter name rules for a new parameter.
pub fn check_name(name: &str, region: &str, account: &str) -> Result<(), ApiError> {
    if name.is_empty() {
        return Err(validation(
            "1 validation error detected: Value '' at 'name' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ));
    }
    if name.chars().count() > 2048 {
        return Err(too_long("name", "", 2048));
    }
    let first = name.trim_start_matches('/');
    let first_lower = first.to_ascii_lowercase();
    if first_lower.starts_with("aws") || first_lower.starts_with("ssm") {
        if name.to_ascii_lowercase().starts_with("/aws/") {
            return Err(err(
                "AccessDeniedException",
                format!("No access to reserved parameter name: {name}."),
            ));
        }
        return Err(validation(NAME_RULES));
    }
    if !name.chars().all(is_name_char) {
        return Err(validation(NAME_RULES));
    }
    if name.contains('/') {
        if !name.starts_with('/') {
            return Err(validation("Parameter name must be a fully qualified name."));
        }
        if name.contains("//") || name.ends_with('/') {
            return Err(validation(NAME_RULES));
        }
    }
    let depth = name.trim_start_matches('/').split('/').count();
    if depth > MAX_DEPTH {
        return Err(err(
            "HierarchyLevelLimitExceededException",
            "A hierarchy can have a maximum of 15 levels. For more information, see Requirements and constraints for parameter names in the AWS Systems Manager User Guide.",
        ));
    }
    let qualified = parameter_arn(region, account, name);
    if qualified.chars().count() > MAX_QUALIFIED_NAME {
        return Err(validation(format!(
            "Parameter name: The maximum length of a parameter name, including the ARN prefix arn:aws:ssm:{region}:{account}:parameter/, is {MAX_QUALIFIED_NAME} characters."
        )));
    }
    Ok(())
}

fn check_type(t: &str) -> Result<(), ApiError> {
    if matches!(t, "String" | "StringList" | "SecureString") {
        Ok(())
    } else {
        Err(validation(format!(
            "1 validation error detected: Value '{t}' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [SecureString, StringList, String]"
        )))
    }
}

fn check_tier(t: &str) -> Result<(), ApiError> {
    if matches!(t, "Standard" | "Advanced" | "Intelligent-Tiering") {
        Ok(())
    } else {
        Err(validation(format!(
            "1 validation error detected: Value '{t}' at 'tier' failed to satisfy constraint: Member must satisfy enum value set: [Advanced, Intelligent-Tiering, Standard]"
        )))
    }
}

fn check_tags(tags: &[TagIn]) -> Result<(), ApiError> {
    for t in tags {
        let ok_chars = crate::input::is_tag_text;
        if t.key.is_empty() || t.key.chars().count() > 128 || !ok_chars(&t.key) {
            return Err(validation(format!(
                "1 validation error detected: Value '{}' at 'tags.key' failed to satisfy constraint: Member must satisfy regular expression pattern: ^([\\p{{L}}\\p{{Z}}\\p{{N}}_.:/=+\\-@]*)$ and have length between 1 and 128",
                t.key
            )));
        }
        if t.value.chars().count() > 256 || !ok_chars(&t.value) {
            return Err(validation(format!(
                "1 validation error detected: Value '{}' at 'tags.value' failed to satisfy constraint: Member must satisfy regular expression pattern: ^([\\p{{L}}\\p{{Z}}\\p{{N}}_.:/=+\\-@]*)$ and have length less than or equal to 256",
                t.value
            )));
        }
        if t.key.to_ascii_lowercase().starts_with("aws:") {
            return Err(validation(
                "Tag keys beginning with aws: are reserved for AWS use.",
            ));
        }
    }
    Ok(())
}

fn merge_tags(existing: &mut Vec<(String, String)>, tags: &[TagIn]) -> Result<(), ApiError> {
    for t in tags {
        match existing.iter_mut().find(|(k, _)| *k == t.key) {
            Some(slot) => slot.1 = t.value.clone(),
            None => existing.push((t.key.clone(), t.value.clone())),
        }
    }
    if existing.len() > MAX_TAGS {
        return Err(err(
            "TooManyTagsError",
            "The Targets parameter includes too many tags. Remove one or more tags and try the command again.",
        ));
    }
    Ok(())
}

fn check_data_type(data_type: &str, r#type: &str, value: &str) -> Result<(), ApiError> {
    match data_type {
        "text" => Ok(()),
        "aws:ec2:image" | "aws:ssm:integration" => {
            if r#type != "String" {
                return Err(validation(format!(
                    "The following data type is only supported for the String parameter type: {data_type}"
                )));
            }
            if data_type == "aws:ec2:image" && !is_ami_id(value) {
                return Err(validation(
                    "Invalid parameter value. The AMI ID format must be ami-12345abcdeEXAMPLE.",
                ));
            }
            Ok(())
        }
        other => Err(validation(format!(
            "The following data type is not supported: {other} (Data type names are all lowercase.)"
        ))),
    }
}

fn is_ami_id(v: &str) -> bool {
    v.strip_prefix("ami-").is_some_and(|hex| {
        (8..=17).contains(&hex.len()) && hex.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

fn check_allowed_pattern(pattern: &str, value: &str) -> Result<(), ApiError> {
    if pattern.chars().count() > 1024 {
        return Err(too_long("allowedPattern", "", 1024));
    }
    let re = regex::Regex::new(&format!("^(?:{pattern})$")).map_err(|_| {
        err(
            "InvalidAllowedPatternException",
            format!("The allowed pattern {pattern} is not a valid regular expression."),
        )
    })?;
    if !re.is_match(value) {
        return Err(err(
            "ParameterPatternMismatchException",
            format!("Parameter value, cannot be validated against allowedPattern: {pattern}"),
        ));
    }
    Ok(())
}

/// A parsed parameter policy with its firing time relative to a version.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ParsedPolicy {
    ptype: String,
    text: String,
    /// Expiration: the timestamp.
    timestamp: Option<OffsetDateTime>,
    /// ExpirationNotification `Before`, NoChangeNotification `After`.
    offset: Option<time::Duration>,
}

fn policy_attr_error(msg: impl Into<String>) -> ApiError {
    err("InvalidPolicyAttributeException", msg)
}

/// The largest notification offset accepted: 10,000 years, far past any real policy and
/// far inside what dates can hold.
const MAX_POLICY_OFFSET_SECONDS: i64 = 10_000 * 366 * 86_400;

fn amount(attrs: &Value, field: &str, ptype: &str) -> Result<time::Duration, ApiError> {
    let n = match attrs.get(field) {
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        Some(Value::Number(n)) => n.as_i64(),
        _ => None,
    }
    .filter(|n| *n > 0)
    .ok_or_else(|| {
        policy_attr_error(format!(
            "A policy attribute or its value is invalid. {ptype} requires a positive integer {field} attribute."
        ))
    })?;
    let unit = attrs.get("Unit").and_then(Value::as_str).unwrap_or("Days");
    let per = match unit {
        "Days" => 86_400,
        "Hours" => 3_600,
        _ => {
            return Err(policy_attr_error(format!(
            "A policy attribute or its value is invalid. Unit must be Days or Hours, not {unit}."
        )))
        }
    };
    // Offsets past any date the clock can hold are refused, not overflowed.
    n.checked_mul(per)
        .filter(|secs| *secs <= MAX_POLICY_OFFSET_SECONDS)
        .map(time::Duration::seconds)
        .ok_or_else(|| {
            policy_attr_error(format!(
                "A policy attribute or its value is invalid. {ptype}'s {field} is too large."
            ))
        })
}

fn parse_policies(text: &str) -> Result<Vec<ParsedPolicy>, ApiError> {
    if text.is_empty() {
        return Err(validation("1 validation error detected: Value '' at 'policies' failed to satisfy constraint: Member must have length greater than or equal to 1"));
    }
    if text.chars().count() > 4096 {
        return Err(too_long("policies", "", 4096));
    }
    let doc: Value = serde_json::from_str(text).map_err(|_| {
        policy_attr_error("A policy attribute or its value is invalid. The policies must be a JSON array of policy objects.")
    })?;
    let items = match doc {
        Value::Array(items) => items,
        obj @ Value::Object(_) => vec![obj],
        _ => {
            return Err(policy_attr_error(
                "A policy attribute or its value is invalid. The policies must be a JSON array of policy objects.",
            ))
        }
    };
    if items.len() > MAX_POLICIES {
        return Err(err(
            "PoliciesLimitExceededException",
            format!("You specified more than the maximum number of allowed policies for the parameter. The maximum is {MAX_POLICIES}."),
        ));
    }
    let mut out: Vec<ParsedPolicy> = Vec::new();
    for item in items {
        let ptype = item
            .get("Type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let attrs = item.get("Attributes").cloned().unwrap_or(Value::Null);
        if let Some(v) = item.get("Version").and_then(Value::as_str) {
            if v != "1.0" {
                return Err(policy_attr_error(format!(
                    "A policy attribute or its value is invalid. Unsupported policy version {v}."
                )));
            }
        }
        let mut p = ParsedPolicy {
            ptype: ptype.clone(),
            text: item.to_string(),
            timestamp: None,
            offset: None,
        };
        match ptype.as_str() {
            "Expiration" => {
                let ts = attrs
                    .get("Timestamp")
                    .and_then(Value::as_str)
                    .and_then(|s| {
                        OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                            .ok()
                    })
                    .ok_or_else(|| {
                        policy_attr_error(
                            "A policy attribute or its value is invalid. Expiration requires an ISO 8601 Timestamp attribute.",
                        )
                    })?;
                p.timestamp = Some(ts);
            }
            "ExpirationNotification" => p.offset = Some(amount(&attrs, "Before", &ptype)?),
            "NoChangeNotification" => p.offset = Some(amount(&attrs, "After", &ptype)?),
            other => {
                return Err(err(
                    "InvalidPolicyTypeException",
                    format!("The following policy type is not supported: {other}."),
                ))
            }
        }
        if out.iter().any(|q| q.ptype == p.ptype) {
            return Err(err(
                "IncompatiblePolicyException",
                format!("There is a conflict in the policies specified for this parameter: more than one {} policy.", p.ptype),
            ));
        }
        out.push(p);
    }
    let has_expiration = out.iter().any(|p| p.ptype == "Expiration");
    if out.iter().any(|p| p.ptype == "ExpirationNotification") && !has_expiration {
        return Err(err(
            "IncompatiblePolicyException",
            "There is a conflict in the policies specified for this parameter: ExpirationNotification requires an Expiration policy.",
        ));
    }
    Ok(out)
}

/// When each of a version's policies fires: (type, time).
fn due_times(v: &VersionRecord) -> Vec<(String, OffsetDateTime)> {
    let texts: Vec<String> = v
        .policies
        .iter()
        .filter(|p| p.policy_status == "Pending")
        .map(|p| p.policy_text.clone())
        .collect();
    if texts.is_empty() {
        return Vec::new();
    }
    let doc = format!("[{}]", texts.join(","));
    let Ok(parsed) = parse_policies(&doc) else {
        return Vec::new();
    };
    let expiration = parsed.iter().find_map(|p| p.timestamp);
    parsed
        .iter()
        .filter_map(|p| match p.ptype.as_str() {
            "Expiration" => p.timestamp.map(|t| (p.ptype.clone(), t)),
            "ExpirationNotification" => expiration
                .zip(p.offset)
                .and_then(|(t, before)| t.checked_sub(before))
                .map(|at| (p.ptype.clone(), at)),
            "NoChangeNotification" => p
                .offset
                .and_then(|after| v.last_modified_date.checked_add(after))
                .map(|at| (p.ptype.clone(), at)),
            _ => None,
        })
        .collect()
}

fn unschedule(
    tx: &mut dyn WriteTx,
    account: &str,
    region: &str,
    name: &str,
    v: &VersionRecord,
) -> Result<(), ApiError> {
    for (ptype, at) in due_times(v) {
        tx.delete(&due_key(at, account, region, name, &ptype))?;
    }
    Ok(())
}

fn schedule(
    tx: &mut dyn WriteTx,
    account: &str,
    region: &str,
    name: &str,
    v: &VersionRecord,
) -> Result<(), ApiError> {
    for (ptype, at) in due_times(v) {
        tx.put(&due_key(at, account, region, name, &ptype), b"")?;
    }
    Ok(())
}

// ---------------------------------------------------------------- filters and paging

fn filter_error(code: &'static str, message: impl Into<String>) -> ApiError {
    err(code, message)
}

/// Checks ParameterFilters; `by_path` for GetParametersByPath (no Name/Path/Tier keys).
fn check_filters(filters: &[StringFilter], by_path: bool) -> Result<(), ApiError> {
    let mut seen: Vec<&str> = Vec::new();
    for f in filters {
        let key = f.key.as_str();
        let known = matches!(
            key,
            "Name" | "Type" | "KeyId" | "Path" | "Label" | "Tier" | "DataType"
        ) || key.starts_with("tag:") && key.len() > 4;
        if !known || key.chars().count() > 132 {
            return Err(validation(format!(
                "1 validation error detected: Value '{key}' at 'parameterFilters.1.member.key' failed to satisfy constraint: Member must satisfy regular expression pattern: tag:.+|Name|Type|KeyId|Path|Label|Tier|DataType"
            )));
        }
        if by_path && matches!(key, "Name" | "Path" | "Tier") {
            return Err(filter_error(
                "InvalidFilterKey",
                format!("The following filter key is not valid: {key}. Valid filter keys include: [Type, KeyId, Label, DataType, tag]."),
            ));
        }
        if !by_path && key == "Label" {
            return Err(filter_error(
                "InvalidFilterKey",
                "The following filter key is not valid: Label. Valid filter keys include: [Path, Name, Type, KeyId, Tier, DataType, tag].",
            ));
        }
        if seen.contains(&key) {
            return Err(filter_error(
                "InvalidFilterKey",
                format!("The following filter is duplicated in the request: {key}. A request can contain only one occurrence of a specific filter."),
            ));
        }
        seen.push(key);
        let values = f.values.as_deref().unwrap_or_default();
        if !key.starts_with("tag:") && values.is_empty() {
            return Err(filter_error(
                "InvalidFilterValue",
                format!("The following filter values are missing : null for filter key {key}."),
            ));
        }
        if values.len() > 50 {
            return Err(validation("1 validation error detected: Value at 'parameterFilters.1.member.values' failed to satisfy constraint: Member must have length less than or equal to 50"));
        }
        // ParameterStringFilterValue: 1..=1024 characters.
        if values
            .iter()
            .any(|v| v.is_empty() || v.chars().count() > 1024)
        {
            return Err(validation("1 validation error detected: Value at 'parameterFilters.1.member.values' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 1024, Member must have length greater than or equal to 1]"));
        }
        let option = f.option.as_deref();
        match key {
            "Path" => {
                let o = option.unwrap_or("OneLevel");
                if !matches!(o, "OneLevel" | "Recursive") {
                    return Err(filter_error(
                        "InvalidFilterOption",
                        format!("The following filter option is not valid: {o}. Valid options include: [Recursive, OneLevel]."),
                    ));
                }
                for v in values {
                    if !v.starts_with('/') || v.contains("//") || !v.chars().all(is_name_char) {
                        return Err(filter_error(
                            "InvalidFilterValue",
                            format!("The following filter value is not valid: {v}. A path must begin with a forward slash (/) and use only letters, numbers, . - _ and /."),
                        ));
                    }
                }
            }
            "Tier" | "Type" => {
                let allowed: &[&str] = if key == "Tier" {
                    &["Standard", "Advanced", "Intelligent-Tiering"]
                } else {
                    &["String", "StringList", "SecureString"]
                };
                for v in values {
                    if !allowed.contains(&v.as_str()) {
                        return Err(filter_error(
                            "InvalidFilterValue",
                            format!("The following filter value is not valid: {v}. Valid values include: [{}].", allowed.join(", ")),
                        ));
                    }
                }
                check_option(key, option, &["Equals", "BeginsWith"])?;
            }
            "Name" => check_option(key, option, &["Equals", "BeginsWith", "Contains"])?,
            "Label" => check_option(key, option, &["Equals"])?,
            _ => check_option(key, option, &["Equals", "BeginsWith"])?,
        }
    }
    Ok(())
}

fn check_option(key: &str, option: Option<&str>, allowed: &[&str]) -> Result<(), ApiError> {
    let o = option.unwrap_or("Equals");
    if allowed.contains(&o) {
        Ok(())
    } else {
        Err(filter_error(
            "InvalidFilterOption",
            format!(
                "The following filter option is not valid: {o} for filter key {key}. Valid options include: [{}].",
                allowed.join(", ")
            ),
        ))
    }
}

fn string_match(option: &str, have: &str, want: &str) -> bool {
    match option {
        "BeginsWith" => have.starts_with(want),
        "Contains" => have.contains(want),
        _ => have == want,
    }
}

fn in_path(name: &str, path: &str, recursive: bool) -> bool {
    let base = if path == "/" {
        "/".to_owned()
    } else {
        format!("{}/", path.trim_end_matches('/'))
    };
    match name.strip_prefix(&base) {
        Some(rest) => !rest.is_empty() && (recursive || !rest.contains('/')),
        None => false,
    }
}

fn matches_filters(p: &ParameterRecord, filters: &[StringFilter]) -> bool {
    let Some(v) = p.versions.last() else {
        return false;
    };
    filters.iter().all(|f| {
        let values = f.values.clone().unwrap_or_default();
        let option = f.option.as_deref().unwrap_or("Equals");
        let any = |have: &str| values.iter().any(|w| string_match(option, have, w));
        match f.key.as_str() {
            "Name" => {
                // AWS matches names with or without the leading slash.
                let bare = p.name.trim_start_matches('/');
                values.iter().any(|w| {
                    string_match(option, &p.name, w)
                        || string_match(option, bare, w.trim_start_matches('/'))
                })
            }
            "Type" => any(&v.r#type),
            "KeyId" => v.key_id.as_deref().is_some_and(any),
            "Tier" => any(&v.tier),
            "DataType" => any(&v.data_type),
            "Label" => p
                .versions
                .iter()
                .any(|x| x.labels.iter().any(|l| values.contains(l))),
            "Path" => {
                let recursive = f.option.as_deref() == Some("Recursive");
                values.iter().any(|path| in_path(&p.name, path, recursive))
            }
            key => {
                let tag = key.strip_prefix("tag:").unwrap_or_default();
                p.tags.iter().any(|(k, val)| {
                    k == tag
                        && (values.is_empty()
                            || values.iter().any(|w| string_match(option, val, w)))
                })
            }
        }
    })
}

fn matches_legacy(p: &ParameterRecord, filters: &[LegacyFilter]) -> bool {
    let Some(v) = p.versions.last() else {
        return false;
    };
    filters.iter().all(|f| match f.key.as_str() {
        "Name" => f.values.iter().any(|w| {
            p.name.starts_with(w.as_str())
                || p.name
                    .trim_start_matches('/')
                    .starts_with(w.trim_start_matches('/'))
        }),
        "Type" => f.values.contains(&v.r#type),
        "KeyId" => v.key_id.as_ref().is_some_and(|k| f.values.contains(k)),
        _ => false,
    })
}

fn check_legacy(filters: &[LegacyFilter]) -> Result<(), ApiError> {
    for f in filters {
        if !matches!(f.key.as_str(), "Name" | "Type" | "KeyId") {
            return Err(validation(format!(
                "1 validation error detected: Value '{}' at 'filters.1.member.key' failed to satisfy constraint: Member must satisfy enum value set: [Name, Type, KeyId]",
                f.key
            )));
        }
        if f.values.len() > 50 {
            return Err(validation("1 validation error detected: Value at 'filters.1.member.values' failed to satisfy constraint: Member must have length less than or equal to 50"));
        }
        if f.values.is_empty() {
            return Err(filter_error(
                "InvalidFilterValue",
                format!(
                    "The following filter values are missing : null for filter key {}.",
                    f.key
                ),
            ));
        }
    }
    Ok(())
}

fn max_results(v: Option<i64>, max: i64, default: usize) -> Result<usize, ApiError> {
    match v {
        None => Ok(default),
        Some(n) if n < 1 => Err(validation(format!(
            "1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1"
        ))),
        Some(n) if n > max => Err(validation(format!(
            "1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to {max}"
        ))),
        Some(n) => Ok(usize::try_from(n).unwrap_or(default)),
    }
}

fn encode_token(position: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(json!({ "after": position }).to_string())
}

fn decode_token(token: &Option<String>) -> Result<Option<String>, ApiError> {
    let Some(t) = token else {
        return Ok(None);
    };
    let raw = base64::engine::general_purpose::STANDARD
        .decode(t.trim())
        .map_err(|_| invalid_next_token())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| invalid_next_token())?;
    v.get("after")
        .and_then(Value::as_str)
        .map(|s| Some(s.to_owned()))
        .ok_or_else(invalid_next_token)
}

/// One page of `items` (sorted by `key`) after the token's position.
fn page<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> String,
    after: Option<String>,
    limit: usize,
) -> (Vec<T>, Option<String>) {
    let mut rest: Vec<T> = match &after {
        Some(a) => items
            .into_iter()
            .filter(|i| key(i).as_str() > a.as_str())
            .collect(),
        None => items,
    };
    if rest.len() > limit {
        rest.truncate(limit);
        let next = rest.last().map(|i| encode_token(&key(i)));
        (rest, next)
    } else {
        (rest, None)
    }
}

// ---------------------------------------------------------------- operations

fn resolve_tier(
    requested: Option<&str>,
    previous: Option<&str>,
    value_len: usize,
    has_policies: bool,
) -> Result<String, ApiError> {
    let needs_advanced = value_len > STANDARD_MAX_VALUE || has_policies;
    let tier = match requested {
        Some("Intelligent-Tiering") => {
            if needs_advanced || previous == Some("Advanced") {
                "Advanced"
            } else {
                "Standard"
            }
        }
        Some(t) => t,
        None => previous.unwrap_or("Standard"),
    };
    if tier == "Standard" {
        if previous == Some("Advanced") {
            return Err(validation(
                "This parameter uses the advanced-parameter tier. You can't downgrade a parameter from the advanced-parameter tier to the standard-parameter tier. If necessary, you can delete the advanced parameter and recreate it as a standard parameter.",
            ));
        }
        if value_len > STANDARD_MAX_VALUE {
            return Err(validation(
                "Standard tier parameters support a maximum parameter value of 4096 characters. To create a larger parameter value, upgrade the parameter to use the advanced-parameter tier. For more information, see https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html",
            ));
        }
        if has_policies {
            return Err(validation(
                "Standard tier parameters don't support parameter policies. To attach policies to this parameter, upgrade it to use the advanced-parameter tier.",
            ));
        }
    }
    Ok(tier.to_owned())
}

fn put_parameter(
    tx: &mut dyn WriteTx,
    env: &Env,
    ctx: &RequestContext,
    i: &PutParameterInput,
) -> Result<Reply, ApiError> {
    let account = ctx.principal.account_id.clone();
    let region = ctx.region.clone();
    check_name(&i.name, &region, &account)?;
    if i.value.is_empty() {
        return Err(validation("1 validation error detected: Value '' at 'value' failed to satisfy constraint: Member must have length greater than or equal to 1."));
    }
    let value_len = i.value.chars().count();
    if value_len > ADVANCED_MAX_VALUE {
        return Err(too_long("value", "", ADVANCED_MAX_VALUE));
    }
    if let Some(t) = &i.r#type {
        check_type(t)?;
    }
    if let Some(t) = &i.tier {
        check_tier(t)?;
    }
    if let Some(d) = &i.description {
        if d.chars().count() > 1024 {
            return Err(too_long("description", "", 1024));
        }
    }
    if let Some(d) = &i.data_type {
        if d.chars().count() > 128 {
            return Err(too_long("dataType", "", 128));
        }
    }
    if let Some(k) = &i.key_id {
        if k.is_empty()
            || k.len() > 256
            || !k
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b":/_-".contains(&b))
        {
            return Err(validation(format!(
                "1 validation error detected: Value '{k}' at 'keyId' failed to satisfy constraint: Member must satisfy regular expression pattern: ^([a-zA-Z0-9:/_-]+)$"
            )));
        }
    }
    let overwrite = i.overwrite.unwrap_or(false);
    let tags = i.tags.clone().unwrap_or_default();
    if overwrite && !tags.is_empty() {
        return Err(validation(
            "Invalid request: tags and overwrite can't be used together. To create a parameter with tags, please remove overwrite flag. To update tags for an existing parameter, please use AddTagsToResource or RemoveTagsFromResource.",
        ));
    }
    check_tags(&tags)?;
    let policies = match &i.policies {
        Some(p) => Some(parse_policies(p)?),
        None => None,
    };

    let existing = get_param(tx, &account, &region, &i.name)?;
    let previous = match &existing {
        Some(p) => Some(p.current()?.clone()),
        None => None,
    };
    if previous.is_some() && !overwrite {
        return Err(err(
            "ParameterAlreadyExists",
            "The parameter already exists. To overwrite this value, set the overwrite option in the request to true.",
        ));
    }
    let r#type = match (&i.r#type, &previous) {
        (Some(t), Some(prev)) if *t != prev.r#type => {
            return Err(err(
                "HierarchyTypeMismatchException",
                format!("The parameter type can't be changed from {} to {t}. Parameter Store doesn't support changing a parameter type in a hierarchy; create a new, unique parameter.", prev.r#type),
            ))
        }
        (Some(t), _) => t.clone(),
        (None, Some(prev)) => prev.r#type.clone(),
        (None, None) => {
            return Err(validation(
                "A parameter type is required when you create a parameter.",
            ))
        }
    };
    if r#type != "SecureString" && i.key_id.is_some() {
        return Err(validation(format!(
            "KeyId is only valid for SecureString parameters; {} parameters are not encrypted.",
            r#type
        )));
    }
    let data_type = i
        .data_type
        .clone()
        .or_else(|| previous.as_ref().map(|p| p.data_type.clone()))
        .unwrap_or_else(|| "text".to_owned());
    check_data_type(&data_type, &r#type, &i.value)?;
    let allowed_pattern = i
        .allowed_pattern
        .clone()
        .or_else(|| previous.as_ref().and_then(|p| p.allowed_pattern.clone()))
        .filter(|p| !p.is_empty());
    if let Some(p) = &allowed_pattern {
        check_allowed_pattern(p, &i.value)?;
    }
    let policy_records: Vec<PolicyRecord> = match &policies {
        Some(list) => list
            .iter()
            .map(|p| PolicyRecord {
                policy_text: p.text.clone(),
                policy_type: p.ptype.clone(),
                policy_status: "Pending".to_owned(),
            })
            .collect(),
        // Kept from the previous version; a change re-arms NoChangeNotification.
        None => previous
            .as_ref()
            .map(|p| p.policies.clone())
            .unwrap_or_default()
            .into_iter()
            .map(|mut p| {
                if p.policy_type == "NoChangeNotification" {
                    p.policy_status = "Pending".to_owned();
                }
                p
            })
            .collect(),
    };
    let tier = resolve_tier(
        i.tier.as_deref(),
        previous.as_ref().map(|p| p.tier.as_str()),
        value_len,
        !policy_records.is_empty(),
    )?;

    let mut record = existing.unwrap_or_else(|| ParameterRecord {
        name: i.name.clone(),
        tags: Vec::new(),
        versions: Vec::new(),
    });
    merge_tags(&mut record.tags, &tags)?;
    if record.versions.len() >= MAX_VERSIONS {
        if let Some(oldest) = record.versions.first() {
            if !oldest.labels.is_empty() {
                return Err(err(
                    "ParameterMaxVersionLimitExceeded",
                    format!("You attempted to create a new version of {} by calling the PutParameter API with the overwrite flag. Version {}, the oldest version, can't be deleted because it has a label associated with it. Move the label to another version of the parameter, and try again.", i.name, oldest.version),
                ));
            }
        }
        record.versions.remove(0);
    }

    let arn = parameter_arn(&region, &account, &i.name);
    let (value, key_id) = if r#type == "SecureString" {
        let key = i
            .key_id
            .clone()
            .or_else(|| previous.as_ref().and_then(|p| p.key_id.clone()))
            .unwrap_or_else(|| DEFAULT_KEY_ALIAS.to_owned());
        let blob = secure::encrypt(tx, env, ctx, &key, &arn, &tier, &i.value)?;
        (blob, Some(key))
    } else {
        (i.value.clone(), None)
    };
    let version = previous.as_ref().map_or(1, |p| p.version.saturating_add(1));
    let description = i
        .description
        .clone()
        .or_else(|| previous.as_ref().and_then(|p| p.description.clone()));
    let new = VersionRecord {
        version,
        r#type,
        value,
        key_id,
        description,
        allowed_pattern,
        data_type,
        tier: tier.clone(),
        policies: policy_records,
        labels: Vec::new(),
        last_modified_date: ctx.now,
        last_modified_user: ctx.principal.arn.clone(),
    };
    if let Some(prev) = &previous {
        unschedule(tx, &account, &region, &i.name, prev)?;
    }
    schedule(tx, &account, &region, &i.name, &new)?;
    record.versions.push(new);
    put_param(tx, &account, &region, &record)?;

    let out = json!({ "Version": version, "Tier": tier });
    let mut reply = Reply::new(out);
    reply.response_elements = Some(json!({ "version": version, "tier": tier }));
    reply.resources = vec![("AWS::SSM::Parameter".to_owned(), arn)];
    Ok(reply)
}

/// Secret versions whose LastAccessedDate a call's reference reads must move (secret
/// ARN, version id).
type Touches = Vec<(String, String)>;

fn get_parameter(
    tx: &dyn ReadTx,
    env: &Env,
    ctx: &RequestContext,
    i: &GetParameterInput,
) -> Result<(Reply, Touches), ApiError> {
    if reference::is_reference(&i.name) {
        let found = reference::read(tx, env, ctx, &i.name, i.with_decryption)??;
        let touches = found.touch.into_iter().collect();
        return Ok((Reply::new(json!({ "Parameter": found.out })), touches));
    }
    // AWS answers GetParameter's ParameterNotFound with an empty message.
    let missing = || err("ParameterNotFound", "");
    let (found, selector) = find_param(tx, ctx, &i.name)?;
    let Some(p) = found else {
        return Err(missing());
    };
    let Some(v) = select(&p, &selector)? else {
        return Err(missing());
    };
    let out = parameter_out(
        tx,
        env,
        ctx,
        &p,
        v,
        selector,
        i.with_decryption.unwrap_or(false),
    )?;
    Ok((Reply::new(json!({ "Parameter": out })), Vec::new()))
}

fn get_parameters(
    tx: &dyn ReadTx,
    env: &Env,
    ctx: &RequestContext,
    i: &GetParametersInput,
) -> Result<(Reply, Touches), ApiError> {
    // The list was checked at decode (model_checks).
    let mut parameters = Vec::new();
    let mut invalid = Vec::new();
    let mut seen = Vec::new();
    let mut touches = Vec::new();
    for raw in &i.names {
        if seen.contains(raw) {
            continue;
        }
        seen.push(raw.clone());
        if reference::is_reference(raw) {
            match reference::read(tx, env, ctx, raw, i.with_decryption)? {
                Ok(found) => {
                    parameters.push(found.out);
                    touches.extend(found.touch);
                }
                Err(_) => invalid.push(raw.clone()),
            }
            continue;
        }
        let (found, selector) = find_param(tx, ctx, raw)?;
        let version = match &found {
            Some(p) => match select(p, &selector) {
                Ok(v) => v,
                Err(e) if e.code == "ParameterVersionNotFound" => None,
                Err(e) => return Err(e),
            },
            None => None,
        };
        match (&found, version) {
            (Some(p), Some(v)) => parameters.push(parameter_out(
                tx,
                env,
                ctx,
                p,
                v,
                selector,
                i.with_decryption.unwrap_or(false),
            )?),
            _ => invalid.push(raw.clone()),
        }
    }
    Ok((
        Reply::new(json!({ "Parameters": parameters, "InvalidParameters": invalid })),
        touches,
    ))
}

/// Whether a GetParameter(s) call reads a Secrets Manager secret: then it runs as a
/// write when the secret's LastAccessedDate must move (`reads_first`).
fn reads_a_secret(op: &Operation) -> bool {
    match op {
        Operation::GetParameter(i) => reference::is_reference(&i.name),
        Operation::GetParameters(i) => i.names.iter().any(|n| reference::is_reference(n)),
        _ => false,
    }
}

/// GetParameter or GetParameters, with the secret versions its reference reads must
/// mark accessed.
fn get(
    op: &Operation,
    tx: &dyn ReadTx,
    env: &Env,
    ctx: &RequestContext,
) -> Result<(Reply, Touches), ApiError> {
    match op {
        Operation::GetParameter(i) => get_parameter(tx, env, ctx, i),
        Operation::GetParameters(i) => get_parameters(tx, env, ctx, i),
        _ => Err(ApiError::internal("not a GetParameter(s) call")),
    }
}

/// GetParameter(s) on a snapshot: `None` when a secret read must move LastAccessedDate
/// (the call then runs again as a write, [`get_marking_access`]).
fn get_unchanged(
    op: &Operation,
    tx: &dyn ReadTx,
    env: &Env,
    ctx: &RequestContext,
) -> Option<Result<Reply, ApiError>> {
    match get(op, tx, env, ctx) {
        Ok((reply, touches)) if touches.is_empty() => Some(Ok(reply)),
        Ok(_) => None,
        Err(e) => Some(Err(e)),
    }
}

/// GetParameter(s) that read a secret, moving its LastAccessedDate as GetSecretValue
/// does.
fn get_marking_access(
    op: &Operation,
    tx: &mut dyn WriteTx,
    env: &Env,
    ctx: &RequestContext,
) -> Result<Reply, ApiError> {
    let (reply, touches) = get(op, tx, env, ctx)?;
    for (arn, version_id) in &touches {
        crate::secrets::record_access(tx, ctx, arn, version_id)?;
    }
    Ok(reply)
}

fn get_parameters_by_path(
    tx: &dyn ReadTx,
    env: &Env,
    ctx: &RequestContext,
    i: &GetParametersByPathInput,
) -> Result<Reply, ApiError> {
    let limit = max_results(i.max_results, 10, 10)?;
    let filters = i.parameter_filters.clone().unwrap_or_default();
    check_filters(&filters, true)?;
    let path = i.path.as_str();
    if path.chars().count() > 2048 {
        return Err(too_long("path", "", 2048));
    }
    if !path.starts_with('/') || path.contains("//") || !path.chars().all(is_name_char) {
        return Err(validation(
            "The parameter doesn't meet the parameter name requirements. The parameter name must begin with a forward slash \"/\". It can't be prefixed with \"aws\" or \"ssm\" (case-insensitive). It must use only letters, numbers, or the following symbols: . (period), - (hyphen), _ (underscore). Special characters are not allowed. All sub-paths, if specified, must use the forward slash symbol \"/\". Valid example: /get/parameters2-/by1./path0_.",
        ));
    }
    if path.trim_start_matches('/').split('/').count() > MAX_DEPTH {
        return Err(err(
            "HierarchyLevelLimitExceededException",
            "A hierarchy can have a maximum of 15 levels.",
        ));
    }
    let recursive = i.recursive.unwrap_or(false);
    let after = decode_token(&i.next_token)?;
    let prefix = if path == "/" {
        "/".to_owned()
    } else {
        format!("{}/", path.trim_end_matches('/'))
    };
    let all: Vec<ParameterRecord> =
        scan_params(tx, &ctx.principal.account_id, &ctx.region, &prefix)?
            .into_iter()
            .filter(|p| in_path(&p.name, path, recursive) && matches_filters(p, &filters))
            .collect();
    let (items, next) = page(all, |p| p.name.clone(), after, limit);
    let with_decryption = i.with_decryption.unwrap_or(false);
    let mut out = Vec::new();
    for p in &items {
        out.push(parameter_out(
            tx,
            env,
            ctx,
            p,
            p.current()?,
            None,
            with_decryption,
        )?);
    }
    let mut body = json!({ "Parameters": out });
    if let (Some(n), Some(obj)) = (next, body.as_object_mut()) {
        obj.insert("NextToken".into(), Value::String(n));
    }
    Ok(Reply::new(body))
}

/// DescribeParameters' checks of its input alone, made at decode (before authorization):
/// MaxResults, and Filters or ParameterFilters.
fn check_describe_input(i: &DescribeParametersInput) -> Result<(), ApiError> {
    max_results(i.max_results, 50, 10)?;
    let filters = i.filters.as_deref().unwrap_or_default();
    let pfilters = i.parameter_filters.as_deref().unwrap_or_default();
    if !filters.is_empty() && !pfilters.is_empty() {
        return Err(validation(
            "You can use either Filters or ParameterFilters in a single request.",
        ));
    }
    check_legacy(filters)?;
    check_filters(pfilters, false)
}

fn describe_parameters(
    tx: &dyn ReadTx,
    ctx: &RequestContext,
    i: &DescribeParametersInput,
) -> Result<Reply, ApiError> {
    // The filters were checked at decode (check_describe_input).
    let limit = max_results(i.max_results, 50, 10)?;
    let filters = i.filters.clone().unwrap_or_default();
    let pfilters = i.parameter_filters.clone().unwrap_or_default();
    let after = decode_token(&i.next_token)?;
    if i.shared == Some(true) {
        // Nothing is shared with this account through AWS RAM here.
        return Ok(Reply::new(json!({ "Parameters": [] })));
    }
    let all: Vec<ParameterRecord> = scan_params(tx, &ctx.principal.account_id, &ctx.region, "")?
        .into_iter()
        .filter(|p| matches_legacy(p, &filters) && matches_filters(p, &pfilters))
        .collect();
    let (items, next) = page(all, |p| p.name.clone(), after, limit);
    let out = items
        .iter()
        .map(|p| metadata_out(ctx, p))
        .collect::<Result<Vec<_>, _>>()?;
    let mut body = json!({ "Parameters": out });
    if let (Some(n), Some(obj)) = (next, body.as_object_mut()) {
        obj.insert("NextToken".into(), Value::String(n));
    }
    Ok(Reply::new(body))
}

fn get_parameter_history(
    tx: &dyn ReadTx,
    env: &Env,
    ctx: &RequestContext,
    i: &GetParameterHistoryInput,
) -> Result<Reply, ApiError> {
    let limit = max_results(i.max_results, 50, 50)?;
    let after = decode_token(&i.next_token)?;
    let (found, _) = find_param(tx, ctx, &i.name)?;
    let Some(p) = found else {
        return Err(not_found(&i.name));
    };
    let after = match after {
        Some(a) => Some(a.parse::<u64>().map_err(|_| invalid_next_token())?),
        None => None,
    };
    let versions: Vec<&VersionRecord> = p
        .versions
        .iter()
        .filter(|v| after.is_none_or(|a| v.version > a))
        .collect();
    let more = versions.len() > limit;
    let versions: Vec<&VersionRecord> = versions.into_iter().take(limit).collect();
    let with_decryption = i.with_decryption.unwrap_or(false);
    let mut out = Vec::new();
    for v in &versions {
        out.push(HistoryOut {
            name: p.name.clone(),
            r#type: v.r#type.clone(),
            key_id: v.key_id.clone(),
            last_modified_date: epoch(v.last_modified_date),
            last_modified_user: v.last_modified_user.clone(),
            description: v.description.clone(),
            value: visible_value(tx, env, ctx, &p.name, v, with_decryption)?,
            allowed_pattern: v.allowed_pattern.clone(),
            version: v.version,
            labels: v.labels.clone(),
            tier: v.tier.clone(),
            policies: policies_out(v),
            data_type: v.data_type.clone(),
        });
    }
    let mut body = json!({ "Parameters": out });
    if more {
        if let (Some(last), Some(obj)) = (versions.last(), body.as_object_mut()) {
            obj.insert(
                "NextToken".into(),
                Value::String(encode_token(&last.version.to_string())),
            );
        }
    }
    Ok(Reply::new(body))
}

fn valid_label(l: &str) -> bool {
    let lower = l.to_ascii_lowercase();
    !l.is_empty()
        && l.chars().count() <= 100
        && !lower.starts_with("aws")
        && !lower.starts_with("ssm")
        && !l.starts_with(|c: char| c.is_ascii_digit())
        && l.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

fn check_labels_list(labels: &[String]) -> Result<(), ApiError> {
    if labels.is_empty() || labels.len() > MAX_LABELS_PER_VERSION {
        return Err(validation(format!(
            "1 validation error detected: Value '[{}]' at 'labels' failed to satisfy constraint: Member must have length less than or equal to 10, Member must have length greater than or equal to 1",
            labels.join(", ")
        )));
    }
    for l in labels {
        if l.is_empty() || l.chars().count() > 100 {
            return Err(validation(format!(
                "1 validation error detected: Value '[{l}]' at 'labels' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 100, Member must have length greater than or equal to 1]"
            )));
        }
    }
    Ok(())
}

fn label_parameter_version(
    tx: &mut dyn WriteTx,
    ctx: &RequestContext,
    i: &LabelInput,
) -> Result<Reply, ApiError> {
    check_labels_list(&i.labels)?;
    let (found, _) = find_param(tx, ctx, &i.name)?;
    let Some(mut p) = found else {
        return Err(not_found(&i.name));
    };
    let target = match i.parameter_version {
        Some(v) => v,
        None => p.current()?.version,
    };
    if !p.versions.iter().any(|v| v.version == target) {
        return Err(version_not_found(&p.name, &target.to_string()));
    }
    let (valid, invalid): (Vec<String>, Vec<String>) =
        i.labels.iter().cloned().partition(|l| valid_label(l));
    let mut adding: Vec<String> = Vec::new();
    for l in &valid {
        if !adding.contains(l) {
            adding.push(l.clone());
        }
    }
    for v in &mut p.versions {
        if v.version == target {
            for l in &adding {
                if !v.labels.contains(l) {
                    v.labels.push(l.clone());
                }
            }
            if v.labels.len() > MAX_LABELS_PER_VERSION {
                return Err(err(
                    "ParameterVersionLabelLimitExceeded",
                    "A parameter version can have maximum 10 labels. Move one or more labels to another version and try again.",
                ));
            }
        } else {
            v.labels.retain(|l| !adding.contains(l));
        }
    }
    put_param(tx, &ctx.principal.account_id, &ctx.region, &p)?;
    let body = json!({ "InvalidLabels": invalid, "ParameterVersion": target });
    let mut reply = Reply::new(body.clone());
    reply.response_elements = crate::iam::camel_json(&body);
    reply.resources = vec![(
        "AWS::SSM::Parameter".to_owned(),
        parameter_arn(&ctx.region, &ctx.principal.account_id, &p.name),
    )];
    Ok(reply)
}

fn unlabel_parameter_version(
    tx: &mut dyn WriteTx,
    ctx: &RequestContext,
    i: &LabelInput,
) -> Result<Reply, ApiError> {
    check_labels_list(&i.labels)?;
    let (found, _) = find_param(tx, ctx, &i.name)?;
    let Some(mut p) = found else {
        return Err(not_found(&i.name));
    };
    let target = i.parameter_version.unwrap_or(0);
    let Some(v) = p.versions.iter_mut().find(|v| v.version == target) else {
        return Err(version_not_found(&i.name, &target.to_string()));
    };
    let mut removed = Vec::new();
    let mut invalid = Vec::new();
    for l in &i.labels {
        if let Some(pos) = v.labels.iter().position(|x| x == l) {
            v.labels.remove(pos);
            removed.push(l.clone());
        } else if !invalid.contains(l) && !removed.contains(l) {
            invalid.push(l.clone());
        }
    }
    put_param(tx, &ctx.principal.account_id, &ctx.region, &p)?;
    let body = json!({ "RemovedLabels": removed, "InvalidLabels": invalid });
    let mut reply = Reply::new(body.clone());
    reply.response_elements = crate::iam::camel_json(&body);
    Ok(reply)
}

fn delete_one(
    tx: &mut dyn WriteTx,
    account: &str,
    region: &str,
    p: &ParameterRecord,
) -> Result<(), ApiError> {
    if let Some(v) = p.versions.last() {
        unschedule(tx, account, region, &p.name, v)?;
    }
    tx.delete(&parameter_key(account, region, &p.name))?;
    Ok(())
}

fn delete_parameter(
    tx: &mut dyn WriteTx,
    ctx: &RequestContext,
    i: &NameInput,
) -> Result<Reply, ApiError> {
    let (found, selector) = find_param(tx, ctx, &i.name)?;
    let Some(p) = found.filter(|_| selector.is_none()) else {
        return Err(not_found(&i.name));
    };
    delete_one(tx, &ctx.principal.account_id, &ctx.region, &p)?;
    let mut reply = Reply::new(json!({}));
    reply.resources = vec![(
        "AWS::SSM::Parameter".to_owned(),
        parameter_arn(&ctx.region, &ctx.principal.account_id, &p.name),
    )];
    Ok(reply)
}

fn delete_parameters(
    tx: &mut dyn WriteTx,
    ctx: &RequestContext,
    i: &NamesInput,
) -> Result<Reply, ApiError> {
    // The list was checked at decode (model_checks).
    let mut deleted = Vec::new();
    let mut invalid = Vec::new();
    for raw in &i.names {
        if deleted.contains(raw) || invalid.contains(raw) {
            continue;
        }
        let (found, selector) = find_param(tx, ctx, raw)?;
        match found.filter(|_| selector.is_none()) {
            Some(p) => {
                delete_one(tx, &ctx.principal.account_id, &ctx.region, &p)?;
                deleted.push(raw.clone());
            }
            None => invalid.push(raw.clone()),
        }
    }
    let body = json!({ "DeletedParameters": deleted, "InvalidParameters": invalid });
    let mut reply = Reply::new(body.clone());
    reply.response_elements = crate::iam::camel_json(&body);
    Ok(reply)
}

fn check_resource_type(t: &str) -> Result<(), ApiError> {
    const TYPES: &[&str] = &[
        "Document",
        "ManagedInstance",
        "MaintenanceWindow",
        "Parameter",
        "PatchBaseline",
        "OpsItem",
        "OpsMetadata",
        "Automation",
        "Association",
    ];
    if !TYPES.contains(&t) {
        return Err(validation(format!(
            "1 validation error detected: Value '{t}' at 'resourceType' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
            TYPES.join(", ")
        )));
    }
    if t != "Parameter" {
        return Err(err("InvalidResourceType", "Invalid Resource Type"));
    }
    Ok(())
}

fn tagged_param(
    tx: &dyn ReadTx,
    ctx: &RequestContext,
    resource_type: &str,
    id: &str,
) -> Result<ParameterRecord, ApiError> {
    check_resource_type(resource_type)?;
    match find_param(tx, ctx, id)? {
        (Some(p), None) => Ok(p),
        _ => Err(err("InvalidResourceId", "Invalid Resource Id")),
    }
}

fn add_tags(
    tx: &mut dyn WriteTx,
    ctx: &RequestContext,
    i: &AddTagsInput,
) -> Result<Reply, ApiError> {
    check_tags(&i.tags)?;
    let mut p = tagged_param(tx, ctx, &i.resource_type, &i.resource_id)?;
    merge_tags(&mut p.tags, &i.tags)?;
    put_param(tx, &ctx.principal.account_id, &ctx.region, &p)?;
    Ok(Reply::new(json!({})))
}

fn remove_tags(
    tx: &mut dyn WriteTx,
    ctx: &RequestContext,
    i: &RemoveTagsInput,
) -> Result<Reply, ApiError> {
    let mut p = tagged_param(tx, ctx, &i.resource_type, &i.resource_id)?;
    p.tags.retain(|(k, _)| !i.tag_keys.contains(k));
    put_param(tx, &ctx.principal.account_id, &ctx.region, &p)?;
    Ok(Reply::new(json!({})))
}

fn list_tags(tx: &dyn ReadTx, ctx: &RequestContext, i: &ListTagsInput) -> Result<Reply, ApiError> {
    let p = tagged_param(tx, ctx, &i.resource_type, &i.resource_id)?;
    let tags: Vec<Value> = p
        .tags
        .iter()
        .map(|(k, v)| json!({ "Key": k, "Value": v }))
        .collect();
    Ok(Reply::new(json!({ "TagList": tags })))
}

// ---------------------------------------------------------------- parameter policies

/// A policy that fired, as recorded in the parameter-policy event table.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PolicyEvent {
    pub name: String,
    pub policy_type: String,
    /// `Expired` (the parameter was deleted), `ExpirationNotification` or `NoChangeNotification`.
    pub action: String,
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
}

/// Runs every parameter policy due at or before `now` (business clock): Expiration
/// deletes the parameter; ExpirationNotification and NoChangeNotification are recorded
/// as policy events; each fired policy becomes `Finished`. Returns how many fired.
pub fn run_due_policies(
    tx: &mut dyn WriteTx,
    env: &Env,
    now: OffsetDateTime,
) -> Result<usize, ApiError> {
    let _ = env;
    let start = due_prefix().finish();
    let bound = due_prefix().u64(micros(now).saturating_add(1)).finish();
    let range = Range {
        start: Bound::Included(start.as_slice()),
        end: Bound::Excluded(bound.as_slice()),
        reverse: false,
    };
    let due = tx.scan(&range, usize::MAX)?;
    let mut fired = 0usize;
    for (key, _) in due {
        tx.delete(&key)?;
        let parts = palisade_store::keys::decode(&key)
            .map_err(|e| ApiError::internal(format!("ssm due key: {e:?}")))?;
        let strs: Vec<String> = parts
            .into_iter()
            .filter_map(|p| match p {
                palisade_store::keys::Part::Str(s) => Some(s),
                _ => None,
            })
            .collect();
        let [_, account, region, name, ptype] = strs.as_slice() else {
            continue;
        };
        let Some(mut p) = get_param(tx, account, region, name)? else {
            continue;
        };
        let Some(current) = p.versions.last_mut() else {
            continue;
        };
        let Some(policy) = current
            .policies
            .iter_mut()
            .find(|x| x.policy_type == *ptype && x.policy_status == "Pending")
        else {
            continue;
        };
        policy.policy_status = "Finished".to_owned();
        fired = fired.saturating_add(1);
        let action = if ptype == "Expiration" {
            "Expired"
        } else {
            ptype.as_str()
        };
        let event = PolicyEvent {
            name: name.clone(),
            policy_type: ptype.clone(),
            action: action.to_owned(),
            time: now,
        };
        let raw = serde_json::to_vec(&event).map_err(ApiError::internal)?;
        tx.put(&policy_event_key(account, region, now, name, ptype), &raw)?;
        if ptype == "Expiration" {
            // Its remaining notifications die with it.
            delete_one(tx, account, region, &p)?;
        } else {
            put_param(tx, account, region, &p)?;
        }
    }
    Ok(fired)
}

/// Whether [`run_due_policies`] has anything to do at `now`: one bounded read of the due
/// index, so the scheduler queues a write job only when needed.
pub fn work_due(tx: &dyn ReadTx, now: OffsetDateTime) -> Result<bool, ApiError> {
    let start = due_prefix().finish();
    let bound = due_prefix().u64(micros(now).saturating_add(1)).finish();
    let range = Range {
        start: Bound::Included(start.as_slice()),
        end: Bound::Excluded(bound.as_slice()),
        reverse: false,
    };
    Ok(!tx.scan(&range, 1)?.is_empty())
}

/// The policy events of an account and region, oldest first.
pub fn policy_events(
    tx: &dyn ReadTx,
    account: &str,
    region: &str,
) -> Result<Vec<PolicyEvent>, ApiError> {
    let prefix = Key::new().str("ssmpe").str(account).str(region).finish();
    let mut end = Vec::new();
    let range = Range::prefix(&prefix, &mut end);
    tx.scan(&range, usize::MAX)?
        .into_iter()
        .map(|(_, v)| decode_record(&v))
        .collect()
}

// ---------------------------------------------------------------- the Operation impl

fn arn_check(action: &str, ctx: &RequestContext, name: &str) -> AuthzCheck {
    // A parameter named by ARN is authorized as that ARN (its account's, when another).
    let (region, account) =
        arn_home(name).unwrap_or((ctx.region.as_str(), ctx.principal.account_id.as_str()));
    let mut c = AuthzCheck::new(
        format!("ssm:{action}"),
        parameter_arn(region, account, &bare_name(name)),
    );
    c.resource_account = Some(account.to_owned());
    c.note(PARAMETER_NAME_KEY, name);
    c
}

fn tag_context(c: &mut AuthzCheck, tags: &[TagIn]) {
    c.context.extend(crate::authz::request_tags(
        tags.iter().map(|t| (t.key.as_str(), t.value.as_str())),
    ));
}

impl crate::Operation for Operation {
    fn name(&self) -> &'static str {
        use Operation as O;
        match self {
            O::PutParameter(_) => "PutParameter",
            O::GetParameter(_) => "GetParameter",
            O::GetParameters(_) => "GetParameters",
            O::GetParametersByPath(_) => "GetParametersByPath",
            O::DescribeParameters(_) => "DescribeParameters",
            O::GetParameterHistory(_) => "GetParameterHistory",
            O::LabelParameterVersion(_) => "LabelParameterVersion",
            O::UnlabelParameterVersion(_) => "UnlabelParameterVersion",
            O::DeleteParameter(_) => "DeleteParameter",
            O::DeleteParameters(_) => "DeleteParameters",
            O::AddTagsToResource(_) => "AddTagsToResource",
            O::RemoveTagsFromResource(_) => "RemoveTagsFromResource",
            O::ListTagsForResource(_) => "ListTagsForResource",
        }
    }

    fn read_only(&self) -> bool {
        use Operation as O;
        matches!(
            self,
            O::GetParameter(_)
                | O::GetParameters(_)
                | O::GetParametersByPath(_)
                | O::DescribeParameters(_)
                | O::GetParameterHistory(_)
                | O::ListTagsForResource(_)
        ) && !reads_a_secret(self)
    }

    /// A GetParameter(s) that reads a secret is a write only when LastAccessedDate must
    /// move; CloudTrail logs it read-only all the same.
    fn reads_first(&self) -> bool {
        reads_a_secret(self)
    }

    fn read_if_unchanged(
        &self,
        tx: &dyn ReadTx,
        env: &Env,
        ctx: &RequestContext,
    ) -> Option<Result<Reply, ApiError>> {
        get_unchanged(self, tx, env, ctx)
    }

    fn audit_read_only(&self) -> bool {
        self.read_only() || reads_a_secret(self)
    }

    fn authz(&self, ctx: &RequestContext) -> Vec<AuthzCheck> {
        use Operation as O;
        match self {
            O::PutParameter(i) => {
                let mut c = arn_check("PutParameter", ctx, &i.name);
                // Parameter Store's own condition keys.
                c.context.push((
                    "ssm:Overwrite".to_owned(),
                    vec![i.overwrite.unwrap_or(false).to_string()],
                ));
                if i.policies.is_some() {
                    c.context
                        .push(("ssm:Policies".to_owned(), vec!["true".to_owned()]));
                }
                tag_context(&mut c, i.tags.as_deref().unwrap_or_default());
                vec![c]
            }
            O::GetParameter(i) => vec![arn_check("GetParameter", ctx, &i.name)],
            O::GetParameters(i) => i
                .names
                .iter()
                .map(|n| arn_check("GetParameters", ctx, n))
                .collect(),
            // Authorized against the path, not the parameters it returns, as AWS.
            O::GetParametersByPath(i) => {
                let mut c = arn_check("GetParametersByPath", ctx, i.path.trim_end_matches('/'));
                c.context.push((
                    "ssm:Recursive".to_owned(),
                    vec![i.recursive.unwrap_or(false).to_string()],
                ));
                vec![c]
            }
            O::DescribeParameters(_) => {
                let mut c = AuthzCheck::new("ssm:DescribeParameters", "*");
                c.resource_account = Some(ctx.principal.account_id.clone());
                vec![c]
            }
            O::GetParameterHistory(i) => vec![arn_check("GetParameterHistory", ctx, &i.name)],
            O::LabelParameterVersion(i) => {
                vec![arn_check("LabelParameterVersion", ctx, &i.name)]
            }
            O::UnlabelParameterVersion(i) => {
                vec![arn_check("UnlabelParameterVersion", ctx, &i.name)]
            }
            O::DeleteParameter(i) => vec![arn_check("DeleteParameter", ctx, &i.name)],
            O::DeleteParameters(i) => i
                .names
                .iter()
                .map(|n| arn_check("DeleteParameters", ctx, n))
                .collect(),
            O::AddTagsToResource(i) => {
                let mut c = arn_check("AddTagsToResource", ctx, &i.resource_id);
                tag_context(&mut c, &i.tags);
                vec![c]
            }
            O::RemoveTagsFromResource(i) => {
                let mut c = arn_check("RemoveTagsFromResource", ctx, &i.resource_id);
                c.context
                    .push(("aws:TagKeys".to_owned(), i.tag_keys.clone()));
                vec![c]
            }
            O::ListTagsForResource(i) => {
                vec![arn_check("ListTagsForResource", ctx, &i.resource_id)]
            }
        }
    }

    fn request_parameters(&self) -> Option<Value> {
        use Operation as O;
        let v = match self {
            // The value is never recorded (SecureString or not), as AWS.
            O::PutParameter(i) => {
                let mut m = serde_json::Map::new();
                m.insert("name".into(), json!(i.name));
                if let Some(t) = &i.r#type {
                    m.insert("type".into(), json!(t));
                }
                if let Some(o) = i.overwrite {
                    m.insert("overwrite".into(), json!(o));
                }
                if let Some(k) = &i.key_id {
                    m.insert("keyId".into(), json!(k));
                }
                if let Some(d) = &i.description {
                    m.insert("description".into(), json!(d));
                }
                if let Some(p) = &i.allowed_pattern {
                    m.insert("allowedPattern".into(), json!(p));
                }
                if let Some(t) = &i.tier {
                    m.insert("tier".into(), json!(t));
                }
                if let Some(p) = &i.policies {
                    m.insert("policies".into(), json!(p));
                }
                if let Some(d) = &i.data_type {
                    m.insert("dataType".into(), json!(d));
                }
                if let Some(tags) = &i.tags {
                    m.insert(
                        "tags".into(),
                        crate::iam::camel_json(tags).unwrap_or(Value::Null),
                    );
                }
                Value::Object(m)
            }
            O::GetParameter(i) => {
                json!({ "name": i.name, "withDecryption": i.with_decryption.unwrap_or(false) })
            }
            O::GetParameters(i) => {
                json!({ "names": i.names, "withDecryption": i.with_decryption.unwrap_or(false) })
            }
            O::GetParametersByPath(i) => json!({
                "path": i.path,
                "recursive": i.recursive.unwrap_or(false),
                "withDecryption": i.with_decryption.unwrap_or(false),
                "parameterFilters": i.parameter_filters.as_ref().and_then(crate::iam::camel_json),
                "maxResults": i.max_results,
            }),
            O::DescribeParameters(i) => json!({
                "filters": i.filters.as_ref().and_then(crate::iam::camel_json),
                "parameterFilters": i.parameter_filters.as_ref().and_then(crate::iam::camel_json),
                "maxResults": i.max_results,
            }),
            O::GetParameterHistory(i) => {
                json!({ "name": i.name, "withDecryption": i.with_decryption.unwrap_or(false) })
            }
            O::LabelParameterVersion(i) | O::UnlabelParameterVersion(i) => json!({
                "name": i.name, "parameterVersion": i.parameter_version, "labels": i.labels
            }),
            O::DeleteParameter(i) => json!({ "name": i.name }),
            O::DeleteParameters(i) => json!({ "names": i.names }),
            O::AddTagsToResource(i) => json!({
                "resourceType": i.resource_type, "resourceId": i.resource_id,
                "tags": crate::iam::camel_json(&i.tags),
            }),
            O::RemoveTagsFromResource(i) => json!({
                "resourceType": i.resource_type, "resourceId": i.resource_id, "tagKeys": i.tag_keys
            }),
            O::ListTagsForResource(i) => json!({
                "resourceType": i.resource_type, "resourceId": i.resource_id
            }),
        };
        Some(v)
    }

    fn read(&self, tx: &dyn ReadTx, env: &Env, ctx: &RequestContext) -> Result<Reply, ApiError> {
        use Operation as O;
        match self {
            O::GetParameter(_) | O::GetParameters(_) => {
                get(self, tx, env, ctx).map(|(reply, _)| reply)
            }
            O::GetParametersByPath(i) => get_parameters_by_path(tx, env, ctx, i),
            O::DescribeParameters(i) => describe_parameters(tx, ctx, i),
            O::GetParameterHistory(i) => get_parameter_history(tx, env, ctx, i),
            O::ListTagsForResource(i) => list_tags(tx, ctx, i),
            _ => Err(ApiError::internal("read() on a mutating ssm operation")),
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
            O::GetParameter(_) | O::GetParameters(_) => get_marking_access(self, tx, env, ctx),
            O::PutParameter(i) => put_parameter(tx, env, ctx, i),
            O::LabelParameterVersion(i) => label_parameter_version(tx, ctx, i),
            O::UnlabelParameterVersion(i) => unlabel_parameter_version(tx, ctx, i),
            O::DeleteParameter(i) => delete_parameter(tx, ctx, i),
            O::DeleteParameters(i) => delete_parameters(tx, ctx, i),
            O::AddTagsToResource(i) => add_tags(tx, ctx, i),
            O::RemoveTagsFromResource(i) => remove_tags(tx, ctx, i),
            _ => Err(ApiError::internal("write() on a read-only ssm operation")),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )]
    use super::*;

    #[test]
    fn secret_references_split_at_the_first_colon() {
        let r = "/aws/reference/secretsmanager/";
        assert!(reference::is_reference(&format!("{r}db")));
        assert!(reference::is_reference("aws/reference/secretsmanager/db"));
        assert!(!reference::is_reference("/aws/reference/secretsmanager"));
        assert!(!reference::is_reference("/app/db"));
        let db = format!("{r}db");
        assert_eq!(reference::split(&db), (db.as_str(), "db", None));
        let app = format!("{r}app/db");
        assert_eq!(
            reference::split(&format!("{app}:AWSPREVIOUS")),
            (app.as_str(), "app/db", Some("AWSPREVIOUS"))
        );
        let a = format!("{r}a");
        assert_eq!(
            reference::split(&format!("{a}:b:c")),
            (a.as_str(), "a", Some("b:c"))
        );
        assert_eq!(
            reference::split(&format!("{a}:")),
            (a.as_str(), "a", Some(""))
        );
    }

    #[test]
    fn name_rules() {
        let ok = ["/pettracker/prod/api-url", "plain", "/a", "a.b-c_d"];
        for n in ok {
            assert!(check_name(n, "us-east-1", "000000000000").is_ok(), "{n}");
        }
        let cases: &[(&str, &str)] = &[
            ("", "ValidationException"),
            ("/bad name", "ValidationException"),
            ("a/b", "ValidationException"),
            ("/a//b", "ValidationException"),
            ("/aws/x", "AccessDeniedException"),
            ("ssm-thing", "ValidationException"),
            ("AWSx", "ValidationException"),
        ];
        for (n, code) in cases {
            let e = check_name(n, "us-east-1", "000000000000").unwrap_err();
            assert_eq!(e.code, *code, "{n}");
        }
        let deep15 = (1..=15).map(|i| format!("/l{i}")).collect::<String>();
        assert!(check_name(&deep15, "us-east-1", "000000000000").is_ok());
        let deep16 = (1..=16).map(|i| format!("/l{i}")).collect::<String>();
        assert_eq!(
            check_name(&deep16, "us-east-1", "000000000000")
                .unwrap_err()
                .code,
            "HierarchyLevelLimitExceededException"
        );
        let long = format!("/{}", "a".repeat(1011));
        assert_eq!(
            check_name(&long, "us-east-1", "000000000000")
                .unwrap_err()
                .code,
            "ValidationException"
        );
    }

    #[test]
    fn arns_drop_the_leading_slash() {
        assert_eq!(
            parameter_arn("us-east-1", "1", "/a/b"),
            "arn:aws:ssm:us-east-1:1:parameter/a/b"
        );
        assert_eq!(
            parameter_arn("us-east-1", "1", "plain"),
            "arn:aws:ssm:us-east-1:1:parameter/plain"
        );
        assert_eq!(bare_name("/a/b:3"), "/a/b");
        assert_eq!(bare_name("arn:aws:ssm:us-east-1:1:parameter/a/b"), "/a/b");
    }

    #[test]
    fn paths() {
        assert!(in_path("/a/b", "/a", false));
        assert!(!in_path("/a/b/c", "/a", false));
        assert!(in_path("/a/b/c", "/a", true));
        assert!(in_path("/a/b/c", "/a/", true));
        assert!(!in_path("/ab/c", "/a", true));
        assert!(in_path("/x", "/", false));
        assert!(!in_path("x", "/", true));
    }

    #[test]
    fn tiers() {
        assert_eq!(resolve_tier(None, None, 10, false).unwrap(), "Standard");
        assert_eq!(
            resolve_tier(Some("Intelligent-Tiering"), None, 5000, false).unwrap(),
            "Advanced"
        );
        assert!(resolve_tier(Some("Standard"), None, 5000, false).is_err());
        assert!(resolve_tier(Some("Standard"), Some("Advanced"), 10, false).is_err());
        assert_eq!(
            resolve_tier(None, Some("Advanced"), 10, false).unwrap(),
            "Advanced"
        );
        assert!(resolve_tier(None, None, 10, true).is_err());
    }

    #[test]
    fn policies_parse_and_reject() {
        let ok = r#"[{"Type":"Expiration","Version":"1.0","Attributes":{"Timestamp":"2030-01-01T00:00:00.000Z"}},
                     {"Type":"ExpirationNotification","Version":"1.0","Attributes":{"Before":"15","Unit":"Days"}},
                     {"Type":"NoChangeNotification","Version":"1.0","Attributes":{"After":"20","Unit":"Hours"}}]"#;
        assert_eq!(parse_policies(ok).unwrap().len(), 3);
        let cases = [
            (
                r#"[{"Type":"Nope","Version":"1.0","Attributes":{}}]"#,
                "InvalidPolicyTypeException",
            ),
            (
                r#"[{"Type":"Expiration","Version":"1.0","Attributes":{}}]"#,
                "InvalidPolicyAttributeException",
            ),
            (
                r#"[{"Type":"ExpirationNotification","Version":"1.0","Attributes":{"Before":"1"}}]"#,
                "IncompatiblePolicyException",
            ),
            ("not json", "InvalidPolicyAttributeException"),
        ];
        for (doc, code) in cases {
            assert_eq!(parse_policies(doc).unwrap_err().code, code, "{doc}");
        }
    }

    #[test]
    fn allowed_patterns_match_whole_values() {
        assert!(check_allowed_pattern("^\\d+$", "123").is_ok());
        assert!(check_allowed_pattern("\\d+", "12a").is_err());
        assert_eq!(
            check_allowed_pattern("(", "x").unwrap_err().code,
            "InvalidAllowedPatternException"
        );
    }

    #[test]
    fn labels() {
        assert!(valid_label("prod"));
        assert!(!valid_label("1abc"));
        assert!(!valid_label("awsx"));
        assert!(!valid_label("a b"));
    }

    mod with_store {
        #![allow(
            clippy::unwrap_used,
            clippy::expect_used,
            clippy::panic,
            clippy::indexing_slicing
        )]
        use super::super::*;
        use crate::accounts::write_blocking;
        use std::sync::Arc;

        fn env() -> crate::env::testing::TestEnv {
            crate::env::testing::test_env("111122223333")
        }

        fn ctx(now: OffsetDateTime) -> RequestContext {
            crate::env::testing::root_ctx("111122223333", now)
        }

        fn put(env: &Arc<Env>, now: OffsetDateTime, name: &str, policies: Option<String>) {
            let (e, c) = (env.clone(), ctx(now));
            let input = PutParameterInput {
                name: name.into(),
                description: None,
                value: "v".into(),
                r#type: Some("String".into()),
                key_id: None,
                overwrite: Some(true),
                allowed_pattern: None,
                tags: None,
                tier: policies.as_ref().map(|_| "Advanced".to_owned()),
                policies,
                data_type: None,
            };
            write_blocking(env.store.as_ref(), move |tx| {
                put_parameter(tx, &e, &c, &input).map(|_| ())
            })
            .unwrap();
        }

        fn run(env: &Arc<Env>, now: OffsetDateTime) -> usize {
            let e = env.clone();
            write_blocking(env.store.as_ref(), move |tx| run_due_policies(tx, &e, now)).unwrap()
        }

        fn due(env: &Arc<Env>, now: OffsetDateTime) -> bool {
            let mut out = false;
            env.store
                .read(&mut |tx| {
                    out = work_due(tx, now).unwrap();
                    Ok(())
                })
                .unwrap();
            out
        }

        fn param(env: &Arc<Env>, name: &str) -> Option<ParameterRecord> {
            let mut out = None;
            env.store
                .read(&mut |tx| {
                    out = get_param(tx, "111122223333", "us-east-1", name).unwrap();
                    Ok(())
                })
                .unwrap();
            out
        }

        #[test]
        fn expiration_and_notifications_fire_on_the_business_clock() {
            let env = env();
            let t0 = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
            let exp = t0 + time::Duration::days(10);
            let exp_text = exp
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap();
            let policies = format!(
                r#"[{{"Type":"Expiration","Version":"1.0","Attributes":{{"Timestamp":"{exp_text}"}}}},
                    {{"Type":"ExpirationNotification","Version":"1.0","Attributes":{{"Before":"2","Unit":"Days"}}}},
                    {{"Type":"NoChangeNotification","Version":"1.0","Attributes":{{"After":"3","Unit":"Days"}}}}]"#
            );
            put(&env, t0, "/p/expiring", Some(policies));
            put(&env, t0, "/p/plain", None);
            assert!(!due(&env, t0));
            assert_eq!(run(&env, t0 + time::Duration::days(1)), 0);

            // A new version on day 2 re-arms NoChangeNotification (now due on day 5).
            put(&env, t0 + time::Duration::days(2), "/p/expiring", None);
            assert_eq!(run(&env, t0 + time::Duration::days(4)), 0);
            assert!(due(&env, t0 + time::Duration::days(5)));
            assert_eq!(run(&env, t0 + time::Duration::days(5)), 1);
            // ExpirationNotification: 2 days before the expiration.
            assert_eq!(run(&env, t0 + time::Duration::days(8)), 1);
            let p = param(&env, "/p/expiring").unwrap();
            let status: Vec<(String, String)> = p.versions[1]
                .policies
                .iter()
                .map(|x| (x.policy_type.clone(), x.policy_status.clone()))
                .collect();
            assert_eq!(
                status,
                [
                    ("Expiration".to_owned(), "Pending".to_owned()),
                    ("ExpirationNotification".to_owned(), "Finished".to_owned()),
                    ("NoChangeNotification".to_owned(), "Finished".to_owned()),
                ]
            );
            // Expiration deletes the parameter, nothing else.
            assert_eq!(run(&env, exp), 1);
            assert!(param(&env, "/p/expiring").is_none());
            assert!(param(&env, "/p/plain").is_some());
            assert!(!due(&env, exp + time::Duration::days(100)));
            let mut events = Vec::new();
            env.store
                .read(&mut |tx| {
                    events = policy_events(tx, "111122223333", "us-east-1").unwrap();
                    Ok(())
                })
                .unwrap();
            let kinds: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
            assert_eq!(
                kinds,
                ["NoChangeNotification", "ExpirationNotification", "Expired"]
            );
        }
    }

    #[test]
    fn tokens_round_trip() {
        let t = encode_token("/a/b");
        assert_eq!(decode_token(&Some(t)).unwrap().as_deref(), Some("/a/b"));
        assert!(decode_token(&Some("!!".into())).is_err());
    }
}
