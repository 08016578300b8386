//! Throughput of audit-event-sized write jobs: one ~1.5 KB value and six small index keys
//! each, submitted by 1, 8 or 64 threads that each wait for their job's `done` before
//! submitting the next (like request handlers), with `Full` and `Normal` durability.
//!
//! `cargo bench -p palisade-store --bench commit`; criterion reports elements/s = jobs/s.
//! Set `PALISADE_BENCH_DIR` to bench on another file system than the target dir's.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use palisade_store::keys::Key;
use palisade_store::sqlite::{Durability, SqliteOptions, SqliteStore};
use palisade_store::Store;

fn job(store: &dyn Store, n: u64, value: &Arc<Vec<u8>>) {
    let value = value.clone();
    let (tx, rx) = crossbeam_channel::bounded(1);
    store.submit(
        Box::new(move |w| {
            let key = Key::new()
                .str("trail")
                .str("123456789012")
                .u64_desc(1_700_000_000_000 + n)
                .str("7d1e2f4a-9b3c-4c1d-8e2f-0a1b2c3d4e5f")
                .finish();
            w.put(&key, &value)?;
            for (i, attr) in [
                "EventName",
                "Username",
                "ResourceName",
                "ResourceType",
                "EventSource",
                "AccessKeyId",
            ]
            .iter()
            .enumerate()
            {
                let ix = Key::new()
                    .str("trail-ix")
                    .str(attr)
                    .str(&format!("value-{}", n % (7 + i as u64)))
                    .u64_desc(1_700_000_000_000 + n)
                    .finish();
                w.put(&ix, &key)?;
            }
            Ok(())
        }),
        Box::new(move |r| {
            let _ = tx.send(r);
        }),
    );
    rx.recv().unwrap().unwrap();
}

/// Process CPU time (user + system) in clock ticks, from /proc (0 where there is none).
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0)
}

fn run(store: &Arc<dyn Store>, threads: u64, jobs: u64, counter: &Arc<AtomicU64>) -> Duration {
    let value = Arc::new(vec![b'x'; 1500]);
    let per = jobs.div_ceil(threads);
    let barrier = Arc::new(Barrier::new(threads as usize + 1));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (store, barrier, counter, value) = (
                store.clone(),
                barrier.clone(),
                counter.clone(),
                value.clone(),
            );
            std::thread::spawn(move || {
                barrier.wait();
                for _ in 0..per {
                    job(&*store, counter.fetch_add(1, Ordering::Relaxed), &value);
                }
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    for h in handles {
        h.join().unwrap();
    }
    // Jobs done per unit of time, scaled to what criterion asked for.
    start
        .elapsed()
        .mul_f64(jobs as f64 / (per * threads) as f64)
}

fn commit(c: &mut Criterion) {
    let base = std::env::var_os("PALISADE_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let mut g = c.benchmark_group("commit");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    for durability in [Durability::Normal, Durability::Full] {
        for threads in [1u64, 8, 64] {
            let dir = tempfile::tempdir_in(&base).unwrap();
            let opts = SqliteOptions {
                durability,
                ..SqliteOptions::default()
            };
            let store: Arc<dyn Store> =
                Arc::new(SqliteStore::open(&dir.path().join("bench.db"), opts).unwrap());
            let counter = Arc::new(AtomicU64::new(0));
            let ticks = cpu_ticks();
            g.throughput(Throughput::Elements(1));
            g.bench_with_input(
                BenchmarkId::new(format!("{durability:?}"), threads),
                &threads,
                |b, &threads| b.iter_custom(|iters| run(&store, threads, iters, &counter)),
            );
            store.shutdown();
            // CPU per job says more than wall time on a loaded machine (assumes 100 Hz).
            let jobs = counter.load(Ordering::Relaxed).max(1);
            eprintln!(
                "commit/{durability:?}/{threads}: {jobs} jobs, {:.0} µs CPU per job (all threads)",
                (cpu_ticks() - ticks) as f64 * 10_000.0 / jobs as f64
            );
        }
    }
    g.finish();
}

criterion_group!(benches, commit);
criterion_main!(benches);
