//! The real file system, rooted at one folder.
//!
//! Walks list folders with `std::fs::read_dir` on a few threads, take each
//! entry's metadata from the listing (never a full-path stat per file),
//! check each raw name before joining it into a path, and never follow
//! symlinks or junctions out of the root. Names that are not valid UTF-8 are
//! skipped and reported rather than mangled.

use super::{ExcludeFn, FileWriter, Fs, FsError, Kind, Listing, Meta, WalkResult};
use crate::paths;
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use crate::model::time::system_time_ns;

/// The disk below `root`.
#[derive(Debug, Clone)]
pub struct RealFs {
    root: PathBuf,
    /// Whether the root's file system honours `syncfs` (asked once).
    batch_sync: std::sync::OnceLock<bool>,
}

impl RealFs {
    #[must_use]
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            batch_sync: std::sync::OnceLock::new(),
        }
    }

    /// Absolute path of a relative path below the root.
    #[must_use]
    pub fn abs(&self, rel: &str) -> PathBuf {
        if rel.is_empty() {
            self.root.clone()
        } else {
            let mut p = self.root.clone();
            for c in rel.split('/') {
                p.push(c);
            }
            p
        }
    }
}

fn ns_to_system_time(ns: i64) -> SystemTime {
    let d = Duration::from_nanos(ns.unsigned_abs());
    if ns >= 0 {
        UNIX_EPOCH + d
    } else {
        UNIX_EPOCH - d
    }
}

/// Converts `std::fs::Metadata` (not following links); `None` for symlinks,
/// junctions and special files.
pub(crate) fn meta_of(md: &fs::Metadata) -> Option<Meta> {
    let ft = md.file_type();
    if ft.is_symlink() {
        return None;
    }
    let kind = if ft.is_dir() {
        Kind::Dir
    } else if ft.is_file() {
        Kind::File
    } else {
        return None;
    };
    let mtime = md.modified().map_or(0, system_time_ns);
    let (props, offline) = props_of(md);
    Some(Meta {
        kind,
        size: if kind == Kind::File { md.len() } else { 0 },
        mtime,
        props,
        offline,
        id: id_of(md),
    })
}

/// Device and inode: free, they come with the stat the scan makes anyway.
/// The birth time, where the file system keeps one (std's stat is a
/// `statx` that asks for it), is folded into the device number: ext4 and
/// tmpfs give a deleted file's inode to the next new file at once, and
/// that file must not be taken for the deleted one (a move, SPEC 6.2.14:
/// audit F2), while a renamed file keeps both. Where there is no birth
/// time the id is the device and inode, as before.
#[cfg(unix)]
fn id_of(md: &fs::Metadata) -> Option<super::FileId> {
    use std::os::unix::fs::MetadataExt;
    super::FileId::new(md.dev() ^ born_mix(md), md.ino())
}

/// The birth time in nanoseconds, spread over 64 bits (0 when unknown).
#[cfg(unix)]
fn born_mix(md: &fs::Metadata) -> u64 {
    md.created()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| {
            let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
            ns.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29)
        })
}

/// Windows: std's `Metadata` from a directory listing carries no file id
/// (it would need a handle per file); detection falls back to name, size,
/// mtime and hash (SPEC §6 "no stable ids").
#[cfg(not(unix))]
fn id_of(_md: &fs::Metadata) -> Option<super::FileId> {
    None
}

#[cfg(unix)]
fn props_of(md: &fs::Metadata) -> (u32, bool) {
    use std::os::unix::fs::PermissionsExt;
    (md.permissions().mode() & 0o7777, false)
}

#[cfg(windows)]
fn props_of(md: &fs::Metadata) -> (u32, bool) {
    use super::attr;
    use std::os::windows::fs::MetadataExt;
    let a = md.file_attributes();
    (
        a & attr::SYNCED,
        a & (attr::OFFLINE | attr::RECALL_ON_DATA_ACCESS | attr::RECALL_ON_OPEN) != 0,
    )
}

#[cfg(not(any(unix, windows)))]
fn props_of(md: &fs::Metadata) -> (u32, bool) {
    (u32::from(md.permissions().readonly()), false)
}

/// Folders each side's walk lists at once. Local disks are CPU-bound here
/// (both sides are walked at the same time, one core each); a cloud drive
/// is latency-bound and gains from a second listing in flight.
const WALK_THREADS: usize = 2;

/// The folders still to list, shared by one walk's threads. `next` hands out
/// a folder or waits while another thread may still find more; it returns
/// `None` once the queue is empty and no thread is listing (or one died).
struct WorkQueue {
    state: Mutex<QueueState>,
    cv: Condvar,
}

struct QueueState {
    dirs: Vec<String>,
    busy: usize,
    failed: bool,
}

/// Marks the walk failed if its thread unwinds, so the others stop waiting.
struct QueueGuard<'q>(&'q WorkQueue);

impl Drop for QueueGuard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.lock().failed = true;
            self.0.cv.notify_all();
        }
    }
}

impl WorkQueue {
    fn new(first: String) -> Self {
        Self {
            state: Mutex::new(QueueState {
                dirs: vec![first],
                busy: 0,
                failed: false,
            }),
            cv: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn guard(&self) -> QueueGuard<'_> {
        QueueGuard(self)
    }

    fn next(&self) -> Option<String> {
        let mut st = self.lock();
        loop {
            if st.failed {
                return None;
            }
            if let Some(d) = st.dirs.pop() {
                st.busy += 1;
                return Some(d);
            }
            if st.busy == 0 {
                return None;
            }
            st = self
                .cv
                .wait(st)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    fn done(&self, found: Vec<String>) {
        let mut st = self.lock();
        st.busy -= 1;
        st.dirs.extend(found);
        drop(st);
        self.cv.notify_all();
    }
}

impl RealFs {
    /// Lists one folder of a walk into `out` and returns its subfolders.
    /// Metadata comes from the directory entry (relative to the open folder
    /// on Linux, from the enumeration itself on Windows): no per-file walk
    /// of the full path. The raw name is checked before any path is built
    /// from it: `a:b` would read as a drive and `a\b` as two names.
    fn list_for_walk(
        &self,
        dir: &str,
        exclude: ExcludeFn<'_>,
        out: &mut WalkResult,
    ) -> Vec<String> {
        let mut subdirs = Vec::new();
        let rd = match super::retry::retry(|| fs::read_dir(self.abs(dir))) {
            Ok(rd) => rd,
            Err(e) => {
                out.unreadable
                    .push((dir.to_owned(), FsError::io("list", dir, e).to_string()));
                return subdirs;
            }
        };
        for ent in rd {
            let ent = match ent {
                Ok(e) => e,
                Err(e) => {
                    out.unreadable
                        .push((dir.to_owned(), FsError::io("list", dir, e).to_string()));
                    break;
                }
            };
            // What a skipped name is (a file renamed to it is recognised
            // by it); `None` for a link or what cannot be read.
            let meta_of_skipped = || {
                super::retry::retry(|| ent.metadata())
                    .ok()
                    .as_ref()
                    .and_then(meta_of)
            };
            let raw = ent.file_name();
            let Some(name) = raw.to_str() else {
                let lossy = paths::join(dir, &raw.to_string_lossy());
                let why = "name is not valid UTF-8".to_owned();
                out.skipped.push((lossy, why, meta_of_skipped()));
                continue;
            };
            let rel = paths::join(dir, name);
            let is_dir = ent.file_type().is_ok_and(|t| t.is_dir());
            if exclude(&rel, is_dir) {
                continue;
            }
            if let Err(why) = paths::validate_component(name) {
                out.skipped.push((rel, why.to_string(), meta_of_skipped()));
                continue;
            }
            match super::retry::retry(|| ent.metadata()) {
                Ok(md) => match meta_of(&md) {
                    Some(meta) => {
                        if meta.kind == Kind::Dir {
                            subdirs.push(rel.clone());
                        }
                        out.push(&rel, meta);
                    }
                    None => out.skipped.push((
                        rel,
                        "symlink, junction or special file: not followed".into(),
                        None,
                    )),
                },
                // Unknown, never absent (even if it was just deleted).
                Err(e) => {
                    let why = FsError::io("stat", &rel, e).to_string();
                    out.unreadable.push((rel, why));
                }
            }
        }
        subdirs
    }
}

struct BufFile {
    path: String,
    /// The absolute path (Windows sets attributes by path).
    abs: PathBuf,
    w: BufWriter<File>,
}

impl Write for BufFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.w.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.w.flush()
    }
}

impl BufFile {
    /// The times and properties go on the open handle (`futimens`, and
    /// `fchmod` only when the new file's mode differs; on Windows
    /// `SetFileTime`, attributes by path only when they differ), then the
    /// `fsync` when `synced`. The `fstat` that tells whether the properties
    /// differ is the read-back too, when nothing was changed after it;
    /// otherwise the metadata is read from the handle once more.
    #[allow(clippy::boxed_local)] // called from the trait's boxed methods
    fn finish_times(
        self: Box<Self>,
        mtime: i64,
        props: u32,
        synced: bool,
    ) -> Result<super::Written, FsError> {
        let (path, abs) = (self.path, self.abs);
        let f = self
            .w
            .into_inner()
            .map_err(|e| FsError::io("write", &path, e.into_error()))?;
        let (times, read_back) =
            match platform::set_on_handle(&f, &abs, ns_to_system_time(mtime), props) {
                Ok(read_back) => (Ok(()), read_back),
                Err((op, e)) => (Err(FsError::io(op, &path, e)), None),
            };
        if synced {
            f.sync_all().map_err(|e| FsError::io("flush", &path, e))?;
        }
        let meta = read_back
            .as_ref()
            .and_then(meta_of)
            .or_else(|| f.metadata().ok().as_ref().and_then(meta_of));
        Ok(super::Written {
            times: Some(times),
            meta,
        })
    }
}

impl FileWriter for BufFile {
    fn finish(self: Box<Self>) -> Result<(), FsError> {
        let path = self.path;
        let f = self
            .w
            .into_inner()
            .map_err(|e| FsError::io("write", &path, e.into_error()))?;
        f.sync_all().map_err(|e| FsError::io("flush", &path, e))
    }

    /// See [`BufFile::finish_times`]; then the one `fsync`.
    fn finish_with(self: Box<Self>, mtime: i64, props: u32) -> Result<super::Written, FsError> {
        self.finish_times(mtime, props, true)
    }

    /// As `finish_with`, without the `fsync` (see [`Fs::sync_written`]).
    fn finish_unsynced(self: Box<Self>, mtime: i64, props: u32) -> Result<super::Written, FsError> {
        self.finish_times(mtime, props, false)
    }

    fn sync(&mut self) -> Result<(), FsError> {
        self.w
            .flush()
            .map_err(|e| FsError::io("write", &self.path, e))?;
        self.w
            .get_ref()
            .sync_data()
            .map_err(|e| FsError::io("flush", &self.path, e))
    }
}

impl Fs for RealFs {
    fn root_display(&self) -> String {
        self.root.display().to_string()
    }

    fn stat(&self, path: &str) -> Result<Option<Meta>, FsError> {
        match fs::symlink_metadata(self.abs(path)) {
            Ok(md) => Ok(meta_of(&md)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            // A path through a file ("a.txt/b") is "not there" too.
            Err(e) if e.raw_os_error() == Some(20) && cfg!(unix) => Ok(None),
            Err(e) => Err(FsError::io("stat", path, e)),
        }
    }

    fn walk(
        &self,
        exclude: ExcludeFn<'_>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<WalkResult, FsError> {
        fs::read_dir(&self.root).map_err(|e| FsError::io("list", "", e))?;
        let queue = WorkQueue::new(String::new());
        let seen = AtomicU64::new(0);
        let parts = std::thread::scope(|s| {
            let workers: Vec<_> = (0..WALK_THREADS)
                .map(|_| {
                    s.spawn(|| {
                        let _guard = queue.guard();
                        let mut local = WalkResult::default();
                        while let Some(dir) = queue.next() {
                            let before = local.entries.len() as u64;
                            let subdirs = self.list_for_walk(&dir, exclude, &mut local);
                            let found = local.entries.len() as u64 - before;
                            let n = seen.fetch_add(found, Ordering::Relaxed);
                            if (n + found) / 4096 > n / 4096 {
                                progress(n + found);
                            }
                            queue.done(subdirs);
                        }
                        local
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().ok())
                .collect::<Option<Vec<WalkResult>>>()
        });
        // A walker thread that died took part of the tree with it: that is
        // not a listing anyone may read as complete.
        let parts = parts.ok_or_else(|| {
            FsError::io("list", "", std::io::Error::other("a walker thread failed"))
        })?;
        // The threads' finds go into the largest part: only the others are
        // copied (and freed as they are).
        let mut parts = parts;
        parts.sort_by_key(|p| std::cmp::Reverse(p.entries.len()));
        let mut parts = parts.into_iter();
        let mut out = parts.next().unwrap_or_default();
        for p in parts {
            out.append(p);
        }
        Ok(out)
    }

    fn list_dir(&self, path: &str) -> Result<Listing, FsError> {
        let rd = fs::read_dir(self.abs(path)).map_err(|e| FsError::io("list", path, e))?;
        let mut out = Listing::default();
        for ent in rd {
            let ent = ent.map_err(|e| FsError::io("list", path, e))?;
            let Some(name) = ent.file_name().to_str().map(str::to_owned) else {
                let meta = super::retry::retry(|| ent.metadata())
                    .ok()
                    .as_ref()
                    .and_then(meta_of);
                out.skipped
                    .push((ent.file_name().to_string_lossy().into_owned(), meta));
                continue;
            };
            // Relative to the open folder where the OS allows (no full-path walk).
            match super::retry::retry(|| ent.metadata()) {
                Ok(md) => match meta_of(&md) {
                    Some(m) => out.entries.push((name, m)),
                    None => out.skipped.push((name, None)),
                },
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {} // gone meanwhile
                Err(e) => {
                    let why = FsError::io("stat", crate::paths::join(path, &name), e);
                    out.unreadable.push((name, why.to_string()));
                }
            }
        }
        Ok(out)
    }

    fn open_read(&self, path: &str) -> Result<Box<dyn Read + Send>, FsError> {
        let f = File::open(self.abs(path)).map_err(|e| FsError::io("open", path, e))?;
        Ok(Box::new(std::io::BufReader::with_capacity(256 * 1024, f)))
    }

    fn create(&self, path: &str) -> Result<Box<dyn FileWriter>, FsError> {
        let f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(self.abs(path))
            .map_err(|e| FsError::io("create", path, e))?;
        Ok(Box::new(BufFile {
            path: path.to_owned(),
            abs: self.abs(path),
            w: BufWriter::with_capacity(256 * 1024, f),
        }))
    }

    fn set_meta(&self, path: &str, mtime: i64, props: u32) -> Result<(), FsError> {
        let abs = self.abs(path);
        let md = fs::symlink_metadata(&abs).map_err(|e| FsError::io("stat", path, e))?;
        if md.is_file() {
            platform::set_mtime(&abs, ns_to_system_time(mtime))
                .map_err(|e| FsError::io("set mtime", path, e))?;
        }
        platform::set_props(&abs, props).map_err(|e| FsError::io("set properties", path, e))
    }

    #[cfg(windows)]
    fn file_id(&self, path: &str) -> Option<super::FileId> {
        crate::win::file_id(&self.abs(path))
            .ok()
            .and_then(|(dev, ino)| super::FileId::new(dev, ino))
    }

    fn rename(&self, from: &str, to: &str) -> Result<(), FsError> {
        let (a, b) = (self.abs(from), self.abs(to));
        match fs::rename(&a, &b) {
            Ok(()) => Ok(()),
            Err(e)
                if e.kind() == std::io::ErrorKind::PermissionDenied
                    && platform::clear_readonly(&b) =>
            {
                fs::rename(&a, &b).map_err(|e| FsError::io("rename", format!("{from} → {to}"), e))
            }
            Err(e) => Err(FsError::io("rename", format!("{from} → {to}"), e)),
        }
    }

    /// On Linux, when the root's file system is one whose `syncfs` writes
    /// every file out (ext4, XFS, Btrfs, F2FS, tmpfs); not on a FUSE or
    /// network mount, whose `syncfs` may do nothing.
    fn syncs_in_batches(&self) -> bool {
        *self
            .batch_sync
            .get_or_init(|| platform::syncfs_honoured_at(&self.root))
    }

    /// One `syncfs` per file system the files are on (through one of its
    /// files), where it honours `syncfs`; elsewhere (a folder of the tree
    /// on another kind of mount), and for a file whose device is not
    /// known, each file's own `fsync`.
    fn sync_written(&self, files: &[(&str, Option<super::FileId>)]) -> Result<(), FsError> {
        // Devices seen: whether their whole file system was synced.
        let mut seen: Vec<(u64, bool)> = Vec::new();
        for &(path, id) in files {
            let dev = id.map(|i| i.dev);
            let known = dev.and_then(|d| seen.iter().find(|s| s.0 == d));
            if known.is_some_and(|s| s.1) {
                continue;
            }
            let fail = |e| FsError::io("flush", path, e);
            // Read-only is enough for `fsync` and `syncfs` on Unix (and
            // works on a temp whose mode is read-only); Windows flushes
            // through a handle with write access only.
            let f = OpenOptions::new()
                .read(true)
                .write(cfg!(windows))
                .open(self.abs(path))
                .map_err(fail)?;
            match dev {
                Some(d) if known.is_none() && platform::syncfs_honoured(&f) => {
                    platform::sync_fs_of(&f).map_err(fail)?;
                    seen.push((d, true));
                }
                _ => {
                    f.sync_all().map_err(fail)?;
                    if let Some(d) = dev
                        && known.is_none()
                    {
                        seen.push((d, false));
                    }
                }
            }
        }
        Ok(())
    }

    fn rename_new(&self, from: &str, to: &str) -> Result<bool, FsError> {
        match platform::rename_no_replace(&self.abs(from), &self.abs(to)) {
            Ok(Some(renamed)) => Ok(renamed),
            // No such call here (another OS, a file system without it):
            // look, then rename.
            Ok(None) => {
                if self.stat(to)?.is_some() {
                    return Ok(false);
                }
                self.rename(from, to).map(|()| true)
            }
            Err(e) => Err(FsError::io("rename", format!("{from} → {to}"), e)),
        }
    }

    fn remove_file(&self, path: &str) -> Result<(), FsError> {
        let abs = self.abs(path);
        match fs::remove_file(&abs) {
            Ok(()) => Ok(()),
            Err(e)
                if e.kind() == std::io::ErrorKind::PermissionDenied
                    && platform::clear_readonly(&abs) =>
            {
                fs::remove_file(&abs).map_err(|e| FsError::io("delete", path, e))
            }
            Err(e) => Err(FsError::io("delete", path, e)),
        }
    }

    fn create_dir_all(&self, path: &str) -> Result<(), FsError> {
        fs::create_dir_all(self.abs(path)).map_err(|e| FsError::io("create folder", path, e))
    }

    fn remove_dir(&self, path: &str) -> Result<(), FsError> {
        fs::remove_dir(self.abs(path)).map_err(|e| FsError::io("remove folder", path, e))
    }

    fn free_space(&self) -> Option<u64> {
        platform::free_space(&self.root)
    }

    #[cfg(unix)]
    fn sync_dir(&self, path: &str) -> Result<(), FsError> {
        File::open(self.abs(path))
            .and_then(|d| d.sync_all())
            .map_err(|e| FsError::io("sync folder", path, e))
    }

    fn open_read_at(&self, path: &str, offset: u64) -> Result<Box<dyn Read + Send>, FsError> {
        use std::io::{Seek, SeekFrom};
        let mut f = File::open(self.abs(path)).map_err(|e| FsError::io("open", path, e))?;
        f.seek(SeekFrom::Start(offset))
            .map_err(|e| FsError::io("read", path, e))?;
        Ok(Box::new(std::io::BufReader::with_capacity(256 * 1024, f)))
    }

    fn open_write_at(&self, path: &str, offset: u64) -> Result<Box<dyn FileWriter>, FsError> {
        use std::io::{Seek, SeekFrom};
        let fail = |e| FsError::io("reopen", path, e);
        // Never created here: only an existing temp file is continued.
        let mut f = OpenOptions::new()
            .write(true)
            .open(self.abs(path))
            .map_err(fail)?;
        if f.metadata().map_err(fail)?.len() < offset {
            return Err(super::shorter_than(path, offset));
        }
        f.set_len(offset).map_err(fail)?;
        f.seek(SeekFrom::Start(offset)).map_err(fail)?;
        Ok(Box::new(BufFile {
            path: path.to_owned(),
            abs: self.abs(path),
            w: BufWriter::with_capacity(256 * 1024, f),
        }))
    }
}

/// The OS primitives behind `RealFs`, one file per OS.
#[cfg(unix)]
#[path = "real/unix.rs"]
mod platform;

#[cfg(windows)]
#[path = "real/windows.rs"]
mod platform;

#[cfg(not(any(unix, windows)))]
mod platform {
    use std::path::Path;
    use std::time::SystemTime;
    pub(super) fn set_mtime(p: &Path, t: SystemTime) -> std::io::Result<()> {
        std::fs::File::open(p)?.set_times(std::fs::FileTimes::new().set_modified(t))
    }
    pub(super) fn set_props(_p: &Path, _props: u32) -> std::io::Result<()> {
        Ok(())
    }
    pub(super) fn set_on_handle(
        f: &std::fs::File,
        _p: &Path,
        t: SystemTime,
        _props: u32,
    ) -> Result<Option<std::fs::Metadata>, (&'static str, std::io::Error)> {
        f.set_times(std::fs::FileTimes::new().set_modified(t))
            .map(|()| None)
            .map_err(|e| ("set mtime", e))
    }
    pub(super) fn clear_readonly(_p: &Path) -> bool {
        false
    }
    pub(super) fn rename_no_replace(_from: &Path, _to: &Path) -> std::io::Result<Option<bool>> {
        Ok(None)
    }
    pub(super) fn sync_fs_of(f: &std::fs::File) -> std::io::Result<()> {
        f.sync_all()
    }
    pub(super) fn syncfs_honoured(_f: &std::fs::File) -> bool {
        false
    }
    pub(super) fn syncfs_honoured_at(_p: &Path) -> bool {
        false
    }
    pub(super) fn free_space(_p: &Path) -> Option<u64> {
        None
    }
}

#[cfg(test)]
mod tests;
