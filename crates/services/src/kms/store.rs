//! KMS state: key records (material sealed under the data dir's master key) and aliases,
//! their key layout, and resolution of a `KeyId` (key id, key ARN, alias name, alias ARN).

use super::error::{self as kerr};
use crate::{context::RequestContext, error::ApiError};
use base64::Engine as _;
use palisade_store::{keys::Key, seal::MasterKey, Range, ReadTx, WriteTx};
use time::OffsetDateTime;

/// A key's record. Key material appears only sealed.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct KeyRecord {
    pub key_id: String,
    pub arn: String,
    pub account: String,
    pub region: String,
    #[serde(with = "time::serde::rfc3339")]
    pub creation_date: OffsetDateTime,
    pub description: String,
    pub key_usage: String,
    pub key_spec: String,
    pub enabled: bool,
    /// `Some` while the key is pending deletion.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub deletion_date: Option<OffsetDateTime>,
    #[serde(default)]
    pub pending_window_in_days: Option<i64>,
    pub policy: String,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    /// Sealed key material by version (index 0 = version 1).
    pub materials: Vec<String>,
}

impl KeyRecord {
    /// `Enabled`, `Disabled`, `PendingDeletion` or `PendingImport`.
    pub fn state(&self) -> &'static str {
        if self.deletion_date.is_some() {
            "PendingDeletion"
        } else if self.materials.is_empty() {
            // A key with imported (EXTERNAL) material before import or after the material
            // was deleted or expired.
            "PendingImport"
        } else if self.enabled {
            "Enabled"
        } else {
            "Disabled"
        }
    }

    /// Whether the deletion window has passed: the key no longer exists.
    pub fn deleted(&self, now: OffsetDateTime) -> bool {
        self.deletion_date.is_some_and(|d| d <= now)
    }

    /// The current material version (1-based).
    pub fn current_version(&self) -> u32 {
        u32::try_from(self.materials.len()).unwrap_or(u32::MAX)
    }

    /// Fails unless the key may be used for cryptography now.
    pub fn check_usable(&self) -> Result<(), ApiError> {
        match self.state() {
            "Enabled" => Ok(()),
            "Disabled" => Err(kerr::disabled(&self.arn)),
            "PendingImport" => Err(kerr::err(
                "KMSInvalidStateException",
                format!("{} is pending import.", self.arn),
            )),
            _ => Err(kerr::pending_deletion(&self.arn)),
        }
    }
}

/// An alias record.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AliasRecord {
    pub name: String,
    pub target_key_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub creation_date: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_updated_date: OffsetDateTime,
}

/// The table of key records, every account and region.
fn keys_table() -> Key {
    Key::new().str("kmsk")
}

fn keys_prefix(account: &str, region: &str) -> Key {
    keys_table().str(account).str(region)
}

pub fn key_key(account: &str, region: &str, key_id: &str) -> Vec<u8> {
    keys_prefix(account, region).str(key_id).finish()
}

fn aliases_prefix(account: &str, region: &str) -> Key {
    Key::new().str("kmsa").str(account).str(region)
}

pub fn alias_key(account: &str, region: &str, name: &str) -> Vec<u8> {
    aliases_prefix(account, region).str(name).finish()
}

pub fn key_arn(region: &str, account: &str, key_id: &str) -> String {
    format!("arn:aws:kms:{region}:{account}:key/{key_id}")
}

pub fn alias_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:kms:{region}:{account}:{name}")
}

fn decode<T: serde::de::DeserializeOwned>(raw: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(raw).map_err(|e| ApiError::internal(format!("kms record: {e}")))
}

pub fn get_key(
    tx: &dyn ReadTx,
    account: &str,
    region: &str,
    id: &str,
) -> Result<Option<KeyRecord>, ApiError> {
    Ok(get_key_shared(tx, account, region, id)?.map(|k| KeyRecord::clone(&k)))
}

/// Decoded key records by their bytes ([`crate::decoded`]): a key is read on every use,
/// once for its policy and once for the operation.
static KEYS: std::sync::LazyLock<crate::decoded::DecodeCache<KeyRecord>> =
    std::sync::LazyLock::new(crate::decoded::DecodeCache::new);

/// Forgets every decoded key record (a reset).
pub fn clear_decoded() {
    KEYS.clear();
}

/// [`get_key`] without a copy of the record.
pub fn get_key_shared(
    tx: &dyn ReadTx,
    account: &str,
    region: &str,
    id: &str,
) -> Result<Option<std::sync::Arc<KeyRecord>>, ApiError> {
    tx.get(&key_key(account, region, id))?
        .map(|raw| {
            KEYS.decode(&raw)
                .map_err(|e| ApiError::internal(format!("kms record: {e}")))
        })
        .transpose()
}

pub fn put_key(tx: &mut dyn WriteTx, key: &KeyRecord) -> Result<(), ApiError> {
    let raw = serde_json::to_vec(key).map_err(ApiError::internal)?;
    tx.put(&key_key(&key.account, &key.region, &key.key_id), &raw)?;
    // The key's state decides whether its automatic rotation is scheduled.
    super::rotation::key_written(tx, key)
}

pub fn get_alias(
    tx: &dyn ReadTx,
    account: &str,
    region: &str,
    name: &str,
) -> Result<Option<AliasRecord>, ApiError> {
    tx.get(&alias_key(account, region, name))?
        .map(|raw| decode(&raw))
        .transpose()
}

pub fn put_alias(
    tx: &mut dyn WriteTx,
    account: &str,
    region: &str,
    a: &AliasRecord,
) -> Result<(), ApiError> {
    let raw = serde_json::to_vec(a).map_err(ApiError::internal)?;
    tx.put(&alias_key(account, region, &a.name), &raw)?;
    Ok(())
}

pub fn delete_alias(
    tx: &mut dyn WriteTx,
    account: &str,
    region: &str,
    name: &str,
) -> Result<(), ApiError> {
    tx.delete(&alias_key(account, region, name))?;
    Ok(())
}

fn scan_all<T: serde::de::DeserializeOwned>(
    tx: &dyn ReadTx,
    prefix: Key,
) -> Result<Vec<T>, ApiError> {
    let prefix = prefix.finish();
    let mut end = Vec::new();
    let range = Range::prefix(&prefix, &mut end);
    tx.scan(&range, usize::MAX)?
        .into_iter()
        .map(|(_, v)| decode(&v))
        .collect()
}

/// Every key of an account and region, by key id (deleted ones included).
pub fn all_keys(tx: &dyn ReadTx, account: &str, region: &str) -> Result<Vec<KeyRecord>, ApiError> {
    scan_all(tx, keys_prefix(account, region))
}

/// Every key of every account and region (a one-time index of existing policies).
pub fn every_key(tx: &dyn ReadTx) -> Result<Vec<KeyRecord>, ApiError> {
    let prefix = keys_table().finish();
    let mut end = Vec::new();
    let rows = tx.scan(&Range::prefix(&prefix, &mut end), usize::MAX)?;
    // A record that does not decode is not this index's to refuse a start over.
    Ok(rows
        .iter()
        .filter_map(|(_, raw)| decode(raw).ok())
        .collect())
}

/// Every alias of an account and region, by name.
pub fn all_aliases(
    tx: &dyn ReadTx,
    account: &str,
    region: &str,
) -> Result<Vec<AliasRecord>, ApiError> {
    scan_all(tx, aliases_prefix(account, region))
}

/// What a `KeyId` member names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRef {
    Key {
        account: String,
        region: String,
        id: String,
    },
    Alias {
        account: String,
        region: String,
        name: String,
    },
    /// Not a key id, key ARN, alias name or alias ARN.
    Invalid(String),
}

impl KeyRef {
    /// Parses `KeyId` in the caller's account and region.
    pub fn parse(s: &str, ctx: &RequestContext) -> KeyRef {
        let account = ctx.principal.account_id.clone();
        let region = ctx.region.clone();
        if let Some(rest) = s.strip_prefix("arn:aws:kms:") {
            let mut parts = rest.splitn(3, ':');
            let (Some(r), Some(a), Some(res)) = (parts.next(), parts.next(), parts.next()) else {
                return KeyRef::Invalid(s.to_owned());
            };
            if r.is_empty() || a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()) {
                return KeyRef::Invalid(s.to_owned());
            }
            if let Some(id) = res.strip_prefix("key/") {
                if is_key_id(id) {
                    return KeyRef::Key {
                        account: a.into(),
                        region: r.into(),
                        id: id.into(),
                    };
                }
            } else if res.starts_with("alias/") && res.len() > 6 {
                return KeyRef::Alias {
                    account: a.into(),
                    region: r.into(),
                    name: res.into(),
                };
            }
            return KeyRef::Invalid(s.to_owned());
        }
        if s.starts_with("alias/") && s.len() > 6 {
            return KeyRef::Alias {
                account,
                region,
                name: s.to_owned(),
            };
        }
        if is_key_id(s) {
            return KeyRef::Key {
                account,
                region,
                id: s.to_owned(),
            };
        }
        KeyRef::Invalid(s.to_owned())
    }

    /// The ARN authorization names, and the owning account (`*` for invalid ids: the
    /// operation answers NotFoundException).
    pub fn arn(&self) -> (String, Option<String>) {
        match self {
            KeyRef::Key {
                account,
                region,
                id,
            } => (key_arn(region, account, id), Some(account.clone())),
            KeyRef::Alias {
                account,
                region,
                name,
            } => (alias_arn(region, account, name), Some(account.clone())),
            KeyRef::Invalid(_) => ("*".to_owned(), None),
        }
    }
}

/// A KMS key id: a lowercase UUID (also `mrk-` + 32 hex for multi-Region keys).
pub fn is_key_id(s: &str) -> bool {
    uuid::Uuid::try_parse(s).is_ok() && s.len() == 36
}

/// Resolves `KeyId` to a key that exists now (not past its deletion date).
pub fn resolve(tx: &dyn ReadTx, ctx: &RequestContext, key_id: &str) -> Result<KeyRecord, ApiError> {
    match KeyRef::parse(key_id, ctx) {
        KeyRef::Key {
            account,
            region,
            id,
        } => get_key(tx, &account, &region, &id)?
            .filter(|k| !k.deleted(ctx.now))
            .ok_or_else(|| kerr::key_not_found(&key_arn(&region, &account, &id))),
        KeyRef::Alias {
            account,
            region,
            name,
        } => {
            let missing = || kerr::alias_not_found(&alias_arn(&region, &account, &name));
            let alias = get_alias(tx, &account, &region, &name)?.ok_or_else(missing)?;
            get_key(tx, &account, &region, &alias.target_key_id)?
                .filter(|k| !k.deleted(ctx.now))
                .ok_or_else(missing)
        }
        KeyRef::Invalid(s) => Err(kerr::invalid_key_id(&s)),
    }
}

/// [`resolve`] for the operations AWS documents as "Cross-account use: No": a key of
/// another account is not found, whatever its key policy allows.
pub fn resolve_own(
    tx: &dyn ReadTx,
    ctx: &RequestContext,
    key_id: &str,
) -> Result<KeyRecord, ApiError> {
    let k = resolve(tx, ctx, key_id)?;
    if k.account != ctx.principal.account_id {
        return Err(kerr::key_not_found(&k.arn));
    }
    Ok(k)
}

/// (account, region, key id) of the key a KMS ARN names: `...:key/ID`, or
/// `...:alias/NAME` through the alias when it exists.
pub fn key_of_arn<'a>(
    tx: &dyn ReadTx,
    arn: &'a str,
) -> Result<Option<(&'a str, &'a str, String)>, ApiError> {
    let Some(rest) = arn.strip_prefix("arn:aws:kms:") else {
        return Ok(None);
    };
    let mut parts = rest.splitn(3, ':');
    let (Some(region), Some(account), Some(res)) = (parts.next(), parts.next(), parts.next())
    else {
        return Ok(None);
    };
    let id = if let Some(id) = res.strip_prefix("key/") {
        id.to_owned()
    } else if res.starts_with("alias/") {
        match get_alias(tx, account, region, res)? {
            Some(a) => a.target_key_id,
            None => return Ok(None),
        }
    } else {
        return Ok(None);
    };
    Ok(Some((account, region, id)))
}

/// The ARN of the key an alias ARN (`arn:aws:kms:REGION:ACCOUNT:alias/NAME`) points to,
/// if the alias exists.
pub fn key_arn_of_alias(tx: &dyn ReadTx, alias_arn: &str) -> Result<Option<String>, ApiError> {
    if !alias_arn.contains(":alias/") {
        return Ok(None);
    }
    let Some((account, region, id)) = key_of_arn(tx, alias_arn)? else {
        return Ok(None);
    };
    // Existence is enough: the ARN follows from the parts.
    Ok(tx
        .get(&key_key(account, region, &id))?
        .map(|_| key_arn(region, account, &id)))
}

/// Condition keys of the key `key_arn` names: its tags (`aws:ResourceTag/*`) and
/// attributes (`kms:KeySpec`, `kms:KeyUsage`, `kms:KeyOrigin`, `kms:MultiRegion`,
/// `kms:ResourceAliases`). Empty when there is no such key.
pub fn key_facts(tx: &dyn ReadTx, key_arn: &str) -> Result<Vec<(String, Vec<String>)>, ApiError> {
    let Some((account, region, id)) = key_of_arn(tx, key_arn)? else {
        return Ok(Vec::new());
    };
    let Some(k) = get_key(tx, account, region, &id)? else {
        return Ok(Vec::new());
    };
    let mut facts =
        crate::authz::resource_tags(None, k.tags.iter().map(|(a, b)| (a.as_str(), b.as_str())));
    let origin = super::import::origin(tx, &k)?;
    let aliases: Vec<String> = all_aliases(tx, account, region)?
        .into_iter()
        .filter(|a| a.target_key_id == k.key_id)
        .map(|a| a.name)
        .collect();
    facts.extend([
        ("kms:KeySpec".to_owned(), vec![k.key_spec]),
        ("kms:KeyUsage".to_owned(), vec![k.key_usage]),
        ("kms:KeyOrigin".to_owned(), vec![origin]),
        ("kms:MultiRegion".to_owned(), vec!["false".to_owned()]),
    ]);
    if !aliases.is_empty() {
        facts.push(("kms:ResourceAliases".to_owned(), aliases));
    }
    Ok(facts)
}

/// The key policy of the key (or of the key an alias ARN points at) named by `key_arn`;
/// `None` when there is no such key. Used by the authorizer to evaluate key policies
/// (`ResourcePolicyType::KmsKey`).
pub fn key_policy_for_arn(tx: &dyn ReadTx, key_arn: &str) -> Result<Option<String>, ApiError> {
    let Some((account, region, id)) = key_of_arn(tx, key_arn)? else {
        return Ok(None);
    };
    Ok(get_key_shared(tx, account, region, &id)?.map(|k| k.policy.clone()))
}

/// AWS's default key policy (exactly as GetKeyPolicy returns it).
pub fn default_policy(account: &str) -> String {
    format!(
        "{{\n  \"Version\" : \"2012-10-17\",\n  \"Id\" : \"key-default-1\",\n  \"Statement\" : [ {{\n    \"Sid\" : \"Enable IAM User Permissions\",\n    \"Effect\" : \"Allow\",\n    \"Principal\" : {{\n      \"AWS\" : \"arn:aws:iam::{account}:root\"\n    }},\n    \"Action\" : \"kms:*\",\n    \"Resource\" : \"*\"\n  }} ]\n}}"
    )
}

fn material_aad(arn: &str, version: u32) -> Vec<u8> {
    format!("kms-key-material:{arn}:{version}").into_bytes()
}

/// New random key material, sealed for version `version` of key `arn`.
pub fn new_sealed_material(
    master: &MasterKey,
    arn: &str,
    version: u32,
    len: usize,
) -> Result<String, ApiError> {
    let mut material = vec![0u8; len];
    palisade_store::seal::fill_random(&mut material)
        .map_err(|_| ApiError::internal("system random source failed"))?;
    let sealed = master.seal(&material_aad(arn, version), &material);
    material.fill(0);
    Ok(base64::engine::general_purpose::STANDARD.encode(sealed?))
}

/// Given key material (an asymmetric key pair's PKCS#8, imported material), sealed for
/// version `version` of key `arn`.
pub fn seal_material(
    master: &MasterKey,
    arn: &str,
    version: u32,
    material: &[u8],
) -> Result<String, ApiError> {
    let sealed = master.seal(&material_aad(arn, version), material)?;
    Ok(base64::engine::general_purpose::STANDARD.encode(sealed))
}

/// Sealed material moved from version `from` to version `to` of key `arn`.
pub fn reseal_material(
    master: &MasterKey,
    arn: &str,
    from: u32,
    to: u32,
    sealed: &str,
) -> Result<String, ApiError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(sealed)
        .map_err(|_| ApiError::internal("kms key material is not base64"))?;
    let mut material = master.open(&material_aad(arn, from), &bytes)?;
    let resealed = seal_material(master, arn, to, &material);
    material.fill(0);
    resealed
}

/// The clear key material of one version (memory only; zeroed by the caller's drop is
/// not guaranteed, so callers keep it short-lived).
pub fn material(
    master: &MasterKey,
    key: &KeyRecord,
    version: u32,
) -> Result<Option<Vec<u8>>, ApiError> {
    let Some(sealed) = usize::try_from(version)
        .ok()
        .and_then(|v| v.checked_sub(1))
        .and_then(|i| key.materials.get(i))
    else {
        return Ok(None);
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(sealed)
        .map_err(|_| ApiError::internal("kms key material is not base64"))?;
    Ok(Some(master.open(&material_aad(&key.arn, version), &bytes)?))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::context::Principal;
    use palisade_store::{Entry, StoreError};
    use std::collections::BTreeMap;

    struct MapTx(BTreeMap<Vec<u8>, Vec<u8>>);

    impl ReadTx for MapTx {
        fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
            Ok(self.0.get(key).cloned())
        }
        fn scan(&self, range: &Range<'_>, limit: usize) -> Result<Vec<Entry>, StoreError> {
            Ok(self
                .0
                .range::<[u8], _>((range.start, range.end))
                .take(limit)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect())
        }
        fn log_read(
            &self,
            _from: u64,
            _limit: usize,
        ) -> Result<Vec<palisade_store::LogRecord>, StoreError> {
            Ok(Vec::new())
        }
        fn log_last(&self) -> Result<u64, StoreError> {
            Ok(0)
        }
        fn appended_read(
            &self,
            from: u64,
            _limit: usize,
        ) -> Result<(Vec<palisade_store::LogRecord>, u64), StoreError> {
            Ok((Vec::new(), from))
        }
        fn appended_end(&self) -> Result<u64, StoreError> {
            Ok(0)
        }
    }

    const ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

    fn ctx() -> RequestContext {
        RequestContext {
            request_id: "r".into(),
            principal: Principal::root("111122223333", "AKIAEXAMPLE"),
            region: "us-east-1".into(),
            source_ip: "127.0.0.1".into(),
            user_agent: "t".into(),
            now: OffsetDateTime::UNIX_EPOCH,
            secure_transport: false,
            invoked: Default::default(),
        }
    }

    fn tx_with_key(policy: &str) -> MapTx {
        let key = KeyRecord {
            key_id: ID.into(),
            arn: key_arn("us-east-1", "111122223333", ID),
            account: "111122223333".into(),
            region: "us-east-1".into(),
            creation_date: OffsetDateTime::UNIX_EPOCH,
            description: String::new(),
            key_usage: "ENCRYPT_DECRYPT".into(),
            key_spec: "SYMMETRIC_DEFAULT".into(),
            enabled: true,
            deletion_date: None,
            pending_window_in_days: None,
            policy: policy.into(),
            tags: vec![],
            materials: vec![],
        };
        let alias = AliasRecord {
            name: "alias/app".into(),
            target_key_id: ID.into(),
            creation_date: OffsetDateTime::UNIX_EPOCH,
            last_updated_date: OffsetDateTime::UNIX_EPOCH,
        };
        let mut map = BTreeMap::new();
        map.insert(
            key_key("111122223333", "us-east-1", ID),
            serde_json::to_vec(&key).unwrap(),
        );
        map.insert(
            alias_key("111122223333", "us-east-1", "alias/app"),
            serde_json::to_vec(&alias).unwrap(),
        );
        MapTx(map)
    }

    #[test]
    fn key_policy_for_key_and_alias_arns() {
        let tx = tx_with_key("POLICY");
        let arn = format!("arn:aws:kms:us-east-1:111122223333:key/{ID}");
        assert_eq!(
            key_policy_for_arn(&tx, &arn).unwrap().as_deref(),
            Some("POLICY")
        );
        let alias = "arn:aws:kms:us-east-1:111122223333:alias/app";
        assert_eq!(
            key_policy_for_arn(&tx, alias).unwrap().as_deref(),
            Some("POLICY")
        );
        for none in [
            "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:us-east-1:111122223333:alias/other",
            "arn:aws:iam::111122223333:root",
            "*",
        ] {
            assert_eq!(key_policy_for_arn(&tx, none).unwrap(), None, "{none}");
        }
    }

    #[test]
    fn key_refs() {
        let c = ctx();
        let key = KeyRef::parse(ID, &c);
        assert_eq!(
            key.arn().0,
            format!("arn:aws:kms:us-east-1:111122223333:key/{ID}")
        );
        assert_eq!(KeyRef::parse(&key.arn().0, &c), key);
        let alias = KeyRef::parse("alias/app", &c);
        assert_eq!(
            alias.arn().0,
            "arn:aws:kms:us-east-1:111122223333:alias/app"
        );
        assert_eq!(KeyRef::parse(&alias.arn().0, &c), alias);
        for bad in [
            "",
            "alias/",
            "nope",
            "arn:aws:kms:us-east-1:1:key/x",
            "arn:aws:kms:us-east-1:111122223333:key/nope",
        ] {
            assert!(
                matches!(KeyRef::parse(bad, &c), KeyRef::Invalid(_)),
                "{bad}"
            );
        }
        let tx = tx_with_key("P");
        assert_eq!(resolve(&tx, &c, "alias/app").unwrap().key_id, ID);
        assert_eq!(
            resolve(&tx, &c, "alias/none").unwrap_err().code,
            "NotFoundException"
        );
    }
}
