//! How things ended: a plan in the journal ([`PlanStatus`]), one step
//! ([`StepStatus`]), a run or watch cycle ([`CycleResult`]).
//!
//! Invariant: the names are the SPEC §8 / §12 strings stored in the state DB
//! and written to the log; a stored name that does not parse is an error
//! for the reader to handle, not a silent default here.

named_enum! {
    /// A plan's status in the journal (SPEC §8).
    pub enum PlanStatus {
        /// Admitted and not finished: resumed by the next apply of it, or by `watch`.
        Running = "running",
        Done = "done",
        DoneWithFailures = "done_with_failures",
        /// Re-planned instead of resumed.
        Abandoned = "abandoned",
    }
}

named_enum! {
    /// A step's outcome in the journal.
    pub enum StepStatus {
        Done = "done",
        /// Skipped: the disk changed since planning (left for the next plan).
        Drifted = "drifted",
        Failed = "failed",
    }
}

named_enum! {
    /// How a run or cycle ended (`result` of the `cycle` event, SPEC §12).
    #[derive(Default)]
    pub enum CycleResult {
        #[default]
        Ok = "ok",
        /// Some step failed.
        Failed = "failed",
        /// Nothing was applied: a side unavailable, a guard refused, the lane could not run.
        Skipped = "skipped",
    }
}
