//! The copy step: the source streamed to a temp name beside the
//! destination, checked, and renamed into place as its last act; the
//! version it replaces goes to trash first (or is recorded as not kept).
//! A copy interrupted by a crash is recognised on the next run: the rename
//! finished, or the destination found holding the source's bytes (SPEC §8).

use super::steps::{
    Executor, Outcome, SUPERSEDED, entry_of, exp, matches, read_back, refuses_times, trash_record,
};
use super::trash::TrashLoc;
use crate::fs::{ErrorClass, Fs, FsError, Kind, Meta, Written};

/// What [`Executor::copy_stage`] ends with.
pub(super) enum Staged {
    /// The step is over (drifted, recovered, done before a crash).
    Over(Outcome),
    /// The temp is written and checked; [`Executor::land`] finishes.
    Ready(Box<Landing>),
}

/// A staged copy's state between [`Executor::copy_stage`] and
/// [`Executor::land`].
pub(super) struct Landing {
    temp: String,
    hash: String,
    src_meta: Meta,
    live_dst: Option<Meta>,
    written: Meta,
}

impl Landing {
    /// The temp file to make durable, and its id as its writer read it
    /// back (whose device tells the file system).
    pub(super) fn durable_as(&self) -> (String, Option<crate::fs::FileId>) {
        (self.temp.clone(), self.written.id)
    }
}
use crate::plan::{CopyStep, Op};
use crate::state::Update;
use crate::{Side, paths};
use serde_json::json;
use std::io::{Read, Write};

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

impl Executor<'_> {
    /// The temp file of a copy to `dest` left by an earlier attempt of this
    /// step, if any: the first of [`paths::copy_temps`] that exists (a path
    /// too long for the drive exists nowhere), else the regular one.
    pub(super) fn find_temp(
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
    pub(super) fn note_refusal(&self, side: Side, e: &FsError) {
        if let Ok(mut r) = self.drives.refused.lock()
            && r[side].is_none()
        {
            r[side] = Some(e.to_string());
        }
    }

    /// Notes that `side`'s drive kept a copy's times.
    pub(super) fn note_times_kept(&self, side: Side) {
        if let Ok(mut k) = self.drives.kept.lock() {
            k[side] = true;
        }
    }

    /// One attempt at a copy step (see [`Self::copy`], which tidies the
    /// large lane's transfer rows after it): [`Self::copy_stage`], then
    /// [`Self::land`].
    pub(super) fn copy_once(&self, op: &Op, c: &CopyStep) -> Result<Outcome, FsError> {
        match self.copy_stage(op, c, true)? {
            Staged::Over(out) => Ok(out),
            Staged::Ready(l) => self.land(op, c, *l),
        }
    }

    /// A copy up to its temp file, written whole and checked (its times
    /// and properties set, its size read back), not yet in place; or the
    /// step's outcome when it ends before (drifted, recovered, done before
    /// a crash). `synced`: the temp is made durable here (`fsync`); else
    /// (a small copy of a batch, see `parallel`) the caller makes the
    /// batch's temps durable together before any of them is landed.
    pub(super) fn copy_stage(
        &self,
        op: &Op,
        c: &CopyStep,
        synced: bool,
    ) -> Result<Staged, FsError> {
        let (from, to) = (c.from, c.side);
        let (src_path, dest) = (c.src_path.as_str(), c.dest_path.as_str());
        let (sfs, dfs) = (self.fs(from), self.fs(to));
        let (Some(es), Some(ed)) = (exp(op, from, src_path), exp(op, to, dest)) else {
            return Ok(Staged::Over(Outcome::Drifted(
                "plan step lacks its expectations".into(),
            )));
        };
        let live_src = sfs.stat(src_path)?.map(|mut m| {
            if m.id.is_none() {
                m.id = sfs.file_id(src_path); // recorded with the copy (moves)
            }
            m
        });
        let live_dst = dfs.stat(dest)?;
        // A small copy whose destination is as planned (the usual case)
        // looks for no earlier temp: `create` truncates the one an earlier
        // attempt of this step may have left, and the recovery branches
        // below are only for a destination that differs from the plan.
        let small_as_planned = c.lane == crate::plan::Lane::Small && matches(live_dst.as_ref(), ed);
        let (mut temp, mut temp_meta) = if small_as_planned {
            (
                paths::copy_temps(dest, &self.plan.plan_id, op.id)[0].clone(),
                None,
            )
        } else {
            self.find_temp(dfs, op, dest)?
        };
        // A large copy's earlier attempt, this plan's or another's, may
        // have left a temp to resume (`resume` has the rules on temps).
        let resume = self.resumable(c, live_src.as_ref())?;
        if let Some(t) = resume.as_ref().filter(|t| t.temp_path != temp) {
            if temp_meta.is_some() {
                super::recover::remove_temp(dfs, &temp)?;
            }
            temp.clone_from(&t.temp_path);
            temp_meta = dfs.stat(&temp)?;
        }
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
                return Ok(Staged::Over(Outcome::Recovered(updates)));
            }
        }
        if temp_meta.is_some() && resume.is_none() {
            // (`resumable` may have removed it already: a dead transfer's temp.)
            super::recover::remove_temp(dfs, &temp)?;
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
                return Ok(Staged::Over(Outcome::Recovered(updates)));
            }
            return Ok(Staged::Over(Outcome::Drifted(format!(
                "{to} `{dest}` changed since the plan was made"
            ))));
        }
        if self.recover_only {
            return Ok(Staged::Over(Outcome::Drifted(SUPERSEDED.into())));
        }
        let Some(src_meta) = live_src.filter(|m| matches(Some(m), es)) else {
            return Ok(Staged::Over(Outcome::Drifted(format!(
                "{from} `{src_path}` changed since the plan was made"
            ))));
        };
        // A stop request interrupts a large copy (resumed after the restart
        // from its last recorded chunk); a small one finishes with its step
        // (SPEC §2).
        let interruptible = c.lane == crate::plan::Lane::Large;
        // A large copy resumes from its last checked chunk, or starts over
        // under this step's name.
        let start = match &resume {
            Some(t) => self.resume_from(sfs, t)?,
            None => None,
        };
        if resume.is_some() && start.is_none() {
            temp = self.own_temp(op, dest);
        }
        let times = (src_meta.mtime, src_meta.props);
        let go = |temp: &str, start: u64| {
            if interruptible {
                self.stream_chunked(sfs, c, &src_meta, temp, start)
            } else {
                self.stream(sfs, src_path, to, temp, op.bytes, times, synced)
            }
        };
        let mut streamed = go(&temp, start.unwrap_or(0));
        // The parent folder is made only when the temp cannot be created
        // without it (once per folder and run: the next files find it), not
        // with a `mkdir` round trip per file (issue 21).
        let parent = paths::parent(dest);
        if let Err(e) = &streamed
            && e.class == ErrorClass::NotFound
            && e.op == "create"
            && e.path == temp
            && !parent.is_empty()
        {
            dfs.create_dir_all(parent)?;
            streamed = go(&temp, 0);
        }
        // The drive refused the temp name for its length (its whole-path
        // limit, see `paths`): the short form, no longer than `dest`.
        // Windows reports a path over `MAX_PATH` as "path not found" too;
        // its folder exists (made just above), so that is the same refusal.
        if let Err(e) = &streamed
            && matches!(e.class, ErrorClass::PathTooLong | ErrorClass::NotFound)
            && e.path == temp
        {
            let short = paths::temp_name_near_limit(dest, &self.plan.plan_id, op.id);
            if short != temp && start.is_none() {
                temp = short;
                streamed = go(&temp, 0);
            }
        }
        let (hash, sent, written) = match streamed {
            Ok(h) => h,
            Err(e) => {
                if !(interruptible && self.keeps_for_resume(c, &temp)) {
                    let _ = dfs.remove_file(&temp);
                }
                return Err(e);
            }
        };
        let cleanup = |why: String| -> Result<Staged, FsError> {
            let _ = dfs.remove_file(&temp);
            Ok(Staged::Over(Outcome::Drifted(why)))
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
        // The times and properties were set on the handle before it was
        // closed (by path where the writer cannot), and the metadata read
        // back from it (by path where it cannot).
        let times_set = written
            .times
            .unwrap_or_else(|| dfs.set_meta(&temp, src_meta.mtime, src_meta.props));
        if let Err(e) = times_set {
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
        let temp_now = match written.meta {
            Some(m) => Some(m),
            None => dfs.stat(&temp)?,
        };
        let written_meta = match temp_now {
            Some(t) if t.size == src_meta.size => t,
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
        };
        Ok(Staged::Ready(Box::new(Landing {
            temp,
            hash,
            src_meta,
            live_dst,
            written: written_meta,
        })))
    }

    /// The rest of a staged copy: the source and the destination looked at
    /// once more, the replaced version to trash, the temp renamed into
    /// place. The temp must be durable already (see [`Self::copy_stage`]).
    pub(super) fn land(&self, op: &Op, c: &CopyStep, l: Landing) -> Result<Outcome, FsError> {
        let (from, to) = (c.from, c.side);
        let (src_path, dest) = (c.src_path.as_str(), c.dest_path.as_str());
        let (sfs, dfs) = (self.fs(from), self.fs(to));
        let (Some(es), Some(ed)) = (exp(op, from, src_path), exp(op, to, dest)) else {
            return Ok(Outcome::Drifted("plan step lacks its expectations".into()));
        };
        let Landing {
            temp,
            hash,
            src_meta,
            live_dst,
            written: written_meta,
        } = l;
        let cleanup = |why: String| -> Result<Outcome, FsError> {
            let _ = dfs.remove_file(&temp);
            Ok(Outcome::Drifted(why))
        };
        // The source must not have changed while we read it.
        if !matches(sfs.stat(src_path)?.as_ref(), es) {
            return cleanup(format!(
                "{from} `{src_path}` changed during the copy; will retry next cycle"
            ));
        }
        // Last re-check of the destination before replacing it. A new file
        // needs none: it is renamed into place only if nothing is there yet
        // (`rename_new`, one atomic call where the drive has one).
        let changed = || cleanup(format!("{to} `{dest}` changed during the copy"));
        if ed.exists && !matches(dfs.stat(dest)?.as_ref(), ed) {
            return changed();
        }
        // The version being replaced goes to trash (soft-delete policy), so
        // every saved version stays recoverable. A crash right after this
        // move is finished by the recovery branch at the top.
        let mut trashed = None;
        if let Some(old) = live_dst.as_ref().filter(|m| m.kind == Kind::File)
            && self.cfg.soft_delete_at(dest, old.size)
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
                json!({"path": dest, "side": to, "rule": op.rule, "policy": op.policy, "bytes": old.size, "result": "ok",
                       "note": "the replaced version is not kept (over the soft-delete size limit, soft delete off, or a `delete = \"hard\"` rule)"}),
            );
        }
        let renamed = if ed.exists {
            dfs.rename(&temp, dest).map(|()| true)
        } else {
            dfs.rename_new(&temp, dest)
        };
        if let Ok(false) = renamed {
            return changed();
        }
        if let Err(e) = renamed {
            if e.is_fatal() {
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
        // What the destination holds now is what the handle reported (a
        // rename keeps a file's times, size and id); only a file system
        // whose metadata carries no id (Windows) is asked for it.
        let mut back = written_meta;
        if back.id.is_none() {
            back.id = dfs.file_id(dest);
        }
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
    pub(super) fn same_content(
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
    pub(super) fn copy_updates(
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

    /// Streams `src` into `temp` (on side `to`), hashing on the way, paced
    /// by the process's one bandwidth limiter (`[transfer] bandwidth` or
    /// `max_bytes_per_second`, shared with every other copy); returns the
    /// hash, the number of bytes sent (not the planned size when the source
    /// grew or shrank meanwhile) and what the writer's finish did. A file of
    /// a few MiB or less is read, hashed and written in turn with one
    /// 256 KiB buffer; a larger one through the three overlapping stages of
    /// [`super::pipe::pipelined`] (read, hash, write). The file is finished
    /// with `times` (mtime, properties) set on its handle. A stop request
    /// does not interrupt it: a small copy finishes with its step (SPEC §2;
    /// a large-lane copy goes by [`Self::stream_chunked`], which stops and
    /// resumes).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn stream(
        &self,
        sfs: &dyn Fs,
        src: &str,
        to: Side,
        temp: &str,
        size: u64,
        times: (i64, u32),
        synced: bool,
    ) -> Result<(String, u64, Written), FsError> {
        let dfs = self.fs(to);
        const PIPELINE_FROM: u64 = 4 * super::pipe::BUF as u64;
        let mut r = sfs.open_read(src)?;
        let mut w = dfs.create(temp)?;
        let finish = |w: Box<dyn crate::fs::FileWriter>| {
            if synced {
                w.finish_with(times.0, times.1)
            } else {
                w.finish_unsynced(times.0, times.1)
            }
        };
        let limiter = crate::bandwidth::Limiter::shared(&self.cfg.bandwidth);
        let pace = |n: usize| {
            if let Some(l) = &limiter {
                l.take(to, n);
            }
        };
        if size < PIPELINE_FROM {
            let mut h = blake3::Hasher::new();
            let mut buf = vec![0u8; 256 * 1024];
            let mut sent: u64 = 0;
            loop {
                let n = r.read(&mut buf).map_err(|e| FsError::io("read", src, e))?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
                pace(n);
                w.write_all(&buf[..n])
                    .map_err(|e| FsError::io("write", temp, e))?;
                sent += n as u64;
                if let Some(p) = self.progress {
                    p.copied(n as u64);
                }
            }
            let written = finish(w)?;
            return Ok((h.finalize().to_hex().to_string(), sent, written));
        }
        let mut sent: u64 = 0;
        let hash = super::pipe::pipelined(r, src, temp, |buf| {
            pace(buf.len());
            w.write_all(buf)
                .map_err(|e| FsError::io("write", temp, e))?;
            sent += buf.len() as u64;
            if let Some(p) = self.progress {
                p.copied(buf.len() as u64);
            }
            Ok(())
        })?;
        let written = finish(w)?;
        Ok((hash, sent, written))
    }

    #[allow(clippy::unused_self)]
    pub(super) fn overwrite_record(
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
}
