//! Clash copies (SPEC §6 option1) as a watch cycle plans and applies
//! them: the clash name is free on both sides even when the plan is
//! scoped to what the events named, and a conflict whose steps did not
//! happen is not told (logged, alerted, counted) as handled.

use super::tests::{Harness, harness, put_all};
use super::*;
use crate::Side;
use crate::pipeline::{self, PlanRequest};
use std::sync::Mutex;

/// `x.txt` and `x - clash.txt` synced, then `x.txt` changed on both sides
/// (the right later: newer).
fn changed_both_beside_a_clash_copy() -> Harness {
    let h = harness("");
    put_all(
        &h.left,
        &[("x.txt", "v1"), ("x - clash.txt", "an old clash")],
    );
    h.sync();
    h.tick();
    h.left.put("x.txt", b"L");
    h.tick();
    h.right.put("x.txt", b"RR");
    h
}

/// The clash path of `plan`'s one conflict.
fn clash_of(plan: &Plan) -> String {
    let c: Vec<_> = plan.ops.iter().filter_map(Op::conflict_info).collect();
    assert_eq!(c.len(), 1, "{:?}", plan.ops);
    c[0].clash_path.clone().unwrap()
}

/// Regression (audit item 1): a watch cycle scoped to `x.txt` picked
/// `x - clash.txt`, taken on both sides but outside its scans, so every
/// step of the conflict was skipped as drifted. The scope takes in the
/// clash names already taken, as a full plan sees them.
#[test]
fn a_scoped_plan_never_picks_a_clash_name_already_taken() {
    let h = changed_both_beside_a_clash_copy();
    assert_eq!(clash_of(&h.plan()), "x - clash 2.txt", "the full plan");
    let (l, r) = (h.scan(Side::Left), h.scan(Side::Right));
    let (scope, scans) = pipeline::scoped_scans(
        crate::PerSide::new(&l, &r),
        vec!["x.txt".to_owned()],
        &h.cfg.raw.conflicts.clash_suffix,
        h.cfg.case_sensitive,
    );
    assert_eq!(scope, ["x - clash.txt", "x.txt"]);
    let plan = h.plan_for(PlanRequest {
        scans: Some(scans),
        scope: Some(scope),
        files_now: Some(crate::PerSide::new(2, 2)),
        ..PlanRequest::default()
    });
    assert_eq!(clash_of(&plan), "x - clash 2.txt");
    let report = h.apply(&plan);
    assert_eq!((report.drifted, report.conflicts), (0, 1), "{report:?}");
    for m in [&h.left, &h.right] {
        assert_eq!(m.get("x.txt").unwrap(), b"RR");
        assert_eq!(m.get("x - clash 2.txt").unwrap(), b"L");
        assert_eq!(m.get("x - clash.txt").unwrap(), b"an old clash");
    }
}

/// Regression (audit item 1): the conflict was logged `ok`, alerted and
/// counted while its rename and copies were skipped as drifted. It is
/// now skipped too (and planned again), and the steps skipped are not
/// among the steps done.
#[test]
fn a_conflict_whose_steps_were_skipped_is_not_told_as_handled() {
    let h = harness("");
    put_all(&h.left, &[("x.txt", "v1")]);
    h.sync();
    h.tick();
    h.left.put("x.txt", b"L");
    h.tick();
    h.right.put("x.txt", b"RR");
    let plan = h.plan();
    assert_eq!(clash_of(&plan), "x - clash.txt");
    // The clash name appears on the older side after planning.
    h.left.put("x - clash.txt", b"appeared");
    let heard = Mutex::new(Vec::new());
    let on_event = |op: &Op, ev: StepEvent<'_>| {
        heard
            .lock()
            .unwrap()
            .push((op.path.clone(), format!("{ev:?}")));
    };
    let opts = Options {
        on_event: Some(&on_event),
        ..Options::default()
    };
    let mut state = h.admitted(&plan, &h.sides());
    let report = h.run_in(&mut state, &plan, &h.sides(), &opts).unwrap();
    assert_eq!(report.conflicts, 0, "{report:?}");
    assert!(heard.lock().unwrap().is_empty(), "alerted: {heard:?}");
    for o in plan.ops.iter().filter(|o| o.kind() != OpKind::Record) {
        assert!(
            !report.ok_ids.contains(&o.id),
            "{} {} told as done",
            o.kind().as_str(),
            o.path
        );
    }
    assert_eq!(h.left.get("x.txt").unwrap(), b"L", "nothing clobbered");
    // The next plan handles it, beside the name that appeared.
    let next = h.plan();
    assert_eq!(clash_of(&next), "x - clash 2.txt");
    let report = h.run_in(&mut state, &next, &h.sides(), &opts).unwrap();
    assert_eq!((report.conflicts, report.drifted), (1, 0), "{report:?}");
    assert_eq!(heard.lock().unwrap().len(), 1);
    assert_eq!(h.left.get("x - clash.txt").unwrap(), b"appeared");
}
