//! Due-time indexes for the scheduler: which records have time-driven work due, ordered by
//! when, so that asking "is anything due?" every second reads one key however many
//! records there are, and running the work reads only what is due.
//!
//! An index holds, for each filed record (account, region, id), an entry
//! `(tag, due micros, account, region, id)` and a back-pointer `(filed tag, account,
//! region, id) -> due micros`, so that a write moves the entry without reading the old
//! record. The owner files a record in the same transaction as every write of it.
//!
//! Data dirs made before an index existed are filed once at start ([`ensure`]); new data
//! dirs and resets mark every index complete at once ([`mark_all_complete`]).

use crate::{error::ApiError, keyspace};
use palisade_store::{
    keys::{Decoder, Key, KeyError},
    Range, ReadTx, Store, WriteTx,
};
use std::ops::Bound;
use time::OffsetDateTime;

/// One due-time index (module docs).
pub struct DueIndex {
    /// Key tag of the entries, ordered by due time.
    tag: &'static str,
    /// Key tag of the back-pointers.
    filed_tag: &'static str,
    /// Meta flag: every record is filed.
    complete: &'static str,
    /// Files every record of a data dir made before this index.
    backfill: fn(&mut dyn WriteTx) -> Result<usize, ApiError>,
}

/// (account, region, id) of a filed record.
pub type Filed = (String, String, String);

impl DueIndex {
    pub const fn new(
        tag: &'static str,
        filed_tag: &'static str,
        complete: &'static str,
        backfill: fn(&mut dyn WriteTx) -> Result<usize, ApiError>,
    ) -> Self {
        DueIndex {
            tag,
            filed_tag,
            complete,
            backfill,
        }
    }

    fn entry_key(&self, micros: u64, (account, region, id): (&str, &str, &str)) -> Vec<u8> {
        Key::new()
            .str(self.tag)
            .u64(micros)
            .str(account)
            .str(region)
            .str(id)
            .finish()
    }

    fn filed_key(&self, (account, region, id): (&str, &str, &str)) -> Vec<u8> {
        Key::new()
            .str(self.filed_tag)
            .str(account)
            .str(region)
            .str(id)
            .finish()
    }

    /// Files the record `who` at `due` (`None`: nothing due), moving its entry.
    pub fn file(
        &self,
        tx: &mut dyn WriteTx,
        who: (&str, &str, &str),
        due: Option<OffsetDateTime>,
    ) -> Result<(), ApiError> {
        let filed_at = self.filed_key(who);
        let old = tx
            .get(&filed_at)?
            .and_then(|raw| <[u8; 8]>::try_from(raw.as_slice()).ok())
            .map(u64::from_be_bytes);
        let new = due.map(micros);
        if old == new {
            return Ok(());
        }
        if let Some(old) = old {
            tx.delete(&self.entry_key(old, who))?;
        }
        match new {
            Some(new) => {
                tx.put(&self.entry_key(new, who), &[])?;
                tx.put(&filed_at, &new.to_be_bytes())?;
            }
            None => tx.delete(&filed_at)?,
        }
        Ok(())
    }

    /// The entries due at or before `now`, earliest first: the readable ones as records,
    /// and the keys of any that do not decode (never written so; logged).
    fn scan_due(
        &self,
        tx: &dyn ReadTx,
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<(Vec<Filed>, Vec<Vec<u8>>), ApiError> {
        let (start, end) = self.due_bounds(now);
        let (mut due, mut unreadable) = (Vec::new(), Vec::new());
        for (key, _) in tx.scan(&due_range(&start, &end), limit)? {
            let mut d = Decoder::new(&key);
            let parsed = (|| {
                d.str()?;
                d.u64()?;
                Ok::<_, KeyError>((d.str()?, d.str()?, d.str()?))
            })();
            match parsed {
                Ok(filed) => due.push(filed),
                Err(e) => {
                    tracing::error!(index = self.tag, error = %e, "unreadable due-index entry; dropped");
                    unreadable.push(key);
                }
            }
        }
        Ok((due, unreadable))
    }

    /// Start and end keys of the entries due at or before `now`.
    fn due_bounds(&self, now: OffsetDateTime) -> (Vec<u8>, Vec<u8>) {
        let start = Key::new().str(self.tag).finish();
        let end = Key::new()
            .str(self.tag)
            .u64(micros(now).saturating_add(1))
            .finish();
        (start, end)
    }

    /// The records due at or before `now`, earliest first, at most `limit`.
    pub fn due(
        &self,
        tx: &dyn ReadTx,
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<Filed>, ApiError> {
        Ok(self.scan_due(tx, now, limit)?.0)
    }

    /// Every record due at or before `now`, for the write job that runs them; an entry
    /// that does not decode is deleted, so it can neither hide due work nor wake the
    /// scheduler again.
    pub fn take_due(
        &self,
        tx: &mut dyn WriteTx,
        now: OffsetDateTime,
    ) -> Result<Vec<Filed>, ApiError> {
        let (due, unreadable) = self.scan_due(tx, now, usize::MAX)?;
        for key in unreadable {
            tx.delete(&key)?;
        }
        Ok(due)
    }

    /// Whether anything is due at `now`: one key read (any entry, readable or not, so that
    /// the write job runs and clears what does not decode).
    pub fn any_due(&self, tx: &dyn ReadTx, now: OffsetDateTime) -> Result<bool, ApiError> {
        let (start, end) = self.due_bounds(now);
        Ok(!tx.scan(&due_range(&start, &end), 1)?.is_empty())
    }

    fn complete_key(&self) -> Vec<u8> {
        keyspace::meta(self.complete)
    }
}

/// Files every record stored under key tag `tag` (each decoded as `T`) with `file`; how
/// many there were. The backfill of an index its owner adds after records exist.
pub fn file_all<T: serde::de::DeserializeOwned>(
    tx: &mut dyn WriteTx,
    tag: &str,
    file: impl Fn(&mut dyn WriteTx, &T) -> Result<(), ApiError>,
) -> Result<usize, ApiError> {
    let prefix = Key::new().str(tag).finish();
    let mut end = Vec::new();
    let mut filed = 0usize;
    for (_, v) in tx.scan(&Range::prefix(&prefix, &mut end), usize::MAX)? {
        if let Ok(record) = serde_json::from_slice::<T>(&v) {
            file(tx, &record)?;
            filed += 1;
        }
    }
    Ok(filed)
}

fn due_range<'a>(start: &'a [u8], end: &'a [u8]) -> Range<'a> {
    Range {
        start: Bound::Included(start),
        end: Bound::Excluded(end),
        reverse: false,
    }
}

/// Due time as index order: microseconds since 1970 (earlier times file at 0).
fn micros(t: OffsetDateTime) -> u64 {
    u64::try_from(crate::audit::micros(t)).unwrap_or(0)
}

/// Every index the scheduler reads.
fn all() -> [&'static DueIndex; 3] {
    [
        &crate::secrets::DUE,
        &crate::kms::rotation::DUE,
        &crate::kms::import::DUE,
    ]
}

/// Marks every index complete: a new data dir (or a reset) has nothing to file.
pub fn mark_all_complete(tx: &mut dyn WriteTx) -> Result<(), palisade_store::StoreError> {
    for index in all() {
        tx.put(&index.complete_key(), &[1])?;
    }
    Ok(())
}

/// Files the records of every index a data dir made before it does not have yet, once, in
/// one write job at start.
pub fn ensure(store: &dyn Store) -> Result<(), ApiError> {
    let mut missing = Vec::new();
    store.read(&mut |tx| {
        missing.clear();
        for index in all() {
            if tx.get(&index.complete_key())?.is_none() {
                missing.push(index);
            }
        }
        Ok(())
    })?;
    if missing.is_empty() {
        return Ok(());
    }
    crate::accounts::write_blocking(store, move |tx| {
        for index in missing {
            let filed = (index.backfill)(tx)?;
            tx.put(&index.complete_key(), &[1])?;
            tracing::info!(
                index = index.tag,
                records = filed,
                "filed records in a scheduler index"
            );
        }
        Ok(())
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use palisade_store::sqlite::SqliteStore;

    #[test]
    fn entries_move_with_their_record_and_unreadable_ones_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("db"), Default::default()).unwrap();
        let index = &crate::secrets::DUE;
        let t = |s: i64| OffsetDateTime::from_unix_timestamp(1_900_000_000 + s).unwrap();
        let read = |f: &mut dyn FnMut(&dyn ReadTx)| {
            store
                .read(&mut |tx| {
                    f(tx);
                    Ok(())
                })
                .unwrap()
        };
        crate::accounts::write_blocking(&store, move |tx| {
            index.file(tx, ("a", "r", "x"), Some(t(10)))?;
            index.file(tx, ("a", "r", "y"), Some(t(20)))?;
            // Moved: filed once, under its new time.
            index.file(tx, ("a", "r", "x"), Some(t(30)))?;
            // An entry that does not decode, due first.
            tx.put(&Key::new().str("smd").u64(micros(t(5))).finish(), &[])?;
            Ok(())
        })
        .unwrap();
        read(&mut |tx| {
            assert!(!index.any_due(tx, t(4)).unwrap());
            // It does not hide what is due behind it.
            assert!(index.any_due(tx, t(5)).unwrap());
            let names = |now| -> Vec<String> {
                index
                    .due(tx, now, 9)
                    .unwrap()
                    .into_iter()
                    .map(|f| f.2)
                    .collect()
            };
            assert!(names(t(19)).is_empty());
            assert_eq!(names(t(20)), ["y"]);
            assert_eq!(names(t(30)), ["y", "x"]);
        });
        let taken = crate::accounts::write_blocking(&store, move |tx| {
            let taken = index.take_due(tx, t(20))?;
            index.file(tx, ("a", "r", "y"), None)?;
            Ok(taken)
        })
        .unwrap();
        assert_eq!(taken, [("a".into(), "r".into(), "y".into())]);
        read(&mut |tx| {
            assert!(!index.any_due(tx, t(29)).unwrap());
            assert_eq!(index.due(tx, t(30), 9).unwrap().len(), 1);
        });
    }
}
