//! What an apply tells about itself while it runs, for a progress display.
//!
//! The core draws nothing and knows no terminal (the shape of rustic_core's
//! progress): [`super::run`] calls a [`Progress`] it is given, the copy
//! loop reports the bytes it has written as it goes (so a 20 GB file moves
//! its bar while it copies), and the command layer supplies the drawing
//! (`crate::console::Bars`: indicatif bars on a terminal, nothing else).
//!
//! Invariants: every method has a do-nothing default; a call never fails
//! and never stops the apply; for each step `step_start` comes before its
//! `copied` calls, and `step_end` after them, whatever the step's outcome
//! (a copy that fails halfway has reported the bytes it wrote, and its
//! `step_end` says it is over). Small copies may run several at once
//! (`parallel_copies`): then several steps are between their `step_start`
//! and `step_end`, the calls come from the copying threads, and `copied`
//! counts the bytes of all of them.

use crate::plan::Op;

/// Receives an apply's progress. `Sync` because a copy's byte count is
/// reported from the copy loop, which may run on a helper thread.
pub trait Progress: Sync {
    /// The run starts: `steps` steps to handle (those not done before,
    /// `record`s left out), `bytes` of them to copy.
    fn begin(&self, steps: u64, bytes: u64) {
        let _ = (steps, bytes);
    }

    /// A step starts (a copy's size is `op.bytes`).
    fn step_start(&self, op: &Op) {
        let _ = op;
    }

    /// The copy in progress wrote `n` more bytes.
    fn copied(&self, n: u64) {
        let _ = n;
    }

    /// The step `op` is over (done, skipped or failed).
    fn step_end(&self, op: &Op) {
        let _ = op;
    }
}
