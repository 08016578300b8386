//! The policy-engine authorizer: gathers every policy that applies to a caller (user,
//! groups, role, boundary, session) and to the resource (role trust policies, later key,
//! secret and bucket policies), builds the request context, and asks
//! [`palisade_policy::evaluate`].
//!
//! Compiled policies are cached per credential (access key id). Every committed IAM
//! change bumps [`PolicyAuthorizer::invalidate`]'s generation, so a change is effective on
//! the very next request; entries of an older generation are rebuilt on use.

use crate::{
    authz::{Authorizer, AuthzCheck, AuthzDecision},
    context::{Principal, PrincipalKind, RequestContext},
    error::ApiError,
    iam::model::{self, EntityKind, ManagedPolicy, PolicyVersion, Role},
};
use palisade_policy::{
    evaluate, Context, Policy, PolicyKind, PolicySet, Request, ResourcePolicy, ResourcePolicyType,
};
use palisade_store::{ReadTx, Store};
use parking_lot::RwLock;
use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
};

/// The policies of one caller, compiled.
struct PrincipalPolicies {
    generation: u64,
    identity: Vec<Policy>,
    boundary: Option<Policy>,
    session: Vec<Policy>,
    /// aws:PrincipalTag/* values (role or user tags, overridden by session tags).
    tags: Vec<(String, String)>,
    /// The user or role the credentials were issued to is gone: deleted, or deleted and
    /// created again under the same name (another unique id). On AWS credentials belong to
    /// the unique id, so they have no permissions left, not the new principal's.
    orphaned: bool,
    /// The user's ARN now, when it moved to another path after the credentials were
    /// issued (a GetSessionToken session keeps the old one): policies name the user by its
    /// current ARN (`iam::principals`), and so does evaluation.
    moved_to: Option<String>,
}

pub struct PolicyAuthorizer {
    store: Arc<dyn Store>,
    generation: AtomicU64,
    principals: RwLock<HashMap<String, Arc<PrincipalPolicies>>>,
    /// AWS managed policies never change: compiled once.
    aws_managed: RwLock<HashMap<String, Policy>>,
    /// The root user's implicit full permissions in its own account.
    root: Vec<Policy>,
    /// Organization policies and facts per account (same generation rule).
    orgs: RwLock<HashMap<String, Arc<AccountOrg>>>,
    /// IAM entity ARNs named without their path -> the real ARN (`None`: as named), with
    /// the generation they were read in (IAM writes bump it, so renames and deletions are
    /// seen on the next request).
    iam_arns: RwLock<HashMap<String, (u64, Option<String>)>>,
    /// Condition keys of IAM entities by ARN ([`crate::iam::model::entity_facts`]), with
    /// the generation they were read in.
    iam_facts: RwLock<HashMap<String, (u64, Facts)>>,
    /// Resource policies compiled, by document text (`None`: it does not parse).
    resource_policies: RwLock<HashMap<String, Option<Policy>>>,
}

/// Condition keys a resource brings to a request (its tags and attributes).
type Facts = Vec<(String, Vec<String>)>;

/// What AWS Organizations imposes on one account, compiled.
struct AccountOrg {
    generation: u64,
    /// SCP levels, organization root first; empty when none apply (no organization, SCPs
    /// not enabled, or the management account).
    scps: Vec<Vec<Policy>>,
    /// RCP levels for resources of this account; empty when none apply.
    rcps: Vec<Vec<Policy>>,
    facts: Option<crate::organizations::OrgFacts>,
}

impl PolicyAuthorizer {
    pub fn new(store: Arc<dyn Store>) -> Self {
        PolicyAuthorizer {
            store,
            generation: AtomicU64::new(1),
            principals: RwLock::new(HashMap::new()),
            aws_managed: RwLock::new(HashMap::new()),
            root: Policy::parse(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
                PolicyKind::Identity,
            )
            .into_iter()
            .collect(),
            orgs: RwLock::new(HashMap::new()),
            iam_arns: RwLock::new(HashMap::new()),
            iam_facts: RwLock::new(HashMap::new()),
            resource_policies: RwLock::new(HashMap::new()),
        }
    }

    /// The organization's view of `account`, from cache or the store.
    fn org_of(&self, account: &str) -> Result<Arc<AccountOrg>, ApiError> {
        let generation = self.generation.load(Ordering::Acquire);
        if let Some(o) = self.orgs.read().get(account) {
            if o.generation == generation {
                return Ok(o.clone());
            }
        }
        let built = Arc::new(self.snapshot(|tx| build_org(tx, account, generation))?);
        let mut map = self.orgs.write();
        if map.len() > 100_000 {
            map.clear();
        }
        map.insert(account.to_owned(), built.clone());
        Ok(built)
    }

    fn policies_for(&self, principal: &Principal) -> Result<Arc<PrincipalPolicies>, ApiError> {
        let generation = self.generation.load(Ordering::Acquire);
        if let Some(p) = self.principals.read().get(&principal.access_key_id) {
            if p.generation == generation {
                return Ok(p.clone());
            }
        }
        let built = Arc::new(self.snapshot(|tx| self.build(tx, principal, generation))?);
        let mut map = self.principals.write();
        if map.len() > 100_000 {
            map.clear();
        }
        map.insert(principal.access_key_id.clone(), built.clone());
        Ok(built)
    }

    fn build(
        &self,
        tx: &dyn ReadTx,
        principal: &Principal,
        generation: u64,
    ) -> Result<PrincipalPolicies, ApiError> {
        let account = principal.account_id.as_str();
        let mut out = PrincipalPolicies {
            generation,
            identity: Vec::new(),
            boundary: None,
            session: Vec::new(),
            tags: Vec::new(),
            orphaned: false,
            moved_to: None,
        };
        let session = principal.session.as_deref();
        match principal.kind {
            PrincipalKind::Root => {}
            // Federation tokens issued by the root user: root's permissions, cut down
            // by the session policies below.
            PrincipalKind::FederatedUser if session.is_some_and(|s| s.issuer_type == "Root") => {
                out.identity.clone_from(&self.root);
            }
            PrincipalKind::IAMUser | PrincipalKind::FederatedUser => {
                // Federated users carry the issuing user's permissions, cut down by
                // their session policies.
                let user_name = match (principal.kind, session) {
                    (PrincipalKind::FederatedUser, Some(s)) => s.issuer_name.as_str(),
                    _ => principal.user_name.as_str(),
                };
                // The unique id the credentials were issued to: the session's issuer, or
                // the user of a long-term key.
                let issued_to =
                    session.map_or(principal.principal_id.as_str(), |s| s.issuer_id.as_str());
                // Found by the name it had then, or renamed since, by what it became.
                let user = crate::iam::users::current(tx, account, user_name, issued_to)?;
                out.orphaned = user.is_none();
                if let Some(user) = user {
                    if principal.kind == PrincipalKind::IAMUser && user.arn != principal.arn {
                        out.moved_to = Some(user.arn.clone());
                    }
                    let user_name = user.user_name.as_str();
                    self.entity_policies(
                        tx,
                        account,
                        EntityKind::User,
                        user_name,
                        &mut out.identity,
                    )?;
                    for (key, _) in
                        model::scan_all(tx, &model::user_groups_prefix(account, user_name))?
                    {
                        if let Some(group) = last_key_part(&key) {
                            self.entity_policies(
                                tx,
                                account,
                                EntityKind::Group,
                                &group,
                                &mut out.identity,
                            )?;
                        }
                    }
                    if principal.kind == PrincipalKind::IAMUser {
                        if let Some(p) = self_service_password_policy(tx, account, &principal.arn)?
                        {
                            out.identity.push(p);
                        }
                    }
                    self.boundary_and_tags(
                        tx,
                        account,
                        user.permissions_boundary.as_ref(),
                        &user.tags,
                        &mut out,
                    )?;
                }
            }
            PrincipalKind::AssumedRole => {
                out.orphaned = true;
                if let Some(s) = session {
                    if let Some(role) =
                        model::get::<Role>(tx, &model::entity_key(account, "role", &s.issuer_name))?
                            .filter(|r| r.role_id == s.issuer_id)
                    {
                        out.orphaned = false;
                        self.entity_policies(
                            tx,
                            account,
                            EntityKind::Role,
                            &s.issuer_name,
                            &mut out.identity,
                        )?;
                        self.boundary_and_tags(
                            tx,
                            account,
                            role.permissions_boundary.as_ref(),
                            &role.tags,
                            &mut out,
                        )?;
                    }
                }
            }
        }
        if let Some(s) = session {
            for doc in &s.policies {
                match Policy::parse(doc, PolicyKind::Session) {
                    Ok(p) => out.session.push(p),
                    Err(e) => tracing::warn!(error = %e, "stored session policy does not parse"),
                }
            }
            for (k, v) in &s.tags {
                out.tags.retain(|(key, _)| !key.eq_ignore_ascii_case(k));
                out.tags.push((k.clone(), v.clone()));
            }
        }
        Ok(out)
    }

    /// The permissions boundary and tags of the calling user or role.
    fn boundary_and_tags(
        &self,
        tx: &dyn ReadTx,
        account: &str,
        boundary: Option<&model::AttachedPermissionsBoundary>,
        tags: &[model::Tag],
        out: &mut PrincipalPolicies,
    ) -> Result<(), ApiError> {
        if let Some(b) = boundary {
            out.boundary = self.managed(
                tx,
                account,
                &b.permissions_boundary_arn,
                PolicyKind::PermissionsBoundary,
            )?;
        }
        out.tags = tags
            .iter()
            .map(|t| (t.key.clone(), t.value.clone()))
            .collect();
        Ok(())
    }

    /// Inline and attached policies of one user, group or role.
    fn entity_policies(
        &self,
        tx: &dyn ReadTx,
        account: &str,
        kind: EntityKind,
        name: &str,
        out: &mut Vec<Policy>,
    ) -> Result<(), ApiError> {
        for doc in entity_policy_documents(tx, account, kind, name)? {
            let compiled = if doc.source_type == "aws-managed" {
                self.managed(tx, account, &doc.arn, PolicyKind::Identity)?
            } else {
                match Policy::parse(&doc.document, PolicyKind::Identity) {
                    Ok(p) => Some(p),
                    Err(e) => {
                        tracing::warn!(error = %e, policy = %doc.id, "stored policy does not parse");
                        None
                    }
                }
            };
            out.extend(compiled);
        }
        Ok(())
    }

    /// The default version of a managed policy (customer or AWS managed), compiled.
    fn managed(
        &self,
        tx: &dyn ReadTx,
        account: &str,
        arn: &str,
        kind: PolicyKind,
    ) -> Result<Option<Policy>, ApiError> {
        if arn.starts_with("arn:aws:iam::aws:policy/") {
            let cache_key = format!("{kind:?}|{arn}");
            if let Some(p) = self.aws_managed.read().get(&cache_key) {
                return Ok(Some(p.clone()));
            }
            let Some(mp) = palisade_iam_data::managed_policy_by_arn(arn) else {
                return Ok(None);
            };
            let parsed = Policy::parse(mp.document, kind).ok();
            if let Some(p) = &parsed {
                self.aws_managed.write().insert(cache_key, p.clone());
            }
            return Ok(parsed);
        }
        Ok(managed_policy_document(tx, account, arn)?
            .and_then(|doc| Policy::parse(&doc.document, kind).ok()))
    }

    /// The resource's own policy, when it has one that matters for `check`.
    fn resource_policy(
        &self,
        check: &AuthzCheck,
    ) -> Result<Option<(Policy, ResourcePolicyType)>, ApiError> {
        let action = check.action.to_ascii_lowercase();
        let resource = check.resource.as_str();
        if action.starts_with("sts:assumerole")
            || action == "sts:tagsession"
            || action == "sts:setsourceidentity"
        {
            let Some((account, name)) = role_from_arn(resource) else {
                return Ok(None);
            };
            return self.stored_policy(ResourcePolicyType::RoleTrust, |tx| {
                Ok(
                    model::get::<Role>(tx, &model::entity_key(account, "role", name))?
                        .map(|role| decode_if_url_encoded(&role.assume_role_policy_document)),
                )
            });
        }
        if action.starts_with("secretsmanager:") && resource.starts_with("arn:aws:secretsmanager:")
        {
            return self.stored_policy(ResourcePolicyType::Standard, |tx| {
                crate::secrets::secret_policy_for_arn(tx, resource)
            });
        }
        if action.starts_with("kms:") && resource.starts_with("arn:aws:kms:") {
            if action == "kms:retiregrant" {
                // "The kms:RetireGrant permission is not effective in a key policy" (AWS
                // KMS guide): the grant and IAM policies decide.
                return Ok(None);
            }
            if !check.resolve && resource.contains(":alias/") {
                // The alias itself (alias operations): IAM policies alone control it.
                return Ok(None);
            }
            return self.stored_policy(ResourcePolicyType::KmsKey, |tx| {
                crate::kms::key_policy_for_arn(tx, resource)
            });
        }
        Ok(None)
    }

    /// Whether a KMS grant on the check's key gives the caller this operation, with the
    /// request's encryption context.
    fn grant_allows(&self, check: &AuthzCheck, p: &Principal) -> Result<bool, ApiError> {
        let context: std::collections::BTreeMap<String, String> = check
            .context
            .iter()
            .filter_map(|(k, v)| {
                let key = k.strip_prefix("kms:EncryptionContext:")?;
                Some((key.to_owned(), v.first()?.clone()))
            })
            .collect();
        self.snapshot(|tx| {
            crate::kms::grants_allow(tx, &check.resource, &p.arn, &check.action, &context)
        })
    }

    /// The resource's real ARN when the request named it by another name, as AWS
    /// authorizes it (so policies naming the real ARN apply): an IAM user, group, role or
    /// instance profile named without its path, a secret named without its random suffix
    /// (by name or by a partial ARN), or a KMS key named by an alias (not the alias
    /// operations' checks on the alias itself, which opt out; `kms:RequestAlias` still says which
    /// alias was used). `None`: the resource as asked.
    fn resolved_resource(
        &self,
        check: &AuthzCheck,
        caller_account: &str,
    ) -> Result<Option<String>, ApiError> {
        type Resolve = fn(&dyn ReadTx, &str) -> Result<Option<String>, ApiError>;
        if !check.resolve {
            return Ok(None);
        }
        let (action, resource) = (check.action.as_str(), check.resource.as_str());
        if let Some(akid) = check.noted(crate::iam::access_keys::ACCESS_KEY_ID_KEY) {
            return self.snapshot(|tx| crate::credentials::owner_arn(tx, akid, caller_account));
        }
        if resource.starts_with(crate::organizations::UNRESOLVED_PREFIX) {
            let arn =
                self.snapshot(|tx| crate::organizations::arn_of_id(tx, caller_account, resource))?;
            return Ok(arn);
        }
        let resolve: Resolve = if action.starts_with("secretsmanager:")
            && resource.starts_with("arn:aws:secretsmanager:")
        {
            crate::secrets::arn_of_named
        } else if action.starts_with("iam:")
            && crate::iam::model::unpathed_entity_arn(resource).is_some()
        {
            return self.iam_arn_with_path(resource);
        } else if action.starts_with("kms:")
            && resource.starts_with("arn:aws:kms:")
            && resource.contains(":alias/")
        {
            crate::kms::store::key_arn_of_alias
        } else {
            return Ok(None);
        };
        let arn = self.snapshot(|tx| resolve(tx, resource))?;
        Ok(arn)
    }

    /// The condition keys the resource of `check` brings, when it exists (not for a
    /// resource being created): its tags and, for KMS keys, its attributes.
    fn resource_facts(&self, check: &AuthzCheck) -> Result<Facts, ApiError> {
        type Find = fn(&dyn ReadTx, &str) -> Result<Facts, ApiError>;
        if !check.resolve {
            return Ok(Vec::new());
        }
        let resource = check.resource.as_str();
        let find: Find = if resource.starts_with("arn:aws:iam::") {
            return self.iam_entity_facts(resource);
        } else if resource.starts_with("arn:aws:ssm:") {
            // The parameter the call names, when it names one by name: `a` and `/a` share
            // an ARN.
            let named = check.noted(crate::ssm::PARAMETER_NAME_KEY);
            let facts = self.snapshot(|tx| crate::ssm::parameter_facts(tx, resource, named))?;
            return Ok(facts);
        } else if resource.starts_with("arn:aws:organizations::") {
            crate::organizations::resource_facts
        } else if resource.starts_with("arn:aws:kms:") && resource.contains(":key/") {
            crate::kms::store::key_facts
        } else if resource.starts_with("arn:aws:secretsmanager:") {
            crate::secrets::secret_facts
        } else {
            return Ok(Vec::new());
        };
        let facts = self.snapshot(|tx| find(tx, resource))?;
        Ok(facts)
    }

    /// `organizations:PolicyType` of a call that names a policy by id
    /// ([`crate::organizations::POLICY_TYPE_OF_KEY`], a key no request can carry): that
    /// policy's type, or no key when there is no such policy.
    fn bind_policy_type(
        &self,
        check: &AuthzCheck,
        context: &mut Context,
        caller_account: &str,
    ) -> Result<(), ApiError> {
        use crate::organizations::{arn_of_id, policy_facts, POLICY_TYPE_OF_KEY};
        let Some(policy) = check.noted(POLICY_TYPE_OF_KEY) else {
            return Ok(());
        };
        let arn = self.snapshot(|tx| arn_of_id(tx, caller_account, policy))?;
        for (k, v) in arn.as_deref().map(policy_facts).unwrap_or_default() {
            context.set(&k, v);
        }
        Ok(())
    }

    /// `kms:ReEncryptOnSameKey` of a ReEncrypt to a key named by alias
    /// ([`crate::kms::REENCRYPT_SOURCE_KEY`]): whether the alias points at the source key.
    fn bind_reencrypt_same_key(
        &self,
        check: &AuthzCheck,
        context: &mut Context,
    ) -> Result<(), ApiError> {
        use crate::kms::{REENCRYPT_DESTINATION_KEY, REENCRYPT_SOURCE_KEY};
        let (Some(source), Some(alias)) = (
            check.noted(REENCRYPT_SOURCE_KEY),
            check.noted(REENCRYPT_DESTINATION_KEY),
        ) else {
            return Ok(());
        };
        let destination = self.snapshot(|tx| crate::kms::store::key_arn_of_alias(tx, alias))?;
        let same = destination.as_deref() == Some(source);
        context.set("kms:ReEncryptOnSameKey", [same.to_string()]);
        Ok(())
    }

    /// [`crate::iam::model::entity_facts`], cached per generation (IAM writes bump it).
    fn iam_entity_facts(&self, arn: &str) -> Result<Facts, ApiError> {
        self.per_generation(&self.iam_facts, arn, |tx| {
            crate::iam::model::entity_facts(tx, arn)
        })
    }

    /// `load`'s answer for `key`, from `cache` when read in the current generation (IAM
    /// writes and resets bump it).
    fn per_generation<T: Clone>(
        &self,
        cache: &RwLock<HashMap<String, (u64, T)>>,
        key: &str,
        load: impl Fn(&dyn ReadTx) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let generation = self.generation.load(Ordering::Acquire);
        if let Some((g, value)) = cache.read().get(key) {
            if *g == generation {
                return Ok(value.clone());
            }
        }
        let value = self.snapshot(load)?;
        let mut map = cache.write();
        if map.len() > 100_000 {
            map.clear();
        }
        map.insert(key.to_owned(), (generation, value.clone()));
        Ok(value)
    }

    /// Runs `f` on a snapshot of the store; its error comes back as it was.
    fn snapshot<T>(&self, f: impl Fn(&dyn ReadTx) -> Result<T, ApiError>) -> Result<T, ApiError> {
        let mut out = None;
        self.store.read(&mut |tx| {
            out = Some(f(tx));
            Ok(())
        })?;
        out.unwrap_or_else(|| Err(ApiError::internal("read did not run")))
    }

    /// [`crate::iam::model::arn_with_path`], cached per generation: IAM calls name entities
    /// without their path on nearly every call.
    fn iam_arn_with_path(&self, arn: &str) -> Result<Option<String>, ApiError> {
        self.per_generation(&self.iam_arns, arn, |tx| {
            crate::iam::model::arn_with_path(tx, arn)
        })
    }

    /// Reads a resource's policy document with `find` and compiles it.
    fn stored_policy(
        &self,
        kind: ResourcePolicyType,
        find: impl Fn(&dyn ReadTx) -> Result<Option<String>, ApiError>,
    ) -> Result<Option<(Policy, ResourcePolicyType)>, ApiError> {
        let doc = self.snapshot(|tx| find(tx))?;
        let Some(doc) = doc else {
            return Ok(None);
        };
        // Compiled once per document text: a key or secret policy is read on every call,
        // and parsing it cost more than the rest of authorization.
        if let Some(p) = self.resource_policies.read().get(&doc) {
            return Ok(p.clone().map(|p| (p, kind)));
        }
        let parsed = Policy::parse(&doc, PolicyKind::Resource).ok();
        let mut cache = self.resource_policies.write();
        if cache.len() >= 10_000 {
            cache.clear();
        }
        cache.insert(doc, parsed.clone());
        Ok(parsed.map(|p| (p, kind)))
    }
}

/// One identity policy of an entity, as stored: what IAM's simulator reports as the
/// statement's source.
#[derive(Debug, Clone)]
pub struct PolicyDocument {
    /// The inline policy name or the managed policy name.
    pub id: String,
    /// The managed policy ARN (empty for inline policies).
    pub arn: String,
    /// IAM's `PolicySourceType`: `user`, `group`, `role` (inline), `aws-managed`,
    /// `user-managed` (customer managed).
    pub source_type: &'static str,
    pub document: String,
}

/// Every identity policy of one user, group or role: inline first (in name order), then
/// attached managed policies (their default versions).
pub fn entity_policy_documents(
    tx: &dyn ReadTx,
    account: &str,
    kind: EntityKind,
    name: &str,
) -> Result<Vec<PolicyDocument>, ApiError> {
    let mut out = Vec::new();
    for (key, raw) in model::scan_all(tx, &model::inline_prefix(account, kind, name))? {
        out.push(PolicyDocument {
            id: last_key_part(&key).unwrap_or_default(),
            arn: String::new(),
            source_type: kind.tag(),
            document: inline_document(&raw),
        });
    }
    for (key, _) in model::scan_all(tx, &model::attachments_prefix(account, kind, name))? {
        let Some(arn) = last_key_part(&key) else {
            continue;
        };
        if let Some(doc) = managed_policy_document(tx, account, &arn)? {
            out.push(doc);
        }
    }
    Ok(out)
}

/// The default-version document of a managed policy (AWS managed or the account's own).
pub fn managed_policy_document(
    tx: &dyn ReadTx,
    account: &str,
    arn: &str,
) -> Result<Option<PolicyDocument>, ApiError> {
    if arn.starts_with("arn:aws:iam::aws:policy/") {
        return Ok(
            palisade_iam_data::managed_policy_by_arn(arn).map(|mp| PolicyDocument {
                id: arn.rsplit('/').next().unwrap_or_default().to_owned(),
                arn: arn.to_owned(),
                source_type: "aws-managed",
                document: mp.document.to_owned(),
            }),
        );
    }
    let Some(name) = arn.rsplit('/').next() else {
        return Ok(None);
    };
    let Some(policy) =
        model::get::<ManagedPolicy>(tx, &model::entity_key(account, "policy", name))?
    else {
        return Ok(None);
    };
    if policy.arn != arn {
        return Ok(None);
    }
    let version = model::get::<PolicyVersion>(
        tx,
        &model::policy_version_key(account, &policy.policy_name, &policy.default_version_id),
    )?;
    Ok(version.map(|v| PolicyDocument {
        id: policy.policy_name.clone(),
        arn: arn.to_owned(),
        source_type: "user-managed",
        document: decode_if_url_encoded(&v.document),
    }))
}

/// The request context: the request's global keys, the principal's, and the check's own.
pub fn context_for(check: &AuthzCheck, ctx: &RequestContext, tags: &[(String, String)]) -> Context {
    let mut c = Context::new();
    for (k, v) in ctx.global_condition_keys() {
        c.set(k, v);
    }
    let p = &ctx.principal;
    if let Some(s) = p.session.as_deref() {
        c.set(
            "aws:MultiFactorAuthPresent",
            [s.mfa_authenticated.to_string()],
        );
        c.set("aws:TokenIssueTime", [s.creation_date.clone()]);
        if s.mfa_authenticated {
            if let Some(issued) = model::parse_iso(&s.creation_date) {
                let age = (ctx.now - issued).whole_seconds().max(0);
                c.set("aws:MultiFactorAuthAge", [age.to_string()]);
            }
        }
        if let Some(si) = &s.source_identity {
            c.set("aws:SourceIdentity", [si.clone()]);
        }
        // AWS: present for IAM users only (a federated user's session has none).
        if p.kind == PrincipalKind::IAMUser {
            c.set("aws:username", [s.issuer_name.clone()]);
        }
    }
    for (k, v) in tags {
        c.set(&format!("aws:PrincipalTag/{k}"), [v.clone()]);
    }
    for (k, v) in &check.context {
        // `palisade:` keys are notes from the operation to the authorizer, not keys of
        // the request (`bind_policy_type`, `resource_facts`).
        if !k.starts_with("palisade:") {
            c.set(k, v.iter().cloned());
        }
    }
    c
}

impl Authorizer for PolicyAuthorizer {
    fn request_context(
        &self,
        check: &AuthzCheck,
        ctx: &RequestContext,
    ) -> Result<Context, ApiError> {
        let p = &ctx.principal;
        let mut context = context_for(check, ctx, &self.policies_for(p)?.tags);
        // The resource is in the caller's own account here.
        if let Some(f) = &self.org_of(&p.account_id)?.facts {
            for side in ["Principal", "Resource"] {
                context.set(&format!("aws:{side}OrgID"), [f.org_id.clone()]);
                context.set(&format!("aws:{side}OrgPaths"), [f.org_path.clone()]);
            }
        }
        context.set("aws:ResourceAccount", [p.account_id.clone()]);
        Ok(context)
    }

    fn authorize(&self, check: &AuthzCheck, ctx: &RequestContext) -> AuthzDecision {
        match self.decide(check, ctx) {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "authorization failed internally; denying");
                AuthzDecision::Deny {
                    message: crate::authz::denial_message(&ctx.principal, check),
                }
            }
        }
    }

    fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}

impl PolicyAuthorizer {
    fn decide(&self, check: &AuthzCheck, ctx: &RequestContext) -> Result<AuthzDecision, ApiError> {
        let p = &ctx.principal;
        let resource_account = check.resource_account.as_deref();
        let same_account = resource_account.is_none_or(|a| a == p.account_id);
        let resource_policy = self.resource_policy(check)?;
        let principal_org = self.org_of(&p.account_id)?;
        let resource_org = match resource_account {
            Some(a) if a != p.account_id => self.org_of(a)?,
            _ => principal_org.clone(),
        };
        // Service-linked roles are not restricted by SCPs (AWS Organizations docs).
        let scps: &[Vec<Policy>] = if is_service_linked(p) {
            &[]
        } else {
            &principal_org.scps
        };
        // The root user of an account may do anything in it unless organization policies
        // say otherwise; role trust policies still decide who may assume a role.
        if p.is_root()
            && same_account
            && resource_policy.is_none()
            && scps.is_empty()
            && resource_org.rcps.is_empty()
        {
            return Ok(AuthzDecision::Allow);
        }
        // Resource policies are found by the name as asked too; what policies are matched
        // against, and what a denial names, is the resource's real ARN.
        let resolved;
        let check = match self.resolved_resource(check, &p.account_id)? {
            Some(resource) => {
                resolved = AuthzCheck {
                    resource,
                    ..check.clone()
                };
                &resolved
            }
            None => check,
        };
        let policies = self.policies_for(p)?;
        if policies.orphaned {
            return Ok(AuthzDecision::Deny {
                message: crate::authz::denial_message(p, check),
            });
        }
        let mut context = context_for(check, ctx, &policies.tags);
        let principal_arn = policies.moved_to.as_deref().unwrap_or(&p.arn);
        if policies.moved_to.is_some() {
            context.set("aws:PrincipalArn", [principal_arn.to_owned()]);
        }
        self.bind_policy_type(check, &mut context, &p.account_id)?;
        self.bind_reencrypt_same_key(check, &mut context)?;
        // The resource's own keys, where AWS puts them for this action; the request's
        // (e.g. the new boundary of PutUserPermissionsBoundary) stand. Gathering them
        // costs reads, so only when some policy of the evaluation tests such a key.
        let identity: &[Policy] = if p.is_root() {
            &self.root
        } else {
            &policies.identity
        };
        let tests_facts = identity
            .iter()
            .chain(&policies.session)
            .chain(&policies.boundary)
            .chain(resource_policy.as_ref().map(|(policy, _)| policy))
            .chain(scps.iter().flatten())
            .chain(resource_org.rcps.iter().flatten())
            .any(|policy| policy.tests_key(is_resource_fact));
        if tests_facts {
            for (key, values) in self.resource_facts(check)? {
                if context.get(&key).is_none() && action_supports_key(&check.action, &key) {
                    context.set(&key, values);
                }
            }
        }
        if let Some(f) = &principal_org.facts {
            context.set("aws:PrincipalOrgID", [f.org_id.clone()]);
            context.set("aws:PrincipalOrgPaths", [f.org_path.clone()]);
        }
        if let Some(f) = &resource_org.facts {
            context.set("aws:ResourceOrgID", [f.org_id.clone()]);
            context.set("aws:ResourceOrgPaths", [f.org_path.clone()]);
        }
        context.set(
            "aws:ResourceAccount",
            [resource_account.unwrap_or(&p.account_id).to_owned()],
        );
        // A retiring account delegating kms:RetireGrant: its own IAM policies decide, as
        // for a resource of its own (the key's account stays the resource account).
        let delegated = check.noted(crate::authz::RETIRE_DELEGATED).is_some();
        let request = Request {
            principal: principal_arn,
            principal_account: Some(&p.account_id),
            action: &check.action,
            resource: &check.resource,
            resource_account: if delegated {
                Some(p.account_id.as_str())
            } else {
                resource_account
            },
            context: &context,
        };
        let set = PolicySet {
            identity,
            resource: resource_policy
                .as_ref()
                .map(|(policy, kind)| ResourcePolicy {
                    policy,
                    kind: *kind,
                }),
            permissions_boundary: policies.boundary.as_ref(),
            session: &policies.session,
            scps,
            rcps: &resource_org.rcps,
        };
        let ev = evaluate(&request, &set);
        if ev.decision.is_allowed() {
            return Ok(AuthzDecision::Allow);
        }
        // KMS grants add permissions beside the key policy: an implicit denial on a key is
        // lifted when a grant gives the caller this operation (explicit denies stand).
        if ev.decision == palisade_policy::Decision::ImplicitDeny
            && check.resource.starts_with("arn:aws:kms:")
        {
            // RetireGrant is lifted only by the grant being retired naming the caller;
            // another grant's RetireGrant operation does not reach it.
            let lifted = if check.action.eq_ignore_ascii_case("kms:RetireGrant") {
                check.noted(crate::authz::NAMED_IN_GRANT).is_some()
            } else {
                self.grant_allows(check, p)?
            };
            if lifted {
                return Ok(AuthzDecision::Allow);
            }
        }
        {
            Ok(AuthzDecision::Deny {
                message: ev
                    .denial_message(&request)
                    .unwrap_or_else(|| crate::authz::denial_message(p, check)),
            })
        }
    }
}

/// What the account password policy's `AllowUsersToChangePassword` gives every IAM user:
/// "the same as attaching [IAMUserChangePassword] to all users" (AWS's IAM guide), that is
/// `iam:GetAccountPasswordPolicy`, and `iam:ChangePassword` on the user itself. An
/// identity policy like any other, so boundaries and SCPs still limit it. The policy cache
/// is dropped after every IAM write, UpdateAccountPasswordPolicy included.
fn self_service_password_policy(
    tx: &dyn ReadTx,
    account: &str,
    user_arn: &str,
) -> Result<Option<Policy>, ApiError> {
    let allowed = crate::iam::login_profiles::get_policy(tx, account)?
        .is_some_and(|p| p.allow_users_to_change_password);
    if !allowed {
        return Ok(None);
    }
    let doc = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "iam:GetAccountPasswordPolicy", "Resource": "*"},
            {"Effect": "Allow", "Action": "iam:ChangePassword", "Resource": user_arn},
        ],
    })
    .to_string();
    Ok(Policy::parse(&doc, PolicyKind::Identity).ok())
}

fn build_org(tx: &dyn ReadTx, account: &str, generation: u64) -> Result<AccountOrg, ApiError> {
    use crate::organizations::{policies_for_account, RCP, SCP};
    let compile = |levels: Option<Vec<Vec<String>>>, kind: PolicyKind| -> Vec<Vec<Policy>> {
        levels
            .unwrap_or_default()
            .into_iter()
            .map(|level| {
                level
                    .iter()
                    .filter_map(|doc| match Policy::parse(doc, kind) {
                        Ok(p) => Some(p),
                        Err(e) => {
                            tracing::warn!(error = %e, "stored organization policy does not parse");
                            None
                        }
                    })
                    .collect()
            })
            .collect()
    };
    Ok(AccountOrg {
        generation,
        scps: compile(
            policies_for_account(tx, account, SCP)?,
            PolicyKind::ServiceControl,
        ),
        rcps: compile(
            policies_for_account(tx, account, RCP)?,
            PolicyKind::ResourceControl,
        ),
        facts: crate::organizations::org_facts(tx, account)?,
    })
}

/// Service-linked roles (path `/aws-service-role/`) and their sessions.
fn is_service_linked(p: &Principal) -> bool {
    p.arn.contains(":role/aws-service-role/")
        || p.session
            .as_deref()
            .is_some_and(|s| s.issuer_arn.contains(":role/aws-service-role/"))
}

/// The last string component of a tuple key (a group name, a policy ARN).
fn last_key_part(key: &[u8]) -> Option<String> {
    palisade_store::keys::decode(key)
        .ok()?
        .into_iter()
        .last()
        .and_then(|p| match p {
            palisade_store::keys::Part::Str(s) => Some(s),
            _ => None,
        })
}

/// Inline policy values are stored as the document text, or as a JSON record with a
/// `PolicyDocument` member.
fn inline_document(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    if let Ok(serde_json::Value::Object(m)) = serde_json::from_str::<serde_json::Value>(&text) {
        if let Some(serde_json::Value::String(doc)) = m.get("PolicyDocument") {
            return decode_if_url_encoded(doc);
        }
        if m.contains_key("Statement") {
            return text.into_owned();
        }
    }
    decode_if_url_encoded(&text)
}

pub fn decode_if_url_encoded(doc: &str) -> String {
    if doc.trim_start().starts_with('{') {
        return doc.to_owned();
    }
    percent_encoding::percent_decode_str(doc)
        .decode_utf8()
        .map(|s| s.into_owned())
        .unwrap_or_else(|_| doc.to_owned())
}

/// Whether `key` is one a resource brings to the request context ([`PolicyAuthorizer::
/// resource_facts`]): resource tags, KMS key attributes, an IAM entity's boundary, an
/// Organizations policy's type.
fn is_resource_fact(key: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "aws:resourcetag/",
        "iam:resourcetag/",
        "secretsmanager:resourcetag/",
        "ssm:resourcetag/",
        "kms:keyspec",
        "kms:keyusage",
        "kms:keyorigin",
        "kms:multiregion",
        "kms:resourcealiases",
        "iam:permissionsboundary",
        "organizations:policytype",
    ];
    PREFIXES.iter().any(|p| {
        key.get(..p.len())
            .is_some_and(|k| k.eq_ignore_ascii_case(p))
    })
}

/// Whether AWS puts `key` in the request context of `action`: the Service Authorization
/// Reference lists it for the action or for one of the action's resource types.
fn action_supports_key(action: &str, key: &str) -> bool {
    let Some((service, a)) = palisade_iam_data::action(action) else {
        return false;
    };
    let listed = |keys: &[&str]| {
        keys.iter()
            .any(|k| palisade_iam_data::template_matches(k, key))
    };
    listed(&a.condition_keys)
        || a.resource_types.iter().any(|rt| {
            listed(&rt.condition_keys)
                || service
                    .resource_type(rt.name)
                    .is_some_and(|t| listed(&t.condition_keys))
        })
}

/// `arn:aws:iam::ACCOUNT:role/path/NAME` -> (ACCOUNT, NAME).
fn role_from_arn(arn: &str) -> Option<(&str, &str)> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (account, resource) = rest.split_once(':')?;
    let path_name = resource.strip_prefix("role/")?;
    let name = path_name.rsplit('/').next()?;
    (!name.is_empty()).then_some((account, name))
}
