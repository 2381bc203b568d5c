//! The file-system boundary: everything twinsync does to a root goes through
//! the [`Fs`] trait.
//!
//! Implementations:
//! - [`real::RealFs`]: the disk, rooted at one folder;
//! - [`mem::MemFs`]: in memory, optionally case-insensitive and with coarse
//!   (e.g. 2 s, FAT-like) timestamps, so Windows semantics are tested on Linux;
//! - [`fault::FaultFs`]: wraps another `Fs` and fails chosen calls (permission
//!   denied, locked, out of space, interrupted) or "loses power" after N writes;
//! - [`latency::LatencyFs`]: wraps another `Fs` behind a slow link (a round
//!   trip per call, a byte rate) and counts the calls (WAN benchmark);
//! - [`retry::RetryFs`]: wraps another `Fs` and makes interrupted reads,
//!   stats and listings again (every production side is wrapped in it).
//!
//! Invariants: paths are relative (see [`crate::paths`]), `""` is the root;
//! every error names the operation and the path; nothing here decides policy.
//! What an entry is ([`Kind`], [`FileId`], [`Meta`]) is shared vocabulary,
//! defined in [`crate::model`] and re-exported here.

pub mod fault;
pub mod latency;
pub mod mem;
pub mod real;
pub mod retry;

use std::io::{Read, Write};

pub use crate::model::{FileId, Kind, Meta};

/// Property bits on Windows (the attributes twinsync syncs).
pub mod attr {
    pub const READONLY: u32 = 0x1;
    pub const HIDDEN: u32 = 0x2;
    pub const SYSTEM: u32 = 0x4;
    /// `FILE_ATTRIBUTE_OFFLINE`: never read such a file just to hash it.
    pub const OFFLINE: u32 = 0x1000;
    /// `FILE_ATTRIBUTE_RECALL_ON_OPEN`.
    pub const RECALL_ON_OPEN: u32 = 0x0004_0000;
    /// `FILE_ATTRIBUTE_RECALL_ON_DATA_ACCESS` (cloud placeholder).
    pub const RECALL_ON_DATA_ACCESS: u32 = 0x0040_0000;
    /// The attributes that are synced.
    pub const SYNCED: u32 = READONLY | HIDDEN | SYSTEM;
}

/// One entry found by [`Fs::walk`].
#[derive(Debug, Clone)]
pub struct WalkEntry {
    /// Where its exact-case relative path lies in [`WalkResult::names`].
    pub path: crate::paths::Span,
    pub meta: Meta,
}

/// What a walk found, plus what it could not look at.
///
/// The paths of what it found are kept back to back in one string
/// (`names`), not one allocation each: a million-file walk is then a few
/// large blocks, which the scan turns into its map without copying a path.
#[derive(Debug, Default)]
pub struct WalkResult {
    /// The text of every found path, back to back (see [`WalkEntry::path`]).
    pub names: String,
    pub entries: Vec<WalkEntry>,
    /// Folders that could not be listed (their content is unknown this cycle,
    /// which must never be read as "deleted").
    pub unreadable: Vec<(String, String)>,
    /// Entries skipped on purpose (symlinks, junctions, devices, names
    /// that are not UTF-8 or not valid on the other side), with why and,
    /// where it could be read, what the entry is (a file renamed to such a
    /// name is recognised by it).
    pub skipped: Vec<(String, String, Option<Meta>)>,
}

impl WalkResult {
    /// Records a found entry.
    pub fn push(&mut self, path: &str, meta: Meta) {
        let path = crate::paths::Span::push(&mut self.names, path);
        self.entries.push(WalkEntry { path, meta });
    }

    /// The relative path of `e`, one of this walk's entries.
    #[must_use]
    pub fn path(&self, e: &WalkEntry) -> &str {
        e.path.text(&self.names)
    }

    /// The found entries: relative path and metadata.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Meta)> {
        self.entries.iter().map(|e| (self.path(e), &e.meta))
    }

    /// Keeps the found entries for which `keep` holds.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &Meta) -> bool) {
        let names = &self.names;
        self.entries.retain(|e| keep(e.path.text(names), &e.meta));
    }

    /// Adds what `other` (a walk of another part of the tree) found.
    pub fn append(&mut self, mut other: WalkResult) {
        let base = self.names.len();
        self.names.push_str(&other.names);
        self.entries.reserve_exact(other.entries.len());
        self.entries.extend(other.entries.drain(..).map(|mut e| {
            e.path = e.path.shifted(base);
            e
        }));
        self.unreadable.append(&mut other.unreadable);
        self.skipped.append(&mut other.skipped);
    }
}

/// What listing one folder found.
#[derive(Debug, Default)]
pub struct Listing {
    /// Names (exact case) with their metadata.
    pub entries: Vec<(String, Meta)>,
    /// Names whose metadata could not be read, with why: their state is
    /// unknown this cycle, which must never be read as "absent".
    pub unreadable: Vec<(String, String)>,
    /// Names skipped on purpose (symlinks, junctions, special files, names
    /// that are not UTF-8), with what the entry is where it could be read.
    pub skipped: Vec<(String, Option<Meta>)>,
}

impl Listing {
    /// True when nothing at all is in the folder.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.unreadable.is_empty() && self.skipped.is_empty()
    }

    /// Every name in the folder, whatever could be read of it.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries
            .iter()
            .map(|(n, _)| n.as_str())
            .chain(self.unreadable.iter().map(|(n, _)| n.as_str()))
            .chain(self.skipped.iter().map(|(n, _)| n.as_str()))
    }
}

/// Decides during a walk whether a relative path is excluded (`true` = skip).
pub type ExcludeFn<'a> = &'a (dyn Fn(&str, bool) -> bool + Sync);

/// A writer for a new file: `finish` flushes it durably.
pub trait FileWriter: Write + Send {
    /// Flushes and syncs the file to stable storage.
    ///
    /// # Errors
    /// The I/O error, naming the path.
    fn finish(self: Box<Self>) -> Result<(), FsError>;

    /// Like [`Self::finish`], but first sets the file's mtime and synced
    /// properties on the open handle (after the last write, which would
    /// move the mtime again), and reads the file's metadata back from the
    /// handle: what a copy needs, without the round trips of a
    /// [`Fs::set_meta`] and a [`Fs::stat`] by path (issue 21). The default
    /// only finishes, and says it set nothing and read nothing.
    ///
    /// # Errors
    /// Writing or syncing failed (a refusal of the times alone is not an
    /// error here: see [`Written::times`]).
    fn finish_with(self: Box<Self>, mtime: i64, props: u32) -> Result<Written, FsError> {
        let _ = (mtime, props);
        self.finish()?;
        Ok(Written::default())
    }

    /// Like [`Self::finish_with`] without making the file durable: for a
    /// batch of copies whose temps [`Fs::sync_written`] makes durable
    /// together before any is renamed. The default is `finish_with`
    /// (durable at once: always safe).
    ///
    /// # Errors
    /// As [`Self::finish_with`].
    fn finish_unsynced(self: Box<Self>, mtime: i64, props: u32) -> Result<Written, FsError> {
        self.finish_with(mtime, props)
    }

    /// Makes what was written so far durable, mid-file (a resumable copy
    /// syncs each chunk before recording its offset). The default only
    /// flushes: right for writers that keep nothing in the OS's cache.
    ///
    /// # Errors
    /// The I/O error.
    fn sync(&mut self) -> Result<(), FsError> {
        self.flush()
            .map_err(|e| FsError::io("flush", "(file being written)", e))
    }
}

/// What [`FileWriter::finish_with`] did besides making the file durable.
#[derive(Debug, Default)]
pub struct Written {
    /// `Some(Ok)`: the mtime and properties were set on the handle;
    /// `Some(Err)`: the drive refused them (the file is written all the
    /// same: the caller decides what the refusal means); `None`: this
    /// writer cannot set them (set them by path).
    pub times: Option<Result<(), FsError>>,
    /// The file's metadata as the handle reports it once written (`None`:
    /// stat it by path).
    pub meta: Option<Meta>,
}

/// Classes of I/O failure that policy cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    NotFound,
    PermissionDenied,
    /// Sharing violation / lock held by another process: retry later.
    Locked,
    OutOfSpace,
    PathTooLong,
    /// The call was interrupted (`EINTR` and its Windows cousins) and did
    /// nothing: reads are made again ([`retry`]), never reported as such.
    Interrupted,
    /// The run cannot go on: a simulated power loss (the fault-injecting
    /// file system), a stop request ending a copy that may be interrupted,
    /// or a copy's hashing thread that died. Always [`Severity::Fatal`].
    Crashed,
    Other,
}

/// What a failed call means for the run: the one fatal/transient
/// classification (as Unison's `Fatal` and `Transient`), with the
/// transient failures split by whether they usually clear by themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The run stops here and writes nothing more; the journal tells the
    /// resumed run where it stood ([`ErrorClass::Crashed`]).
    Fatal,
    /// This step fails, the run goes on, the step is retried next cycle,
    /// and it is alerted only when it keeps failing (10 minutes): locks,
    /// files that vanished meanwhile, other passing errors.
    Transient,
    /// This step fails, the run goes on, the step is retried next cycle,
    /// and the admin is alerted at once: what does not clear by itself
    /// (permissions, a full disk, a path too long, an interrupted call
    /// that kept failing after its retries).
    NeedsAdmin,
}

impl ErrorClass {
    /// See [`Severity`].
    #[must_use]
    pub fn severity(self) -> Severity {
        match self {
            Self::Crashed => Severity::Fatal,
            Self::Locked | Self::NotFound | Self::Other => Severity::Transient,
            Self::PermissionDenied | Self::OutOfSpace | Self::PathTooLong | Self::Interrupted => {
                Severity::NeedsAdmin
            }
        }
    }
}

/// An I/O error that names its operation and path.
#[derive(Debug, thiserror::Error)]
#[error("{op} {}: {source}", shown(path))]
pub struct FsError {
    pub op: &'static str,
    pub path: String,
    pub class: ErrorClass,
    #[source]
    pub source: std::io::Error,
}

/// A path in an error: `` `a/b.txt` ``, or "the root folder" for the
/// root itself (its relative path is empty).
fn shown(path: &str) -> String {
    if path.is_empty() {
        "the root folder".to_owned()
    } else {
        format!("`{path}`")
    }
}

impl FsError {
    /// Wraps an `io::Error`, classifying it.
    #[must_use]
    pub fn io(op: &'static str, path: impl Into<String>, source: std::io::Error) -> Self {
        let class = classify(&source);
        Self {
            op,
            path: path.into(),
            class,
            source,
        }
    }

    /// An error of a chosen class (fault injection, in-memory file system).
    #[must_use]
    pub fn synthetic(
        op: &'static str,
        path: impl Into<String>,
        class: ErrorClass,
        msg: &str,
    ) -> Self {
        let kind = match class {
            ErrorClass::NotFound => std::io::ErrorKind::NotFound,
            ErrorClass::PermissionDenied => std::io::ErrorKind::PermissionDenied,
            ErrorClass::OutOfSpace => std::io::ErrorKind::StorageFull,
            ErrorClass::Interrupted => std::io::ErrorKind::Interrupted,
            _ => std::io::ErrorKind::Other,
        };
        Self {
            op,
            path: path.into(),
            class,
            source: std::io::Error::new(kind, msg.to_owned()),
        }
    }

    /// What this failure means for the run ([`Severity`]).
    #[must_use]
    pub fn severity(&self) -> Severity {
        self.class.severity()
    }

    /// True when the run must stop here ([`Severity::Fatal`]).
    #[must_use]
    pub fn is_fatal(&self) -> bool {
        self.severity() == Severity::Fatal
    }

    #[must_use]
    pub fn is_not_found(&self) -> bool {
        self.class == ErrorClass::NotFound
    }
}

fn classify(e: &std::io::Error) -> ErrorClass {
    use std::io::ErrorKind as K;
    // An `FsError` that went through `Read`/`Write` keeps its class.
    if let Some(inner) = e.get_ref().and_then(|i| i.downcast_ref::<FsError>()) {
        return inner.class;
    }
    if retry::is_interrupted(e) {
        return ErrorClass::Interrupted;
    }
    match e.kind() {
        K::NotFound => return ErrorClass::NotFound,
        K::PermissionDenied => return ErrorClass::PermissionDenied,
        K::StorageFull => return ErrorClass::OutOfSpace,
        K::InvalidFilename => return ErrorClass::PathTooLong,
        _ => {}
    }
    match e.raw_os_error() {
        // ERROR_SHARING_VIOLATION, ERROR_LOCK_VIOLATION
        #[cfg(windows)]
        Some(32 | 33) => ErrorClass::Locked,
        // ERROR_DISK_FULL, ERROR_HANDLE_DISK_FULL
        #[cfg(windows)]
        Some(112 | 39) => ErrorClass::OutOfSpace,
        // ERROR_FILENAME_EXCED_RANGE
        #[cfg(windows)]
        Some(206) => ErrorClass::PathTooLong,
        // ETXTBSY, EBUSY
        #[cfg(unix)]
        Some(26 | 16) => ErrorClass::Locked,
        // ENOSPC, EDQUOT
        #[cfg(unix)]
        Some(28 | 122) => ErrorClass::OutOfSpace,
        // ENAMETOOLONG
        #[cfg(unix)]
        Some(36) => ErrorClass::PathTooLong,
        _ => ErrorClass::Other,
    }
}

/// A file system rooted at one folder. All paths are relative to the root.
pub trait Fs: Send + Sync {
    /// The root as shown to people (an absolute path or a label).
    fn root_display(&self) -> String;

    /// Metadata of `path` without following symlinks; `None` if it does not exist.
    ///
    /// # Errors
    /// Any failure other than "not found".
    fn stat(&self, path: &str) -> Result<Option<Meta>, FsError>;

    /// Walks the whole tree below the root. `exclude(path, is_dir)` prunes;
    /// `progress(n)` is called now and then with the number of entries seen.
    ///
    /// # Errors
    /// Only when the root itself cannot be listed; failures below it are
    /// reported in [`WalkResult::unreadable`].
    fn walk(
        &self,
        exclude: ExcludeFn<'_>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<WalkResult, FsError>;

    /// The entries of a folder (exact-case names). An entry whose metadata
    /// cannot be read is listed in [`Listing::unreadable`], never dropped.
    ///
    /// # Errors
    /// The I/O error, naming the path, when the folder cannot be listed.
    fn list_dir(&self, path: &str) -> Result<Listing, FsError>;

    /// Opens a file for reading.
    ///
    /// # Errors
    /// The I/O error, naming the path.
    fn open_read(&self, path: &str) -> Result<Box<dyn Read + Send>, FsError>;

    /// Creates (or truncates) a file for writing.
    ///
    /// # Errors
    /// The I/O error, naming the path.
    fn create(&self, path: &str) -> Result<Box<dyn FileWriter>, FsError>;

    /// Sets mtime and synced properties (in that order: read-only comes last).
    ///
    /// # Errors
    /// The I/O error, naming the path.
    fn set_meta(&self, path: &str, mtime: i64, props: u32) -> Result<(), FsError>;

    /// Renames `from` to `to`, replacing a file at `to`. Works for case-only renames
    /// where the file system allows them directly.
    ///
    /// # Errors
    /// The I/O error, naming both paths.
    fn rename(&self, from: &str, to: &str) -> Result<(), FsError>;

    /// Removes a file (clearing read-only first where the OS requires it).
    ///
    /// # Errors
    /// The I/O error, naming the path.
    fn remove_file(&self, path: &str) -> Result<(), FsError>;

    /// Creates a folder and its missing parents.
    ///
    /// # Errors
    /// The I/O error, naming the path.
    fn create_dir_all(&self, path: &str) -> Result<(), FsError>;

    /// Removes an empty folder.
    ///
    /// # Errors
    /// The I/O error, naming the path (a non-empty folder is an error).
    fn remove_dir(&self, path: &str) -> Result<(), FsError>;

    /// The file id of `path`, asked for one path at a time where listings do
    /// not carry ids (Windows): only for paths that may be moves and for
    /// paths twinsync records. `None` where the file system has none.
    fn file_id(&self, path: &str) -> Option<FileId> {
        self.stat(path).ok().flatten().and_then(|m| m.id)
    }

    /// True when the root folder itself exists.
    fn root_exists(&self) -> bool {
        matches!(self.stat(""), Ok(Some(m)) if m.kind == Kind::Dir)
    }

    /// Reads a small file entirely (markers).
    ///
    /// # Errors
    /// The I/O error, naming the path.
    fn read_all(&self, path: &str) -> Result<Vec<u8>, FsError> {
        let mut r = self.open_read(path)?;
        let mut v = Vec::new();
        r.read_to_end(&mut v)
            .map_err(|e| FsError::io("read", path, e))?;
        Ok(v)
    }

    /// Writes a small file entirely (markers), durably.
    ///
    /// # Errors
    /// The I/O error, naming the path.
    fn write_all(&self, path: &str, data: &[u8]) -> Result<(), FsError> {
        let mut w = self.create(path)?;
        w.write_all(data)
            .map_err(|e| FsError::io("write", path, e))?;
        w.finish()
    }

    /// Bytes a new file may still take on the disk holding the root (for
    /// this user: quotas and reserved blocks count), asked once per apply
    /// for the free-space alert. `None`: not known (the file system or
    /// the drive cannot tell, or asking failed), which never reads as
    /// "enough" or "full".
    fn free_space(&self) -> Option<u64> {
        None
    }

    /// Makes what was renamed or created in the folder `path` durable (an
    /// `fsync` of the folder on Unix), once for a batch of steps before
    /// the journal says they are done. A no-op where there is no such call
    /// or nothing to do (Windows journals NTFS metadata; in memory).
    ///
    /// # Errors
    /// The I/O error, naming the path.
    fn sync_dir(&self, path: &str) -> Result<(), FsError> {
        let _ = path;
        Ok(())
    }

    /// Opens a file for reading from byte `offset` on (a resumed copy reads
    /// back one chunk, not the whole file). The default reads and drops
    /// the bytes before `offset`; implementations seek.
    ///
    /// # Errors
    /// The I/O error, naming the path; a file shorter than `offset`.
    fn open_read_at(&self, path: &str, offset: u64) -> Result<Box<dyn Read + Send>, FsError> {
        let mut r = self.open_read(path)?;
        let skipped = std::io::copy(&mut (&mut r).take(offset), &mut std::io::sink())
            .map_err(|e| FsError::io("read", path, e))?;
        if skipped < offset {
            return Err(shorter_than(path, offset));
        }
        Ok(r)
    }

    /// Opens an existing file for writing at byte `offset`, cutting off
    /// whatever lies after it (a resumed copy continues its temp file
    /// there). The default refuses: such a file system starts copies over.
    ///
    /// # Errors
    /// The I/O error, naming the path; a missing file or one shorter than
    /// `offset`.
    fn open_write_at(&self, path: &str, offset: u64) -> Result<Box<dyn FileWriter>, FsError> {
        let _ = offset;
        Err(FsError::synthetic(
            "reopen",
            path,
            ErrorClass::Other,
            "this file system cannot continue writing a file",
        ))
    }

    /// Whether [`Self::sync_written`] makes a batch of files durable at once
    /// for less than an `fsync` each (Linux `syncfs`: one call per file
    /// system). When it does, the small copies of a parallel run finish
    /// their temps unsynced and have them made durable together before any
    /// is renamed into place.
    fn syncs_in_batches(&self) -> bool {
        false
    }

    /// Makes durable the files written with
    /// [`FileWriter::finish_unsynced`]: each given by its path and the
    /// file id its writer read back (the device tells which file system
    /// holds it: a folder of the tree may be another mount). Called only
    /// where [`Self::syncs_in_batches`]; the default refuses.
    ///
    /// # Errors
    /// The I/O error, naming a path; then none of them counts as durable.
    fn sync_written(&self, files: &[(&str, Option<FileId>)]) -> Result<(), FsError> {
        Err(FsError::synthetic(
            "flush",
            files.first().map_or("", |f| f.0),
            ErrorClass::Other,
            "this file system makes files durable one by one",
        ))
    }

    /// Renames `from` to `to` only if nothing is at `to`; `Ok(false)`, and
    /// nothing renamed, when something is. One atomic call where the file
    /// system has it (Linux `renameat2(RENAME_NOREPLACE)`, Windows
    /// `MoveFileExW` without `MOVEFILE_REPLACE_EXISTING`): a new file's copy
    /// lands without a last `stat` of its destination, and never over a
    /// file a user made there meanwhile. The default looks, then renames
    /// (the window of one `stat`, as a copy had before).
    ///
    /// # Errors
    /// The I/O error of the look or the rename, naming the paths.
    fn rename_new(&self, from: &str, to: &str) -> Result<bool, FsError> {
        if self.stat(to)?.is_some() {
            return Ok(false);
        }
        self.rename(from, to).map(|()| true)
    }
}

/// The error of a file too short to be opened at `offset`.
#[must_use]
pub fn shorter_than(path: &str, offset: u64) -> FsError {
    FsError::synthetic(
        "reopen",
        path,
        ErrorClass::Other,
        &format!(
            "the file is shorter than the {} it should hold",
            crate::human::plural(offset, "byte", "bytes")
        ),
    )
}

/// Hashes a file's content with BLAKE3 (hex).
///
/// # Errors
/// The I/O error, naming the path.
pub fn hash_file(fs: &dyn Fs, path: &str) -> Result<String, FsError> {
    let mut r = fs.open_read(path)?;
    let mut h = blake3::Hasher::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = r.read(&mut buf).map_err(|e| FsError::io("read", path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().to_hex().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(size: u64) -> Meta {
        Meta {
            kind: Kind::File,
            size,
            mtime: 0,
            props: 0,
            offline: false,
            id: None,
        }
    }

    /// An error names its path in backticks, and the root (empty relative
    /// path) in words, not as an empty name (audit F9).
    #[test]
    fn an_error_names_its_path_and_the_root_in_words() {
        let e = || std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let root = FsError::io("list", "", e()).to_string();
        assert!(root.starts_with("list the root folder: "), "{root}");
        let file = FsError::io("stat", "a/b.txt", e()).to_string();
        assert!(file.starts_with("stat `a/b.txt`: "), "{file}");
    }

    /// One classification decides what a failure does to the run: only a
    /// crash (power loss, stop request, dead hashing thread) stops it; what
    /// clears by itself is retried quietly; the rest is alerted at once.
    #[test]
    fn severity_sorts_every_error_class() {
        use ErrorClass as C;
        for (class, severity) in [
            (C::Crashed, Severity::Fatal),
            (C::Locked, Severity::Transient),
            (C::NotFound, Severity::Transient),
            (C::Other, Severity::Transient),
            (C::PermissionDenied, Severity::NeedsAdmin),
            (C::OutOfSpace, Severity::NeedsAdmin),
            (C::PathTooLong, Severity::NeedsAdmin),
            (C::Interrupted, Severity::NeedsAdmin),
        ] {
            let e = FsError::synthetic("copy", "a.txt", class, "test");
            assert_eq!(e.severity(), severity, "{class:?}");
            assert_eq!(e.is_fatal(), severity == Severity::Fatal, "{class:?}");
        }
    }

    #[test]
    fn walk_parts_join_with_every_path_intact() {
        let mut a = WalkResult::default();
        a.push("a/one.txt", meta(1));
        a.push("a/caf\u{e9}.txt", meta(2));
        let mut b = WalkResult::default();
        b.push("b/two.txt", meta(3));
        b.unreadable.push(("b/locked".into(), "denied".into()));
        a.append(b);
        let got: Vec<(&str, u64)> = a.iter().map(|(p, m)| (p, m.size)).collect();
        assert_eq!(
            got,
            [("a/one.txt", 1), ("a/caf\u{e9}.txt", 2), ("b/two.txt", 3)]
        );
        assert_eq!(a.unreadable.len(), 1);
        a.retain(|p, _| p.starts_with("a/"));
        assert_eq!(
            a.iter().map(|(p, _)| p).collect::<Vec<_>>(),
            ["a/one.txt", "a/caf\u{e9}.txt"]
        );
    }
}
