//! Policy validation and lint, in the manner of IAM Access Analyzer ValidatePolicy.
//!
//! Works on the raw JSON (`serde_json::Value`), not on the evaluator's model, so that it can
//! report everything wrong with a document at once, each finding with a JSON path into it
//! (`$.Statement[0].Condition.StringEquals["aws:SourceIp"]`). It never fails on a JSON
//! document: problems are findings. Only text that is not JSON at all is an [`InputError`].
//!
//! Issue codes are Access Analyzer's (`MISSING_RESOURCE`, `INVALID_ACTION`, ...) where one
//! exists; the few of ours are listed in [`codes`]. Severities follow Access Analyzer too,
//! with one deliberate difference: an action, service or condition key that the embedded
//! Service Authorization Reference does not know is a WARNING, not an ERROR, because IAM
//! itself accepts such policies and our copy of the reference is a snapshot that lags AWS.
//!
//! Must never: panic or recurse without bound on any input, look anything up outside the
//! document and `palisade_iam_data`.

mod check;
mod condition;

use std::fmt;
use std::str::FromStr;

/// What kind of policy a document is; decides which elements are allowed and the size quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyType {
    /// An identity-based policy with the managed-policy quota (6,144 characters).
    Identity,
    /// Inline policies of a user (aggregate quota 2,048 characters).
    UserInline,
    /// Inline policies of a role (aggregate quota 10,240 characters).
    RoleInline,
    /// Inline policies of a group (aggregate quota 5,120 characters).
    GroupInline,
    /// A resource-based policy (bucket, key, queue, secret, ... policy).
    Resource,
    /// A role trust policy (resource-based; quota 2,048 characters by default).
    RoleTrust,
    /// An AWS Organizations service control policy (5,120 characters).
    ServiceControl,
    /// An AWS Organizations resource control policy (5,120 characters).
    ResourceControl,
}

impl PolicyType {
    /// Identity-based policies and SCPs: no Principal element.
    pub fn is_identity_like(self) -> bool {
        matches!(
            self,
            PolicyType::Identity
                | PolicyType::UserInline
                | PolicyType::RoleInline
                | PolicyType::GroupInline
                | PolicyType::ServiceControl
        )
    }

    /// IAM's own policy types (identity policies and role trust policies), which IAM checks
    /// with rules of its own (see [`iam_rejection`]).
    pub fn is_iam(self) -> bool {
        matches!(
            self,
            PolicyType::Identity
                | PolicyType::UserInline
                | PolicyType::RoleInline
                | PolicyType::GroupInline
                | PolicyType::RoleTrust
        )
    }

    /// Policies that name who they apply to: Principal is required.
    pub fn needs_principal(self) -> bool {
        matches!(
            self,
            PolicyType::Resource | PolicyType::RoleTrust | PolicyType::ResourceControl
        )
    }

    /// Access Analyzer's name for the family of this policy type.
    pub fn as_aws_str(self) -> &'static str {
        match self {
            PolicyType::Identity
            | PolicyType::UserInline
            | PolicyType::RoleInline
            | PolicyType::GroupInline => "IDENTITY_POLICY",
            PolicyType::Resource | PolicyType::RoleTrust => "RESOURCE_POLICY",
            PolicyType::ServiceControl => "SERVICE_CONTROL_POLICY",
            PolicyType::ResourceControl => "RESOURCE_CONTROL_POLICY",
        }
    }

    /// The size quota in characters and whether whitespace counts towards it.
    ///
    /// IAM counts non-whitespace characters (IAM and STS quotas; GetAccountSummary's
    /// `...SizeQuota` fields say "in non-whitespace characters"). AWS Organizations stores
    /// policies sent through the API as given, whitespace included.
    pub fn size_quota(self) -> Option<(usize, bool)> {
        match self {
            PolicyType::Identity => Some((6_144, false)),
            PolicyType::UserInline => Some((2_048, false)),
            PolicyType::RoleInline => Some((10_240, false)),
            PolicyType::GroupInline => Some((5_120, false)),
            PolicyType::RoleTrust => Some((2_048, false)),
            PolicyType::ServiceControl | PolicyType::ResourceControl => Some((5_120, true)),
            // Each service has its own (S3 20 KB, KMS 32 KB, SQS 8 KB, ...).
            PolicyType::Resource => None,
        }
    }
}

impl fmt::Display for PolicyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PolicyType::Identity => "identity",
            PolicyType::UserInline => "user-inline",
            PolicyType::RoleInline => "role-inline",
            PolicyType::GroupInline => "group-inline",
            PolicyType::Resource => "resource",
            PolicyType::RoleTrust => "trust",
            PolicyType::ServiceControl => "scp",
            PolicyType::ResourceControl => "rcp",
        })
    }
}

/// An unknown policy type name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown policy type `{0}` (expected identity, user-inline, role-inline, group-inline, resource, trust, scp or rcp)")]
pub struct UnknownPolicyType(pub String);

impl FromStr for PolicyType {
    type Err = UnknownPolicyType;

    /// Accepts our short names and Access Analyzer's `IDENTITY_POLICY`, `RESOURCE_POLICY`,
    /// `SERVICE_CONTROL_POLICY`, `RESOURCE_CONTROL_POLICY`; case and `-`/`_` don't matter.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm: String = s
            .trim()
            .chars()
            .map(|c| {
                if c == '_' {
                    '-'
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect();
        Ok(match norm.as_str() {
            "identity" | "identity-policy" | "managed" | "managed-policy" => PolicyType::Identity,
            "user-inline" | "user" | "user-policy" => PolicyType::UserInline,
            "role-inline" | "role" | "role-policy" => PolicyType::RoleInline,
            "group-inline" | "group" | "group-policy" => PolicyType::GroupInline,
            "resource" | "resource-policy" => PolicyType::Resource,
            "trust" | "role-trust" | "trust-policy" | "assume-role-policy" => PolicyType::RoleTrust,
            "scp" | "service-control" | "service-control-policy" => PolicyType::ServiceControl,
            "rcp" | "resource-control" | "resource-control-policy" => PolicyType::ResourceControl,
            _ => return Err(UnknownPolicyType(s.to_string())),
        })
    }
}

/// How much a finding matters, as Access Analyzer grades them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Part of the policy does not work, or AWS would reject the document.
    Error,
    /// Allows access that is likely broader than meant.
    SecurityWarning,
    /// Probably not what the author meant, or against best practice.
    Warning,
    /// Style; no effect on access.
    Suggestion,
}

impl Severity {
    /// Access Analyzer's `findingType`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "ERROR",
            Severity::SecurityWarning => "SECURITY_WARNING",
            Severity::Warning => "WARNING",
            Severity::Suggestion => "SUGGESTION",
        }
    }

    /// The contract's three levels: a security warning prints as `WARNING`.
    pub fn as_cli_str(self) -> &'static str {
        match self {
            Severity::SecurityWarning => "WARNING",
            s => s.as_str(),
        }
    }
}

/// One problem found in a policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    /// Access Analyzer's `issueCode` where one exists, e.g. `MISSING_RESOURCE`.
    pub code: String,
    pub message: String,
    /// JSON path to the element, e.g. `$.Statement[0].Resource`.
    pub path: String,
}

/// Issue codes. Most are Access Analyzer's; the ones marked (ours) are not.
pub mod codes {
    pub const DATA_TYPE_MISMATCH: &str = "DATA_TYPE_MISMATCH";
    pub const INVALID_POLICY_ELEMENT: &str = "INVALID_POLICY_ELEMENT";
    pub const MISSING_VERSION: &str = "MISSING_VERSION";
    pub const INVALID_VERSION: &str = "INVALID_VERSION";
    pub const MISSING_STATEMENT: &str = "MISSING_STATEMENT";
    pub const MISSING_EFFECT: &str = "MISSING_EFFECT";
    pub const INVALID_EFFECT: &str = "INVALID_EFFECT";
    pub const MISSING_ACTION: &str = "MISSING_ACTION";
    pub const MISSING_RESOURCE: &str = "MISSING_RESOURCE";
    pub const MISSING_PRINCIPAL: &str = "MISSING_PRINCIPAL";
    pub const UNSUPPORTED_PRINCIPAL: &str = "UNSUPPORTED_PRINCIPAL";
    pub const SCP_SYNTAX_ERROR_PRINCIPAL: &str = "SCP_SYNTAX_ERROR_PRINCIPAL";
    pub const UNSUPPORTED_ELEMENT_COMBINATION: &str = "UNSUPPORTED_ELEMENT_COMBINATION";
    pub const UNIQUE_SIDS_REQUIRED: &str = "UNIQUE_SIDS_REQUIRED";
    pub const UNIQUE_SIDS_RECOMMENDED: &str = "UNIQUE_SIDS_RECOMMENDED";
    pub const UNSUPPORTED_SID: &str = "UNSUPPORTED_SID";
    pub const EMPTY_SID_VALUE: &str = "EMPTY_SID_VALUE";
    /// (ours) An action that is not `*` nor `<prefix>:<name>`.
    pub const INVALID_ACTION_FORMAT: &str = "INVALID_ACTION_FORMAT";
    pub const INVALID_SERVICE_IN_ACTION: &str = "INVALID_SERVICE_IN_ACTION";
    pub const INVALID_ACTION: &str = "INVALID_ACTION";
    pub const WILDCARD_IN_SERVICE_NAME: &str = "WILDCARD_IN_SERVICE_NAME";
    pub const INVALID_ARN_PREFIX: &str = "INVALID_ARN_PREFIX";
    pub const MISSING_ARN_FIELD: &str = "MISSING_ARN_FIELD";
    pub const INVALID_PARTITION: &str = "INVALID_PARTITION";
    pub const INVALID_ARN_SERVICE_CASE: &str = "INVALID_ARN_SERVICE_CASE";
    pub const INVALID_REGION: &str = "INVALID_REGION";
    pub const INVALID_ARN_ACCOUNT: &str = "INVALID_ARN_ACCOUNT";
    pub const INVALID_PRINCIPAL_KEY: &str = "INVALID_PRINCIPAL_KEY";
    pub const INVALID_PRINCIPAL_FORMAT: &str = "INVALID_PRINCIPAL_FORMAT";
    pub const INVALID_SERVICE_PRINCIPAL_FORMAT: &str = "INVALID_SERVICE_PRINCIPAL_FORMAT";
    pub const UNSUPPORTED_WILDCARD_IN_PRINCIPAL: &str = "UNSUPPORTED_WILDCARD_IN_PRINCIPAL";
    pub const INVALID_CONDITION_OPERATOR: &str = "INVALID_CONDITION_OPERATOR";
    pub const NULL_WITH_IF_EXISTS: &str = "NULL_WITH_IF_EXISTS";
    pub const INVALID_CONDITION_KEY_FORMAT: &str = "INVALID_CONDITION_KEY_FORMAT";
    pub const INVALID_GLOBAL_CONDITION_KEY: &str = "INVALID_GLOBAL_CONDITION_KEY";
    pub const INVALID_SERVICE_CONDITION_KEY: &str = "INVALID_SERVICE_CONDITION_KEY";
    pub const INVALID_CONDITION_MULTIPLE_BOOLEAN: &str = "INVALID_CONDITION_MULTIPLE_BOOLEAN";
    pub const TYPE_MISMATCH: &str = "TYPE_MISMATCH";
    pub const TYPE_MISMATCH_BOOLEAN: &str = "TYPE_MISMATCH_BOOLEAN";
    pub const TYPE_MISMATCH_DATE: &str = "TYPE_MISMATCH_DATE";
    pub const TYPE_MISMATCH_NUMBER: &str = "TYPE_MISMATCH_NUMBER";
    pub const TYPE_MISMATCH_IP_RANGE: &str = "TYPE_MISMATCH_IP_RANGE";
    pub const TYPE_MISMATCH_ARN: &str = "TYPE_MISMATCH_ARN";
    pub const WILDCARD_WITHOUT_LIKE_OPERATOR: &str = "WILDCARD_WITHOUT_LIKE_OPERATOR";
    pub const FORALLVALUES_WITH_SINGLE_VALUED_KEY: &str = "FORALLVALUES_WITH_SINGLE_VALUED_KEY";
    pub const MISSING_BRACE_IN_VARIABLE: &str = "MISSING_BRACE_IN_VARIABLE";
    pub const EMPTY_VARIABLE: &str = "EMPTY_VARIABLE";
    pub const VARIABLE_UNSUPPORTED_IN_VERSION: &str = "VARIABLE_UNSUPPORTED_IN_VERSION";
    pub const POLICY_SIZE_EXCEEDS_IDENTITY_POLICY_QUOTA: &str =
        "POLICY_SIZE_EXCEEDS_IDENTITY_POLICY_QUOTA";
    pub const POLICY_SIZE_EXCEEDS_RESOURCE_POLICY_QUOTA: &str =
        "POLICY_SIZE_EXCEEDS_RESOURCE_POLICY_QUOTA";
    /// (ours) SCP over the AWS Organizations quota.
    pub const POLICY_SIZE_EXCEEDS_SCP_QUOTA: &str = "POLICY_SIZE_EXCEEDS_SCP_QUOTA";
    /// (ours) RCP over the AWS Organizations quota.
    pub const POLICY_SIZE_EXCEEDS_RCP_QUOTA: &str = "POLICY_SIZE_EXCEEDS_RCP_QUOTA";
    /// (ours) IAM documents may hold only tab, LF, CR and U+0020..U+00FF.
    pub const INVALID_CHARACTER: &str = "INVALID_CHARACTER";
    pub const PASS_ROLE_WITH_STAR_IN_RESOURCE: &str = "PASS_ROLE_WITH_STAR_IN_RESOURCE";
    /// (ours) `Allow` with `NotAction`: allows every action but a few.
    pub const ALLOW_WITH_NOT_ACTION: &str = "ALLOW_WITH_NOT_ACTION";
    /// (ours) `Allow` with `NotResource`.
    pub const ALLOW_WITH_NOT_RESOURCE: &str = "ALLOW_WITH_NOT_RESOURCE";
    /// (ours) `Allow` with `NotPrincipal`, which AWS does not support.
    pub const ALLOW_WITH_NOT_PRINCIPAL: &str = "ALLOW_WITH_NOT_PRINCIPAL";
    /// (ours) An RCP that does something RCPs cannot (Allow other than full access,
    /// a principal other than `*`, a service RCPs do not cover).
    pub const RCP_SYNTAX_ERROR: &str = "RCP_SYNTAX_ERROR";
    pub const REDUNDANT_STATEMENT: &str = "REDUNDANT_STATEMENT";
    pub const REDUNDANT_ACTION: &str = "REDUNDANT_ACTION";
    pub const REDUNDANT_RESOURCE: &str = "REDUNDANT_RESOURCE";
    pub const EMPTY_ARRAY_ACTION: &str = "EMPTY_ARRAY_ACTION";
    pub const EMPTY_ARRAY_RESOURCE: &str = "EMPTY_ARRAY_RESOURCE";
    pub const EMPTY_ARRAY_PRINCIPAL: &str = "EMPTY_ARRAY_PRINCIPAL";
    pub const EMPTY_ARRAY_CONDITION: &str = "EMPTY_ARRAY_CONDITION";
    pub const EMPTY_OBJECT_CONDITION: &str = "EMPTY_OBJECT_CONDITION";
    pub const EMPTY_OBJECT_PRINCIPAL: &str = "EMPTY_OBJECT_PRINCIPAL";
}

/// Text that is not a JSON document at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("policy is not valid JSON: {0}")]
    NotJson(String),
}

/// Validates one policy document. Findings come in document order, errors not first.
pub fn validate(doc: &str, ty: PolicyType) -> Vec<Finding> {
    match serde_json::from_str::<serde_json::Value>(doc) {
        Ok(v) => check::check_document(doc, &v, ty),
        Err(e) => vec![Finding {
            severity: Severity::Error,
            code: "JSON_SYNTAX_ERROR".to_string(),
            message: format!("Fix the JSON syntax error: {e}."),
            path: "$".to_string(),
        }],
    }
}

/// What IAM answers (MalformedPolicyDocument) for a document of one of its own policy types
/// that breaks a rule of IAM's grammar the evaluator does not need: a Resource that is not
/// an ARN in the `aws` partition, a Sid that is not alphanumeric, a Sid used twice in an
/// identity policy, a Resource in a role trust policy. The same walk as [`validate`] finds
/// these, next to its findings; this is the first one, in IAM's words. Findings do not
/// depend on the partition; IAM's answer is the `aws` partition's (Palisade's). `None` when
/// IAM takes the document, for other policy types, and for text that is not JSON (the
/// parser's business).
pub fn iam_rejection(doc: &str, ty: PolicyType) -> Option<String> {
    if !ty.is_iam() {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(doc).ok()?;
    check::walk(doc, &v, ty).iam_rejection
}

/// `palisade policy validate`: `{"findings":[{"severity","code","message","path"}]}` and
/// whether any finding is an ERROR. Text that is not JSON is an input error (exit 2).
pub fn cli_validate(input: &str, ty: PolicyType) -> Result<(serde_json::Value, bool), InputError> {
    let v: serde_json::Value =
        serde_json::from_str(input).map_err(|e| InputError::NotJson(e.to_string()))?;
    let findings = check::check_document(input, &v, ty);
    let has_error = findings.iter().any(|f| f.severity == Severity::Error);
    let list: Vec<serde_json::Value> = findings
        .into_iter()
        .map(|f| {
            serde_json::json!({
                "severity": f.severity.as_cli_str(),
                "code": f.code,
                "message": f.message,
                "path": f.path,
            })
        })
        .collect();
    Ok((serde_json::json!({ "findings": list }), has_error))
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod tests;
