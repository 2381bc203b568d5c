//! The real file system, rooted at one folder.
//!
//! Walks use the `ignore` crate's parallel walker without any of its default
//! filters (twinsync applies its own exclude rules) and never follow
//! symlinks or junctions out of the root. Names that are not valid UTF-8 are
//! skipped and reported rather than mangled.

use super::{ExcludeFn, FileWriter, Fs, FsError, Kind, Listing, Meta, WalkEntry, WalkResult};
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The disk below `root`.
#[derive(Debug, Clone)]
pub struct RealFs {
    root: PathBuf,
}

impl RealFs {
    #[must_use]
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
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

/// Nanoseconds since the Unix epoch of a `SystemTime` (negative before 1970).
#[must_use]
pub fn system_time_ns(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_nanos()).unwrap_or(i64::MAX),
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
#[cfg(unix)]
#[allow(clippy::unnecessary_wraps)] // `None` on other platforms
fn id_of(md: &fs::Metadata) -> Option<super::FileId> {
    use std::os::unix::fs::MetadataExt;
    Some(super::FileId {
        dev: md.dev(),
        ino: md.ino(),
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

fn rel_of(root: &str, p: &Path) -> Result<String, String> {
    let s = p
        .to_str()
        .ok_or_else(|| format!("name is not valid UTF-8: {}", p.display()))?;
    let rel = s
        .strip_prefix(root)
        .ok_or_else(|| format!("{} is outside the root", p.display()))?
        .trim_start_matches(std::path::MAIN_SEPARATOR);
    Ok(if std::path::MAIN_SEPARATOR == '/' {
        rel.to_owned()
    } else {
        rel.replace(std::path::MAIN_SEPARATOR, "/")
    })
}

/// Collects one walker thread's finds and hands them over when it ends.
struct Collector<'s> {
    local: WalkResult,
    shared: &'s Mutex<Vec<WalkResult>>,
}

impl Drop for Collector<'_> {
    fn drop(&mut self) {
        let local = std::mem::take(&mut self.local);
        if let Ok(mut g) = self.shared.lock() {
            g.push(local);
        }
    }
}

struct BufFile {
    path: String,
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

impl FileWriter for BufFile {
    fn finish(self: Box<Self>) -> Result<(), FsError> {
        let path = self.path;
        let f = self
            .w
            .into_inner()
            .map_err(|e| FsError::io("write", &path, e.into_error()))?;
        f.sync_all().map_err(|e| FsError::io("flush", &path, e))
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
        let shared: Mutex<Vec<WalkResult>> = Mutex::new(Vec::new());
        let seen = AtomicU64::new(0);
        let root = self.root.to_string_lossy().into_owned();
        let walker = ignore::WalkBuilder::new(&self.root)
            .standard_filters(false)
            .follow_links(false)
            .same_file_system(false)
            .threads(2)
            .build_parallel();
        walker.run(|| {
            let mut c = Collector {
                local: WalkResult::default(),
                shared: &shared,
            };
            let root = &root;
            let seen = &seen;
            Box::new(move |res| {
                let entry = match res {
                    Ok(e) => e,
                    Err(err) => {
                        let path = err_path(&err)
                            .and_then(|p| rel_of(root, &p).ok())
                            .unwrap_or_default();
                        c.local.unreadable.push((path, err.to_string()));
                        return ignore::WalkState::Continue;
                    }
                };
                if entry.depth() == 0 {
                    return ignore::WalkState::Continue;
                }
                let rel = match rel_of(root, entry.path()) {
                    Ok(r) => r,
                    Err(why) => {
                        c.local
                            .skipped
                            .push((entry.path().display().to_string(), why));
                        return ignore::WalkState::Skip;
                    }
                };
                let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
                if exclude(&rel, is_dir) {
                    return ignore::WalkState::Skip;
                }
                match entry.metadata() {
                    Ok(md) => match meta_of(&md) {
                        Some(meta) => c.local.entries.push(WalkEntry { path: rel, meta }),
                        None => c.local.skipped.push((
                            rel,
                            "symlink, junction or special file: not followed".into(),
                        )),
                    },
                    Err(e) => c.local.unreadable.push((rel, e.to_string())),
                }
                let n = seen.fetch_add(1, Ordering::Relaxed) + 1;
                if n.is_multiple_of(4096) {
                    progress(n);
                }
                ignore::WalkState::Continue
            })
        });
        let parts = shared.into_inner().unwrap_or_default();
        let mut out = WalkResult::default();
        for mut p in parts {
            out.entries.append(&mut p.entries);
            out.unreadable.append(&mut p.unreadable);
            out.skipped.append(&mut p.skipped);
        }
        Ok(out)
    }

    fn list_dir(&self, path: &str) -> Result<Listing, FsError> {
        let rd = fs::read_dir(self.abs(path)).map_err(|e| FsError::io("list", path, e))?;
        let mut out = Listing::default();
        for ent in rd {
            let ent = ent.map_err(|e| FsError::io("list", path, e))?;
            let Some(name) = ent.file_name().to_str().map(str::to_owned) else {
                out.skipped
                    .push(ent.file_name().to_string_lossy().into_owned());
                continue;
            };
            // Relative to the open folder where the OS allows (no full-path walk).
            match ent.metadata() {
                Ok(md) => match meta_of(&md) {
                    Some(m) => out.entries.push((name, m)),
                    None => out.skipped.push(name),
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
            .map(|(dev, ino)| super::FileId { dev, ino })
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
}

fn err_path(err: &ignore::Error) -> Option<PathBuf> {
    match err {
        ignore::Error::WithPath { path, .. } => Some(path.clone()),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            err_path(err)
        }
        _ => None,
    }
}

#[cfg(unix)]
mod platform {
    use std::fs::{self, File};
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;
    use std::time::SystemTime;

    pub(super) fn set_mtime(p: &Path, t: SystemTime) -> std::io::Result<()> {
        File::open(p)?.set_times(fs::FileTimes::new().set_modified(t).set_accessed(t))
    }

    pub(super) fn set_props(p: &Path, props: u32) -> std::io::Result<()> {
        fs::set_permissions(p, fs::Permissions::from_mode(props & 0o7777))
    }

    pub(super) fn clear_readonly(_p: &Path) -> bool {
        false
    }
}

#[cfg(windows)]
mod platform {
    use crate::fs::attr;
    use std::fs::{self, OpenOptions};
    use std::os::windows::fs::{MetadataExt, OpenOptionsExt};
    use std::path::Path;
    use std::time::SystemTime;

    const FILE_WRITE_ATTRIBUTES: u32 = 0x100;

    pub(super) fn set_mtime(p: &Path, t: SystemTime) -> std::io::Result<()> {
        OpenOptions::new()
            .access_mode(FILE_WRITE_ATTRIBUTES)
            .open(p)?
            .set_times(fs::FileTimes::new().set_modified(t))
    }

    pub(super) fn set_props(p: &Path, props: u32) -> std::io::Result<()> {
        let cur = fs::symlink_metadata(p)?.file_attributes();
        crate::win::set_attributes(p, (cur & !attr::SYNCED) | (props & attr::SYNCED))
    }

    pub(super) fn clear_readonly(p: &Path) -> bool {
        match fs::symlink_metadata(p) {
            Ok(md) if md.file_attributes() & attr::READONLY != 0 => {
                crate::win::set_attributes(p, md.file_attributes() & !attr::READONLY).is_ok()
            }
            _ => false,
        }
    }
}

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
    pub(super) fn clear_readonly(_p: &Path) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_finds_files_and_prunes_excluded() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("a/b")).unwrap();
        fs::write(d.path().join("a/b/x.txt"), b"hello").unwrap();
        fs::create_dir_all(d.path().join("skip/me")).unwrap();
        fs::write(d.path().join("skip/me/y.txt"), b"y").unwrap();
        let r = RealFs::new(d.path());
        let w = r.walk(&|p, _| p == "skip", &|_| {}).unwrap();
        let mut paths: Vec<_> = w.entries.iter().map(|e| e.path.clone()).collect();
        paths.sort();
        assert_eq!(paths, ["a", "a/b", "a/b/x.txt"]);
        let f = w.entries.iter().find(|e| e.path == "a/b/x.txt").unwrap();
        assert_eq!(f.meta.size, 5);
        assert_eq!(f.meta.kind, Kind::File);
    }

    #[test]
    fn set_meta_round_trips_mtime_and_mode() {
        let d = tempfile::tempdir().unwrap();
        let r = RealFs::new(d.path());
        r.write_all("f", b"x").unwrap();
        let t = 1_600_000_000_123_456_700;
        r.set_meta("f", t, 0o640).unwrap();
        let m = r.stat("f").unwrap().unwrap();
        assert_eq!(m.mtime, t);
        #[cfg(unix)]
        assert_eq!(m.props, 0o640);
    }

    #[cfg(windows)]
    #[test]
    fn hidden_and_readonly_attributes_round_trip() {
        use crate::fs::attr;
        let d = tempfile::tempdir().unwrap();
        let r = RealFs::new(d.path());
        r.write_all("h.txt", b"x").unwrap();
        let t = 1_600_000_000_000_000_000;
        r.set_meta("h.txt", t, attr::HIDDEN | attr::READONLY)
            .unwrap();
        let m = r.stat("h.txt").unwrap().unwrap();
        assert_eq!(m.props & attr::SYNCED, attr::HIDDEN | attr::READONLY);
        assert_eq!(m.mtime, t);
        // A read-only file can still be replaced and deleted by twinsync.
        r.write_all("new.txt", b"y").unwrap();
        r.rename("new.txt", "h.txt").unwrap();
        r.set_meta("h.txt", t, attr::READONLY).unwrap();
        r.remove_file("h.txt").unwrap();
        assert!(r.stat("h.txt").unwrap().is_none());
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_not_followed() {
        let d = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret"), b"s").unwrap();
        std::os::unix::fs::symlink(outside.path(), d.path().join("link")).unwrap();
        let w = RealFs::new(d.path()).walk(&|_, _| false, &|_| {}).unwrap();
        assert!(w.entries.is_empty());
        assert_eq!(w.skipped.len(), 1);
    }
}
