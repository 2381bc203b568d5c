//! The audit of the release binary, through apply and the in-memory and
//! fault-injecting file systems: what a scan could not sync (a link, a
//! name the other side cannot hold, an unreadable folder, what the rules
//! leave out) is never written through, deleted or trashed, and it is
//! listed for the admin.

use super::tests::{harness, live, put_all};
use super::*;
use crate::Side;
use crate::fs::Fs;

/// Audit item 1 (b), defence in depth: when a step creating a folder
/// fails (here: refused once; in the audit, a folder made "through" a
/// link that the scan skipped), the later steps of the plan below that
/// folder are skipped too (drifted, with why: the next plan retries
/// them), never written through whatever is there, one at a time or in
/// a run of copies at once.
#[test]
fn steps_below_a_folder_that_was_not_made_are_skipped() {
    for parallel in [1, 4] {
        let mut h = harness("");
        h.cfg.raw.transfer.parallel_copies = parallel;
        h.synced(&[("keep.txt", "k")]);
        put_all(
            &h.right,
            &[
                ("esc/a.txt", "a"),
                ("esc/b.txt", "b"),
                ("esc/sub/c.txt", "c"),
            ],
        );
        let plan = h.plan();
        assert_eq!(count_kind(&plan, OpKind::Mkdir), 2, "{:?}", plan.ops);
        let sides = h
            .faults(Side::Left)
            .fail(ErrorClass::PermissionDenied, "create folder", "esc", 1)
            .sides();
        let r = h.apply_with(&plan, &sides).unwrap();
        assert_eq!(r.failed.len(), 1, "the mkdir: {r:?}");
        assert_eq!(r.drifted, 4, "esc/sub and the three copies: {r:?}");
        assert!(
            !h.left.dump().keys().any(|k| k.starts_with("esc")),
            "parallel {parallel}: nothing made or written below `esc`: {:?}",
            h.left.dump().keys().collect::<Vec<_>>()
        );
        // The next plan does it all.
        let r = h.sync();
        assert!(r.failed.is_empty() && r.drifted == 0, "{r:?}");
        assert_eq!(live(&h.left), live(&h.right));
    }
}

fn count_kind(p: &Plan, kind: OpKind) -> usize {
    p.ops.iter().filter(|o| o.kind() == kind).count()
}
