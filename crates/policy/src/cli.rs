//! `palisade policy eval`: one request in the CONTRACT.md format, one JSON answer.
//!
//! The binary prints the returned value and exits 0; on [`InputError`] it prints the
//! message on stderr and exits 2.

use crate::context::Context;
use crate::eval::{
    access_denied_message, evaluate_traced, Decision, Evaluation, PolicySet, Request,
    ResourcePolicy, ResourcePolicyType,
};
use crate::json::{self, Json, Path};
use crate::pattern::split_arn;
use crate::policy::{Effect, Policy, PolicyKind};
use serde_json::json;

/// The request could not be understood: bad JSON, an unknown or mistyped field, a bad ARN,
/// or a policy that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid request: {0}")]
pub struct InputError(pub String);

fn err(path: &str, msg: impl std::fmt::Display) -> InputError {
    InputError(format!("{path}: {msg}"))
}

/// A parsed `policy eval` request: policies compiled, context built. Evaluate it as many
/// times as you like (benchmarks, fuzzing) with [`PreparedRequest::evaluate`].
#[derive(Debug, Clone)]
pub struct PreparedRequest {
    principal: String,
    principal_account: Option<String>,
    action: String,
    resource: String,
    resource_account: Option<String>,
    context: Context,
    identity: Vec<Policy>,
    resource_policy: Option<Policy>,
    boundary: Option<Policy>,
    session: Vec<Policy>,
    scps: Vec<Vec<Policy>>,
}

/// Evaluates one request (CONTRACT.md "Policy tool" format) and returns
/// `{"decision", "matched", "explanation"}`.
pub fn eval(input: &str) -> Result<serde_json::Value, InputError> {
    let p = prepare(input)?;
    let (request, set) = (p.request(), p.policy_set());
    let ev = evaluate_traced(&request, &set);
    Ok(render(&ev, &request, &set))
}

/// Parses a request without evaluating it.
pub fn prepare(input: &str) -> Result<PreparedRequest, InputError> {
    parse_request(input)
}

impl PreparedRequest {
    /// The engine request.
    pub fn request(&self) -> Request<'_> {
        Request {
            principal: &self.principal,
            principal_account: self.principal_account.as_deref(),
            action: &self.action,
            resource: &self.resource,
            resource_account: self.resource_account.as_deref(),
            context: &self.context,
        }
    }

    /// The policies, with the resource policy typed from the action (see
    /// [`resource_policy_type`]).
    pub fn policy_set(&self) -> PolicySet<'_> {
        PolicySet {
            identity: &self.identity,
            resource: self.resource_policy.as_ref().map(|policy| ResourcePolicy {
                policy,
                kind: resource_policy_type(&self.action, &self.resource),
            }),
            permissions_boundary: self.boundary.as_ref(),
            session: &self.session,
            scps: &self.scps,
            rcps: &[],
        }
    }

    /// Evaluates (fast path, no condition trace).
    pub fn evaluate(&self) -> Evaluation {
        crate::eval::evaluate(&self.request(), &self.policy_set())
    }
}

/// The contract's `resource_policy` is a KMS key policy for `kms:` actions and the role's
/// trust policy for the `sts:` actions a trust policy governs.
pub fn resource_policy_type(action: &str, resource: &str) -> ResourcePolicyType {
    let (svc, name) = action.split_once(':').unwrap_or((action, ""));
    if svc.eq_ignore_ascii_case("kms") {
        return ResourcePolicyType::KmsKey;
    }
    let trust_actions = [
        "AssumeRole",
        "AssumeRoleWithSAML",
        "AssumeRoleWithWebIdentity",
        "TagSession",
        "SetSourceIdentity",
        "SetContext",
    ];
    if svc.eq_ignore_ascii_case("sts")
        && (trust_actions.iter().any(|a| a.eq_ignore_ascii_case(name))
            || resource.contains(":role/"))
    {
        return ResourcePolicyType::RoleTrust;
    }
    ResourcePolicyType::Standard
}

/// Renders the stable JSON answer.
pub fn render(ev: &Evaluation, request: &Request<'_>, set: &PolicySet<'_>) -> serde_json::Value {
    let matched: Vec<serde_json::Value> = ev
        .matched
        .iter()
        .map(|m| {
            json!({
                "policy": m.source.to_string(),
                "statement": m.statement,
                "sid": m.sid.as_deref(),
                "effect": m.effect.as_str(),
            })
        })
        .collect();
    json!({
        "decision": ev.decision.as_str(),
        "matched": matched,
        "explanation": explain(ev, request, set),
    })
}

fn describe(source: impl std::fmt::Display, statement: usize, sid: Option<&str>) -> String {
    match sid {
        Some(s) => format!("{source} statement {statement} (Sid {s:?})"),
        None => format!("{source} statement {statement}"),
    }
}

/// A human explanation: the decision, the deciding statements, and failed conditions.
pub fn explain(ev: &Evaluation, request: &Request<'_>, set: &PolicySet<'_>) -> String {
    let mut out = String::new();
    let list = |effect: Effect| -> Vec<String> {
        ev.matched
            .iter()
            .filter(|m| m.effect == effect)
            .map(|m| describe(m.source, m.statement, m.sid.as_deref()))
            .collect()
    };
    match ev.decision {
        Decision::Allowed => {
            out.push_str(&format!(
                "Allowed: {} on {} for {}. Allowed by: {}.",
                request.action,
                request.resource,
                request.principal,
                list(Effect::Allow).join("; ")
            ));
            if set
                .resource
                .is_some_and(|r| r.kind != ResourcePolicyType::Standard)
            {
                out.push_str(" The resource's key or trust policy allows the principal.");
            }
        }
        Decision::ExplicitDeny | Decision::ImplicitDeny => {
            if let Some(r) = ev.reason {
                out.push_str(&access_denied_message(
                    request.principal,
                    request.action,
                    request.resource,
                    r,
                ));
                out.push('.');
            }
            let denies = list(Effect::Deny);
            if !denies.is_empty() {
                out.push_str(&format!(" Denied by: {}.", denies.join("; ")));
            }
            let allows = list(Effect::Allow);
            if !allows.is_empty() {
                out.push_str(&format!(" Statements that allowed: {}.", allows.join("; ")));
            }
        }
    }
    for f in &ev.condition_failures {
        let got = match &f.request_values {
            None => "the key is absent from the request".to_owned(),
            Some(v) => format!("the request has {}", serde_json::Value::from(v.clone())),
        };
        out.push_str(&format!(
            " {} ({}) did not apply: condition {} {} {} is false ({got}).",
            describe(f.source, f.statement, f.sid.as_deref()),
            f.effect.as_str(),
            f.operator,
            f.key,
            serde_json::Value::from(f.policy_values.clone()),
        ));
    }
    out
}

const FIELDS: &[&str] = &[
    "principal",
    "principal_account",
    "action",
    "resource",
    "resource_account",
    "context",
    "identity_policies",
    "resource_policy",
    "permissions_boundary",
    "session_policies",
    "scps",
];

fn parse_request(input: &str) -> Result<PreparedRequest, InputError> {
    let doc = json::parse(input).map_err(|e| InputError(format!("invalid JSON: {e}")))?;
    let Json::Object(members) = &doc else {
        return Err(InputError(format!(
            "expected a JSON object, found {}",
            doc.type_name()
        )));
    };
    for (i, (k, _)) in members.iter().enumerate() {
        if !FIELDS.contains(&k.as_str()) {
            return Err(InputError(format!(
                "unknown field {k:?}; expected one of: {}",
                FIELDS.join(", ")
            )));
        }
        if members.iter().take(i).any(|(k2, _)| k2 == k) {
            return Err(InputError(format!("duplicate field {k:?}")));
        }
    }
    let get = |k: &str| members.iter().find(|(n, _)| n == k).map(|(_, v)| v);
    let req_str = |k: &str| -> Result<String, InputError> {
        match get(k) {
            Some(Json::String(s)) => Ok(s.clone()),
            Some(other) => Err(err(
                k,
                format!("expected a string, found {}", other.type_name()),
            )),
            None => Err(err(k, "missing required field")),
        }
    };
    let opt_str = |k: &str| -> Result<Option<String>, InputError> {
        match get(k) {
            Some(Json::String(s)) => Ok(Some(s.clone())),
            Some(Json::Null) | None => Ok(None),
            Some(other) => Err(err(
                k,
                format!("expected a string or null, found {}", other.type_name()),
            )),
        }
    };

    let principal = req_str("principal")?;
    check_principal(&principal)?;
    let principal_account = opt_str("principal_account")?;
    let action = req_str("action")?;
    match action.split_once(':') {
        Some((s, a)) if !s.is_empty() && !a.is_empty() && !a.contains(':') => {}
        _ => {
            return Err(err(
                "action",
                format!("{action:?} is not of the form \"service:Action\""),
            ))
        }
    }
    let resource = req_str("resource")?;
    if resource != "*" {
        match split_arn(&resource) {
            Some([_, partition, service, ..]) if !partition.is_empty() && !service.is_empty() => {}
            _ => return Err(err("resource", format!("{resource:?} is not an ARN (arn:partition:service:region:account:resource) or \"*\""))),
        }
    }
    let resource_account = opt_str("resource_account")?;
    for (k, v) in [
        ("principal_account", &principal_account),
        ("resource_account", &resource_account),
    ] {
        if let Some(a) = v {
            if a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err(k, format!("{a:?} is not a 12-digit account id")));
            }
        }
    }
    let context = match get("context") {
        None | Some(Json::Null) => Context::new(),
        Some(Json::Object(m)) => parse_context(m)?,
        Some(other) => {
            return Err(err(
                "context",
                format!("expected an object, found {}", other.type_name()),
            ))
        }
    };
    let identity = policy_list(
        get("identity_policies"),
        "identity_policies",
        PolicyKind::Identity,
    )?;
    let session = policy_list(
        get("session_policies"),
        "session_policies",
        PolicyKind::Session,
    )?;
    let resource_policy = opt_policy(
        get("resource_policy"),
        "resource_policy",
        PolicyKind::Resource,
    )?;
    let boundary = opt_policy(
        get("permissions_boundary"),
        "permissions_boundary",
        PolicyKind::PermissionsBoundary,
    )?;
    let scps = match get("scps") {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::Array(levels)) => levels
            .iter()
            .enumerate()
            .map(|(i, l)| policy_list(Some(l), &format!("scps[{i}]"), PolicyKind::ServiceControl))
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(err(
                "scps",
                format!(
                    "expected an array of arrays of policies, found {}",
                    other.type_name()
                ),
            ))
        }
    };
    Ok(PreparedRequest {
        principal,
        principal_account,
        action,
        resource,
        resource_account,
        context,
        identity,
        resource_policy,
        boundary,
        session,
        scps,
    })
}

fn check_principal(p: &str) -> Result<(), InputError> {
    if p.starts_with("arn:") {
        return match split_arn(p) {
            Some([_, partition, service, _, _, res])
                if !partition.is_empty() && !service.is_empty() && !res.is_empty() =>
            {
                Ok(())
            }
            _ => Err(err("principal", format!("{p:?} is not a valid ARN"))),
        };
    }
    // A service principal (`cloudtrail.amazonaws.com`) or a federated provider name.
    let ok =
        !p.is_empty() && p.contains('.') && !p.contains(char::is_whitespace) && !p.contains(':');
    if ok {
        Ok(())
    } else {
        Err(err(
            "principal",
            format!("{p:?} is neither an ARN nor a service principal such as \"cloudtrail.amazonaws.com\""),
        ))
    }
}

fn parse_context(m: &[(String, Json)]) -> Result<Context, InputError> {
    let mut ctx = Context::new();
    let scalar = |path: &str, v: &Json| -> Result<String, InputError> {
        match v {
            Json::String(s) => Ok(s.clone()),
            Json::Bool(b) => Ok(b.to_string()),
            Json::Number(n) => Ok(n.to_string()),
            other => Err(err(
                path,
                format!(
                    "context values must be strings, booleans, numbers or arrays of them, found {}",
                    other.type_name()
                ),
            )),
        }
    };
    for (k, v) in m {
        let path = Path::root().key("context").key(k);
        let path = path.as_str().trim_start_matches("$.");
        if ctx.get(k).is_some() {
            return Err(err(
                path,
                "duplicate context key (keys are case-insensitive)",
            ));
        }
        let vals = match v {
            Json::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, it)| scalar(&format!("{path}[{i}]"), it))
                .collect::<Result<Vec<_>, _>>()?,
            other => vec![scalar(path, other)?],
        };
        ctx.set(k, vals);
    }
    Ok(ctx)
}

fn one_policy(v: &Json, path: &str, kind: PolicyKind) -> Result<Policy, InputError> {
    let r = match v {
        // A policy document given as a JSON string, as AWS APIs carry it.
        Json::String(s) => Policy::parse(s, kind),
        other => Policy::from_json(other, kind),
    };
    r.map_err(|e| err(path, e))
}

fn opt_policy(
    v: Option<&Json>,
    path: &str,
    kind: PolicyKind,
) -> Result<Option<Policy>, InputError> {
    match v {
        None | Some(Json::Null) => Ok(None),
        Some(p) => one_policy(p, path, kind).map(Some),
    }
}

fn policy_list(v: Option<&Json>, path: &str, kind: PolicyKind) -> Result<Vec<Policy>, InputError> {
    match v {
        None | Some(Json::Null) => Ok(Vec::new()),
        Some(Json::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, p)| one_policy(p, &format!("{path}[{i}]"), kind))
            .collect(),
        Some(other) => Err(err(
            path,
            format!("expected an array of policies, found {}", other.type_name()),
        )),
    }
}
