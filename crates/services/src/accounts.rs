//! Accounts and the first start: the management account and its root access key, the
//! admin plane's reset back to that state, and the durable business-clock offset.

use crate::{
    clock::Clock,
    context::Principal,
    credentials::{self, Credential},
    env::Env,
    error::ApiError,
    keyspace,
};
use palisade_store::{seal::MasterKey, Store, StoreError, WriteTx};
use std::sync::{mpsc, Arc};
use time::OffsetDateTime;

/// What first start (or a later start) established.
#[derive(Debug, Clone)]
pub struct Bootstrap {
    pub account_id: String,
    pub root_access_key_id: String,
    /// Set only when this start generated the root key: the caller prints it once and
    /// writes `root-credentials`.
    pub generated_secret: Option<String>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct BootstrapRecord {
    management_account: String,
    root_access_key_id: String,
    /// The root key's secret sealed under the master key, so a reset can restore the key
    /// after the root user deleted it with DeleteAccessKey (AWS lets it).
    #[serde(default)]
    sealed_root_secret: Option<String>,
}

fn root_secret_aad(akid: &str) -> Vec<u8> {
    format!("palisade-bootstrap-root-secret/{akid}").into_bytes()
}

fn seal_root_secret(master: &MasterKey, akid: &str, secret: &str) -> Result<String, StoreError> {
    use base64::Engine as _;
    let sealed = master.seal(&root_secret_aad(akid), secret.as_bytes())?;
    Ok(base64::engine::general_purpose::STANDARD.encode(sealed))
}

/// The data dir's bootstrap record, once the first start wrote it.
fn bootstrap_record(store: &dyn Store) -> Result<Option<BootstrapRecord>, ApiError> {
    let mut raw = None;
    store.read(&mut |tx| {
        raw = tx.get(&keyspace::meta("bootstrap"))?;
        Ok(())
    })?;
    raw.map(|r| serde_json::from_slice(&r).map_err(ApiError::internal))
        .transpose()
}

/// The root key's secret: from the bootstrap record, else (data dirs from before it was
/// kept there) from the credential itself.
fn root_secret(env: &Env, akid: &str) -> Result<String, ApiError> {
    use base64::Engine as _;
    let sealed = bootstrap_record(env.store.as_ref())?
        .and_then(|r| r.sealed_root_secret)
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok());
    if let Some(sealed) = sealed {
        let secret = env.master_key.open(&root_secret_aad(akid), &sealed)?;
        return String::from_utf8(secret).map_err(|_| ApiError::internal("bad root secret"));
    }
    let root = env
        .credentials
        .lookup(env, akid)?
        .ok_or_else(|| ApiError::internal("root credential missing"))?;
    Ok(root.secret_access_key.clone())
}

/// A data dir from before the root key had its IAM record and sealed secret: add them
/// (one read at every start; a write only that once).
fn backfill_root_key(
    store: &dyn Store,
    master: &Arc<MasterKey>,
    rec: &BootstrapRecord,
) -> Result<(), ApiError> {
    let mut missing = None;
    let akid = rec.root_access_key_id.clone();
    let account = rec.management_account.clone();
    store.read(&mut |tx| {
        let recorded = crate::iam::access_keys::root_key_recorded(tx, &account, &akid)
            .map_err(|e| StoreError::Other(e.to_string()))?;
        if rec.sealed_root_secret.is_none() || !recorded {
            missing = credentials::get_credential(tx, master, &akid)
                .map_err(|e| StoreError::Other(e.to_string()))?
                .map(|c| (c.secret_access_key, recorded));
        }
        Ok(())
    })?;
    let Some((secret, recorded)) = missing else {
        return Ok(());
    };
    let sealed = seal_root_secret(master, &akid, &secret)?;
    let (mgmt, key) = (account.clone(), akid.clone());
    write_blocking(store, move |tx| {
        if !recorded {
            crate::iam::access_keys::put_root_key_record(
                tx,
                &mgmt,
                &key,
                OffsetDateTime::now_utc(),
            )?;
        }
        let rec = BootstrapRecord {
            management_account: mgmt,
            root_access_key_id: key,
            sealed_root_secret: Some(sealed),
        };
        let raw = serde_json::to_vec(&rec).map_err(ApiError::internal)?;
        tx.put(&keyspace::meta("bootstrap"), &raw)?;
        Ok(())
    })
}

#[derive(serde::Serialize, serde::Deserialize)]
struct AccountRecord {
    id: String,
    name: String,
    status: String,
    #[serde(with = "time::serde::rfc3339")]
    created: OffsetDateTime,
    /// The email CreateAccount gave it (none for the bootstrap management account).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    email: Option<String>,
}

/// Runs one write job and waits for its durable commit (for start-up and admin calls;
/// the request path awaits asynchronously instead).
pub fn write_blocking<T: Send + 'static>(
    store: &dyn Store,
    f: impl FnOnce(&mut dyn WriteTx) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let (result_tx, result_rx) = mpsc::sync_channel::<Result<T, ApiError>>(1);
    let (done_tx, done_rx) = mpsc::sync_channel::<Result<(), StoreError>>(1);
    store.submit(
        Box::new(move |tx| {
            let r = f(tx);
            let failed = r.is_err();
            let _ = result_tx.send(r);
            if failed {
                Err(StoreError::Other("job failed".into()))
            } else {
                Ok(())
            }
        }),
        Box::new(move |r| {
            let _ = done_tx.send(r);
        }),
    );
    let committed = done_rx
        .recv()
        .map_err(|_| ApiError::internal("writer stopped"))?;
    let result = result_rx
        .recv()
        .map_err(|_| ApiError::internal("write job did not run"))?;
    let value = result?;
    committed?;
    Ok(value)
}

/// Loads the bootstrap record, or creates the management account and its root key.
pub fn bootstrap(
    store: &dyn Store,
    master: &Arc<MasterKey>,
    account_id: &str,
    root_key: Option<(String, String)>,
) -> Result<Bootstrap, ApiError> {
    if let Some(rec) = bootstrap_record(store)? {
        backfill_root_key(store, master, &rec)?;
        return Ok(Bootstrap {
            account_id: rec.management_account,
            root_access_key_id: rec.root_access_key_id,
            generated_secret: None,
        });
    }
    let (akid, secret, generated) = match root_key {
        Some((a, s)) => (a, s, false),
        None => (
            credentials::new_access_key_id(false, account_id)?,
            credentials::new_secret_access_key()?,
            true,
        ),
    };
    let master = master.clone();
    let (acct, ak, sk) = (account_id.to_owned(), akid.clone(), secret.clone());
    write_blocking(store, move |tx| {
        write_initial_state(tx, &master, &acct, &ak, &sk, OffsetDateTime::now_utc())
            .map_err(ApiError::from)
    })?;
    Ok(Bootstrap {
        account_id: account_id.to_owned(),
        root_access_key_id: akid,
        generated_secret: generated.then_some(secret),
    })
}

fn write_initial_state(
    tx: &mut dyn WriteTx,
    master: &MasterKey,
    account_id: &str,
    akid: &str,
    secret: &str,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let account = AccountRecord {
        id: account_id.to_owned(),
        name: "management".to_owned(),
        status: "ACTIVE".to_owned(),
        created: now,
        email: None,
    };
    let to_vec = |v: &dyn erased_serde::Serialize| {
        serde_json::to_vec(v).map_err(|e| StoreError::Other(e.to_string()))
    };
    tx.put(&keyspace::account(account_id), &to_vec(&account)?)?;
    credentials::put_credential(
        tx,
        master,
        &Credential {
            principal: Principal::root(account_id, akid),
            secret_access_key: secret.to_owned(),
            active: true,
            session_token: None,
            expiration: None,
        },
        now,
    )?;
    crate::iam::access_keys::put_root_key_record(tx, account_id, akid, now)
        .map_err(|e| StoreError::Other(e.to_string()))?;
    let rec = BootstrapRecord {
        management_account: account_id.to_owned(),
        root_access_key_id: akid.to_owned(),
        sealed_root_secret: Some(seal_root_secret(master, akid, secret)?),
    };
    // Nothing scheduled yet: every scheduler index is complete, and no policy names a
    // principal yet.
    crate::due::mark_all_complete(tx)?;
    crate::iam::principals::mark_indexed(tx)?;
    crate::iam::policies::mark_boundaries_indexed(tx)?;
    tx.put(&keyspace::meta("bootstrap"), &to_vec(&rec)?)
}

/// Wipes every account, resource and event back to a new data dir's state, keeping the
/// management account id and its root key. Returns once durable.
pub fn reset(env: &Env, root_access_key_id: &str) -> Result<(), ApiError> {
    let secret = root_secret(env, root_access_key_id)?;
    let master = env.master_key.clone();
    let account = env.management_account.clone();
    let akid = root_access_key_id.to_owned();
    write_blocking(env.store.as_ref(), move |tx| {
        tx.delete_range(&[], None)?;
        tx.log_truncate(u64::MAX)?;
        tx.appended_truncate(u64::MAX)?;
        write_initial_state(
            tx,
            &master,
            &account,
            &akid,
            &secret,
            OffsetDateTime::now_utc(),
        )?;
        Ok(())
    })?;
    env.credentials.clear();
    crate::kms::store::clear_decoded();
    crate::secrets::clear_decoded();
    env.clock.set_offset_micros(0);
    Ok(())
}

/// Loads the persisted business-clock offset into `clock`.
pub fn load_clock(store: &dyn Store, clock: &Clock) -> Result<(), ApiError> {
    let mut raw = None;
    store.read(&mut |tx| {
        raw = tx.get(&keyspace::meta("clock_offset_micros"))?;
        Ok(())
    })?;
    if let Some(raw) = raw {
        let offset = std::str::from_utf8(&raw)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
            .ok_or_else(|| ApiError::internal("bad clock offset record"))?;
        clock.set_offset_micros(offset);
    }
    Ok(())
}

/// Moves the business clock and persists the new offset.
pub fn set_clock(env: &Env, offset_micros: i64) -> Result<(), ApiError> {
    write_blocking(env.store.as_ref(), move |tx| {
        tx.put(
            &keyspace::meta("clock_offset_micros"),
            offset_micros.to_string().as_bytes(),
        )?;
        Ok(())
    })?;
    env.clock.set_offset_micros(offset_micros);
    Ok(())
}

/// Writes a new account's record (AWS Organizations CreateAccount): ACTIVE, with its own
/// root but no root credentials.
pub fn create_account_record(
    tx: &mut dyn WriteTx,
    account_id: &str,
    name: &str,
    email: &str,
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    let account = AccountRecord {
        id: account_id.to_owned(),
        name: name.to_owned(),
        status: "ACTIVE".to_owned(),
        created: now,
        email: Some(email.to_owned()),
    };
    let raw = serde_json::to_vec(&account).map_err(ApiError::internal)?;
    tx.put(&keyspace::account(account_id), &raw)?;
    Ok(())
}

fn account_record(
    tx: &dyn palisade_store::ReadTx,
    account_id: &str,
) -> Result<Option<AccountRecord>, ApiError> {
    match tx.get(&keyspace::account(account_id))? {
        Some(raw) => serde_json::from_slice(&raw)
            .map(Some)
            .map_err(ApiError::internal),
        None => Ok(None),
    }
}

/// An account's name, when the account exists.
pub fn account_name(
    tx: &dyn palisade_store::ReadTx,
    account_id: &str,
) -> Result<Option<String>, ApiError> {
    Ok(account_record(tx, account_id)?.map(|r| r.name))
}

/// The email an account was created with, when Organizations created it.
pub fn account_email(
    tx: &dyn palisade_store::ReadTx,
    account_id: &str,
) -> Result<Option<String>, ApiError> {
    Ok(account_record(tx, account_id)?.and_then(|r| r.email))
}
