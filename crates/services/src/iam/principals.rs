//! Principals named in resource-based policies (role trust policies, KMS key policies,
//! Secrets Manager resource policies) are resolved when the policy is saved, as AWS
//! does: an IAM user or role that does not exist, or a user or role ARN with a wildcard
//! in its name, is refused then, each service in its own words. Only accounts this
//! server holds can be checked; an ARN in any other account is taken as written (it may
//! be a real account's). The users and roles a saved policy names are indexed
//! ([`record_references`]) so that deleting or moving one rewrites the policy as AWS's
//! unique-id binding shows it.

use super::model;
use crate::{error::ApiError, keyspace};
use palisade_store::{ReadTx, WriteTx};
use serde_json::Value;

/// The first `AWS` principal of `doc` (in `Principal` or `NotPrincipal`) that names an
/// IAM user or role missing from an account this server holds; `None` when every one
/// resolves (or `doc` is not JSON: syntax is checked elsewhere).
pub fn missing_principal(tx: &dyn ReadTx, doc: &str) -> Result<Option<String>, ApiError> {
    let Ok(root) = serde_json::from_str::<Value>(doc) else {
        return Ok(None);
    };
    for arn in aws_principals(&root) {
        if !resolves(tx, arn)? {
            return Ok(Some(arn.to_owned()));
        }
    }
    Ok(None)
}

/// The `AWS` principals of a policy's statements, in `Principal` and `NotPrincipal`.
fn aws_principals(root: &Value) -> Vec<&str> {
    let statements: Vec<&Value> = match root.get("Statement") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(s @ Value::Object(_)) => vec![s],
        _ => return Vec::new(),
    };
    let mut out = Vec::new();
    for st in statements {
        for element in ["Principal", "NotPrincipal"] {
            match st.get(element).and_then(|p| p.get("AWS")) {
                Some(Value::String(s)) => out.push(s.as_str()),
                Some(Value::Array(a)) => out.extend(a.iter().filter_map(Value::as_str)),
                _ => {}
            }
        }
    }
    out
}

/// A stored policy that can name IAM principals: where it lives, to rewrite it when one
/// of them is deleted or renamed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Referrer {
    /// A role's trust policy.
    RoleTrust { account: String, role: String },
    /// A KMS key's key policy.
    KeyPolicy {
        account: String,
        region: String,
        key_id: String,
    },
    /// A Secrets Manager secret's resource policy (a primary's; its replicas mirror it).
    SecretPolicy {
        account: String,
        region: String,
        name: String,
    },
}

impl Referrer {
    fn id(&self) -> String {
        match self {
            Referrer::RoleTrust { account, role } => {
                format!("role/{account}/{}", role.to_lowercase())
            }
            Referrer::KeyPolicy {
                account,
                region,
                key_id,
            } => format!("key/{account}/{region}/{key_id}"),
            Referrer::SecretPolicy {
                account,
                region,
                name,
            } => format!("secret/{account}/{region}/{name}"),
        }
    }
}

/// Records, as AWS does when a policy is saved (IAM User Guide, Principal element: "IAM
/// transforms the ARN to the user's unique principal ID when you save the policy"), which
/// existing users and roles `doc` names, so that deleting or renaming one rewrites the
/// policy ([`principal_deleted`], [`principal_renamed`]). Principals in accounts this
/// server does not hold are kept as written.
pub fn record_references(
    tx: &mut dyn WriteTx,
    doc: &str,
    referrer: &Referrer,
) -> Result<(), ApiError> {
    let Ok(root) = serde_json::from_str::<Value>(doc) else {
        return Ok(());
    };
    let value = serde_json::to_vec(referrer).map_err(ApiError::internal)?;
    for arn in aws_principals(&root) {
        if is_user_or_role(arn) && resolves(tx, arn)? {
            tx.put(&keyspace::principal_reference(arn, &referrer.id()), &value)?;
        }
    }
    Ok(())
}

/// A user or role named `arn` (unique id `id`) was deleted: the policies that named it
/// name its unique id instead, which no principal is ("if you delete the user, then you
/// break the relationship. The policy no longer applies, even if you recreate the user
/// ... the principal ID appears in resource-based policies because AWS can no longer map
/// it back to a valid ARN").
pub fn principal_deleted(tx: &mut dyn WriteTx, arn: &str, id: &str) -> Result<(), ApiError> {
    retarget(tx, arn, id, false)
}

/// A user was renamed or moved: the policies that named its old ARN name the new one (they
/// hold its unique id on AWS, shown as its current ARN).
pub fn principal_renamed(tx: &mut dyn WriteTx, old: &str, new: &str) -> Result<(), ApiError> {
    retarget(tx, old, new, true)
}

fn retarget(
    tx: &mut dyn WriteTx,
    arn: &str,
    replacement: &str,
    still_named: bool,
) -> Result<(), ApiError> {
    let prefix = keyspace::principal_references(arn).finish();
    for (key, value) in model::scan_all(tx, &prefix)? {
        tx.delete(&key)?;
        let referrer: Referrer = serde_json::from_slice(&value).map_err(ApiError::internal)?;
        let Some(doc) = read_policy(tx, &referrer)? else {
            continue;
        };
        let Some(rewritten) = replace_principal(&doc, arn, replacement) else {
            continue;
        };
        write_policy(tx, &referrer, rewritten)?;
        if still_named {
            tx.put(
                &keyspace::principal_reference(replacement, &referrer.id()),
                &value,
            )?;
        }
    }
    Ok(())
}

fn read_policy(tx: &dyn ReadTx, referrer: &Referrer) -> Result<Option<String>, ApiError> {
    Ok(match referrer {
        Referrer::RoleTrust { account, role } => {
            model::get::<model::Role>(tx, &model::entity_key(account, "role", role))?
                .map(|r| r.assume_role_policy_document)
        }
        Referrer::KeyPolicy {
            account,
            region,
            key_id,
        } => crate::kms::store::get_key(tx, account, region, key_id)?.map(|k| k.policy),
        Referrer::SecretPolicy {
            account,
            region,
            name,
        } => crate::secrets::stored_policy(tx, account, region, name)?,
    })
}

fn write_policy(tx: &mut dyn WriteTx, referrer: &Referrer, doc: String) -> Result<(), ApiError> {
    match referrer {
        Referrer::RoleTrust { account, role } => {
            let key = model::entity_key(account, "role", role);
            if let Some(mut r) = model::get::<model::Role>(tx, &key)? {
                r.assume_role_policy_document = doc;
                model::put(tx, &key, &r)?;
            }
        }
        Referrer::KeyPolicy {
            account,
            region,
            key_id,
        } => {
            if let Some(mut k) = crate::kms::store::get_key(tx, account, region, key_id)? {
                k.policy = doc;
                crate::kms::store::put_key(tx, &k)?;
            }
        }
        Referrer::SecretPolicy {
            account,
            region,
            name,
        } => crate::secrets::replace_stored_policy(tx, account, region, name, &doc)?,
    }
    Ok(())
}

/// `doc` with `arn` replaced by `replacement` where it is an `AWS` principal (in
/// `Principal` or `NotPrincipal`; an ARN in a condition or resource stays); `None` when it
/// names `arn` nowhere there. The document is written again compactly, members in
/// alphabetical order.
fn replace_principal(doc: &str, arn: &str, replacement: &str) -> Option<String> {
    let mut root: Value = serde_json::from_str(doc).ok()?;
    let mut changed = false;
    let mut fix = |v: &mut Value| match v {
        Value::String(s) if s == arn => {
            *s = replacement.to_owned();
            changed = true;
        }
        Value::Array(items) => {
            for item in items {
                if item.as_str() == Some(arn) {
                    *item = Value::String(replacement.to_owned());
                    changed = true;
                }
            }
        }
        _ => {}
    };
    let statements: Vec<&mut Value> = match root.get_mut("Statement") {
        Some(Value::Array(a)) => a.iter_mut().collect(),
        Some(s @ Value::Object(_)) => vec![s],
        _ => return None,
    };
    for st in statements {
        for element in ["Principal", "NotPrincipal"] {
            if let Some(aws) = st.get_mut(element).and_then(|p| p.get_mut("AWS")) {
                fix(aws);
            }
        }
    }
    changed.then(|| root.to_string())
}

fn is_user_or_role(arn: &str) -> bool {
    arn.strip_prefix("arn:aws:iam::")
        .and_then(|rest| rest.split_once(':'))
        .is_some_and(|(_, res)| res.starts_with("user/") || res.starts_with("role/"))
}

/// Whether `arn` names an IAM user or role that exists, or anything else this check
/// takes as written (an account, a session, an account this server does not hold).
fn resolves(tx: &dyn ReadTx, arn: &str) -> Result<bool, ApiError> {
    let Some(rest) = arn.strip_prefix("arn:aws:iam::") else {
        return Ok(true);
    };
    let Some((account, resource)) = rest.split_once(':') else {
        return Ok(true);
    };
    let (table, path_name) = match resource.split_once('/') {
        Some(("user", p)) => ("user", p),
        Some(("role", p)) => ("role", p),
        _ => return Ok(true),
    };
    // "You cannot use a wildcard to match part of a principal name or ARN" (IAM User
    // Guide, Principal element): such an ARN names no principal.
    if path_name.contains(['*', '?']) {
        return Ok(false);
    }
    if tx.get(&keyspace::account(account))?.is_none() {
        return Ok(true);
    }
    let name = path_name.rsplit('/').next().unwrap_or(path_name);
    let key = model::entity_key(account, table, name);
    let stored_arn = if table == "user" {
        model::get::<model::User>(tx, &key)?.map(|u| u.arn)
    } else {
        model::get::<model::Role>(tx, &key)?.map(|r| r.arn)
    };
    Ok(stored_arn.as_deref() == Some(arn))
}
