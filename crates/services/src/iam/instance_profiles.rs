//! Instance profiles: CreateInstanceProfile, GetInstanceProfile, ListInstanceProfiles,
//! DeleteInstanceProfile, AddRoleToInstanceProfile (one role at most),
//! RemoveRoleFromInstanceProfile, ListInstanceProfilesForRole.
//!
//! The profile record keeps role names; [`model::role_instance_profile_key`] indexes the
//! other way so DeleteRole can refuse a role still in a profile.

use super::{
    camel_json,
    error::IamError,
    model::{self, InstanceProfile, Role, Tag},
    resource_arn, roles,
};
use crate::{
    authz::AuthzCheck, context::RequestContext, env::Env, error::ApiError, input::Input, Reply,
};
use palisade_store::{ReadTx, WriteTx};

pub const TABLE: &str = "instanceprofile";

#[derive(Debug)]
pub enum Operation {
    CreateInstanceProfile(CreateInput),
    GetInstanceProfile(NameInput),
    ListInstanceProfiles(ListInput),
    DeleteInstanceProfile(NameInput),
    AddRoleToInstanceProfile(RoleInput),
    RemoveRoleFromInstanceProfile(RoleInput),
    ListInstanceProfilesForRole(ForRoleInput),
}

pub fn decode(
    action: &str,
    input: &Input<'_>,
) -> Option<Result<Box<dyn crate::Operation>, ApiError>> {
    let op = match action {
        "CreateInstanceProfile" => input.parse().map(Operation::CreateInstanceProfile),
        "GetInstanceProfile" => input.parse().map(Operation::GetInstanceProfile),
        "ListInstanceProfiles" => input.parse().map(Operation::ListInstanceProfiles),
        "DeleteInstanceProfile" => input.parse().map(Operation::DeleteInstanceProfile),
        "AddRoleToInstanceProfile" => input.parse().map(Operation::AddRoleToInstanceProfile),
        "RemoveRoleFromInstanceProfile" => {
            input.parse().map(Operation::RemoveRoleFromInstanceProfile)
        }
        "ListInstanceProfilesForRole" => input.parse().map(Operation::ListInstanceProfilesForRole),
        _ => return None,
    };
    Some(op.map(|op| Box::new(op) as Box<dyn crate::Operation>))
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateInput {
    pub instance_profile_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NameInput {
    pub instance_profile_name: String,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_items: Option<i64>,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RoleInput {
    pub instance_profile_name: String,
    pub role_name: String,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ForRoleInput {
    pub role_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_items: Option<i64>,
}

/// IAM's `InstanceProfile` shape, roles included.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstanceProfileOut {
    pub path: String,
    pub instance_profile_name: String,
    pub instance_profile_id: String,
    pub arn: String,
    pub create_date: String,
    pub roles: Vec<Role>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstanceProfileOutput {
    pub instance_profile: InstanceProfileOut,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListOutput {
    pub instance_profiles: Vec<InstanceProfileOut>,
    pub is_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
}

pub fn load(tx: &dyn ReadTx, account: &str, name: &str) -> Result<InstanceProfile, ApiError> {
    model::get::<InstanceProfile>(tx, &model::entity_key(account, TABLE, name))?.ok_or_else(|| {
        IamError::NoSuchEntity(format!("Instance Profile {name} cannot be found.")).into()
    })
}

/// The profile as IAM answers it, its roles loaded (trust policies URL-encoded).
pub fn out(
    tx: &dyn ReadTx,
    account: &str,
    p: InstanceProfile,
    with_tags: bool,
) -> Result<InstanceProfileOut, ApiError> {
    let mut roles_out = Vec::new();
    for r in &p.role_names {
        if let Some(mut role) =
            model::get::<Role>(tx, &model::entity_key(account, roles::TABLE, r))?
        {
            role.role_last_used = None;
            roles_out.push(roles::wire(role));
        }
    }
    Ok(InstanceProfileOut {
        path: p.path,
        instance_profile_name: p.instance_profile_name,
        instance_profile_id: p.instance_profile_id,
        arn: p.arn,
        create_date: p.create_date,
        roles: roles_out,
        tags: (with_tags && !p.tags.is_empty()).then_some(p.tags),
    })
}

/// The instance profiles that hold a role (names as created).
pub fn profiles_of_role(
    tx: &dyn ReadTx,
    account: &str,
    role: &str,
) -> Result<Vec<InstanceProfile>, ApiError> {
    let mut out = Vec::new();
    for (_, v) in model::scan_all(tx, &model::role_instance_profiles_prefix(account, role))? {
        let name: String = serde_json::from_slice(&v).map_err(ApiError::internal)?;
        if let Some(p) =
            model::get::<InstanceProfile>(tx, &model::entity_key(account, TABLE, &name))?
        {
            out.push(p);
        }
    }
    Ok(out)
}

impl crate::Operation for Operation {
    fn name(&self) -> &'static str {
        match self {
            Operation::CreateInstanceProfile(_) => "CreateInstanceProfile",
            Operation::GetInstanceProfile(_) => "GetInstanceProfile",
            Operation::ListInstanceProfiles(_) => "ListInstanceProfiles",
            Operation::DeleteInstanceProfile(_) => "DeleteInstanceProfile",
            Operation::AddRoleToInstanceProfile(_) => "AddRoleToInstanceProfile",
            Operation::RemoveRoleFromInstanceProfile(_) => "RemoveRoleFromInstanceProfile",
            Operation::ListInstanceProfilesForRole(_) => "ListInstanceProfilesForRole",
        }
    }

    fn read_only(&self) -> bool {
        matches!(
            self,
            Operation::GetInstanceProfile(_)
                | Operation::ListInstanceProfiles(_)
                | Operation::ListInstanceProfilesForRole(_)
        )
    }

    fn authz(&self, ctx: &RequestContext) -> Vec<AuthzCheck> {
        let account = ctx.principal.account_id.as_str();
        let ip =
            |path: Option<&str>, name: &str| resource_arn(account, "instance-profile", path, name);
        let role = |name: &str| resource_arn(account, "role", None, name);
        match self {
            Operation::CreateInstanceProfile(i) => {
                let arn = ip(i.path.as_deref(), &i.instance_profile_name);
                let tags = i.tags.as_deref().unwrap_or_default();
                let mut c = AuthzCheck::new("iam:CreateInstanceProfile", arn.clone()).naming_new();
                c.context = super::tags::request_tag_context(tags);
                let mut v = vec![c];
                if !tags.is_empty() {
                    let mut t = AuthzCheck::new("iam:TagInstanceProfile", arn).naming_new();
                    t.context = super::tags::request_tag_context(tags);
                    v.push(t);
                }
                v
            }
            Operation::GetInstanceProfile(i) => vec![AuthzCheck::new(
                "iam:GetInstanceProfile",
                ip(None, &i.instance_profile_name),
            )],
            Operation::ListInstanceProfiles(i) => vec![AuthzCheck::new(
                "iam:ListInstanceProfiles",
                ip(i.path_prefix.as_deref(), ""),
            )],
            Operation::DeleteInstanceProfile(i) => vec![AuthzCheck::new(
                "iam:DeleteInstanceProfile",
                ip(None, &i.instance_profile_name),
            )],
            Operation::AddRoleToInstanceProfile(i) => vec![
                AuthzCheck::new(
                    "iam:AddRoleToInstanceProfile",
                    ip(None, &i.instance_profile_name),
                ),
                AuthzCheck::new("iam:PassRole", role(&i.role_name)),
            ],
            Operation::RemoveRoleFromInstanceProfile(i) => vec![AuthzCheck::new(
                "iam:RemoveRoleFromInstanceProfile",
                ip(None, &i.instance_profile_name),
            )],
            Operation::ListInstanceProfilesForRole(i) => vec![AuthzCheck::new(
                "iam:ListInstanceProfilesForRole",
                role(&i.role_name),
            )],
        }
    }

    fn request_parameters(&self) -> Option<serde_json::Value> {
        match self {
            Operation::CreateInstanceProfile(i) => camel_json(i),
            Operation::GetInstanceProfile(i) | Operation::DeleteInstanceProfile(i) => camel_json(i),
            Operation::ListInstanceProfiles(i) => camel_json(i),
            Operation::AddRoleToInstanceProfile(i)
            | Operation::RemoveRoleFromInstanceProfile(i) => camel_json(i),
            Operation::ListInstanceProfilesForRole(i) => camel_json(i),
        }
    }

    fn read(&self, tx: &dyn ReadTx, _env: &Env, ctx: &RequestContext) -> Result<Reply, ApiError> {
        let account = &ctx.principal.account_id;
        match self {
            Operation::GetInstanceProfile(i) => {
                let p = load(tx, account, &i.instance_profile_name)?;
                Ok(Reply::new(InstanceProfileOutput {
                    instance_profile: out(tx, account, p, true)?,
                }))
            }
            Operation::ListInstanceProfiles(i) => {
                let page = model::list_by_path::<InstanceProfile>(
                    tx,
                    account,
                    TABLE,
                    i.path_prefix.as_deref(),
                    i.marker.as_deref(),
                    i.max_items,
                )?;
                let is_truncated = page.is_truncated();
                let instance_profiles = page
                    .items
                    .into_iter()
                    .map(|p| out(tx, account, p, false))
                    .collect::<Result<_, _>>()?;
                Ok(Reply::new(ListOutput {
                    instance_profiles,
                    is_truncated,
                    marker: page.marker,
                }))
            }
            Operation::ListInstanceProfilesForRole(i) => {
                roles::load(tx, account, &i.role_name)?;
                let all = profiles_of_role(tx, account, &i.role_name)?;
                let max = model::max_items(i.max_items)?;
                let start = match &i.marker {
                    None => 0,
                    Some(m) => m
                        .parse::<usize>()
                        .map_err(|_| IamError::InvalidInput("Invalid Marker.".into()))?,
                };
                let total = all.len();
                let page: Vec<InstanceProfile> = all.into_iter().skip(start).take(max).collect();
                let next = start + page.len();
                let instance_profiles = page
                    .into_iter()
                    .map(|p| out(tx, account, p, false))
                    .collect::<Result<_, _>>()?;
                let marker = (next < total).then(|| next.to_string());
                Ok(Reply::new(ListOutput {
                    instance_profiles,
                    is_truncated: marker.is_some(),
                    marker,
                }))
            }
            _ => Err(ApiError::internal(
                "read() on a mutating IAM instance profile operation",
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
        let key = |name: &str| model::entity_key(account, TABLE, name);
        match self {
            Operation::CreateInstanceProfile(i) => {
                model::validate_name("instanceProfileName", &i.instance_profile_name, 128)?;
                let path = i.path.as_deref().unwrap_or("/");
                model::validate_path("path", path)?;
                let tags = i.tags.clone().unwrap_or_default();
                model::validate_tags(&tags)?;
                if tx.get(&key(&i.instance_profile_name))?.is_some() {
                    return Err(IamError::EntityAlreadyExists(format!(
                        "Instance Profile {} already exists.",
                        i.instance_profile_name
                    ))
                    .into());
                }
                let p = InstanceProfile {
                    path: path.to_owned(),
                    instance_profile_name: i.instance_profile_name.clone(),
                    instance_profile_id: model::new_id("AIPA")?,
                    arn: model::arn(account, "instance-profile", path, &i.instance_profile_name),
                    create_date: model::iso(ctx.now),
                    role_names: Vec::new(),
                    tags,
                };
                model::put(tx, &key(&i.instance_profile_name), &p)?;
                let arn = p.arn.clone();
                let o = InstanceProfileOutput {
                    instance_profile: out(tx, account, p, true)?,
                };
                let elements = camel_json(&o);
                let mut reply = Reply::new(o);
                reply.response_elements = elements;
                reply.resources = vec![("AWS::IAM::InstanceProfile".into(), arn)];
                Ok(reply)
            }
            Operation::DeleteInstanceProfile(i) => {
                let p = load(tx, account, &i.instance_profile_name)?;
                if !p.role_names.is_empty() {
                    return Err(IamError::DeleteConflict(
                        "Cannot delete entity, must remove roles from instance profile first."
                            .into(),
                    )
                    .into());
                }
                tx.delete(&key(&i.instance_profile_name))?;
                let mut reply = Reply::empty();
                reply.resources = vec![("AWS::IAM::InstanceProfile".into(), p.arn)];
                Ok(reply)
            }
            Operation::AddRoleToInstanceProfile(i) => {
                let mut p = load(tx, account, &i.instance_profile_name)?;
                let role = roles::load(tx, account, &i.role_name)?;
                super::service_linked::refuse_protected(&role)?;
                if !p.role_names.is_empty() {
                    return Err(IamError::LimitExceeded(
                        "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1".into(),
                    )
                    .into());
                }
                p.role_names.push(role.role_name.clone());
                model::put(tx, &key(&p.instance_profile_name), &p)?;
                model::put(
                    tx,
                    &model::role_instance_profile_key(
                        account,
                        &role.role_name,
                        &p.instance_profile_name,
                    ),
                    &p.instance_profile_name,
                )?;
                let mut reply = Reply::empty();
                reply.resources = vec![
                    ("AWS::IAM::InstanceProfile".into(), p.arn),
                    ("AWS::IAM::Role".into(), role.arn),
                ];
                Ok(reply)
            }
            Operation::RemoveRoleFromInstanceProfile(i) => {
                let mut p = load(tx, account, &i.instance_profile_name)?;
                let role = roles::load(tx, account, &i.role_name)?;
                super::service_linked::refuse_protected(&role)?;
                let before = p.role_names.len();
                p.role_names
                    .retain(|r| !r.eq_ignore_ascii_case(&role.role_name));
                if p.role_names.len() == before {
                    return Err(IamError::NoSuchEntity(format!(
                        "The role with name {} cannot be found in instance profile {}.",
                        role.role_name, p.instance_profile_name
                    ))
                    .into());
                }
                model::put(tx, &key(&p.instance_profile_name), &p)?;
                tx.delete(&model::role_instance_profile_key(
                    account,
                    &role.role_name,
                    &p.instance_profile_name,
                ))?;
                let mut reply = Reply::empty();
                reply.resources = vec![
                    ("AWS::IAM::InstanceProfile".into(), p.arn),
                    ("AWS::IAM::Role".into(), role.arn),
                ];
                Ok(reply)
            }
            _ => Err(ApiError::internal(
                "write() on a read-only IAM instance profile operation",
            )),
        }
    }
}
