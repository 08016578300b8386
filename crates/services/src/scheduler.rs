//! Time-driven work on the business clock: secret rotation and deletion windows,
//! parameter policies, KMS automatic key rotation and imported key material expiry. The server calls [`run_due`] about every second and right after
//! every move of the business clock, so advancing the clock makes due work happen before
//! the admin call answers.
//!
//! Each area says cheaply whether anything is due (a snapshot read); only then does one
//! write job run them all, in the same durable transaction as their audit records.

use crate::{accounts::write_blocking, env::Env, error::ApiError, kms, secrets, ssm};
use std::sync::Arc;

/// Runs every piece of work due at the business clock's `now`. Returns how many ran.
pub fn run_due(env: &Arc<Env>) -> Result<usize, ApiError> {
    let now = env.clock.now();
    let (mut secrets_due, mut ssm_due, mut kms_due) = (false, false, false);
    env.store.read(&mut |tx| {
        let map = |e: ApiError| palisade_store::StoreError::Other(e.message);
        secrets_due = secrets::work_due(tx, now).map_err(map)?;
        ssm_due = ssm::work_due(tx, now).map_err(map)?;
        kms_due = kms::work_due(tx, now).map_err(map)?;
        Ok(())
    })?;
    if !(secrets_due || ssm_due || kms_due) {
        return Ok(0);
    }
    let env2 = env.clone();
    write_blocking(env.store.as_ref(), move |tx| {
        let mut ran = 0;
        if secrets_due {
            ran += secrets::run_due_rotations(tx, &env2, now)?;
        }
        if ssm_due {
            ran += ssm::run_due_policies(tx, &env2, now)?;
        }
        if kms_due {
            ran += kms::run_due_rotations(tx, &env2, now)?;
        }
        Ok(ran)
    })
}
