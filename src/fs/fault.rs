//! A fault-injecting wrapper around any [`Fs`].
//!
//! Kinds of fault, all for tests:
//! - a rule fails calls of one operation on paths containing a string, with
//!   a chosen [`ErrorClass`] (permission denied, locked, out of space,
//!   interrupted…); the operation `read` fails a `read()` call of a reader
//!   that `open_read` returned, as a network mount does mid-file; `list`
//!   fails a folder's listing, in a walk too (the folder is found, nothing
//!   below it, and it is reported unreadable);
//! - short reads: every `read()` returns at most a few bytes (legal, and
//!   what SMB and FUSE mounts do), so no code may take one read for a whole;
//! - rounded times: `set_meta` stores the mtime rounded to a step (a drive
//!   that keeps whole seconds), so what is read back is not what was set;
//! - a *power cut*: after `n` successful mutating calls every later call
//!   fails with [`ErrorClass::Crashed`], as if the machine had stopped there
//!   (a writer's mid-file `sync` is a mutating call; its writes fail once
//!   the power is off; a writer's `finish_with`, which sets the file's
//!   times on the handle, is the `set properties` call, as `set_meta`);
//! - a write error at a byte ([`FaultFs::fail_writes_at`]): the first
//!   writer of a matching file that reaches that byte fails there, once (a
//!   link lost at 80 % of a large copy).
//!
//! And one property of a drive: a *name-length limit* ([`FaultFs::limit_names`]):
//! creating, renaming to, or creating a folder at a path with a component
//! or a whole path longer than the limit fails with
//! [`ErrorClass::PathTooLong`], as a real drive does.

use super::{ErrorClass, ExcludeFn, FileWriter, Fs, FsError, Listing, Meta, WalkResult};
use std::io::Read;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

/// One injected failure.
#[derive(Debug, Clone)]
pub struct FaultRule {
    /// Operation name as used in errors (`create`, `rename`, `delete`, `stat`, `open`, …).
    pub op: &'static str,
    /// Fails only paths containing this string.
    pub path_contains: String,
    pub class: ErrorClass,
    /// How many more times to fail (`u32::MAX` = always).
    pub times: u32,
}

/// See the module docs.
pub struct FaultFs {
    inner: Arc<dyn Fs>,
    rules: Arc<Mutex<Vec<FaultRule>>>,
    /// At most this many bytes per `read()` (0: as the inner reader gives).
    short_reads: Arc<std::sync::atomic::AtomicUsize>,
    /// `set_meta` rounds mtimes to this step in ns (0: kept as given).
    round_ns: AtomicI64,
    /// Remaining mutating calls before the power cut (-1 = no cut, -2 = cut);
    /// may be shared by both sides so one cut stops the whole machine.
    budget: Arc<AtomicI64>,
    /// Power goes off right *after* the last allowed write (reads fail too),
    /// instead of at the next write: cuts between a step's last effect and
    /// its journal commit.
    cut_after_last: Arc<std::sync::atomic::AtomicBool>,
    /// How many calls a rule has failed so far.
    fired: Arc<std::sync::atomic::AtomicU64>,
    /// See [`FaultFs::limit_names`].
    name_limit: NameLimit,
    /// See [`FaultFs::fail_writes_at`].
    write_faults: Arc<Mutex<Vec<WriteFault>>>,
}

/// A write error armed at a byte of the files whose path contains a string.
#[derive(Debug, Clone)]
struct WriteFault {
    path_contains: String,
    at: u64,
    class: ErrorClass,
}

/// The longest path component and whole path (in bytes) a drive takes.
#[derive(Debug)]
struct NameLimit {
    component: std::sync::atomic::AtomicUsize,
    path: std::sync::atomic::AtomicUsize,
}

impl Default for NameLimit {
    fn default() -> Self {
        Self {
            component: usize::MAX.into(),
            path: usize::MAX.into(),
        }
    }
}

impl FaultFs {
    #[must_use]
    pub fn new(inner: Arc<dyn Fs>) -> Self {
        Self::with_budget(inner, Arc::new(AtomicI64::new(-1)))
    }

    /// A wrapper whose power-cut budget is shared with others.
    #[must_use]
    pub fn with_budget(inner: Arc<dyn Fs>, budget: Arc<AtomicI64>) -> Self {
        Self {
            inner,
            rules: Arc::default(),
            short_reads: Arc::default(),
            round_ns: AtomicI64::new(0),
            budget,
            cut_after_last: Arc::default(),
            fired: Arc::default(),
            name_limit: NameLimit::default(),
            write_faults: Arc::default(),
        }
    }

    /// Like [`Self::with_budget`], but the power goes off right after the
    /// last allowed write succeeds: every later call fails, reads included.
    #[must_use]
    pub fn with_cut_after(inner: Arc<dyn Fs>, budget: Arc<AtomicI64>) -> Self {
        let f = Self::with_budget(inner, budget);
        f.cut_after_last.store(true, Ordering::SeqCst);
        f
    }

    /// Adds a failure rule.
    pub fn fail(&self, rule: FaultRule) {
        if let Ok(mut r) = self.rules.lock() {
            r.push(rule);
        }
    }

    /// How many calls the rules have failed so far.
    #[must_use]
    pub fn fired(&self) -> u64 {
        self.fired.load(Ordering::SeqCst)
    }

    /// Makes every `read()` of a reader from `open_read` return at most
    /// `n` bytes (0: no limit).
    pub fn short_reads(&self, n: usize) {
        self.short_reads.store(n, Ordering::SeqCst);
    }

    /// Makes `set_meta` keep mtimes rounded to the nearest `step_ns`.
    pub fn round_times(&self, step_ns: i64) {
        self.round_ns.store(step_ns, Ordering::SeqCst);
    }

    /// Cuts the power after `n` more mutating calls.
    pub fn crash_after(&self, n: i64) {
        self.budget.store(n, Ordering::SeqCst);
    }

    fn check(&self, op: &'static str, path: &str, mutating: bool) -> Result<(), FsError> {
        power_on(&self.budget, op, path, mutating)?;
        match_rule(&self.rules, &self.fired, op, path)?;
        if mutating {
            spend(&self.budget, self.cut_after_last.load(Ordering::SeqCst));
        }
        Ok(())
    }

    /// Makes this a drive that takes path components of at most
    /// `component` bytes and whole paths (relative to the root) of at most
    /// `path` bytes: `create`, `rename` (its new name) and `create_dir_all`
    /// beyond either fail with [`ErrorClass::PathTooLong`], the class of
    /// `ENAMETOOLONG` and `ERROR_FILENAME_EXCED_RANGE`.
    pub fn limit_names(&self, component: usize, path: usize) {
        self.name_limit.component.store(component, Ordering::SeqCst);
        self.name_limit.path.store(path, Ordering::SeqCst);
    }

    fn check_length(&self, op: &'static str, path: &str) -> Result<(), FsError> {
        let component = self.name_limit.component.load(Ordering::SeqCst);
        let whole = self.name_limit.path.load(Ordering::SeqCst);
        if path.len() > whole || path.split('/').any(|c| c.len() > component) {
            return Err(FsError::synthetic(
                op,
                path,
                ErrorClass::PathTooLong,
                "file name too long (injected limit)",
            ));
        }
        Ok(())
    }
}

/// Fails unless the power is on: -2 means off; 0, that the next mutating
/// call cuts it.
fn power_on(
    budget: &AtomicI64,
    op: &'static str,
    path: &str,
    mutating: bool,
) -> Result<(), FsError> {
    let b = budget.load(Ordering::SeqCst);
    if b == -2 || (b == 0 && mutating) {
        budget.store(-2, Ordering::SeqCst);
        return Err(FsError::synthetic(
            op,
            path,
            ErrorClass::Crashed,
            "power cut (injected)",
        ));
    }
    Ok(())
}

/// Counts a mutating call down the budget: positive budgets count down;
/// the call that reaches 0 still succeeds (with `cut_after`, the power
/// goes right after it).
fn spend(budget: &AtomicI64, cut_after: bool) {
    let _ = budget.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |b| match b {
        1 if cut_after => Some(-2),
        b if b > 0 => Some(b - 1),
        _ => None,
    });
}

impl Fs for FaultFs {
    fn root_display(&self) -> String {
        self.inner.root_display()
    }
    fn stat(&self, path: &str) -> Result<Option<Meta>, FsError> {
        self.check("stat", path, false)?;
        self.inner.stat(path)
    }
    fn walk(
        &self,
        exclude: ExcludeFn<'_>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<WalkResult, FsError> {
        self.check("list", "", false)?;
        let mut w = self.inner.walk(exclude, progress)?;
        // A `list` rule on a folder fails its listing, as on a real disk: the
        // folder is found, nothing below it, and it is reported unreadable.
        let mut unlisted: Vec<String> = Vec::new();
        for (p, m) in w.iter() {
            if m.kind == super::Kind::Dir
                && !unlisted.iter().any(|u| crate::paths::is_within(p, u))
                && self.check("list", p, false).is_err()
            {
                unlisted.push(p.to_owned());
            }
        }
        w.retain(|p, _| {
            !unlisted
                .iter()
                .any(|u| p != u && crate::paths::is_within(p, u))
        });
        w.unreadable.extend(
            unlisted
                .into_iter()
                .map(|u| (u.clone(), format!("list `{u}`: injected fault"))),
        );
        let mut bad: Vec<(String, String)> = Vec::new();
        w.retain(|p, _| {
            let ok = self.check("stat", p, false).is_ok();
            if !ok {
                bad.push((p.to_owned(), "stat: injected fault".to_owned()));
            }
            ok
        });
        w.unreadable.extend(bad);
        Ok(w)
    }
    fn list_dir(&self, path: &str) -> Result<Listing, FsError> {
        self.check("list", path, false)?;
        let mut l = self.inner.list_dir(path)?;
        // A `stat` rule on a child makes it unreadable in the listing, as a
        // failed stat of one entry does on a real disk.
        let (ok, bad): (Vec<_>, Vec<_>) =
            std::mem::take(&mut l.entries)
                .into_iter()
                .partition(|(n, _)| {
                    self.check("stat", &crate::paths::join(path, n), false)
                        .is_ok()
                });
        l.entries = ok;
        l.unreadable.extend(
            bad.into_iter()
                .map(|(n, _)| (n, "stat: injected fault".to_owned())),
        );
        Ok(l)
    }
    fn file_id(&self, path: &str) -> Option<super::FileId> {
        self.check("stat", path, false).ok()?;
        self.inner.file_id(path)
    }
    fn open_read(&self, path: &str) -> Result<Box<dyn Read + Send>, FsError> {
        self.check("open", path, false)?;
        Ok(Box::new(FaultRead {
            inner: self.inner.open_read(path)?,
            path: path.to_owned(),
            rules: Arc::clone(&self.rules),
            fired: Arc::clone(&self.fired),
            short: self.short_reads.load(Ordering::SeqCst),
        }))
    }
    fn create(&self, path: &str) -> Result<Box<dyn FileWriter>, FsError> {
        self.check_length("create", path)?;
        self.check("create", path, true)?;
        Ok(self.faulty_writer(self.inner.create(path)?, path, 0))
    }
    fn set_meta(&self, path: &str, mtime: i64, props: u32) -> Result<(), FsError> {
        self.check("set properties", path, true)?;
        let step = self.round_ns.load(Ordering::SeqCst);
        let mtime = if step > 1 {
            (mtime + step / 2).div_euclid(step) * step
        } else {
            mtime
        };
        self.inner.set_meta(path, mtime, props)
    }
    fn rename(&self, from: &str, to: &str) -> Result<(), FsError> {
        self.check_length("rename", to)?;
        self.check("rename", &format!("{from} → {to}"), true)?;
        self.inner.rename(from, to)
    }
    fn syncs_in_batches(&self) -> bool {
        self.inner.syncs_in_batches()
    }
    /// One mutating `flush` call for the batch (a power cut or a rule on
    /// the first file's path fails it).
    fn sync_written(&self, files: &[(&str, Option<super::FileId>)]) -> Result<(), FsError> {
        self.check("flush", files.first().map_or("", |f| f.0), true)?;
        self.inner.sync_written(files)
    }
    fn rename_new(&self, from: &str, to: &str) -> Result<bool, FsError> {
        self.check_length("rename", to)?;
        self.check("rename", &format!("{from} → {to}"), true)?;
        self.inner.rename_new(from, to)
    }
    fn remove_file(&self, path: &str) -> Result<(), FsError> {
        self.check("delete", path, true)?;
        self.inner.remove_file(path)
    }
    fn create_dir_all(&self, path: &str) -> Result<(), FsError> {
        self.check_length("create folder", path)?;
        self.check("create folder", path, true)?;
        self.inner.create_dir_all(path)
    }
    fn remove_dir(&self, path: &str) -> Result<(), FsError> {
        self.check("remove folder", path, true)?;
        self.inner.remove_dir(path)
    }
    fn free_space(&self) -> Option<u64> {
        self.check("free space", "", false).ok()?;
        self.inner.free_space()
    }

    fn sync_dir(&self, path: &str) -> Result<(), FsError> {
        self.check("sync folder", path, false)?;
        self.inner.sync_dir(path)
    }

    fn open_read_at(&self, path: &str, offset: u64) -> Result<Box<dyn Read + Send>, FsError> {
        self.check("open", path, false)?;
        Ok(Box::new(FaultRead {
            inner: self.inner.open_read_at(path, offset)?,
            path: path.to_owned(),
            rules: Arc::clone(&self.rules),
            fired: Arc::clone(&self.fired),
            short: self.short_reads.load(Ordering::SeqCst),
        }))
    }
    fn open_write_at(&self, path: &str, offset: u64) -> Result<Box<dyn FileWriter>, FsError> {
        self.check("reopen", path, true)?;
        Ok(self.faulty_writer(self.inner.open_write_at(path, offset)?, path, offset))
    }
}

impl FaultFs {
    /// The first writer of a file whose path contains `path_contains` that
    /// reaches byte `at` writes up to it and then fails with `class`, once.
    pub fn fail_writes_at(&self, path_contains: &str, at: u64, class: ErrorClass) {
        if let Ok(mut w) = self.write_faults.lock() {
            w.push(WriteFault {
                path_contains: path_contains.to_owned(),
                at,
                class,
            });
        }
    }

    fn faulty_writer(
        &self,
        inner: Box<dyn FileWriter>,
        path: &str,
        at: u64,
    ) -> Box<dyn FileWriter> {
        Box::new(FaultWrite {
            inner,
            path: path.to_owned(),
            at,
            budget: Arc::clone(&self.budget),
            cut_after: self.cut_after_last.load(Ordering::SeqCst),
            rules: Arc::clone(&self.rules),
            fired: Arc::clone(&self.fired),
            write_faults: Arc::clone(&self.write_faults),
            fs: Arc::clone(&self.inner),
            round_ns: self.round_ns.load(Ordering::SeqCst),
        })
    }
}

/// An `io::Error` that carries `e`, so that its class survives the trip
/// through `Write` (see [`super::FsError::io`]).
fn into_io(e: FsError) -> std::io::Error {
    std::io::Error::new(e.source.kind(), e)
}

/// A writer from [`FaultFs::create`] or [`Fs::open_write_at`]: its writes
/// fail once the power is off or at an armed byte; its `sync` is a
/// mutating call (a `flush` rule fails it).
struct FaultWrite {
    inner: Box<dyn FileWriter>,
    path: String,
    /// The position in the file.
    at: u64,
    budget: Arc<AtomicI64>,
    cut_after: bool,
    rules: Arc<Mutex<Vec<FaultRule>>>,
    fired: Arc<std::sync::atomic::AtomicU64>,
    write_faults: Arc<Mutex<Vec<WriteFault>>>,
    /// The wrapped file system, to set times by path where the inner
    /// writer cannot set them on the handle.
    fs: Arc<dyn Fs>,
    /// See [`FaultFs::round_times`].
    round_ns: i64,
}

impl std::io::Write for FaultWrite {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        power_on(&self.budget, "write", &self.path, false).map_err(into_io)?;
        let mut len = buf.len();
        if let Ok(mut faults) = self.write_faults.lock()
            && let Some(i) = faults
                .iter()
                .position(|f| self.path.contains(&f.path_contains) && f.at < self.at + len as u64)
        {
            let room = faults[i].at.saturating_sub(self.at);
            if room == 0 {
                let f = faults.remove(i);
                self.fired.fetch_add(1, Ordering::SeqCst);
                let e = FsError::synthetic("write", &self.path, f.class, "injected write fault");
                return Err(into_io(e));
            }
            len = usize::try_from(room).unwrap_or(len).min(len);
        }
        let n = self.inner.write(&buf[..len])?;
        self.at += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl FileWriter for FaultWrite {
    fn finish(self: Box<Self>) -> Result<(), FsError> {
        self.inner.finish()
    }
    fn sync(&mut self) -> Result<(), FsError> {
        power_on(&self.budget, "flush", &self.path, true)?;
        match_rule(&self.rules, &self.fired, "flush", &self.path)?;
        spend(&self.budget, self.cut_after);
        self.inner.sync()
    }

    /// The `set properties` call of a copy: rules, rounding and the power
    /// cut apply to it as to [`Fs::set_meta`].
    fn finish_with(self: Box<Self>, mtime: i64, props: u32) -> Result<super::Written, FsError> {
        self.finish_times(mtime, props, true)
    }

    fn finish_unsynced(self: Box<Self>, mtime: i64, props: u32) -> Result<super::Written, FsError> {
        self.finish_times(mtime, props, false)
    }
}

impl FaultWrite {
    /// `finish_with` or `finish_unsynced` (`synced`), with the faults of
    /// a `set properties` call.
    #[allow(clippy::boxed_local)] // the inner writer's finish takes a box
    fn finish_times(
        self: Box<Self>,
        mtime: i64,
        props: u32,
        synced: bool,
    ) -> Result<super::Written, FsError> {
        let op = "set properties";
        let checked = power_on(&self.budget, op, &self.path, true)
            .and_then(|()| match_rule(&self.rules, &self.fired, op, &self.path));
        if let Err(e) = checked {
            if e.is_fatal() {
                return Err(e);
            }
            self.inner.finish()?;
            return Ok(super::Written {
                times: Some(Err(e)),
                meta: None,
            });
        }
        spend(&self.budget, self.cut_after);
        let step = self.round_ns;
        let mtime = if step > 1 {
            (mtime + step / 2).div_euclid(step) * step
        } else {
            mtime
        };
        let mut w = if synced {
            self.inner.finish_with(mtime, props)?
        } else {
            self.inner.finish_unsynced(mtime, props)?
        };
        if w.times.is_none() {
            // The inner writer cannot: by path, as the caller would.
            w.times = Some(self.fs.set_meta(&self.path, mtime, props));
        }
        Ok(w)
    }
}

/// Fails a call of `op` on `path` when a rule says so (counting it).
fn match_rule(
    rules: &Mutex<Vec<FaultRule>>,
    fired: &std::sync::atomic::AtomicU64,
    op: &'static str,
    path: &str,
) -> Result<(), FsError> {
    if let Ok(mut rules) = rules.lock() {
        for r in rules.iter_mut() {
            if r.times > 0 && r.op == op && path.contains(&r.path_contains) {
                if r.times != u32::MAX {
                    r.times -= 1;
                }
                fired.fetch_add(1, Ordering::SeqCst);
                return Err(FsError::synthetic(op, path, r.class, "injected fault"));
            }
        }
    }
    Ok(())
}

/// A reader from [`FaultFs::open_read`]: `read` rules and short reads.
/// (A power cut is seen by the writes, as before: a read error would be
/// an ordinary failure, not the end of the machine.)
struct FaultRead {
    inner: Box<dyn Read + Send>,
    path: String,
    rules: Arc<Mutex<Vec<FaultRule>>>,
    fired: Arc<std::sync::atomic::AtomicU64>,
    short: usize,
}

impl Read for FaultRead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match_rule(&self.rules, &self.fired, "read", &self.path).map_err(|e| e.source)?;
        let n = if self.short > 0 {
            buf.len().min(self.short)
        } else {
            buf.len()
        };
        self.inner.read(&mut buf[..n])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::mem::MemFs;

    #[test]
    fn rules_and_power_cut() {
        let m = MemFs::new("t", false, 1);
        let f = FaultFs::new(Arc::new(m.clone()));
        f.fail(FaultRule {
            op: "delete",
            path_contains: "locked".into(),
            class: ErrorClass::Locked,
            times: 1,
        });
        m.put("locked.xlsx", b"x");
        let e = f.remove_file("locked.xlsx").unwrap_err();
        assert_eq!(e.class, ErrorClass::Locked);
        f.remove_file("locked.xlsx").unwrap();
        f.crash_after(1);
        f.create_dir_all("a").unwrap();
        assert_eq!(
            f.create_dir_all("b").unwrap_err().class,
            ErrorClass::Crashed
        );
        assert!(m.stat("b").unwrap().is_none());
    }

    #[test]
    fn a_name_limit_refuses_long_components_and_paths_like_a_drive() {
        let m = MemFs::new("t", false, 1);
        let f = FaultFs::new(Arc::new(m.clone()));
        f.limit_names(8, 16);
        f.create_dir_all("12345678/abc").unwrap();
        let e = f.create_dir_all("123456789").unwrap_err();
        assert_eq!(e.class, ErrorClass::PathTooLong);
        f.write_all("12345678/abc/def", b"x").unwrap();
        let e = f.write_all("12345678/abc/defg", b"x").unwrap_err();
        assert_eq!(e.class, ErrorClass::PathTooLong);
        assert!(m.stat("12345678/abc/defg").unwrap().is_none());
        let e = f
            .rename("12345678/abc/def", "12345678/abc/d.txt")
            .unwrap_err();
        assert_eq!(e.class, ErrorClass::PathTooLong);
        f.rename("12345678/abc/def", "12345678/d.txt").unwrap();
        assert_eq!(m.get("12345678/d.txt").as_deref(), Some(b"x".as_slice()));
    }
}
