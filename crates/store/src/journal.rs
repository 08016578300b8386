//! The appended stream of the SQLite adapter: where [`crate::Store::append`] records live.
//!
//! Most calls change nothing, and their only write is their audit record. Committing those
//! through SQLite cost a transaction per round, a b-tree insert per record, whole WAL pages
//! for a few hundred bytes, and a second copy at checkpoint, on the path of every reply.
//! Here a round of records is instead framed and written at the end of a segment file, one
//! `fdatasync` makes it durable, the readable end moves past it, and only then are the
//! appends' `done`s called: an acknowledged record is durable and readable.
//!
//! Positions: a record's position is the offset of its frame in one sparse byte sequence.
//! Positions grow in append order and stay below 2^62. Every start begins a new segment
//! past the next multiple of [`START_GAP`] after everything already there: a position
//! handed out before is never handed out again, even when an unsynced tail was lost
//! (`--sync normal` and a power loss), so a reader's saved position (the indexer's
//! watermark, the truncation point) can never fall inside a later record.
//!
//! Segments: files `NNNNNNNNNNNNNNNNNNNN.log` in the journal directory, named by the
//! position of their first byte; a new one begins once the current one holds
//! [`SEGMENT_BYTES`]. Segments wholly before the truncation point (kept by the database,
//! table `appends`, so that it commits with a reset or a retention job) are deleted at the
//! next start, and while running once the journal thread sees that truncation committed
//! (it asks at most every [`TRUNCATION_CHECK`]).
//! Readers open a segment when they read it: no file handle is held per segment.
//!
//! Spare segments: once the segment being written is half full, a short-lived thread
//! prepares the next one as [`SEGMENT_BYTES`] of zeros, written and synced, under the name
//! [`SPARE_READY`]; the next segment is that file renamed. Appending inside it changes
//! neither the file's size nor its block map, so each round's `fdatasync` writes only the
//! data pages: growing a file instead made every `fdatasync` allocate blocks and write the
//! inode too (on ext4 about a third of the journal thread's CPU). A segment is sealed only
//! once it holds [`SEGMENT_BYTES`], so no sealed segment ends in spare zeros; the last one
//! may, and the next start cuts it there as it cuts a torn tail.
//!
//! Frames: the record's length (u32, little-endian), the CRC-32 of that length and the
//! record (u32, little-endian), the record. A crash can leave a torn frame only after the
//! last durable round, which no `done` acknowledged; at startup the last segment is cut at
//! the first frame that does not check out (zeroed blocks included: their CRC is wrong).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crossbeam_channel::Receiver;
use parking_lot::RwLock;

use crate::sqlite::Done;
use crate::{LogRecord, StoreError};

/// A segment is closed, and the next one begun, once it holds this many bytes. Small enough
/// that checking the last one at startup takes a few milliseconds.
const SEGMENT_BYTES: u64 = 8 << 20;
/// Length and CRC-32 of the record.
const FRAME_HEADER: usize = 8;
/// Bytes read at once when reading a run of records.
const READ_CHUNK: usize = 256 << 10;
/// Each start's first segment begins past the next multiple of this after the old end.
const START_GAP: u64 = 1 << 40;
/// The spare segment once it is ready (module docs). While it is filled it is
/// `spare-N.filling`, N the start of the segment that asked for it, so that a filling
/// thread left from an earlier run in the same directory never renames this run's file.
const SPARE_READY: &str = "spare.ready";
const SPARE_FILLING_SUFFIX: &str = ".filling";
/// How often the journal thread asks for the committed truncation point.
const TRUNCATION_CHECK: std::time::Duration = std::time::Duration::from_secs(5);

/// Reads the durable truncation point (the database's `appends.start`, once the commit
/// that set it is durable).
pub(crate) type Truncation = Box<dyn FnMut() -> Result<u64, StoreError> + Send>;

/// The CRC of a frame: over its length field and its record.
fn frame_crc(len: [u8; 4], body: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&len);
    h.update(body);
    h.finalize()
}

/// What the journal thread is given: records to append and the `done` to call.
pub(crate) type Request = (Vec<Vec<u8>>, Done);

/// The journal's directory beside the database file `db`.
pub(crate) fn dir_of(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-appends");
    PathBuf::from(name)
}

fn segment_path(dir: &Path, start: u64) -> PathBuf {
    dir.join(format!("{start:020}.log"))
}

/// Starts of the segment files in `dir`, ascending.
fn segments(dir: &Path) -> Result<Vec<u64>, StoreError> {
    let mut starts = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        let Some(start) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".log"))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        starts.push(start);
    }
    starts.sort_unstable();
    Ok(starts)
}

/// The intact frames at the start of `bytes`, each with its offset in `bytes`, and how
/// many bytes they take.
fn parse_frames(bytes: &[u8], limit: usize) -> (Vec<(usize, Vec<u8>)>, usize) {
    let mut out = Vec::new();
    let mut at = 0usize;
    while out.len() < limit {
        let Some(&[l0, l1, l2, l3, c0, c1, c2, c3]) = bytes.get(at..at + FRAME_HEADER) else {
            break;
        };
        let len = u32::from_le_bytes([l0, l1, l2, l3]) as usize;
        let crc = u32::from_le_bytes([c0, c1, c2, c3]);
        let body_at = at + FRAME_HEADER;
        let Some(body) = bytes.get(body_at..body_at.saturating_add(len)) else {
            break;
        };
        if frame_crc([l0, l1, l2, l3], body) != crc {
            break;
        }
        out.push((at, body.to_vec()));
        at = body_at + len;
    }
    (out, at)
}

/// Read access to the journal, shared by every connection of the store.
pub(crate) struct Reader {
    dir: PathBuf,
    /// Segment start -> its length once sealed (`None`: the one being written, which ends
    /// at `end`).
    segments: RwLock<BTreeMap<u64, Option<u64>>>,
    /// Position just past the last durable record: nothing at or past it is read.
    end: AtomicU64,
}

impl Reader {
    /// The position just past the last readable record.
    pub(crate) fn end(&self) -> u64 {
        self.end.load(Ordering::Acquire)
    }

    /// The segment holding `pos`, or else the first one after it: (start, end).
    fn segment_at(&self, pos: u64, end: u64) -> Option<(u64, u64)> {
        let segs = self.segments.read();
        let bounds = |(&start, len): (&u64, &Option<u64>)| {
            (start, len.map_or(end.max(start), |l| start + l))
        };
        segs.range(..=pos)
            .next_back()
            .map(bounds)
            .filter(|&(_, e)| pos < e)
            .or_else(|| segs.range(pos.saturating_add(1)..).next().map(bounds))
    }

    /// At most `limit` records at positions `>= from`, ascending, and the position to read
    /// on from. `from` is a record's position, such a returned position, or any position
    /// between segments.
    pub(crate) fn read(
        &self,
        from: u64,
        limit: usize,
    ) -> Result<(Vec<LogRecord>, u64), StoreError> {
        let end = self.end();
        let mut out: Vec<LogRecord> = Vec::new();
        let mut pos = from;
        let mut buf = Vec::new();
        while out.len() < limit && pos < end {
            let Some((start, seg_end)) = self.segment_at(pos, end) else {
                pos = end;
                break;
            };
            pos = pos.max(start);
            if pos >= seg_end {
                // An empty segment: go on past it (`segment_at` then finds the next one).
                pos = seg_end;
                continue;
            }
            let file = match File::open(segment_path(&self.dir, start)) {
                Ok(f) => f,
                // Deleted under this reader: wholly truncated, so nothing in it is
                // readable any more (an older snapshot may still ask).
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    pos = seg_end;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let want = usize::try_from(seg_end - pos)
                .unwrap_or(usize::MAX)
                .min(READ_CHUNK);
            buf.resize(want, 0);
            file.read_exact_at(&mut buf, pos - start)?;
            let (frames, used) = parse_frames(&buf, limit - out.len());
            if frames.is_empty() {
                // A record larger than the chunk, or a frame that does not check out.
                match read_one(&file, pos - start, seg_end - pos, want)? {
                    Some((rec, total)) => {
                        out.push((pos, rec));
                        pos += total;
                    }
                    None => {
                        // Damage inside the segment (intact records never fail their
                        // CRC once durable): skip the rest of this segment rather than
                        // stop every reader here for good. What it held is lost.
                        tracing::error!(
                            segment = start,
                            position = pos,
                            bytes = seg_end - pos,
                            "appended stream: damaged record; skipping the rest of its segment"
                        );
                        pos = seg_end;
                    }
                }
                continue;
            }
            out.extend(frames.into_iter().map(|(at, r)| (pos + at as u64, r)));
            pos += used as u64;
        }
        Ok((out, pos))
    }
}

/// The one frame at `at` in `file` when it is larger than `chunk` bytes: its record and
/// length, or `None` when no intact frame of at most `room` bytes starts there.
fn read_one(
    file: &File,
    at: u64,
    room: u64,
    chunk: usize,
) -> std::io::Result<Option<(Vec<u8>, u64)>> {
    if room < FRAME_HEADER as u64 {
        return Ok(None);
    }
    let mut header = [0u8; FRAME_HEADER];
    file.read_exact_at(&mut header, at)?;
    let [l0, l1, l2, l3, ..] = header;
    let total = FRAME_HEADER as u64 + u64::from(u32::from_le_bytes([l0, l1, l2, l3]));
    if total > room || total <= chunk as u64 {
        return Ok(None);
    }
    let mut buf = vec![0u8; usize::try_from(total).unwrap_or(usize::MAX)];
    file.read_exact_at(&mut buf, at)?;
    let (frames, _) = parse_frames(&buf, 1);
    Ok(frames.into_iter().next().map(|(_, rec)| (rec, total)))
}

/// The segment being written.
struct Segment {
    start: u64,
    file: File,
    len: u64,
}

fn open_segment(dir: &Path, start: u64, create: bool) -> std::io::Result<File> {
    let file = OpenOptions::new()
        .create(create)
        .read(true)
        .write(true)
        .open(segment_path(dir, start))?;
    if create {
        // The new file's directory entry must be durable before anything in it is
        // acknowledged.
        File::open(dir)?.sync_all()?;
    }
    Ok(file)
}

/// The next segment's file (module docs).
enum Spare {
    /// None asked for since the last one was used.
    None,
    /// Being filled; the filling thread reports on the channel.
    Filling(Receiver<std::io::Result<()>>),
    Ready,
    /// The filling thread could not start: not asked again before the next segment.
    Unavailable,
}

/// Fills a new spare segment: zeros, synced, then renamed to [`SPARE_READY`] (so that a
/// file of that name is always whole and durable).
fn fill_spare(dir: &Path, asked_by: u64) -> std::io::Result<()> {
    let filling = dir.join(format!("spare-{asked_by}{SPARE_FILLING_SUFFIX}"));
    let file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&filling)?;
    let zeros = vec![0u8; 1 << 20];
    let mut at = 0u64;
    let filled = loop {
        if at >= SEGMENT_BYTES {
            break file.sync_all();
        }
        if let Err(e) = file.write_all_at(&zeros, at) {
            break Err(e);
        }
        at += zeros.len() as u64;
    };
    match filled.and_then(|()| std::fs::rename(&filling, dir.join(SPARE_READY))) {
        Ok(()) => Ok(()),
        Err(e) => {
            // Out of space, most likely: give the space back.
            let _ = std::fs::remove_file(&filling);
            Err(e)
        }
    }
}

/// Makes the ready spare the segment beginning at `start`; its name is durable on return.
fn take_spare(dir: &Path, start: u64) -> std::io::Result<File> {
    std::fs::rename(dir.join(SPARE_READY), segment_path(dir, start))?;
    File::open(dir)?.sync_all()?;
    open_segment(dir, start, false)
}

/// The journal after startup: the writing thread's state.
pub(crate) struct Writer {
    dir: PathBuf,
    current: Segment,
    fsync: bool,
    reader: Arc<Reader>,
    spare: Spare,
}

/// Opens the journal in `dir` (creating it), deletes the segments wholly before
/// `truncated` (the database's truncation point), cuts a torn tail off the last segment,
/// begins this run's segment (module docs), and returns the shared reader and the writer.
pub(crate) fn open(
    dir: &Path,
    truncated: u64,
    fsync: bool,
) -> Result<(Arc<Reader>, Writer), StoreError> {
    if !dir.exists() {
        std::fs::create_dir_all(dir)?;
        // The directory's own entry, so that what is acknowledged in it survives.
        if let Some(parent) = dir.parent() {
            File::open(parent)?.sync_all()?;
        }
    }
    // A spare half filled when the last run stopped is of no use.
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path
            .to_str()
            .is_some_and(|p| p.ends_with(SPARE_FILLING_SUFFIX))
        {
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                _ => {}
            }
        }
    }
    let mut starts = segments(dir)?;
    // Each segment ends at or before the next one's start.
    while starts.len() > 1 && starts.get(1).is_some_and(|next| *next <= truncated) {
        let old = starts.remove(0);
        std::fs::remove_file(segment_path(dir, old))?;
    }
    let mut map = BTreeMap::new();
    let mut old_end = truncated;
    for (i, &start) in starts.iter().enumerate() {
        let file = open_segment(dir, start, false)?;
        let mut len = file.metadata()?.len();
        if i + 1 == starts.len() {
            let mut bytes = vec![0u8; usize::try_from(len).unwrap_or(usize::MAX)];
            file.read_exact_at(&mut bytes, 0)?;
            let (_, used) = parse_frames(&bytes, usize::MAX);
            if (used as u64) < len {
                // The rest of a spare segment (zeros), or a torn round: written, never
                // acknowledged (a crash before its fsync ended).
                if bytes
                    .get(used..)
                    .is_some_and(|tail| tail.iter().any(|&b| b != 0))
                {
                    tracing::warn!(
                        segment = start,
                        bytes = len - used as u64,
                        "appended stream: dropping an unfinished tail"
                    );
                }
                file.set_len(used as u64)?;
                file.sync_all()?;
                len = used as u64;
            }
        }
        map.insert(start, Some(len));
        old_end = old_end.max(start + len);
    }
    let start = (old_end / START_GAP + 1) * START_GAP;
    let spare_ready =
        std::fs::metadata(dir.join(SPARE_READY)).is_ok_and(|m| m.len() == SEGMENT_BYTES);
    let spare = match spare_ready.then(|| take_spare(dir, start)) {
        Some(Ok(file)) => Some(file),
        Some(Err(e)) => {
            tracing::warn!(error = %e, "appended stream: the spare segment could not be used");
            None
        }
        None => None,
    };
    let file = match spare {
        Some(file) => file,
        None => open_segment(dir, start, true)?,
    };
    map.insert(start, None);
    let reader = Arc::new(Reader {
        dir: dir.to_owned(),
        segments: RwLock::new(map),
        end: AtomicU64::new(start),
    });
    let writer = Writer {
        dir: dir.to_owned(),
        current: Segment {
            start,
            file,
            len: 0,
        },
        fsync,
        reader: Arc::clone(&reader),
        spare: Spare::None,
    };
    Ok((reader, writer))
}

impl Writer {
    /// Takes requests until every sender is gone: each round, all that are queued are
    /// written at once, made durable and readable, then acknowledged.
    pub(crate) fn run(mut self, rx: &Receiver<Request>, mut truncation: Truncation) {
        let mut buf: Vec<u8> = Vec::new();
        let mut round: Vec<Request> = Vec::new();
        let mut dones = Vec::new();
        let mut checked = std::time::Instant::now();
        while let Ok(first) = rx.recv() {
            round.push(first);
            while let Ok(more) = rx.try_recv() {
                round.push(more);
            }
            buf.clear();
            for (recs, done) in round.drain(..) {
                if recs.iter().any(|r| u32::try_from(r.len()).is_err()) {
                    done.call(Err(StoreError::Other("log record too large".into())));
                    continue;
                }
                for r in &recs {
                    let len = (r.len() as u32).to_le_bytes();
                    buf.extend_from_slice(&len);
                    buf.extend_from_slice(&frame_crc(len, r).to_le_bytes());
                    buf.extend_from_slice(r);
                }
                dones.push(done);
            }
            let outcome = self.write(&buf);
            if let Err(e) = &outcome {
                tracing::error!(error = %e, "appended stream: write failed");
            }
            for d in dones.drain(..) {
                d.call(match &outcome {
                    Ok(()) => Ok(()),
                    Err(e) => Err(StoreError::Other(format!(
                        "appended stream write failed: {e}"
                    ))),
                });
            }
            if checked.elapsed() >= TRUNCATION_CHECK {
                checked = std::time::Instant::now();
                match truncation() {
                    Ok(t) => {
                        if let Err(e) = self.drop_truncated(t) {
                            tracing::error!(error = %e, "appended stream: deleting segments failed");
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "appended stream: truncation point unreadable")
                    }
                }
            }
        }
        tracing::debug!("appended stream stopped");
    }

    /// Deletes the sealed segments wholly before the committed truncation point `t`.
    fn drop_truncated(&mut self, t: u64) -> std::io::Result<()> {
        let gone: Vec<u64> = {
            let mut segs = self.reader.segments.write();
            let gone: Vec<u64> = segs
                .iter()
                .filter(|(&start, len)| len.is_some_and(|l| start + l <= t))
                .map(|(&start, _)| start)
                .collect();
            for g in &gone {
                segs.remove(g);
            }
            gone
        };
        for g in gone {
            std::fs::remove_file(segment_path(&self.dir, g))?;
        }
        Ok(())
    }

    /// Starts filling the next spare segment on a thread of its own.
    fn ask_spare(&self) -> Spare {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let dir = self.dir.clone();
        let asked_by = self.current.start;
        let spawned = std::thread::Builder::new()
            .name("store-journal-spare".into())
            .spawn(move || {
                let _ = tx.send(fill_spare(&dir, asked_by));
            });
        match spawned {
            Ok(_) => Spare::Filling(rx),
            Err(e) => {
                tracing::warn!(error = %e, "appended stream: could not start a spare segment");
                Spare::Unavailable
            }
        }
    }

    /// The file of a new segment beginning at `start`: the spare when it is ready, else a
    /// new, empty file.
    fn new_segment(&mut self, start: u64) -> std::io::Result<File> {
        // A spare is asked for (again) once per segment, when it is half full.
        if matches!(self.spare, Spare::Unavailable) {
            self.spare = Spare::None;
        }
        if let Spare::Filling(rx) = &self.spare {
            self.spare = match rx.try_recv() {
                Ok(Ok(())) => Spare::Ready,
                Err(crossbeam_channel::TryRecvError::Empty) => {
                    return open_segment(&self.dir, start, true)
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "appended stream: preparing a spare segment failed");
                    Spare::None
                }
                Err(crossbeam_channel::TryRecvError::Disconnected) => Spare::None,
            };
        }
        if matches!(self.spare, Spare::Ready) {
            self.spare = Spare::None;
            match take_spare(&self.dir, start) {
                Ok(file) => return Ok(file),
                Err(e) => {
                    tracing::warn!(error = %e, "appended stream: the spare segment could not be used")
                }
            }
        }
        open_segment(&self.dir, start, true)
    }

    /// Writes `buf` at the end of the current segment, makes it durable, and moves the
    /// readable end past it; begins a new segment first when the current one is full. On
    /// failure the segment is cut back to where it was.
    fn write(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if buf.is_empty() {
            return Ok(());
        }
        if self.current.len >= SEGMENT_BYTES {
            if !self.fsync {
                // Without per-round syncs the sealed segment's last pages may still be in
                // the page cache while the next segment (synced zeros, synced name) is on
                // disk; a power loss would then leave a sealed segment ending in zeros.
                // Once per segment, sync it.
                self.current.file.sync_data()?;
            }
            let at = self.current.start + self.current.len;
            let file = self.new_segment(at)?;
            {
                let mut segs = self.reader.segments.write();
                segs.insert(self.current.start, Some(self.current.len));
                segs.insert(at, None);
            }
            self.current = Segment {
                start: at,
                file,
                len: 0,
            };
        }
        let seg = &mut self.current;
        let r = seg.file.write_all_at(buf, seg.len).and_then(|()| {
            if self.fsync {
                seg.file.sync_data()
            } else {
                Ok(())
            }
        });
        match r {
            Ok(()) => {
                seg.len += buf.len() as u64;
                self.reader
                    .end
                    .store(seg.start + seg.len, Ordering::Release);
                if seg.len >= SEGMENT_BYTES / 2 && matches!(self.spare, Spare::None) {
                    self.spare = self.ask_spare();
                }
                Ok(())
            }
            Err(e) => {
                // Nothing past `len` was acknowledged or readable. Should the cut fail
                // too, the next start drops the frames that do not check out.
                let _ = seg.file.set_len(seg.len);
                Err(e)
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn frame(r: &[u8]) -> Vec<u8> {
        let len = (r.len() as u32).to_le_bytes();
        let mut f = len.to_vec();
        f.extend_from_slice(&frame_crc(len, r).to_le_bytes());
        f.extend_from_slice(r);
        f
    }

    #[test]
    fn frames_stop_at_the_first_that_does_not_check_out() {
        let mut bytes = frame(b"one");
        bytes.extend(frame(b"two"));
        let good = bytes.len();
        bytes.extend(frame(b"three"));
        let n = bytes.len();
        bytes[n - 1] ^= 1;
        let (found, used) = parse_frames(&bytes, usize::MAX);
        let recs: Vec<Vec<u8>> = found.into_iter().map(|f| f.1).collect();
        assert_eq!(recs, vec![b"one".to_vec(), b"two".to_vec()]);
        assert_eq!(used, good);
        // A torn header or body also ends the run.
        assert_eq!(parse_frames(&bytes[..good + 5], usize::MAX).1, good);
        assert_eq!(
            parse_frames(&bytes[..good + FRAME_HEADER + 2], usize::MAX).1,
            good
        );
        // The limit is honoured.
        assert_eq!(parse_frames(&bytes, 1).0.len(), 1);
    }

    #[test]
    fn a_damaged_record_skips_the_rest_of_its_segment_only() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (reader, mut writer) = open(d, 0, false).unwrap();
        let batch = |writer: &mut Writer, recs: &[&[u8]]| {
            let buf: Vec<u8> = recs.iter().flat_map(|r| frame(r)).collect();
            writer.write(&buf).unwrap();
        };
        batch(&mut writer, &[b"one", b"two", b"three"]);
        let (recs, _) = reader.read(0, 9).unwrap();
        // Flip a byte inside "two" on disk.
        let seg = segment_path(d, recs[0].0);
        let mut bytes = std::fs::read(&seg).unwrap();
        let at = (recs[1].0 - recs[0].0) as usize + FRAME_HEADER;
        bytes[at] ^= 0xff;
        std::fs::write(&seg, &bytes).unwrap();
        let (recs, next) = reader.read(0, 9).unwrap();
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].1, b"one".to_vec());
        assert_eq!(next, reader.end());
        // Fill the segment: the next round begins a new one, which reads as before.
        let big = vec![7u8; SEGMENT_BYTES as usize];
        batch(&mut writer, &[&big]);
        batch(&mut writer, &[b"four"]);
        let (recs, _) = reader.read(0, 9).unwrap();
        let got: Vec<Vec<u8>> = recs.into_iter().map(|r| r.1).collect();
        assert_eq!(got, vec![b"one".to_vec(), b"four".to_vec()]);
    }

    #[test]
    fn truncated_segments_are_deleted_while_running() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (reader, mut writer) = open(d, 0, false).unwrap();
        let big = vec![1u8; SEGMENT_BYTES as usize];
        for r in [&b"a"[..], &big, b"b", &big, b"c"] {
            writer.write(&frame(r)).unwrap();
        }
        let (recs, _) = reader.read(0, 9).unwrap();
        assert_eq!(recs.len(), 5);
        assert_eq!(segments(d).unwrap().len(), 3);
        // Truncated just before "b": the first segment ("a" and a big one) goes; "b"'s
        // segment stays although its first record is hidden by the caller's clamp.
        let b_at = recs[2].0;
        writer.drop_truncated(b_at + 1).unwrap();
        assert_eq!(segments(d).unwrap().len(), 2);
        let (recs, _) = reader.read(0, 9).unwrap();
        let got: Vec<usize> = recs.iter().map(|r| r.1.len()).collect();
        assert_eq!(got, vec![1, SEGMENT_BYTES as usize, 1]);
        // The segment being written is never deleted.
        writer.drop_truncated(u64::MAX).unwrap();
        assert_eq!(segments(d).unwrap().len(), 1);
        assert_eq!(reader.read(0, 9).unwrap().0.len(), 1);
    }

    #[test]
    fn a_few_junk_bytes_after_a_sealed_segment_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let mut first = frame(b"kept");
        first.extend_from_slice(b"\x01\x02\x03");
        std::fs::write(segment_path(d, 0), &first).unwrap();
        std::fs::write(segment_path(d, 100), frame(b"next")).unwrap();
        let (reader, _writer) = open(d, 0, false).unwrap();
        let (recs, _) = reader.read(0, 9).unwrap();
        let got: Vec<Vec<u8>> = recs.into_iter().map(|r| r.1).collect();
        assert_eq!(got, vec![b"kept".to_vec(), b"next".to_vec()]);
    }

    /// Waits for the spare the writer asked for.
    fn spare_filled(writer: &mut Writer) {
        assert!(
            matches!(writer.spare, Spare::Filling(_)),
            "no spare asked for"
        );
        if let Spare::Filling(rx) = &writer.spare {
            rx.recv_timeout(std::time::Duration::from_secs(30))
                .unwrap()
                .unwrap();
        }
        writer.spare = Spare::Ready;
    }

    #[test]
    fn the_next_segment_is_a_prepared_spare_whose_zeros_the_next_open_cuts() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (reader, mut writer) = open(d, 0, true).unwrap();
        let half = frame(&vec![3u8; SEGMENT_BYTES as usize / 2]);
        writer.write(&half).unwrap();
        spare_filled(&mut writer);
        assert_eq!(
            std::fs::metadata(d.join(SPARE_READY)).unwrap().len(),
            SEGMENT_BYTES
        );
        writer.write(&half).unwrap();
        // The segment is full: the next round begins the next one, in the spare.
        writer.write(&frame(b"next")).unwrap();
        assert!(!d.join(SPARE_READY).exists());
        let starts = segments(d).unwrap();
        assert_eq!(starts.len(), 2);
        // The sealed segment ends at its last record; the spare keeps its size.
        assert_eq!(
            std::fs::metadata(segment_path(d, starts[0])).unwrap().len(),
            2 * half.len() as u64
        );
        let second = segment_path(d, starts[1]);
        assert_eq!(std::fs::metadata(&second).unwrap().len(), SEGMENT_BYTES);
        let lens = |reader: &Reader| -> Vec<usize> {
            let (recs, next) = reader.read(0, 9).unwrap();
            assert_eq!(next, reader.end());
            recs.iter().map(|r| r.1.len()).collect()
        };
        let want = vec![half.len() - FRAME_HEADER, half.len() - FRAME_HEADER, 4];
        assert_eq!(lens(&reader), want);
        drop((reader, writer));

        // The next start cuts the spare's zeros after the last record.
        let (reader, _writer) = open(d, 0, true).unwrap();
        assert_eq!(
            std::fs::metadata(&second).unwrap().len(),
            frame(b"next").len() as u64
        );
        assert_eq!(lens(&reader), want);
    }

    #[test]
    fn open_begins_in_a_spare_left_ready_and_drops_one_half_filled() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fill_spare(d, 7).unwrap();
        std::fs::write(d.join(format!("spare-9{SPARE_FILLING_SUFFIX}")), b"\0\0").unwrap();
        let (reader, mut writer) = open(d, 0, true).unwrap();
        assert!(!d.join(SPARE_READY).exists());
        assert!(!d.join(format!("spare-9{SPARE_FILLING_SUFFIX}")).exists());
        let first = segment_path(d, writer.current.start);
        assert_eq!(std::fs::metadata(&first).unwrap().len(), SEGMENT_BYTES);
        writer.write(&frame(b"one")).unwrap();
        assert_eq!(reader.read(0, 9).unwrap().0[0].1, b"one".to_vec());
        assert!(matches!(writer.spare, Spare::None));
    }

    #[test]
    fn zeroed_blocks_are_not_records() {
        assert_eq!(parse_frames(&[0u8; 64], usize::MAX), (Vec::new(), 0));
    }

    #[test]
    fn open_cuts_a_torn_tail_drops_truncated_segments_and_reads_across_segments() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let first: Vec<u8> = [frame(b"a"), frame(b"bb")].concat();
        std::fs::write(segment_path(d, 100), &first).unwrap();
        // A gap between segments, as a restart leaves.
        let second_at = 1000;
        let mut second = frame(b"ccc");
        let good = second.len() as u64;
        second.extend_from_slice(b"\x05\x00\x00"); // torn header
        std::fs::write(segment_path(d, second_at), &second).unwrap();

        let (reader, writer) = open(d, 0, false).unwrap();
        // This run's segment begins past the next START_GAP multiple; nothing there yet.
        assert_eq!(writer.current.start, START_GAP);
        assert_eq!(reader.end(), START_GAP);
        assert_eq!(
            std::fs::metadata(segment_path(d, second_at)).unwrap().len(),
            good
        );
        let (all, next) = reader.read(0, usize::MAX).unwrap();
        assert_eq!(next, reader.end());
        let b_at = 100 + frame(b"a").len() as u64;
        assert_eq!(
            all,
            vec![
                (100, b"a".to_vec()),
                (b_at, b"bb".to_vec()),
                (second_at, b"ccc".to_vec())
            ]
        );
        assert_eq!(
            reader.read(b_at, 1).unwrap(),
            (
                vec![(b_at, b"bb".to_vec())],
                b_at + frame(b"bb").len() as u64
            )
        );
        // From the end of a segment, across the gap, to the next one.
        let (recs, _) = reader.read(b_at + frame(b"bb").len() as u64, 9).unwrap();
        assert_eq!(recs, vec![(second_at, b"ccc".to_vec())]);
        assert!(reader.read(reader.end(), 9).unwrap().0.is_empty());
        // A position in a gap reads on to the end without records.
        assert_eq!(
            reader.read(second_at + good, 9).unwrap(),
            (vec![], START_GAP)
        );
        drop((reader, writer));

        // Truncated past the first segment: it is deleted at the next open, and this run
        // begins past the last one's gap again.
        let (reader, writer) = open(d, second_at, false).unwrap();
        assert_eq!(
            segments(d).unwrap(),
            vec![second_at, START_GAP, 2 * START_GAP]
        );
        assert_eq!(writer.current.start, 2 * START_GAP);
        assert_eq!(reader.read(0, 9).unwrap().0.len(), 1);
    }
}
