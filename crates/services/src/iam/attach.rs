//! Managed policy attachments: Attach/Detach{User,Group,Role}Policy,
//! ListAttached{User,Group,Role}Policies, ListEntitiesForPolicy.
//!
//! Each attachment is two records: [`model::attachment_key`] (entity -> policy, holding an
//! [`AttachedPolicy`]) and the reverse index [`model::attached_to_key`] (policy -> entity,
//! holding an [`AttachedTo`]); a customer policy's AttachmentCount moves with them.

use super::{
    camel_json,
    error::IamError,
    model::{self, AttachedPolicy, AttachedTo, EntityKind, Group, Role, User},
    policies, resource_arn,
};
use crate::{
    authz::AuthzCheck, context::RequestContext, env::Env, error::ApiError, input::Input, Reply,
};
use palisade_store::{ReadTx, WriteTx};

/// Managed policies one user, group or role may have attached.
pub const MAX_ATTACHED: usize = 10;

#[derive(Debug)]
pub enum Operation {
    Attach(EntityKind, AttachInput),
    Detach(EntityKind, AttachInput),
    ListAttached(EntityKind, ListAttachedInput),
    ListEntitiesForPolicy(ListEntitiesForPolicyInput),
}

/// The entity name member of each kind's inputs (`UserName`, `GroupName`, `RoleName`).
#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttachInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_name: Option<String>,
    pub policy_arn: String,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAttachedInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_items: Option<i64>,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListEntitiesForPolicyInput {
    pub policy_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_filter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_usage_filter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_items: Option<i64>,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAttachedOutput {
    pub attached_policies: Vec<AttachedPolicy>,
    pub is_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyUser {
    pub user_name: String,
    pub user_id: String,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyGroup {
    pub group_name: String,
    pub group_id: String,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyRole {
    pub role_name: String,
    pub role_id: String,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListEntitiesForPolicyOutput {
    pub policy_groups: Vec<PolicyGroup>,
    pub policy_users: Vec<PolicyUser>,
    pub policy_roles: Vec<PolicyRole>,
    pub is_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
}

pub fn decode(
    action: &str,
    input: &Input<'_>,
) -> Option<Result<Box<dyn crate::Operation>, ApiError>> {
    use EntityKind::*;
    let op = match action {
        "AttachUserPolicy" => parse_named(input, User).map(|i| Operation::Attach(User, i)),
        "AttachGroupPolicy" => parse_named(input, Group).map(|i| Operation::Attach(Group, i)),
        "AttachRolePolicy" => parse_named(input, Role).map(|i| Operation::Attach(Role, i)),
        "DetachUserPolicy" => parse_named(input, User).map(|i| Operation::Detach(User, i)),
        "DetachGroupPolicy" => parse_named(input, Group).map(|i| Operation::Detach(Group, i)),
        "DetachRolePolicy" => parse_named(input, Role).map(|i| Operation::Detach(Role, i)),
        "ListAttachedUserPolicies" => {
            parse_list(input, User).map(|i| Operation::ListAttached(User, i))
        }
        "ListAttachedGroupPolicies" => {
            parse_list(input, Group).map(|i| Operation::ListAttached(Group, i))
        }
        "ListAttachedRolePolicies" => {
            parse_list(input, Role).map(|i| Operation::ListAttached(Role, i))
        }
        "ListEntitiesForPolicy" => input.parse().map(Operation::ListEntitiesForPolicy),
        _ => return None,
    };
    Some(op.map(|op| Box::new(op) as Box<dyn crate::Operation>))
}

/// The AWS member name of an entity kind's name (`UserName`, ...).
pub fn name_member(kind: EntityKind) -> &'static str {
    match kind {
        EntityKind::User => "UserName",
        EntityKind::Group => "GroupName",
        EntityKind::Role => "RoleName",
    }
}

fn missing(kind: EntityKind) -> ApiError {
    ApiError::new(
        "ValidationError",
        400,
        format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
            crate::input::lower_camel(name_member(kind))
        ),
    )
}

fn pick<'a>(
    kind: EntityKind,
    user: &'a Option<String>,
    group: &'a Option<String>,
    role: &'a Option<String>,
) -> Option<&'a str> {
    match kind {
        EntityKind::User => user.as_deref(),
        EntityKind::Group => group.as_deref(),
        EntityKind::Role => role.as_deref(),
    }
}

fn parse_named(input: &Input<'_>, kind: EntityKind) -> Result<AttachInput, ApiError> {
    let i: AttachInput = input.parse()?;
    pick(kind, &i.user_name, &i.group_name, &i.role_name).ok_or_else(|| missing(kind))?;
    Ok(i)
}

fn parse_list(input: &Input<'_>, kind: EntityKind) -> Result<ListAttachedInput, ApiError> {
    let i: ListAttachedInput = input.parse()?;
    pick(kind, &i.user_name, &i.group_name, &i.role_name).ok_or_else(|| missing(kind))?;
    Ok(i)
}

impl AttachInput {
    fn name(&self, kind: EntityKind) -> &str {
        pick(kind, &self.user_name, &self.group_name, &self.role_name).unwrap_or_default()
    }
}

impl ListAttachedInput {
    fn name(&self, kind: EntityKind) -> &str {
        pick(kind, &self.user_name, &self.group_name, &self.role_name).unwrap_or_default()
    }
}

/// An existing user, group or role: (name as created, ARN, id, path).
pub struct EntityInfo {
    pub name: String,
    pub arn: String,
    pub id: String,
    pub path: String,
}

/// Loads a user, group or role, or answers NoSuchEntity as AWS words it for that kind.
pub fn load_entity(
    tx: &dyn ReadTx,
    account: &str,
    kind: EntityKind,
    name: &str,
) -> Result<EntityInfo, ApiError> {
    let key = model::entity_key(account, kind.tag(), name);
    let found = match kind {
        EntityKind::User => model::get::<User>(tx, &key)?.map(|u| EntityInfo {
            name: u.user_name,
            arn: u.arn,
            id: u.user_id,
            path: u.path,
        }),
        EntityKind::Group => model::get::<Group>(tx, &key)?.map(|g| EntityInfo {
            name: g.group_name,
            arn: g.arn,
            id: g.group_id,
            path: g.path,
        }),
        EntityKind::Role => model::get::<Role>(tx, &key)?.map(|r| EntityInfo {
            name: r.role_name,
            arn: r.arn,
            id: r.role_id,
            path: r.path,
        }),
    };
    found.ok_or_else(|| {
        IamError::NoSuchEntity(format!(
            "The {} with name {name} cannot be found.",
            kind.tag()
        ))
        .into()
    })
}

/// CloudTrail resource type of an entity kind.
pub fn resource_type(kind: EntityKind) -> &'static str {
    match kind {
        EntityKind::User => "AWS::IAM::User",
        EntityKind::Group => "AWS::IAM::Group",
        EntityKind::Role => "AWS::IAM::Role",
    }
}

/// Attaches a managed policy (idempotent), keeping the reverse index and AttachmentCount.
pub fn attach(
    tx: &mut dyn WriteTx,
    account: &str,
    kind: EntityKind,
    entity: &str,
    policy_arn: &str,
) -> Result<EntityInfo, ApiError> {
    policies::validate_policy_arn(policy_arn)?;
    let info = load_entity(tx, account, kind, entity)?;
    let policy = policies::resolve(tx, account, policy_arn)?;
    // A service role policy belongs on its service-linked role, which only that
    // service (here: `service_linked`) attaches policies to.
    if !info.path.starts_with("/aws-service-role/") {
        policy.check_attachable()?;
    }
    let key = model::attachment_key(account, kind, &info.name, policy.arn());
    if tx.get(&key)?.is_some() {
        return Ok(info);
    }
    let count = model::scan_all(tx, &model::attachments_prefix(account, kind, &info.name))?.len();
    if count >= MAX_ATTACHED {
        let what = match kind {
            EntityKind::User => "PoliciesPerUser",
            EntityKind::Group => "PoliciesPerGroup",
            EntityKind::Role => "PoliciesPerRole",
        };
        return Err(IamError::LimitExceeded(format!(
            "Cannot exceed quota for {what}: {MAX_ATTACHED}"
        ))
        .into());
    }
    model::put(
        tx,
        &key,
        &AttachedPolicy {
            policy_name: policy.name().to_owned(),
            policy_arn: policy.arn().to_owned(),
        },
    )?;
    model::put(
        tx,
        &model::attached_to_key(account, policy.arn(), kind, &info.name),
        &AttachedTo {
            entity_type: kind.tag().to_owned(),
            entity_name: info.name.clone(),
        },
    )?;
    policies::adjust_counts(tx, account, policy.arn(), 1, 0)?;
    Ok(info)
}

/// Detaches a managed policy; NoSuchEntity when it is not attached.
pub fn detach(
    tx: &mut dyn WriteTx,
    account: &str,
    kind: EntityKind,
    entity: &str,
    policy_arn: &str,
) -> Result<EntityInfo, ApiError> {
    policies::validate_policy_arn(policy_arn)?;
    let info = load_entity(tx, account, kind, entity)?;
    let key = model::attachment_key(account, kind, &info.name, policy_arn);
    if tx.get(&key)?.is_none() {
        return Err(IamError::NoSuchEntity(format!("Policy {policy_arn} was not found.")).into());
    }
    tx.delete(&key)?;
    tx.delete(&model::attached_to_key(
        account, policy_arn, kind, &info.name,
    ))?;
    policies::adjust_counts(tx, account, policy_arn, -1, 0)?;
    Ok(info)
}

/// Moves an entity's inline policies and attachments (and the reverse index) from `old`
/// to `new` (a rename).
pub fn rename_entity(
    tx: &mut dyn WriteTx,
    account: &str,
    kind: EntityKind,
    old: &str,
    new: &str,
) -> Result<(), ApiError> {
    for (k, v) in model::scan_all(tx, &model::inline_prefix(account, kind, old))? {
        let Some(policy_name) = model::last_str_part(&k) else {
            continue;
        };
        tx.delete(&k)?;
        tx.put(&model::inline_key(account, kind, new, &policy_name), &v)?;
    }
    for (k, v) in model::scan_all(tx, &model::attachments_prefix(account, kind, old))? {
        let a: AttachedPolicy = serde_json::from_slice(&v).map_err(ApiError::internal)?;
        tx.delete(&k)?;
        tx.delete(&model::attached_to_key(account, &a.policy_arn, kind, old))?;
        model::put(
            tx,
            &model::attachment_key(account, kind, new, &a.policy_arn),
            &a,
        )?;
        model::put(
            tx,
            &model::attached_to_key(account, &a.policy_arn, kind, new),
            &AttachedTo {
                entity_type: kind.tag().to_owned(),
                entity_name: new.to_owned(),
            },
        )?;
    }
    Ok(())
}

/// One page of the entities using a managed policy: those it is attached to (index
/// [`model::attached_to_key`]), then those it is the permissions boundary of
/// ([`model::bounded_by_key`]), as ListEntitiesForPolicy's PolicyUsageFilter picks
/// (PermissionsPolicy, PermissionsBoundary, or both when absent). A marker is `A` or `B`
/// for the index it resumes in, then that index's own marker (none: from its start).
#[allow(clippy::too_many_arguments)]
fn entities_for_policy(
    tx: &dyn ReadTx,
    account: &str,
    arn: &str,
    usage: Option<&str>,
    marker: Option<&str>,
    max_items: Option<i64>,
    mut keep: impl FnMut(&AttachedTo) -> bool,
) -> Result<model::Page<AttachedTo>, ApiError> {
    let max = model::max_items(max_items)?;
    let indexes: Vec<(char, Vec<u8>)> = [
        ('A', model::attached_to_prefix(account, arn)),
        ('B', model::bounded_by_prefix(account, arn)),
    ]
    .into_iter()
    .filter(|(tag, _)| match usage {
        Some("PermissionsPolicy") => *tag == 'A',
        Some("PermissionsBoundary") => *tag == 'B',
        _ => true,
    })
    .collect();
    let invalid = || ApiError::from(IamError::InvalidInput("Invalid Marker.".into()));
    let (first, mut inner) = match marker {
        None => (0, None),
        Some(m) => {
            let mut chars = m.chars();
            let tag = chars.next().ok_or_else(invalid)?;
            let at = indexes
                .iter()
                .position(|(t, _)| *t == tag)
                .ok_or_else(invalid)?;
            let rest = chars.as_str();
            (at, (!rest.is_empty()).then(|| rest.to_owned()))
        }
    };
    // Both uses listed: an entity the policy is attached to is listed there, not again
    // as one it bounds.
    let both = indexes.len() == 2;
    let mut items = Vec::new();
    for (tag, prefix) in indexes.iter().skip(first) {
        let dedupe = both && *tag == 'B';
        let mut keep = |a: &AttachedTo| {
            if !keep(a) {
                return false;
            }
            let kind = match a.entity_type.as_str() {
                "user" => EntityKind::User,
                "role" => EntityKind::Role,
                _ => return true,
            };
            !dedupe
                || tx
                    .get(&model::attached_to_key(account, arn, kind, &a.entity_name))
                    .map_or(true, |attached| attached.is_none())
        };
        let room = max - items.len();
        if room == 0 {
            // Full: a page follows if this index has an entity to show.
            let next = model::list_page::<AttachedTo>(tx, prefix, None, Some(1), &mut keep)?;
            if !next.items.is_empty() {
                return Ok(model::Page {
                    items,
                    marker: Some(tag.to_string()),
                });
            }
            continue;
        }
        let room = i64::try_from(room).unwrap_or(1);
        let page = model::list_page::<AttachedTo>(
            tx,
            prefix,
            inner.take().as_deref(),
            Some(room),
            &mut keep,
        )?;
        items.extend(page.items);
        if let Some(m) = page.marker {
            return Ok(model::Page {
                items,
                marker: Some(format!("{tag}{m}")),
            });
        }
    }
    Ok(model::Page {
        items,
        marker: None,
    })
}

/// Every managed policy attached to an entity.
pub fn attached_policies(
    tx: &dyn ReadTx,
    account: &str,
    kind: EntityKind,
    entity: &str,
) -> Result<Vec<AttachedPolicy>, ApiError> {
    model::scan_all(tx, &model::attachments_prefix(account, kind, entity))?
        .into_iter()
        .map(|(_, v)| serde_json::from_slice(&v).map_err(ApiError::internal))
        .collect()
}

fn kind_name(kind: EntityKind) -> &'static str {
    match kind {
        EntityKind::User => "User",
        EntityKind::Group => "Group",
        EntityKind::Role => "Role",
    }
}

impl crate::Operation for Operation {
    fn name(&self) -> &'static str {
        use EntityKind::*;
        match self {
            Operation::Attach(User, _) => "AttachUserPolicy",
            Operation::Attach(Group, _) => "AttachGroupPolicy",
            Operation::Attach(Role, _) => "AttachRolePolicy",
            Operation::Detach(User, _) => "DetachUserPolicy",
            Operation::Detach(Group, _) => "DetachGroupPolicy",
            Operation::Detach(Role, _) => "DetachRolePolicy",
            Operation::ListAttached(User, _) => "ListAttachedUserPolicies",
            Operation::ListAttached(Group, _) => "ListAttachedGroupPolicies",
            Operation::ListAttached(Role, _) => "ListAttachedRolePolicies",
            Operation::ListEntitiesForPolicy(_) => "ListEntitiesForPolicy",
        }
    }

    fn read_only(&self) -> bool {
        matches!(
            self,
            Operation::ListAttached(..) | Operation::ListEntitiesForPolicy(_)
        )
    }

    fn authz(&self, ctx: &RequestContext) -> Vec<AuthzCheck> {
        let account = ctx.principal.account_id.as_str();
        let entity = |kind: EntityKind, name: &str| resource_arn(account, kind.tag(), None, name);
        match self {
            Operation::Attach(kind, i) => {
                let mut c = AuthzCheck::new(
                    format!("iam:Attach{}Policy", kind_name(*kind)),
                    entity(*kind, i.name(*kind)),
                );
                c.context
                    .push(("iam:PolicyARN".to_owned(), vec![i.policy_arn.clone()]));
                vec![c]
            }
            Operation::Detach(kind, i) => {
                let mut c = AuthzCheck::new(
                    format!("iam:Detach{}Policy", kind_name(*kind)),
                    entity(*kind, i.name(*kind)),
                );
                c.context
                    .push(("iam:PolicyARN".to_owned(), vec![i.policy_arn.clone()]));
                vec![c]
            }
            Operation::ListAttached(kind, i) => vec![AuthzCheck::new(
                format!("iam:ListAttached{}Policies", kind_name(*kind)),
                entity(*kind, i.name(*kind)),
            )],
            Operation::ListEntitiesForPolicy(i) => vec![AuthzCheck::new(
                "iam:ListEntitiesForPolicy",
                i.policy_arn.clone(),
            )],
        }
    }

    fn request_parameters(&self) -> Option<serde_json::Value> {
        match self {
            Operation::Attach(_, i) | Operation::Detach(_, i) => camel_json(i),
            Operation::ListAttached(_, i) => camel_json(i),
            Operation::ListEntitiesForPolicy(i) => camel_json(i),
        }
    }

    fn read(&self, tx: &dyn ReadTx, _env: &Env, ctx: &RequestContext) -> Result<Reply, ApiError> {
        let account = &ctx.principal.account_id;
        match self {
            Operation::ListAttached(kind, i) => {
                let info = load_entity(tx, account, *kind, i.name(*kind))?;
                let prefix = model::path_prefix(i.path_prefix.as_deref())?.to_owned();
                let page = model::list_page::<AttachedPolicy>(
                    tx,
                    &model::attachments_prefix(account, *kind, &info.name),
                    i.marker.as_deref(),
                    i.max_items,
                    |a| {
                        policies::parse_policy_arn(&a.policy_arn)
                            .is_some_and(|(_, path, _)| path.starts_with(&prefix))
                    },
                )?;
                let is_truncated = page.is_truncated();
                Ok(Reply::new(ListAttachedOutput {
                    attached_policies: page.items,
                    is_truncated,
                    marker: page.marker,
                }))
            }
            Operation::ListEntitiesForPolicy(i) => {
                let policy = policies::resolve(tx, account, &i.policy_arn)?;
                // EntityFilter is the model's enum, checked before authorization.
                let filter = i.entity_filter.as_deref();
                let wants = |t: &str| match filter {
                    None | Some("LocalManagedPolicy") | Some("AWSManagedPolicy") => true,
                    Some(f) => f.eq_ignore_ascii_case(t),
                };
                let path_prefix = model::path_prefix(i.path_prefix.as_deref())?.to_owned();
                let page = entities_for_policy(
                    tx,
                    account,
                    policy.arn(),
                    i.policy_usage_filter.as_deref(),
                    i.marker.as_deref(),
                    i.max_items,
                    |a| wants(&a.entity_type),
                )?;
                let is_truncated = page.is_truncated();
                let mut out = ListEntitiesForPolicyOutput {
                    policy_groups: Vec::new(),
                    policy_users: Vec::new(),
                    policy_roles: Vec::new(),
                    is_truncated,
                    marker: page.marker,
                };
                for a in page.items {
                    let kind = match a.entity_type.as_str() {
                        "user" => EntityKind::User,
                        "group" => EntityKind::Group,
                        _ => EntityKind::Role,
                    };
                    let Ok(e) = load_entity(tx, account, kind, &a.entity_name) else {
                        continue;
                    };
                    if !e.path.starts_with(&path_prefix) {
                        continue;
                    }
                    match kind {
                        EntityKind::User => out.policy_users.push(PolicyUser {
                            user_name: e.name,
                            user_id: e.id,
                        }),
                        EntityKind::Group => out.policy_groups.push(PolicyGroup {
                            group_name: e.name,
                            group_id: e.id,
                        }),
                        EntityKind::Role => out.policy_roles.push(PolicyRole {
                            role_name: e.name,
                            role_id: e.id,
                        }),
                    }
                }
                Ok(Reply::new(out))
            }
            _ => Err(ApiError::internal(
                "read() on a mutating IAM attach operation",
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
        if let Operation::Attach(kind, i) | Operation::Detach(kind, i) = self {
            super::service_linked::refuse_protected_entity(tx, account, *kind, i.name(*kind))?;
        }
        let (info, kind, arn) = match self {
            Operation::Attach(kind, i) => (
                attach(tx, account, *kind, i.name(*kind), &i.policy_arn)?,
                *kind,
                &i.policy_arn,
            ),
            Operation::Detach(kind, i) => (
                detach(tx, account, *kind, i.name(*kind), &i.policy_arn)?,
                *kind,
                &i.policy_arn,
            ),
            _ => {
                return Err(ApiError::internal(
                    "write() on a read-only IAM attach operation",
                ))
            }
        };
        let mut reply = Reply::empty();
        reply.resources = vec![
            (resource_type(kind).into(), info.arn),
            ("AWS::IAM::Policy".into(), arn.clone()),
        ];
        Ok(reply)
    }
}
