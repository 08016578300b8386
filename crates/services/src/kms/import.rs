//! Imported key material (Origin `EXTERNAL`, symmetric keys): GetParametersForImport (an
//! RSA wrapping key pair, sealed at rest, and an import token, valid 24 hours),
//! ImportKeyMaterial (RSAES-OAEP SHA-1/SHA-256 unwrapping, optional ValidTo expiry on the
//! business clock), DeleteImportedKeyMaterial, and on-demand rotation to new imported
//! material ([`rotate`], called by RotateKeyOnDemand). A key missing any of its materials is
//! `PendingImport`.
//!
//! Side record per key (`kmsimp`, account, region, key id): origin, outstanding import
//! parameters, and every material ever imported ([`Imported`]): its id (a fingerprint of the key and
//! the material, so re-imports must bring the same material, as AWS), its version once it
//! is permanently the key's (the first, and each one a rotation made current), its expiry,
//! and the material itself, sealed, while imported. Material imported as
//! `NEW_KEY_MATERIAL` into a key that has some waits as `PENDING_ROTATION` (sealed for
//! version 0) until RotateKeyOnDemand. The key record's own material list is derived: the
//! versions in order while all are imported, else empty ([`sync_key`]).

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

/// The index in `r.materials` of the material `id` names on key `k`.
fn named_material(k: &KeyRecord, r: &ImportRecord, id: &str) -> Result<usize, ApiError> {
    check_material_id(id)?;
    r.materials.iter().position(|m| m.id == id).ok_or_else(|| {
        err(
            "NotFoundException",
            format!("Key material with ID {id} not found for key {}", k.arn),
        )
    })
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
    /// Every material imported into the key, in import order.
    #[serde(default)]
    pub materials: Vec<Imported>,
    /// Records written before [`ImportRecord::materials`] held one material in these three
    /// fields; [`get`] moves it into the list and they are not written again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expiration_model: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    valid_to: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fingerprint: Option<String>,
}

/// One material imported into a key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Imported {
    /// KeyMaterialId: SHA-256 over a label, the key's ARN and the material (hex; older
    /// records: over a label and the material, [`MaterialIds`]).
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The key's material version it is (1 for the first); `None` while it is pending
    /// rotation.
    #[serde(default)]
    pub version: Option<u32>,
    /// The material sealed under the master key for its version (0 while pending), while
    /// it is imported; `None` once deleted or expired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<String>,
    #[serde(default)]
    pub expiration_model: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub valid_to: Option<OffsetDateTime>,
    /// When a rotation made it current.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub rotated_at: Option<OffsetDateTime>,
}

impl ImportRecord {
    /// The version of the newest material permanently the key's (0: none yet).
    fn current_version(&self) -> u32 {
        self.materials
            .iter()
            .filter_map(|m| m.version)
            .max()
            .unwrap_or(0)
    }

    fn current(&self) -> Option<usize> {
        let v = self.current_version();
        self.materials
            .iter()
            .position(|m| v > 0 && m.version == Some(v))
    }

    /// The material at `at` (an index this record gave out).
    fn at(&mut self, at: usize) -> Result<&mut Imported, ApiError> {
        self.materials
            .get_mut(at)
            .ok_or_else(|| ApiError::internal("kms import record: no such material"))
    }

    fn pending(&self) -> Option<usize> {
        self.materials.iter().position(|m| m.version.is_none())
    }

    /// The earliest expiry of any imported material.
    fn earliest_expiry(&self) -> Option<OffsetDateTime> {
        self.materials
            .iter()
            .filter(|m| m.sealed.is_some())
            .filter_map(|m| m.valid_to)
            .min()
    }
}

/// Sets the key's material list from its imported materials: every version, in order,
/// while all of them are imported; none (PendingImport) while any is missing.
fn sync_key(k: &mut KeyRecord, r: &ImportRecord) {
    let mut versions: Vec<&Imported> = r.materials.iter().filter(|m| m.version.is_some()).collect();
    versions.sort_by_key(|m| m.version);
    let sealed: Option<Vec<String>> = versions.iter().map(|m| m.sealed.clone()).collect();
    k.materials = sealed.unwrap_or_default();
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
    let Some(raw) = tx.get(&import_key(&k.account, &k.region, &k.key_id))? else {
        return Ok(None);
    };
    let mut r: ImportRecord = serde_json::from_slice(&raw)
        .map_err(|e| ApiError::internal(format!("kms import record: {e}")))?;
    if let Some(id) = r.fingerprint.take() {
        if r.materials.is_empty() {
            r.materials.push(Imported {
                id,
                description: None,
                version: Some(1),
                sealed: k.materials.first().cloned(),
                expiration_model: r.expiration_model.clone(),
                valid_to: r.valid_to,
                rotated_at: None,
            });
        }
    }
    r.expiration_model = None;
    r.valid_to = None;
    Ok(Some(r))
}

fn put(tx: &mut dyn WriteTx, r: &ImportRecord) -> Result<(), ApiError> {
    let raw = serde_json::to_vec(r).map_err(ApiError::internal)?;
    tx.put(&import_key(&r.account, &r.region, &r.key_id), &raw)?;
    DUE.file(tx, (&r.account, &r.region, &r.key_id), r.earliest_expiry())
}

/// The scheduler's index of imported key material by its ValidTo.
pub static DUE: crate::due::DueIndex =
    crate::due::DueIndex::new("kmsimpd", "kmsimpf", "kms_import_due_index", backfill_due);

/// Files every import record of a data dir made before [`DUE`].
fn backfill_due(tx: &mut dyn WriteTx) -> Result<usize, ApiError> {
    crate::due::file_all(tx, "kmsimp", |tx, r: &ImportRecord| {
        let legacy = r.valid_to.filter(|_| r.materials.is_empty());
        DUE.file(
            tx,
            (&r.account, &r.region, &r.key_id),
            legacy.or_else(|| r.earliest_expiry()),
        )
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
            materials: Vec::new(),
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

/// Adds Origin / ExpirationModel / ValidTo / CurrentKeyMaterialId to a key's metadata
/// JSON.
pub(super) fn annotate(
    tx: &dyn ReadTx,
    k: &KeyRecord,
    md: &mut serde_json::Value,
) -> Result<(), ApiError> {
    let Some(o) = md.as_object_mut() else {
        return Ok(());
    };
    let Some(r) = get(tx, k)? else {
        // KMS-generated symmetric material rotates, and each version has an id.
        if k.key_spec == "SYMMETRIC_DEFAULT" && !k.materials.is_empty() {
            o.insert(
                "CurrentKeyMaterialId".into(),
                json!(generated_material_id(k, k.current_version())),
            );
        }
        return Ok(());
    };
    o.insert("Origin".into(), json!(r.origin));
    if let Some(current) = r.current().and_then(|i| r.materials.get(i)) {
        o.insert("CurrentKeyMaterialId".into(), json!(current.id));
    }
    if !k.materials.is_empty() {
        // ValidTo: "the earliest time at which any imported key material permanently
        // associated with this KMS key expires" (KeyMetadata).
        let associated = r.materials.iter().filter(|m| m.version.is_some());
        let earliest = associated.clone().filter_map(|m| m.valid_to).min();
        let model = if earliest.is_some() {
            "KEY_MATERIAL_EXPIRES"
        } else {
            "KEY_MATERIAL_DOES_NOT_EXPIRE"
        };
        if associated.clone().any(|m| m.expiration_model.is_some()) {
            o.insert("ExpirationModel".into(), json!(model));
        }
        if let Some(v) = earliest {
            o.insert("ValidTo".into(), json!(epoch(v)));
        }
    }
    Ok(())
}

/// The KeyMaterialId of version `version` of a key's KMS-generated material: 64 hex
/// digits, derived from the key and the version (AWS's ids are opaque).
pub(super) fn generated_material_id(k: &KeyRecord, version: u32) -> String {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(b"palisade-kms-generated-material/1");
    ctx.update(k.arn.as_bytes());
    ctx.update(&version.to_be_bytes());
    hex(ctx.finish().as_ref())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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

/// The ids `material` has on key `k`: the KeyMaterialId it gets now, from the key and the
/// material ("based on the KMS key ID and the imported key material", ImportKeyMaterial),
/// and the one records from before that change gave it, from the material alone.
struct MaterialIds {
    id: String,
    legacy: String,
}

impl MaterialIds {
    fn of(k: &KeyRecord, material: &[u8]) -> Self {
        let digest = |parts: &[&[u8]]| {
            let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
            for p in parts {
                ctx.update(p);
            }
            hex(ctx.finish().as_ref())
        };
        let arn = k.arn.as_bytes();
        let len = (arn.len() as u64).to_be_bytes();
        MaterialIds {
            id: digest(&[b"palisade-kms-imported-material/2", &len, arn, material]),
            legacy: digest(&[b"palisade-kms-imported-material/1", material]),
        }
    }

    fn name(&self, m: &Imported) -> bool {
        m.id == self.id || m.id == self.legacy
    }
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
    let ids = MaterialIds::of(&k, &material);
    let import_type = i.import_type.clone().unwrap_or_else(|| {
        if r.materials.is_empty() {
            "NEW_KEY_MATERIAL".to_owned()
        } else {
            "EXISTING_KEY_MATERIAL".to_owned()
        }
    });
    let placed = place_material(&k, &mut r, &import_type, &ids, i.key_material_id.as_deref());
    let (at, version) = match placed {
        Ok(p) => p,
        Err(e) => {
            material.fill(0);
            return Err(e);
        }
    };
    let sealed = store::seal_material(&env.master_key, &k.arn, version, &material);
    material.fill(0);
    let m = r.at(at)?;
    let id = m.id.clone();
    m.sealed = Some(sealed?);
    m.expiration_model = Some(model);
    m.valid_to = valid_to;
    if i.key_material_description.is_some() {
        m.description = i.key_material_description.clone();
    }
    let was_pending = k.materials.is_empty();
    sync_key(&mut k, &r);
    if was_pending && !k.materials.is_empty() {
        k.enabled = true;
    }
    r.params.clear();
    store::put_key(tx, &k)?;
    put(tx, &r)?;
    let mut reply = Reply::new(json!({"KeyId": k.arn, "KeyMaterialId": id}));
    reply.response_elements = Some(json!({"keyId": k.arn, "keyMaterialId": id}));
    reply.resources = key_resources(&k);
    Ok(reply)
}

/// Where material `fp` goes in `r` for an import of `import_type`: its index in
/// `r.materials` (a new entry for new material) and the version to seal it for (0 while
/// pending rotation).
fn place_material(
    k: &KeyRecord,
    r: &mut ImportRecord,
    import_type: &str,
    ids: &MaterialIds,
    named: Option<&str>,
) -> Result<(usize, u32), ApiError> {
    // The key's state must be PendingImport or Enabled (ImportKeyMaterial).
    if k.state() == "Disabled" {
        return Err(err(
            "KMSInvalidStateException",
            format!("{} is disabled.", k.arn),
        ));
    }
    let not_previous = || {
        err(
            "IncorrectKeyMaterialException",
            "The key material is not the key material previously imported into this key.",
        )
    };
    if import_type == "EXISTING_KEY_MATERIAL" {
        let at = match named {
            Some(id) => {
                let at = named_material(k, r, id)?;
                if !ids.name(r.at(at)?) {
                    return Err(not_previous());
                }
                at
            }
            None => r
                .materials
                .iter()
                .position(|m| ids.name(m))
                .ok_or_else(not_previous)?,
        };
        return Ok((at, r.at(at)?.version.unwrap_or(0)));
    }
    // NEW_KEY_MATERIAL (named or, for a key's first import, the default): the key's first
    // material, or material for its next on-demand rotation.
    if named.is_some() {
        return Err(kerr::validation(
            "You cannot specify a key material ID with ImportType set to NEW_KEY_MATERIAL.",
        ));
    }
    if r.materials.iter().any(|m| ids.name(m)) {
        return Err(err(
            "IncorrectKeyMaterialException",
            "This key material is already associated with this key; reimport it with ImportType EXISTING_KEY_MATERIAL.",
        ));
    }
    let version = if r.materials.is_empty() {
        Some(1)
    } else {
        // Palisade's wording: AWS documents that a rotation needs new material imported
        // first, not how it answers a second import before that rotation or an import
        // into a key that lacks some of its material.
        if r.pending().is_some() {
            return Err(err(
                "KMSInvalidStateException",
                format!(
                    "{} already has imported key material pending rotation: rotate to it (RotateKeyOnDemand) or delete it first.",
                    k.arn
                ),
            ));
        }
        if k.materials.is_empty() {
            return Err(err(
                "KMSInvalidStateException",
                format!(
                    "{} is pending import: reimport its key material before importing new key material.",
                    k.arn
                ),
            ));
        }
        None
    };
    r.materials.push(Imported {
        id: ids.id.clone(),
        description: None,
        version,
        sealed: None,
        expiration_model: None,
        valid_to: None,
        rotated_at: None,
    });
    Ok((r.materials.len() - 1, version.unwrap_or(0)))
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
    // Without an id, the current material ("If no KeyMaterialId is specified, KMS deletes
    // the current key material").
    let at = match &i.key_material_id {
        Some(id) => Some(named_material(&k, &r, id)?),
        None => r.current(),
    };
    let mut out = json!({"KeyId": k.arn});
    let mut elements = json!({"keyId": k.arn});
    if let Some(at) = at {
        let m = r.at(at)?;
        for (o, name) in [
            (&mut out, "KeyMaterialId"),
            (&mut elements, "keyMaterialId"),
        ] {
            if let Some(o) = o.as_object_mut() {
                o.insert(name.into(), json!(m.id));
            }
        }
        if m.version.is_none() {
            // Pending rotation: never the key's, so it goes altogether.
            r.materials.retain(|x| x.version.is_some());
        } else {
            forget(m);
        }
    }
    sync_key(&mut k, &r);
    store::put_key(tx, &k)?;
    put(tx, &r)?;
    let mut reply = Reply::new(out);
    reply.response_elements = Some(elements);
    reply.resources = key_resources(&k);
    Ok(reply)
}

/// Drops a permanently associated material (deleted or expired): the key needs it back.
fn forget(m: &mut Imported) {
    m.sealed = None;
    m.valid_to = None;
    m.expiration_model = None;
}

/// RotateKeyOnDemand of an EXTERNAL key: the material pending rotation becomes the
/// current version. Returns that version.
pub(super) fn rotate(
    tx: &mut dyn WriteTx,
    env: &Env,
    k: &mut KeyRecord,
    now: OffsetDateTime,
) -> Result<u32, ApiError> {
    let mut r = external(tx, k)?;
    // Palisade's wording; AWS documents the requirement ("you must have already imported
    // new key material"), not its error.
    let no_pending = || {
        err(
            "KMSInvalidStateException",
            format!(
                "{} has no imported key material pending rotation: import new key material (ImportType NEW_KEY_MATERIAL) first.",
                k.arn
            ),
        )
    };
    let at = r.pending().ok_or_else(no_pending)?;
    let version = r.current_version().saturating_add(1);
    let m = r.at(at)?;
    let sealed = m.sealed.clone().ok_or_else(no_pending)?;
    let resealed = store::reseal_material(&env.master_key, &k.arn, 0, version, &sealed)?;
    m.version = Some(version);
    m.sealed = Some(resealed);
    m.rotated_at = Some(now);
    sync_key(k, &r);
    put(tx, &r)?;
    Ok(version)
}

/// ListKeyRotations entries of an EXTERNAL key: the materials rotations made current, or
/// with `all` every material (the first and any pending rotation too), each with its id,
/// import and rotation state and expiry.
pub(super) fn rotation_entries(
    tx: &dyn ReadTx,
    k: &KeyRecord,
    all: bool,
) -> Result<Vec<serde_json::Value>, ApiError> {
    let r = external(tx, k)?;
    let current = r.current_version();
    let mut listed: Vec<&Imported> = r
        .materials
        .iter()
        .filter(|m| all || m.rotated_at.is_some())
        .collect();
    listed.sort_by_key(|m| m.version.unwrap_or(u32::MAX));
    Ok(listed
        .into_iter()
        .map(|m| {
            let state = match m.version {
                None => "PENDING_ROTATION",
                Some(v) if v == current => "CURRENT",
                Some(_) => "NON_CURRENT",
            };
            let mut e = json!({
                "KeyId": k.key_id,
                "KeyMaterialId": m.id,
                "ImportState": if m.sealed.is_some() { "IMPORTED" } else { "PENDING_IMPORT" },
                "KeyMaterialState": state,
            });
            if let Some(o) = e.as_object_mut() {
                if let Some(d) = &m.description {
                    o.insert("KeyMaterialDescription".into(), json!(d));
                }
                if let Some(x) = &m.expiration_model {
                    o.insert("ExpirationModel".into(), json!(x));
                }
                if let Some(v) = m.valid_to {
                    o.insert("ValidTo".into(), json!(epoch(v)));
                }
                if let Some(t) = m.rotated_at {
                    o.insert("RotationDate".into(), json!(epoch(t)));
                    o.insert("RotationType".into(), json!("ON_DEMAND"));
                }
            }
            e
        })
        .collect())
}

/// Whether some imported material's ValidTo has passed at `now`.
pub(super) fn expiry_due(tx: &dyn ReadTx, now: OffsetDateTime) -> Result<bool, ApiError> {
    DUE.any_due(tx, now)
}

/// The CloudTrail event KMS writes when it deletes expired material (AWS's
/// DeleteExpiredKeyMaterial example: invoked by "AWS Internal", the key and the material
/// named in `serviceEventDetails`).
fn record_expiry(
    tx: &mut dyn WriteTx,
    k: &KeyRecord,
    material_id: &str,
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    let mut details = serde_json::Map::new();
    details.insert(
        "serviceEventDetails".into(),
        json!({"keyId": k.key_id, "keyMaterialId": material_id}),
    );
    crate::audit::record_service_event(
        tx,
        crate::audit::ServiceEvent {
            account: &k.account,
            region: &k.region,
            time: now,
            event_version: "1.11",
            event_name: "DeleteExpiredKeyMaterial",
            event_source: "kms.amazonaws.com",
            invoked_by: "AWS Internal",
            resources: &[("AWS::KMS::Key".to_owned(), k.arn.clone())],
            details,
        },
    )?;
    Ok(())
}

/// Deletes imported material whose ValidTo has passed at `now` (business clock); returns how
/// many keys went back to PendingImport. Run by [`super::run_due_rotations`].
pub(super) fn expire_due(tx: &mut dyn WriteTx, now: OffsetDateTime) -> Result<usize, ApiError> {
    let mut n = 0;
    for (account, region, key_id) in DUE.take_due(tx, now)? {
        let Some(mut k) = store::get_key(tx, &account, &region, &key_id)? else {
            DUE.file(tx, (&account, &region, &key_id), None)?;
            continue;
        };
        let Some(mut r) = get(tx, &k)? else {
            DUE.file(tx, (&account, &region, &key_id), None)?;
            continue;
        };
        let expired = |m: &Imported| m.sealed.is_some() && m.valid_to.is_some_and(|t| t <= now);
        for m in r.materials.iter().filter(|m| expired(m)) {
            record_expiry(tx, &k, &m.id, now)?;
        }
        if r.materials.iter().any(expired) {
            // Material pending rotation was never the key's: it goes altogether.
            r.materials.retain(|m| !(expired(m) && m.version.is_none()));
            for m in r.materials.iter_mut().filter(|m| expired(m)) {
                forget(m);
            }
            let had = !k.materials.is_empty();
            sync_key(&mut k, &r);
            if had && k.materials.is_empty() {
                n += 1;
            }
            store::put_key(tx, &k)?;
        }
        // Files the record again under its next expiry, if any.
        put(tx, &r)?;
    }
    Ok(n)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::Operation as _;

    #[test]
    fn a_record_from_before_material_lists_reads_as_its_one_material() {
        let env = crate::env::testing::test_env("111122223333");
        let e2 = env.clone();
        let now = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        let valid_to = now + Duration::days(3);
        let (migrated, k_materials, rewritten) =
            crate::accounts::write_blocking(env.store.as_ref(), move |tx| {
                let ctx = crate::env::testing::root_ctx("111122223333", now);
                let input = super::super::CreateKeyInput {
                    origin: Some("EXTERNAL".into()),
                    ..Default::default()
                };
                let created = super::super::Operation::CreateKey(input).write(tx, &e2, &ctx)?;
                let md = serde_json::to_value(created.output.unwrap().as_ref()).unwrap();
                let key_id = md["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();
                let mut k = store::resolve(tx, &ctx, &key_id)?;
                let sealed = store::seal_material(&e2.master_key, &k.arn, 1, &[7u8; 32])?;
                k.materials = vec![sealed];
                store::put_key(tx, &k)?;
                // The layout written before material lists.
                let legacy = json!({
                    "account": k.account, "region": k.region, "key_id": k.key_id,
                    "origin": "EXTERNAL", "params": [],
                    "expiration_model": "KEY_MATERIAL_EXPIRES",
                    "valid_to": valid_to.format(&time::format_description::well_known::Rfc3339).unwrap(),
                    "fingerprint": MaterialIds::of(&k, &[7u8; 32]).legacy,
                });
                tx.put(
                    &import_key(&k.account, &k.region, &k.key_id),
                    &serde_json::to_vec(&legacy).unwrap(),
                )?;
                let mut r = get(tx, &k)?.unwrap();
                // The same material reimported is recognised by its old id.
                let ids = MaterialIds::of(&k, &[7u8; 32]);
                let placed = place_material(&k, &mut r, "EXISTING_KEY_MATERIAL", &ids, None)?;
                assert_eq!(placed, (0, 1));
                put(tx, &r)?;
                let raw = tx.get(&import_key(&k.account, &k.region, &k.key_id))?.unwrap();
                let rewritten: serde_json::Value = serde_json::from_slice(&raw).unwrap();
                Ok((r, k.materials.clone(), rewritten))
            })
            .unwrap();
        assert_eq!(migrated.materials.len(), 1);
        let m = &migrated.materials[0];
        assert_eq!(m.id.len(), 64);
        assert_eq!(m.version, Some(1));
        assert_eq!(m.sealed.as_ref(), k_materials.first());
        assert_eq!(m.expiration_model.as_deref(), Some("KEY_MATERIAL_EXPIRES"));
        assert_eq!(m.valid_to, Some(valid_to));
        assert_eq!(migrated.earliest_expiry(), Some(valid_to));
        for legacy_field in ["fingerprint", "valid_to", "expiration_model"] {
            assert!(rewritten.get(legacy_field).is_none(), "{legacy_field}");
        }
    }
}
