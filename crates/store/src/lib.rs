//! Durable state for Palisade: one ordered key-value trait, an SQLite adapter (the default,
//! WAL, one writer thread with group commit, pooled readers) and at-rest sealing of secrets.
//!
//! Every service keeps its state as ordered keys (see [`keys`]) so that each lookup is a
//! point read or a prefix scan: indexes, not table scans. Beside the keys there is one
//! append-only log (sequence number -> bytes) for high-volume records that are written
//! once and indexed later in batches: CloudTrail events. An append touches only the log's
//! tail, so a call's audit record costs the writer one small sequential insert. A backend must pass the shared
//! suite in [`testsuite`].
//!
//! This crate must never log or store a secret in plaintext: callers seal secrets with
//! [`seal::MasterKey`] before they reach a [`WriteTx`].

mod journal;
pub mod keys;
pub mod seal;
pub mod sqlite;
pub mod testsuite;

use std::ops::Bound;

/// Errors of the storage layer. None of them is the client's fault: the server answers
/// `InternalFailure` for every one, after logging it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("the writer has stopped")]
    WriterGone,
    #[error("sealed value could not be opened (wrong master key or corrupted data)")]
    Unseal,
    #[error("{0}")]
    Other(String),
}

/// One (key, value) pair returned by a scan.
pub type Entry = (Vec<u8>, Vec<u8>);

/// A key range for scans; `Unbounded` ends mean "from the first" / "to the last" key.
#[derive(Debug, Clone)]
pub struct Range<'a> {
    pub start: Bound<&'a [u8]>,
    pub end: Bound<&'a [u8]>,
    /// Newest-first listings scan descending.
    pub reverse: bool,
}

impl<'a> Range<'a> {
    /// Every key that starts with `prefix`, ascending.
    pub fn prefix(prefix: &'a [u8], end_buf: &'a mut Vec<u8>) -> Self {
        *end_buf = keys::prefix_end(prefix);
        Range {
            start: Bound::Included(prefix),
            end: if end_buf.is_empty() {
                Bound::Unbounded
            } else {
                Bound::Excluded(end_buf.as_slice())
            },
            reverse: false,
        }
    }
}

/// Reads, inside a snapshot or inside a write transaction (then they see its own writes).
pub trait ReadTx {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// At most `limit` entries of `range`, in key order (descending when `range.reverse`).
    fn scan(&self, range: &Range<'_>, limit: usize) -> Result<Vec<Entry>, StoreError>;
    /// At most `limit` log records with sequence numbers `>= from`, ascending.
    fn log_read(&self, from: u64, limit: usize) -> Result<Vec<LogRecord>, StoreError>;
    /// The highest sequence number in the log (0 when it is empty).
    fn log_last(&self) -> Result<u64, StoreError>;
    /// At most `limit` records of the appended stream (see [`Store::append`]) at positions
    /// `>= from`, ascending, and the position to read on from. A position is a record's
    /// place in that stream: positions grow in append order and stay below 2^62. `from`
    /// must be 0, a record's position, or a position returned here or by
    /// [`ReadTx::appended_end`].
    fn appended_read(&self, from: u64, limit: usize) -> Result<(Vec<LogRecord>, u64), StoreError>;
    /// The position the next appended record will have: every readable one is below it.
    fn appended_end(&self) -> Result<u64, StoreError>;
}

/// A state with nothing in it: what an operation that reads no state is given, and a
/// fixture for tests.
#[derive(Debug, Clone, Copy, Default)]
pub struct EmptyState;

impl ReadTx for EmptyState {
    fn get(&self, _key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(None)
    }
    fn scan(&self, _range: &Range<'_>, _limit: usize) -> Result<Vec<Entry>, StoreError> {
        Ok(Vec::new())
    }
    fn log_read(&self, _from: u64, _limit: usize) -> Result<Vec<LogRecord>, StoreError> {
        Ok(Vec::new())
    }
    fn log_last(&self) -> Result<u64, StoreError> {
        Ok(0)
    }
    fn appended_read(&self, from: u64, _limit: usize) -> Result<(Vec<LogRecord>, u64), StoreError> {
        Ok((Vec::new(), from))
    }
    fn appended_end(&self) -> Result<u64, StoreError> {
        Ok(0)
    }
}

/// One record of the append-only log: its sequence number and bytes.
pub type LogRecord = (u64, Vec<u8>);

/// Writes of one job inside a group commit.
pub trait WriteTx: ReadTx {
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StoreError>;
    fn delete(&mut self, key: &[u8]) -> Result<(), StoreError>;
    /// Deletes every key in `[start, end)`; `end = None` means to the last key.
    fn delete_range(&mut self, start: &[u8], end: Option<&[u8]>) -> Result<(), StoreError>;
    /// Appends one record to the store's append-only log and returns its sequence number.
    /// Numbers grow in commit order (one writer); a number handed out by a write that was
    /// rolled back may be handed out again, since it was never visible.
    fn log_append(&mut self, record: &[u8]) -> Result<u64, StoreError>;
    /// Deletes every log record with a sequence number `< before` (retention, reset).
    /// After the whole log is deleted, numbering starts again at 1.
    fn log_truncate(&mut self, before: u64) -> Result<(), StoreError>;
    /// Hides every appended record at a position `< before` from then on (reset; `u64::MAX`
    /// hides all readable so far). Commits with the job.
    fn appended_truncate(&mut self, before: u64) -> Result<(), StoreError>;
    /// Runs `f` in a nested savepoint. When `f` returns `false`, every write it made is
    /// undone and the transaction goes on as before the call. Used by the request pipeline:
    /// a failed operation's writes are undone while its audit record is still written.
    fn nested(&mut self, f: &mut dyn FnMut(&mut dyn WriteTx) -> bool) -> Result<bool, StoreError>;
}

/// The body of a write job. Returning `Err` undoes every write of this job only; the other
/// jobs of the same group commit are not affected.
pub type WriteFn = Box<dyn FnOnce(&mut dyn WriteTx) -> Result<(), StoreError> + Send>;
/// Called once per job, after its group's commit is durable (`Ok`) or failed (`Err`), or
/// with the job's own error.
pub type DoneFn = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// A durable ordered key-value store.
pub trait Store: Send + Sync + 'static {
    /// Runs `f` against a consistent snapshot of committed state.
    fn read(
        &self,
        f: &mut dyn FnMut(&dyn ReadTx) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
    /// Queues a write job. Jobs run one at a time on the writer, in submission order, each
    /// in its own savepoint; several are committed together. `done` runs after the commit.
    fn submit(&self, job: WriteFn, done: DoneFn);
    /// Appends records that belong to no write job (the audit records of calls that change
    /// nothing) to the appended stream, a log of its own beside the jobs' log: read with
    /// [`ReadTx::appended_read`]. `done` runs once they are durable and readable. The
    /// records of one `append` are consecutive, and appends whose `done`s ran one after the
    /// other are in that order.
    fn append(&self, records: Vec<Vec<u8>>, done: DoneFn);
    /// Stops accepting jobs, commits those queued, and waits for the writer to finish.
    fn shutdown(&self);
}

/// Submits `job` and blocks the calling thread until its commit is durable. For startup
/// and tools; request handlers await `done` instead of blocking a runtime thread.
pub fn write_blocking(store: &dyn Store, job: WriteFn) -> Result<(), StoreError> {
    wait_for(|done| store.submit(job, done))
}

/// Hands `start` a `done` and blocks the calling thread until it has been called.
pub(crate) fn wait_for(start: impl FnOnce(DoneFn)) -> Result<(), StoreError> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    start(Box::new(move |r| {
        let _ = tx.send(r);
    }));
    rx.recv().unwrap_or(Err(StoreError::WriterGone))
}
