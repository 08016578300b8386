//! Account-wide IAM: CreateAccountAlias, DeleteAccountAlias, ListAccountAliases,
//! GetAccountSummary (AWS's SummaryMap keys and default quotas) and
//! GetAccountAuthorizationDetails (every user, group, role and policy with their inline
//! and attached policies, filtered and paged as IAM does).

use super::{
    attach, camel_json,
    error::IamError,
    groups, inline, instance_profiles,
    model::{
        self, AttachedPermissionsBoundary, AttachedPolicy, EntityKind, Group, Role, Tag, User,
    },
    policies::{self, url_encode, PolicyVersionOut},
    roles,
};
use crate::{
    authz::AuthzCheck, context::RequestContext, env::Env, error::ApiError, input::Input, Reply,
};
use palisade_store::{ReadTx, WriteTx};
use std::collections::BTreeMap;

#[derive(Debug)]
pub enum Operation {
    CreateAccountAlias(AliasInput),
    DeleteAccountAlias(AliasInput),
    ListAccountAliases(PageInput),
    GetAccountSummary(Empty),
    GetAccountAuthorizationDetails(DetailsInput),
}

pub fn decode(
    action: &str,
    input: &Input<'_>,
) -> Option<Result<Box<dyn crate::Operation>, ApiError>> {
    let op = match action {
        "CreateAccountAlias" => input.parse().map(Operation::CreateAccountAlias),
        "DeleteAccountAlias" => input.parse().map(Operation::DeleteAccountAlias),
        "ListAccountAliases" => input.parse().map(Operation::ListAccountAliases),
        "GetAccountSummary" => input.parse().map(Operation::GetAccountSummary),
        "GetAccountAuthorizationDetails" => {
            input.parse().map(Operation::GetAccountAuthorizationDetails)
        }
        _ => return None,
    };
    Some(op.map(|op| Box::new(op) as Box<dyn crate::Operation>))
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AliasInput {
    pub account_alias: String,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PageInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_items: Option<i64>,
}

#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
pub struct Empty {}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DetailsInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_items: Option<i64>,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAliasesOutput {
    pub account_aliases: Vec<String>,
    pub is_truncated: bool,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SummaryOutput {
    pub summary_map: BTreeMap<&'static str, i64>,
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyDetail {
    pub policy_name: String,
    pub policy_document: String,
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserDetail {
    pub path: String,
    pub user_name: String,
    pub user_id: String,
    pub arn: String,
    pub create_date: String,
    pub user_policy_list: Vec<PolicyDetail>,
    pub group_list: Vec<String>,
    pub attached_managed_policies: Vec<AttachedPolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions_boundary: Option<AttachedPermissionsBoundary>,
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupDetail {
    pub path: String,
    pub group_name: String,
    pub group_id: String,
    pub arn: String,
    pub create_date: String,
    pub group_policy_list: Vec<PolicyDetail>,
    pub attached_managed_policies: Vec<AttachedPolicy>,
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RoleDetail {
    pub path: String,
    pub role_name: String,
    pub role_id: String,
    pub arn: String,
    pub create_date: String,
    pub assume_role_policy_document: String,
    pub instance_profile_list: Vec<instance_profiles::InstanceProfileOut>,
    pub role_policy_list: Vec<PolicyDetail>,
    pub attached_managed_policies: Vec<AttachedPolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions_boundary: Option<AttachedPermissionsBoundary>,
    pub tags: Vec<Tag>,
    pub role_last_used: model::RoleLastUsed,
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ManagedPolicyDetail {
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
    pub policy_version_list: Vec<PolicyVersionOut>,
}

#[derive(Debug, Default, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DetailsOutput {
    pub user_detail_list: Vec<UserDetail>,
    pub group_detail_list: Vec<GroupDetail>,
    pub role_detail_list: Vec<RoleDetail>,
    pub policies: Vec<ManagedPolicyDetail>,
    pub is_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
}

const ALIAS_ITEM: &str = "alias";

fn validate_alias(alias: &str) -> Result<(), IamError> {
    let b = alias.as_bytes();
    let ok = (3..=63).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b.first().is_some_and(|c| *c != b'-')
        && b.last().is_some_and(|c| *c != b'-')
        && !alias.contains("--");
    if ok {
        Ok(())
    } else {
        Err(IamError::Validation(format!(
            "1 validation error detected: Value '{alias}' at 'accountAlias' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-z0-9]([a-z0-9]|-(?!-)){{1,61}}[a-z0-9]$"
        )))
    }
}

fn count(tx: &dyn ReadTx, account: &str, table: &str) -> Result<i64, ApiError> {
    Ok(
        i64::try_from(model::scan_all(tx, &model::table_prefix(account, table))?.len())
            .unwrap_or(0),
    )
}

fn summary(tx: &dyn ReadTx, account: &str) -> Result<BTreeMap<&'static str, i64>, ApiError> {
    let mut m = BTreeMap::new();
    let policies = count(tx, account, policies::TABLE)?;
    let versions_in_use: i64 = model::scan_all(tx, &model::table_prefix(account, "attachedto"))?
        .len()
        .try_into()
        .unwrap_or(0);
    let mfa_in_use = count(tx, account, "usermfa")?;
    for (k, v) in [
        ("Users", count(tx, account, "user")?),
        ("UsersQuota", 5000),
        ("Groups", count(tx, account, groups::TABLE)?),
        ("GroupsQuota", 300),
        ("ServerCertificates", 0),
        ("ServerCertificatesQuota", 20),
        ("UserPolicySizeQuota", 2048),
        ("GroupPolicySizeQuota", 5120),
        ("GroupsPerUserQuota", 10),
        ("SigningCertificatesPerUserQuota", 2),
        ("AccessKeysPerUserQuota", 2),
        ("MFADevices", count(tx, account, "vmfa")?),
        ("MFADevicesInUse", mfa_in_use),
        ("AccountMFAEnabled", 0),
        ("AccountAccessKeysPresent", 1),
        ("AccountPasswordPresent", 0),
        ("AccountSigningCertificatesPresent", 0),
        ("AttachedPoliciesPerGroupQuota", 10),
        ("AttachedPoliciesPerRoleQuota", 10),
        ("AttachedPoliciesPerUserQuota", 10),
        ("Policies", policies),
        ("PoliciesQuota", 1500),
        ("PolicySizeQuota", 6144),
        ("PolicyVersionsInUse", versions_in_use),
        ("PolicyVersionsInUseQuota", 10000),
        ("VersionsPerPolicyQuota", 5),
        ("GlobalEndpointTokenVersion", 1),
        ("AssumeRolePolicySizeQuota", 2048),
        (
            "InstanceProfiles",
            count(tx, account, instance_profiles::TABLE)?,
        ),
        ("InstanceProfilesQuota", 1000),
        ("Providers", count(tx, account, "idp")?),
        ("RolePolicySizeQuota", 10240),
        ("Roles", count(tx, account, roles::TABLE)?),
        ("RolesQuota", 1000),
    ] {
        m.insert(k, v);
    }
    Ok(m)
}

fn inline_details(
    tx: &dyn ReadTx,
    account: &str,
    kind: EntityKind,
    name: &str,
) -> Result<Vec<PolicyDetail>, ApiError> {
    Ok(inline::inline_policies(tx, account, kind, name)?
        .into_iter()
        .map(|(policy_name, doc)| PolicyDetail {
            policy_name,
            policy_document: url_encode(&doc),
        })
        .collect())
}

/// One item of GetAccountAuthorizationDetails, in the order IAM pages them.
enum Item {
    User(Box<UserDetail>),
    Group(Box<GroupDetail>),
    Role(Box<RoleDetail>),
    Policy(Box<ManagedPolicyDetail>),
}

fn all_of<T: serde::de::DeserializeOwned>(
    tx: &dyn ReadTx,
    account: &str,
    table: &str,
) -> Result<Vec<T>, ApiError> {
    model::scan_all(tx, &model::table_prefix(account, table))?
        .into_iter()
        .map(|(_, v)| serde_json::from_slice(&v).map_err(ApiError::internal))
        .collect()
}

fn details(tx: &dyn ReadTx, account: &str, filter: &[String]) -> Result<Vec<Item>, ApiError> {
    let wants = |t: &str| filter.is_empty() || filter.iter().any(|f| f == t);
    let mut items = Vec::new();
    if wants("User") {
        for u in all_of::<User>(tx, account, "user")? {
            items.push(Item::User(Box::new(UserDetail {
                user_policy_list: inline_details(tx, account, EntityKind::User, &u.user_name)?,
                group_list: groups::groups_of_user(tx, account, &u.user_name)?,
                attached_managed_policies: attach::attached_policies(
                    tx,
                    account,
                    EntityKind::User,
                    &u.user_name,
                )?,
                path: u.path,
                user_name: u.user_name,
                user_id: u.user_id,
                arn: u.arn,
                create_date: u.create_date,
                permissions_boundary: u.permissions_boundary,
                tags: u.tags,
            })));
        }
    }
    if wants("Group") {
        for g in all_of::<Group>(tx, account, groups::TABLE)? {
            items.push(Item::Group(Box::new(GroupDetail {
                group_policy_list: inline_details(tx, account, EntityKind::Group, &g.group_name)?,
                attached_managed_policies: attach::attached_policies(
                    tx,
                    account,
                    EntityKind::Group,
                    &g.group_name,
                )?,
                path: g.path,
                group_name: g.group_name,
                group_id: g.group_id,
                arn: g.arn,
                create_date: g.create_date,
            })));
        }
    }
    if wants("Role") {
        for r in all_of::<Role>(tx, account, roles::TABLE)? {
            let profiles = instance_profiles::profiles_of_role(tx, account, &r.role_name)?
                .into_iter()
                .map(|p| instance_profiles::out(tx, account, p, false))
                .collect::<Result<_, _>>()?;
            items.push(Item::Role(Box::new(RoleDetail {
                role_policy_list: inline_details(tx, account, EntityKind::Role, &r.role_name)?,
                attached_managed_policies: attach::attached_policies(
                    tx,
                    account,
                    EntityKind::Role,
                    &r.role_name,
                )?,
                instance_profile_list: profiles,
                path: r.path,
                role_name: r.role_name,
                role_id: r.role_id,
                arn: r.arn,
                create_date: r.create_date,
                assume_role_policy_document: url_encode(&r.assume_role_policy_document),
                permissions_boundary: r.permissions_boundary,
                tags: r.tags,
                role_last_used: r.role_last_used.unwrap_or(model::RoleLastUsed {
                    last_used_date: None,
                    region: None,
                }),
            })));
        }
    }
    if wants("LocalManagedPolicy") {
        for p in all_of::<model::ManagedPolicy>(tx, account, policies::TABLE)? {
            let versions = policies::versions(tx, account, &p.policy_name)?
                .iter()
                .map(|v| PolicyVersionOut::new(v, true))
                .collect();
            items.push(Item::Policy(Box::new(ManagedPolicyDetail {
                policy_name: p.policy_name,
                policy_id: p.policy_id,
                arn: p.arn,
                path: p.path,
                default_version_id: p.default_version_id,
                attachment_count: p.attachment_count,
                permissions_boundary_usage_count: p.permissions_boundary_usage_count,
                is_attachable: p.is_attachable,
                description: p.description,
                create_date: p.create_date,
                update_date: p.update_date,
                policy_version_list: versions,
            })));
        }
    }
    if wants("AWSManagedPolicy") {
        // AWS lists the AWS managed policies in use in the account.
        let counts = policies::usage_counts(tx, account)?;
        for p in palisade_iam_data::managed_policies() {
            let Some(c) = counts.get(p.arn).copied() else {
                continue;
            };
            let o = policies::PolicyOut::from_aws(p, c);
            items.push(Item::Policy(Box::new(ManagedPolicyDetail {
                policy_name: o.policy_name,
                policy_id: o.policy_id,
                arn: o.arn,
                path: o.path,
                default_version_id: o.default_version_id.clone(),
                attachment_count: o.attachment_count,
                permissions_boundary_usage_count: o.permissions_boundary_usage_count,
                is_attachable: true,
                description: None,
                create_date: o.create_date,
                update_date: o.update_date.clone(),
                policy_version_list: vec![PolicyVersionOut {
                    document: Some(url_encode(p.document)),
                    version_id: o.default_version_id,
                    is_default_version: true,
                    create_date: o.update_date,
                }],
            })));
        }
    }
    Ok(items)
}

impl crate::Operation for Operation {
    fn name(&self) -> &'static str {
        match self {
            Operation::CreateAccountAlias(_) => "CreateAccountAlias",
            Operation::DeleteAccountAlias(_) => "DeleteAccountAlias",
            Operation::ListAccountAliases(_) => "ListAccountAliases",
            Operation::GetAccountSummary(_) => "GetAccountSummary",
            Operation::GetAccountAuthorizationDetails(_) => "GetAccountAuthorizationDetails",
        }
    }

    fn read_only(&self) -> bool {
        !matches!(
            self,
            Operation::CreateAccountAlias(_) | Operation::DeleteAccountAlias(_)
        )
    }

    fn authz(&self, _ctx: &RequestContext) -> Vec<AuthzCheck> {
        // None of these actions has a resource type in the Service Authorization Reference.
        let action = match self {
            Operation::CreateAccountAlias(_) => "iam:CreateAccountAlias",
            Operation::DeleteAccountAlias(_) => "iam:DeleteAccountAlias",
            Operation::ListAccountAliases(_) => "iam:ListAccountAliases",
            Operation::GetAccountSummary(_) => "iam:GetAccountSummary",
            Operation::GetAccountAuthorizationDetails(_) => "iam:GetAccountAuthorizationDetails",
        };
        vec![AuthzCheck::new(action, "*")]
    }

    fn request_parameters(&self) -> Option<serde_json::Value> {
        match self {
            Operation::CreateAccountAlias(i) | Operation::DeleteAccountAlias(i) => camel_json(i),
            Operation::ListAccountAliases(i) => camel_json(i),
            Operation::GetAccountSummary(_) => None,
            Operation::GetAccountAuthorizationDetails(i) => camel_json(i),
        }
    }

    fn read(&self, tx: &dyn ReadTx, _env: &Env, ctx: &RequestContext) -> Result<Reply, ApiError> {
        let account = &ctx.principal.account_id;
        match self {
            Operation::ListAccountAliases(i) => {
                model::max_items(i.max_items)?;
                let alias: Option<String> =
                    model::get(tx, &model::account_item_key(account, ALIAS_ITEM))?;
                Ok(Reply::new(ListAliasesOutput {
                    account_aliases: alias.into_iter().collect(),
                    is_truncated: false,
                }))
            }
            Operation::GetAccountSummary(_) => Ok(Reply::new(SummaryOutput {
                summary_map: summary(tx, account)?,
            })),
            Operation::GetAccountAuthorizationDetails(i) => {
                // Filter's values are the model's enum, checked before authorization
                // (`model_checks`).
                let filter = i.filter.clone().unwrap_or_default();
                let max = model::max_items(i.max_items)?;
                let start = match &i.marker {
                    None => 0,
                    Some(m) => m
                        .parse::<usize>()
                        .map_err(|_| IamError::InvalidInput("Invalid Marker.".into()))?,
                };
                let items = details(tx, account, &filter)?;
                let total = items.len();
                let mut out = DetailsOutput::default();
                let mut taken = 0;
                for item in items.into_iter().skip(start).take(max) {
                    taken += 1;
                    match item {
                        Item::User(u) => out.user_detail_list.push(*u),
                        Item::Group(g) => out.group_detail_list.push(*g),
                        Item::Role(r) => out.role_detail_list.push(*r),
                        Item::Policy(p) => out.policies.push(*p),
                    }
                }
                let next = start + taken;
                if next < total {
                    out.is_truncated = true;
                    out.marker = Some(next.to_string());
                }
                Ok(Reply::new(out))
            }
            _ => Err(ApiError::internal(
                "read() on a mutating IAM account operation",
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
        let key = model::account_item_key(account, ALIAS_ITEM);
        match self {
            Operation::CreateAccountAlias(i) => {
                validate_alias(&i.account_alias)?;
                // One alias per account: a new one replaces the old.
                model::put(tx, &key, &i.account_alias)?;
                Ok(Reply::empty())
            }
            Operation::DeleteAccountAlias(i) => {
                let current: Option<String> = model::get(tx, &key)?;
                if current.as_deref() != Some(i.account_alias.as_str()) {
                    return Err(IamError::NoSuchEntity(format!(
                        "The account alias {} cannot be found.",
                        i.account_alias
                    ))
                    .into());
                }
                tx.delete(&key)?;
                Ok(Reply::empty())
            }
            _ => Err(ApiError::internal(
                "write() on a read-only IAM account operation",
            )),
        }
    }
}
