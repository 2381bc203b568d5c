//! When to list again what a rescan could not read (issue 18, SPEC §9).
//!
//! A folder whose listing failed, or an entry whose `stat` failed, is
//! unknown (never absent) and lands on its scan's relist
//! ([`crate::scan::SideScan::relist`]). Nothing else would look at it again
//! before the next full scan (minutes away with a watcher), so a change
//! it hides would wait that long. [`Relists`] hands those paths back to the
//! loop as if an event had named them: at once at the next cycle, then
//! with a backoff (1 s, 2 s, 4 s… but never longer than one sync interval,
//! so a change syncs within one cycle of the fault healing), until one
//! listing of them succeeds and the scan drops them.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// One side's relisted paths and their backoff.
#[derive(Debug, Default)]
pub(super) struct Relists {
    /// Path → (attempts so far, not before).
    due: HashMap<String, (u32, Instant)>,
}

impl Relists {
    /// The paths of `current` (the side's relist now) to list again at
    /// `now`; paths no longer on it are forgotten. `cap` bounds the wait.
    pub(super) fn take_due(
        &mut self,
        current: &[String],
        now: Instant,
        cap: Duration,
    ) -> Vec<String> {
        self.due.retain(|p, _| current.contains(p));
        let mut out = Vec::new();
        for p in current {
            let (tries, at) = self.due.entry(p.clone()).or_insert((0, now));
            if now >= *at {
                out.push(p.clone());
                let wait = Duration::from_secs(1u64 << (*tries).min(16)).min(cap);
                *tries += 1;
                *at = now + wait;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relisted_at_once_then_backing_off_up_to_one_interval() {
        let mut r = Relists::default();
        let t0 = Instant::now();
        let cap = Duration::from_secs(10);
        let list = vec!["d".to_owned()];
        assert_eq!(r.take_due(&list, t0, cap), ["d"], "at once");
        assert!(r.take_due(&list, t0, cap).is_empty(), "not twice at once");
        assert_eq!(r.take_due(&list, t0 + Duration::from_secs(1), cap), ["d"]);
        assert!(
            r.take_due(&list, t0 + Duration::from_secs(2), cap)
                .is_empty()
        );
        assert_eq!(r.take_due(&list, t0 + Duration::from_secs(3), cap), ["d"]);
        // Many failures later the wait stays at most one interval.
        let mut t = t0 + Duration::from_secs(3);
        for _ in 0..20 {
            t += cap;
            assert_eq!(r.take_due(&list, t, cap), ["d"]);
        }
        // Readable again (off the scan's relist): forgotten, and a new
        // failure starts the backoff afresh.
        assert!(r.take_due(&[], t, cap).is_empty());
        assert_eq!(r.take_due(&list, t, cap), ["d"]);
        assert!(
            r.take_due(&list, t + Duration::from_millis(999), cap)
                .is_empty()
        );
    }
}
