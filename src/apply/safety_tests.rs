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

/// A synced folder `D` (a file and an empty `D/keep`) under the rule
/// `D/keep/** exclude = true`, a file put in `D/keep` on the right (left
/// out by the rule), then `D` removed on the left.
fn removed_folder_holding_what_a_rule_leaves_out() -> super::tests::Harness {
    let h = harness("[[rules]]\npath = 'D/keep/**'\nexclude = true\n");
    h.left.put("D/a.txt", b"a");
    h.left.create_dir_all("D/keep").unwrap();
    h.sync();
    h.tick();
    h.right.put("D/keep/k.txt", b"k, left out by the rule");
    assert!(h.plan().ops.is_empty());
    h.left.remove_file("D/a.txt").unwrap();
    h.left.remove_dir("D/keep").unwrap();
    h.left.remove_dir("D").unwrap();
    h
}

/// Audit item 2, SPEC §3: what a `[[rules]]` entry excludes is never
/// deleted. The folder holding it is kept (and its parent), the rest of
/// the removed folder goes to trash as before, and the plans after that
/// are quiet.
#[test]
fn a_removed_folder_keeps_what_a_rule_leaves_out() {
    let h = removed_folder_holding_what_a_rule_leaves_out();
    let plan = h.plan();
    let kinds: Vec<(OpKind, &str)> = plan
        .ops
        .iter()
        .map(|o| (o.kind(), o.path.as_str()))
        .collect();
    assert_eq!(kinds, [(OpKind::Delete, "D/a.txt")]);
    let r = h.apply(&plan);
    assert!(r.failed.is_empty() && r.drifted == 0, "{r:?}");
    assert_eq!(
        h.right.get("D/keep/k.txt").as_deref(),
        Some(b"k, left out by the rule".as_slice())
    );
    assert!(h.right.get(".sync_trash/D/a.txt").is_some());
    assert!(h.plan().ops.is_empty());
    // Once what the rule leaves out is gone, the removal completes.
    h.right.remove_file("D/keep/k.txt").unwrap();
    let plan = h.plan();
    assert_eq!(
        plan.ops
            .iter()
            .filter(|o| o.kind() == OpKind::Rmdir)
            .count(),
        2,
        "{:?}",
        plan.ops
    );
    h.apply(&plan);
    assert!(!h.right.dump().keys().any(|k| k.starts_with('D')));
}

/// Audit item 2, defence in depth: a folder removal that meets, in the
/// folder, something a `[[rules]]` entry leaves out (a plan made from a
/// scan that did not see it) is skipped (drifted), nothing trashed; the
/// entries only the global `exclude` list leaves out (Thumbs.db, `~$`
/// lock files) still go to trash with the folder, as before.
#[test]
fn a_folder_removal_never_trashes_what_a_rule_leaves_out() {
    let h = removed_folder_holding_what_a_rule_leaves_out();
    let mut right = h.scan(Side::Right);
    right.ruled_out.clear();
    let stale = h.plan_for(crate::pipeline::PlanRequest {
        scans: Some([h.scan(Side::Left), right].into()),
        ..crate::pipeline::PlanRequest::default()
    });
    assert_eq!(
        stale
            .ops
            .iter()
            .filter(|o| o.kind() == OpKind::Rmdir)
            .count(),
        2,
        "{:?}",
        stale.ops
    );
    let r = h.apply(&stale);
    assert!(r.drifted >= 1, "{r:?}");
    assert_eq!(
        h.right.get("D/keep/k.txt").as_deref(),
        Some(b"k, left out by the rule".as_slice())
    );
    assert!(h.right.get(".sync_trash/D/keep/k.txt").is_none());
    // What the global list leaves out goes with its folder.
    let h = harness("");
    h.left.put("E/a.txt", b"a");
    h.sync();
    h.tick();
    h.right.put("E/Thumbs.db", b"thumbs");
    h.left.remove_file("E/a.txt").unwrap();
    h.left.remove_dir("E").unwrap();
    let r = h.sync();
    assert!(r.failed.is_empty() && r.drifted == 0, "{r:?}");
    assert!(h.right.get("E/Thumbs.db").is_none());
    assert!(h.right.get(".sync_trash/E/Thumbs.db").is_some());
}

/// Audit item 3 through the pipeline: a synced file renamed on the left to
/// a name the right cannot hold is not deleted on the right, with file ids
/// in the listings and with ids only when asked (as on Windows: the no-id
/// match, same folder, size and mtime); the skipped name is listed with
/// why; renamed again to a good name, it is a move.
#[test]
fn a_file_renamed_to_a_name_the_other_side_cannot_hold_is_not_deleted() {
    for on_query in [false, true] {
        let mut h = harness("");
        if on_query {
            h = h.ids_on_query();
        }
        h.synced(&[("d/ok.txt", "v1"), ("keep.txt", "k")]);
        h.left.rename("d/ok.txt", "d/ok?.txt").unwrap();
        let plan = h.plan();
        assert!(
            plan.ops.is_empty(),
            "ids on query {on_query}: {:?}",
            plan.ops
        );
        let skipped = h.state().skipped().unwrap();
        assert_eq!(skipped.len(), 1, "{skipped:?}");
        assert_eq!(
            (skipped[0].side, skipped[0].path.as_str()),
            (Side::Left, "d/ok?.txt")
        );
        assert_eq!(h.right.get("d/ok.txt").as_deref(), Some(b"v1".as_slice()));
        h.left.rename("d/ok?.txt", "d/ok2.txt").unwrap();
        let plan = h.plan();
        let kinds: Vec<OpKind> = plan.ops.iter().map(Op::kind).collect();
        assert_eq!(
            kinds,
            [OpKind::Move],
            "ids on query {on_query}: {:?}",
            plan.ops
        );
        h.apply(&plan);
        assert_eq!(live(&h.left), live(&h.right));
        assert!(h.state().skipped().unwrap().is_empty());
    }
}

/// Audit item 4: a folder that cannot be listed (permission denied: the
/// fault-injecting side, as tests run as root) loses nothing on the other
/// side, and it is a skipped path with why, so the health verdict says
/// "needs you" (`status` exit 5) instead of "in sync"; readable again, it
/// is no longer listed.
#[test]
fn an_unreadable_folder_is_a_skipped_path_and_nothing_in_it_is_deleted() {
    let h = harness("");
    h.synced(&[
        ("priv/a.txt", "a"),
        ("priv/sub/b.txt", "b"),
        ("keep.txt", "k"),
    ]);
    let sides = h
        .faults(Side::Left)
        .fail(ErrorClass::PermissionDenied, "list", "priv", u32::MAX)
        .sides();
    let state = h.state();
    let req = crate::pipeline::PlanRequest {
        now_ns: crate::now_ns(),
        ..crate::pipeline::PlanRequest::default()
    };
    let plan = crate::pipeline::make_plan(&h.cfg, &sides, &state, req)
        .unwrap()
        .0;
    assert!(plan.ops.is_empty(), "{:?}", plan.ops);
    let skipped = state.skipped().unwrap();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(
        (skipped[0].side, skipped[0].path.as_str()),
        (Side::Left, "priv")
    );
    assert!(skipped[0].reason.contains("injected fault"), "{skipped:?}");
    let facts = crate::health::Facts::read(&state, [(Side::Left, None), (Side::Right, None)], 0, 0)
        .unwrap();
    assert_eq!(
        crate::health::verdict(&facts).health,
        crate::health::Health::NeedsYou
    );
    drop(state);
    assert!(h.plan().ops.is_empty());
    assert!(h.state().skipped().unwrap().is_empty());
}

/// Audit item 5, SPEC §6: the mass-change guard counts content changes
/// from size and mtime. 21 of 40 files replaced by copies with the same
/// size and mtime (a restore from backup: new inodes) are no content
/// change to it: the plan is not refused, and nothing is copied.
#[test]
fn the_mass_change_guard_counts_size_and_mtime_only() {
    let h = harness("");
    super::tests::put_each(&h.left, 40, "f{i}.txt", "file {i}");
    h.sync();
    h.tick();
    for i in 0..21 {
        let (p, tmp) = (format!("f{i}.txt"), format!("x{i}.tmp"));
        let m = h.left.stat(&p).unwrap().unwrap();
        h.left.put(&tmp, &h.left.get(&p).unwrap());
        h.left.set_meta(&tmp, m.mtime, m.props).unwrap();
        h.left.rename(&tmp, &p).unwrap();
        assert_ne!(h.left.stat(&p).unwrap().unwrap().id, m.id, "a new inode");
    }
    let state = h.state();
    let req = crate::pipeline::PlanRequest {
        now_ns: crate::now_ns(),
        ..crate::pipeline::PlanRequest::default()
    };
    let plan = crate::pipeline::make_plan(&h.cfg, &h.sides(), &state, req)
        .map(|(p, _)| p)
        .map_err(|e| e.to_string());
    let plan = plan.unwrap();
    assert_eq!(plan.summary.changed_left, 0);
    assert!(
        plan.ops.iter().all(|o| o.kind() == OpKind::Record),
        "{:?}",
        plan.ops
    );
    drop(state);
    // Recorded: the next plans do not read them to hash them again.
    h.apply(&plan);
    let (sides, opened) = h.hooked(Side::Left).flag_when_opened("f0.txt");
    let req = crate::pipeline::PlanRequest {
        now_ns: crate::now_ns(),
        ..crate::pipeline::PlanRequest::default()
    };
    let plan = crate::pipeline::make_plan(&h.cfg, &sides, &h.state(), req)
        .unwrap()
        .0;
    assert!(plan.ops.is_empty(), "{:?}", plan.ops);
    assert!(
        !opened.load(std::sync::atomic::Ordering::SeqCst),
        "hashed again"
    );
}
