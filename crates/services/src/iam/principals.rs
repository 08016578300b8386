//! Principals named in resource-based policies (role trust policies, KMS key policies,
//! Secrets Manager resource policies) are resolved when the policy is saved, as AWS
//! does: an IAM user or role that does not exist, or a user or role ARN with a wildcard
//! in its name, is refused then, each service in its own words. Only accounts this server holds can be checked; an ARN in any other account is
//! taken as written (it may be a real account's).

use super::model;
use crate::{error::ApiError, keyspace};
use palisade_store::ReadTx;
use serde_json::Value;

/// The first `AWS` principal of `doc` (in `Principal` or `NotPrincipal`) that names an
/// IAM user or role missing from an account this server holds; `None` when every one
/// resolves (or `doc` is not JSON: syntax is checked elsewhere).
pub fn missing_principal(tx: &dyn ReadTx, doc: &str) -> Result<Option<String>, ApiError> {
    let Ok(root) = serde_json::from_str::<Value>(doc) else {
        return Ok(None);
    };
    let statements: Vec<&Value> = match root.get("Statement") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(s @ Value::Object(_)) => vec![s],
        _ => return Ok(None),
    };
    for st in statements {
        for element in ["Principal", "NotPrincipal"] {
            let named: Vec<&str> = match st.get(element).and_then(|p| p.get("AWS")) {
                Some(Value::String(s)) => vec![s.as_str()],
                Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
                _ => continue,
            };
            for arn in named {
                if !resolves(tx, arn)? {
                    return Ok(Some(arn.to_owned()));
                }
            }
        }
    }
    Ok(None)
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
