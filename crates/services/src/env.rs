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
