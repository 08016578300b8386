//! Who is calling, from where, and when: the facts of one request that authorization,
//! the operation and the audit record share.

use time::OffsetDateTime;

/// The kind of principal a credential belongs to (CloudTrail `userIdentity.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PrincipalKind {
    Root,
    IAMUser,
    AssumedRole,
    FederatedUser,
}

impl PrincipalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::Root => "Root",
            PrincipalKind::IAMUser => "IAMUser",
            PrincipalKind::AssumedRole => "AssumedRole",
            PrincipalKind::FederatedUser => "FederatedUser",
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Principal {
    pub kind: PrincipalKind,
    pub account_id: String,
    /// `arn:aws:iam::123456789012:root`, `...:user/alex`, `arn:aws:sts::...:assumed-role/r/s`.
    pub arn: String,
    /// AWS's unique id (`AIDA...` for users, `AROA...:session` for roles, the account id
    /// for root): GetCallerIdentity's `UserId`, CloudTrail's `principalId`.
    pub principal_id: String,
    /// The friendly name CloudTrail shows as `Username` (`root` for the root user).
    pub user_name: String,
    pub access_key_id: String,
    /// Temporary credentials (`ASIA...`): the session they belong to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<Box<SessionContext>>,
}

/// What a temporary credential carries: who issued it, how, and what limits it.
/// Written by STS (AssumeRole*, GetSessionToken, GetFederationToken) into the credential
/// record; read by the authorizer and by CloudTrail's `sessionContext`.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct SessionContext {
    /// `Role` for assumed roles, `IAMUser` for GetSessionToken / GetFederationToken.
    pub issuer_type: String,
    /// The role ARN (assumed roles) or user ARN.
    pub issuer_arn: String,
    /// The role id (`AROA...`) or user id (`AIDA...`).
    pub issuer_id: String,
    /// The role or user name.
    pub issuer_name: String,
    /// Whether the session was created with a valid MFA code (aws:MultiFactorAuthPresent).
    pub mfa_authenticated: bool,
    /// When the credentials were issued (aws:TokenIssueTime), ISO 8601.
    pub creation_date: String,
    /// Session policies (inline document and managed policy documents), already
    /// validated; some session policy must allow, when there are any.
    #[serde(default)]
    pub policies: Vec<String>,
    /// Session tags (aws:PrincipalTag/* for the session), key -> value.
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    /// Tag keys that pass on when this session assumes another role.
    #[serde(default)]
    pub transitive_tag_keys: Vec<String>,
    #[serde(default)]
    pub source_identity: Option<String>,
    /// Role chaining: this session was made by a role session (1-hour cap).
    #[serde(default)]
    pub chained: bool,
}

impl Principal {
    pub fn root(account_id: &str, access_key_id: &str) -> Self {
        Principal {
            kind: PrincipalKind::Root,
            account_id: account_id.to_owned(),
            arn: format!("arn:aws:iam::{account_id}:root"),
            principal_id: account_id.to_owned(),
            user_name: "root".to_owned(),
            access_key_id: access_key_id.to_owned(),
            session: None,
        }
    }

    pub fn is_root(&self) -> bool {
        self.kind == PrincipalKind::Root
    }

    /// Temporary credentials from GetSessionToken: a user's (or root's) own session.
    pub fn is_session_token(&self) -> bool {
        matches!(self.kind, PrincipalKind::IAMUser | PrincipalKind::Root) && self.session.is_some()
    }

    /// Whether these credentials may call IAM at all. AWS: credentials from
    /// GetFederationToken cannot call IAM, nor can those from GetSessionToken unless the
    /// session was created with MFA; IAM then answers as to an invalid token
    /// (`InvalidClientTokenId`, "The security token included in the request is invalid").
    pub fn may_call_iam(&self) -> bool {
        match self.kind {
            PrincipalKind::FederatedUser => false,
            _ => match &self.session {
                Some(s) if self.is_session_token() => s.mfa_authenticated,
                _ => true,
            },
        }
    }
}

/// Everything known about one request before its operation runs.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub request_id: String,
    pub principal: Principal,
    /// The region of the credential scope (for global services, AWS's home region).
    pub region: String,
    pub source_ip: String,
    pub user_agent: String,
    /// The business clock's time for this request (see [`crate::clock`]).
    pub now: OffsetDateTime,
    pub secure_transport: bool,
    /// Calls made to other services on this request's behalf (CloudTrail records them
    /// beside the request's own event).
    pub invoked: InvokedCalls,
}

/// One call a service made to another for a request, as CloudTrail records it: Secrets
/// Manager's and SSM's use of KMS, logged by KMS with the caller's identity and
/// `invokedBy` the calling service.
#[derive(Debug, Clone)]
pub struct InvokedCall {
    /// The calling service, `secretsmanager.amazonaws.com`.
    pub invoked_by: String,
    /// The called service, `kms.amazonaws.com`.
    pub event_source: &'static str,
    pub event_name: &'static str,
    pub region: String,
    pub request_parameters: serde_json::Value,
    /// CloudTrail `resources` (type, ARN) and the account that owns them.
    pub resources: Vec<(String, String)>,
    pub resource_account: String,
    /// The call's error (code, message), if it failed.
    pub error: Option<(String, String)>,
    /// Whether the call only reads (CloudTrail `readOnly`).
    pub read_only: bool,
    /// CloudTrail `responseElements` of a call that changed something.
    pub response_elements: Option<serde_json::Value>,
}

/// The [`InvokedCall`]s of one request; clones share the list (a request's context copied
/// for another region still records into the request).
#[derive(Debug, Clone, Default)]
pub struct InvokedCalls(std::sync::Arc<parking_lot::Mutex<Vec<InvokedCall>>>);

impl InvokedCalls {
    pub fn push(&self, call: InvokedCall) {
        self.0.lock().push(call);
    }
    /// Forgets the calls recorded so far (an operation about to run again from the start).
    pub fn clear(&self) {
        self.0.lock().clear();
    }
    pub fn take(&self) -> Vec<InvokedCall> {
        std::mem::take(&mut *self.0.lock())
    }
}

impl RequestContext {
    /// Global condition keys AWS puts in every request context, as (key, values) pairs.
    /// Operation-specific keys are added by [`crate::AuthzCheck`].
    pub fn global_condition_keys(&self) -> Vec<(&'static str, Vec<String>)> {
        let now = self.now;
        let current_time = now
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let mut keys = vec![
            ("aws:CurrentTime", vec![current_time]),
            ("aws:EpochTime", vec![now.unix_timestamp().to_string()]),
            (
                "aws:SecureTransport",
                vec![self.secure_transport.to_string()],
            ),
            ("aws:SourceIp", vec![self.source_ip.clone()]),
            ("aws:UserAgent", vec![self.user_agent.clone()]),
            ("aws:RequestedRegion", vec![self.region.clone()]),
            // AWS: for a role session, the role's ARN (not the session's).
            (
                "aws:PrincipalArn",
                vec![match (&self.principal.kind, &self.principal.session) {
                    (PrincipalKind::AssumedRole, Some(s)) => s.issuer_arn.clone(),
                    _ => self.principal.arn.clone(),
                }],
            ),
            (
                "aws:PrincipalAccount",
                vec![self.principal.account_id.clone()],
            ),
            (
                "aws:PrincipalType",
                vec![match self.principal.kind {
                    PrincipalKind::Root => "Account".to_owned(),
                    PrincipalKind::IAMUser => "User".to_owned(),
                    PrincipalKind::AssumedRole => "AssumedRole".to_owned(),
                    PrincipalKind::FederatedUser => "FederatedUser".to_owned(),
                }],
            ),
            ("aws:userid", vec![self.principal.principal_id.clone()]),
            ("aws:ViaAWSService", vec!["false".to_owned()]),
            // Present in every signed request: false unless a service principal calls.
            ("aws:PrincipalIsAWSService", vec!["false".to_owned()]),
        ];
        if self.principal.kind == PrincipalKind::IAMUser {
            keys.push(("aws:username", vec![self.principal.user_name.clone()]));
        }
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(kind: PrincipalKind, session: Option<bool>) -> Principal {
        Principal {
            kind,
            account_id: "000000000000".into(),
            arn: String::new(),
            principal_id: String::new(),
            user_name: String::new(),
            access_key_id: String::new(),
            session: session.map(|mfa| {
                Box::new(SessionContext {
                    mfa_authenticated: mfa,
                    ..SessionContext::default()
                })
            }),
        }
    }

    #[test]
    fn iam_refuses_federation_and_session_tokens_without_mfa() {
        use PrincipalKind::*;
        for (kind, session, may) in [
            (Root, None, true),
            (IAMUser, None, true),
            (IAMUser, Some(false), false),
            (IAMUser, Some(true), true),
            (Root, Some(false), false),
            (Root, Some(true), true),
            (AssumedRole, Some(false), true),
            (FederatedUser, Some(false), false),
            (FederatedUser, Some(true), false),
        ] {
            let p = principal(kind, session);
            assert_eq!(p.may_call_iam(), may, "{kind:?} {session:?}");
            assert_eq!(
                p.is_session_token(),
                matches!(kind, Root | IAMUser) && session.is_some()
            );
        }
    }
}
