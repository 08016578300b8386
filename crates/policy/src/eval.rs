//! Request evaluation: AWS's policy evaluation logic over every policy type.
//!
//! The rules, and where AWS documents them (IAM User Guide, "Policy evaluation logic",
//! "How AWS enforcement code logic evaluates requests to allow or deny access", and
//! "Cross-account policy evaluation logic"):
//!
//! 1. An explicit `Deny` in any applicable policy (SCP, RCP, resource-based,
//!    identity-based, permissions boundary, session) is final.
//! 2. RCPs and SCPs: when present, *every* level from the organization root down to the
//!    account must have an applicable `Allow` ("If the enforcement code does not find any
//!    applicable Allow statements in the SCPs, the request is implicitly denied"). An empty
//!    list of levels means no organization.
//! 3. Resource-based policy, same account: "Depending on the type of principal, an Allow in
//!    a resource-based policy can result in a final decision of Allow, even if an implicit
//!    deny in an identity-based policy, permissions boundary, or session policy is
//!    present." A grant naming the caller's own ARN (IAM user, assumed-role session,
//!    federated user session, or `*`) is final. A grant naming the *role* ARN for a role
//!    session is limited by an implicit deny in a permissions boundary or session policy
//!    (see "Identity-based policies with resource-based policies" and the role flow chart).
//!    A grant to the account (`123456789012` or `:root`) only delegates to the account's
//!    identity-based policies.
//! 4. Role trust policies and KMS key policies are the exception: they "must explicitly
//!    allow access for principals" (the resource policy must grant; when it grants to the
//!    account root, the identity-based policies decide, KMS "Allows access to the AWS
//!    account and enables IAM policies").
//! 5. Cross-account: the identity side (identity policy, boundary, session policy) *and* the
//!    resource-based policy of the other account must both allow.
//! 6. Identity side: some identity-based policy allows, and the permissions boundary (if
//!    any) allows, and the session policies (if any) allow. The account root user is not
//!    subject to identity-based policies in its own account.
//!
//! Evaluation never fails: it returns an [`Evaluation`] with the decision, the statements
//! that applied, and a [`DenialReason`] from which [`access_denied_message`] renders AWS's
//! AccessDenied message.

use crate::condition::Condition;
use crate::context::Context;
use crate::pattern::{split_arn, ArnPattern, Subject};
use crate::policy::{
    Effect, Policy, PolicyKind, PrincipalEntry, PrincipalSpec, ResourceItem, Statement,
};
use crate::variables::Unresolved;
use std::fmt;
use std::sync::Arc;

/// The request being authorized.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The caller: an IAM user / role / assumed-role session / federated user ARN, an
    /// account root ARN, or a service principal such as `cloudtrail.amazonaws.com`.
    pub principal: &'a str,
    /// The caller's account; `None` for service principals.
    pub principal_account: Option<&'a str>,
    /// `service:Action`, e.g. `s3:GetObject`.
    pub action: &'a str,
    /// The resource ARN (or `*` for actions without a resource).
    pub resource: &'a str,
    /// The account owning the resource; `None` means the caller's account.
    pub resource_account: Option<&'a str>,
    /// Every condition key of the request (the engine derives none).
    pub context: &'a Context,
}

/// What the resource-based policy is; trust and key policies change the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourcePolicyType {
    /// Bucket, secret, queue, topic... policy: a same-account grant alone may suffice.
    Standard,
    /// A KMS key policy: it must allow, directly or by delegating to the account.
    KmsKey,
    /// A role trust policy (for `sts:AssumeRole*`): it must allow.
    RoleTrust,
}

/// The resource's own policy.
#[derive(Debug, Clone, Copy)]
pub struct ResourcePolicy<'a> {
    pub policy: &'a Policy,
    pub kind: ResourcePolicyType,
}

/// Every policy that applies to a request.
#[derive(Debug, Clone, Copy, Default)]
pub struct PolicySet<'a> {
    /// Identity-based policies of the caller (user + groups, or role), managed and inline.
    pub identity: &'a [Policy],
    /// The resource's policy, if it has one.
    pub resource: Option<ResourcePolicy<'a>>,
    /// The caller's permissions boundary.
    pub permissions_boundary: Option<&'a Policy>,
    /// Session policies (inline and managed) of a role or federated session; together
    /// they form one filter: some session policy must allow.
    pub session: &'a [Policy],
    /// SCPs per level, organization root first, the caller's account last. Empty: no
    /// organization (or the management account, which SCPs do not restrict).
    pub scps: &'a [Vec<Policy>],
    /// RCPs per level for the resource's account. Empty: none.
    pub rcps: &'a [Vec<Policy>],
}

/// The final decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    Allowed,
    ExplicitDeny,
    ImplicitDeny,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allowed => "allowed",
            Decision::ExplicitDeny => "explicitDeny",
            Decision::ImplicitDeny => "implicitDeny",
        }
    }
    pub fn is_allowed(self) -> bool {
        self == Decision::Allowed
    }
}

/// Where a statement came from, printed as in the `policy eval` request
/// (`identity_policies[0]`, `scps[1][0]`, `resource_policy`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicySource {
    Identity(usize),
    Resource,
    PermissionsBoundary,
    Session(usize),
    Scp { level: usize, index: usize },
    Rcp { level: usize, index: usize },
}

impl PolicySource {
    pub fn kind(self) -> PolicyKind {
        match self {
            PolicySource::Identity(_) => PolicyKind::Identity,
            PolicySource::Resource => PolicyKind::Resource,
            PolicySource::PermissionsBoundary => PolicyKind::PermissionsBoundary,
            PolicySource::Session(_) => PolicyKind::Session,
            PolicySource::Scp { .. } => PolicyKind::ServiceControl,
            PolicySource::Rcp { .. } => PolicyKind::ResourceControl,
        }
    }
}

impl fmt::Display for PolicySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicySource::Identity(i) => write!(f, "identity_policies[{i}]"),
            PolicySource::Resource => f.write_str("resource_policy"),
            PolicySource::PermissionsBoundary => f.write_str("permissions_boundary"),
            PolicySource::Session(i) => write!(f, "session_policies[{i}]"),
            PolicySource::Scp { level, index } => write!(f, "scps[{level}][{index}]"),
            PolicySource::Rcp { level, index } => write!(f, "rcps[{level}][{index}]"),
        }
    }
}

/// A statement that applied to the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedStatement {
    pub source: PolicySource,
    /// Index of the statement in its policy.
    pub statement: usize,
    pub sid: Option<Arc<str>>,
    pub effect: Effect,
}

/// Why a request was denied: which policy type denied, explicitly or by not allowing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DenialReason {
    /// A `Deny` statement of this policy type applied.
    ExplicitDeny(PolicyKind),
    /// No policy of this type allowed (for SCPs/RCPs: at some level).
    NoAllow(PolicyKind),
}

/// A condition that failed in a statement that otherwise applied (recorded only by
/// [`evaluate_traced`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionFailure {
    pub source: PolicySource,
    pub statement: usize,
    pub sid: Option<Arc<str>>,
    pub effect: Effect,
    pub operator: String,
    pub key: String,
    pub policy_values: Vec<String>,
    /// `None` when the key is absent from the request.
    pub request_values: Option<Vec<String>>,
}

/// The answer. Never an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub decision: Decision,
    /// Statements that applied, allow and deny, in input order.
    pub matched: Vec<MatchedStatement>,
    /// Set when the decision is a denial.
    pub reason: Option<DenialReason>,
    /// Conditions that kept statements from applying (only with [`evaluate_traced`]).
    pub condition_failures: Vec<ConditionFailure>,
}

impl Evaluation {
    /// AWS's AccessDenied message for this denial (`None` when allowed).
    pub fn denial_message(&self, request: &Request<'_>) -> Option<String> {
        self.reason
            .map(|r| access_denied_message(request.principal, request.action, request.resource, r))
    }
}

/// Renders AWS's AccessDenied message, e.g. `User: arn:aws:iam::000000000000:user/alex is
/// not authorized to perform: iam:ListUsers on resource: arn:aws:iam::000000000000:user/
/// because no identity-based policy allows the iam:ListUsers action`.
pub fn access_denied_message(
    principal: &str,
    action: &str,
    resource: &str,
    reason: DenialReason,
) -> String {
    let article = |k: PolicyKind| match k {
        PolicyKind::Identity => "an",
        _ => "a",
    };
    match reason {
        DenialReason::ExplicitDeny(k) => format!(
            "User: {principal} is not authorized to perform: {action} on resource: {resource} with an explicit deny in {} {k}",
            article(k)
        ),
        // STS states no reason when nothing allows the call ("... is not authorized to
        // perform: sts:AssumeRole on resource: arn:aws:iam::...:role/x", as STS callers
        // report it), where the other services name the policy type.
        DenialReason::NoAllow(_) if is_sts(action) => format!(
            "User: {principal} is not authorized to perform: {action} on resource: {resource}"
        ),
        DenialReason::NoAllow(k) => format!(
            "User: {principal} is not authorized to perform: {action} on resource: {resource} because no {k} allows the {action} action"
        ),
    }
}

/// An STS action (`sts:AssumeRole`, ...): its denials name no reason.
pub fn is_sts(action: &str) -> bool {
    action
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("sts:"))
}

/// Evaluates a request. Never fails.
pub fn evaluate(request: &Request<'_>, policies: &PolicySet<'_>) -> Evaluation {
    evaluate_impl(request, policies, None)
}

/// Like [`evaluate`], and also records every condition that failed in a statement whose
/// action, resource and principal matched. Slower; for explanations and logs.
pub fn evaluate_traced(request: &Request<'_>, policies: &PolicySet<'_>) -> Evaluation {
    let mut trace = Vec::new();
    let mut ev = evaluate_impl(request, policies, Some(&mut trace));
    ev.condition_failures = trace;
    ev
}

/// How a resource-based statement's principal matched the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Grant {
    /// Through the caller's account (delegation to identity-based policies).
    Account,
    /// Through the role ARN of the caller's role session.
    RoleArn,
    /// The caller itself (its ARN, `*`, its service name).
    Direct,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallerKind<'a> {
    User,
    Role {
        name: &'a str,
    },
    Session {
        role: &'a str,
    },
    Root,
    /// Service principal or other non-ARN principal.
    Service,
    OtherArn,
}

#[derive(Debug, Clone, Copy)]
struct Caller<'a> {
    arn: &'a str,
    account: Option<&'a str>,
    kind: CallerKind<'a>,
    has_boundary: bool,
}

impl<'a> Caller<'a> {
    fn new(principal: &'a str, account: Option<&'a str>) -> Caller<'a> {
        let Some([_, _, service, _, arn_account, res]) = split_arn(principal) else {
            return Caller {
                arn: principal,
                account,
                kind: CallerKind::Service,
                has_boundary: false,
            };
        };
        let kind = match service {
            "iam" if res == "root" => CallerKind::Root,
            "iam" if res.starts_with("user/") => CallerKind::User,
            "iam" if res.starts_with("role/") => CallerKind::Role {
                name: res.rsplit('/').next().unwrap_or(res),
            },
            "sts" if res.starts_with("assumed-role/") => CallerKind::Session {
                role: res.split('/').nth(1).unwrap_or(""),
            },
            _ => CallerKind::OtherArn,
        };
        let account = account.or(Some(arn_account).filter(|a| !a.is_empty()));
        Caller {
            arn: principal,
            account,
            kind,
            has_boundary: false,
        }
    }

    /// How `entry` (in `Principal`) matches this caller.
    fn grant(&self, entry: &PrincipalEntry) -> Option<Grant> {
        match entry {
            PrincipalEntry::Any => Some(Grant::Direct),
            PrincipalEntry::Account(a) => {
                if self.account != Some(a.as_str()) || self.kind == CallerKind::Service {
                    None
                } else if self.kind == CallerKind::Root {
                    Some(Grant::Direct)
                } else {
                    Some(Grant::Account)
                }
            }
            PrincipalEntry::Role { account, name, arn } => {
                // A role ARN in Principal matches every session of the role (AWS:
                // "Role sessions ... you can specify the role ARN as principal").
                let same_role = match self.kind {
                    CallerKind::Session { role } | CallerKind::Role { name: role } => {
                        role == name && self.account == Some(account.as_str())
                    }
                    _ => false,
                };
                (same_role || self.arn == arn).then_some(Grant::RoleArn)
            }
            PrincipalEntry::Arn(a) => (self.arn == a).then_some(Grant::Direct),
            PrincipalEntry::Service(s) => self.arn.eq_ignore_ascii_case(s).then_some(Grant::Direct),
            PrincipalEntry::Federated(f) | PrincipalEntry::CanonicalUser(f) => {
                (self.arn == f).then_some(Grant::Direct)
            }
        }
    }

    /// `NotPrincipal`: AWS treats the caller as all of its identities: the session, its
    /// role, and its account. The statement applies unless *every* one is listed ("When you
    /// use NotPrincipal with Deny, you must also specify the account ARN ... and for an
    /// assumed-role session, the role and the session", IAM User Guide, NotPrincipal).
    fn excluded_by(&self, entries: &[PrincipalEntry]) -> bool {
        let listed = |pred: &dyn Fn(&PrincipalEntry) -> bool| entries.iter().any(pred);
        let self_listed = listed(&|e| match e {
            PrincipalEntry::Any => true,
            PrincipalEntry::Arn(a) => a == self.arn,
            PrincipalEntry::Role { arn, .. } => arn == self.arn,
            PrincipalEntry::Service(s) => self.arn.eq_ignore_ascii_case(s),
            PrincipalEntry::Federated(f) | PrincipalEntry::CanonicalUser(f) => f == self.arn,
            PrincipalEntry::Account(a) => {
                self.kind == CallerKind::Root && self.account == Some(a.as_str())
            }
        });
        if !self_listed {
            return false;
        }
        if let CallerKind::Session { role } = self.kind {
            let role_listed = listed(&|e| match e {
                PrincipalEntry::Any => true,
                PrincipalEntry::Role { account, name, .. } => {
                    name == role && self.account == Some(account.as_str())
                }
                _ => false,
            });
            if !role_listed {
                return false;
            }
        }
        match (self.kind, self.account) {
            (CallerKind::Service, _) | (_, None) => true,
            (_, Some(acct)) => listed(&|e| match e {
                PrincipalEntry::Any => true,
                PrincipalEntry::Account(a) => a == acct,
                _ => false,
            }),
        }
    }

    fn principal_grant(&self, spec: &PrincipalSpec, effect: Effect) -> Option<Grant> {
        if spec.negated {
            // AWS (NotPrincipal): "Deny statements with NotPrincipal will always deny" any
            // IAM principal that has a permissions boundary attached.
            if effect == Effect::Deny && self.has_boundary {
                return Some(Grant::Direct);
            }
            return (!self.excluded_by(&spec.entries)).then_some(Grant::Direct);
        }
        spec.entries.iter().filter_map(|e| self.grant(e)).max()
    }
}

struct Scan<'r, 'a> {
    req: &'r Request<'a>,
    resource: Subject<'a>,
    /// The action, lowercased, and its service prefix, for the statement index.
    action_lower: &'r str,
    service_lower: &'r str,
    caller: Caller<'a>,
    matched: Vec<MatchedStatement>,
    trace: Option<&'r mut Vec<ConditionFailure>>,
}

/// What one policy said.
#[derive(Debug, Default, Clone, Copy)]
struct Outcome {
    deny: bool,
    allow: Option<Grant>,
}

impl Outcome {
    fn merge(&mut self, o: Outcome) {
        self.deny |= o.deny;
        self.allow = self.allow.max(o.allow);
    }
}

impl Scan<'_, '_> {
    fn policy(&mut self, policy: &Policy, source: PolicySource) -> Outcome {
        let mut out = Outcome::default();
        let statements = policy.statements();
        for i in policy.candidates(self.action_lower, self.service_lower) {
            let Some(st) = statements.get(i) else {
                continue;
            };
            if let Some(grant) = self.statement(st, source, i) {
                self.matched.push(MatchedStatement {
                    source,
                    statement: i,
                    sid: st.sid.clone(),
                    effect: st.effect,
                });
                match st.effect {
                    Effect::Deny => out.deny = true,
                    Effect::Allow => out.allow = out.allow.max(Some(grant)),
                }
            }
        }
        out
    }

    fn statement(&mut self, st: &Statement, source: PolicySource, index: usize) -> Option<Grant> {
        if !st.action.matches(self.req.action) {
            return None;
        }
        if let Some(res) = &st.resource {
            let mut any = false;
            for item in &res.items {
                let m = match item {
                    ResourceItem::Static(p) => p.matches(&self.resource),
                    ResourceItem::Template(t) => match t.render_toks(self.req.context, false) {
                        Ok(toks) => ArnPattern::from_toks(toks).matches(&self.resource),
                        // A variable with no value: this ARN matches nothing; the list's
                        // other ARNs are still compared, in any order (`variables`).
                        Err(Unresolved) => false,
                    },
                };
                if m {
                    any = true;
                    break;
                }
            }
            if any == res.negated {
                return None;
            }
        }
        let grant = match &st.principal {
            Some(p) => self.caller.principal_grant(p, st.effect)?,
            None => Grant::Direct,
        };
        for c in &st.conditions {
            let ok = c.eval(self.req.context);
            if !ok {
                if let Some(trace) = self.trace.as_deref_mut() {
                    trace.push(failure(c, st, source, index, self.req.context));
                }
                return None;
            }
        }
        Some(grant)
    }

    fn policies(&mut self, ps: &[Policy], source: impl Fn(usize) -> PolicySource) -> Outcome {
        let mut out = Outcome::default();
        for (i, p) in ps.iter().enumerate() {
            out.merge(self.policy(p, source(i)));
        }
        out
    }

    /// Organization levels: (any deny, every level allows).
    fn levels(&mut self, levels: &[Vec<Policy>], scp: bool) -> (bool, bool) {
        let mut deny = false;
        let mut all_allow = true;
        for (level, ps) in levels.iter().enumerate() {
            let o = self.policies(ps, |index| {
                if scp {
                    PolicySource::Scp { level, index }
                } else {
                    PolicySource::Rcp { level, index }
                }
            });
            deny |= o.deny;
            all_allow &= o.allow.is_some();
        }
        (deny, all_allow)
    }
}

fn failure(
    c: &Condition,
    st: &Statement,
    source: PolicySource,
    index: usize,
    ctx: &Context,
) -> ConditionFailure {
    ConditionFailure {
        source,
        statement: index,
        sid: st.sid.clone(),
        effect: st.effect,
        operator: c.operator_name().to_owned(),
        key: c.key().to_owned(),
        policy_values: c.values.iter().map(|v| v.raw.clone()).collect(),
        request_values: ctx.get(c.key()).map(<[String]>::to_vec),
    }
}

fn evaluate_impl(
    req: &Request<'_>,
    ps: &PolicySet<'_>,
    trace: Option<&mut Vec<ConditionFailure>>,
) -> Evaluation {
    let mut caller = Caller::new(req.principal, req.principal_account);
    caller.has_boundary = ps.permissions_boundary.is_some();
    let mut buf = [0u8; 128];
    let lowered;
    let action_lower: &str = match buf.get_mut(..req.action.len()) {
        Some(dst) => {
            dst.copy_from_slice(req.action.as_bytes());
            dst.make_ascii_lowercase();
            // ASCII lowercasing keeps UTF-8 valid.
            std::str::from_utf8(dst).unwrap_or(req.action)
        }
        None => {
            lowered = req.action.to_ascii_lowercase();
            &lowered
        }
    };
    let service_lower = action_lower
        .split_once(':')
        .map_or(action_lower, |(s, _)| s);
    let mut scan = Scan {
        req,
        resource: Subject::new(req.resource),
        action_lower,
        service_lower,
        caller,
        matched: Vec::new(),
        trace,
    };
    let identity = scan.policies(ps.identity, PolicySource::Identity);
    let resource = ps
        .resource
        .map(|r| scan.policy(r.policy, PolicySource::Resource))
        .unwrap_or_default();
    let boundary = ps
        .permissions_boundary
        .map(|b| scan.policy(b, PolicySource::PermissionsBoundary));
    let session =
        (!ps.session.is_empty()).then(|| scan.policies(ps.session, PolicySource::Session));
    let (scp_deny, scp_allow) = scan.levels(ps.scps, true);
    let (rcp_deny, rcp_allow) = scan.levels(ps.rcps, false);
    let matched = scan.matched;

    let decide = |reason: Option<DenialReason>| {
        let decision = match reason {
            None => Decision::Allowed,
            Some(DenialReason::ExplicitDeny(_)) => Decision::ExplicitDeny,
            Some(DenialReason::NoAllow(_)) => Decision::ImplicitDeny,
        };
        (decision, reason)
    };

    // 1. Explicit deny anywhere, reported in AWS's evaluation order.
    let deny_in = [
        (rcp_deny, PolicyKind::ResourceControl),
        (scp_deny, PolicyKind::ServiceControl),
        (resource.deny, PolicyKind::Resource),
        (identity.deny, PolicyKind::Identity),
        (
            boundary.is_some_and(|b| b.deny),
            PolicyKind::PermissionsBoundary,
        ),
        (session.is_some_and(|s| s.deny), PolicyKind::Session),
    ];
    let reason = if let Some((_, k)) = deny_in.iter().find(|(d, _)| *d) {
        Some(DenialReason::ExplicitDeny(*k))
    } else if !rcp_allow {
        // 2. Organizations: every level must allow.
        Some(DenialReason::NoAllow(PolicyKind::ResourceControl))
    } else if !scp_allow {
        Some(DenialReason::NoAllow(PolicyKind::ServiceControl))
    } else {
        allow_reason(req, &caller, ps, identity, resource, boundary, session)
    };
    let (decision, reason) = decide(reason);
    Evaluation {
        decision,
        matched,
        reason,
        condition_failures: Vec::new(),
    }
}

/// Steps 3-6 of the module docs, after explicit denies and organization policies.
fn allow_reason(
    req: &Request<'_>,
    caller: &Caller<'_>,
    ps: &PolicySet<'_>,
    identity: Outcome,
    resource: Outcome,
    boundary: Option<Outcome>,
    session: Option<Outcome>,
) -> Option<DenialReason> {
    let boundary_ok = boundary.is_none_or(|b| b.allow.is_some());
    let session_ok = session.is_none_or(|s| s.allow.is_some());
    let identity_ok = identity.allow.is_some() || caller.kind == CallerKind::Root;
    let identity_side = || {
        if !identity_ok {
            Some(DenialReason::NoAllow(PolicyKind::Identity))
        } else if !boundary_ok {
            Some(DenialReason::NoAllow(PolicyKind::PermissionsBoundary))
        } else if !session_ok {
            Some(DenialReason::NoAllow(PolicyKind::Session))
        } else {
            None
        }
    };
    let no_resource = Some(DenialReason::NoAllow(PolicyKind::Resource));

    // A service principal has no identity side: only the resource's policy can grant.
    if caller.kind == CallerKind::Service && caller.account.is_none() {
        return match resource.allow {
            Some(_) => None,
            None if ps.resource.is_none() => identity_side(),
            None => no_resource,
        };
    }
    let same_account = match (caller.account, req.resource_account) {
        (Some(p), Some(r)) => p == r,
        (_, None) => true,
        (None, Some(_)) => false,
    };
    let Some(rp) = ps.resource else {
        // Cross-account access needs the other account's resource-based policy.
        return if same_account {
            identity_side()
        } else {
            identity_side().or(no_resource)
        };
    };
    let must_allow = rp.kind != ResourcePolicyType::Standard;
    if must_allow && resource.allow.is_none() {
        return no_resource;
    }
    if !same_account {
        return identity_side().or(if resource.allow.is_some() {
            None
        } else {
            no_resource
        });
    }
    match resource.allow {
        Some(Grant::Direct) => None,
        Some(Grant::RoleArn) if boundary_ok && session_ok => None,
        _ => identity_side(),
    }
}
