//! Start-up: the data dir, its master key and store, the first-start bootstrap, and the
//! state every request shares.

use palisade_protocol::sigv4::SigningKeyCache;
use palisade_services::{
    accounts::{self, Bootstrap},
    clock::Clock,
    credentials::CredentialCache,
    enforce::PolicyAuthorizer,
    Env,
};
use palisade_store::{
    seal::MasterKey,
    sqlite::{Durability, SqliteOptions, SqliteStore},
    Store,
};
use std::{io::Write, path::PathBuf, sync::Arc};

/// How `palisade serve` was asked to run.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: String,
    pub data_dir: PathBuf,
    /// The management account id for a new data dir.
    pub account_id: String,
    /// Root access key for a new data dir (both env vars set), else one is generated.
    pub root_key: Option<(String, String)>,
    /// When a commit is acknowledged: after fsync (`Full`, survives power loss) or after
    /// the write reaches the OS (`Normal`, survives a killed process).
    pub durability: Durability,
}

/// Why the server could not start. Printed by the binary, exit status 1.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot use data dir {0}: {1}")]
    DataDir(PathBuf, std::io::Error),
    #[error("cannot open the store: {0}")]
    Store(#[from] palisade_store::StoreError),
    #[error("cannot set up the management account: {0}")]
    Bootstrap(String),
    #[error("cannot listen on {0}: {1}")]
    Bind(String, std::io::Error),
    #[error("cannot start a background thread: {0}")]
    Thread(std::io::Error),
}

/// The state shared by every request.
pub struct App {
    pub env: Arc<Env>,
    pub signing_keys: SigningKeyCache,
    pub root_access_key_id: String,
    /// Last recorded use of each long-term key (service, region, business minute), so
    /// GetAccessKeyLastUsed is kept current without a write per request.
    pub key_use: parking_lot::Mutex<std::collections::HashMap<String, (String, String, i64)>>,
}

/// A data dir written by an earlier version: when `needed` says so, `migrate` runs in one
/// durable write job before the server starts.
fn migrate_if(
    store: &dyn palisade_store::Store,
    needed: fn(&dyn palisade_store::ReadTx) -> Result<bool, palisade_store::StoreError>,
    migrate: palisade_store::WriteFn,
) -> Result<(), palisade_store::StoreError> {
    let mut yes = false;
    store.read(&mut |tx| {
        yes = needed(tx)?;
        Ok(())
    })?;
    if yes {
        palisade_store::write_blocking(store, migrate)?;
    }
    Ok(())
}

impl App {
    pub fn open(config: &Config) -> Result<App, StartError> {
        let dir = &config.data_dir;
        create_private_dir(dir).map_err(|e| StartError::DataDir(dir.clone(), e))?;
        let master = Arc::new(MasterKey::load_or_create(dir)?);
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(
            &dir.join("palisade.db"),
            SqliteOptions {
                durability: config.durability,
                ..SqliteOptions::default()
            },
        )?);
        let boot = accounts::bootstrap(
            store.as_ref(),
            &master,
            &config.account_id,
            config.root_key.clone(),
        )
        .map_err(|e| StartError::Bootstrap(e.to_string()))?;
        if boot.account_id != config.account_id {
            tracing::warn!(
                existing = %boot.account_id,
                "the data dir already has a management account; --account-id is ignored"
            );
        }
        if let Some(secret) = &boot.generated_secret {
            write_root_credentials(dir, &boot, secret)
                .map_err(|e| StartError::DataDir(dir.clone(), e))?;
            // Printed once, on the start that created it, as the contract says.
            eprintln!(
                "palisade: created account {} with root access key {} (secret {}); saved to {} as profile palisade-root",
                boot.account_id,
                boot.root_access_key_id,
                secret,
                dir.join("root-credentials").display()
            );
        }
        migrate_if(
            store.as_ref(),
            palisade_services::audit::legacy_events_present,
            Box::new(|tx| {
                let moved = palisade_services::audit::migrate_legacy_events(tx)?;
                tracing::info!(events = moved, "moved CloudTrail events to the event log");
                Ok(())
            }),
        )?;
        migrate_if(
            store.as_ref(),
            palisade_services::iam::principals::needs_indexing,
            Box::new(|tx| {
                let n = palisade_services::iam::principals::index_existing(tx)
                    .map_err(|e| palisade_store::StoreError::Other(e.message))?;
                tracing::debug!(policies = n, "indexed the principals of stored policies");
                Ok(())
            }),
        )?;
        migrate_if(
            store.as_ref(),
            palisade_services::iam::policies::boundaries_need_indexing,
            Box::new(|tx| {
                let n = palisade_services::iam::policies::index_boundaries(tx)
                    .map_err(|e| palisade_store::StoreError::Other(e.message))?;
                tracing::debug!(boundaries = n, "indexed the permissions boundaries in use");
                Ok(())
            }),
        )?;
        palisade_services::due::ensure(store.as_ref())
            .map_err(|e| StartError::Bootstrap(e.to_string()))?;
        let clock = Clock::default();
        accounts::load_clock(store.as_ref(), &clock)
            .map_err(|e| StartError::Bootstrap(e.to_string()))?;
        let env = Env {
            store: store.clone(),
            master_key: master,
            clock,
            credentials: CredentialCache::default(),
            authorizer: Box::new(PolicyAuthorizer::new(store.clone())),
            management_account: boot.account_id.clone(),
        };
        Ok(App {
            env: Arc::new(env),
            signing_keys: SigningKeyCache::default(),
            root_access_key_id: boot.root_access_key_id,
            key_use: parking_lot::Mutex::new(std::collections::HashMap::new()),
        })
    }

    /// Commits what is queued and stops the writer.
    pub fn shutdown(&self) {
        self.env.store.shutdown();
    }
}

fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

fn write_root_credentials(
    dir: &std::path::Path,
    boot: &Bootstrap,
    secret: &str,
) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join("root-credentials");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)?;
    write!(
        f,
        "[palisade-root]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
        boot.root_access_key_id, secret
    )?;
    f.sync_all()
}
