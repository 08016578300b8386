//! AWS Secrets Manager (awsJson1.1, target prefix `secretsmanager`, regional).
//!
//! Secrets with versions and staging labels as AWS keeps them (AWSCURRENT, AWSPREVIOUS,
//! AWSPENDING, custom labels, at most 100 versions with unlabelled ones pruned), deletion
//! windows on the business clock, tags, resource policies, GetRandomPassword, and rotation
//! without Lambda: the reserved rotation function names of CONTRACT.md ("Built-in secret
//! rotation") run built-in rotators through the four Lambda steps, on the business clock
//! ([`run_due_rotations`]).
//!
//! Values are stored only as KMS ciphertext blobs ([`crate::kms::internal`], encryption
//! context `SecretARN` + `SecretVersionId` as AWS uses), never in plaintext, and never
//! written to CloudTrail.
//!
//! Authorization: `secretsmanager:<Action>` on the secret ARN. authz() cannot read state,
//! so a `SecretId` given by name is named as `arn:...:secret:<name>-??????` (the form
//! AWS's IAM documentation recommends policies match); an ARN is used as given. The
//! secret's resource policy is exposed to the authorizer by [`secret_policy_for_arn`].

use crate::{
    authz::AuthzCheck,
    context::{Principal, RequestContext},
    env::Env,
    error::ApiError,
    input::Input,
    kms::internal::{self as kms, Caller},
    Reply,
};
use base64::Engine as _;
use palisade_store::{keys::Key, Range, ReadTx, WriteTx};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use time::OffsetDateTime;

pub mod hooks;
mod replication;

use replication::{not_on_replica, save};

const SERVICE: &str = "secretsmanager";
const MAX_VALUE: usize = 65_536;
const MAX_VERSIONS: usize = 100;
const CURRENT: &str = "AWSCURRENT";
const PREVIOUS: &str = "AWSPREVIOUS";
const PENDING: &str = "AWSPENDING";
/// The reserved rotation function name prefix (CONTRACT.md).
const ROTATOR_PREFIX: &str = "palisade-rotation-";
const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

// ---------------------------------------------------------------- errors

fn err(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(code, 400, message)
}

fn not_found() -> ApiError {
    err(
        "ResourceNotFoundException",
        "Secrets Manager can't find the specified secret.",
    )
}

fn invalid_param(message: impl Into<String>) -> ApiError {
    err("InvalidParameterException", message)
}

fn marked_for_deletion() -> ApiError {
    err(
        "InvalidRequestException",
        "You can't perform this operation on the secret because it was marked for deletion.",
    )
}

fn too_long(member: &str, max: usize) -> ApiError {
    err(
        "ValidationException",
        format!("1 validation error detected: Value at '{member}' failed to satisfy constraint: Member must have length less than or equal to {max}"),
    )
}

fn too_short(member: &str, min: usize) -> ApiError {
    err(
        "ValidationException",
        format!("1 validation error detected: Value at '{member}' failed to satisfy constraint: Member must have length greater than or equal to {min}"),
    )
}

/// A length bound as the model states it: in UTF-16 code units, as Java counts.
fn check_len(value: &str, member: &str, min: usize, max: usize) -> Result<(), ApiError> {
    let n = value.encode_utf16().count();
    if n < min {
        return Err(too_short(member, min));
    }
    if n > max {
        return Err(too_long(member, max));
    }
    Ok(())
}

// ---------------------------------------------------------------- records

/// One version of a secret: metadata; the value lives sealed under [`value_key`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VersionRecord {
    pub id: String,
    pub stages: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_accessed: Option<OffsetDateTime>,
    pub kms_key_arn: String,
    /// The key this version was sealed with before UpdateSecret moved the secret to
    /// `kms_key_arn`: its earlier ciphertext is kept under [`prior_value_key`], so either
    /// key decrypts the version (AWS: "you can decrypt AWSCURRENT, AWSPENDING, and
    /// AWSPREVIOUS versions with the previous key or the new key").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prior_kms_key_arn: Option<String>,
    pub binary: bool,
    /// A version without a value yet: the AWSPENDING version a rotation starts with,
    /// which the rotation function's createSecret fills (PutSecretValue with the same
    /// ClientRequestToken). GetSecretValue does not find it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty: bool,
}

/// A rotation through an external hook that has started and not finished.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct HookRun {
    /// The ClientRequestToken: the new version's id.
    pub token: String,
    /// The event's RotationToken.
    pub rotation_token: String,
    /// The hook's (function) name.
    pub hook: String,
    #[serde(with = "time::serde::rfc3339")]
    pub started: OffsetDateTime,
}

/// What the hook dispatcher needs to run one started rotation (the `smrun` index entry).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunJob {
    pub account: String,
    pub region: String,
    pub name: String,
    pub arn: String,
    pub token: String,
    #[serde(default)]
    pub rotation_token: Option<String>,
    pub hook: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct RotationRules {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automatically_after_days: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_expression: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SecretRecord {
    pub arn: String,
    pub name: String,
    pub account: String,
    pub region: String,
    #[serde(default)]
    pub description: Option<String>,
    /// The KmsKeyId as given (`None`: the AWS managed key `alias/aws/secretsmanager`).
    #[serde(default)]
    pub kms_key_id: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_changed: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_accessed: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_rotated: Option<OffsetDateTime>,
    /// When a scheduled deletion takes effect.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub deletion_date: Option<OffsetDateTime>,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    #[serde(default)]
    pub policy: Option<String>,
    #[serde(default)]
    pub rotation_enabled: bool,
    #[serde(default)]
    pub rotation_lambda_arn: Option<String>,
    #[serde(default)]
    pub rotation_rules: Option<RotationRules>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub next_rotation: Option<OffsetDateTime>,
    /// The last rotation's failure, cleared by a successful one.
    #[serde(default)]
    pub last_rotation_failure: Option<String>,
    /// Versions, oldest first.
    #[serde(default)]
    pub versions: Vec<VersionRecord>,
    /// The external-hook rotation in progress, if any ([`hooks`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook_run: Option<HookRun>,
    /// On a primary secret: its replicas in other regions ([`replication`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replicas: Vec<Replica>,
    /// On a replica: the primary secret's region. A replica is read-only; every write
    /// goes to the primary, which mirrors it here in the same transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_region: Option<String>,
}

/// One replica region of a primary secret, as ReplicationStatus reports it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Replica {
    pub region: String,
    /// The KmsKeyId as given for the replica (`None`: `alias/aws/secretsmanager` there).
    #[serde(default)]
    pub kms_key_id: Option<String>,
    /// `InSync` or `Failed` (Palisade replicates inside the call, so never `InProgress`
    /// once the call has answered).
    pub status: String,
    #[serde(default)]
    pub status_message: Option<String>,
}

impl SecretRecord {
    fn version_with_stage(&self, stage: &str) -> Option<&VersionRecord> {
        self.versions
            .iter()
            .find(|v| v.stages.iter().any(|s| s == stage))
    }

    fn version(&self, id: &str) -> Option<&VersionRecord> {
        self.versions.iter().find(|v| v.id == id)
    }

    fn gone(&self, now: OffsetDateTime) -> bool {
        self.deletion_date.is_some_and(|d| d <= now)
    }

    fn stages_map(&self) -> BTreeMap<String, Vec<String>> {
        self.versions
            .iter()
            .filter(|v| !v.stages.is_empty())
            .map(|v| (v.id.clone(), v.stages.clone()))
            .collect()
    }

    fn resources(&self) -> Vec<(String, String)> {
        vec![("AWS::SecretsManager::Secret".to_owned(), self.arn.clone())]
    }
}

/// The table of secret records, every account and region.
fn secrets_table() -> Key {
    Key::new().str("sms")
}

fn secrets_prefix(account: &str, region: &str) -> Key {
    secrets_table().str(account).str(region)
}

fn secret_key(account: &str, region: &str, name: &str) -> Vec<u8> {
    secrets_prefix(account, region).str(name).finish()
}

fn values_prefix(account: &str, region: &str, arn: &str) -> Key {
    Key::new().str("smv").str(account).str(region).str(arn)
}

fn value_key(account: &str, region: &str, arn: &str, version_id: &str) -> Vec<u8> {
    values_prefix(account, region, arn).str(version_id).finish()
}

/// Where a version's ciphertext under its [`VersionRecord::prior_kms_key_arn`] lives.
fn prior_value_key(account: &str, region: &str, arn: &str, version_id: &str) -> Vec<u8> {
    values_prefix(account, region, arn)
        .str(version_id)
        .str("prior")
        .finish()
}

fn get_secret(
    tx: &dyn ReadTx,
    account: &str,
    region: &str,
    name: &str,
) -> Result<Option<SecretRecord>, ApiError> {
    get_secret_as(tx, account, region, name)
}

/// [`get_secret`] decoded as `T`: the whole record, or a part of it ([`SecretHead`]).
fn get_secret_as<T: SecretArn>(
    tx: &dyn ReadTx,
    account: &str,
    region: &str,
    name: &str,
) -> Result<Option<T>, ApiError> {
    tx.get(&secret_key(account, region, name))?
        .map(|raw| T::decode(&raw).map_err(|e| ApiError::internal(format!("secret: {e}"))))
        .transpose()
}

/// Decoded secret records by their bytes ([`crate::decoded`]).
static SECRETS: std::sync::LazyLock<crate::decoded::DecodeCache<SecretRecord>> =
    std::sync::LazyLock::new(crate::decoded::DecodeCache::new);
static SECRET_HEADS: std::sync::LazyLock<crate::decoded::DecodeCache<SecretHead>> =
    std::sync::LazyLock::new(crate::decoded::DecodeCache::new);

/// Forgets every decoded secret record (a reset).
pub fn clear_decoded() {
    SECRETS.clear();
    SECRET_HEADS.clear();
}

/// What authorization reads of a secret (its ARN, tags and policy), decoded without the
/// rest: a GetSecretValue authorizes against the same secret three times.
#[derive(Debug, Clone, Deserialize)]
struct SecretHead {
    arn: String,
    #[serde(default)]
    tags: Vec<(String, String)>,
    #[serde(default)]
    policy: Option<String>,
}

/// A decoded secret record, whole or in part, and its ARN.
trait SecretArn: Sized {
    fn arn(&self) -> &str;
    fn decode(raw: &[u8]) -> Result<Self, serde_json::Error>;
}

impl SecretArn for SecretRecord {
    fn arn(&self) -> &str {
        &self.arn
    }
    fn decode(raw: &[u8]) -> Result<Self, serde_json::Error> {
        SECRETS.decode(raw).map(|s| SecretRecord::clone(&s))
    }
}

impl SecretArn for SecretHead {
    fn arn(&self) -> &str {
        &self.arn
    }
    fn decode(raw: &[u8]) -> Result<Self, serde_json::Error> {
        SECRET_HEADS.decode(raw).map(|s| SecretHead::clone(&s))
    }
}

fn put_secret(tx: &mut dyn WriteTx, s: &SecretRecord) -> Result<(), ApiError> {
    let raw = serde_json::to_vec(s).map_err(ApiError::internal)?;
    tx.put(&secret_key(&s.account, &s.region, &s.name), &raw)?;
    DUE.file(tx, (&s.account, &s.region, &s.name), due_at(s))
}

// ---------------------------------------------------------------- the scheduler's index

/// When the scheduler next has work for `s`: its deletion date (then it is purged), or,
/// for a primary with rotation on and no deletion scheduled, its next rotation. Replicas
/// rotate with their primary, never on their own.
fn due_at(s: &SecretRecord) -> Option<OffsetDateTime> {
    match s.deletion_date {
        Some(d) => Some(d),
        None if s.rotation_enabled && s.primary_region.is_none() => s.next_rotation,
        None => None,
    }
}

/// The scheduler's index of secrets by [`due_at`].
pub static DUE: crate::due::DueIndex =
    crate::due::DueIndex::new("smd", "smdf", "secrets_due_index", backfill_due);

/// Files every secret of a data dir made before [`DUE`].
fn backfill_due(tx: &mut dyn WriteTx) -> Result<usize, ApiError> {
    crate::due::file_all(tx, "sms", |tx, s: &SecretRecord| {
        DUE.file(tx, (&s.account, &s.region, &s.name), due_at(s))
    })
}

/// Removes a secret and every stored value.
fn purge(tx: &mut dyn WriteTx, s: &SecretRecord) -> Result<(), ApiError> {
    tx.delete(&secret_key(&s.account, &s.region, &s.name))?;
    DUE.file(tx, (&s.account, &s.region, &s.name), None)?;
    if s.hook_run.is_some() {
        hooks::delete_run(tx, &s.account, &s.region, &s.name)?;
    }
    let prefix = values_prefix(&s.account, &s.region, &s.arn).finish();
    let end = palisade_store::keys::prefix_end(&prefix);
    tx.delete_range(&prefix, if end.is_empty() { None } else { Some(&end) })?;
    Ok(())
}

fn all_secrets(
    tx: &dyn ReadTx,
    account: &str,
    region: &str,
) -> Result<Vec<SecretRecord>, ApiError> {
    let prefix = secrets_prefix(account, region).finish();
    let mut end = Vec::new();
    let range = Range::prefix(&prefix, &mut end);
    tx.scan(&range, usize::MAX)?
        .into_iter()
        .map(|(_, v)| {
            serde_json::from_slice(&v).map_err(|e| ApiError::internal(format!("secret: {e}")))
        })
        .collect()
}

/// (region, account, resource after `secret:`) of a Secrets Manager ARN.
fn parse_arn(arn: &str) -> Option<(&str, &str, &str)> {
    let rest = arn.strip_prefix("arn:aws:secretsmanager:")?;
    let mut parts = rest.splitn(3, ':');
    let region = parts.next()?;
    let account = parts.next()?;
    let name = parts.next()?.strip_prefix("secret:")?;
    Some((region, account, name))
}

/// The name in the resource part of a full secret ARN: what comes before its `-` and
/// six random characters; `None` when `res` cannot be one.
fn without_suffix(res: &str) -> Option<&str> {
    let i = res.len().checked_sub(7)?;
    (res.as_bytes().get(i) == Some(&b'-'))
        .then(|| res.get(..i))
        .flatten()
}

/// The secret a full ARN (`arn`, whose parts are `(region, account, res)`) or a partial
/// one (the name without the random suffix) names.
fn by_arn<T: SecretArn>(
    tx: &dyn ReadTx,
    (region, account, res): (&str, &str, &str),
    arn: &str,
) -> Result<Option<T>, ApiError> {
    if let Some(name) = without_suffix(res) {
        if let Some(s) = get_secret_as::<T>(tx, account, region, name)?.filter(|s| s.arn() == arn) {
            return Ok(Some(s));
        }
    }
    get_secret_as(tx, account, region, res)
}

/// Finds a secret by name, full ARN, or partial ARN (no random suffix); deleted secrets
/// past their window count as absent.
fn find(tx: &dyn ReadTx, ctx: &RequestContext, id: &str) -> Result<Option<SecretRecord>, ApiError> {
    let found = if let Some((region, account, res)) = parse_arn(id) {
        by_arn(tx, (region, account, res), id)?
    } else {
        get_secret(tx, &ctx.principal.account_id, &ctx.region, id)?
    };
    Ok(found.filter(|s| !s.gone(ctx.now)))
}

fn load(tx: &dyn ReadTx, ctx: &RequestContext, id: &str) -> Result<SecretRecord, ApiError> {
    check_len(id, "secretId", 1, 2048)?;
    find(tx, ctx, id)?.ok_or_else(not_found)
}

/// A secret that is not scheduled for deletion.
fn load_live(tx: &dyn ReadTx, ctx: &RequestContext, id: &str) -> Result<SecretRecord, ApiError> {
    let s = load(tx, ctx, id)?;
    if s.deletion_date.is_some() {
        return Err(marked_for_deletion());
    }
    Ok(s)
}

/// How [`authz_arn`] ends the ARN of a secret named without its suffix; the authorizer
/// resolves such an ARN to the secret's own ([`arn_of_named`]) when the secret exists.
pub const UNRESOLVED_SUFFIX: &str = "-??????";

/// The secret an ARN names: a full ARN, a partial one (the name without the random
/// suffix, as clients may pass), or the `...:secret:<name>-??????` form [`authz_arn`]
/// builds for names.
fn secret_for_arn(tx: &dyn ReadTx, arn: &str) -> Result<Option<SecretHead>, ApiError> {
    let Some((region, account, res)) = parse_arn(arn) else {
        return Ok(None);
    };
    match res.strip_suffix(UNRESOLVED_SUFFIX) {
        Some(name) => get_secret_as(tx, account, region, name),
        None => by_arn(tx, (region, account, res), arn),
    }
}

/// The full ARN of the secret `arn` names when it differs from `arn` (module docs of the
/// authorizer: policies are matched against the real ARN).
pub fn arn_of_named(tx: &dyn ReadTx, arn: &str) -> Result<Option<String>, ApiError> {
    Ok(secret_for_arn(tx, arn)?
        .map(|s| s.arn)
        .filter(|real| real != arn))
}

/// Condition keys of the secret `arn` names: its tags (`aws:ResourceTag/*`,
/// `secretsmanager:ResourceTag/*`). Empty when there is no such secret.
pub fn secret_facts(tx: &dyn ReadTx, arn: &str) -> Result<Vec<(String, Vec<String>)>, ApiError> {
    Ok(secret_for_arn(tx, arn)?
        .map(|s| {
            crate::authz::resource_tags(
                Some("secretsmanager:ResourceTag"),
                s.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            )
        })
        .unwrap_or_default())
}

/// Indexes the IAM users and roles `s`'s resource policy names, in place of those of its
/// earlier policy `old` (`iam::principals`).
pub(crate) fn policy_references(
    tx: &mut dyn WriteTx,
    s: &SecretRecord,
    old: Option<&str>,
) -> Result<(), ApiError> {
    crate::iam::principals::update_references(
        tx,
        old,
        s.policy.as_deref(),
        &crate::iam::principals::Referrer::of_secret(s),
    )
}

/// Every secret with a resource policy that is not a replica's mirror (a one-time index
/// of existing policies).
pub(crate) fn all_policy_holders(tx: &dyn ReadTx) -> Result<Vec<SecretRecord>, ApiError> {
    let prefix = secrets_table().finish();
    let mut end = Vec::new();
    let rows = tx.scan(
        &palisade_store::Range::prefix(&prefix, &mut end),
        usize::MAX,
    )?;
    Ok(rows
        .iter()
        .filter_map(|(_, raw)| serde_json::from_slice::<SecretRecord>(raw).ok())
        .filter(|s| s.policy.is_some() && s.primary_region.is_none())
        .collect())
}

/// The resource policy of the secret `name` (a primary), for `iam::principals`.
pub(crate) fn stored_policy(
    tx: &dyn ReadTx,
    account: &str,
    region: &str,
    name: &str,
) -> Result<Option<String>, ApiError> {
    Ok(get_secret(tx, account, region, name)?.and_then(|s| s.policy))
}

/// Replaces the resource policy of the secret `name` and of its replicas, which mirror
/// it, without any other change (`iam::principals` rewriting a principal).
pub(crate) fn replace_stored_policy(
    tx: &mut dyn WriteTx,
    account: &str,
    region: &str,
    name: &str,
    doc: &str,
) -> Result<(), ApiError> {
    let Some(mut s) = get_secret(tx, account, region, name)? else {
        return Ok(());
    };
    s.policy = Some(doc.to_owned());
    put_secret(tx, &s)?;
    for r in &s.replicas {
        if let Some(mut replica) = get_secret(tx, account, &r.region, name)? {
            replica.policy = Some(doc.to_owned());
            put_secret(tx, &replica)?;
        }
    }
    Ok(())
}

/// The resource policy of the secret named by `arn` (any form [`secret_for_arn`] takes);
/// `None` when there is no such secret or it has no policy. For the authorizer
/// (`ResourcePolicyType` Standard).
pub fn secret_policy_for_arn(tx: &dyn ReadTx, arn: &str) -> Result<Option<String>, ApiError> {
    Ok(secret_for_arn(tx, arn)?.and_then(|s| s.policy))
}

// ---------------------------------------------------------------- values

/// What a caller needs on a secret's KMS key to store a value (AWS: "kms:GenerateDataKey
/// and kms:Decrypt permission to the key").
pub(crate) const ENCRYPT_ACTIONS: &[&str] = &["GenerateDataKey", "Decrypt"];

fn enc_context(arn: &str, version_id: &str) -> BTreeMap<String, String> {
    let mut c = BTreeMap::new();
    c.insert("SecretARN".to_owned(), arn.to_owned());
    c.insert("SecretVersionId".to_owned(), version_id.to_owned());
    c
}

/// A secret value as given: text or bytes.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretValue {
    String(String),
    Binary(Vec<u8>),
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretValue(<redacted>)")
    }
}

impl SecretValue {
    fn bytes(&self) -> &[u8] {
        match self {
            SecretValue::String(s) => s.as_bytes(),
            SecretValue::Binary(b) => b,
        }
    }
}

fn value_from(
    string: &Option<String>,
    binary: &Option<String>,
) -> Result<Option<SecretValue>, ApiError> {
    match (string, binary) {
        (Some(_), Some(_)) => Err(invalid_param(
            "You can't specify both a binary secret value and a string secret value in the same secret.",
        )),
        (Some(s), None) => {
            if s.is_empty() {
                return Err(too_short("secretString", 1));
            }
            if s.len() > MAX_VALUE {
                return Err(too_long("secretString", MAX_VALUE));
            }
            Ok(Some(SecretValue::String(s.clone())))
        }
        (None, Some(b)) => {
            let bytes = crate::model_checks::decode_blob(b, "SecretBinary")?;
            if bytes.is_empty() {
                return Err(too_short("secretBinary", 1));
            }
            if bytes.len() > MAX_VALUE {
                return Err(too_long("secretBinary", MAX_VALUE));
            }
            Ok(Some(SecretValue::Binary(bytes)))
        }
        (None, None) => Ok(None),
    }
}

fn read_value(
    tx: &dyn ReadTx,
    env: &Env,
    ctx: &RequestContext,
    caller: Caller,
    s: &SecretRecord,
    v: &VersionRecord,
) -> Result<SecretValue, ApiError> {
    let blob = tx
        .get(&value_key(&s.account, &s.region, &s.arn, &v.id))?
        .ok_or_else(|| ApiError::internal("secret version without value"))?;
    let context = enc_context(&s.arn, &v.id);
    let plain = match kms::decrypt_for(tx, env, ctx, caller, SERVICE, &blob, &context) {
        Ok(plain) => plain,
        // The version's earlier ciphertext, under the key it had before UpdateSecret
        // moved the secret, decrypts it too; when that fails as well, the error is the
        // current key's.
        Err(e) if !e.is_internal() && v.prior_kms_key_arn.is_some() => {
            let prior = tx.get(&prior_value_key(&s.account, &s.region, &s.arn, &v.id))?;
            match prior.map(|b| kms::decrypt_for(tx, env, ctx, caller, SERVICE, &b, &context)) {
                Some(Ok(plain)) => plain,
                Some(Err(p)) if p.is_internal() => return Err(p),
                _ => return Err(kms_failure(true)(e)),
            }
        }
        Err(e) => return Err(kms_failure(true)(e)),
    };
    if v.binary {
        Ok(SecretValue::Binary(plain))
    } else {
        String::from_utf8(plain)
            .map(SecretValue::String)
            .map_err(|_| ApiError::internal("secret string is not UTF-8"))
    }
}

/// KMS errors as Secrets Manager reports them.
fn kms_failure(decrypt: bool) -> impl Fn(ApiError) -> ApiError {
    move |e| {
        let (code, what) = if decrypt {
            ("DecryptionFailure", "decrypt")
        } else {
            ("EncryptionFailure", "encrypt")
        };
        match e.code.as_ref() {
            "AccessDeniedException" => err(
                "AccessDeniedException",
                format!("Access to KMS is not allowed. {}", e.message),
            ),
            "NotFoundException" if decrypt => err(
                code,
                format!("Secrets Manager can't decrypt the protected secret text using the provided KMS key. {}", e.message),
            ),
            "NotFoundException" => invalid_param(format!(
                "The operation failed because of an invalid KMS key: {}",
                e.message
            )),
            "DisabledException" | "KMSInvalidStateException" => err(
                code,
                format!("Secrets Manager can't {what} the protected secret text using the provided KMS key. {}", e.message),
            ),
            "InvalidCiphertextException" | "InvalidKeyUsageException" => err(
                code,
                format!("Secrets Manager can't {what} the protected secret text using the provided KMS key."),
            ),
            _ => e,
        }
    }
}

/// Encrypts and stores a new version; staging labels are applied by the caller.
#[allow(clippy::too_many_arguments)]
fn store_version(
    tx: &mut dyn WriteTx,
    env: &Env,
    ctx: &RequestContext,
    caller: Caller,
    s: &mut SecretRecord,
    version_id: &str,
    value: &SecretValue,
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    let (blob, key_arn) = kms::encrypt_for(
        tx,
        env,
        ctx,
        caller,
        s.kms_key_id.as_deref(),
        SERVICE,
        ENCRYPT_ACTIONS,
        value.bytes(),
        &enc_context(&s.arn, version_id),
    )
    .map_err(kms_failure(false))?;
    tx.put(&value_key(&s.account, &s.region, &s.arn, version_id), &blob)?;
    let binary = matches!(value, SecretValue::Binary(_));
    if let Some(v) = s
        .versions
        .iter_mut()
        .find(|v| v.id == version_id && v.empty)
    {
        v.kms_key_arn = key_arn;
        v.binary = binary;
        v.empty = false;
        return Ok(());
    }
    s.versions.push(VersionRecord {
        id: version_id.to_owned(),
        stages: Vec::new(),
        created: now,
        last_accessed: None,
        kms_key_arn: key_arn,
        prior_kms_key_arn: None,
        binary,
        empty: false,
    });
    Ok(())
}

/// Attaches `stage` to `version_id`, taking it off any other version; moving AWSCURRENT
/// makes the old current version AWSPREVIOUS, as AWS does.
fn attach_stage(s: &mut SecretRecord, stage: &str, version_id: &str) {
    let old_current = (stage == CURRENT)
        .then(|| s.version_with_stage(CURRENT).map(|v| v.id.clone()))
        .flatten()
        .filter(|id| id != version_id);
    for v in &mut s.versions {
        if v.id != version_id {
            v.stages.retain(|x| x != stage);
        } else if !v.stages.iter().any(|x| x == stage) {
            v.stages.push(stage.to_owned());
        }
    }
    if let Some(old) = old_current {
        for v in &mut s.versions {
            if v.id == old {
                v.stages.push(PREVIOUS.to_owned());
            } else {
                v.stages.retain(|x| x != PREVIOUS);
            }
        }
        // The new current version is never also AWSPREVIOUS.
    }
}

/// Drops unlabelled versions beyond the 100-version quota, oldest first, as AWS prunes
/// (never versions younger than 24 hours); fails when the quota is still exceeded.
fn prune(tx: &mut dyn WriteTx, s: &mut SecretRecord, now: OffsetDateTime) -> Result<(), ApiError> {
    while s.versions.len() > MAX_VERSIONS {
        let Some(i) = s
            .versions
            .iter()
            .position(|v| v.stages.is_empty() && v.created + time::Duration::days(1) <= now)
        else {
            return Err(err(
                "LimitExceededException",
                "You have exceeded the maximum number of versions (100) for this secret. Secrets Manager removes outdated versions after 24 hours.",
            ));
        };
        let v = s.versions.remove(i);
        tx.delete(&value_key(&s.account, &s.region, &s.arn, &v.id))?;
        if v.prior_kms_key_arn.is_some() {
            tx.delete(&prior_value_key(&s.account, &s.region, &s.arn, &v.id))?;
        }
    }
    Ok(())
}

fn check_token(token: &str) -> Result<(), ApiError> {
    check_len(token, "clientRequestToken", 32, 64)
}

fn new_version_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn check_stage(stage: &str, member: &str) -> Result<(), ApiError> {
    check_len(stage, member, 1, 256)
}

/// Adds a version with value `value` and `stages` (AWSCURRENT by default), honouring
/// ClientRequestToken idempotency: the same token with the same value is the same
/// version; with another value it is ResourceExistsException.
#[allow(clippy::too_many_arguments)]
fn add_version(
    tx: &mut dyn WriteTx,
    env: &Env,
    ctx: &RequestContext,
    caller: Caller,
    s: &mut SecretRecord,
    token: Option<&str>,
    value: &SecretValue,
    stages: &[String],
    now: OffsetDateTime,
) -> Result<String, ApiError> {
    let id = token.map_or_else(new_version_id, str::to_owned);
    if let Some(existing) = s.version(&id).cloned().filter(|v| !v.empty) {
        let old = read_value(tx, env, ctx, caller, s, &existing)?;
        if old == *value {
            return Ok(id);
        }
        return Err(err(
            "ResourceExistsException",
            "You can't modify an existing version, you can only create a new version.",
        ));
    }
    store_version(tx, env, ctx, caller, s, &id, value, now)?;
    for st in stages {
        attach_stage(s, st, &id);
    }
    s.last_changed = now;
    prune(tx, s, now)?;
    Ok(id)
}

// ---------------------------------------------------------------- passwords

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetRandomPasswordInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_length: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude_characters: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude_numbers: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude_punctuation: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude_uppercase: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude_lowercase: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_space: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_each_included_type: Option<bool>,
}

fn random_below(n: usize) -> Result<usize, ApiError> {
    // Rejection sampling keeps the choice uniform.
    let n32 = u32::try_from(n).map_err(ApiError::internal)?;
    if n32 == 0 {
        return Err(ApiError::internal("empty character set"));
    }
    let limit = u32::MAX - (u32::MAX % n32);
    loop {
        let mut b = [0u8; 4];
        palisade_store::seal::fill_random(&mut b)
            .map_err(|_| ApiError::internal("random source failed"))?;
        let x = u32::from_be_bytes(b);
        if x < limit {
            return usize::try_from(x % n32).map_err(ApiError::internal);
        }
    }
}

/// GetRandomPassword with AWS's defaults (32 characters, every type, each required).
pub fn random_password(i: &GetRandomPasswordInput) -> Result<String, ApiError> {
    let len = i.password_length.unwrap_or(32);
    if !(1..=4096).contains(&len) {
        return Err(err(
            "ValidationException",
            format!("1 validation error detected: Value '{len}' at 'passwordLength' failed to satisfy constraint: Member must have value {} than or equal to {}", if len < 1 { "greater" } else { "less" }, if len < 1 { 1 } else { 4096 }),
        ));
    }
    let exclude = i.exclude_characters.clone().unwrap_or_default();
    check_len(&exclude, "excludeCharacters", 0, 4096)?;
    let mut classes: Vec<Vec<char>> = Vec::new();
    let mut add = |skip: Option<bool>, set: &mut dyn Iterator<Item = char>| {
        if skip != Some(true) {
            let chars: Vec<char> = set.filter(|c| !exclude.contains(*c)).collect();
            if !chars.is_empty() {
                classes.push(chars);
            }
        }
    };
    add(i.exclude_lowercase, &mut ('a'..='z'));
    add(i.exclude_uppercase, &mut ('A'..='Z'));
    add(i.exclude_numbers, &mut ('0'..='9'));
    add(i.exclude_punctuation, &mut PUNCTUATION.chars());
    if i.include_space == Some(true) {
        add(None, &mut std::iter::once(' '));
    }
    if classes.is_empty() {
        return Err(invalid_param(
            "The password can't be generated because all character types are excluded.",
        ));
    }
    let len = usize::try_from(len).map_err(ApiError::internal)?;
    let require_each = i.require_each_included_type.unwrap_or(true);
    if require_each && len < classes.len() {
        return Err(invalid_param(
            "The password length is too short to include every required character type.",
        ));
    }
    let all: Vec<char> = classes.iter().flatten().copied().collect();
    loop {
        let mut out = String::with_capacity(len);
        for _ in 0..len {
            if let Some(c) = all.get(random_below(all.len())?) {
                out.push(*c);
            }
        }
        if !require_each
            || classes
                .iter()
                .all(|cl| out.chars().any(|c| cl.contains(&c)))
        {
            return Ok(out);
        }
    }
}

// ---------------------------------------------------------------- rotation schedules
//
// AWS rotates "at any time during a rotation window". Windows open on the hour: at
// midnight UTC for AutomaticallyAfterDays and rate(), at the expression's times for
// cron(). A window lasts Duration, or by default one hour for a schedule in hours and to
// the end of the UTC day for a schedule in days; it must not run into the next UTC day or
// the next window. Palisade rotates at the start of the window (`next_rotation` is the
// window's start), and DescribeSecret's NextRotationDate is the window's last second:
// "the latest date that rotation will occur".

/// One cron field's allowed values.
fn cron_field(spec: &str, min: u32, max: u32, names: &[&str]) -> Option<Vec<bool>> {
    let mut allowed = vec![false; usize::try_from(max + 1).ok()?];
    let value = |s: &str| -> Option<u32> {
        if let Ok(n) = s.parse::<u32>() {
            return (min..=max).contains(&n).then_some(n);
        }
        let up = s.to_ascii_uppercase();
        names
            .iter()
            .position(|n| *n == up)
            .and_then(|i| u32::try_from(i).ok())
            .map(|i| i + min)
    };
    for part in spec.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, s.parse::<u32>().ok().filter(|s| *s > 0)?),
            None => (part, 1),
        };
        let (lo, hi) = if range == "*" || range == "?" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a)?, value(b)?)
        } else {
            let v = value(range)?;
            (v, if part.contains('/') { max } else { v })
        };
        let mut x = lo;
        while x <= hi {
            *allowed.get_mut(usize::try_from(x).ok()?)? = true;
            // A step past the field's end ends the walk (`23/4294967295` is just 23).
            let Some(next) = x.checked_add(step) else {
                break;
            };
            x = next;
        }
    }
    Some(allowed)
}

fn allowed(f: &[bool], v: u32) -> bool {
    usize::try_from(v)
        .ok()
        .and_then(|i| f.get(i))
        .copied()
        .unwrap_or(false)
}

/// A day-of-month or day-of-week cron field.
#[derive(Debug, Clone, PartialEq, Eq)]
enum DaySpec {
    /// `*` or `?`.
    Any,
    Set(Vec<bool>),
    /// Day-of-month `L`: the month's last day.
    LastOfMonth,
    /// Day-of-week `D#N`: the month's Nth such weekday (1 = Sunday).
    Nth(u8, u8),
    /// Day-of-week `DL`: the month's last such weekday.
    LastWeekday(u8),
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// An AWS cron expression as Secrets Manager accepts it (`cron(0 H DOM MON DOW *)`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cron {
    hours: Vec<bool>,
    dom: DaySpec,
    months: Vec<bool>,
    dow: DaySpec,
}

fn weekday_value(s: &str) -> Option<u8> {
    if let Ok(n) = s.parse::<u8>() {
        return (1..=7).contains(&n).then_some(n);
    }
    let up = s.to_ascii_uppercase();
    WEEKDAYS
        .iter()
        .position(|d| *d == up)
        .and_then(|i| u8::try_from(i + 1).ok())
}

impl Cron {
    fn parse(inner: &str) -> Result<Cron, String> {
        let fields: Vec<&str> = inner.split_whitespace().collect();
        let [min, hour, dom, mon, dow, year] = fields.as_slice() else {
            return Err("A cron expression has six fields: cron(Minutes Hours Day-of-month Month Day-of-week Year).".into());
        };
        if *min != "0" {
            return Err("Rotation windows open on the hour: the minutes field of the cron expression must be 0.".into());
        }
        if *year != "*" {
            return Err("The year field of the cron expression must be *.".into());
        }
        if *dom != "?" && *dow != "?" {
            return Err(
                "One of the day-of-month and day-of-week fields of the cron expression must be ?."
                    .into(),
            );
        }
        let bad = |what: &str| format!("The {what} field of the cron expression is invalid.");
        let hours = cron_field(hour, 0, 23, &[]).ok_or_else(|| bad("hours"))?;
        let months = cron_field(mon, 1, 12, &MONTHS).ok_or_else(|| bad("month"))?;
        let dom = match *dom {
            "?" | "*" => DaySpec::Any,
            "L" => DaySpec::LastOfMonth,
            d => DaySpec::Set(cron_field(d, 1, 31, &[]).ok_or_else(|| bad("day-of-month"))?),
        };
        let dow = match *dow {
            "?" | "*" => DaySpec::Any,
            "L" => DaySpec::Set((0..=7).map(|d| d == 7).collect()),
            d if d.contains('#') => {
                let (day, n) = d.split_once('#').unwrap_or_default();
                let n = n.parse::<u8>().ok().filter(|n| (1..=5).contains(n));
                match (weekday_value(day), n) {
                    (Some(day), Some(n)) => DaySpec::Nth(day, n),
                    _ => return Err(bad("day-of-week")),
                }
            }
            d if d.len() > 1 && d.ends_with('L') => DaySpec::LastWeekday(
                weekday_value(d.trim_end_matches('L')).ok_or_else(|| bad("day-of-week"))?,
            ),
            d => DaySpec::Set(cron_field(d, 1, 7, &WEEKDAYS).ok_or_else(|| bad("day-of-week"))?),
        };
        let cron = Cron {
            hours,
            dom,
            months,
            dow,
        };
        let hours = cron.hour_list();
        if hours.is_empty() {
            return Err(bad("hours"));
        }
        if hours.windows(2).any(|w| matches!(w, [a, b] if b - a < 4)) {
            return Err("You can rotate a secret at most every four hours: the cron expression's hours must be at least four apart.".into());
        }
        if cron.next_after(OffsetDateTime::UNIX_EPOCH).is_none() {
            return Err("The cron expression never matches.".into());
        }
        Ok(cron)
    }

    fn hour_list(&self) -> Vec<u8> {
        (0..24u8)
            .filter(|h| allowed(&self.hours, u32::from(*h)))
            .collect()
    }

    fn day_matches(&self, day: time::Date) -> bool {
        let last = day.month().length(day.year());
        let dom_ok = match &self.dom {
            DaySpec::Any => true,
            DaySpec::Set(f) => allowed(f, u32::from(day.day())),
            DaySpec::LastOfMonth => day.day() == last,
            _ => false,
        };
        let wd = day.weekday().number_from_sunday();
        let dow_ok = match &self.dow {
            DaySpec::Any => true,
            DaySpec::Set(f) => allowed(f, u32::from(wd)),
            DaySpec::Nth(d, n) => wd == *d && (day.day() - 1) / 7 + 1 == *n,
            DaySpec::LastWeekday(d) => wd == *d && day.day() + 7 > last,
            DaySpec::LastOfMonth => false,
        };
        allowed(&self.months, u32::from(u8::from(day.month()))) && dom_ok && dow_ok
    }

    /// The first window start strictly after `after`, searched day by day for five years.
    fn next_after(&self, after: OffsetDateTime) -> Option<OffsetDateTime> {
        let hours = self.hour_list();
        let mut day = after.date();
        for _ in 0..(366 * 5) {
            if self.day_matches(day) {
                for h in &hours {
                    let t = day.with_hms(*h, 0, 0).ok()?.assume_utc();
                    if t > after {
                        return Some(t);
                    }
                }
            }
            day = day.next_day()?;
        }
        None
    }
}

/// A rotation schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Schedule {
    /// Every N days, windows opening at midnight UTC (AutomaticallyAfterDays, rate()).
    Days(i64),
    /// Every N hours (4 to 23): windows opening at midnight UTC and every N hours after,
    /// each day.
    Hours(i64),
    Cron(Cron),
}

impl Schedule {
    fn of(r: &RotationRules) -> Result<Schedule, String> {
        if let Some(d) = r.automatically_after_days {
            return Ok(Schedule::Days(d));
        }
        let e = r.schedule_expression.as_deref().unwrap_or_default();
        if let Some(inner) = e.strip_prefix("rate(").and_then(|x| x.strip_suffix(')')) {
            let bad = || {
                "The rate expression is invalid: use rate(N hours) with N from 4 to 23, or rate(N days) with N from 1 to 999.".to_owned()
            };
            let (n, unit) = inner.trim().split_once(' ').ok_or_else(bad)?;
            let n: i64 = n.parse().map_err(|_| bad())?;
            return match unit.trim() {
                "day" | "days" if (1..=999).contains(&n) => Ok(Schedule::Days(n)),
                "hour" | "hours" if (4..=23).contains(&n) => Ok(Schedule::Hours(n)),
                _ => Err(bad()),
            };
        }
        if let Some(inner) = e.strip_prefix("cron(").and_then(|x| x.strip_suffix(')')) {
            return Cron::parse(inner).map(Schedule::Cron);
        }
        Err("The schedule expression is invalid: use rate(N hours|days) or cron(0 H DOM MON DOW *).".into())
    }

    /// Window start hours within a day, for a schedule in hours; `None` for one in days.
    fn hourly_starts(&self) -> Option<Vec<u8>> {
        match self {
            Schedule::Days(_) => None,
            Schedule::Hours(n) => Some(
                (0..24u8)
                    .step_by(usize::try_from(*n).unwrap_or(24))
                    .collect(),
            ),
            Schedule::Cron(c) => Some(c.hour_list()).filter(|h| h.len() > 1),
        }
    }

    /// The first window start strictly after `from` (a rotation, or the configuration).
    fn next_window(&self, from: OffsetDateTime) -> Option<OffsetDateTime> {
        match self {
            Schedule::Days(n) => Some(day_of(from) + time::Duration::days(*n)),
            Schedule::Hours(_) => {
                let starts = self.hourly_starts()?;
                let mut day = day_of(from);
                for _ in 0..2 {
                    for h in &starts {
                        let t = day + time::Duration::hours(i64::from(*h));
                        if t > from {
                            return Some(t);
                        }
                    }
                    day += time::Duration::days(1);
                }
                None
            }
            Schedule::Cron(c) => c.next_after(from),
        }
    }

    /// How long the window opening at `start` lasts.
    fn window(&self, duration: Option<i64>, start: OffsetDateTime) -> time::Duration {
        match (duration, self.hourly_starts()) {
            (Some(h), _) => time::Duration::hours(h),
            (None, Some(_)) => time::Duration::hours(1),
            (None, None) => time::Duration::hours(24 - i64::from(start.hour())),
        }
    }
}

/// Validates rotation rules as AWS does.
fn check_rules(r: &RotationRules) -> Result<(), ApiError> {
    if let Some(d) = r.automatically_after_days {
        if !(1..=1000).contains(&d) {
            return Err(err(
                "ValidationException",
                format!("1 validation error detected: Value '{d}' at 'rotationRules.automaticallyAfterDays' failed to satisfy constraint: Member must have value {} than or equal to {}", if d < 1 { "greater" } else { "less" }, if d < 1 { 1 } else { 1000 }),
            ));
        }
    }
    if let Some(e) = &r.schedule_expression {
        check_len(e, "rotationRules.scheduleExpression", 1, 256)?;
        if !e
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"()#?*-/, ".contains(&b))
        {
            return Err(err(
                "ValidationException",
                format!("1 validation error detected: Value '{e}' at 'rotationRules.scheduleExpression' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9A-Za-z\\(\\)#\\?\\*\\-\\/, ]+"),
            ));
        }
    }
    let duration = match &r.duration {
        None => None,
        Some(d) => {
            check_len(d, "rotationRules.duration", 2, 3)?;
            let Some(h) = d
                .strip_suffix('h')
                .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
            else {
                return Err(err(
                    "ValidationException",
                    format!("1 validation error detected: Value '{d}' at 'rotationRules.duration' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9h]+"),
                ));
            };
            match h.parse::<i64>() {
                Ok(h) if (1..=24).contains(&h) => Some(h),
                _ => {
                    return Err(invalid_param(
                        "The rotation window Duration must be between 1h and 24h.",
                    ))
                }
            }
        }
    };
    if r.automatically_after_days.is_some() && r.schedule_expression.is_some() {
        return Err(invalid_param(
            "You can't specify both AutomaticallyAfterDays and ScheduleExpression.",
        ));
    }
    if r.automatically_after_days.is_none() && r.schedule_expression.is_none() {
        return Err(invalid_param(
            "You must specify either AutomaticallyAfterDays or ScheduleExpression.",
        ));
    }
    let schedule = Schedule::of(r).map_err(invalid_param)?;
    let Some(d) = duration else {
        return Ok(());
    };
    // The window must end by midnight UTC and before the next window opens.
    match schedule.hourly_starts() {
        Some(starts) => {
            let mut ends = starts
                .iter()
                .skip(1)
                .map(|h| i64::from(*h))
                .collect::<Vec<_>>();
            ends.push(24);
            for (s, next) in starts.iter().zip(ends) {
                if i64::from(*s) + d > next {
                    return Err(invalid_param(format!(
                        "The rotation window ({d}h) must not extend into the next rotation window or the next UTC day: the window opening at {s:02}:00 can last at most {}h.",
                        next - i64::from(*s)
                    )));
                }
            }
        }
        None => {
            let start = match &schedule {
                Schedule::Cron(c) => c.hour_list().first().copied().map_or(0, i64::from),
                _ => 0,
            };
            if start + d > 24 {
                return Err(invalid_param(format!(
                    "The rotation window ({d}h) must not extend into the next UTC day: a window opening at {start:02}:00 can last at most {}h.",
                    24 - start
                )));
            }
        }
    }
    Ok(())
}

/// The start of the next rotation window after a rotation (or the configuration) at
/// `from`: when Palisade rotates.
fn next_rotation(r: &RotationRules, from: OffsetDateTime) -> Option<OffsetDateTime> {
    Schedule::of(r).ok()?.next_window(from)
}

/// DescribeSecret's NextRotationDate for the window opening at `start`: its last second.
fn window_end(r: &RotationRules, start: OffsetDateTime) -> OffsetDateTime {
    let duration = r
        .duration
        .as_deref()
        .and_then(|d| d.strip_suffix('h')?.parse::<i64>().ok());
    match Schedule::of(r) {
        Ok(s) => start + s.window(duration, start) - time::Duration::seconds(1),
        Err(_) => start,
    }
}

// ---------------------------------------------------------------- rotation

/// AWSPENDING on a version other than AWSCURRENT's: AWS takes that for a rotation still
/// in progress.
fn rotation_in_progress(s: &SecretRecord) -> bool {
    s.version_with_stage(PENDING)
        .is_some_and(|v| !v.stages.iter().any(|x| x == CURRENT))
}

/// The function name of a Lambda ARN (`arn:aws:lambda:REGION:ACCOUNT:function:NAME`,
/// optionally with a `:QUALIFIER`).
fn function_name(lambda_arn: &str) -> Option<&str> {
    let name = lambda_arn
        .strip_prefix("arn:aws:lambda:")?
        .splitn(3, ':')
        .nth(2)?
        .strip_prefix("function:")?;
    name.split(':').next().filter(|n| !n.is_empty())
}

/// The built-in rotators' names (after [`ROTATOR_PREFIX`]), as CONTRACT.md lists them.
const BUILT_IN_ROTATORS: [&str; 2] = ["random-password", "iam-access-key"];

/// Whether Secrets Manager could invoke the rotation function `lambda_arn`: a built-in
/// rotator or a registered hook. AWS invokes the function when rotation is configured
/// (its createSecret step, or testSecret when not rotating immediately), so a function
/// it cannot invoke fails RotateSecret and changes nothing.
fn can_invoke(tx: &dyn ReadTx, lambda_arn: &str) -> Result<bool, ApiError> {
    if let Some(name) = rotator(lambda_arn) {
        return Ok(BUILT_IN_ROTATORS.contains(&name));
    }
    match function_name(lambda_arn) {
        Some(name) => Ok(hooks::get(tx, name)?.is_some()),
        None => Ok(false),
    }
}

/// A built-in rotator, by its reserved function name.
fn rotator(lambda_arn: &str) -> Option<&str> {
    function_name(lambda_arn)?.strip_prefix(ROTATOR_PREFIX)
}

/// The registered external hook ([`hooks`]) the secret's rotation function names, if any.
fn hook_for(tx: &dyn ReadTx, s: &SecretRecord) -> Result<Option<hooks::HookRecord>, ApiError> {
    match s.rotation_lambda_arn.as_deref().and_then(function_name) {
        Some(name) if !name.starts_with(ROTATOR_PREFIX) => hooks::get(tx, name),
        _ => Ok(None),
    }
}

/// Starts a rotation through the external hook `hook`, as AWS starts a Lambda rotation:
/// an empty version `token` labelled AWSPENDING (for the function's createSecret to fill),
/// the run state and its dispatcher index entry, and the RotationStarted event. The steps
/// run later, outside this job ([`hooks`]). A `token` that already has AWSPENDING is a
/// reattempt of that unfinished rotation. `s` is updated; the caller stores it.
fn start_hook_run(
    tx: &mut dyn WriteTx,
    s: &mut SecretRecord,
    hook: &str,
    token: Option<&str>,
    now: OffsetDateTime,
) -> Result<String, ApiError> {
    let id = token.map_or_else(new_version_id, str::to_owned);
    match s.version(&id) {
        Some(v) if v.stages.iter().any(|x| x == PENDING) => {}
        Some(_) => return Err(err(
            "ResourceExistsException",
            "A version with this ClientRequestToken already exists; a rotation needs a new one.",
        )),
        None => {
            s.versions.push(VersionRecord {
                id: id.clone(),
                stages: Vec::new(),
                created: now,
                last_accessed: None,
                kms_key_arn: String::new(),
                prior_kms_key_arn: None,
                binary: false,
                empty: true,
            });
            attach_stage(s, PENDING, &id);
            prune(tx, s, now)?;
        }
    }
    let run = HookRun {
        token: id.clone(),
        rotation_token: uuid::Uuid::new_v4().to_string(),
        hook: hook.to_owned(),
        started: now,
    };
    hooks::put_run(
        tx,
        &RunJob {
            account: s.account.clone(),
            region: s.region.clone(),
            name: s.name.clone(),
            arn: s.arn.clone(),
            token: id.clone(),
            rotation_token: Some(run.rotation_token.clone()),
            hook: hook.to_owned(),
        },
    )?;
    s.hook_run = Some(run);
    record_service_event(tx, s, "RotationStarted", now, json!({"SecretId": s.arn}))?;
    hooks::kick();
    Ok(id)
}

/// Records the outcome of a hook run (in a write job, after the hook's four steps). The
/// rotation succeeded only if the hook's finishSecret moved AWSCURRENT to the run's
/// version, as AWS requires; then AWSPENDING leaves that version. On failure AWSCURRENT
/// is untouched and AWSPENDING stays where the hook left it (on the new, possibly
/// empty, version), as on AWS: DescribeSecret shows it and the next RotateSecret answers
/// that a previous rotation isn't complete, until AWSPENDING is removed or the next
/// scheduled rotation reattempts it. A run that is no longer the secret's (cancelled,
/// deleted, reset) records nothing.
pub(crate) fn finish_hook_run(
    tx: &mut dyn WriteTx,
    env: &Env,
    job: &RunJob,
    outcome: Result<(), String>,
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    let Some(mut s) = get_secret(tx, &job.account, &job.region, &job.name)? else {
        return Ok(());
    };
    if s.arn != job.arn || s.hook_run.as_ref().is_none_or(|r| r.token != job.token) {
        return Ok(());
    }
    s.hook_run = None;
    hooks::delete_run(tx, &s.account, &s.region, &s.name)?;
    let outcome = outcome.and_then(|()| match s.version(&job.token) {
        Some(v) if !v.empty && v.stages.iter().any(|x| x == CURRENT) => Ok(()),
        _ => Err(format!(
            "The rotation hook {} finished without moving AWSCURRENT to version {} (finishSecret must do that).",
            job.hook, job.token
        )),
    });
    match outcome {
        Ok(()) => {
            for v in s.versions.iter_mut().filter(|v| v.id == job.token) {
                v.stages.retain(|x| x != PENDING);
            }
            s.last_rotated = Some(now);
            s.last_rotation_failure = None;
            save(tx, env, &service_ctx(&s, now), Caller::Service, &mut s, &[])?;
            record_service_event(
                tx,
                &s,
                "RotationSucceeded",
                now,
                json!({"SecretId": s.arn, "VersionId": job.token}),
            )
        }
        Err(reason) => {
            s.last_rotation_failure = Some(reason.clone());
            save(tx, env, &service_ctx(&s, now), Caller::Service, &mut s, &[])?;
            record_service_event(
                tx,
                &s,
                "RotationFailed",
                now,
                json!({"SecretId": s.arn, "FailureReason": reason}),
            )
        }
    }
}

/// The principal a rotation acts as: the secret's account (root), as the service would.
fn service_ctx(s: &SecretRecord, now: OffsetDateTime) -> RequestContext {
    let mut p = Principal::root(&s.account, "");
    p.principal_id = "secretsmanager.amazonaws.com".into();
    RequestContext {
        request_id: uuid::Uuid::new_v4().to_string(),
        principal: p,
        region: s.region.clone(),
        source_ip: "secretsmanager.amazonaws.com".into(),
        user_agent: "secretsmanager.amazonaws.com".into(),
        now,
        secure_transport: true,
        invoked: Default::default(),
    }
}

/// Runs one IAM access-key action as the secret's account.
fn iam_call(
    tx: &mut dyn WriteTx,
    env: &Env,
    ctx: &RequestContext,
    action: &str,
    body: Value,
) -> Result<Value, String> {
    let raw = body.to_string();
    let op = crate::iam::access_keys::decode(action, &Input::Json(raw.as_bytes()))
        .ok_or_else(|| format!("iam:{action} unavailable"))?
        .map_err(|e| e.message)?;
    let reply = op
        .write(tx, env, ctx)
        .map_err(|e| format!("iam:{action}: {}", e.message))?;
    match reply.output {
        Some(out) => serde_json::to_value(&*out).map_err(|e| e.to_string()),
        None => Ok(Value::Null),
    }
}

/// The createSecret step: the AWSPENDING value. Returns it and, for the IAM rotator, the
/// old access key id to deactivate at finishSecret.
fn create_pending(
    tx: &mut dyn WriteTx,
    env: &Env,
    ctx: &RequestContext,
    strategy: &str,
    current: Option<SecretValue>,
) -> Result<(SecretValue, Option<(String, String)>), String> {
    match strategy {
        "random-password" => {
            let password =
                random_password(&GetRandomPasswordInput::default()).map_err(|e| e.message)?;
            match current {
                Some(SecretValue::Binary(_)) => {
                    Err("The random-password rotator rotates string secrets only.".into())
                }
                Some(SecretValue::String(s)) => match serde_json::from_str::<Value>(&s) {
                    Ok(Value::Object(mut o)) => {
                        o.insert("password".into(), Value::String(password));
                        Ok((SecretValue::String(Value::Object(o).to_string()), None))
                    }
                    _ => Ok((SecretValue::String(password), None)),
                },
                None => Ok((SecretValue::String(password), None)),
            }
        }
        "iam-access-key" => {
            let Some(SecretValue::String(s)) = current else {
                return Err("The iam-access-key rotator needs a JSON string secret with UserName, AccessKeyId and SecretAccessKey.".into());
            };
            let mut o = match serde_json::from_str::<Value>(&s) {
                Ok(Value::Object(o)) => o,
                _ => return Err("The secret is not a JSON object with UserName, AccessKeyId and SecretAccessKey.".into()),
            };
            let user = o
                .get("UserName")
                .and_then(Value::as_str)
                .ok_or("The secret has no UserName.")?
                .to_owned();
            let old = o
                .get("AccessKeyId")
                .and_then(Value::as_str)
                .ok_or("The secret has no AccessKeyId.")?
                .to_owned();
            // Make room (2 keys per user): inactive keys other than the current one go,
            // as AWS's IAM key rotation template deletes the key it retired.
            let keys = crate::iam::access_keys::user_keys(tx, &ctx.principal.account_id, &user)
                .map_err(|e| e.message)?;
            for k in keys {
                if k.access_key_id != old && k.status == "Inactive" {
                    iam_call(
                        tx,
                        env,
                        ctx,
                        "DeleteAccessKey",
                        json!({"UserName": user, "AccessKeyId": k.access_key_id}),
                    )?;
                }
            }
            let created = iam_call(tx, env, ctx, "CreateAccessKey", json!({"UserName": user}))?;
            let akid = created
                .pointer("/AccessKey/AccessKeyId")
                .and_then(Value::as_str)
                .ok_or("CreateAccessKey returned no key")?;
            let secret = created
                .pointer("/AccessKey/SecretAccessKey")
                .and_then(Value::as_str)
                .ok_or("CreateAccessKey returned no secret")?;
            o.insert("AccessKeyId".into(), akid.into());
            o.insert("SecretAccessKey".into(), secret.into());
            Ok((
                SecretValue::String(Value::Object(o).to_string()),
                Some((user, old)),
            ))
        }
        other => Err(format!(
            "Unknown built-in rotator {ROTATOR_PREFIX}{other}; built-in rotators are {}.",
            BUILT_IN_ROTATORS.join(" and ")
        )),
    }
}

/// Rotates `s` now through createSecret -> setSecret -> testSecret -> finishSecret.
/// Everything it writes is undone on failure (the caller runs it in a savepoint), so
/// AWSCURRENT stays as it was. Returns the new version id.
fn rotate_now(
    tx: &mut dyn WriteTx,
    env: &Env,
    s: &mut SecretRecord,
    token: Option<&str>,
    now: OffsetDateTime,
) -> Result<String, String> {
    let ctx = service_ctx(s, now);
    let lambda = s
        .rotation_lambda_arn
        .clone()
        .ok_or("No Lambda rotation function ARN is associated with this secret.")?;
    let Some(strategy) = rotator(&lambda) else {
        return Err(format!(
            "Palisade runs no Lambda functions: {lambda} cannot be invoked. Use a built-in rotator ({ROTATOR_PREFIX}random-password or {ROTATOR_PREFIX}iam-access-key) or register a rotation hook with that function name."
        ));
    };
    if rotation_in_progress(s) {
        return Err("A previous rotation isn't complete: AWSPENDING is attached to a version other than AWSCURRENT's.".into());
    }
    // createSecret
    let current = match s.version_with_stage(CURRENT).cloned() {
        Some(v) => Some(read_value(tx, env, &ctx, Caller::Service, s, &v).map_err(|e| e.message)?),
        None => None,
    };
    let (pending, old_key) = create_pending(tx, env, &ctx, strategy, current)?;
    let id = add_version(
        tx,
        env,
        &ctx,
        Caller::Service,
        s,
        token,
        &pending,
        &[PENDING.to_owned()],
        now,
    )
    .map_err(|e| e.message)?;
    // setSecret: built-in rotators own the credential they generate; nothing to push.
    // testSecret: the pending value must read back as written.
    let v = s.version(&id).cloned().ok_or("pending version vanished")?;
    let readback = read_value(tx, env, &ctx, Caller::Service, s, &v).map_err(|e| e.message)?;
    if readback != pending {
        return Err("testSecret: the pending value does not read back.".into());
    }
    // finishSecret
    attach_stage(s, CURRENT, &id);
    for v in &mut s.versions {
        v.stages.retain(|x| x != PENDING);
    }
    if let Some((user, old)) = old_key {
        iam_call(
            tx,
            env,
            &ctx,
            "UpdateAccessKey",
            json!({"UserName": user, "AccessKeyId": old, "Status": "Inactive"}),
        )?;
    }
    s.last_rotated = Some(now);
    s.last_changed = now;
    s.last_rotation_failure = None;
    Ok(id)
}

/// Writes a Secrets Manager service event (RotationStarted / RotationSucceeded /
/// RotationFailed) into the secret's account's event history, as AWS logs them
/// (`eventType` AwsServiceEvent, `userIdentity.invokedBy` secretsmanager.amazonaws.com).
fn record_service_event(
    tx: &mut dyn WriteTx,
    s: &SecretRecord,
    name: &str,
    now: OffsetDateTime,
    detail: Value,
) -> Result<(), ApiError> {
    let mut details = serde_json::Map::new();
    details.insert("additionalEventData".into(), detail);
    details.insert("requestID".into(), uuid::Uuid::new_v4().to_string().into());
    crate::audit::record_service_event(
        tx,
        crate::audit::ServiceEvent {
            account: &s.account,
            region: &s.region,
            time: now,
            event_version: "1.09",
            event_name: name,
            event_source: "secretsmanager.amazonaws.com",
            invoked_by: "secretsmanager.amazonaws.com",
            resources: &[("AWS::SecretsManager::Secret".to_owned(), s.arn.clone())],
            details,
        },
    )?;
    Ok(())
}

/// Rotates in a savepoint and records the outcome; the record `s` is updated either way
/// (failure: AWSCURRENT untouched, failure noted).
fn rotate_recorded(
    tx: &mut dyn WriteTx,
    env: &Env,
    s: &mut SecretRecord,
    token: Option<&str>,
    now: OffsetDateTime,
) -> Result<Result<String, String>, ApiError> {
    record_service_event(tx, s, "RotationStarted", now, json!({"SecretId": s.arn}))?;
    let before = s.clone();
    let mut outcome = Err(String::new());
    let mut working = s.clone();
    tx.nested(&mut |tx| {
        outcome = rotate_now(tx, env, &mut working, token, now);
        if outcome.is_ok() {
            outcome = put_secret(tx, &working)
                .map(|()| String::new())
                .map_err(|e| e.message)
                .and(outcome.clone());
        }
        outcome.is_ok()
    })?;
    match &outcome {
        Ok(id) => {
            *s = working;
            record_service_event(
                tx,
                s,
                "RotationSucceeded",
                now,
                json!({"SecretId": s.arn, "VersionId": id}),
            )?;
        }
        Err(reason) => {
            *s = before;
            s.last_rotation_failure = Some(reason.clone());
            put_secret(tx, s)?;
            record_service_event(
                tx,
                s,
                "RotationFailed",
                now,
                json!({"SecretId": s.arn, "FailureReason": reason}),
            )?;
        }
    }
    Ok(outcome)
}

/// Whether [`run_due_rotations`] has anything to do at `now` (a rotation due, or a
/// deleted secret past its window): a snapshot read, so the scheduler only queues a
/// write job when needed.
pub fn work_due(tx: &dyn ReadTx, now: OffsetDateTime) -> Result<bool, ApiError> {
    DUE.any_due(tx, now)
}

/// Rotates every secret whose rotation is due at `now` (all accounts and regions), and
/// removes secrets past their deletion window. Returns how many rotations ran. Called
/// by the server's scheduler in a store write job after every business-clock change and
/// about every second.
pub fn run_due_rotations(
    tx: &mut dyn WriteTx,
    env: &Env,
    now: OffsetDateTime,
) -> Result<usize, ApiError> {
    let mut ran = 0;
    for (account, region, name) in DUE.take_due(tx, now)? {
        let Some(mut s) = get_secret(tx, &account, &region, &name)? else {
            // An entry without its secret (never left by a write): drop it.
            DUE.file(tx, (&account, &region, &name), None)?;
            continue;
        };
        if s.gone(now) {
            purge(tx, &s)?;
            continue;
        }
        let due = due_at(&s);
        if due.is_none_or(|t| t > now) {
            // Filed under a time that is not its own (never left by a write): refile.
            DUE.file(tx, (&account, &region, &name), due)?;
            continue;
        }
        if s.hook_run.is_some() {
            // A hook rotation still running when the next window opens: that window is
            // skipped.
        } else if let Some(hook) = hook_for(tx, &s)? {
            // An unfinished rotation (AWSPENDING on a version other than AWSCURRENT's) is
            // reattempted with its token, as AWS reattempts it.
            let token = s
                .version_with_stage(PENDING)
                .filter(|v| !v.stages.iter().any(|x| x == CURRENT))
                .map(|v| v.id.clone());
            let mut working = s.clone();
            match start_hook_run(tx, &mut working, &hook.name, token.as_deref(), now) {
                Ok(_) => s = working,
                Err(e) => {
                    s.last_rotation_failure = Some(e.message.clone());
                    record_service_event(
                        tx,
                        &s,
                        "RotationFailed",
                        now,
                        json!({"SecretId": s.arn, "FailureReason": e.message}),
                    )?;
                }
            }
        } else {
            let _ = rotate_recorded(tx, env, &mut s, None, now)?;
        }
        // The next rotation follows the schedule whether this one worked or not (AWS does
        // not retry a failed scheduled rotation before the next window).
        s.next_rotation = s
            .rotation_rules
            .as_ref()
            .and_then(|r| next_rotation(r, now));
        save(tx, env, &service_ctx(&s, now), Caller::Service, &mut s, &[])?;
        ran += 1;
    }
    Ok(ran)
}

// ---------------------------------------------------------------- inputs

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    pub value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateSecretInput {
    pub name: String,
    pub client_request_token: Option<String>,
    pub description: Option<String>,
    pub kms_key_id: Option<String>,
    pub secret_binary: Option<String>,
    pub secret_string: Option<String>,
    pub tags: Option<Vec<Tag>>,
    pub add_replica_regions: Option<Vec<replication::ReplicaRegion>>,
    pub force_overwrite_replica_secret: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecretIdInput {
    pub secret_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetSecretValueInput {
    pub secret_id: String,
    pub version_id: Option<String>,
    pub version_stage: Option<String>,
}

#[derive(Deserialize, Serialize, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct Filter {
    pub key: Option<String>,
    pub values: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchGetSecretValueInput {
    pub secret_id_list: Option<Vec<String>>,
    pub filters: Option<Vec<Filter>>,
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutSecretValueInput {
    pub secret_id: String,
    pub client_request_token: Option<String>,
    pub secret_binary: Option<String>,
    pub secret_string: Option<String>,
    pub version_stages: Option<Vec<String>>,
    pub rotation_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateSecretInput {
    pub secret_id: String,
    pub client_request_token: Option<String>,
    pub description: Option<String>,
    pub kms_key_id: Option<String>,
    pub secret_binary: Option<String>,
    pub secret_string: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListSecretsInput {
    pub include_planned_deletion: Option<bool>,
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
    pub filters: Option<Vec<Filter>>,
    pub sort_order: Option<String>,
    pub sort_by: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListSecretVersionIdsInput {
    pub secret_id: String,
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
    pub include_deprecated: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateSecretVersionStageInput {
    pub secret_id: String,
    pub version_stage: String,
    pub remove_from_version_id: Option<String>,
    pub move_to_version_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteSecretInput {
    pub secret_id: String,
    pub recovery_window_in_days: Option<i64>,
    pub force_delete_without_recovery: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagResourceInput {
    pub secret_id: String,
    pub tags: Vec<Tag>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagResourceInput {
    pub secret_id: String,
    pub tag_keys: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutResourcePolicyInput {
    pub secret_id: String,
    pub resource_policy: String,
    pub block_public_policy: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ValidateResourcePolicyInput {
    pub secret_id: Option<String>,
    pub resource_policy: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RotateSecretInput {
    pub secret_id: String,
    pub client_request_token: Option<String>,
    #[serde(rename = "RotationLambdaARN")]
    pub rotation_lambda_arn: Option<String>,
    pub rotation_rules: Option<RotationRules>,
    pub rotate_immediately: Option<bool>,
}

/// The Secrets Manager actions Palisade implements.
pub enum Operation {
    CreateSecret(CreateSecretInput),
    GetSecretValue(GetSecretValueInput),
    BatchGetSecretValue(BatchGetSecretValueInput),
    PutSecretValue(PutSecretValueInput),
    UpdateSecret(UpdateSecretInput),
    DescribeSecret(SecretIdInput),
    ListSecrets(ListSecretsInput),
    ListSecretVersionIds(ListSecretVersionIdsInput),
    UpdateSecretVersionStage(UpdateSecretVersionStageInput),
    DeleteSecret(DeleteSecretInput),
    RestoreSecret(SecretIdInput),
    GetRandomPassword(GetRandomPasswordInput),
    TagResource(TagResourceInput),
    UntagResource(UntagResourceInput),
    PutResourcePolicy(PutResourcePolicyInput),
    GetResourcePolicy(SecretIdInput),
    DeleteResourcePolicy(SecretIdInput),
    ValidateResourcePolicy(ValidateResourcePolicyInput),
    RotateSecret(RotateSecretInput),
    CancelRotateSecret(SecretIdInput),
    ReplicateSecretToRegions(replication::ReplicateSecretToRegionsInput),
    RemoveRegionsFromReplication(replication::RemoveRegionsFromReplicationInput),
    StopReplicationToReplica(SecretIdInput),
}

pub fn decode(
    action: &str,
    input: &Input<'_>,
) -> Option<Result<Box<dyn crate::Operation>, ApiError>> {
    use Operation as O;
    let op = match action {
        "CreateSecret" => input.parse().map(O::CreateSecret),
        "GetSecretValue" => input.parse().map(O::GetSecretValue),
        "BatchGetSecretValue" => input.parse().map(O::BatchGetSecretValue),
        "PutSecretValue" => input.parse().map(O::PutSecretValue),
        "UpdateSecret" => input.parse().map(O::UpdateSecret),
        "DescribeSecret" => input.parse().map(O::DescribeSecret),
        "ListSecrets" => input.parse().map(O::ListSecrets),
        "ListSecretVersionIds" => input.parse().map(O::ListSecretVersionIds),
        "UpdateSecretVersionStage" => input.parse().map(O::UpdateSecretVersionStage),
        "DeleteSecret" => input.parse().map(O::DeleteSecret),
        "RestoreSecret" => input.parse().map(O::RestoreSecret),
        "GetRandomPassword" => input.parse().map(O::GetRandomPassword),
        "TagResource" => input.parse().map(O::TagResource),
        // TagKeyType: 1..=128 characters, no pattern (TagResource checks the same).
        "UntagResource" => input.parse::<UntagResourceInput>().and_then(|i| {
            match crate::input::untag_keys_violation(&i.tag_keys, None) {
                Some(message) => Err(ApiError::new("ValidationException", 400, message)),
                None => Ok(O::UntagResource(i)),
            }
        }),
        "PutResourcePolicy" => input.parse().map(O::PutResourcePolicy),
        "GetResourcePolicy" => input.parse().map(O::GetResourcePolicy),
        "DeleteResourcePolicy" => input.parse().map(O::DeleteResourcePolicy),
        "ValidateResourcePolicy" => input.parse().map(O::ValidateResourcePolicy),
        "RotateSecret" => input.parse().map(O::RotateSecret),
        "CancelRotateSecret" => input.parse().map(O::CancelRotateSecret),
        "ReplicateSecretToRegions" => input.parse().map(O::ReplicateSecretToRegions),
        "RemoveRegionsFromReplication" => input.parse().map(O::RemoveRegionsFromReplication),
        "StopReplicationToReplica" => input.parse().map(O::StopReplicationToReplica),
        _ => return None,
    };
    Some(op.map(|op| Box::new(op) as Box<dyn crate::Operation>))
}

// ---------------------------------------------------------------- authorization

/// The ARN authorization names for a `SecretId`: the ARN as given, or for a name the
/// ARN with AWS's `-??????` wildcard suffix.
pub fn authz_arn(ctx: &RequestContext, id: &str) -> (String, String) {
    if let Some((_, account, _)) = parse_arn(id) {
        return (id.to_owned(), account.to_owned());
    }
    (
        format!(
            "arn:aws:secretsmanager:{}:{}:secret:{id}{UNRESOLVED_SUFFIX}",
            ctx.region, ctx.principal.account_id
        ),
        ctx.principal.account_id.clone(),
    )
}

fn check(action: &str, ctx: &RequestContext, id: &str) -> AuthzCheck {
    let (arn, account) = authz_arn(ctx, id);
    let mut c = AuthzCheck::new(format!("secretsmanager:{action}"), arn);
    c.resource_account = Some(account);
    c.context
        .push(("secretsmanager:SecretId".into(), vec![id.to_owned()]));
    c
}

/// `secretsmanager:AddReplicaRegions` and `secretsmanager:ForceOverwriteReplicaSecret`.
fn replica_context(
    c: &mut AuthzCheck,
    regions: &[replication::ReplicaRegion],
    force: Option<bool>,
) {
    let names: Vec<String> = regions.iter().filter_map(|r| r.region.clone()).collect();
    if !names.is_empty() {
        c.context
            .push(("secretsmanager:AddReplicaRegions".into(), names));
    }
    c.context.push((
        "secretsmanager:ForceOverwriteReplicaSecret".into(),
        vec![force.unwrap_or(false).to_string()],
    ));
}

/// Adds the condition key `key` when the request gives its value.
fn request_key(c: &mut AuthzCheck, key: &str, value: Option<impl ToString>) {
    if let Some(v) = value {
        c.context.push((key.to_owned(), vec![v.to_string()]));
    }
}

fn tag_context(c: &mut AuthzCheck, tags: &[Tag]) {
    c.context.extend(crate::authz::request_tags(
        tags.iter().map(|t| (t.key.as_str(), t.value.as_str())),
    ));
}

// ---------------------------------------------------------------- output helpers

fn epoch(t: OffsetDateTime) -> f64 {
    (t.unix_timestamp_nanos() / 1_000_000) as f64 / 1000.0
}

fn day_of(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_time(time::Time::MIDNIGHT)
}

fn tags_json(tags: &[(String, String)]) -> Value {
    Value::Array(
        tags.iter()
            .map(|(k, v)| json!({"Key": k, "Value": v}))
            .collect(),
    )
}

fn describe(s: &SecretRecord) -> Value {
    let mut o = serde_json::Map::new();
    o.insert("ARN".into(), s.arn.clone().into());
    o.insert("Name".into(), s.name.clone().into());
    if let Some(d) = &s.description {
        o.insert("Description".into(), d.clone().into());
    }
    if let Some(k) = &s.kms_key_id {
        o.insert("KmsKeyId".into(), k.clone().into());
    }
    if s.rotation_enabled || s.rotation_lambda_arn.is_some() {
        o.insert("RotationEnabled".into(), s.rotation_enabled.into());
    }
    if let Some(l) = &s.rotation_lambda_arn {
        o.insert("RotationLambdaARN".into(), l.clone().into());
    }
    if let Some(r) = &s.rotation_rules {
        o.insert(
            "RotationRules".into(),
            serde_json::to_value(r).unwrap_or(Value::Null),
        );
    }
    if let Some(t) = s.last_rotated {
        o.insert("LastRotatedDate".into(), epoch(t).into());
    }
    o.insert("LastChangedDate".into(), epoch(s.last_changed).into());
    if let Some(t) = s.last_accessed {
        o.insert("LastAccessedDate".into(), epoch(t).into());
    }
    if let Some(t) = s.deletion_date {
        o.insert("DeletedDate".into(), epoch(t).into());
    }
    if let (true, Some(t)) = (s.rotation_enabled, s.next_rotation) {
        let end = s.rotation_rules.as_ref().map_or(t, |r| window_end(r, t));
        o.insert("NextRotationDate".into(), epoch(end).into());
    }
    if !s.tags.is_empty() {
        o.insert("Tags".into(), tags_json(&s.tags));
    }
    o.insert(
        "VersionIdsToStages".into(),
        serde_json::to_value(s.stages_map()).unwrap_or(Value::Null),
    );
    o.insert("CreatedDate".into(), epoch(s.created).into());
    match (&s.primary_region, s.replicas.is_empty()) {
        (Some(p), _) => {
            o.insert("PrimaryRegion".into(), p.clone().into());
        }
        (None, false) => {
            o.insert("PrimaryRegion".into(), s.region.clone().into());
        }
        (None, true) => {}
    }
    Value::Object(o)
}

fn arn_name(s: &SecretRecord) -> serde_json::Map<String, Value> {
    let mut o = serde_json::Map::new();
    o.insert("ARN".into(), s.arn.clone().into());
    o.insert("Name".into(), s.name.clone().into());
    o
}

fn reply_for(s: &SecretRecord, out: Value) -> Reply {
    let mut reply = logged_reply(out);
    reply.resources = s.resources();
    reply
}

/// A reply whose CloudTrail responseElements are `out` in camelCase; CloudTrail names the
/// secret ARN `arn` (AWS logged `aRN` before February 2024).
fn logged_reply(out: Value) -> Reply {
    let elements = crate::iam::camel_json(&out).map(|mut e| {
        if let Some(o) = e.as_object_mut() {
            if let Some(arn) = o.remove("aRN") {
                o.insert("arn".into(), arn);
            }
        }
        e
    });
    let mut reply = Reply::new(out);
    reply.response_elements = elements;
    reply
}

fn value_json(s: &SecretRecord, v: &VersionRecord, value: &SecretValue) -> Value {
    let mut o = arn_name(s);
    o.insert("VersionId".into(), v.id.clone().into());
    match value {
        SecretValue::String(x) => o.insert("SecretString".into(), x.clone().into()),
        SecretValue::Binary(b) => o.insert(
            "SecretBinary".into(),
            base64::engine::general_purpose::STANDARD.encode(b).into(),
        ),
    };
    o.insert("VersionStages".into(), v.stages.clone().into());
    o.insert("CreatedDate".into(), epoch(v.created).into());
    Value::Object(o)
}

fn check_tags(tags: &[Tag]) -> Result<(), ApiError> {
    if tags.len() > 50 {
        return Err(invalid_param(
            "Number of tags exceeds Secrets Manager's limit of 50.",
        ));
    }
    for t in tags {
        check_len(&t.key, "tags.member.key", 1, 128)?;
        check_len(&t.value, "tags.member.value", 0, 256)?;
        if t.key.to_ascii_lowercase().starts_with("aws:") {
            return Err(invalid_param("Tag keys starting with aws: are reserved."));
        }
    }
    Ok(())
}

fn merge_tags(into: &mut Vec<(String, String)>, tags: &[Tag]) -> Result<(), ApiError> {
    for t in tags {
        match into.iter_mut().find(|(k, _)| *k == t.key) {
            Some(e) => e.1 = t.value.clone(),
            None => into.push((t.key.clone(), t.value.clone())),
        }
    }
    if into.len() > 50 {
        return Err(invalid_param(
            "Number of tags exceeds Secrets Manager's limit of 50.",
        ));
    }
    Ok(())
}

fn check_name(name: &str) -> Result<(), ApiError> {
    check_len(name, "name", 1, 512)?;
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c))
    {
        return Err(invalid_param(
            "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!",
        ));
    }
    Ok(())
}

fn check_kms_key_id(k: &str) -> Result<(), ApiError> {
    check_len(k, "kmsKeyId", 0, 2048)
}

fn random_suffix() -> Result<String, ApiError> {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut out = String::with_capacity(6);
    for _ in 0..6 {
        let i = random_below(CHARS.len())?;
        out.push(char::from(*CHARS.get(i).unwrap_or(&b'a')));
    }
    Ok(out)
}

fn decode_token(t: &Option<String>) -> Result<usize, ApiError> {
    if let Some(t) = t {
        // NextTokenType: 1..=4096 characters, checked before the token is read.
        check_len(t, "nextToken", 1, 4096)?;
    }
    match t {
        None => Ok(0),
        Some(t) => base64::engine::general_purpose::STANDARD
            .decode(t)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| invalid_param("The NextToken value is invalid.")),
    }
}

/// The token of the page after `limit` items from `start`, if any are left of `len`. A
/// client's token may say anything, so the sum saturates.
fn next_token(start: usize, limit: usize, len: usize) -> Option<String> {
    let next = start.saturating_add(limit);
    (next < len).then(|| base64::engine::general_purpose::STANDARD.encode(next.to_string()))
}

/// MaxResults: 1..=`max` (100 for the List operations, 20 for BatchGetSecretValue), the
/// page size being `max` when absent.
fn check_max_results(m: Option<i64>, max: usize) -> Result<usize, ApiError> {
    match m {
        None => Ok(max),
        Some(m) if m >= 1 && usize::try_from(m).is_ok_and(|m| m <= max) => {
            Ok(usize::try_from(m).unwrap_or(max))
        }
        Some(m) => Err(err(
            "ValidationException",
            format!("1 validation error detected: Value '{m}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and {max}"),
        )),
    }
}

/// Filters as the model constrains them: at most 10, each with 1..=10 values of at most
/// 512 characters from `^!?[a-zA-Z0-9 :_@/+=.\-!]*$`.
fn check_filters(filters: &[Filter]) -> Result<(), ApiError> {
    let invalid = |what: String| {
        err(
            "ValidationException",
            format!("1 validation error detected: {what}"),
        )
    };
    if filters.len() > 10 {
        return Err(invalid(
            "Value at 'filters' failed to satisfy constraint: Member must have length less than or equal to 10".into(),
        ));
    }
    for (n, f) in filters.iter().enumerate() {
        let member = format!("filters.{}.member.values", n + 1);
        let values = f.values.as_deref().unwrap_or_default();
        if values.is_empty() || values.len() > 10 {
            return Err(invalid(format!(
                "Value at '{member}' failed to satisfy constraint: Member must have length between 1 and 10"
            )));
        }
        for v in values {
            let body = v.strip_prefix('!').unwrap_or(v);
            let ok = v.chars().count() <= 512
                && body
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || " :_@/+=.-!".contains(c));
            if !ok {
                return Err(invalid(format!(
                    "Value at '{member}' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 512, Member must satisfy regular expression pattern: ^\\!?[a-zA-Z0-9 :_@\\/\\+\\=\\.\\-\\!]*$]"
                )));
            }
        }
    }
    Ok(())
}

/// ListSecrets / BatchGetSecretValue filters (prefix match, `!` negates).
fn matches_filters(s: &SecretRecord, filters: &[Filter]) -> Result<bool, ApiError> {
    for f in filters {
        let key = f.key.as_deref().unwrap_or("all");
        let values = f.values.clone().unwrap_or_default();
        let fields: Vec<String> = match key {
            "name" => vec![s.name.clone()],
            "description" => s.description.clone().into_iter().collect(),
            "tag-key" => s.tags.iter().map(|t| t.0.clone()).collect(),
            "tag-value" => s.tags.iter().map(|t| t.1.clone()).collect(),
            "primary-region" => vec![s.primary_region.clone().unwrap_or_else(|| s.region.clone())],
            "owning-service" => Vec::new(),
            "all" => {
                let mut v = vec![s.name.clone(), s.region.clone()];
                v.extend(s.description.clone());
                v.extend(s.tags.iter().flat_map(|t| [t.0.clone(), t.1.clone()]));
                v
            }
            other => {
                return Err(err(
                    "ValidationException",
                    format!("1 validation error detected: Value '{other}' at 'filters.1.member.key' failed to satisfy enum value set: [all, name, tag-key, description, tag-value, owning-service, primary-region]"),
                ))
            }
        };
        let mut any = false;
        for v in &values {
            let (neg, v) = match v.strip_prefix('!') {
                Some(rest) => (true, rest),
                None => (false, v.as_str()),
            };
            // The Filter shape's documentation: `description` is a prefix match that is
            // not case-sensitive, and the user guide's examples match it on the
            // description's words; `all` breaks the value into words and searches every
            // attribute, not case-sensitive; the other keys are case-sensitive prefixes.
            let hit = match key {
                "description" => fields.iter().any(|f| word_prefix(f, v)),
                "all" => v
                    .split_whitespace()
                    .all(|w| fields.iter().any(|f| word_prefix(f, w))),
                _ => fields.iter().any(|f| f.starts_with(v)),
            };
            if hit != neg {
                any = true;
            }
        }
        if !any {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Whether `value`, or one of its whitespace-separated words, begins with `prefix`, not
/// case-sensitive.
fn word_prefix(value: &str, prefix: &str) -> bool {
    let prefix = prefix.to_lowercase();
    let value = value.to_lowercase();
    value.starts_with(&prefix) || value.split_whitespace().any(|w| w.starts_with(&prefix))
}

fn check_policy(doc: &str) -> Result<Value, ApiError> {
    check_len(doc, "resourcePolicy", 1, 20_480)?;
    let v: Value = serde_json::from_str(doc).map_err(|_| {
        err(
            "MalformedPolicyDocumentException",
            "This resource policy contains a syntax error.",
        )
    })?;
    // Not the parser's own words (serde's types and positions).
    palisade_policy::Policy::parse(doc, palisade_policy::PolicyKind::Resource).map_err(|_| {
        err(
            "MalformedPolicyDocumentException",
            "This resource policy contains an unsupported element.",
        )
    })?;
    Ok(v)
}

/// Whether a policy grants broad access: an Allow to Principal `*` (or AWS `*`) without
/// conditions, which BlockPublicPolicy refuses.
fn is_public(v: &Value) -> bool {
    let stmts = match v.get("Statement") {
        Some(Value::Array(a)) => a.clone(),
        Some(o) => vec![o.clone()],
        None => Vec::new(),
    };
    stmts.iter().any(|s| {
        let allow = s.get("Effect").and_then(Value::as_str) == Some("Allow");
        let p = s.get("Principal");
        let star = |x: &Value| match x {
            Value::String(s) => s == "*",
            Value::Array(a) => a.iter().any(|e| e.as_str() == Some("*")),
            _ => false,
        };
        let public = match p {
            Some(Value::String(s)) => s == "*",
            Some(Value::Object(o)) => o.get("AWS").is_some_and(star),
            _ => false,
        };
        allow && public && s.get("Condition").is_none()
    })
}

// ---------------------------------------------------------------- operations

fn create_secret(
    tx: &mut dyn WriteTx,
    env: &Env,
    ctx: &RequestContext,
    i: &CreateSecretInput,
) -> Result<Reply, ApiError> {
    check_name(&i.name)?;
    if let Some(d) = &i.description {
        check_len(d, "description", 0, 2048)?;
    }
    if let Some(t) = &i.client_request_token {
        check_token(t)?;
    }
    if let Some(k) = &i.kms_key_id {
        check_kms_key_id(k)?;
    }
    let tags = i.tags.clone().unwrap_or_default();
    check_tags(&tags)?;
    let value = value_from(&i.secret_string, &i.secret_binary)?;
    if let Some(r) = &i.add_replica_regions {
        replication::check_add_regions(r)?;
    }
    let account = ctx.principal.account_id.clone();
    if let Some(existing) = get_secret(tx, &account, &ctx.region, &i.name)? {
        if existing.gone(ctx.now) {
            purge(tx, &existing)?;
        } else if existing.deletion_date.is_some() {
            return Err(err(
                "InvalidRequestException",
                "You can't create this secret because a secret with this name is already scheduled for deletion.",
            ));
        } else {
            // Idempotent retry: same token, same value.
            if let (Some(t), Some(v)) = (&i.client_request_token, &value) {
                if let Some(ver) = existing.version(t) {
                    let old = read_value(tx, env, ctx, Caller::Principal, &existing, ver)?;
                    if old == *v {
                        let mut o = arn_name(&existing);
                        o.insert("VersionId".into(), t.clone().into());
                        return Ok(reply_for(&existing, Value::Object(o)));
                    }
                }
            }
            return Err(err(
                "ResourceExistsException",
                format!(
                    "The operation failed because the secret {} already exists.",
                    i.name
                ),
            ));
        }
    }
    let arn = format!(
        "arn:aws:secretsmanager:{}:{account}:secret:{}-{}",
        ctx.region,
        i.name,
        random_suffix()?
    );
    let mut s = SecretRecord {
        arn,
        name: i.name.clone(),
        account,
        region: ctx.region.clone(),
        description: i.description.clone(),
        kms_key_id: i.kms_key_id.clone().filter(|k| !k.is_empty()),
        created: ctx.now,
        last_changed: ctx.now,
        last_accessed: None,
        last_rotated: None,
        deletion_date: None,
        tags: Vec::new(),
        policy: None,
        rotation_enabled: false,
        rotation_lambda_arn: None,
        rotation_rules: None,
        next_rotation: None,
        last_rotation_failure: None,
        versions: Vec::new(),
        hook_run: None,
        replicas: Vec::new(),
        primary_region: None,
    };
    merge_tags(&mut s.tags, &tags)?;
    let mut o = arn_name(&s);
    let mut fresh = Vec::new();
    if let Some(v) = &value {
        let id = add_version(
            tx,
            env,
            ctx,
            Caller::Principal,
            &mut s,
            i.client_request_token.as_deref(),
            v,
            &[CURRENT.to_owned()],
            ctx.now,
        )?;
        fresh.push((id.clone(), v.clone()));
        o.insert("VersionId".into(), id.into());
    } else if let Some(k) = &s.kms_key_id {
        // AWS checks the key even without a value.
        crate::kms::store::resolve(tx, ctx, k)
            .map_err(kms_failure(false))?
            .check_usable()
            .map_err(kms_failure(false))?;
    }
    put_secret(tx, &s)?;
    if let Some(regions) = i.add_replica_regions.as_deref().filter(|r| !r.is_empty()) {
        let force = i.force_overwrite_replica_secret == Some(true);
        let added = replication::add_replicas(tx, env, ctx, &mut s, regions, force, &fresh)?;
        let mut only = s.clone();
        only.replicas = added;
        o.insert(
            "ReplicationStatus".into(),
            replication::status_json(tx, &only)?,
        );
    }
    Ok(reply_for(&s, Value::Object(o)))
}

fn select_version<'a>(
    s: &'a SecretRecord,
    version_id: &Option<String>,
    stage: &Option<String>,
) -> Result<&'a VersionRecord, ApiError> {
    if let Some(id) = version_id {
        check_len(id, "versionId", 32, 64)?;
    }
    if let Some(st) = stage {
        check_stage(st, "versionStage")?;
    }
    let v = match (version_id, stage) {
        (Some(id), Some(st)) => s
            .version(id)
            .filter(|v| !v.empty && v.stages.iter().any(|x| x == st))
            .ok_or_else(|| {
                err(
                    "ResourceNotFoundException",
                    format!("Secrets Manager can't find the specified secret value for VersionId: {id} and staging label: {st}"),
                )
            })?,
        (Some(id), None) => s.version(id).filter(|v| !v.empty).ok_or_else(|| {
            err(
                "ResourceNotFoundException",
                format!("Secrets Manager can't find the specified secret value for VersionId: {id}"),
            )
        })?,
        (None, st) => {
            let st = st.as_deref().unwrap_or(CURRENT);
            s.version_with_stage(st).filter(|v| !v.empty).ok_or_else(|| {
                err(
                    "ResourceNotFoundException",
                    format!("Secrets Manager can't find the specified secret value for staging label: {st}"),
                )
            })?
        }
    };
    Ok(v)
}

/// GetSecretValue from a snapshot: `None` when LastAccessedDate must move first (then it
/// runs as a write, [`get_secret_value`]).
fn get_secret_value_unchanged(
    tx: &dyn ReadTx,
    env: &Env,
    ctx: &RequestContext,
    i: &GetSecretValueInput,
) -> Option<Result<Reply, ApiError>> {
    let run = || -> Result<Option<Reply>, ApiError> {
        let s = load_live(tx, ctx, &i.secret_id)?;
        let v = select_version(&s, &i.version_id, &i.version_stage)?;
        if access_is_stale(&s, &v.id, ctx) {
            return Ok(None);
        }
        let value = read_value(tx, env, ctx, Caller::Principal, &s, v)?;
        let mut reply = Reply::new(value_json(&s, v, &value));
        reply.resources = s.resources();
        Ok(Some(reply))
    };
    run().transpose()
}

/// Whether a read of version `version` must move LastAccessedDate (a date: AWS rounds it
/// to the day, so it is written at most once a day).
fn access_is_stale(s: &SecretRecord, version: &str, ctx: &RequestContext) -> bool {
    let today = day_of(ctx.now);
    let stale = |t: Option<OffsetDateTime>| t != Some(today);
    stale(s.last_accessed) || s.version(version).is_some_and(|x| stale(x.last_accessed))
}

fn get_secret_value(
    tx: &mut dyn WriteTx,
    env: &Env,
    ctx: &RequestContext,
    i: &GetSecretValueInput,
) -> Result<Reply, ApiError> {
    let mut s = load_live(tx, ctx, &i.secret_id)?;
    let v = select_version(&s, &i.version_id, &i.version_stage)?.clone();
    let value = read_value(tx, env, ctx, Caller::Principal, &s, &v)?;
    let out = value_json(&s, &v, &value);
    if access_is_stale(&s, &v.id, ctx) {
        mark_accessed(&mut s, &v.id, ctx);
        put_secret(tx, &s)?;
    }
    let mut reply = Reply::new(out);
    reply.resources = s.resources();
    Ok(reply)
}

/// How another service names a secret's version: its id or a staging label.
#[derive(Debug, Clone, Copy)]
pub(crate) enum VersionRef<'a> {
    Id(&'a str),
    Stage(&'a str),
}

/// A secret version read for another service on the caller's behalf (Parameter Store's
/// `/aws/reference/secretsmanager/` names, [`read_for_service`]).
pub(crate) struct ServedValue {
    pub arn: String,
    pub name: String,
    pub version_id: String,
    pub stages: Vec<String>,
    pub created: OffsetDateTime,
    pub value: SecretValue,
    /// Whether this read must move LastAccessedDate ([`record_access`]), as a direct
    /// GetSecretValue would.
    pub access_stale: bool,
}

/// GetSecretValue made by `service` for the caller: the version `version` names
/// (AWSCURRENT when `None`), authorized as the caller's own
/// `secretsmanager:GetSecretValue` (identity and resource policies, the
/// `secretsmanager:VersionId` / `VersionStage` the reference names, and kms:Decrypt
/// through Secrets Manager) and recorded as Secrets Manager's event with `invokedBy` the
/// service, failed ones included. Errors are Secrets Manager's.
pub(crate) fn read_for_service(
    tx: &dyn ReadTx,
    env: &Env,
    ctx: &RequestContext,
    service: &str,
    id: &str,
    version: Option<VersionRef<'_>>,
) -> Result<ServedValue, ApiError> {
    // The request member naming the version, as GetSecretValue's (condition key and
    // CloudTrail parameter alike).
    let named = version.map(|v| match v {
        VersionRef::Id(x) => ("VersionId", x),
        VersionRef::Stage(x) => ("VersionStage", x),
    });
    let mut resource: Option<(String, String)> = None;
    let result = (|| {
        // Authorized as a direct GetSecretValue is, before the secret is looked up: a
        // caller without the permission learns nothing of whether it exists.
        let mut c = check("GetSecretValue", ctx, id);
        if let Some((member, v)) = named {
            request_key(&mut c, &format!("secretsmanager:{member}"), Some(v));
        }
        if let crate::authz::AuthzDecision::Deny { message } = env.authorizer.authorize(&c, ctx) {
            return Err(err("AccessDeniedException", message));
        }
        let s = load_live(tx, ctx, id)?;
        resource = Some((s.arn.clone(), s.account.clone()));
        let found = match version {
            Some(VersionRef::Id(v)) => s.version(v),
            Some(VersionRef::Stage(st)) => s.version_with_stage(st),
            None => s.version_with_stage(CURRENT),
        };
        let v = found.filter(|v| !v.empty).ok_or_else(not_found)?;
        let value = read_value(tx, env, ctx, Caller::Principal, &s, v)?;
        Ok(ServedValue {
            arn: s.arn.clone(),
            name: s.name.clone(),
            version_id: v.id.clone(),
            stages: v.stages.clone(),
            created: v.created,
            value,
            access_stale: access_is_stale(&s, &v.id, ctx),
        })
    })();
    let mut params = serde_json::Map::new();
    params.insert("secretId".into(), id.into());
    if let Some((member, v)) = named {
        params.insert(crate::input::lower_camel(member), v.into());
    }
    let (resources, resource_account) = match resource {
        Some((arn, account)) => (
            vec![("AWS::SecretsManager::Secret".to_owned(), arn)],
            account,
        ),
        None => (Vec::new(), ctx.principal.account_id.clone()),
    };
    ctx.invoked.push(crate::context::InvokedCall {
        invoked_by: format!("{service}.amazonaws.com"),
        event_source: "secretsmanager.amazonaws.com",
        event_name: "GetSecretValue",
        region: ctx.region.clone(),
        request_parameters: Value::Object(params),
        resources,
        resource_account,
        error: result
            .as_ref()
            .err()
            .filter(|e| !e.is_internal())
            .map(|e| (e.code.to_string(), e.message.clone())),
        read_only: true,
        response_elements: None,
    });
    result
}

/// Moves LastAccessedDate of the secret `arn` and of its version `version_id` to today,
/// for a read [`read_for_service`] made (it said `access_stale`).
pub(crate) fn record_access(
    tx: &mut dyn WriteTx,
    ctx: &RequestContext,
    arn: &str,
    version_id: &str,
) -> Result<(), ApiError> {
    let mut s = load_live(tx, ctx, arn)?;
    mark_accessed(&mut s, version_id, ctx);
    put_secret(tx, &s)
}

/// Sets LastAccessedDate (a date: AWS rounds it to the day) of a secret and its version.
fn mark_accessed(s: &mut SecretRecord, version_id: &str, ctx: &RequestContext) {
    let today = day_of(ctx.now);
    s.last_accessed = Some(today);
    for x in s.versions.iter_mut().filter(|x| x.id == version_id) {
        x.last_accessed = Some(today);
    }
}

fn batch_get(
    tx: &mut dyn WriteTx,
    env: &Env,
    ctx: &RequestContext,
    i: &BatchGetSecretValueInput,
) -> Result<Reply, ApiError> {
    let ids = match (&i.secret_id_list, &i.filters) {
        (Some(_), Some(_)) => {
            return Err(invalid_param(
                "Either 'SecretIdList' or 'Filters' must be provided, but not both.",
            ))
        }
        (None, None) => {
            return Err(invalid_param(
                "Either 'SecretIdList' or 'Filters' must be provided.",
            ))
        }
        (Some(ids), None) => {
            if ids.is_empty() || ids.len() > 20 {
                return Err(err(
                    "ValidationException",
                    "1 validation error detected: Value at 'secretIdList' failed to satisfy constraint: Member must have length between 1 and 20",
                ));
            }
            if i.max_results.is_some() {
                return Err(invalid_param(
                    "'MaxResults' is only valid when 'Filters' is provided.",
                ));
            }
            ids.clone()
        }
        (None, Some(f)) => {
            check_filters(f)?;
            let mut all: Vec<SecretRecord> =
                all_secrets(tx, &ctx.principal.account_id, &ctx.region)?
                    .into_iter()
                    .filter(|s| s.deletion_date.is_none())
                    .collect();
            let mut kept = Vec::new();
            for s in all.drain(..) {
                if matches_filters(&s, f)? {
                    kept.push(s.arn);
                }
            }
            kept
        }
    };
    let paged = i.filters.is_some();
    let (start, limit) = if paged {
        (
            decode_token(&i.next_token)?,
            check_max_results(i.max_results, 20)?,
        )
    } else {
        (0, ids.len())
    };
    let page: Vec<&String> = ids.iter().skip(start).take(limit).collect();
    let mut values = Vec::new();
    let mut errors = Vec::new();
    for id in &page {
        let r = load_live(tx, ctx, id).and_then(|s| {
            // Each secret needs secretsmanager:GetSecretValue too; a denial is that
            // secret's error, not the call's (as AWS reports it).
            let mut c = AuthzCheck::new("secretsmanager:GetSecretValue", s.arn.clone());
            c.resource_account = Some(s.account.clone());
            c.context
                .push(("secretsmanager:SecretId".into(), vec![(*id).clone()]));
            if let crate::authz::AuthzDecision::Deny { message } = env.authorizer.authorize(&c, ctx)
            {
                return Err(err("AccessDeniedException", message));
            }
            let v = select_version(&s, &None, &None)?.clone();
            let value = read_value(tx, env, ctx, Caller::Principal, &s, &v)?;
            Ok(value_json(&s, &v, &value))
        });
        match r {
            Ok(v) => values.push(v),
            Err(e) if e.is_internal() => return Err(e),
            Err(e) => {
                errors.push(json!({"SecretId": id, "ErrorCode": e.code, "Message": e.message}))
            }
        }
    }
    let mut out = json!({"SecretValues": values, "Errors": errors});
    if let Some(t) = next_token(start, limit, ids.len()).filter(|_| paged) {
        if let Some(o) = out.as_object_mut() {
            o.insert("NextToken".into(), t.into());
        }
    }
    Ok(Reply::new(out))
}

fn put_secret_value(
    tx: &mut dyn WriteTx,
    env: &Env,
    ctx: &RequestContext,
    i: &PutSecretValueInput,
) -> Result<Reply, ApiError> {
    if let Some(t) = &i.client_request_token {
        check_token(t)?;
    }
    if let Some(t) = &i.rotation_token {
        let ok = (36..=256).contains(&t.len())
            && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok {
            // The token is sensitive: not echoed.
            return Err(err(
                "ValidationException",
                "1 validation error detected: Value at 'rotationToken' failed to satisfy constraint: Member must have length between 36 and 256 and satisfy regular expression pattern: ^[a-zA-Z0-9\\-]+$",
            ));
        }
    }
    let stages = i
        .version_stages
        .clone()
        .unwrap_or_else(|| vec![CURRENT.to_owned()]);
    if stages.is_empty() || stages.len() > 20 {
        return Err(err(
            "ValidationException",
            "1 validation error detected: Value at 'versionStages' failed to satisfy constraint: Member must have length between 1 and 20",
        ));
    }
    for st in &stages {
        check_stage(st, "versionStages")?;
    }
    let value = value_from(&i.secret_string, &i.secret_binary)?
        .ok_or_else(|| invalid_param("You must provide either SecretString or SecretBinary."))?;
    let mut s = load_live(tx, ctx, &i.secret_id)?;
    not_on_replica(&s)?;
    let id = add_version(
        tx,
        env,
        ctx,
        Caller::Principal,
        &mut s,
        i.client_request_token.as_deref(),
        &value,
        &stages,
        ctx.now,
    )?;
    save(
        tx,
        env,
        ctx,
        Caller::Principal,
        &mut s,
        &[(id.clone(), value)],
    )?;
    let v = s.version(&id).cloned();
    let mut o = arn_name(&s);
    o.insert("VersionId".into(), id.into());
    o.insert(
        "VersionStages".into(),
        v.map(|v| v.stages).unwrap_or_default().into(),
    );
    Ok(reply_for(&s, Value::Object(o)))
}

fn update_secret(
    tx: &mut dyn WriteTx,
    env: &Env,
    ctx: &RequestContext,
    i: &UpdateSecretInput,
) -> Result<Reply, ApiError> {
    if let Some(t) = &i.client_request_token {
        check_token(t)?;
    }
    if let Some(d) = &i.description {
        check_len(d, "description", 0, 2048)?;
    }
    if let Some(k) = &i.kms_key_id {
        check_kms_key_id(k)?;
    }
    let value = value_from(&i.secret_string, &i.secret_binary)?;
    let mut s = load_live(tx, ctx, &i.secret_id)?;
    not_on_replica(&s)?;
    if let Some(d) = &i.description {
        s.description = Some(d.clone());
    }
    if let Some(k) = &i.kms_key_id {
        let k = Some(k.clone()).filter(|k| !k.is_empty());
        if let Some(key) = &k {
            crate::kms::store::resolve(tx, ctx, key)
                .map_err(kms_failure(false))?
                .check_usable()
                .map_err(kms_failure(false))?;
        }
        // The same key as given before: nothing to reseal.
        if k != s.kms_key_id {
            s.kms_key_id = k;
            reseal_labeled(tx, env, ctx, &mut s)?;
        }
    }
    s.last_changed = ctx.now;
    let mut o = arn_name(&s);
    let mut fresh = Vec::new();
    if let Some(v) = &value {
        let id = add_version(
            tx,
            env,
            ctx,
            Caller::Principal,
            &mut s,
            i.client_request_token.as_deref(),
            v,
            &[CURRENT.to_owned()],
            ctx.now,
        )?;
        fresh.push((id.clone(), v.clone()));
        o.insert("VersionId".into(), id.into());
    }
    save(tx, env, ctx, Caller::Principal, &mut s, &fresh)?;
    Ok(reply_for(&s, Value::Object(o)))
}

/// What the caller needs on the new key for UpdateSecret to reseal existing versions
/// under it (AWS: "If you don't have kms:Encrypt permission to the new key, Secrets
/// Manager does not re-encrypt existing secret versions"; the seal itself is a data key).
const RESEAL_ACTIONS: &[&str] = &["Encrypt", "GenerateDataKey"];

/// UpdateSecret with a new KMS key: the AWSCURRENT, AWSPENDING and AWSPREVIOUS versions
/// are sealed again under it, each keeping its earlier ciphertext, as AWS does. It is all
/// or nothing and never fails the call: when the caller may not decrypt a version with
/// its key or encrypt with the new one, no version is resealed (AWS: "In that case, the
/// existing versions are not re-encrypted"). Other versions keep their key.
fn reseal_labeled(
    tx: &mut dyn WriteTx,
    env: &Env,
    ctx: &RequestContext,
    s: &mut SecretRecord,
) -> Result<(), ApiError> {
    let mut sealed = Vec::new();
    for (n, v) in s.versions.iter().enumerate() {
        let labeled = v
            .stages
            .iter()
            .any(|x| x == CURRENT || x == PENDING || x == PREVIOUS);
        if v.empty || !labeled {
            continue;
        }
        let value = match read_value(tx, env, ctx, Caller::Principal, s, v) {
            Ok(value) => value,
            Err(e) if e.is_internal() => return Err(e),
            Err(_) => return Ok(()),
        };
        let (blob, key_arn) = match kms::encrypt_for(
            tx,
            env,
            ctx,
            Caller::Principal,
            s.kms_key_id.as_deref(),
            SERVICE,
            RESEAL_ACTIONS,
            value.bytes(),
            &enc_context(&s.arn, &v.id),
        ) {
            Ok(sealed) => sealed,
            Err(e) if e.is_internal() => return Err(e),
            Err(_) => return Ok(()),
        };
        if key_arn != v.kms_key_arn {
            sealed.push((n, blob, key_arn));
        }
    }
    for (n, blob, key_arn) in sealed {
        let Some(v) = s.versions.get_mut(n) else {
            continue;
        };
        let current = value_key(&s.account, &s.region, &s.arn, &v.id);
        let earlier = tx
            .get(&current)?
            .ok_or_else(|| ApiError::internal("secret version without value"))?;
        tx.put(
            &prior_value_key(&s.account, &s.region, &s.arn, &v.id),
            &earlier,
        )?;
        tx.put(&current, &blob)?;
        v.prior_kms_key_arn = Some(std::mem::replace(&mut v.kms_key_arn, key_arn));
    }
    Ok(())
}

fn list_secrets(
    tx: &dyn ReadTx,
    ctx: &RequestContext,
    i: &ListSecretsInput,
) -> Result<Reply, ApiError> {
    let limit = check_max_results(i.max_results, 100)?;
    let start = decode_token(&i.next_token)?;
    let filters = i.filters.clone().unwrap_or_default();
    check_filters(&filters)?;
    let mut all = Vec::new();
    for s in all_secrets(tx, &ctx.principal.account_id, &ctx.region)? {
        if s.gone(ctx.now) {
            continue;
        }
        if s.deletion_date.is_some() && i.include_planned_deletion != Some(true) {
            continue;
        }
        if matches_filters(&s, &filters)? {
            all.push(s);
        }
    }
    match i.sort_by.as_deref() {
        Some("name") => all.sort_by(|a, b| a.name.cmp(&b.name)),
        Some("last-accessed-date") => all.sort_by_key(|s| s.last_accessed),
        Some("last-changed-date") => all.sort_by_key(|s| s.last_changed),
        None | Some("created-date") => all.sort_by_key(|s| s.created),
        Some(o) => {
            return Err(err(
                "ValidationException",
                format!("1 validation error detected: Value '{o}' at 'sortBy' failed to satisfy constraint: Member must satisfy enum value set: [created-date, last-accessed-date, last-changed-date, name]"),
            ))
        }
    }
    match i.sort_order.as_deref() {
        None | Some("desc") => all.reverse(),
        Some("asc") => {}
        Some(o) => {
            return Err(err(
                "ValidationException",
                format!("1 validation error detected: Value '{o}' at 'sortOrder' failed to satisfy constraint: Member must satisfy enum value set: [asc, desc]"),
            ))
        }
    }
    let page: Vec<Value> = all
        .iter()
        .skip(start)
        .take(limit)
        .map(|s| {
            let mut d = describe(s);
            if let Some(o) = d.as_object_mut() {
                o.remove("VersionIdsToStages");
                o.insert(
                    "SecretVersionsToStages".into(),
                    serde_json::to_value(s.stages_map()).unwrap_or(Value::Null),
                );
            }
            d
        })
        .collect();
    let mut out = json!({ "SecretList": page });
    if let Some(t) = next_token(start, limit, all.len()) {
        if let Some(o) = out.as_object_mut() {
            o.insert("NextToken".into(), t.into());
        }
    }
    Ok(Reply::new(out))
}

fn list_versions(
    tx: &dyn ReadTx,
    ctx: &RequestContext,
    i: &ListSecretVersionIdsInput,
) -> Result<Reply, ApiError> {
    let limit = check_max_results(i.max_results, 100)?;
    let start = decode_token(&i.next_token)?;
    let s = load(tx, ctx, &i.secret_id)?;
    let versions: Vec<&VersionRecord> = s
        .versions
        .iter()
        .rev()
        .filter(|v| i.include_deprecated == Some(true) || !v.stages.is_empty())
        .collect();
    let page: Vec<Value> = versions
        .iter()
        .skip(start)
        .take(limit)
        .map(|v| {
            let mut o = json!({
                "VersionId": v.id,
                "VersionStages": v.stages,
                "CreatedDate": epoch(v.created),
                "KmsKeyIds": if v.empty {
                    Vec::new()
                } else {
                    std::iter::once(&v.kms_key_arn).chain(&v.prior_kms_key_arn).cloned().collect()
                },
            });
            if let (Some(t), Some(m)) = (v.last_accessed, o.as_object_mut()) {
                m.insert("LastAccessedDate".into(), epoch(t).into());
            }
            o
        })
        .collect();
    let mut o = arn_name(&s);
    o.insert("Versions".into(), page.into());
    if let Some(t) = next_token(start, limit, versions.len()) {
        o.insert("NextToken".into(), t.into());
    }
    let mut reply = Reply::new(Value::Object(o));
    reply.resources = s.resources();
    Ok(reply)
}

fn update_stage(
    tx: &mut dyn WriteTx,
    env: &Env,
    ctx: &RequestContext,
    i: &UpdateSecretVersionStageInput,
) -> Result<Reply, ApiError> {
    check_stage(&i.version_stage, "versionStage")?;
    for id in [&i.remove_from_version_id, &i.move_to_version_id]
        .into_iter()
        .flatten()
    {
        check_len(id, "versionId", 32, 64)?;
    }
    let mut s = load_live(tx, ctx, &i.secret_id)?;
    not_on_replica(&s)?;
    let stage = i.version_stage.as_str();
    let holder = s.version_with_stage(stage).map(|v| v.id.clone());
    for id in [&i.remove_from_version_id, &i.move_to_version_id]
        .into_iter()
        .flatten()
    {
        if s.version(id).is_none() {
            return Err(err(
                "ResourceNotFoundException",
                format!("Secrets Manager can't find the specified secret version: {id}"),
            ));
        }
    }
    if let Some(h) = &holder {
        if i.move_to_version_id.as_deref() != Some(h.as_str())
            && i.remove_from_version_id.as_deref() != Some(h.as_str())
        {
            return Err(invalid_param(format!(
                "The parameter RemoveFromVersionId can't be empty. Staging label {stage} is currently attached to version {h}, so you must explicitly reference that version in RemoveFromVersionId."
            )));
        }
    }
    if let Some(r) = &i.remove_from_version_id {
        if holder.as_deref() != Some(r.as_str()) {
            return Err(invalid_param(format!(
                "The staging label {stage} is not attached to version {r}."
            )));
        }
    }
    match &i.move_to_version_id {
        Some(to) => attach_stage(&mut s, stage, to),
        None => {
            if stage == CURRENT {
                return Err(invalid_param(
                    "You can't remove the staging label AWSCURRENT without moving it to another version.",
                ));
            }
            for v in &mut s.versions {
                v.stages.retain(|x| x != stage);
            }
        }
    }
    s.last_changed = ctx.now;
    save(tx, env, ctx, Caller::Principal, &mut s, &[])?;
    Ok(reply_for(&s, Value::Object(arn_name(&s))))
}

fn delete_secret(
    tx: &mut dyn WriteTx,
    ctx: &RequestContext,
    i: &DeleteSecretInput,
) -> Result<Reply, ApiError> {
    let force = i.force_delete_without_recovery == Some(true);
    if force && i.recovery_window_in_days.is_some() {
        return Err(invalid_param(
            "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
        ));
    }
    let days = i.recovery_window_in_days.unwrap_or(30);
    if !force && !(7..=30).contains(&days) {
        return Err(invalid_param(
            "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).",
        ));
    }
    let mut s = match load(tx, ctx, &i.secret_id) {
        // "If you forcibly delete an already deleted or nonexistent secret, the operation
        // does not return ResourceNotFoundException" (DeleteSecret): it answers as if it
        // deleted it, with the ARN a secret of that name would have.
        Err(e) if force && e.code == "ResourceNotFoundException" => {
            return force_deleted_nothing(ctx, &i.secret_id);
        }
        r => r?,
    };
    not_on_replica(&s)?;
    replication::check_no_replicas(&s)?;
    // Deleting twice is refused, but forcing the deletion of a secret already scheduled
    // removes it now (the way to free its name early).
    if s.deletion_date.is_some() && !force {
        return Err(marked_for_deletion());
    }
    let date = if force {
        ctx.now
    } else {
        ctx.now + time::Duration::days(days)
    };
    let mut o = arn_name(&s);
    o.insert("DeletionDate".into(), epoch(date).into());
    if force {
        purge(tx, &s)?;
    } else {
        s.deletion_date = Some(date);
        put_secret(tx, &s)?;
    }
    Ok(reply_for(&s, Value::Object(o)))
}

/// DeleteSecret's answer when a forced deletion finds no secret: the id's ARN and name
/// when it is an ARN, else the ARN a new secret of that name would get.
fn force_deleted_nothing(ctx: &RequestContext, id: &str) -> Result<Reply, ApiError> {
    let (arn, name) = match parse_arn(id) {
        Some((_, _, res)) => (id.to_owned(), without_suffix(res).unwrap_or(res).to_owned()),
        None => (
            format!(
                "arn:aws:secretsmanager:{}:{}:secret:{id}-{}",
                ctx.region,
                ctx.principal.account_id,
                random_suffix()?
            ),
            id.to_owned(),
        ),
    };
    Ok(logged_reply(serde_json::json!({
        "ARN": arn, "Name": name, "DeletionDate": epoch(ctx.now)
    })))
}

fn restore_secret(
    tx: &mut dyn WriteTx,
    ctx: &RequestContext,
    i: &SecretIdInput,
) -> Result<Reply, ApiError> {
    let mut s = load(tx, ctx, &i.secret_id)?;
    not_on_replica(&s)?;
    s.deletion_date = None;
    put_secret(tx, &s)?;
    Ok(reply_for(&s, Value::Object(arn_name(&s))))
}

fn rotate_secret(
    tx: &mut dyn WriteTx,
    env: &Env,
    ctx: &RequestContext,
    i: &RotateSecretInput,
) -> Result<Reply, ApiError> {
    if let Some(t) = &i.client_request_token {
        check_token(t)?;
    }
    if let Some(l) = &i.rotation_lambda_arn {
        check_len(l, "rotationLambdaARN", 0, 2048)?;
    }
    if let Some(r) = &i.rotation_rules {
        check_rules(r)?;
    }
    let mut s = load_live(tx, ctx, &i.secret_id)?;
    not_on_replica(&s)?;
    if let Some(l) = &i.rotation_lambda_arn {
        s.rotation_lambda_arn = Some(l.clone());
    }
    let Some(function) = s.rotation_lambda_arn.clone() else {
        return Err(err(
            "InvalidRequestException",
            "No Lambda rotation function ARN is associated with this secret.",
        ));
    };
    if let Some(r) = &i.rotation_rules {
        s.rotation_rules = Some(r.clone());
    }
    if let Some(run) = &s.hook_run {
        // The retry of the call that started this hook rotation gets its answer again.
        if i.client_request_token.as_deref() == Some(run.token.as_str()) {
            let mut o = arn_name(&s);
            o.insert("VersionId".into(), run.token.clone().into());
            return Ok(reply_for(&s, Value::Object(o)));
        }
    }
    if !can_invoke(tx, &function)? {
        return Err(err(
            "AccessDeniedException",
            "Secrets Manager cannot invoke the specified Lambda function. Ensure that the function policy grants access to the principal secretsmanager.amazonaws.com.",
        ));
    }
    if rotation_in_progress(&s) {
        return Err(err(
            "InvalidRequestException",
            "A previous rotation isn't complete. That rotation will be reattempted.",
        ));
    }
    s.rotation_enabled = true;
    let immediately = i.rotate_immediately.unwrap_or(true);
    let mut o = arn_name(&s);
    if immediately {
        if let Some(hook) = hook_for(tx, &s)? {
            // Asynchronous, as a Lambda rotation: the VersionId now, the steps later.
            let id = start_hook_run(
                tx,
                &mut s,
                &hook.name,
                i.client_request_token.as_deref(),
                ctx.now,
            )?;
            o.insert("VersionId".into(), id.into());
        } else {
            let outcome =
                rotate_recorded(tx, env, &mut s, i.client_request_token.as_deref(), ctx.now)?;
            if let Ok(id) = outcome {
                o.insert("VersionId".into(), id.into());
            }
        }
    }
    let from = s.last_rotated.unwrap_or(ctx.now);
    s.next_rotation = s
        .rotation_rules
        .as_ref()
        .and_then(|r| next_rotation(r, from.max(ctx.now)));
    if !immediately {
        s.next_rotation = s
            .rotation_rules
            .as_ref()
            .and_then(|r| next_rotation(r, ctx.now));
    }
    // The rotation (if it ran here) and the new configuration reach the replicas; the
    // rotated value is read as the service, which rotated it.
    save(tx, env, ctx, Caller::Service, &mut s, &[])?;
    Ok(reply_for(&s, Value::Object(o)))
}

fn cancel_rotate(
    tx: &mut dyn WriteTx,
    env: &Env,
    ctx: &RequestContext,
    i: &SecretIdInput,
) -> Result<Reply, ApiError> {
    let mut s = load_live(tx, ctx, &i.secret_id)?;
    not_on_replica(&s)?;
    s.rotation_enabled = false;
    s.next_rotation = None;
    // A rotation in progress is abandoned: its AWSPENDING label goes (and a hook run's
    // version, if the hook never filled it).
    for v in &mut s.versions {
        v.stages.retain(|x| x != PENDING);
    }
    s.versions.retain(|v| !(v.empty && v.stages.is_empty()));
    if s.hook_run.take().is_some() {
        hooks::delete_run(tx, &s.account, &s.region, &s.name)?;
    }
    save(tx, env, ctx, Caller::Service, &mut s, &[])?;
    let mut o = arn_name(&s);
    if let Some(v) = s.version_with_stage(CURRENT) {
        o.insert("VersionId".into(), v.id.clone().into());
    }
    Ok(reply_for(&s, Value::Object(o)))
}

fn redacted_params<T: Serialize>(v: &T) -> Option<Value> {
    let mut p = crate::iam::camel_json(v)?;
    if let Some(o) = p.as_object_mut() {
        o.remove("secretString");
        o.remove("secretBinary");
    }
    Some(p)
}

impl Operation {
    fn secret_id(&self) -> Option<&str> {
        use Operation as O;
        Some(match self {
            O::GetSecretValue(i) => &i.secret_id,
            O::PutSecretValue(i) => &i.secret_id,
            O::UpdateSecret(i) => &i.secret_id,
            O::DescribeSecret(i)
            | O::RestoreSecret(i)
            | O::GetResourcePolicy(i)
            | O::DeleteResourcePolicy(i)
            | O::CancelRotateSecret(i)
            | O::StopReplicationToReplica(i) => &i.secret_id,
            O::ReplicateSecretToRegions(i) => &i.secret_id,
            O::RemoveRegionsFromReplication(i) => &i.secret_id,
            O::ListSecretVersionIds(i) => &i.secret_id,
            O::UpdateSecretVersionStage(i) => &i.secret_id,
            O::DeleteSecret(i) => &i.secret_id,
            O::TagResource(i) => &i.secret_id,
            O::UntagResource(i) => &i.secret_id,
            O::PutResourcePolicy(i) => &i.secret_id,
            O::RotateSecret(i) => &i.secret_id,
            O::ValidateResourcePolicy(i) => i.secret_id.as_deref()?,
            O::CreateSecret(i) => &i.name,
            O::BatchGetSecretValue(_) | O::ListSecrets(_) | O::GetRandomPassword(_) => return None,
        })
    }
}

impl crate::Operation for Operation {
    fn name(&self) -> &'static str {
        use Operation as O;
        match self {
            O::CreateSecret(_) => "CreateSecret",
            O::GetSecretValue(_) => "GetSecretValue",
            O::BatchGetSecretValue(_) => "BatchGetSecretValue",
            O::PutSecretValue(_) => "PutSecretValue",
            O::UpdateSecret(_) => "UpdateSecret",
            O::DescribeSecret(_) => "DescribeSecret",
            O::ListSecrets(_) => "ListSecrets",
            O::ListSecretVersionIds(_) => "ListSecretVersionIds",
            O::UpdateSecretVersionStage(_) => "UpdateSecretVersionStage",
            O::DeleteSecret(_) => "DeleteSecret",
            O::RestoreSecret(_) => "RestoreSecret",
            O::GetRandomPassword(_) => "GetRandomPassword",
            O::TagResource(_) => "TagResource",
            O::UntagResource(_) => "UntagResource",
            O::PutResourcePolicy(_) => "PutResourcePolicy",
            O::GetResourcePolicy(_) => "GetResourcePolicy",
            O::DeleteResourcePolicy(_) => "DeleteResourcePolicy",
            O::ValidateResourcePolicy(_) => "ValidateResourcePolicy",
            O::RotateSecret(_) => "RotateSecret",
            O::CancelRotateSecret(_) => "CancelRotateSecret",
            O::ReplicateSecretToRegions(_) => "ReplicateSecretToRegions",
            O::RemoveRegionsFromReplication(_) => "RemoveRegionsFromReplication",
            O::StopReplicationToReplica(_) => "StopReplicationToReplica",
        }
    }

    fn read_only(&self) -> bool {
        use Operation as O;
        matches!(
            self,
            O::DescribeSecret(_)
                | O::ListSecrets(_)
                | O::ListSecretVersionIds(_)
                | O::GetRandomPassword(_)
                | O::GetResourcePolicy(_)
                | O::ValidateResourcePolicy(_)
        )
    }

    fn reads_first(&self) -> bool {
        matches!(self, Operation::GetSecretValue(_))
    }

    fn read_if_unchanged(
        &self,
        tx: &dyn ReadTx,
        env: &Env,
        ctx: &RequestContext,
    ) -> Option<Result<Reply, ApiError>> {
        match self {
            Operation::GetSecretValue(i) => get_secret_value_unchanged(tx, env, ctx, i),
            _ => None,
        }
    }

    /// GetSecretValue and BatchGetSecretValue run as writes (they decrypt through KMS
    /// with an authorization check, and update LastAccessedDate) but are read-only in
    /// CloudTrail, as AWS logs them.
    fn audit_read_only(&self) -> bool {
        use Operation as O;
        self.read_only() || matches!(self, O::GetSecretValue(_) | O::BatchGetSecretValue(_))
    }

    fn reads_state(&self) -> bool {
        !matches!(self, Operation::GetRandomPassword(_))
    }

    fn authz(&self, ctx: &RequestContext) -> Vec<AuthzCheck> {
        use Operation as O;
        let action = self.name();
        match self {
            O::GetRandomPassword(_) | O::ListSecrets(_) => {
                let mut c = AuthzCheck::new(format!("secretsmanager:{action}"), "*");
                c.resource_account = Some(ctx.principal.account_id.clone());
                vec![c]
            }
            O::BatchGetSecretValue(i) => {
                // Per-secret secretsmanager:GetSecretValue is checked in write() against
                // each secret's real ARN, and reported per secret in Errors. AWS: with
                // Filters, the caller also needs secretsmanager:ListSecrets.
                let mut actions = vec!["secretsmanager:BatchGetSecretValue"];
                if i.filters.is_some() {
                    actions.push("secretsmanager:ListSecrets");
                }
                actions
                    .into_iter()
                    .map(|a| {
                        let mut c = AuthzCheck::new(a, "*");
                        c.resource_account = Some(ctx.principal.account_id.clone());
                        c
                    })
                    .collect()
            }
            O::ValidateResourcePolicy(i) => {
                // AWS: secretsmanager:ValidateResourcePolicy and
                // secretsmanager:PutResourcePolicy.
                let resource = i.secret_id.as_deref();
                ["ValidateResourcePolicy", "PutResourcePolicy"]
                    .into_iter()
                    .map(|a| match resource {
                        Some(id) => check(a, ctx, id),
                        None => {
                            let mut c = AuthzCheck::new(format!("secretsmanager:{a}"), "*");
                            c.resource_account = Some(ctx.principal.account_id.clone());
                            c
                        }
                    })
                    .collect()
            }
            O::CreateSecret(i) => {
                // The secret being created: authorized as named, never resolved onto an
                // existing one (which the call then reports as existing).
                let mut c = check(action, ctx, &i.name).naming_new();
                c.context.retain(|(k, _)| k != "secretsmanager:SecretId");
                c.context
                    .push(("secretsmanager:Name".into(), vec![i.name.clone()]));
                request_key(
                    &mut c,
                    "secretsmanager:Description",
                    i.description.as_deref(),
                );
                request_key(&mut c, "secretsmanager:KmsKeyId", i.kms_key_id.as_deref());
                let tags = i.tags.as_deref().unwrap_or_default();
                tag_context(&mut c, tags);
                let replicas = i.add_replica_regions.as_deref().unwrap_or_default();
                if !replicas.is_empty() {
                    replica_context(&mut c, replicas, i.force_overwrite_replica_secret);
                }
                let mut checks = vec![c];
                // AWS: tags also need secretsmanager:TagResource, and replica Regions
                // secretsmanager:ReplicateSecretToRegions.
                if !tags.is_empty() {
                    let mut t = check("TagResource", ctx, &i.name).naming_new();
                    tag_context(&mut t, tags);
                    checks.push(t);
                }
                if !replicas.is_empty() {
                    let mut r = check("ReplicateSecretToRegions", ctx, &i.name).naming_new();
                    replica_context(&mut r, replicas, i.force_overwrite_replica_secret);
                    checks.push(r);
                }
                checks
            }
            O::ReplicateSecretToRegions(i) => {
                let mut c = check(action, ctx, &i.secret_id);
                replica_context(
                    &mut c,
                    &i.add_replica_regions,
                    i.force_overwrite_replica_secret,
                );
                vec![c]
            }
            O::TagResource(i) => {
                let mut c = check(action, ctx, &i.secret_id);
                tag_context(&mut c, &i.tags);
                vec![c]
            }
            O::UntagResource(i) => {
                let mut c = check(action, ctx, &i.secret_id);
                if !i.tag_keys.is_empty() {
                    c.context.push(("aws:TagKeys".into(), i.tag_keys.clone()));
                }
                vec![c]
            }
            O::RotateSecret(i) => {
                let mut c = check(action, ctx, &i.secret_id);
                request_key(
                    &mut c,
                    "secretsmanager:RotationLambdaARN",
                    i.rotation_lambda_arn.as_deref(),
                );
                // Always present: whether the rules change, and AWS's default of true.
                request_key(
                    &mut c,
                    "secretsmanager:ModifyRotationRules",
                    Some(i.rotation_rules.is_some()),
                );
                request_key(
                    &mut c,
                    "secretsmanager:RotateImmediately",
                    Some(i.rotate_immediately.unwrap_or(true)),
                );
                vec![c]
            }
            O::DeleteSecret(i) => {
                let mut c = check(action, ctx, &i.secret_id);
                request_key(
                    &mut c,
                    "secretsmanager:RecoveryWindowInDays",
                    i.recovery_window_in_days,
                );
                request_key(
                    &mut c,
                    "secretsmanager:ForceDeleteWithoutRecovery",
                    i.force_delete_without_recovery,
                );
                vec![c]
            }
            O::UpdateSecret(i) => {
                let mut c = check(action, ctx, &i.secret_id);
                request_key(
                    &mut c,
                    "secretsmanager:Description",
                    i.description.as_deref(),
                );
                request_key(&mut c, "secretsmanager:KmsKeyId", i.kms_key_id.as_deref());
                vec![c]
            }
            O::UpdateSecretVersionStage(i) => {
                let mut c = check(action, ctx, &i.secret_id);
                c.context.push((
                    "secretsmanager:VersionStage".into(),
                    vec![i.version_stage.clone()],
                ));
                vec![c]
            }
            O::PutResourcePolicy(i) => {
                let mut c = check(action, ctx, &i.secret_id);
                c.context.push((
                    "secretsmanager:BlockPublicPolicy".into(),
                    vec![i.block_public_policy.unwrap_or(false).to_string()],
                ));
                vec![c]
            }
            O::GetSecretValue(i) => {
                let mut c = check(action, ctx, &i.secret_id);
                request_key(&mut c, "secretsmanager:VersionId", i.version_id.as_deref());
                request_key(
                    &mut c,
                    "secretsmanager:VersionStage",
                    i.version_stage.as_deref(),
                );
                vec![c]
            }
            _ => match self.secret_id() {
                Some(id) => vec![check(action, ctx, id)],
                None => Vec::new(),
            },
        }
    }

    fn request_parameters(&self) -> Option<Value> {
        use Operation as O;
        match self {
            O::CreateSecret(i) => redacted_params(&json!({
                "Name": i.name, "Description": i.description, "KmsKeyId": i.kms_key_id,
                "ClientRequestToken": i.client_request_token,
                "Tags": i.tags,
                "AddReplicaRegions": i.add_replica_regions,
                "ForceOverwriteReplicaSecret": i.force_overwrite_replica_secret,
            }))
            .map(strip_nulls),
            O::ReplicateSecretToRegions(i) => Some(strip_nulls(json!({
                "secretId": i.secret_id,
                "addReplicaRegions": i.add_replica_regions.iter()
                    .map(|r| strip_nulls(json!({"region": r.region, "kmsKeyId": r.kms_key_id})))
                    .collect::<Vec<_>>(),
                "forceOverwriteReplicaSecret": i.force_overwrite_replica_secret,
            }))),
            O::RemoveRegionsFromReplication(i) => Some(json!({
                "secretId": i.secret_id, "removeReplicaRegions": i.remove_replica_regions,
            })),
            O::PutSecretValue(i) => redacted_params(&json!({
                "SecretId": i.secret_id, "ClientRequestToken": i.client_request_token,
                "VersionStages": i.version_stages,
            }))
            .map(strip_nulls),
            O::UpdateSecret(i) => redacted_params(&json!({
                "SecretId": i.secret_id, "ClientRequestToken": i.client_request_token,
                "Description": i.description, "KmsKeyId": i.kms_key_id,
            }))
            .map(strip_nulls),
            O::GetSecretValue(i) => Some(strip_nulls(json!({
                "secretId": i.secret_id, "versionId": i.version_id, "versionStage": i.version_stage,
            }))),
            O::BatchGetSecretValue(i) => Some(strip_nulls(json!({
                "secretIdList": i.secret_id_list, "filters": i.filters,
                "maxResults": i.max_results, "nextToken": i.next_token,
            }))),
            O::GetRandomPassword(i) => crate::iam::camel_json(i),
            O::ListSecrets(i) => Some(strip_nulls(json!({
                "includePlannedDeletion": i.include_planned_deletion, "maxResults": i.max_results,
                "nextToken": i.next_token, "filters": i.filters, "sortOrder": i.sort_order,
            }))),
            O::ListSecretVersionIds(i) => Some(strip_nulls(json!({
                "secretId": i.secret_id, "maxResults": i.max_results, "nextToken": i.next_token,
                "includeDeprecated": i.include_deprecated,
            }))),
            O::UpdateSecretVersionStage(i) => Some(strip_nulls(json!({
                "secretId": i.secret_id, "versionStage": i.version_stage,
                "removeFromVersionId": i.remove_from_version_id, "moveToVersionId": i.move_to_version_id,
            }))),
            O::DeleteSecret(i) => Some(strip_nulls(json!({
                "secretId": i.secret_id, "recoveryWindowInDays": i.recovery_window_in_days,
                "forceDeleteWithoutRecovery": i.force_delete_without_recovery,
            }))),
            O::TagResource(i) => Some(json!({
                "secretId": i.secret_id,
                "tags": i.tags.iter().map(|t| json!({"key": t.key, "value": t.value})).collect::<Vec<_>>(),
            })),
            O::UntagResource(i) => Some(json!({"secretId": i.secret_id, "tagKeys": i.tag_keys})),
            O::PutResourcePolicy(i) => Some(strip_nulls(json!({
                "secretId": i.secret_id, "resourcePolicy": i.resource_policy,
                "blockPublicPolicy": i.block_public_policy,
            }))),
            O::ValidateResourcePolicy(i) => Some(strip_nulls(json!({
                "secretId": i.secret_id, "resourcePolicy": i.resource_policy,
            }))),
            O::RotateSecret(i) => Some(strip_nulls(json!({
                "secretId": i.secret_id, "clientRequestToken": i.client_request_token,
                "rotationLambdaARN": i.rotation_lambda_arn,
                "rotationRules": i.rotation_rules.as_ref().and_then(crate::iam::camel_json),
                "rotateImmediately": i.rotate_immediately,
            }))),
            _ => self.secret_id().map(|id| json!({"secretId": id})),
        }
    }

    fn read(&self, tx: &dyn ReadTx, _env: &Env, ctx: &RequestContext) -> Result<Reply, ApiError> {
        use Operation as O;
        match self {
            O::DescribeSecret(i) => {
                let s = load(tx, ctx, &i.secret_id)?;
                let mut d = describe(&s);
                if let (false, Some(o)) = (s.replicas.is_empty(), d.as_object_mut()) {
                    o.insert(
                        "ReplicationStatus".into(),
                        replication::status_json(tx, &s)?,
                    );
                }
                let mut reply = Reply::new(d);
                reply.resources = s.resources();
                Ok(reply)
            }
            O::ListSecrets(i) => list_secrets(tx, ctx, i),
            O::ListSecretVersionIds(i) => list_versions(tx, ctx, i),
            O::GetRandomPassword(i) => {
                Ok(Reply::new(json!({"RandomPassword": random_password(i)?})))
            }
            O::GetResourcePolicy(i) => {
                let s = load(tx, ctx, &i.secret_id)?;
                let mut o = arn_name(&s);
                if let Some(p) = &s.policy {
                    o.insert("ResourcePolicy".into(), p.clone().into());
                }
                let mut reply = Reply::new(Value::Object(o));
                reply.resources = s.resources();
                Ok(reply)
            }
            O::ValidateResourcePolicy(i) => {
                if let Some(id) = &i.secret_id {
                    load(tx, ctx, id)?;
                }
                let (passed, errors) = match check_policy(&i.resource_policy) {
                    Ok(_) => (true, Vec::new()),
                    Err(e) if e.code == "MalformedPolicyDocumentException" => (
                        false,
                        vec![json!({"CheckName": "SYNTAX_ERROR", "ErrorMessage": e.message})],
                    ),
                    Err(e) => return Err(e),
                };
                Ok(Reply::new(
                    json!({"PolicyValidationPassed": passed, "ValidationErrors": errors}),
                ))
            }
            _ => Err(ApiError::internal("read() on a mutating operation")),
        }
    }

    fn write(
        &self,
        tx: &mut dyn WriteTx,
        env: &Env,
        ctx: &RequestContext,
    ) -> Result<Reply, ApiError> {
        use Operation as O;
        match self {
            O::CreateSecret(i) => create_secret(tx, env, ctx, i),
            O::GetSecretValue(i) => get_secret_value(tx, env, ctx, i),
            O::BatchGetSecretValue(i) => batch_get(tx, env, ctx, i),
            O::PutSecretValue(i) => put_secret_value(tx, env, ctx, i),
            O::UpdateSecret(i) => update_secret(tx, env, ctx, i),
            O::UpdateSecretVersionStage(i) => update_stage(tx, env, ctx, i),
            O::DeleteSecret(i) => delete_secret(tx, ctx, i),
            O::RestoreSecret(i) => restore_secret(tx, ctx, i),
            O::TagResource(i) => {
                check_tags(&i.tags)?;
                let mut s = load_live(tx, ctx, &i.secret_id)?;
                not_on_replica(&s)?;
                merge_tags(&mut s.tags, &i.tags)?;
                save(tx, env, ctx, Caller::Principal, &mut s, &[])?;
                let mut reply = Reply::empty();
                reply.resources = s.resources();
                Ok(reply)
            }
            O::UntagResource(i) => {
                let mut s = load_live(tx, ctx, &i.secret_id)?;
                not_on_replica(&s)?;
                s.tags.retain(|(k, _)| !i.tag_keys.contains(k));
                save(tx, env, ctx, Caller::Principal, &mut s, &[])?;
                let mut reply = Reply::empty();
                reply.resources = s.resources();
                Ok(reply)
            }
            O::PutResourcePolicy(i) => {
                let v = check_policy(&i.resource_policy)?;
                if crate::iam::principals::missing_principal(tx, &i.resource_policy)?.is_some() {
                    return Err(err(
                        "MalformedPolicyDocumentException",
                        "This resource policy contains an unsupported principal.",
                    ));
                }
                let mut s = load_live(tx, ctx, &i.secret_id)?;
                not_on_replica(&s)?;
                if i.block_public_policy == Some(true) && is_public(&v) {
                    return Err(err(
                        "PublicPolicyException",
                        "BlockPublicPolicy is set, and the resource policy grants wide access to the secret.",
                    ));
                }
                let before = s.policy.replace(i.resource_policy.clone());
                save(tx, env, ctx, Caller::Principal, &mut s, &[])?;
                policy_references(tx, &s, before.as_deref())?;
                Ok(reply_for(&s, Value::Object(arn_name(&s))))
            }
            O::DeleteResourcePolicy(i) => {
                let mut s = load_live(tx, ctx, &i.secret_id)?;
                not_on_replica(&s)?;
                let before = s.policy.take();
                save(tx, env, ctx, Caller::Principal, &mut s, &[])?;
                policy_references(tx, &s, before.as_deref())?;
                Ok(reply_for(&s, Value::Object(arn_name(&s))))
            }
            O::RotateSecret(i) => rotate_secret(tx, env, ctx, i),
            O::CancelRotateSecret(i) => cancel_rotate(tx, env, ctx, i),
            O::ReplicateSecretToRegions(i) => {
                replication::replicate_secret_to_regions(tx, env, ctx, i)
            }
            O::RemoveRegionsFromReplication(i) => replication::remove_regions(tx, ctx, i),
            O::StopReplicationToReplica(i) => replication::stop_replication(tx, ctx, &i.secret_id),
            _ => Err(ApiError::internal("write() on a read-only operation")),
        }
    }
}

fn strip_nulls(v: Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn the_scheduler_reads_only_what_is_due() {
        use palisade_store::{sqlite::SqliteStore, Store};
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("db"), Default::default()).unwrap();
        let t = |secs: i64| OffsetDateTime::from_unix_timestamp(1_800_000_000 + secs).unwrap();
        let record = |name: &str, extra: Value| -> SecretRecord {
            let mut v = json!({
                "arn": format!("arn:aws:secretsmanager:us-east-1:000000000000:secret:{name}-abcdef"),
                "name": name, "account": "000000000000", "region": "us-east-1",
                "created": "2027-01-01T00:00:00Z", "last_changed": "2027-01-01T00:00:00Z",
            });
            if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
                o.extend(e);
            }
            serde_json::from_value(v).unwrap()
        };
        let rfc = |secs: i64| {
            t(secs)
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap()
        };
        let rotating = record(
            "rotating",
            json!({"rotation_enabled": true, "next_rotation": rfc(100)}),
        );
        let deleted = record("deleted", json!({"deletion_date": rfc(50)}));
        let replica = record(
            "replica",
            json!({"rotation_enabled": true, "next_rotation": rfc(10), "primary_region": "eu-west-1"}),
        );
        let off = record(
            "off",
            json!({"rotation_enabled": false, "next_rotation": rfc(10)}),
        );
        let due = |now: i64| -> Vec<String> {
            let mut names = Vec::new();
            store
                .read(&mut |tx| {
                    names = DUE
                        .due(tx, t(now), usize::MAX)
                        .unwrap()
                        .into_iter()
                        .map(|(_, _, n)| n)
                        .collect();
                    assert_eq!(work_due(tx, t(now)).unwrap(), !names.is_empty());
                    Ok(())
                })
                .unwrap();
            names
        };
        type Job = Box<dyn FnOnce(&mut dyn WriteTx) -> Result<(), ApiError> + Send>;
        let write = |f: Job| crate::accounts::write_blocking(&store, f).unwrap();
        let all = [rotating.clone(), deleted.clone(), replica, off];
        write(Box::new(move |tx| {
            all.iter().try_for_each(|s| put_secret(tx, s))
        }));
        assert!(due(49).is_empty());
        assert_eq!(due(50), ["deleted"]);
        assert_eq!(due(100), ["deleted", "rotating"]);
        // A new schedule moves the entry; a purge removes it.
        let mut later = rotating.clone();
        later.next_rotation = Some(t(200));
        write(Box::new(move |tx| {
            put_secret(tx, &later)?;
            purge(tx, &deleted)
        }));
        assert!(due(199).is_empty());
        assert_eq!(due(200), ["rotating"]);
        // Scheduled for deletion, a rotating secret is due at its deletion date only.
        let mut going = rotating.clone();
        going.deletion_date = Some(t(300));
        write(Box::new(move |tx| put_secret(tx, &going)));
        assert!(due(299).is_empty());
        assert_eq!(due(300), ["rotating"]);

        // A data dir from before the index: filed once, at start.
        write(Box::new(|tx| {
            for prefix in ["smd", "smdf"] {
                let p = Key::new().str(prefix).finish();
                let end = palisade_store::keys::prefix_end(&p);
                tx.delete_range(&p, Some(&end))?;
            }
            tx.delete(&crate::keyspace::meta("secrets_due_index"))?;
            Ok(())
        }));
        assert!(due(1000).is_empty());
        crate::due::ensure(&store).unwrap();
        assert_eq!(due(300), ["rotating"]);
        store
            .read(&mut |tx| {
                assert!(tx
                    .get(&crate::keyspace::meta("secrets_due_index"))?
                    .is_some());
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn passwords_follow_the_options() {
        let p = random_password(&GetRandomPasswordInput::default()).unwrap();
        assert_eq!(p.chars().count(), 32);
        assert!(p.chars().any(|c| c.is_ascii_lowercase()));
        assert!(p.chars().any(|c| c.is_ascii_uppercase()));
        assert!(p.chars().any(|c| c.is_ascii_digit()));
        assert!(p.chars().any(|c| PUNCTUATION.contains(c)));
        let i = GetRandomPasswordInput {
            password_length: Some(50),
            exclude_punctuation: Some(true),
            exclude_characters: Some("abc".into()),
            include_space: Some(true),
            ..Default::default()
        };
        let p = random_password(&i).unwrap();
        assert_eq!(p.len(), 50);
        assert!(p.contains(' '));
        assert!(!p
            .chars()
            .any(|c| "abc".contains(c) || PUNCTUATION.contains(c)));
        let none = GetRandomPasswordInput {
            exclude_lowercase: Some(true),
            exclude_uppercase: Some(true),
            exclude_numbers: Some(true),
            exclude_punctuation: Some(true),
            ..Default::default()
        };
        assert_eq!(
            random_password(&none).unwrap_err().code,
            "InvalidParameterException"
        );
        let short = GetRandomPasswordInput {
            password_length: Some(3),
            ..Default::default()
        };
        assert_eq!(
            random_password(&short).unwrap_err().code,
            "InvalidParameterException"
        );
        let zero = GetRandomPasswordInput {
            password_length: Some(0),
            ..Default::default()
        };
        assert_eq!(
            random_password(&zero).unwrap_err().code,
            "ValidationException"
        );
    }

    #[test]
    fn schedules() {
        let t = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(); // 2027-01-15 08:00 UTC (Fri)
        let midnight = day_of(t);
        let rules = |e: &str, d: Option<&str>| RotationRules {
            schedule_expression: Some(e.into()),
            duration: d.map(Into::into),
            ..Default::default()
        };
        // Days: the window opens at midnight UTC N days on and lasts the day.
        let days = RotationRules {
            automatically_after_days: Some(30),
            ..Default::default()
        };
        let n = next_rotation(&days, t).unwrap();
        assert_eq!(n, midnight + time::Duration::days(30));
        assert_eq!(window_end(&days, n), n + time::Duration::seconds(86_399));
        let rate = rules("rate(10 days)", Some("3h"));
        let n = next_rotation(&rate, t).unwrap();
        assert_eq!(n, midnight + time::Duration::days(10));
        assert_eq!(
            window_end(&rate, n),
            n + time::Duration::seconds(3 * 3600 - 1)
        );
        // Hours: windows at midnight and every N hours, one hour long by default.
        let hours = rules("rate(6 hours)", None);
        let n = next_rotation(&hours, t).unwrap();
        assert_eq!(n, midnight + time::Duration::hours(12));
        assert_eq!(window_end(&hours, n), n + time::Duration::seconds(3599));
        let late = midnight + time::Duration::hours(19);
        assert_eq!(
            next_rotation(&hours, late),
            Some(midnight + time::Duration::days(1))
        );
        // Cron: windows open at the expression's hours; a daily one lasts to midnight.
        let cron = rules("cron(0 16 1,15 * ? *)", None);
        let n = next_rotation(&cron, t).unwrap();
        assert_eq!((n.day(), n.hour(), n.minute()), (15, 16, 0));
        assert_eq!(
            window_end(&cron, n),
            n + time::Duration::seconds(8 * 3600 - 1)
        );
        let sunday = rules("cron(0 2 ? * SUN *)", Some("2h"));
        let n = next_rotation(&sunday, t).unwrap();
        assert_eq!(n.weekday(), time::Weekday::Sunday);
        assert_eq!((n.day(), n.hour()), (17, 2));
        let last = rules("cron(0 16 L * ? *)", None);
        assert_eq!(next_rotation(&last, t).unwrap().day(), 31);
        let second_tue = rules("cron(0 0 ? * 3#2 *)", None);
        let n = next_rotation(&second_tue, t).unwrap();
        assert_eq!((n.month(), n.day()), (time::Month::February, 9));
        let last_fri = rules("cron(0 0 ? * 6L *)", None);
        assert_eq!(next_rotation(&last_fri, t).unwrap().day(), 29);
        let every_8 = rules("cron(0 4/8 * * ? *)", Some("4h"));
        assert!(check_rules(&every_8).is_ok());
        assert_eq!(next_rotation(&every_8, t).unwrap().hour(), 12);
        for ok in [
            rules("rate(1 day)", Some("24h")),
            rules("rate(4 hours)", Some("4h")),
            rules("cron(0 20 * * ? *)", Some("4h")),
            rules("cron(0 8 1/7 * ? *)", None),
        ] {
            assert!(check_rules(&ok).is_ok(), "{ok:?}");
        }
        for bad in [
            rules("rate(1 hours)", None),
            rules("rate(0 days)", None),
            rules("rate(1000 days)", None),
            rules("cron(bad)", None),
            rules("every day", None),
            rules("cron(30 2 ? * SUN *)", None),
            rules("cron(0 2 ? * SUN 2027)", None),
            rules("cron(0 2 1 * MON *)", None),
            rules("cron(0 */2 * * ? *)", None),
            rules("rate(4 hours)", Some("5h")),
            rules("rate(5 hours)", Some("5h")),
            rules("cron(0 20 * * ? *)", Some("5h")),
            rules("rate(1 day)", Some("25h")),
            rules("rate(1 day)", Some("0h")),
            rules("rate(1 day)", Some("3")),
            rules("rate(1 day)", Some("1000h")),
        ] {
            assert!(check_rules(&bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            check_rules(&rules("rate(1 day)", Some("3")))
                .unwrap_err()
                .code,
            "ValidationException"
        );
        assert_eq!(
            check_rules(&rules("rate(4 hours)", Some("5h")))
                .unwrap_err()
                .code,
            "InvalidParameterException"
        );
        assert!(check_rules(&RotationRules::default()).is_err());
        let both = RotationRules {
            automatically_after_days: Some(1),
            schedule_expression: Some("rate(1 day)".into()),
            ..Default::default()
        };
        assert!(check_rules(&both).is_err());
        let dur = RotationRules {
            automatically_after_days: Some(1),
            duration: Some("25h".into()),
            ..Default::default()
        };
        assert!(check_rules(&dur).is_err());
    }

    #[test]
    fn rotators_and_arns() {
        assert_eq!(
            rotator(
                "arn:aws:lambda:us-east-1:111122223333:function:palisade-rotation-random-password"
            ),
            Some("random-password")
        );
        assert_eq!(
            rotator("arn:aws:lambda:us-east-1:111122223333:function:my-rotator"),
            None
        );
        assert_eq!(
            parse_arn("arn:aws:secretsmanager:us-east-1:111122223333:secret:a/b-AbCdEf"),
            Some(("us-east-1", "111122223333", "a/b-AbCdEf"))
        );
    }

    fn version(id: &str, stages: &[&str]) -> VersionRecord {
        VersionRecord {
            id: id.into(),
            stages: stages.iter().map(|s| s.to_string()).collect(),
            created: OffsetDateTime::UNIX_EPOCH,
            last_accessed: None,
            kms_key_arn: String::new(),
            prior_kms_key_arn: None,
            binary: false,
            empty: false,
        }
    }

    #[test]
    fn staging_labels_move_as_aws() {
        let mut s = SecretRecord {
            arn: "a".into(),
            name: "n".into(),
            account: "1".into(),
            region: "r".into(),
            description: None,
            kms_key_id: None,
            created: OffsetDateTime::UNIX_EPOCH,
            last_changed: OffsetDateTime::UNIX_EPOCH,
            last_accessed: None,
            last_rotated: None,
            deletion_date: None,
            tags: vec![],
            policy: None,
            rotation_enabled: false,
            rotation_lambda_arn: None,
            rotation_rules: None,
            next_rotation: None,
            last_rotation_failure: None,
            versions: vec![
                version("v1", &[PREVIOUS]),
                version("v2", &[CURRENT, "custom"]),
                version("v3", &[]),
            ],
            hook_run: None,
            replicas: vec![],
            primary_region: None,
        };
        attach_stage(&mut s, CURRENT, "v3");
        assert_eq!(s.version("v3").unwrap().stages, vec![CURRENT]);
        assert_eq!(s.version("v2").unwrap().stages, vec!["custom", PREVIOUS]);
        assert!(s.version("v1").unwrap().stages.is_empty());
        attach_stage(&mut s, "custom", "v1");
        assert_eq!(s.version("v1").unwrap().stages, vec!["custom"]);
        assert_eq!(s.version("v2").unwrap().stages, vec![PREVIOUS]);
    }
}
