//! The shared state every operation runs against.

use crate::{authz::Authorizer, clock::Clock, credentials::CredentialCache};
use palisade_store::{seal::MasterKey, Store};
use std::sync::Arc;

pub struct Env {
    pub store: Arc<dyn Store>,
    pub master_key: Arc<MasterKey>,
    pub clock: Clock,
    pub credentials: CredentialCache,
    pub authorizer: Box<dyn Authorizer>,
    /// The management account's id (fixed for the life of the data dir).
    pub management_account: String,
}

/// Unit-test environments.
#[cfg(test)]
#[allow(clippy::expect_used)]
pub(crate) mod testing {
    use super::*;
    use crate::authz::RootOnly;
    use palisade_store::sqlite::SqliteStore;

    /// An [`Env`] over a new data dir in a temporary directory, with root-only
    /// authorization. The directory is removed when this is dropped.
    pub(crate) struct TestEnv {
        // Dropped before the directory (fields drop in order).
        pub env: Arc<Env>,
        _dir: tempfile::TempDir,
    }

    impl std::ops::Deref for TestEnv {
        type Target = Arc<Env>;
        fn deref(&self) -> &Arc<Env> {
            &self.env
        }
    }

    /// A request by `account`'s root user in us-east-1 at `now`.
    pub(crate) fn root_ctx(account: &str, now: time::OffsetDateTime) -> crate::RequestContext {
        crate::RequestContext {
            request_id: "r".into(),
            principal: crate::context::Principal::root(account, "AKIAROOT"),
            region: "us-east-1".into(),
            source_ip: "127.0.0.1".into(),
            user_agent: "t".into(),
            now,
            secure_transport: false,
            invoked: Default::default(),
        }
    }

    pub(crate) fn test_env(management_account: &str) -> TestEnv {
        let dir = tempfile::Builder::new()
            .prefix("palisade-unit-")
            .tempdir()
            .expect("temp dir");
        let master_key = Arc::new(MasterKey::load_or_create(dir.path()).expect("master key"));
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(&dir.path().join("db.sqlite"), Default::default()).expect("store"),
        );
        TestEnv {
            env: Arc::new(Env {
                store,
                master_key,
                clock: Clock::default(),
                credentials: CredentialCache::default(),
                authorizer: Box::new(RootOnly),
                management_account: management_account.into(),
            }),
            _dir: dir,
        }
    }
}
