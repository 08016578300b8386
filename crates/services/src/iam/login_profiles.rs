//! IAM console passwords: CreateLoginProfile, GetLoginProfile, UpdateLoginProfile,
//! DeleteLoginProfile, ChangePassword, and the account password policy
//! (UpdateAccountPasswordPolicy, GetAccountPasswordPolicy, DeleteAccountPasswordPolicy).
//!
//! Passwords are hashed with Argon2id (PHC strings, random salt) and never stored, logged
//! or recorded in clear: inputs redact them in `Debug`, and CloudTrail's
//! `requestParameters` leave them out. The password policy, when the account has one, is
//! enforced on every password set (AWS: "must conform to the account's password policy,
//! if one exists").

use super::{access_keys, camel_json, error::IamError, model, users};
use crate::{
    authz::AuthzCheck,
    context::{PrincipalKind, RequestContext},
    env::Env,
    error::ApiError,
    input::Input,
    Reply,
};
use argon2::{
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};
use palisade_store::{ReadTx, WriteTx};

const TABLE: &str = "loginprofile";
const POLICY_ITEM: &str = "password-policy";
/// AWS's answer for any password the account's policy refuses.
const VIOLATION: &str = "Password does not conform to the account password policy.";
/// Symbols AWS's password policy counts (IAM User Guide, "Setting an account password policy").
const SYMBOLS: &str = "!@#$%^&*()_+-=[]{}|'";

#[derive(Debug)]
pub enum Operation {
    CreateLoginProfile(CreateLoginProfileInput),
    GetLoginProfile(OptionalUserInput),
    UpdateLoginProfile(UpdateLoginProfileInput),
    DeleteLoginProfile(OptionalUserInput),
    ChangePassword(ChangePasswordInput),
    UpdateAccountPasswordPolicy(PasswordPolicyInput),
    GetAccountPasswordPolicy,
    DeleteAccountPasswordPolicy,
}

pub fn decode(
    action: &str,
    input: &Input<'_>,
) -> Option<Result<Box<dyn crate::Operation>, ApiError>> {
    let op = match action {
        "CreateLoginProfile" => input.parse().map(Operation::CreateLoginProfile),
        "GetLoginProfile" => input.parse().map(Operation::GetLoginProfile),
        "UpdateLoginProfile" => input.parse().map(Operation::UpdateLoginProfile),
        "DeleteLoginProfile" => input.parse().map(Operation::DeleteLoginProfile),
        "ChangePassword" => input.parse().map(Operation::ChangePassword),
        "UpdateAccountPasswordPolicy" => input.parse().map(Operation::UpdateAccountPasswordPolicy),
        "GetAccountPasswordPolicy" => Ok(Operation::GetAccountPasswordPolicy),
        "DeleteAccountPasswordPolicy" => Ok(Operation::DeleteAccountPasswordPolicy),
        _ => return None,
    };
    Some(op.map(|op| Box::new(op) as Box<dyn crate::Operation>))
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateLoginProfileInput {
    #[serde(default)]
    pub user_name: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub password_reset_required: Option<bool>,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct OptionalUserInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateLoginProfileInput {
    pub user_name: String,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub password_reset_required: Option<bool>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChangePasswordInput {
    pub old_password: String,
    pub new_password: String,
}

macro_rules! redacted_debug {
    ($t:ty, $name:literal, [$($field:ident),*]) => {
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct($name)
                    $(.field(stringify!($field), &self.$field))*
                    .finish_non_exhaustive()
            }
        }
    };
}
redacted_debug!(
    CreateLoginProfileInput,
    "CreateLoginProfileInput",
    [user_name, password_reset_required]
);
redacted_debug!(
    UpdateLoginProfileInput,
    "UpdateLoginProfileInput",
    [user_name, password_reset_required]
);
redacted_debug!(ChangePasswordInput, "ChangePasswordInput", []);

#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PasswordPolicyInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_password_length: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_symbols: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_numbers: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_uppercase_characters: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_lowercase_characters: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_users_to_change_password: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_password_age: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_reuse_prevention: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hard_expiry: Option<bool>,
}

/// The account password policy (IAM's `PasswordPolicy` shape, stored as is).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PasswordPolicy {
    pub minimum_password_length: i64,
    pub require_symbols: bool,
    pub require_numbers: bool,
    pub require_uppercase_characters: bool,
    pub require_lowercase_characters: bool,
    pub allow_users_to_change_password: bool,
    pub expire_passwords: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_password_age: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_reuse_prevention: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hard_expiry: Option<bool>,
}

/// A user's login profile. `PasswordHash` and `PreviousHashes` are Argon2id PHC strings.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoginProfileRecord {
    pub user_name: String,
    pub create_date: String,
    pub password_reset_required: bool,
    pub password_hash: String,
    pub password_last_changed: String,
    /// Earlier passwords, newest first (for PasswordReusePrevention; at most 24 kept).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub previous_hashes: Vec<String>,
}

/// `LoginProfile` as outputs show it.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoginProfile {
    pub user_name: String,
    pub create_date: String,
    pub password_reset_required: bool,
}

impl From<&LoginProfileRecord> for LoginProfile {
    fn from(r: &LoginProfileRecord) -> Self {
        LoginProfile {
            user_name: r.user_name.clone(),
            create_date: r.create_date.clone(),
            password_reset_required: r.password_reset_required,
        }
    }
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoginProfileOutput {
    pub login_profile: LoginProfile,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PasswordPolicyOutput {
    pub password_policy: PasswordPolicy,
}

// ---- records -----------------------------------------------------------------------

/// The login profile of `user`, if any.
pub fn get_profile(
    tx: &dyn ReadTx,
    account: &str,
    user: &str,
) -> Result<Option<LoginProfileRecord>, ApiError> {
    model::get(tx, &model::entity_key(account, TABLE, user))
}

fn load_profile(
    tx: &dyn ReadTx,
    account: &str,
    user: &str,
) -> Result<LoginProfileRecord, ApiError> {
    get_profile(tx, account, user)?.ok_or_else(|| {
        IamError::NoSuchEntity(format!("Login Profile for User {user} cannot be found.")).into()
    })
}

/// The account's password policy, if one is set.
pub fn get_policy(tx: &dyn ReadTx, account: &str) -> Result<Option<PasswordPolicy>, ApiError> {
    model::get(tx, &model::account_item_key(account, POLICY_ITEM))
}

// ---- passwords ---------------------------------------------------------------------

fn validate_password(field: &str, password: &str) -> Result<(), IamError> {
    let len = password.chars().count();
    let chars_ok = password
        .chars()
        .all(|c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{FF}'));
    // The value is a secret: AWS does not echo it, nor do we. The first bound violated
    // is named (an empty password is under the minimum, not over the maximum).
    let rule = if len == 0 {
        "have length greater than or equal to 1"
    } else if len > 128 {
        "have length less than or equal to 128"
    } else if !chars_ok {
        "satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u00FF]+"
    } else {
        return Ok(());
    };
    Err(IamError::Validation(format!(
        "1 validation error detected: Value at '{field}' failed to satisfy constraint: Member must {rule}"
    )))
}

/// Checks a new password against the account's policy, or AWS's default one when the
/// account has none (IAM User Guide, "Set an account password policy for IAM users":
/// at least 8 characters and three of uppercase, lowercase, numbers and symbols).
pub fn check_policy(policy: Option<&PasswordPolicy>, password: &str) -> Result<(), IamError> {
    let Some(p) = policy else {
        let kinds = [
            password.chars().any(|c| c.is_ascii_uppercase()),
            password.chars().any(|c| c.is_ascii_lowercase()),
            password.chars().any(|c| c.is_ascii_digit()),
            password.chars().any(|c| SYMBOLS.contains(c)),
        ];
        let default_ok = password.chars().count() >= 8 && kinds.iter().filter(|k| **k).count() >= 3;
        return if default_ok {
            Ok(())
        } else {
            Err(IamError::PasswordPolicyViolation(VIOLATION.into()))
        };
    };
    let len = i64::try_from(password.chars().count()).unwrap_or(i64::MAX);
    let fails = len < p.minimum_password_length
        || (p.require_symbols && !password.chars().any(|c| SYMBOLS.contains(c)))
        || (p.require_numbers && !password.chars().any(|c| c.is_ascii_digit()))
        || (p.require_uppercase_characters && !password.chars().any(|c| c.is_ascii_uppercase()))
        || (p.require_lowercase_characters && !password.chars().any(|c| c.is_ascii_lowercase()));
    if fails {
        Err(IamError::PasswordPolicyViolation(VIOLATION.into()))
    } else {
        Ok(())
    }
}

/// An Argon2id PHC string for `password` with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let mut salt = [0u8; 16];
    palisade_store::seal::fill_random(&mut salt)
        .map_err(|_| ApiError::internal("random source failed"))?;
    let salt = SaltString::encode_b64(&salt).map_err(ApiError::internal)?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(ApiError::internal)
}

/// Whether `password` matches a PHC string from [`hash_password`].
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Sets a new password on `profile`, enforcing reuse prevention.
fn set_password(
    profile: &mut LoginProfileRecord,
    policy: Option<&PasswordPolicy>,
    password: &str,
    now: &str,
) -> Result<(), ApiError> {
    if let Some(n) = policy.and_then(|p| p.password_reuse_prevention) {
        let n = usize::try_from(n).unwrap_or(0);
        let reused = std::iter::once(&profile.password_hash)
            .chain(profile.previous_hashes.iter())
            .take(n)
            .any(|h| verify_password(password, h));
        if reused {
            return Err(IamError::PasswordPolicyViolation(VIOLATION.into()).into());
        }
    }
    let new_hash = hash_password(password)?;
    let old = std::mem::replace(&mut profile.password_hash, new_hash);
    profile.previous_hashes.insert(0, old);
    profile.previous_hashes.truncate(24);
    profile.password_last_changed = now.to_owned();
    Ok(())
}

fn policy_from_input(i: &PasswordPolicyInput) -> Result<PasswordPolicy, IamError> {
    let range = |field: &str, v: Option<i64>, min: i64, max: i64| -> Result<(), IamError> {
        match v {
            Some(v) if v < min => Err(IamError::Validation(format!(
                "1 validation error detected: Value '{v}' at '{field}' failed to satisfy constraint: Member must have value greater than or equal to {min}"
            ))),
            Some(v) if v > max => Err(IamError::Validation(format!(
                "1 validation error detected: Value '{v}' at '{field}' failed to satisfy constraint: Member must have value less than or equal to {max}"
            ))),
            _ => Ok(()),
        }
    };
    range("minimumPasswordLength", i.minimum_password_length, 6, 128)?;
    range("maxPasswordAge", i.max_password_age, 1, 1095)?;
    range(
        "passwordReusePrevention",
        i.password_reuse_prevention,
        1,
        24,
    )?;
    // Members left out take their defaults (UpdateAccountPasswordPolicy's documentation).
    Ok(PasswordPolicy {
        minimum_password_length: i.minimum_password_length.unwrap_or(6),
        require_symbols: i.require_symbols.unwrap_or(false),
        require_numbers: i.require_numbers.unwrap_or(false),
        require_uppercase_characters: i.require_uppercase_characters.unwrap_or(false),
        require_lowercase_characters: i.require_lowercase_characters.unwrap_or(false),
        allow_users_to_change_password: i.allow_users_to_change_password.unwrap_or(false),
        expire_passwords: i.max_password_age.is_some(),
        max_password_age: i.max_password_age,
        password_reuse_prevention: i.password_reuse_prevention,
        hard_expiry: i.hard_expiry,
    })
}

/// The IAM user a login-profile call is about (`UserName`, or the calling user).
fn target_user(ctx: &RequestContext, given: Option<&str>) -> Result<String, ApiError> {
    match access_keys::subject(ctx, given)? {
        access_keys::Subject::User(name) => Ok(name),
        access_keys::Subject::Root => Err(IamError::Validation(
            "Must specify userName when calling with non-User credentials".into(),
        )
        .into()),
    }
}

impl crate::Operation for Operation {
    fn name(&self) -> &'static str {
        match self {
            Operation::CreateLoginProfile(_) => "CreateLoginProfile",
            Operation::GetLoginProfile(_) => "GetLoginProfile",
            Operation::UpdateLoginProfile(_) => "UpdateLoginProfile",
            Operation::DeleteLoginProfile(_) => "DeleteLoginProfile",
            Operation::ChangePassword(_) => "ChangePassword",
            Operation::UpdateAccountPasswordPolicy(_) => "UpdateAccountPasswordPolicy",
            Operation::GetAccountPasswordPolicy => "GetAccountPasswordPolicy",
            Operation::DeleteAccountPasswordPolicy => "DeleteAccountPasswordPolicy",
        }
    }

    fn read_only(&self) -> bool {
        matches!(
            self,
            Operation::GetLoginProfile(_) | Operation::GetAccountPasswordPolicy
        )
    }

    fn authz(&self, ctx: &RequestContext) -> Vec<AuthzCheck> {
        let user = |given: Option<&str>| access_keys::subject_arn(ctx, given);
        let check = match self {
            Operation::CreateLoginProfile(i) => {
                AuthzCheck::new("iam:CreateLoginProfile", user(i.user_name.as_deref()))
            }
            Operation::GetLoginProfile(i) => {
                AuthzCheck::new("iam:GetLoginProfile", user(i.user_name.as_deref()))
            }
            Operation::UpdateLoginProfile(i) => {
                AuthzCheck::new("iam:UpdateLoginProfile", user(Some(&i.user_name)))
            }
            Operation::DeleteLoginProfile(i) => {
                AuthzCheck::new("iam:DeleteLoginProfile", user(i.user_name.as_deref()))
            }
            Operation::ChangePassword(_) => AuthzCheck::new("iam:ChangePassword", user(None)),
            Operation::UpdateAccountPasswordPolicy(_) => {
                AuthzCheck::new("iam:UpdateAccountPasswordPolicy", "*")
            }
            Operation::GetAccountPasswordPolicy => {
                AuthzCheck::new("iam:GetAccountPasswordPolicy", "*")
            }
            Operation::DeleteAccountPasswordPolicy => {
                AuthzCheck::new("iam:DeleteAccountPasswordPolicy", "*")
            }
        };
        vec![check]
    }

    fn request_parameters(&self) -> Option<serde_json::Value> {
        match self {
            // Passwords are never recorded.
            Operation::CreateLoginProfile(i) => Some(serde_json::json!({
                "userName": i.user_name,
                "passwordResetRequired": i.password_reset_required.unwrap_or(false),
            })),
            Operation::UpdateLoginProfile(i) => {
                let mut v = serde_json::json!({ "userName": i.user_name });
                if let (Some(r), Some(m)) = (i.password_reset_required, v.as_object_mut()) {
                    m.insert("passwordResetRequired".into(), r.into());
                }
                Some(v)
            }
            Operation::GetLoginProfile(i) | Operation::DeleteLoginProfile(i) => camel_json(i),
            Operation::ChangePassword(_) => None,
            Operation::UpdateAccountPasswordPolicy(i) => camel_json(i),
            Operation::GetAccountPasswordPolicy | Operation::DeleteAccountPasswordPolicy => None,
        }
    }

    fn read(&self, tx: &dyn ReadTx, _env: &Env, ctx: &RequestContext) -> Result<Reply, ApiError> {
        let account = &ctx.principal.account_id;
        match self {
            Operation::GetLoginProfile(i) => {
                let name = target_user(ctx, i.user_name.as_deref())?;
                users::load(tx, account, &name)?;
                let profile = load_profile(tx, account, &name)?;
                Ok(Reply::new(LoginProfileOutput {
                    login_profile: LoginProfile::from(&profile),
                }))
            }
            Operation::GetAccountPasswordPolicy => {
                let policy = get_policy(tx, account)?.ok_or_else(|| {
                    IamError::NoSuchEntity(format!(
                        "The Password Policy with domain name {account} cannot be found."
                    ))
                })?;
                Ok(Reply::new(PasswordPolicyOutput {
                    password_policy: policy,
                }))
            }
            _ => Err(ApiError::internal(
                "read() on a mutating IAM login profile operation",
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
        let now = model::iso(ctx.now);
        let user_resource = |u: &model::User| vec![("AWS::IAM::User".to_owned(), u.arn.clone())];
        match self {
            Operation::CreateLoginProfile(i) => {
                let name = target_user(ctx, i.user_name.as_deref())?;
                let password = i.password.as_deref().ok_or_else(|| {
                    IamError::Validation(
                        "1 validation error detected: Value null at 'password' failed to satisfy constraint: Member must not be null".into(),
                    )
                })?;
                validate_password("password", password)?;
                let user = users::load(tx, account, &name)?;
                if get_profile(tx, account, &name)?.is_some() {
                    return Err(IamError::EntityAlreadyExists(format!(
                        "Login Profile for user {} already exists.",
                        user.user_name
                    ))
                    .into());
                }
                check_policy(get_policy(tx, account)?.as_ref(), password)?;
                let profile = LoginProfileRecord {
                    user_name: user.user_name.clone(),
                    create_date: now.clone(),
                    password_reset_required: i.password_reset_required.unwrap_or(false),
                    password_hash: hash_password(password)?,
                    password_last_changed: now,
                    previous_hashes: Vec::new(),
                };
                model::put(tx, &model::entity_key(account, TABLE, &name), &profile)?;
                let out = LoginProfileOutput {
                    login_profile: LoginProfile::from(&profile),
                };
                let mut reply_elements = camel_json(&out);
                let mut reply = Reply::new(out);
                reply.response_elements = reply_elements.take();
                reply.resources = user_resource(&user);
                Ok(reply)
            }
            Operation::UpdateLoginProfile(i) => {
                model::validate_name("userName", &i.user_name, 64)?;
                if let Some(p) = &i.password {
                    validate_password("password", p)?;
                }
                let user = users::load(tx, account, &i.user_name)?;
                let mut profile = load_profile(tx, account, &i.user_name)?;
                if let Some(p) = &i.password {
                    let policy = get_policy(tx, account)?;
                    check_policy(policy.as_ref(), p)?;
                    set_password(&mut profile, policy.as_ref(), p, &now)?;
                }
                if let Some(r) = i.password_reset_required {
                    profile.password_reset_required = r;
                }
                model::put(
                    tx,
                    &model::entity_key(account, TABLE, &i.user_name),
                    &profile,
                )?;
                let mut reply = Reply::empty();
                reply.resources = user_resource(&user);
                Ok(reply)
            }
            Operation::DeleteLoginProfile(i) => {
                let name = target_user(ctx, i.user_name.as_deref())?;
                let user = users::load(tx, account, &name)?;
                load_profile(tx, account, &name)?;
                tx.delete(&model::entity_key(account, TABLE, &name))?;
                let mut reply = Reply::empty();
                reply.resources = user_resource(&user);
                Ok(reply)
            }
            Operation::ChangePassword(i) => {
                validate_password("oldPassword", &i.old_password)?;
                validate_password("newPassword", &i.new_password)?;
                if ctx.principal.kind != PrincipalKind::IAMUser || ctx.principal.session.is_some() {
                    return Err(ApiError::new(
                        "InvalidUserType",
                        400,
                        "Only IAM users can change their own password.",
                    ));
                }
                let name = ctx.principal.user_name.clone();
                let user = users::load(tx, account, &name)?;
                let mut profile = load_profile(tx, account, &name)?;
                if !verify_password(&i.old_password, &profile.password_hash) {
                    return Err(ApiError::new(
                        "AccessDenied",
                        403,
                        "The old password provided is incorrect.",
                    ));
                }
                let policy = get_policy(tx, account)?;
                check_policy(policy.as_ref(), &i.new_password)?;
                set_password(&mut profile, policy.as_ref(), &i.new_password, &now)?;
                profile.password_reset_required = false;
                model::put(tx, &model::entity_key(account, TABLE, &name), &profile)?;
                let mut reply = Reply::empty();
                reply.resources = user_resource(&user);
                Ok(reply)
            }
            Operation::UpdateAccountPasswordPolicy(i) => {
                let policy = policy_from_input(i)?;
                model::put(tx, &model::account_item_key(account, POLICY_ITEM), &policy)?;
                Ok(Reply::empty())
            }
            Operation::DeleteAccountPasswordPolicy => {
                let key = model::account_item_key(account, POLICY_ITEM);
                if tx.get(&key)?.is_none() {
                    return Err(IamError::NoSuchEntity(format!(
                        "The account policy with name PasswordPolicy cannot be found. ({account})"
                    ))
                    .into());
                }
                tx.delete(&key)?;
                Ok(Reply::empty())
            }
            _ => Err(ApiError::internal(
                "write() on a read-only IAM login profile operation",
            )),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ_by_salt() {
        let a = hash_password("Correct-Horse-1").unwrap();
        let b = hash_password("Correct-Horse-1").unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("$argon2id$"));
        assert!(!a.contains("Correct-Horse-1"));
        assert!(verify_password("Correct-Horse-1", &a));
        assert!(!verify_password("correct-horse-1", &a));
        assert!(!verify_password("x", "not a phc string"));
    }

    #[test]
    fn policy_rules() {
        let policy = policy_from_input(&PasswordPolicyInput {
            minimum_password_length: Some(10),
            require_symbols: Some(true),
            require_numbers: Some(true),
            require_uppercase_characters: Some(true),
            require_lowercase_characters: Some(true),
            ..Default::default()
        })
        .unwrap();
        let cases = [
            ("Abcdef12!x", true),
            ("Abcdef12!", false),
            ("abcdefg12!x", false),
            ("ABCDEFG12!X", false),
            ("Abcdefgh!xy", false),
            ("Abcdefgh12x", false),
        ];
        for (pw, ok) in cases {
            assert_eq!(check_policy(Some(&policy), pw).is_ok(), ok, "{pw}");
        }
        // No account policy: AWS's default (8 characters, three of the four kinds).
        for (pw, ok) in [
            ("a", false),
            ("aaaaaaaa", false),
            ("Abcdefg1", true),
            ("abcdef1!", true),
            ("ABCDEFG!", false),
            ("Ab1!", false),
        ] {
            assert_eq!(check_policy(None, pw).is_ok(), ok, "{pw}");
        }
        assert!(policy_from_input(&PasswordPolicyInput {
            minimum_password_length: Some(5),
            ..Default::default()
        })
        .is_err());
        assert!(policy_from_input(&PasswordPolicyInput {
            password_reuse_prevention: Some(25),
            ..Default::default()
        })
        .is_err());
    }
}
