//! The shared store suite against the SQLite adapter, in both durabilities.
#![allow(clippy::unwrap_used, clippy::panic)]

use palisade_store::sqlite::{Durability, SqliteOptions, SqliteStore};
use palisade_store::testsuite;
use palisade_store::Store;

fn with_store(durability: Durability, test: fn(testsuite::Open<'_>)) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("palisade.db");
    let opts = SqliteOptions {
        durability,
        readers: 4,
        ..SqliteOptions::default()
    };
    let open =
        move || -> Box<dyn Store> { Box::new(SqliteStore::open(&path, opts.clone()).unwrap()) };
    test(&open);
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod full {
            use super::*;
            $( #[test] fn $name() { with_store(Durability::Full, testsuite::$name) } )*
        }
        mod normal {
            use super::*;
            $( #[test] fn $name() { with_store(Durability::Normal, testsuite::$name) } )*
        }
        /// Every behaviour listed in `testsuite::ALL` has a test here.
        #[test]
        fn suite_is_complete() {
            let here: &[&str] = &[$(stringify!($name)),*];
            for (name, _) in testsuite::ALL {
                assert!(here.contains(name), "{name} is not run for SQLite");
            }
        }
    };
}

suite!(
    get_put_overwrite_delete,
    binary_keys_and_values,
    delete_range,
    scan_prefix,
    scan_bounds_limit_reverse,
    reads_inside_write_see_own_writes,
    job_error_is_isolated_in_group,
    nested_rollback,
    done_called_after_commit,
    concurrent_submitters,
    snapshot_consistency,
    shutdown_drains_then_refuses,
    reopen_after_shutdown_persists,
    log_append_read_truncate,
    log_follows_job_outcome,
    appended_stream,
    appends_survive_reopen,
);

#[test]
fn run_all_in_one_store() {
    with_store(Durability::Normal, testsuite::run_all);
}

#[test]
fn open_fails_cleanly_on_a_bad_path() {
    let dir = tempfile::tempdir().unwrap();
    let r = SqliteStore::open(&dir.path().join("no/such/dir/db"), SqliteOptions::default());
    assert!(r.is_err());
}

fn open_in(dir: &tempfile::TempDir, readers: usize) -> SqliteStore {
    let opts = SqliteOptions {
        readers,
        ..SqliteOptions::default()
    };
    SqliteStore::open(&dir.path().join("palisade.db"), opts).unwrap()
}

#[test]
fn a_panicking_read_returns_its_connection_to_the_pool() {
    let dir = tempfile::tempdir().unwrap();
    let s = open_in(&dir, 1);
    palisade_store::write_blocking(&s, Box::new(|tx| tx.put(b"k", b"v"))).unwrap();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        s.read(&mut |tx| {
            tx.get(b"k")?;
            panic!("reader panics inside its snapshot");
        })
    }));
    assert!(r.is_err());
    // The only connection is back, out of its old snapshot: it sees a new write.
    palisade_store::write_blocking(&s, Box::new(|tx| tx.put(b"k", b"v2"))).unwrap();
    let mut got = None;
    s.read(&mut |tx| {
        got = tx.get(b"k")?;
        Ok(())
    })
    .unwrap();
    assert_eq!(got.as_deref(), Some(&b"v2"[..]));
    s.shutdown();
}

#[test]
fn dropping_the_last_handle_inside_done_does_not_deadlock() {
    let dir = tempfile::tempdir().unwrap();
    let s: std::sync::Arc<dyn Store> = std::sync::Arc::new(open_in(&dir, 1));
    let (tx, rx) = crossbeam_channel::bounded(1);
    let (go_tx, go_rx) = crossbeam_channel::bounded::<()>(1);
    let last = s.clone();
    s.submit(
        Box::new(|w| w.put(b"k", b"v")),
        Box::new(move |r| {
            // Runs on the writer thread, once the test has let go of its own handle, and
            // so drops the last handle there: shutdown must not try to join itself.
            go_rx.recv().unwrap();
            drop(last);
            let _ = tx.send(r.is_ok());
        }),
    );
    drop(s);
    go_tx.send(()).unwrap();
    assert!(rx.recv().unwrap());
    // The writer wound down on its own; the data is committed.
    let s = open_in(&dir, 1);
    let mut got = None;
    s.read(&mut |tx| {
        got = tx.get(b"k")?;
        Ok(())
    })
    .unwrap();
    assert_eq!(got.as_deref(), Some(&b"v"[..]));
}

/// Reads nested deeper than the reader pool (an authorization inside an operation's
/// read, under load) get extra connections instead of waiting forever.
#[test]
fn nested_reads_beyond_the_pool_do_not_deadlock() {
    let dir = tempfile::tempdir().unwrap();
    let opts = SqliteOptions {
        readers: 2,
        ..SqliteOptions::default()
    };
    let store = SqliteStore::open(&dir.path().join("db"), opts).unwrap();
    fn nest(store: &SqliteStore, depth: usize) -> usize {
        if depth == 0 {
            return 0;
        }
        let mut inner = 0;
        store
            .read(&mut |_tx| {
                inner = nest(store, depth - 1);
                Ok(())
            })
            .unwrap();
        inner + 1
    }
    assert_eq!(nest(&store, 6), 6);
    // The pool is still usable afterwards.
    store.read(&mut |tx| tx.get(b"k").map(|_| ())).unwrap();
    store.shutdown();
}
