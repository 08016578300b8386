//! `kill -9` durability: a child process (this test binary, re-executed) writes audit-like
//! jobs, and appends log records as calls that change nothing do, and prints each one once
//! its `done` reports it durable; the parent SIGKILLs it at a
//! random moment, reopens the database and checks that every acknowledged job is there,
//! whole (value and index keys). Several cycles on one database, both durabilities.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use palisade_store::keys::Key;
use palisade_store::sqlite::{Durability, SqliteOptions, SqliteStore};
use palisade_store::{Range, Store};

const CHILD_ENV: &str = "PALISADE_STORE_CRASH_CHILD";
const TEST_NAME: &str = "kill9_never_loses_an_acknowledged_write";
const CYCLES: u64 = 12;
const SUBMITTERS: u64 = 6;
const IN_FLIGHT: usize = 16;

/// (cycle, submitter, sequence number) of one job.
type JobId = (u64, u64, u64);

fn event_key(id: JobId) -> Vec<u8> {
    Key::new().str("ev").u64(id.0).u64(id.1).u64(id.2).finish()
}

fn index_key(id: JobId, n: u64) -> Vec<u8> {
    Key::new()
        .str("ix")
        .u64(n)
        .u64_desc((id.0 << 40) | (id.1 << 32) | id.2)
        .finish()
}

fn event_value(id: JobId) -> Vec<u8> {
    let seed = id.0 * 1_000_003 + id.1 * 7919 + id.2;
    (0..1500u64)
        .map(|i| (seed.wrapping_mul(31).wrapping_add(i) % 251) as u8)
        .collect()
}

/// The log record appended for `id` (by odd submitters, instead of a job).
fn append_record(id: JobId) -> Vec<u8> {
    let mut r = format!("{} {} {} ", id.0, id.1, id.2).into_bytes();
    r.extend_from_slice(&event_value(id)[..300]);
    r
}

fn parse_append_record(r: &[u8]) -> Option<JobId> {
    let text = std::str::from_utf8(r.get(..r.len().checked_sub(300)?)?).ok()?;
    let v: Vec<u64> = text
        .split_whitespace()
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let id = (*v.first()?, *v.get(1)?, *v.get(2)?);
    (r == append_record(id).as_slice()).then_some(id)
}

fn durability(cycle: u64) -> Durability {
    if cycle % 2 == 0 {
        Durability::Full
    } else {
        Durability::Normal
    }
}

fn random_below(n: u64) -> u64 {
    let mut b = [0u8; 8];
    aws_lc_rs::rand::fill(&mut b).unwrap();
    u64::from_le_bytes(b) % n
}

/// The child: write until killed (or for at most a minute, should the parent be gone).
fn child(spec: &str) {
    let mut parts = spec.split(',');
    let path = parts.next().unwrap().to_owned();
    let cycle: u64 = parts.next().unwrap().parse().unwrap();
    let opts = SqliteOptions {
        durability: durability(cycle),
        max_batch: 64,
        ..SqliteOptions::default()
    };
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(Path::new(&path), opts).unwrap());
    let deadline = Instant::now() + Duration::from_secs(60);
    let threads: Vec<_> = (0..SUBMITTERS)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                let (slot_tx, slot_rx) = crossbeam_channel::bounded::<()>(IN_FLIGHT);
                for _ in 0..IN_FLIGHT {
                    slot_tx.send(()).unwrap();
                }
                let mut i = 0u64;
                while Instant::now() < deadline {
                    slot_rx.recv().unwrap();
                    let id = (cycle, t, i);
                    let slot_tx = slot_tx.clone();
                    let done: palisade_store::DoneFn = Box::new(move |r| {
                        if r.is_ok() {
                            let mut out = std::io::stdout().lock();
                            writeln!(out, "ack {} {} {}", id.0, id.1, id.2).unwrap();
                            out.flush().unwrap();
                        }
                        let _ = slot_tx.send(());
                    });
                    if t % 2 == 1 {
                        store.append(vec![append_record(id)], done);
                    } else {
                        store.submit(
                            Box::new(move |tx| {
                                tx.put(&event_key(id), &event_value(id))?;
                                for n in 0..6 {
                                    tx.put(&index_key(id, n), &event_key(id))?;
                                }
                                Ok(())
                            }),
                            done,
                        );
                    }
                    i += 1;
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    store.shutdown();
}

struct CycleReport {
    acked: usize,
    committed: usize,
    killed_after_ms: u64,
}

fn run_cycle(db: &Path, cycle: u64, acked: &mut BTreeSet<JobId>) -> CycleReport {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, format!("{},{cycle}", db.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (line_tx, line_rx) = crossbeam_channel::unbounded::<Vec<u8>>();
    let reader = std::thread::spawn(move || {
        let mut r = BufReader::new(stdout);
        let mut line = Vec::new();
        loop {
            line.clear();
            match r.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                // A line cut by the kill was never a complete acknowledgement.
                Ok(_) if line.last() == Some(&b'\n') => line_tx.send(line.clone()).unwrap(),
                Ok(_) => break,
            }
        }
    });
    // Every fourth cycle kills at a random moment from the start (possibly while opening
    // or recovering); the others once writes are being acknowledged.
    let started = Instant::now();
    let mut early = Vec::new();
    if cycle % 4 != 3 {
        // libtest prints its own lines first: wait for the first acknowledgement.
        loop {
            let line = line_rx
                .recv_timeout(Duration::from_secs(60))
                .expect("child acknowledged nothing");
            let is_ack = line.starts_with(b"ack ");
            early.push(line);
            if is_ack {
                break;
            }
        }
    }
    std::thread::sleep(Duration::from_millis(random_below(400)));
    let killed_after_ms = started.elapsed().as_millis() as u64;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    reader.join().unwrap();
    let mut n = 0;
    for line in early.into_iter().chain(line_rx.try_iter()) {
        let s = String::from_utf8(line).unwrap();
        let Some(rest) = s.strip_prefix("ack ") else {
            continue; // libtest's own output
        };
        let v: Vec<u64> = rest
            .split_whitespace()
            .map(|x| x.parse().unwrap())
            .collect();
        assert!(
            acked.insert((v[0], v[1], v[2])),
            "acknowledged twice: {v:?}"
        );
        n += 1;
    }

    assert!(
        n > 0 || cycle % 4 == 3,
        "cycle {cycle}: the kill came before any ack"
    );

    // Recover and check every acknowledged job of every cycle so far.
    let store = SqliteStore::open(db, SqliteOptions::default()).unwrap();
    let mut missing = Vec::new();
    let mut appended = BTreeSet::new();
    store
        .read(&mut |tx| {
            let mut from = 0;
            loop {
                let (page, next) = tx.appended_read(from, 4096)?;
                if page.is_empty() {
                    break;
                }
                for (_, r) in &page {
                    let id = parse_append_record(r).expect("a torn or foreign record");
                    assert!(appended.insert(id), "appended twice: {id:?}");
                }
                from = next;
            }
            Ok(())
        })
        .unwrap();
    store
        .read(&mut |tx| {
            for &id in acked.iter() {
                if id.1 % 2 == 1 {
                    if !appended.contains(&id) {
                        missing.push((id, "append", None));
                    }
                    continue;
                }
                match tx.get(&event_key(id))? {
                    Some(v) if v == event_value(id) => {}
                    other => missing.push((id, "event", other.map(|v| v.len()))),
                }
                for ix in 0..6 {
                    if tx.get(&index_key(id, ix))?.as_deref() != Some(&event_key(id)[..]) {
                        missing.push((id, "index", None));
                    }
                }
            }
            Ok(())
        })
        .unwrap();
    assert!(
        missing.is_empty(),
        "cycle {cycle}: {} acknowledged writes lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    // Unacknowledged jobs may or may not be there, but only whole: each event has its
    // six index entries.
    let p = Key::new().str("ev").u64(cycle).finish();
    let mut end = Vec::new();
    let mut committed = 0;
    store
        .read(&mut |tx| {
            let evs = tx.scan(&Range::prefix(&p, &mut end), usize::MAX)?;
            committed = evs.len();
            for (k, _) in &evs {
                let mut d = palisade_store::keys::Decoder::new(k);
                d.str()?;
                let id = (d.u64()?, d.u64()?, d.u64()?);
                for ix in 0..6 {
                    assert!(tx.get(&index_key(id, ix))?.is_some(), "torn job {id:?}");
                }
            }
            Ok(())
        })
        .unwrap();
    assert!(committed + appended.iter().filter(|id| id.0 == cycle).count() >= n);
    store.shutdown();
    drop(store);
    let conn = rusqlite::Connection::open(db).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    CycleReport {
        acked: n,
        committed,
        killed_after_ms,
    }
}

#[test]
fn kill9_never_loses_an_acknowledged_write() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        child(&spec);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("palisade.db");
    let mut acked = BTreeSet::new();
    for cycle in 0..CYCLES {
        let r = run_cycle(&db, cycle, &mut acked);
        eprintln!(
            "cycle {cycle:2} {:?}: killed after {:3} ms, {:5} acknowledged, {:5} committed, \
             {:6} acknowledged in total, all present",
            durability(cycle),
            r.killed_after_ms,
            r.acked,
            r.committed,
            acked.len()
        );
    }
    assert!(!acked.is_empty());
}
