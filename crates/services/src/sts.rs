//! AWS Security Token Service (awsQuery): GetCallerIdentity, AssumeRole, GetSessionToken,
//! GetFederationToken, GetAccessKeyInfo.
//!
//! Temporary credentials are ordinary credential records ([`crate::credentials`]) with a
//! session token, an expiry on the business clock and a [`SessionContext`] saying who
//! issued them and what limits them; the pipeline verifies them on every request and
//! answers `ExpiredToken` after the expiry.
//!
//! Syntactic checks (lengths, patterns, the model's duration bounds) run when the call is
//! decoded, before authorization, as AWS validates a request before it evaluates policies.
//! Everything that needs state (the role, its MaxSessionDuration, MFA codes, managed
//! session policies) runs in `write()`, after authorization. This module never evaluates
//! policies: the role's trust policy is the authorizer's business (`sts:AssumeRole` on the
//! role ARN with the request's condition keys).

use crate::{
    authz::{denial_message, AuthzCheck},
    context::{Principal, PrincipalKind, RequestContext, SessionContext},
    credentials::{self, Credential},
    env::Env,
    error::ApiError,
    iam::model::{self, ManagedPolicy, PolicyVersion, Role, RoleLastUsed},
    input::Input,
    keyspace, Reply,
};
use base64::Engine as _;
use palisade_policy::{Policy, PolicyKind};
use palisade_store::{ReadTx, WriteTx};
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

/// The STS actions Palisade implements.
#[derive(Debug)]
pub enum Operation {
    GetCallerIdentity,
    AssumeRole(Box<AssumeRoleInput>),
    GetSessionToken(GetSessionTokenInput),
    GetFederationToken(GetFederationTokenInput),
    GetAccessKeyInfo(GetAccessKeyInfoInput),
    DecodeAuthorizationMessage(DecodeAuthorizationMessageInput),
}

/// STS's errors, with AWS's codes and HTTP statuses (botocore `sts` model; awsQuery).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StsError {
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    AccessDenied(String),
    #[error("{0}")]
    MalformedPolicyDocument(String),
    #[error("{0}")]
    PackedPolicyTooLarge(String),
    #[error("{0}")]
    InvalidParameterValue(String),
}

impl StsError {
    pub fn code(&self) -> &'static str {
        match self {
            StsError::Validation(_) => "ValidationError",
            StsError::AccessDenied(_) => "AccessDenied",
            StsError::MalformedPolicyDocument(_) => "MalformedPolicyDocument",
            StsError::PackedPolicyTooLarge(_) => "PackedPolicyTooLarge",
            StsError::InvalidParameterValue(_) => "InvalidParameterValue",
        }
    }

    pub fn http_status(&self) -> u16 {
        match self {
            StsError::AccessDenied(_) => 403,
            _ => 400,
        }
    }
}

impl From<StsError> for ApiError {
    fn from(e: StsError) -> Self {
        ApiError::new(e.code(), e.http_status(), e.to_string())
    }
}

// ---- inputs ---------------------------------------------------------------------------

/// A `Tag` (STS: `Key`, `Value`).
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// `PolicyDescriptorType`: its one member is spelled `arn` on the wire.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct PolicyDescriptor {
    #[serde(default)]
    pub arn: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssumeRoleInput {
    pub role_arn: String,
    pub role_session_name: String,
    #[serde(default)]
    pub policy_arns: Option<Vec<PolicyDescriptor>>,
    #[serde(default)]
    pub policy: Option<String>,
    #[serde(default)]
    pub duration_seconds: Option<i64>,
    #[serde(default)]
    pub tags: Option<Vec<Tag>>,
    #[serde(default)]
    pub transitive_tag_keys: Option<Vec<String>>,
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub serial_number: Option<String>,
    #[serde(default)]
    pub token_code: Option<String>,
    #[serde(default)]
    pub source_identity: Option<String>,
    #[serde(default)]
    pub provided_contexts: Option<Vec<ProvidedContext>>,
}

/// A trusted context assertion (AWS IAM Identity Center). Palisade checks the model's
/// bounds and does not add the assertion's context keys: it cannot verify AWS's signature.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProvidedContext {
    #[serde(default)]
    pub provider_arn: Option<String>,
    #[serde(default)]
    pub context_assertion: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetSessionTokenInput {
    #[serde(default)]
    pub duration_seconds: Option<i64>,
    #[serde(default)]
    pub serial_number: Option<String>,
    #[serde(default)]
    pub token_code: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetFederationTokenInput {
    pub name: String,
    #[serde(default)]
    pub policy: Option<String>,
    #[serde(default)]
    pub policy_arns: Option<Vec<PolicyDescriptor>>,
    #[serde(default)]
    pub duration_seconds: Option<i64>,
    #[serde(default)]
    pub tags: Option<Vec<Tag>>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetAccessKeyInfoInput {
    pub access_key_id: String,
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DecodeAuthorizationMessageInput {
    pub encoded_message: String,
}

// ---- outputs --------------------------------------------------------------------------

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetCallerIdentityResult {
    pub user_id: String,
    pub account: String,
    pub arn: String,
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub expiration: String,
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssumedRoleUser {
    pub assumed_role_id: String,
    pub arn: String,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssumeRoleResult {
    pub credentials: Credentials,
    pub assumed_role_user: AssumedRoleUser,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packed_policy_size: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_identity: Option<String>,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetSessionTokenResult {
    pub credentials: Credentials,
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FederatedUser {
    pub federated_user_id: String,
    pub arn: String,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetFederationTokenResult {
    pub credentials: Credentials,
    pub federated_user: FederatedUser,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packed_policy_size: Option<u32>,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetAccessKeyInfoResult {
    pub account: String,
}

// ---- decoding and syntactic validation ------------------------------------------------

/// Decodes one STS action; `None` when it is not an STS action Palisade knows.
pub fn decode(
    action: &str,
    input: &Input<'_>,
) -> Option<Result<Box<dyn crate::Operation>, ApiError>> {
    let op = match action {
        "GetCallerIdentity" => Ok(Operation::GetCallerIdentity),
        "AssumeRole" => input
            .parse::<AssumeRoleInput>()
            .and_then(|i| validate_assume_role(&i).map(|()| Operation::AssumeRole(Box::new(i)))),
        "GetSessionToken" => input.parse().map(Operation::GetSessionToken),
        "GetFederationToken" => input
            .parse::<GetFederationTokenInput>()
            .and_then(|i| validate_federation(&i).map(|()| Operation::GetFederationToken(i))),
        "GetAccessKeyInfo" => input.parse().map(Operation::GetAccessKeyInfo),
        "DecodeAuthorizationMessage" => input.parse().map(Operation::DecodeAuthorizationMessage),
        _ => return None,
    };
    Some(op.map(|op| Box::new(op) as Box<dyn crate::Operation>))
}

// The service models' constraints (lengths, patterns, ranges, list sizes) are checked by
// `model_checks` at decode, all violations at once; what follows is STS's own.

fn validate_assume_role(i: &AssumeRoleInput) -> Result<(), ApiError> {
    if i.source_identity
        .as_deref()
        .is_some_and(|s| s.to_ascii_lowercase().starts_with("aws:"))
    {
        return Err(StsError::Validation(
            "SourceIdentity cannot begin with the prefix 'aws:'; it is reserved for AWS internal use."
                .into(),
        )
        .into());
    }
    check_session_tags(
        i.tags.as_deref().unwrap_or_default(),
        i.transitive_tag_keys.as_deref().unwrap_or_default(),
    )?;
    check_policy_arn_count(i.policy_arns.as_deref())
}

fn validate_federation(i: &GetFederationTokenInput) -> Result<(), ApiError> {
    check_session_tags(i.tags.as_deref().unwrap_or_default(), &[])?;
    check_policy_arn_count(i.policy_arns.as_deref())
}

/// "You can provide up to 10 managed policy ARNs" (AssumeRole / GetFederationToken).
fn check_policy_arn_count(arns: Option<&[PolicyDescriptor]>) -> Result<(), ApiError> {
    match arns {
        Some(a) if a.len() > 10 => Err(StsError::Validation(format!(
            "1 validation error detected: Value '[{} items]' at 'policyArns' failed to satisfy constraint: Member must have length less than or equal to 10",
            a.len()
        ))
        .into()),
        _ => Ok(()),
    }
}

// ---- shared pieces --------------------------------------------------------------------

/// A role ARN split into (account, path, name): `arn:aws:iam::<account>:role<path><name>`.
pub fn parse_role_arn(arn: &str) -> Option<(&str, &str, &str)> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (account, res) = rest.split_once(':')?;
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let path_name = res.strip_prefix("role")?;
    if !path_name.starts_with('/') {
        return None;
    }
    let cut = path_name.rfind('/')?;
    let path = path_name.get(..=cut)?;
    let name = path_name.get(cut + 1..)?;
    let name_char = |c: char| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c);
    if name.is_empty() || name.len() > 64 || !name.chars().all(name_char) {
        return None;
    }
    Some((account, path, name))
}

/// A long opaque session token (AWS makes no promise about its size either).
fn new_session_token() -> Result<String, ApiError> {
    let mut bytes = vec![0u8; 264];
    palisade_store::seal::fill_random(&mut bytes)
        .map_err(|_| ApiError::internal("system random source failed"))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(&bytes))
}

/// CloudTrail logs `expiration` in responseElements in Java's default date form
/// (`Jan 2, 2026, 3:04:05 PM`), UTC.
pub fn cloudtrail_date(t: OffsetDateTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = t.to_offset(time::UtcOffset::UTC);
    let month = MONTHS
        .get(usize::from(u8::from(t.month())).saturating_sub(1))
        .copied()
        .unwrap_or("Jan");
    let (hour12, ampm) = match t.hour() {
        0 => (12, "AM"),
        h @ 1..=11 => (h, "AM"),
        12 => (12, "PM"),
        h => (h - 12, "PM"),
    };
    format!(
        "{month} {}, {}, {hour12}:{:02}:{:02} {ampm}",
        t.day(),
        t.year(),
        t.minute(),
        t.second()
    )
}

/// AWS's denial for a role the caller may not assume (also a missing role or a bad ARN:
/// STS does not say which).
fn assume_denied(ctx: &RequestContext, role_arn: &str) -> ApiError {
    let check = AuthzCheck::new("sts:AssumeRole", role_arn);
    StsError::AccessDenied(denial_message(&ctx.principal, &check)).into()
}

/// Checks `SerialNumber` + `TokenCode` against the caller's virtual MFA device and marks
/// the code used. `Ok(false)` when neither was given.
fn verify_mfa(
    tx: &mut dyn WriteTx,
    env: &Env,
    ctx: &RequestContext,
    serial: Option<&str>,
    code: Option<&str>,
) -> Result<bool, ApiError> {
    let (serial, code) = match (serial, code) {
        (None, None) => return Ok(false),
        (Some(s), Some(c)) => (s, c),
        _ => {
            return Err(StsError::AccessDenied(
                "MultiFactorAuthentication failed, must provide both MFA serial number and one time pass code."
                    .into(),
            )
            .into())
        }
    };
    let invalid = || -> ApiError {
        StsError::AccessDenied(
            "MultiFactorAuthentication failed with invalid MFA one time pass code.".into(),
        )
        .into()
    };
    // The device belongs to the calling identity's account (a serial number is an ARN
    // `arn:aws:iam::<account>:mfa/<name>`).
    let account = ctx.principal.account_id.as_str();
    let accepted = crate::iam::totp::verify_mfa_token(
        tx,
        &env.master_key,
        account,
        serial,
        code,
        ctx.now,
        time::OffsetDateTime::now_utc(),
    )?
    .ok_or_else(invalid)?;
    crate::iam::totp::record_mfa_use(tx, account, serial, accepted).map_err(|_| invalid())?;
    Ok(true)
}

/// The documents of the session policies a call passed, validated, and the packed size
/// (percent of the allotted space) of those policies and the session tags.
#[derive(Debug)]
struct SessionPolicies {
    documents: Vec<String>,
    packed_percent: Option<u32>,
}

/// The space AWS packs session policies and tags into, in characters of minified policy
/// (the plain-text limit of an inline session policy is 2,048 characters). AWS's binary
/// packing is not published; this approximation keeps its observable rule: a policy at
/// the plain-text limit together with more session data does not fit.
const PACKED_ALLOWANCE: usize = 2_048;

fn minify(doc: &str) -> Result<String, ApiError> {
    let v: Value = serde_json::from_str(doc).map_err(|_| {
        ApiError::from(StsError::MalformedPolicyDocument(
            "The policy is not in the valid JSON format.".into(),
        ))
    })?;
    serde_json::to_string(&v).map_err(ApiError::internal)
}

fn session_policies(
    tx: &dyn ReadTx,
    account: &str,
    policy: Option<&str>,
    arns: Option<&[PolicyDescriptor]>,
    tags: &[Tag],
) -> Result<SessionPolicies, ApiError> {
    let mut documents = Vec::new();
    let mut packed = 0usize;
    let mut any = !tags.is_empty();
    if let Some(doc) = policy {
        any = true;
        let min = minify(doc)?;
        // AWS does not echo the parser's words (serde's types and positions); nor do we.
        Policy::parse(doc, PolicyKind::Session).map_err(|_| {
            ApiError::from(StsError::MalformedPolicyDocument(
                "Syntax errors in policy.".into(),
            ))
        })?;
        packed += min.chars().count();
        documents.push(doc.to_owned());
    }
    for d in arns.unwrap_or_default() {
        any = true;
        let Some(arn) = d.arn.as_deref() else {
            return Err(StsError::Validation(
                "1 validation error detected: Value null at 'policyArns.member.arn' failed to satisfy constraint: Member must not be null".into(),
            )
            .into());
        };
        packed += arn.len();
        documents.push(managed_policy_document(tx, account, arn)?);
    }
    for t in tags {
        packed += t.key.chars().count() + t.value.chars().count();
    }
    let percent = packed.saturating_mul(100).div_ceil(PACKED_ALLOWANCE);
    if percent > 100 {
        return Err(StsError::PackedPolicyTooLarge(format!(
            "Packed policy consumes {percent}% of allotted space, please use smaller policy."
        ))
        .into());
    }
    Ok(SessionPolicies {
        documents,
        packed_percent: any.then(|| u32::try_from(percent).unwrap_or(100)),
    })
}

/// The default version's document of a managed policy usable as a session policy: an AWS
/// managed policy, or a customer managed policy of `account`.
fn managed_policy_document(tx: &dyn ReadTx, account: &str, arn: &str) -> Result<String, ApiError> {
    let missing = || -> ApiError {
        StsError::InvalidParameterValue(format!(
            "Policy {arn} does not exist or is not attachable."
        ))
        .into()
    };
    if let Some(p) = palisade_iam_data::managed_policy_by_arn(arn) {
        return Ok(p.document.to_owned());
    }
    let rest = arn.strip_prefix("arn:aws:iam::").ok_or_else(missing)?;
    let (acct, res) = rest.split_once(':').ok_or_else(missing)?;
    let name = res
        .strip_prefix("policy/")
        .and_then(|p| p.rsplit('/').next())
        .filter(|n| !n.is_empty())
        .ok_or_else(missing)?;
    if acct != account {
        return Err(missing());
    }
    let policy = model::get::<ManagedPolicy>(tx, &model::entity_key(account, "policy", name))?
        .filter(|p| p.arn == arn)
        .ok_or_else(missing)?;
    let version = model::get::<PolicyVersion>(
        tx,
        &model::policy_version_key(account, name, &policy.default_version_id),
    )?
    .ok_or_else(missing)?;
    Ok(decode_if_url_encoded(&version.document))
}

/// IAM answers documents URL-encoded; a stored document may come either way.
fn decode_if_url_encoded(doc: &str) -> String {
    if doc.trim_start().starts_with('{') {
        doc.to_owned()
    } else {
        percent_encoding::percent_decode_str(doc)
            .decode_utf8_lossy()
            .into_owned()
    }
}

/// Checks session tag rules that need no state: unique keys (ignoring case) and
/// transitive keys among the tags.
fn check_session_tags(tags: &[Tag], transitive: &[String]) -> Result<(), ApiError> {
    let mut seen = std::collections::HashSet::new();
    for t in tags {
        // "Session tags must follow the rules for naming tags in IAM and AWS STS" (IAM
        // User Guide, session tags), and IAM reserves the `aws:` prefix of tag keys. STS's
        // own error for it is not documented; the code is its other tag errors'.
        if t.key.to_ascii_lowercase().starts_with("aws:") {
            return Err(StsError::InvalidParameterValue(
                "Tag keys starting with 'aws:' are reserved for use by AWS.".into(),
            )
            .into());
        }
        if !seen.insert(t.key.to_lowercase()) {
            return Err(StsError::InvalidParameterValue(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.".into(),
            )
            .into());
        }
    }
    for k in transitive {
        if !seen.contains(&k.to_lowercase()) {
            return Err(StsError::InvalidParameterValue(
                "The specified transitive tag key must be included in the requested tags.".into(),
            )
            .into());
        }
    }
    Ok(())
}

/// Issues and stores one temporary credential for `principal` (access key id filled in).
fn issue(
    tx: &mut dyn WriteTx,
    env: &Env,
    ctx: &RequestContext,
    mut principal: Principal,
    duration: i64,
) -> Result<Credentials, ApiError> {
    let access_key_id = credentials::unused_access_key_id(tx, true, &principal.account_id)?;
    let secret = credentials::new_secret_access_key()?;
    let token = new_session_token()?;
    let expiration = ctx.now + Duration::seconds(duration);
    principal.access_key_id = access_key_id.clone();
    credentials::put_credential(
        tx,
        &env.master_key,
        &Credential {
            principal,
            secret_access_key: secret.clone(),
            active: true,
            session_token: Some(token.clone()),
            expiration: Some(expiration),
        },
        ctx.now,
    )?;
    env.credentials.invalidate(&access_key_id);
    Ok(Credentials {
        access_key_id,
        secret_access_key: secret,
        session_token: token,
        expiration: model::iso(expiration),
    })
}

/// CloudTrail's `credentials` in responseElements: never the secret access key.
fn logged_credentials(c: &Credentials, expiration: OffsetDateTime) -> Value {
    json!({
        "accessKeyId": c.access_key_id,
        "sessionToken": c.session_token,
        "expiration": cloudtrail_date(expiration),
    })
}

fn tags_json(tags: &[Tag]) -> Value {
    Value::Array(
        tags.iter()
            .map(|t| json!({"key": t.key, "value": t.value}))
            .collect(),
    )
}

fn arns_json(arns: &[PolicyDescriptor]) -> Value {
    Value::Array(arns.iter().map(|d| json!({"arn": d.arn})).collect())
}

// ---- operations -----------------------------------------------------------------------

/// Who the caller is. AWS needs no permission for this call, and neither do we.
pub fn get_caller_identity(ctx: &RequestContext) -> GetCallerIdentityResult {
    let p = &ctx.principal;
    GetCallerIdentityResult {
        user_id: p.principal_id.clone(),
        account: p.account_id.clone(),
        arn: p.arn.clone(),
    }
}

/// The caller's session, when it is a role session (role chaining).
fn caller_role_session(ctx: &RequestContext) -> Option<&SessionContext> {
    match ctx.principal.kind {
        PrincipalKind::AssumedRole => ctx.principal.session.as_deref(),
        _ => None,
    }
}

pub fn assume_role(
    tx: &mut dyn WriteTx,
    env: &Env,
    ctx: &RequestContext,
    i: &AssumeRoleInput,
) -> Result<Reply, ApiError> {
    let (account, _path, name) =
        parse_role_arn(&i.role_arn).ok_or_else(|| assume_denied(ctx, &i.role_arn))?;
    if tx.get(&keyspace::account(account))?.is_none() {
        return Err(assume_denied(ctx, &i.role_arn));
    }
    let role_key = model::entity_key(account, "role", name);
    let mut role = model::get::<Role>(tx, &role_key)?
        .filter(|r| r.arn == i.role_arn)
        .ok_or_else(|| assume_denied(ctx, &i.role_arn))?;

    let caller = caller_role_session(ctx);
    let chained = caller.is_some();
    let duration = i.duration_seconds.unwrap_or(3_600);
    if chained && duration > 3_600 {
        return Err(StsError::Validation(
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
                .into(),
        )
        .into());
    }
    if duration > role.max_session_duration {
        return Err(StsError::Validation(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
                .into(),
        )
        .into());
    }

    // Session tags: the request's, plus transitive tags the calling session passes on
    // (which the request may not change).
    let mut tags = i.tags.clone().unwrap_or_default();
    let mut transitive = i.transitive_tag_keys.clone().unwrap_or_default();
    if let Some(s) = ctx.principal.session.as_deref() {
        for key in &s.transitive_tag_keys {
            let Some((k, v)) = s.tags.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)) else {
                continue;
            };
            match tags.iter().find(|t| t.key.eq_ignore_ascii_case(k)) {
                Some(t) if t.value != *v => {
                    return Err(StsError::InvalidParameterValue(format!(
                        "One or more of the specified transitive tag keys can't be set because it conflicts with a transitive tag key from the calling session: {k}"
                    ))
                    .into())
                }
                Some(_) => {}
                None => tags.push(Tag {
                    key: k.clone(),
                    value: v.clone(),
                }),
            }
            if !transitive.iter().any(|t| t.eq_ignore_ascii_case(k)) {
                transitive.push(k.clone());
            }
        }
    }

    // Source identity: once set, it stays for the chain.
    let inherited_si = ctx
        .principal
        .session
        .as_deref()
        .and_then(|s| s.source_identity.clone());
    let source_identity = match (&inherited_si, &i.source_identity) {
        (Some(old), Some(new)) if old != new => return Err(StsError::AccessDenied(
            "SourceIdentity cannot be changed: the calling session already has a source identity."
                .into(),
        )
        .into()),
        (Some(old), _) => Some(old.clone()),
        (None, new) => new.clone(),
    };

    let policies = session_policies(
        tx,
        account,
        i.policy.as_deref(),
        i.policy_arns.as_deref(),
        i.tags.as_deref().unwrap_or_default(),
    )?;
    let mfa = verify_mfa(
        tx,
        env,
        ctx,
        i.serial_number.as_deref(),
        i.token_code.as_deref(),
    )?;

    let assumed_role_id = format!("{}:{}", role.role_id, i.role_session_name);
    let arn = format!(
        "arn:aws:sts::{account}:assumed-role/{}/{}",
        role.role_name, i.role_session_name
    );
    let principal = Principal {
        kind: PrincipalKind::AssumedRole,
        account_id: account.to_owned(),
        arn: arn.clone(),
        principal_id: assumed_role_id.clone(),
        user_name: i.role_session_name.clone(),
        access_key_id: String::new(),
        session: Some(Box::new(SessionContext {
            issuer_type: "Role".into(),
            issuer_arn: role.arn.clone(),
            issuer_id: role.role_id.clone(),
            issuer_name: role.role_name.clone(),
            mfa_authenticated: mfa,
            creation_date: model::iso(ctx.now),
            policies: policies.documents,
            tags: tags
                .iter()
                .map(|t| (t.key.clone(), t.value.clone()))
                .collect(),
            transitive_tag_keys: transitive,
            source_identity: source_identity.clone(),
            chained,
        })),
    };
    let credentials = issue(tx, env, ctx, principal, duration)?;
    let expiration = ctx.now + Duration::seconds(duration);

    role.role_last_used = Some(RoleLastUsed {
        last_used_date: Some(model::iso(ctx.now)),
        region: Some(ctx.region.clone()),
    });
    model::put(tx, &role_key, &role)?;

    let mut elements = json!({
        "credentials": logged_credentials(&credentials, expiration),
        "assumedRoleUser": {"assumedRoleId": assumed_role_id, "arn": arn},
    });
    if let Value::Object(m) = &mut elements {
        if let Some(p) = policies.packed_percent {
            m.insert("packedPolicySize".into(), json!(p));
        }
        if let Some(s) = &source_identity {
            m.insert("sourceIdentity".into(), json!(s));
        }
    }
    let mut reply = Reply::new(AssumeRoleResult {
        credentials,
        assumed_role_user: AssumedRoleUser {
            assumed_role_id,
            arn,
        },
        packed_policy_size: policies.packed_percent,
        source_identity,
    });
    reply.response_elements = Some(elements);
    reply.resources = vec![("AWS::IAM::Role".into(), role.arn)];
    Ok(reply)
}

/// The STS calls AWS refuses to the credentials of GetSessionToken (all but AssumeRole and
/// GetCallerIdentity) and GetFederationToken (all but GetCallerIdentity). AWS documents
/// the restriction and, for GetSessionToken and GetFederationToken, this message; for the
/// others it is the same refusal in the same words.
fn refuse_restricted_sessions(ctx: &RequestContext, action: &str) -> Result<(), ApiError> {
    let p = &ctx.principal;
    if action == "AssumeRole" && p.kind == PrincipalKind::Root {
        // AWS's answer to the root user, with long-term keys or a session of its own.
        return Err(
            StsError::AccessDenied("Roles may not be assumed by root accounts.".into()).into(),
        );
    }
    let refused = match action {
        "AssumeRole" => p.kind == PrincipalKind::FederatedUser,
        _ => p.kind == PrincipalKind::FederatedUser || p.is_session_token(),
    };
    if refused {
        return Err(StsError::AccessDenied(format!(
            "Cannot call {action} with session credentials"
        ))
        .into());
    }
    Ok(())
}

/// GetSessionToken and GetFederationToken refuse session credentials.
fn refuse_sessions(ctx: &RequestContext, action: &str) -> Result<(), ApiError> {
    if ctx.principal.session.is_some()
        || matches!(
            ctx.principal.kind,
            PrincipalKind::AssumedRole | PrincipalKind::FederatedUser
        )
    {
        return Err(StsError::AccessDenied(format!(
            "Cannot call {action} with session credentials"
        ))
        .into());
    }
    Ok(())
}

/// The issuer facts of a session made by the calling user (or root).
fn user_issuer(ctx: &RequestContext) -> (String, String, String, String) {
    let p = &ctx.principal;
    match p.kind {
        PrincipalKind::Root => (
            "Root".into(),
            p.arn.clone(),
            p.principal_id.clone(),
            String::new(),
        ),
        _ => (
            "IAMUser".into(),
            p.arn.clone(),
            p.principal_id.clone(),
            p.user_name.clone(),
        ),
    }
}

pub fn get_session_token(
    tx: &mut dyn WriteTx,
    env: &Env,
    ctx: &RequestContext,
    i: &GetSessionTokenInput,
) -> Result<Reply, ApiError> {
    let mut duration = i.duration_seconds.unwrap_or(43_200);
    // "If the duration is longer than one hour, the session for root user credentials
    // defaults to one hour."
    if ctx.principal.is_root() {
        duration = duration.min(3_600);
    }
    let mfa = verify_mfa(
        tx,
        env,
        ctx,
        i.serial_number.as_deref(),
        i.token_code.as_deref(),
    )?;
    let (issuer_type, issuer_arn, issuer_id, issuer_name) = user_issuer(ctx);
    let mut principal = ctx.principal.clone();
    principal.session = Some(Box::new(SessionContext {
        issuer_type,
        issuer_arn,
        issuer_id,
        issuer_name,
        mfa_authenticated: mfa,
        creation_date: model::iso(ctx.now),
        ..SessionContext::default()
    }));
    let credentials = issue(tx, env, ctx, principal, duration)?;
    let expiration = ctx.now + Duration::seconds(duration);
    let mut reply = Reply::new(GetSessionTokenResult {
        credentials: credentials.clone(),
    });
    reply.response_elements =
        Some(json!({"credentials": logged_credentials(&credentials, expiration)}));
    Ok(reply)
}

/// A federated user session with no policy passed has no permissions (AWS): a session
/// policy that allows nothing says exactly that.
const NO_PERMISSIONS: &str = r#"{"Version":"2012-10-17","Statement":[]}"#;

pub fn get_federation_token(
    tx: &mut dyn WriteTx,
    env: &Env,
    ctx: &RequestContext,
    i: &GetFederationTokenInput,
) -> Result<Reply, ApiError> {
    let account = ctx.principal.account_id.clone();
    let mut duration = i.duration_seconds.unwrap_or(43_200);
    if ctx.principal.is_root() {
        duration = duration.min(3_600);
    }
    let tags = i.tags.clone().unwrap_or_default();
    let policies = session_policies(
        tx,
        &account,
        i.policy.as_deref(),
        i.policy_arns.as_deref(),
        &tags,
    )?;
    let mut documents = policies.documents;
    if documents.is_empty() {
        documents.push(NO_PERMISSIONS.to_owned());
    }
    let federated_user_id = format!("{account}:{}", i.name);
    let arn = format!("arn:aws:sts::{account}:federated-user/{}", i.name);
    let (issuer_type, issuer_arn, issuer_id, issuer_name) = user_issuer(ctx);
    let principal = Principal {
        kind: PrincipalKind::FederatedUser,
        account_id: account.clone(),
        arn: arn.clone(),
        principal_id: federated_user_id.clone(),
        user_name: i.name.clone(),
        access_key_id: String::new(),
        session: Some(Box::new(SessionContext {
            issuer_type,
            issuer_arn,
            issuer_id,
            issuer_name,
            mfa_authenticated: false,
            creation_date: model::iso(ctx.now),
            policies: documents,
            tags: tags
                .iter()
                .map(|t| (t.key.clone(), t.value.clone()))
                .collect(),
            transitive_tag_keys: Vec::new(),
            source_identity: None,
            chained: false,
        })),
    };
    let credentials = issue(tx, env, ctx, principal, duration)?;
    let expiration = ctx.now + Duration::seconds(duration);
    let federated_user = FederatedUser {
        federated_user_id,
        arn,
    };
    let mut elements = json!({
        "credentials": logged_credentials(&credentials, expiration),
        "federatedUser": {"federatedUserId": federated_user.federated_user_id, "arn": federated_user.arn},
    });
    if let (Value::Object(m), Some(p)) = (&mut elements, policies.packed_percent) {
        m.insert("packedPolicySize".into(), json!(p));
    }
    let mut reply = Reply::new(GetFederationTokenResult {
        credentials,
        federated_user,
        packed_policy_size: policies.packed_percent,
    });
    reply.response_elements = Some(elements);
    Ok(reply)
}

/// The account that owns an access key. AWS derives it from the key id itself and answers
/// for any key id, active, inactive, deleted or never issued; so does Palisade, whose key
/// ids carry their account the same way ([`credentials::account_of_key_id`]). A key it
/// issued otherwise (a root key given in the environment) is looked up; an id of neither
/// kind gets the "does not exist" form.
pub fn get_access_key_info(
    tx: &dyn ReadTx,
    env: &Env,
    i: &GetAccessKeyInfoInput,
) -> Result<Reply, ApiError> {
    let account = match credentials::get_credential(tx, &env.master_key, &i.access_key_id)? {
        Some(c) => Some(c.principal.account_id),
        None => credentials::account_of_key_id(&i.access_key_id),
    };
    match account {
        Some(account) => Ok(Reply::new(GetAccessKeyInfoResult { account })),
        None => Err(StsError::Validation(format!(
            "The access key ID {} does not exist.",
            i.access_key_id
        ))
        .into()),
    }
}

// ---- the Operation impl ---------------------------------------------------------------

/// The condition keys AssumeRole puts in the request context of its checks.
fn assume_role_context(i: &AssumeRoleInput) -> Vec<(String, Vec<String>)> {
    let mut keys = vec![(
        "sts:RoleSessionName".to_owned(),
        vec![i.role_session_name.clone()],
    )];
    if let Some(e) = &i.external_id {
        keys.push(("sts:ExternalId".into(), vec![e.clone()]));
    }
    if let Some(s) = &i.source_identity {
        keys.push(("sts:SourceIdentity".into(), vec![s.clone()]));
    }
    if let Some(tags) = &i.tags {
        keys.extend(tag_context(Some(tags)));
    }
    if let Some(k) = &i.transitive_tag_keys {
        if !k.is_empty() {
            keys.push(("sts:TransitiveTagKeys".into(), k.clone()));
        }
    }
    if i.serial_number.is_some() && i.token_code.is_some() {
        // The code itself is checked in write(); a wrong one fails the call there.
        keys.push(("aws:MultiFactorAuthPresent".into(), vec!["true".into()]));
        keys.push(("aws:MultiFactorAuthAge".into(), vec!["0".into()]));
    }
    keys
}

fn tag_context(tags: Option<&[Tag]>) -> Vec<(String, Vec<String>)> {
    crate::authz::request_tags(
        tags.unwrap_or_default()
            .iter()
            .map(|t| (t.key.as_str(), t.value.as_str())),
    )
}

impl crate::Operation for Operation {
    fn name(&self) -> &'static str {
        match self {
            Operation::GetCallerIdentity => "GetCallerIdentity",
            Operation::AssumeRole(_) => "AssumeRole",
            Operation::GetSessionToken(_) => "GetSessionToken",
            Operation::GetFederationToken(_) => "GetFederationToken",
            Operation::GetAccessKeyInfo(_) => "GetAccessKeyInfo",
            Operation::DecodeAuthorizationMessage(_) => "DecodeAuthorizationMessage",
        }
    }

    fn read_only(&self) -> bool {
        matches!(
            self,
            Operation::GetCallerIdentity
                | Operation::GetAccessKeyInfo(_)
                | Operation::DecodeAuthorizationMessage(_)
        )
    }

    fn audit_read_only(&self) -> bool {
        // CloudTrail logs every STS call as read-only, even those that issue credentials.
        true
    }

    fn reads_state(&self) -> bool {
        !matches!(
            self,
            Operation::GetCallerIdentity | Operation::DecodeAuthorizationMessage(_)
        )
    }

    fn precheck(&self, ctx: &RequestContext) -> Result<(), ApiError> {
        match self {
            Operation::GetSessionToken(_) => refuse_sessions(ctx, "GetSessionToken"),
            Operation::GetFederationToken(_) => refuse_sessions(ctx, "GetFederationToken"),
            Operation::AssumeRole(_) => refuse_restricted_sessions(ctx, "AssumeRole"),
            Operation::GetAccessKeyInfo(_) => refuse_restricted_sessions(ctx, "GetAccessKeyInfo"),
            Operation::DecodeAuthorizationMessage(_) => {
                refuse_restricted_sessions(ctx, "DecodeAuthorizationMessage")
            }
            Operation::GetCallerIdentity => Ok(()),
        }
    }

    fn authz(&self, ctx: &RequestContext) -> Vec<AuthzCheck> {
        match self {
            // "No permissions are required to perform this operation." (STS API reference)
            Operation::GetCallerIdentity => Vec::new(),
            // GetSessionToken needs no permission either: policies cannot restrict it.
            Operation::GetSessionToken(_) => Vec::new(),
            Operation::AssumeRole(i) => {
                let account = parse_role_arn(&i.role_arn).map(|(a, _, _)| a.to_owned());
                let context = assume_role_context(i);
                let check = |action: &str| AuthzCheck {
                    action: action.to_owned(),
                    resource: i.role_arn.clone(),
                    resource_account: account.clone(),
                    context: context.clone(),
                    resolve: true,
                    denied_as: None,
                };
                let mut checks = vec![check("sts:AssumeRole")];
                // Passing session tags needs sts:TagSession, setting a source identity
                // sts:SetSourceIdentity, both on the role (its trust policy must allow them).
                if i.tags.as_ref().is_some_and(|t| !t.is_empty())
                    || i.transitive_tag_keys
                        .as_ref()
                        .is_some_and(|t| !t.is_empty())
                {
                    checks.push(check("sts:TagSession"));
                }
                if i.source_identity.is_some() {
                    checks.push(check("sts:SetSourceIdentity"));
                }
                checks
            }
            Operation::GetFederationToken(i) => {
                let account = &ctx.principal.account_id;
                let resource = format!("arn:aws:sts::{account}:federated-user/{}", i.name);
                let context = tag_context(i.tags.as_deref());
                let mut checks = vec![AuthzCheck {
                    action: "sts:GetFederationToken".into(),
                    resource: resource.clone(),
                    resource_account: Some(account.clone()),
                    context: context.clone(),
                    resolve: true,
                    denied_as: None,
                }];
                if i.tags.as_ref().is_some_and(|t| !t.is_empty()) {
                    checks.push(AuthzCheck {
                        action: "sts:TagSession".into(),
                        resource,
                        resource_account: Some(account.clone()),
                        context,
                        resolve: true,
                        denied_as: None,
                    });
                }
                checks
            }
            Operation::GetAccessKeyInfo(_) => vec![AuthzCheck::new("sts:GetAccessKeyInfo", "*")],
            Operation::DecodeAuthorizationMessage(_) => {
                vec![AuthzCheck::new("sts:DecodeAuthorizationMessage", "*")]
            }
        }
    }

    fn request_parameters(&self) -> Option<Value> {
        let mut m = serde_json::Map::new();
        let mut put = |k: &str, v: Value| {
            m.insert(k.to_owned(), v);
        };
        match self {
            Operation::GetCallerIdentity => return None,
            Operation::AssumeRole(i) => {
                put("roleArn", json!(i.role_arn));
                put("roleSessionName", json!(i.role_session_name));
                if let Some(d) = i.duration_seconds {
                    put("durationSeconds", json!(d));
                }
                if let Some(p) = &i.policy {
                    put("policy", json!(p));
                }
                if let Some(a) = &i.policy_arns {
                    put("policyArns", arns_json(a));
                }
                if let Some(t) = &i.tags {
                    put("tags", tags_json(t));
                }
                if let Some(t) = &i.transitive_tag_keys {
                    put("transitiveTagKeys", json!(t));
                }
                if let Some(e) = &i.external_id {
                    put("externalId", json!(e));
                }
                if let Some(s) = &i.serial_number {
                    put("serialNumber", json!(s));
                }
                // The one-time code is a secret of the moment: never logged.
                if let Some(s) = &i.source_identity {
                    put("sourceIdentity", json!(s));
                }
            }
            Operation::GetSessionToken(i) => {
                if let Some(d) = i.duration_seconds {
                    put("durationSeconds", json!(d));
                }
                if let Some(s) = &i.serial_number {
                    put("serialNumber", json!(s));
                }
            }
            Operation::GetFederationToken(i) => {
                put("name", json!(i.name));
                if let Some(d) = i.duration_seconds {
                    put("durationSeconds", json!(d));
                }
                if let Some(p) = &i.policy {
                    put("policy", json!(p));
                }
                if let Some(a) = &i.policy_arns {
                    put("policyArns", arns_json(a));
                }
                if let Some(t) = &i.tags {
                    put("tags", tags_json(t));
                }
            }
            Operation::GetAccessKeyInfo(i) => put("accessKeyId", json!(i.access_key_id)),
            Operation::DecodeAuthorizationMessage(_) => {}
        }
        if m.is_empty() {
            None
        } else {
            Some(Value::Object(m))
        }
    }

    fn read(&self, tx: &dyn ReadTx, env: &Env, ctx: &RequestContext) -> Result<Reply, ApiError> {
        match self {
            Operation::GetCallerIdentity => Ok(Reply::new(get_caller_identity(ctx))),
            Operation::GetAccessKeyInfo(i) => get_access_key_info(tx, env, i),
            // AWS encodes the authorization failures of some services (EC2 and others) for
            // this call to decode; none of Palisade's services encode theirs, so no message
            // Palisade is given came from it. The model's error for that; its wording is
            // ours (AWS documents none).
            Operation::DecodeAuthorizationMessage(_) => Err(ApiError::new(
                "InvalidAuthorizationMessageException",
                400,
                "The message is not an encoded authorization message of this service.",
            )),
            _ => Err(ApiError::internal("read() on a mutating STS operation")),
        }
    }

    fn write(
        &self,
        tx: &mut dyn WriteTx,
        env: &Env,
        ctx: &RequestContext,
    ) -> Result<Reply, ApiError> {
        match self {
            Operation::AssumeRole(i) => assume_role(tx, env, ctx, i),
            Operation::GetSessionToken(i) => get_session_token(tx, env, ctx, i),
            Operation::GetFederationToken(i) => get_federation_token(tx, env, ctx, i),
            _ => Err(ApiError::internal("write() on a read-only STS operation")),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::accounts;

    const ACCOUNT: &str = "000000000000";
    const ROOT_AK: &str = "AKIASTSUNITTEST00000";

    /// The test environment (a temporary data dir, removed on drop) with ACCOUNT's root key.
    type Fixture = crate::env::testing::TestEnv;

    fn fixture() -> Fixture {
        let f = crate::env::testing::test_env(ACCOUNT);
        accounts::bootstrap(
            f.env.store.as_ref(),
            &f.env.master_key,
            ACCOUNT,
            Some((ROOT_AK.into(), "s".repeat(40))),
        )
        .unwrap();
        f
    }

    fn root_ctx() -> RequestContext {
        RequestContext {
            request_id: "r".into(),
            principal: Principal::root(ACCOUNT, ROOT_AK),
            region: "eu-west-1".into(),
            source_ip: "127.0.0.1".into(),
            user_agent: "unit".into(),
            now: OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
            secure_transport: false,
            invoked: Default::default(),
        }
    }

    fn put_role(f: &Fixture, name: &str, max: i64) -> Role {
        let role = Role {
            path: "/".into(),
            role_name: name.into(),
            role_id: "AROAUNITTESTROLE00001".into(),
            arn: format!("arn:aws:iam::{ACCOUNT}:role/{name}"),
            create_date: "2026-01-01T00:00:00Z".into(),
            assume_role_policy_document: "{}".into(),
            description: None,
            max_session_duration: max,
            permissions_boundary: None,
            tags: Vec::new(),
            role_last_used: None,
        };
        let r = role.clone();
        accounts::write_blocking(f.env.store.as_ref(), move |tx| {
            model::put(tx, &model::entity_key(ACCOUNT, "role", &r.role_name), &r)
        })
        .unwrap();
        role
    }

    fn input(arn: &str, session: &str) -> AssumeRoleInput {
        AssumeRoleInput {
            role_arn: arn.into(),
            role_session_name: session.into(),
            policy_arns: None,
            policy: None,
            duration_seconds: None,
            tags: None,
            transitive_tag_keys: None,
            external_id: None,
            serial_number: None,
            token_code: None,
            source_identity: None,
            provided_contexts: None,
        }
    }

    /// Runs an operation's write in its own durable job; an Err rolls its writes back.
    fn run_write(
        f: &Fixture,
        ctx: &RequestContext,
        op: impl FnOnce(&mut dyn WriteTx, &Env, &RequestContext) -> Result<Reply, ApiError>
            + Send
            + 'static,
    ) -> Result<Value, ApiError> {
        let env = f.env.clone();
        let ctx = ctx.clone();
        accounts::write_blocking(f.env.store.as_ref(), move |tx| {
            let reply = op(tx, &env, &ctx)?;
            Ok(reply.response_elements.unwrap_or(Value::Null))
        })
    }

    fn credential(f: &Fixture, akid: &str) -> Option<Credential> {
        let mut out = None;
        f.env
            .store
            .read(&mut |tx| {
                out = credentials::get_credential(tx, &f.env.master_key, akid)?;
                Ok(())
            })
            .unwrap();
        out
    }

    fn role_record(f: &Fixture, name: &str) -> Role {
        let mut out = None;
        f.env
            .store
            .read(&mut |tx| {
                out = model::get::<Role>(tx, &model::entity_key(ACCOUNT, "role", name))
                    .map_err(|e| palisade_store::StoreError::Other(e.to_string()))?;
                Ok(())
            })
            .unwrap();
        out.unwrap()
    }

    fn issued_key(elements: &Value) -> String {
        elements["credentials"]["accessKeyId"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn assume_role_writes_a_session_credential_and_role_last_used() {
        let f = fixture();
        let role = put_role(&f, "pettracker-api", 3600);
        let ctx = root_ctx();
        let mut i = input(&role.arn, "dev");
        i.tags = Some(vec![Tag {
            key: "team".into(),
            value: "pets".into(),
        }]);
        i.transitive_tag_keys = Some(vec!["team".into()]);
        i.policy_arns = Some(vec![PolicyDescriptor {
            arn: Some("arn:aws:iam::aws:policy/ReadOnlyAccess".into()),
        }]);
        let el = run_write(&f, &ctx, move |tx, env, ctx| assume_role(tx, env, ctx, &i)).unwrap();
        let akid = issued_key(&el);
        assert!(akid.starts_with("ASIA"));
        assert_eq!(
            el["assumedRoleUser"]["arn"],
            format!("arn:aws:sts::{ACCOUNT}:assumed-role/pettracker-api/dev")
        );
        assert!(el["credentials"].get("secretAccessKey").is_none());
        assert_eq!(
            el["credentials"]["expiration"],
            cloudtrail_date(ctx.now + Duration::hours(1))
        );
        let cred = credential(&f, &akid).unwrap();
        assert_eq!(cred.expiration, Some(ctx.now + Duration::hours(1)));
        assert!(cred.session_token.as_deref().is_some_and(|t| t.len() > 300));
        let p = cred.principal;
        assert_eq!(p.kind, PrincipalKind::AssumedRole);
        assert_eq!(p.principal_id, "AROAUNITTESTROLE00001:dev");
        assert_eq!(p.user_name, "dev");
        assert_eq!(p.access_key_id, akid);
        let s = p.session.unwrap();
        assert_eq!(
            (s.issuer_type.as_str(), s.issuer_name.as_str()),
            ("Role", "pettracker-api")
        );
        assert_eq!(s.issuer_arn, role.arn);
        assert!(!s.mfa_authenticated && !s.chained);
        assert_eq!(s.policies.len(), 1);
        assert_eq!(s.tags, vec![("team".to_owned(), "pets".to_owned())]);
        assert_eq!(s.transitive_tag_keys, vec!["team".to_owned()]);
        assert_eq!(s.creation_date, model::iso(ctx.now));
        let used = role_record(&f, "pettracker-api").role_last_used.unwrap();
        assert_eq!(used.region.as_deref(), Some("eu-west-1"));
    }

    #[test]
    fn assume_role_duration_rules_and_chaining() {
        let f = fixture();
        let role = put_role(&f, "r1", 7200);
        let ctx = root_ctx();
        let mut i = input(&role.arn, "a1");
        i.duration_seconds = Some(7201);
        let err =
            run_write(&f, &ctx, move |tx, env, ctx| assume_role(tx, env, ctx, &i)).unwrap_err();
        assert_eq!(err.code, "ValidationError");
        assert!(err.message.contains("MaxSessionDuration"));

        let mut i = input(&role.arn, "a1");
        i.tags = Some(vec![Tag {
            key: "project".into(),
            value: "pt".into(),
        }]);
        i.transitive_tag_keys = Some(vec!["project".into()]);
        i.source_identity = Some("alex".into());
        i.duration_seconds = Some(7200);
        let el = run_write(&f, &ctx, move |tx, env, ctx| assume_role(tx, env, ctx, &i)).unwrap();
        let session = credential(&f, &issued_key(&el)).unwrap().principal;

        // The role session assumes again: one hour at most, tags and identity carried on.
        let mut chained_ctx = root_ctx();
        chained_ctx.principal = session;
        let mut i = input(&role.arn, "a2");
        i.duration_seconds = Some(3601);
        let err = run_write(&f, &chained_ctx, move |tx, env, ctx| {
            assume_role(tx, env, ctx, &i)
        })
        .unwrap_err();
        assert_eq!(
            err.message,
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
        );
        let i = input(&role.arn, "a2");
        let el = run_write(&f, &chained_ctx, move |tx, env, ctx| {
            assume_role(tx, env, ctx, &i)
        })
        .unwrap();
        let s = credential(&f, &issued_key(&el))
            .unwrap()
            .principal
            .session
            .unwrap();
        assert!(s.chained);
        assert_eq!(s.tags, vec![("project".to_owned(), "pt".to_owned())]);
        assert_eq!(s.transitive_tag_keys, vec!["project".to_owned()]);
        assert_eq!(s.source_identity.as_deref(), Some("alex"));

        // A transitive tag cannot be changed down the chain.
        let mut i = input(&role.arn, "a3");
        i.tags = Some(vec![Tag {
            key: "Project".into(),
            value: "other".into(),
        }]);
        let err = run_write(&f, &chained_ctx, move |tx, env, ctx| {
            assume_role(tx, env, ctx, &i)
        })
        .unwrap_err();
        assert_eq!(err.code, "InvalidParameterValue");
    }

    #[test]
    fn wrong_mfa_code_is_access_denied_and_writes_nothing() {
        let f = fixture();
        let role = put_role(&f, "r-mfa", 3600);
        let mut i = input(&role.arn, "m1");
        i.serial_number = Some(format!("arn:aws:iam::{ACCOUNT}:mfa/alex"));
        i.token_code = Some("123456".into());
        let err = run_write(&f, &root_ctx(), move |tx, env, ctx| {
            assume_role(tx, env, ctx, &i)
        })
        .unwrap_err();
        assert_eq!((err.code.as_ref(), err.status), ("AccessDenied", 403));
        assert_eq!(
            err.message,
            "MultiFactorAuthentication failed with invalid MFA one time pass code."
        );
        assert!(role_record(&f, "r-mfa").role_last_used.is_none());
    }

    #[test]
    fn missing_role_wrong_path_and_unknown_account_are_denied() {
        let f = fixture();
        put_role(&f, "r2", 3600);
        for arn in [
            format!("arn:aws:iam::{ACCOUNT}:role/nope"),
            format!("arn:aws:iam::{ACCOUNT}:role/some/path/r2"),
            "arn:aws:iam::111122223333:role/r2".to_owned(),
            "not-an-arn-at-all-really".to_owned(),
        ] {
            let i = input(&arn, "x1");
            let err = run_write(&f, &root_ctx(), move |tx, env, ctx| {
                assume_role(tx, env, ctx, &i)
            })
            .unwrap_err();
            assert_eq!(err.code, "AccessDenied", "{arn}");
            assert!(err.message.contains(&format!(
                "not authorized to perform: sts:AssumeRole on resource: {arn}"
            )));
        }
    }

    #[test]
    fn federation_and_session_tokens() {
        let f = fixture();
        let ctx = root_ctx();
        let i = GetFederationTokenInput {
            name: "fed".into(),
            policy: None,
            policy_arns: None,
            duration_seconds: Some(7200),
            tags: None,
        };
        let el = run_write(&f, &ctx, move |tx, env, ctx| {
            get_federation_token(tx, env, ctx, &i)
        })
        .unwrap();
        let cred = credential(&f, &issued_key(&el)).unwrap();
        // Root sessions last one hour at most.
        assert_eq!(cred.expiration, Some(ctx.now + Duration::hours(1)));
        let p = cred.principal;
        assert_eq!(p.kind, PrincipalKind::FederatedUser);
        assert_eq!(p.arn, format!("arn:aws:sts::{ACCOUNT}:federated-user/fed"));
        assert_eq!(p.principal_id, format!("{ACCOUNT}:fed"));
        let s = p.session.clone().unwrap();
        assert_eq!(s.policies, vec![NO_PERMISSIONS.to_owned()]);
        assert!(Policy::parse(NO_PERMISSIONS, PolicyKind::Session).is_ok());

        // Session credentials can get neither kind of token.
        let mut fed_ctx = root_ctx();
        fed_ctx.principal = p;
        let i = GetSessionTokenInput {
            duration_seconds: None,
            serial_number: None,
            token_code: None,
        };
        let err = crate::Operation::precheck(&Operation::GetSessionToken(i), &fed_ctx).unwrap_err();
        assert_eq!(
            err.message,
            "Cannot call GetSessionToken with session credentials"
        );

        let i = GetSessionTokenInput {
            duration_seconds: None,
            serial_number: None,
            token_code: None,
        };
        let el = run_write(&f, &ctx, move |tx, env, ctx| {
            get_session_token(tx, env, ctx, &i)
        })
        .unwrap();
        let cred = credential(&f, &issued_key(&el)).unwrap();
        assert_eq!(cred.principal.kind, PrincipalKind::Root);
        assert_eq!(cred.principal.arn, format!("arn:aws:iam::{ACCOUNT}:root"));
        assert_eq!(cred.expiration, Some(ctx.now + Duration::hours(1)));
        assert!(cred.principal.session.is_some());
    }

    type ArnParts = Option<(&'static str, &'static str, &'static str)>;

    #[test]
    fn role_arns() {
        let table: &[(&str, ArnParts)] = &[
            (
                "arn:aws:iam::123456789012:role/r",
                Some(("123456789012", "/", "r")),
            ),
            (
                "arn:aws:iam::123456789012:role/a/b/r+=,.@-_",
                Some(("123456789012", "/a/b/", "r+=,.@-_")),
            ),
            ("arn:aws:iam::123456789012:role/", None),
            ("arn:aws:iam::12345678901:role/r", None),
            ("arn:aws:iam:123456789012:role/r", None),
            ("arn:aws:iam::123456789012:user/r", None),
            ("arn:aws:sts::123456789012:role/r", None),
            ("arn:aws:iam::123456789012:role/bad name", None),
        ];
        for (arn, want) in table {
            assert_eq!(parse_role_arn(arn), *want, "{arn}");
        }
    }

    #[test]
    fn cloudtrail_dates() {
        let table = [
            (0, "Jan 1, 1970, 12:00:00 AM"),
            (1_800_000_000, "Jan 15, 2027, 8:00:00 AM"),
            (1_800_061_507, "Jan 16, 2027, 1:05:07 AM"),
            (1_784_000_000, "Jul 14, 2026, 3:33:20 AM"),
            (1_784_043_200, "Jul 14, 2026, 3:33:20 PM"),
        ];
        for (t, want) in table {
            let got = cloudtrail_date(OffsetDateTime::from_unix_timestamp(t).unwrap());
            assert_eq!(got, want, "{t}");
        }
    }

    #[test]
    fn validation_messages() {
        // The model's constraints, all at once, in model order (model_checks).
        let check = |pairs: &[(&str, &str)]| {
            let mut params: Vec<(String, String)> = vec![
                ("Action".into(), "AssumeRole".into()),
                ("Version".into(), "2011-06-15".into()),
            ];
            params.extend(
                pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
            );
            crate::model_checks::check("sts", "AssumeRole", &Input::Query(&params))
        };
        let err = check(&[
            ("RoleArn", "short"),
            ("RoleSessionName", "x"),
            ("DurationSeconds", "100"),
        ])
        .unwrap_err();
        assert_eq!(err.code, "ValidationError");
        assert_eq!(
            err.message,
            "3 validation errors detected: Value 'short' at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20; \
             Value 'x' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2; \
             Value '100' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900"
        );
        let arn = "arn:aws:iam::123456789012:role/r";
        let err = check(&[
            ("RoleArn", arn),
            ("RoleSessionName", "ok-name"),
            ("TokenCode", "12a456"),
            ("ExternalId", "has space"),
        ])
        .unwrap_err();
        assert!(err.message.starts_with("2 validation errors detected"));
        assert!(err.message.contains("at 'tokenCode'"));
        assert!(err.message.contains("at 'externalId'"));
        assert!(check(&[("RoleArn", arn), ("RoleSessionName", "ok-name")]).is_ok());
        // STS's own rules stay with its decoder.
        let mut i = input(arn, "ok-name");
        i.source_identity = Some("aws:me".into());
        assert!(validate_assume_role(&i)
            .unwrap_err()
            .message
            .starts_with("SourceIdentity cannot begin with the prefix 'aws:'"));
    }

    #[test]
    fn assume_role_condition_keys() {
        let mut i = input("arn:aws:iam::123456789012:role/r", "sess");
        i.external_id = Some("ext".into());
        i.tags = Some(vec![Tag {
            key: "k".into(),
            value: "v".into(),
        }]);
        i.serial_number = Some("arn:aws:iam::123456789012:mfa/a".into());
        i.token_code = Some("123456".into());
        let keys = assume_role_context(&i);
        let get = |k: &str| keys.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert_eq!(get("sts:RoleSessionName"), Some(vec!["sess".to_owned()]));
        assert_eq!(get("sts:ExternalId"), Some(vec!["ext".to_owned()]));
        assert_eq!(get("aws:RequestTag/k"), Some(vec!["v".to_owned()]));
        assert_eq!(get("aws:TagKeys"), Some(vec!["k".to_owned()]));
        assert_eq!(
            get("aws:MultiFactorAuthPresent"),
            Some(vec!["true".to_owned()])
        );
        assert!(get("sts:SourceIdentity").is_none());
    }

    #[test]
    fn packed_size_counts_policy_and_tags() {
        let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
        let p =
            session_policies(&palisade_store::EmptyState, ACCOUNT, Some(doc), None, &[]).unwrap();
        assert_eq!(p.documents, vec![doc.to_owned()]);
        assert_eq!(
            p.packed_percent,
            Some(u32::try_from((doc.len() * 100).div_ceil(2048)).unwrap())
        );
        assert_eq!(
            session_policies(&palisade_store::EmptyState, ACCOUNT, None, None, &[])
                .unwrap()
                .packed_percent,
            None
        );
        let big: Vec<Tag> = (0..50)
            .map(|n| Tag {
                key: format!("{n:0>128}"),
                value: "v".repeat(256),
            })
            .collect();
        let err =
            session_policies(&palisade_store::EmptyState, ACCOUNT, None, None, &big).unwrap_err();
        assert_eq!(err.code, "PackedPolicyTooLarge");
        let err = session_policies(
            &palisade_store::EmptyState,
            ACCOUNT,
            Some("{\"Statement\": 3}"),
            None,
            &[],
        )
        .unwrap_err();
        assert_eq!(err.code, "MalformedPolicyDocument");
    }
}
