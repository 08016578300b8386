//! Imported key material (Origin `EXTERNAL`, symmetric keys): GetParametersForImport (an
//! RSA wrapping key pair, sealed at rest, and an import token, valid 24 hours),
//! ImportKeyMaterial (RSAES-OAEP SHA-1/SHA-256 unwrapping, optional ValidTo expiry on the
//! business clock), DeleteImportedKeyMaterial. A key without material is `PendingImport`.
//!
//! Side record per key (`kmsimp`, account, region, key id): origin, outstanding import
//! parameters, the expiry model and a fingerprint of the material (re-imports must bring the
//! same material, as AWS).

use super::{asym, b64, check_enum, epoch, err, kerr, key_resources, store};
use super::{unb64, KeyRecord};
use crate::{context::RequestContext, env::Env, error::ApiError, Reply};
use palisade_store::{keys::Key, ReadTx, WriteTx};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::{Duration, OffsetDateTime};

const WRAPPING_ALGORITHMS: &[&str] = &[
    "RSAES_PKCS1_V1_5",
    "RSAES_OAEP_SHA_1",
    "RSAES_OAEP_SHA_256",
    "RSA_AES_KEY_WRAP_SHA_1",
    "RSA_AES_KEY_WRAP_SHA_256",
    "SM2PKE",
];
const WRAPPING_KEY_SPECS: &[&str] = &["RSA_2048", "RSA_3072", "RSA_4096", "SM2"];
const EXPIRATION_MODELS: &[&str] = &["KEY_MATERIAL_EXPIRES", "KEY_MATERIAL_DOES_NOT_EXPIRE"];
/// How long import parameters stay valid.
const PARAMETERS_VALID_HOURS: i64 = 24;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetParametersForImportInput {
    pub key_id: String,
    pub wrapping_algorithm: String,
    pub wrapping_key_spec: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImportKeyMaterialInput {
    pub key_id: String,
    pub import_token: String,
    pub encrypted_key_material: String,
    /// Epoch seconds (awsJson timestamps).
    pub valid_to: Option<f64>,
    pub expiration_model: Option<String>,
    pub import_type: Option<String>,
    pub key_material_id: Option<String>,
    pub key_material_description: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteImportedKeyMaterialInput {
    pub key_id: String,
    pub key_material_id: Option<String>,
}

const IMPORT_TYPES: &[&str] = &["NEW_KEY_MATERIAL", "EXISTING_KEY_MATERIAL"];

/// A KeyMaterialId as the model constrains it: 64 lowercase hex digits.
fn check_material_id(id: &str) -> Result<(), ApiError> {
    if id.len() != 64 || !id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(kerr::validation(format!(
            "1 validation error detected: Value '{id}' at 'keyMaterialId' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-f0-9]+$ and have length 64"
        )));
    }
    Ok(())
}

/// The imported material `id` names on key `k`: the one it holds (Palisade keeps one
/// imported material per key; its id is the material's fingerprint).
fn named_material(k: &KeyRecord, r: &ImportRecord, id: &str) -> Result<(), ApiError> {
    check_material_id(id)?;
    if r.fingerprint.as_deref() != Some(id) {
        return Err(err(
            "NotFoundException",
            format!("Key material with ID {id} not found for key {}", k.arn),
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImportParams {
    pub token: String,
    pub wrapping_algorithm: String,
    /// The wrapping key pair (PKCS#8), sealed under the master key.
    pub sealed_private_key: String,
    #[serde(with = "time::serde::rfc3339")]
    pub valid_to: OffsetDateTime,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImportRecord {
    pub account: String,
    pub region: String,
    pub key_id: String,
    pub origin: String,
    #[serde(default)]
    pub params: Vec<ImportParams>,
    #[serde(default)]
    pub expiration_model: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub valid_to: Option<OffsetDateTime>,
    /// SHA-256 over a label and the first material imported (hex).
    #[serde(default)]
    pub fingerprint: Option<String>,
}

fn import_key(account: &str, region: &str, key_id: &str) -> Vec<u8> {
    Key::new()
        .str("kmsimp")
        .str(account)
        .str(region)
        .str(key_id)
        .finish()
}

/// The import record of a key (`None` for keys with KMS-generated material).
pub fn get(tx: &dyn ReadTx, k: &KeyRecord) -> Result<Option<ImportRecord>, ApiError> {
    tx.get(&import_key(&k.account, &k.region, &k.key_id))?
        .map(|raw| {
            serde_json::from_slice(&raw)
                .map_err(|e| ApiError::internal(format!("kms import record: {e}")))
        })
        .transpose()
}

fn put(tx: &mut dyn WriteTx, r: &ImportRecord) -> Result<(), ApiError> {
    let raw = serde_json::to_vec(r).map_err(ApiError::internal)?;
    tx.put(&import_key(&r.account, &r.region, &r.key_id), &raw)?;
    DUE.file(tx, (&r.account, &r.region, &r.key_id), r.valid_to)
}

/// The scheduler's index of imported key material by its ValidTo.
pub static DUE: crate::due::DueIndex =
    crate::due::DueIndex::new("kmsimpd", "kmsimpf", "kms_import_due_index", backfill_due);

/// Files every import record of a data dir made before [`DUE`].
fn backfill_due(tx: &mut dyn WriteTx) -> Result<usize, ApiError> {
    crate::due::file_all(tx, "kmsimp", |tx, r: &ImportRecord| {
        DUE.file(tx, (&r.account, &r.region, &r.key_id), r.valid_to)
    })
}

/// Records a new EXTERNAL key (called by CreateKey).
pub(super) fn new_external(tx: &mut dyn WriteTx, k: &KeyRecord) -> Result<(), ApiError> {
    put(
        tx,
        &ImportRecord {
            account: k.account.clone(),
            region: k.region.clone(),
            key_id: k.key_id.clone(),
            origin: "EXTERNAL".into(),
            params: Vec::new(),
            expiration_model: None,
            valid_to: None,
            fingerprint: None,
        },
    )
}

/// A key's origin: `EXTERNAL` for imported material, else `AWS_KMS`.
pub(super) fn origin(tx: &dyn ReadTx, k: &KeyRecord) -> Result<String, ApiError> {
    Ok(get(tx, k)?.map_or_else(|| "AWS_KMS".to_owned(), |r| r.origin))
}

/// Adds Origin / ExpirationModel / ValidTo to a key's metadata JSON.
pub(super) fn annotate(
    tx: &dyn ReadTx,
    k: &KeyRecord,
    md: &mut serde_json::Value,
) -> Result<(), ApiError> {
    if let (Some(r), Some(o)) = (get(tx, k)?, md.as_object_mut()) {
        o.insert("Origin".into(), json!(r.origin));
        if !k.materials.is_empty() {
            if let Some(m) = &r.expiration_model {
                o.insert("ExpirationModel".into(), json!(m));
            }
            if let Some(v) = r.valid_to {
                o.insert("ValidTo".into(), json!(epoch(v)));
            }
        }
    }
    Ok(())
}

fn external(tx: &dyn ReadTx, k: &KeyRecord) -> Result<ImportRecord, ApiError> {
    get(tx, k)?.ok_or_else(|| {
        err(
            "UnsupportedOperationException",
            format!(
                "{} origin is AWS_KMS which is not valid for this operation.",
                k.arn
            ),
        )
    })
}

fn fingerprint(material: &[u8]) -> String {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(b"palisade-kms-imported-material/1");
    ctx.update(material);
    ctx.finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn params_aad(k: &KeyRecord, token: &str) -> Vec<u8> {
    format!("kms-import-wrapping-key:{}:{token}", k.arn).into_bytes()
}

pub(super) fn get_parameters(
    tx: &mut dyn WriteTx,
    env: &Env,
    ctx: &RequestContext,
    i: &GetParametersForImportInput,
) -> Result<Reply, ApiError> {
    check_enum(
        &i.wrapping_algorithm,
        "wrappingAlgorithm",
        WRAPPING_ALGORITHMS,
    )?;
    check_enum(&i.wrapping_key_spec, "wrappingKeySpec", WRAPPING_KEY_SPECS)?;
    let k = store::resolve_own(tx, ctx, &i.key_id)?;
    let mut r = external(tx, &k)?;
    if k.deletion_date.is_some() {
        return Err(kerr::pending_deletion(&k.arn));
    }
    if !asym::RSA_ENCRYPTION_ALGORITHMS.contains(&i.wrapping_algorithm.as_str())
        || !asym::is_rsa(&i.wrapping_key_spec)
    {
        return Err(err(
            "UnsupportedOperationException",
            format!(
                "Wrapping algorithm {} with wrapping key spec {} is not supported by this KMS (use RSAES_OAEP_SHA_1 or RSAES_OAEP_SHA_256 with an RSA wrapping key).",
                i.wrapping_algorithm, i.wrapping_key_spec
            ),
        ));
    }
    let mut pkcs8 = asym::generate(&i.wrapping_key_spec)
        .ok_or_else(|| ApiError::internal("wrapping key generation failed"))?;
    let public = asym::public_key_der(&i.wrapping_key_spec, &pkcs8);
    let token_bytes = super::random_bytes(48)?;
    let token = b64(&token_bytes);
    let sealed = env.master_key.seal(&params_aad(&k, &token), &pkcs8);
    pkcs8.fill(0);
    let sealed = sealed?;
    let public = public.ok_or_else(|| ApiError::internal("wrapping public key"))?;
    let valid_to = ctx.now + Duration::hours(PARAMETERS_VALID_HOURS);
    // Only the newest parameters count (as AWS: new parameters invalidate older ones).
    r.params = vec![ImportParams {
        token: token.clone(),
        wrapping_algorithm: i.wrapping_algorithm.clone(),
        sealed_private_key: b64(&sealed),
        valid_to,
    }];
    put(tx, &r)?;
    let mut reply = Reply::new(json!({
        "KeyId": k.arn,
        "ImportToken": token,
        "PublicKey": b64(&public),
        "ParametersValidTo": epoch(valid_to),
    }));
    reply.resources = key_resources(&k);
    Ok(reply)
}

pub(super) fn import_material(
    tx: &mut dyn WriteTx,
    env: &Env,
    ctx: &RequestContext,
    i: &ImportKeyMaterialInput,
) -> Result<Reply, ApiError> {
    // Both sizes are the model's (model_checks).
    let token = unb64(&i.import_token, "ImportToken")?;
    let wrapped = unb64(&i.encrypted_key_material, "EncryptedKeyMaterial")?;
    let model = i
        .expiration_model
        .clone()
        .unwrap_or_else(|| "KEY_MATERIAL_EXPIRES".to_owned());
    check_enum(&model, "expirationModel", EXPIRATION_MODELS)?;
    if let Some(t) = &i.import_type {
        check_enum(t, "importType", IMPORT_TYPES)?;
    }
    if let Some(id) = &i.key_material_id {
        check_material_id(id)?;
    }
    if let Some(d) = &i.key_material_description {
        let ok = d.len() <= 256
            && d.chars()
                .all(|c| c.is_ascii_alphanumeric() || c.is_whitespace() || ":/_.-".contains(c));
        if !ok || d.is_empty() {
            return Err(kerr::validation(
                "1 validation error detected: Value at 'keyMaterialDescription' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_\\s.-]+$ and have length less than or equal to 256",
            ));
        }
    }
    let valid_to = match (model.as_str(), i.valid_to) {
        ("KEY_MATERIAL_EXPIRES", None) => {
            return Err(kerr::validation(
                "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES",
            ))
        }
        ("KEY_MATERIAL_DOES_NOT_EXPIRE", Some(_)) => return Err(kerr::validation(
            "A validTo date must not be set if the ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE",
        )),
        (_, Some(secs)) => {
            let t = OffsetDateTime::from_unix_timestamp_nanos((secs * 1e9) as i128)
                .map_err(|_| kerr::validation("ValidTo is not a valid date."))?;
            if t <= ctx.now {
                return Err(kerr::validation("ValidTo must be in the future."));
            }
            if t > ctx.now + Duration::days(365) {
                return Err(kerr::validation(
                    "ValidTo must be at most 365 days from now.",
                ));
            }
            Some(t)
        }
        (_, None) => None,
    };
    let mut k = store::resolve_own(tx, ctx, &i.key_id)?;
    let mut r = external(tx, &k)?;
    if k.deletion_date.is_some() {
        return Err(kerr::pending_deletion(&k.arn));
    }
    let token_b64 = b64(&token);
    let Some(params) = r.params.iter().find(|p| p.token == token_b64).cloned() else {
        return Err(err(
            "InvalidImportTokenException",
            "The import token is invalid for this key.",
        ));
    };
    if params.valid_to <= ctx.now {
        return Err(err(
            "ExpiredImportTokenException",
            "The import token has expired.",
        ));
    }
    let sealed = unb64(&params.sealed_private_key, "sealed")?;
    let mut pkcs8 = env
        .master_key
        .open(&params_aad(&k, &params.token), &sealed)?;
    let material = asym::rsa_decrypt(&pkcs8, &params.wrapping_algorithm, &wrapped);
    pkcs8.fill(0);
    let Some(mut material) = material else {
        return Err(kerr::invalid_ciphertext());
    };
    if material.len() != super::blob::MATERIAL_LEN {
        material.fill(0);
        return Err(err(
            "IncorrectKeyMaterialException",
            "The key material must be 256 bits (32 bytes) for a SYMMETRIC_DEFAULT key.",
        ));
    }
    let fp = fingerprint(&material);
    // Reimporting names the material it reimports (a key never imported has none).
    if let Some(id) = &i.key_material_id {
        if let Err(e) = named_material(&k, &r, id) {
            material.fill(0);
            return Err(e);
        }
    }
    if r.fingerprint.as_ref().is_some_and(|f| *f != fp) {
        material.fill(0);
        return Err(err(
            "IncorrectKeyMaterialException",
            "The key material is not the key material previously imported into this key.",
        ));
    }
    let sealed = store::seal_material(&env.master_key, &k.arn, 1, &material);
    material.fill(0);
    k.materials = vec![sealed?];
    k.enabled = true;
    r.fingerprint = Some(fp.clone());
    r.expiration_model = Some(model);
    r.valid_to = valid_to;
    r.params.clear();
    store::put_key(tx, &k)?;
    put(tx, &r)?;
    let mut reply = Reply::new(json!({"KeyId": k.arn, "KeyMaterialId": fp}));
    reply.resources = key_resources(&k);
    Ok(reply)
}

pub(super) fn delete_material(
    tx: &mut dyn WriteTx,
    ctx: &RequestContext,
    i: &DeleteImportedKeyMaterialInput,
) -> Result<Reply, ApiError> {
    if let Some(id) = &i.key_material_id {
        check_material_id(id)?;
    }
    let mut k = store::resolve_own(tx, ctx, &i.key_id)?;
    let mut r = external(tx, &k)?;
    if k.deletion_date.is_some() {
        return Err(kerr::pending_deletion(&k.arn));
    }
    if let Some(id) = &i.key_material_id {
        named_material(&k, &r, id)?;
    }
    k.materials.clear();
    r.valid_to = None;
    r.expiration_model = None;
    store::put_key(tx, &k)?;
    put(tx, &r)?;
    let mut out = json!({"KeyId": k.arn});
    if let (Some(fp), Some(o)) = (&r.fingerprint, out.as_object_mut()) {
        o.insert("KeyMaterialId".into(), json!(fp));
    }
    let mut reply = Reply::new(out);
    reply.resources = key_resources(&k);
    Ok(reply)
}

/// Whether some imported material's ValidTo has passed at `now`.
pub(super) fn expiry_due(tx: &dyn ReadTx, now: OffsetDateTime) -> Result<bool, ApiError> {
    DUE.any_due(tx, now)
}

/// Deletes imported material whose ValidTo has passed at `now` (business clock); returns how
/// many keys went back to PendingImport. Run by [`super::run_due_rotations`].
pub(super) fn expire_due(tx: &mut dyn WriteTx, now: OffsetDateTime) -> Result<usize, ApiError> {
    let mut due = Vec::new();
    for (account, region, key_id) in DUE.take_due(tx, now)? {
        let raw = tx.get(&import_key(&account, &region, &key_id))?;
        match raw.and_then(|v| serde_json::from_slice::<ImportRecord>(&v).ok()) {
            Some(r) if r.valid_to.is_some_and(|t| t <= now) => due.push(r),
            // Filed under a time that is not its own (never left by a write): refile.
            Some(r) => DUE.file(tx, (&account, &region, &key_id), r.valid_to)?,
            None => DUE.file(tx, (&account, &region, &key_id), None)?,
        }
    }
    let mut n = 0;
    for mut r in due {
        if let Some(mut k) = store::get_key(tx, &r.account, &r.region, &r.key_id)? {
            k.materials.clear();
            store::put_key(tx, &k)?;
            n += 1;
        }
        r.valid_to = None;
        r.expiration_model = None;
        put(tx, &r)?;
    }
    Ok(n)
}
