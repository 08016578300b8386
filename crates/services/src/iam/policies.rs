//! Customer managed policies and their versions (CreatePolicy, GetPolicy, ListPolicies,
//! DeletePolicy, CreatePolicyVersion, GetPolicyVersion, ListPolicyVersions,
//! DeletePolicyVersion, SetDefaultPolicyVersion), AWS managed policies from
//! `palisade_iam_data`, and the document rules every IAM policy API shares: decoding,
//! MalformedPolicyDocument checks in AWS's words, size quotas, and the URL encoding IAM
//! applies to documents in its XML answers.

use super::{
    error::IamError,
    model::{self, ManagedPolicy},
};
use crate::error::ApiError;
use palisade_policy::{validate::PolicyType, ParseError, Policy, PolicyKind};
use palisade_store::{ReadTx, WriteTx};

// ---- documents ------------------------------------------------------------------------

/// The document text to store: as sent, or URL-decoded when the client sent it
/// URL-encoded (IAM accepts both; botocore sends plain JSON).
pub fn decode_document(text: &str) -> String {
    let t = text.trim_start();
    if t.starts_with('%') && !t.starts_with('{') {
        if let Some(d) = percent_decode(t) {
            return d;
        }
    }
    text.to_owned()
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else if c == b'+' {
            out.push(b' ');
            i += 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// URL-encodes a document as IAM does in its XML answers (botocore unquotes it again).
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push_str(&format!("{b:02X}"));
        }
    }
    out
}

/// Characters IAM counts towards a size quota: everything but whitespace.
pub fn policy_size(doc: &str) -> usize {
    doc.chars().filter(|c| !c.is_whitespace()).count()
}

/// Which rules a document is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocKind {
    /// Managed or inline identity policy (no Principal).
    Identity,
    /// A role's trust policy (Principal required).
    Trust,
}

/// Checks a document the way IAM does, answering MalformedPolicyDocument in AWS's words.
pub fn check_document(doc: &str, kind: DocKind) -> Result<(), IamError> {
    if doc.trim().is_empty() {
        return Err(IamError::MalformedPolicyDocument(
            "Syntax errors in policy.".into(),
        ));
    }
    // IAM documents may hold tab, LF, CR and U+0020..U+00FF only.
    if doc
        .chars()
        .any(|c| !(matches!(c, '\t' | '\n' | '\r') || ('\u{20}'..='\u{FF}').contains(&c)))
    {
        return Err(IamError::MalformedPolicyDocument(
            "Syntax errors in policy.".into(),
        ));
    }
    let (pk, ty) = match kind {
        DocKind::Identity => (PolicyKind::Identity, PolicyType::Identity),
        DocKind::Trust => (PolicyKind::Resource, PolicyType::RoleTrust),
    };
    if let Err(e) = Policy::parse(doc, pk) {
        // A trust policy that is no JSON at all is worded otherwise ("This policy contains
        // invalid Json", as CreateRole callers report it; permission policies keep
        // "Syntax errors in policy.").
        if kind == DocKind::Trust && serde_json::from_str::<serde_json::Value>(doc).is_err() {
            return Err(IamError::MalformedPolicyDocument(
                "This policy contains invalid Json".into(),
            ));
        }
        return Err(IamError::MalformedPolicyDocument(aws_message(&e, doc)));
    }
    // What IAM refuses beyond what evaluation needs (Resource format, Sid characters, a
    // Resource in a trust policy), found by the validator's walk, in IAM's words.
    if let Some(m) = palisade_policy::validate::iam_rejection(doc, ty) {
        return Err(IamError::MalformedPolicyDocument(m));
    }
    if kind == DocKind::Trust && !trust_actions_are_sts(doc) {
        return Err(IamError::MalformedPolicyDocument(
            "AssumeRole policy may only specify STS AssumeRole actions.".into(),
        ));
    }
    Ok(())
}

/// Whether every `Action` of a trust policy is an STS action (or `*`). IAM refuses others
/// ("AssumeRole policy may only specify STS AssumeRole actions."); the STS actions a trust
/// policy names besides AssumeRole* (TagSession, SetSourceIdentity, SetContext) pass.
fn trust_actions_are_sts(doc: &str) -> bool {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(doc) else {
        return true;
    };
    let statements = match v.get("Statement") {
        Some(serde_json::Value::Array(list)) => list.iter().collect::<Vec<_>>(),
        Some(one) => vec![one],
        None => Vec::new(),
    };
    let sts = |a: &serde_json::Value| {
        a.as_str()
            .is_none_or(|a| a == "*" || a.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("sts:")))
    };
    statements.iter().all(|st| match st.get("Action") {
        Some(serde_json::Value::Array(list)) => list.iter().all(sts),
        Some(one) => sts(one),
        None => true,
    })
}

/// The engine's parse error in IAM's words. Never the parser's own text: it names serde's
/// types and positions, which IAM does not.
pub(super) fn aws_message(e: &ParseError, doc: &str) -> String {
    let msg = e.message.as_str();
    let m = if msg.starts_with("invalid JSON") || msg.starts_with("duplicate key") {
        "Syntax errors in policy."
    } else if msg.contains("\"Principal\" or \"NotPrincipal\" in a resource-based policy") {
        "Invalid principal in policy: com.amazon.balsa.error.InvalidPolicyException: The passed in policy has a statement with no principals!"
    } else if msg.starts_with("Principal and NotPrincipal are not allowed") {
        "Policy document should not specify a principal."
    } else if msg.contains("\"Resource\" or \"NotResource\"") {
        "Policy statement must contain resources."
    } else if msg.contains("\"Action\" or \"NotAction\"") {
        "Policy statement must contain actions."
    } else if msg.contains("must be \"*\" or \"service:action\"") {
        "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
    } else if msg.starts_with("unsupported Version") {
        "The policy must contain a valid version string"
    } else if msg.contains("\"Effect\"") || msg.starts_with("Effect must be") {
        "Invalid effect"
    } else if msg.contains("principal") {
        // IAM names the principal it refuses as `"AWS":"value"`.
        return match principal_at(doc, &e.path) {
            Some((key, value)) => format!("Invalid principal in policy: \"{key}\":\"{value}\""),
            None => "Invalid principal in policy".to_owned(),
        };
    } else {
        // Unknown elements, bad condition blocks, wrong JSON types.
        "Syntax errors in policy."
    };
    m.to_owned()
}

/// The principal type and value a parse error's path names (`$.Statement[0].Principal.AWS`
/// or `...AWS[1]`), when that is a string.
fn principal_at(doc: &str, path: &str) -> Option<(String, String)> {
    let root: serde_json::Value = serde_json::from_str(doc).ok()?;
    let mut v = &root;
    let mut key = None;
    let mut rest = path.strip_prefix('$')?;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let (k, r) = r.split_at(end);
            v = v.get(k)?;
            key = Some(k);
            rest = r;
        } else {
            let r = rest.strip_prefix('[')?;
            let (i, r) = r.split_once(']')?;
            v = v.get(i.parse::<usize>().ok()?)?;
            rest = r;
        }
    }
    let key = key.filter(|k| matches!(*k, "AWS" | "Service" | "Federated" | "CanonicalUser"))?;
    Some((key.to_owned(), v.as_str()?.to_owned()))
}

/// A managed policy document: syntax, then the 6,144-character quota.
pub fn check_managed_document(doc: &str) -> Result<(), IamError> {
    check_document(doc, DocKind::Identity)?;
    if policy_size(doc) > 6_144 {
        return Err(IamError::LimitExceeded(
            "Cannot exceed quota for PolicySize: 6144".into(),
        ));
    }
    Ok(())
}

/// A role trust policy: syntax (Principal required), then the 2,048-character quota.
pub fn check_trust_document(doc: &str) -> Result<(), IamError> {
    check_document(doc, DocKind::Trust)?;
    if policy_size(doc) > 2_048 {
        return Err(IamError::LimitExceeded(
            "Cannot exceed quota for ACLSizePerRole: 2048".into(),
        ));
    }
    Ok(())
}

// ---- policy references ------------------------------------------------------------------

/// A managed policy an ARN names.
#[derive(Debug, Clone)]
pub enum PolicyRef {
    Aws(&'static palisade_iam_data::ManagedPolicy),
    Customer(Box<ManagedPolicy>),
}

impl PolicyRef {
    pub fn name(&self) -> &str {
        match self {
            PolicyRef::Aws(p) => p.name,
            PolicyRef::Customer(p) => &p.policy_name,
        }
    }
    pub fn arn(&self) -> &str {
        match self {
            PolicyRef::Aws(p) => p.arn,
            PolicyRef::Customer(p) => &p.arn,
        }
    }

    /// Refuses an AWS service role policy (path `/aws-service-role/`): those "can only be
    /// attached to the service-linked role for that service" (PolicyNotAttachable, in
    /// AWS's words for the attach and boundary operations).
    pub fn check_attachable(&self) -> Result<(), ApiError> {
        match self {
            PolicyRef::Aws(p) if p.path.starts_with("/aws-service-role/") => {
                Err(IamError::PolicyNotAttachable(
                    "Cannot attach a Service Role Policy to a Customer Role.".into(),
                )
                .into())
            }
            _ => Ok(()),
        }
    }
}

/// Splits `arn:aws:iam::<account>:policy<path><name>` into (account, path, name).
pub fn parse_policy_arn(arn: &str) -> Option<(&str, &str, &str)> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (account, res) = rest.split_once(':')?;
    let path_name = res.strip_prefix("policy")?;
    if !path_name.starts_with('/') {
        return None;
    }
    let cut = path_name.rfind('/')?;
    let path = path_name.get(..=cut)?;
    let name = path_name.get(cut + 1..)?;
    if name.is_empty() || !(account == "aws" || account.len() == 12) {
        return None;
    }
    Some((account, path, name))
}

/// Checks an ARN's form (IAM: `ARN x is not valid.`).
pub fn validate_policy_arn(arn: &str) -> Result<(&str, &str, &str), IamError> {
    if arn.len() < 20 || arn.len() > 2048 {
        return Err(IamError::Validation(format!(
            "1 validation error detected: Value '{arn}' at 'policyArn' failed to satisfy constraint: Member must have length greater than or equal to 20"
        )));
    }
    parse_policy_arn(arn).ok_or_else(|| IamError::InvalidInput(format!("ARN {arn} is not valid.")))
}

fn no_policy(arn: &str) -> ApiError {
    IamError::NoSuchEntity(format!("Policy {arn} does not exist or is not attachable.")).into()
}

/// Loads a customer managed policy by ARN (own account only).
pub fn load_customer(tx: &dyn ReadTx, account: &str, arn: &str) -> Result<ManagedPolicy, ApiError> {
    let (acct, _path, name) = validate_policy_arn(arn)?;
    if acct != account {
        return Err(IamError::NoSuchEntity(format!("Policy {arn} was not found.")).into());
    }
    model::get::<ManagedPolicy>(tx, &model::entity_key(account, TABLE, name))?
        .filter(|p| p.arn == arn)
        .ok_or_else(|| IamError::NoSuchEntity(format!("Policy {arn} was not found.")).into())
}

/// Resolves a managed policy ARN for attachment or as a permissions boundary.
pub fn resolve(tx: &dyn ReadTx, account: &str, arn: &str) -> Result<PolicyRef, ApiError> {
    let (acct, _path, name) = validate_policy_arn(arn)?;
    if acct == "aws" {
        return palisade_iam_data::managed_policy_by_arn(arn)
            .map(PolicyRef::Aws)
            .ok_or_else(|| no_policy(arn));
    }
    if acct != account {
        return Err(no_policy(arn));
    }
    model::get::<ManagedPolicy>(tx, &model::entity_key(account, TABLE, name))?
        .filter(|p| p.arn == arn)
        .map(|p| PolicyRef::Customer(Box::new(p)))
        .ok_or_else(|| no_policy(arn))
}

/// Records that a user or role uses `arn` as its permissions boundary (`using`) or no
/// longer does: the boundary index ([`model::bounded_by_key`]) and the policy's
/// PermissionsBoundaryUsageCount.
pub fn record_boundary_use(
    tx: &mut dyn WriteTx,
    account: &str,
    arn: &str,
    kind: model::EntityKind,
    entity: &str,
    using: bool,
) -> Result<(), ApiError> {
    let key = model::bounded_by_key(account, arn, kind, entity);
    if using {
        model::put(
            tx,
            &key,
            &model::AttachedTo {
                entity_type: kind.tag().to_owned(),
                entity_name: entity.to_owned(),
            },
        )?;
    } else {
        tx.delete(&key)?;
    }
    adjust_counts(tx, account, arn, 0, if using { 1 } else { -1 })
}

/// The store's marker that the boundaries set before [`record_boundary_use`] kept an
/// index are indexed ([`index_boundaries`]).
const BOUNDARIES_INDEXED: &str = "boundary-index-v1";

/// Whether a data dir still needs [`index_boundaries`] (one written before the index).
pub fn boundaries_need_indexing(tx: &dyn ReadTx) -> Result<bool, palisade_store::StoreError> {
    Ok(tx
        .get(&crate::keyspace::meta(BOUNDARIES_INDEXED))?
        .is_none())
}

/// Marks a data dir's boundaries as indexed (a new or reset one has none yet).
pub fn mark_boundaries_indexed(tx: &mut dyn WriteTx) -> Result<(), palisade_store::StoreError> {
    tx.put(&crate::keyspace::meta(BOUNDARIES_INDEXED), b"1")
}

/// Indexes every user's and role's permissions boundary, once per data dir (the counts
/// were kept already). Returns how many were indexed.
pub fn index_boundaries(tx: &mut dyn WriteTx) -> Result<usize, ApiError> {
    use model::EntityKind;
    let mut n = 0;
    for (key, _) in model::scan_all(tx, &crate::keyspace::accounts())? {
        let mut d = palisade_store::keys::Decoder::new(&key);
        let (Ok(_), Ok(account)) = (d.str(), d.str()) else {
            continue;
        };
        let mut found = Vec::new();
        for (_, raw) in model::scan_all(tx, &model::table_prefix(&account, "user"))? {
            if let Ok(u) = serde_json::from_slice::<model::User>(&raw) {
                if let Some(b) = u.permissions_boundary {
                    found.push((b.permissions_boundary_arn, EntityKind::User, u.user_name));
                }
            }
        }
        for (_, raw) in model::scan_all(tx, &model::table_prefix(&account, "role"))? {
            if let Ok(r) = serde_json::from_slice::<model::Role>(&raw) {
                if let Some(b) = r.permissions_boundary {
                    found.push((b.permissions_boundary_arn, EntityKind::Role, r.role_name));
                }
            }
        }
        for (arn, kind, name) in found {
            model::put(
                tx,
                &model::bounded_by_key(&account, &arn, kind, &name),
                &model::AttachedTo {
                    entity_type: kind.tag().to_owned(),
                    entity_name: name,
                },
            )?;
            n += 1;
        }
    }
    mark_boundaries_indexed(tx)?;
    Ok(n)
}

/// Adds `delta` to a customer policy's AttachmentCount or PermissionsBoundaryUsageCount
/// (AWS managed policies keep no counts here).
pub fn adjust_counts(
    tx: &mut dyn WriteTx,
    account: &str,
    arn: &str,
    attachments: i64,
    boundaries: i64,
) -> Result<(), ApiError> {
    let Some((acct, _, name)) = parse_policy_arn(arn) else {
        return Ok(());
    };
    if acct != account {
        return Ok(());
    }
    let key = model::entity_key(account, TABLE, name);
    if let Some(mut p) = model::get::<ManagedPolicy>(tx, &key)? {
        if p.arn == arn {
            p.attachment_count = (p.attachment_count + attachments).max(0);
            p.permissions_boundary_usage_count =
                (p.permissions_boundary_usage_count + boundaries).max(0);
            model::put(tx, &key, &p)?;
        }
    }
    Ok(())
}

/// Checks a permissions boundary ARN names an existing managed policy.
pub fn check_boundary(tx: &dyn ReadTx, account: &str, arn: &str) -> Result<(), ApiError> {
    let (acct, _, _) = parse_policy_arn(arn)
        .ok_or_else(|| IamError::InvalidInput(format!("ARN {arn} is not valid.")))?;
    let _ = acct;
    let policy = resolve(tx, account, arn).map_err(|e| {
        if e.code == "NoSuchEntity" {
            IamError::NoSuchEntity(format!(
                "Scope ARN: {arn} does not exist or is not attachable."
            ))
            .into()
        } else {
            e
        }
    })?;
    policy.check_attachable()
}

pub const TABLE: &str = "policy";

// ---- operations -------------------------------------------------------------------------

use super::{camel_json, model::PolicyVersion, model::Tag};
use crate::{authz::AuthzCheck, context::RequestContext, env::Env, input::Input, Reply};

/// Versions one managed policy may have.
pub const MAX_VERSIONS: usize = 5;

#[derive(Debug)]
pub enum Operation {
    CreatePolicy(CreatePolicyInput),
    GetPolicy(PolicyArnInput),
    ListPolicies(ListPoliciesInput),
    DeletePolicy(PolicyArnInput),
    CreatePolicyVersion(CreatePolicyVersionInput),
    GetPolicyVersion(PolicyVersionInput),
    ListPolicyVersions(ListPolicyVersionsInput),
    DeletePolicyVersion(PolicyVersionInput),
    SetDefaultPolicyVersion(PolicyVersionInput),
}

pub fn decode(
    action: &str,
    input: &Input<'_>,
) -> Option<Result<Box<dyn crate::Operation>, ApiError>> {
    let op = match action {
        "CreatePolicy" => input.parse().map(Operation::CreatePolicy),
        "GetPolicy" => input.parse().map(Operation::GetPolicy),
        "ListPolicies" => input.parse().map(Operation::ListPolicies),
        "DeletePolicy" => input.parse().map(Operation::DeletePolicy),
        "CreatePolicyVersion" => input.parse().map(Operation::CreatePolicyVersion),
        "GetPolicyVersion" => input.parse().map(Operation::GetPolicyVersion),
        "ListPolicyVersions" => input.parse().map(Operation::ListPolicyVersions),
        "DeletePolicyVersion" => input.parse().map(Operation::DeletePolicyVersion),
        "SetDefaultPolicyVersion" => input.parse().map(Operation::SetDefaultPolicyVersion),
        _ => return None,
    };
    Some(op.map(|op| Box::new(op) as Box<dyn crate::Operation>))
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreatePolicyInput {
    pub policy_name: String,
    pub policy_document: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyArnInput {
    pub policy_arn: String,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListPoliciesInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only_attached: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_usage_filter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_items: Option<i64>,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreatePolicyVersionInput {
    pub policy_arn: String,
    pub policy_document: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_as_default: Option<bool>,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyVersionInput {
    pub policy_arn: String,
    pub version_id: String,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListPolicyVersionsInput {
    pub policy_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_items: Option<i64>,
}

/// IAM's `Policy` shape.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyOut {
    pub policy_name: String,
    pub policy_id: String,
    pub arn: String,
    pub path: String,
    pub default_version_id: String,
    pub attachment_count: i64,
    pub permissions_boundary_usage_count: i64,
    pub is_attachable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub create_date: String,
    pub update_date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
}

impl PolicyOut {
    pub fn from_customer(p: &ManagedPolicy) -> Self {
        PolicyOut {
            policy_name: p.policy_name.clone(),
            policy_id: p.policy_id.clone(),
            arn: p.arn.clone(),
            path: p.path.clone(),
            default_version_id: p.default_version_id.clone(),
            attachment_count: p.attachment_count,
            permissions_boundary_usage_count: p.permissions_boundary_usage_count,
            is_attachable: p.is_attachable,
            description: p.description.clone(),
            create_date: p.create_date.clone(),
            update_date: p.update_date.clone(),
            tags: (!p.tags.is_empty()).then(|| p.tags.clone()),
        }
    }

    pub fn from_aws(p: &palisade_iam_data::ManagedPolicy, counts: (i64, i64)) -> Self {
        PolicyOut {
            policy_name: p.name.to_owned(),
            policy_id: aws_policy_id(p.name),
            arn: p.arn.to_owned(),
            path: p.path.to_owned(),
            default_version_id: p.default_version_id.to_owned(),
            attachment_count: counts.0,
            permissions_boundary_usage_count: counts.1,
            is_attachable: true,
            description: None,
            create_date: trim_millis(p.create_date),
            update_date: trim_millis(p.update_date),
            tags: None,
        }
    }
}

/// `2026-03-26T03:42:09.000Z` -> `2026-03-26T03:42:09Z`, IAM's form.
fn trim_millis(s: &str) -> String {
    match (s.find('.'), s.ends_with('Z')) {
        (Some(i), true) => format!("{}Z", s.get(..i).unwrap_or(s)),
        _ => s.to_owned(),
    }
}

/// A stable id for an AWS managed policy (IAM's are fixed per policy; ours derive from
/// the name so they never change between runs).
pub fn aws_policy_id(name: &str) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, name.as_bytes());
    let tail: String = digest
        .as_ref()
        .iter()
        .take(17)
        .map(|b| char::from(ALPHABET.get(usize::from(*b) % 32).copied().unwrap_or(b'A')))
        .collect();
    format!("ANPA{tail}")
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyOutput {
    pub policy: PolicyOut,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListPoliciesOutput {
    pub policies: Vec<PolicyOut>,
    pub is_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
}

/// IAM's `PolicyVersion` shape; `Document` only where AWS returns it, URL-encoded.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyVersionOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
    pub version_id: String,
    pub is_default_version: bool,
    pub create_date: String,
}

impl PolicyVersionOut {
    pub fn new(v: &PolicyVersion, with_document: bool) -> Self {
        PolicyVersionOut {
            document: with_document.then(|| url_encode(&v.document)),
            version_id: v.version_id.clone(),
            is_default_version: v.is_default_version,
            create_date: v.create_date.clone(),
        }
    }
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyVersionOutput {
    pub policy_version: PolicyVersionOut,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListPolicyVersionsOutput {
    pub versions: Vec<PolicyVersionOut>,
    pub is_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
}

/// Every version of a customer policy, newest first (as IAM lists them).
pub fn versions(
    tx: &dyn ReadTx,
    account: &str,
    policy_name: &str,
) -> Result<Vec<PolicyVersion>, ApiError> {
    let mut out: Vec<PolicyVersion> =
        model::scan_all(tx, &model::policy_versions_prefix(account, policy_name))?
            .into_iter()
            .map(|(_, v)| serde_json::from_slice(&v).map_err(ApiError::internal))
            .collect::<Result<_, _>>()?;
    out.sort_by_key(|v| std::cmp::Reverse(version_number(&v.version_id)));
    Ok(out)
}

fn version_number(id: &str) -> u64 {
    id.trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn validate_version_id(id: &str) -> Result<(), IamError> {
    let ok = id.strip_prefix('v').is_some_and(|rest| {
        let (num, suffix) = rest.split_once('.').unwrap_or((rest, ""));
        !num.is_empty()
            && !num.starts_with('0')
            && num.bytes().all(|b| b.is_ascii_digit())
            && suffix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    if ok {
        Ok(())
    } else {
        Err(IamError::Validation(format!(
            "1 validation error detected: Value '{id}' at 'versionId' failed to satisfy constraint: Member must satisfy regular expression pattern: v[1-9][0-9]*(\\.[A-Za-z0-9-]*)?"
        )))
    }
}

fn no_version(arn: &str, id: &str) -> ApiError {
    IamError::NoSuchEntity(format!("Policy {arn} version {id} does not exist.")).into()
}

/// Attachment and boundary-use counts of every policy in the account, by ARN (AWS managed
/// policies keep no counts of their own here).
pub fn usage_counts(
    tx: &dyn ReadTx,
    account: &str,
) -> Result<std::collections::HashMap<String, (i64, i64)>, ApiError> {
    let mut counts = std::collections::HashMap::<String, (i64, i64)>::new();
    for (k, _) in model::scan_all(tx, &model::table_prefix(account, "attachedto"))? {
        let mut d = palisade_store::keys::Decoder::new(&k);
        // iam / account / attachedto / <policy arn> / kind / entity
        let arn = (0..4).map(|_| d.str()).last();
        if let Some(Ok(arn)) = arn {
            counts.entry(arn).or_default().0 += 1;
        }
    }
    // The boundary index, not the users and roles themselves.
    for (k, _) in model::scan_all(tx, &model::table_prefix(account, "boundedby"))? {
        let mut d = palisade_store::keys::Decoder::new(&k);
        // iam / account / boundedby / <policy arn> / kind / entity
        let arn = (0..4).map(|_| d.str()).last();
        if let Some(Ok(arn)) = arn {
            counts.entry(arn).or_default().1 += 1;
        }
    }
    Ok(counts)
}

fn list_policies(
    tx: &dyn ReadTx,
    account: &str,
    i: &ListPoliciesInput,
) -> Result<ListPoliciesOutput, ApiError> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    // Scope and PolicyUsageFilter are the model's enums, checked before authorization
    // (`model_checks`).
    let scope = i.scope.as_deref().unwrap_or("All");
    let usage = i.policy_usage_filter.as_deref();
    let max = model::max_items(i.max_items)?;
    let only_attached = i.only_attached.unwrap_or(false);
    let prefix = model::path_prefix(i.path_prefix.as_deref())?.to_owned();
    let keep = |path: &str, counts: (i64, i64)| {
        path.starts_with(&prefix)
            && (!only_attached
                || match usage {
                    Some("PermissionsBoundary") => counts.1 > 0,
                    Some(_) => counts.0 > 0,
                    None => counts.0 > 0 || counts.1 > 0,
                })
    };
    // Markers: `A<base64 name>` resumes in AWS managed policies at `name`, `L<inner>` in
    // the account's own (`inner`: a `list_page` marker, already within IAM's 320
    // characters less one).
    let invalid = || ApiError::from(IamError::InvalidInput("Invalid Marker.".into()));
    let mut out = Vec::new();
    let (aws_from, local_marker) = match i.marker.as_deref() {
        None => (Some(String::new()), None),
        Some(m) => match (m.get(..1), m.get(1..)) {
            (Some("A"), Some(rest)) => {
                let name = b64
                    .decode(rest)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(invalid)?;
                (Some(name), None)
            }
            (Some("L"), Some(rest)) => (None, Some(rest.to_owned())),
            _ => return Err(invalid()),
        },
    };
    if scope != "Local" {
        if let Some(from) = aws_from {
            let counts = usage_counts(tx, account)?;
            for p in palisade_iam_data::managed_policies()
                .iter()
                .filter(|p| p.name >= from.as_str())
            {
                let c = counts.get(p.arn).copied().unwrap_or((0, 0));
                if !keep(p.path, c) {
                    continue;
                }
                if out.len() == max {
                    return Ok(ListPoliciesOutput {
                        policies: out,
                        is_truncated: true,
                        marker: Some(format!("A{}", b64.encode(p.name))),
                    });
                }
                out.push(PolicyOut::from_aws(p, c));
            }
        }
    }
    if scope != "AWS" {
        let room = max.saturating_sub(out.len());
        if room == 0 {
            // Only a local page can follow; say so if one exists.
            let any = model::list_page::<ManagedPolicy>(
                tx,
                &model::table_prefix(account, TABLE),
                None,
                Some(1),
                |p| {
                    keep(
                        &p.path,
                        (p.attachment_count, p.permissions_boundary_usage_count),
                    )
                },
            )?;
            let marker = (!any.items.is_empty()).then(|| "L".to_owned());
            return Ok(ListPoliciesOutput {
                policies: out,
                is_truncated: marker.is_some(),
                marker,
            });
        }
        let page = model::list_page::<ManagedPolicy>(
            tx,
            &model::table_prefix(account, TABLE),
            local_marker.as_deref().filter(|m| !m.is_empty()),
            Some(i64::try_from(room).unwrap_or(100)),
            |p| {
                keep(
                    &p.path,
                    (p.attachment_count, p.permissions_boundary_usage_count),
                )
            },
        )?;
        for p in &page.items {
            let mut o = PolicyOut::from_customer(p);
            o.description = None;
            o.tags = None;
            out.push(o);
        }
        let marker = page.marker.map(|m| format!("L{m}"));
        return Ok(ListPoliciesOutput {
            policies: out,
            is_truncated: marker.is_some(),
            marker,
        });
    }
    Ok(ListPoliciesOutput {
        policies: out,
        is_truncated: false,
        marker: None,
    })
}

fn aws_unmodifiable(arn: &str) -> ApiError {
    IamError::InvalidInput(format!(
        "Policy {arn} is an AWS managed policy and cannot be changed."
    ))
    .into()
}

impl crate::Operation for Operation {
    fn name(&self) -> &'static str {
        match self {
            Operation::CreatePolicy(_) => "CreatePolicy",
            Operation::GetPolicy(_) => "GetPolicy",
            Operation::ListPolicies(_) => "ListPolicies",
            Operation::DeletePolicy(_) => "DeletePolicy",
            Operation::CreatePolicyVersion(_) => "CreatePolicyVersion",
            Operation::GetPolicyVersion(_) => "GetPolicyVersion",
            Operation::ListPolicyVersions(_) => "ListPolicyVersions",
            Operation::DeletePolicyVersion(_) => "DeletePolicyVersion",
            Operation::SetDefaultPolicyVersion(_) => "SetDefaultPolicyVersion",
        }
    }

    fn read_only(&self) -> bool {
        matches!(
            self,
            Operation::GetPolicy(_)
                | Operation::ListPolicies(_)
                | Operation::GetPolicyVersion(_)
                | Operation::ListPolicyVersions(_)
        )
    }

    fn authz(&self, ctx: &RequestContext) -> Vec<AuthzCheck> {
        let account = ctx.principal.account_id.as_str();
        match self {
            Operation::CreatePolicy(i) => {
                let arn = model::arn(
                    account,
                    "policy",
                    i.path.as_deref().unwrap_or("/"),
                    &i.policy_name,
                );
                let tags = i.tags.as_deref().unwrap_or_default();
                let mut c = AuthzCheck::new("iam:CreatePolicy", arn.clone());
                c.context = super::tags::request_tag_context(tags);
                let mut v = vec![c];
                if !tags.is_empty() {
                    let mut t = AuthzCheck::new("iam:TagPolicy", arn);
                    t.context = super::tags::request_tag_context(tags);
                    v.push(t);
                }
                v
            }
            Operation::GetPolicy(i) => vec![AuthzCheck::new("iam:GetPolicy", &i.policy_arn)],
            Operation::ListPolicies(i) => vec![AuthzCheck::new(
                "iam:ListPolicies",
                super::resource_arn(account, "policy", i.path_prefix.as_deref(), ""),
            )],
            Operation::DeletePolicy(i) => {
                vec![AuthzCheck::new("iam:DeletePolicy", &i.policy_arn)]
            }
            Operation::CreatePolicyVersion(i) => {
                vec![AuthzCheck::new("iam:CreatePolicyVersion", &i.policy_arn)]
            }
            Operation::GetPolicyVersion(i) => {
                vec![AuthzCheck::new("iam:GetPolicyVersion", &i.policy_arn)]
            }
            Operation::ListPolicyVersions(i) => {
                vec![AuthzCheck::new("iam:ListPolicyVersions", &i.policy_arn)]
            }
            Operation::DeletePolicyVersion(i) => {
                vec![AuthzCheck::new("iam:DeletePolicyVersion", &i.policy_arn)]
            }
            Operation::SetDefaultPolicyVersion(i) => {
                vec![AuthzCheck::new(
                    "iam:SetDefaultPolicyVersion",
                    &i.policy_arn,
                )]
            }
        }
    }

    fn request_parameters(&self) -> Option<serde_json::Value> {
        match self {
            Operation::CreatePolicy(i) => camel_json(i),
            Operation::GetPolicy(i) | Operation::DeletePolicy(i) => camel_json(i),
            Operation::ListPolicies(i) => camel_json(i),
            Operation::CreatePolicyVersion(i) => camel_json(i),
            Operation::GetPolicyVersion(i)
            | Operation::DeletePolicyVersion(i)
            | Operation::SetDefaultPolicyVersion(i) => camel_json(i),
            Operation::ListPolicyVersions(i) => camel_json(i),
        }
    }

    fn read(&self, tx: &dyn ReadTx, _env: &Env, ctx: &RequestContext) -> Result<Reply, ApiError> {
        let account = &ctx.principal.account_id;
        match self {
            Operation::GetPolicy(i) => {
                let (acct, _, _) = validate_policy_arn(&i.policy_arn)?;
                let policy = if acct == "aws" {
                    let p = palisade_iam_data::managed_policy_by_arn(&i.policy_arn).ok_or_else(
                        || {
                            ApiError::from(IamError::NoSuchEntity(format!(
                                "Policy {} was not found.",
                                i.policy_arn
                            )))
                        },
                    )?;
                    let counts = usage_counts(tx, account)?;
                    PolicyOut::from_aws(p, counts.get(p.arn).copied().unwrap_or((0, 0)))
                } else {
                    PolicyOut::from_customer(&load_customer(tx, account, &i.policy_arn)?)
                };
                Ok(Reply::new(PolicyOutput { policy }))
            }
            Operation::ListPolicies(i) => Ok(Reply::new(list_policies(tx, account, i)?)),
            Operation::GetPolicyVersion(i) => {
                validate_version_id(&i.version_id)?;
                let (acct, _, _) = validate_policy_arn(&i.policy_arn)?;
                let v = if acct == "aws" {
                    let p = palisade_iam_data::managed_policy_by_arn(&i.policy_arn).ok_or_else(
                        || {
                            ApiError::from(IamError::NoSuchEntity(format!(
                                "Policy {} was not found.",
                                i.policy_arn
                            )))
                        },
                    )?;
                    if p.default_version_id != i.version_id {
                        return Err(no_version(&i.policy_arn, &i.version_id));
                    }
                    PolicyVersion {
                        document: p.document.to_owned(),
                        version_id: p.default_version_id.to_owned(),
                        is_default_version: true,
                        create_date: trim_millis(p.update_date),
                    }
                } else {
                    let p = load_customer(tx, account, &i.policy_arn)?;
                    model::get::<PolicyVersion>(
                        tx,
                        &model::policy_version_key(account, &p.policy_name, &i.version_id),
                    )?
                    .ok_or_else(|| no_version(&i.policy_arn, &i.version_id))?
                };
                Ok(Reply::new(PolicyVersionOutput {
                    policy_version: PolicyVersionOut::new(&v, true),
                }))
            }
            Operation::ListPolicyVersions(i) => {
                let (acct, _, _) = validate_policy_arn(&i.policy_arn)?;
                // At most five versions, paged in memory; the marker is the version id the
                // next page begins with.
                let max = model::max_items(i.max_items)?;
                let list: Vec<PolicyVersionOut> = if acct == "aws" {
                    let p = palisade_iam_data::managed_policy_by_arn(&i.policy_arn).ok_or_else(
                        || {
                            ApiError::from(IamError::NoSuchEntity(format!(
                                "Policy {} was not found.",
                                i.policy_arn
                            )))
                        },
                    )?;
                    vec![PolicyVersionOut {
                        document: None,
                        version_id: p.default_version_id.to_owned(),
                        is_default_version: true,
                        create_date: trim_millis(p.update_date),
                    }]
                } else {
                    let p = load_customer(tx, account, &i.policy_arn)?;
                    versions(tx, account, &p.policy_name)?
                        .iter()
                        .map(|v| PolicyVersionOut::new(v, false))
                        .collect()
                };
                // Newest first; a marker names the version the next page begins with, and
                // when that one was deleted meanwhile the page begins with the next older.
                let start = match &i.marker {
                    Some(m) => {
                        let from = m
                            .strip_prefix('v')
                            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                            .and_then(|n| n.parse::<u64>().ok())
                            .ok_or_else(|| IamError::InvalidInput("Invalid Marker.".into()))?;
                        list.iter()
                            .position(|v| version_number(&v.version_id) <= from)
                            .unwrap_or(list.len())
                    }
                    None => 0,
                };
                let mut rest = list.into_iter().skip(start);
                let versions: Vec<PolicyVersionOut> = rest.by_ref().take(max).collect();
                let marker = rest.next().map(|v| v.version_id);
                Ok(Reply::new(ListPolicyVersionsOutput {
                    versions,
                    is_truncated: marker.is_some(),
                    marker,
                }))
            }
            _ => Err(ApiError::internal(
                "read() on a mutating IAM policy operation",
            )),
        }
    }

    fn write(
        &self,
        tx: &mut dyn WriteTx,
        _env: &Env,
        ctx: &RequestContext,
    ) -> Result<Reply, ApiError> {
        let account = &ctx.principal.account_id;
        let now = model::iso(ctx.now);
        match self {
            Operation::CreatePolicy(i) => {
                model::validate_name("policyName", &i.policy_name, 128)?;
                let path = i.path.as_deref().unwrap_or("/");
                model::validate_path("path", path)?;
                if let Some(d) = &i.description {
                    if d.chars().count() > 1000 {
                        return Err(IamError::Validation(format!(
                            "1 validation error detected: Value '{d}' at 'description' failed to satisfy constraint: Member must have length less than or equal to 1000"
                        )).into());
                    }
                }
                let tags = i.tags.clone().unwrap_or_default();
                model::validate_tags(&tags)?;
                let doc = decode_document(&i.policy_document);
                check_managed_document(&doc)?;
                let key = model::entity_key(account, TABLE, &i.policy_name);
                if tx.get(&key)?.is_some() {
                    return Err(IamError::EntityAlreadyExists(format!(
                        "A policy called {} already exists. Duplicate names are not allowed.",
                        i.policy_name
                    ))
                    .into());
                }
                let policy = ManagedPolicy {
                    policy_name: i.policy_name.clone(),
                    policy_id: model::new_id("ANPA")?,
                    arn: model::arn(account, "policy", path, &i.policy_name),
                    path: path.to_owned(),
                    default_version_id: "v1".into(),
                    attachment_count: 0,
                    permissions_boundary_usage_count: 0,
                    is_attachable: true,
                    description: i.description.clone(),
                    create_date: now.clone(),
                    update_date: now.clone(),
                    tags,
                    next_version: 2,
                };
                model::put(tx, &key, &policy)?;
                model::put(
                    tx,
                    &model::policy_version_key(account, &i.policy_name, "v1"),
                    &PolicyVersion {
                        document: doc,
                        version_id: "v1".into(),
                        is_default_version: true,
                        create_date: now,
                    },
                )?;
                let mut out = PolicyOut::from_customer(&policy);
                out.description = None;
                let arn = out.arn.clone();
                let out = PolicyOutput { policy: out };
                let mut reply_elements = camel_json(&out);
                if let Some(serde_json::Value::Object(m)) = reply_elements.as_mut() {
                    if let Some(serde_json::Value::Object(p)) = m.get_mut("policy") {
                        p.remove("tags");
                    }
                }
                let mut reply = Reply::new(out);
                reply.response_elements = reply_elements;
                reply.resources = vec![("AWS::IAM::Policy".into(), arn)];
                Ok(reply)
            }
            Operation::DeletePolicy(i) => {
                let (acct, _, _) = validate_policy_arn(&i.policy_arn)?;
                if acct == "aws" {
                    return Err(aws_unmodifiable(&i.policy_arn));
                }
                let p = load_customer(tx, account, &i.policy_arn)?;
                if p.attachment_count > 0
                    || !model::scan_all(tx, &model::attached_to_prefix(account, &p.arn))?.is_empty()
                {
                    return Err(IamError::DeleteConflict(
                        "Cannot delete a policy attached to entities.".into(),
                    )
                    .into());
                }
                if p.permissions_boundary_usage_count > 0 {
                    return Err(IamError::DeleteConflict(
                        "Cannot delete a policy that is in use as a permissions boundary.".into(),
                    )
                    .into());
                }
                if versions(tx, account, &p.policy_name)?.len() > 1 {
                    return Err(IamError::DeleteConflict(
                        "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.".into(),
                    )
                    .into());
                }
                model::delete_prefix(tx, &model::policy_versions_prefix(account, &p.policy_name))?;
                tx.delete(&model::entity_key(account, TABLE, &p.policy_name))?;
                let mut reply = Reply::empty();
                reply.resources = vec![("AWS::IAM::Policy".into(), p.arn)];
                Ok(reply)
            }
            Operation::CreatePolicyVersion(i) => {
                let (acct, _, _) = validate_policy_arn(&i.policy_arn)?;
                if acct == "aws" {
                    return Err(aws_unmodifiable(&i.policy_arn));
                }
                let mut p = load_customer(tx, account, &i.policy_arn)?;
                let doc = decode_document(&i.policy_document);
                check_managed_document(&doc)?;
                let existing = versions(tx, account, &p.policy_name)?;
                if existing.len() >= MAX_VERSIONS {
                    return Err(IamError::LimitExceeded(
                        "A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version.".into(),
                    )
                    .into());
                }
                let next = existing
                    .iter()
                    .map(|v| version_number(&v.version_id))
                    .max()
                    .unwrap_or(0)
                    .max(u64::from(p.next_version.saturating_sub(1)))
                    + 1;
                let id = format!("v{next}");
                let default = i.set_as_default.unwrap_or(false);
                if default {
                    for mut v in existing.into_iter().filter(|v| v.is_default_version) {
                        v.is_default_version = false;
                        model::put(
                            tx,
                            &model::policy_version_key(account, &p.policy_name, &v.version_id),
                            &v,
                        )?;
                    }
                    p.default_version_id = id.clone();
                }
                let version = PolicyVersion {
                    document: doc,
                    version_id: id.clone(),
                    is_default_version: default,
                    create_date: now.clone(),
                };
                model::put(
                    tx,
                    &model::policy_version_key(account, &p.policy_name, &id),
                    &version,
                )?;
                p.next_version = u32::try_from(next + 1).unwrap_or(u32::MAX);
                p.update_date = now;
                model::put(tx, &model::entity_key(account, TABLE, &p.policy_name), &p)?;
                let out = PolicyVersionOutput {
                    policy_version: PolicyVersionOut::new(&version, false),
                };
                let mut reply = Reply::new(out);
                reply.response_elements = Some(serde_json::json!({
                    "policyVersion": {
                        "versionId": version.version_id,
                        "isDefaultVersion": version.is_default_version,
                        "createDate": version.create_date,
                    }
                }));
                reply.resources = vec![("AWS::IAM::Policy".into(), p.arn)];
                Ok(reply)
            }
            Operation::DeletePolicyVersion(i) => {
                validate_version_id(&i.version_id)?;
                let (acct, _, _) = validate_policy_arn(&i.policy_arn)?;
                if acct == "aws" {
                    return Err(aws_unmodifiable(&i.policy_arn));
                }
                let p = load_customer(tx, account, &i.policy_arn)?;
                let key = model::policy_version_key(account, &p.policy_name, &i.version_id);
                let v = model::get::<PolicyVersion>(tx, &key)?
                    .ok_or_else(|| no_version(&i.policy_arn, &i.version_id))?;
                if v.is_default_version || p.default_version_id == v.version_id {
                    return Err(IamError::DeleteConflict(
                        "Cannot delete the default version of a policy.".into(),
                    )
                    .into());
                }
                tx.delete(&key)?;
                let mut reply = Reply::empty();
                reply.resources = vec![("AWS::IAM::Policy".into(), p.arn)];
                Ok(reply)
            }
            Operation::SetDefaultPolicyVersion(i) => {
                validate_version_id(&i.version_id)?;
                let (acct, _, _) = validate_policy_arn(&i.policy_arn)?;
                if acct == "aws" {
                    return Err(aws_unmodifiable(&i.policy_arn));
                }
                let mut p = load_customer(tx, account, &i.policy_arn)?;
                let key = model::policy_version_key(account, &p.policy_name, &i.version_id);
                let mut v = model::get::<PolicyVersion>(tx, &key)?
                    .ok_or_else(|| no_version(&i.policy_arn, &i.version_id))?;
                if !v.is_default_version {
                    let old_key =
                        model::policy_version_key(account, &p.policy_name, &p.default_version_id);
                    if let Some(mut old) = model::get::<PolicyVersion>(tx, &old_key)? {
                        old.is_default_version = false;
                        model::put(tx, &old_key, &old)?;
                    }
                    v.is_default_version = true;
                    model::put(tx, &key, &v)?;
                    p.default_version_id = v.version_id.clone();
                    p.update_date = now;
                    model::put(tx, &model::entity_key(account, TABLE, &p.policy_name), &p)?;
                }
                let mut reply = Reply::empty();
                reply.resources = vec![("AWS::IAM::Policy".into(), p.arn)];
                Ok(reply)
            }
            _ => Err(ApiError::internal(
                "write() on a read-only IAM policy operation",
            )),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn url_encoding_round_trips_as_botocore_unquotes() {
        let doc = "{\"Version\": \"2012-10-17\", \"Statement\": [{\"Resource\": \"arn:aws:s3:::a/*\"}]}\n";
        let enc = url_encode(doc);
        assert!(enc.starts_with("%7B%22Version%22%3A%20%222012-10-17%22"));
        assert!(!enc.contains(' ') && !enc.contains('+'));
        assert_eq!(decode_document(&enc), doc);
        assert_eq!(decode_document(doc), doc);
        // Not encoded after all: kept as sent.
        assert_eq!(decode_document("%zz"), "%zz");
    }

    /// A data dir whose users and roles got boundaries before the boundary index existed:
    /// indexed once at start, the policy's entities and counts come from the index.
    #[test]
    fn boundaries_set_before_the_index_are_indexed_once() {
        const ACCT: &str = "111122223333";
        let policy = "arn:aws:iam::aws:policy/ReadOnlyAccess";
        let env = crate::env::testing::test_env(ACCT);
        crate::accounts::write_blocking(env.store.as_ref(), move |tx| {
            tx.put(&crate::keyspace::account(ACCT), b"{}")?;
            let user: model::User = serde_json::from_value(serde_json::json!({
                "Path": "/", "UserName": "alice", "UserId": "AIDAALICE0000000000000",
                "Arn": "arn:aws:iam::111122223333:user/alice", "CreateDate": "2026-01-01T00:00:00Z",
                "PermissionsBoundary": {"PermissionsBoundaryType": "Policy",
                    "PermissionsBoundaryArn": policy}}))
            .unwrap();
            model::put(tx, &model::entity_key(ACCT, "user", "alice"), &user)?;
            assert_eq!(usage_counts(tx, ACCT)?.get(policy), None);
            assert!(boundaries_need_indexing(tx).unwrap());
            assert_eq!(index_boundaries(tx)?, 1);
            assert!(!boundaries_need_indexing(tx).unwrap());
            assert_eq!(usage_counts(tx, ACCT)?.get(policy), Some(&(0, 1)));
            let by = model::scan_all(tx, &model::bounded_by_prefix(ACCT, policy))?;
            assert_eq!(by.len(), 1);
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn size_ignores_whitespace() {
        assert_eq!(policy_size("{ \"a\" :\n\t\"b c\" }"), 10);
    }

    #[test]
    fn malformed_documents_answer_in_aws_words() {
        let cases: &[(&str, DocKind, &str)] = &[
            ("{", DocKind::Identity, "Syntax errors in policy."),
            ("", DocKind::Identity, "Syntax errors in policy."),
            (
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject"}]}"#,
                DocKind::Identity,
                "Policy statement must contain resources.",
            ),
            (
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Resource":"*"}]}"#,
                DocKind::Identity,
                "Policy statement must contain actions.",
            ),
            (
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}]}"#,
                DocKind::Identity,
                "Policy document should not specify a principal.",
            ),
            (
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole"}]}"#,
                DocKind::Trust,
                "Invalid principal in policy: com.amazon.balsa.error.InvalidPolicyException: The passed in policy has a statement with no principals!",
            ),
            (
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"GetObject","Resource":"*"}]}"#,
                DocKind::Identity,
                "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
            ),
            // Never the engine's own words.
            (
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEqualz":{"aws:username":"a"}}}]}"#,
                DocKind::Identity,
                "Syntax errors in policy.",
            ),
            (
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:root","alice"]},"Action":"sts:AssumeRole"}]}"#,
                DocKind::Trust,
                r#"Invalid principal in policy: "AWS":"alice""#,
            ),
            (
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"arn:aws:iam::111122223333:root","Action":"sts:AssumeRole"}]}"#,
                DocKind::Trust,
                "Invalid principal in policy",
            ),
        ];
        for (doc, kind, want) in cases {
            assert_eq!(
                check_document(doc, *kind),
                Err(IamError::MalformedPolicyDocument((*want).to_owned())),
                "{doc}"
            );
        }
        assert!(check_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
            DocKind::Trust
        )
        .is_ok());
        // IAM's grammar beyond the evaluator's: the validator's answers reach the caller.
        let cases: &[(&str, DocKind, &str)] = &[
            (
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"foo"}]}"#,
                DocKind::Identity,
                r#"Resource foo must be in ARN format or "*"."#,
            ),
            (
                r#"{"Version":"2012-10-17","Statement":[{"Sid":"read only","Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
                DocKind::Identity,
                "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*",
            ),
            (
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole","Resource":"*"}]}"#,
                DocKind::Trust,
                "Has prohibited field Resource",
            ),
            (
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":["sts:AssumeRole","s3:GetObject"]}]}"#,
                DocKind::Trust,
                "AssumeRole policy may only specify STS AssumeRole actions.",
            ),
        ];
        for (doc, kind, want) in cases {
            assert_eq!(
                check_document(doc, *kind),
                Err(IamError::MalformedPolicyDocument((*want).to_owned())),
                "{doc}"
            );
        }
    }

    #[test]
    fn policy_arns() {
        assert_eq!(
            parse_policy_arn("arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"),
            Some(("aws", "/service-role/", "AWSLambdaBasicExecutionRole"))
        );
        assert_eq!(
            parse_policy_arn("arn:aws:iam::000000000000:policy/MFAEnforcement"),
            Some(("000000000000", "/", "MFAEnforcement"))
        );
        for bad in [
            "arn:aws:iam::000000000000:role/x",
            "arn:aws:iam::000000000000:policy/",
            "arn:aws:iam::12:policy/x",
            "not-an-arn",
        ] {
            assert_eq!(parse_policy_arn(bad), None, "{bad}");
        }
    }

    #[test]
    fn aws_policy_ids_are_stable() {
        assert_eq!(
            aws_policy_id("ReadOnlyAccess"),
            aws_policy_id("ReadOnlyAccess")
        );
        assert_ne!(
            aws_policy_id("ReadOnlyAccess"),
            aws_policy_id("SecurityAudit")
        );
        assert_eq!(aws_policy_id("ReadOnlyAccess").len(), 21);
    }
}
