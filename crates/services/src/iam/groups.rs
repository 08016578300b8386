//! IAM groups: CreateGroup, GetGroup, ListGroups, UpdateGroup, DeleteGroup,
//! AddUserToGroup, RemoveUserFromGroup, ListGroupsForUser.
//!
//! Membership is kept both ways ([`model::membership_key`] user -> group and
//! [`model::group_member_key`] group -> user), each holding a [`model::Membership`].

use super::{
    camel_json,
    error::IamError,
    model::{self, EntityKind, Group, Membership, User},
    resource_arn, users,
};
use crate::{
    authz::AuthzCheck, context::RequestContext, env::Env, error::ApiError, input::Input, Reply,
};
use palisade_store::{ReadTx, WriteTx};

#[derive(Debug)]
pub enum Operation {
    CreateGroup(CreateGroupInput),
    GetGroup(GetGroupInput),
    ListGroups(ListGroupsInput),
    UpdateGroup(UpdateGroupInput),
    DeleteGroup(GroupNameInput),
    AddUserToGroup(UserGroupInput),
    RemoveUserFromGroup(UserGroupInput),
    ListGroupsForUser(ListGroupsForUserInput),
}

pub fn decode(
    action: &str,
    input: &Input<'_>,
) -> Option<Result<Box<dyn crate::Operation>, ApiError>> {
    let op = match action {
        "CreateGroup" => input.parse().map(Operation::CreateGroup),
        "GetGroup" => input.parse().map(Operation::GetGroup),
        "ListGroups" => input.parse().map(Operation::ListGroups),
        "UpdateGroup" => input.parse().map(Operation::UpdateGroup),
        "DeleteGroup" => input.parse().map(Operation::DeleteGroup),
        "AddUserToGroup" => input.parse().map(Operation::AddUserToGroup),
        "RemoveUserFromGroup" => input.parse().map(Operation::RemoveUserFromGroup),
        "ListGroupsForUser" => input.parse().map(Operation::ListGroupsForUser),
        _ => return None,
    };
    Some(op.map(|op| Box::new(op) as Box<dyn crate::Operation>))
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateGroupInput {
    pub group_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetGroupInput {
    pub group_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_items: Option<i64>,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListGroupsInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_items: Option<i64>,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateGroupInput {
    pub group_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_group_name: Option<String>,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupNameInput {
    pub group_name: String,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserGroupInput {
    pub group_name: String,
    pub user_name: String,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListGroupsForUserInput {
    pub user_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_items: Option<i64>,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupOutput {
    pub group: Group,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetGroupOutput {
    pub group: Group,
    pub users: Vec<User>,
    pub is_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListGroupsOutput {
    pub groups: Vec<Group>,
    pub is_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
}

pub const TABLE: &str = "group";

/// Loads a group or answers AWS's NoSuchEntity.
pub fn load(tx: &dyn ReadTx, account: &str, name: &str) -> Result<Group, ApiError> {
    model::get::<Group>(tx, &model::entity_key(account, TABLE, name))?.ok_or_else(|| {
        IamError::NoSuchEntity(format!("The group with name {name} cannot be found.")).into()
    })
}

/// The groups a user belongs to (names as created), for policy gathering and deletes.
pub fn groups_of_user(tx: &dyn ReadTx, account: &str, user: &str) -> Result<Vec<String>, ApiError> {
    model::scan_all(tx, &model::user_groups_prefix(account, user))?
        .into_iter()
        .map(|(_, v)| {
            serde_json::from_slice::<Membership>(&v)
                .map(|m| m.group_name)
                .map_err(ApiError::internal)
        })
        .collect()
}

fn page_marker<T>(page: &model::Page<T>) -> (bool, Option<String>) {
    (page.is_truncated(), page.marker.clone())
}

impl crate::Operation for Operation {
    fn name(&self) -> &'static str {
        match self {
            Operation::CreateGroup(_) => "CreateGroup",
            Operation::GetGroup(_) => "GetGroup",
            Operation::ListGroups(_) => "ListGroups",
            Operation::UpdateGroup(_) => "UpdateGroup",
            Operation::DeleteGroup(_) => "DeleteGroup",
            Operation::AddUserToGroup(_) => "AddUserToGroup",
            Operation::RemoveUserFromGroup(_) => "RemoveUserFromGroup",
            Operation::ListGroupsForUser(_) => "ListGroupsForUser",
        }
    }

    fn read_only(&self) -> bool {
        matches!(
            self,
            Operation::GetGroup(_) | Operation::ListGroups(_) | Operation::ListGroupsForUser(_)
        )
    }

    fn authz(&self, ctx: &RequestContext) -> Vec<AuthzCheck> {
        let account = ctx.principal.account_id.as_str();
        let group = |path: Option<&str>, name: &str| resource_arn(account, "group", path, name);
        let user = |name: &str| resource_arn(account, "user", None, name);
        match self {
            Operation::CreateGroup(i) => {
                vec![
                    AuthzCheck::new("iam:CreateGroup", group(i.path.as_deref(), &i.group_name))
                        .naming_new(),
                ]
            }
            Operation::GetGroup(i) => {
                vec![AuthzCheck::new("iam:GetGroup", group(None, &i.group_name))]
            }
            Operation::ListGroups(i) => vec![AuthzCheck::new(
                "iam:ListGroups",
                group(i.path_prefix.as_deref(), ""),
            )],
            Operation::UpdateGroup(i) => {
                let mut v = vec![AuthzCheck::new(
                    "iam:UpdateGroup",
                    group(None, &i.group_name),
                )];
                if let Some(n) = &i.new_group_name {
                    v.push(
                        AuthzCheck::new("iam:UpdateGroup", group(i.new_path.as_deref(), n))
                            .naming_new(),
                    );
                }
                v
            }
            Operation::DeleteGroup(i) => {
                vec![AuthzCheck::new(
                    "iam:DeleteGroup",
                    group(None, &i.group_name),
                )]
            }
            Operation::AddUserToGroup(i) => vec![AuthzCheck::new(
                "iam:AddUserToGroup",
                group(None, &i.group_name),
            )],
            Operation::RemoveUserFromGroup(i) => vec![AuthzCheck::new(
                "iam:RemoveUserFromGroup",
                group(None, &i.group_name),
            )],
            Operation::ListGroupsForUser(i) => {
                vec![AuthzCheck::new("iam:ListGroupsForUser", user(&i.user_name))]
            }
        }
    }

    fn request_parameters(&self) -> Option<serde_json::Value> {
        match self {
            Operation::CreateGroup(i) => camel_json(i),
            Operation::GetGroup(i) => camel_json(i),
            Operation::ListGroups(i) => camel_json(i),
            Operation::UpdateGroup(i) => camel_json(i),
            Operation::DeleteGroup(i) => camel_json(i),
            Operation::AddUserToGroup(i) => camel_json(i),
            Operation::RemoveUserFromGroup(i) => camel_json(i),
            Operation::ListGroupsForUser(i) => camel_json(i),
        }
    }

    fn read(&self, tx: &dyn ReadTx, _env: &Env, ctx: &RequestContext) -> Result<Reply, ApiError> {
        let account = &ctx.principal.account_id;
        match self {
            Operation::GetGroup(i) => {
                let group = load(tx, account, &i.group_name)?;
                let page = model::list_page::<Membership>(
                    tx,
                    &model::group_members_prefix(account, &i.group_name),
                    i.marker.as_deref(),
                    i.max_items,
                    |_| true,
                )?;
                let (is_truncated, marker) = page_marker(&page);
                let mut out = Vec::with_capacity(page.items.len());
                for m in page.items {
                    if let Some(mut u) =
                        model::get::<User>(tx, &model::entity_key(account, "user", &m.user_name))?
                    {
                        u.tags.clear();
                        u.permissions_boundary = None;
                        out.push(u);
                    }
                }
                Ok(Reply::new(GetGroupOutput {
                    group,
                    users: out,
                    is_truncated,
                    marker,
                }))
            }
            Operation::ListGroups(i) => {
                let page = model::list_by_path::<Group>(
                    tx,
                    account,
                    TABLE,
                    i.path_prefix.as_deref(),
                    i.marker.as_deref(),
                    i.max_items,
                )?;
                let (is_truncated, marker) = page_marker(&page);
                Ok(Reply::new(ListGroupsOutput {
                    groups: page.items,
                    is_truncated,
                    marker,
                }))
            }
            Operation::ListGroupsForUser(i) => {
                users::load(tx, account, &i.user_name)?;
                let page = model::list_page::<Membership>(
                    tx,
                    &model::user_groups_prefix(account, &i.user_name),
                    i.marker.as_deref(),
                    i.max_items,
                    |_| true,
                )?;
                let (is_truncated, marker) = page_marker(&page);
                let mut groups = Vec::with_capacity(page.items.len());
                for m in page.items {
                    if let Some(g) =
                        model::get::<Group>(tx, &model::entity_key(account, TABLE, &m.group_name))?
                    {
                        groups.push(g);
                    }
                }
                Ok(Reply::new(ListGroupsOutput {
                    groups,
                    is_truncated,
                    marker,
                }))
            }
            _ => Err(ApiError::internal(
                "read() on a mutating IAM group operation",
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
        match self {
            Operation::CreateGroup(i) => {
                model::validate_name("groupName", &i.group_name, 128)?;
                let path = i.path.as_deref().unwrap_or("/");
                model::validate_path("path", path)?;
                let key = model::entity_key(account, TABLE, &i.group_name);
                if tx.get(&key)?.is_some() {
                    return Err(IamError::EntityAlreadyExists(format!(
                        "Group with name {} already exists.",
                        i.group_name
                    ))
                    .into());
                }
                let group = Group {
                    path: path.to_owned(),
                    group_name: i.group_name.clone(),
                    group_id: model::new_id("AGPA")?,
                    arn: model::arn(account, "group", path, &i.group_name),
                    create_date: model::iso(ctx.now),
                };
                model::put(tx, &key, &group)?;
                let out = GroupOutput { group };
                let arn = out.group.arn.clone();
                let reply_elements = camel_json(&out);
                let mut reply = Reply::new(out);
                reply.response_elements = reply_elements;
                reply.resources = vec![("AWS::IAM::Group".into(), arn)];
                Ok(reply)
            }
            Operation::UpdateGroup(i) => {
                let mut group = load(tx, account, &i.group_name)?;
                if let Some(p) = &i.new_path {
                    model::validate_path("newPath", p)?;
                    group.path = p.clone();
                }
                let old = group.group_name.clone();
                if let Some(n) = &i.new_group_name {
                    model::validate_name("newGroupName", n, 128)?;
                    if !n.eq_ignore_ascii_case(&old)
                        && tx.get(&model::entity_key(account, TABLE, n))?.is_some()
                    {
                        return Err(IamError::EntityAlreadyExists(format!(
                            "Group with name {n} already exists."
                        ))
                        .into());
                    }
                    group.group_name = n.clone();
                }
                group.arn = model::arn(account, "group", &group.path, &group.group_name);
                if group.group_name != old {
                    rename_group(tx, account, &old, &group.group_name)?;
                }
                tx.delete(&model::entity_key(account, TABLE, &old))?;
                model::put(
                    tx,
                    &model::entity_key(account, TABLE, &group.group_name),
                    &group,
                )?;
                let mut reply = Reply::empty();
                reply.resources = vec![("AWS::IAM::Group".into(), group.arn)];
                Ok(reply)
            }
            Operation::DeleteGroup(i) => {
                let group = load(tx, account, &i.group_name)?;
                if !model::scan_all(tx, &model::group_members_prefix(account, &i.group_name))?
                    .is_empty()
                {
                    return Err(IamError::DeleteConflict(
                        "Cannot delete entity, must remove users from group first.".into(),
                    )
                    .into());
                }
                if !model::scan_all(
                    tx,
                    &model::inline_prefix(account, EntityKind::Group, &i.group_name),
                )?
                .is_empty()
                {
                    return Err(IamError::DeleteConflict(
                        "Cannot delete entity, must delete policies first.".into(),
                    )
                    .into());
                }
                if !model::scan_all(
                    tx,
                    &model::attachments_prefix(account, EntityKind::Group, &i.group_name),
                )?
                .is_empty()
                {
                    return Err(IamError::DeleteConflict(
                        "Cannot delete entity, must detach all policies first.".into(),
                    )
                    .into());
                }
                tx.delete(&model::entity_key(account, TABLE, &i.group_name))?;
                let mut reply = Reply::empty();
                reply.resources = vec![("AWS::IAM::Group".into(), group.arn)];
                Ok(reply)
            }
            Operation::AddUserToGroup(i) => {
                let group = load(tx, account, &i.group_name)?;
                let user = users::load(tx, account, &i.user_name)?;
                let key = model::membership_key(account, &user.user_name, &group.group_name);
                if tx.get(&key)?.is_none() {
                    let n =
                        model::scan_all(tx, &model::user_groups_prefix(account, &user.user_name))?
                            .len();
                    if n >= 10 {
                        return Err(IamError::LimitExceeded(
                            "Cannot exceed quota for GroupsPerUser: 10".into(),
                        )
                        .into());
                    }
                    let m = Membership {
                        user_name: user.user_name.clone(),
                        group_name: group.group_name.clone(),
                    };
                    model::put(tx, &key, &m)?;
                    model::put(
                        tx,
                        &model::group_member_key(account, &group.group_name, &user.user_name),
                        &m,
                    )?;
                }
                let mut reply = Reply::empty();
                reply.resources = vec![
                    ("AWS::IAM::Group".into(), group.arn),
                    ("AWS::IAM::User".into(), user.arn),
                ];
                Ok(reply)
            }
            Operation::RemoveUserFromGroup(i) => {
                let group = load(tx, account, &i.group_name)?;
                let user = users::load(tx, account, &i.user_name)?;
                let key = model::membership_key(account, &user.user_name, &group.group_name);
                if tx.get(&key)?.is_none() {
                    return Err(IamError::NoSuchEntity(format!(
                        "User {} is not in group {}.",
                        user.user_name, group.group_name
                    ))
                    .into());
                }
                tx.delete(&key)?;
                tx.delete(&model::group_member_key(
                    account,
                    &group.group_name,
                    &user.user_name,
                ))?;
                let mut reply = Reply::empty();
                reply.resources = vec![
                    ("AWS::IAM::Group".into(), group.arn),
                    ("AWS::IAM::User".into(), user.arn),
                ];
                Ok(reply)
            }
            _ => Err(ApiError::internal(
                "write() on a read-only IAM group operation",
            )),
        }
    }
}

/// Moves every record keyed by a group's name to its new name: memberships both ways,
/// inline policies, attachments and their reverse index.
fn rename_group(tx: &mut dyn WriteTx, account: &str, old: &str, new: &str) -> Result<(), ApiError> {
    if old.eq_ignore_ascii_case(new) {
        // Same key; refresh the names held in membership values.
        for (k, v) in model::scan_all(tx, &model::group_members_prefix(account, old))? {
            let mut m: Membership = serde_json::from_slice(&v).map_err(ApiError::internal)?;
            m.group_name = new.to_owned();
            model::put(tx, &k, &m)?;
            model::put(tx, &model::membership_key(account, &m.user_name, new), &m)?;
        }
        return super::attach::rename_entity(tx, account, EntityKind::Group, old, new);
    }
    for (k, v) in model::scan_all(tx, &model::group_members_prefix(account, old))? {
        let mut m: Membership = serde_json::from_slice(&v).map_err(ApiError::internal)?;
        tx.delete(&k)?;
        tx.delete(&model::membership_key(account, &m.user_name, old))?;
        m.group_name = new.to_owned();
        model::put(tx, &model::group_member_key(account, new, &m.user_name), &m)?;
        model::put(tx, &model::membership_key(account, &m.user_name, new), &m)?;
    }
    super::attach::rename_entity(tx, account, EntityKind::Group, old, new)
}
