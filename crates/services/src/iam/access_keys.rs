//! IAM access keys: CreateAccessKey, ListAccessKeys, UpdateAccessKey, DeleteAccessKey,
//! GetAccessKeyLastUsed.
//!
//! A key lives in two records: the credential SigV4 verification reads
//! ([`crate::credentials`], secret sealed at rest) and IAM's metadata under
//! [`model::user_access_key_key`] (status, dates, last use). Both change together, and
//! every change invalidates the credential cache entry. The secret is returned once, by
//! CreateAccessKey, and never logged or recorded in CloudTrail.
//!
//! Calls without `UserName` act on the caller: an IAM user's own keys, or the root
//! user's keys (kept under the pseudo user name [`ROOT_KEYS`], which no IAM user name can
//! spell).

use super::{camel_json, error::IamError, model, users};
use crate::{
    authz::AuthzCheck,
    context::{Principal, PrincipalKind, RequestContext},
    credentials::{self, Credential},
    env::Env,
    error::ApiError,
    input::Input,
    keyspace, Reply,
};
use palisade_store::{ReadTx, WriteTx};
use time::OffsetDateTime;

/// Quota of access keys per user (and for the root user).
pub const MAX_KEYS_PER_USER: usize = 2;
/// The user-name slot of the root user's keys in IAM's key table.
pub const ROOT_KEYS: &str = "<root>";

#[derive(Debug)]
pub enum Operation {
    CreateAccessKey(UserNameInput),
    ListAccessKeys(ListAccessKeysInput),
    UpdateAccessKey(UpdateAccessKeyInput),
    DeleteAccessKey(AccessKeyInput),
    GetAccessKeyLastUsed(GetAccessKeyLastUsedInput),
}

pub fn decode(
    action: &str,
    input: &Input<'_>,
) -> Option<Result<Box<dyn crate::Operation>, ApiError>> {
    let op = match action {
        "CreateAccessKey" => input.parse().map(Operation::CreateAccessKey),
        "ListAccessKeys" => input.parse().map(Operation::ListAccessKeys),
        "UpdateAccessKey" => input.parse().map(Operation::UpdateAccessKey),
        "DeleteAccessKey" => input.parse().map(Operation::DeleteAccessKey),
        "GetAccessKeyLastUsed" => input.parse().map(Operation::GetAccessKeyLastUsed),
        _ => return None,
    };
    Some(op.map(|op| Box::new(op) as Box<dyn crate::Operation>))
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserNameInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAccessKeysInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_items: Option<i64>,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateAccessKeyInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    pub access_key_id: String,
    pub status: String,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccessKeyInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    pub access_key_id: String,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetAccessKeyLastUsedInput {
    pub access_key_id: String,
}

/// When and where a key was last used (IAM's `AccessKeyLastUsed`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccessKeyLastUsed {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_date: Option<String>,
    pub service_name: String,
    pub region: String,
}

impl AccessKeyLastUsed {
    /// What AWS answers for a key that was never used.
    pub fn never() -> Self {
        AccessKeyLastUsed {
            last_used_date: None,
            service_name: "N/A".into(),
            region: "N/A".into(),
        }
    }
}

/// IAM's metadata of one access key (stored under [`model::user_access_key_key`]).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccessKeyRecord {
    /// The IAM user, or [`ROOT_KEYS`] for the root user's keys.
    pub user_name: String,
    pub access_key_id: String,
    pub status: String,
    pub create_date: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used: Option<AccessKeyLastUsed>,
}

/// `AccessKeyMetadata` as ListAccessKeys shows it.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccessKeyMetadata {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    pub access_key_id: String,
    pub status: String,
    pub create_date: String,
}

/// `AccessKey` as CreateAccessKey returns it (the only time the secret leaves).
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccessKey {
    pub user_name: String,
    pub access_key_id: String,
    pub status: String,
    pub secret_access_key: String,
    pub create_date: String,
}

impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKey")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateAccessKeyOutput {
    pub access_key: AccessKey,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAccessKeysOutput {
    pub access_key_metadata: Vec<AccessKeyMetadata>,
    pub is_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetAccessKeyLastUsedOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    pub access_key_last_used: AccessKeyLastUsed,
}

// ---- whose credentials ------------------------------------------------------------

/// Whose credentials a call is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    User(String),
    Root,
}

impl Subject {
    /// The name keys are stored under.
    pub fn key_name(&self) -> &str {
        match self {
            Subject::User(n) => n,
            Subject::Root => ROOT_KEYS,
        }
    }
}

/// `UserName` when given, else the caller: an IAM user or the root user. Other callers
/// (role sessions, federated users) must name the user, as in AWS.
pub fn subject(ctx: &RequestContext, given: Option<&str>) -> Result<Subject, ApiError> {
    if let Some(name) = given {
        model::validate_name("userName", name, 128)?;
        return Ok(Subject::User(name.to_owned()));
    }
    match ctx.principal.kind {
        PrincipalKind::IAMUser if ctx.principal.session.is_none() => {
            Ok(Subject::User(ctx.principal.user_name.clone()))
        }
        PrincipalKind::Root => Ok(Subject::Root),
        _ => Err(IamError::Validation(
            "Must specify userName when calling with non-User credentials".into(),
        )
        .into()),
    }
}

/// Gives every long-term key of `user` the user's new name and ARN (after a rename or a
/// move to another path), so that its calls act as, and are recorded as, the user where it
/// is now.
pub fn repath_keys(
    tx: &mut dyn WriteTx,
    env: &Env,
    account: &str,
    user: &str,
    new_name: &str,
    arn: &str,
) -> Result<(), ApiError> {
    let prefix = model::user_access_keys_prefix(account, user);
    let mut end = Vec::new();
    let range = palisade_store::Range::prefix(&prefix, &mut end);
    for (key, raw) in tx.scan(&range, usize::MAX)? {
        let mut record: AccessKeyRecord =
            serde_json::from_slice(&raw).map_err(ApiError::internal)?;
        let akid = record.access_key_id.clone();
        if record.user_name != new_name {
            // A rename: the key moves to the user's new name.
            tx.delete(&key)?;
            record.user_name = new_name.to_owned();
            model::put(
                tx,
                &model::user_access_key_key(account, new_name, &akid),
                &record,
            )?;
        }
        let akid = &akid;
        let Some(mut cred) = credentials::get_credential(tx, &env.master_key, akid)? else {
            continue;
        };
        cred.principal.arn = arn.to_owned();
        cred.principal.user_name = new_name.to_owned();
        let created = model::parse_iso(&record.create_date).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        credentials::put_credential(tx, &env.master_key, &cred, created)?;
        env.credentials.invalidate(akid);
    }
    Ok(())
}

/// A key only checks carry (never a request): the access key whose owner is the resource
/// of GetAccessKeyLastUsed ([`crate::credentials::owner_arn`]).
pub const ACCESS_KEY_ID_KEY: &str = "palisade:AccessKeyId";

/// The resource ARN authorization checks for a call about `given` (or the caller).
pub fn subject_arn(ctx: &RequestContext, given: Option<&str>) -> String {
    let account = &ctx.principal.account_id;
    match given {
        Some(name) => super::resource_arn(account, "user", None, name),
        None => match ctx.principal.kind {
            PrincipalKind::IAMUser | PrincipalKind::Root => ctx.principal.arn.clone(),
            _ => super::resource_arn(account, "user", None, ""),
        },
    }
}

fn validate_key_id(value: &str) -> Result<(), IamError> {
    model::check_shape(
        "accessKeyId",
        value,
        (16, 128),
        |c| c.is_ascii_alphanumeric() || c == '_',
        "[\\w]+",
    )
}

fn no_such_key(akid: &str) -> ApiError {
    IamError::NoSuchEntity(format!("The Access Key with id {akid} cannot be found.")).into()
}

/// The user's key records, oldest first (access_key_1 / access_key_2 of the report).
pub fn user_keys(
    tx: &dyn ReadTx,
    account: &str,
    key_name: &str,
) -> Result<Vec<AccessKeyRecord>, ApiError> {
    let mut keys = model::scan_all(tx, &model::user_access_keys_prefix(account, key_name))?
        .into_iter()
        .map(|(_, v)| serde_json::from_slice::<AccessKeyRecord>(&v).map_err(ApiError::internal))
        .collect::<Result<Vec<_>, _>>()?;
    keys.sort_by(|a, b| {
        (a.create_date.as_str(), a.access_key_id.as_str())
            .cmp(&(b.create_date.as_str(), b.access_key_id.as_str()))
    });
    Ok(keys)
}

/// Checks that the subject exists (users only; the root always does).
fn check_subject(
    tx: &dyn ReadTx,
    account: &str,
    subject: &Subject,
) -> Result<Option<model::User>, ApiError> {
    match subject {
        Subject::User(name) => users::load(tx, account, name).map(Some),
        Subject::Root => Ok(None),
    }
}

fn load_key(
    tx: &dyn ReadTx,
    account: &str,
    subject: &Subject,
    akid: &str,
) -> Result<AccessKeyRecord, ApiError> {
    model::get::<AccessKeyRecord>(
        tx,
        &model::user_access_key_key(account, subject.key_name(), akid),
    )?
    .ok_or_else(|| no_such_key(akid))
}

/// IAM's record of a root access key made outside IAM (the management account's key
/// from the first start), so ListAccessKeys, the credential report, GetAccessKeyLastUsed,
/// UpdateAccessKey and DeleteAccessKey see it as AWS's do.
pub(crate) fn put_root_key_record(
    tx: &mut dyn WriteTx,
    account: &str,
    access_key_id: &str,
    created: OffsetDateTime,
) -> Result<(), ApiError> {
    let record = AccessKeyRecord {
        user_name: ROOT_KEYS.to_owned(),
        access_key_id: access_key_id.to_owned(),
        status: "Active".into(),
        create_date: model::iso(created),
        last_used: None,
    };
    model::put(
        tx,
        &model::user_access_key_key(account, ROOT_KEYS, access_key_id),
        &record,
    )
}

/// Whether IAM has a record of `access_key_id` among the root user's keys.
pub(crate) fn root_key_recorded(
    tx: &dyn ReadTx,
    account: &str,
    access_key_id: &str,
) -> Result<bool, ApiError> {
    Ok(tx
        .get(&model::user_access_key_key(
            account,
            ROOT_KEYS,
            access_key_id,
        ))?
        .is_some())
}

/// Records that `access_key_id` of `user` was just used for `service` in `region` (the
/// pipeline calls this; GetAccessKeyLastUsed and the credential report read it). `user`
/// is the IAM user name, or [`ROOT_KEYS`] for root keys. Unknown keys are ignored.
pub fn record_key_use(
    tx: &mut dyn WriteTx,
    account: &str,
    user: &str,
    access_key_id: &str,
    service: &str,
    region: &str,
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    let key = model::user_access_key_key(account, user, access_key_id);
    let Some(mut record) = model::get::<AccessKeyRecord>(tx, &key)? else {
        return Ok(());
    };
    record.last_used = Some(AccessKeyLastUsed {
        last_used_date: Some(model::iso(now)),
        service_name: service.to_owned(),
        region: region.to_owned(),
    });
    model::put(tx, &key, &record)
}

fn create_access_key(
    tx: &mut dyn WriteTx,
    env: &Env,
    ctx: &RequestContext,
    subject: &Subject,
) -> Result<AccessKey, ApiError> {
    let account = &ctx.principal.account_id;
    let user = check_subject(tx, account, subject)?;
    let existing = model::scan_all(
        tx,
        &model::user_access_keys_prefix(account, subject.key_name()),
    )?;
    if existing.len() >= MAX_KEYS_PER_USER {
        return Err(IamError::LimitExceeded(format!(
            "Cannot exceed quota for AccessKeysPerUser: {MAX_KEYS_PER_USER}"
        ))
        .into());
    }
    let akid = credentials::unused_access_key_id(tx, false, account)?;
    let secret = credentials::new_secret_access_key()?;
    let principal = match &user {
        Some(u) => Principal {
            kind: PrincipalKind::IAMUser,
            account_id: account.clone(),
            arn: u.arn.clone(),
            principal_id: u.user_id.clone(),
            user_name: u.user_name.clone(),
            access_key_id: akid.clone(),
            session: None,
        },
        None => Principal::root(account, &akid),
    };
    let user_name = principal.user_name.clone();
    credentials::put_credential(
        tx,
        &env.master_key,
        &Credential {
            principal,
            secret_access_key: secret.clone(),
            active: true,
            session_token: None,
            expiration: None,
        },
        ctx.now,
    )?;
    let record = AccessKeyRecord {
        user_name: user
            .as_ref()
            .map_or_else(|| ROOT_KEYS.to_owned(), |u| u.user_name.clone()),
        access_key_id: akid.clone(),
        status: "Active".into(),
        create_date: model::iso(ctx.now),
        last_used: None,
    };
    model::put(
        tx,
        &model::user_access_key_key(account, subject.key_name(), &akid),
        &record,
    )?;
    env.credentials.invalidate(&akid);
    Ok(AccessKey {
        user_name,
        access_key_id: akid,
        status: record.status,
        secret_access_key: secret,
        create_date: record.create_date,
    })
}

fn update_access_key(
    tx: &mut dyn WriteTx,
    env: &Env,
    ctx: &RequestContext,
    subject: &Subject,
    input: &UpdateAccessKeyInput,
) -> Result<(), ApiError> {
    let account = &ctx.principal.account_id;
    validate_key_id(&input.access_key_id)?;
    let active = match input.status.as_str() {
        "Active" => true,
        "Inactive" => false,
        "Expired" => {
            return Err(IamError::InvalidInput(
                "The status of an access key can only be set to Active or Inactive.".into(),
            )
            .into())
        }
        other => {
            return Err(IamError::Validation(format!(
                "1 validation error detected: Value '{other}' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive, Expired]"
            ))
            .into())
        }
    };
    check_subject(tx, account, subject)?;
    let mut record = load_key(tx, account, subject, &input.access_key_id)?;
    let Some(mut cred) = credentials::get_credential(tx, &env.master_key, &input.access_key_id)?
    else {
        return Err(no_such_key(&input.access_key_id));
    };
    cred.active = active;
    let created = model::parse_iso(&record.create_date).unwrap_or(ctx.now);
    credentials::put_credential(tx, &env.master_key, &cred, created)?;
    record.status = input.status.clone();
    model::put(
        tx,
        &model::user_access_key_key(account, subject.key_name(), &input.access_key_id),
        &record,
    )?;
    env.credentials.invalidate(&input.access_key_id);
    Ok(())
}

fn delete_access_key(
    tx: &mut dyn WriteTx,
    env: &Env,
    ctx: &RequestContext,
    subject: &Subject,
    akid: &str,
) -> Result<(), ApiError> {
    let account = &ctx.principal.account_id;
    validate_key_id(akid)?;
    check_subject(tx, account, subject)?;
    load_key(tx, account, subject, akid)?;
    tx.delete(&model::user_access_key_key(
        account,
        subject.key_name(),
        akid,
    ))?;
    tx.delete(&keyspace::credential(akid))?;
    env.credentials.invalidate(akid);
    Ok(())
}

impl crate::Operation for Operation {
    fn name(&self) -> &'static str {
        match self {
            Operation::CreateAccessKey(_) => "CreateAccessKey",
            Operation::ListAccessKeys(_) => "ListAccessKeys",
            Operation::UpdateAccessKey(_) => "UpdateAccessKey",
            Operation::DeleteAccessKey(_) => "DeleteAccessKey",
            Operation::GetAccessKeyLastUsed(_) => "GetAccessKeyLastUsed",
        }
    }

    fn read_only(&self) -> bool {
        matches!(
            self,
            Operation::ListAccessKeys(_) | Operation::GetAccessKeyLastUsed(_)
        )
    }

    fn authz(&self, ctx: &RequestContext) -> Vec<AuthzCheck> {
        let (action, user) = match self {
            Operation::CreateAccessKey(i) => ("iam:CreateAccessKey", i.user_name.as_deref()),
            Operation::ListAccessKeys(i) => ("iam:ListAccessKeys", i.user_name.as_deref()),
            Operation::UpdateAccessKey(i) => ("iam:UpdateAccessKey", i.user_name.as_deref()),
            Operation::DeleteAccessKey(i) => ("iam:DeleteAccessKey", i.user_name.as_deref()),
            // The key's owner is only known from state, which authz must not read: the
            // authorizer resolves the check to the owner's ARN (`user/*` when there is no
            // such key).
            Operation::GetAccessKeyLastUsed(i) => {
                let mut c = AuthzCheck::new(
                    "iam:GetAccessKeyLastUsed",
                    super::resource_arn(&ctx.principal.account_id, "user", None, "*"),
                );
                c.note(ACCESS_KEY_ID_KEY, i.access_key_id.clone());
                return vec![c];
            }
        };
        vec![AuthzCheck::new(action, subject_arn(ctx, user))]
    }

    fn request_parameters(&self) -> Option<serde_json::Value> {
        match self {
            Operation::CreateAccessKey(i) => camel_json(i),
            Operation::ListAccessKeys(i) => camel_json(i),
            Operation::UpdateAccessKey(i) => camel_json(i),
            Operation::DeleteAccessKey(i) => camel_json(i),
            Operation::GetAccessKeyLastUsed(i) => camel_json(i),
        }
    }

    fn read(&self, tx: &dyn ReadTx, env: &Env, ctx: &RequestContext) -> Result<Reply, ApiError> {
        let account = &ctx.principal.account_id;
        match self {
            Operation::ListAccessKeys(i) => {
                let subject = subject(ctx, i.user_name.as_deref())?;
                check_subject(tx, account, &subject)?;
                let page = model::list_page::<AccessKeyRecord>(
                    tx,
                    &model::user_access_keys_prefix(account, subject.key_name()),
                    i.marker.as_deref(),
                    i.max_items,
                    |_| true,
                )?;
                let is_truncated = page.is_truncated();
                let access_key_metadata = page
                    .items
                    .into_iter()
                    .map(|k| AccessKeyMetadata {
                        user_name: match &subject {
                            Subject::User(_) => Some(k.user_name),
                            Subject::Root => None,
                        },
                        access_key_id: k.access_key_id,
                        status: k.status,
                        create_date: k.create_date,
                    })
                    .collect();
                Ok(Reply::new(ListAccessKeysOutput {
                    access_key_metadata,
                    is_truncated,
                    marker: page.marker,
                }))
            }
            Operation::GetAccessKeyLastUsed(i) => {
                validate_key_id(&i.access_key_id)?;
                let cred = credentials::get_credential(tx, &env.master_key, &i.access_key_id)?
                    .filter(|c| &c.principal.account_id == account && c.session_token.is_none())
                    .ok_or_else(|| no_such_key(&i.access_key_id))?;
                let (user_name, key_name) = match cred.principal.kind {
                    PrincipalKind::Root => (None, ROOT_KEYS.to_owned()),
                    _ => (
                        Some(cred.principal.user_name.clone()),
                        cred.principal.user_name.clone(),
                    ),
                };
                let last_used = model::get::<AccessKeyRecord>(
                    tx,
                    &model::user_access_key_key(account, &key_name, &i.access_key_id),
                )?
                .and_then(|r| r.last_used)
                .unwrap_or_else(AccessKeyLastUsed::never);
                Ok(Reply::new(GetAccessKeyLastUsedOutput {
                    user_name,
                    access_key_last_used: last_used,
                }))
            }
            _ => Err(ApiError::internal(
                "read() on a mutating IAM access key operation",
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
        let resource = |subject: &Subject| -> (String, String) {
            match subject {
                Subject::User(n) => (
                    "AWS::IAM::User".into(),
                    super::resource_arn(account, "user", None, n),
                ),
                Subject::Root => ("AWS::IAM::User".into(), ctx.principal.arn.clone()),
            }
        };
        match self {
            Operation::CreateAccessKey(i) => {
                let subject = subject(ctx, i.user_name.as_deref())?;
                let key = create_access_key(tx, env, ctx, &subject)?;
                // CloudTrail records the key without its secret.
                let elements = serde_json::json!({
                    "accessKey": {
                        "userName": key.user_name,
                        "accessKeyId": key.access_key_id,
                        "status": key.status,
                        "createDate": key.create_date,
                    }
                });
                let mut reply = Reply::new(CreateAccessKeyOutput { access_key: key });
                reply.response_elements = Some(elements);
                reply.resources = vec![resource(&subject)];
                Ok(reply)
            }
            Operation::UpdateAccessKey(i) => {
                let subject = subject(ctx, i.user_name.as_deref())?;
                update_access_key(tx, env, ctx, &subject, i)?;
                let mut reply = Reply::empty();
                reply.resources = vec![resource(&subject)];
                Ok(reply)
            }
            Operation::DeleteAccessKey(i) => {
                let subject = subject(ctx, i.user_name.as_deref())?;
                delete_access_key(tx, env, ctx, &subject, &i.access_key_id)?;
                let mut reply = Reply::empty();
                reply.resources = vec![resource(&subject)];
                Ok(reply)
            }
            _ => Err(ApiError::internal(
                "write() on a read-only IAM access key operation",
            )),
        }
    }
}
