//! Inline policies of users, groups and roles: Put/Get/List/Delete{User,Group,Role}Policy.
//!
//! The value at [`model::inline_key`] is the document text itself, as the caller sent it
//! (URL-decoded if it came encoded); the policy name is the key's last part. The aggregate
//! size of an entity's inline policies is capped as in IAM: 2,048 characters for a user,
//! 5,120 for a group, 10,240 for a role, whitespace not counted.

use super::{
    attach::{load_entity, name_member, resource_type},
    camel_json,
    error::IamError,
    model::{self, EntityKind},
    policies, resource_arn,
};
use crate::{
    authz::AuthzCheck, context::RequestContext, env::Env, error::ApiError, input::Input, Reply,
};
use palisade_store::{ReadTx, WriteTx};

#[derive(Debug)]
pub enum Operation {
    Put(EntityKind, PutInput),
    Get(EntityKind, NamedInput),
    List(EntityKind, ListInput),
    Delete(EntityKind, NamedInput),
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_name: Option<String>,
    pub policy_name: String,
    pub policy_document: String,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NamedInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_name: Option<String>,
    pub policy_name: String,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_items: Option<i64>,
}

/// Get{User,Group,Role}Policy's answer: the entity member, PolicyName, PolicyDocument
/// (URL-encoded, as IAM answers it).
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_name: Option<String>,
    pub policy_name: String,
    pub policy_document: String,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListOutput {
    pub policy_names: Vec<String>,
    pub is_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
}

trait EntityName {
    fn names(&self) -> (&Option<String>, &Option<String>, &Option<String>);
    fn entity(&self, kind: EntityKind) -> &str {
        let (u, g, r) = self.names();
        match kind {
            EntityKind::User => u,
            EntityKind::Group => g,
            EntityKind::Role => r,
        }
        .as_deref()
        .unwrap_or_default()
    }
    fn has(&self, kind: EntityKind) -> bool {
        let (u, g, r) = self.names();
        match kind {
            EntityKind::User => u.is_some(),
            EntityKind::Group => g.is_some(),
            EntityKind::Role => r.is_some(),
        }
    }
}

macro_rules! entity_name {
    ($($t:ty),*) => {$(
        impl EntityName for $t {
            fn names(&self) -> (&Option<String>, &Option<String>, &Option<String>) {
                (&self.user_name, &self.group_name, &self.role_name)
            }
        }
    )*};
}
entity_name!(PutInput, NamedInput, ListInput);

fn parse<T: serde::de::DeserializeOwned + EntityName>(
    input: &Input<'_>,
    kind: EntityKind,
) -> Result<T, ApiError> {
    let i: T = input.parse()?;
    if !i.has(kind) {
        return Err(ApiError::new(
            "ValidationError",
            400,
            format!(
                "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                crate::input::lower_camel(name_member(kind))
            ),
        ));
    }
    Ok(i)
}

pub fn decode(
    action: &str,
    input: &Input<'_>,
) -> Option<Result<Box<dyn crate::Operation>, ApiError>> {
    use EntityKind::*;
    let op = match action {
        "PutUserPolicy" => parse(input, User).map(|i| Operation::Put(User, i)),
        "PutGroupPolicy" => parse(input, Group).map(|i| Operation::Put(Group, i)),
        "PutRolePolicy" => parse(input, Role).map(|i| Operation::Put(Role, i)),
        "GetUserPolicy" => parse(input, User).map(|i| Operation::Get(User, i)),
        "GetGroupPolicy" => parse(input, Group).map(|i| Operation::Get(Group, i)),
        "GetRolePolicy" => parse(input, Role).map(|i| Operation::Get(Role, i)),
        "ListUserPolicies" => parse(input, User).map(|i| Operation::List(User, i)),
        "ListGroupPolicies" => parse(input, Group).map(|i| Operation::List(Group, i)),
        "ListRolePolicies" => parse(input, Role).map(|i| Operation::List(Role, i)),
        "DeleteUserPolicy" => parse(input, User).map(|i| Operation::Delete(User, i)),
        "DeleteGroupPolicy" => parse(input, Group).map(|i| Operation::Delete(Group, i)),
        "DeleteRolePolicy" => parse(input, Role).map(|i| Operation::Delete(Role, i)),
        _ => return None,
    };
    Some(op.map(|op| Box::new(op) as Box<dyn crate::Operation>))
}

/// The aggregate inline-policy quota of an entity kind, in non-whitespace characters.
pub fn quota(kind: EntityKind) -> usize {
    match kind {
        EntityKind::User => 2_048,
        EntityKind::Group => 5_120,
        EntityKind::Role => 10_240,
    }
}

fn noun(kind: EntityKind) -> &'static str {
    match kind {
        EntityKind::User => "User",
        EntityKind::Group => "Group",
        EntityKind::Role => "Role",
    }
}

fn not_found(kind: EntityKind, policy: &str) -> ApiError {
    IamError::NoSuchEntity(format!(
        "The {} policy with name {policy} cannot be found.",
        kind.tag()
    ))
    .into()
}

/// Every inline policy of an entity: (name, document text).
pub fn inline_policies(
    tx: &dyn ReadTx,
    account: &str,
    kind: EntityKind,
    entity: &str,
) -> Result<Vec<(String, String)>, ApiError> {
    Ok(
        model::scan_all(tx, &model::inline_prefix(account, kind, entity))?
            .into_iter()
            .filter_map(|(k, v)| {
                let name = model::last_str_part(&k)?;
                Some((name, String::from_utf8_lossy(&v).into_owned()))
            })
            .collect(),
    )
}

impl crate::Operation for Operation {
    fn name(&self) -> &'static str {
        use EntityKind::*;
        match self {
            Operation::Put(User, _) => "PutUserPolicy",
            Operation::Put(Group, _) => "PutGroupPolicy",
            Operation::Put(Role, _) => "PutRolePolicy",
            Operation::Get(User, _) => "GetUserPolicy",
            Operation::Get(Group, _) => "GetGroupPolicy",
            Operation::Get(Role, _) => "GetRolePolicy",
            Operation::List(User, _) => "ListUserPolicies",
            Operation::List(Group, _) => "ListGroupPolicies",
            Operation::List(Role, _) => "ListRolePolicies",
            Operation::Delete(User, _) => "DeleteUserPolicy",
            Operation::Delete(Group, _) => "DeleteGroupPolicy",
            Operation::Delete(Role, _) => "DeleteRolePolicy",
        }
    }

    fn read_only(&self) -> bool {
        matches!(self, Operation::Get(..) | Operation::List(..))
    }

    fn authz(&self, ctx: &RequestContext) -> Vec<AuthzCheck> {
        let account = ctx.principal.account_id.as_str();
        let arn = |kind: EntityKind, name: &str| resource_arn(account, kind.tag(), None, name);
        let (action, kind, entity) = match self {
            Operation::Put(k, i) => ("Put{}Policy", *k, i.entity(*k)),
            Operation::Get(k, i) => ("Get{}Policy", *k, i.entity(*k)),
            Operation::List(k, i) => ("List{}Policies", *k, i.entity(*k)),
            Operation::Delete(k, i) => ("Delete{}Policy", *k, i.entity(*k)),
        };
        vec![AuthzCheck::new(
            format!("iam:{}", action.replace("{}", noun(kind))),
            arn(kind, entity),
        )]
    }

    fn request_parameters(&self) -> Option<serde_json::Value> {
        match self {
            Operation::Put(_, i) => camel_json(i),
            Operation::Get(_, i) | Operation::Delete(_, i) => camel_json(i),
            Operation::List(_, i) => camel_json(i),
        }
    }

    fn read(&self, tx: &dyn ReadTx, _env: &Env, ctx: &RequestContext) -> Result<Reply, ApiError> {
        let account = &ctx.principal.account_id;
        match self {
            Operation::Get(kind, i) => {
                let e = load_entity(tx, account, *kind, i.entity(*kind))?;
                let doc = tx
                    .get(&model::inline_key(account, *kind, &e.name, &i.policy_name))?
                    .ok_or_else(|| not_found(*kind, &i.policy_name))?;
                let doc = String::from_utf8_lossy(&doc);
                let name = Some(e.name);
                let (user_name, group_name, role_name) = match kind {
                    EntityKind::User => (name, None, None),
                    EntityKind::Group => (None, name, None),
                    EntityKind::Role => (None, None, name),
                };
                Ok(Reply::new(GetOutput {
                    user_name,
                    group_name,
                    role_name,
                    policy_name: i.policy_name.clone(),
                    policy_document: policies::url_encode(&doc),
                }))
            }
            Operation::List(kind, i) => {
                let e = load_entity(tx, account, *kind, i.entity(*kind))?;
                let names: Vec<String> = inline_policies(tx, account, *kind, &e.name)?
                    .into_iter()
                    .map(|(n, _)| n)
                    .collect();
                let max = model::max_items(i.max_items)?;
                let start = match &i.marker {
                    None => 0,
                    Some(m) => names
                        .iter()
                        .position(|n| n == m)
                        .ok_or_else(|| IamError::InvalidInput("Invalid Marker.".into()))?,
                };
                let page: Vec<String> = names.iter().skip(start).take(max).cloned().collect();
                let marker = names.get(start + page.len()).cloned();
                Ok(Reply::new(ListOutput {
                    policy_names: page,
                    is_truncated: marker.is_some(),
                    marker,
                }))
            }
            _ => Err(ApiError::internal(
                "read() on a mutating IAM inline policy operation",
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
            Operation::Put(kind, i) => {
                model::validate_name("policyName", &i.policy_name, 128)?;
                let doc = policies::decode_document(&i.policy_document);
                policies::check_document(&doc, policies::DocKind::Identity)?;
                let e = load_entity(tx, account, *kind, i.entity(*kind))?;
                super::service_linked::refuse_protected_entity(tx, account, *kind, &e.name)?;
                let others: usize = inline_policies(tx, account, *kind, &e.name)?
                    .iter()
                    .filter(|(n, _)| n != &i.policy_name)
                    .map(|(_, d)| policies::policy_size(d))
                    .sum();
                if others + policies::policy_size(&doc) > quota(*kind) {
                    return Err(IamError::LimitExceeded(format!(
                        "Maximum policy size of {} bytes exceeded for {} {}",
                        quota(*kind),
                        kind.tag(),
                        e.name
                    ))
                    .into());
                }
                tx.put(
                    &model::inline_key(account, *kind, &e.name, &i.policy_name),
                    doc.as_bytes(),
                )?;
                let mut reply = Reply::empty();
                reply.resources = vec![(resource_type(*kind).into(), e.arn)];
                Ok(reply)
            }
            Operation::Delete(kind, i) => {
                let e = load_entity(tx, account, *kind, i.entity(*kind))?;
                super::service_linked::refuse_protected_entity(tx, account, *kind, &e.name)?;
                let key = model::inline_key(account, *kind, &e.name, &i.policy_name);
                if tx.get(&key)?.is_none() {
                    return Err(not_found(*kind, &i.policy_name));
                }
                tx.delete(&key)?;
                let mut reply = Reply::empty();
                reply.resources = vec![(resource_type(*kind).into(), e.arn)];
                Ok(reply)
            }
            _ => Err(ApiError::internal(
                "write() on a read-only IAM inline policy operation",
            )),
        }
    }
}
