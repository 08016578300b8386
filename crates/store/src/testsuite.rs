//! The behaviour every [`Store`] backend must have, as plain functions so that each
//! adapter's integration tests can run them (`tests/sqlite.rs` does, for both durabilities).
//!
//! Each function takes `open`, which must open the *same* backing store every time it is
//! called (so reopening after `shutdown` is observable), and starts by deleting every key,
//! so the functions do not depend on each other. This is test code that ships in the library
//! so other crates can reuse it: it asserts and panics freely.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, Barrier};

use crate::keys::Key;
use crate::{write_blocking, Range, Store, StoreError, WriteTx};

/// How the suite opens the store under test.
pub type Open<'a> = &'a dyn Fn() -> Box<dyn Store>;

/// Every behaviour, by name.
/// One behaviour of the suite.
pub type Behaviour = fn(Open<'_>);

pub const ALL: &[(&str, Behaviour)] = &[
    ("get_put_overwrite_delete", get_put_overwrite_delete),
    ("binary_keys_and_values", binary_keys_and_values),
    ("delete_range", delete_range),
    ("scan_prefix", scan_prefix),
    ("scan_bounds_limit_reverse", scan_bounds_limit_reverse),
    (
        "reads_inside_write_see_own_writes",
        reads_inside_write_see_own_writes,
    ),
    (
        "job_error_is_isolated_in_group",
        job_error_is_isolated_in_group,
    ),
    ("nested_rollback", nested_rollback),
    ("done_called_after_commit", done_called_after_commit),
    ("concurrent_submitters", concurrent_submitters),
    ("snapshot_consistency", snapshot_consistency),
    ("shutdown_drains_then_refuses", shutdown_drains_then_refuses),
    (
        "reopen_after_shutdown_persists",
        reopen_after_shutdown_persists,
    ),
    ("log_append_read_truncate", log_append_read_truncate),
    ("log_follows_job_outcome", log_follows_job_outcome),
    ("appended_stream", appended_stream),
    ("appends_survive_reopen", appends_survive_reopen),
];

/// Runs every behaviour in turn.
pub fn run_all(open: Open<'_>) {
    for (name, test) in ALL {
        tracing::info!(test = name, "store suite");
        test(open);
    }
}

fn fresh(open: Open<'_>) -> Arc<dyn Store> {
    let s: Arc<dyn Store> = Arc::from(open());
    write(&*s, |tx| {
        tx.delete_range(b"", None)?;
        tx.log_truncate(u64::MAX)?;
        tx.appended_truncate(u64::MAX)
    })
    .unwrap();
    s
}

fn log(s: &dyn Store, from: u64, limit: usize) -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    s.read(&mut |tx| {
        out = tx.log_read(from, limit)?;
        Ok(())
    })
    .unwrap();
    out
}

fn log_last(s: &dyn Store) -> u64 {
    let mut out = 0;
    s.read(&mut |tx| {
        out = tx.log_last()?;
        Ok(())
    })
    .unwrap();
    out
}

pub fn log_append_read_truncate(open: Open<'_>) {
    let s = fresh(open);
    assert_eq!(log_last(&*s), 0);
    assert!(log(&*s, 0, 10).is_empty());
    let (tx, rx) = crossbeam_channel::unbounded();
    write(&*s, move |w| {
        let a = w.log_append(b"a")?;
        let b = w.log_append(&[0, 255, 0])?;
        // A job sees its own appends.
        assert_eq!(w.log_last()?, b);
        assert_eq!(w.log_read(a, 10)?.len(), 2);
        tx.send((a, b)).unwrap();
        Ok(())
    })
    .unwrap();
    let (a, b) = rx.recv().unwrap();
    assert!(a >= 1 && b > a, "sequence numbers grow: {a} {b}");
    assert_eq!(log_last(&*s), b);
    let c = {
        let (tx, rx) = crossbeam_channel::unbounded();
        write(&*s, move |w| {
            tx.send(w.log_append(b"c")?).unwrap();
            Ok(())
        })
        .unwrap();
        rx.recv().unwrap()
    };
    assert!(c > b);
    assert_eq!(
        log(&*s, 0, 10),
        vec![(a, b"a".to_vec()), (b, vec![0, 255, 0]), (c, b"c".to_vec())]
    );
    assert_eq!(log(&*s, b, 10).len(), 2);
    assert_eq!(log(&*s, b, 1), vec![(b, vec![0, 255, 0])]);
    assert!(log(&*s, c + 1, 10).is_empty());
    assert!(log(&*s, u64::MAX, 10).is_empty());
    assert!(log(&*s, 0, 0).is_empty());
    // Truncation keeps the records at and after `before`, and numbering goes on.
    write(&*s, move |w| w.log_truncate(c)).unwrap();
    assert_eq!(log(&*s, 0, 10), vec![(c, b"c".to_vec())]);
    // Deleting the keys leaves the log alone, and the other way round.
    put(&*s, b"k", b"v");
    write(&*s, |w| w.delete_range(b"", None)).unwrap();
    assert_eq!(log(&*s, 0, 10).len(), 1);
    put(&*s, b"k", b"v");
    write(&*s, |w| w.log_truncate(u64::MAX)).unwrap();
    assert!(log(&*s, 0, 10).is_empty());
    assert_eq!(get(&*s, b"k").as_deref(), Some(&b"v"[..]));
    s.shutdown();
    // The log is durable.
    let s: Arc<dyn Store> = Arc::from(open());
    write(&*s, |w| w.log_append(b"durable").map(|_| ())).unwrap();
    s.shutdown();
    let s: Arc<dyn Store> = Arc::from(open());
    assert_eq!(
        log(&*s, 0, 10).last().map(|r| r.1.clone()),
        Some(b"durable".to_vec())
    );
    s.shutdown();
}

pub fn log_follows_job_outcome(open: Open<'_>) {
    let s = fresh(open);
    // A failed job's appends are undone with its keys; a failed nested block's too.
    let r = write(&*s, |w| {
        w.log_append(b"lost")?;
        w.put(b"lost", b"1")?;
        Err(StoreError::Other("fails".into()))
    });
    assert!(r.is_err());
    write(&*s, |w| {
        w.nested(&mut |w| {
            w.log_append(b"undone").unwrap();
            false
        })?;
        w.log_append(b"kept").map(|_| ())
    })
    .unwrap();
    let records: Vec<Vec<u8>> = log(&*s, 0, 10).into_iter().map(|r| r.1).collect();
    assert_eq!(records, vec![b"kept".to_vec()]);
    assert_eq!(get(&*s, b"lost"), None);
    // Appends from many concurrent jobs all land, each number once.
    let n = 200;
    let (tx, rx) = crossbeam_channel::unbounded();
    for i in 0..n {
        let tx = tx.clone();
        s.submit(
            Box::new(move |w| w.log_append(format!("r{i}").as_bytes()).map(|_| ())),
            Box::new(move |r| tx.send(r.is_ok()).unwrap()),
        );
    }
    for _ in 0..n {
        assert!(rx.recv().unwrap());
    }
    let all = log(&*s, 0, 1000);
    assert_eq!(all.len(), n + 1);
    assert!(all.windows(2).all(|w| w[0].0 < w[1].0));
    s.shutdown();
}

fn write(
    s: &dyn Store,
    f: impl FnOnce(&mut dyn WriteTx) -> Result<(), StoreError> + Send + 'static,
) -> Result<(), StoreError> {
    write_blocking(s, Box::new(f))
}

fn get(s: &dyn Store, k: &[u8]) -> Option<Vec<u8>> {
    let mut out = None;
    s.read(&mut |tx| {
        out = tx.get(k)?;
        Ok(())
    })
    .unwrap();
    out
}

fn scan(s: &dyn Store, range: &Range<'_>, limit: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    s.read(&mut |tx| {
        out = tx.scan(range, limit)?;
        Ok(())
    })
    .unwrap();
    out
}

fn put(s: &dyn Store, k: &[u8], v: &[u8]) {
    let (k, v) = (k.to_vec(), v.to_vec());
    write(s, move |tx| tx.put(&k, &v)).unwrap();
}

pub fn get_put_overwrite_delete(open: Open<'_>) {
    let s = fresh(open);
    assert_eq!(get(&*s, b"a"), None);
    put(&*s, b"a", b"1");
    assert_eq!(get(&*s, b"a").as_deref(), Some(&b"1"[..]));
    put(&*s, b"a", b"2");
    assert_eq!(get(&*s, b"a").as_deref(), Some(&b"2"[..]));
    write(&*s, |tx| tx.delete(b"a")).unwrap();
    assert_eq!(get(&*s, b"a"), None);
    // Deleting what is absent is not an error.
    write(&*s, |tx| tx.delete(b"a")).unwrap();
    s.shutdown();
}

pub fn binary_keys_and_values(open: Open<'_>) {
    let s = fresh(open);
    let big = vec![0xA5u8; 256 * 1024];
    let cases: Vec<(Vec<u8>, Vec<u8>)> = vec![
        (vec![], b"empty key".to_vec()),
        (b"empty value".to_vec(), vec![]),
        (vec![0, 0, 0], vec![0, 1, 2]),
        (vec![0xFF; 3], vec![0xFF]),
        (b"big".to_vec(), big),
    ];
    for (k, v) in &cases {
        put(&*s, k, v);
    }
    for (k, v) in &cases {
        assert_eq!(get(&*s, k).as_ref(), Some(v), "{k:?}");
    }
    // Blob order is unsigned bytewise: shorter prefix first, 0xFF last.
    let all = scan(&*s, &full(false), usize::MAX);
    let keys: Vec<_> = all.into_iter().map(|(k, _)| k).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert_eq!(keys.first(), Some(&vec![]));
    assert_eq!(keys.last(), Some(&vec![0xFF; 3]));
    s.shutdown();
}

fn as_ref(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(v) => Bound::Included(v.as_slice()),
        Bound::Excluded(v) => Bound::Excluded(v.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

fn full(reverse: bool) -> Range<'static> {
    Range {
        start: Bound::Unbounded,
        end: Bound::Unbounded,
        reverse,
    }
}

pub fn delete_range(open: Open<'_>) {
    let s = fresh(open);
    write(&*s, |tx| {
        for k in [&b"a"[..], b"b", b"b1", b"b\xff", b"c", b"d"] {
            tx.put(k, b"v")?;
        }
        Ok(())
    })
    .unwrap();
    write(&*s, |tx| tx.delete_range(b"b", Some(b"c"))).unwrap();
    let keys = |s: &dyn Store| -> Vec<Vec<u8>> {
        scan(s, &full(false), 100)
            .into_iter()
            .map(|e| e.0)
            .collect()
    };
    assert_eq!(keys(&*s), vec![b"a".to_vec(), b"c".to_vec(), b"d".to_vec()]);
    write(&*s, |tx| tx.delete_range(b"c", None)).unwrap();
    assert_eq!(keys(&*s), vec![b"a".to_vec()]);
    // An empty range deletes nothing.
    write(&*s, |tx| tx.delete_range(b"a", Some(b"a"))).unwrap();
    assert_eq!(keys(&*s), vec![b"a".to_vec()]);
    s.shutdown();
}

pub fn scan_prefix(open: Open<'_>) {
    let s = fresh(open);
    let acct = |a: &str, u: &str| Key::new().str("iam").str(a).str(u).finish();
    write(&*s, move |tx| {
        for (a, u) in [("1", "alice"), ("1", "bob"), ("12", "carol"), ("2", "dan")] {
            tx.put(&acct(a, u), u.as_bytes())?;
        }
        Ok(())
    })
    .unwrap();
    let prefix = Key::new().str("iam").str("1").finish();
    let mut end = Vec::new();
    let got: Vec<_> = scan(&*s, &Range::prefix(&prefix, &mut end), 100)
        .into_iter()
        .map(|e| e.1)
        .collect();
    assert_eq!(got, vec![b"alice".to_vec(), b"bob".to_vec()]);
    // A string-prefix scan does include "12".
    let p = Key::new().str("iam").str_prefix("1").finish();
    assert_eq!(scan(&*s, &Range::prefix(&p, &mut end), 100).len(), 3);
    // A prefix of 0xFF bytes has no end: unbounded.
    put(&*s, b"\xff\xff\x01", b"x");
    assert_eq!(
        scan(&*s, &Range::prefix(b"\xff\xff", &mut end), 100).len(),
        1
    );
    s.shutdown();
}

pub fn scan_bounds_limit_reverse(open: Open<'_>) {
    let s = fresh(open);
    let model: BTreeMap<Vec<u8>, Vec<u8>> = (0u64..40)
        .map(|i| (Key::new().u64(i * 3).finish(), i.to_be_bytes().to_vec()))
        .collect();
    let m = model.clone();
    write(&*s, move |tx| {
        for (k, v) in &m {
            tx.put(k, v)?;
        }
        Ok(())
    })
    .unwrap();
    let probes: Vec<Vec<u8>> = [0u64, 1, 3, 50, 60, 61, 117, 200]
        .iter()
        .map(|&i| Key::new().u64(i).finish())
        .collect();
    let bounds = |p: &[u8]| -> Vec<Bound<Vec<u8>>> {
        vec![
            Bound::Unbounded,
            Bound::Included(p.to_vec()),
            Bound::Excluded(p.to_vec()),
        ]
    };
    for lo in &probes {
        for hi in &probes {
            for start in bounds(lo) {
                for end in bounds(hi) {
                    for reverse in [false, true] {
                        for limit in [0usize, 1, 5, 1000] {
                            let (st, en) = (as_ref(&start), as_ref(&end));
                            let range = Range {
                                start: st,
                                end: en,
                                reverse,
                            };
                            let mut want: Vec<(Vec<u8>, Vec<u8>)> = model
                                .iter()
                                .filter(|(k, _)| {
                                    let k = k.as_slice();
                                    let after = match st {
                                        Bound::Included(b) => k >= b,
                                        Bound::Excluded(b) => k > b,
                                        Bound::Unbounded => true,
                                    };
                                    let before = match en {
                                        Bound::Included(b) => k <= b,
                                        Bound::Excluded(b) => k < b,
                                        Bound::Unbounded => true,
                                    };
                                    after && before
                                })
                                .map(|(k, v)| (k.clone(), v.clone()))
                                .collect();
                            if reverse {
                                want.reverse();
                            }
                            want.truncate(limit);
                            assert_eq!(scan(&*s, &range, limit), want, "{range:?} {limit}");
                        }
                    }
                }
            }
        }
    }
    s.shutdown();
}

pub fn reads_inside_write_see_own_writes(open: Open<'_>) {
    let s = fresh(open);
    put(&*s, b"k0", b"old");
    write(&*s, |tx| {
        tx.put(b"k1", b"new")?;
        assert_eq!(tx.get(b"k1")?.as_deref(), Some(&b"new"[..]));
        tx.put(b"k0", b"changed")?;
        assert_eq!(tx.get(b"k0")?.as_deref(), Some(&b"changed"[..]));
        let all = tx.scan(&full(false), 10)?;
        assert_eq!(all.len(), 2);
        tx.delete(b"k0")?;
        assert_eq!(tx.get(b"k0")?, None);
        assert_eq!(tx.scan(&full(true), 10)?.len(), 1);
        Ok(())
    })
    .unwrap();
    // A later job of the same store sees the earlier job's committed writes.
    write(&*s, |tx| {
        assert_eq!(tx.get(b"k1")?.as_deref(), Some(&b"new"[..]));
        Ok(())
    })
    .unwrap();
    s.shutdown();
}

/// Holds the writer busy until `n` more jobs are queued, so those jobs share one group.
fn gate(s: &dyn Store) -> crossbeam_channel::Sender<()> {
    let (open_tx, open_rx) = crossbeam_channel::bounded::<()>(1);
    s.submit(
        Box::new(move |_| {
            let _ = open_rx.recv();
            Ok(())
        }),
        Box::new(|r| r.unwrap()),
    );
    open_tx
}

type Results = Arc<parking_lot::Mutex<Vec<(usize, Result<(), String>)>>>;

fn submit_recorded(
    s: &dyn Store,
    id: usize,
    results: &Results,
    done_tx: &crossbeam_channel::Sender<()>,
    f: impl FnOnce(&mut dyn WriteTx) -> Result<(), StoreError> + Send + 'static,
) {
    let (results, done_tx) = (results.clone(), done_tx.clone());
    s.submit(
        Box::new(f),
        Box::new(move |r| {
            results.lock().push((id, r.map_err(|e| e.to_string())));
            let _ = done_tx.send(());
        }),
    );
}

pub fn job_error_is_isolated_in_group(open: Open<'_>) {
    let s = fresh(open);
    put(&*s, b"shared", b"0");
    let release = gate(&*s);
    let results: Results = Arc::default();
    let (done_tx, done_rx) = crossbeam_channel::unbounded();
    submit_recorded(&*s, 0, &results, &done_tx, |tx| tx.put(b"a", b"1"));
    submit_recorded(&*s, 1, &results, &done_tx, |tx| {
        tx.put(b"b", b"1")?;
        tx.put(b"shared", b"from failed job")?;
        Err(StoreError::Other("job failed".into()))
    });
    submit_recorded(&*s, 2, &results, &done_tx, |tx| {
        // Sees job 0's write and not job 1's.
        assert_eq!(tx.get(b"a")?.as_deref(), Some(&b"1"[..]));
        assert_eq!(tx.get(b"shared")?.as_deref(), Some(&b"0"[..]));
        tx.put(b"c", b"1")
    });
    submit_recorded(&*s, 3, &results, &done_tx, |tx| {
        tx.put(b"d", b"1")?;
        panic!("a job that panics");
    });
    submit_recorded(&*s, 4, &results, &done_tx, |tx| tx.put(b"e", b"1"));
    release.send(()).unwrap();
    for _ in 0..5 {
        done_rx.recv().unwrap();
    }
    let mut r = results.lock().clone();
    r.sort_by_key(|x| x.0);
    let ok: Vec<bool> = r.iter().map(|x| x.1.is_ok()).collect();
    assert_eq!(ok, vec![true, false, true, false, true], "{r:?}");
    assert!(r[1].1.as_ref().unwrap_err().contains("job failed"));
    assert!(r[3].1.as_ref().unwrap_err().contains("panicked"));
    for (k, present) in [
        (&b"a"[..], true),
        (b"b", false),
        (b"c", true),
        (b"d", false),
        (b"e", true),
    ] {
        assert_eq!(get(&*s, k).is_some(), present, "{k:?}");
    }
    assert_eq!(get(&*s, b"shared").as_deref(), Some(&b"0"[..]));
    // The writer survived the panic.
    put(&*s, b"after", b"1");
    s.shutdown();
}

pub fn nested_rollback(open: Open<'_>) {
    let s = fresh(open);
    write(&*s, |tx| {
        tx.put(b"outer", b"1")?;
        let kept = tx.nested(&mut |tx| tx.put(b"kept", b"1").is_ok())?;
        assert!(kept);
        let undone = tx.nested(&mut |tx| {
            tx.put(b"undone", b"1").unwrap();
            tx.put(b"outer", b"clobbered").unwrap();
            false
        })?;
        assert!(!undone);
        assert_eq!(tx.get(b"undone")?, None);
        assert_eq!(tx.get(b"outer")?.as_deref(), Some(&b"1"[..]));
        // Inner kept, outer undone: both go.
        tx.nested(&mut |tx| {
            tx.put(b"mid", b"1").unwrap();
            let inner = tx.nested(&mut |tx| tx.put(b"inner", b"1").is_ok()).unwrap();
            assert!(inner);
            false
        })?;
        // Inner undone, outer kept: only the inner write goes.
        tx.nested(&mut |tx| {
            tx.put(b"mid2", b"1").unwrap();
            tx.nested(&mut |tx| {
                tx.put(b"inner2", b"1").unwrap();
                false
            })
            .unwrap();
            assert_eq!(tx.get(b"inner2").unwrap(), None);
            true
        })?;
        // The audit-record pattern: the operation fails, the record is still written.
        tx.nested(&mut |tx| {
            tx.put(b"op-state", b"1").unwrap();
            false
        })?;
        tx.put(b"audit", b"1")
    })
    .unwrap();
    let present: Vec<bool> = [
        &b"outer"[..],
        b"kept",
        b"undone",
        b"mid",
        b"inner",
        b"mid2",
        b"inner2",
        b"op-state",
        b"audit",
    ]
    .iter()
    .map(|k| get(&*s, k).is_some())
    .collect();
    assert_eq!(
        present,
        vec![true, true, false, false, false, true, false, false, true]
    );
    // A job that fails after a kept nested block loses that block too.
    let r = write(&*s, |tx| {
        tx.nested(&mut |tx| tx.put(b"lost", b"1").is_ok())?;
        Err(StoreError::Other("later failure".into()))
    });
    assert!(r.is_err());
    assert_eq!(get(&*s, b"lost"), None);
    s.shutdown();
}

pub fn done_called_after_commit(open: Open<'_>) {
    let s = fresh(open);
    let (tx, rx) = crossbeam_channel::unbounded();
    for i in 0u64..50 {
        let key = Key::new().str("d").u64(i).finish();
        let (s2, tx, k2) = (s.clone(), tx.clone(), key.clone());
        s.submit(
            Box::new(move |w| w.put(&key, b"v")),
            Box::new(move |r| {
                // By the time done runs, a fresh snapshot must already see the write.
                let seen = r.is_ok() && get(&*s2, &k2).is_some();
                let _ = tx.send(seen);
            }),
        );
    }
    for _ in 0..50 {
        assert!(rx.recv().unwrap());
    }
    s.shutdown();
}

pub fn concurrent_submitters(open: Open<'_>) {
    let s = fresh(open);
    const THREADS: u64 = 8;
    const PER: u64 = 200;
    let barrier = Arc::new(Barrier::new(THREADS as usize));
    let (done_tx, done_rx) = crossbeam_channel::unbounded();
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (s, barrier, done_tx) = (s.clone(), barrier.clone(), done_tx.clone());
            std::thread::spawn(move || {
                barrier.wait();
                for i in 0..PER {
                    let done_tx = done_tx.clone();
                    s.submit(
                        Box::new(move |tx| {
                            // Commit order: a global counter, read-modify-write.
                            let n = tx
                                .get(b"counter")?
                                .map(|v| u64::from_be_bytes(v.try_into().unwrap()))
                                .unwrap_or(0);
                            tx.put(b"counter", &(n + 1).to_be_bytes())?;
                            tx.put(
                                &Key::new().str("seq").u64(t).u64(n).finish(),
                                &i.to_be_bytes(),
                            )
                        }),
                        Box::new(move |r| done_tx.send(r.is_ok()).unwrap()),
                    );
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    for _ in 0..THREADS * PER {
        assert!(done_rx.recv().unwrap(), "a job failed");
    }
    let counter = get(&*s, b"counter").unwrap();
    assert_eq!(counter, (THREADS * PER).to_be_bytes());
    // Per submitter, jobs ran in submission order.
    for t in 0..THREADS {
        let p = Key::new().str("seq").u64(t).finish();
        let mut end = Vec::new();
        let seq: Vec<u64> = scan(&*s, &Range::prefix(&p, &mut end), usize::MAX)
            .into_iter()
            .map(|(_, v)| u64::from_be_bytes(v.try_into().unwrap()))
            .collect();
        assert_eq!(seq, (0..PER).collect::<Vec<_>>(), "thread {t}");
    }
    s.shutdown();
}

pub fn snapshot_consistency(open: Open<'_>) {
    let s = fresh(open);
    put(&*s, b"x", b"1");
    put(&*s, b"y", b"1");
    let s2 = s.clone();
    s.read(&mut |tx| {
        assert_eq!(tx.get(b"x")?.as_deref(), Some(&b"1"[..]));
        // Another transaction commits while this snapshot is open...
        write(&*s2, |w| {
            w.put(b"x", b"2")?;
            w.put(b"y", b"2")?;
            w.put(b"z", b"2")
        })?;
        // ...and this snapshot still sees the old state, everywhere.
        assert_eq!(tx.get(b"y")?.as_deref(), Some(&b"1"[..]));
        assert_eq!(tx.get(b"z")?, None);
        assert_eq!(tx.scan(&full(false), 10)?.len(), 2);
        Ok(())
    })
    .unwrap();
    assert_eq!(get(&*s, b"y").as_deref(), Some(&b"2"[..]));
    // Errors returned by the read closure come back to the caller.
    let r = s.read(&mut |_| Err(StoreError::Other("mine".into())));
    assert!(matches!(r, Err(StoreError::Other(m)) if m == "mine"));
    s.shutdown();
}

pub fn shutdown_drains_then_refuses(open: Open<'_>) {
    let s = fresh(open);
    let (tx, rx) = crossbeam_channel::unbounded();
    for i in 0u64..500 {
        let tx = tx.clone();
        s.submit(
            Box::new(move |w| w.put(&Key::new().str("drain").u64(i).finish(), b"v")),
            Box::new(move |r| tx.send(r.is_ok()).unwrap()),
        );
    }
    s.shutdown();
    for _ in 0..500 {
        assert!(
            rx.try_recv().unwrap(),
            "queued job not committed by shutdown"
        );
    }
    // After shutdown a job is refused, and its done still runs.
    let (tx2, rx2) = crossbeam_channel::unbounded();
    s.submit(
        Box::new(|w| w.put(b"late", b"v")),
        Box::new(move |r| tx2.send(r).unwrap()),
    );
    assert!(matches!(
        rx2.try_recv().unwrap(),
        Err(StoreError::WriterGone)
    ));
    s.shutdown(); // idempotent
    drop(s);
    let s = Arc::<dyn Store>::from(open());
    let p = Key::new().str("drain").finish();
    let mut end = Vec::new();
    assert_eq!(
        scan(&*s, &Range::prefix(&p, &mut end), usize::MAX).len(),
        500
    );
    assert_eq!(get(&*s, b"late"), None);
    s.shutdown();
}

pub fn reopen_after_shutdown_persists(open: Open<'_>) {
    let s = fresh(open);
    write(&*s, |tx| {
        for i in 0u64..100 {
            tx.put(&Key::new().str("p").u64(i).finish(), &[7u8; 1500])?;
        }
        tx.put(b"gone", b"1")
    })
    .unwrap();
    write(&*s, |tx| tx.delete(b"gone")).unwrap();
    s.shutdown();
    drop(s);
    for _ in 0..2 {
        let s = Arc::<dyn Store>::from(open());
        let p = Key::new().str("p").finish();
        let mut end = Vec::new();
        let all = scan(&*s, &Range::prefix(&p, &mut end), usize::MAX);
        assert_eq!(all.len(), 100);
        assert!(all.iter().all(|(_, v)| v == &[7u8; 1500]));
        assert_eq!(get(&*s, b"gone"), None);
        s.shutdown();
    }
}

fn appended(s: &dyn Store, from: u64) -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    s.read(&mut |tx| {
        out = tx.appended_read(from, usize::MAX)?.0;
        Ok(())
    })
    .unwrap();
    out
}

fn append_blocking(s: &dyn Store, records: Vec<Vec<u8>>) -> Result<(), StoreError> {
    crate::wait_for(|done| s.append(records, done))
}

pub fn appended_stream(open: Open<'_>) {
    let s = fresh(open);
    // Appends from many threads: the records of one append are consecutive, each thread's
    // appends (one after the other's done) in order, and all readable once done.
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let s = s.clone();
            std::thread::spawn(move || {
                for i in 0..50 {
                    let recs = vec![
                        format!("{t}.{i}.a").into_bytes(),
                        format!("{t}.{i}.b").into_bytes(),
                    ];
                    append_blocking(&*s, recs).unwrap();
                    let all = appended(&*s, 0);
                    assert!(all.iter().any(|r| r.1 == format!("{t}.{i}.b").into_bytes()));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let all = appended(&*s, 0);
    assert_eq!(all.len(), 400);
    assert!(all.windows(2).all(|w| w[0].0 < w[1].0), "positions ascend");
    for t in 0..4 {
        let mine: Vec<Vec<u8>> = all
            .iter()
            .filter(|r| r.1.starts_with(format!("{t}.").as_bytes()))
            .map(|r| r.1.clone())
            .collect();
        let want: Vec<Vec<u8>> = (0..50)
            .flat_map(|i| {
                [
                    format!("{t}.{i}.a").into_bytes(),
                    format!("{t}.{i}.b").into_bytes(),
                ]
            })
            .collect();
        assert_eq!(mine, want);
    }
    for pair in all.chunks(2) {
        let a = String::from_utf8(pair[0].1.clone()).unwrap();
        assert_eq!(a.replace(".a", ".b").into_bytes(), pair[1].1);
    }
    // Reading from any record's position starts there; the end reads nothing.
    let third = all[2].0;
    assert_eq!(appended(&*s, third).len(), 398);
    let end = {
        let mut e = 0;
        s.read(&mut |tx| {
            e = tx.appended_end()?;
            Ok(())
        })
        .unwrap();
        e
    };
    assert!(end > all[399].0);
    assert!(appended(&*s, end).is_empty());
    // The jobs' log is a separate stream.
    assert!(log(&*s, 0, 10_000).is_empty());
    // A truncation hides what was readable, commits with its job, and later appends show.
    write(&*s, |tx| tx.appended_truncate(u64::MAX)).unwrap();
    assert!(appended(&*s, 0).is_empty());
    append_blocking(&*s, vec![b"after".to_vec()]).unwrap();
    let after = appended(&*s, 0);
    assert_eq!(after.len(), 1);
    assert!(after[0].0 >= end);
    // A truncation in a job that fails is undone with it.
    let r = write(&*s, |tx| {
        tx.appended_truncate(u64::MAX)?;
        Err(StoreError::Other("no".into()))
    });
    assert!(r.is_err());
    assert_eq!(appended(&*s, 0).len(), 1);
    // After shutdown an append is refused (its done reports the writer gone).
    s.shutdown();
    assert!(append_blocking(&*s, vec![b"late".to_vec()]).is_err());
}

pub fn appends_survive_reopen(open: Open<'_>) {
    let s = fresh(open);
    let n = 200;
    let (tx, rx) = crossbeam_channel::unbounded();
    for i in 0..n {
        let tx = tx.clone();
        s.append(
            vec![format!("r{i}").into_bytes()],
            Box::new(move |r| tx.send(r.is_ok()).unwrap()),
        );
    }
    for _ in 0..n {
        assert!(rx.recv().unwrap());
    }
    let before = appended(&*s, 0);
    s.shutdown();
    drop(s);
    let s: Arc<dyn Store> = Arc::from(open());
    let got = appended(&*s, 0);
    assert_eq!(got, before);
    let want: Vec<Vec<u8>> = (0..n).map(|i| format!("r{i}").into_bytes()).collect();
    assert_eq!(got.into_iter().map(|r| r.1).collect::<Vec<_>>(), want);
    // Appends after the reopen follow them.
    append_blocking(&*s, vec![b"after".to_vec()]).unwrap();
    let all = appended(&*s, 0);
    assert_eq!(all.len(), n + 1);
    assert_eq!(all[n].1, b"after".to_vec());
    assert!(all[n].0 > all[n - 1].0);
    // A truncation survives a reopen too.
    write(&*s, |tx| tx.appended_truncate(u64::MAX)).unwrap();
    s.shutdown();
    drop(s);
    let s: Arc<dyn Store> = Arc::from(open());
    assert!(appended(&*s, 0).is_empty());
    s.shutdown();
}
