//! IAM users: CreateUser, GetUser, ListUsers, UpdateUser, DeleteUser.

use super::{
    camel_json,
    error::IamError,
    model::{self, AttachedPermissionsBoundary, Tag, User},
    resource_arn,
};
use crate::{
    authz::AuthzCheck, context::RequestContext, env::Env, error::ApiError, input::Input, Reply,
};
use palisade_store::{ReadTx, WriteTx};

#[derive(Debug)]
pub enum Operation {
    CreateUser(CreateUserInput),
    GetUser(GetUserInput),
    ListUsers(ListUsersInput),
    UpdateUser(UpdateUserInput),
    DeleteUser(DeleteUserInput),
}

pub fn decode(
    action: &str,
    input: &Input<'_>,
) -> Option<Result<Box<dyn crate::Operation>, ApiError>> {
    let op = match action {
        "CreateUser" => input.parse().map(Operation::CreateUser),
        "GetUser" => input.parse().map(Operation::GetUser),
        "ListUsers" => input.parse().map(Operation::ListUsers),
        "UpdateUser" => input.parse().map(Operation::UpdateUser),
        "DeleteUser" => input.parse().map(Operation::DeleteUser),
        _ => return None,
    };
    Some(op.map(|op| Box::new(op) as Box<dyn crate::Operation>))
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateUserInput {
    pub user_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions_boundary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetUserInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListUsersInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_items: Option<i64>,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateUserInput {
    pub user_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_user_name: Option<String>,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteUserInput {
    pub user_name: String,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserOutput {
    pub user: User,
}

/// A user in listings: AWS leaves out tags and the boundary there.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListUsersOutput {
    pub users: Vec<User>,
    pub is_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
}

const TABLE: &str = "user";

/// Loads a user or answers AWS's NoSuchEntity.
pub fn load(tx: &dyn ReadTx, account: &str, name: &str) -> Result<User, ApiError> {
    model::get::<User>(tx, &model::entity_key(account, TABLE, name))?.ok_or_else(|| {
        IamError::NoSuchEntity(format!("The user with name {name} cannot be found.")).into()
    })
}

pub fn create_user(
    tx: &mut dyn WriteTx,
    ctx: &RequestContext,
    input: &CreateUserInput,
) -> Result<User, ApiError> {
    let account = &ctx.principal.account_id;
    model::validate_name("userName", &input.user_name, 64)?;
    let path = input.path.as_deref().unwrap_or("/");
    model::validate_path("path", path)?;
    let tags = input.tags.clone().unwrap_or_default();
    model::validate_tags(&tags)?;
    let key = model::entity_key(account, TABLE, &input.user_name);
    if tx.get(&key)?.is_some() {
        return Err(IamError::EntityAlreadyExists(format!(
            "User with name {} already exists.",
            input.user_name
        ))
        .into());
    }
    if let Some(b) = &input.permissions_boundary {
        super::policies::check_boundary(tx, account, b)?;
        super::policies::record_boundary_use(
            tx,
            account,
            b,
            model::EntityKind::User,
            &input.user_name,
            true,
        )?;
    }
    let user = User {
        path: path.to_owned(),
        user_name: input.user_name.clone(),
        user_id: model::new_id("AIDA")?,
        arn: model::arn(account, "user", path, &input.user_name),
        create_date: model::iso(ctx.now),
        password_last_used: None,
        permissions_boundary: input
            .permissions_boundary
            .as_deref()
            .map(AttachedPermissionsBoundary::policy),
        tags,
    };
    model::put(tx, &key, &user)?;
    Ok(user)
}

pub fn delete_user(
    tx: &mut dyn WriteTx,
    ctx: &RequestContext,
    name: &str,
) -> Result<User, ApiError> {
    let account = &ctx.principal.account_id;
    let user = load(tx, account, name)?;
    let conflict = |what: &str| -> ApiError {
        IamError::DeleteConflict(format!("Cannot delete entity, must {what} first.")).into()
    };
    if !model::scan_all(tx, &model::user_access_keys_prefix(account, name))?.is_empty() {
        return Err(conflict("delete access keys"));
    }
    if tx
        .get(&model::entity_key(account, "loginprofile", name))?
        .is_some()
    {
        return Err(conflict("delete login profile"));
    }
    if !model::scan_all(
        tx,
        &model::inline_prefix(account, model::EntityKind::User, name),
    )?
    .is_empty()
    {
        return Err(conflict("delete policies"));
    }
    if !model::scan_all(
        tx,
        &model::attachments_prefix(account, model::EntityKind::User, name),
    )?
    .is_empty()
    {
        return Err(conflict("detach all policies"));
    }
    if !model::scan_all(tx, &model::user_groups_prefix(account, name))?.is_empty() {
        return Err(conflict("remove users from group"));
    }
    if !model::scan_all(tx, &model::entity_key(account, "usermfa", name))?.is_empty() {
        return Err(conflict("delete MFA device"));
    }
    if let Some(b) = &user.permissions_boundary {
        super::policies::record_boundary_use(
            tx,
            account,
            &b.permissions_boundary_arn,
            model::EntityKind::User,
            &user.user_name,
            false,
        )?;
    }
    tx.delete(&model::entity_key(account, TABLE, name))?;
    super::principals::principal_deleted(tx, &user.arn, &user.user_id)?;
    Ok(user)
}

impl crate::Operation for Operation {
    fn name(&self) -> &'static str {
        match self {
            Operation::CreateUser(_) => "CreateUser",
            Operation::GetUser(_) => "GetUser",
            Operation::ListUsers(_) => "ListUsers",
            Operation::UpdateUser(_) => "UpdateUser",
            Operation::DeleteUser(_) => "DeleteUser",
        }
    }

    fn read_only(&self) -> bool {
        matches!(self, Operation::GetUser(_) | Operation::ListUsers(_))
    }

    fn authz(&self, ctx: &RequestContext) -> Vec<AuthzCheck> {
        let account = ctx.principal.account_id.as_str();
        let user = |path: Option<&str>, name: &str| resource_arn(account, "user", path, name);
        match self {
            Operation::CreateUser(i) => {
                let arn = user(i.path.as_deref(), &i.user_name);
                let tags = super::tags::request_tag_context(i.tags.as_deref().unwrap_or_default());
                let mut c = AuthzCheck::new("iam:CreateUser", arn.clone()).naming_new();
                c.context = tags.clone();
                if let Some(b) = &i.permissions_boundary {
                    c.context
                        .push(("iam:PermissionsBoundary".to_owned(), vec![b.clone()]));
                }
                let mut checks = vec![c];
                // AWS: tags at creation also need iam:TagUser.
                if !tags.is_empty() {
                    let mut t = AuthzCheck::new("iam:TagUser", arn).naming_new();
                    t.context = tags;
                    checks.push(t);
                }
                checks
            }
            Operation::GetUser(i) => match (&i.user_name, &ctx.principal.kind) {
                (Some(n), _) => vec![AuthzCheck::new("iam:GetUser", user(None, n))],
                // Without a name, GetUser describes the calling user, who needs iam:GetUser
                // on itself as on anyone (AWS). Other callers get a ValidationError.
                (None, crate::PrincipalKind::IAMUser) => {
                    vec![AuthzCheck::new("iam:GetUser", ctx.principal.arn.clone())]
                }
                (None, _) => Vec::new(),
            },
            Operation::ListUsers(i) => vec![AuthzCheck::new(
                "iam:ListUsers",
                user(i.path_prefix.as_deref(), ""),
            )],
            Operation::UpdateUser(i) => {
                let mut v = vec![AuthzCheck::new("iam:UpdateUser", user(None, &i.user_name))];
                // AWS: a rename or move needs the permission on the new name too.
                if i.new_user_name.is_some() || i.new_path.is_some() {
                    let name = i.new_user_name.as_deref().unwrap_or(&i.user_name);
                    v.push(
                        AuthzCheck::new("iam:UpdateUser", user(i.new_path.as_deref(), name))
                            .naming_new(),
                    );
                }
                v
            }
            Operation::DeleteUser(i) => {
                vec![AuthzCheck::new("iam:DeleteUser", user(None, &i.user_name))]
            }
        }
    }

    fn request_parameters(&self) -> Option<serde_json::Value> {
        match self {
            Operation::CreateUser(i) => camel_json(i),
            Operation::GetUser(i) => camel_json(i),
            Operation::ListUsers(i) => camel_json(i),
            Operation::UpdateUser(i) => camel_json(i),
            Operation::DeleteUser(i) => camel_json(i),
        }
    }

    fn read(&self, tx: &dyn ReadTx, _env: &Env, ctx: &RequestContext) -> Result<Reply, ApiError> {
        let account = &ctx.principal.account_id;
        match self {
            Operation::GetUser(i) => {
                let user = match (&i.user_name, ctx.principal.kind) {
                    (Some(name), _) => load(tx, account, name)?,
                    (None, crate::PrincipalKind::IAMUser) => {
                        load(tx, account, &ctx.principal.user_name)?
                    }
                    (None, crate::PrincipalKind::Root) => root_user(ctx),
                    // AWS's answer to role and federated sessions.
                    (None, _) => {
                        return Err(IamError::Validation(
                            "Must specify userName when calling with non-User credentials".into(),
                        )
                        .into())
                    }
                };
                Ok(Reply::new(UserOutput { user }))
            }
            Operation::ListUsers(i) => {
                let page = model::list_by_path::<User>(
                    tx,
                    account,
                    TABLE,
                    i.path_prefix.as_deref(),
                    i.marker.as_deref(),
                    i.max_items,
                )?;
                let is_truncated = page.is_truncated();
                let users = page
                    .items
                    .into_iter()
                    .map(|mut u| {
                        u.tags.clear();
                        u.permissions_boundary = None;
                        u
                    })
                    .collect();
                Ok(Reply::new(ListUsersOutput {
                    users,
                    is_truncated,
                    marker: page.marker,
                }))
            }
            _ => Err(ApiError::internal(
                "read() on a mutating IAM user operation",
            )),
        }
    }

    fn write(
        &self,
        tx: &mut dyn WriteTx,
        env: &Env,
        ctx: &RequestContext,
    ) -> Result<Reply, ApiError> {
        let account = &ctx.principal.account_id;
        match self {
            Operation::CreateUser(i) => {
                let user = create_user(tx, ctx, i)?;
                let out = UserOutput { user };
                let mut reply_elements = camel_json(&out);
                if let Some(serde_json::Value::Object(m)) = reply_elements.as_mut() {
                    if let Some(serde_json::Value::Object(u)) = m.get_mut("user") {
                        u.remove("tags");
                    }
                }
                let arn = out.user.arn.clone();
                let mut reply = Reply::new(out);
                reply.response_elements = reply_elements;
                reply.resources = vec![("AWS::IAM::User".into(), arn)];
                Ok(reply)
            }
            Operation::UpdateUser(i) => {
                let mut user = load(tx, account, &i.user_name)?;
                if let Some(p) = &i.new_path {
                    model::validate_path("newPath", p)?;
                    user.path = p.clone();
                }
                let old_name = user.user_name.clone();
                if let Some(new_name) = &i.new_user_name {
                    model::validate_name("newUserName", new_name, 64)?;
                    if !new_name.eq_ignore_ascii_case(&old_name)
                        && tx
                            .get(&model::entity_key(account, TABLE, new_name))?
                            .is_some()
                    {
                        return Err(IamError::EntityAlreadyExists(format!(
                            "User with name {new_name} already exists."
                        ))
                        .into());
                    }
                    user.user_name = new_name.clone();
                }
                let moved = model::arn(account, "user", &user.path, &user.user_name);
                if user.user_name != old_name {
                    rename_user(tx, account, &old_name, &user.user_name)?;
                    if let Some(b) = &user.permissions_boundary {
                        let arn = &b.permissions_boundary_arn;
                        let kind = model::EntityKind::User;
                        super::policies::record_boundary_use(
                            tx, account, arn, kind, &old_name, false,
                        )?;
                        super::policies::record_boundary_use(
                            tx,
                            account,
                            arn,
                            kind,
                            &user.user_name,
                            true,
                        )?;
                    }
                }
                if moved != user.arn {
                    // The user's keys act as the user at its new name and ARN from now on,
                    // and the policies that name it name its new ARN.
                    super::access_keys::repath_keys(
                        tx,
                        env,
                        account,
                        &old_name,
                        &user.user_name,
                        &moved,
                    )?;
                    super::principals::principal_renamed(tx, &user.arn, &moved)?;
                }
                user.arn = moved;
                tx.delete(&model::entity_key(account, TABLE, &old_name))?;
                model::put(
                    tx,
                    &model::entity_key(account, TABLE, &user.user_name),
                    &user,
                )?;
                Ok(Reply::empty())
            }
            Operation::DeleteUser(i) => {
                let user = delete_user(tx, ctx, &i.user_name)?;
                let mut reply = Reply::empty();
                reply.resources = vec![("AWS::IAM::User".into(), user.arn)];
                Ok(reply)
            }
            _ => Err(ApiError::internal(
                "write() on a read-only IAM user operation",
            )),
        }
    }
}

/// Moves what IAM keeps under a user's name to its new name (UpdateUser NewUserName). The
/// IAM User Guide's "Rename an IAM user" has the user keep its policies, groups and unique
/// id under the new name: here inline and attached policies, group memberships both ways,
/// MFA device assignments and the login profile. Its access keys move with its new ARN
/// ([`super::access_keys::repath_keys`]); policies that name it as a principal follow it
/// ([`super::principals::principal_renamed`]), those naming it as a resource do not.
fn rename_user(tx: &mut dyn WriteTx, account: &str, old: &str, new: &str) -> Result<(), ApiError> {
    use model::{Membership, UserMfaDevice, VirtualMfaDevice};
    // Sessions issued to the user before (GetSessionToken, GetFederationToken) name it by
    // its old name: they find it through this ([`current`]).
    if !old.eq_ignore_ascii_case(new) {
        let user = load(tx, account, old)?;
        model::put(
            tx,
            &renamed_key(account, old, &user.user_id),
            &Renamed {
                user_id: user.user_id,
                new_name: new.to_owned(),
            },
        )?;
    }
    super::attach::rename_entity(tx, account, model::EntityKind::User, old, new)?;
    for (k, v) in model::scan_all(tx, &model::user_groups_prefix(account, old))? {
        let mut m: Membership = serde_json::from_slice(&v).map_err(ApiError::internal)?;
        tx.delete(&k)?;
        tx.delete(&model::group_member_key(account, &m.group_name, old))?;
        m.user_name = new.to_owned();
        model::put(tx, &model::membership_key(account, new, &m.group_name), &m)?;
        model::put(
            tx,
            &model::group_member_key(account, &m.group_name, new),
            &m,
        )?;
    }
    for (k, v) in model::scan_all(tx, &model::user_mfa_prefix(account, old))? {
        let mut d: UserMfaDevice = serde_json::from_slice(&v).map_err(ApiError::internal)?;
        tx.delete(&k)?;
        d.user_name = new.to_owned();
        model::put(tx, &model::user_mfa_key(account, new, &d.serial_number), &d)?;
        let device_key = model::virtual_mfa_key(account, &d.serial_number);
        if let Some(mut device) = model::get::<VirtualMfaDevice>(tx, &device_key)? {
            device.user_name = Some(new.to_owned());
            model::put(tx, &device_key, &device)?;
        }
    }
    let profile_key = model::entity_key(account, "loginprofile", old);
    if let Some(raw) = tx.get(&profile_key)? {
        let mut p: super::login_profiles::LoginProfileRecord =
            serde_json::from_slice(&raw).map_err(ApiError::internal)?;
        tx.delete(&profile_key)?;
        p.user_name = new.to_owned();
        model::put(tx, &model::entity_key(account, "loginprofile", new), &p)?;
    }
    Ok(())
}

/// Where a renamed user went: written at each rename, under the old name and the user's
/// unique id (another user may take the name, and be renamed in turn).
fn renamed_key(account: &str, old: &str, user_id: &str) -> Vec<u8> {
    model::entity_key(account, "userrenamed", &format!("{old}/{user_id}"))
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Renamed {
    user_id: String,
    new_name: String,
}

/// The user with unique id `user_id` that was called `name` when credentials were issued
/// to it: the user of that name, or, renamed since, the user it became (credentials belong
/// to the user, whatever it is called now). `None` once it is deleted.
pub fn current(
    tx: &dyn ReadTx,
    account: &str,
    name: &str,
    user_id: &str,
) -> Result<Option<User>, ApiError> {
    let mut name = name.to_owned();
    // A few renames at most in practice; the bound only guards against a cycle.
    for _ in 0..256 {
        if let Some(u) = model::get::<User>(tx, &model::entity_key(account, TABLE, &name))? {
            if u.user_id == user_id {
                return Ok(Some(u));
            }
        }
        match model::get::<Renamed>(tx, &renamed_key(account, &name, user_id))? {
            Some(r) if r.user_id == user_id => name = r.new_name,
            _ => return Ok(None),
        }
    }
    Ok(None)
}

/// GetUser without a name, called by the root user: AWS describes the account root, with
/// neither Path nor UserName.
fn root_user(ctx: &RequestContext) -> User {
    User {
        path: String::new(),
        user_name: String::new(),
        user_id: ctx.principal.account_id.clone(),
        arn: ctx.principal.arn.clone(),
        create_date: model::iso(ctx.now),
        password_last_used: None,
        permissions_boundary: None,
        tags: Vec::new(),
    }
}
