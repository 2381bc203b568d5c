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
//!   (small copies finish with their step, SPEC §2) and starts no more.

use super::journal::Journal;
use super::steps::{Executor, Outcome};
use super::{ApplyError, Options};
use crate::StepStatus;
use crate::fs::FsError;
use crate::paths;
use crate::plan::{Lane, Op, Step};
use crate::roots::Sides;
use std::collections::{HashMap, HashSet};
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
/// (the caller runs `ops[from]` alone).
pub(super) fn small_run<'p>(
    ops: &'p [Op],
    from: usize,
    done: &HashMap<u64, StepStatus>,
    opts: &Options<'_>,
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
            let Some((src, dest)) = small_copy(op) else {
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

/// Runs `run` with `workers` copies at once, journalling each outcome on
/// this thread as it arrives.
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
    let next = AtomicUsize::new(0);
    let abort = AtomicBool::new(false);
    let (stop, progress) = (opts.stop, opts.progress);
    let stopped = || abort.load(Ordering::SeqCst) || stop.is_some_and(|s| s.load(Ordering::SeqCst));
    // Every step's sides are looked at before any starts (as in series).
    for op in run {
        journal.look_before(op)?;
    }
    let (tx, rx) = std::sync::mpsc::channel::<(usize, Result<Outcome, FsError>)>();
    std::thread::scope(|sc| {
        for _ in 0..workers.min(run.len()) {
            let tx = tx.clone();
            let (next, stopped) = (&next, &stopped);
            sc.spawn(move || {
                while !stopped() {
                    let k = next.fetch_add(1, Ordering::SeqCst);
                    let Some(op) = run.get(k) else { break };
                    if let Some(p) = progress {
                        p.step_start(op);
                    }
                    let result = ex.step(op);
                    if let Some(p) = progress {
                        p.step_end(op);
                    }
                    if tx.send((k, result)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut fatal = None;
        for (k, result) in rx {
            if fatal.is_some() {
                continue; // finished, not journalled: recovered on resume
            }
            let op = run[k];
            let settled = journal
                .before()
                .and_then(|()| journal.look_before(op))
                .and_then(|()| journal.settle(op, result, sides, opts.on_event));
            if let Err(e) = settled {
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
