//! Writer-side ceiling: queue N audit-sized jobs at once (no submitter round trips) and
//! time until the last `done`. `cargo run --release -p palisade-store --example
//! writer_ceiling -- [full|normal] [jobs] [max_batch]`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::time::Instant;

use palisade_store::keys::Key;
use palisade_store::sqlite::{Durability, SqliteOptions, SqliteStore};
use palisade_store::Store;

fn env_or(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let durability = match args.get(1).map(String::as_str) {
        Some("full") => Durability::Full,
        _ => Durability::Normal,
    };
    let jobs: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let max_batch: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1024);
    let dir = tempfile::tempdir_in(std::env::temp_dir()).unwrap();
    let store = SqliteStore::open(
        &dir.path().join("ceiling.db"),
        SqliteOptions {
            durability,
            max_batch,
            page_size: env_or("PAGE_SIZE", SqliteOptions::default().page_size),
            wal_autocheckpoint: env_or(
                "WAL_AUTOCHECKPOINT",
                SqliteOptions::default().wal_autocheckpoint,
            ),
            ..SqliteOptions::default()
        },
    )
    .unwrap();
    let value = vec![b'x'; 1500];
    let (tx, rx) = crossbeam_channel::unbounded();
    let start = Instant::now();
    for n in 0..jobs {
        let (value, tx) = (value.clone(), tx.clone());
        store.submit(
            Box::new(move |w| {
                let key = Key::new().str("trail").u64_desc(n).finish();
                w.put(&key, &value)?;
                for i in 0..6u64 {
                    let ix = Key::new().str("ix").u64(i).u64(n % 97).u64_desc(n).finish();
                    w.put(&ix, &key)?;
                }
                Ok(())
            }),
            Box::new(move |r| tx.send(r.is_ok()).unwrap()),
        );
    }
    let queued = start.elapsed();
    for _ in 0..jobs {
        assert!(rx.recv().unwrap());
    }
    let all = start.elapsed();
    println!(
        "{durability:?} max_batch={max_batch}: {jobs} jobs queued in {queued:?}, all done in {all:?}: {:.0} jobs/s",
        jobs as f64 / all.as_secs_f64()
    );
    store.shutdown();
}
