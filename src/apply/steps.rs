//! The executors: one function per step kind (copy, delete, rename,
//! set_props, mkdir, rmdir, conflict, record), each re-checking the step's
//! `expect` against the live disk first (SPEC §8) and returning the
//! [`Outcome`] that `run` commits with its state updates.
//!
//! Invariant: every write goes to a temp name and is renamed into place as
//! the step's last act; a replaced version goes to trash before it is
//! overwritten (or is recorded as not kept).

use super::trash::{self, TrashLoc};
use super::event_name;
use crate::config::Config;
use crate::fs::{ErrorClass, Fs, FsError, Kind, Meta};
use crate::log::Logger;
use crate::plan::{
    ConflictStep, CopyStep, DeleteStep, Expect, MkdirStep, MoveStep, Op, OpKind, Plan, RecordStep,
    RenameStep, RmdirStep, SetPropsStep, Step,
};
use crate::roots::Sides;
use crate::state::{ConflictRecord, TrashRecord, Update};
use crate::{Entry, Resolution, Side, paths};
use serde_json::json;
use std::io::{Read, Write};
use std::sync::mpsc;

pub(super) fn entry_of(path: &str, m: &Meta, hash: Option<String>) -> Entry {
    Entry {
        path: path.to_owned(),
        kind: m.kind,
        size: m.size,
        mtime: m.mtime,
        props: m.props,
        offline: m.offline,
        hash,
        id: m.id,
        unchanged: false,
    }
}

/// The metadata of a path just written, as the destination reports it
/// (what the state records: cloud drives round timestamps).
/// Where listings carry no file id (Windows), the id is asked for here, so
/// that what twinsync records can be recognised when it is moved later.
pub(super) fn read_back(fs: &dyn Fs, path: &str) -> Result<Meta, FsError> {
    let mut m = fs.stat(path)?.ok_or_else(|| {
        FsError::synthetic(
            "verify",
            path,
            ErrorClass::NotFound,
            "vanished right after it was written",
        )
    })?;
    if m.id.is_none() {
        m.id = fs.file_id(path);
    }
    Ok(m)
}

/// Does the live metadata match what the plan expected?
pub(super) fn matches(live: Option<&Meta>, exp: &Expect) -> bool {
    match live {
        None => !exp.exists,
        Some(m) => {
            exp.exists
                && exp.kind == Some(m.kind)
                && (m.kind == Kind::Dir || (m.size == exp.size && m.mtime == exp.mtime))
        }
    }
}

/// What a step did, for the [`super::journal::Journal`].
pub(super) enum Outcome {
    Done(Vec<Update>),
    /// Found done on disk: record only.
    Recovered(Vec<Update>),
    Drifted(String),
    /// Failed, but with state to record all the same (a version already in trash).
    Failed(FsError, Vec<Update>),
}

pub(super) struct Executor<'a> {
    pub(super) cfg: &'a Config,
    pub(super) sides: &'a Sides,
    pub(super) plan: &'a Plan,
    pub(super) log: &'a Logger,
    /// A stop request interrupts a long copy (its temp file is discarded,
    /// the step stays unrecorded and is redone after the restart).
    pub(super) stop: Option<&'a std::sync::atomic::AtomicBool>,
    /// See [`super::Options::recover_only`].
    pub(super) recover_only: bool,
    /// What the run learnt about the destination drives' times.
    pub(super) drives: DriveNotes,
    /// Told the bytes a copy writes, as it writes them.
    pub(super) progress: Option<&'a dyn super::Progress>,
}

/// What a run learnt about the drives it wrote to, kept for the state DB
/// at the end of the run ([`super::note_drives`]): a drive that refused to
/// set a copy's times or attributes, and one that kept them.
#[derive(Default)]
pub(super) struct DriveNotes {
    /// Per side, the first refusal's error text.
    pub(super) refused: std::sync::Mutex<crate::PerSide<Option<String>>>,
    /// Per side, whether a copy's times were set without complaint.
    pub(super) kept: std::sync::Mutex<crate::PerSide<bool>>,
    /// Per side, whether the state DB already notes such a refusal.
    pub(super) known: crate::PerSide<bool>,
}

/// A failure to set a just-written file's times or attributes that says
/// the drive does not keep them (not a fault of this file): permission
/// denied on a file twinsync itself created a moment ago, or "not supported".
fn refuses_times(e: &FsError) -> bool {
    e.class == ErrorClass::PermissionDenied
        || e.source.kind() == std::io::ErrorKind::Unsupported
        // EOPNOTSUPP / ENOTSUP; ERROR_NOT_SUPPORTED, ERROR_INVALID_FUNCTION
        || matches!(e.source.raw_os_error(), Some(95) if cfg!(unix))
        || matches!(e.source.raw_os_error(), Some(1 | 50) if cfg!(windows))
}

/// The sentence for a source that changed size while it was copied.
pub(super) fn changed_while_copied(
    side: Side,
    path: &str,
    was: u64,
    now: u64,
    min_age_s: u64,
) -> String {
    let how = match now.cmp(&was) {
        std::cmp::Ordering::Greater => format!(
            "grew from {} to {}",
            crate::human_size(was),
            crate::human_size(now)
        ),
        std::cmp::Ordering::Less => format!(
            "shrank from {} to {}",
            crate::human_size(was),
            crate::human_size(now)
        ),
        std::cmp::Ordering::Equal => "changed".to_owned(),
    };
    format!(
        "{side} `{path}` {how} while it was copied; it will be copied again once it has not changed for {min_age_s} s (min_file_age_seconds)"
    )
}

/// Why a step of a plan that is re-planned instead of resumed was not run.
const SUPERSEDED: &str = "not resumed: its plan was superseded, the next plan decides afresh";

/// The intermediate name of a case-only rename step, if `op` is one.
pub(super) fn case_mid(plan: &Plan, op: &Op, src: &str) -> String {
    paths::temp_name(
        paths::parent(src),
        &plan.plan_id,
        op.id,
        paths::TempUse::CaseRename,
    )
}

/// For a case-only rename step: (side, intermediate name, from, to).
pub(super) fn case_only_rename(plan: &Plan, op: &Op) -> Option<(Side, String, String, String)> {
    let Step::Rename(r) = &op.step else {
        return None;
    };
    let (src, dest) = (r.src_path.as_str(), r.dest_path.as_str());
    (src != dest && paths::fold(src) == paths::fold(dest)).then(|| {
        (
            r.side,
            case_mid(plan, op, src),
            src.to_owned(),
            dest.to_owned(),
        )
    })
}

/// The trash record of a version moved to trash now (one shape for deletes,
/// replaced versions and a removed folder's leftovers).
fn trash_record(side: Side, path: &str, trash_path: String, size: u64, rule: String) -> Update {
    Update::Trash(TrashRecord {
        id: 0,
        side,
        original_path: path.to_owned(),
        trash_path,
        size,
        deleted_at: chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        rule,
    })
}

pub(super) fn exp<'o>(op: &'o Op, side: Side, path: &str) -> Option<&'o Expect> {
    op.expect.iter().find(|e| e.side == side && e.path == path)
}

impl Executor<'_> {
    fn fs(&self, s: Side) -> &dyn Fs {
        self.sides.get(s)
    }

    /// The temp file of a copy to `dest` left by an earlier attempt of this
    /// step, if any: the first of [`paths::copy_temps`] that exists (a path
    /// too long for the drive exists nowhere), else the regular one.
    fn find_temp(
        &self,
        dfs: &dyn Fs,
        op: &Op,
        dest: &str,
    ) -> Result<(String, Option<Meta>), FsError> {
        let [regular, short] = paths::copy_temps(dest, &self.plan.plan_id, op.id);
        for t in [&regular, &short] {
            match dfs.stat(t) {
                Ok(Some(m)) => return Ok((t.clone(), Some(m))),
                Ok(None) => {}
                Err(e) if e.class == ErrorClass::PathTooLong => {}
                Err(e) => return Err(e),
            }
        }
        Ok((regular, None))
    }

    /// Notes that `side`'s drive refused a copy's times or attributes.
    fn note_refusal(&self, side: Side, e: &FsError) {
        if let Ok(mut r) = self.drives.refused.lock()
            && r[side].is_none()
        {
            r[side] = Some(e.to_string());
        }
    }

    /// Whether `side`'s drive is known to refuse times (before this run,
    /// or by a copy of this run).
    fn refuses_known(&self, side: Side) -> bool {
        self.drives.known[side] || self.drives.refused.lock().is_ok_and(|r| r[side].is_some())
    }

    /// Notes that `side`'s drive kept a copy's times.
    fn note_times_kept(&self, side: Side) {
        if let Ok(mut k) = self.drives.kept.lock() {
            k[side] = true;
        }
    }

    fn tolerance_ns(&self) -> i64 {
        i64::try_from(self.cfg.raw.mtime_tolerance_ms)
            .unwrap_or(2000)
            .max(2000)
            * 1_000_000
    }

    pub(super) fn step(&self, op: &Op) -> Result<Outcome, FsError> {
        if self.recover_only && !matches!(op.kind(), OpKind::Copy | OpKind::Delete) {
            return Ok(Outcome::Drifted(SUPERSEDED.into()));
        }
        let out = match &op.step {
            Step::Copy(c) => self.copy(op, c),
            Step::Delete(d) => self.delete(op, d),
            Step::Rename(r) => self.rename(op, r),
            Step::Move(m) => self.move_item(op, m),
            Step::SetProps(p) => self.set_props(op, p),
            Step::Mkdir(m) => self.mkdir(op, m),
            Step::Rmdir(r) => self.rmdir(op, r),
            Step::Conflict(c) => Ok(self.conflict(op, c)),
            Step::Record(r) => Ok(Outcome::Done(record_updates(op, r))),
        }?;
        if let Outcome::Done(_) = &out {
            let soft = match &op.step {
                Step::Delete(d) => Some(d.soft),
                _ => None,
            };
            self.log.info(
                event_name(op.kind()),
                json!({"path": op.path, "side": op.side(), "from": op.from(), "rule": op.rule, "result": "ok",
                       "bytes": if op.kind() == OpKind::Copy { Some(op.bytes) } else { None },
                       "kind": op.kind().as_str(), "soft": soft, "dest": op.dest_path()}),
            );
        }
        Ok(out)
    }

    fn copy(&self, op: &Op, c: &CopyStep) -> Result<Outcome, FsError> {
        let (from, to) = (c.from, c.side);
        let (src_path, dest) = (c.src_path.as_str(), c.dest_path.as_str());
        let (sfs, dfs) = (self.fs(from), self.fs(to));
        let (Some(es), Some(ed)) = (exp(op, from, src_path), exp(op, to, dest)) else {
            return Ok(Outcome::Drifted("plan step lacks its expectations".into()));
        };
        let live_src = sfs.stat(src_path)?.map(|mut m| {
            if m.id.is_none() {
                m.id = sfs.file_id(src_path); // recorded with the copy (moves)
            }
            m
        });
        let live_dst = dfs.stat(dest)?;
        let (mut temp, temp_meta) = self.find_temp(dfs, op, dest)?;
        // Interrupted between moving the old version to trash and renaming
        // the finished temp file into place: finish the rename.
        if live_dst.is_none()
            && ed.exists
            && let (Some(t), Some(s)) = (&temp_meta, &live_src)
            && matches(Some(s), es)
            && t.size == es.size
        {
            dfs.rename(&temp, dest)?;
            let hash = crate::fs::hash_file(dfs, dest)?;
            if let Some(d) = dfs.stat(dest)? {
                let mut updates =
                    self.copy_updates(op, from, to, src_path, s, dest, &d, Some(hash));
                // The replaced version went to trash under this step's stamp: record it.
                let loc = TrashLoc::new(dfs, self.cfg.trash(to));
                if let Some(rel) = loc.find(dest, &self.plan_stamp()) {
                    let size = loc.size(&rel).unwrap_or(ed.size);
                    updates.push(self.overwrite_record(op, to, dest, rel, size));
                }
                return Ok(Outcome::Recovered(updates));
            }
        }
        if temp_meta.is_some() {
            dfs.remove_file(&temp)?;
        }
        if !matches(live_dst.as_ref(), ed) {
            // Done before a crash? The destination then holds the source's
            // bytes: same size, close mtime, and (when hashable) same hash.
            if let (Some(d), Some(s)) = (&live_dst, &live_src)
                && matches(Some(s), es)
                && d.kind == Kind::File
                && d.size == es.size
                && (d.mtime - es.mtime).abs() <= self.tolerance_ns()
                && let Some(hash) =
                    self.same_content(sfs, src_path, dfs, dest, d.size, d.offline || s.offline)?
            {
                let _ = dfs.remove_file(&temp);
                let mut updates = self.copy_updates(op, from, to, src_path, s, dest, d, hash);
                // The version it replaced went to trash under this plan's stamp: record it.
                if ed.exists && ed.kind == Some(Kind::File) {
                    let loc = TrashLoc::new(dfs, self.cfg.trash(to));
                    if let Some(rel) = loc.find(dest, &self.plan_stamp()) {
                        let size = loc.size(&rel).unwrap_or(ed.size);
                        updates.push(self.overwrite_record(op, to, dest, rel, size));
                    }
                }
                return Ok(Outcome::Recovered(updates));
            }
            return Ok(Outcome::Drifted(format!(
                "{to} `{dest}` changed since the plan was made"
            )));
        }
        if self.recover_only {
            return Ok(Outcome::Drifted(SUPERSEDED.into()));
        }
        let Some(src_meta) = live_src.filter(|m| matches(Some(m), es)) else {
            return Ok(Outcome::Drifted(format!(
                "{from} `{src_path}` changed since the plan was made"
            )));
        };
        let parent = paths::parent(dest);
        if !parent.is_empty() {
            dfs.create_dir_all(parent)?;
        }
        // A stop request interrupts a large copy (redone after the restart);
        // a small one finishes with its step (SPEC §2).
        let interruptible = c.lane == crate::plan::Lane::Large;
        let mut streamed = self.stream(sfs, src_path, dfs, &temp, interruptible, op.bytes);
        // The drive refused the temp name for its length (its whole-path
        // limit, see `paths`): the short form, no longer than `dest`.
        // Windows reports a path over `MAX_PATH` as "path not found" too;
        // its folder exists (made just above), so that is the same refusal.
        if let Err(e) = &streamed
            && matches!(e.class, ErrorClass::PathTooLong | ErrorClass::NotFound)
            && e.path == temp
        {
            let short = paths::temp_name_near_limit(dest, &self.plan.plan_id, op.id);
            if short != temp {
                temp = short;
                streamed = self.stream(sfs, src_path, dfs, &temp, interruptible, op.bytes);
            }
        }
        let (hash, sent) = match streamed {
            Ok(h) => h,
            Err(e) => {
                let _ = dfs.remove_file(&temp);
                return Err(e);
            }
        };
        let cleanup = |why: String| -> Result<Outcome, FsError> {
            let _ = dfs.remove_file(&temp);
            Ok(Outcome::Drifted(why))
        };
        // The source grew or shrank while it was read (a file still being
        // written, a render in progress): not a failure, a drifted skip
        // (SPEC §8); it is copied once it has stopped changing.
        if sent != src_meta.size {
            let now = sfs.stat(src_path).ok().flatten();
            return cleanup(changed_while_copied(
                from,
                src_path,
                src_meta.size,
                now.map_or(sent, |m| m.size),
                self.cfg.raw.transfer.min_file_age_seconds,
            ));
        }
        if let Err(e) = dfs.set_meta(&temp, src_meta.mtime, src_meta.props) {
            if refuses_times(&e) {
                // A drive that keeps no times (some WebDAV and FUSE cloud
                // mounts): the copy goes on, and what the drive reports is
                // recorded (SPEC §5), so the next plan has nothing to redo.
                self.note_refusal(to, &e);
            } else {
                let _ = dfs.remove_file(&temp);
                return Err(e);
            }
        } else {
            self.note_times_kept(to);
        }
        match dfs.stat(&temp)? {
            Some(t) if t.size == src_meta.size => {}
            other => {
                let _ = dfs.remove_file(&temp);
                let got = other.map_or_else(
                    || "is gone".to_owned(),
                    |m| format!("holds {}", crate::human_size(m.size)),
                );
                return Err(FsError::synthetic(
                    "verify",
                    &temp,
                    ErrorClass::Other,
                    &format!(
                        "the copy {got} after it was written, not the {} sent; nothing was replaced",
                        crate::human_size(src_meta.size)
                    ),
                ));
            }
        }
        // The source must not have changed while we read it.
        if !matches(sfs.stat(src_path)?.as_ref(), es) {
            return cleanup(format!(
                "{from} `{src_path}` changed during the copy; will retry next cycle"
            ));
        }
        // Last re-check of the destination before replacing it.
        if !matches(dfs.stat(dest)?.as_ref(), ed) {
            return cleanup(format!("{to} `{dest}` changed during the copy"));
        }
        // The version being replaced goes to trash (soft-delete policy), so
        // every saved version stays recoverable. A crash right after this
        // move is finished by the recovery branch at the top.
        let mut trashed = None;
        if let Some(old) = live_dst.as_ref().filter(|m| m.kind == Kind::File)
            && self.cfg.raw.soft_delete.enabled
            && old.size <= self.cfg.raw.soft_delete.max_size_bytes
        {
            let loc = TrashLoc::new(dfs, self.cfg.trash(to));
            match loc.put(dest, &self.plan_stamp()) {
                Ok(rel) => trashed = Some((rel, old.size)),
                Err(e) => {
                    let _ = dfs.remove_file(&temp);
                    return Err(e);
                }
            }
        } else if let Some(old) = live_dst.as_ref().filter(|m| m.kind == Kind::File) {
            self.log.warn(
                "copy",
                json!({"path": dest, "side": to, "rule": op.rule, "bytes": old.size, "result": "ok",
                       "note": "the replaced version is not kept (larger than soft_delete.max_size_bytes, or soft delete off)"}),
            );
        }
        if let Err(e) = dfs.rename(&temp, dest) {
            if e.class == ErrorClass::Crashed {
                return Err(e);
            }
            let Some((rel, size)) = trashed else {
                // The old version (if any) was never moved: the path still holds it.
                let _ = dfs.remove_file(&temp);
                return Err(e);
            };
            // The path must never stay empty (SPEC §8): put the replaced
            // version back, or else finish the rename after a short wait.
            let put_back = TrashLoc::new(dfs, self.cfg.trash(to)).take(&rel, dest);
            if put_back.is_ok() {
                let _ = dfs.remove_file(&temp);
                return Err(e);
            }
            for wait_ms in [100, 500, 2000] {
                std::thread::sleep(std::time::Duration::from_millis(wait_ms));
                if dfs.rename(&temp, dest).is_ok() {
                    let back = read_back(dfs, dest)?;
                    let mut updates = self.copy_updates(
                        op,
                        from,
                        to,
                        src_path,
                        &src_meta,
                        dest,
                        &back,
                        Some(hash),
                    );
                    updates.push(self.overwrite_record(op, to, dest, rel, size));
                    return Ok(Outcome::Done(updates));
                }
            }
            // Neither holds yet: the new version stays in its temp file (parked:
            // the next run puts it in place), the old one in trash, recorded.
            let msg = format!(
                "{e}; the previous version could not be put back from trash `{rel}` ({}) either: the new version waits as `{temp}` and is put in place by the next run",
                put_back.err().map(|b| b.to_string()).unwrap_or_default()
            );
            self.log.error(
                "copy",
                json!({"path": dest, "side": to, "result": "failed", "error": msg}),
            );
            return Ok(Outcome::Failed(
                FsError::synthetic("rename", dest, e.class, &msg),
                vec![self.overwrite_record(op, to, dest, rel, size)],
            ));
        }
        let back = read_back(dfs, dest)?;
        let mut updates =
            self.copy_updates(op, from, to, src_path, &src_meta, dest, &back, Some(hash));
        if let Some((rel, size)) = trashed {
            updates.push(self.overwrite_record(op, to, dest, rel, size));
        }
        Ok(Outcome::Done(updates))
    }

    /// `Some(hash)` when two files hold the same bytes (hash `None` when too
    /// big to read, or a cloud placeholder that must never be read just to
    /// hash (SPEC §13), where size and mtime have to do); `None` when they differ.
    #[allow(clippy::option_option)]
    fn same_content(
        &self,
        sfs: &dyn Fs,
        src: &str,
        dfs: &dyn Fs,
        dest: &str,
        size: u64,
        placeholder: bool,
    ) -> Result<Option<Option<String>>, FsError> {
        // Outer None: different bytes; inner None: not compared by hash.
        if size > self.cfg.raw.transfer.hash_max_bytes || placeholder {
            return Ok(Some(None));
        }
        let (a, b) = (
            crate::fs::hash_file(sfs, src)?,
            crate::fs::hash_file(dfs, dest)?,
        );
        Ok((a == b).then_some(Some(a)))
    }

    #[allow(clippy::too_many_arguments, clippy::unused_self)]
    fn copy_updates(
        &self,
        op: &Op,
        from: Side,
        to: Side,
        src_path: &str,
        s: &Meta,
        dest: &str,
        d: &Meta,
        hash: Option<String>,
    ) -> Vec<Update> {
        vec![
            Update::Side {
                key: op.key.clone(),
                side: from,
                entry: Some(entry_of(src_path, s, hash.clone())),
            },
            Update::Side {
                key: op.key.clone(),
                side: to,
                entry: Some(entry_of(dest, d, hash)),
            },
            Update::ClearConflict {
                key: op.key.clone(),
            },
        ]
    }

    /// Streams `src` into `temp`, hashing on the way, throttled if
    /// configured; returns the hash and the number of bytes sent (not the
    /// planned size when the source grew or shrank meanwhile). A file of a few MiB or less is read, hashed and written
    /// in turn with one 256 KiB buffer; a larger one through three
    /// overlapping stages so the disk never waits for the CPU: a reader
    /// thread fills 1 MiB buffers, a hasher thread hashes them, and this
    /// thread writes them (and hands them back to the reader).
    fn stream(
        &self,
        sfs: &dyn Fs,
        src: &str,
        dfs: &dyn Fs,
        temp: &str,
        interruptible: bool,
        size: u64,
    ) -> Result<(String, u64), FsError> {
        const CHUNK: usize = 1024 * 1024;
        const IN_FLIGHT: usize = 4;
        const PIPELINE_FROM: u64 = 4 * CHUNK as u64;
        let mut r = sfs.open_read(src)?;
        let mut w = dfs.create(temp)?;
        let start = std::time::Instant::now();
        if size < PIPELINE_FROM {
            let mut h = blake3::Hasher::new();
            let mut buf = vec![0u8; 256 * 1024];
            let mut sent: u64 = 0;
            loop {
                let n = r.read(&mut buf).map_err(|e| FsError::io("read", src, e))?;
                if n == 0 {
                    break;
                }
                self.check_stop(interruptible, temp)?;
                h.update(&buf[..n]);
                w.write_all(&buf[..n])
                    .map_err(|e| FsError::io("write", temp, e))?;
                sent += n as u64;
                if let Some(p) = self.progress {
                    p.copied(n as u64);
                }
                self.pace(start, sent);
            }
            w.finish()?;
            return Ok((h.finalize().to_hex().to_string(), sent));
        }
        let (to_hash, hash_rx) = mpsc::sync_channel::<Result<Vec<u8>, FsError>>(IN_FLIGHT);
        let (to_write, write_rx) = mpsc::sync_channel::<Result<Vec<u8>, FsError>>(IN_FLIGHT);
        let (recycle, spare) = mpsc::sync_channel::<Vec<u8>>(IN_FLIGHT + 2);
        std::thread::scope(|sc| {
            sc.spawn(move || {
                loop {
                    let mut buf = spare.try_recv().unwrap_or_else(|_| vec![0u8; CHUNK]);
                    buf.resize(CHUNK, 0);
                    // Fill the buffer (a short read is not the end).
                    let mut n = 0;
                    let res = loop {
                        match r.read(&mut buf[n..]) {
                            Ok(0) => break Ok(()),
                            Ok(k) => {
                                n += k;
                                if n == CHUNK {
                                    break Ok(());
                                }
                            }
                            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                            Err(e) => break Err(FsError::io("read", src, e)),
                        }
                    };
                    if let Err(e) = res {
                        let _ = to_hash.send(Err(e));
                        return;
                    }
                    if n == 0 {
                        return; // end of file: dropping the sender says so
                    }
                    buf.truncate(n);
                    let last = n < CHUNK;
                    if to_hash.send(Ok(buf)).is_err() || last {
                        return;
                    }
                }
            });
            let hasher = sc.spawn(move || {
                let mut h = blake3::Hasher::new();
                for item in hash_rx {
                    if let Ok(buf) = &item {
                        h.update(buf);
                    }
                    let failed = item.is_err();
                    if to_write.send(item).is_err() || failed {
                        break;
                    }
                }
                h.finalize().to_hex().to_string()
            });
            let mut sent: u64 = 0;
            for item in write_rx {
                let buf = item?;
                self.check_stop(interruptible, temp)?;
                w.write_all(&buf)
                    .map_err(|e| FsError::io("write", temp, e))?;
                sent += buf.len() as u64;
                if let Some(p) = self.progress {
                    p.copied(buf.len() as u64);
                }
                let _ = recycle.try_send(buf);
                self.pace(start, sent);
            }
            let hash = hasher.join().map_err(|_| {
                FsError::synthetic(
                    "copy",
                    temp,
                    ErrorClass::Crashed,
                    "the hashing thread failed",
                )
            })?;
            w.finish()?;
            Ok((hash, sent))
        })
    }

    /// A stop request ends a copy that may be interrupted (it restarts).
    fn check_stop(&self, interruptible: bool, temp: &str) -> Result<(), FsError> {
        if interruptible
            && self
                .stop
                .is_some_and(|s| s.load(std::sync::atomic::Ordering::SeqCst))
        {
            return Err(FsError::synthetic(
                "copy",
                temp,
                ErrorClass::Crashed,
                "interrupted by a stop request; the copy restarts next time",
            ));
        }
        Ok(())
    }

    /// Sleeps as `max_bytes_per_second` asks after `sent` bytes.
    fn pace(&self, start: std::time::Instant, sent: u64) {
        let rate = self.cfg.raw.transfer.max_bytes_per_second;
        if rate > 0 {
            #[allow(clippy::cast_precision_loss)]
            let due = std::time::Duration::from_secs_f64(sent as f64 / rate as f64);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
        }
    }

    fn trash_stamp() -> String {
        trash::stamp_now()
    }

    /// The ` (deleted …)` stamp of versions a step replaces: the plan's time,
    /// so a step resumed after a crash finds what it moved to trash.
    fn plan_stamp(&self) -> String {
        chrono::DateTime::parse_from_rfc3339(&self.plan.created_at).map_or_else(
            |_| trash::stamp_now(),
            |t| {
                t.with_timezone(&chrono::Local)
                    .format("%Y-%m-%d %H%M%S")
                    .to_string()
            },
        )
    }

    /// The second look before a delete decided by the other side's delete:
    /// that side must still lack the path (a copy that finished after the
    /// scan, or a user who put it back, cancels the delete).
    fn reappeared(&self, op: &Op, side: Side) -> Option<String> {
        let other = side.other();
        let gone = op.expect.iter().find(|e| e.side == other && !e.exists)?;
        match self.fs(other).stat(&gone.path) {
            Ok(None) => None,
            Ok(Some(_)) => Some(format!(
                "{other} `{}` is there again; not deleted on {side}",
                gone.path
            )),
            Err(e) => Some(format!(
                "cannot confirm that {other} `{}` is gone ({e}); not deleted on {side}",
                gone.path
            )),
        }
    }

    #[allow(clippy::unused_self)]
    fn overwrite_record(
        &self,
        op: &Op,
        side: Side,
        path: &str,
        trash_path: String,
        size: u64,
    ) -> Update {
        trash_record(
            side,
            path,
            trash_path,
            size,
            format!("{} (overwritten)", op.rule),
        )
    }

    fn delete(&self, op: &Op, d: &DeleteStep) -> Result<Outcome, FsError> {
        let (side, path) = (d.side, d.dest_path.as_str());
        let fs = self.fs(side);
        let forget = op.rule.follows_a_delete();
        let updates = || {
            if forget {
                vec![
                    Update::Forget {
                        key: op.key.clone(),
                    },
                    Update::ClearConflict {
                        key: op.key.clone(),
                    },
                ]
            } else {
                vec![Update::Side {
                    key: op.key.clone(),
                    side,
                    entry: None,
                }]
            }
        };
        let live = fs.stat(path)?;
        let Some(e) = exp(op, side, path) else {
            return Ok(Outcome::Drifted("plan step lacks its expectations".into()));
        };
        if live.is_none() {
            // Done before a crash: the version it moved to trash gets its record.
            let mut u = updates();
            if d.soft {
                let loc = TrashLoc::new(fs, self.cfg.trash(side));
                if let Some(rel) = loc.find(path, &self.plan_stamp()) {
                    let size = loc.size(&rel).unwrap_or(e.size);
                    u.push(trash_record(side, path, rel, size, op.rule.to_string()));
                }
            }
            return Ok(Outcome::Recovered(u));
        }
        if self.recover_only {
            return Ok(Outcome::Drifted(SUPERSEDED.into()));
        }
        if !matches(live.as_ref(), e) {
            return Ok(Outcome::Drifted(format!(
                "{side} `{path}` changed since the plan was made; not deleted"
            )));
        }
        if let Some(why) = self.reappeared(op, side) {
            return Ok(Outcome::Drifted(why));
        }
        let mut u = updates();
        if d.soft {
            let loc = TrashLoc::new(fs, self.cfg.trash(side));
            let rel = loc.put(path, &self.plan_stamp())?;
            u.push(trash_record(side, path, rel, e.size, op.rule.to_string()));
        } else {
            fs.remove_file(path)?;
            self.log.warn(
                "delete",
                json!({"path": path, "side": side, "rule": op.rule, "bytes": e.size, "result": "ok",
                       "note": if self.cfg.raw.soft_delete.enabled { "deleted for good: larger than soft_delete.max_size_bytes" } else { "deleted for good: soft delete disabled" }}),
            );
        }
        Ok(Outcome::Done(u))
    }

    fn exact_name_in_dir(fs: &dyn Fs, path: &str) -> Result<Option<String>, FsError> {
        let want = paths::fold(paths::file_name(path));
        Ok(fs
            .list_dir(paths::parent(path))?
            .names()
            .find(|n| paths::fold(n) == want)
            .map(str::to_owned))
    }

    fn rename(&self, op: &Op, r: &RenameStep) -> Result<Outcome, FsError> {
        let side = r.side;
        let fs = self.fs(side);
        let (src, dest) = (r.src_path.as_str(), r.dest_path.as_str());
        let case_only = src != dest && paths::fold(src) == paths::fold(dest);
        let Some(es) = exp(op, side, src) else {
            return Ok(Outcome::Drifted("plan step lacks its expectations".into()));
        };
        let updates = |m: &Meta| {
            let mut u = Vec::new();
            if let Some(sk) = &r.src_key {
                u.push(Update::Side {
                    key: sk.clone(),
                    side,
                    entry: None,
                });
            }
            u.push(Update::Side {
                key: op.key.clone(),
                side,
                entry: Some(entry_of(dest, m, es.hash.clone())),
            });
            u
        };
        if case_only {
            let mid = case_mid(self.plan, op, src);
            if fs.stat(&mid)?.is_some() {
                // Interrupted between the two hops of an intermediate rename: finish it.
                fs.rename(&mid, dest)?;
                let back = read_back(fs, dest)?;
                return Ok(Outcome::Recovered(updates(&back)));
            }
            let live = fs.stat(src)?;
            let exact = Self::exact_name_in_dir(fs, src)?;
            let name_now = exact.as_deref().unwrap_or("");
            // Renamed before a crash, and untouched since: record it.
            // (Edited since? Then it is drift, for the next plan to see.)
            if name_now == paths::file_name(dest)
                && let Some(m) = live.as_ref().filter(|m| matches(Some(m), es))
            {
                return Ok(Outcome::Recovered(updates(m)));
            }
            if !matches(live.as_ref(), es) || name_now != paths::file_name(src) {
                return Ok(Outcome::Drifted(format!(
                    "{side} `{src}` changed since the plan was made"
                )));
            }
            Self::case_rename(fs, src, dest, &mid)?;
        } else {
            let live_src = fs.stat(src)?;
            let live_dst = fs.stat(dest)?;
            if live_src.is_none()
                && let Some(d) = &live_dst
                && matches(
                    Some(d),
                    &Expect {
                        path: dest.to_owned(),
                        ..es.clone()
                    },
                )
            {
                return Ok(Outcome::Recovered(updates(d)));
            }
            if !matches(live_src.as_ref(), es) {
                return Ok(Outcome::Drifted(format!(
                    "{side} `{src}` changed since the plan was made"
                )));
            }
            if live_dst.is_some() {
                return Ok(Outcome::Drifted(format!(
                    "{side} `{dest}` appeared since the plan was made"
                )));
            }
            fs.rename(src, dest)?;
        }
        let back = read_back(fs, dest)?;
        Ok(Outcome::Done(updates(&back)))
    }

    /// A case-only rename (`Proj` → `PROJ`). Tried directly first: NTFS and
    /// most case-insensitive file systems rename in place. Only where that
    /// is refused, or accepted without changing the name, it goes through
    /// the intermediate name `mid` (parked in the state DB by the run loop
    /// beforehand); a failed second hop is rolled back at once, so the item
    /// is never left under a temp name that scans do not see.
    fn case_rename(fs: &dyn Fs, src: &str, dest: &str, mid: &str) -> Result<(), FsError> {
        match fs.rename(src, dest) {
            Ok(()) => {
                if Self::exact_name_in_dir(fs, dest)?.as_deref() == Some(paths::file_name(dest)) {
                    return Ok(());
                }
            }
            Err(e) if e.class == ErrorClass::Crashed || e.is_not_found() => return Err(e),
            Err(_) => {}
        }
        fs.rename(src, mid)?;
        if let Err(e) = fs.rename(mid, dest) {
            if e.class == ErrorClass::Crashed {
                return Err(e);
            }
            return match fs.rename(mid, src) {
                Ok(()) => Err(e),
                Err(back) => Err(FsError::synthetic(
                    "rename",
                    format!("{src} → {dest}"),
                    back.class,
                    &format!(
                        "{e}; putting it back failed too ({back}): it is parked as `{mid}` and put back by the next run"
                    ),
                )),
            };
        }
        Ok(())
    }

    /// A file or folder moved on the other side (6.2.14/6.2.15): one atomic
    /// rename here, parents created, never over anything at the target.
    /// Resumable: the source gone and the target there as expected means
    /// done (recorded, never done twice).
    fn move_item(&self, op: &Op, m: &MoveStep) -> Result<Outcome, FsError> {
        let side = m.side;
        let fs = self.fs(side);
        let (src, dest) = (m.src_path.as_str(), m.dest_path.as_str());
        let moved = &m.moved;
        let Some(es) = exp(op, side, src) else {
            return Ok(Outcome::Drifted("plan step lacks its expectations".into()));
        };
        let updates = || -> Vec<Update> {
            let mut u = Vec::with_capacity(moved.len() * 4);
            for m in moved {
                u.push(Update::Forget {
                    key: m.from_key.clone(),
                });
                u.push(Update::ClearConflict {
                    key: m.from_key.clone(),
                });
                u.push(Update::Side {
                    key: m.to_key.clone(),
                    side: Side::Left,
                    entry: Some(m.left.clone()),
                });
                u.push(Update::Side {
                    key: m.to_key.clone(),
                    side: Side::Right,
                    entry: Some(m.right.clone()),
                });
            }
            u
        };
        let same_item = |m: &Meta| {
            Some(m.kind) == es.kind
                && (m.kind == Kind::Dir || (m.size == es.size && m.mtime == es.mtime))
        };
        let live_src = fs.stat(src)?;
        let live_dst = fs.stat(dest)?;
        if live_src.is_none()
            && let Some(d) = &live_dst
            && same_item(d)
        {
            return Ok(Outcome::Recovered(updates()));
        }
        if !matches(live_src.as_ref(), es) {
            return Ok(Outcome::Drifted(format!(
                "{side} `{src}` changed since the plan was made; not moved"
            )));
        }
        if live_dst.is_some() {
            return Ok(Outcome::Drifted(format!(
                "{side} `{dest}` exists; nothing is moved over it"
            )));
        }
        let parent = paths::parent(dest);
        if !parent.is_empty() {
            fs.create_dir_all(parent)?;
        }
        // Last look right before the rename: never replace what appeared at the target.
        if fs.stat(dest)?.is_some() {
            return Ok(Outcome::Drifted(format!(
                "{side} `{dest}` appeared; nothing is moved over it"
            )));
        }
        fs.rename(src, dest)?;
        read_back(fs, dest)?;
        Ok(Outcome::Done(updates()))
    }

    fn set_props(&self, op: &Op, p: &SetPropsStep) -> Result<Outcome, FsError> {
        let (from, to) = (p.from, p.side);
        let (src, dest) = (p.src_path.as_str(), p.dest_path.as_str());
        let (sfs, dfs) = (self.fs(from), self.fs(to));
        let (Some(es), Some(ed)) = (exp(op, from, src), exp(op, to, dest)) else {
            return Ok(Outcome::Drifted("plan step lacks its expectations".into()));
        };
        let props = p.props;
        let live_s = sfs.stat(src)?;
        let live_d = dfs.stat(dest)?;
        let Some(s) = live_s.filter(|m| matches(Some(m), es)) else {
            return Ok(Outcome::Drifted(format!(
                "{from} `{src}` changed since the plan was made"
            )));
        };
        let Some(d) = live_d else {
            return Ok(Outcome::Drifted(format!("{to} `{dest}` is gone")));
        };
        let is_file = d.kind == Kind::File;
        let already = d.props == props
            && (!is_file || (d.mtime - op.mtime).abs() <= self.tolerance_ns())
            && d.size == ed.size;
        let hash = es.hash.clone().or_else(|| ed.hash.clone());
        let mk = |d: &Meta| {
            vec![
                Update::Side {
                    key: op.key.clone(),
                    side: from,
                    entry: Some(entry_of(src, &s, hash.clone())),
                },
                Update::Side {
                    key: op.key.clone(),
                    side: to,
                    entry: Some(entry_of(dest, d, hash.clone())),
                },
                Update::ClearConflict {
                    key: op.key.clone(),
                },
            ]
        };
        if !matches(Some(&d), ed) {
            if already {
                return Ok(Outcome::Recovered(mk(&d)));
            }
            return Ok(Outcome::Drifted(format!(
                "{to} `{dest}` changed since the plan was made"
            )));
        }
        if let Err(e) = dfs.set_meta(dest, if is_file { op.mtime } else { d.mtime }, props) {
            // On a drive known to keep no times or attributes, what it
            // reports is recorded (SPEC §5): retrying could never succeed.
            if !(refuses_times(&e) && self.refuses_known(to)) {
                return Err(e);
            }
        }
        let back = read_back(dfs, dest)?;
        Ok(Outcome::Done(mk(&back)))
    }

    fn mkdir(&self, op: &Op, m: &MkdirStep) -> Result<Outcome, FsError> {
        let (from, to) = (m.from, m.side);
        let (src, dest) = (m.src_path.as_str(), m.dest_path.as_str());
        let dfs = self.fs(to);
        let src_entry = exp(op, from, src).and_then(Expect::entry);
        let mk = |d: &Meta| {
            let mut u = vec![Update::Side {
                key: op.key.clone(),
                side: to,
                entry: Some(entry_of(dest, d, None)),
            }];
            if let Some(s) = &src_entry {
                u.push(Update::Side {
                    key: op.key.clone(),
                    side: from,
                    entry: Some(s.clone()),
                });
            }
            u
        };
        match dfs.stat(dest)? {
            Some(d) if d.kind == Kind::Dir => return Ok(Outcome::Recovered(mk(&d))),
            Some(_) => return Ok(Outcome::Drifted(format!("{to} `{dest}` is a file now"))),
            None => {}
        }
        dfs.create_dir_all(dest)?;
        // Permission bits / attributes of the source folder; best effort.
        let _ = dfs.set_meta(dest, 0, m.props);
        let back = read_back(dfs, dest)?;
        Ok(Outcome::Done(mk(&back)))
    }

    fn rmdir(&self, op: &Op, r: &RmdirStep) -> Result<Outcome, FsError> {
        let (side, dest) = (r.side, r.dest_path.as_str());
        let fs = self.fs(side);
        let mut forget = vec![Update::Forget {
            key: op.key.clone(),
        }];
        match fs.stat(dest)? {
            None => return Ok(Outcome::Recovered(forget)),
            Some(m) if m.kind != Kind::Dir => {
                return Ok(Outcome::Drifted(format!("{side} `{dest}` is a file now")));
            }
            Some(_) => {}
        }
        if let Some(why) = self.reappeared(op, side) {
            return Ok(Outcome::Drifted(why));
        }
        let listing = fs.list_dir(dest)?;
        if let Some(n) = listing
            .unreadable
            .iter()
            .map(|(n, _)| n)
            .chain(&listing.skipped)
            .next()
        {
            // What cannot be looked at is never removed with its folder.
            return Ok(Outcome::Drifted(format!(
                "{side} `{dest}` holds `{n}`, which cannot be read or is a link; not removed"
            )));
        }
        let left_over = listing.entries;
        if !left_over.is_empty() {
            // Only files never synced (excluded, temp) may be in the way: they go to trash.
            let ex = self.cfg.excluder(side).unwrap_or_else(|_| {
                crate::exclude::Excluder::new(&[], self.cfg.case_sensitive, None, None)
                    .unwrap_or_else(|_| unreachable!())
            });
            let blocking: Vec<&String> = left_over
                .iter()
                .filter(|(n, m)| !ex.is_excluded(&paths::join(dest, n), m.kind == Kind::Dir))
                .map(|(n, _)| n)
                .collect();
            if let Some(n) = blocking.first() {
                return Ok(Outcome::Drifted(format!(
                    "{side} `{dest}` is not empty (`{n}` appeared); not removed"
                )));
            }
            let loc = TrashLoc::new(fs, self.cfg.trash(side));
            for (n, m) in &left_over {
                let p = paths::join(dest, n);
                if paths::is_internal_name(n) && m.kind == Kind::File {
                    fs.remove_file(&p)?;
                } else if m.kind == Kind::File {
                    let rel = loc.put(&p, &Self::trash_stamp())?;
                    forget.push(trash_record(
                        side,
                        &p,
                        rel,
                        m.size,
                        format!("{} (left in a removed folder)", op.rule),
                    ));
                } else {
                    return Ok(Outcome::Drifted(format!(
                        "{side} `{dest}` holds the excluded folder `{n}`; not removed"
                    )));
                }
            }
        }
        fs.remove_dir(dest)?;
        Ok(Outcome::Done(forget))
    }

    fn conflict(&self, op: &Op, c: &ConflictStep) -> Outcome {
        let c = &c.conflict;
        let entry = |s: Side| {
            op.expect
                .iter()
                .find(|e| e.side == s)
                .and_then(Expect::entry)
        };
        self.log.warn(
            "conflict",
            json!({"path": op.path, "rule": op.rule, "result": "ok", "resolution": c.resolution, "option": c.option,
                   "newer": c.newer, "clash_path": c.clash_path,
                   "left_size": c.left.as_ref().map(|i| i.size), "left_mtime": c.left.as_ref().map(|i| &i.mtime_text),
                   "right_size": c.right.as_ref().map(|i| i.size), "right_mtime": c.right.as_ref().map(|i| &i.mtime_text)}),
        );
        if c.resolution == Resolution::LeftAlone {
            Outcome::Done(vec![Update::Conflict(ConflictRecord {
                key: op.key.clone(),
                path: op.path.clone(),
                rule: op.rule,
                left: entry(Side::Left),
                right: entry(Side::Right),
                keep: None,
                created_at: chrono::Utc::now().to_rfc3339(),
            })])
        } else {
            Outcome::Done(vec![Update::ClearConflict {
                key: op.key.clone(),
            }])
        }
    }

}

/// What a record step writes to the state.
pub(super) fn record_updates(op: &Op, r: &RecordStep) -> Vec<Update> {
    let r = &r.record;
    {
        if r.left.is_none() && r.right.is_none() {
            return vec![
                Update::Forget {
                    key: op.key.clone(),
                },
                Update::ClearConflict {
                    key: op.key.clone(),
                },
            ];
        }
        vec![
            Update::Side {
                key: op.key.clone(),
                side: Side::Left,
                entry: r.left.clone(),
            },
            Update::Side {
                key: op.key.clone(),
                side: Side::Right,
                entry: r.right.clone(),
            },
            Update::ClearConflict {
                key: op.key.clone(),
            },
        ]
    }
}
