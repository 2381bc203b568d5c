//! The executors: one function per step kind (copy, delete, rename,
//! set_props, mkdir, rmdir, conflict, record), each re-checking the step's
//! `expect` against the live disk first (SPEC §8) and returning the
//! [`Outcome`] that the `Journal` commits with its state updates. Each
//! takes its typed step ([`crate::plan::Step`]); the copy lives in `copy`.
//!
//! Invariant: every write goes to a temp name and is renamed into place as
//! the step's last act; a replaced version goes to trash before it is
//! overwritten (or is recorded as not kept).

use super::copy::{Landing, Staged};
use super::event_name;
use super::trash::{self, TrashLoc};
use crate::config::Config;
use crate::fs::{ErrorClass, Fs, FsError, Kind, Meta};
use crate::log::Logger;
use crate::plan::{
    ConflictStep, DeleteStep, Expect, MkdirStep, MoveStep, Op, OpKind, Plan, RecordStep,
    RenameStep, RmdirStep, SetPropsStep, Step,
};
use crate::roots::Sides;
use crate::state::{ConflictRecord, TrashRecord, Update};
use crate::{Entry, Resolution, Side, paths};
use serde_json::json;

pub(super) fn entry_of(path: &str, m: &Meta, hash: Option<String>) -> Entry {
    Entry::from_meta(path, m, hash)
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
    /// Where large copies record their chunks (see [`super::resume`]).
    pub(super) resume: super::resume::Resumer,
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
pub(super) fn refuses_times(e: &FsError) -> bool {
    e.class == ErrorClass::PermissionDenied
        || e.source.kind() == std::io::ErrorKind::Unsupported
        // EOPNOTSUPP / ENOTSUP; ERROR_NOT_SUPPORTED, ERROR_INVALID_FUNCTION
        || matches!(e.source.raw_os_error(), Some(95) if cfg!(unix))
        || matches!(e.source.raw_os_error(), Some(1 | 50) if cfg!(windows))
}

/// Why a step of a plan that is re-planned instead of resumed was not run.
pub(super) const SUPERSEDED: &str =
    "not resumed: its plan was superseded, the next plan decides afresh";

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
pub(super) fn trash_record(
    side: Side,
    path: &str,
    trash_path: String,
    size: u64,
    rule: String,
) -> Update {
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
    pub(super) fn fs(&self, s: Side) -> &dyn Fs {
        self.sides.get(s)
    }

    /// Whether `side`'s drive is known to refuse times (before this run,
    /// or by a copy of this run).
    pub(super) fn refuses_known(&self, side: Side) -> bool {
        self.drives.known[side] || self.drives.refused.lock().is_ok_and(|r| r[side].is_some())
    }

    pub(super) fn tolerance_ns(&self) -> i64 {
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
        self.log_done(op, &out);
        Ok(out)
    }

    /// Logs a step that is done. A conflict step has logged its own event
    /// already, with both sides and the resolution: one `conflict` event
    /// per conflict handled, not a second, poorer one saying the same.
    fn log_done(&self, op: &Op, out: &Outcome) {
        if op.kind() == OpKind::Conflict {
            return;
        }
        if let Outcome::Done(_) = out {
            let soft = match &op.step {
                Step::Delete(d) => Some(d.soft),
                _ => None,
            };
            self.log.info(
                event_name(op.kind()),
                json!({"path": op.path, "side": op.side(), "from": op.from(), "rule": op.rule, "policy": op.policy, "result": "ok",
                       "bytes": if op.kind() == OpKind::Copy { Some(op.bytes) } else { None },
                       "kind": op.kind().as_str(), "soft": soft, "dest": op.dest_path()}),
            );
        }
    }

    /// A small copy of a batch (see `parallel`) up to its temp, written
    /// unsynced: the step's outcome when it ends there, else the copy to
    /// [`Self::land_staged`] once the batch's temps are durable. Any other
    /// step runs whole.
    ///
    /// # Errors
    /// As [`Self::step`].
    pub(super) fn stage(&self, op: &Op) -> Result<Staged, FsError> {
        let Step::Copy(c) = &op.step else {
            return self.step(op).map(Staged::Over);
        };
        match self.copy_stage(op, c, false)? {
            Staged::Over(out) => {
                self.log_done(op, &out);
                Ok(Staged::Over(out))
            }
            ready @ Staged::Ready(_) => Ok(ready),
        }
    }

    /// The rest of a copy [`Self::stage`] left ready; its temp is durable.
    ///
    /// # Errors
    /// As [`Self::step`].
    pub(super) fn land_staged(&self, op: &Op, l: Landing) -> Result<Outcome, FsError> {
        let Step::Copy(c) = &op.step else {
            return Ok(Outcome::Drifted("not a copy step".into()));
        };
        let out = self.land(op, c, l)?;
        self.log_done(op, &out);
        Ok(out)
    }

    fn trash_stamp() -> String {
        trash::stamp_now()
    }

    /// The ` (deleted …)` stamp of versions a step replaces: the plan's time,
    /// so a step resumed after a crash finds what it moved to trash.
    pub(super) fn plan_stamp(&self) -> String {
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
                json!({"path": path, "side": side, "rule": op.rule, "policy": op.policy, "bytes": e.size, "result": "ok",
                       "note": if let Some(p) = &op.policy { format!("deleted for good (decided under the rule for `{p}`)") } else if self.cfg.raw.soft_delete.enabled { "deleted for good: larger than soft_delete.max_size_bytes".into() } else { "deleted for good: soft delete disabled".into() }}),
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
            // A rename keeps the item's times, size and id: what was just
            // seen at the source is what the new name holds (no read-back
            // round trip).
            if let Some(m) = live_src {
                return Ok(Outcome::Done(updates(&m)));
            }
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
            Err(e) if e.is_fatal() || e.is_not_found() => return Err(e),
            Err(_) => {}
        }
        fs.rename(src, mid)?;
        if let Err(e) = fs.rename(mid, dest) {
            if e.is_fatal() {
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
        // The target's folder is made only when the rename cannot do
        // without it (once per folder: the next moves find it), not with a
        // `mkdir` per move (issue 21); then a last look at the target, as
        // the folder took a round trip: never replace what appeared there.
        // A rename that succeeded needs no read-back: nothing of it is recorded.
        let parent = paths::parent(dest);
        match fs.rename(src, dest) {
            Ok(()) => {}
            Err(e) if e.class == ErrorClass::NotFound && !parent.is_empty() => {
                fs.create_dir_all(parent)?;
                if fs.stat(dest)?.is_some() {
                    return Ok(Outcome::Drifted(format!(
                        "{side} `{dest}` appeared; nothing is moved over it"
                    )));
                }
                fs.rename(src, dest)?;
            }
            Err(e) => return Err(e),
        }
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
        // The source folder's permission bits / attributes. A failure fails
        // the step and takes the new folder away, for the next plan to make
        // again (audit F6: a private folder never stays open, as synced);
        // a drive that refuses attributes (denied, unsupported) is let be.
        if let Err(e) = dfs.set_meta(dest, 0, m.props)
            && !refuses_times(&e)
        {
            let _ = dfs.remove_dir(dest);
            return Err(e);
        }
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
            .chain(listing.skipped.iter().map(|(n, _)| n))
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
            // What a `[[rules]]` entry leaves out is never deleted (SPEC §3).
            let blocking = left_over.iter().find(|(n, m)| {
                let (p, dir) = (paths::join(dest, n), m.kind == Kind::Dir);
                !ex.is_excluded(&p, dir) || self.cfg.rules.excludes_or_parent(&p, dir)
            });
            if let Some((n, _)) = blocking {
                return Ok(Outcome::Drifted(format!(
                    "{side} `{dest}` is not empty (`{n}` appeared, or a rule keeps it); not removed"
                )));
            }
            let loc = TrashLoc::new(fs, self.cfg.trash(side));
            for (n, m) in &left_over {
                let p = paths::join(dest, n);
                if paths::is_internal_name(n) && m.kind == Kind::File {
                    super::recover::remove_temp(fs, &p)?;
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
            json!({"path": op.path, "rule": op.rule, "policy": op.policy, "result": "ok", "resolution": c.resolution, "option": c.option,
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
