//! Tags on users, roles, customer managed policies, instance profiles, OIDC and SAML
//! providers and virtual MFA devices: Tag/Untag/List{User,Role,Policy,InstanceProfile,
//! OpenIDConnectProvider,SAMLProvider,MFADevice}Tags.
//!
//! Tags live in each record's `Tags` member; these operations edit that member in place,
//! whatever the record's type. Keys compare without regard to case, as in IAM.

use super::{camel_json, error::IamError, model, model::Tag, policies, resource_arn};
use crate::{
    authz::AuthzCheck, context::RequestContext, env::Env, error::ApiError, input::Input, Reply,
};
use palisade_store::{ReadTx, WriteTx};

/// The taggable IAM resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taggable {
    User,
    Role,
    Policy,
    InstanceProfile,
    OpenIdConnectProvider,
    SamlProvider,
    MfaDevice,
}

impl Taggable {
    fn noun(self) -> &'static str {
        match self {
            Taggable::User => "User",
            Taggable::Role => "Role",
            Taggable::Policy => "Policy",
            Taggable::InstanceProfile => "InstanceProfile",
            Taggable::OpenIdConnectProvider => "OpenIDConnectProvider",
            Taggable::SamlProvider => "SAMLProvider",
            Taggable::MfaDevice => "MFADevice",
        }
    }
}

#[derive(Debug)]
pub enum Operation {
    Tag(Taggable, TagInput),
    Untag(Taggable, UntagInput),
    List(Taggable, ListTagsInput),
}

/// The resource member of each kind (`UserName`, `RoleName`, `PolicyArn`,
/// `InstanceProfileName`): only the one of the operation's kind is set.
#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Target {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_profile_name: Option<String>,
    #[serde(
        rename = "OpenIDConnectProviderArn",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub open_id_connect_provider_arn: Option<String>,
    #[serde(
        rename = "SAMLProviderArn",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub saml_provider_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
}

impl Target {
    fn get(&self, kind: Taggable) -> Option<&str> {
        match kind {
            Taggable::User => self.user_name.as_deref(),
            Taggable::Role => self.role_name.as_deref(),
            Taggable::Policy => self.policy_arn.as_deref(),
            Taggable::InstanceProfile => self.instance_profile_name.as_deref(),
            Taggable::OpenIdConnectProvider => self.open_id_connect_provider_arn.as_deref(),
            Taggable::SamlProvider => self.saml_provider_arn.as_deref(),
            Taggable::MfaDevice => self.serial_number.as_deref(),
        }
    }
}

// Each input repeats the resource members instead of `#[serde(flatten)]`-ing a `Target`:
// flattening buffers the members without their types, and the awsQuery decoder then
// cannot read `Tags.member.N` as a list.
#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_profile_name: Option<String>,
    #[serde(
        rename = "OpenIDConnectProviderArn",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub open_id_connect_provider_arn: Option<String>,
    #[serde(
        rename = "SAMLProviderArn",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub saml_provider_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    pub tags: Vec<Tag>,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_profile_name: Option<String>,
    #[serde(
        rename = "OpenIDConnectProviderArn",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub open_id_connect_provider_arn: Option<String>,
    #[serde(
        rename = "SAMLProviderArn",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub saml_provider_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    pub tag_keys: Vec<String>,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_profile_name: Option<String>,
    #[serde(
        rename = "OpenIDConnectProviderArn",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub open_id_connect_provider_arn: Option<String>,
    #[serde(
        rename = "SAMLProviderArn",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub saml_provider_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_items: Option<i64>,
}

macro_rules! target_of {
    ($($t:ty),*) => {$(
        impl $t {
            fn target(&self) -> Target {
                Target {
                    user_name: self.user_name.clone(),
                    role_name: self.role_name.clone(),
                    policy_arn: self.policy_arn.clone(),
                    instance_profile_name: self.instance_profile_name.clone(),
                    open_id_connect_provider_arn: self.open_id_connect_provider_arn.clone(),
                    saml_provider_arn: self.saml_provider_arn.clone(),
                    serial_number: self.serial_number.clone(),
                }
            }
        }
    )*};
}
target_of!(TagInput, UntagInput, ListTagsInput);

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsOutput {
    pub tags: Vec<Tag>,
    pub is_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
}

/// Condition keys of a request that sets tags.
pub fn request_tag_context(tags: &[Tag]) -> Vec<(String, Vec<String>)> {
    crate::authz::request_tags(tags.iter().map(|t| (t.key.as_str(), t.value.as_str())))
}

pub fn decode(
    action: &str,
    input: &Input<'_>,
) -> Option<Result<Box<dyn crate::Operation>, ApiError>> {
    use Taggable::*;
    let (verb, kind) = match action {
        "TagUser" => ("Tag", User),
        "UntagUser" => ("Untag", User),
        "ListUserTags" => ("List", User),
        "TagRole" => ("Tag", Role),
        "UntagRole" => ("Untag", Role),
        "ListRoleTags" => ("List", Role),
        "TagPolicy" => ("Tag", Policy),
        "UntagPolicy" => ("Untag", Policy),
        "ListPolicyTags" => ("List", Policy),
        "TagInstanceProfile" => ("Tag", InstanceProfile),
        "UntagInstanceProfile" => ("Untag", InstanceProfile),
        "ListInstanceProfileTags" => ("List", InstanceProfile),
        "TagOpenIDConnectProvider" => ("Tag", OpenIdConnectProvider),
        "UntagOpenIDConnectProvider" => ("Untag", OpenIdConnectProvider),
        "ListOpenIDConnectProviderTags" => ("List", OpenIdConnectProvider),
        "TagSAMLProvider" => ("Tag", SamlProvider),
        "UntagSAMLProvider" => ("Untag", SamlProvider),
        "ListSAMLProviderTags" => ("List", SamlProvider),
        "TagMFADevice" => ("Tag", MfaDevice),
        "UntagMFADevice" => ("Untag", MfaDevice),
        "ListMFADeviceTags" => ("List", MfaDevice),
        _ => return None,
    };
    let op = match verb {
        "Tag" => input
            .parse::<TagInput>()
            .and_then(|i| require(kind, &i.target()).map(|_| Operation::Tag(kind, i))),
        "Untag" => input
            .parse::<UntagInput>()
            .and_then(|i| require(kind, &i.target()).map(|_| i))
            .and_then(|i| {
                match crate::input::untag_keys_violation(
                    &i.tag_keys,
                    Some("[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+"),
                ) {
                    Some(message) => Err(ApiError::new("ValidationError", 400, message)),
                    None => Ok(Operation::Untag(kind, i)),
                }
            }),
        _ => input
            .parse::<ListTagsInput>()
            .and_then(|i| require(kind, &i.target()).map(|_| Operation::List(kind, i))),
    };
    Some(op.map(|op| Box::new(op) as Box<dyn crate::Operation>))
}

fn member(kind: Taggable) -> &'static str {
    match kind {
        Taggable::User => "userName",
        Taggable::Role => "roleName",
        Taggable::Policy => "policyArn",
        Taggable::InstanceProfile => "instanceProfileName",
        Taggable::OpenIdConnectProvider => "openIDConnectProviderArn",
        Taggable::SamlProvider => "sAMLProviderArn",
        Taggable::MfaDevice => "serialNumber",
    }
}

fn require(kind: Taggable, t: &Target) -> Result<(), ApiError> {
    match t.get(kind) {
        Some(_) => Ok(()),
        None => Err(ApiError::new(
            "ValidationError",
            400,
            format!(
                "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                member(kind)
            ),
        )),
    }
}

/// The record key of a taggable resource, and its NoSuchEntity error.
fn locate(account: &str, kind: Taggable, id: &str) -> Result<(Vec<u8>, ApiError), ApiError> {
    Ok(match kind {
        Taggable::User => (
            model::entity_key(account, "user", id),
            IamError::NoSuchEntity(format!("The user with name {id} cannot be found.")).into(),
        ),
        Taggable::Role => (
            model::entity_key(account, "role", id),
            IamError::NoSuchEntity(format!("The role with name {id} cannot be found.")).into(),
        ),
        Taggable::InstanceProfile => (
            model::entity_key(account, "instanceprofile", id),
            IamError::NoSuchEntity(format!("Instance Profile {id} cannot be found.")).into(),
        ),
        // Providers and devices are stored under their ARN (a device's serial number is
        // its ARN), with the NoSuchEntity wording of their own Get operations.
        Taggable::OpenIdConnectProvider => (
            model::provider_key(account, "oidc", id),
            IamError::NoSuchEntity(format!("OpenIDConnect Provider not found for arn {id}")).into(),
        ),
        Taggable::SamlProvider => (
            model::provider_key(account, "saml", id),
            IamError::NoSuchEntity(format!("SAMLProvider not found for arn {id}")).into(),
        ),
        Taggable::MfaDevice => (
            model::virtual_mfa_key(account, id),
            IamError::NoSuchEntity(format!(
                "VirtualMFADevice with serial number {id} doesn't exist."
            ))
            .into(),
        ),
        Taggable::Policy => {
            let (acct, _, name) = policies::validate_policy_arn(id)?;
            let missing: ApiError =
                IamError::NoSuchEntity(format!("The policy with ARN {id} cannot be found.")).into();
            if acct != account {
                return Err(missing);
            }
            (model::entity_key(account, policies::TABLE, name), missing)
        }
    })
}

fn load(
    tx: &dyn ReadTx,
    account: &str,
    kind: Taggable,
    id: &str,
) -> Result<(Vec<u8>, serde_json::Map<String, serde_json::Value>), ApiError> {
    let (key, missing) = locate(account, kind, id)?;
    let record = model::get::<serde_json::Map<String, serde_json::Value>>(tx, &key)?
        .ok_or(missing.clone())?;
    if kind == Taggable::Policy && record.get("Arn").and_then(|a| a.as_str()) != Some(id) {
        return Err(missing);
    }
    Ok((key, record))
}

fn tags_of(record: &serde_json::Map<String, serde_json::Value>) -> Vec<Tag> {
    record
        .get("Tags")
        .and_then(|t| serde_json::from_value(t.clone()).ok())
        .unwrap_or_default()
}

fn set_tags(record: &mut serde_json::Map<String, serde_json::Value>, tags: &[Tag]) {
    if tags.is_empty() {
        record.remove("Tags");
    } else if let Ok(v) = serde_json::to_value(tags) {
        record.insert("Tags".into(), v);
    }
}

fn arn_of(record: &serde_json::Map<String, serde_json::Value>) -> String {
    record
        .get("Arn")
        .or_else(|| record.get("SerialNumber"))
        .and_then(|a| a.as_str())
        .unwrap_or_default()
        .to_owned()
}

fn cloudtrail_type(kind: Taggable) -> &'static str {
    match kind {
        Taggable::User => "AWS::IAM::User",
        Taggable::Role => "AWS::IAM::Role",
        Taggable::Policy => "AWS::IAM::Policy",
        Taggable::InstanceProfile => "AWS::IAM::InstanceProfile",
        Taggable::OpenIdConnectProvider => "AWS::IAM::OIDCProvider",
        Taggable::SamlProvider => "AWS::IAM::SAMLProvider",
        Taggable::MfaDevice => "AWS::IAM::VirtualMFADevice",
    }
}

impl crate::Operation for Operation {
    fn name(&self) -> &'static str {
        use Taggable::*;
        match self {
            Operation::Tag(User, _) => "TagUser",
            Operation::Untag(User, _) => "UntagUser",
            Operation::List(User, _) => "ListUserTags",
            Operation::Tag(Role, _) => "TagRole",
            Operation::Untag(Role, _) => "UntagRole",
            Operation::List(Role, _) => "ListRoleTags",
            Operation::Tag(Policy, _) => "TagPolicy",
            Operation::Untag(Policy, _) => "UntagPolicy",
            Operation::List(Policy, _) => "ListPolicyTags",
            Operation::Tag(InstanceProfile, _) => "TagInstanceProfile",
            Operation::Untag(InstanceProfile, _) => "UntagInstanceProfile",
            Operation::List(InstanceProfile, _) => "ListInstanceProfileTags",
            Operation::Tag(OpenIdConnectProvider, _) => "TagOpenIDConnectProvider",
            Operation::Untag(OpenIdConnectProvider, _) => "UntagOpenIDConnectProvider",
            Operation::List(OpenIdConnectProvider, _) => "ListOpenIDConnectProviderTags",
            Operation::Tag(SamlProvider, _) => "TagSAMLProvider",
            Operation::Untag(SamlProvider, _) => "UntagSAMLProvider",
            Operation::List(SamlProvider, _) => "ListSAMLProviderTags",
            Operation::Tag(MfaDevice, _) => "TagMFADevice",
            Operation::Untag(MfaDevice, _) => "UntagMFADevice",
            Operation::List(MfaDevice, _) => "ListMFADeviceTags",
        }
    }

    fn read_only(&self) -> bool {
        matches!(self, Operation::List(..))
    }

    fn authz(&self, ctx: &RequestContext) -> Vec<AuthzCheck> {
        let account = ctx.principal.account_id.as_str();
        let arn = |kind: Taggable, t: &Target| {
            let id = t.get(kind).unwrap_or_default();
            match kind {
                Taggable::User => resource_arn(account, "user", None, id),
                Taggable::Role => resource_arn(account, "role", None, id),
                Taggable::InstanceProfile => resource_arn(account, "instance-profile", None, id),
                Taggable::Policy
                | Taggable::OpenIdConnectProvider
                | Taggable::SamlProvider
                | Taggable::MfaDevice => id.to_owned(),
            }
        };
        match self {
            Operation::Tag(k, i) => {
                let mut c = AuthzCheck::new(format!("iam:Tag{}", k.noun()), arn(*k, &i.target()));
                c.context = request_tag_context(&i.tags);
                vec![c]
            }
            Operation::Untag(k, i) => {
                let mut c = AuthzCheck::new(format!("iam:Untag{}", k.noun()), arn(*k, &i.target()));
                c.context
                    .push(("aws:TagKeys".to_owned(), i.tag_keys.clone()));
                vec![c]
            }
            Operation::List(k, i) => vec![AuthzCheck::new(
                format!("iam:List{}Tags", k.noun()),
                arn(*k, &i.target()),
            )],
        }
    }

    fn request_parameters(&self) -> Option<serde_json::Value> {
        match self {
            Operation::Tag(_, i) => camel_json(i),
            Operation::Untag(_, i) => camel_json(i),
            Operation::List(_, i) => camel_json(i),
        }
    }

    fn read(&self, tx: &dyn ReadTx, _env: &Env, ctx: &RequestContext) -> Result<Reply, ApiError> {
        let account = &ctx.principal.account_id;
        let Operation::List(kind, i) = self else {
            return Err(ApiError::internal("read() on a mutating IAM tag operation"));
        };
        let (_, record) = load(
            tx,
            account,
            *kind,
            i.target().get(*kind).unwrap_or_default(),
        )?;
        let tags = tags_of(&record);
        let max = match i.max_items {
            None => 100,
            Some(n) if (1..=1000).contains(&n) => usize::try_from(n).unwrap_or(100),
            Some(_) => {
                return Err(IamError::Validation(
                    "1 validation error detected: Value at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000".into(),
                )
                .into())
            }
        };
        let start = match &i.marker {
            None => 0,
            Some(m) => m
                .parse::<usize>()
                .map_err(|_| IamError::InvalidInput("Invalid Marker.".into()))?,
        };
        let page: Vec<Tag> = tags.iter().skip(start).take(max).cloned().collect();
        let next = start + page.len();
        let marker = (next < tags.len()).then(|| next.to_string());
        Ok(Reply::new(ListTagsOutput {
            tags: page,
            is_truncated: marker.is_some(),
            marker,
        }))
    }

    fn write(
        &self,
        tx: &mut dyn WriteTx,
        _env: &Env,
        ctx: &RequestContext,
    ) -> Result<Reply, ApiError> {
        let account = &ctx.principal.account_id;
        let (kind, key, record) = match self {
            Operation::Tag(kind, i) => {
                model::validate_tags(&i.tags)?;
                let (key, mut record) = load(
                    tx,
                    account,
                    *kind,
                    i.target().get(*kind).unwrap_or_default(),
                )?;
                let mut tags = tags_of(&record);
                for t in &i.tags {
                    match tags.iter_mut().find(|x| x.key.eq_ignore_ascii_case(&t.key)) {
                        Some(x) => *x = t.clone(),
                        None => tags.push(t.clone()),
                    }
                }
                if tags.len() > 50 {
                    return Err(IamError::LimitExceeded(
                        "The number of tags has reached the maximum limit.".into(),
                    )
                    .into());
                }
                set_tags(&mut record, &tags);
                (*kind, key, record)
            }
            Operation::Untag(kind, i) => {
                let (key, mut record) = load(
                    tx,
                    account,
                    *kind,
                    i.target().get(*kind).unwrap_or_default(),
                )?;
                let mut tags = tags_of(&record);
                tags.retain(|t| !i.tag_keys.iter().any(|k| k.eq_ignore_ascii_case(&t.key)));
                set_tags(&mut record, &tags);
                (*kind, key, record)
            }
            Operation::List(..) => {
                return Err(ApiError::internal(
                    "write() on a read-only IAM tag operation",
                ))
            }
        };
        model::put(tx, &key, &record)?;
        let mut reply = Reply::empty();
        reply.resources = vec![(cloudtrail_type(kind).into(), arn_of(&record))];
        Ok(reply)
    }
}
