//! The IAM policy simulator: SimulatePrincipalPolicy and SimulateCustomPolicy.
//!
//! Both run the policy engine ([`palisade_policy::evaluate_traced`]) over every
//! (action, resource) pair and report what AWS's simulator reports: the decision, the
//! statements that decided it (with their line/column in the policy text), the context
//! keys the applicable statements needed but the request did not supply, and how the
//! permissions boundary and (cross-account) the resource policy contributed.
//!
//! As in AWS, the simulated request context holds *only* the `ContextEntries` the caller
//! passed: nothing is derived (no `aws:CurrentTime`, `aws:username`, ...). The simulator
//! does not evaluate SCPs or session policies. It never changes state.

use super::{
    camel_json,
    error::IamError,
    model::{self, EntityKind, Membership, Role, User},
};
use crate::{
    authz::AuthzCheck, context::RequestContext, enforce, env::Env, error::ApiError, input::Input,
    Reply,
};
use base64::Engine as _;
use palisade_policy::{
    evaluate_traced, Context, Decision, Effect, Policy, PolicyKind, PolicySet, PolicySource,
    Request, ResourcePolicy, ResourcePolicyType,
};
use palisade_store::ReadTx;
use std::collections::BTreeMap;

#[derive(Debug)]
pub enum Operation {
    SimulatePrincipalPolicy(SimulatePrincipalPolicyInput),
    SimulateCustomPolicy(SimulateCustomPolicyInput),
}

pub fn decode(
    action: &str,
    input: &Input<'_>,
) -> Option<Result<Box<dyn crate::Operation>, ApiError>> {
    let op = match action {
        "SimulatePrincipalPolicy" => input.parse().map(Operation::SimulatePrincipalPolicy),
        "SimulateCustomPolicy" => input.parse().map(Operation::SimulateCustomPolicy),
        _ => return None,
    };
    Some(op.map(|op| Box::new(op) as Box<dyn crate::Operation>))
}

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContextEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_key_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_key_values: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_key_type: Option<String>,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SimulatePrincipalPolicyInput {
    pub policy_source_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_input_list: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions_boundary_policy_input_list: Option<Vec<String>>,
    pub action_names: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_arns: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_entries: Option<Vec<ContextEntry>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_handling_option: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_items: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SimulateCustomPolicyInput {
    pub policy_input_list: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions_boundary_policy_input_list: Option<Vec<String>>,
    pub action_names: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_arns: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_entries: Option<Vec<ContextEntry>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_handling_option: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_items: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
}

// ---- output (botocore `SimulatePolicyResponse`) ------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Position {
    pub line: u32,
    pub column: u32,
}

/// IAM's `Statement` shape: a reference to one statement of one input policy.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StatementRef {
    pub source_policy_id: String,
    pub source_policy_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_position: Option<Position>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_position: Option<Position>,
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PermissionsBoundaryDecisionDetail {
    pub allowed_by_permissions_boundary: bool,
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceSpecificResult {
    pub eval_resource_name: String,
    pub eval_resource_decision: &'static str,
    pub matched_statements: Vec<StatementRef>,
    pub missing_context_values: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eval_decision_details: Option<BTreeMap<String, &'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions_boundary_decision_detail: Option<PermissionsBoundaryDecisionDetail>,
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EvaluationResult {
    pub eval_action_name: String,
    pub eval_resource_name: String,
    pub eval_decision: &'static str,
    pub matched_statements: Vec<StatementRef>,
    pub missing_context_values: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eval_decision_details: Option<BTreeMap<String, &'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions_boundary_decision_detail: Option<PermissionsBoundaryDecisionDetail>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_specific_results: Option<Vec<ResourceSpecificResult>>,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SimulatePolicyResponse {
    pub evaluation_results: Vec<EvaluationResult>,
    pub is_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
}

// ---- the simulation ----------------------------------------------------------------

/// What real IAM reports as `SourcePolicyType` for identity-side policies (inline,
/// managed and input-list alike), rather than the model's enum values.
const IAM_POLICY: &str = "IAM Policy";

/// One policy in the simulation, with where its statements sit in its text.
#[derive(Debug, Clone)]
struct SimPolicy {
    id: String,
    source_type: &'static str,
    policy: Policy,
    positions: Vec<(Position, Position)>,
}

impl SimPolicy {
    fn new(id: String, source_type: &'static str, text: &str, policy: Policy) -> SimPolicy {
        SimPolicy {
            id,
            source_type,
            policy,
            positions: statement_positions(text),
        }
    }

    fn statement_ref(&self, index: usize) -> StatementRef {
        let pos = self.positions.get(index);
        StatementRef {
            source_policy_id: self.id.clone(),
            source_policy_type: self.source_type.to_owned(),
            start_position: pos.map(|p| p.0),
            end_position: pos.map(|p| p.1),
        }
    }
}

/// The members both simulate operations share.
struct Options<'a> {
    action_names: &'a [String],
    resource_arns: Option<&'a [String]>,
    resource_policy: Option<&'a str>,
    resource_owner: Option<&'a str>,
    caller_arn: Option<&'a str>,
    context_entries: &'a [ContextEntry],
    resource_handling_option: Option<&'a str>,
    boundary_inputs: &'a [String],
    max_items: Option<i64>,
    marker: Option<&'a str>,
}

/// Everything evaluated, gathered before the first evaluation.
struct Simulation {
    identity: Vec<SimPolicy>,
    boundary: Option<SimPolicy>,
    resource_policy: Option<SimPolicy>,
    caller: String,
    caller_account: String,
    resource_owner: Option<String>,
    context: Context,
}

fn invalid(msg: impl Into<String>) -> ApiError {
    IamError::InvalidInput(msg.into()).into()
}

fn constraint(field: &str, rule: &str) -> ApiError {
    IamError::Validation(format!(
        "1 validation error detected: Value at '{field}' failed to satisfy constraint: {rule}"
    ))
    .into()
}

/// `policyDocumentType`: 1..=131072 characters of tab, LF, CR and U+0020..U+00FF.
fn check_document(field: &str, text: &str) -> Result<(), ApiError> {
    let len = text.chars().count();
    if len == 0 || len > 131_072 {
        return Err(constraint(
            field,
            "Member must have length less than or equal to 131072",
        ));
    }
    if !text
        .chars()
        .all(|c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{ff}'))
    {
        return Err(constraint(
            field,
            "Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u00FF]+",
        ));
    }
    Ok(())
}

/// Shape checks on the members both operations share, before any state is read.
fn validate_options(o: &Options<'_>) -> Result<(), ApiError> {
    if o.action_names.is_empty() {
        return Err(invalid("ActionNames must contain at least one action."));
    }
    for a in o.action_names {
        let len = a.chars().count();
        if !(3..=128).contains(&len) {
            return Err(constraint(
                "actionNames",
                "Member must have length between 3 and 128",
            ));
        }
    }
    for r in o.resource_arns.unwrap_or_default() {
        let len = r.chars().count();
        if !(1..=2048).contains(&len) {
            return Err(constraint(
                "resourceArns",
                "Member must have length between 1 and 2048",
            ));
        }
    }
    if let Some(rp) = o.resource_policy {
        check_document("resourcePolicy", rp)?;
    }
    for b in o.boundary_inputs {
        check_document("permissionsBoundaryPolicyInputList", b)?;
    }
    if o.boundary_inputs.len() > 1 {
        return Err(invalid(
            "Only one permissions boundary policy may be provided in PermissionsBoundaryPolicyInputList.",
        ));
    }
    if let Some(n) = o.max_items {
        if !(1..=1000).contains(&n) {
            return Err(constraint(
                "maxItems",
                "Member must have value between 1 and 1000",
            ));
        }
    }
    if let Some(opt) = o.resource_handling_option {
        const SCENARIOS: &[&str] = &[
            "EC2-VPC-InstanceStore",
            "EC2-VPC-InstanceStore-Subnet",
            "EC2-VPC-EBS",
            "EC2-VPC-EBS-Subnet",
        ];
        if !SCENARIOS.iter().any(|s| s.eq_ignore_ascii_case(opt)) {
            return Err(invalid(format!("Invalid ResourceHandlingOption: {opt}")));
        }
    }
    if let Some(caller) = o.caller_arn {
        if parse_entity_arn(caller).is_none_or(|(_, kind, _)| kind != EntityKind::User) {
            return Err(invalid(format!(
                "Invalid CallerArn: {caller}. Only IAM user ARNs can be specified as the caller."
            )));
        }
    }
    context_from_entries(o.context_entries)?;
    Ok(())
}

/// The simulated request context: the caller's entries, and nothing else.
fn context_from_entries(entries: &[ContextEntry]) -> Result<Context, ApiError> {
    let mut c = Context::new();
    for e in entries {
        let Some(name) = e.context_key_name.as_deref() else {
            return Err(invalid(
                "ContextKeyName must be specified for each context entry.",
            ));
        };
        let len = name.chars().count();
        if !(5..=256).contains(&len) {
            return Err(constraint(
                "contextEntries.member.contextKeyName",
                "Member must have length between 5 and 256",
            ));
        }
        let values = e.context_key_values.clone().unwrap_or_default();
        if let Some(t) = e.context_key_type.as_deref() {
            check_context_values(name, t, &values)?;
        }
        c.set(name, values);
    }
    Ok(c)
}

/// `ContextKeyType` names the type of every value; a value that is not of that type is
/// invalid input, as in AWS.
fn check_context_values(name: &str, ty: &str, values: &[String]) -> Result<(), ApiError> {
    let base = ty.strip_suffix("List").unwrap_or(ty);
    let ok: fn(&str) -> bool = match base {
        "string" => |_| true,
        "numeric" => |v| v.trim().parse::<f64>().is_ok_and(f64::is_finite),
        "boolean" => |v| v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false"),
        "ip" => |v| {
            let addr = v.split_once('/').map_or(v, |(a, _)| a);
            addr.trim().parse::<std::net::IpAddr>().is_ok()
        },
        "binary" => |v| base64::engine::general_purpose::STANDARD.decode(v).is_ok(),
        "date" => |v| is_date(v),
        _ => {
            return Err(invalid(format!(
                "Invalid ContextKeyType {ty} for context key {name}."
            )))
        }
    };
    if ty != base && ty != format!("{base}List") {
        return Err(invalid(format!(
            "Invalid ContextKeyType {ty} for context key {name}."
        )));
    }
    match values.iter().find(|v| !ok(v)) {
        Some(bad) => Err(invalid(format!(
            "Invalid value {bad} for context key {name} of type {ty}."
        ))),
        None => Ok(()),
    }
}

/// ISO 8601 (date or date-time) or epoch seconds, as `aws:CurrentTime` / `aws:EpochTime`.
fn is_date(v: &str) -> bool {
    let v = v.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return true;
    }
    let date = v.split(['T', 't', ' ']).next().unwrap_or_default();
    let parts: Vec<&str> = date.split('-').collect();
    matches!(parts.as_slice(), [y, m, d]
        if y.len() == 4 && m.len() == 2 && d.len() == 2
            && [y, m, d].iter().all(|p| p.bytes().all(|b| b.is_ascii_digit())))
}

/// `arn:PARTITION:iam::ACCOUNT:(user|group|role)/[path/]NAME` -> (account, kind, name).
fn parse_entity_arn(arn: &str) -> Option<(&str, EntityKind, &str)> {
    let Some([_, _, "iam", "", account, resource]) = palisade_policy::split_arn(arn) else {
        return None;
    };
    let (kind, rest) = resource.split_once('/')?;
    let kind = match kind {
        "user" => EntityKind::User,
        "group" => EntityKind::Group,
        "role" => EntityKind::Role,
        _ => return None,
    };
    let name = rest.rsplit('/').next()?;
    (!name.is_empty() && !account.is_empty()).then_some((account, kind, name))
}

fn parse_input_policies(
    list: &[String],
    field: &str,
    label: &str,
    kind: PolicyKind,
) -> Result<Vec<SimPolicy>, ApiError> {
    let mut out = Vec::with_capacity(list.len());
    for (i, text) in list.iter().enumerate() {
        check_document(field, text)?;
        let id = format!("{label}.{}", i + 1);
        let policy = parse_given(text, &id, kind)?;
        out.push(SimPolicy::new(id, IAM_POLICY, text, policy));
    }
    Ok(out)
}

/// A policy the caller passed in (PolicyInputList, PermissionsBoundaryPolicyInputList,
/// ResourcePolicy); one the engine refuses is InvalidInput in IAM's words, never the
/// parser's (which name serde's types and positions).
fn parse_given(text: &str, id: &str, kind: PolicyKind) -> Result<Policy, ApiError> {
    Policy::parse(text, kind).map_err(|e| {
        invalid(format!(
            "Invalid policy document {id}: {}",
            super::policies::aws_message(&e, text)
        ))
    })
}

/// A stored policy that no longer parses: AWS's PolicyEvaluation error.
fn evaluation_error(id: &str, e: &palisade_policy::ParseError) -> ApiError {
    tracing::warn!(policy = %id, error = %e, "stored policy does not parse in the simulator");
    IamError::PolicyEvaluation(format!(
        "The request failed because of an error evaluating policy {id}."
    ))
    .into()
}

/// Identity policies of one user, group or role, as the simulator names them:
/// `user_NAME_POLICY` for inline policies, the policy name for managed ones.
fn entity_policies(
    tx: &dyn ReadTx,
    account: &str,
    kind: EntityKind,
    name: &str,
    out: &mut Vec<SimPolicy>,
) -> Result<(), ApiError> {
    for doc in enforce::entity_policy_documents(tx, account, kind, name)? {
        let id = if doc.arn.is_empty() {
            format!("{}_{}_{}", kind.tag(), name, doc.id)
        } else {
            doc.id.clone()
        };
        let policy = Policy::parse(&doc.document, PolicyKind::Identity)
            .map_err(|e| evaluation_error(&id, &e))?;
        out.push(SimPolicy::new(id, IAM_POLICY, &doc.document, policy));
    }
    Ok(())
}

fn boundary_policy(
    tx: &dyn ReadTx,
    account: &str,
    arn: &str,
) -> Result<Option<SimPolicy>, ApiError> {
    let Some(doc) = enforce::managed_policy_document(tx, account, arn)? else {
        return Ok(None);
    };
    let policy = Policy::parse(&doc.document, PolicyKind::PermissionsBoundary)
        .map_err(|e| evaluation_error(&doc.id, &e))?;
    Ok(Some(SimPolicy::new(
        doc.id.clone(),
        IAM_POLICY,
        &doc.document,
        policy,
    )))
}

fn not_found(kind: EntityKind, name: &str) -> ApiError {
    IamError::NoSuchEntity(format!(
        "The {} with name {name} cannot be found.",
        kind.tag()
    ))
    .into()
}

/// The policies of the entity `source_arn` names (a user's include its groups').
fn principal_policies(
    tx: &dyn ReadTx,
    ctx: &RequestContext,
    source_arn: &str,
) -> Result<(Vec<SimPolicy>, Option<SimPolicy>, EntityKind, String), ApiError> {
    let Some((account, kind, name)) = parse_entity_arn(source_arn) else {
        return Err(invalid(format!(
            "Invalid Entity Arn: {source_arn} does not clearly define entity type and name."
        )));
    };
    let caller_account = ctx.principal.account_id.as_str();
    if account != caller_account {
        return Err(invalid(format!(
            "Invalid Policy Source Arn: caller's account {caller_account} does not have access to policies in account {account}"
        )));
    }
    let mut identity = Vec::new();
    let mut boundary = None;
    let entity_name;
    match kind {
        EntityKind::User => {
            let user = model::get::<User>(tx, &model::entity_key(account, "user", name))?
                .ok_or_else(|| not_found(kind, name))?;
            entity_policies(tx, account, kind, &user.user_name, &mut identity)?;
            for (_, raw) in model::scan_all(tx, &model::user_groups_prefix(account, name))? {
                let Ok(m) = serde_json::from_slice::<Membership>(&raw) else {
                    continue;
                };
                entity_policies(tx, account, EntityKind::Group, &m.group_name, &mut identity)?;
            }
            if let Some(b) = &user.permissions_boundary {
                boundary = boundary_policy(tx, account, &b.permissions_boundary_arn)?;
            }
            entity_name = user.user_name;
        }
        EntityKind::Group => {
            let group = model::get::<model::Group>(tx, &model::entity_key(account, "group", name))?
                .ok_or_else(|| not_found(kind, name))?;
            entity_policies(tx, account, kind, &group.group_name, &mut identity)?;
            entity_name = group.group_name;
        }
        EntityKind::Role => {
            let role = model::get::<Role>(tx, &model::entity_key(account, "role", name))?
                .ok_or_else(|| not_found(kind, name))?;
            entity_policies(tx, account, kind, &role.role_name, &mut identity)?;
            if let Some(b) = &role.permissions_boundary {
                boundary = boundary_policy(tx, account, &b.permissions_boundary_arn)?;
            }
            entity_name = role.role_name;
        }
    }
    Ok((identity, boundary, kind, entity_name))
}

/// Builds the simulation around the identity policies and the (attached) boundary.
fn build(
    ctx: &RequestContext,
    o: &Options<'_>,
    identity: Vec<SimPolicy>,
    attached_boundary: Option<SimPolicy>,
    default_caller: Option<String>,
) -> Result<Simulation, ApiError> {
    let boundary = match parse_input_policies(
        o.boundary_inputs,
        "permissionsBoundaryPolicyInputList",
        "PermissionsBoundaryPolicyInputList",
        PolicyKind::PermissionsBoundary,
    )?
    .pop()
    {
        Some(b) => Some(b),
        None => attached_boundary,
    };
    let resource_policy = match o.resource_policy {
        Some(text) => {
            let policy = parse_given(text, "ResourcePolicy", PolicyKind::Resource)?;
            Some(SimPolicy::new(
                "ResourcePolicy".to_owned(),
                "resource",
                text,
                policy,
            ))
        }
        None => None,
    };
    let account = ctx.principal.account_id.clone();
    let caller = match (o.caller_arn, default_caller) {
        (Some(c), _) => c.to_owned(),
        (None, Some(c)) => c,
        (None, None) if resource_policy.is_some() => {
            return Err(invalid(
                "CallerArn must be specified when a ResourcePolicy is included and the policy source is not an IAM user.",
            ))
        }
        // No Principal element to match: any IAM user of the account stands in.
        (None, None) => format!("arn:aws:iam::{account}:user/"),
    };
    let caller_account = parse_entity_arn(&caller)
        .map(|(a, _, _)| a.to_owned())
        .unwrap_or(account);
    let resource_owner = o.resource_owner.map(|r| {
        // An account id, or an ARN naming the account (`arn:aws:iam::ACCOUNT:root`).
        r.split(':')
            .nth(4)
            .filter(|a| !a.is_empty())
            .unwrap_or(r)
            .to_owned()
    });
    Ok(Simulation {
        identity,
        boundary,
        resource_policy,
        caller,
        caller_account,
        resource_owner,
        context: context_from_entries(o.context_entries)?,
    })
}

/// The account owning `resource`: its ARN's account field, else `ResourceOwner`, else the
/// caller's.
fn resource_account(sim: &Simulation, resource: &str) -> String {
    resource
        .split(':')
        .nth(4)
        .filter(|a| !a.is_empty() && resource.starts_with("arn:"))
        .map(str::to_owned)
        .or_else(|| sim.resource_owner.clone())
        .unwrap_or_else(|| sim.caller_account.clone())
}

/// The outcome of one (action, resource) pair.
struct PairResult {
    decision: Decision,
    matched: Vec<StatementRef>,
    missing: Vec<String>,
    boundary: Option<PermissionsBoundaryDecisionDetail>,
    cross_account: Option<BTreeMap<String, &'static str>>,
}

fn evaluate_pair(sim: &Simulation, action: &str, resource: &str) -> PairResult {
    let policies: Vec<Policy> = sim.identity.iter().map(|p| p.policy.clone()).collect();
    let owner = resource_account(sim, resource);
    let request = Request {
        principal: &sim.caller,
        principal_account: Some(&sim.caller_account),
        action,
        resource,
        resource_account: Some(&owner),
        context: &sim.context,
    };
    let set = PolicySet {
        identity: &policies,
        resource: sim.resource_policy.as_ref().map(|p| ResourcePolicy {
            policy: &p.policy,
            kind: ResourcePolicyType::Standard,
        }),
        permissions_boundary: sim.boundary.as_ref().map(|b| &b.policy),
        session: &[],
        scps: &[],
        rcps: &[],
    };
    let ev = evaluate_traced(&request, &set);
    let policy_of = |source: PolicySource| -> Option<&SimPolicy> {
        match source {
            PolicySource::Identity(i) => sim.identity.get(i),
            PolicySource::PermissionsBoundary => sim.boundary.as_ref(),
            PolicySource::Resource => sim.resource_policy.as_ref(),
            _ => None,
        }
    };
    // AWS lists the statements that decided: the denying ones for an explicit deny, the
    // allowing ones for an allow, none for an implicit deny.
    let deciding = match ev.decision {
        Decision::ExplicitDeny => Some(Effect::Deny),
        Decision::Allowed => Some(Effect::Allow),
        Decision::ImplicitDeny => None,
    };
    let matched = ev
        .matched
        .iter()
        .filter(|m| Some(m.effect) == deciding)
        .filter_map(|m| policy_of(m.source).map(|p| p.statement_ref(m.statement)))
        .collect();
    // Keys used by every statement that applied or applied but for its conditions.
    let mut missing: Vec<String> = Vec::new();
    let applicable = ev.matched.iter().map(|m| (m.source, m.statement)).chain(
        ev.condition_failures
            .iter()
            .map(|f| (f.source, f.statement)),
    );
    for (source, index) in applicable {
        let Some(st) = policy_of(source).and_then(|p| p.policy.statements().get(index)) else {
            continue;
        };
        for c in st.conditions() {
            let key = c.key();
            if sim.context.get(key).is_none()
                && !missing.iter().any(|k| k.eq_ignore_ascii_case(key))
            {
                missing.push(key.to_owned());
            }
        }
    }
    let boundary = sim.boundary.as_ref().map(|_| {
        let from_boundary = || {
            ev.matched
                .iter()
                .filter(|m| m.source == PolicySource::PermissionsBoundary)
        };
        PermissionsBoundaryDecisionDetail {
            allowed_by_permissions_boundary: from_boundary().any(|m| m.effect == Effect::Allow)
                && !from_boundary().any(|m| m.effect == Effect::Deny),
        }
    });
    let cross_account = (owner != sim.caller_account).then(|| {
        let side = |pred: &dyn Fn(PolicySource) -> bool| -> &'static str {
            let from = || ev.matched.iter().filter(|m| pred(m.source));
            if from().any(|m| m.effect == Effect::Deny) {
                Decision::ExplicitDeny.as_str()
            } else if from().any(|m| m.effect == Effect::Allow) {
                Decision::Allowed.as_str()
            } else {
                Decision::ImplicitDeny.as_str()
            }
        };
        let mut details = BTreeMap::new();
        details.insert(
            "IAM Policy".to_owned(),
            side(&|s| matches!(s, PolicySource::Identity(_))),
        );
        if sim.resource_policy.is_some() {
            details.insert(
                "Resource Policy".to_owned(),
                side(&|s| s == PolicySource::Resource),
            );
        }
        details
    });
    PairResult {
        decision: ev.decision,
        matched,
        missing,
        boundary,
        cross_account,
    }
}

fn run(sim: &Simulation, o: &Options<'_>) -> Result<SimulatePolicyResponse, ApiError> {
    let all_resources = ["*".to_owned()];
    let resources = match o.resource_arns {
        Some(r) if !r.is_empty() => r,
        _ => &all_resources[..],
    };
    let total = o.action_names.len().saturating_mul(resources.len());
    let start = match o.marker {
        Some(m) => decode_marker(m)
            .filter(|s| *s < total)
            .ok_or_else(|| invalid("Invalid Marker."))?,
        None => 0,
    };
    let max = o
        .max_items
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(100);
    let mut results = Vec::new();
    let mut next = None;
    for (i, (action, resource)) in o
        .action_names
        .iter()
        .flat_map(|a| resources.iter().map(move |r| (a, r)))
        .enumerate()
        .skip(start)
    {
        if results.len() == max {
            next = Some(encode_marker(i));
            break;
        }
        let r = evaluate_pair(sim, action, resource);
        let decision = r.decision.as_str();
        let result = if resource == "*" {
            EvaluationResult {
                eval_action_name: action.clone(),
                eval_resource_name: resource.clone(),
                eval_decision: decision,
                matched_statements: r.matched,
                missing_context_values: r.missing,
                eval_decision_details: r.cross_account,
                permissions_boundary_decision_detail: r.boundary,
                resource_specific_results: None,
            }
        } else {
            // With resources named, AWS reports missing keys per resource and always
            // returns (an empty unless cross-account) EvalDecisionDetails.
            EvaluationResult {
                eval_action_name: action.clone(),
                eval_resource_name: resource.clone(),
                eval_decision: decision,
                matched_statements: r.matched.clone(),
                missing_context_values: Vec::new(),
                eval_decision_details: Some(r.cross_account.clone().unwrap_or_default()),
                permissions_boundary_decision_detail: r.boundary.clone(),
                resource_specific_results: Some(vec![ResourceSpecificResult {
                    eval_resource_name: resource.clone(),
                    eval_resource_decision: decision,
                    matched_statements: r.matched,
                    missing_context_values: r.missing,
                    eval_decision_details: r.cross_account,
                    permissions_boundary_decision_detail: r.boundary,
                }]),
            }
        };
        results.push(result);
    }
    Ok(SimulatePolicyResponse {
        evaluation_results: results,
        is_truncated: next.is_some(),
        marker: next,
    })
}

fn encode_marker(index: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("sim:{index}"))
}

fn decode_marker(marker: &str) -> Option<usize> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(marker)
        .ok()?;
    std::str::from_utf8(&raw)
        .ok()?
        .strip_prefix("sim:")?
        .parse()
        .ok()
}

impl SimulatePrincipalPolicyInput {
    fn options(&self) -> Options<'_> {
        Options {
            action_names: &self.action_names,
            resource_arns: self.resource_arns.as_deref(),
            resource_policy: self.resource_policy.as_deref(),
            resource_owner: self.resource_owner.as_deref(),
            caller_arn: self.caller_arn.as_deref(),
            context_entries: self.context_entries.as_deref().unwrap_or_default(),
            resource_handling_option: self.resource_handling_option.as_deref(),
            boundary_inputs: self
                .permissions_boundary_policy_input_list
                .as_deref()
                .unwrap_or_default(),
            max_items: self.max_items,
            marker: self.marker.as_deref(),
        }
    }
}

impl SimulateCustomPolicyInput {
    fn options(&self) -> Options<'_> {
        Options {
            action_names: &self.action_names,
            resource_arns: self.resource_arns.as_deref(),
            resource_policy: self.resource_policy.as_deref(),
            resource_owner: self.resource_owner.as_deref(),
            caller_arn: self.caller_arn.as_deref(),
            context_entries: self.context_entries.as_deref().unwrap_or_default(),
            resource_handling_option: self.resource_handling_option.as_deref(),
            boundary_inputs: self
                .permissions_boundary_policy_input_list
                .as_deref()
                .unwrap_or_default(),
            max_items: self.max_items,
            marker: self.marker.as_deref(),
        }
    }
}

pub fn simulate_principal_policy(
    tx: &dyn ReadTx,
    ctx: &RequestContext,
    input: &SimulatePrincipalPolicyInput,
) -> Result<SimulatePolicyResponse, ApiError> {
    let o = input.options();
    validate_options(&o)?;
    let extra = parse_input_policies(
        input.policy_input_list.as_deref().unwrap_or_default(),
        "policyInputList",
        "PolicyInputList",
        PolicyKind::Identity,
    )?;
    let (mut identity, boundary, kind, _) = principal_policies(tx, ctx, &input.policy_source_arn)?;
    identity.extend(extra);
    // The caller defaults to the source when it is a user.
    let default_caller = (kind == EntityKind::User).then(|| input.policy_source_arn.clone());
    let sim = build(ctx, &o, identity, boundary, default_caller)?;
    run(&sim, &o)
}

pub fn simulate_custom_policy(
    ctx: &RequestContext,
    input: &SimulateCustomPolicyInput,
) -> Result<SimulatePolicyResponse, ApiError> {
    let o = input.options();
    validate_options(&o)?;
    if input.policy_input_list.is_empty() {
        return Err(invalid("PolicyInputList must contain at least one policy."));
    }
    let identity = parse_input_policies(
        &input.policy_input_list,
        "policyInputList",
        "PolicyInputList",
        PolicyKind::Identity,
    )?;
    let sim = build(ctx, &o, identity, None, None)?;
    run(&sim, &o)
}

impl crate::Operation for Operation {
    fn name(&self) -> &'static str {
        match self {
            Operation::SimulatePrincipalPolicy(_) => "SimulatePrincipalPolicy",
            Operation::SimulateCustomPolicy(_) => "SimulateCustomPolicy",
        }
    }

    fn read_only(&self) -> bool {
        true
    }

    fn authz(&self, _ctx: &RequestContext) -> Vec<AuthzCheck> {
        match self {
            Operation::SimulatePrincipalPolicy(i) => vec![AuthzCheck::new(
                "iam:SimulatePrincipalPolicy",
                i.policy_source_arn.clone(),
            )],
            Operation::SimulateCustomPolicy(_) => {
                vec![AuthzCheck::new("iam:SimulateCustomPolicy", "*")]
            }
        }
    }

    fn request_parameters(&self) -> Option<serde_json::Value> {
        match self {
            Operation::SimulatePrincipalPolicy(i) => camel_json(i),
            Operation::SimulateCustomPolicy(i) => camel_json(i),
        }
    }

    fn read(&self, tx: &dyn ReadTx, _env: &Env, ctx: &RequestContext) -> Result<Reply, ApiError> {
        let out = match self {
            Operation::SimulatePrincipalPolicy(i) => simulate_principal_policy(tx, ctx, i)?,
            Operation::SimulateCustomPolicy(i) => simulate_custom_policy(ctx, i)?,
        };
        Ok(Reply::new(out))
    }
}

// ---- statement positions -----------------------------------------------------------

/// Where each statement of a policy document sits, as IAM's simulator reports it: 1-based
/// line and column of the point just after the token that opens the statement (the `[`
/// or the previous statement's `}` in a `Statement` array, the statement's own `{` when
/// `Statement` is one object) and just after the statement's closing `}`.
///
/// Verified against AWS's published outputs: `{"Version":"2012-10-17","Statement":{..}}`
/// reports Line 1 Column 38 (just after the `{` at column 37), and AWS managed
/// AdministratorAccess (`  "Statement": [` on line 3, `    }` on line 8) reports
/// (3, 17) - (8, 6).
pub fn statement_positions(text: &str) -> Vec<(Position, Position)> {
    let mut s = Scanner::new(text);
    s.positions().unwrap_or_default()
}

struct Scanner {
    chars: Vec<char>,
    at: usize,
    line: u32,
    column: u32,
}

impl Scanner {
    fn new(text: &str) -> Scanner {
        Scanner {
            chars: text.chars().collect(),
            at: 0,
            line: 1,
            column: 1,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += 1;
        match c {
            '\n' => {
                self.line += 1;
                self.column = 1;
            }
            // CR LF is one line break (counted at the LF); a lone CR is one too.
            '\r' if self.peek() != Some('\n') => {
                self.line += 1;
                self.column = 1;
            }
            '\r' => {}
            _ => self.column += 1,
        }
        Some(c)
    }

    fn here(&self) -> Position {
        Position {
            line: self.line,
            column: self.column,
        }
    }

    fn ws(&mut self) {
        while self.peek().is_some_and(|c| c.is_whitespace()) {
            self.bump();
        }
    }

    fn expect(&mut self, c: char) -> Option<()> {
        self.ws();
        (self.bump()? == c).then_some(())
    }

    fn string(&mut self) -> Option<String> {
        self.expect('"')?;
        let mut out = String::new();
        loop {
            match self.bump()? {
                '"' => return Some(out),
                '\\' => {
                    let e = self.bump()?;
                    out.push(e);
                }
                c => out.push(c),
            }
        }
    }

    /// Skips one value; `None` when the text ends first.
    fn value(&mut self) -> Option<()> {
        self.ws();
        match self.peek()? {
            '"' => self.string().map(|_| ()),
            '{' => {
                self.bump();
                self.object_rest()
            }
            '[' => {
                self.bump();
                loop {
                    self.ws();
                    match self.peek()? {
                        ']' => {
                            self.bump();
                            return Some(());
                        }
                        ',' => {
                            self.bump();
                        }
                        _ => self.value()?,
                    }
                }
            }
            _ => {
                while self
                    .peek()
                    .is_some_and(|c| !matches!(c, ',' | '}' | ']') && !c.is_whitespace())
                {
                    self.bump();
                }
                Some(())
            }
        }
    }

    /// The rest of an object whose `{` was read.
    fn object_rest(&mut self) -> Option<()> {
        loop {
            self.ws();
            match self.peek()? {
                '}' => {
                    self.bump();
                    return Some(());
                }
                ',' => {
                    self.bump();
                }
                _ => {
                    self.string()?;
                    self.expect(':')?;
                    self.value()?;
                }
            }
        }
    }

    fn positions(&mut self) -> Option<Vec<(Position, Position)>> {
        self.expect('{')?;
        loop {
            self.ws();
            match self.peek()? {
                '}' => return Some(Vec::new()),
                ',' => {
                    self.bump();
                    continue;
                }
                _ => {}
            }
            let key = self.string()?;
            self.expect(':')?;
            if key != "Statement" {
                self.value()?;
                continue;
            }
            self.ws();
            let mut out = Vec::new();
            match self.peek()? {
                '{' => {
                    self.bump();
                    let start = self.here();
                    self.object_rest()?;
                    out.push((start, self.here()));
                }
                '[' => {
                    self.bump();
                    let mut start = self.here();
                    loop {
                        self.ws();
                        match self.peek()? {
                            ']' => break,
                            ',' => {
                                self.bump();
                            }
                            '{' => {
                                self.bump();
                                self.object_rest()?;
                                let end = self.here();
                                out.push((start, end));
                                start = end;
                            }
                            _ => self.value()?,
                        }
                    }
                }
                _ => {}
            }
            return Some(out);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn pos(line: u32, column: u32) -> Position {
        Position { line, column }
    }

    #[test]
    fn positions_match_aws_examples() {
        // aws iam simulate-custom-policy example (AWS CLI docs): Line 1, 38 .. 167.
        let one = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2018-08-16T12:00:00Z"}}}}"#;
        assert_eq!(statement_positions(one), vec![(pos(1, 38), pos(1, 167))]);
        // AdministratorAccess as AWS stores it: (3, 17) .. (8, 6).
        let admin = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\n      \"Effect\": \"Allow\",\n      \"Action\": \"*\",\n      \"Resource\": \"*\"\n    }\n  ]\n}";
        assert_eq!(statement_positions(admin), vec![(pos(3, 17), pos(8, 6))]);
        // Python json.dumps separators: `[` at column 40.
        let dumped = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}, {"Effect": "Deny", "Action": "s3:*", "Resource": "*"}]}"#;
        let p = statement_positions(dumped);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].0, pos(1, 41));
        assert_eq!(p[1].0, p[0].1);
        assert_eq!(dumped.chars().nth(p[1].1.column as usize - 2), Some('}'));
    }

    #[test]
    fn positions_survive_strings_crlf_and_garbage() {
        let text = "{\r\n \"Statement\": [ {\"Sid\": \"a}]\\\"\", \"Effect\": \"Allow\"}\r\n ] }";
        assert_eq!(statement_positions(text), vec![(pos(2, 16), pos(2, 52))]);
        assert!(statement_positions("not json").is_empty());
        assert!(statement_positions("{\"Statement\": [{").is_empty());
        assert!(statement_positions("").is_empty());
    }

    #[test]
    fn entity_arns() {
        let cases = [
            (
                "arn:aws:iam::123456789012:user/alex",
                Some(EntityKind::User),
                "alex",
            ),
            (
                "arn:aws:iam::123456789012:user/a/b/alex",
                Some(EntityKind::User),
                "alex",
            ),
            (
                "arn:aws:iam::123456789012:group/Devs",
                Some(EntityKind::Group),
                "Devs",
            ),
            (
                "arn:aws:iam::123456789012:role/svc/r",
                Some(EntityKind::Role),
                "r",
            ),
            ("arn:aws:sts::123456789012:assumed-role/r/s", None, ""),
            ("arn:aws:iam::123456789012:root", None, ""),
            ("arn:aws:iam::123456789012:user/", None, ""),
            ("nonsense", None, ""),
        ];
        for (arn, kind, name) in cases {
            let got = parse_entity_arn(arn);
            assert_eq!(got.map(|g| g.1), kind, "{arn}");
            if let Some(g) = got {
                assert_eq!(g.2, name);
            }
        }
    }

    #[test]
    fn context_types() {
        let e = |t: &str, v: &[&str]| ContextEntry {
            context_key_name: Some("aws:Test".into()),
            context_key_values: Some(v.iter().map(|s| (*s).to_owned()).collect()),
            context_key_type: Some(t.into()),
        };
        let ok = [
            e("boolean", &["true"]),
            e("numeric", &["3.5"]),
            e("ip", &["10.0.0.1"]),
            e("ipList", &["10.0.0.0/8", "::1"]),
            e("date", &["2026-01-01T00:00:00Z"]),
            e("date", &["2026-01-01T00:00:00.123456"]),
            e("date", &["1700000000"]),
            e("binary", &["aGk="]),
            e("stringList", &["a", "b"]),
        ];
        for entry in ok {
            assert!(
                context_from_entries(std::slice::from_ref(&entry)).is_ok(),
                "{entry:?}"
            );
        }
        let bad = [
            e("boolean", &["yes"]),
            e("numeric", &["x"]),
            e("ip", &["300.1.1.1"]),
            e("date", &["tomorrow"]),
            e("float", &["1"]),
            e("stringLists", &["1"]),
        ];
        for entry in bad {
            assert!(
                context_from_entries(std::slice::from_ref(&entry)).is_err(),
                "{entry:?}"
            );
        }
    }

    #[test]
    fn markers_round_trip() {
        assert_eq!(decode_marker(&encode_marker(42)), Some(42));
        assert_eq!(decode_marker("garbage"), None);
    }
}
