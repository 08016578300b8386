//! The authorization interface between the request pipeline and the policy engine.
//!
//! Each operation lists its [`AuthzCheck`]s; the pipeline asks the [`Authorizer`] about
//! every one before the operation may read or change state. The authorizer gathers the
//! policies that apply (identity, group, boundary, session, resource, organization) and
//! asks the policy engine.

use crate::context::{Principal, RequestContext};

/// One permission a call needs: an IAM action on one resource, with the condition keys
/// only this operation knows (e.g. `kms:EncryptionContext:...`).
#[derive(Debug, Clone)]
pub struct AuthzCheck {
    /// `service:Action`, e.g. `iam:CreateUser`.
    pub action: String,
    /// The resource ARN (`*` for actions without a resource type).
    pub resource: String,
    /// The account that owns the resource (cross-account rules apply when it differs).
    pub resource_account: Option<String>,
    /// Operation-specific condition keys.
    pub context: Vec<(String, Vec<String>)>,
    /// Whether the authorizer matches policies against the resource's real ARN when
    /// `resource` names it otherwise (a name without its path or suffix, an alias). False
    /// for a resource being created or renamed to: it is authorized as named.
    pub resolve: bool,
    /// The error a denial of this check answers, where the service words it otherwise
    /// than AccessDenied (Organizations' AccessDeniedForDependencyException for the
    /// service-linked role it creates).
    pub denied_as: Option<crate::error::ApiError>,
}

/// Note on a `kms:RetireGrant` check: the grant names the caller (its retiring principal,
/// or its grantee when it allows RetireGrant), which allows retiring it unless a policy
/// explicitly denies.
pub const NAMED_IN_GRANT: &str = "palisade:NamedInGrant";

/// Note on a `kms:RetireGrant` check: the grant's retiring principal is the caller's
/// account, which delegates with its own IAM policies (AWS KMS guide, "Retiring and
/// revoking grants").
pub const RETIRE_DELEGATED: &str = "palisade:RetireDelegatedByAccount";

impl AuthzCheck {
    pub fn new(action: impl Into<String>, resource: impl Into<String>) -> Self {
        AuthzCheck {
            action: action.into(),
            resource: resource.into(),
            resource_account: None,
            context: Vec::new(),
            resolve: true,
            denied_as: None,
        }
    }

    /// Attaches a note for the authorizer: a `palisade:` key in `context`, which the
    /// request context never shows to policies.
    pub fn note(&mut self, key: &'static str, value: impl Into<String>) {
        debug_assert!(key.starts_with("palisade:"));
        self.context.push((key.to_owned(), vec![value.into()]));
    }

    /// The value of a note ([`AuthzCheck::note`]).
    pub fn noted(&self, key: &str) -> Option<&str> {
        self.context
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.first())
            .map(String::as_str)
    }

    /// For a resource being created or renamed to (see `resolve`).
    pub fn naming_new(mut self) -> Self {
        self.resolve = false;
        self
    }
}

/// The condition keys of a request that sets tags: `aws:RequestTag/KEY` for each tag and
/// `aws:TagKeys` (none without tags).
pub fn request_tags<'a>(
    tags: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Vec<(String, Vec<String>)> {
    let mut keys = Vec::new();
    let mut names = Vec::new();
    for (k, v) in tags {
        keys.push((format!("aws:RequestTag/{k}"), vec![v.to_owned()]));
        names.push(k.to_owned());
    }
    if !names.is_empty() {
        keys.push(("aws:TagKeys".to_owned(), names));
    }
    keys
}

/// A resource's tags as condition keys: `aws:ResourceTag/KEY` and, when the service has
/// its own, `SERVICE:ResourceTag/KEY` (`iam:`, `secretsmanager:`; SSM spells it
/// `ssm:resourceTag/KEY`).
pub fn resource_tags<'a>(
    service_key: Option<&str>,
    tags: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Vec<(String, Vec<String>)> {
    let mut keys = Vec::new();
    for (k, v) in tags {
        keys.push((format!("aws:ResourceTag/{k}"), vec![v.to_owned()]));
        if let Some(prefix) = service_key {
            keys.push((format!("{prefix}/{k}"), vec![v.to_owned()]));
        }
    }
    keys
}

/// The verdict on one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthzDecision {
    Allow,
    /// Denied, with AWS's message (`User: ... is not authorized to perform: ...`).
    Deny {
        message: String,
    },
}

/// Decides checks. Implementations must not fail: anything they cannot evaluate is a
/// denial.
pub trait Authorizer: Send + Sync {
    fn authorize(&self, check: &AuthzCheck, ctx: &RequestContext) -> AuthzDecision;
    /// The request context `check` is evaluated in (global and principal keys, the
    /// principal's tags and organization), for a policy an operation evaluates itself
    /// (KMS's policy lockout safety check evaluates the policy being set).
    fn request_context(
        &self,
        check: &AuthzCheck,
        ctx: &RequestContext,
    ) -> Result<palisade_policy::Context, crate::ApiError> {
        Ok(crate::enforce::context_for(check, ctx, &[]))
    }
    /// Called after every committed change that can alter a decision (IAM writes,
    /// reset): cached policies must not be used after it returns.
    fn invalidate(&self) {}
}

/// The authorizer until IAM principals exist: an account's root user may do everything in
/// its own account, and nobody else anything.
#[derive(Debug, Default)]
pub struct RootOnly;

impl Authorizer for RootOnly {
    fn authorize(&self, check: &AuthzCheck, ctx: &RequestContext) -> AuthzDecision {
        let own_account = check
            .resource_account
            .as_deref()
            .is_none_or(|a| a == ctx.principal.account_id);
        if ctx.principal.is_root() && own_account {
            AuthzDecision::Allow
        } else {
            AuthzDecision::Deny {
                message: denial_message(&ctx.principal, check),
            }
        }
    }
}

/// AWS's denial when no identity-based policy allows the check (the policy engine's
/// wording, STS's included).
pub fn denial_message(principal: &Principal, check: &AuthzCheck) -> String {
    palisade_policy::access_denied_message(
        &principal.arn,
        &check.action,
        &check.resource,
        palisade_policy::DenialReason::NoAllow(palisade_policy::PolicyKind::Identity),
    )
}
