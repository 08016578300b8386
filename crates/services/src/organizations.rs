//! AWS Organizations (awsJson1.1, `AWSOrganizationsV20161128`): one organization per
//! management account, its root, OUs, member accounts (created with their own root and an
//! `OrganizationAccountAccessRole`), service and resource control policies and where they
//! are attached, tags and delegated administrators.
//!
//! For the authorizer: [`policies_for_account`] (the SCP / RCP documents of every level,
//! root first) and [`org_facts`] (aws:PrincipalOrgID / aws:PrincipalOrgPaths), both cheap
//! point reads and small prefix scans over this module's keys.
//!
//! Key layout (all under `orgs`):
//! - `orgs/org/<org>`: the [`Organization`].
//! - `orgs/acct/<account>`: [`Member`] (which org, which parent); the account -> parent index.
//! - `orgs/email/<lower email>`: account id, for email uniqueness.
//! - `orgs/o/<org>/root/<root>`, `.../ou/<ou>`: [`Root`] and [`Ou`] (an OU knows its parent).
//! - `orgs/o/<org>/child/<parent>/<ACCOUNT|ORGANIZATIONAL_UNIT>/<id>`: parent -> children.
//! - `orgs/o/<org>/pol/<policy>`: customer policies; AWS managed ones are built in.
//! - `orgs/o/<org>/att/<target>/<type>/<policy>` and `.../tgt/<policy>/<target>`: attachments.
//! - `orgs/o/<org>/car/<id>`, `.../tag/<resource>/<key>`, `.../deleg/<account>/<service>`.

use crate::{
    authz::AuthzCheck,
    context::{Principal, RequestContext},
    env::Env,
    error::ApiError,
    iam::{self, model::EntityKind},
    input::Input,
    keyspace, Reply,
};
use palisade_store::{
    keys::{Key, Part},
    ReadTx, WriteTx,
};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

pub const SCP: &str = "SERVICE_CONTROL_POLICY";
pub const RCP: &str = "RESOURCE_CONTROL_POLICY";
const ACCOUNT: &str = "ACCOUNT";
const OU: &str = "ORGANIZATIONAL_UNIT";
const ROOT: &str = "ROOT";
const MAX_POLICY_CHARS: usize = 5120;
const MAX_POLICIES_PER_TARGET: usize = 5;
const FULL_SCP_ID: &str = "p-FullAWSAccess";
const FULL_RCP_ID: &str = "p-RCPFullAWSAccess";
const FULL_SCP_DOC: &str =
    "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\n      \"Effect\": \"Allow\",\n      \"Action\": \"*\",\n      \"Resource\": \"*\"\n    }\n  ]\n}";
const FULL_RCP_DOC: &str =
    "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\n      \"Effect\": \"Allow\",\n      \"Principal\": \"*\",\n      \"Action\": \"*\",\n      \"Resource\": \"*\"\n    }\n  ]\n}";
const ADMIN_POLICY_ARN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";
const ORGS_PRINCIPAL: &str = "organizations.amazonaws.com";

// ---- errors ---------------------------------------------------------------------------

fn err(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(code, 400, message)
}
fn not_in_use() -> ApiError {
    err(
        "AWSOrganizationsNotInUseException",
        "Your account is not a member of an organization.",
    )
}
fn access_denied() -> ApiError {
    err(
        "AccessDeniedException",
        "You don't have permissions to access this resource.",
    )
}
fn constraint(reason: &str, message: &str) -> ApiError {
    err("ConstraintViolationException", message).with_reason(reason)
}
fn invalid_input(reason: &str, message: &str) -> ApiError {
    err("InvalidInputException", message).with_reason(reason)
}
fn account_not_found() -> ApiError {
    err(
        "AccountNotFoundException",
        "You specified an account that doesn't exist.",
    )
}
fn parent_not_found() -> ApiError {
    err(
        "ParentNotFoundException",
        "We can't find a root or OU with the ParentId that you specified.",
    )
}
fn ou_not_found() -> ApiError {
    err(
        "OrganizationalUnitNotFoundException",
        "We can't find an OU with the OrganizationalUnitId that you specified.",
    )
}
fn policy_not_found() -> ApiError {
    err(
        "PolicyNotFoundException",
        "We can't find a policy with the PolicyId that you specified.",
    )
}
fn target_not_found() -> ApiError {
    err(
        "TargetNotFoundException",
        "We can't find a root, OU, account, or policy with the TargetId that you specified.",
    )
}
/// Organization policies need all features: "with CONSOLIDATED_BILLING ... no policy types
/// are enabled by default and you can't use organization policies" (CreateOrganization),
/// and CreatePolicy and EnablePolicyType list this error. The message is the model's
/// description of the error; AWS's own wording is not documented.
fn require_all_features(org: &Organization) -> Result<(), ApiError> {
    if all_features(org) {
        return Ok(());
    }
    Err(err(
        "PolicyTypeNotAvailableForOrganizationException",
        "You can't use the specified policy type with the feature set currently enabled for this organization.",
    ))
}

fn all_features(org: &Organization) -> bool {
    org.feature_set == "ALL"
}

fn not_all_features() -> ApiError {
    constraint(
        "ORGANIZATION_NOT_IN_ALL_FEATURES_MODE",
        "You attempted to perform an operation that requires the organization to be configured to support all features. An organization that supports only consolidated billing features can't perform this operation.",
    )
}

/// A service principal Organizations knows: an AWS service's, `NAME.amazonaws.com`. AWS
/// checks it against the services that integrate with Organizations, a list that grows
/// with AWS; Palisade refuses only what cannot be an AWS service principal.
fn check_service_principal(service: &str) -> Result<(), ApiError> {
    let known = service
        .strip_suffix(".amazonaws.com")
        .is_some_and(|name| !name.is_empty() && !name.ends_with('.'));
    if known {
        Ok(())
    } else {
        Err(invalid_input(
            "UNRECOGNIZED_SERVICE_PRINCIPAL",
            "You specified a service principal that isn't recognized.",
        ))
    }
}

/// A delegated administrator is registered for a service with trusted access only
/// (ConstraintViolationException reason SERVICE_ACCESS_NOT_ENABLED: "Call the
/// EnableAWSServiceAccess API first"), in an organization with all features.
fn require_trusted_access(
    tx: &dyn ReadTx,
    org: &Organization,
    service: &str,
) -> Result<(), ApiError> {
    if !all_features(org) {
        return Err(not_all_features());
    }
    check_service_principal(service)?;
    if tx.get(&access_key(&org.id, service))?.is_none() {
        return Err(constraint(
            "SERVICE_ACCESS_NOT_ENABLED",
            "You attempted to register a delegated administrator before you enabled service access. Call the EnableAWSServiceAccess API first.",
        ));
    }
    Ok(())
}

fn policy_type_not_enabled() -> ApiError {
    err(
        "PolicyTypeNotEnabledException",
        "This operation can be performed only for enabled policy types.",
    )
}

// ---- records --------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyTypeSummary {
    #[serde(rename = "Type")]
    pub kind: String,
    pub status: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Organization {
    pub id: String,
    pub arn: String,
    pub feature_set: String,
    pub master_account_arn: String,
    pub master_account_id: String,
    pub master_account_email: String,
    pub available_policy_types: Vec<PolicyTypeSummary>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Root {
    pub id: String,
    pub arn: String,
    pub name: String,
    pub policy_types: Vec<PolicyTypeSummary>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Ou {
    id: String,
    arn: String,
    name: String,
    parent_id: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
struct OuOut {
    id: String,
    arn: String,
    name: String,
}

impl From<&Ou> for OuOut {
    fn from(o: &Ou) -> Self {
        OuOut {
            id: o.id.clone(),
            arn: o.arn.clone(),
            name: o.name.clone(),
        }
    }
}

/// An account's membership: the `orgs/acct/<id>` record.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Member {
    org_id: String,
    parent_id: String,
    id: String,
    arn: String,
    email: String,
    name: String,
    status: String,
    state: String,
    joined_method: String,
    joined: i64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
struct AccountOut {
    id: String,
    arn: String,
    email: String,
    name: String,
    status: String,
    state: String,
    joined_method: String,
    joined_timestamp: i64,
}

impl From<&Member> for AccountOut {
    fn from(m: &Member) -> Self {
        AccountOut {
            id: m.id.clone(),
            arn: m.arn.clone(),
            email: m.email.clone(),
            name: m.name.clone(),
            status: m.status.clone(),
            state: m.state.clone(),
            joined_method: m.joined_method.clone(),
            joined_timestamp: m.joined,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PolicySummary {
    id: String,
    arn: String,
    name: String,
    description: String,
    #[serde(rename = "Type")]
    kind: String,
    aws_managed: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StoredPolicy {
    policy_summary: PolicySummary,
    content: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateAccountStatus {
    id: String,
    account_name: String,
    state: String,
    requested_timestamp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    completed_timestamp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    failure_reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Tag {
    key: String,
    value: String,
}

// ---- keys -----------------------------------------------------------------------------

fn k() -> Key {
    Key::new().str("orgs")
}
fn org_key(org: &str) -> Vec<u8> {
    k().str("org").str(org).finish()
}
fn member_key(account: &str) -> Vec<u8> {
    k().str("acct").str(account).finish()
}
fn email_key(email: &str) -> Vec<u8> {
    k().str("email").str(&email.to_lowercase()).finish()
}
fn in_org(org: &str) -> Key {
    k().str("o").str(org)
}
fn root_key(org: &str, root: &str) -> Vec<u8> {
    in_org(org).str("root").str(root).finish()
}
fn roots_prefix(org: &str) -> Vec<u8> {
    in_org(org).str("root").finish()
}
fn ou_key(org: &str, ou: &str) -> Vec<u8> {
    in_org(org).str("ou").str(ou).finish()
}
fn child_key(org: &str, parent: &str, kind: &str, child: &str) -> Vec<u8> {
    in_org(org)
        .str("child")
        .str(parent)
        .str(kind)
        .str(child)
        .finish()
}
fn children_prefix(org: &str, parent: &str, kind: Option<&str>) -> Vec<u8> {
    let key = in_org(org).str("child").str(parent);
    match kind {
        Some(kind) => key.str(kind).finish(),
        None => key.finish(),
    }
}
fn policy_key(org: &str, policy: &str) -> Vec<u8> {
    in_org(org).str("pol").str(policy).finish()
}
fn policies_prefix(org: &str) -> Vec<u8> {
    in_org(org).str("pol").finish()
}
fn att_key(org: &str, target: &str, ty: &str, policy: &str) -> Vec<u8> {
    in_org(org)
        .str("att")
        .str(target)
        .str(ty)
        .str(policy)
        .finish()
}
fn att_prefix(org: &str, target: &str, ty: Option<&str>) -> Vec<u8> {
    let key = in_org(org).str("att").str(target);
    match ty {
        Some(ty) => key.str(ty).finish(),
        None => key.finish(),
    }
}
fn tgt_key(org: &str, policy: &str, target: &str) -> Vec<u8> {
    in_org(org).str("tgt").str(policy).str(target).finish()
}
fn tgt_prefix(org: &str, policy: &str) -> Vec<u8> {
    in_org(org).str("tgt").str(policy).finish()
}
fn car_key(org: &str, id: &str) -> Vec<u8> {
    in_org(org).str("car").str(id).finish()
}
fn cars_prefix(org: &str) -> Vec<u8> {
    in_org(org).str("car").finish()
}
fn tag_key(org: &str, resource: &str, key: &str) -> Vec<u8> {
    in_org(org).str("tag").str(resource).str(key).finish()
}
fn tags_prefix(org: &str, resource: &str) -> Vec<u8> {
    in_org(org).str("tag").str(resource).finish()
}
fn deleg_key(org: &str, account: &str, service: &str) -> Vec<u8> {
    in_org(org).str("deleg").str(account).str(service).finish()
}
fn deleg_prefix(org: &str, account: Option<&str>) -> Vec<u8> {
    let key = in_org(org).str("deleg");
    match account {
        Some(a) => key.str(a).finish(),
        None => key.finish(),
    }
}

fn access_key(org: &str, service: &str) -> Vec<u8> {
    in_org(org).str("svc").str(service).finish()
}
fn access_prefix(org: &str) -> Vec<u8> {
    in_org(org).str("svc").finish()
}

/// The string parts of a key after its first `skip` parts.
fn str_parts(key: &[u8], skip: usize) -> Vec<String> {
    palisade_store::keys::decode(key)
        .map(|parts| {
            parts
                .into_iter()
                .skip(skip)
                .filter_map(|p| match p {
                    Part::Str(s) => Some(s),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

fn get<T: DeserializeOwned>(tx: &dyn ReadTx, key: &[u8]) -> Result<Option<T>, ApiError> {
    iam::model::get(tx, key)
}
fn put<T: Serialize>(tx: &mut dyn WriteTx, key: &[u8], v: &T) -> Result<(), ApiError> {
    iam::model::put(tx, key, v)
}
fn scan(tx: &dyn ReadTx, prefix: &[u8]) -> Result<Vec<palisade_store::Entry>, ApiError> {
    iam::model::scan_all(tx, prefix)
}
/// The last key parts of every entry under `prefix` (the part right after it).
fn scan_ids(tx: &dyn ReadTx, prefix: &[u8], skip: usize) -> Result<Vec<Vec<String>>, ApiError> {
    Ok(scan(tx, prefix)?
        .into_iter()
        .map(|(key, _)| str_parts(&key, skip))
        .collect())
}

// ---- ids ------------------------------------------------------------------------------

fn random_chars(n: usize, alphabet: &[u8]) -> Result<String, ApiError> {
    let mut bytes = vec![0u8; n];
    palisade_store::seal::fill_random(&mut bytes)
        .map_err(|_| ApiError::internal("random source failed"))?;
    let len = alphabet.len().max(1);
    Ok(bytes
        .iter()
        .map(|b| char::from(alphabet.get(usize::from(*b) % len).copied().unwrap_or(b'a')))
        .collect())
}
const LOWER_ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const DIGITS: &[u8] = b"0123456789";

// ---- the authorizer's view ------------------------------------------------------------

/// What the authorizer needs to know about a principal's organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgFacts {
    /// `o-xxxxxxxxxx` (aws:PrincipalOrgID / aws:ResourceOrgID).
    pub org_id: String,
    /// `o-xxx/r-xxxx/ou-xxxx-xxxxxxxx/` as aws:PrincipalOrgPaths holds it (the account's
    /// parent path, ending with `/`).
    pub org_path: String,
    pub management_account: String,
}

/// `organizations:PolicyType`.
pub const POLICY_TYPE_KEY: &str = "organizations:PolicyType";

/// A key only checks carry (never a request): the [`unresolved_arn`] of the policy whose
/// type is the call's `organizations:PolicyType`, until the authorizer reads it
/// ([`policy_facts`]).
pub const POLICY_TYPE_OF_KEY: &str = "palisade:PolicyTypeOf";

/// The members of Organizations requests that name an organization resource by its id.
const RESOURCE_MEMBERS: &[&str] = &[
    "AccountId",
    "OrganizationalUnitId",
    "ParentId",
    "ChildId",
    "SourceParentId",
    "DestinationParentId",
    "ResourceId",
    "RootId",
    "PolicyId",
    "TargetId",
];

/// How authorization checks name an organization resource by id, before the authorizer
/// knows the organization: `arn:aws:organizations:::KIND/ID` ([`arn_of_id`]).
pub const UNRESOLVED_PREFIX: &str = "arn:aws:organizations:::";

fn unresolved_arn(id: &str) -> Option<String> {
    let kind = if id.starts_with("r-") {
        "root"
    } else if id.starts_with("ou-") {
        "ou"
    } else if id.starts_with("p-") {
        "policy"
    } else if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) {
        "account"
    } else {
        // Not an id of any kind: the call answers InvalidInputException.
        return None;
    };
    Some(format!("{UNRESOLVED_PREFIX}{kind}/{id}"))
}

/// The real ARN of the resource an [`unresolved_arn`] names, in the organization of
/// `caller_account`: `arn:aws:organizations::MANAGEMENT:account/o-ID/ACCOUNT`, `.../ou/o-ID/
/// ou-...`, `.../root/o-ID/r-...`, `.../policy/o-ID/TYPE/p-...` (AWS managed policies:
/// `arn:aws:organizations::aws:policy/TYPE/p-...`). `None` outside an organization and for
/// a policy that does not exist.
pub fn arn_of_id(
    tx: &dyn ReadTx,
    caller_account: &str,
    unresolved: &str,
) -> Result<Option<String>, ApiError> {
    let Some((kind, id)) = unresolved
        .strip_prefix(UNRESOLVED_PREFIX)
        .and_then(|r| r.split_once('/'))
    else {
        return Ok(None);
    };
    let Some(member) = get::<Member>(tx, &member_key(caller_account))? else {
        return Ok(None);
    };
    let Some(org) = get::<Organization>(tx, &org_key(&member.org_id))? else {
        return Ok(None);
    };
    let management = &org.master_account_id;
    Ok(match kind {
        "account" | "ou" | "root" => Some(format!(
            "arn:aws:organizations::{management}:{kind}/{}/{id}",
            org.id
        )),
        "policy" => load_policy(tx, &org, id)?.map(|p| p.policy_summary.arn),
        _ => None,
    })
}

/// Condition keys of the account, OU, root or policy a resolved ARN names: its tags
/// (`aws:ResourceTag/*`) and, for a policy, its type ([`policy_facts`]).
pub fn resource_facts(tx: &dyn ReadTx, arn: &str) -> Result<Vec<(String, Vec<String>)>, ApiError> {
    let mut facts = policy_facts(arn);
    // arn:aws:organizations::MANAGEMENT:KIND/o-ORG/[TYPE/]ID
    let path = arn.splitn(6, ':').nth(5).unwrap_or_default();
    let parts: Vec<&str> = path.split('/').collect();
    if let (Some(org), Some(id)) = (parts.get(1), parts.last()) {
        if org.starts_with("o-") && parts.len() >= 3 {
            facts.extend(crate::authz::resource_tags(
                None,
                read_tags(tx, org, id)?
                    .iter()
                    .map(|t| (t.key.as_str(), t.value.as_str())),
            ));
        }
    }
    Ok(facts)
}

/// `organizations:PolicyType` of the policy a (resolved) policy ARN names, from the ARN's
/// `TYPE` part.
pub fn policy_facts(arn: &str) -> Vec<(String, Vec<String>)> {
    let Some((_, path)) = arn.split_once(":policy/") else {
        return Vec::new();
    };
    let mut parts: Vec<&str> = path.split('/').collect();
    parts.pop();
    match parts.last() {
        Some(t) if t.contains('_') => vec![(
            "organizations:PolicyType".to_owned(),
            vec![t.to_ascii_uppercase()],
        )],
        _ => Vec::new(),
    }
}

/// The organization facts of `account_id`, or `None` when it is not in an organization.
pub fn org_facts(tx: &dyn ReadTx, account_id: &str) -> Result<Option<OrgFacts>, ApiError> {
    let Some(member) = get::<Member>(tx, &member_key(account_id))? else {
        return Ok(None);
    };
    let Some(org) = get::<Organization>(tx, &org_key(&member.org_id))? else {
        return Ok(None);
    };
    let chain = parent_chain(tx, &member.org_id, &member.parent_id)?;
    let mut path = format!("{}/", org.id);
    for id in &chain {
        path.push_str(id);
        path.push('/');
    }
    Ok(Some(OrgFacts {
        org_id: org.id,
        org_path: path,
        management_account: org.master_account_id,
    }))
}

/// Whether `account_id` belongs to an organization with all features (which needs
/// AWSServiceRoleForOrganizations in every account).
pub fn in_all_features_org(tx: &dyn ReadTx, account_id: &str) -> Result<bool, ApiError> {
    let Some(member) = get::<Member>(tx, &member_key(account_id))? else {
        return Ok(false);
    };
    Ok(get::<Organization>(tx, &org_key(&member.org_id))?.is_some_and(|o| all_features(&o)))
}

/// The ids from the root down to `parent` (root first).
fn parent_chain(tx: &dyn ReadTx, org: &str, parent: &str) -> Result<Vec<String>, ApiError> {
    let mut chain = Vec::new();
    let mut current = parent.to_owned();
    // OUs nest at most five deep under the root.
    for _ in 0..8 {
        chain.push(current.clone());
        if current.starts_with("r-") {
            break;
        }
        match get::<Ou>(tx, &ou_key(org, &current))? {
            Some(ou) => current = ou.parent_id,
            None => break,
        }
    }
    chain.reverse();
    Ok(chain)
}

/// The documents of the `policy_type` policies attached at each level from the root,
/// through each OU, to the account itself (root first, account last). `None` when the
/// account is in no organization, the policy type is not enabled in its root, or it is
/// the management account (which SCPs and RCPs do not restrict).
pub fn policies_for_account(
    tx: &dyn ReadTx,
    account_id: &str,
    policy_type: &str,
) -> Result<Option<Vec<Vec<String>>>, ApiError> {
    let Some(member) = get::<Member>(tx, &member_key(account_id))? else {
        return Ok(None);
    };
    let Some(org) = get::<Organization>(tx, &org_key(&member.org_id))? else {
        return Ok(None);
    };
    if org.master_account_id == account_id {
        return Ok(None);
    }
    let chain = parent_chain(tx, &org.id, &member.parent_id)?;
    let Some(root_id) = chain.first() else {
        return Ok(None);
    };
    let Some(root) = get::<Root>(tx, &root_key(&org.id, root_id))? else {
        return Ok(None);
    };
    if !type_enabled(&root, policy_type) {
        return Ok(None);
    }
    let mut levels = Vec::with_capacity(chain.len() + 1);
    for target in chain.iter().map(String::as_str).chain([account_id]) {
        let mut docs = Vec::new();
        for parts in scan_ids(tx, &att_prefix(&org.id, target, Some(policy_type)), 0)? {
            let Some(policy_id) = parts.last() else {
                continue;
            };
            if let Some(p) = load_policy(tx, &org, policy_id)? {
                docs.push(p.content);
            }
        }
        levels.push(docs);
    }
    Ok(Some(levels))
}

fn type_enabled(root: &Root, ty: &str) -> bool {
    root.policy_types
        .iter()
        .any(|t| t.kind == ty && t.status == "ENABLED")
}

// ---- shared lookups -------------------------------------------------------------------

fn managed_policy(org: &Organization, id: &str) -> Option<StoredPolicy> {
    let _ = org;
    let (ty, path, name, doc) = match id {
        FULL_SCP_ID => (SCP, "service_control_policy", "FullAWSAccess", FULL_SCP_DOC),
        FULL_RCP_ID => (
            RCP,
            "resource_control_policy",
            "RCPFullAWSAccess",
            FULL_RCP_DOC,
        ),
        _ => return None,
    };
    Some(StoredPolicy {
        policy_summary: PolicySummary {
            id: id.to_owned(),
            arn: format!("arn:aws:organizations::aws:policy/{path}/{id}"),
            name: name.to_owned(),
            description: "Allows access to every operation".to_owned(),
            kind: ty.to_owned(),
            aws_managed: true,
        },
        content: doc.to_owned(),
    })
}

fn load_policy(
    tx: &dyn ReadTx,
    org: &Organization,
    id: &str,
) -> Result<Option<StoredPolicy>, ApiError> {
    if let Some(p) = managed_policy(org, id) {
        return Ok(Some(p));
    }
    get(tx, &policy_key(&org.id, id))
}

/// The caller's organization and membership.
struct Caller {
    org: Organization,
    is_management: bool,
}

fn caller(tx: &dyn ReadTx, ctx: &RequestContext) -> Result<Caller, ApiError> {
    let account = &ctx.principal.account_id;
    let member = get::<Member>(tx, &member_key(account))?.ok_or_else(not_in_use)?;
    let org = get::<Organization>(tx, &org_key(&member.org_id))?.ok_or_else(not_in_use)?;
    let is_management = org.master_account_id == *account;
    Ok(Caller { org, is_management })
}

/// The management account's view (write operations and most reads).
fn management(tx: &dyn ReadTx, ctx: &RequestContext) -> Result<Organization, ApiError> {
    let c = caller(tx, ctx)?;
    if !c.is_management {
        return Err(access_denied());
    }
    Ok(c.org)
}

/// Read operations: the management account or a delegated administrator.
fn reader(tx: &dyn ReadTx, ctx: &RequestContext) -> Result<Organization, ApiError> {
    let c = caller(tx, ctx)?;
    if c.is_management
        || !scan(
            tx,
            &deleg_prefix(&c.org.id, Some(&ctx.principal.account_id)),
        )?
        .is_empty()
    {
        return Ok(c.org);
    }
    Err(access_denied())
}

fn the_root(tx: &dyn ReadTx, org: &str) -> Result<Root, ApiError> {
    scan(tx, &roots_prefix(org))?
        .into_iter()
        .next()
        .map(|(_, v)| serde_json::from_slice(&v).map_err(ApiError::internal))
        .transpose()?
        .ok_or_else(|| ApiError::internal("organization without a root"))
}

fn org_member(tx: &dyn ReadTx, org: &str, account: &str) -> Result<Option<Member>, ApiError> {
    Ok(get::<Member>(tx, &member_key(account))?.filter(|m| m.org_id == org))
}

/// A root or OU id that exists in `org`: its type (`ROOT` / `ORGANIZATIONAL_UNIT`).
fn parent_kind(tx: &dyn ReadTx, org: &str, id: &str) -> Result<Option<&'static str>, ApiError> {
    if id.starts_with("r-") {
        return Ok(tx.get(&root_key(org, id))?.map(|_| ROOT));
    }
    if id.starts_with("ou-") {
        return Ok(tx.get(&ou_key(org, id))?.map(|_| OU));
    }
    Ok(None)
}

/// A policy target (root, OU or account) of `org`: (type, ARN, name).
fn target(
    tx: &dyn ReadTx,
    org: &str,
    id: &str,
) -> Result<Option<(&'static str, String, String)>, ApiError> {
    if id.starts_with("r-") {
        return Ok(get::<Root>(tx, &root_key(org, id))?.map(|r| (ROOT, r.arn, r.name)));
    }
    if id.starts_with("ou-") {
        return Ok(get::<Ou>(tx, &ou_key(org, id))?.map(|o| (OU, o.arn, o.name)));
    }
    if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(org_member(tx, org, id)?.map(|m| (ACCOUNT, m.arn, m.name)));
    }
    Ok(None)
}

/// The model's `PolicyType` enum (checked at decode, [`ENUMS`]). Listing by a type Palisade
/// does not manage is valid and finds nothing: no such policy can exist.
const POLICY_TYPES: &[&str] = &[
    "SERVICE_CONTROL_POLICY",
    "RESOURCE_CONTROL_POLICY",
    "TAG_POLICY",
    "BACKUP_POLICY",
    "AISERVICES_OPT_OUT_POLICY",
    "CHATBOT_POLICY",
    "DECLARATIVE_POLICY_EC2",
    "SECURITYHUB_POLICY",
    "INSPECTOR_POLICY",
    "UPGRADE_ROLLOUT_POLICY",
    "BEDROCK_POLICY",
    "S3_POLICY",
    "NETWORK_SECURITY_DIRECTOR_POLICY",
];

/// A type whose policies Palisade creates and enforces (SCPs and RCPs); the management
/// policy types (tag, backup, ...) answer 501. The enum itself was checked at decode.
fn check_managed_policy_type(ty: &str) -> Result<(), ApiError> {
    match ty {
        SCP | RCP => Ok(()),
        other => Err(crate::registry::not_implemented(
            "organizations",
            &format!("{other} policies"),
        )),
    }
}

fn full_access_id(ty: &str) -> &'static str {
    if ty == RCP {
        FULL_RCP_ID
    } else {
        FULL_SCP_ID
    }
}

fn attach_raw(
    tx: &mut dyn WriteTx,
    org: &str,
    target: &str,
    ty: &str,
    policy: &str,
) -> Result<(), ApiError> {
    tx.put(&att_key(org, target, ty, policy), b"")?;
    tx.put(&tgt_key(org, policy, target), ty.as_bytes())?;
    Ok(())
}

fn detach_raw(
    tx: &mut dyn WriteTx,
    org: &str,
    target: &str,
    ty: &str,
    policy: &str,
) -> Result<(), ApiError> {
    tx.delete(&att_key(org, target, ty, policy))?;
    tx.delete(&tgt_key(org, policy, target))?;
    Ok(())
}

/// Attaches the AWS managed full-access policy of every enabled type to a new target.
fn attach_defaults(tx: &mut dyn WriteTx, org: &str, target: &str) -> Result<(), ApiError> {
    let root = the_root(tx, org)?;
    for t in root.policy_types.iter().filter(|t| t.status == "ENABLED") {
        attach_raw(tx, org, target, &t.kind, full_access_id(&t.kind))?;
    }
    Ok(())
}

/// Every OU and account under `parent` (depth first), as (id, type).
fn descendants(
    tx: &dyn ReadTx,
    org: &str,
    parent: &str,
) -> Result<Vec<(String, String)>, ApiError> {
    let mut out = Vec::new();
    let mut stack = vec![parent.to_owned()];
    while let Some(p) = stack.pop() {
        for parts in scan_ids(tx, &children_prefix(org, &p, None), 0)? {
            let n = parts.len();
            let (Some(kind), Some(id)) = (
                parts.get(n.wrapping_sub(2)).cloned(),
                parts.get(n.wrapping_sub(1)).cloned(),
            ) else {
                continue;
            };
            if kind == OU {
                stack.push(id.clone());
            }
            out.push((id, kind));
        }
    }
    Ok(out)
}

fn read_tags(tx: &dyn ReadTx, org: &str, resource: &str) -> Result<Vec<Tag>, ApiError> {
    Ok(scan(tx, &tags_prefix(org, resource))?
        .into_iter()
        .filter_map(|(key, value)| {
            str_parts(&key, 0).last().map(|k| Tag {
                key: k.clone(),
                value: String::from_utf8_lossy(&value).into_owned(),
            })
        })
        .collect())
}

fn validate_tags(tx: &dyn ReadTx, org: &str, resource: &str, tags: &[Tag]) -> Result<(), ApiError> {
    let mut seen = std::collections::BTreeSet::new();
    for t in tags {
        if !seen.insert(t.key.as_str()) {
            return Err(invalid_input(
                "DUPLICATE_TAG_KEY",
                "You provided a tag key that is duplicated in the request.",
            ));
        }
        // The reasons of the model's InvalidInputExceptionReason.
        if t.key.is_empty() {
            return Err(invalid_input(
                "MIN_LENGTH_EXCEEDED",
                "You provided a string parameter that is shorter than allowed.",
            ));
        }
        if t.key.chars().count() > 128 || t.value.chars().count() > 256 {
            return Err(invalid_input(
                "MAX_LENGTH_EXCEEDED",
                "You provided a string parameter that is longer than allowed.",
            ));
        }
        if !crate::input::is_tag_text(&t.key) || !crate::input::is_tag_text(&t.value) {
            return Err(invalid_input(
                "INVALID_PATTERN",
                "You provided a value that doesn't match the required pattern.",
            ));
        }
        if t.key
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("aws:"))
        {
            return Err(invalid_input(
                "INVALID_SYSTEM_TAGS_PARAMETER",
                "You specified a tag key that is a system tag. You can't add, edit, or delete system tag keys because they're reserved for Amazon Web Services use.",
            ));
        }
    }
    let mut keys: Vec<String> = read_tags(tx, org, resource)?
        .into_iter()
        .map(|t| t.key)
        .collect();
    keys.extend(tags.iter().map(|t| t.key.clone()));
    keys.sort();
    keys.dedup();
    if keys.len() > 50 {
        return Err(constraint(
            "MAX_TAG_LIMIT_EXCEEDED",
            "You have exceeded the allowed number of tags for this resource (50).",
        ));
    }
    Ok(())
}

fn write_tags(
    tx: &mut dyn WriteTx,
    org: &str,
    resource: &str,
    tags: &[Tag],
) -> Result<(), ApiError> {
    for t in tags {
        tx.put(&tag_key(org, resource, &t.key), t.value.as_bytes())?;
    }
    Ok(())
}

fn epoch(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

// ---- paging ---------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Paging {
    #[serde(default)]
    next_token: Option<String>,
    #[serde(default)]
    max_results: Option<i64>,
}

/// MaxResults is 1..20 (checked at decode, [`check_shape`], before authorization).
fn check_max_results(body: &Value) -> Result<(), ApiError> {
    match body.get("MaxResults").and_then(Value::as_i64) {
        Some(max) if !(1..=20).contains(&max) => Err(invalid_input(
            if max < 1 {
                "MIN_VALUE_EXCEEDED"
            } else {
                "MAX_VALUE_EXCEEDED"
            },
            "You specified an invalid value for MaxResults.",
        )),
        _ => Ok(()),
    }
}

/// One page of `items`. The NextToken names the operation it came from: a token of
/// another operation is refused, as a token must come "from the response to a previous
/// call" of the same operation.
fn page<T>(
    operation: &str,
    items: Vec<T>,
    p: &Paging,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    // In range since decode (check_max_results); the clamp only keeps the arithmetic safe.
    let max = p.max_results.unwrap_or(20).clamp(1, 20);
    let start = match &p.next_token {
        Some(t) => t
            .strip_prefix("orgs-")
            .and_then(|t| t.strip_prefix(operation))
            .and_then(|t| t.strip_prefix('-'))
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n <= items.len())
            .ok_or_else(|| {
                invalid_input(
                    "INVALID_NEXT_TOKEN",
                    "You specified an invalid value for nextToken. You must get the value from the response to a previous call to the API.",
                )
            })?,
        None => 0,
    };
    let max = usize::try_from(max).unwrap_or(20);
    let end = start.saturating_add(max).min(items.len());
    let next = (end < items.len()).then(|| format!("orgs-{operation}-{end}"));
    let out = items.into_iter().skip(start).take(max).collect();
    Ok((out, next))
}

// ---- the operation --------------------------------------------------------------------

/// One Organizations call: the action and its JSON body (typed per action when it runs).
#[derive(Debug)]
pub struct Operation {
    name: &'static str,
    body: Value,
}

const ACTIONS: &[(&str, bool)] = &[
    ("CreateOrganization", false),
    ("DescribeOrganization", true),
    ("DeleteOrganization", false),
    ("ListRoots", true),
    ("CreateOrganizationalUnit", false),
    ("UpdateOrganizationalUnit", false),
    ("DeleteOrganizationalUnit", false),
    ("DescribeOrganizationalUnit", true),
    ("ListOrganizationalUnitsForParent", true),
    ("ListChildren", true),
    ("ListParents", true),
    ("CreateAccount", false),
    ("DescribeCreateAccountStatus", true),
    ("ListCreateAccountStatus", true),
    ("DescribeAccount", true),
    ("ListAccounts", true),
    ("ListAccountsForParent", true),
    ("MoveAccount", false),
    ("RemoveAccountFromOrganization", false),
    ("LeaveOrganization", false),
    ("CloseAccount", false),
    ("TagResource", false),
    ("UntagResource", false),
    ("ListTagsForResource", true),
    ("RegisterDelegatedAdministrator", false),
    ("DeregisterDelegatedAdministrator", false),
    ("ListDelegatedAdministrators", true),
    ("ListDelegatedServicesForAccount", true),
    ("EnableAWSServiceAccess", false),
    ("DisableAWSServiceAccess", false),
    ("ListAWSServiceAccessForOrganization", true),
    ("EnablePolicyType", false),
    ("DisablePolicyType", false),
    ("CreatePolicy", false),
    ("UpdatePolicy", false),
    ("DeletePolicy", false),
    ("DescribePolicy", true),
    ("ListPolicies", true),
    ("AttachPolicy", false),
    ("DetachPolicy", false),
    ("ListPoliciesForTarget", true),
    ("ListTargetsForPolicy", true),
];

pub fn decode(
    action: &str,
    input: &Input<'_>,
) -> Option<Result<Box<dyn crate::Operation>, ApiError>> {
    let (name, _) = ACTIONS.iter().find(|(n, _)| *n == action)?;
    let body = input.parse::<Value>();
    Some(body.and_then(|body| {
        if !body.is_object() {
            return Err(err(
                "SerializationException",
                "The request body contains a value of the wrong type or an unknown value.",
            ));
        }
        check_shape(name, &body)?;
        Ok(Box::new(Operation { name, body }) as Box<dyn crate::Operation>)
    }))
}

/// Required members per operation (botocore's model): checked when the request is
/// decoded, so a malformed request gets its error whatever the caller's organization.
const REQUIRED: &[(&str, &[&str])] = &[
    ("CreateOrganizationalUnit", &["ParentId", "Name"]),
    ("UpdateOrganizationalUnit", &["OrganizationalUnitId"]),
    ("DeleteOrganizationalUnit", &["OrganizationalUnitId"]),
    ("DescribeOrganizationalUnit", &["OrganizationalUnitId"]),
    ("ListOrganizationalUnitsForParent", &["ParentId"]),
    ("ListChildren", &["ParentId", "ChildType"]),
    ("ListParents", &["ChildId"]),
    ("CreateAccount", &["Email", "AccountName"]),
    ("DescribeCreateAccountStatus", &["CreateAccountRequestId"]),
    ("DescribeAccount", &["AccountId"]),
    ("ListAccountsForParent", &["ParentId"]),
    (
        "MoveAccount",
        &["AccountId", "SourceParentId", "DestinationParentId"],
    ),
    ("RemoveAccountFromOrganization", &["AccountId"]),
    ("CloseAccount", &["AccountId"]),
    ("TagResource", &["ResourceId", "Tags"]),
    ("UntagResource", &["ResourceId", "TagKeys"]),
    ("ListTagsForResource", &["ResourceId"]),
    (
        "RegisterDelegatedAdministrator",
        &["AccountId", "ServicePrincipal"],
    ),
    (
        "DeregisterDelegatedAdministrator",
        &["AccountId", "ServicePrincipal"],
    ),
    ("ListDelegatedServicesForAccount", &["AccountId"]),
    ("EnableAWSServiceAccess", &["ServicePrincipal"]),
    ("DisableAWSServiceAccess", &["ServicePrincipal"]),
    ("EnablePolicyType", &["RootId", "PolicyType"]),
    ("DisablePolicyType", &["RootId", "PolicyType"]),
    ("CreatePolicy", &["Content", "Description", "Name", "Type"]),
    ("UpdatePolicy", &["PolicyId"]),
    ("DeletePolicy", &["PolicyId"]),
    ("DescribePolicy", &["PolicyId"]),
    ("ListPolicies", &["Filter"]),
    ("AttachPolicy", &["PolicyId", "TargetId"]),
    ("DetachPolicy", &["PolicyId", "TargetId"]),
    ("ListPoliciesForTarget", &["TargetId", "Filter"]),
    ("ListTargetsForPolicy", &["PolicyId"]),
];

/// The id members and their patterns (botocore's model).
const ID_PATTERNS: &[(&str, &str)] = &[
    ("AccountId", r"^\d{12}$"),
    ("ChildId", r"^(\d{12}|ou-[0-9a-z]{4,32}-[a-z0-9]{8,32})$"),
    ("CreateAccountRequestId", r"^car-[a-z0-9]{8,32}$"),
    (
        "OrganizationalUnitId",
        r"^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$",
    ),
    (
        "ParentId",
        r"^(r-[0-9a-z]{4,32}|ou-[0-9a-z]{4,32}-[a-z0-9]{8,32})$",
    ),
    (
        "SourceParentId",
        r"^(r-[0-9a-z]{4,32}|ou-[0-9a-z]{4,32}-[a-z0-9]{8,32})$",
    ),
    (
        "DestinationParentId",
        r"^(r-[0-9a-z]{4,32}|ou-[0-9a-z]{4,32}-[a-z0-9]{8,32})$",
    ),
    ("PolicyId", r"^p-[0-9a-zA-Z_]{8,128}$"),
    ("RootId", r"^r-[0-9a-z]{4,32}$"),
    (
        "TargetId",
        r"^(r-[0-9a-z]{4,32}|\d{12}|ou-[0-9a-z]{4,32}-[a-z0-9]{8,32})$",
    ),
    (
        "ResourceId",
        r"^(r-[0-9a-z]{4,32}|\d{12}|ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}|p-[0-9a-zA-Z_]{8,128}|rp-[0-9a-zA-Z_]{4,128}|rt-[0-9a-zA-Z_]{8,32})$",
    ),
];

/// Enum members per operation (botocore's model): (operation, member, values). Checked at
/// decode with the other model constraints, before authorization.
const ENUMS: &[(&str, &str, &[&str])] = &[
    ("CreatePolicy", "Type", POLICY_TYPES),
    ("EnablePolicyType", "PolicyType", POLICY_TYPES),
    ("DisablePolicyType", "PolicyType", POLICY_TYPES),
    ("ListPolicies", "Filter", POLICY_TYPES),
    ("ListPoliciesForTarget", "Filter", POLICY_TYPES),
    (
        "CreateOrganization",
        "FeatureSet",
        &["ALL", "CONSOLIDATED_BILLING"],
    ),
    (
        "ListChildren",
        "ChildType",
        &["ORGANIZATIONAL_UNIT", "ACCOUNT"],
    ),
    (
        "CreateAccount",
        "IamUserAccessToBilling",
        &["ALLOW", "DENY"],
    ),
];

/// String members with length limits (botocore's model): (member, min, max).
const LENGTHS: &[(&str, usize, usize)] = &[
    ("Name", 1, 128),
    ("Description", 0, 512),
    ("ServicePrincipal", 1, 128),
    // Every List operation's NextToken (the model's NextToken shape: at most 100000).
    ("NextToken", 0, 100_000),
];

fn check_shape(action: &str, body: &Value) -> Result<(), ApiError> {
    static PATTERNS: std::sync::OnceLock<Vec<(&str, regex::Regex)>> = std::sync::OnceLock::new();
    let required = REQUIRED
        .iter()
        .find(|(a, _)| *a == action)
        .map_or(&[][..], |(_, r)| r);
    for member in required {
        if body.get(member).is_none_or(Value::is_null) {
            return Err(err(
                "ValidationException",
                format!(
                    "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                    crate::input::lower_camel(member)
                ),
            ));
        }
    }
    let patterns = PATTERNS.get_or_init(|| {
        ID_PATTERNS
            .iter()
            .filter_map(|(m, p)| Some((*m, regex::Regex::new(p).ok()?)))
            .collect()
    });
    for (member, pattern) in patterns {
        match body.get(member) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if pattern.is_match(s) => {}
            Some(Value::String(_)) => {
                return Err(invalid_input(
                    "INVALID_PATTERN",
                    "You provided a value that does not match the required pattern.",
                ))
            }
            Some(_) => {
                return Err(err(
                    "SerializationException",
                    "The request body contains a value of the wrong type or an unknown value.",
                ))
            }
        }
    }
    for (_, member, values) in ENUMS.iter().filter(|(a, _, _)| *a == action) {
        if let Some(v) = body.get(member).and_then(Value::as_str) {
            if !values.contains(&v) {
                return Err(validation(
                    &crate::input::lower_camel(member),
                    v,
                    &format!(
                        "Member must satisfy enum value set: [{}]",
                        values.join(", ")
                    ),
                ));
            }
        }
    }
    if action == "ListCreateAccountStatus" {
        let states = body.get("States").and_then(Value::as_array);
        if states.is_some_and(|st| {
            st.iter().any(|v| {
                !v.as_str()
                    .is_some_and(|v| ["IN_PROGRESS", "SUCCEEDED", "FAILED"].contains(&v))
            })
        }) {
            return Err(invalid_input(
                "INVALID_ENUM",
                "You specified an invalid value.",
            ));
        }
    }
    check_max_results(body)?;
    if action == "CreateAccount" {
        if let Some(email) = body.get("Email").and_then(Value::as_str) {
            check_email(email)?;
        }
        if let Some(name) = body.get("AccountName").and_then(Value::as_str) {
            check_name_in("accountName", name, 50, '~')?;
        }
    }
    for (member, min, max) in LENGTHS {
        if let Some(s) = body.get(member).and_then(Value::as_str) {
            let n = s.chars().count();
            if n < *min {
                return Err(validation(
                    &crate::input::lower_camel(member),
                    s,
                    &format!("Member must have length greater than or equal to {min}"),
                ));
            }
            if n > *max {
                return Err(validation(
                    &crate::input::lower_camel(member),
                    s,
                    &format!("Member must have length less than or equal to {max}"),
                ));
            }
        }
    }
    Ok(())
}

impl Operation {
    fn input<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        let raw = serde_json::to_vec(&self.body).map_err(ApiError::internal)?;
        Input::Json(&raw).parse()
    }
}

fn lower_keys(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (crate::input::lower_camel(k), lower_keys(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(lower_keys).collect()),
        other => other.clone(),
    }
}

impl crate::Operation for Operation {
    fn name(&self) -> &'static str {
        self.name
    }

    fn read_only(&self) -> bool {
        ACTIONS
            .iter()
            .find(|(n, _)| *n == self.name)
            .is_some_and(|(_, ro)| *ro)
    }

    fn authz(&self, ctx: &RequestContext) -> Vec<AuthzCheck> {
        let action = format!("organizations:{}", self.name);
        let text = |member: &str| self.body.get(member).and_then(Value::as_str);
        let mut context = Vec::new();
        // organizations:PolicyType as the request gives it; for an existing policy the
        // authorizer adds it from the policy's ARN.
        let policy_type = match self.name {
            "CreatePolicy" => text("Type"),
            "EnablePolicyType" | "DisablePolicyType" => text("PolicyType"),
            "ListPolicies" | "ListPoliciesForTarget" => text("Filter"),
            _ => None,
        };
        if let Some(t) = policy_type {
            context.push((POLICY_TYPE_KEY.to_owned(), vec![t.to_owned()]));
        } else if let Some(policy) = text("PolicyId").and_then(unresolved_arn) {
            // The named policy's type, for every resource of the call: the authorizer
            // reads it.
            context.push((POLICY_TYPE_OF_KEY.to_owned(), vec![policy]));
        }
        // "To create an organization ... iam:CreateServiceLinkedRole" (Organizations User
        // Guide, minimum permissions): all features need AWSServiceRoleForOrganizations.
        let mut extra = Vec::new();
        if self.name == "CreateOrganization" && text("FeatureSet").is_none_or(|f| f == "ALL") {
            let mut c = AuthzCheck::new(
                "iam:CreateServiceLinkedRole",
                format!(
                    "arn:aws:iam::{}:role/aws-service-role/{ORGS_PRINCIPAL}/AWSServiceRoleForOrganizations",
                    ctx.principal.account_id
                ),
            )
            .naming_new();
            c.context.push((
                "iam:AWSServiceName".to_owned(),
                vec![ORGS_PRINCIPAL.to_owned()],
            ));
            c.denied_as = Some(
                err(
                    "AccessDeniedForDependencyException",
                    "The operation that you attempted requires you to have the iam:CreateServiceLinkedRole for organizations.amazonaws.com permission so that Organizations can create the required service-linked role. You don't have that permission.",
                )
                .with_reason("ACCESS_DENIED_DURING_CREATE_SERVICE_LINKED_ROLE"),
            );
            extra.push(c);
        }
        if let Some(sp) = text("ServicePrincipal") {
            context.push((
                "organizations:ServicePrincipal".to_owned(),
                vec![sp.to_owned()],
            ));
        }
        if let Some(tags) = self.body.get("Tags").and_then(Value::as_array) {
            context.extend(crate::authz::request_tags(tags.iter().filter_map(|t| {
                Some((t.get("Key")?.as_str()?, t.get("Value")?.as_str()?))
            })));
        }
        if let Some(keys) = self.body.get("TagKeys").and_then(Value::as_array) {
            let keys: Vec<String> = keys
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect();
            context.push(("aws:TagKeys".to_owned(), keys));
        }
        // Every organization resource the request names is a resource of the call; the
        // authorizer turns `arn:aws:organizations:::KIND/ID` into the real ARN.
        let resources: Vec<String> = RESOURCE_MEMBERS
            .iter()
            .filter_map(|m| text(m))
            .filter_map(unresolved_arn)
            .collect();
        let check = |resource: String| {
            let mut c = AuthzCheck::new(action.clone(), resource);
            c.context = context.clone();
            c
        };
        let mut checks: Vec<AuthzCheck> = if resources.is_empty() {
            vec![check("*".to_owned())]
        } else {
            resources.into_iter().map(check).collect()
        };
        checks.extend(extra);
        checks
    }

    fn request_parameters(&self) -> Option<Value> {
        Some(lower_keys(&self.body))
    }

    fn read(&self, tx: &dyn ReadTx, _env: &Env, ctx: &RequestContext) -> Result<Reply, ApiError> {
        let out = read_op(self, tx, ctx)?;
        Ok(Reply::new(out))
    }

    fn write(
        &self,
        tx: &mut dyn WriteTx,
        env: &Env,
        ctx: &RequestContext,
    ) -> Result<Reply, ApiError> {
        let (out, resources) = write_op(self, tx, env, ctx)?;
        let mut reply = Reply::new(out.clone());
        reply.response_elements = if out.as_object().is_some_and(|o| o.is_empty()) {
            None
        } else {
            Some(lower_keys(&out))
        };
        reply.resources = resources;
        Ok(reply)
    }
}

fn to_value<T: Serialize>(v: &T) -> Result<Value, ApiError> {
    serde_json::to_value(v).map_err(ApiError::internal)
}

// ---- inputs ---------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateOrganizationInput {
    #[serde(default)]
    feature_set: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ParentIdInput {
    parent_id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    tags: Option<Vec<Tag>>,
    #[serde(flatten)]
    paging: Paging,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct OuIdInput {
    organizational_unit_id: String,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListChildrenInput {
    parent_id: String,
    child_type: String,
    #[serde(flatten)]
    paging: Paging,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ChildIdInput {
    child_id: String,
    #[serde(flatten)]
    paging: Paging,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateAccountInput {
    email: String,
    account_name: String,
    #[serde(default)]
    role_name: Option<String>,
    // IamUserAccessToBilling is checked at decode (ENUMS); billing is not modelled.
    #[serde(default)]
    tags: Option<Vec<Tag>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateAccountRequestIdInput {
    create_account_request_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListCreateAccountStatusInput {
    #[serde(default)]
    states: Option<Vec<String>>,
    #[serde(flatten)]
    paging: Paging,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AccountIdInput {
    account_id: String,
    #[serde(default)]
    service_principal: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ServicePrincipalInput {
    service_principal: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MoveAccountInput {
    account_id: String,
    source_parent_id: String,
    destination_parent_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagResourceInput {
    resource_id: String,
    #[serde(default)]
    tags: Option<Vec<Tag>>,
    #[serde(default)]
    tag_keys: Option<Vec<String>>,
    #[serde(flatten)]
    paging: Paging,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DelegatedListInput {
    #[serde(default)]
    service_principal: Option<String>,
    #[serde(default)]
    account_id: Option<String>,
    #[serde(flatten)]
    paging: Paging,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PolicyTypeInput {
    root_id: String,
    policy_type: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreatePolicyInput {
    content: String,
    description: String,
    name: String,
    #[serde(rename = "Type")]
    kind: String,
    #[serde(default)]
    tags: Option<Vec<Tag>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdatePolicyInput {
    policy_id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PolicyIdInput {
    policy_id: String,
    #[serde(default)]
    target_id: Option<String>,
    #[serde(flatten)]
    paging: Paging,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListPoliciesInput {
    filter: String,
    #[serde(flatten)]
    paging: Paging,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListPoliciesForTargetInput {
    target_id: String,
    filter: String,
    #[serde(flatten)]
    paging: Paging,
}

// ---- validation -----------------------------------------------------------------------

fn validation(field: &str, value: &str, rule: &str) -> ApiError {
    err(
        "ValidationException",
        format!("1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: {rule}"),
    )
}

fn check_name(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    check_name_in(field, value, max, '\u{ff}')
}

/// [`check_name`] with the highest character the name's pattern allows (`CreateAccountName`:
/// `[\u0020-\u007E]+`).
fn check_name_in(field: &str, value: &str, max: usize, last: char) -> Result<(), ApiError> {
    let n = value.chars().count();
    if n == 0 {
        return Err(validation(
            field,
            value,
            "Member must have length greater than or equal to 1",
        ));
    }
    if n > max {
        return Err(validation(
            field,
            value,
            &format!("Member must have length less than or equal to {max}"),
        ));
    }
    if value.chars().any(|c| !(' '..=last).contains(&c)) {
        return Err(invalid_input(
            "INVALID_PATTERN",
            "You provided a value that does not match the required pattern.",
        ));
    }
    Ok(())
}

fn check_email(email: &str) -> Result<(), ApiError> {
    let n = email.chars().count();
    let ok = (6..=64).contains(&n)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
                && !email.chars().any(char::is_whitespace)
        });
    if ok {
        Ok(())
    } else {
        Err(invalid_input(
            "INVALID_EMAIL_ADDRESS_TARGET",
            "You provided a value that does not match the required pattern.",
        ))
    }
}

fn validate_content(content: &str, ty: &str) -> Result<(), ApiError> {
    if content.chars().count() > MAX_POLICY_CHARS {
        return Err(constraint(
            "POLICY_CONTENT_LIMIT_EXCEEDED",
            "You attempted to create a policy that is larger than the maximum size.",
        ));
    }
    let kind = if ty == RCP {
        palisade_policy::PolicyKind::ResourceControl
    } else {
        palisade_policy::PolicyKind::ServiceControl
    };
    let malformed = || {
        err(
            "MalformedPolicyDocumentException",
            "The provided policy document does not meet the requirements of the specified policy type.",
        )
    };
    let policy = palisade_policy::Policy::parse(content, kind).map_err(|_| malformed())?;
    // "The effect of Allow is only supported for the RCPFullAWSAccess policy" (Organizations
    // User Guide, RCP syntax): an RCP of one's own only denies.
    if ty == RCP
        && policy
            .statements()
            .iter()
            .any(|s| s.effect() == palisade_policy::Effect::Allow)
    {
        return Err(malformed());
    }
    Ok(())
}

// ---- reads ----------------------------------------------------------------------------

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Child {
    id: String,
    #[serde(rename = "Type")]
    kind: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct TargetSummary {
    target_id: String,
    arn: String,
    name: String,
    #[serde(rename = "Type")]
    kind: String,
}

fn children(tx: &dyn ReadTx, org: &str, parent: &str, kind: &str) -> Result<Vec<String>, ApiError> {
    Ok(scan_ids(tx, &children_prefix(org, parent, Some(kind)), 0)?
        .into_iter()
        .filter_map(|p| p.last().cloned())
        .collect())
}

fn describe_account(tx: &dyn ReadTx, org: &str, id: &str) -> Result<Member, ApiError> {
    org_member(tx, org, id)?.ok_or_else(account_not_found)
}

fn all_accounts(tx: &dyn ReadTx, org: &Organization) -> Result<Vec<Member>, ApiError> {
    let root = the_root(tx, &org.id)?;
    let mut out = Vec::new();
    for (id, kind) in descendants(tx, &org.id, &root.id)? {
        if kind == ACCOUNT {
            if let Some(m) = org_member(tx, &org.id, &id)? {
                out.push(m);
            }
        }
    }
    out.sort_by_key(|m| m.joined);
    Ok(out)
}

fn policy_list(
    tx: &dyn ReadTx,
    org: &Organization,
    ty: &str,
) -> Result<Vec<PolicySummary>, ApiError> {
    // The AWS managed FullAWSAccess policy of the type, if it has one (SCPs and RCPs).
    let mut out: Vec<PolicySummary> = managed_policy(org, full_access_id(ty))
        .map(|p| p.policy_summary)
        .filter(|p| p.kind == ty)
        .into_iter()
        .collect();
    for (_, raw) in scan(tx, &policies_prefix(&org.id))? {
        let p: StoredPolicy = serde_json::from_slice(&raw).map_err(ApiError::internal)?;
        if p.policy_summary.kind == ty {
            out.push(p.policy_summary);
        }
    }
    Ok(out)
}

fn read_op(op: &Operation, tx: &dyn ReadTx, ctx: &RequestContext) -> Result<Value, ApiError> {
    match op.name {
        "DescribeOrganization" => {
            let mut org = caller(tx, ctx)?.org;
            // Deprecated in the model, and it "doesn't include any policy type ... other
            // than SCPs": the SCP status of the root, as the model's example shows it.
            org.available_policy_types = the_root(tx, &org.id)?
                .policy_types
                .into_iter()
                .filter(|t| t.kind == SCP)
                .collect();
            to_value(&serde_json::json!({ "Organization": org }))
        }
        "ListRoots" => {
            let org = reader(tx, ctx)?;
            let p: Paging = op.input()?;
            let root = the_root(tx, &org.id)?;
            let (items, next) = page(op.name, vec![root], &p)?;
            Ok(with_next(serde_json::json!({ "Roots": items }), next))
        }
        "DescribeOrganizationalUnit" => {
            let org = reader(tx, ctx)?;
            let i: OuIdInput = op.input()?;
            let ou = get::<Ou>(tx, &ou_key(&org.id, &i.organizational_unit_id))?
                .ok_or_else(ou_not_found)?;
            to_value(&serde_json::json!({ "OrganizationalUnit": OuOut::from(&ou) }))
        }
        "ListOrganizationalUnitsForParent" => {
            let org = reader(tx, ctx)?;
            let i: ParentIdInput = op.input()?;
            parent_kind(tx, &org.id, &i.parent_id)?.ok_or_else(parent_not_found)?;
            let mut ous = Vec::new();
            for id in children(tx, &org.id, &i.parent_id, OU)? {
                if let Some(ou) = get::<Ou>(tx, &ou_key(&org.id, &id))? {
                    ous.push(OuOut::from(&ou));
                }
            }
            let (items, next) = page(op.name, ous, &i.paging)?;
            Ok(with_next(
                serde_json::json!({ "OrganizationalUnits": items }),
                next,
            ))
        }
        "ListChildren" => {
            let org = reader(tx, ctx)?;
            let i: ListChildrenInput = op.input()?;
            // ChildType was checked at decode (check_shape).
            parent_kind(tx, &org.id, &i.parent_id)?.ok_or_else(parent_not_found)?;
            let kids: Vec<Child> = children(tx, &org.id, &i.parent_id, &i.child_type)?
                .into_iter()
                .map(|id| Child {
                    id,
                    kind: i.child_type.clone(),
                })
                .collect();
            let (items, next) = page(op.name, kids, &i.paging)?;
            Ok(with_next(serde_json::json!({ "Children": items }), next))
        }
        "ListParents" => {
            let org = reader(tx, ctx)?;
            let i: ChildIdInput = op.input()?;
            let parent = if i.child_id.starts_with("ou-") {
                get::<Ou>(tx, &ou_key(&org.id, &i.child_id))?.map(|o| o.parent_id)
            } else {
                org_member(tx, &org.id, &i.child_id)?.map(|m| m.parent_id)
            }
            .ok_or_else(|| {
                err(
                    "ChildNotFoundException",
                    "We can't find an organizational unit (OU) or AWS account with the ChildId that you specified.",
                )
            })?;
            let kind = if parent.starts_with("r-") { ROOT } else { OU };
            let (items, next) = page(
                op.name,
                vec![Child {
                    id: parent,
                    kind: kind.to_owned(),
                }],
                &i.paging,
            )?;
            Ok(with_next(serde_json::json!({ "Parents": items }), next))
        }
        "DescribeCreateAccountStatus" => {
            let org = reader(tx, ctx)?;
            let i: CreateAccountRequestIdInput = op.input()?;
            let s = get::<CreateAccountStatus>(tx, &car_key(&org.id, &i.create_account_request_id))?
                .ok_or_else(|| {
                    err(
                        "CreateAccountStatusNotFoundException",
                        "We can't find an create account request with the CreateAccountRequestId that you specified.",
                    )
                })?;
            to_value(&serde_json::json!({ "CreateAccountStatus": s }))
        }
        "ListCreateAccountStatus" => {
            let org = reader(tx, ctx)?;
            let i: ListCreateAccountStatusInput = op.input()?;
            // States were checked at decode (check_shape).
            let mut all = Vec::new();
            for (_, raw) in scan(tx, &cars_prefix(&org.id))? {
                let s: CreateAccountStatus =
                    serde_json::from_slice(&raw).map_err(ApiError::internal)?;
                if i.states.as_ref().is_none_or(|st| st.contains(&s.state)) {
                    all.push(s);
                }
            }
            all.sort_by_key(|s| s.requested_timestamp);
            let (items, next) = page(op.name, all, &i.paging)?;
            Ok(with_next(
                serde_json::json!({ "CreateAccountStatuses": items }),
                next,
            ))
        }
        "DescribeAccount" => {
            let org = reader(tx, ctx)?;
            let i: AccountIdInput = op.input()?;
            let m = describe_account(tx, &org.id, &i.account_id)?;
            to_value(&serde_json::json!({ "Account": AccountOut::from(&m) }))
        }
        "ListAccounts" => {
            let org = reader(tx, ctx)?;
            let p: Paging = op.input()?;
            let accounts: Vec<AccountOut> = all_accounts(tx, &org)?
                .iter()
                .map(AccountOut::from)
                .collect();
            let (items, next) = page(op.name, accounts, &p)?;
            Ok(with_next(serde_json::json!({ "Accounts": items }), next))
        }
        "ListAccountsForParent" => {
            let org = reader(tx, ctx)?;
            let i: ParentIdInput = op.input()?;
            parent_kind(tx, &org.id, &i.parent_id)?.ok_or_else(parent_not_found)?;
            let mut accounts = Vec::new();
            for id in children(tx, &org.id, &i.parent_id, ACCOUNT)? {
                if let Some(m) = org_member(tx, &org.id, &id)? {
                    accounts.push(m);
                }
            }
            accounts.sort_by_key(|m| m.joined);
            let accounts: Vec<AccountOut> = accounts.iter().map(AccountOut::from).collect();
            let (items, next) = page(op.name, accounts, &i.paging)?;
            Ok(with_next(serde_json::json!({ "Accounts": items }), next))
        }
        "ListTagsForResource" => {
            let org = reader(tx, ctx)?;
            let i: TagResourceInput = op.input()?;
            tag_target(tx, &org, &i.resource_id)?;
            let (items, next) = page(op.name, read_tags(tx, &org.id, &i.resource_id)?, &i.paging)?;
            Ok(with_next(serde_json::json!({ "Tags": items }), next))
        }
        "ListAWSServiceAccessForOrganization" => {
            let org = reader(tx, ctx)?;
            let p: Paging = op.input()?;
            let mut out = Vec::new();
            for (key, raw) in scan(tx, &access_prefix(&org.id))? {
                let Some(service) = str_parts(&key, 0).pop() else {
                    continue;
                };
                let since: i64 = std::str::from_utf8(&raw)
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_default();
                out.push(serde_json::json!({ "ServicePrincipal": service, "DateEnabled": since }));
            }
            let (items, next) = page(op.name, out, &p)?;
            Ok(with_next(
                serde_json::json!({ "EnabledServicePrincipals": items }),
                next,
            ))
        }
        "ListDelegatedAdministrators" => {
            let org = reader(tx, ctx)?;
            let i: DelegatedListInput = op.input()?;
            let mut out: Vec<Value> = Vec::new();
            let mut seen = Vec::new();
            for (key, raw) in scan(tx, &deleg_prefix(&org.id, None))? {
                let parts = str_parts(&key, 0);
                let n = parts.len();
                let (Some(account), Some(service)) =
                    (parts.get(n.wrapping_sub(2)), parts.get(n.wrapping_sub(1)))
                else {
                    continue;
                };
                if i.service_principal.as_ref().is_some_and(|s| s != service)
                    || seen.contains(account)
                {
                    continue;
                }
                seen.push(account.clone());
                if let Some(m) = org_member(tx, &org.id, account)? {
                    let since: i64 = String::from_utf8_lossy(&raw).parse().unwrap_or_default();
                    let mut v = to_value(&AccountOut::from(&m))?;
                    if let Some(o) = v.as_object_mut() {
                        o.insert("DelegationEnabledDate".into(), since.into());
                    }
                    out.push(v);
                }
            }
            let (items, next) = page(op.name, out, &i.paging)?;
            Ok(with_next(
                serde_json::json!({ "DelegatedAdministrators": items }),
                next,
            ))
        }
        "ListDelegatedServicesForAccount" => {
            let org = reader(tx, ctx)?;
            let i: DelegatedListInput = op.input()?;
            let account = i.account_id.clone().unwrap_or_default();
            org_member(tx, &org.id, &account)?.ok_or_else(account_not_found)?;
            let mut out = Vec::new();
            for (key, raw) in scan(tx, &deleg_prefix(&org.id, Some(&account)))? {
                if let Some(service) = str_parts(&key, 0).last() {
                    let since: i64 = String::from_utf8_lossy(&raw).parse().unwrap_or_default();
                    out.push(serde_json::json!({"ServicePrincipal": service, "DelegationEnabledDate": since}));
                }
            }
            if out.is_empty() {
                return Err(err(
                    "AccountNotRegisteredException",
                    "The provided account is not a registered delegated administrator for your organization.",
                ));
            }
            let (items, next) = page(op.name, out, &i.paging)?;
            Ok(with_next(
                serde_json::json!({ "DelegatedServices": items }),
                next,
            ))
        }
        "DescribePolicy" => {
            let org = reader(tx, ctx)?;
            let i: PolicyIdInput = op.input()?;
            let p = load_policy(tx, &org, &i.policy_id)?.ok_or_else(policy_not_found)?;
            to_value(&serde_json::json!({ "Policy": p }))
        }
        "ListPolicies" => {
            let org = reader(tx, ctx)?;
            let i: ListPoliciesInput = op.input()?;
            let (items, next) = page(op.name, policy_list(tx, &org, &i.filter)?, &i.paging)?;
            Ok(with_next(serde_json::json!({ "Policies": items }), next))
        }
        "ListPoliciesForTarget" => {
            let org = reader(tx, ctx)?;
            let i: ListPoliciesForTargetInput = op.input()?;
            target(tx, &org.id, &i.target_id)?.ok_or_else(target_not_found)?;
            let mut out = Vec::new();
            for parts in scan_ids(tx, &att_prefix(&org.id, &i.target_id, Some(&i.filter)), 0)? {
                if let Some(id) = parts.last() {
                    if let Some(p) = load_policy(tx, &org, id)? {
                        out.push(p.policy_summary);
                    }
                }
            }
            let (items, next) = page(op.name, out, &i.paging)?;
            Ok(with_next(serde_json::json!({ "Policies": items }), next))
        }
        "ListTargetsForPolicy" => {
            let org = reader(tx, ctx)?;
            let i: PolicyIdInput = op.input()?;
            load_policy(tx, &org, &i.policy_id)?.ok_or_else(policy_not_found)?;
            let mut out = Vec::new();
            for parts in scan_ids(tx, &tgt_prefix(&org.id, &i.policy_id), 0)? {
                if let Some(id) = parts.last() {
                    if let Some((kind, arn, name)) = target(tx, &org.id, id)? {
                        out.push(TargetSummary {
                            target_id: id.clone(),
                            arn,
                            name,
                            kind: kind.to_owned(),
                        });
                    }
                }
            }
            let (items, next) = page(op.name, out, &i.paging)?;
            Ok(with_next(serde_json::json!({ "Targets": items }), next))
        }
        _ => Err(ApiError::internal("read() on a mutating operation")),
    }
}

fn with_next(mut v: Value, next: Option<String>) -> Value {
    if let (Some(o), Some(n)) = (v.as_object_mut(), next) {
        o.insert("NextToken".into(), n.into());
    }
    v
}

/// A taggable resource of `org` (account, OU, root or customer policy).
fn tag_target(tx: &dyn ReadTx, org: &Organization, id: &str) -> Result<(), ApiError> {
    if id.starts_with("p-") {
        if get::<StoredPolicy>(tx, &policy_key(&org.id, id))?.is_some() {
            return Ok(());
        }
        return Err(target_not_found());
    }
    target(tx, &org.id, id)?.ok_or_else(target_not_found)?;
    Ok(())
}

// ---- writes ---------------------------------------------------------------------------

type Resources = Vec<(String, String)>;

fn write_op(
    op: &Operation,
    tx: &mut dyn WriteTx,
    env: &Env,
    ctx: &RequestContext,
) -> Result<(Value, Resources), ApiError> {
    let none = Resources::new();
    match op.name {
        "CreateOrganization" => {
            let i: CreateOrganizationInput = op.input()?;
            // FeatureSet was checked at decode (check_shape).
            let fs = i.feature_set.as_deref().unwrap_or("ALL");
            let org = create_organization(tx, env, ctx, fs)?;
            let arn = org.arn.clone();
            Ok((
                to_value(&serde_json::json!({ "Organization": org }))?,
                vec![("AWS::Organizations::Organization".into(), arn)],
            ))
        }
        "DeleteOrganization" => {
            let org = management(tx, ctx)?;
            if all_accounts(tx, &org)?
                .iter()
                .any(|m| m.id != org.master_account_id)
            {
                return Err(err(
                    "OrganizationNotEmptyException",
                    "The organization isn't empty. To delete an organization, you must first remove all accounts except the management account.",
                ));
            }
            iam::model::delete_prefix(tx, &in_org(&org.id).finish())?;
            tx.delete(&member_key(&org.master_account_id))?;
            tx.delete(&org_key(&org.id))?;
            Ok((serde_json::json!({}), none))
        }
        "CreateOrganizationalUnit" => {
            let org = management(tx, ctx)?;
            let i: ParentIdInput = op.input()?;
            let name = i.name.clone().unwrap_or_default();
            check_name("name", &name, 128)?;
            let tags = i.tags.clone().unwrap_or_default();
            let kind = parent_kind(tx, &org.id, &i.parent_id)?.ok_or_else(parent_not_found)?;
            if kind == OU {
                // OUs nest at most five levels below the root.
                let depth = parent_chain(tx, &org.id, &i.parent_id)?.len();
                if depth > 5 {
                    return Err(constraint(
                        "OU_DEPTH_LIMIT_EXCEEDED",
                        "You attempted to create an OU tree that is too many levels deep.",
                    ));
                }
            }
            for id in children(tx, &org.id, &i.parent_id, OU)? {
                if let Some(o) = get::<Ou>(tx, &ou_key(&org.id, &id))? {
                    if o.name == name {
                        return Err(err(
                            "DuplicateOrganizationalUnitException",
                            "An OU with the same name already exists.",
                        ));
                    }
                }
            }
            validate_tags(tx, &org.id, "", &tags)?;
            let root = the_root(tx, &org.id)?;
            let root_suffix = root.id.trim_start_matches("r-");
            let id = format!("ou-{root_suffix}-{}", random_chars(8, LOWER_ALNUM)?);
            let ou = Ou {
                arn: format!(
                    "arn:aws:organizations::{}:ou/{}/{id}",
                    org.master_account_id, org.id
                ),
                id: id.clone(),
                name,
                parent_id: i.parent_id.clone(),
            };
            put(tx, &ou_key(&org.id, &id), &ou)?;
            tx.put(&child_key(&org.id, &i.parent_id, OU, &id), b"")?;
            attach_defaults(tx, &org.id, &id)?;
            write_tags(tx, &org.id, &id, &tags)?;
            Ok((
                to_value(&serde_json::json!({ "OrganizationalUnit": OuOut::from(&ou) }))?,
                vec![("AWS::Organizations::OrganizationalUnit".into(), ou.arn)],
            ))
        }
        "UpdateOrganizationalUnit" => {
            let org = management(tx, ctx)?;
            let i: OuIdInput = op.input()?;
            let mut ou = get::<Ou>(tx, &ou_key(&org.id, &i.organizational_unit_id))?
                .ok_or_else(ou_not_found)?;
            if let Some(name) = &i.name {
                check_name("name", name, 128)?;
                for id in children(tx, &org.id, &ou.parent_id, OU)? {
                    if id == ou.id {
                        continue;
                    }
                    if let Some(o) = get::<Ou>(tx, &ou_key(&org.id, &id))? {
                        if &o.name == name {
                            return Err(err(
                                "DuplicateOrganizationalUnitException",
                                "An OU with the same name already exists.",
                            ));
                        }
                    }
                }
                ou.name = name.clone();
                put(tx, &ou_key(&org.id, &ou.id), &ou)?;
            }
            Ok((
                to_value(&serde_json::json!({ "OrganizationalUnit": OuOut::from(&ou) }))?,
                vec![("AWS::Organizations::OrganizationalUnit".into(), ou.arn)],
            ))
        }
        "DeleteOrganizationalUnit" => {
            let org = management(tx, ctx)?;
            let i: OuIdInput = op.input()?;
            let ou = get::<Ou>(tx, &ou_key(&org.id, &i.organizational_unit_id))?
                .ok_or_else(ou_not_found)?;
            if !scan(tx, &children_prefix(&org.id, &ou.id, None))?.is_empty() {
                return Err(err(
                    "OrganizationalUnitNotEmptyException",
                    "The specified OU is not empty. Move all accounts to another root or OU and delete all child OUs, then try the operation again.",
                ));
            }
            remove_target(tx, &org.id, &ou.id)?;
            tx.delete(&ou_key(&org.id, &ou.id))?;
            tx.delete(&child_key(&org.id, &ou.parent_id, OU, &ou.id))?;
            Ok((serde_json::json!({}), none))
        }
        "CreateAccount" => {
            let org = management(tx, ctx)?;
            let i: CreateAccountInput = op.input()?;
            let status = create_account(tx, ctx, &org, &i)?;
            record_create_account_result(tx, ctx, &org, &status)?;
            // AWS answers before the account exists; DescribeCreateAccountStatus tells the rest.
            let mut shown = status.clone();
            shown.state = "IN_PROGRESS".into();
            shown.completed_timestamp = None;
            shown.account_id = None;
            shown.failure_reason = None;
            Ok((
                to_value(&serde_json::json!({ "CreateAccountStatus": shown }))?,
                none,
            ))
        }
        "MoveAccount" => {
            let org = management(tx, ctx)?;
            let i: MoveAccountInput = op.input()?;
            let mut m = org_member(tx, &org.id, &i.account_id)?.ok_or_else(account_not_found)?;
            parent_kind(tx, &org.id, &i.source_parent_id)?.ok_or_else(|| {
                err(
                    "SourceParentNotFoundException",
                    "We can't find a source root or OU with the ParentId that you specified.",
                )
            })?;
            parent_kind(tx, &org.id, &i.destination_parent_id)?.ok_or_else(|| {
                err(
                    "DestinationParentNotFoundException",
                    "We can't find a destination root or OU with the ParentId that you specified.",
                )
            })?;
            if m.parent_id != i.source_parent_id {
                return Err(account_not_found());
            }
            if m.parent_id == i.destination_parent_id {
                return Err(err(
                    "DuplicateAccountException",
                    "That account is already present in the specified destination.",
                ));
            }
            tx.delete(&child_key(&org.id, &m.parent_id, ACCOUNT, &m.id))?;
            tx.put(
                &child_key(&org.id, &i.destination_parent_id, ACCOUNT, &m.id),
                b"",
            )?;
            m.parent_id = i.destination_parent_id.clone();
            put(tx, &member_key(&m.id), &m)?;
            Ok((
                serde_json::json!({}),
                vec![("AWS::Organizations::Account".into(), m.arn)],
            ))
        }
        "RemoveAccountFromOrganization" | "LeaveOrganization" => {
            let (org, account) = if op.name == "LeaveOrganization" {
                let c = caller(tx, ctx)?;
                (c.org, ctx.principal.account_id.clone())
            } else {
                let org = management(tx, ctx)?;
                let i: AccountIdInput = op.input()?;
                (org, i.account_id)
            };
            let m = org_member(tx, &org.id, &account)?.ok_or_else(account_not_found)?;
            if m.id == org.master_account_id {
                return Err(err(
                    "MasterCannotLeaveOrganizationException",
                    "You can't remove a management account from an organization. If you want the management account to become a member account in another organization, you must first delete the current organization.",
                ));
            }
            if !scan(tx, &deleg_prefix(&org.id, Some(&m.id)))?.is_empty() {
                return Err(constraint(
                    "CANNOT_REMOVE_DELEGATED_ADMINISTRATOR_FROM_ORG",
                    "You attempted to remove an account that is registered as a delegated administrator for a service integrated with your organization. To complete this operation, you must first deregister this account as a delegated administrator.",
                ));
            }
            remove_target(tx, &org.id, &m.id)?;
            tx.delete(&child_key(&org.id, &m.parent_id, ACCOUNT, &m.id))?;
            tx.delete(&member_key(&m.id))?;
            Ok((
                serde_json::json!({}),
                vec![("AWS::Organizations::Account".into(), m.arn)],
            ))
        }
        "CloseAccount" => {
            let org = management(tx, ctx)?;
            let i: AccountIdInput = op.input()?;
            let mut m = org_member(tx, &org.id, &i.account_id)?.ok_or_else(account_not_found)?;
            if m.id == org.master_account_id {
                return Err(constraint(
                    "CANNOT_CLOSE_MANAGEMENT_ACCOUNT",
                    "You can't close the management account with this operation.",
                ));
            }
            if m.status == "SUSPENDED" {
                return Err(err(
                    "AccountAlreadyClosedException",
                    "You attempted to close an account that is already closed.",
                ));
            }
            m.status = "SUSPENDED".into();
            m.state = "CLOSED".into();
            put(tx, &member_key(&m.id), &m)?;
            Ok((
                serde_json::json!({}),
                vec![("AWS::Organizations::Account".into(), m.arn)],
            ))
        }
        "TagResource" => {
            let org = management(tx, ctx)?;
            let i: TagResourceInput = op.input()?;
            let tags = i.tags.clone().unwrap_or_default();
            tag_target(tx, &org, &i.resource_id)?;
            validate_tags(tx, &org.id, &i.resource_id, &tags)?;
            write_tags(tx, &org.id, &i.resource_id, &tags)?;
            Ok((serde_json::json!({}), none))
        }
        "UntagResource" => {
            let org = management(tx, ctx)?;
            let i: TagResourceInput = op.input()?;
            tag_target(tx, &org, &i.resource_id)?;
            for key in i.tag_keys.clone().unwrap_or_default() {
                tx.delete(&tag_key(&org.id, &i.resource_id, &key))?;
            }
            Ok((serde_json::json!({}), none))
        }
        "RegisterDelegatedAdministrator" | "DeregisterDelegatedAdministrator" => {
            let org = management(tx, ctx)?;
            let i: AccountIdInput = op.input()?;
            let service = i.service_principal.clone().ok_or_else(|| {
                err(
                    "ValidationException",
                    "1 validation error detected: Value null at 'servicePrincipal' failed to satisfy constraint: Member must not be null",
                )
            })?;
            let m = org_member(tx, &org.id, &i.account_id)?.ok_or_else(account_not_found)?;
            let key = deleg_key(&org.id, &m.id, &service);
            let registered = tx.get(&key)?.is_some();
            if op.name == "RegisterDelegatedAdministrator" {
                require_trusted_access(tx, &org, &service)?;
                if m.id == org.master_account_id {
                    return Err(constraint(
                        "CANNOT_REGISTER_MASTER_AS_DELEGATED_ADMINISTRATOR",
                        "You can't register the management account as a delegated administrator.",
                    ));
                }
                if registered {
                    return Err(err(
                        "AccountAlreadyRegisteredException",
                        "The provided account is already a delegated administrator for your organization.",
                    ));
                }
                tx.put(&key, epoch(ctx.now).to_string().as_bytes())?;
            } else {
                if !registered {
                    return Err(err(
                        "AccountNotRegisteredException",
                        "The provided account is not a registered delegated administrator for your organization.",
                    ));
                }
                tx.delete(&key)?;
            }
            Ok((serde_json::json!({}), none))
        }
        "EnableAWSServiceAccess" | "DisableAWSServiceAccess" => {
            let org = management(tx, ctx)?;
            let i: ServicePrincipalInput = op.input()?;
            let service = i.service_principal;
            if !all_features(&org) {
                return Err(not_all_features());
            }
            check_service_principal(&service)?;
            let key = access_key(&org.id, &service);
            // Both are idempotent: enabling keeps the first DateEnabled.
            if op.name == "EnableAWSServiceAccess" {
                if tx.get(&key)?.is_none() {
                    tx.put(&key, epoch(ctx.now).to_string().as_bytes())?;
                }
            } else {
                tx.delete(&key)?;
            }
            Ok((serde_json::json!({}), none))
        }
        "EnablePolicyType" | "DisablePolicyType" => {
            let org = management(tx, ctx)?;
            let i: PolicyTypeInput = op.input()?;
            let mut root = get::<Root>(tx, &root_key(&org.id, &i.root_id))?.ok_or_else(|| {
                err(
                    "RootNotFoundException",
                    "We can't find a root with the RootId that you specified.",
                )
            })?;
            let enabled = type_enabled(&root, &i.policy_type);
            let ids: Vec<String> = std::iter::once(root.id.clone())
                .chain(
                    descendants(tx, &org.id, &root.id)?
                        .into_iter()
                        .map(|(id, _)| id),
                )
                .collect();
            if op.name == "EnablePolicyType" {
                // A type Palisade does not manage is never enabled: disabling it is
                // PolicyTypeNotEnabled, as in AWS; enabling it answers 501.
                check_managed_policy_type(&i.policy_type)?;
                require_all_features(&org)?;
                if enabled {
                    return Err(err(
                        "PolicyTypeAlreadyEnabledException",
                        "The specified policy type is already enabled.",
                    ));
                }
                for id in &ids {
                    attach_raw(
                        tx,
                        &org.id,
                        id,
                        &i.policy_type,
                        full_access_id(&i.policy_type),
                    )?;
                }
                root.policy_types.push(PolicyTypeSummary {
                    kind: i.policy_type.clone(),
                    status: "ENABLED".into(),
                });
            } else {
                if !enabled {
                    return Err(policy_type_not_enabled());
                }
                for id in &ids {
                    for parts in scan_ids(tx, &att_prefix(&org.id, id, Some(&i.policy_type)), 0)? {
                        if let Some(p) = parts.last() {
                            detach_raw(tx, &org.id, id, &i.policy_type, p)?;
                        }
                    }
                }
                root.policy_types.retain(|t| t.kind != i.policy_type);
            }
            put(tx, &root_key(&org.id, &root.id), &root)?;
            let arn = root.arn.clone();
            Ok((
                to_value(&serde_json::json!({ "Root": root }))?,
                vec![("AWS::Organizations::Root".into(), arn)],
            ))
        }
        "CreatePolicy" => {
            let org = management(tx, ctx)?;
            let i: CreatePolicyInput = op.input()?;
            check_managed_policy_type(&i.kind)?;
            require_all_features(&org)?;
            check_name("name", &i.name, 128)?;
            if i.description.chars().count() > 512 {
                return Err(validation(
                    "description",
                    &i.description,
                    "Member must have length less than or equal to 512",
                ));
            }
            validate_content(&i.content, &i.kind)?;
            let tags = i.tags.clone().unwrap_or_default();
            validate_tags(tx, &org.id, "", &tags)?;
            if policy_list(tx, &org, &i.kind)?
                .iter()
                .any(|p| p.name == i.name)
            {
                return Err(err(
                    "DuplicatePolicyException",
                    "A policy with the same name already exists.",
                ));
            }
            if scan(tx, &policies_prefix(&org.id))?.len() >= 1000 {
                return Err(constraint(
                    "POLICY_NUMBER_LIMIT_EXCEEDED",
                    "You attempted to exceed the number of policies that you can have in an organization.",
                ));
            }
            let id = format!("p-{}", random_chars(8, LOWER_ALNUM)?);
            let p = StoredPolicy {
                policy_summary: PolicySummary {
                    arn: format!(
                        "arn:aws:organizations::{}:policy/{}/{}/{id}",
                        org.master_account_id,
                        org.id,
                        i.kind.to_lowercase()
                    ),
                    id: id.clone(),
                    name: i.name.clone(),
                    description: i.description.clone(),
                    kind: i.kind.clone(),
                    aws_managed: false,
                },
                content: i.content.clone(),
            };
            put(tx, &policy_key(&org.id, &id), &p)?;
            write_tags(tx, &org.id, &id, &tags)?;
            let arn = p.policy_summary.arn.clone();
            Ok((
                to_value(&serde_json::json!({ "Policy": p }))?,
                vec![("AWS::Organizations::Policy".into(), arn)],
            ))
        }
        "UpdatePolicy" => {
            let org = management(tx, ctx)?;
            let i: UpdatePolicyInput = op.input()?;
            if managed_policy(&org, &i.policy_id).is_some() {
                return Err(invalid_input(
                    "IMMUTABLE_POLICY",
                    "You specified a policy that is managed by AWS and can't be modified.",
                ));
            }
            let mut p = get::<StoredPolicy>(tx, &policy_key(&org.id, &i.policy_id))?
                .ok_or_else(policy_not_found)?;
            if let Some(name) = &i.name {
                check_name("name", name, 128)?;
                if policy_list(tx, &org, &p.policy_summary.kind)?
                    .iter()
                    .any(|o| &o.name == name && o.id != p.policy_summary.id)
                {
                    return Err(err(
                        "DuplicatePolicyException",
                        "A policy with the same name already exists.",
                    ));
                }
                p.policy_summary.name = name.clone();
            }
            if let Some(d) = &i.description {
                p.policy_summary.description = d.clone();
            }
            if let Some(c) = &i.content {
                validate_content(c, &p.policy_summary.kind)?;
                p.content = c.clone();
            }
            put(tx, &policy_key(&org.id, &p.policy_summary.id), &p)?;
            let arn = p.policy_summary.arn.clone();
            Ok((
                to_value(&serde_json::json!({ "Policy": p }))?,
                vec![("AWS::Organizations::Policy".into(), arn)],
            ))
        }
        "DeletePolicy" => {
            let org = management(tx, ctx)?;
            let i: PolicyIdInput = op.input()?;
            if managed_policy(&org, &i.policy_id).is_some() {
                return Err(invalid_input(
                    "IMMUTABLE_POLICY",
                    "You specified a policy that is managed by AWS and can't be modified.",
                ));
            }
            get::<StoredPolicy>(tx, &policy_key(&org.id, &i.policy_id))?
                .ok_or_else(policy_not_found)?;
            if !scan(tx, &tgt_prefix(&org.id, &i.policy_id))?.is_empty() {
                return Err(err(
                    "PolicyInUseException",
                    "The policy is attached to one or more entities. You must detach it from all roots, OUs, and accounts before performing this operation.",
                ));
            }
            tx.delete(&policy_key(&org.id, &i.policy_id))?;
            iam::model::delete_prefix(tx, &tags_prefix(&org.id, &i.policy_id))?;
            Ok((serde_json::json!({}), none))
        }
        "AttachPolicy" | "DetachPolicy" => {
            let org = management(tx, ctx)?;
            let i: PolicyIdInput = op.input()?;
            let target_id = i.target_id.clone().ok_or_else(|| {
                err(
                    "ValidationException",
                    "1 validation error detected: Value null at 'targetId' failed to satisfy constraint: Member must not be null",
                )
            })?;
            let p = load_policy(tx, &org, &i.policy_id)?.ok_or_else(policy_not_found)?;
            target(tx, &org.id, &target_id)?.ok_or_else(target_not_found)?;
            let ty = p.policy_summary.kind.clone();
            let root = the_root(tx, &org.id)?;
            if !type_enabled(&root, &ty) {
                return Err(policy_type_not_enabled());
            }
            // RCPFullAWSAccess stays on every root, OU and account while RCPs are enabled:
            // "You cannot detach this policy" (Organizations User Guide, RCP syntax).
            if op.name == "DetachPolicy" && i.policy_id == FULL_RCP_ID {
                return Err(invalid_input(
                    "NON_DETACHABLE_POLICY",
                    "You can't detach this Amazon Web Services Managed Policy.",
                ));
            }
            let attached = tx
                .get(&att_key(&org.id, &target_id, &ty, &i.policy_id))?
                .is_some();
            let count = scan(tx, &att_prefix(&org.id, &target_id, Some(&ty)))?.len();
            if op.name == "AttachPolicy" {
                if attached {
                    return Err(err(
                        "DuplicatePolicyAttachmentException",
                        "The selected policy is already attached to the specified target.",
                    ));
                }
                if count >= MAX_POLICIES_PER_TARGET {
                    return Err(constraint(
                        "MAX_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED",
                        "You attempted to exceed the number of policies of a certain type that can be attached to an entity at one time.",
                    ));
                }
                attach_raw(tx, &org.id, &target_id, &ty, &i.policy_id)?;
            } else {
                if !attached {
                    return Err(err(
                        "PolicyNotAttachedException",
                        "The policy isn't attached to the specified target in the specified root.",
                    ));
                }
                if count <= 1 {
                    return Err(constraint(
                        "MIN_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED",
                        "You attempted to detach a policy from an entity that would cause the entity to have fewer than the minimum number of policies of a certain type required.",
                    ));
                }
                detach_raw(tx, &org.id, &target_id, &ty, &i.policy_id)?;
            }
            Ok((
                serde_json::json!({}),
                vec![("AWS::Organizations::Policy".into(), p.policy_summary.arn)],
            ))
        }
        _ => Err(ApiError::internal("write() on a read-only operation")),
    }
}

/// Drops every policy attachment and tag of a target that goes away.
fn remove_target(tx: &mut dyn WriteTx, org: &str, target: &str) -> Result<(), ApiError> {
    for parts in scan_ids(tx, &att_prefix(org, target, None), 0)? {
        let n = parts.len();
        if let (Some(ty), Some(p)) = (parts.get(n.wrapping_sub(2)), parts.get(n.wrapping_sub(1))) {
            detach_raw(tx, org, target, ty, p)?;
        }
    }
    iam::model::delete_prefix(tx, &tags_prefix(org, target))?;
    Ok(())
}

fn create_organization(
    tx: &mut dyn WriteTx,
    env: &Env,
    ctx: &RequestContext,
    feature_set: &str,
) -> Result<Organization, ApiError> {
    let account = ctx.principal.account_id.clone();
    if tx.get(&member_key(&account))?.is_some() {
        return Err(err(
            "AlreadyInOrganizationException",
            "The AWS account is already a member of an organization.",
        ));
    }
    let _ = env;
    let org_id = format!("o-{}", random_chars(10, LOWER_ALNUM)?);
    let root_id = format!("r-{}", random_chars(4, LOWER_ALNUM)?);
    // An account keeps its email when it founds an organization of its own; the
    // bootstrap management account has none on record.
    let email = crate::accounts::account_email(tx, &account)?
        .unwrap_or_else(|| format!("management@{account}.palisade.invalid"));
    let org = Organization {
        arn: format!("arn:aws:organizations::{account}:organization/{org_id}"),
        id: org_id.clone(),
        feature_set: feature_set.to_owned(),
        master_account_arn: format!("arn:aws:organizations::{account}:account/{org_id}/{account}"),
        master_account_id: account.clone(),
        master_account_email: email.clone(),
        // No policy type is enabled yet (DescribeOrganization fills it in).
        available_policy_types: Vec::new(),
    };
    let root = Root {
        arn: format!("arn:aws:organizations::{account}:root/{org_id}/{root_id}"),
        id: root_id.clone(),
        name: "Root".into(),
        policy_types: Vec::new(),
    };
    let name = crate::accounts::account_name(tx, &account)?.unwrap_or_else(|| "management".into());
    let member = Member {
        org_id: org_id.clone(),
        parent_id: root_id.clone(),
        id: account.clone(),
        arn: org.master_account_arn.clone(),
        email: email.clone(),
        name,
        status: "ACTIVE".into(),
        state: "ACTIVE".into(),
        joined_method: "INVITED".into(),
        joined: epoch(ctx.now),
    };
    put(tx, &org_key(&org_id), &org)?;
    put(tx, &root_key(&org_id, &root_id), &root)?;
    put(tx, &member_key(&account), &member)?;
    if tx.get(&email_key(&email))?.is_none() {
        tx.put(&email_key(&email), account.as_bytes())?;
    }
    tx.put(&child_key(&org_id, &root_id, ACCOUNT, &account), b"")?;
    // All features need AWSServiceRoleForOrganizations in every account (Organizations
    // User Guide, "Organizations and service-linked roles").
    if feature_set == "ALL" {
        iam::service_linked::ensure(tx, ctx, ORGS_PRINCIPAL)?;
    }
    Ok(org)
}

/// The `CreateAccountResult` event Organizations logs in the management account when an
/// account creation ends ("Check the CloudTrail log for the CreateAccountResult event",
/// CreateAccount). Its shape is the Organizations User Guide's example: an
/// `AwsServiceEvent` invoked by `AWS Internal`, the outcome under
/// `serviceEventDetails.createAccountStatus`, the account name masked and times as Java
/// prints them.
fn record_create_account_result(
    tx: &mut dyn WriteTx,
    ctx: &RequestContext,
    org: &Organization,
    status: &CreateAccountStatus,
) -> Result<(), ApiError> {
    let java_time = |secs: i64| {
        OffsetDateTime::from_unix_timestamp(secs)
            .ok()
            .and_then(|t| {
                t.format(time::macros::format_description!(
                    "[month repr:short] [day padding:none], [year] [hour repr:12 padding:none]:[minute]:[second] [period]"
                ))
                .ok()
            })
    };
    let mut details = serde_json::json!({
        "id": status.id,
        "state": status.state,
        "accountName": "****",
        "requestedTimestamp": java_time(status.requested_timestamp),
    });
    if let Some(o) = details.as_object_mut() {
        if let Some(id) = &status.account_id {
            o.insert("accountId".into(), id.clone().into());
        }
        if let Some(done) = status.completed_timestamp.and_then(java_time) {
            o.insert("completedTimestamp".into(), done.into());
        }
        if let Some(reason) = &status.failure_reason {
            o.insert("failureReason".into(), reason.clone().into());
        }
    }
    let mut event = serde_json::Map::new();
    event.insert(
        "serviceEventDetails".into(),
        serde_json::json!({"createAccountStatus": details}),
    );
    crate::audit::record_service_event(
        tx,
        crate::audit::ServiceEvent {
            account: &org.master_account_id,
            region: "us-east-1",
            time: ctx.now,
            event_version: "1.11",
            event_name: "CreateAccountResult",
            event_source: "organizations.amazonaws.com",
            invoked_by: "AWS Internal",
            resources: &[],
            details: event,
        },
    )?;
    Ok(())
}

fn create_account(
    tx: &mut dyn WriteTx,
    ctx: &RequestContext,
    org: &Organization,
    i: &CreateAccountInput,
) -> Result<CreateAccountStatus, ApiError> {
    // Email, AccountName and IamUserAccessToBilling were checked at decode (check_shape).
    let role_name = i
        .role_name
        .clone()
        .unwrap_or_else(|| "OrganizationAccountAccessRole".into());
    // InvalidInputException's documented INVALID_ROLE_NAME: "A role name can't begin
    // with the reserved prefix AWSServiceRoleFor."
    iam::model::validate_name("roleName", &role_name, 64)
        .ok()
        .filter(|()| !role_name.starts_with("AWSServiceRoleFor"))
        .ok_or_else(|| {
            invalid_input(
                "INVALID_ROLE_NAME",
                "You provided a role name that isn't valid.",
            )
        })?;
    let tags = i.tags.clone().unwrap_or_default();
    validate_tags(tx, &org.id, "", &tags)?;
    let now = epoch(ctx.now);
    let mut status = CreateAccountStatus {
        id: format!("car-{}", random_chars(32, b"0123456789abcdef")?),
        account_name: i.account_name.clone(),
        state: "SUCCEEDED".into(),
        requested_timestamp: now,
        completed_timestamp: Some(now),
        account_id: None,
        failure_reason: None,
    };
    if tx.get(&email_key(&i.email))?.is_some() {
        // As AWS: the request is accepted and then fails.
        status.state = "FAILED".into();
        status.failure_reason = Some("EMAIL_ALREADY_EXISTS".into());
        put(tx, &car_key(&org.id, &status.id), &status)?;
        return Ok(status);
    }
    let account_id = loop {
        let id = random_chars(12, DIGITS)?;
        if !id.starts_with('0') && tx.get(&keyspace::account(&id))?.is_none() {
            break id;
        }
    };
    crate::accounts::create_account_record(tx, &account_id, &i.account_name, &i.email, ctx.now)?;
    let member = Member {
        org_id: org.id.clone(),
        parent_id: the_root(tx, &org.id)?.id,
        id: account_id.clone(),
        arn: format!(
            "arn:aws:organizations::{}:account/{}/{account_id}",
            org.master_account_id, org.id
        ),
        email: i.email.clone(),
        name: i.account_name.clone(),
        status: "ACTIVE".into(),
        state: "ACTIVE".into(),
        joined_method: "CREATED".into(),
        joined: now,
    };
    put(tx, &member_key(&account_id), &member)?;
    tx.put(&email_key(&i.email), account_id.as_bytes())?;
    tx.put(
        &child_key(&org.id, &member.parent_id, ACCOUNT, &account_id),
        b"",
    )?;
    attach_defaults(tx, &org.id, &account_id)?;
    write_tags(tx, &org.id, &account_id, &tags)?;
    // The access role, trusting the management account, with AdministratorAccess.
    let trust = format!(
        "{{\"Version\":\"2012-10-17\",\"Statement\":[{{\"Effect\":\"Allow\",\"Principal\":{{\"AWS\":\"arn:aws:iam::{}:root\"}},\"Action\":\"sts:AssumeRole\"}}]}}",
        org.master_account_id
    );
    let mut role_ctx = ctx.clone();
    role_ctx.principal = Principal::root(&account_id, "");
    iam::roles::create_role(
        tx,
        &role_ctx,
        &iam::roles::CreateRoleInput {
            role_name: role_name.clone(),
            assume_role_policy_document: trust,
            path: None,
            description: None,
            max_session_duration: None,
            permissions_boundary: None,
            tags: None,
        },
    )?;
    iam::attach::attach(
        tx,
        &account_id,
        EntityKind::Role,
        &role_name,
        ADMIN_POLICY_ARN,
    )?;
    // "If you enabled all features in the organization, Organizations creates the required
    // service-linked role named AWSServiceRoleForOrganizations" (CreateAccount).
    if all_features(org) {
        iam::service_linked::ensure(tx, &role_ctx, ORGS_PRINCIPAL)?;
    }
    status.account_id = Some(account_id);
    put(tx, &car_key(&org.id, &status.id), &status)?;
    Ok(status)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::accounts;

    const MGMT: &str = "111111111111";
    const ROOT_AK: &str = "AKIAORGSUNITTEST0000";

    /// The test environment (a temporary data dir, removed on drop) with MGMT's root key.
    type Fixture = crate::env::testing::TestEnv;

    fn fixture() -> Fixture {
        let f = crate::env::testing::test_env(MGMT);
        accounts::bootstrap(
            f.env.store.as_ref(),
            &f.env.master_key,
            MGMT,
            Some((ROOT_AK.into(), "s".repeat(40))),
        )
        .unwrap();
        f
    }

    fn ctx(account: &str) -> RequestContext {
        RequestContext {
            request_id: "r".into(),
            principal: Principal::root(account, ROOT_AK),
            region: "us-east-1".into(),
            source_ip: "127.0.0.1".into(),
            user_agent: "unit".into(),
            now: OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
            secure_transport: false,
            invoked: Default::default(),
        }
    }

    fn call(f: &Fixture, account: &str, action: &str, body: Value) -> Result<Value, ApiError> {
        let raw = serde_json::to_vec(&body).unwrap();
        let op = decode(action, &Input::Json(&raw)).unwrap()?;
        let c = ctx(account);
        let env = f.env.clone();
        if crate::Operation::read_only(op.as_ref()) {
            let mut out = None;
            f.env
                .store
                .read(&mut |tx| {
                    out = Some(read_op(
                        &Operation {
                            name: crate::Operation::name(op.as_ref()),
                            body: body.clone(),
                        },
                        tx,
                        &c,
                    ));
                    Ok(())
                })
                .unwrap();
            return out.unwrap();
        }
        let name = crate::Operation::name(op.as_ref());
        accounts::write_blocking(f.env.store.as_ref(), move |tx| {
            write_op(&Operation { name, body }, tx, &env, &c).map(|(v, _)| v)
        })
    }

    fn read<T>(f: &Fixture, g: impl Fn(&dyn ReadTx) -> T) -> T {
        let mut out = None;
        f.env
            .store
            .read(&mut |tx| {
                out = Some(g(tx));
                Ok(())
            })
            .unwrap();
        out.unwrap()
    }

    fn s(v: &Value, path: &[&str]) -> String {
        let mut cur = v;
        for p in path {
            cur = &cur[*p];
        }
        cur.as_str().unwrap().to_owned()
    }

    /// org + SCPs enabled + OU "Prod" + account in it; returns (root, ou, account).
    fn estate(f: &Fixture) -> (String, String, String) {
        call(
            f,
            MGMT,
            "CreateOrganization",
            serde_json::json!({"FeatureSet": "ALL"}),
        )
        .unwrap();
        let roots = call(f, MGMT, "ListRoots", serde_json::json!({})).unwrap();
        let root = s(&roots["Roots"][0], &["Id"]);
        call(
            f,
            MGMT,
            "EnablePolicyType",
            serde_json::json!({"RootId": root, "PolicyType": SCP}),
        )
        .unwrap();
        let ou = call(
            f,
            MGMT,
            "CreateOrganizationalUnit",
            serde_json::json!({"ParentId": root, "Name": "Prod"}),
        )
        .unwrap();
        let ou = s(&ou, &["OrganizationalUnit", "Id"]);
        let st = call(
            f,
            MGMT,
            "CreateAccount",
            serde_json::json!({"Email": "prod@example.com", "AccountName": "prod"}),
        )
        .unwrap();
        assert_eq!(s(&st, &["CreateAccountStatus", "State"]), "IN_PROGRESS");
        let id = s(&st, &["CreateAccountStatus", "Id"]);
        let st = call(
            f,
            MGMT,
            "DescribeCreateAccountStatus",
            serde_json::json!({"CreateAccountRequestId": id}),
        )
        .unwrap();
        assert_eq!(s(&st, &["CreateAccountStatus", "State"]), "SUCCEEDED");
        let acct = s(&st, &["CreateAccountStatus", "AccountId"]);
        call(
            f,
            MGMT,
            "MoveAccount",
            serde_json::json!({"AccountId": acct, "SourceParentId": root, "DestinationParentId": ou}),
        )
        .unwrap();
        (root, ou, acct)
    }

    const DENY_LEAVE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"organizations:LeaveOrganization","Resource":"*"}]}"#;

    #[test]
    fn policies_for_account_levels_root_first() {
        let f = fixture();
        let (root, ou, acct) = estate(&f);
        let p = call(
            &f,
            MGMT,
            "CreatePolicy",
            serde_json::json!({"Content": DENY_LEAVE, "Description": "d", "Name": "DenyLeave", "Type": SCP}),
        )
        .unwrap();
        let pid = s(&p, &["Policy", "PolicySummary", "Id"]);
        call(
            &f,
            MGMT,
            "AttachPolicy",
            serde_json::json!({"PolicyId": pid, "TargetId": ou}),
        )
        .unwrap();
        let levels = read(&f, |tx| policies_for_account(tx, &acct, SCP).unwrap()).unwrap();
        assert_eq!(levels.len(), 3);
        assert_eq!(levels[0], vec![FULL_SCP_DOC.to_owned()]);
        assert_eq!(levels[1].len(), 2);
        assert!(levels[1].contains(&DENY_LEAVE.to_owned()));
        assert_eq!(levels[2], vec![FULL_SCP_DOC.to_owned()]);
        // Management account: exempt. RCPs: not enabled. Unknown account: none.
        assert!(read(&f, |tx| policies_for_account(tx, MGMT, SCP).unwrap()).is_none());
        assert!(read(&f, |tx| policies_for_account(tx, &acct, RCP).unwrap()).is_none());
        assert!(read(&f, |tx| policies_for_account(tx, "999999999999", SCP)
            .unwrap())
        .is_none());
        let facts = read(&f, |tx| org_facts(tx, &acct).unwrap()).unwrap();
        assert!(facts.org_id.starts_with("o-"));
        assert_eq!(facts.org_path, format!("{}/{root}/{ou}/", facts.org_id));
        assert_eq!(facts.management_account, MGMT);
        let mf = read(&f, |tx| org_facts(tx, MGMT).unwrap()).unwrap();
        assert_eq!(mf.org_path, format!("{}/{root}/", mf.org_id));
        assert!(read(&f, |tx| org_facts(tx, "999999999999").unwrap()).is_none());
        // Disabling SCPs removes them from evaluation.
        call(
            &f,
            MGMT,
            "DisablePolicyType",
            serde_json::json!({"RootId": root, "PolicyType": SCP}),
        )
        .unwrap();
        assert!(read(&f, |tx| policies_for_account(tx, &acct, SCP).unwrap()).is_none());
    }

    #[test]
    fn new_account_has_access_role_and_no_org_when_removed() {
        let f = fixture();
        let (_, _, acct) = estate(&f);
        let role = read(&f, |tx| {
            iam::model::get::<iam::model::Role>(
                tx,
                &iam::model::entity_key(&acct, "role", "OrganizationAccountAccessRole"),
            )
            .unwrap()
        })
        .unwrap();
        assert!(role
            .assume_role_policy_document
            .contains(&format!("arn:aws:iam::{MGMT}:root")));
        let attached = read(&f, |tx| {
            tx.get(&iam::model::attachment_key(
                &acct,
                EntityKind::Role,
                "OrganizationAccountAccessRole",
                ADMIN_POLICY_ARN,
            ))
            .unwrap()
        });
        assert!(attached.is_some());
        call(
            &f,
            MGMT,
            "RemoveAccountFromOrganization",
            serde_json::json!({"AccountId": acct}),
        )
        .unwrap();
        assert!(read(&f, |tx| policies_for_account(tx, &acct, SCP).unwrap()).is_none());
    }

    #[test]
    fn errors_change_nothing() {
        let f = fixture();
        let (root, ou, acct) = estate(&f);
        let e = call(
            &f,
            MGMT,
            "DetachPolicy",
            serde_json::json!({"PolicyId": FULL_SCP_ID, "TargetId": ou}),
        )
        .unwrap_err();
        assert_eq!(e.code, "ConstraintViolationException");
        assert_eq!(
            e.reason.as_deref(),
            Some("MIN_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED")
        );
        let e = call(
            &f,
            MGMT,
            "AttachPolicy",
            serde_json::json!({"PolicyId": FULL_SCP_ID, "TargetId": "ou-zzzz-zzzzzzzz"}),
        )
        .unwrap_err();
        assert_eq!(e.code, "TargetNotFoundException");
        let big = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Action":"s3:*","Resource":"*","Sid":"{}"}}]}}"#,
            "a".repeat(5200)
        );
        let e = call(
            &f,
            MGMT,
            "CreatePolicy",
            serde_json::json!({"Content": big, "Description": "d", "Name": "Big", "Type": SCP}),
        )
        .unwrap_err();
        assert_eq!(e.reason.as_deref(), Some("POLICY_CONTENT_LIMIT_EXCEEDED"));
        let e = call(
            &f,
            MGMT,
            "MoveAccount",
            serde_json::json!({"AccountId": acct, "SourceParentId": ou, "DestinationParentId": "ou-zzzz-zzzzzzzz"}),
        )
        .unwrap_err();
        assert_eq!(e.code, "DestinationParentNotFoundException");
        let e = call(
            &f,
            acct.as_str(),
            "CreateOrganizationalUnit",
            serde_json::json!({"ParentId": root, "Name": "X"}),
        )
        .unwrap_err();
        assert_eq!(e.code, "AccessDeniedException");
        let e = call(
            &f,
            MGMT,
            "DeleteOrganizationalUnit",
            serde_json::json!({"OrganizationalUnitId": ou}),
        )
        .unwrap_err();
        assert_eq!(e.code, "OrganizationalUnitNotEmptyException");
        let e = call(&f, MGMT, "DeleteOrganization", serde_json::json!({})).unwrap_err();
        assert_eq!(e.code, "OrganizationNotEmptyException");
        let levels = read(&f, |tx| policies_for_account(tx, &acct, SCP).unwrap()).unwrap();
        assert_eq!(
            levels.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![1, 1, 1]
        );
    }
}
