//! Principals named in resource-based policies (role trust policies, KMS key policies,
//! Secrets Manager resource policies) are resolved when the policy is saved, as AWS
//! does: an IAM user or role that does not exist, or a user or role ARN with a wildcard
//! in its name, is refused then, each service in its own words. Only accounts this
//! server holds can be checked; an ARN in any other account is taken as written (it may
//! be a real account's). The users and roles a saved policy names are indexed
//! ([`update_references`]) so that deleting or moving one rewrites the policy as AWS's
//! unique-id binding shows it.

use super::model;
use crate::{error::ApiError, keyspace};
use palisade_store::{ReadTx, WriteTx};
use serde_json::Value;

/// The first `AWS` principal of `doc` (in `Principal` or `NotPrincipal`) that names an
/// IAM user or role missing from an account this server holds; `None` when every one
/// resolves (or `doc` is not JSON: syntax is checked elsewhere).
pub fn missing_principal(tx: &dyn ReadTx, doc: &str) -> Result<Option<String>, ApiError> {
    let Ok(mut root) = serde_json::from_str::<Value>(doc) else {
        return Ok(None);
    };
    for arn in aws_principals(&mut root) {
        if !resolves(tx, &arn)? {
            return Ok(Some(arn));
        }
    }
    Ok(None)
}

/// The `AWS` members of a policy's statements' `Principal` and `NotPrincipal`: a string or
/// a list of them each. Mutable, for [`replace_principal`].
fn aws_entries(root: &mut Value) -> Vec<&mut Value> {
    let statements: Vec<&mut Value> = match root.get_mut("Statement") {
        Some(Value::Array(a)) => a.iter_mut().collect(),
        Some(s @ Value::Object(_)) => vec![s],
        _ => return Vec::new(),
    };
    let mut out = Vec::new();
    for st in statements {
        let Value::Object(members) = st else {
            continue;
        };
        for (name, p) in members.iter_mut() {
            if name == "Principal" || name == "NotPrincipal" {
                if let Some(aws) = p.get_mut("AWS") {
                    out.push(aws);
                }
            }
        }
    }
    out
}

/// The `AWS` principals of a policy's statements, in `Principal` and `NotPrincipal`.
fn aws_principals(root: &mut Value) -> Vec<String> {
    let mut out = Vec::new();
    for entry in aws_entries(root) {
        match entry {
            Value::String(s) => out.push(s.clone()),
            Value::Array(a) => out.extend(a.iter().filter_map(Value::as_str).map(str::to_owned)),
            _ => {}
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
    pub fn of_key(k: &crate::kms::store::KeyRecord) -> Referrer {
        Referrer::KeyPolicy {
            account: k.account.clone(),
            region: k.region.clone(),
            key_id: k.key_id.clone(),
        }
    }

    pub fn of_secret(s: &crate::secrets::SecretRecord) -> Referrer {
        Referrer::SecretPolicy {
            account: s.account.clone(),
            region: s.region.clone(),
            name: s.name.clone(),
        }
    }

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
/// existing users and roles the policy `new` of `referrer` names, in place of those its
/// earlier text `old` named, so that deleting or moving one rewrites the policy
/// ([`principal_deleted`], [`principal_renamed`]). `new` `None`: the policy (or what
/// holds it) is gone. Principals in accounts this server does not hold are kept as
/// written.
pub fn update_references(
    tx: &mut dyn WriteTx,
    old: Option<&str>,
    new: Option<&str>,
    referrer: &Referrer,
) -> Result<(), ApiError> {
    let named = |doc: Option<&str>| -> Vec<String> {
        doc.and_then(|d| serde_json::from_str::<Value>(d).ok())
            .map(|mut root| {
                let mut arns = aws_principals(&mut root);
                arns.retain(|a| iam_principal_parts(a).is_some());
                arns
            })
            .unwrap_or_default()
    };
    let (before, after) = (named(old), named(new));
    let id = referrer.id();
    for arn in before.iter().filter(|a| !after.contains(a)) {
        tx.delete(&keyspace::principal_reference(arn, &id))?;
    }
    let value = serde_json::to_vec(referrer).map_err(ApiError::internal)?;
    for arn in &after {
        if resolves(tx, arn)? {
            tx.put(&keyspace::principal_reference(arn, &id), &value)?;
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
    for aws in aws_entries(&mut root) {
        fix(aws);
    }
    changed.then(|| root.to_string())
}

/// An IAM user or role ARN in any spelling the policy engine takes as one (`arn:*:iam:*:
/// ACCOUNT:user/...` or `role/...`): (partition, region, account, table, path and name).
fn iam_principal_parts(arn: &str) -> Option<(&str, &str, &str, &str, &str)> {
    let Some([_, partition, "iam", region, account, res]) = palisade_policy::split_arn(arn) else {
        return None;
    };
    match res.split_once('/') {
        Some((table @ ("user" | "role"), path_name)) => {
            Some((partition, region, account, table, path_name))
        }
        _ => None,
    }
}

/// Whether `arn` names an IAM user or role that exists, or anything else this check
/// takes as written (an account, a session, an account this server does not hold).
fn resolves(tx: &dyn ReadTx, arn: &str) -> Result<bool, ApiError> {
    let Some((partition, region, account, table, path_name)) = iam_principal_parts(arn) else {
        return Ok(true);
    };
    // A user or role ARN names no region, and Palisade's partition is `aws`: written
    // otherwise it names no principal (and would escape the unique-id binding).
    if partition != "aws" || !region.is_empty() {
        return Ok(false);
    }
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

/// The store's marker that every policy saved before the principal index existed has
/// been indexed ([`index_existing`]).
const INDEXED: &str = "principal-references-v1";

/// Whether a data dir still needs [`index_existing`] (one written before the index).
pub fn needs_indexing(tx: &dyn ReadTx) -> Result<bool, palisade_store::StoreError> {
    Ok(tx.get(&keyspace::meta(INDEXED))?.is_none())
}

/// Marks a data dir as indexed: a new (or reset) one, whose policies are all indexed as
/// they are saved.
pub fn mark_indexed(tx: &mut dyn WriteTx) -> Result<(), palisade_store::StoreError> {
    tx.put(&keyspace::meta(INDEXED), b"1")
}

/// Indexes every stored trust, key and secret policy, once per data dir: policies saved
/// before the index existed are bound like those saved since. Returns how many policies
/// were read.
pub fn index_existing(tx: &mut dyn WriteTx) -> Result<usize, ApiError> {
    let mut n = 0;
    let accounts = model::scan_all(tx, &keyspace::accounts())?;
    for (key, _) in accounts {
        let mut d = palisade_store::keys::Decoder::new(&key);
        let (Ok(_), Ok(account)) = (d.str(), d.str()) else {
            continue;
        };
        for (_, raw) in model::scan_all(tx, &model::table_prefix(&account, "role"))? {
            let Ok(role) = serde_json::from_slice::<model::Role>(&raw) else {
                continue;
            };
            let referrer = Referrer::RoleTrust {
                account: account.clone(),
                role: role.role_name.clone(),
            };
            update_references(tx, None, Some(&role.assume_role_policy_document), &referrer)?;
            n += 1;
        }
    }
    for k in crate::kms::store::every_key(tx)? {
        update_references(tx, None, Some(&k.policy), &Referrer::of_key(&k))?;
        n += 1;
    }
    for s in crate::secrets::all_policy_holders(tx)? {
        crate::secrets::policy_references(tx, &s, None)?;
        n += 1;
    }
    mark_indexed(tx)?;
    Ok(n)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::accounts::write_blocking;

    const ACCT: &str = "111122223333";
    const ALICE: &str = "arn:aws:iam::111122223333:user/alice";

    fn trust(principal: &str) -> String {
        serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"AWS": principal}, "Action": "sts:AssumeRole",
            "Condition": {"ArnEquals": {"aws:PrincipalArn": principal}}}]})
        .to_string()
    }

    fn role_doc(env: &crate::env::testing::TestEnv) -> String {
        let mut doc = String::new();
        env.store
            .read(&mut |tx| {
                doc = model::get::<model::Role>(tx, &model::entity_key(ACCT, "role", "deploy"))
                    .unwrap()
                    .unwrap()
                    .assume_role_policy_document;
                Ok(())
            })
            .unwrap();
        doc
    }

    /// A data dir written before the index: its stored policies are indexed once at
    /// start, and then a deleted principal's ARN becomes its unique id (only where it is a
    /// principal), while a differently spelled ARN names no principal at all.
    #[test]
    fn policies_saved_before_the_index_are_bound_once_indexed() {
        let env = crate::env::testing::test_env(ACCT);
        write_blocking(env.store.as_ref(), |tx| {
            tx.put(&keyspace::account(ACCT), b"{}")?;
            let user: model::User = serde_json::from_value(serde_json::json!({
                "Path": "/", "UserName": "alice", "UserId": "AIDAALICE0000000000000",
                "Arn": ALICE, "CreateDate": "2026-01-01T00:00:00Z"}))
            .unwrap();
            model::put(tx, &model::entity_key(ACCT, "user", "alice"), &user)?;
            let role: model::Role = serde_json::from_value(serde_json::json!({
                "Path": "/", "RoleName": "deploy", "RoleId": "AROADEPLOY000000000000",
                "Arn": "arn:aws:iam::111122223333:role/deploy", "CreateDate": "2026-01-01T00:00:00Z",
                "AssumeRolePolicyDocument": trust(ALICE), "MaxSessionDuration": 3600}))
            .unwrap();
            model::put(tx, &model::entity_key(ACCT, "role", "deploy"), &role)?;
            assert!(resolves(tx, ALICE)?);
            assert!(!resolves(tx, "arn:aws:iam:us-east-1:111122223333:user/alice")?);
            assert!(!resolves(tx, "arn:aws-cn:iam::111122223333:user/alice")?);
            assert!(needs_indexing(tx).unwrap());
            assert_eq!(index_existing(tx)?, 1);
            assert!(!needs_indexing(tx).unwrap());
            principal_deleted(tx, ALICE, "AIDAALICE0000000000000")
        })
        .unwrap();
        let doc: Value = serde_json::from_str(&role_doc(&env)).unwrap();
        let st = &doc["Statement"][0];
        assert_eq!(st["Principal"]["AWS"], "AIDAALICE0000000000000");
        assert_eq!(st["Condition"]["ArnEquals"]["aws:PrincipalArn"], ALICE);
        // The rewritten policy is still a policy the engine reads.
        palisade_policy::Policy::parse(&role_doc(&env), palisade_policy::PolicyKind::Resource)
            .unwrap();
    }
}
