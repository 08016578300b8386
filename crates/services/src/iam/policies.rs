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
use palisade_policy::{Policy, PolicyKind};
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
    let pk = match kind {
        DocKind::Identity => PolicyKind::Identity,
        DocKind::Trust => PolicyKind::Resource,
    };
    match Policy::parse(doc, pk) {
        Ok(_) => Ok(()),
        Err(e) => Err(IamError::MalformedPolicyDocument(aws_message(
            &e.message, kind,
        ))),
    }
}

/// The engine's parse error in IAM's words.
fn aws_message(msg: &str, kind: DocKind) -> String {
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
        return format!("Invalid principal in policy: {msg}");
    } else if msg.starts_with("unknown statement element")
        || msg.starts_with("unknown policy element")
    {
        "Syntax errors in policy."
    } else if msg.contains("condition") {
        return format!("Syntax errors in policy. {msg}");
    } else {
        "Syntax errors in policy."
    };
    let _ = kind;
    m.to_owned()
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
    resolve(tx, account, arn).map(|_| ()).map_err(|e| {
        if e.code == "NoSuchEntity" {
            IamError::NoSuchEntity(format!(
                "Scope ARN: {arn} does not exist or is not attachable."
            ))
            .into()
        } else {
            e
        }
    })
}

pub const TABLE: &str = "policy";
