//! The policy model and its parser.
//!
//! `Policy::parse` turns a JSON document into an immutable, compiled form: patterns are
//! precompiled, condition values pre-parsed for their operator, and statements indexed by
//! the service prefix of their actions. A `Policy` is an `Arc` inside, so cloning it is a
//! reference-count increment: parse once when a policy is stored, share everywhere.

use crate::condition::{Condition, Operator, Qualifier};
use crate::json::{self, Json, Path};
use crate::pattern::{ArnPattern, Glob};
use crate::variables::Template;
use std::fmt;
use std::sync::Arc;

/// Which kind of policy a document is; decides which elements it may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// Identity-based (user, group, role; managed or inline). No `Principal`.
    Identity,
    /// Resource-based (bucket, key, secret, queue, role trust policy). Needs `Principal`.
    Resource,
    /// A permissions boundary. No `Principal`.
    PermissionsBoundary,
    /// A session policy passed to AssumeRole / GetFederationToken. No `Principal`.
    Session,
    /// An AWS Organizations service control policy. No `Principal`.
    ServiceControl,
    /// An AWS Organizations resource control policy. `Principal` must be `"*"`.
    ResourceControl,
}

impl PolicyKind {
    fn principal_rule(self) -> PrincipalRule {
        match self {
            PolicyKind::Resource | PolicyKind::ResourceControl => PrincipalRule::Required,
            _ => PrincipalRule::Forbidden,
        }
    }
    fn resource_required(self) -> bool {
        // Trust policies and key policies may omit Resource (AWS fills in the resource
        // itself); identity-side policies must name one.
        matches!(
            self,
            PolicyKind::Identity | PolicyKind::PermissionsBoundary | PolicyKind::Session
        )
    }
}

enum PrincipalRule {
    Required,
    Forbidden,
}

/// The policy language version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `2008-10-17`, also what a missing `Version` means. No policy variables.
    V2008_10_17,
    /// `2012-10-17`. Policy variables are substituted.
    V2012_10_17,
}

/// Allow or Deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    Allow,
    Deny,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        }
    }
}

/// A parse error: where in the document, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ParseError {
    /// JSON path such as `$.Statement[1].Condition.DateLessThan`.
    pub path: String,
    pub message: String,
}

impl ParseError {
    fn new(path: &Path, message: impl Into<String>) -> ParseError {
        ParseError {
            path: path.as_str().to_owned(),
            message: message.into(),
        }
    }
}

/// A compiled policy. Cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct Policy(Arc<PolicyInner>);

#[derive(Debug)]
struct PolicyInner {
    kind: PolicyKind,
    version: Version,
    id: Option<String>,
    statements: Vec<Statement>,
    index: ActionIndex,
    /// The context keys the policy's variables (`${key}`) read, anywhere in it.
    variables: Vec<String>,
}

/// One statement, compiled.
#[derive(Debug, Clone)]
pub struct Statement {
    pub(crate) sid: Option<Arc<str>>,
    pub(crate) effect: Effect,
    pub(crate) principal: Option<PrincipalSpec>,
    pub(crate) action: ActionSpec,
    pub(crate) resource: Option<ResourceSpec>,
    pub(crate) conditions: Vec<Condition>,
}

impl Statement {
    pub fn sid(&self) -> Option<&str> {
        self.sid.as_deref()
    }
    pub fn effect(&self) -> Effect {
        self.effect
    }
    pub fn conditions(&self) -> &[Condition] {
        &self.conditions
    }
}

#[derive(Debug, Clone)]
pub(crate) struct ActionSpec {
    pub(crate) negated: bool,
    /// Lowercased patterns.
    pub(crate) patterns: Vec<Glob>,
}

impl ActionSpec {
    pub(crate) fn matches(&self, action: &str) -> bool {
        self.patterns.iter().any(|p| p.matches_ci(action)) != self.negated
    }
}

#[derive(Debug, Clone)]
pub(crate) enum ResourceItem {
    Static(ArnPattern),
    Template(Template),
}

#[derive(Debug, Clone)]
pub(crate) struct ResourceSpec {
    pub(crate) negated: bool,
    pub(crate) items: Vec<ResourceItem>,
}

#[derive(Debug, Clone)]
pub(crate) struct PrincipalSpec {
    pub(crate) negated: bool,
    pub(crate) entries: Vec<PrincipalEntry>,
}

/// One principal named in a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PrincipalEntry {
    /// `"*"` or `{"AWS": "*"}`.
    Any,
    /// A 12-digit account id or `arn:...:iam::ACCOUNT:root`: the account (delegation).
    Account(String),
    /// An IAM role ARN; it also matches the role's sessions.
    Role {
        account: String,
        name: String,
        arn: String,
    },
    /// Any other principal ARN (user, assumed-role session, federated user, ...), exact.
    Arn(String),
    /// A service principal, lowercased (`cloudtrail.amazonaws.com`).
    Service(String),
    /// A federated identity provider (`cognito-identity.amazonaws.com`, SAML provider ARN).
    Federated(String),
    CanonicalUser(String),
}

/// Statements indexed by their actions, so evaluation visits only statements that can match:
/// - `exact`: lowercased full action (`s3:getobject`) for literal patterns;
/// - `services`: lowercased service prefix for patterns with a wildcard after the prefix
///   (`s3:Get*`); a statement listed here is not also listed under `exact` for that
///   service, so no statement is visited twice;
/// - `wildcard`: statements that can match any service (`*`, `s3*:...`, NotAction).
#[derive(Debug, Default)]
struct ActionIndex {
    exact: Vec<(Box<str>, Vec<u32>)>,
    services: Vec<(Box<str>, Vec<u32>)>,
    wildcard: Vec<u32>,
}

impl ActionIndex {
    fn build(statements: &[Statement]) -> ActionIndex {
        use std::collections::BTreeMap;
        let mut exact: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        let mut services: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        let mut wildcard = Vec::new();
        let push = |m: &mut BTreeMap<String, Vec<u32>>, k: &str, i: u32| {
            let v = m.entry(k.to_owned()).or_default();
            if v.last() != Some(&i) {
                v.push(i);
            }
        };
        for (i, st) in statements.iter().enumerate() {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            let kinds: Vec<PatternKind<'_>> =
                st.action.patterns.iter().map(Glob::action_kind).collect();
            if st.action.negated || kinds.iter().any(|k| matches!(k, PatternKind::AnyService)) {
                wildcard.push(i);
                continue;
            }
            let wild_services: Vec<&str> = kinds
                .iter()
                .filter_map(|k| match k {
                    PatternKind::Service(s) => Some(*s),
                    _ => None,
                })
                .collect();
            for k in &kinds {
                match k {
                    PatternKind::Service(s) => push(&mut services, s, i),
                    PatternKind::Exact { service, action } if !wild_services.contains(service) => {
                        push(&mut exact, action, i)
                    }
                    _ => {}
                }
            }
        }
        let boxed = |m: BTreeMap<String, Vec<u32>>| -> Vec<(Box<str>, Vec<u32>)> {
            m.into_iter()
                .map(|(k, v)| (k.into_boxed_str(), v))
                .collect()
        };
        ActionIndex {
            exact: boxed(exact),
            services: boxed(services),
            wildcard,
        }
    }
}

/// Finds `key` (already lowercased) in a sorted table.
fn lookup<'a>(table: &'a [(Box<str>, Vec<u32>)], key: &str) -> &'a [u32] {
    table
        .binary_search_by(|(k, _)| k.as_ref().cmp(key))
        .ok()
        .and_then(|i| table.get(i))
        .map_or(&[], |(_, v)| v.as_slice())
}

/// How an action pattern can be indexed.
pub(crate) enum PatternKind<'a> {
    /// No wildcard: exactly this lowercased action.
    Exact { service: &'a str, action: &'a str },
    /// A literal service prefix followed by a wildcard somewhere after the colon.
    Service(&'a str),
    /// May match several services.
    AnyService,
}

/// Every context key a `${...}` variable in `doc`'s strings names.
fn variable_keys(doc: &Json, out: &mut Vec<String>) {
    match doc {
        Json::String(s) => {
            if let Some(t) = Template::parse(s) {
                out.extend(t.keys().map(str::to_owned));
            }
        }
        Json::Array(items) => items.iter().for_each(|v| variable_keys(v, out)),
        Json::Object(members) => members.iter().for_each(|(_, v)| variable_keys(v, out)),
        _ => {}
    }
}

impl Policy {
    /// Parses and compiles a policy document.
    pub fn parse(text: &str, kind: PolicyKind) -> Result<Policy, ParseError> {
        let doc = json::parse(text).map_err(|e| ParseError {
            path: "$".to_owned(),
            message: format!("invalid JSON: {e}"),
        })?;
        Policy::from_json(&doc, kind)
    }

    /// Compiles an already parsed `serde_json::Value` (duplicate keys are already lost
    /// there; prefer [`Policy::parse`] on text).
    pub fn from_value(value: &serde_json::Value, kind: PolicyKind) -> Result<Policy, ParseError> {
        Policy::from_json(&Json::from_value(value), kind)
    }

    pub(crate) fn from_json(doc: &Json, kind: PolicyKind) -> Result<Policy, ParseError> {
        let root = Path::root();
        let members = object(doc, &root)?;
        let mut version = None;
        let mut id = None;
        let mut statement = None;
        for (k, v) in members {
            let p = root.key(k);
            match k.as_str() {
                "Version" => {
                    version = Some(match string(v, &p)? {
                        "2012-10-17" => Version::V2012_10_17,
                        "2008-10-17" => Version::V2008_10_17,
                        other => {
                            return Err(ParseError::new(
                                &p,
                                format!(
                            "unsupported Version {other:?}: use \"2012-10-17\" or \"2008-10-17\""
                        ),
                            ))
                        }
                    })
                }
                "Id" => id = Some(string(v, &p)?.to_owned()),
                "Statement" => statement = Some(v),
                other => {
                    return Err(ParseError::new(
                        &p,
                        format!("unknown policy element {other:?}"),
                    ))
                }
            }
        }
        // AWS: without a Version element the policy is treated as 2008-10-17.
        let version = version.unwrap_or(Version::V2008_10_17);
        let stmt_path = root.key("Statement");
        let statements = match statement {
            None => {
                return Err(ParseError::new(
                    &root,
                    "missing required element \"Statement\"",
                ))
            }
            Some(Json::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, s)| parse_statement(s, &stmt_path.index(i), kind, version))
                .collect::<Result<Vec<_>, _>>()?,
            Some(s @ Json::Object(_)) => vec![parse_statement(s, &stmt_path, kind, version)?],
            Some(other) => {
                return Err(ParseError::new(
                    &stmt_path,
                    format!(
                        "expected an object or an array of objects, found {}",
                        other.type_name()
                    ),
                ))
            }
        };
        let index = ActionIndex::build(&statements);
        let mut variables = Vec::new();
        variable_keys(doc, &mut variables);
        Ok(Policy(Arc::new(PolicyInner {
            kind,
            version,
            id,
            statements,
            index,
            variables,
        })))
    }

    pub fn kind(&self) -> PolicyKind {
        self.0.kind
    }
    pub fn version(&self) -> Version {
        self.0.version
    }
    pub fn id(&self) -> Option<&str> {
        self.0.id.as_deref()
    }
    pub fn statements(&self) -> &[Statement] {
        &self.0.statements
    }

    /// Whether the policy reads a context key `wanted` accepts, as a condition's key or as
    /// a variable (`${key}`, in a Resource or a condition value): for callers that gather
    /// costly context keys only when a policy could read them.
    pub fn tests_key(&self, wanted: impl Fn(&str) -> bool) -> bool {
        self.0.variables.iter().any(|k| wanted(k))
            || self
                .0
                .statements
                .iter()
                .any(|s| s.conditions().iter().any(|c| wanted(c.key())))
    }

    /// Indices of the statements that may match `action` (lowercased) of `service`
    /// (lowercased), ascending, without duplicates.
    pub(crate) fn candidates<'a>(&'a self, action: &str, service: &str) -> Candidates<'a> {
        let ix = &self.0.index;
        Candidates {
            lists: [
                lookup(&ix.exact, action),
                lookup(&ix.services, service),
                &ix.wildcard,
            ],
        }
    }
}

/// Merge of three ascending, mutually disjoint index lists.
pub(crate) struct Candidates<'a> {
    lists: [&'a [u32]; 3],
}

impl Iterator for Candidates<'_> {
    type Item = usize;
    fn next(&mut self) -> Option<usize> {
        let mut best: Option<(usize, u32)> = None;
        for (li, l) in self.lists.iter().enumerate() {
            if let Some(&h) = l.first() {
                if best.is_none_or(|(_, b)| h < b) {
                    best = Some((li, h));
                }
            }
        }
        let (li, h) = best?;
        if let Some(l) = self.lists.get_mut(li) {
            *l = l.get(1..).unwrap_or(&[]);
        }
        Some(h as usize)
    }
}

fn object<'a>(v: &'a Json, path: &Path) -> Result<&'a [(String, Json)], ParseError> {
    match v {
        Json::Object(m) => {
            for (i, (k, _)) in m.iter().enumerate() {
                if m.iter().take(i).any(|(k2, _)| k2 == k) {
                    return Err(ParseError::new(
                        &path.key(k),
                        format!("duplicate key {k:?}"),
                    ));
                }
            }
            Ok(m)
        }
        other => Err(ParseError::new(
            path,
            format!("expected an object, found {}", other.type_name()),
        )),
    }
}

fn string<'a>(v: &'a Json, path: &Path) -> Result<&'a str, ParseError> {
    match v {
        Json::String(s) => Ok(s),
        other => Err(ParseError::new(
            path,
            format!("expected a string, found {}", other.type_name()),
        )),
    }
}

/// A string or a non-empty array of strings.
fn strings<'a>(v: &'a Json, path: &Path) -> Result<Vec<&'a str>, ParseError> {
    match v {
        Json::String(s) => Ok(vec![s.as_str()]),
        Json::Array(items) => {
            if items.is_empty() {
                return Err(ParseError::new(
                    path,
                    "expected at least one value, found an empty array",
                ));
            }
            items
                .iter()
                .enumerate()
                .map(|(i, it)| string(it, &path.index(i)))
                .collect()
        }
        other => Err(ParseError::new(
            path,
            format!(
                "expected a string or an array of strings, found {}",
                other.type_name()
            ),
        )),
    }
}

fn parse_statement(
    v: &Json,
    path: &Path,
    kind: PolicyKind,
    version: Version,
) -> Result<Statement, ParseError> {
    let members = object(v, path)?;
    let variables = version == Version::V2012_10_17;
    let mut sid = None;
    let mut effect = None;
    let mut principal = None;
    let mut action = None;
    let mut resource = None;
    let mut conditions = Vec::new();
    for (k, val) in members {
        let p = path.key(k);
        match k.as_str() {
            "Sid" => sid = Some(Arc::<str>::from(string(val, &p)?)),
            "Effect" => {
                effect = Some(match string(val, &p)? {
                    "Allow" => Effect::Allow,
                    "Deny" => Effect::Deny,
                    other => {
                        return Err(ParseError::new(
                            &p,
                            format!("Effect must be \"Allow\" or \"Deny\", found {other:?}"),
                        ))
                    }
                })
            }
            "Principal" | "NotPrincipal" => {
                if principal.is_some() {
                    return Err(ParseError::new(
                        &p,
                        "a statement may have Principal or NotPrincipal, not both",
                    ));
                }
                principal = Some(parse_principal(val, &p, k == "NotPrincipal")?);
            }
            "Action" | "NotAction" => {
                if action.is_some() {
                    return Err(ParseError::new(
                        &p,
                        "a statement may have Action or NotAction, not both",
                    ));
                }
                let patterns = strings(val, &p)?
                    .into_iter()
                    .enumerate()
                    .map(|(i, a)| {
                        if a != "*" && !a.contains(':') {
                            let ap = if matches!(val, Json::Array(_)) {
                                p.index(i)
                            } else {
                                p.clone()
                            };
                            return Err(ParseError::new(
                                &ap,
                                format!("action {a:?} must be \"*\" or \"service:action\""),
                            ));
                        }
                        Ok(Glob::new(a, true))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                action = Some(ActionSpec {
                    negated: k == "NotAction",
                    patterns,
                });
            }
            "Resource" | "NotResource" => {
                if resource.is_some() {
                    return Err(ParseError::new(
                        &p,
                        "a statement may have Resource or NotResource, not both",
                    ));
                }
                let items = strings(val, &p)?
                    .into_iter()
                    .map(
                        |r| match variables.then(|| Template::parse_resource(r)).flatten() {
                            Some(t) => ResourceItem::Template(t),
                            None => ResourceItem::Static(ArnPattern::new(r)),
                        },
                    )
                    .collect();
                resource = Some(ResourceSpec {
                    negated: k == "NotResource",
                    items,
                });
            }
            "Condition" => conditions = parse_conditions(val, &p, variables)?,
            other => {
                return Err(ParseError::new(
                    &p,
                    format!("unknown statement element {other:?}"),
                ))
            }
        }
    }
    let effect =
        effect.ok_or_else(|| ParseError::new(path, "missing required element \"Effect\""))?;
    let action = action.ok_or_else(|| {
        ParseError::new(path, "missing required element \"Action\" or \"NotAction\"")
    })?;
    match (kind.principal_rule(), &principal) {
        (PrincipalRule::Required, None) => return Err(ParseError::new(
            path,
            "missing required element \"Principal\" or \"NotPrincipal\" in a resource-based policy",
        )),
        (PrincipalRule::Forbidden, Some(_)) => {
            return Err(ParseError::new(
                &path.key("Principal"),
                "Principal and NotPrincipal are not allowed in this kind of policy",
            ))
        }
        _ => {}
    }
    if resource.is_none() && kind.resource_required() {
        return Err(ParseError::new(
            path,
            "missing required element \"Resource\" or \"NotResource\"",
        ));
    }
    Ok(Statement {
        sid,
        effect,
        principal,
        action,
        resource,
        conditions,
    })
}

fn parse_principal(v: &Json, path: &Path, negated: bool) -> Result<PrincipalSpec, ParseError> {
    let mut entries = Vec::new();
    match v {
        Json::String(s) if s == "*" => entries.push(PrincipalEntry::Any),
        Json::String(s) => {
            return Err(ParseError::new(
                path,
                format!("a principal string must be \"*\"; name principals in an object such as {{\"AWS\": {s:?}}}"),
            ))
        }
        Json::Object(_) => {
            for (k, val) in object(v, path)? {
                let p = path.key(k);
                let items = strings(val, &p)?;
                for (i, s) in items.into_iter().enumerate() {
                    let ip = if matches!(val, Json::Array(_)) { p.index(i) } else { p.clone() };
                    entries.push(match k.as_str() {
                        "AWS" => aws_principal(s, &ip)?,
                        "Service" if s == "*" => PrincipalEntry::Any,
                        "Service" => PrincipalEntry::Service(s.to_ascii_lowercase()),
                        "Federated" => PrincipalEntry::Federated(s.to_owned()),
                        "CanonicalUser" => PrincipalEntry::CanonicalUser(s.to_owned()),
                        other => {
                            return Err(ParseError::new(
                                &p,
                                format!("unknown principal type {other:?}: use AWS, Service, Federated or CanonicalUser"),
                            ))
                        }
                    });
                }
            }
        }
        other => {
            return Err(ParseError::new(
                path,
                format!("expected \"*\" or an object, found {}", other.type_name()),
            ))
        }
    }
    Ok(PrincipalSpec { negated, entries })
}

fn aws_principal(s: &str, path: &Path) -> Result<PrincipalEntry, ParseError> {
    if s == "*" {
        return Ok(PrincipalEntry::Any);
    }
    if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(PrincipalEntry::Account(s.to_owned()));
    }
    if is_unique_id(s) {
        // The unique id of a deleted user or role, which IAM puts in place of its ARN
        // (Principal element: "the principal ID appears in resource-based policies
        // because AWS can no longer map it back to a valid ARN"): it names no caller.
        return Ok(PrincipalEntry::Arn(s.to_owned()));
    }
    let Some([_, _, service, _, account, res]) = crate::pattern::split_arn(s) else {
        return Err(ParseError::new(
            path,
            format!("invalid AWS principal {s:?}: expected \"*\", a 12-digit account id or an ARN"),
        ));
    };
    if service == "iam" && res == "root" {
        return Ok(PrincipalEntry::Account(account.to_owned()));
    }
    if service == "iam" {
        if let Some(role_path) = res.strip_prefix("role/") {
            let name = role_path.rsplit('/').next().unwrap_or(role_path);
            return Ok(PrincipalEntry::Role {
                account: account.to_owned(),
                name: name.to_owned(),
                arn: s.to_owned(),
            });
        }
    }
    Ok(PrincipalEntry::Arn(s.to_owned()))
}

/// An IAM user's (`AIDA`) or role's (`AROA`) unique id: the prefix and 16 or more
/// upper-case letters and digits.
fn is_unique_id(s: &str) -> bool {
    (s.starts_with("AIDA") || s.starts_with("AROA"))
        && s.len() >= 20
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

fn parse_conditions(v: &Json, path: &Path, variables: bool) -> Result<Vec<Condition>, ParseError> {
    let mut out = Vec::new();
    for (op_name, block) in object(v, path)? {
        let p = path.key(op_name);
        let (qualifier, rest) = if let Some(r) = strip_prefix_ci(op_name, "ForAllValues:") {
            (Qualifier::ForAllValues, r)
        } else if let Some(r) = strip_prefix_ci(op_name, "ForAnyValue:") {
            (Qualifier::ForAnyValue, r)
        } else {
            (Qualifier::None, op_name.as_str())
        };
        let (base, if_exists) = match strip_suffix_ci(rest, "IfExists") {
            Some(b) => (b, true),
            None => (rest, false),
        };
        let op = Operator::from_name(base)
            .filter(|o| !(if_exists && *o == Operator::Null))
            .ok_or_else(|| {
                ParseError::new(&p, format!("unknown condition operator {op_name:?}"))
            })?;
        for (key, vals) in object(block, &p)? {
            let kp = p.key(key);
            let raw = condition_values(vals, &kp)?;
            out.push(Condition::new(
                op, qualifier, if_exists, op_name, key, raw, variables,
            ));
        }
    }
    Ok(out)
}

/// Condition values: a scalar or an array of scalars; scalars are kept as text.
fn condition_values(v: &Json, path: &Path) -> Result<Vec<String>, ParseError> {
    let scalar = |v: &Json, p: &Path| -> Result<String, ParseError> {
        match v {
            Json::String(s) => Ok(s.clone()),
            Json::Bool(b) => Ok(b.to_string()),
            Json::Number(n) => Ok(n.to_string()),
            other => Err(ParseError::new(
                p,
                format!(
                    "condition values must be strings, numbers or booleans, found {}",
                    other.type_name()
                ),
            )),
        }
    };
    match v {
        Json::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, it)| scalar(it, &path.index(i)))
            .collect(),
        other => Ok(vec![scalar(other, path)?]),
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| s.get(prefix.len()..))
        .flatten()
}

fn strip_suffix_ci<'a>(s: &'a str, suffix: &str) -> Option<&'a str> {
    let cut = s.len().checked_sub(suffix.len())?;
    let tail = s.get(cut..)?;
    tail.eq_ignore_ascii_case(suffix)
        .then(|| s.get(..cut))
        .flatten()
}

impl fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PolicyKind::Identity => "identity-based policy",
            PolicyKind::Resource => "resource-based policy",
            PolicyKind::PermissionsBoundary => "permissions boundary",
            PolicyKind::Session => "session policy",
            PolicyKind::ServiceControl => "service control policy",
            PolicyKind::ResourceControl => "resource control policy",
        })
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod tests {
    use super::*;

    #[test]
    fn index_visits_each_candidate_once_in_order() {
        let p = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":["s3:GetObject","s3:List*","sqs:SendMessage"],"Resource":"*"},
            {"Effect":"Allow","Action":"S3:GETOBJECT","Resource":"*"},
            {"Effect":"Allow","Action":"*","Resource":"*"},
            {"Effect":"Allow","Action":"iam:*","Resource":"*"},
            {"Effect":"Allow","NotAction":"iam:*","Resource":"*"},
            {"Effect":"Allow","Action":"s3?:Get*","Resource":"*"},
            {"Effect":"Allow","Action":["s3:PutObject","s3:GetObject"],"Resource":"*"}]}"#,
            PolicyKind::Identity,
        )
        .unwrap();
        let c = |a: &str, s: &str| p.candidates(a, s).collect::<Vec<_>>();
        assert_eq!(c("s3:getobject", "s3"), vec![0, 1, 2, 4, 5, 6]);
        assert_eq!(c("sqs:sendmessage", "sqs"), vec![0, 2, 4, 5]);
        assert_eq!(c("iam:listusers", "iam"), vec![2, 3, 4, 5]);
        assert_eq!(c("ec2:runinstances", "ec2"), vec![2, 4, 5]);
    }
}
