//! Multi-Region secrets: a primary secret's replicas in other regions of the same
//! account, as AWS keeps them.
//!
//! A replica is an ordinary secret record in its region (same name, same ARN but for the
//! region, `primary_region` set) whose values are sealed again with the replica's own KMS
//! key in the replica region (`alias/aws/secretsmanager` there by default), through
//! [`crate::kms::internal`]; encryption context `SecretARN` is the replica's ARN. Every
//! write to the primary ends in [`save`], which mirrors the primary (versions and
//! staging labels, description, tags, resource policy, rotation configuration) into each
//! replica in the same store transaction; writes to a replica are refused
//! ([`not_on_replica`]). A replica that cannot be written (its KMS key disabled, deleted or
//! denied) keeps what it had and shows `Failed` with the reason in the primary's
//! ReplicationStatus; the next write to the primary tries again. A region that already
//! holds another secret of that name is left alone (`Failed`) unless
//! ForceOverwriteReplicaSecret. StopReplicationToReplica (in the replica's region) makes
//! the replica a standalone secret.

use super::{
    check_kms_key_id, check_len, err, get_secret, invalid_param, kms_failure, load, load_live,
    purge, put_secret, read_value, reply_for, value_key, Replica, SecretRecord, SecretValue,
    VersionRecord, SERVICE,
};
use crate::{
    context::RequestContext,
    env::Env,
    error::ApiError,
    kms::internal::{self as kms, Caller},
    Reply,
};
use palisade_store::{ReadTx, WriteTx};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

pub(super) const IN_SYNC: &str = "InSync";
pub(super) const FAILED: &str = "Failed";
const SUCCEEDED: &str = "Replication succeeded";
const DEFAULT_KEY: &str = "alias/aws/secretsmanager";

/// One entry of AddReplicaRegions.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReplicaRegion {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReplicateSecretToRegionsInput {
    pub secret_id: String,
    pub add_replica_regions: Vec<ReplicaRegion>,
    pub force_overwrite_replica_secret: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RemoveRegionsFromReplicationInput {
    pub secret_id: String,
    pub remove_replica_regions: Vec<String>,
}

/// AWS's answer to a write sent to a replica.
pub(crate) fn not_on_replica(s: &SecretRecord) -> Result<(), ApiError> {
    if s.primary_region.is_some() {
        return Err(invalid_param(
            "Operation not permitted on a replica secret. Call must be made in primary secret's region.",
        ));
    }
    Ok(())
}

/// The ARN of the replica of `primary_arn` in `region`: the same ARN, random suffix
/// included, with the replica's region.
pub(super) fn replica_arn(primary_arn: &str, region: &str) -> String {
    match super::parse_arn(primary_arn) {
        Some((_, account, res)) => {
            format!("arn:aws:secretsmanager:{region}:{account}:secret:{res}")
        }
        None => primary_arn.to_owned(),
    }
}

/// RegionType: 1 to 128 characters matching `^([a-z]+-)+\d+$`.
fn check_region(region: &str, member: &str) -> Result<(), ApiError> {
    check_len(region, member, 1, 128)?;
    let ok = region.rsplit_once('-').is_some_and(|(head, digits)| {
        !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && head
                .split('-')
                .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
    });
    if !ok {
        return Err(err(
            "ValidationException",
            format!("1 validation error detected: Value '{region}' at '{member}' failed to satisfy constraint: Member must satisfy regular expression pattern: ^([a-z]+-)+\\d+$"),
        ));
    }
    Ok(())
}

fn invalid_region() -> ApiError {
    invalid_param("Invalid replica region.")
}

/// Whether `region` is a region name of the aws partition, the one this server serves
/// (botocore's endpoints data: `^(us|eu|ap|sa|ca|me|af|il|mx)\-\w+\-\d+$`); a replica
/// elsewhere (`moon-1`, `cn-north-1`) is not a region AWS can replicate to from here.
fn in_aws_partition(region: &str) -> bool {
    let mut parts = region.split('-');
    let (Some(area), Some(name), Some(number), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    ["us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx"].contains(&area)
        && !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
}

fn region_ctx(ctx: &RequestContext, region: &str) -> RequestContext {
    let mut c = ctx.clone();
    c.region = region.to_owned();
    c
}

/// Whether `r` is the replica of primary `p` in its region.
fn is_replica_of(r: &SecretRecord, p: &SecretRecord) -> bool {
    r.primary_region.as_deref() == Some(p.region.as_str())
        && r.arn == replica_arn(&p.arn, &r.region)
}

/// Plaintexts of the primary's versions, decrypted at most once per call. The caller is
/// authorized for kms:Decrypt once per key; later versions under the same key are read
/// as the service (AWS decrypts and re-encrypts replicas itself).
struct Plaintexts<'a> {
    env: &'a Env,
    ctx: &'a RequestContext,
    caller: Caller,
    values: BTreeMap<String, SecretValue>,
    authorized: BTreeSet<String>,
}

impl Plaintexts<'_> {
    fn get(
        &mut self,
        tx: &dyn ReadTx,
        p: &SecretRecord,
        v: &VersionRecord,
    ) -> Result<SecretValue, ApiError> {
        if let Some(x) = self.values.get(&v.id) {
            return Ok(x.clone());
        }
        let caller =
            if self.caller == Caller::Principal && !self.authorized.contains(&v.kms_key_arn) {
                Caller::Principal
            } else {
                Caller::Service
            };
        let x = read_value(tx, self.env, self.ctx, caller, p, v)?;
        self.authorized.insert(v.kms_key_arn.clone());
        self.values.insert(v.id.clone(), x.clone());
        Ok(x)
    }
}

/// Writes the replica of `p` in `rep.region` from the primary: metadata copied, every
/// version's value sealed with the replica's key (values it already holds are kept).
/// The caller runs it in a savepoint: on error nothing of it stays.
fn write_replica(
    tx: &mut dyn WriteTx,
    plain: &mut Plaintexts<'_>,
    p: &SecretRecord,
    rep: &Replica,
) -> Result<(), ApiError> {
    let arn = replica_arn(&p.arn, &rep.region);
    let rctx = region_ctx(plain.ctx, &rep.region);
    let prev = get_secret(tx, &p.account, &rep.region, &p.name)?.filter(|r| is_replica_of(r, p));
    // A new KMS key for an existing replica: every value is sealed again.
    let old = prev.clone().filter(|o| o.kms_key_id == rep.kms_key_id);
    let mut r = SecretRecord {
        arn: arn.clone(),
        name: p.name.clone(),
        account: p.account.clone(),
        region: rep.region.clone(),
        description: p.description.clone(),
        kms_key_id: rep.kms_key_id.clone(),
        created: prev.as_ref().map_or(plain.ctx.now, |o| o.created),
        last_changed: p.last_changed,
        last_accessed: prev.as_ref().and_then(|o| o.last_accessed),
        last_rotated: p.last_rotated,
        deletion_date: None,
        tags: p.tags.clone(),
        policy: p.policy.clone(),
        rotation_enabled: p.rotation_enabled,
        rotation_lambda_arn: p.rotation_lambda_arn.clone(),
        rotation_rules: p.rotation_rules.clone(),
        next_rotation: p.next_rotation,
        last_rotation_failure: p.last_rotation_failure.clone(),
        versions: Vec::with_capacity(p.versions.len()),
        hook_run: None,
        replicas: Vec::new(),
        primary_region: Some(p.region.clone()),
    };
    let mut authorized = false;
    for v in &p.versions {
        let mut nv = v.clone();
        // A replica holds one ciphertext per version, under its own key.
        nv.prior_kms_key_arn = None;
        let kept = old.as_ref().and_then(|o| o.version(&v.id)).cloned();
        nv.last_accessed = kept.as_ref().and_then(|k| k.last_accessed);
        if v.empty {
            nv.kms_key_arn = String::new();
            r.versions.push(nv);
            continue;
        }
        if let Some(k) = kept.filter(|k| !k.empty && k.binary == v.binary) {
            if tx
                .get(&value_key(&r.account, &r.region, &r.arn, &v.id))?
                .is_some()
            {
                nv.kms_key_arn = k.kms_key_arn;
                r.versions.push(nv);
                continue;
            }
        }
        let value = plain.get(tx, p, v)?;
        // The caller is authorized for the replica's key once; the rest of this
        // replica's versions go under the same key.
        let caller = if authorized {
            Caller::Service
        } else {
            plain.caller
        };
        let (blob, key_arn) = kms::encrypt_for(
            tx,
            plain.env,
            &rctx,
            caller,
            r.kms_key_id.as_deref(),
            SERVICE,
            super::ENCRYPT_ACTIONS,
            value.bytes(),
            &super::enc_context(&r.arn, &v.id),
        )
        .map_err(kms_failure(false))?;
        authorized = true;
        tx.put(&value_key(&r.account, &r.region, &r.arn, &v.id), &blob)?;
        nv.kms_key_arn = key_arn;
        r.versions.push(nv);
    }
    // Values of versions the primary no longer has (pruned), or all of them under a
    // replaced key, go.
    if let Some(prev) = &prev {
        for ov in &prev.versions {
            if r.version(&ov.id).is_none_or(|nv| nv.empty) {
                tx.delete(&value_key(&r.account, &r.region, &r.arn, &ov.id))?;
            }
        }
    }
    put_secret(tx, &r)
}

/// Runs [`write_replica`] in a savepoint. `Ok(None)`: done; `Ok(Some(message))`: the
/// replica could not be written (nothing of the attempt stays); `Err`: an internal failure.
fn try_write_replica(
    tx: &mut dyn WriteTx,
    plain: &mut Plaintexts<'_>,
    p: &SecretRecord,
    rep: &Replica,
) -> Result<Option<String>, ApiError> {
    let mut outcome: Result<(), ApiError> = Ok(());
    tx.nested(&mut |tx| {
        outcome = write_replica(tx, plain, p, rep);
        outcome.is_ok()
    })?;
    match outcome {
        Ok(()) => Ok(None),
        Err(e) if e.is_internal() => Err(e),
        Err(e) => Ok(Some(e.message)),
    }
}

fn plaintexts<'a>(
    env: &'a Env,
    ctx: &'a RequestContext,
    caller: Caller,
    fresh: &[(String, SecretValue)],
) -> Plaintexts<'a> {
    Plaintexts {
        env,
        ctx,
        caller,
        values: fresh.iter().cloned().collect(),
        authorized: BTreeSet::new(),
    }
}

/// Stores primary `s` and mirrors it into its replicas, in this transaction. `fresh`
/// holds values the operation has in hand (version id, value), so they need no
/// decryption. Replicas whose first replication failed are not retried (AWS retries them
/// only when asked again, with ReplicateSecretToRegions).
pub(crate) fn save(
    tx: &mut dyn WriteTx,
    env: &Env,
    ctx: &RequestContext,
    caller: Caller,
    s: &mut SecretRecord,
    fresh: &[(String, SecretValue)],
) -> Result<(), ApiError> {
    if s.primary_region.is_none() && !s.replicas.is_empty() {
        let mut plain = plaintexts(env, ctx, caller, fresh);
        let snapshot = s.clone();
        for rep in &mut s.replicas {
            let exists = get_secret(tx, &snapshot.account, &rep.region, &snapshot.name)?
                .is_some_and(|r| is_replica_of(&r, &snapshot));
            if !exists {
                continue;
            }
            match try_write_replica(tx, &mut plain, &snapshot, rep)? {
                None => {
                    rep.status = IN_SYNC.into();
                    rep.status_message = Some(SUCCEEDED.into());
                }
                Some(message) => {
                    rep.status = FAILED.into();
                    rep.status_message = Some(message);
                }
            }
        }
    }
    put_secret(tx, s)
}

/// Replicates primary `p` to `regions` (CreateSecret's AddReplicaRegions,
/// ReplicateSecretToRegions) and stores it. Returns the requested regions' statuses.
#[allow(clippy::too_many_arguments)]
pub(super) fn add_replicas(
    tx: &mut dyn WriteTx,
    env: &Env,
    ctx: &RequestContext,
    p: &mut SecretRecord,
    regions: &[ReplicaRegion],
    force: bool,
    fresh: &[(String, SecretValue)],
) -> Result<Vec<Replica>, ApiError> {
    let mut wanted: Vec<(String, Option<String>)> = Vec::new();
    for r in regions {
        let region = r.region.clone().ok_or_else(invalid_region)?;
        if region == p.region || !in_aws_partition(&region) {
            return Err(invalid_region());
        }
        let key = r.kms_key_id.clone().filter(|k| !k.is_empty());
        match wanted.iter_mut().find(|(w, _)| *w == region) {
            Some(w) => w.1 = key,
            None => wanted.push((region, key)),
        }
    }
    let mut plain = plaintexts(env, ctx, Caller::Principal, fresh);
    let mut out = Vec::new();
    for (region, key) in wanted {
        let mut rep = Replica {
            region: region.clone(),
            kms_key_id: key,
            status: IN_SYNC.into(),
            status_message: Some(SUCCEEDED.into()),
        };
        let mut blocked = None;
        if let Some(e) = get_secret(tx, &p.account, &region, &p.name)? {
            if e.gone(ctx.now) {
                purge(tx, &e)?;
            } else if is_replica_of(&e, p) {
                // Already this secret's replica: brought up to date (with a new key if
                // one is given).
            } else if force && e.primary_region.is_none() && e.replicas.is_empty() {
                purge(tx, &e)?;
            } else {
                blocked = Some(format!(
                    "Replication failed: Secret name {} already exists in region {region}.",
                    p.name
                ));
            }
        }
        let failure = match blocked {
            Some(m) => Some(m),
            None => try_write_replica(tx, &mut plain, p, &rep)?,
        };
        if let Some(m) = failure {
            rep.status = FAILED.into();
            rep.status_message = Some(m);
            // Nothing of this attempt stays (an earlier replica of this secret there, if
            // any, keeps what it had).
        }
        match p.replicas.iter_mut().find(|x| x.region == region) {
            Some(x) => *x = rep.clone(),
            None => p.replicas.push(rep.clone()),
        }
        out.push(rep);
    }
    put_secret(tx, p)?;
    Ok(out)
}

/// Validates an AddReplicaRegions list (before anything is read).
pub(super) fn check_add_regions(regions: &[ReplicaRegion]) -> Result<(), ApiError> {
    if regions.is_empty() {
        return Err(err(
            "ValidationException",
            "1 validation error detected: Value '[]' at 'addReplicaRegions' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ));
    }
    for (i, r) in regions.iter().enumerate() {
        if let Some(region) = &r.region {
            check_region(
                region,
                &format!("addReplicaRegions.{}.member.region", i + 1),
            )?;
        }
        if let Some(k) = &r.kms_key_id {
            check_kms_key_id(k)?;
        }
    }
    Ok(())
}

/// ReplicationStatus of primary `s` (the LastAccessedDate of each replica from its
/// region's record).
pub(super) fn status_json(tx: &dyn ReadTx, s: &SecretRecord) -> Result<Value, ApiError> {
    let mut out = Vec::new();
    for rep in &s.replicas {
        let mut o = serde_json::Map::new();
        o.insert("Region".into(), rep.region.clone().into());
        o.insert(
            "KmsKeyId".into(),
            rep.kms_key_id
                .clone()
                .unwrap_or_else(|| DEFAULT_KEY.into())
                .into(),
        );
        o.insert("Status".into(), rep.status.clone().into());
        if let Some(m) = &rep.status_message {
            o.insert("StatusMessage".into(), m.clone().into());
        }
        if let Some(r) =
            get_secret(tx, &s.account, &rep.region, &s.name)?.filter(|r| is_replica_of(r, s))
        {
            if let Some(t) = r.last_accessed {
                o.insert("LastAccessedDate".into(), super::epoch(t).into());
            }
        }
        out.push(Value::Object(o));
    }
    Ok(Value::Array(out))
}

fn statuses_json(tx: &dyn ReadTx, s: &SecretRecord, list: &[Replica]) -> Result<Value, ApiError> {
    let mut only = s.clone();
    only.replicas = list.to_vec();
    status_json(tx, &only)
}

/// DeleteSecret of a primary that still has replicas: AWS's refusal.
pub(super) fn check_no_replicas(s: &SecretRecord) -> Result<(), ApiError> {
    if s.replicas.is_empty() {
        return Ok(());
    }
    let regions: Vec<&str> = s.replicas.iter().map(|r| r.region.as_str()).collect();
    Err(invalid_param(format!(
        "You can't delete secret {} that still has replica regions [{}].",
        s.arn,
        regions.join(", ")
    )))
}

pub(super) fn replicate_secret_to_regions(
    tx: &mut dyn WriteTx,
    env: &Env,
    ctx: &RequestContext,
    i: &ReplicateSecretToRegionsInput,
) -> Result<Reply, ApiError> {
    check_add_regions(&i.add_replica_regions)?;
    let mut s = load_live(tx, ctx, &i.secret_id)?;
    not_on_replica(&s)?;
    let added = add_replicas(
        tx,
        env,
        ctx,
        &mut s,
        &i.add_replica_regions,
        i.force_overwrite_replica_secret == Some(true),
        &[],
    )?;
    let out = json!({"ARN": s.arn, "ReplicationStatus": statuses_json(tx, &s, &added)?});
    Ok(reply_for(&s, out))
}

pub(super) fn remove_regions(
    tx: &mut dyn WriteTx,
    ctx: &RequestContext,
    i: &RemoveRegionsFromReplicationInput,
) -> Result<Reply, ApiError> {
    if i.remove_replica_regions.is_empty() {
        return Err(err(
            "ValidationException",
            "1 validation error detected: Value '[]' at 'removeReplicaRegions' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ));
    }
    for (n, r) in i.remove_replica_regions.iter().enumerate() {
        check_region(r, &format!("removeReplicaRegions.{}.member", n + 1))?;
    }
    let mut s = load(tx, ctx, &i.secret_id)?;
    not_on_replica(&s)?;
    for region in &i.remove_replica_regions {
        if let Some(r) =
            get_secret(tx, &s.account, region, &s.name)?.filter(|r| is_replica_of(r, &s))
        {
            purge(tx, &r)?;
        }
        s.replicas.retain(|x| x.region != *region);
    }
    put_secret(tx, &s)?;
    let out = json!({"ARN": s.arn, "ReplicationStatus": status_json(tx, &s)?});
    Ok(reply_for(&s, out))
}

/// StopReplicationToReplica, called in the replica's region: the replica becomes a
/// standalone secret there (same ARN), and the primary forgets that region.
pub(super) fn stop_replication(
    tx: &mut dyn WriteTx,
    ctx: &RequestContext,
    secret_id: &str,
) -> Result<Reply, ApiError> {
    let mut r = load(tx, ctx, secret_id)?;
    let Some(primary_region) = r.primary_region.clone() else {
        return Err(invalid_param(format!(
            "Secret {} is not a replica secret.",
            r.arn
        )));
    };
    if r.region != ctx.region {
        return Err(invalid_param(
            "StopReplicationToReplica must be called in the replica secret's region.",
        ));
    }
    if let Some(mut p) = get_secret(tx, &r.account, &primary_region, &r.name)? {
        if is_replica_of(&r, &p) {
            p.replicas.retain(|x| x.region != r.region);
            put_secret(tx, &p)?;
        }
    }
    r.primary_region = None;
    r.last_changed = ctx.now;
    put_secret(tx, &r)?;
    // A standalone secret now: its policy's principals are its own to rewrite.
    super::policy_references(tx, &r, None)?;
    let out = json!({"ARN": r.arn});
    Ok(reply_for(&r, out))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn replica_arns_keep_name_and_suffix() {
        assert_eq!(
            replica_arn(
                "arn:aws:secretsmanager:us-east-1:111122223333:secret:app/db-AbCdEf",
                "eu-west-1"
            ),
            "arn:aws:secretsmanager:eu-west-1:111122223333:secret:app/db-AbCdEf"
        );
        assert_eq!(replica_arn("not-an-arn", "eu-west-1"), "not-an-arn");
    }

    #[test]
    fn region_names_follow_aws_pattern() {
        for ok in ["us-east-1", "eu-west-3", "us-gov-west-1", "ap-southeast-12"] {
            assert!(check_region(ok, "r").is_ok(), "{ok}");
        }
        for bad in [
            "",
            "us",
            "us-east",
            "US-EAST-1",
            "us_east_1",
            "-1",
            "us--east-1",
            "us-east-1a",
            "üs-east-1",
        ] {
            assert!(check_region(bad, "r").is_err(), "{bad}");
        }
        let long = format!("{}-1", "a".repeat(127));
        assert_eq!(
            check_region(&long, "r").unwrap_err().code,
            "ValidationException"
        );
    }

    #[test]
    fn delete_with_replicas_is_refused_as_aws() {
        let rep = |r: &str| Replica {
            region: r.into(),
            kms_key_id: None,
            status: IN_SYNC.into(),
            status_message: None,
        };
        let s: SecretRecord = serde_json::from_value(json!({
            "arn": "arn:aws:secretsmanager:us-east-1:1:secret:x-AbCdEf", "name": "x",
            "account": "1", "region": "us-east-1",
            "created": "2026-01-01T00:00:00Z", "last_changed": "2026-01-01T00:00:00Z",
        }))
        .unwrap();
        assert!(check_no_replicas(&s).is_ok());
        assert!(not_on_replica(&s).is_ok());
        let mut p = s.clone();
        p.replicas = vec![rep("eu-west-1"), rep("ap-south-1")];
        let e = check_no_replicas(&p).unwrap_err();
        assert_eq!(e.code, "InvalidParameterException");
        assert_eq!(e.message, "You can't delete secret arn:aws:secretsmanager:us-east-1:1:secret:x-AbCdEf that still has replica regions [eu-west-1, ap-south-1].");
        let mut r = s;
        r.primary_region = Some("us-east-1".into());
        assert_eq!(
            not_on_replica(&r).unwrap_err().code,
            "InvalidParameterException"
        );
    }
}
