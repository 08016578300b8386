//! IAM's durable records and their key layout (all under `iam/<account>/...`).
//!
//! Names of users, groups, roles, policies and instance profiles are unique per account
//! without regard to case, as in AWS, so keys use the lower-cased name and records keep
//! the name as created. Records use AWS's member names so outputs are built from them
//! directly. Every listing is a prefix scan in name order, paged with an opaque marker.

use super::error::IamError;
use crate::error::ApiError;
use base64::Engine as _;
use palisade_store::{keys::Key, Range, ReadTx, WriteTx};
use serde::{de::DeserializeOwned, Serialize};
use std::ops::Bound;
use time::{format_description::well_known::Iso8601, OffsetDateTime};

/// A tag, as IAM's `Tag` shape.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// `PermissionsBoundary` of users and roles.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttachedPermissionsBoundary {
    pub permissions_boundary_type: String,
    pub permissions_boundary_arn: String,
}

impl AttachedPermissionsBoundary {
    pub fn policy(arn: &str) -> Self {
        AttachedPermissionsBoundary {
            permissions_boundary_type: "Policy".to_owned(),
            permissions_boundary_arn: arn.to_owned(),
        }
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct User {
    /// Empty only for the root user's GetUser, which AWS answers without Path and
    /// UserName.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user_name: String,
    pub user_id: String,
    pub arn: String,
    pub create_date: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_last_used: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions_boundary: Option<AttachedPermissionsBoundary>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Group {
    pub path: String,
    pub group_name: String,
    pub group_id: String,
    pub arn: String,
    pub create_date: String,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RoleLastUsed {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Role {
    pub path: String,
    pub role_name: String,
    pub role_id: String,
    pub arn: String,
    pub create_date: String,
    /// The trust policy as the caller sent it (outputs URL-encode it, as AWS does).
    pub assume_role_policy_document: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub max_session_duration: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions_boundary: Option<AttachedPermissionsBoundary>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_last_used: Option<RoleLastUsed>,
}

/// A customer managed policy (AWS managed ones come from `palisade_iam_data`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ManagedPolicy {
    pub policy_name: String,
    pub policy_id: String,
    pub arn: String,
    pub path: String,
    pub default_version_id: String,
    pub attachment_count: i64,
    pub permissions_boundary_usage_count: i64,
    pub is_attachable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub create_date: String,
    pub update_date: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
    /// The number the next version id takes (`v{n}`); not an AWS member.
    #[serde(default)]
    pub next_version: u32,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyVersion {
    /// The document as the caller sent it.
    pub document: String,
    pub version_id: String,
    pub is_default_version: bool,
    pub create_date: String,
}

/// A virtual MFA device. The TOTP seed is sealed under the master key with the
/// lower-cased serial number as associated data (see `iam::totp`); it never leaves the
/// store in clear except once, in CreateVirtualMFADevice's answer.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VirtualMfaDevice {
    pub serial_number: String,
    pub path: String,
    pub name: String,
    /// base64 of the sealed seed bytes.
    pub sealed_seed: String,
    pub create_date: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_date: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
    /// The last TOTP time step accepted on the business clock: codes at or before it are
    /// refused (a code works once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_step: Option<u64>,
    /// The same on the wall clock, for codes an authenticator computed from real time
    /// once the business clock was moved ([`super::totp`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_wall_step: Option<u64>,
    /// The most recent steps accepted, on either clock: none of them is accepted again,
    /// whichever clock it would now be current on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub used_steps: Vec<u64>,
    /// Steps between the device's clock and ours, learnt by ResyncMFADevice.
    #[serde(default)]
    pub drift_steps: i64,
}

/// An MFA device enabled for a user (IAM's `MFADevice` shape).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserMfaDevice {
    pub user_name: String,
    pub serial_number: String,
    pub enable_date: String,
}

/// Which kind of principal entity an inline policy or attachment belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityKind {
    User,
    Group,
    Role,
}

impl EntityKind {
    pub fn tag(self) -> &'static str {
        match self {
            EntityKind::User => "user",
            EntityKind::Group => "group",
            EntityKind::Role => "role",
        }
    }
}

// ---- time, ids, names -------------------------------------------------------------

/// IAM's timestamp form in XML: ISO 8601, UTC, whole seconds (`2026-01-02T03:04:05Z`).
pub fn iso(t: OffsetDateTime) -> String {
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&Iso8601::DEFAULT)
        .map(|s| s.replace(".000000000", ""))
        .unwrap_or_default()
}

/// Parses a timestamp written by [`iso`].
pub fn parse_iso(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Iso8601::DEFAULT).ok()
}

/// A unique id as IAM makes them: a 4-letter type prefix (`AIDA` user, `AGPA` group,
/// `AROA` role, `ANPA` policy, `AIPA` instance profile) and 17 base32 characters.
pub fn new_id(prefix: &str) -> Result<String, ApiError> {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut bytes = [0u8; 17];
    palisade_store::seal::fill_random(&mut bytes)
        .map_err(|_| ApiError::internal("random source failed"))?;
    let tail: String = bytes
        .iter()
        .map(|b| char::from(ALPHABET.get(usize::from(*b) % 32).copied().unwrap_or(b'A')))
        .collect();
    Ok(format!("{prefix}{tail}"))
}

/// `arn:aws:iam::<account>:<kind><path><name>`.
pub fn arn(account: &str, kind: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:{kind}{path}{name}")
}

fn constraint(field: &str, value: &str, rule: &str) -> IamError {
    // AWS: "1 validation error detected: Value 'x' at 'userName' failed to satisfy
    // constraint: Member must have length less than or equal to 64"
    IamError::Validation(format!(
        "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: {rule}"
    ))
}

/// Names of users, groups, roles, policies, instance profiles: `[\w+=,.@-]+`, 1..=max.
/// Lengths answer in the model's words; a character outside the pattern in IAM's own:
/// "The specified value for userName is invalid. It must contain only alphanumeric
/// characters and/or the following: +=,.@_-" (ValidationError, as IAM answers CreateUser).
pub fn validate_name(field: &str, value: &str, max: usize) -> Result<(), IamError> {
    let ok = |c: char| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c);
    check_shape(field, value, (1, max), |_| true, "")?;
    if value.chars().all(ok) {
        Ok(())
    } else {
        Err(IamError::Validation(format!(
            "The specified value for {field} is invalid. It must contain only alphanumeric characters and/or the following: +=,.@_-"
        )))
    }
}

/// A string member's model constraints, reported as AWS does, the first one violated:
/// the minimum length, the maximum, then the pattern (`ok` per character).
pub fn check_shape(
    field: &str,
    value: &str,
    (min, max): (usize, usize),
    ok: impl Fn(char) -> bool,
    pattern: &str,
) -> Result<(), IamError> {
    let len = value.chars().count();
    if len < min {
        return Err(constraint(
            field,
            value,
            &format!("Member must have length greater than or equal to {min}"),
        ));
    }
    if len > max {
        return Err(constraint(
            field,
            value,
            &format!("Member must have length less than or equal to {max}"),
        ));
    }
    if !value.chars().all(ok) {
        return Err(constraint(
            field,
            value,
            &format!("Member must satisfy regular expression pattern: {pattern}"),
        ));
    }
    Ok(())
}

/// Paths: `/` or `/.../` of printable ASCII, at most 512 characters.
pub fn validate_path(field: &str, value: &str) -> Result<(), IamError> {
    // `/`, or `/` + one or more printable characters + `/` (so `//` is not a path).
    let ok = value.len() <= 512
        && (value == "/" || value.len() >= 3)
        && value.starts_with('/')
        && value.ends_with('/')
        && value.bytes().all(|b| (0x21..=0x7E).contains(&b));
    if ok {
        Ok(())
    } else {
        Err(constraint(
            field,
            value,
            "Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)",
        ))
    }
}

/// A `PathPrefix` of the List* operations, defaulting to `/`.
pub fn path_prefix(value: Option<&str>) -> Result<&str, IamError> {
    let Some(v) = value else {
        return Ok("/");
    };
    let ok = (1..=512).contains(&v.len())
        && v.starts_with('/')
        && v.bytes().all(|b| (0x21..=0x7F).contains(&b));
    if ok {
        Ok(v)
    } else {
        Err(constraint(
            "pathPrefix",
            v,
            "Member must satisfy regular expression pattern: \\u002F[\\u0021-\\u007F]*",
        ))
    }
}

/// Tags: at most 50, keys 1..=128 and values 0..=256 characters, keys unique (ignoring case).
pub fn validate_tags(tags: &[Tag]) -> Result<(), IamError> {
    // The model's tagListType: at most 50 in one request (more than 50 on the entity
    // once merged is the operation's LimitExceeded).
    if tags.len() > 50 {
        return Err(IamError::Validation(
            "1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50".into(),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    let violation = |n: usize, what: &str, rule: String| {
        IamError::Validation(format!(
            "1 validation error detected: Value at 'tags.{n}.member.{what}' failed to satisfy constraint: Member must {rule}"
        ))
    };
    for (i, t) in tags.iter().enumerate() {
        let n = i + 1;
        let klen = t.key.chars().count();
        if klen == 0 {
            return Err(violation(
                n,
                "key",
                "have length greater than or equal to 1".into(),
            ));
        }
        if klen > 128 {
            return Err(violation(
                n,
                "key",
                "have length less than or equal to 128".into(),
            ));
        }
        if t.value.chars().count() > 256 {
            return Err(violation(
                n,
                "value",
                "have length less than or equal to 256".into(),
            ));
        }
        // tagKeyType's pattern is `[...]+`, tagValueType's `[...]*`.
        for (what, text, repeat) in [("key", &t.key, '+'), ("value", &t.value, '*')] {
            if !crate::input::is_tag_text(text) {
                return Err(violation(
                    n,
                    what,
                    format!("satisfy regular expression pattern: [\\p{{L}}\\p{{Z}}\\p{{N}}_.:/=+\\-@]{repeat}"),
                ));
            }
        }
        // AWS reserves the prefix for its own tags.
        if t.key
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("aws:"))
        {
            return Err(IamError::InvalidInput(
                "Tag keys starting with 'aws:' are reserved for use by AWS.".into(),
            ));
        }
        if !seen.insert(t.key.to_lowercase()) {
            return Err(IamError::InvalidInput(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.".into(),
            ));
        }
    }
    Ok(())
}

// ---- keys --------------------------------------------------------------------------

fn base(account: &str, table: &str) -> Key {
    Key::new().str("iam").str(account).str(table)
}

/// Every entity of one table (`user`, `group`, `role`, `policy`, ...), in name order.
pub fn table_prefix(account: &str, table: &str) -> Vec<u8> {
    base(account, table).finish()
}

/// (account, table, name) of an IAM entity ARN that has no path
/// (`arn:aws:iam::ACCOUNT:user/NAME`, also `group/`, `role/`, `instance-profile/`), as
/// operations that take only a name build it.
pub fn unpathed_entity_arn(arn: &str) -> Option<(&str, &'static str, &str)> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (account, resource) = rest.split_once(':')?;
    let (kind, name) = resource.split_once('/')?;
    let table = match kind {
        "user" => "user",
        "group" => "group",
        "role" => "role",
        "instance-profile" => "instanceprofile",
        _ => return None,
    };
    (!name.is_empty() && !name.contains('/') && !name.contains('*'))
        .then_some((account, table, name))
}

/// Condition keys of the IAM user, role, customer managed policy or instance profile `arn`
/// names (path included): its tags (`aws:ResourceTag/*`, `iam:ResourceTag/*`) and, for
/// users and roles, its permissions boundary (`iam:PermissionsBoundary`). Empty for other
/// ARNs and missing entities.
pub fn entity_facts(tx: &dyn ReadTx, arn: &str) -> Result<Vec<(String, Vec<String>)>, ApiError> {
    let Some(rest) = arn.strip_prefix("arn:aws:iam::") else {
        return Ok(Vec::new());
    };
    let Some((account, resource)) = rest.split_once(':') else {
        return Ok(Vec::new());
    };
    let (kind, path_name) = resource.split_once('/').unwrap_or((resource, ""));
    let name = path_name.rsplit('/').next().unwrap_or_default();
    let table = match kind {
        "user" => "user",
        "role" => "role",
        "policy" => super::policies::TABLE,
        "instance-profile" => "instanceprofile",
        _ => return Ok(Vec::new()),
    };
    if name.is_empty() {
        return Ok(Vec::new());
    }
    // Every taggable record keeps `Arn`, `Tags` and (users, roles) `PermissionsBoundary`.
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Taggable {
        arn: String,
        #[serde(default)]
        tags: Vec<Tag>,
        #[serde(default)]
        permissions_boundary: Option<AttachedPermissionsBoundary>,
    }
    let Some(entity) = get::<Taggable>(tx, &entity_key(account, table, name))? else {
        return Ok(Vec::new());
    };
    if entity.arn != arn {
        return Ok(Vec::new());
    }
    let mut facts = crate::authz::resource_tags(
        Some("iam:ResourceTag"),
        entity
            .tags
            .iter()
            .map(|t| (t.key.as_str(), t.value.as_str())),
    );
    if let Some(b) = entity.permissions_boundary {
        facts.push((
            "iam:PermissionsBoundary".to_owned(),
            vec![b.permissions_boundary_arn],
        ));
    }
    Ok(facts)
}

/// The ARN, path included, of the entity an [`unpathed_entity_arn`] names, if it exists.
pub fn arn_with_path(tx: &dyn ReadTx, arn: &str) -> Result<Option<String>, ApiError> {
    let Some((account, table, name)) = unpathed_entity_arn(arn) else {
        return Ok(None);
    };
    let key = entity_key(account, table, name);
    Ok(match table {
        "user" => get::<User>(tx, &key)?.map(|e| e.arn),
        "group" => get::<Group>(tx, &key)?.map(|e| e.arn),
        "role" => get::<Role>(tx, &key)?.map(|e| e.arn),
        _ => get::<InstanceProfile>(tx, &key)?.map(|e| e.arn),
    }
    // Only a path differs: the name as stored may differ in case.
    .filter(|real| real != arn))
}

/// One entity by name (case-insensitive).
pub fn entity_key(account: &str, table: &str, name: &str) -> Vec<u8> {
    base(account, table).str(&name.to_lowercase()).finish()
}

/// Versions of a customer managed policy, by its lower-cased name.
pub fn policy_version_key(account: &str, policy_name: &str, version_id: &str) -> Vec<u8> {
    base(account, "policyver")
        .str(&policy_name.to_lowercase())
        .str(version_id)
        .finish()
}

pub fn policy_versions_prefix(account: &str, policy_name: &str) -> Vec<u8> {
    base(account, "policyver")
        .str(&policy_name.to_lowercase())
        .finish()
}

/// Inline policy `policy_name` of a user, group or role.
pub fn inline_key(account: &str, kind: EntityKind, entity: &str, policy_name: &str) -> Vec<u8> {
    base(account, "inline")
        .str(kind.tag())
        .str(&entity.to_lowercase())
        .str(policy_name)
        .finish()
}

pub fn inline_prefix(account: &str, kind: EntityKind, entity: &str) -> Vec<u8> {
    base(account, "inline")
        .str(kind.tag())
        .str(&entity.to_lowercase())
        .finish()
}

/// Managed policy `policy_arn` attached to a user, group or role.
pub fn attachment_key(account: &str, kind: EntityKind, entity: &str, policy_arn: &str) -> Vec<u8> {
    base(account, "attach")
        .str(kind.tag())
        .str(&entity.to_lowercase())
        .str(policy_arn)
        .finish()
}

pub fn attachments_prefix(account: &str, kind: EntityKind, entity: &str) -> Vec<u8> {
    base(account, "attach")
        .str(kind.tag())
        .str(&entity.to_lowercase())
        .finish()
}

/// Reverse index: entities a managed policy is attached to.
pub fn attached_to_key(account: &str, policy_arn: &str, kind: EntityKind, entity: &str) -> Vec<u8> {
    base(account, "attachedto")
        .str(policy_arn)
        .str(kind.tag())
        .str(&entity.to_lowercase())
        .finish()
}

pub fn attached_to_prefix(account: &str, policy_arn: &str) -> Vec<u8> {
    base(account, "attachedto").str(policy_arn).finish()
}

/// Reverse index: users and roles whose permissions boundary a managed policy is (value:
/// an [`AttachedTo`]).
pub fn bounded_by_key(account: &str, policy_arn: &str, kind: EntityKind, entity: &str) -> Vec<u8> {
    base(account, "boundedby")
        .str(policy_arn)
        .str(kind.tag())
        .str(&entity.to_lowercase())
        .finish()
}

pub fn bounded_by_prefix(account: &str, policy_arn: &str) -> Vec<u8> {
    base(account, "boundedby").str(policy_arn).finish()
}

/// Group membership, both ways.
pub fn membership_key(account: &str, user: &str, group: &str) -> Vec<u8> {
    base(account, "usergroups")
        .str(&user.to_lowercase())
        .str(&group.to_lowercase())
        .finish()
}

pub fn user_groups_prefix(account: &str, user: &str) -> Vec<u8> {
    base(account, "usergroups")
        .str(&user.to_lowercase())
        .finish()
}

pub fn group_member_key(account: &str, group: &str, user: &str) -> Vec<u8> {
    base(account, "groupusers")
        .str(&group.to_lowercase())
        .str(&user.to_lowercase())
        .finish()
}

pub fn group_members_prefix(account: &str, group: &str) -> Vec<u8> {
    base(account, "groupusers")
        .str(&group.to_lowercase())
        .finish()
}

/// Access keys of a user (the secret lives sealed in `crate::credentials`).
pub fn user_access_key_key(account: &str, user: &str, access_key_id: &str) -> Vec<u8> {
    base(account, "userkeys")
        .str(&user.to_lowercase())
        .str(access_key_id)
        .finish()
}

pub fn user_access_keys_prefix(account: &str, user: &str) -> Vec<u8> {
    base(account, "userkeys").str(&user.to_lowercase()).finish()
}

/// A virtual MFA device by serial number (case-insensitive, as IAM names).
pub fn virtual_mfa_key(account: &str, serial_number: &str) -> Vec<u8> {
    base(account, "vmfa")
        .str(&serial_number.to_lowercase())
        .finish()
}

/// The MFA devices enabled for a user; [`user_mfa_prefix`] is
/// `entity_key(account, "usermfa", user)`, which DeleteUser checks.
pub fn user_mfa_key(account: &str, user: &str, serial_number: &str) -> Vec<u8> {
    base(account, "usermfa")
        .str(&user.to_lowercase())
        .str(&serial_number.to_lowercase())
        .finish()
}

pub fn user_mfa_prefix(account: &str, user: &str) -> Vec<u8> {
    entity_key(account, "usermfa", user)
}

/// Identity providers (`oidc` / `saml`) by their ARN.
pub fn provider_key(account: &str, kind: &str, arn: &str) -> Vec<u8> {
    base(account, "idp").str(kind).str(arn).finish()
}

pub fn providers_prefix(account: &str, kind: &str) -> Vec<u8> {
    base(account, "idp").str(kind).finish()
}

/// Account-wide singletons (`alias`, `password-policy`, `credential-report`, ...).
pub fn account_item_key(account: &str, name: &str) -> Vec<u8> {
    base(account, "account").str(name).finish()
}

// ---- record IO ---------------------------------------------------------------------

pub fn get<T: DeserializeOwned>(tx: &dyn ReadTx, key: &[u8]) -> Result<Option<T>, ApiError> {
    match tx.get(key)? {
        Some(raw) => serde_json::from_slice(&raw)
            .map(Some)
            .map_err(ApiError::internal),
        None => Ok(None),
    }
}

pub fn put<T: Serialize>(tx: &mut dyn WriteTx, key: &[u8], value: &T) -> Result<(), ApiError> {
    let raw = serde_json::to_vec(value).map_err(ApiError::internal)?;
    tx.put(key, &raw)?;
    Ok(())
}

/// Every entry under `prefix` (for small, bounded sets: a user's groups, keys, policies).
pub fn scan_all(tx: &dyn ReadTx, prefix: &[u8]) -> Result<Vec<palisade_store::Entry>, ApiError> {
    let mut end = Vec::new();
    Ok(tx.scan(&Range::prefix(prefix, &mut end), usize::MAX)?)
}

/// Deletes every entry under `prefix`.
pub fn delete_prefix(tx: &mut dyn WriteTx, prefix: &[u8]) -> Result<(), ApiError> {
    let end = palisade_store::keys::prefix_end(prefix);
    tx.delete_range(prefix, if end.is_empty() { None } else { Some(&end) })?;
    Ok(())
}

/// IAM records listed by path prefix (users, groups, roles, instance profiles).
pub trait HasPath {
    fn path(&self) -> &str;
}

macro_rules! has_path {
    ($($t:ty),*) => {$(
        impl HasPath for $t {
            fn path(&self) -> &str {
                &self.path
            }
        }
    )*};
}
has_path!(User, Group, Role, InstanceProfile);

/// One page of `table`'s records whose path starts with `path_prefix` (default `/`), as
/// the List* operations with a `PathPrefix` answer.
pub fn list_by_path<T: DeserializeOwned + HasPath>(
    tx: &dyn ReadTx,
    account: &str,
    table: &str,
    path_prefix: Option<&str>,
    marker: Option<&str>,
    max_items: Option<i64>,
) -> Result<Page<T>, ApiError> {
    let prefix = self::path_prefix(path_prefix)?;
    list_page(
        tx,
        &table_prefix(account, table),
        marker,
        max_items,
        |r: &T| r.path().starts_with(prefix),
    )
}

/// A key suffix of at most this many bytes is a marker whole: its base64 is 300
/// characters, inside IAM's markerType (1..320 characters).
const MARKER_WHOLE: usize = 225;
/// A longer one (a long path) keeps this many bytes, then its hash.
const MARKER_HEAD: usize = 200;

/// The marker for resuming a listing under `prefix` at `key`: the key after the prefix
/// (which the request implies), URL-safe base64, `~`, 8 hex digits of its SHA-256 (so a
/// marker IAM never issued is refused); or, when that would pass 320 characters, the
/// first [`MARKER_HEAD`] bytes, `.`, and 16 hex digits of the whole suffix's SHA-256
/// ([`marker_start`] finds the key among the few that share that head).
pub fn encode_marker(prefix: &[u8], key: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let suffix = key.get(prefix.len()..).unwrap_or_default();
    if suffix.len() <= MARKER_WHOLE {
        return format!("{}~{}", b64.encode(suffix), suffix_hash(suffix, 4));
    }
    let head = suffix.get(..MARKER_HEAD).unwrap_or(suffix);
    format!("{}.{}", b64.encode(head), suffix_hash(suffix, 8))
}

/// The first `bytes` bytes of the SHA-256 of `suffix`, in hex.
fn suffix_hash(suffix: &[u8], bytes: usize) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, suffix);
    d.as_ref()
        .iter()
        .take(bytes)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The key a marker from [`encode_marker`] resumes at. A hashed marker whose key is gone
/// (deleted between pages) resumes at the first key sharing its head: items may repeat,
/// none is skipped.
pub fn marker_start(tx: &dyn ReadTx, prefix: &[u8], marker: &str) -> Result<Vec<u8>, ApiError> {
    let invalid = || ApiError::from(IamError::InvalidInput("Invalid Marker.".into()));
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    if let Some((whole, hash)) = marker.split_once('~') {
        let suffix = b64.decode(whole).map_err(|_| invalid())?;
        if suffix_hash(&suffix, 4) != hash {
            return Err(invalid());
        }
        let mut key = prefix.to_vec();
        key.extend(suffix);
        return Ok(key);
    }
    let Some((head, hash)) = marker.split_once('.') else {
        return Err(invalid());
    };
    if head.is_empty() || hash.len() != 16 {
        return Err(invalid());
    }
    let mut key = prefix.to_vec();
    key.extend(b64.decode(head).map_err(|_| invalid())?);
    let end = palisade_store::keys::prefix_end(&key);
    let found = scan_each(tx, key.clone(), &end, |k, _| {
        let same = suffix_hash(k.get(prefix.len()..).unwrap_or_default(), 8) == hash;
        Ok(same.then(|| k.to_vec()))
    })?;
    Ok(found.unwrap_or(key))
}

/// Visits the records from `from` (included) to `end` (excluded; empty: no end) in key
/// order, in batches, until `visit` returns something.
fn scan_each<R>(
    tx: &dyn ReadTx,
    mut from: Vec<u8>,
    end: &[u8],
    mut visit: impl FnMut(&[u8], &[u8]) -> Result<Option<R>, ApiError>,
) -> Result<Option<R>, ApiError> {
    loop {
        let range = Range {
            start: Bound::Included(&from),
            end: if end.is_empty() {
                Bound::Unbounded
            } else {
                Bound::Excluded(end)
            },
            reverse: false,
        };
        let batch = tx.scan(&range, 256)?;
        let done = batch.len() < 256;
        let mut last = None;
        for (key, value) in batch {
            if let Some(r) = visit(&key, &value)? {
                return Ok(Some(r));
            }
            last = Some(key);
        }
        match (done, last) {
            (false, Some(mut k)) => {
                k.push(0);
                from = k;
            }
            _ => return Ok(None),
        }
    }
}

/// One page of a listing.
pub struct Page<T> {
    pub items: Vec<T>,
    /// Set when more items follow: the caller's next `Marker`.
    pub marker: Option<String>,
}

impl<T> Page<T> {
    pub fn is_truncated(&self) -> bool {
        self.marker.is_some()
    }
}

/// A `MaxItems` of the List* operations: 1..=1000, default 100.
pub fn max_items(n: Option<i64>) -> Result<usize, ApiError> {
    let rule = match n {
        None => return Ok(100),
        Some(n) if (1..=1000).contains(&n) => return Ok(usize::try_from(n).unwrap_or(100)),
        Some(n) if n < 1 => "greater than or equal to 1",
        Some(_) => "less than or equal to 1000",
    };
    Err(IamError::Validation(format!(
        "1 validation error detected: Value '{}' at 'maxItems' failed to satisfy constraint: Member must have value {rule}",
        n.unwrap_or_default()
    ))
    .into())
}

/// Lists records under `prefix` in key order, keeping those `keep` accepts, starting at
/// `marker`, at most `max_items` (1..=1000, default 100, as IAM).
pub fn list_page<T: DeserializeOwned>(
    tx: &dyn ReadTx,
    prefix: &[u8],
    marker: Option<&str>,
    max_items: Option<i64>,
    mut keep: impl FnMut(&T) -> bool,
) -> Result<Page<T>, ApiError> {
    let max = self::max_items(max_items)?;
    let start = match marker {
        Some(m) => Some(marker_start(tx, prefix, m)?),
        None => None,
    };
    let end = palisade_store::keys::prefix_end(prefix);
    let from = start.unwrap_or_else(|| prefix.to_vec());
    let mut items = Vec::new();
    let marker = scan_each(tx, from, &end, |key, value| {
        let item: T = serde_json::from_slice(value).map_err(ApiError::internal)?;
        if keep(&item) {
            if items.len() == max {
                return Ok(Some(encode_marker(prefix, key)));
            }
            items.push(item);
        }
        Ok(None)
    })?;
    Ok(Page { items, marker })
}

// ---- groups, attachments, instance profiles -------------------------------------------

/// The value at both [`membership_key`] and [`group_member_key`]: the names as created.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Membership {
    pub user_name: String,
    pub group_name: String,
}

/// The value at [`attachment_key`] (IAM's `AttachedPolicy` shape).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttachedPolicy {
    pub policy_name: String,
    pub policy_arn: String,
}

/// The value at [`attached_to_key`]: which entity (`user`/`group`/`role`), by its name as
/// created.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttachedTo {
    pub entity_type: String,
    pub entity_name: String,
}

/// An instance profile (`entity_key(account, "instanceprofile", name)`); `roles` holds
/// role names (at most one), outputs load the roles.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstanceProfile {
    pub path: String,
    pub instance_profile_name: String,
    pub instance_profile_id: String,
    pub arn: String,
    pub create_date: String,
    #[serde(default)]
    pub role_names: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

/// Reverse index: instance profiles a role is in (value: the profile name as created).
pub fn role_instance_profile_key(account: &str, role: &str, profile: &str) -> Vec<u8> {
    base(account, "roleprofiles")
        .str(&role.to_lowercase())
        .str(&profile.to_lowercase())
        .finish()
}

pub fn role_instance_profiles_prefix(account: &str, role: &str) -> Vec<u8> {
    base(account, "roleprofiles")
        .str(&role.to_lowercase())
        .finish()
}

/// The last string part of a key (an inline policy's name from its [`inline_key`]).
pub fn last_str_part(key: &[u8]) -> Option<String> {
    let mut d = palisade_store::keys::Decoder::new(key);
    let mut last = None;
    while let Ok(Some(part)) = d.part() {
        if let palisade_store::keys::Part::Str(s) = part {
            last = Some(s);
        }
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_entity_arns_without_a_path_are_resolved() {
        let a = "arn:aws:iam::111122223333:";
        assert_eq!(
            unpathed_entity_arn(&format!("{a}user/alice")),
            Some(("111122223333", "user", "alice"))
        );
        assert_eq!(
            unpathed_entity_arn(&format!("{a}instance-profile/web")),
            Some(("111122223333", "instanceprofile", "web"))
        );
        for other in [
            format!("{a}user/eng/alice"),
            format!("{a}user/*"),
            format!("{a}user/"),
            format!("{a}policy/p"),
            format!("{a}mfa/alice"),
            "arn:aws:sts::111122223333:assumed-role/r/s".to_owned(),
            "*".to_owned(),
        ] {
            assert_eq!(unpathed_entity_arn(&other), None, "{other}");
        }
    }
}
