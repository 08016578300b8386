//! Key material rotation: EnableKeyRotation / DisableKeyRotation / GetKeyRotationStatus /
//! RotateKeyOnDemand / ListKeyRotations, and [`run_due_rotations`], which the server's
//! scheduler calls on the business clock.
//!
//! A rotation appends a new material version to the key ([`KeyRecord::materials`]); new
//! ciphertexts use the newest version, old ones name theirs in the blob and keep decrypting.
//! The schedule and history live in a side record per key (`kmsrot`, account, region, key id).

use super::{epoch, err, kerr, key_resources, page, paging, store, KeyRecord, Value};
use crate::{context::RequestContext, env::Env, error::ApiError, Reply};
use palisade_store::{keys::Key, ReadTx, WriteTx};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::{Duration, OffsetDateTime};

const MIN_PERIOD: i64 = 90;
const MAX_PERIOD: i64 = 2560;
pub(crate) const DEFAULT_PERIOD: i64 = 365;
/// AWS's quota of on-demand rotations per key.
const MAX_ON_DEMAND: usize = 25;
/// At most this many catch-up rotations per key in one scheduler run (a clock jumped years).
const MAX_CATCH_UP: usize = 64;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EnableKeyRotationInput {
    pub key_id: String,
    pub rotation_period_in_days: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListKeyRotationsInput {
    pub key_id: String,
    pub include_key_material: Option<String>,
    pub limit: Option<i64>,
    pub marker: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RotationEntry {
    #[serde(with = "time::serde::rfc3339")]
    pub date: OffsetDateTime,
    /// `AUTOMATIC` or `ON_DEMAND`.
    pub kind: String,
    /// The material version the rotation created.
    pub version: u32,
}

/// A key's rotation schedule and history.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RotationRecord {
    pub account: String,
    pub region: String,
    pub key_id: String,
    pub enabled: bool,
    pub period_days: i64,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub next_rotation: Option<OffsetDateTime>,
    #[serde(default)]
    pub rotations: Vec<RotationEntry>,
}

impl RotationRecord {
    fn new(k: &KeyRecord) -> Self {
        RotationRecord {
            account: k.account.clone(),
            region: k.region.clone(),
            key_id: k.key_id.clone(),
            enabled: false,
            period_days: DEFAULT_PERIOD,
            next_rotation: None,
            rotations: Vec::new(),
        }
    }
}

/// Starts the yearly automatic rotation of a new AWS managed key (AWS: "AWS KMS always
/// rotates the key material in AWS managed KMS keys every year").
pub(super) fn start_managed(
    tx: &mut dyn WriteTx,
    k: &KeyRecord,
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    let mut r = RotationRecord::new(k);
    r.enabled = true;
    r.next_rotation = Some(now + Duration::days(DEFAULT_PERIOD));
    put(tx, &r)
}

/// [`start_managed`] for an AWS managed key from a data dir made before they rotated
/// (one read when it already rotates).
pub(super) fn ensure_managed(
    tx: &mut dyn WriteTx,
    k: &KeyRecord,
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    if get(tx, k)?.is_none() {
        start_managed(tx, k, now)?;
    }
    Ok(())
}

fn rotation_key(account: &str, region: &str, key_id: &str) -> Vec<u8> {
    Key::new()
        .str("kmsrot")
        .str(account)
        .str(region)
        .str(key_id)
        .finish()
}

fn get(tx: &dyn ReadTx, k: &KeyRecord) -> Result<Option<RotationRecord>, ApiError> {
    tx.get(&rotation_key(&k.account, &k.region, &k.key_id))?
        .map(|raw| {
            serde_json::from_slice(&raw)
                .map_err(|e| ApiError::internal(format!("kms rotation record: {e}")))
        })
        .transpose()
}

fn put(tx: &mut dyn WriteTx, r: &RotationRecord) -> Result<(), ApiError> {
    let raw = serde_json::to_vec(r).map_err(ApiError::internal)?;
    tx.put(&rotation_key(&r.account, &r.region, &r.key_id), &raw)?;
    let k = store::get_key(tx, &r.account, &r.region, &r.key_id)?;
    file_due(tx, Some(r), k.as_ref(), (&r.account, &r.region, &r.key_id))
}

/// After a write of key `k` (its state decides whether its rotation is scheduled).
pub(super) fn key_written(tx: &mut dyn WriteTx, k: &KeyRecord) -> Result<(), ApiError> {
    let r = get(tx, k)?;
    file_due(tx, r.as_ref(), Some(k), (&k.account, &k.region, &k.key_id))
}

/// Files the key's next automatic rotation in [`DUE`] from its two records.
fn file_due(
    tx: &mut dyn WriteTx,
    r: Option<&RotationRecord>,
    k: Option<&KeyRecord>,
    who: (&str, &str, &str),
) -> Result<(), ApiError> {
    let due = match (r, k) {
        (Some(r), Some(k)) => due_at(r, k),
        _ => None,
    };
    DUE.file(tx, who, due)
}

/// When automatic rotation is next due for the key of `r`, while the key can rotate: an
/// enabled symmetric key. A disabled key or one pending deletion is not filed at all (so
/// the scheduler does not wake for it every second) until it is enabled again, and then
/// rotates at once if its date has passed.
fn due_at(r: &RotationRecord, k: &KeyRecord) -> Option<OffsetDateTime> {
    let can_rotate = k.state() == "Enabled" && k.key_spec == "SYMMETRIC_DEFAULT";
    r.next_rotation.filter(|_| r.enabled && can_rotate)
}

/// Files key `key_id`'s next automatic rotation in [`DUE`], reading both its records
/// (backfill, and an entry found filed under a time not its own).
fn refile(tx: &mut dyn WriteTx, account: &str, region: &str, key_id: &str) -> Result<(), ApiError> {
    let k = store::get_key(tx, account, region, key_id)?;
    let r = match &k {
        Some(k) => get(tx, k)?,
        None => None,
    };
    file_due(tx, r.as_ref(), k.as_ref(), (account, region, key_id))
}

/// The scheduler's index of keys by their next automatic rotation.
pub static DUE: crate::due::DueIndex =
    crate::due::DueIndex::new("kmsrotd", "kmsrotf", "kms_rotation_due_index", backfill_due);

/// Files every rotation record of a data dir made before [`DUE`].
fn backfill_due(tx: &mut dyn WriteTx) -> Result<usize, ApiError> {
    crate::due::file_all(tx, "kmsrot", |tx, r: &RotationRecord| {
        refile(tx, &r.account, &r.region, &r.key_id)
    })
}

/// Only symmetric encryption keys with KMS-generated material rotate automatically (as
/// AWS).
fn require_rotatable(tx: &dyn ReadTx, k: &KeyRecord) -> Result<(), ApiError> {
    if require_on_demand_rotatable(tx, k)? {
        return Err(err(
            "UnsupportedOperationException",
            format!(
                "{} origin is EXTERNAL: keys with imported key material do not support automatic key rotation.",
                k.arn
            ),
        ));
    }
    Ok(())
}

/// Whether `k` has imported material, after checking that it can rotate on demand: any
/// symmetric encryption key can, one with imported material to new material imported for
/// it ("Symmetric encryption keys with EXTERNAL origin support on-demand rotation").
fn require_on_demand_rotatable(tx: &dyn ReadTx, k: &KeyRecord) -> Result<bool, ApiError> {
    if k.key_spec != "SYMMETRIC_DEFAULT" {
        return Err(err(
            "UnsupportedOperationException",
            format!(
                "{} key spec {} does not support key rotation.",
                k.arn, k.key_spec
            ),
        ));
    }
    Ok(super::import::get(tx, k)?.is_some())
}

/// Appends a new material version to `k` and records it.
fn rotate(
    env: &Env,
    k: &mut KeyRecord,
    r: &mut RotationRecord,
    at: OffsetDateTime,
    kind: &str,
) -> Result<(), ApiError> {
    let version = k.current_version().saturating_add(1);
    let material =
        store::new_sealed_material(&env.master_key, &k.arn, version, super::blob::MATERIAL_LEN)?;
    k.materials.push(material);
    r.rotations.push(RotationEntry {
        date: at,
        kind: kind.to_owned(),
        version,
    });
    Ok(())
}

/// The key of a rotation operation; only GetKeyRotationStatus works across accounts.
fn resolve_for(tx: &dyn ReadTx, ctx: &RequestContext, key_id: &str) -> Result<KeyRecord, ApiError> {
    store::resolve_own(tx, ctx, key_id)
}

pub(super) fn enable(
    tx: &mut dyn WriteTx,
    ctx: &RequestContext,
    i: &EnableKeyRotationInput,
) -> Result<Reply, ApiError> {
    let period = i.rotation_period_in_days.unwrap_or(DEFAULT_PERIOD);
    if !(MIN_PERIOD..=MAX_PERIOD).contains(&period) {
        return Err(kerr::out_of_range(
            period,
            "rotationPeriodInDays",
            MIN_PERIOD,
            MAX_PERIOD,
        ));
    }
    let k = resolve_for(tx, ctx, &i.key_id)?;
    require_rotatable(tx, &k)?;
    k.check_usable()?;
    let mut r = get(tx, &k)?.unwrap_or_else(|| RotationRecord::new(&k));
    // The next date counts from the last rotation (or from now when rotation starts).
    let base = match (
        r.enabled,
        r.rotations.iter().rev().find(|e| e.kind == "AUTOMATIC"),
    ) {
        (true, Some(last)) => last.date,
        _ => ctx.now,
    };
    let mut next = base + Duration::days(period);
    if next <= ctx.now {
        next = ctx.now + Duration::days(period);
    }
    r.enabled = true;
    r.period_days = period;
    r.next_rotation = Some(next);
    put(tx, &r)?;
    let mut reply = Reply::empty();
    reply.resources = key_resources(&k);
    Ok(reply)
}

pub(super) fn disable(
    tx: &mut dyn WriteTx,
    ctx: &RequestContext,
    key_id: &str,
) -> Result<Reply, ApiError> {
    let k = resolve_for(tx, ctx, key_id)?;
    require_rotatable(tx, &k)?;
    k.check_usable()?;
    let mut r = get(tx, &k)?.unwrap_or_else(|| RotationRecord::new(&k));
    r.enabled = false;
    r.next_rotation = None;
    put(tx, &r)?;
    let mut reply = Reply::empty();
    reply.resources = key_resources(&k);
    Ok(reply)
}

pub(super) fn status(
    tx: &dyn ReadTx,
    ctx: &RequestContext,
    key_id: &str,
) -> Result<Reply, ApiError> {
    let k = store::resolve(tx, ctx, key_id)?;
    // Keys with imported material rotate only on demand: their automatic rotation is
    // always off (as AWS's GetKeyRotationStatus documentation long said of them).
    let r = if require_on_demand_rotatable(tx, &k)? {
        None
    } else {
        get(tx, &k)?
    };
    let enabled = r.as_ref().is_some_and(|r| r.enabled) && k.deletion_date.is_none();
    let mut out = json!({ "KeyRotationEnabled": enabled, "KeyId": k.arn });
    if let (Some(r), Some(o), true) = (&r, out.as_object_mut(), enabled) {
        o.insert("RotationPeriodInDays".into(), r.period_days.into());
        if let Some(n) = r.next_rotation {
            o.insert("NextRotationDate".into(), epoch(n).into());
        }
    }
    let mut reply = Reply::new(out);
    reply.resources = key_resources(&k);
    Ok(reply)
}

pub(super) fn on_demand(
    tx: &mut dyn WriteTx,
    env: &Env,
    ctx: &RequestContext,
    key_id: &str,
) -> Result<Reply, ApiError> {
    let mut k = resolve_for(tx, ctx, key_id)?;
    let external = require_on_demand_rotatable(tx, &k)?;
    k.check_usable()?;
    let mut r = get(tx, &k)?.unwrap_or_else(|| RotationRecord::new(&k));
    if r.rotations.iter().filter(|e| e.kind == "ON_DEMAND").count() >= MAX_ON_DEMAND {
        return Err(err(
            "LimitExceededException",
            format!(
                "The on-demand rotations limit has been reached for the given keyId. No more on-demand rotations can be performed for this key: {}",
                k.arn
            ),
        ));
    }
    if external {
        let version = super::import::rotate(tx, env, &mut k, ctx.now)?;
        r.rotations.push(RotationEntry {
            date: ctx.now,
            kind: "ON_DEMAND".to_owned(),
            version,
        });
    } else {
        rotate(env, &mut k, &mut r, ctx.now, "ON_DEMAND")?;
    }
    store::put_key(tx, &k)?;
    put(tx, &r)?;
    let mut reply = Reply::new(json!({ "KeyId": k.arn }));
    reply.response_elements = Some(json!({ "keyId": k.arn }));
    reply.resources = key_resources(&k);
    Ok(reply)
}

pub(super) fn list(
    tx: &dyn ReadTx,
    ctx: &RequestContext,
    i: &ListKeyRotationsInput,
) -> Result<Reply, ApiError> {
    let (limit, start) = paging(i.limit, &i.marker)?;
    if let Some(v) = &i.include_key_material {
        super::check_enum(
            v,
            "includeKeyMaterial",
            &["ALL_KEY_MATERIAL", "ROTATIONS_ONLY"],
        )?;
    }
    let k = resolve_for(tx, ctx, &i.key_id)?;
    let all = i.include_key_material.as_deref() == Some("ALL_KEY_MATERIAL");
    let entries: Vec<Value> = if require_on_demand_rotatable(tx, &k)? {
        super::import::rotation_entries(tx, &k, all)?
    } else {
        let current = k.current_version();
        let entry = |version: u32| {
            json!({
                "KeyId": k.key_id,
                "KeyMaterialId": super::import::generated_material_id(&k, version),
                "KeyMaterialState": if version == current { "CURRENT" } else { "NON_CURRENT" },
            })
        };
        // The first material is listed only for ALL_KEY_MATERIAL ("KMS adds the first key
        // material ... to the response").
        let first = (all && current > 0).then(|| entry(1));
        let rotations = get(tx, &k)?.map(|r| r.rotations).unwrap_or_default();
        first
            .into_iter()
            .chain(rotations.into_iter().map(|e| {
                let mut v = entry(e.version);
                if let Some(o) = v.as_object_mut() {
                    o.insert("RotationDate".into(), json!(epoch(e.date)));
                    o.insert("RotationType".into(), json!(e.kind));
                }
                v
            }))
            .collect()
    };
    let (items, truncated, next) = page(&entries, limit, start)?;
    let mut out = json!({ "Rotations": items, "Truncated": truncated });
    if let (Some(n), Some(o)) = (next, out.as_object_mut()) {
        o.insert("NextMarker".into(), n.into());
    }
    let mut reply = Reply::new(out);
    reply.resources = key_resources(&k);
    Ok(reply)
}

/// Rotates every key (all accounts and regions) whose automatic rotation is due at `now`
/// on the business clock, and deletes imported key material whose ValidTo has passed;
/// returns how many rotations and expirations happened. Keys that are disabled or
/// pending deletion are not filed (they rotate once usable again and due). Called by the
/// server's scheduler, e.g. right after the business clock moves.
pub fn run_due_rotations(
    tx: &mut dyn WriteTx,
    env: &Env,
    now: OffsetDateTime,
) -> Result<usize, ApiError> {
    let mut due = Vec::new();
    for (account, region, key_id) in DUE.take_due(tx, now)? {
        let raw = tx.get(&rotation_key(&account, &region, &key_id))?;
        let r = raw.and_then(|v| serde_json::from_slice::<RotationRecord>(&v).ok());
        let k = store::get_key(tx, &account, &region, &key_id)?;
        match (r, k) {
            (Some(r), Some(k)) if due_at(&r, &k).is_some_and(|n| n <= now) => due.push((r, k)),
            // Filed under a time that is not its own (never left by a write): refile.
            _ => refile(tx, &account, &region, &key_id)?,
        }
    }
    let mut count = super::import::expire_due(tx, now)?;
    for (mut r, mut k) in due {
        let mut rounds = 0;
        while let Some(at) = r
            .next_rotation
            .filter(|n| *n <= now && rounds < MAX_CATCH_UP)
        {
            rotate(env, &mut k, &mut r, at, "AUTOMATIC")?;
            r.next_rotation = Some(at + Duration::days(r.period_days.max(MIN_PERIOD)));
            rounds += 1;
            count += 1;
        }
        if r.next_rotation.is_some_and(|n| n <= now) {
            r.next_rotation = Some(now + Duration::days(r.period_days.max(MIN_PERIOD)));
        }
        store::put_key(tx, &k)?;
        put(tx, &r)?;
    }
    Ok(count)
}

/// Whether [`run_due_rotations`] has anything to do at `now` (a cheap snapshot read for a
/// scheduler: automatic rotations or imported-material expirations that are due).
pub fn work_due(tx: &dyn ReadTx, now: OffsetDateTime) -> Result<bool, ApiError> {
    Ok(DUE.any_due(tx, now)? || super::import::expiry_due(tx, now)?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::Operation as _;

    fn env() -> crate::env::testing::TestEnv {
        crate::env::testing::test_env("111122223333")
    }

    fn ctx(now: OffsetDateTime) -> RequestContext {
        crate::env::testing::root_ctx("111122223333", now)
    }

    fn out(r: Reply) -> serde_json::Value {
        serde_json::to_value(r.output.unwrap().as_ref()).unwrap()
    }

    #[test]
    fn automatic_rotation_is_due_on_the_business_clock() {
        let env = env();
        let t0 = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        let e2 = env.clone();
        let (count_early, count_due, count_catch_up, versions) =
            crate::accounts::write_blocking(env.store.as_ref(), move |tx| {
                let c = ctx(t0);
                let created =
                    super::super::Operation::CreateKey(Default::default()).write(tx, &e2, &c)?;
                let key_id = out(created)["KeyMetadata"]["KeyId"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                enable(
                    tx,
                    &c,
                    &EnableKeyRotationInput {
                        key_id: key_id.clone(),
                        rotation_period_in_days: Some(90),
                    },
                )?;
                let early = run_due_rotations(tx, &e2, t0 + Duration::days(89))?;
                let due = run_due_rotations(tx, &e2, t0 + Duration::days(91))?;
                let catch_up = run_due_rotations(tx, &e2, t0 + Duration::days(91 + 365))?;
                let k = store::resolve(tx, &c, &key_id)?;
                Ok((early, due, catch_up, k.current_version()))
            })
            .unwrap();
        assert_eq!((count_early, count_due, count_catch_up), (0, 1, 4));
        assert_eq!(versions, 6);
    }
}
