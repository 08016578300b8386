//! The CloudTrail indexer: a thread that moves logged events into the lookup indexes in
//! batches ([`palisade_services::audit::index_pending`]), so a call's own store job only
//! appends its record. Lookups never wait for it: they read the unindexed tail directly.
//! Every [`PRUNE_EVERY`] it also removes events past CloudTrail's 90 days
//! ([`palisade_services::audit::prune`]).

use palisade_services::{audit, env::Env};
use palisade_store::{write_blocking, StoreError};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Most events indexed by one store job: large enough that each index's hot pages are
/// written once for many events, small enough that the job does not hold the writer for
/// long (a few milliseconds).
const BATCH: usize = 4096;

/// How long the indexer sleeps when it has caught up.
const IDLE: Duration = Duration::from_millis(20);

/// How often events past the retention window are removed.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

pub struct Indexer {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Indexer {
    pub fn spawn(env: Arc<Env>) -> std::io::Result<Indexer> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("trail-indexer".into())
            .spawn(move || run(&env, &flag))?;
        Ok(Indexer {
            stop,
            handle: Some(handle),
        })
    }

    /// Stops the thread (after its current batch) and waits for it. Events not indexed
    /// yet stay in the log and are indexed after the next start.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(h) = self.handle.take() {
            h.thread().unpark();
            if h.join().is_err() {
                tracing::error!("the trail indexer thread panicked");
            }
        }
    }
}

fn run(env: &Env, stop: &AtomicBool) {
    let mut pruned_at: Option<std::time::Instant> = None;
    while !stop.load(Ordering::Acquire) {
        if pruned_at.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
            pruned_at = Some(std::time::Instant::now());
            match prune_all(env) {
                Ok(n) if n > 0 => tracing::info!(events = n, "removed events past 90 days"),
                Ok(_) => {}
                Err(StoreError::WriterGone) => return,
                Err(e) => tracing::error!(error = %e, "removing expired CloudTrail events failed"),
            }
        }
        match index_once(env) {
            // A full batch: more may be waiting.
            Ok(n) if n == BATCH => continue,
            Ok(_) => {}
            Err(StoreError::WriterGone) => return,
            Err(e) => tracing::error!(error = %e, "indexing CloudTrail events failed"),
        }
        std::thread::park_timeout(IDLE);
    }
}

/// Removes every event past the retention window, a batch per store job.
fn prune_all(env: &Env) -> Result<usize, StoreError> {
    let cutoff = audit::micros(env.clock.now() - audit::RETENTION);
    let mut total = 0;
    loop {
        let (tx, rx) = crossbeam_channel::bounded(1);
        write_blocking(
            env.store.as_ref(),
            Box::new(move |w| {
                let _ = tx.send(audit::prune(w, cutoff, BATCH)?);
                Ok(())
            }),
        )?;
        let n = rx.try_recv().unwrap_or(0);
        total += n;
        if n < BATCH {
            break;
        }
    }
    // The index chunks of expired events, a bounded number of posting lists per job. Only
    // when events expired: chunks expire with their events.
    if total == 0 {
        return Ok(0);
    }
    loop {
        let (tx, rx) = crossbeam_channel::bounded(1);
        write_blocking(
            env.store.as_ref(),
            Box::new(move |w| {
                let _ = tx.send(audit::prune_index(w, cutoff, 256)?);
                Ok(())
            }),
        )?;
        if rx.try_recv().unwrap_or(true) {
            return Ok(total);
        }
    }
}

/// Indexes one batch if any event waits. Returns how many were indexed.
fn index_once(env: &Env) -> Result<usize, StoreError> {
    let mut due = false;
    env.store.read(&mut |tx| {
        due = audit::index_due(tx)?;
        Ok(())
    })?;
    if !due {
        return Ok(0);
    }
    let (tx, rx) = crossbeam_channel::bounded(1);
    write_blocking(
        env.store.as_ref(),
        Box::new(move |w| {
            let n = audit::index_pending(w, BATCH)?;
            let _ = tx.send(n);
            Ok(())
        }),
    )?;
    Ok(rx.try_recv().unwrap_or(0))
}
