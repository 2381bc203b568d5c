//! Housekeeping around plans: an interrupted plan that no later plan
//! superseded is resumed, as `watch` and `apply` do at their start
//! ([`resumable`]: a half-done step, e.g. a conflict whose clash rename
//! was done and whose copy was not, is finished by the plan that began
//! it, never read by a fresh plan as a user's change); before a fresh
//! plan, unfinished plans get a recovery-only pass and are abandoned
//! ([`prepare`], [`abandon`]); items a
//! case-only rename parked under a temp name are put back
//! ([`recover_parked`]); temp files of interrupted copies that no running
//! plan owns are removed ([`sweep_temps`], [`sweep_scan`]) unless a large
//! copy can still resume them; those whose copy cannot resume any more
//! (their source changed or is gone) are removed with their row
//! ([`sweep_transfers`]).
//!
//! Invariant: nothing under a temp name is removed unless it is a copy's
//! temp file whose plan is no longer running and that no transfer row
//! names, or a transfer's temp whose source provably changed; everything
//! else is held.

use super::{ApplyError, Options, run};
use crate::config::Config;
use crate::fs::{ErrorClass, Fs, FsError, Kind};
use crate::log::Logger;
use crate::plan::Plan;
use crate::roots::{self, Sides};
use crate::state::{State, StateError};
use crate::{PlanStatus, Side, paths};
use serde_json::json;

/// The unfinished plans to resume (an interrupted `apply` or `watch`),
/// oldest first, checked; superseded ones (a later plan finished) and
/// ones whose journal cannot be read are abandoned instead (what they did
/// recorded first). Each is then run to the end by the caller, every
/// step checked against the files as they are now.
///
/// # Errors
/// Fatal apply errors (state DB, a side gone).
pub fn resumable(
    state: &mut State,
    cfg: &Config,
    sides: &Sides,
    log: &Logger,
) -> Result<Vec<super::ValidPlan>, ApplyError> {
    for id in state.superseded_plans()? {
        abandon(state, cfg, sides, log, &id)?;
    }
    state.abandon_superseded_plans()?;
    let mut out = Vec::new();
    for id in state.running_plans()? {
        let plan = state
            .plan_json(&id)?
            .and_then(|j| serde_json::from_str::<Plan>(&j).ok())
            .and_then(|p| p.validated().ok());
        match plan {
            Some(p) => {
                log.info(
                    "scan",
                    json!({"note": "resuming an unfinished plan", "plan_id": id}),
                );
                out.push(p);
            }
            None => abandon(state, cfg, sides, log, &id)?,
        }
    }
    Ok(out)
}

/// Housekeeping before `apply` makes a fresh plan: unfinished plans (a
/// crash, a stop) get a recovery-only pass and are then abandoned (their
/// remaining steps are re-planned from the disks, their temp files become
/// sweepable), and items parked under temp names are put back.
/// Returns what stays parked (held by every plan until it is put back).
///
/// # Errors
/// State DB errors.
pub fn prepare(
    state: &mut State,
    cfg: &Config,
    sides: &Sides,
    log: &Logger,
) -> Result<Vec<String>, ApplyError> {
    for id in state.running_plans()? {
        abandon(state, cfg, sides, log, &id)?;
    }
    sweep_transfers(state, sides, log);
    Ok(recover_parked(state, sides, log)?)
}

/// Gives up an unfinished plan for a fresh one: what it did before it
/// stopped is recorded first (trash records included; a half-done copy's
/// final rename finished); nothing new is started.
///
/// # Errors
/// Fatal apply errors (state DB, a side gone).
pub fn abandon(
    state: &mut State,
    cfg: &Config,
    sides: &Sides,
    log: &Logger,
    plan_id: &str,
) -> Result<(), ApplyError> {
    let plan = state
        .plan_json(plan_id)?
        .and_then(|j| serde_json::from_str::<Plan>(&j).ok())
        .and_then(|p| p.validated().ok());
    if let Some(plan) = plan {
        let opts = Options {
            recover_only: true,
            ..Options::default()
        };
        run(&plan, cfg, sides, state, log, &opts)?;
    }
    if state.plan_status(plan_id)? == Some(PlanStatus::Running) {
        state.finish_plan(plan_id, PlanStatus::Abandoned)?;
    }
    log.info(
        "scan",
        json!({"note": "an unfinished plan is re-planned instead of resumed", "plan_id": plan_id}),
    );
    Ok(())
}

/// After a scan: removes the temp files of copies that no running plan owns
/// (see [`sweep_temps`]) and returns them.
pub fn sweep_scan(
    state: &State,
    fs: &dyn Fs,
    side: Side,
    scan: &crate::scan::SideScan,
    log: &Logger,
) -> Vec<String> {
    let files: Vec<String> = scan
        .temps
        .iter()
        .filter(|(_, k)| *k == Kind::File)
        .map(|(p, _)| p.clone())
        .collect();
    sweep_temps(state, fs, side, &files, log)
}

/// Puts back items that a case-only rename left under a temp name (a
/// crash between its two hops, or a failed second hop whose roll-back
/// failed too): to the new name where it is free, else to the old one.
/// Returns what could not be put back yet (still held by every plan).
///
/// # Errors
/// State DB errors.
pub fn recover_parked(
    state: &State,
    sides: &Sides,
    log: &Logger,
) -> Result<Vec<String>, StateError> {
    let mut stuck = Vec::new();
    for p in state.parked()? {
        let fs = sides.get(p.side);
        if !matches!(fs.stat(paths::MARKER_NAME), Ok(Some(_))) {
            continue; // the side is unavailable: later
        }
        match fs.stat(&p.temp_path) {
            Ok(None) => {
                state.unpark(p.side, &p.temp_path)?;
                continue;
            }
            Ok(Some(_)) => {}
            Err(e) => {
                stuck.push(format!(
                    "{}: `{}` (parked as `{}`): {e}",
                    p.side, p.original, p.temp_path
                ));
                continue;
            }
        }
        let free = |path: &str| matches!(fs.stat(path), Ok(None));
        let to = if free(&p.target) {
            Some(&p.target)
        } else if free(&p.original) {
            Some(&p.original)
        } else {
            None
        };
        let res = match to {
            Some(to) => fs.rename(&p.temp_path, to).map(|()| to.clone()),
            None => Err(FsError::synthetic(
                "rename",
                &p.temp_path,
                ErrorClass::Other,
                "both its old and its new name are taken",
            )),
        };
        match res {
            Ok(to) => {
                state.unpark(p.side, &p.temp_path)?;
                log.warn(
                    "rename",
                    json!({"path": to, "side": p.side, "result": "ok",
                           "note": format!("put back from the temp name `{}` an interrupted case-only rename left it under", p.temp_path)}),
                );
            }
            Err(e) => {
                log.error(
                    "rename",
                    json!({"path": p.original, "side": p.side, "result": "failed",
                           "error": format!("still parked as `{}`: {e}", p.temp_path)}),
                );
                stuck.push(format!(
                    "{}: `{}` is parked as `{}` since {} and could not be put back: {e}",
                    p.side, p.original, p.temp_path, p.since
                ));
            }
        }
    }
    Ok(stuck)
}

/// Removes temp files that are provably unfinished copies of ours (the copy
/// temp name of a plan that is not running any more); anything else under
/// a temp name (a parked folder or file, a name this build does not make)
/// is left alone and held by the planner. Returns the paths removed.
pub fn sweep_temps(
    state: &State,
    fs: &dyn Fs,
    side: Side,
    temps: &[String],
    log: &Logger,
) -> Vec<String> {
    if temps.is_empty() {
        return Vec::new();
    }
    let running: Vec<String> = state.running_plans().unwrap_or_default();
    let parked: Vec<String> = state
        .parked()
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p.side == side)
        .map(|p| p.temp_path)
        .collect();
    // Temps a large copy can resume (their rows were checked by
    // `sweep_transfers`); when the rows cannot be read, none is swept.
    let Ok(resumable) = state.transfers() else {
        return Vec::new();
    };
    let resumable: Vec<String> = resumable
        .into_iter()
        .filter(|t| t.side == side)
        .map(|t| t.temp_path)
        .collect();
    let mut removed = Vec::new();
    for t in temps {
        let Some((owner, paths::TempUse::Copy)) = paths::parse_temp_name(paths::file_name(t))
        else {
            continue;
        };
        if running.iter().any(|id| paths::temp_owned_by(owner, id))
            || parked.contains(t)
            || resumable.contains(t)
            || !matches!(fs.stat(t), Ok(Some(m)) if m.kind == Kind::File)
        {
            continue;
        }
        match remove_temp(fs, t) {
            Ok(()) => {
                log.info("delete", json!({"path": t, "side": side, "result": "ok", "note": "leftover temp file of an interrupted copy removed"}));
                removed.push(t.clone());
            }
            Err(e) => log.warn(
                "delete",
                json!({"path": t, "side": side, "result": "failed", "error": e.to_string()}),
            ),
        }
    }
    removed
}

/// Drops the transfer rows of large copies that cannot resume any more,
/// with their temp files: the temp is gone (the row alone is dropped), or
/// the source changed or is gone (see the rules in `resume`). A side or a
/// path that cannot be looked at now is unknown, never changed: kept.
/// Returns the temp files removed.
pub fn sweep_transfers(state: &State, sides: &Sides, log: &Logger) -> Vec<String> {
    let mut removed = Vec::new();
    for t in state.transfers().unwrap_or_default() {
        let dfs = sides.get(t.side);
        let sfs = sides.get(t.from);
        let Ok(temp) = dfs.stat(&t.temp_path) else {
            continue;
        };
        let source = match sfs.stat(&t.src_path) {
            Ok(Some(mut m)) => {
                if m.id.is_none() && t.src_id.is_some() {
                    m.id = sfs.file_id(&t.src_path);
                }
                Some(m)
            }
            Ok(None) if roots::marker_present(sfs) => None,
            _ => continue,
        };
        let live = source
            .as_ref()
            .is_some_and(|m| super::resume::same_source(&t, t.from, &t.src_path, m));
        if temp.is_some() && live {
            continue;
        }
        if temp.is_some() {
            match remove_temp(dfs, &t.temp_path) {
                Ok(()) => {
                    log.info("delete", json!({"path": t.temp_path, "side": t.side, "result": "ok",
                        "note": format!("the temp file of an interrupted copy of `{}` is removed: its source changed, so it cannot resume", t.src_path)}));
                    removed.push(t.temp_path.clone());
                }
                Err(e) => {
                    log.warn("delete", json!({"path": t.temp_path, "side": t.side, "result": "failed", "error": e.to_string()}));
                    continue;
                }
            }
        }
        if let Err(e) = state.forget_transfer(t.side, &t.dest_path) {
            log.warn("error", json!({"error": e.to_string()}));
        }
    }
    removed
}

/// Removes the temp file `path`: one already gone is what was wanted, not
/// an error (an earlier look removed it, or another run did).
///
/// # Errors
/// Any other failure to remove it.
pub(super) fn remove_temp(fs: &dyn Fs, path: &str) -> Result<(), FsError> {
    match fs.remove_file(path) {
        Err(e) if e.class == ErrorClass::NotFound => Ok(()),
        other => other,
    }
}
