//! Case-only renames through apply (`Proj` → `PROJ` on a case-insensitive
//! drive): direct where the file system allows it, else by an intermediate
//! name that is parked (recorded) so that a failed second hop never loses
//! the item, rolled back or put back later; and a rename found done after a
//! crash that was edited since is drift, not done.

use super::tests::{Harness, assert_file, count, harness, live, no_temps};
use super::*;
use crate::Side;
use crate::fs::Fs;

/// A case-only folder rename `Proj` → `PROJ` planned for the right side.
fn case_folder_rename() -> (Harness, Plan) {
    let h = harness("[soft_delete]\nmax_size_bytes = 4");
    h.synced(&[
        ("Proj/a.txt", "abc"),
        ("Proj/big.bin", "large media, beyond the trash limit"),
    ]);
    h.left.rename("Proj", "PROJ").unwrap();
    let plan = h.plan();
    assert!(
        plan.ops
            .iter()
            .any(|o| o.kind() == OpKind::Rename && o.side() == Some(Side::Right)),
        "{:?}",
        plan.ops
    );
    (h, plan)
}

/// Regression (issue 8, finding 1): the second hop of a case-only folder
/// rename failed, the item stayed under a temp name the scan skips, and the
/// next plan deleted the other side's copy (large files for good).
#[test]
fn case_rename_whose_put_back_fails_is_parked_held_and_recovered() {
    let (h, plan) = case_folder_rename();
    // The direct rename is refused, the intermediate hop works, the second
    // hop and the roll-back both fail (an open handle inside, say).
    let sides = h
        .faults(Side::Right)
        .fail(ErrorClass::Locked, "rename", "Proj → PROJ", 1)
        .fail(ErrorClass::Locked, "rename", "case.tmp →", 2)
        .sides();
    let r = h.apply_with(&plan, &sides).unwrap();
    assert_eq!(r.failed.len(), 1, "{r:?}");
    let err = &r.failed[0].error;
    assert!(err.contains("parked"), "{err}");
    let parked = h.right.dump().into_keys().any(|k| k.ends_with("-case.tmp"));
    assert!(parked, "the folder is under its temp name");
    // The next plan must not touch PROJ on the left: the right's folder is
    // unknown, not deleted.
    let next = h.plan();
    let deletes = count(&next, &[OpKind::Delete, OpKind::Rmdir]);
    assert_eq!(deletes, 0, "{:?}", next.ops);
    assert!(
        next.problems.iter().any(|p| p.contains("parked")),
        "{:?}",
        next.problems
    );
    // Recovery puts it back under the new name; then everything converges.
    let state = h.state();
    let stuck = recover_parked(&state, &h.sides(), &Logger::null()).unwrap();
    assert!(stuck.is_empty(), "{stuck:?}");
    assert!(state.parked().unwrap().is_empty());
    h.tick();
    h.sync();
    h.sync();
    assert_file(
        &h.right,
        "PROJ/big.bin",
        "large media, beyond the trash limit",
    );
    assert_eq!(live(&h.left), live(&h.right));
    assert!(h.plan().ops.is_empty());
}

#[test]
fn case_rename_rolls_the_first_hop_back_when_the_second_fails() {
    let (h, plan) = case_folder_rename();
    let sides = h
        .faults(Side::Right)
        .fail(ErrorClass::Other, "rename", "Proj → PROJ", 1)
        .fail(ErrorClass::Locked, "rename", "case.tmp → PROJ", 1)
        .sides();
    let r = h.apply_with(&plan, &sides).unwrap();
    assert_eq!(r.failed.len(), 1);
    assert!(
        h.right.dump().contains_key("Proj/big.bin"),
        "back under its old name at once"
    );
    no_temps(&h.right);
    let state = h.state();
    assert!(state.parked().unwrap().is_empty());
    h.tick();
    let p = h.plan();
    let r = h.apply_with(&p, &h.sides()).unwrap();
    assert!(
        h.right.dump().contains_key("PROJ/big.bin"),
        "{:?} {r:?} {:?}",
        p.ops,
        h.right.dump().keys()
    );
}

#[test]
fn case_rename_is_direct_when_the_file_system_allows_it() {
    let (h, plan) = case_folder_rename();
    // Any use of an intermediate name would fail: the direct rename must do.
    let sides = h
        .faults(Side::Right)
        .fail(ErrorClass::Other, "rename", ".~twinsync-", u32::MAX)
        .sides();
    h.apply_clean(&plan, &sides);
    assert!(h.right.dump().contains_key("PROJ/big.bin"));
}

/// A case-only rename found done after a crash, but edited since, is drift:
/// the edit must still reach the other side.
#[test]
fn case_rename_recovery_does_not_swallow_an_edit() {
    let h = harness("");
    h.synced(&[("case.txt", "original")]);
    h.left.rename("case.txt", "Case.txt").unwrap();
    let plan = h.plan();
    h.right.rename("case.txt", "Case.txt").unwrap();
    h.tick();
    h.right
        .put("Case.txt", b"edited on the right while we were down");
    h.apply(&plan);
    for _ in 0..3 {
        h.tick();
        h.sync();
    }
    assert_eq!(
        h.left.get("Case.txt").unwrap(),
        h.right.get("Case.txt").unwrap()
    );
}

/// Both sides renamed a file to different spellings (6.2.13, option1):
/// the newer spelling ends at the path on both sides, the older version
/// as the clash copy (the newer version used to land under the older
/// side's spelling, and the sides kept different names for good).
#[test]
fn a_case_conflict_leaves_the_newer_spelling_on_both_sides() {
    let h = harness("");
    h.synced(&[("Report.docx", "hello")]);
    // Equal times: the left counts as newer (SPEC §6).
    h.left.rename("Report.docx", "REPORT.docx").unwrap();
    h.right.rename("Report.docx", "report.docx").unwrap();
    let plan = h.plan();
    let conflict = plan
        .ops
        .iter()
        .find(|o| o.kind() == OpKind::Conflict)
        .unwrap();
    let Step::Conflict(c) = &conflict.step else {
        unreachable!()
    };
    let newer = if c.conflict.newer == Side::Left {
        "REPORT.docx"
    } else {
        "report.docx"
    };
    h.apply(&plan);
    for side in [&h.left, &h.right] {
        let names: Vec<String> = side
            .dump()
            .into_keys()
            .filter(|k| k.to_lowercase().starts_with("report"))
            .collect();
        assert_eq!(names, [newer, "report - clash.docx"], "{names:?}");
    }
    assert!(!h.plan().summary.has_changes(), "{:?}", h.plan().ops);
}
