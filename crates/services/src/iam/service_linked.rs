//! Service-linked roles: CreateServiceLinkedRole, DeleteServiceLinkedRole and
//! GetServiceLinkedRoleDeletionStatus.
//!
//! A service-linked role lives under `/aws-service-role/<service principal>/`, trusts only
//! its service, and holds the service's AWS managed policy (path `/aws-service-role/`,
//! which nothing else may hold: PolicyNotAttachable). Only the service changes it: IAM's
//! own role operations refuse it as a protected role ([`refuse_protected`]), except its
//! description and tags. Organizations creates AWSServiceRoleForOrganizations itself
//! ([`ensure`]).

use super::{
    camel_json,
    error::IamError,
    model::{self, Role},
    roles::{self, CreateRoleInput},
};
use crate::{
    authz::AuthzCheck, context::RequestContext, env::Env, error::ApiError, input::Input, Reply,
};
use palisade_store::{ReadTx, WriteTx};

/// The services whose service-linked role Palisade knows: (service principal, role name,
/// the role's AWS managed policy, whether CustomSuffix is accepted). Facts from each
/// service's "Using service-linked roles" page; a service not listed is refused.
const SERVICES: &[(&str, &str, &str, bool)] = &[
    (
        "access-analyzer.amazonaws.com",
        "AWSServiceRoleForAccessAnalyzer",
        "AccessAnalyzerServiceRolePolicy",
        false,
    ),
    (
        "autoscaling.amazonaws.com",
        "AWSServiceRoleForAutoScaling",
        "AutoScalingServiceRolePolicy",
        true,
    ),
    (
        "backup.amazonaws.com",
        "AWSServiceRoleForBackup",
        "AWSBackupServiceLinkedRolePolicyForBackup",
        false,
    ),
    (
        "cloudtrail.amazonaws.com",
        "AWSServiceRoleForCloudTrail",
        "CloudTrailServiceRolePolicy",
        false,
    ),
    (
        "compute-optimizer.amazonaws.com",
        "AWSServiceRoleForComputeOptimizer",
        "ComputeOptimizerServiceRolePolicy",
        false,
    ),
    (
        "config.amazonaws.com",
        "AWSServiceRoleForConfig",
        "AWSConfigServiceRolePolicy",
        false,
    ),
    (
        "detective.amazonaws.com",
        "AWSServiceRoleForDetective",
        "AmazonDetectiveServiceLinkedRolePolicy",
        false,
    ),
    (
        "ecs.amazonaws.com",
        "AWSServiceRoleForECS",
        "AmazonECSServiceRolePolicy",
        false,
    ),
    (
        "eks.amazonaws.com",
        "AWSServiceRoleForAmazonEKS",
        "AmazonEKSServiceRolePolicy",
        false,
    ),
    (
        "elasticloadbalancing.amazonaws.com",
        "AWSServiceRoleForElasticLoadBalancing",
        "AWSElasticLoadBalancingServiceRolePolicy",
        false,
    ),
    (
        "guardduty.amazonaws.com",
        "AWSServiceRoleForAmazonGuardDuty",
        "AmazonGuardDutyServiceRolePolicy",
        false,
    ),
    (
        "inspector2.amazonaws.com",
        "AWSServiceRoleForAmazonInspector2",
        "AmazonInspector2ServiceRolePolicy",
        false,
    ),
    (
        "macie.amazonaws.com",
        "AWSServiceRoleForAmazonMacie",
        "AmazonMacieServiceRolePolicy",
        false,
    ),
    (
        "organizations.amazonaws.com",
        "AWSServiceRoleForOrganizations",
        "AWSOrganizationsServiceTrustPolicy",
        false,
    ),
    (
        "rds.amazonaws.com",
        "AWSServiceRoleForRDS",
        "AmazonRDSServiceRolePolicy",
        false,
    ),
    (
        "securityhub.amazonaws.com",
        "AWSServiceRoleForSecurityHub",
        "AWSSecurityHubServiceRolePolicy",
        false,
    ),
    (
        "spot.amazonaws.com",
        "AWSServiceRoleForEC2Spot",
        "AWSEC2SpotServiceRolePolicy",
        false,
    ),
    (
        "ssm.amazonaws.com",
        "AWSServiceRoleForAmazonSSM",
        "AmazonSSMServiceRolePolicy",
        false,
    ),
    (
        "sso.amazonaws.com",
        "AWSServiceRoleForSSO",
        "AWSSSOServiceRolePolicy",
        false,
    ),
    (
        "support.amazonaws.com",
        "AWSServiceRoleForSupport",
        "AWSSupportServiceRolePolicy",
        false,
    ),
    (
        "trustedadvisor.amazonaws.com",
        "AWSServiceRoleForTrustedAdvisor",
        "AWSTrustedAdvisorServiceRolePolicy",
        false,
    ),
];

/// Organizations' service-linked role.
const ORGANIZATIONS_ROLE: &str = "AWSServiceRoleForOrganizations";

/// The path every service-linked role of `service` has.
fn path_of(service: &str) -> String {
    format!("/aws-service-role/{service}/")
}

/// Whether a role is service-linked (its path says so; CreateRole cannot make one).
pub fn is_service_linked(role: &Role) -> bool {
    role.path.starts_with("/aws-service-role/")
}

/// IAM's answer to a change of a service-linked role made by anyone but its service.
pub fn refuse_protected(role: &Role) -> Result<(), ApiError> {
    if is_service_linked(role) {
        return Err(IamError::UnmodifiableEntity(format!(
            "Cannot perform the operation on the protected role '{}' - this role is only modifiable by AWS",
            role.role_name
        ))
        .into());
    }
    Ok(())
}

/// [`refuse_protected`] for a user, group or role named in an attach or inline-policy call
/// (only roles can be service-linked; a missing one is left to the call's own error).
pub fn refuse_protected_entity(
    tx: &dyn ReadTx,
    account: &str,
    kind: model::EntityKind,
    name: &str,
) -> Result<(), ApiError> {
    if kind != model::EntityKind::Role {
        return Ok(());
    }
    match model::get::<Role>(tx, &model::entity_key(account, roles::TABLE, name))? {
        Some(role) => refuse_protected(&role),
        None => Ok(()),
    }
}

fn service(
    name: &str,
) -> Result<&'static (&'static str, &'static str, &'static str, bool), ApiError> {
    SERVICES.iter().find(|s| s.0 == name).ok_or_else(|| {
        // AWS's wording for a service without service-linked roles is not documented.
        IamError::InvalidInput(format!(
            "Service name {name} does not support service-linked roles in Palisade."
        ))
        .into()
    })
}

fn role_name(
    entry: &(&str, &'static str, &str, bool),
    suffix: Option<&str>,
) -> Result<String, ApiError> {
    match suffix {
        None => Ok(entry.1.to_owned()),
        Some(s) if entry.3 => Ok(format!("{}_{s}", entry.1)),
        Some(_) => Err(IamError::InvalidInput(format!(
            "Custom suffix is not allowed for {}",
            entry.0
        ))
        .into()),
    }
}

/// Creates the service-linked role of `service` (with `suffix`), with its trust policy and
/// managed policy. InvalidInput when a role of that name exists, in AWS's words.
fn create(
    tx: &mut dyn WriteTx,
    ctx: &RequestContext,
    service_name: &str,
    description: Option<&str>,
    suffix: Option<&str>,
) -> Result<Role, ApiError> {
    let account = &ctx.principal.account_id;
    let entry = service(service_name)?;
    let name = role_name(entry, suffix)?;
    if tx
        .get(&model::entity_key(account, roles::TABLE, &name))?
        .is_some()
    {
        return Err(IamError::InvalidInput(format!(
            "Service role name {name} has been taken in this account, please try a different suffix."
        ))
        .into());
    }
    let trust = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": service_name},
            "Action": "sts:AssumeRole",
        }],
    });
    let role = roles::create_role(
        tx,
        ctx,
        &CreateRoleInput {
            role_name: name.clone(),
            assume_role_policy_document: trust.to_string(),
            path: Some(path_of(service_name)),
            description: description.map(str::to_owned),
            max_session_duration: None,
            permissions_boundary: None,
            tags: None,
        },
    )?;
    let policy = format!("arn:aws:iam::aws:policy/aws-service-role/{}", entry.2);
    super::attach::attach(tx, account, model::EntityKind::Role, &name, &policy)?;
    Ok(role)
}

/// Creates `service`'s service-linked role in the caller's account unless it exists (what
/// Organizations does when an account joins an organization with all features).
pub fn ensure(tx: &mut dyn WriteTx, ctx: &RequestContext, service: &str) -> Result<(), ApiError> {
    let entry = self::service(service)?;
    let account = &ctx.principal.account_id;
    let key = model::entity_key(account, roles::TABLE, entry.1);
    if tx.get(&key)?.is_none() {
        let role = create(tx, ctx, service, None, None)?;
        let arn = role.arn.clone();
        let response_elements = camel_json(&roles::RoleOutput {
            role: roles::wire(role),
        });
        // AWS logs the role's creation as the service's own CreateServiceLinkedRole call
        // for the caller (userIdentity.invokedBy the service), recorded as the direct call
        // is.
        let input = CreateInput {
            aws_service_name: service.to_owned(),
            description: None,
            custom_suffix: None,
        };
        ctx.invoked.push(crate::context::InvokedCall {
            invoked_by: service.to_owned(),
            event_source: "iam.amazonaws.com",
            event_name: "CreateServiceLinkedRole",
            region: "us-east-1".to_owned(),
            request_parameters: camel_json(&input).unwrap_or_default(),
            resources: vec![("AWS::IAM::Role".to_owned(), arn)],
            resource_account: account.clone(),
            error: None,
            read_only: false,
            response_elements,
        });
    }
    Ok(())
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
pub struct CreateInput {
    #[serde(rename = "AWSServiceName")]
    pub aws_service_name: String,
    #[serde(
        rename = "Description",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<String>,
    #[serde(
        rename = "CustomSuffix",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub custom_suffix: Option<String>,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeletionTaskInput {
    pub deletion_task_id: String,
}

/// A deletion task as GetServiceLinkedRoleDeletionStatus answers it.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TaskOutcome {
    status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<TaskReason>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TaskReason {
    reason: String,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct DeleteOutput {
    deletion_task_id: String,
}

#[derive(Debug)]
pub enum Operation {
    CreateServiceLinkedRole(CreateInput),
    DeleteServiceLinkedRole(roles::RoleNameInput),
    GetServiceLinkedRoleDeletionStatus(DeletionTaskInput),
}

pub fn decode(
    action: &str,
    input: &Input<'_>,
) -> Option<Result<Box<dyn crate::Operation>, ApiError>> {
    let op = match action {
        "CreateServiceLinkedRole" => input.parse().map(Operation::CreateServiceLinkedRole),
        "DeleteServiceLinkedRole" => input.parse().map(Operation::DeleteServiceLinkedRole),
        "GetServiceLinkedRoleDeletionStatus" => input
            .parse()
            .map(Operation::GetServiceLinkedRoleDeletionStatus),
        _ => return None,
    };
    Some(op.map(|op| Box::new(op) as Box<dyn crate::Operation>))
}

/// A deletion task id: `task/aws-service-role/<service>/<role name>/<uuid>`.
fn task_key(account: &str, task: &str) -> Vec<u8> {
    model::entity_key(account, "slrtask", task)
}

impl crate::Operation for Operation {
    fn name(&self) -> &'static str {
        match self {
            Operation::CreateServiceLinkedRole(_) => "CreateServiceLinkedRole",
            Operation::DeleteServiceLinkedRole(_) => "DeleteServiceLinkedRole",
            Operation::GetServiceLinkedRoleDeletionStatus(_) => {
                "GetServiceLinkedRoleDeletionStatus"
            }
        }
    }

    fn read_only(&self) -> bool {
        matches!(self, Operation::GetServiceLinkedRoleDeletionStatus(_))
    }

    fn authz(&self, ctx: &RequestContext) -> Vec<AuthzCheck> {
        let account = ctx.principal.account_id.as_str();
        match self {
            Operation::CreateServiceLinkedRole(i) => {
                // The role as it will be named (a service Palisade does not know is
                // refused after authorization, when the name cannot be known).
                let name = SERVICES.iter().find(|s| s.0 == i.aws_service_name).map_or(
                    "*".to_owned(),
                    |s| match &i.custom_suffix {
                        Some(x) => format!("{}_{x}", s.1),
                        None => s.1.to_owned(),
                    },
                );
                let arn = format!(
                    "arn:aws:iam::{account}:role{}{name}",
                    path_of(&i.aws_service_name)
                );
                let mut c = AuthzCheck::new("iam:CreateServiceLinkedRole", arn).naming_new();
                c.context.push((
                    "iam:AWSServiceName".to_owned(),
                    vec![i.aws_service_name.clone()],
                ));
                vec![c]
            }
            Operation::DeleteServiceLinkedRole(i) => vec![AuthzCheck::new(
                "iam:DeleteServiceLinkedRole",
                super::resource_arn(account, "role", None, &i.role_name),
            )],
            Operation::GetServiceLinkedRoleDeletionStatus(i) => {
                // The task names its role: `task/aws-service-role/<service>/<name>/<id>`.
                let role = i
                    .deletion_task_id
                    .strip_prefix("task/")
                    .and_then(|t| t.rsplit_once('/'))
                    .map(|(role, _)| format!("arn:aws:iam::{account}:role/{role}"))
                    .unwrap_or_else(|| "*".to_owned());
                vec![AuthzCheck::new(
                    "iam:GetServiceLinkedRoleDeletionStatus",
                    role,
                )]
            }
        }
    }

    fn request_parameters(&self) -> Option<serde_json::Value> {
        match self {
            Operation::CreateServiceLinkedRole(i) => camel_json(i),
            Operation::DeleteServiceLinkedRole(i) => camel_json(i),
            Operation::GetServiceLinkedRoleDeletionStatus(i) => camel_json(i),
        }
    }

    fn read(&self, tx: &dyn ReadTx, _env: &Env, ctx: &RequestContext) -> Result<Reply, ApiError> {
        let Operation::GetServiceLinkedRoleDeletionStatus(i) = self else {
            return Err(ApiError::internal(
                "read() on a mutating service-linked role operation",
            ));
        };
        // As the deletion left it.
        let outcome = model::get::<TaskOutcome>(
            tx,
            &task_key(&ctx.principal.account_id, &i.deletion_task_id),
        )?
        .ok_or_else(|| {
            IamError::NoSuchEntity(format!(
                "Deletion task {} does not exist.",
                i.deletion_task_id
            ))
        })?;
        Ok(Reply::new(outcome))
    }

    fn write(
        &self,
        tx: &mut dyn WriteTx,
        _env: &Env,
        ctx: &RequestContext,
    ) -> Result<Reply, ApiError> {
        let account = &ctx.principal.account_id;
        match self {
            Operation::CreateServiceLinkedRole(i) => {
                let role = create(
                    tx,
                    ctx,
                    &i.aws_service_name,
                    i.description.as_deref(),
                    i.custom_suffix.as_deref(),
                )?;
                let arn = role.arn.clone();
                let out = roles::RoleOutput {
                    role: roles::wire(role),
                };
                let elements = camel_json(&out);
                let mut reply = Reply::new(out);
                reply.response_elements = elements;
                reply.resources = vec![("AWS::IAM::Role".into(), arn)];
                Ok(reply)
            }
            Operation::DeleteServiceLinkedRole(i) => {
                let role = roles::load(tx, account, &i.role_name)?;
                if !is_service_linked(&role) {
                    return Err(IamError::InvalidInput(format!(
                        "Role {} is not a service-linked role.",
                        role.role_name
                    ))
                    .into());
                }
                let task = format!(
                    "task{}{}/{}",
                    role.path,
                    role.role_name,
                    uuid::Uuid::new_v4()
                );
                // The task fails, and the role stays, while something still needs it: the
                // organization (all features need AWSServiceRoleForOrganizations in every
                // account), or an instance profile holding it.
                let in_use = if role.role_name == ORGANIZATIONS_ROLE
                    && crate::organizations::in_all_features_org(tx, account)?
                {
                    Some("The account belongs to an organization with all features enabled, which needs this role.")
                } else if !model::scan_all(
                    tx,
                    &model::role_instance_profiles_prefix(account, &role.role_name),
                )?
                .is_empty()
                {
                    Some("The role is in an instance profile.")
                } else {
                    None
                };
                let outcome = match in_use {
                    Some(reason) => TaskOutcome {
                        status: "FAILED".into(),
                        reason: Some(TaskReason {
                            reason: reason.into(),
                        }),
                    },
                    None => {
                        let kind = model::EntityKind::Role;
                        for p in
                            super::attach::attached_policies(tx, account, kind, &role.role_name)?
                        {
                            super::attach::detach(
                                tx,
                                account,
                                kind,
                                &role.role_name,
                                &p.policy_arn,
                            )?;
                        }
                        model::delete_prefix(
                            tx,
                            &model::inline_prefix(account, kind, &role.role_name),
                        )?;
                        roles::delete_role(tx, account, &role.role_name)?;
                        TaskOutcome {
                            status: "SUCCEEDED".into(),
                            reason: None,
                        }
                    }
                };
                model::put(tx, &task_key(account, &task), &outcome)?;
                let mut reply = Reply::new(DeleteOutput {
                    deletion_task_id: task,
                });
                reply.resources = vec![("AWS::IAM::Role".into(), role.arn)];
                Ok(reply)
            }
            Operation::GetServiceLinkedRoleDeletionStatus(_) => Err(ApiError::internal(
                "write() on a read-only service-linked role operation",
            )),
        }
    }
}
