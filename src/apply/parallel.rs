//! Small copies at once (`[transfer] parallel_copies`, SPEC §8; issue 21
//! item 3): on a drive where every open, close and rename is a round trip,
//! copies in series spend their time waiting; overlapped, the waits overlap.
//!
//! The rule that keeps every order constraint of a plan, the simplest that
//! is correct: only a run of *consecutive* small-lane copy steps whose
//! paths do not collide (no path twice, no path inside another's folder,
//! compared case-folded, source and destination alike) runs at once; every
//! other step (a folder's creation, a delete or move after the copies that
//! read it, renames, properties, conflicts, large copies, records) is a
//! barrier that runs alone, in plan order, after the run is over.
//!
//! Invariants:
//! - the steps of a run *start* in plan order (one counter hands them out);
//! - each copy is the same atomic step as in series (temp, checks, rename),
//!   run by the one [`Executor`] (shared: `Sync`);
//! - outcomes are journalled only on the thread that owns the state DB,
//!   through the same [`Journal`] (batched commits, the roots looked at
//!   before each commit); within a run no two steps share a path, so the
//!   order their outcomes arrive in does not matter;
//! - a fatal error (power cut, a root gone) stops the helpers from taking
//!   more steps and commits nothing more: what finished but is not
//!   journalled is recognised on disk by the resumed run (recovered), as
//!   after a crash in series; a stop request lets the running copies finish
//!   (small copies finish with their step, SPEC §2) and starts no more;
//! - batched (where the destination [`crate::fs::Fs::syncs_in_batches`]
//!   and no bandwidth limit applies):
//!   no temp is renamed into place before the call that made it durable
//!   returned; a batch whose sync fails has every copy failed and its
//!   temps removed (a fatal failure leaves them to the sweep); a staged
//!   copy is landed even after a stop request (it finishes with its step).

use super::copy::{Landing, Staged};
use super::journal::Journal;
use super::steps::{Executor, Outcome};
use super::{ApplyError, Options, stop_requested};
use crate::Side;
use crate::StepStatus;
use crate::fs::FsError;
use crate::paths;
use crate::plan::{Lane, Op, Step};
use crate::roots::Sides;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// At most this many steps in one run (bounds the claims and lets the
/// steps after a very long run of copies wait less for their turn).
const MAX_RUN: usize = 4096;

/// A small-lane copy: may run beside others.
fn small_copy(op: &Op) -> Option<(&str, &str)> {
    match &op.step {
        Step::Copy(c) if c.lane == Lane::Small => Some((&c.src_path, &c.dest_path)),
        _ => None,
    }
}

/// The paths a run has claimed, case-folded, and the folders above them.
#[derive(Default)]
struct Claims {
    taken: HashSet<String>,
    above: HashSet<String>,
}

impl Claims {
    fn free(&self, path: &str) -> bool {
        if self.taken.contains(path) || self.above.contains(path) {
            return false;
        }
        let mut a = paths::parent(path);
        while !a.is_empty() {
            if self.taken.contains(a) {
                return false;
            }
            a = paths::parent(a);
        }
        true
    }

    /// Claims every path of `ps`, or none when one collides.
    fn claim(&mut self, ps: &[&str]) -> bool {
        let folded: Vec<String> = ps.iter().map(|p| paths::fold(p)).collect();
        if !folded.iter().all(|p| self.free(p)) {
            return false;
        }
        for p in folded {
            let mut a = paths::parent(&p);
            while !a.is_empty() {
                self.above.insert(a.to_owned());
                a = paths::parent(a);
            }
            self.taken.insert(p);
        }
        true
    }
}

/// The run of small copies that may start at `ops[from]`: the steps to
/// run, the index after the run, and how many steps in it the journal
/// already had (skipped, like in series). Fewer than two steps: not a run
/// (the caller runs `ops[from]` alone). A step `alone` says must run in
/// series (below a folder not made) ends the run.
pub(super) fn small_run<'p>(
    ops: &'p [Op],
    from: usize,
    done: &HashMap<u64, StepStatus>,
    opts: &Options<'_>,
    alone: &dyn Fn(&Op) -> bool,
) -> (Vec<&'p Op>, usize, u64) {
    let mut claims = Claims::default();
    let mut run = Vec::new();
    let mut skipped = 0;
    let mut i = from;
    while i < ops.len() && run.len() < MAX_RUN {
        let op = &ops[i];
        if done.contains_key(&op.id) {
            skipped += 1;
        } else if opts.filter.is_none_or(|f| f(op)) {
            let Some((src, dest)) = small_copy(op).filter(|_| !alone(op)) else {
                break;
            };
            if !claims.claim(&[src, dest]) {
                break;
            }
            run.push(op);
        }
        i += 1;
    }
    (run, i, skipped)
}

/// At most this many copies, and about this many bytes, are staged
/// before their temps are made durable together (see [`run_at_once`]):
/// enough that one sync serves many files, few enough that the temps
/// waiting take little room.
const BATCH_STEPS: usize = 64;
const BATCH_BYTES: u64 = 64 * 1024 * 1024;

/// Runs `run` with `workers` copies at once, journalling each outcome on
/// this thread as it arrives.
///
/// Where the destinations make files durable in batches for less than one
/// `fsync` each ([`crate::fs::Fs::syncs_in_batches`]), the run goes in
/// batches of [`BATCH_STEPS`] copies in three stages: every copy writes
/// and checks its temp, unsynced ([`Executor::stage`]); the batch's temps
/// are made durable together, one call per side
/// ([`crate::fs::Fs::sync_written`]); then each is landed (checked again
/// and renamed into place, [`Executor::land_staged`]). No temp is renamed
/// before it is durable, as in series; a crash before the renames leaves
/// temps that the sweep removes, one after leaves renamed files the
/// resumed run recognises on disk.
///
/// # Errors
/// Fatal errors only (power cut, root gone, state DB); step failures are
/// journalled and reported as in series.
pub(super) fn run_at_once(
    ex: &Executor<'_>,
    journal: &mut Journal<'_>,
    run: &[&Op],
    sides: &Sides,
    opts: &Options<'_>,
    workers: usize,
) -> Result<(), ApplyError> {
    // Every step's sides are looked at before any starts (as in series).
    for op in run {
        journal.look_before(op)?;
    }
    // Not under a bandwidth limit: there a batch lands only when its
    // slowest copy has crawled through, holding back the small files
    // staged beside it, and a sync per file costs nothing next to the
    // transfer anyway.
    let batched = ex.cfg.bandwidth.is_unlimited()
        && run.iter().all(|op| match &op.step {
            Step::Copy(c) => sides.get(c.side).syncs_in_batches(),
            _ => false,
        });
    if !batched {
        let progress = opts.progress;
        return pool(
            run,
            workers,
            opts,
            |op| {
                if let Some(p) = progress {
                    p.step_start(op);
                }
                let result = ex.step(op);
                if let Some(p) = progress {
                    p.step_end(op);
                }
                result
            },
            |op, result| settle(journal, op, result, sides, opts),
        );
    }
    batches(ex, journal, run, sides, opts, workers)
}

/// The batched path of [`run_at_once`], its stages overlapped: this thread
/// stages batch after batch (with `workers` threads) and journals every
/// outcome, while a lander thread makes each staged batch durable and then
/// lands its copies (with `workers` threads of its own); at most one
/// batch waits for the lander.
fn batches(
    ex: &Executor<'_>,
    journal: &mut Journal<'_>,
    run: &[&Op],
    sides: &Sides,
    opts: &Options<'_>,
    workers: usize,
) -> Result<(), ApplyError> {
    let progress = opts.progress;
    let end = |op: &Op| {
        if let Some(p) = progress {
            p.step_end(op);
        }
    };
    let abort = AtomicBool::new(false);
    std::thread::scope(|sc| {
        let (to_land, staged) = std::sync::mpsc::sync_channel::<Vec<(&Op, Landing)>>(1);
        let (landed_tx, landed) = std::sync::mpsc::channel::<(&Op, Result<Outcome, FsError>)>();
        let (abort, end) = (&abort, &end);
        sc.spawn(move || {
            let land_opts = Options {
                stop: Some(abort),
                ..Options::default()
            };
            for batch in staged {
                for durable in make_durable(sides, batch) {
                    match durable {
                        Durable::Failed(op, e) => {
                            end(op);
                            let _ = landed_tx.send((op, Err(e)));
                        }
                        Durable::Land(ready) => {
                            let ready: Vec<(&Op, Mutex<Option<Landing>>)> = ready
                                .into_iter()
                                .map(|(op, l)| (op, Mutex::new(Some(l))))
                                .collect();
                            let _ = pool(
                                &ready,
                                workers,
                                &land_opts,
                                |(op, l)| {
                                    let l = l.lock().ok().and_then(|mut l| l.take());
                                    let result = match l {
                                        Some(l) => ex.land_staged(op, l),
                                        None => Ok(Outcome::Drifted("staged copy lost".into())),
                                    };
                                    end(op);
                                    result
                                },
                                |(op, _), result| {
                                    let _ = landed_tx.send((op, result));
                                    Ok(())
                                },
                            );
                        }
                    }
                }
            }
        });
        let result = (|| {
            let mut from = 0;
            while from < run.len() && !stop_requested(opts) {
                let mut to = from;
                let mut bytes = 0;
                while to < run.len()
                    && to - from < BATCH_STEPS
                    && (to == from || bytes < BATCH_BYTES)
                {
                    bytes += run[to].bytes;
                    to += 1;
                }
                let mut ready = Vec::new();
                pool(
                    &run[from..to],
                    workers,
                    opts,
                    |op| {
                        if let Some(p) = progress {
                            p.step_start(op);
                        }
                        ex.stage(op)
                    },
                    |op, staged| {
                        for (op, result) in landed.try_iter() {
                            settle(journal, op, result, sides, opts)?;
                        }
                        match staged {
                            Ok(Staged::Ready(l)) => {
                                ready.push((*op, *l));
                                Ok(())
                            }
                            Ok(Staged::Over(out)) => {
                                end(op);
                                settle(journal, op, Ok(out), sides, opts)
                            }
                            Err(e) => {
                                end(op);
                                settle(journal, op, Err(e), sides, opts)
                            }
                        }
                    },
                )?;
                if to_land.send(ready).is_err() {
                    break;
                }
                for (op, result) in landed.try_iter() {
                    settle(journal, op, result, sides, opts)?;
                }
                from = to;
            }
            Ok(())
        })();
        if result.is_err() {
            abort.store(true, Ordering::SeqCst);
        }
        drop(to_land);
        // Every landed outcome is journalled (after a fatal error, dropped:
        // recognised on disk by the resumed run).
        let mut result = result;
        for (op, outcome) in landed {
            if result.is_ok()
                && let Err(e) = settle(journal, op, outcome, sides, opts)
            {
                abort.store(true, Ordering::SeqCst);
                result = Err(e);
            }
        }
        result
    })
}

/// What [`make_durable`] made of a side's part of a batch.
enum Durable<'o> {
    /// Durable: to land.
    Land(Vec<(&'o Op, Landing)>),
    /// Its sync failed: the copy fails (retried at the next run).
    Failed(&'o Op, FsError),
}

/// A staged batch made durable, one call per side; when a side's sync
/// fails, each of its copies fails, their temps removed unless the
/// failure is fatal (then the resumed run's sweep removes them).
fn make_durable<'o>(sides: &Sides, batch: Vec<(&'o Op, Landing)>) -> Vec<Durable<'o>> {
    let mut out = Vec::new();
    let (left, right): (Vec<_>, Vec<_>) = batch
        .into_iter()
        .partition(|(op, _)| matches!(&op.step, Step::Copy(c) if c.side == Side::Left));
    for (side, mine) in [(Side::Left, left), (Side::Right, right)] {
        if mine.is_empty() {
            continue;
        }
        let files: Vec<(String, Option<crate::fs::FileId>)> =
            mine.iter().map(|(_, l)| l.durable_as()).collect();
        let refs: Vec<(&str, Option<crate::fs::FileId>)> =
            files.iter().map(|(p, id)| (p.as_str(), *id)).collect();
        match sides.get(side).sync_written(&refs) {
            Ok(()) => out.push(Durable::Land(mine)),
            Err(e) => {
                let fatal = e.is_fatal();
                for (op, l) in mine {
                    if !fatal {
                        let _ = sides.get(side).remove_file(&l.durable_as().0);
                    }
                    // The batch's one sync failed, for every copy in it:
                    // said so, not as this copy's own flush of another's temp.
                    let failed = FsError::synthetic(
                        "make durable",
                        &op.path,
                        e.class,
                        &format!(
                            "the sync of its batch of {} copies on the {side} side failed ({e}); it is copied again next time",
                            refs.len()
                        ),
                    );
                    out.push(Durable::Failed(op, failed));
                }
            }
        }
    }
    out
}

/// Journals one outcome (after the batch and a look at the roots).
fn settle(
    journal: &mut Journal<'_>,
    op: &Op,
    result: Result<Outcome, FsError>,
    sides: &Sides,
    opts: &Options<'_>,
) -> Result<(), ApplyError> {
    journal
        .before()
        .and_then(|()| journal.look_before(op))
        .and_then(|()| journal.settle(op, result, sides, opts.on_event))
}

/// Runs `work` on every item with `workers` threads, items started in
/// order, and hands each result to `done` on this thread as it arrives.
/// A stop request (in `opts`) starts no more items; an error from `done`
/// starts no more either, and later results are dropped (finished, not
/// journalled: recognised on disk by the resumed run).
fn pool<T: Sync, R: Send>(
    items: &[T],
    workers: usize,
    opts: &Options<'_>,
    work: impl Fn(&T) -> R + Sync,
    mut done: impl FnMut(&T, R) -> Result<(), ApplyError>,
) -> Result<(), ApplyError> {
    let next = AtomicUsize::new(0);
    let abort = AtomicBool::new(false);
    let stop = opts.stop;
    let stopped = || abort.load(Ordering::SeqCst) || stop.is_some_and(|s| s.load(Ordering::SeqCst));
    let (tx, rx) = std::sync::mpsc::channel::<(usize, R)>();
    std::thread::scope(|sc| {
        for _ in 0..workers.min(items.len()) {
            let tx = tx.clone();
            let (next, stopped, work) = (&next, &stopped, &work);
            sc.spawn(move || {
                while !stopped() {
                    let k = next.fetch_add(1, Ordering::SeqCst);
                    let Some(item) = items.get(k) else { break };
                    if tx.send((k, work(item))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut fatal = None;
        for (k, result) in rx {
            if fatal.is_some() {
                continue;
            }
            if let Err(e) = done(&items[k], result) {
                abort.store(true, Ordering::SeqCst);
                fatal = Some(e);
            }
        }
        fatal.map_or(Ok(()), Err)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_refuse_a_path_twice_and_a_path_inside_another() {
        let mut c = Claims::default();
        assert!(c.claim(&["a/b.txt"]));
        assert!(!c.claim(&["A/B.TXT"]), "the same path, folded");
        assert!(!c.claim(&["a/b.txt/c"]), "inside a claimed path");
        assert!(!c.claim(&["a"]), "a folder above a claimed path");
        assert!(c.claim(&["a/c.txt", "a/c.txt"]));
        assert!(
            !c.claim(&["x.txt", "a/c.txt"]),
            "one collision refuses both"
        );
        assert!(c.claim(&["x.txt"]), "and claimed nothing");
    }
}
