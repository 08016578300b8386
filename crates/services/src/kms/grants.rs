//! Grants: CreateGrant / ListGrants / ListRetirableGrants / RetireGrant / RevokeGrant, and
//! [`grants_allow`], which the authorizer consults when a key policy and IAM deny implicitly.
//!
//! Records live under (`kmsg`, account, region, key id, grant id). A grant token names its
//! grant (base64url of its location) plus a random secret kept in the record.

use super::{
    check_enum, epoch, err, kerr, key_resources, page, paging, store, Context, KeyRecord, Value,
};
use crate::{context::RequestContext, error::ApiError, Reply};
use base64::Engine as _;
use palisade_store::{keys::Key, Range, ReadTx, WriteTx};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use time::OffsetDateTime;

pub const GRANT_OPERATIONS: &[&str] = &[
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
    "Sign",
    "Verify",
    "GetPublicKey",
    "CreateGrant",
    "RetireGrant",
    "DescribeKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateMac",
    "VerifyMac",
    "DeriveSharedSecret",
];

/// AWS's quota of grants per key.
const MAX_GRANTS_PER_KEY: usize = 50_000;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GrantConstraints {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_context_subset: Option<Context>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_context_equals: Option<Context>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateGrantInput {
    pub key_id: String,
    pub grantee_principal: String,
    pub retiring_principal: Option<String>,
    pub operations: Vec<String>,
    pub constraints: Option<GrantConstraints>,
    pub grant_tokens: Option<Vec<String>>,
    pub name: Option<String>,
    pub dry_run: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListGrantsInput {
    pub key_id: String,
    pub grant_id: Option<String>,
    pub grantee_principal: Option<String>,
    pub limit: Option<i64>,
    pub marker: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListRetirableGrantsInput {
    pub retiring_principal: String,
    pub limit: Option<i64>,
    pub marker: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RetireGrantInput {
    pub grant_token: Option<String>,
    pub key_id: Option<String>,
    pub grant_id: Option<String>,
    pub dry_run: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RevokeGrantInput {
    pub key_id: String,
    pub grant_id: String,
    pub dry_run: Option<bool>,
}

/// A stored grant.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GrantRecord {
    pub grant_id: String,
    pub account: String,
    pub region: String,
    pub key_id: String,
    pub key_arn: String,
    #[serde(default)]
    pub name: Option<String>,
    pub grantee_principal: String,
    #[serde(default)]
    pub retiring_principal: Option<String>,
    pub operations: Vec<String>,
    #[serde(default)]
    pub constraints: Option<GrantConstraints>,
    #[serde(with = "time::serde::rfc3339")]
    pub creation_date: OffsetDateTime,
    pub issuing_account: String,
    /// The secret half of the grant token.
    pub token_secret: String,
}

fn key_grants_prefix(account: &str, region: &str, key_id: &str) -> Key {
    Key::new().str("kmsg").str(account).str(region).str(key_id)
}

fn grant_key(account: &str, region: &str, key_id: &str, grant_id: &str) -> Vec<u8> {
    key_grants_prefix(account, region, key_id)
        .str(grant_id)
        .finish()
}

fn decode_grant(raw: &[u8]) -> Result<GrantRecord, ApiError> {
    serde_json::from_slice(raw).map_err(|e| ApiError::internal(format!("kms grant record: {e}")))
}

fn scan(tx: &dyn ReadTx, prefix: Key) -> Result<Vec<GrantRecord>, ApiError> {
    let prefix = prefix.finish();
    let mut end = Vec::new();
    let range = Range::prefix(&prefix, &mut end);
    tx.scan(&range, usize::MAX)?
        .into_iter()
        .map(|(_, v)| decode_grant(&v))
        .collect()
}

fn key_grants(tx: &dyn ReadTx, k: &KeyRecord) -> Result<Vec<GrantRecord>, ApiError> {
    scan(tx, key_grants_prefix(&k.account, &k.region, &k.key_id))
}

fn put(tx: &mut dyn WriteTx, g: &GrantRecord) -> Result<(), ApiError> {
    let raw = serde_json::to_vec(g).map_err(ApiError::internal)?;
    tx.put(
        &grant_key(&g.account, &g.region, &g.key_id, &g.grant_id),
        &raw,
    )?;
    Ok(())
}

fn delete(tx: &mut dyn WriteTx, g: &GrantRecord) -> Result<(), ApiError> {
    tx.delete(&grant_key(&g.account, &g.region, &g.key_id, &g.grant_id))?;
    Ok(())
}

fn token_for(g: &GrantRecord) -> String {
    let loc = format!(
        "{}\n{}\n{}\n{}\n{}",
        g.account, g.region, g.key_id, g.grant_id, g.token_secret
    );
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(loc)
}

/// The grant a token names (when the token is well formed and still current).
fn invalid_token() -> ApiError {
    err("InvalidGrantTokenException", "The grant token is invalid.")
}

/// The parts a grant token names: account, region, key id, grant id, secret.
fn token_parts(token: &str) -> Option<[String; 5]> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let parts: Vec<&str> = text.split('\n').collect();
    let [a, r, k, g, s] = parts.as_slice() else {
        return None;
    };
    Some([a, r, k, g, s].map(|p| (*p).to_owned()))
}

/// The GrantTokens member every operation that takes one shares: each one a token KMS
/// issued (InvalidGrantTokenException otherwise; the list's and the tokens' sizes are the
/// model's, model_checks). Checked when the request is decoded.
pub(super) fn check_grant_tokens(tokens: &[String]) -> Result<(), ApiError> {
    for t in tokens {
        if token_parts(t).is_none() {
            return Err(invalid_token());
        }
    }
    Ok(())
}

fn grant_for_token(tx: &dyn ReadTx, token: &str) -> Result<GrantRecord, ApiError> {
    let invalid = invalid_token;
    let [account, region, key_id, grant_id, secret] = token_parts(token).ok_or_else(invalid)?;
    let g = tx
        .get(&grant_key(&account, &region, &key_id, &grant_id))?
        .map(|raw| decode_grant(&raw))
        .transpose()?
        .ok_or_else(|| err("NotFoundException", "Grant not found."))?;
    if g.token_secret != secret {
        return Err(invalid());
    }
    Ok(g)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn check_principal(p: &str, member: &str) -> Result<(), ApiError> {
    if !p
        .chars()
        .all(|c| c.is_alphanumeric() || "_+=,.@:/-".contains(c))
    {
        return Err(kerr::validation(format!(
            "1 validation error detected: Value '{p}' at '{member}' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[\\w+=,.@:/-]+$"
        )));
    }
    Ok(())
}

/// The operations a grant may allow on a key of this kind.
fn operations_for_key(k: &KeyRecord) -> &'static [&'static str] {
    match k.key_usage.as_str() {
        "SIGN_VERIFY" => &[
            "Sign",
            "Verify",
            "GetPublicKey",
            "CreateGrant",
            "RetireGrant",
            "DescribeKey",
        ],
        "GENERATE_VERIFY_MAC" => &[
            "GenerateMac",
            "VerifyMac",
            "CreateGrant",
            "RetireGrant",
            "DescribeKey",
        ],
        _ if k.key_spec == "SYMMETRIC_DEFAULT" => &[
            "Decrypt",
            "Encrypt",
            "GenerateDataKey",
            "GenerateDataKeyWithoutPlaintext",
            "ReEncryptFrom",
            "ReEncryptTo",
            "CreateGrant",
            "RetireGrant",
            "DescribeKey",
            "GenerateDataKeyPair",
            "GenerateDataKeyPairWithoutPlaintext",
        ],
        _ => &[
            "Decrypt",
            "Encrypt",
            "GetPublicKey",
            "CreateGrant",
            "RetireGrant",
            "DescribeKey",
        ],
    }
}

pub(super) fn create(
    tx: &mut dyn WriteTx,
    ctx: &RequestContext,
    i: &CreateGrantInput,
) -> Result<Reply, ApiError> {
    check_principal(&i.grantee_principal, "granteePrincipal")?;
    if let Some(r) = &i.retiring_principal {
        check_principal(r, "retiringPrincipal")?;
    }
    if i.operations.is_empty() {
        return Err(kerr::too_short("operations", 1));
    }
    for op in &i.operations {
        check_enum(op, "operations", GRANT_OPERATIONS)?;
    }
    if let Some(n) = &i.name {
        if !n
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b":/_-".contains(&b))
        {
            return Err(kerr::validation(format!(
                "1 validation error detected: Value '{n}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"
            )));
        }
    }
    if let Some(c) = &i.constraints {
        for (member, pairs) in [
            (
                "constraints.encryptionContextEquals",
                &c.encryption_context_equals,
            ),
            (
                "constraints.encryptionContextSubset",
                &c.encryption_context_subset,
            ),
        ] {
            super::check_context(pairs)?;
            check_constraint_pairs(member, pairs.as_ref())?;
        }
    }
    let k = store::resolve(tx, ctx, &i.key_id)?;
    let allowed = operations_for_key(&k);
    if let Some(bad) = i
        .operations
        .iter()
        .find(|op| !allowed.contains(&op.as_str()))
    {
        return Err(kerr::validation(format!(
            "Grant operation {bad} is not valid for key {} with key spec {} and key usage {}.",
            k.arn, k.key_spec, k.key_usage
        )));
    }
    if i.constraints
        .as_ref()
        .is_some_and(|c| *c != GrantConstraints::default())
        && k.key_spec != "SYMMETRIC_DEFAULT"
    {
        // AWS: "You cannot use an encryption context grant constraint for cryptographic
        // operations with asymmetric KMS keys or HMAC KMS keys." (its message is ours)
        return Err(kerr::validation(format!(
            "Grant constraints are not supported for key {} with key spec {}: only symmetric encryption KMS keys take an encryption context.",
            k.arn, k.key_spec
        )));
    }
    k.check_usable()?;
    super::check_dry_run(i.dry_run)?;
    let mut operations = i.operations.clone();
    operations.sort();
    operations.dedup();
    let constraints = i
        .constraints
        .clone()
        .filter(|c| *c != GrantConstraints::default());
    let existing = key_grants(tx, &k)?;
    // Retrying with a name and identical parameters returns the same grant (as AWS).
    if let Some(g) = existing.iter().find(|g| {
        i.name.is_some()
            && g.name == i.name
            && g.grantee_principal == i.grantee_principal
            && g.retiring_principal == i.retiring_principal
            && g.operations == operations
            && g.constraints == constraints
    }) {
        return Ok(created_reply(&k, g));
    }
    if existing.len() >= MAX_GRANTS_PER_KEY {
        return Err(err(
            "LimitExceededException",
            format!("The grants limit has been reached for key {}.", k.arn),
        ));
    }
    let g = GrantRecord {
        grant_id: hex(&super::random_bytes(32)?),
        account: k.account.clone(),
        region: k.region.clone(),
        key_id: k.key_id.clone(),
        key_arn: k.arn.clone(),
        name: i.name.clone(),
        grantee_principal: i.grantee_principal.clone(),
        retiring_principal: i.retiring_principal.clone(),
        operations,
        constraints,
        creation_date: ctx.now,
        issuing_account: format!("arn:aws:iam::{}:root", ctx.principal.account_id),
        token_secret: hex(&super::random_bytes(24)?),
    };
    put(tx, &g)?;
    Ok(created_reply(&k, &g))
}

fn created_reply(k: &KeyRecord, g: &GrantRecord) -> Reply {
    let token = token_for(g);
    let mut reply = Reply::new(json!({ "GrantToken": token, "GrantId": g.grant_id }));
    reply.response_elements = Some(json!({ "grantId": g.grant_id }));
    reply.resources = key_resources(k);
    reply
}

fn entry(g: &GrantRecord) -> Value {
    let mut e = json!({
        "KeyId": g.key_arn,
        "GrantId": g.grant_id,
        "CreationDate": epoch(g.creation_date),
        "GranteePrincipal": g.grantee_principal,
        "IssuingAccount": g.issuing_account,
        "Operations": g.operations,
    });
    if let Some(o) = e.as_object_mut() {
        if let Some(n) = &g.name {
            o.insert("Name".into(), json!(n));
        }
        if let Some(r) = &g.retiring_principal {
            o.insert("RetiringPrincipal".into(), json!(r));
        }
        if let Some(c) = &g.constraints {
            o.insert("Constraints".into(), json!(c));
        }
    }
    e
}

fn page_reply(entries: &[Value], limit: usize, start: usize) -> Result<Value, ApiError> {
    let (items, truncated, next) = page(entries, limit, start)?;
    let mut out = json!({ "Grants": items, "Truncated": truncated });
    if let (Some(n), Some(o)) = (next, out.as_object_mut()) {
        o.insert("NextMarker".into(), n.into());
    }
    Ok(out)
}

pub(super) fn list(
    tx: &dyn ReadTx,
    ctx: &RequestContext,
    i: &ListGrantsInput,
) -> Result<Reply, ApiError> {
    // KeyId and GrantId were checked at decode (model_checks).
    let (limit, start) = paging(i.limit, &i.marker)?;
    if let Some(p) = &i.grantee_principal {
        check_principal(p, "granteePrincipal")?;
    }
    let k = store::resolve(tx, ctx, &i.key_id)?;
    let entries: Vec<Value> = key_grants(tx, &k)?
        .iter()
        .filter(|g| i.grant_id.as_ref().is_none_or(|id| *id == g.grant_id))
        .filter(|g| {
            i.grantee_principal
                .as_ref()
                .is_none_or(|p| *p == g.grantee_principal)
        })
        .map(entry)
        .collect();
    let mut reply = Reply::new(page_reply(&entries, limit, start)?);
    reply.resources = key_resources(&k);
    Ok(reply)
}

pub(super) fn list_retirable(
    tx: &dyn ReadTx,
    i: &ListRetirableGrantsInput,
) -> Result<Reply, ApiError> {
    check_principal(&i.retiring_principal, "retiringPrincipal")?;
    let (limit, start) = paging(i.limit, &i.marker)?;
    let entries: Vec<Value> = scan(tx, Key::new().str("kmsg"))?
        .iter()
        .filter(|g| g.retiring_principal.as_deref() == Some(i.retiring_principal.as_str()))
        .map(entry)
        .collect();
    Ok(Reply::new(page_reply(&entries, limit, start)?))
}

fn find_grant(
    tx: &dyn ReadTx,
    ctx: &RequestContext,
    key_id: &str,
    grant_id: &str,
) -> Result<(KeyRecord, GrantRecord), ApiError> {
    let k = store::resolve(tx, ctx, key_id)?;
    let g = tx
        .get(&grant_key(&k.account, &k.region, &k.key_id, grant_id))?
        .map(|raw| decode_grant(&raw))
        .transpose()?
        .ok_or_else(|| {
            err(
                "NotFoundException",
                format!("Grant ID {grant_id} not found"),
            )
        })?;
    Ok((k, g))
}

pub(super) fn revoke(
    tx: &mut dyn WriteTx,
    ctx: &RequestContext,
    i: &RevokeGrantInput,
) -> Result<Reply, ApiError> {
    let (k, g) = find_grant(tx, ctx, &i.key_id, &i.grant_id)?;
    super::check_dry_run(i.dry_run)?;
    delete(tx, &g)?;
    let mut reply = Reply::empty();
    reply.resources = key_resources(&k);
    Ok(reply)
}

pub(super) fn retire(
    tx: &mut dyn WriteTx,
    env: &crate::Env,
    ctx: &RequestContext,
    i: &RetireGrantInput,
) -> Result<Reply, ApiError> {
    let g = match (&i.grant_token, &i.key_id, &i.grant_id) {
        (Some(t), _, _) => {
            let g = grant_for_token(tx, t)?;
            if i.grant_id.as_ref().is_some_and(|id| *id != g.grant_id) {
                return Err(err(
                    "InvalidGrantIdException",
                    "The grant ID does not match the grant token.",
                ));
            }
            g
        }
        (None, Some(k), Some(id)) => find_grant(tx, ctx, k, id)?.1,
        _ => {
            return Err(kerr::validation(
                "Either a grant token, or both a key ID and a grant ID, must be specified.",
            ))
        }
    };
    authorize_retire(env, ctx, &g)?;
    super::check_dry_run(i.dry_run)?;
    delete(tx, &g)?;
    let mut reply = Reply::empty();
    reply.resources = vec![("AWS::KMS::Key".to_owned(), g.key_arn.clone())];
    Ok(reply)
}

/// Who may retire grant `g` (AWS KMS guide, "Retiring and revoking grants"): the principals
/// the grant names (its retiring principal; its grantee when it allows RetireGrant), the
/// account that owns the key, and IAM principals to whom that account, or a retiring
/// principal that is an account, delegated `kms:RetireGrant` in an IAM policy. Key policies
/// play no part; an explicit Deny of `kms:RetireGrant` in IAM policies or SCPs stops every
/// one of them. The authorizer decides, told whether the grant names the caller.
fn authorize_retire(
    env: &crate::Env,
    ctx: &RequestContext,
    g: &GrantRecord,
) -> Result<(), ApiError> {
    let caller = &ctx.principal;
    let named = g
        .retiring_principal
        .as_deref()
        .is_some_and(|r| principal_matches(r, &caller.arn))
        || g.operations.iter().any(|o| o == "RetireGrant")
            && principal_matches(&g.grantee_principal, &caller.arn);
    let caller_account = format!("arn:aws:iam::{}:root", caller.account_id);
    let delegating = caller.account_id == g.account
        || g.retiring_principal.as_deref() == Some(caller_account.as_str());
    if !named && !delegating {
        return Err(ApiError::new(
            "AccessDeniedException",
            400,
            format!(
                "User: {} is not authorized to perform: kms:RetireGrant on this grant because no grant allows it",
                caller.arn
            ),
        ));
    }
    let mut check = crate::authz::AuthzCheck::new("kms:RetireGrant", g.key_arn.clone());
    check.resource_account = Some(g.account.clone());
    if named {
        check.note(crate::authz::NAMED_IN_GRANT, "true");
    } else if caller.account_id != g.account {
        // A retiring account delegates within itself: its IAM policies alone decide.
        check.note(crate::authz::RETIRE_DELEGATED, "true");
    }
    match env.authorizer.authorize(&check, ctx) {
        crate::authz::AuthzDecision::Allow => Ok(()),
        crate::authz::AuthzDecision::Deny { message } => {
            Err(ApiError::new("AccessDeniedException", 400, message))
        }
    }
}

/// Whether a grant's principal (a user, role, account root or service ARN) names the
/// calling principal `caller` (an assumed-role session matches its role's ARN).
fn principal_matches(grant_principal: &str, caller: &str) -> bool {
    if grant_principal == caller {
        return true;
    }
    // arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION -> arn:aws:iam::ACCOUNT:role/[path/]ROLE
    let Some(rest) = caller.strip_prefix("arn:aws:sts::") else {
        return false;
    };
    let Some((account, res)) = rest.split_once(':') else {
        return false;
    };
    let Some(role) = res
        .strip_prefix("assumed-role/")
        .and_then(|r| r.split('/').next())
    else {
        return false;
    };
    let Some(grant_rest) = grant_principal.strip_prefix(&format!("arn:aws:iam::{account}:role/"))
    else {
        return false;
    };
    grant_rest.rsplit('/').next() == Some(role)
}

/// AWS: "Each constraint value can include up to 8 encryption context pairs. The
/// encryption context value in each constraint cannot exceed 384 characters."
fn check_constraint_pairs(
    member: &str,
    pairs: Option<&BTreeMap<String, String>>,
) -> Result<(), ApiError> {
    let Some(pairs) = pairs else { return Ok(()) };
    if pairs.len() > 8 {
        return Err(kerr::validation(format!(
            "1 validation error detected: Value at '{member}' failed to satisfy constraint: Member must have at most 8 encryption context pairs"
        )));
    }
    if pairs.values().any(|v| v.chars().count() > 384) {
        return Err(kerr::validation(format!(
            "1 validation error detected: Value at '{member}' failed to satisfy constraint: Each encryption context value must have length less than or equal to 384"
        )));
    }
    Ok(())
}

/// Whether the request's encryption context `ec` meets a grant's constraints. In a
/// constraint the keys are not case sensitive and the values are (AWS's GrantConstraints).
fn constraints_hold(c: &Option<GrantConstraints>, ec: &BTreeMap<String, String>) -> bool {
    let Some(c) = c else {
        return true;
    };
    let value_of = |key: &str| {
        ec.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    };
    if let Some(eq) = &c.encryption_context_equals {
        if eq.len() != ec.len() || !eq.iter().all(|(k, v)| value_of(k) == Some(v)) {
            return false;
        }
    }
    if let Some(sub) = &c.encryption_context_subset {
        if !sub.iter().all(|(k, v)| value_of(k) == Some(v)) {
            return false;
        }
    }
    true
}

/// Whether a grant on the key named by `key_arn` (a key ARN, or an alias ARN resolved to
/// its key) allows `action` (`kms:Decrypt` or `Decrypt`) to `grantee_arn` (the calling
/// principal's ARN; an assumed-role session matches a grant to its role) with the
/// request's encryption context (grant constraints: EncryptionContextEquals /
/// EncryptionContextSubset). For the authorizer, when the key policy and IAM deny
/// implicitly; an explicit deny still wins.
pub fn grants_allow(
    tx: &dyn ReadTx,
    key_arn: &str,
    grantee_arn: &str,
    action: &str,
    encryption_context: &BTreeMap<String, String>,
) -> Result<bool, ApiError> {
    let op = action.strip_prefix("kms:").unwrap_or(action);
    let Some((account, region, key_id)) = store::key_of_arn(tx, key_arn)? else {
        return Ok(false);
    };
    let grants = scan(tx, key_grants_prefix(account, region, &key_id))?;
    // Constraints bind only the operations that take an encryption context; "they don't
    // apply to ... operations, such as DescribeKey or RetireGrant" (AWS's
    // GrantConstraints). CreateGrant through a constrained grant is still held to the
    // grant's constraints against the request's (empty) context, so it is refused: AWS
    // instead lets it create grants at least as strict, which is not modelled here.
    let constrained = CONTEXT_OPERATIONS.contains(&op) || op == "CreateGrant";
    Ok(grants.iter().any(|g| {
        g.operations.iter().any(|o| o == op)
            && principal_matches(&g.grantee_principal, grantee_arn)
            && (!constrained || constraints_hold(&g.constraints, encryption_context))
    }))
}

/// The grant operations that take an encryption context.
const CONTEXT_OPERATIONS: [&str; 8] = [
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
];

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn ctx(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn principals_and_constraints() {
        assert!(principal_matches(
            "arn:aws:iam::111122223333:role/app/Worker",
            "arn:aws:sts::111122223333:assumed-role/Worker/s1"
        ));
        assert!(!principal_matches(
            "arn:aws:iam::111122223333:role/Worker",
            "arn:aws:sts::444455556666:assumed-role/Worker/s1"
        ));
        assert!(principal_matches(
            "arn:aws:iam::111122223333:user/alex",
            "arn:aws:iam::111122223333:user/alex"
        ));
        assert!(!principal_matches(
            "arn:aws:iam::111122223333:user/alex",
            "arn:aws:iam::111122223333:user/alexa"
        ));
        let eq = Some(GrantConstraints {
            encryption_context_equals: Some(ctx(&[("a", "1")])),
            encryption_context_subset: None,
        });
        assert!(constraints_hold(&eq, &ctx(&[("a", "1")])));
        assert!(!constraints_hold(&eq, &ctx(&[("a", "1"), ("b", "2")])));
        assert!(!constraints_hold(&eq, &ctx(&[])));
        let sub = Some(GrantConstraints {
            encryption_context_equals: None,
            encryption_context_subset: Some(ctx(&[("a", "1")])),
        });
        assert!(constraints_hold(&sub, &ctx(&[("a", "1"), ("b", "2")])));
        assert!(!constraints_hold(&sub, &ctx(&[("a", "2")])));
        assert!(constraints_hold(&None, &ctx(&[])));
        // Keys are not case sensitive in a constraint; values are.
        assert!(constraints_hold(&eq, &ctx(&[("A", "1")])));
        assert!(constraints_hold(&sub, &ctx(&[("A", "1"), ("b", "2")])));
        assert!(!constraints_hold(&eq, &ctx(&[("a", "1"), ("A", "1")])));
        assert!(!constraints_hold(&sub, &ctx(&[("A", "ONE")])));
    }

    #[test]
    fn grants_allow_sees_created_grants() {
        use crate::{context::Principal, Operation as _};

        let env = crate::env::testing::test_env("111122223333");
        let c = RequestContext {
            request_id: "r".into(),
            principal: Principal::root("111122223333", "AKIAROOT"),
            region: "us-east-1".into(),
            source_ip: "127.0.0.1".into(),
            user_agent: "t".into(),
            now: OffsetDateTime::UNIX_EPOCH,
            secure_transport: false,
            invoked: Default::default(),
        };
        let e2 = env.clone();
        let results = crate::accounts::write_blocking(env.store.as_ref(), move |tx| {
            let created =
                super::super::Operation::CreateKey(Default::default()).write(tx, &e2, &c)?;
            let arn = created.resources[0].1.clone();
            let user = "arn:aws:iam::111122223333:user/u";
            let role = "arn:aws:iam::111122223333:role/R";
            create(
                tx,
                &c,
                &CreateGrantInput {
                    key_id: arn.clone(),
                    grantee_principal: user.into(),
                    retiring_principal: None,
                    operations: vec!["Decrypt".into()],
                    constraints: Some(GrantConstraints {
                        encryption_context_subset: Some(ctx(&[("t", "1")])),
                        encryption_context_equals: None,
                    }),
                    grant_tokens: None,
                    name: None,
                    dry_run: None,
                },
            )?;
            create(
                tx,
                &c,
                &CreateGrantInput {
                    key_id: arn.clone(),
                    grantee_principal: role.into(),
                    retiring_principal: None,
                    operations: vec!["Encrypt".into()],
                    constraints: None,
                    grant_tokens: None,
                    name: None,
                    dry_run: None,
                },
            )?;
            let session = "arn:aws:sts::111122223333:assumed-role/R/s";
            Ok(vec![
                grants_allow(
                    tx,
                    &arn,
                    user,
                    "kms:Decrypt",
                    &ctx(&[("t", "1"), ("x", "y")]),
                )?,
                grants_allow(tx, &arn, user, "kms:Decrypt", &ctx(&[("t", "2")]))?,
                grants_allow(tx, &arn, user, "kms:Encrypt", &ctx(&[("t", "1")]))?,
                grants_allow(tx, &arn, session, "Encrypt", &ctx(&[]))?,
                grants_allow(tx, &arn, session, "Decrypt", &ctx(&[("t", "1")]))?,
                grants_allow(
                    tx,
                    "arn:aws:kms:us-east-1:111122223333:alias/none",
                    user,
                    "Decrypt",
                    &ctx(&[("t", "1")]),
                )?,
            ])
        })
        .unwrap();
        assert_eq!(results, vec![true, false, false, true, false, false]);
    }
}
