//! IAM roles: CreateRole, GetRole, ListRoles, UpdateRole, UpdateRoleDescription,
//! UpdateAssumeRolePolicy, DeleteRole, and permissions boundaries of roles and users
//! (Put/DeleteRolePermissionsBoundary, Put/DeleteUserPermissionsBoundary).
//!
//! The trust policy is stored as the caller sent it (URL-decoded if it came encoded) and
//! URL-encoded in answers, as AWS does; botocore decodes it again.

use super::{
    camel_json,
    error::IamError,
    model::{self, AttachedPermissionsBoundary, EntityKind, Role, RoleLastUsed, Tag, User},
    policies, resource_arn, users,
};
use crate::{
    authz::AuthzCheck, context::RequestContext, env::Env, error::ApiError, input::Input, Reply,
};
use palisade_store::{ReadTx, WriteTx};

#[derive(Debug)]
pub enum Operation {
    CreateRole(CreateRoleInput),
    GetRole(RoleNameInput),
    ListRoles(ListRolesInput),
    UpdateRole(UpdateRoleInput),
    UpdateRoleDescription(UpdateRoleDescriptionInput),
    UpdateAssumeRolePolicy(UpdateAssumeRolePolicyInput),
    DeleteRole(RoleNameInput),
    PutRolePermissionsBoundary(PutRoleBoundaryInput),
    DeleteRolePermissionsBoundary(RoleNameInput),
    PutUserPermissionsBoundary(PutUserBoundaryInput),
    DeleteUserPermissionsBoundary(UserNameInput),
}

pub fn decode(
    action: &str,
    input: &Input<'_>,
) -> Option<Result<Box<dyn crate::Operation>, ApiError>> {
    let op = match action {
        "CreateRole" => input.parse().map(Operation::CreateRole),
        "GetRole" => input.parse().map(Operation::GetRole),
        "ListRoles" => input.parse().map(Operation::ListRoles),
        "UpdateRole" => input.parse().map(Operation::UpdateRole),
        "UpdateRoleDescription" => input.parse().map(Operation::UpdateRoleDescription),
        "UpdateAssumeRolePolicy" => input.parse().map(Operation::UpdateAssumeRolePolicy),
        "DeleteRole" => input.parse().map(Operation::DeleteRole),
        "PutRolePermissionsBoundary" => input.parse().map(Operation::PutRolePermissionsBoundary),
        "DeleteRolePermissionsBoundary" => {
            input.parse().map(Operation::DeleteRolePermissionsBoundary)
        }
        "PutUserPermissionsBoundary" => input.parse().map(Operation::PutUserPermissionsBoundary),
        "DeleteUserPermissionsBoundary" => {
            input.parse().map(Operation::DeleteUserPermissionsBoundary)
        }
        _ => return None,
    };
    Some(op.map(|op| Box::new(op) as Box<dyn crate::Operation>))
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateRoleInput {
    pub role_name: String,
    pub assume_role_policy_document: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_session_duration: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions_boundary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RoleNameInput {
    pub role_name: String,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserNameInput {
    pub user_name: String,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListRolesInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_items: Option<i64>,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateRoleInput {
    pub role_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_session_duration: Option<i64>,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateRoleDescriptionInput {
    pub role_name: String,
    pub description: String,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateAssumeRolePolicyInput {
    pub role_name: String,
    pub policy_document: String,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutRoleBoundaryInput {
    pub role_name: String,
    pub permissions_boundary: String,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutUserBoundaryInput {
    pub user_name: String,
    pub permissions_boundary: String,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RoleOutput {
    pub role: Role,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListRolesOutput {
    pub roles: Vec<Role>,
    pub is_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
}

pub const TABLE: &str = "role";

/// Loads a role or answers AWS's NoSuchEntity.
pub fn load(tx: &dyn ReadTx, account: &str, name: &str) -> Result<Role, ApiError> {
    model::get::<Role>(tx, &model::entity_key(account, TABLE, name))?.ok_or_else(|| {
        IamError::NoSuchEntity(format!("The role with name {name} cannot be found.")).into()
    })
}

/// A role as IAM answers it: the trust policy URL-encoded.
pub fn wire(mut role: Role) -> Role {
    role.assume_role_policy_document = policies::url_encode(&role.assume_role_policy_document);
    role
}

fn validate_duration(d: i64) -> Result<(), IamError> {
    if d < 3600 {
        return Err(IamError::Validation(format!(
            "1 validation error detected: Value '{d}' at 'maxSessionDuration' failed to satisfy constraint: Member must have value greater than or equal to 3600"
        )));
    }
    if d > 43200 {
        return Err(IamError::Validation(format!(
            "1 validation error detected: Value '{d}' at 'maxSessionDuration' failed to satisfy constraint: Member must have value less than or equal to 43200"
        )));
    }
    Ok(())
}

fn validate_description(d: &str) -> Result<(), IamError> {
    if d.chars().count() > 1000 {
        return Err(IamError::Validation(format!(
            "1 validation error detected: Value '{d}' at 'description' failed to satisfy constraint: Member must have length less than or equal to 1000"
        )));
    }
    // [\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*
    if !d.chars().all(|c| {
        matches!(c, '\t' | '\n' | '\r')
            || ('\u{20}'..='\u{7E}').contains(&c)
            || ('\u{A1}'..='\u{FF}').contains(&c)
    }) {
        return Err(IamError::Validation(format!(
            "1 validation error detected: Value '{d}' at 'description' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u007E\\u00A1-\\u00FF]*"
        )));
    }
    Ok(())
}

pub fn create_role(
    tx: &mut dyn WriteTx,
    ctx: &RequestContext,
    i: &CreateRoleInput,
) -> Result<Role, ApiError> {
    let account = &ctx.principal.account_id;
    model::validate_name("roleName", &i.role_name, 64)?;
    let path = i.path.as_deref().unwrap_or("/");
    model::validate_path("path", path)?;
    if let Some(d) = &i.description {
        validate_description(d)?;
    }
    let duration = i.max_session_duration.unwrap_or(3600);
    validate_duration(duration)?;
    let tags = i.tags.clone().unwrap_or_default();
    model::validate_tags(&tags)?;
    let doc = policies::decode_document(&i.assume_role_policy_document);
    policies::check_trust_document(&doc)?;
    trust_principals_exist(tx, &doc)?;
    if let Some(b) = &i.permissions_boundary {
        policies::check_boundary(tx, account, b)?;
    }
    let key = model::entity_key(account, TABLE, &i.role_name);
    if tx.get(&key)?.is_some() {
        return Err(IamError::EntityAlreadyExists(format!(
            "Role with name {} already exists.",
            i.role_name
        ))
        .into());
    }
    let role = Role {
        path: path.to_owned(),
        role_name: i.role_name.clone(),
        role_id: model::new_id("AROA")?,
        arn: model::arn(account, "role", path, &i.role_name),
        create_date: model::iso(ctx.now),
        assume_role_policy_document: doc,
        description: i.description.clone(),
        max_session_duration: duration,
        permissions_boundary: i
            .permissions_boundary
            .as_deref()
            .map(AttachedPermissionsBoundary::policy),
        tags,
        role_last_used: None,
    };
    if let Some(b) = &i.permissions_boundary {
        policies::record_boundary_use(tx, account, b, EntityKind::Role, &i.role_name, true)?;
    }
    model::put(tx, &key, &role)?;
    super::principals::update_references(
        tx,
        None,
        Some(&role.assume_role_policy_document),
        &trust_referrer(account, &role.role_name),
    )?;
    Ok(role)
}

fn trust_referrer(account: &str, role: &str) -> super::principals::Referrer {
    super::principals::Referrer::RoleTrust {
        account: account.to_owned(),
        role: role.to_owned(),
    }
}

pub fn delete_role(tx: &mut dyn WriteTx, account: &str, name: &str) -> Result<Role, ApiError> {
    let role = load(tx, account, name)?;
    if !model::scan_all(tx, &model::role_instance_profiles_prefix(account, name))?.is_empty() {
        return Err(IamError::DeleteConflict(
            "Cannot delete entity, must remove roles from instance profile first.".into(),
        )
        .into());
    }
    if !model::scan_all(tx, &model::inline_prefix(account, EntityKind::Role, name))?.is_empty() {
        return Err(IamError::DeleteConflict(
            "Cannot delete entity, must delete policies first.".into(),
        )
        .into());
    }
    if !model::scan_all(
        tx,
        &model::attachments_prefix(account, EntityKind::Role, name),
    )?
    .is_empty()
    {
        return Err(IamError::DeleteConflict(
            "Cannot delete entity, must detach all policies first.".into(),
        )
        .into());
    }
    if let Some(b) = &role.permissions_boundary {
        let arn = &b.permissions_boundary_arn;
        policies::record_boundary_use(tx, account, arn, EntityKind::Role, &role.role_name, false)?;
    }
    tx.delete(&model::entity_key(account, TABLE, name))?;
    super::principals::update_references(
        tx,
        Some(&role.assume_role_policy_document),
        None,
        &trust_referrer(account, &role.role_name),
    )?;
    super::principals::principal_deleted(tx, &role.arn, &role.role_id)?;
    Ok(role)
}

/// Sets (or with `new` None removes) the permissions boundary of the user or role `entity`.
fn set_boundary(
    tx: &mut dyn WriteTx,
    account: &str,
    (kind, entity): (EntityKind, &str),
    current: &mut Option<AttachedPermissionsBoundary>,
    new: Option<&str>,
) -> Result<(), ApiError> {
    if let Some(arn) = new {
        policies::check_boundary(tx, account, arn)?;
    }
    if let Some(old) = current.take() {
        let arn = &old.permissions_boundary_arn;
        policies::record_boundary_use(tx, account, arn, kind, entity, false)?;
    }
    if let Some(arn) = new {
        policies::record_boundary_use(tx, account, arn, kind, entity, true)?;
        *current = Some(AttachedPermissionsBoundary::policy(arn));
    }
    Ok(())
}

impl crate::Operation for Operation {
    fn name(&self) -> &'static str {
        match self {
            Operation::CreateRole(_) => "CreateRole",
            Operation::GetRole(_) => "GetRole",
            Operation::ListRoles(_) => "ListRoles",
            Operation::UpdateRole(_) => "UpdateRole",
            Operation::UpdateRoleDescription(_) => "UpdateRoleDescription",
            Operation::UpdateAssumeRolePolicy(_) => "UpdateAssumeRolePolicy",
            Operation::DeleteRole(_) => "DeleteRole",
            Operation::PutRolePermissionsBoundary(_) => "PutRolePermissionsBoundary",
            Operation::DeleteRolePermissionsBoundary(_) => "DeleteRolePermissionsBoundary",
            Operation::PutUserPermissionsBoundary(_) => "PutUserPermissionsBoundary",
            Operation::DeleteUserPermissionsBoundary(_) => "DeleteUserPermissionsBoundary",
        }
    }

    fn read_only(&self) -> bool {
        matches!(self, Operation::GetRole(_) | Operation::ListRoles(_))
    }

    fn authz(&self, ctx: &RequestContext) -> Vec<AuthzCheck> {
        let account = ctx.principal.account_id.as_str();
        let role = |path: Option<&str>, name: &str| resource_arn(account, "role", path, name);
        let user = |name: &str| resource_arn(account, "user", None, name);
        let boundary = |arn: &str| ("iam:PermissionsBoundary".to_owned(), vec![arn.to_owned()]);
        match self {
            Operation::CreateRole(i) => {
                let arn = role(i.path.as_deref(), &i.role_name);
                let mut c = AuthzCheck::new("iam:CreateRole", arn.clone()).naming_new();
                let tags = i.tags.as_deref().unwrap_or_default();
                c.context = super::tags::request_tag_context(tags);
                if let Some(b) = &i.permissions_boundary {
                    c.context.push(boundary(b));
                }
                let mut v = vec![c];
                if !tags.is_empty() {
                    let mut t = AuthzCheck::new("iam:TagRole", arn).naming_new();
                    t.context = super::tags::request_tag_context(tags);
                    v.push(t);
                }
                v
            }
            Operation::GetRole(i) => {
                vec![AuthzCheck::new("iam:GetRole", role(None, &i.role_name))]
            }
            Operation::ListRoles(i) => vec![AuthzCheck::new(
                "iam:ListRoles",
                role(i.path_prefix.as_deref(), ""),
            )],
            Operation::UpdateRole(i) => {
                vec![AuthzCheck::new("iam:UpdateRole", role(None, &i.role_name))]
            }
            Operation::UpdateRoleDescription(i) => vec![AuthzCheck::new(
                "iam:UpdateRoleDescription",
                role(None, &i.role_name),
            )],
            Operation::UpdateAssumeRolePolicy(i) => vec![AuthzCheck::new(
                "iam:UpdateAssumeRolePolicy",
                role(None, &i.role_name),
            )],
            Operation::DeleteRole(i) => {
                vec![AuthzCheck::new("iam:DeleteRole", role(None, &i.role_name))]
            }
            Operation::PutRolePermissionsBoundary(i) => {
                let mut c =
                    AuthzCheck::new("iam:PutRolePermissionsBoundary", role(None, &i.role_name));
                c.context.push(boundary(&i.permissions_boundary));
                vec![c]
            }
            Operation::DeleteRolePermissionsBoundary(i) => vec![AuthzCheck::new(
                "iam:DeleteRolePermissionsBoundary",
                role(None, &i.role_name),
            )],
            Operation::PutUserPermissionsBoundary(i) => {
                let mut c = AuthzCheck::new("iam:PutUserPermissionsBoundary", user(&i.user_name));
                c.context.push(boundary(&i.permissions_boundary));
                vec![c]
            }
            Operation::DeleteUserPermissionsBoundary(i) => vec![AuthzCheck::new(
                "iam:DeleteUserPermissionsBoundary",
                user(&i.user_name),
            )],
        }
    }

    fn request_parameters(&self) -> Option<serde_json::Value> {
        match self {
            Operation::CreateRole(i) => camel_json(i),
            Operation::GetRole(i) => camel_json(i),
            Operation::ListRoles(i) => camel_json(i),
            Operation::UpdateRole(i) => camel_json(i),
            Operation::UpdateRoleDescription(i) => camel_json(i),
            Operation::UpdateAssumeRolePolicy(i) => camel_json(i),
            Operation::DeleteRole(i) => camel_json(i),
            Operation::PutRolePermissionsBoundary(i) => camel_json(i),
            Operation::DeleteRolePermissionsBoundary(i) => camel_json(i),
            Operation::PutUserPermissionsBoundary(i) => camel_json(i),
            Operation::DeleteUserPermissionsBoundary(i) => camel_json(i),
        }
    }

    fn read(&self, tx: &dyn ReadTx, _env: &Env, ctx: &RequestContext) -> Result<Reply, ApiError> {
        let account = &ctx.principal.account_id;
        match self {
            Operation::GetRole(i) => {
                let mut role = load(tx, account, &i.role_name)?;
                if role.role_last_used.is_none() {
                    role.role_last_used = Some(RoleLastUsed {
                        last_used_date: None,
                        region: None,
                    });
                }
                Ok(Reply::new(RoleOutput { role: wire(role) }))
            }
            Operation::ListRoles(i) => {
                let page = model::list_by_path::<Role>(
                    tx,
                    account,
                    TABLE,
                    i.path_prefix.as_deref(),
                    i.marker.as_deref(),
                    i.max_items,
                )?;
                let is_truncated = page.is_truncated();
                let roles = page
                    .items
                    .into_iter()
                    .map(|mut r| {
                        r.tags.clear();
                        r.permissions_boundary = None;
                        r.role_last_used = None;
                        wire(r)
                    })
                    .collect();
                Ok(Reply::new(ListRolesOutput {
                    roles,
                    is_truncated,
                    marker: page.marker,
                }))
            }
            _ => Err(ApiError::internal(
                "read() on a mutating IAM role operation",
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
        let role_key = |name: &str| model::entity_key(account, TABLE, name);
        match self {
            Operation::CreateRole(i) => {
                // That path is the service-linked roles' (CreateServiceLinkedRole); a role
                // of one's own there would pass for one, and be exempt from SCPs.
                if i.path
                    .as_deref()
                    .is_some_and(|p| p.starts_with("/aws-service-role/"))
                {
                    return Err(IamError::InvalidInput(
                        "Path prefix '/aws-service-role/' can only be used for AWS Service linked Roles"
                            .into(),
                    )
                    .into());
                }
                let role = create_role(tx, ctx, i)?;
                let arn = role.arn.clone();
                let out = RoleOutput { role: wire(role) };
                let mut reply_elements = camel_json(&out);
                if let Some(serde_json::Value::Object(m)) = reply_elements.as_mut() {
                    if let Some(serde_json::Value::Object(r)) = m.get_mut("role") {
                        r.remove("tags");
                    }
                }
                let mut reply = Reply::new(out);
                reply.response_elements = reply_elements;
                reply.resources = vec![("AWS::IAM::Role".into(), arn)];
                Ok(reply)
            }
            Operation::UpdateRole(i) => {
                let mut role = load(tx, account, &i.role_name)?;
                if let Some(d) = &i.description {
                    validate_description(d)?;
                    role.description = Some(d.clone());
                }
                if let Some(d) = i.max_session_duration {
                    // Of a service-linked role, only the description is the owner's to edit.
                    super::service_linked::refuse_protected(&role)?;
                    validate_duration(d)?;
                    role.max_session_duration = d;
                }
                model::put(tx, &role_key(&i.role_name), &role)?;
                let mut reply = Reply::new(serde_json::Map::new());
                reply.resources = vec![("AWS::IAM::Role".into(), role.arn)];
                Ok(reply)
            }
            Operation::UpdateRoleDescription(i) => {
                let mut role = load(tx, account, &i.role_name)?;
                validate_description(&i.description)?;
                role.description = Some(i.description.clone());
                model::put(tx, &role_key(&i.role_name), &role)?;
                let arn = role.arn.clone();
                let out = RoleOutput { role: wire(role) };
                let mut reply = Reply::new(out);
                reply.resources = vec![("AWS::IAM::Role".into(), arn)];
                Ok(reply)
            }
            Operation::UpdateAssumeRolePolicy(i) => {
                let mut role = load(tx, account, &i.role_name)?;
                super::service_linked::refuse_protected(&role)?;
                let doc = policies::decode_document(&i.policy_document);
                policies::check_trust_document(&doc)?;
                trust_principals_exist(tx, &doc)?;
                super::principals::update_references(
                    tx,
                    Some(&role.assume_role_policy_document),
                    Some(&doc),
                    &trust_referrer(account, &role.role_name),
                )?;
                role.assume_role_policy_document = doc;
                model::put(tx, &role_key(&i.role_name), &role)?;
                let mut reply = Reply::empty();
                reply.resources = vec![("AWS::IAM::Role".into(), role.arn)];
                Ok(reply)
            }
            Operation::DeleteRole(i) => {
                super::service_linked::refuse_protected(&load(tx, account, &i.role_name)?)?;
                let role = delete_role(tx, account, &i.role_name)?;
                let mut reply = Reply::empty();
                reply.resources = vec![("AWS::IAM::Role".into(), role.arn)];
                Ok(reply)
            }
            Operation::PutRolePermissionsBoundary(i) => {
                let mut role = load(tx, account, &i.role_name)?;
                super::service_linked::refuse_protected(&role)?;
                let name = role.role_name.clone();
                set_boundary(
                    tx,
                    account,
                    (EntityKind::Role, &name),
                    &mut role.permissions_boundary,
                    Some(&i.permissions_boundary),
                )?;
                model::put(tx, &role_key(&i.role_name), &role)?;
                let mut reply = Reply::empty();
                reply.resources = vec![("AWS::IAM::Role".into(), role.arn)];
                Ok(reply)
            }
            Operation::DeleteRolePermissionsBoundary(i) => {
                let mut role = load(tx, account, &i.role_name)?;
                super::service_linked::refuse_protected(&role)?;
                if role.permissions_boundary.is_none() {
                    return Err(IamError::NoSuchEntity(format!(
                        "The role with name {} does not have a permissions boundary.",
                        role.role_name
                    ))
                    .into());
                }
                let name = role.role_name.clone();
                let entity = (EntityKind::Role, name.as_str());
                set_boundary(tx, account, entity, &mut role.permissions_boundary, None)?;
                model::put(tx, &role_key(&i.role_name), &role)?;
                let mut reply = Reply::empty();
                reply.resources = vec![("AWS::IAM::Role".into(), role.arn)];
                Ok(reply)
            }
            Operation::PutUserPermissionsBoundary(i) => {
                let mut user = users::load(tx, account, &i.user_name)?;
                let name = user.user_name.clone();
                set_boundary(
                    tx,
                    account,
                    (EntityKind::User, &name),
                    &mut user.permissions_boundary,
                    Some(&i.permissions_boundary),
                )?;
                put_user(tx, account, &user)?;
                let mut reply = Reply::empty();
                reply.resources = vec![("AWS::IAM::User".into(), user.arn)];
                Ok(reply)
            }
            Operation::DeleteUserPermissionsBoundary(i) => {
                let mut user = users::load(tx, account, &i.user_name)?;
                if user.permissions_boundary.is_none() {
                    return Err(IamError::NoSuchEntity(format!(
                        "The user with name {} does not have a permissions boundary.",
                        user.user_name
                    ))
                    .into());
                }
                let name = user.user_name.clone();
                let entity = (EntityKind::User, name.as_str());
                set_boundary(tx, account, entity, &mut user.permissions_boundary, None)?;
                put_user(tx, account, &user)?;
                let mut reply = Reply::empty();
                reply.resources = vec![("AWS::IAM::User".into(), user.arn)];
                Ok(reply)
            }
            _ => Err(ApiError::internal(
                "write() on a read-only IAM role operation",
            )),
        }
    }
}

fn put_user(tx: &mut dyn WriteTx, account: &str, user: &User) -> Result<(), ApiError> {
    model::put(
        tx,
        &model::entity_key(account, "user", &user.user_name),
        user,
    )
}

/// A trust policy's IAM user and role principals must exist when it is saved (AWS:
/// MalformedPolicyDocument, "Invalid principal in policy").
fn trust_principals_exist(tx: &dyn ReadTx, doc: &str) -> Result<(), ApiError> {
    match super::principals::missing_principal(tx, doc)? {
        Some(arn) => Err(IamError::MalformedPolicyDocument(format!(
            "Invalid principal in policy: \"AWS\":\"{arn}\""
        ))
        .into()),
        None => Ok(()),
    }
}
