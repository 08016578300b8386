//! The shared store suite against the SQLite adapter, in both durabilities.
#![allow(clippy::unwrap_used)]

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
