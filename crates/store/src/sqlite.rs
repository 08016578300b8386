//! The SQLite adapter: one rowid table `kv(k BLOB PRIMARY KEY, v BLOB)` for the keys
//! (values are reached through the key's index; see [`migrate_kv_to_rowid`] for why not
//! `WITHOUT ROWID`) and one rowid table `log(seq INTEGER PRIMARY KEY, v BLOB)` for the jobs' log, in
//! one database file in WAL mode (so a job's keys and log records commit atomically), and
//! the appended stream beside it.
//!
//! Writes: one dedicated writer thread owns the only read-write connection. It blocks for a
//! job, drains up to `max_batch - 1` more that are already queued (group commit), runs them
//! one by one inside `BEGIN IMMEDIATE`, each in its own savepoint, and commits once. A job
//! that fails or panics is rolled back to its savepoint alone.
//!
//! Durability is pipelined: SQLite commits with `synchronous=NORMAL` (it writes the WAL
//! frames but does not fsync them), and the writer hands the group's `done`s to a syncer
//! thread, which fsyncs the WAL file and only then calls them. While the syncer waits for
//! the disk, the writer already runs the next groups, and one fsync covers every commit
//! before it. A checkpoint only copies frames into the database file after SQLite has
//! synced the WAL, and syncs the database before the WAL is reused, so an fsync of the WAL
//! after a commit makes that commit durable. With [`Durability::Normal`] there is no
//! syncer: `done` runs right after the commit (safe from a process crash, not a power
//! loss). Reads: a pool of read-only connections; each `read` is one read transaction, so
//! it sees one consistent snapshot.
//!
//! Appends ([`Store::append`]): records of calls that change nothing go to the appended
//! stream ([`crate::journal`]), segment files beside the database written by their own
//! thread, one fdatasync per round; they never pass through the writer. Its truncation
//! point (reset, retention) is kept in table `appends`, so that it commits with the job
//! that moves it.
//!
//! This module must never call `done` before the commit that holds the job's writes has
//! returned, and must never lose a `done` (every job's `done` is called exactly once, with
//! `WriterGone` at worst).

use std::any::Any;
use std::ops::Bound;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::{JoinHandle, ThreadId};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use parking_lot::{Mutex, RwLock};
use rusqlite::{Connection, OpenFlags, OptionalExtension, ToSql};

use crate::journal;
use crate::{DoneFn, Entry, LogRecord, Range, ReadTx, Store, StoreError, WriteFn, WriteTx};

/// When a commit is durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Every commit's WAL frames are fsynced before its jobs' `done` runs; survives power
    /// loss. The fsync runs on a syncer thread, not the writer (see the module docs).
    #[default]
    Full,
    /// `synchronous=NORMAL`: survives a process crash (`kill -9`), not a power loss.
    Normal,
}

/// Tuning of [`SqliteStore`]. `Default` is what the server uses.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    pub durability: Durability,
    /// Most read-only connections kept in the pool (at least 1); opened as reads need them.
    pub readers: usize,
    /// Most jobs in one group commit (at least 1).
    pub max_batch: usize,
    pub busy_timeout: Duration,
    /// Page cache of the writer, in KiB; each reader gets a quarter of it (a reader's cache
    /// starts over whenever another connection has committed, so it seldom fills).
    pub cache_size_kib: u32,
    /// Bytes of the database file to memory-map for reads (0 = off).
    pub mmap_size: u64,
    /// Only takes effect when the database file is created.
    pub page_size: u32,
    /// WAL pages before an automatic checkpoint.
    pub wal_autocheckpoint: u32,
    /// Bytes the WAL file is truncated back to after a checkpoint restarts it.
    pub wal_size_limit: u64,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        let cpus = std::thread::available_parallelism().map_or(4, |n| n.get());
        SqliteOptions {
            durability: Durability::Full,
            // A request can hold a few at once (an authorization's read inside its
            // operation's, a KMS read inside that); when the pool is empty a read opens a
            // connection of its own (schema parse, pragmas), which cost GetSecretValue
            // about 4% of its CPU with one per core (two on the 2-core machine). Each
            // reader's page cache is a quarter of `cache_size_kib` (`open_reader`).
            readers: (cpus * 4).clamp(8, 32),
            max_batch: 1024,
            busy_timeout: Duration::from_secs(5),
            cache_size_kib: 64 * 1024,
            // Off: while the writer grows the file, memory-mapped readers remap it again and
            // again (munmap, TLB shootdowns on every core); reads through the page cache
            // cost ~25% less CPU per IAM GetUser (measured, bench/iam.sh scenario).
            mmap_size: 0,
            // 8 KiB pages: chosen while `kv` was WITHOUT ROWID, whose cells are capped near
            // 1 KB with 4 KiB pages (a ~1.5 KB record spilled to an overflow page); they
            // also keep the index's posting lists (up to 64 KiB) on fewer overflow pages.
            page_size: 8192,
            // 64 MiB of WAL between checkpoints: hot index pages rewritten by many commits
            // are copied back once. Measured with examples/writer_ceiling.
            wal_autocheckpoint: 8000,
            wal_size_limit: 64 * 1024 * 1024,
        }
    }
}

/// The embedded default [`Store`].
///
/// Jobs' `done` callbacks run on the syncer thread (the writer's with
/// [`Durability::Normal`]), appends' on the journal thread: keep them to a channel send.
/// `read` blocks while every pooled connection is busy, so a `read` closure must not call
/// `read` again, and async callers should treat it as blocking work.
pub struct SqliteStore {
    path: PathBuf,
    jobs: RwLock<Option<Sender<Job>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    writer_id: ThreadId,
    syncer_id: Option<ThreadId>,
    appends: RwLock<Option<Sender<journal::Request>>>,
    journal: Arc<journal::Reader>,
    journal_thread: Mutex<Option<JoinHandle<()>>>,
    journal_id: ThreadId,
    pool_put: Sender<Connection>,
    pool_take: Receiver<Connection>,
    opts: SqliteOptions,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

struct Job {
    work: Work,
    done: Done,
}

enum Work {
    /// A job in its own savepoint.
    Job(WriteFn),
}

/// Calls its `DoneFn` exactly once: with the given result, or with `WriterGone` when it is
/// dropped uncalled (queue dropped at shutdown or after a writer failure).
pub(crate) struct Done(Option<DoneFn>);

impl Done {
    pub(crate) fn call(mut self, r: Result<(), StoreError>) {
        if let Some(d) = self.0.take() {
            call_done(d, r);
        }
    }
}

impl Drop for Done {
    fn drop(&mut self) {
        if let Some(d) = self.0.take() {
            call_done(d, Err(StoreError::WriterGone));
        }
    }
}

fn call_done(d: DoneFn, r: Result<(), StoreError>) {
    if let Err(p) = catch_unwind(AssertUnwindSafe(move || d(r))) {
        tracing::error!(
            panic = panic_message(&p),
            "a write job's done callback panicked"
        );
    }
}

fn panic_message(p: &Box<dyn Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

impl SqliteStore {
    fn queue(&self, job: Job) {
        let jobs = self.jobs.read();
        if let Some(tx) = jobs.as_ref() {
            // On failure the job comes back and is dropped, which reports WriterGone.
            let _ = tx.send(job);
        }
    }

    /// Opens (creating if needed) the database file at `path` and starts the writer.
    pub fn open(path: &Path, opts: SqliteOptions) -> Result<SqliteStore, StoreError> {
        let writer_conn = open_writer(path, &opts)?;
        let truncated = appended_start(&writer_conn)?;
        let (journal, journal_writer) = journal::open(
            &journal::dir_of(path),
            truncated,
            opts.durability == Durability::Full,
        )?;

        let readers = opts.readers.max(1);
        let (pool_put, pool_take) = crossbeam_channel::bounded(readers);
        // Two open now; the pool grows to `readers` as reads need more (`read` opens one
        // when the pool is empty and keeps it while there is room), so a start does not
        // wait for connections it may never use.
        for _ in 0..readers.min(2) {
            let c = open_reader(path, &opts)?;
            pool_put
                .send(c)
                .map_err(|_| StoreError::Other("reader pool closed".into()))?;
        }

        let (tx, rx) = crossbeam_channel::unbounded::<Job>();
        let max_batch = opts.max_batch.max(1);
        let syncer = match opts.durability {
            Durability::Full => Some(Syncer::spawn(&wal_path(path))?),
            Durability::Normal => None,
        };
        let syncer_id = syncer.as_ref().map(|s| s.thread_id);
        let writer = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn({
                let journal = Arc::clone(&journal);
                move || writer_loop(writer_conn, &journal, rx, max_batch, syncer)
            })?;

        let (appends_tx, appends_rx) = crossbeam_channel::unbounded::<journal::Request>();
        let truncation_conn = open_reader(path, &opts)?;
        let barrier = tx.clone();
        let mut durable = truncated;
        let truncation: journal::Truncation = Box::new(move || {
            let t = appended_start(&truncation_conn)?;
            if t > durable {
                // Visible is not yet durable (the syncer may not have run): an empty job
                // completes only after every earlier commit is, this one included.
                let (done_tx, done_rx) = crossbeam_channel::bounded(1);
                barrier
                    .send(Job {
                        work: Work::Job(Box::new(|_| Ok(()))),
                        done: Done(Some(Box::new(move |r| {
                            let _ = done_tx.send(r);
                        }))),
                    })
                    .map_err(|_| StoreError::WriterGone)?;
                done_rx.recv().unwrap_or(Err(StoreError::WriterGone))?;
                durable = t;
            }
            Ok(durable)
        });
        let journal_thread = std::thread::Builder::new()
            .name("store-journal".into())
            .spawn(move || journal_writer.run(&appends_rx, truncation))?;
        Ok(SqliteStore {
            path: path.to_owned(),
            jobs: RwLock::new(Some(tx)),
            writer_id: writer.thread().id(),
            syncer_id,
            writer: Mutex::new(Some(writer)),
            appends: RwLock::new(Some(appends_tx)),
            journal_id: journal_thread.thread().id(),
            journal_thread: Mutex::new(Some(journal_thread)),
            journal,
            pool_put,
            pool_take,
            opts,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn open_writer(path: &Path, opts: &SqliteOptions) -> Result<Connection, StoreError> {
    let writer_conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    configure(&writer_conn, opts)?;
    writer_conn.pragma_update(None, "page_size", opts.page_size)?;
    let mode: String =
        writer_conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Other(format!(
            "could not enable WAL mode (got {mode})"
        )));
    }
    // Full durability fsyncs the WAL on the syncer thread (module docs); SQLite's own
    // syncs at checkpoints are what NORMAL keeps.
    writer_conn.pragma_update(None, "synchronous", "NORMAL")?;
    writer_conn.pragma_update(None, "wal_autocheckpoint", opts.wal_autocheckpoint)?;
    writer_conn.pragma_update(None, "journal_size_limit", opts.wal_size_limit)?;
    writer_conn.pragma_update(None, "temp_store", "MEMORY")?;
    writer_conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS kv (k BLOB NOT NULL PRIMARY KEY, v BLOB NOT NULL);
         CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY, v BLOB NOT NULL);
         CREATE TABLE IF NOT EXISTS appends (id INTEGER PRIMARY KEY CHECK (id = 1),
                                             start INTEGER NOT NULL);",
    )?;
    migrate_kv_to_rowid(&writer_conn)?;
    Ok(writer_conn)
}

/// Data directories made before the `kv` table became a rowid table held it `WITHOUT
/// ROWID`; their rows are copied into the new layout once, in one transaction.
///
/// Why the layout changed: a `WITHOUT ROWID` table is one index b-tree whose cells are
/// whole rows, interior ones included. The CloudTrail index's posting lists are rows of up
/// to 64 KiB (secrets and key policies reach tens of KiB too); every binary search that met
/// such a cell copied the whole row out of its overflow pages to compare keys. That was a
/// fifth of the CPU of a `GetSecretValue`. In a rowid table the key index holds only the
/// keys, and values are reached by rowid, whose interior cells hold no payload.
fn migrate_kv_to_rowid(conn: &Connection) -> Result<(), StoreError> {
    let sql: Option<String> = conn
        .query_row(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'kv'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if !sql.is_some_and(|s| s.to_ascii_uppercase().contains("WITHOUT ROWID")) {
        return Ok(());
    }
    let rows: i64 = conn.query_row("SELECT count(*) FROM kv", [], |r| r.get(0))?;
    tracing::info!(rows, "store: moving table kv to the rowid layout (once)");
    conn.execute_batch(
        "BEGIN IMMEDIATE;
         DROP TABLE IF EXISTS kv_rowid;
         CREATE TABLE kv_rowid (k BLOB NOT NULL PRIMARY KEY, v BLOB NOT NULL);
         INSERT INTO kv_rowid (k, v) SELECT k, v FROM kv ORDER BY k;
         DROP TABLE kv;
         ALTER TABLE kv_rowid RENAME TO kv;
         COMMIT;",
    )
    .inspect_err(|_| {
        let _ = conn.execute_batch("ROLLBACK");
    })?;
    // The old table's pages are free pages now: give the space back (once).
    conn.execute_batch("VACUUM")?;
    tracing::info!("store: table kv moved to the rowid layout");
    Ok(())
}

/// The appended stream's truncation point (0 until the first reset or retention cut).
fn appended_start(conn: &Connection) -> Result<u64, StoreError> {
    let start: Option<i64> = conn
        .prepare_cached("SELECT start FROM appends WHERE id = 1")?
        .query_row([], |r| r.get(0))
        .optional()?;
    Ok(start.and_then(|v| u64::try_from(v).ok()).unwrap_or(0))
}

fn configure(c: &Connection, opts: &SqliteOptions) -> Result<(), StoreError> {
    c.busy_timeout(opts.busy_timeout)?;
    c.set_prepared_statement_cache_capacity(64);
    // Negative cache_size is in KiB.
    c.pragma_update(None, "cache_size", -i64::from(opts.cache_size_kib))?;
    c.pragma_update(None, "mmap_size", opts.mmap_size)?;
    Ok(())
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl Store for SqliteStore {
    fn read(
        &self,
        f: &mut dyn FnMut(&dyn ReadTx) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        // Never wait for a pooled connection: a read may run while its caller holds
        // another (an authorization inside an operation's read), and waiting could then
        // deadlock once every pooled connection is held that way. When the pool is empty
        // an extra connection serves this read; it is kept if the pool has room again.
        let conn = match self.pool_take.try_recv() {
            Ok(c) => c,
            Err(_) => open_reader(&self.path, &self.opts)?,
        };
        let guard = Pooled {
            conn: Some(conn),
            home: &self.pool_put,
        };
        let Some(conn) = guard.conn.as_ref() else {
            return Err(StoreError::Other("reader pool closed".into()));
        };
        conn.prepare_cached("BEGIN")?.execute([])?;
        let r = f(&SqlRead {
            conn,
            journal: &self.journal,
        });
        let end = conn.prepare_cached("COMMIT")?.execute([]);
        r?;
        end?;
        Ok(())
    }

    fn submit(&self, f: WriteFn, done: DoneFn) {
        self.queue(Job {
            work: Work::Job(f),
            done: Done(Some(done)),
        });
    }

    fn append(&self, records: Vec<Vec<u8>>, done: DoneFn) {
        let refused = {
            let appends = self.appends.read();
            match appends.as_ref() {
                Some(tx) => tx.send((records, Done(Some(done)))).err().map(|e| e.0 .1),
                None => Some(Done(Some(done))),
            }
        };
        // Outside the lock: the callback may shut the store down.
        if let Some(done) = refused {
            done.call(Err(StoreError::WriterGone));
        }
    }

    fn shutdown(&self) {
        drop(self.appends.write().take());
        drop(self.jobs.write().take());
        // Called from a job or a done callback (e.g. the last `Arc` dropped there): the
        // threads stop by themselves once their queues are empty; a thread cannot join
        // itself, and none may wait for a thread that waits for it.
        let me = std::thread::current().id();
        if me == self.writer_id || Some(me) == self.syncer_id || me == self.journal_id {
            return;
        }
        if let Some(h) = self.journal_thread.lock().take() {
            if h.join().is_err() {
                tracing::error!("the append journal thread panicked");
            }
        }
        if let Some(h) = self.writer.lock().take() {
            if h.join().is_err() {
                tracing::error!("the store writer thread panicked");
            }
        }
    }
}

/// A pooled read connection, returned to the pool (out of any transaction) when dropped.
struct Pooled<'a> {
    conn: Option<Connection>,
    home: &'a Sender<Connection>,
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            if !c.is_autocommit() {
                if let Err(e) = c.execute_batch("ROLLBACK") {
                    // Pooled anyway: a shrinking pool would end in reads that wait forever,
                    // while a broken connection fails its next read with an error.
                    tracing::error!(error = %e, "could not end a read transaction");
                }
            }
            // A full pool (this was an extra connection) drops it.
            let _ = self.home.try_send(c);
        }
    }
}

fn open_reader(path: &Path, opts: &SqliteOptions) -> Result<Connection, StoreError> {
    let c = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    configure(&c, opts)?;
    c.pragma_update(None, "cache_size", -i64::from(opts.cache_size_kib / 4))?;
    Ok(c)
}

fn wal_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

/// Jobs' outcomes waiting for their commit to be durable.
type Outcomes = Vec<(Done, Result<(), StoreError>)>;

/// The thread that makes commits durable: fsyncs the WAL file, then calls the `done`s of
/// every group committed before that fsync began.
struct Syncer {
    tx: Sender<Outcomes>,
    /// One message per group made durable (its `done`s called).
    idle: Receiver<()>,
    handle: JoinHandle<()>,
    thread_id: ThreadId,
}

impl Syncer {
    fn spawn(wal: &Path) -> Result<Syncer, StoreError> {
        let (tx, rx) = crossbeam_channel::unbounded::<Outcomes>();
        let (idle_tx, idle) = crossbeam_channel::unbounded::<()>();
        let wal = wal.to_owned();
        let handle = std::thread::Builder::new()
            .name("store-syncer".into())
            .spawn(move || syncer_loop(&wal, &rx, &idle_tx))?;
        Ok(Syncer {
            tx,
            idle,
            thread_id: handle.thread().id(),
            handle,
        })
    }
}

fn syncer_loop(wal: &Path, rx: &Receiver<Outcomes>, idle: &Sender<()>) {
    let mut file: Option<std::fs::File> = None;
    let mut pending: Outcomes = Vec::new();
    while let Ok(first) = rx.recv() {
        pending.extend(first);
        let mut groups = 1;
        while let Ok(more) = rx.try_recv() {
            pending.extend(more);
            groups += 1;
        }
        let synced = sync_wal(wal, &mut file);
        for (done, r) in pending.drain(..) {
            done.call(match (&synced, r) {
                (_, Err(e)) => Err(e),
                (Ok(()), Ok(())) => Ok(()),
                (Err(e), Ok(())) => Err(StoreError::Other(format!("fsync of the WAL failed: {e}"))),
            });
        }
        for _ in 0..groups {
            // The writer may be gone (shutdown): nobody waits any more.
            let _ = idle.send(());
        }
    }
    tracing::debug!("store syncer stopped");
}

/// fsyncs the WAL file (opened once; its directory is synced then too, so the file's own
/// entry is durable). SQLite keeps the same file across checkpoints: it truncates or
/// overwrites it, never replaces it while the writer's connection is open.
fn sync_wal(wal: &Path, file: &mut Option<std::fs::File>) -> std::io::Result<()> {
    if file.is_none() {
        let f = std::fs::OpenOptions::new().read(true).open(wal)?;
        if let Some(dir) = wal.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        *file = Some(f);
    }
    match file {
        Some(f) => f.sync_data(),
        None => Ok(()),
    }
}

fn writer_loop(
    conn: Connection,
    journal: &journal::Reader,
    rx: Receiver<Job>,
    max_batch: usize,
    syncer: Option<Syncer>,
) {
    // Groups handed to the syncer and not yet durable.
    let mut in_flight = 0usize;
    while let Ok(first) = rx.recv() {
        let mut group = Group::begin(&conn, journal, max_batch);
        group.run(first);
        loop {
            while group.len() < max_batch {
                match rx.try_recv() {
                    Ok(j) => group.run(j),
                    Err(_) => break,
                }
            }
            // While the syncer is still making an earlier commit durable, this group's
            // jobs could not be acknowledged any sooner: keep the transaction open and take
            // the jobs that arrive meanwhile. One commit and one fsync then serve them all.
            let Some(s) = &syncer else { break };
            while s.idle.try_recv().is_ok() {
                in_flight = in_flight.saturating_sub(1);
            }
            if in_flight == 0 || group.len() >= max_batch {
                break;
            }
            crossbeam_channel::select! {
                recv(rx) -> job => match job {
                    Ok(j) => group.run(j),
                    Err(_) => break,
                },
                recv(s.idle) -> _ => in_flight = in_flight.saturating_sub(1),
            }
        }
        let outcomes = group.finish();
        match &syncer {
            Some(s) => {
                // On failure the outcomes come back and are dropped: WriterGone.
                let _ = s.tx.send(outcomes);
                in_flight += 1;
            }
            None => {
                for (done, r) in outcomes {
                    done.call(r);
                }
            }
        }
    }
    if let Some(s) = syncer {
        drop(s.tx);
        if s.handle.join().is_err() {
            tracing::error!("the store syncer thread panicked");
        }
    }
    tracing::debug!("store writer stopped");
}

fn exec(conn: &Connection, sql: &str) -> Result<(), StoreError> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}

/// One group commit: one transaction, its jobs run as they come.
struct Group<'c> {
    conn: &'c Connection,
    journal: &'c journal::Reader,
    results: Outcomes,
    /// Why nothing of this group can commit (begin failed, or the transaction broke).
    broken: Option<String>,
}

impl<'c> Group<'c> {
    fn begin(conn: &'c Connection, journal: &'c journal::Reader, capacity: usize) -> Self {
        let broken = exec(conn, "BEGIN IMMEDIATE").err().map(|e| {
            tracing::error!(error = %e, "could not begin a write transaction");
            format!("begin failed: {e}")
        });
        Group {
            conn,
            journal,
            // Grown as jobs come: most groups are a few jobs, and a large first allocation per
            // group cost the writer more than the growth.
            results: Vec::with_capacity(capacity.min(8)),
            broken,
        }
    }

    fn len(&self) -> usize {
        self.results.len()
    }

    fn run(&mut self, Job { work, done }: Job) {
        if let Some(why) = &self.broken {
            self.results
                .push((done, Err(StoreError::Other(why.clone()))));
            return;
        }
        let outcome = match work {
            Work::Job(f) => run_job(self.conn, self.journal, f),
            // An append that fails leaves the transaction unknown: the group rolls back.
        };
        match outcome {
            Ok(r) => self.results.push((done, r)),
            Err(e) => {
                // The transaction is in an unknown state: nothing of this group commits.
                tracing::error!(error = %e, "write transaction broken; rolling back the group");
                self.broken = Some(format!("transaction rolled back: {e}"));
                self.results.push((done, Err(e)));
            }
        }
    }

    /// Commits (or rolls back a broken group). Returns each job's outcome, `Ok` only if
    /// the commit succeeded; the caller reports them once the commit is durable.
    fn finish(self) -> Outcomes {
        let Group {
            conn,
            journal: _,
            results,
            broken,
        } = self;
        let outcome = match broken {
            Some(why) => Err(why),
            None => exec(conn, "COMMIT").map_err(|e| {
                tracing::error!(error = %e, jobs = results.len(), "commit failed");
                format!("commit failed: {e}")
            }),
        };
        match outcome {
            Ok(()) => results,
            Err(why) => {
                if !conn.is_autocommit() {
                    if let Err(e) = conn.execute_batch("ROLLBACK") {
                        tracing::error!(error = %e, "rollback failed");
                    }
                }
                results
                    .into_iter()
                    .map(|(done, r)| {
                        let r = match r {
                            Err(e) => Err(e),
                            Ok(()) => Err(StoreError::Other(why.clone())),
                        };
                        (done, r)
                    })
                    .collect()
            }
        }
    }
}

/// Runs one job in its own savepoint. The outer `Err` means the transaction itself is
/// broken; the inner one is the job's own failure (its writes undone).
fn run_job(
    conn: &Connection,
    journal: &journal::Reader,
    f: WriteFn,
) -> Result<Result<(), StoreError>, StoreError> {
    if conn.is_autocommit() {
        return Err(StoreError::Other(
            "write transaction ended unexpectedly".into(),
        ));
    }
    exec(conn, "SAVEPOINT job")?;
    let mut tx = SqlWrite {
        conn,
        journal,
        depth: 0,
    };
    let r = match catch_unwind(AssertUnwindSafe(|| f(&mut tx))) {
        Ok(r) => r,
        Err(p) => {
            let msg = panic_message(&p);
            tracing::error!(
                panic = msg,
                "a write job panicked; its writes are rolled back"
            );
            Err(StoreError::Other(format!("write job panicked: {msg}")))
        }
    };
    if r.is_err() {
        exec(conn, "ROLLBACK TO job")?;
    }
    exec(conn, "RELEASE job")?;
    Ok(r)
}

struct SqlRead<'c> {
    conn: &'c Connection,
    journal: &'c journal::Reader,
}

struct SqlWrite<'c> {
    conn: &'c Connection,
    journal: &'c journal::Reader,
    depth: u32,
}

fn get(conn: &Connection, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT v FROM kv WHERE k = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()?)
}

fn scan(conn: &Connection, range: &Range<'_>, limit: usize) -> Result<Vec<Entry>, StoreError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let mut sql = String::with_capacity(96);
    sql.push_str("SELECT k, v FROM kv WHERE 1");
    let mut params: Vec<(&str, &dyn ToSql)> = Vec::with_capacity(3);
    let (lo, hi);
    match range.start {
        Bound::Included(s) => {
            lo = s;
            sql.push_str(" AND k >= :lo");
            params.push((":lo", &lo));
        }
        Bound::Excluded(s) => {
            lo = s;
            sql.push_str(" AND k > :lo");
            params.push((":lo", &lo));
        }
        Bound::Unbounded => {}
    }
    match range.end {
        Bound::Included(e) => {
            hi = e;
            sql.push_str(" AND k <= :hi");
            params.push((":hi", &hi));
        }
        Bound::Excluded(e) => {
            hi = e;
            sql.push_str(" AND k < :hi");
            params.push((":hi", &hi));
        }
        Bound::Unbounded => {}
    }
    sql.push_str(if range.reverse {
        " ORDER BY k DESC LIMIT :n"
    } else {
        " ORDER BY k ASC LIMIT :n"
    });
    let n = i64::try_from(limit).unwrap_or(i64::MAX);
    params.push((":n", &n));
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params.as_slice(), |r| Ok((r.get(0)?, r.get(1)?)))?;
    let mut out = Vec::with_capacity(limit.min(256));
    for row in rows {
        out.push(row?);
    }
    Ok(out)
}

fn log_read(conn: &Connection, from: u64, limit: usize) -> Result<Vec<LogRecord>, StoreError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    // Sequence numbers are SQLite rowids: positive i64.
    let from = i64::try_from(from).unwrap_or(i64::MAX);
    let n = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut stmt =
        conn.prepare_cached("SELECT seq, v FROM log WHERE seq >= ?1 ORDER BY seq LIMIT ?2")?;
    let rows = stmt.query_map([from, n], |r| {
        let seq: i64 = r.get(0)?;
        Ok((u64::try_from(seq).unwrap_or(0), r.get(1)?))
    })?;
    let mut out = Vec::with_capacity(limit.min(1024));
    for row in rows {
        out.push(row?);
    }
    Ok(out)
}

fn log_last(conn: &Connection) -> Result<u64, StoreError> {
    let last: Option<i64> = conn
        .prepare_cached("SELECT max(seq) FROM log")?
        .query_row([], |r| r.get(0))?;
    Ok(last.and_then(|s| u64::try_from(s).ok()).unwrap_or(0))
}

/// At most `limit` appended records at positions `>= from`, none before the truncation
/// point of the caller's snapshot.
fn appended_read(
    conn: &Connection,
    journal: &journal::Reader,
    from: u64,
    limit: usize,
) -> Result<(Vec<LogRecord>, u64), StoreError> {
    journal.read(from.max(appended_start(conn)?), limit)
}

/// The same reads for a snapshot and inside the write transaction: both hold `conn`
/// (that transaction) and the journal reader.
macro_rules! sql_read_tx {
    ($t:ident) => {
        impl ReadTx for $t<'_> {
            fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
                get(self.conn, key)
            }
            fn scan(&self, range: &Range<'_>, limit: usize) -> Result<Vec<Entry>, StoreError> {
                scan(self.conn, range, limit)
            }
            fn log_read(&self, from: u64, limit: usize) -> Result<Vec<LogRecord>, StoreError> {
                log_read(self.conn, from, limit)
            }
            fn log_last(&self) -> Result<u64, StoreError> {
                log_last(self.conn)
            }
            fn appended_read(
                &self,
                from: u64,
                limit: usize,
            ) -> Result<(Vec<LogRecord>, u64), StoreError> {
                appended_read(self.conn, self.journal, from, limit)
            }
            fn appended_end(&self) -> Result<u64, StoreError> {
                Ok(self.journal.end())
            }
        }
    };
}
sql_read_tx!(SqlRead);
sql_read_tx!(SqlWrite);

impl WriteTx for SqlWrite<'_> {
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO kv (k, v) VALUES (?1, ?2) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
            )?
            .execute([key, value])?;
        Ok(())
    }

    fn delete(&mut self, key: &[u8]) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("DELETE FROM kv WHERE k = ?1")?
            .execute([key])?;
        Ok(())
    }

    fn delete_range(&mut self, start: &[u8], end: Option<&[u8]>) -> Result<(), StoreError> {
        match end {
            Some(end) => self
                .conn
                .prepare_cached("DELETE FROM kv WHERE k >= ?1 AND k < ?2")?
                .execute([start, end])?,
            None => self
                .conn
                .prepare_cached("DELETE FROM kv WHERE k >= ?1")?
                .execute([start])?,
        };
        Ok(())
    }

    fn log_append(&mut self, record: &[u8]) -> Result<u64, StoreError> {
        // `seq` is the rowid: the next one is max + 1, an append at the b-tree's tail.
        self.conn
            .prepare_cached("INSERT INTO log (v) VALUES (?1)")?
            .execute([record])?;
        u64::try_from(self.conn.last_insert_rowid())
            .map_err(|_| StoreError::Other("log sequence out of range".into()))
    }

    fn log_truncate(&mut self, before: u64) -> Result<(), StoreError> {
        let before = i64::try_from(before).unwrap_or(i64::MAX);
        self.conn
            .prepare_cached("DELETE FROM log WHERE seq < ?1")?
            .execute([before])?;
        Ok(())
    }

    fn appended_truncate(&mut self, before: u64) -> Result<(), StoreError> {
        // Never past the readable end: a record appended later is not hidden by it.
        let start = before.min(self.journal.end());
        if start > appended_start(self.conn)? {
            self.conn
                .prepare_cached(
                    "INSERT INTO appends (id, start) VALUES (1, ?1)
                     ON CONFLICT (id) DO UPDATE SET start = excluded.start",
                )?
                .execute([i64::try_from(start).unwrap_or(i64::MAX)])?;
        }
        Ok(())
    }

    fn nested(&mut self, f: &mut dyn FnMut(&mut dyn WriteTx) -> bool) -> Result<bool, StoreError> {
        let depth = self.depth + 1;
        let name = format!("n{depth}");
        exec(self.conn, &format!("SAVEPOINT {name}"))?;
        let mut inner = SqlWrite {
            conn: self.conn,
            journal: self.journal,
            depth,
        };
        let keep = f(&mut inner);
        if !keep {
            exec(self.conn, &format!("ROLLBACK TO {name}"))?;
        }
        exec(self.conn, &format!("RELEASE {name}"))?;
        Ok(keep)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn pragmas_follow_options() {
        let dir = tempfile::tempdir().unwrap();
        // Both run SQLite at NORMAL: Full adds the syncer's fsync (module docs).
        for (durability, sync) in [(Durability::Full, 1), (Durability::Normal, 1)] {
            let path = dir.path().join(format!("{durability:?}.db"));
            let opts = SqliteOptions {
                durability,
                ..SqliteOptions::default()
            };
            let c = open_writer(&path, &opts).unwrap();
            let get = |p: &str| -> String {
                c.query_row(&format!("PRAGMA {p}"), [], |r| {
                    r.get::<_, rusqlite::types::Value>(0)
                })
                .map(|v| format!("{v:?}"))
                .unwrap()
            };
            assert_eq!(get("synchronous"), format!("Integer({sync})"));
            assert_eq!(get("journal_mode"), "Text(\"wal\")");
            assert_eq!(get("page_size"), "Integer(8192)");
            assert_eq!(get("wal_autocheckpoint"), "Integer(8000)");
            assert_eq!(get("busy_timeout"), "Integer(5000)");
        }
    }

    /// A data directory from before the rowid layout opens with every key kept, large
    /// values included, and is moved to the new layout.
    #[test]
    fn without_rowid_kv_is_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let big = vec![7u8; 100_000];
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(
                "PRAGMA page_size = 8192; PRAGMA journal_mode = WAL;
                 CREATE TABLE kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID;",
            )
            .unwrap();
            for i in 0u32..500 {
                let v: &[u8] = if i == 250 { &big } else { &i.to_be_bytes() };
                c.execute(
                    "INSERT INTO kv (k, v) VALUES (?1, ?2)",
                    (i.to_be_bytes(), v),
                )
                .unwrap();
            }
        }
        for _ in 0..2 {
            let store = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
            let mut seen = Vec::new();
            store
                .read(&mut |tx| {
                    let mut end = Vec::new();
                    let all = tx.scan(&Range::prefix(&[], &mut end), 1000)?;
                    seen = all.into_iter().map(|(k, v)| (k, v.len())).collect();
                    assert_eq!(tx.get(&250u32.to_be_bytes())?, Some(big.clone()));
                    assert_eq!(
                        tx.get(&3u32.to_be_bytes())?,
                        Some(3u32.to_be_bytes().to_vec())
                    );
                    Ok(())
                })
                .unwrap();
            assert_eq!(seen.len(), 500);
            assert!(seen.windows(2).all(|w| matches!(w, [a, b] if a.0 < b.0)));
            assert_eq!(seen.get(250).map(|e| e.1), Some(big.len()));
            store.shutdown();
            let c = Connection::open(&path).unwrap();
            let sql: String = c
                .query_row("SELECT sql FROM sqlite_master WHERE name = 'kv'", [], |r| {
                    r.get(0)
                })
                .unwrap();
            assert!(!sql.contains("WITHOUT ROWID"), "{sql}");
            // The old table's pages were given back.
            let free: i64 = c
                .query_row("PRAGMA freelist_count", [], |r| r.get(0))
                .unwrap();
            assert_eq!(free, 0);
        }
    }
}
