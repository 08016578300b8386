//! Access keys: their durable records (secret sealed under the data dir's master key) and
//! the in-memory cache SigV4 verification reads on every request.
//!
//! The cache holds what the store says; every write that changes a credential goes
//! through [`put_credential`] / [`delete_credential`], which invalidate the entry, and
//! `reset` clears it whole.

use crate::{context::Principal, env::Env, error::ApiError, keyspace};
use base64::Engine as _;
use palisade_store::{seal::MasterKey, ReadTx, StoreError, WriteTx};
use parking_lot::RwLock;
use std::{collections::HashMap, sync::Arc};
use time::OffsetDateTime;

/// A usable credential, secret in clear (memory only).
#[derive(Clone)]
pub struct Credential {
    pub principal: Principal,
    pub secret_access_key: String,
    pub active: bool,
    /// Temporary credentials: the session token the request must carry.
    pub session_token: Option<String>,
    /// Temporary credentials: expiry on the business clock.
    pub expiration: Option<OffsetDateTime>,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("principal", &self.principal.arn)
            .field("access_key_id", &self.principal.access_key_id)
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

/// The durable form: the secret is sealed, with the access key id as associated data so
/// a sealed secret cannot be moved to another key's record.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredCredential {
    principal: Principal,
    sealed_secret: String,
    active: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sealed_session_token: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    expiration: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    created: OffsetDateTime,
}

/// Cache of credentials by access key id.
///
/// Invalidation: a write job that changes a credential drops its entry, and the pipeline
/// clears the cache once such a job has committed ([`CredentialCache::clear`]), before
/// the writer gets its answer. A lookup that read the store before a clear does not keep
/// what it read (the generation moved on), so a credential read from the state before a
/// commit never outlives it in the cache.
#[derive(Default)]
pub struct CredentialCache {
    map: RwLock<HashMap<String, Arc<Credential>>>,
    /// Moves at every invalidation.
    generation: std::sync::atomic::AtomicU64,
}

impl CredentialCache {
    /// The credential for `access_key_id`, from memory or the store.
    pub fn lookup(
        &self,
        env: &Env,
        access_key_id: &str,
    ) -> Result<Option<Arc<Credential>>, ApiError> {
        use std::sync::atomic::Ordering;
        if let Some(c) = self.map.read().get(access_key_id) {
            return Ok(Some(c.clone()));
        }
        let generation = self.generation.load(Ordering::Acquire);
        let mut found = None;
        env.store.read(&mut |tx| {
            found = get_credential(tx, &env.master_key, access_key_id)?;
            Ok(())
        })?;
        let Some(cred) = found else { return Ok(None) };
        let cred = Arc::new(cred);
        let mut map = self.map.write();
        if self.generation.load(Ordering::Acquire) == generation {
            map.insert(access_key_id.to_owned(), cred.clone());
        }
        Ok(Some(cred))
    }

    pub fn invalidate(&self, access_key_id: &str) {
        let mut map = self.map.write();
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        map.remove(access_key_id);
    }

    pub fn clear(&self) {
        let mut map = self.map.write();
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        map.clear();
    }
}

/// The ARN of the user (or root) that owns the long-term access key `access_key_id` in
/// `account`, read without unsealing anything; `None` for other keys. A user's ARN is
/// its current one (the key's record keeps the path it had when the key was made).
pub fn owner_arn(
    tx: &dyn ReadTx,
    access_key_id: &str,
    account: &str,
) -> Result<Option<String>, crate::ApiError> {
    let Some(raw) = tx.get(&keyspace::credential(access_key_id))? else {
        return Ok(None);
    };
    let stored: StoredCredential = serde_json::from_slice(&raw)
        .map_err(|e| StoreError::Other(format!("credential record: {e}")))?;
    let p = stored.principal;
    if p.account_id != account || stored.sealed_session_token.is_some() {
        return Ok(None);
    }
    if p.kind != crate::PrincipalKind::IAMUser {
        return Ok(Some(p.arn));
    }
    let key = crate::iam::model::entity_key(account, "user", &p.user_name);
    Ok(crate::iam::model::get::<crate::iam::model::User>(tx, &key)?.map(|u| u.arn))
}

/// Reads and unseals one credential.
pub fn get_credential(
    tx: &dyn ReadTx,
    master: &MasterKey,
    access_key_id: &str,
) -> Result<Option<Credential>, StoreError> {
    let Some(raw) = tx.get(&keyspace::credential(access_key_id))? else {
        return Ok(None);
    };
    let stored: StoredCredential = serde_json::from_slice(&raw)
        .map_err(|e| StoreError::Other(format!("credential record: {e}")))?;
    let open = |sealed: &str| -> Result<String, StoreError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(sealed)
            .map_err(|_| StoreError::Unseal)?;
        let clear = master.open(access_key_id.as_bytes(), &bytes)?;
        String::from_utf8(clear).map_err(|_| StoreError::Unseal)
    };
    Ok(Some(Credential {
        secret_access_key: open(&stored.sealed_secret)?,
        session_token: stored
            .sealed_session_token
            .as_deref()
            .map(open)
            .transpose()?,
        principal: stored.principal,
        active: stored.active,
        expiration: stored.expiration,
    }))
}

/// Writes one credential, sealing its secrets. The caller invalidates the cache entry
/// after the commit (see [`CredentialCache::invalidate`]).
pub fn put_credential(
    tx: &mut dyn WriteTx,
    master: &MasterKey,
    cred: &Credential,
    created: OffsetDateTime,
) -> Result<(), StoreError> {
    let akid = cred.principal.access_key_id.as_str();
    let seal = |clear: &str| -> Result<String, StoreError> {
        Ok(base64::engine::general_purpose::STANDARD
            .encode(master.seal(akid.as_bytes(), clear.as_bytes())?))
    };
    let stored = StoredCredential {
        principal: cred.principal.clone(),
        sealed_secret: seal(&cred.secret_access_key)?,
        active: cred.active,
        sealed_session_token: cred.session_token.as_deref().map(seal).transpose()?,
        expiration: cred.expiration,
        created,
    };
    let raw = serde_json::to_vec(&stored).map_err(|e| StoreError::Other(e.to_string()))?;
    tx.put(&keyspace::credential(akid), &raw)
}

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_CHARS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn random_chars(alphabet: &[u8], n: usize) -> Result<String, ApiError> {
    let mut bytes = vec![0u8; n];
    palisade_store::seal::fill_random(&mut bytes)
        .map_err(|_| ApiError::internal("system random source failed"))?;
    let len = alphabet.len();
    Ok(bytes
        .iter()
        .map(|b| char::from(alphabet.get(usize::from(*b) % len).copied().unwrap_or(b'A')))
        .collect())
}

/// A new access key id of `account`: `AKIA` (long-term) or `ASIA` (temporary) + 16 base32
/// characters holding the account as AWS's ids do (see [`account_of_key_id`]).
pub fn new_access_key_id(temporary: bool, account: &str) -> Result<String, ApiError> {
    let prefix = if temporary { "ASIA" } else { "AKIA" };
    let mut random = [0u8; 10];
    palisade_store::seal::fill_random(&mut random)
        .map_err(|_| ApiError::internal("system random source failed"))?;
    let mut bits = random.iter().fold(0u128, |a, b| (a << 8) | u128::from(*b));
    if let Some(n) = account.parse::<u128>().ok().filter(|n| *n < 1 << 40) {
        // Bit 79 clear, bits 78..39 the account, bits 38..0 random.
        bits = (bits & ((1u128 << 39) - 1)) | (n << 39);
    }
    let chars: String = (0..16)
        .rev()
        .map(|i| {
            let idx = usize::try_from((bits >> (i * 5)) & 0x1f).unwrap_or(0);
            char::from(BASE32.get(idx).copied().unwrap_or(b'A'))
        })
        .collect();
    Ok(format!("{prefix}{chars}"))
}

/// [`new_access_key_id`], never one already stored: with the account in the id, 39 bits
/// are left random, so among a few hundred thousand keys of one account a repeat is
/// possible, and it would replace the other key's record.
pub fn unused_access_key_id(
    tx: &dyn ReadTx,
    temporary: bool,
    account: &str,
) -> Result<String, ApiError> {
    for _ in 0..16 {
        let id = new_access_key_id(temporary, account)?;
        if tx.get(&keyspace::credential(&id))?.is_none() {
            return Ok(id);
        }
    }
    Err(ApiError::internal("no unused access key id after 16 draws"))
}

/// The account an AWS-format access key id names, without looking it up: the 16 base32
/// characters after a 4-character prefix are 80 bits, whose first 48 are a clear top bit,
/// the 40-bit account number and 7 more bits. AWS answers GetAccessKeyInfo this way, for
/// any key, issued or not. `None` when the id is not of that form.
pub fn account_of_key_id(akid: &str) -> Option<String> {
    let body = akid.get(4..).filter(|b| b.len() == 16)?;
    let mut bits = 0u128;
    for c in body.bytes() {
        let v = BASE32.iter().position(|x| *x == c)?;
        bits = (bits << 5) | u128::try_from(v).ok()?;
    }
    let account = (bits >> 39) & ((1 << 40) - 1);
    Some(format!("{account:012}"))
}

/// A new 40-character secret access key.
pub fn new_secret_access_key() -> Result<String, ApiError> {
    random_chars(SECRET_CHARS, 40)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod key_id_tests {
    use super::*;

    #[test]
    fn a_new_key_id_carries_its_account() {
        for account in ["000000000000", "123456789012", "999999999999"] {
            for temporary in [false, true] {
                let id = new_access_key_id(temporary, account).unwrap();
                assert_eq!(id.len(), 20);
                assert!(id.starts_with(if temporary { "ASIA" } else { "AKIA" }));
                assert!(id[4..].bytes().all(|b| BASE32.contains(&b)), "{id}");
                assert_eq!(account_of_key_id(&id).as_deref(), Some(account), "{id}");
            }
        }
        // Two ids of one account differ.
        assert_ne!(
            new_access_key_id(false, "123456789012").unwrap(),
            new_access_key_id(false, "123456789012").unwrap()
        );
    }

    #[test]
    fn account_of_a_key_id_follows_the_published_layout() {
        // A published example (Tal Be'ery, "A short note on AWS KEY ID", 2021):
        // ASIAY34FZKBOKMUTVV7A belongs to account 609629065308.
        assert_eq!(
            account_of_key_id("ASIAY34FZKBOKMUTVV7A").as_deref(),
            Some("609629065308")
        );
        assert_eq!(account_of_key_id("AKIA1234"), None);
        assert_eq!(account_of_key_id("AKIA000000000000000!"), None);
    }
}
