//! AWS services as plain Rust: one module per service, each with an `enum Operation`
//! (one variant per API action) and one function per operation from a typed input to a
//! typed output or the service's error.
//!
//! Invariants:
//! - No HTTP types here. Inputs arrive as [`Input`] (already authenticated, still untyped
//!   wire data), outputs leave as serde values the server encodes for the wire.
//! - Every operation names the IAM action, resources and condition keys it needs
//!   ([`Operation::authz`]) before it runs; the server authorizes first, and only then
//!   lets the operation read or change state.
//! - State lives only in the store ([`palisade_store`]); the in-memory caches here are
//!   derived from it and invalidated by the writes that change it.

pub mod accounts;
pub mod audit;
pub mod authz;
pub mod clock;
pub mod cloudtrail;
pub mod context;
pub mod credentials;
pub mod decoded;
pub mod due;
pub mod enforce;
pub mod env;
pub mod error;
pub mod iam;
pub mod input;
pub mod keyspace;
pub mod kms;
pub mod model_checks;
pub mod organizations;
pub mod registry;
pub mod scheduler;
pub mod secrets;
pub mod service_models;
pub mod ssm;
pub mod sts;

pub use authz::{Authorizer, AuthzCheck, AuthzDecision};
pub use context::{Principal, PrincipalKind, RequestContext};
pub use env::Env;
pub use error::ApiError;
pub use input::Input;
pub use registry::{Protocol, ServiceInfo};

use palisade_store::{ReadTx, WriteTx};

/// What one decoded API call is, independent of its service.
pub trait Operation: Send + Sync + 'static {
    /// The API action name (`GetCallerIdentity`), also CloudTrail's `eventName`.
    fn name(&self) -> &'static str;
    /// Read-only calls run on a snapshot; only their audit record goes to the writer.
    fn read_only(&self) -> bool;
    /// CloudTrail's `readOnly` for this call (AWS marks some mutating calls read-only,
    /// e.g. STS AssumeRole).
    fn audit_read_only(&self) -> bool {
        self.read_only()
    }
    /// Whether a read-only call looks at stored state at all (GetCallerIdentity does not:
    /// it answers from the authenticated principal).
    fn reads_state(&self) -> bool {
        true
    }
    /// For a mutating call that usually changes nothing (GetSecretValue moves
    /// LastAccessedDate once a day): the pipeline first calls
    /// [`Operation::read_if_unchanged`] on a snapshot, and runs the call as a write only
    /// when that returns `None`.
    fn reads_first(&self) -> bool {
        false
    }
    /// The call's answer from a snapshot when it would write nothing, else `None`. Only
    /// called when [`Operation::reads_first`] is true.
    fn read_if_unchanged(
        &self,
        tx: &dyn ReadTx,
        env: &Env,
        ctx: &RequestContext,
    ) -> Option<Result<Reply, ApiError>> {
        let _ = (tx, env, ctx);
        None
    }
    /// A refusal that depends only on the caller's credentials, made before authorization
    /// (AWS answers it whatever the policies say: e.g. STS refuses GetSessionToken to
    /// session credentials). Recorded in CloudTrail like a denial.
    fn precheck(&self, ctx: &RequestContext) -> Result<(), ApiError> {
        let _ = ctx;
        Ok(())
    }
    /// The authorization checks this call needs; empty when AWS requires no permission.
    fn authz(&self, ctx: &RequestContext) -> Vec<AuthzCheck>;
    /// CloudTrail `requestParameters`, with secrets redacted as AWS does.
    fn request_parameters(&self) -> Option<serde_json::Value>;
    /// Runs a read-only call. Only called when [`Operation::read_only`] is true.
    fn read(&self, tx: &dyn ReadTx, env: &Env, ctx: &RequestContext) -> Result<Reply, ApiError> {
        let _ = (tx, env, ctx);
        Err(ApiError::internal("read() on a mutating operation"))
    }
    /// Runs a mutating call inside the write transaction that also records its event.
    fn write(
        &self,
        tx: &mut dyn WriteTx,
        env: &Env,
        ctx: &RequestContext,
    ) -> Result<Reply, ApiError> {
        let _ = (tx, env, ctx);
        Err(ApiError::internal("write() on a read-only operation"))
    }
}

/// The typed result of an operation, ready to be encoded for any protocol.
pub struct Reply {
    /// The output shape; `None` for operations without output members.
    pub output: Option<Box<dyn erased_serde::Serialize + Send>>,
    /// CloudTrail `responseElements` (`None` is recorded as null, as AWS does for reads).
    pub response_elements: Option<serde_json::Value>,
    /// CloudTrail `resources` for the event (type, ARN).
    pub resources: Vec<(String, String)>,
}

impl Reply {
    pub fn new<T: serde::Serialize + Send + 'static>(output: T) -> Self {
        Reply {
            output: Some(Box::new(output)),
            response_elements: None,
            resources: Vec::new(),
        }
    }
    pub fn empty() -> Self {
        Reply {
            output: None,
            response_elements: None,
            resources: Vec::new(),
        }
    }
}
