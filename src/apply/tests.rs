//! Apply through the in-memory and fault-injecting file systems: a power
//! cut after every possible number of writes, failing steps that do not
//! stop the others, and a property test over random edit sequences. The
//! harness and its builders are in `tests/harness.rs`.

use super::*;
use crate::Side;
use crate::fs::mem::MemFs;
use crate::fs::{Fs, Kind};
use crate::pipeline::{self, PlanRequest};
use std::sync::Arc;
use std::sync::atomic::AtomicI64;

mod harness;
pub(super) use harness::{Harness, harness, live, valid};
use harness::{assert_file, count, cut, has_rule, no_temps, noise, put_all, put_each, trashed};

/// A watch cycle's plan of only what its events named: the same ops as a
/// full plan for those paths, nothing for the rest, and unresolved
/// conflicts and failed paths always in it.
#[test]
fn a_scoped_plan_decides_its_paths_like_a_full_plan() {
    let h = harness("");
    put_each(&h.left, 6, "d{i}/f.txt", "v1");
    put_each(&h.left, 6, "d{i}/sub/g.txt", "v1");
    h.sync();
    h.tick();
    h.left.put("d1/f.txt", b"v2 left");
    h.right.remove_file("d2/sub/g.txt").unwrap();
    h.right.put("d3/new.txt", b"new right");
    h.left.put("d4/f.txt", b"outside the scope");
    let full = h.plan();
    let roots = pipeline::outermost(
        ["d1/f.txt", "d2/sub/g.txt", "d3/new.txt"]
            .map(String::from)
            .to_vec(),
    );
    let all = crate::PerSide::new(h.scan(Side::Left), h.scan(Side::Right));
    let scoped = h.plan_for(PlanRequest {
        scans: Some(crate::PerSide::new(
            all.left.subset(&roots),
            all.right.subset(&roots),
        )),
        scope: Some(roots.clone()),
        files_now: Some(crate::PerSide::new(
            all.left.file_count() as u64,
            all.right.file_count() as u64,
        )),
        ..PlanRequest::default()
    });
    let brief = |p: &Plan, keep: &dyn Fn(&str) -> bool| {
        let mut v: Vec<String> = p
            .ops
            .iter()
            .filter(|o| keep(&o.key))
            .map(|o| format!("{} {} {:?}", o.kind().as_str(), o.key, o.side()))
            .collect();
        v.sort();
        v
    };
    let in_scope = |k: &str| roots.iter().any(|r| paths::is_within(k, r));
    assert_eq!(brief(&scoped, &|_| true), brief(&full, &in_scope));
    assert!(
        brief(&full, &|k| k == "d4/f.txt").len() == 1,
        "the full plan sees d4"
    );
    assert!(
        brief(&scoped, &|k| k == "d4/f.txt").is_empty(),
        "outside the scope"
    );
    assert_eq!(scoped.summary.files_left, full.summary.files_left);
    assert_eq!(scoped.summary.files_right, full.summary.files_right);
    // A new file inside an unchanged folder is planned (the folder comes
    // with the subset, unchanged).
    assert!(scoped.ops.iter().any(|o| o.key == "d3/new.txt"));
}

/// A first-run adoption journals neither its record ops (the plan JSON
/// kept for resuming) nor a step row per record; a run stopped midway and
/// resumed records everything all the same.
#[test]
fn adoption_records_are_not_journalled_and_a_resumed_run_records_them() {
    let h = harness("");
    for i in 0..30 {
        let p = format!("d/f{i}.txt");
        h.left.put(&p, b"same");
        h.right.put(&p, b"same");
        let t = h.left.stat(&p).unwrap().unwrap().mtime;
        h.right.set_meta(&p, t, 0).unwrap();
    }
    let plan = h.plan();
    let records = count(&plan, &[OpKind::Record]);
    assert!(records >= 30, "{records}");
    let mut state = h.admitted(&plan, &h.sides());
    let journal: Plan =
        serde_json::from_str(&state.plan_json(&plan.plan_id).unwrap().unwrap()).unwrap();
    assert_eq!(count(&journal, &[OpKind::Record]), 0);
    // Stopped before anything ran, then resumed: all recorded, no step rows.
    let stop = std::sync::atomic::AtomicBool::new(true);
    let opts = Options {
        stop: Some(&stop),
        ..Options::default()
    };
    h.run_in(&mut state, &plan, &h.sides(), &opts).unwrap();
    assert!(state.load_files().unwrap().is_empty());
    stop.store(false, std::sync::atomic::Ordering::SeqCst);
    h.run_in(&mut state, &plan, &h.sides(), &opts).unwrap();
    assert!(state.step_status(&plan.plan_id).unwrap().is_empty());
    let rows = state.load_files().unwrap();
    assert!(
        rows.get("d/f29.txt")
            .is_some_and(|r| r.left.is_some() && r.right.is_some())
    );
    assert!(h.plan().ops.is_empty(), "nothing left to do");
}

/// A scenario giving a plan of well over 50 mixed steps.
fn scenario() -> Harness {
    let h = harness("");
    put_each(&h.left, 20, "docs/d{i}.txt", "doc {i} v1");
    put_each(&h.right, 20, "media/m{i}.txt", "media {i} v1");
    put_all(
        &h.left,
        &[
            ("shared/conflict.xlsx", "base"),
            ("Case.txt", "case"),
            ("Proj/inside.txt", "in a folder renamed by case"),
        ],
    );
    put_each(&h.left, 4, "vault/v{i}.bin", "vault {i}");
    h.sync();
    h.tick();
    put_each(&h.left, 8, "docs/d{i}.txt", "doc {i} v2 edited on left");
    for i in 0..8 {
        h.right.remove_file(&format!("media/m{i}.txt")).unwrap();
    }
    put_each(&h.right, 10, "new/n{i}.txt", "new {i} from right");
    put_each(&h.left, 10, "fresh/f{i}/x.txt", "fresh {i}");
    h.left.put("shared/conflict.xlsx", b"left version");
    h.tick();
    h.right.put("shared/conflict.xlsx", b"right version, newer");
    h.left.rename("Case.txt", "CASE.txt").unwrap();
    h.right.rename("Proj", "PROJ").unwrap();
    // Moves: a folder renamed on the left, a file moved on the right.
    h.left.rename("vault", "vault-2026").unwrap();
    h.right.create_dir_all("moved").unwrap();
    h.right.rename("docs/d15.txt", "moved/d15.txt").unwrap();
    h
}

/// Every version in a side's trash has its trash record (finding 6).
fn assert_trash_recorded(h: &Harness, n: i64) {
    let state = h.state();
    let records = state.trash_records().unwrap();
    for (side, m) in [(Side::Left, &h.left), (Side::Right, &h.right)] {
        for k in m
            .dump()
            .into_iter()
            .filter(|(_, d)| d.is_some())
            .map(|(k, _)| k)
        {
            if let Some(rel) = k.strip_prefix(".sync_trash/") {
                assert!(
                    records
                        .iter()
                        .any(|r| r.side == side && r.trash_path == rel),
                    "n={n}: {side} trash `{rel}` has no record: {records:?}"
                );
            }
        }
    }
}

#[test]
fn power_cut_after_every_write_then_resume_converges() {
    power_cuts(false, false);
}

/// The power goes off right after a write succeeds, before anything else
/// (the step's journal commit included) happens.
#[test]
fn power_cut_between_last_effect_and_commit_then_resume_converges() {
    power_cuts(true, false);
}

/// After the cut, the restart makes a new plan (as `apply` without a plan
/// file does) instead of resuming the interrupted one.
#[test]
fn power_cut_then_a_fresh_plan_converges() {
    power_cuts(true, true);
}

/// One run as `twinsync apply --auto-approve` does it: housekeeping,
/// plan, sweep of old copies' temp files, apply.
fn prepared_sync(h: &Harness) -> Result<Report, ApplyError> {
    let sides = h.sides();
    let mut state = State::open_or_create(&h.cfg.state_db).unwrap();
    prepare(&mut state, &h.cfg, &sides, &Logger::null())?;
    let req = PlanRequest {
        now_ns: crate::now_ns(),
        forced: true,
        ..PlanRequest::default()
    };
    let (plan, scans) = pipeline::make_plan(&h.cfg, &sides, &state, req).unwrap();
    for (side, scan) in scans.iter() {
        sweep_scan(&state, sides.get(side), side, scan, &Logger::null());
    }
    drop(state);
    h.apply_with(&plan, &sides)
}

fn power_cuts(after_write: bool, replan: bool) {
    let probe = scenario();
    let plan = probe.plan();
    assert!(plan.ops.len() >= 50, "only {} steps", plan.ops.len());
    let moves = count(&plan, &[OpKind::Move]);
    assert_eq!(moves, 2, "a folder and a file move in the plan");
    let mut n = 0;
    loop {
        let h = scenario();
        let plan = h.plan();
        let before = h.contents();
        let budget = Arc::new(AtomicI64::new(n));
        let faulty = Sides {
            left: Arc::new(cut(&h.left, &budget, after_write)),
            right: Arc::new(cut(&h.right, &budget, after_write)),
        };
        // After the cut every call fails: a step write (Stopped) or the marker check (Unavailable).
        let crashed = h.apply_with(&plan, &faulty).is_err();
        if replan {
            // Restart that plans afresh instead of resuming the same plan.
            for _ in 0..3 {
                let r = prepared_sync(&h).unwrap();
                assert!(r.failed.is_empty(), "n={n}: {:?}", r.failed);
            }
        } else {
            // Restart: the same plan again, on healthy disks.
            let report = h.apply(&plan);
            assert!(report.failed.is_empty(), "n={n}: {:?}", report.failed);
            let after = h.sync();
            assert_eq!(after.failed.len(), 0, "n={n}");
        }
        h.assert_converged_keeping(&before, n);
        let names = h.names();
        assert!(
            !names.iter().any(|p| p.contains(".~twinsync-")),
            "n={n}: temp file left: {names:?}"
        );
        assert!(
            !names.iter().any(|p| p.contains("clash 2")),
            "n={n}: a conflict was handled twice: {names:?}"
        );
        assert!(
            !h.plan().summary.has_changes(),
            "n={n}: a third plan still has work"
        );
        assert!(live(&h.left).contains_key("case.txt"));
        assert!(h.on_both("CASE.txt"), "n={n}: case rename lost");
        assert!(
            h.on_both("PROJ/inside.txt"),
            "n={n}: folder case rename lost"
        );
        assert_trash_recorded(&h, n);
        assert!(
            h.right.get("vault-2026/v3.bin").is_some() && h.left.get("moved/d15.txt").is_some(),
            "n={n}: moves not done"
        );
        if !crashed {
            break;
        }
        n += 1;
    }
    assert!(n >= 50, "the plan needed only {n} writes");
}

#[test]
fn one_failing_step_does_not_stop_the_others() {
    let h = harness("");
    put_each(&h.left, 5, "f{i}.txt", "x");
    h.left.put("locked.xlsx", b"in use");
    let sides = h
        .faults(Side::Right)
        .fail(ErrorClass::Locked, "rename", "locked", u32::MAX)
        .sides();
    let plan = h.plan();
    let r = h.apply_with(&plan, &sides).unwrap();
    assert_eq!(r.failed.len(), 1);
    assert_eq!(r.failed[0].class, ErrorClass::Locked);
    assert_eq!(r.copied, 5);
    let state = h.state();
    let f = state.failures().unwrap();
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].path, "locked.xlsx");
    // Next cycle, unlocked: it goes through and the failure is cleared.
    h.sync();
    assert_file(&h.right, "locked.xlsx", "in use");
    assert!(state.failures().unwrap().is_empty());
}

#[test]
fn source_changed_during_copy_is_discarded() {
    let h = harness("");
    h.left.put("a.txt", b"original");
    let plan = h.plan();
    // A reader that edits the source while it is being read.
    let sides = h
        .hooked(Side::Left)
        .on_open(|m, p| {
            if p == "a.txt" && m.get(p).as_deref() == Some(b"original".as_slice()) {
                m.advance(5_000_000_000);
                m.put(p, b"changed while copying!");
            }
        })
        .sides();
    let r = h.apply_with(&plan, &sides).unwrap();
    assert_eq!(r.drifted, 1);
    assert!(
        h.right.get("a.txt").is_none(),
        "a half-stale copy must not land"
    );
    no_temps(&h.right);
    h.sync();
    assert_file(&h.right, "a.txt", "changed while copying!");
}

/// Copies stream through a reader, a hasher and a writer thread in 1 MiB
/// pieces: a file of several pieces (and a short last one) lands byte for
/// byte with the right hash, and a read error in the middle fails the step,
/// leaves no temp file and no half copy, and the next run copies it whole.
#[test]
fn multi_chunk_copies_are_exact_and_a_read_error_midway_loses_nothing() {
    let h = harness("");
    let data = noise(5 * 1024 * 1024 + 12_345, 13);
    h.left.put("media/clip.mov", &data);
    let plan = h.plan();
    let sides = h.hooked(Side::Left).reads_fail_after(1_500_000).sides();
    let r = h.apply_with(&plan, &sides).unwrap();
    assert_eq!(r.failed.len(), 1, "{:?}", r.failed);
    assert!(h.right.get("media/clip.mov").is_none(), "no half copy");
    no_temps(&h.right);
    assert_eq!(h.left.get("media/clip.mov").unwrap(), data, "source intact");
    h.sync();
    assert_eq!(h.right.get("media/clip.mov").unwrap(), data);
    let state = h.state();
    let rows = state.load_files().unwrap();
    let row = rows.get("media/clip.mov").unwrap();
    let want = blake3::hash(&data).to_hex().to_string();
    assert_eq!(
        row.left.as_ref().unwrap().hash.as_deref(),
        Some(want.as_str())
    );
    assert_eq!(
        row.right.as_ref().unwrap().hash.as_deref(),
        Some(want.as_str())
    );
}

/// A write that fails in the middle of a large (pipelined) copy, as when
/// the destination disk fills up: the step fails, the destination keeps its
/// old version (no half copy under the real name, no temp file left), the
/// source is untouched, and the next run copies it whole.
#[test]
fn a_write_error_midway_through_a_large_copy_loses_nothing() {
    let h = harness("");
    let old = b"the version the right side had".to_vec();
    h.left.put("media/clip.mov", &old);
    h.sync();
    h.tick();
    let data = noise(6 * 1024 * 1024 + 999, 11);
    h.left.put("media/clip.mov", &data);
    let plan = h.plan();
    let sides = h.hooked(Side::Right).writes_fail_after(2_500_000).sides();
    let r = h.apply_with(&plan, &sides).unwrap();
    assert_eq!(r.failed.len(), 1, "{:?}", r.failed);
    assert!(r.failed[0].error.contains("no space left"), "{r:?}");
    let kept = h.right.get("media/clip.mov").unwrap();
    assert_eq!(kept, old, "old version kept");
    no_temps(&h.right);
    assert_eq!(h.left.get("media/clip.mov").unwrap(), data, "source intact");
    h.sync();
    assert_eq!(h.right.get("media/clip.mov").unwrap(), data);
    let in_trash = trashed(&h.right).contains(&old);
    assert!(in_trash, "the replaced version went to the trash");
}

#[test]
fn unavailable_side_mid_apply_stops_nothing_else_and_loses_nothing() {
    let h = harness("");
    put_each(&h.left, 4, "f{i}", "data");
    let plan = h.plan();
    h.right.set_root_present(false);
    let mut state = State::open_or_create(&h.cfg.state_db).unwrap();
    let e = admit(&plan, &h.cfg, &h.sides(), &mut state, false).unwrap_err();
    assert!(matches!(e, ApplyError::Unavailable(_)));
    h.right.set_root_present(true);
    h.apply(&plan);
    assert_eq!(live(&h.left), live(&h.right));
}

mod prop;

#[test]
fn failed_steps_alert_once_and_locks_only_when_they_persist() {
    for (class, expected) in [(ErrorClass::PermissionDenied, 1), (ErrorClass::Locked, 0)] {
        let h = harness("");
        h.left.put("doc.txt", b"x");
        let sides = h
            .faults(Side::Right)
            .fail(class, "rename", "doc.txt", u32::MAX)
            .sides();
        let alerts = std::sync::Mutex::new(0);
        let on_event = |_: &Op, err: &str| {
            if !err.is_empty() {
                *alerts.lock().unwrap() += 1;
            }
        };
        for _ in 0..3 {
            let plan = h.plan();
            let mut state = h.admitted(&plan, &sides);
            let opts = Options {
                on_event: Some(&on_event),
                ..Options::default()
            };
            let r = h.run_in(&mut state, &plan, &sides, &opts).unwrap();
            assert_eq!(r.failed.len(), 1);
        }
        assert_eq!(*alerts.lock().unwrap(), expected, "{class:?}");
    }
}

#[test]
fn a_root_that_vanishes_mid_apply_stops_it_before_writing_there() {
    let h = harness("");
    put_each(&h.left, 6, "d/f{i}.txt", "data");
    let plan = h.plan();
    let mut state = h.admitted(&plan, &h.sides());
    // The drive is unmounted: only an empty mount point is left.
    h.right.remove_file(paths::MARKER_NAME).unwrap();
    let opts = Options::default();
    let e = h.run_in(&mut state, &plan, &h.sides(), &opts).unwrap_err();
    assert!(matches!(e, ApplyError::Unavailable(_)), "{e}");
    assert!(
        h.right.dump().keys().all(|k| !k.starts_with('d')),
        "nothing written to the mount point"
    );
    // Back: the same plan resumes and completes.
    h.right.put(paths::MARKER_NAME, br#"{"root_id":"R"}"#);
    let r = h.run_in(&mut state, &plan, &h.sides(), &opts).unwrap();
    assert_eq!(r.copied, 6);
}

// Regression tests from the review of the first release candidate.

/// A "not found" while re-listing a folder (a dropped share says that too)
/// must not read as "the folder is gone": nothing may be deleted on the other side.
#[test]
fn rescan_not_found_blip_does_not_plan_deletes() {
    let h = harness("");
    put_each(&h.left, 10, "projects/p{i}.txt", "project data");
    put_each(&h.left, 30, "other/o{i}.txt", "other");
    h.sync();
    h.tick();
    let cfg = &h.cfg;
    let ex = cfg.excluder(Side::Left).unwrap();
    let mut cache = h.scan(Side::Left);
    h.left.put("projects/new.txt", b"new");
    let faulty = h
        .faults(Side::Left)
        .fail(ErrorClass::NotFound, "list", "projects", 1)
        .fs();
    let dirty: std::collections::HashSet<String> = ["projects/new.txt".to_owned()].into();
    crate::scan::rescan_dirs(
        &faulty,
        Side::Left,
        &ex,
        cfg.case_sensitive,
        &mut cache,
        &dirty,
    )
    .unwrap();
    assert!(
        cache.entries.keys().any(|k| k.starts_with("projects/")),
        "the subtree must stay"
    );
    let plan = h.plan_for(PlanRequest {
        scans: Some([cache, h.scan(Side::Right)].into()),
        ..PlanRequest::default()
    });
    let deletes = count(&plan, &[OpKind::Delete, OpKind::Rmdir]);
    assert_eq!(deletes, 0, "{:?}", plan.ops);
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

/// A folder deleted on one side whose twin holds a name the scan skips is
/// not re-planned for removal every cycle.
#[test]
fn folder_holding_a_skipped_name_does_not_loop() {
    let h = harness("");
    h.synced(&[("proj/a.txt", "a")]);
    h.right
        .put("proj/aux.txt", b"reserved name, skipped by the scan");
    h.left.remove_file("proj/a.txt").unwrap();
    h.left.remove_dir("proj").unwrap();
    let mut drifted = 0;
    for _ in 0..4 {
        h.tick();
        drifted += h.sync().drifted;
    }
    assert_eq!(drifted, 0);
    assert!(
        h.right.get("proj/aux.txt").is_some(),
        "the skipped file is left alone"
    );
}

/// A crash between "old version to trash" and "temp renamed into place":
/// the resumed step records the trash entry too.
#[test]
fn copy_recovery_records_the_trashed_version() {
    let h = harness("");
    h.synced(&[("f.txt", "v1")]);
    h.left.put("f.txt", b"v2 longer");
    let plan = h.plan();
    // create temp, its times (on the handle), a first try at the trash (no
    // folder there yet), the trash folder, move to trash: then the power goes.
    let sides = h.faults(Side::Right).crash_after(5).sides();
    assert!(h.apply_with(&plan, &sides).is_err());
    assert!(
        h.right.get("f.txt").is_none(),
        "crashed between trash and rename"
    );
    let r = h.apply(&plan);
    assert_eq!(r.recovered, 1);
    assert_file(&h.right, "f.txt", "v2 longer");
    let state = h.state();
    let recs = state.trash_records().unwrap();
    assert_eq!(recs.len(), 1);
    assert_eq!(
        h.right
            .get(&format!(".sync_trash/{}", recs[0].trash_path))
            .unwrap(),
        b"v1"
    );
}

/// Finished small copies are journalled a batch at a time. A power cut
/// partway through a batch leaves copies on disk that the journal does not
/// have yet: the resumed run recognises each of them on disk (recovered),
/// copies only the rest, and loses nothing.
#[test]
fn a_power_cut_inside_a_journal_batch_is_recovered_not_copied_again() {
    let h = harness("");
    put_each(&h.left, 10, "f{i}.txt", "version {i}");
    let plan = h.plan();
    let sides = h.faults(Side::Right).crash_after(20).sides();
    assert!(h.apply_with(&plan, &sides).is_err());
    let landed: Vec<usize> = (0..10)
        .filter(|i| h.right.get(&format!("f{i}.txt")).is_some())
        .collect();
    assert!(
        landed.len() >= 2 && landed.len() < 10,
        "the cut falls inside the batch: {landed:?}"
    );
    let journalled = h.state().step_status(&plan.plan_id).unwrap();
    assert!(
        journalled.values().all(|s| *s != StepStatus::Done),
        "the batch was never written: {journalled:?}"
    );
    let r = h.apply_clean(&plan, &h.sides());
    assert_eq!(r.recovered, landed.len() as u64, "{r:?}");
    let rest = 10 - landed.len() as u64;
    assert_eq!(r.to_right, rest, "only the rest is copied: {r:?}");
    for i in 0..10 {
        assert_file(&h.right, &format!("f{i}.txt"), &format!("version {i}"));
    }
    assert_eq!(
        h.state().plan_status(&plan.plan_id).unwrap(),
        Some(PlanStatus::Done)
    );
    assert!(h.plan().ops.is_empty(), "in sync after the resume");
}

/// "Already done" needs the same bytes, not just the same size and mtime.
#[test]
fn copy_recovery_does_not_accept_different_content() {
    let h = harness("");
    h.synced(&[("seed.txt", "x")]);
    h.left.put("n.txt", b"AAAA left");
    let plan = h.plan();
    h.right.put("n.txt", b"BBBB righ");
    let r = h.apply(&plan);
    assert_eq!(r.recovered, 0);
    assert_eq!(r.drifted, 1);
    h.tick();
    h.sync();
    assert_eq!(h.left.get("n.txt"), h.right.get("n.txt"));
    let clash = live(&h.left)
        .into_keys()
        .filter(|k| k.contains("clash"))
        .count();
    assert_eq!(clash, 1, "a 6.2.2 conflict kept both versions");
}

/// A trash folder equal to its root, or inside the other root, is a config error.
#[test]
fn trash_root_equal_to_a_root_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    let (left, right) = (dir.path().join("L"), dir.path().join("R"));
    for trash in [
        left.display().to_string(),
        right.join("t").display().to_string(),
    ] {
        let text = format!(
            "left_root = '{}'\nright_root = '{}'\nstate_db = 's.db'\n[soft_delete]\nleft_trash_root = '{trash}'\n",
            left.display(),
            right.display()
        );
        let e = Config::parse(&file, &text).unwrap_err().to_string();
        assert!(e.contains("soft_delete.left_trash_root"), "{e}");
    }
}

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

/// Regression (issue 8, finding 2): `watch` swept an item parked under a
/// temp name as a "leftover temp file". Only copies' temp files of plans no
/// longer running are removed; a folder under a temp name that nothing
/// explains holds what its folder lost.
#[test]
fn only_copy_temp_files_are_swept_and_unexplained_temps_are_held() {
    let h = harness("");
    h.synced(&[("d/keep.txt", "user data"), ("d/other.txt", "other")]);
    // An older build parked `d/keep.txt` under a copy-style temp name, as a folder
    // would be; and a real leftover copy temp lies next to it.
    h.right
        .rename("d/keep.txt", "d/.~twinsync-0000abcd-3-case.tmp")
        .unwrap();
    h.right.put("d/.~twinsync-0000abcd-4.tmp", b"partial copy");
    let plan = h.plan();
    let deletes = count(&plan, &[OpKind::Delete]);
    assert_eq!(deletes, 0, "the left's keep.txt is held: {:?}", plan.ops);
    let state = h.state();
    let temps = vec![
        "d/.~twinsync-0000abcd-3-case.tmp".to_owned(),
        "d/.~twinsync-0000abcd-4.tmp".to_owned(),
    ];
    let removed = sweep_temps(&state, &h.right, Side::Right, &temps, &Logger::null());
    assert_eq!(removed, vec!["d/.~twinsync-0000abcd-4.tmp".to_owned()]);
    assert!(h.right.get("d/.~twinsync-0000abcd-3-case.tmp").is_some());
}

/// Regression (issue 8, finding 4): a plan made from a scan older than a
/// copy that finished meanwhile (the large-file lane) deleted the copy's
/// source. A delete decided by the other side's delete looks again, right
/// before it runs, that the other side still lacks the path.
#[test]
fn delete_is_confirmed_against_the_other_side_before_it_runs() {
    let h = harness("[soft_delete]\nenabled = false");
    h.synced(&[("media/big.mov", "only copy of a large file")]);
    h.right.remove_file("media/big.mov").unwrap();
    let stale = h.plan();
    assert!(count(&stale, &[OpKind::Delete]) > 0);
    // The right gets it back before the plan runs (a copy finishing, a user).
    h.right.put("media/big.mov", b"only copy of a large file");
    let r = h.apply_with(&stale, &h.sides()).unwrap();
    assert_eq!(r.hard_deletes, 0, "{r:?}");
    assert_eq!(r.drifted, 1);
    assert!(h.left.get("media/big.mov").is_some());
}

/// Regression (issue 8, finding 5): when the final rename of a copy and the
/// put-back of the version it replaced both failed, the path was left empty
/// and the next plan read that as a delete.
#[test]
fn failed_final_rename_never_leaves_the_path_empty() {
    // Put-back works: the old version is back at once.
    let (h, r) = final_rename_fails("v2 from the left", 1, 0);
    assert_eq!(r.failed.len(), 1);
    assert_file(&h.right, "a.txt", "v1");
    h.tick();
    h.sync();
    assert_file(&h.right, "a.txt", "v2 from the left");

    // Put-back fails too: the rename is retried; when it keeps failing, the new
    // version is parked (held, then put in place) and the old one is recorded in trash.
    let (h, r) = final_rename_fails("v2 from the left", 4, 1);
    assert_eq!(r.failed.len(), 1, "{r:?}");
    assert!(h.right.get("a.txt").is_none());
    assert_trash_recorded(&h, 0);
    let next = h.plan();
    let deletes = count(&next, &[OpKind::Delete]);
    let why = "the left's a.txt must not be deleted";
    assert_eq!(deletes, 0, "{why}: {:?}", next.ops);
    let state = h.state();
    let stuck = recover_parked(&state, &h.sides(), &Logger::null()).unwrap();
    assert!(stuck.is_empty());
    assert_file(&h.right, "a.txt", "v2 from the left");
    h.tick();
    h.sync();
    assert!(h.plan().ops.is_empty(), "{:?}", h.plan().ops);
    assert_eq!(h.left.get("a.txt"), h.right.get("a.txt"));
    assert_file(&h.right, ".sync_trash/a.txt", "v1");

    // It succeeds on a retry: done, with the trash record.
    let (h, r) = final_rename_fails("v2", 2, 1);
    assert!(r.failed.is_empty(), "{r:?}");
    assert_file(&h.right, "a.txt", "v2");
    assert_trash_recorded(&h, 0);
}

/// `a.txt` synced as `v1` and edited to `v2` on the left, applied while the
/// right refuses the copy's final rename `tmp_fails` times and the put-back
/// of the old version `back_fails` times.
fn final_rename_fails(v2: &str, tmp_fails: u32, back_fails: u32) -> (Harness, Report) {
    let h = harness("");
    h.synced(&[("a.txt", "v1")]);
    h.left.put("a.txt", v2.as_bytes());
    let plan = h.plan();
    let sides = h
        .faults(Side::Right)
        .fail(ErrorClass::Locked, "rename", ".tmp → a.txt", tmp_fails)
        .fail(
            ErrorClass::Locked,
            "rename",
            ".sync_trash/a.txt → a.txt",
            back_fails,
        )
        .sides();
    let r = h.apply_with(&plan, &sides).unwrap();
    (h, r)
}

/// Regression (issue 8, finding 7): a pair adopted on the first run has no
/// stored hash, so a re-stamp (same bytes, new mtime) was copied over as a
/// content change and the other side's identical file went to trash.
#[test]
fn restamp_of_an_adopted_pair_is_a_property_change() {
    let h = harness("");
    h.left.put("report.pdf", b"the same bytes on both sides");
    h.right.put("report.pdf", b"the same bytes on both sides");
    let first = h.plan();
    let records = count(&first, &[OpKind::Record]);
    assert_eq!(records, first.ops.len(), "{:?}", first.ops);
    h.sync();
    h.tick();
    // An antivirus re-stamps the left copy.
    let bytes = h.left.get("report.pdf").unwrap();
    h.left.put("report.pdf", &bytes);
    let plan = h.plan();
    let changes = count(&plan, &[OpKind::Copy, OpKind::Delete]);
    assert_eq!(changes, 0, "{:?}", plan.ops);
    assert!(has_rule(&plan, OpKind::SetProps, "6.2.11"));
    let r = h.apply(&plan);
    assert_eq!((r.copied, r.soft_deletes), (0, 0), "{r:?}");
    assert!(h.right.get(".sync_trash/report.pdf").is_none());
    assert!(h.plan().ops.is_empty());
    // A real edit with the same size is still a content change.
    h.tick();
    h.left.put("report.pdf", b"THE SAME BYTES ON BOTH SIDES");
    let plan = h.plan();
    assert!(count(&plan, &[OpKind::Copy]) > 0, "{:?}", plan.ops);
}

/// Finding 7, second half: once the background hasher has stored the
/// adopted pair's hash, a re-stamp on one side plus a real edit on the
/// other is the edit winning (6.2.4), not a conflict that keeps the old bytes.
#[test]
fn background_hashes_let_a_restamp_lose_to_a_real_edit() {
    let h = harness("");
    for side in [&h.left, &h.right] {
        put_each(side, 3, "doc{i}.txt", "shared document {i}");
    }
    h.sync();
    let state = h.state();
    let mut cursor = String::new();
    let n = pipeline::hash_adopted(
        &h.cfg,
        &h.sides(),
        &state,
        &mut cursor,
        std::time::Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(n, 3);
    assert!(state.unhashed_pairs("", 10, u64::MAX).unwrap().is_empty());
    h.tick();
    let bytes = h.left.get("doc1.txt").unwrap();
    h.left.put("doc1.txt", &bytes); // re-stamped
    h.right.put("doc1.txt", b"shared document 1, edited");
    let plan = h.plan();
    assert_eq!(count(&plan, &[OpKind::Conflict]), 0, "{:?}", plan.ops);
    assert!(has_rule(&plan, OpKind::Copy, "6.2.4"));
    h.apply(&plan);
    assert_file(&h.left, "doc1.txt", "shared document 1, edited");
}

/// A stop request (service stop, Ctrl-C) lets the small copy in progress
/// finish and be recorded (SPEC §2); the steps after it wait for the restart.
#[test]
fn stop_request_lets_the_small_step_in_progress_finish() {
    let h = harness("");
    put_all(&h.left, &[("a.txt", "first"), ("b.txt", "second file")]);
    let plan = h.plan();
    // Stop requested while a.txt is read.
    let (sides, stop) = h.hooked(Side::Left).flag_when_opened("a.txt");
    let mut state = h.admitted(&plan, &sides);
    let opts = Options {
        stop: Some(&stop),
        ..Options::default()
    };
    let r = h.run_in(&mut state, &plan, &sides, &opts).unwrap();
    assert_eq!(r.copied, 1, "{r:?}");
    assert_file(&h.right, "a.txt", "first");
    assert!(h.right.get("b.txt").is_none(), "later steps wait");
    no_temps(&h.right);
}

/// SPEC §13: crash recovery of a copy never reads a cloud placeholder just
/// to hash it; size and mtime have to do.
#[test]
fn copy_recovery_does_not_hydrate_a_placeholder() {
    let h = harness("");
    h.synced(&[("media.mov", "v1")]);
    h.left.put("media.mov", b"v2 longer");
    let plan = h.plan();
    // The copy landed before a crash (not recorded); the cloud client has
    // since turned the file into a placeholder.
    let src = h.left.stat("media.mov").unwrap().unwrap();
    h.right.put("media.mov", b"v2 longer");
    h.right.set_meta("media.mov", src.mtime, src.props).unwrap();
    h.right.set_offline("media.mov", true);
    let (sides, opened) = h.hooked(Side::Right).flag_when_opened("media.mov");
    let r = h.apply_with(&plan, &sides).unwrap();
    assert_eq!(r.recovered, 1, "{r:?}");
    assert!(
        !opened.load(std::sync::atomic::Ordering::SeqCst),
        "the placeholder was read"
    );
}

/// Windows listings carry no file ids: ids are asked for one path at a time
/// for what twinsync records and for files new where others are gone, so a
/// rename (another name, which the no-id match cannot pair) is still a move.
#[test]
fn renames_are_moves_where_ids_come_only_on_request() {
    let mut h = harness("");
    h.left = MemFs::new("left", true, 2_000_000_000).ids_on_query();
    h.left.put(paths::MARKER_NAME, br#"{"root_id":"L"}"#);
    h.right = MemFs::new("right", true, 2_000_000_000).ids_on_query();
    h.right.put(paths::MARKER_NAME, br#"{"root_id":"R"}"#);
    h.left
        .put("adopted.docx", b"on both sides at the first run");
    h.right
        .put("adopted.docx", b"on both sides at the first run");
    h.left.put("copied.mp4", b"media copied by twinsync");
    h.sync();
    h.tick();
    h.left
        .rename("adopted.docx", "adopted (final).docx")
        .unwrap();
    h.right.rename("copied.mp4", "copied renamed.mp4").unwrap();
    let plan = h.plan();
    assert_eq!(count(&plan, &[OpKind::Move]), 2, "{:?}", plan.ops);
    let r = h.apply(&plan);
    assert_eq!((r.moves, r.copied, r.soft_deletes), (2, 0, 0), "{r:?}");
    assert!(h.right.get("adopted (final).docx").is_some());
    assert!(h.left.get("copied renamed.mp4").is_some());
    assert!(h.plan().ops.is_empty());
}

/// What a run tells its [`Progress`]: the steps and bytes to do, then per
/// step its start and end, and between them the bytes a copy writes as
/// it writes them: a large file in many calls (its bar moves while it
/// copies), adding up to its size, in the small and in the pipelined loop.
#[test]
fn progress_hears_each_step_and_the_bytes_a_copy_writes_as_it_goes() {
    #[derive(Default)]
    struct Heard(std::sync::Mutex<Vec<(String, u64)>>);
    impl Heard {
        fn note(&self, what: &str, n: u64) {
            self.0.lock().unwrap().push((what.to_owned(), n));
        }
    }
    impl Progress for Heard {
        fn begin(&self, steps: u64, bytes: u64) {
            self.note(&format!("begin {steps}"), bytes);
        }
        fn step_start(&self, op: &Op) {
            self.note(&format!("start {}", op.path), op.bytes);
        }
        fn copied(&self, n: u64) {
            self.note("copied", n);
        }
        fn step_end(&self, op: &Op) {
            self.note(&format!("end {}", op.path), 0);
        }
    }
    let h = harness("");
    let big = vec![7u8; 9 * 1024 * 1024 + 5];
    let medium = vec![1u8; 600 * 1024];
    h.left.put("big.bin", &big);
    h.left.put("medium.bin", &medium);
    h.left.put("d/small.txt", b"hello");
    let plan = h.plan();
    let mut state = h.admitted(&plan, &h.sides());
    let heard = Heard::default();
    let opts = Options {
        progress: Some(&heard),
        ..Options::default()
    };
    let report = h.run_in(&mut state, &plan, &h.sides(), &opts).unwrap();
    assert_eq!(report.copied, 3);
    let heard = heard.0.into_inner().unwrap();
    let total = (big.len() + medium.len() + 5) as u64;
    // Three copies and the folder `d`.
    assert_eq!(heard[0], ("begin 4".to_owned(), total));
    for (path, size, min_calls) in [
        ("big.bin", big.len(), 9),
        ("medium.bin", medium.len(), 3),
        ("d/small.txt", 5, 1),
    ] {
        let start = heard
            .iter()
            .position(|(w, _)| *w == format!("start {path}"))
            .unwrap();
        let end = heard
            .iter()
            .position(|(w, _)| *w == format!("end {path}"))
            .unwrap();
        let calls: Vec<u64> = heard[start + 1..end].iter().map(|(_, n)| *n).collect();
        assert!(
            heard[start + 1..end].iter().all(|(w, _)| w == "copied"),
            "{path}: {heard:?}"
        );
        assert_eq!(calls.iter().sum::<u64>(), size as u64, "{path}");
        assert!(calls.len() >= min_calls, "{path}: {calls:?}");
    }
    let ends = heard.iter().filter(|(w, _)| w.starts_with("end ")).count();
    assert_eq!(ends, 4, "every step ends: {heard:?}");
}

/// A right side that takes path components of at most 255 bytes and whole
/// paths of at most `max_path` bytes, as a `MAX_PATH`-style cloud drive.
fn limited_right(h: &Harness, max_path: usize) -> Sides {
    h.faults(Side::Right).limit_names(255, max_path).sides()
}

/// A relative path of exactly `len` bytes ending in `/name`.
fn path_of_len(len: usize, name: &str) -> String {
    let dir = format!("Projects/Client/{}", "d".repeat(len - 16 - name.len() - 1));
    let p = format!("{dir}/{name}");
    assert_eq!(p.len(), len);
    p
}

/// Issue 18, item 6: a file whose path is exactly at the drive's length
/// limit copies (its temp file fits where it fits), and so does one whose
/// name is at the component limit; nothing fails, no temp file is left.
#[test]
fn files_at_the_drives_length_limit_copy_through_a_temp_that_fits() {
    let h = harness("");
    let sides = limited_right(&h, 120);
    let short_name = path_of_len(120, "a.txt");
    let long_name = path_of_len(120, &format!("{}.docx", "n".repeat(30)));
    let at_component_limit = format!("Projects/{}.pdf", "c".repeat(251));
    for p in [&short_name, &long_name] {
        h.left.put(p, p.as_bytes());
    }
    h.left.put("top.txt", b"a short path");
    let plan = h.plan();
    h.apply_clean(&plan, &sides);
    for p in [&short_name, &long_name] {
        assert_eq!(h.right.get(p).as_deref(), Some(p.as_bytes()));
    }
    assert_file(&h.right, "top.txt", "a short path");
    no_temps(&h.right);
    // A name of 255 bytes, on a drive whose whole-path limit is far away.
    h.tick();
    h.left.put(&at_component_limit, b"long name");
    let sides = limited_right(&h, 4096);
    h.apply_clean(&h.plan(), &sides);
    assert_file(&h.right, &at_component_limit, "long name");
    no_temps(&h.right);
    assert!(h.plan().ops.is_empty());
}

/// Issue 18, item 6: files whose trash path would be too long for the
/// drive are overwritten and soft-deleted all the same, into a short trash
/// name; the trash records keep their original paths, and a restore puts
/// a file back there.
#[test]
fn versions_too_long_for_the_trash_go_to_a_short_trash_name_and_restore() {
    let h = harness("");
    let sides = limited_right(&h, 120);
    let edited = path_of_len(120, "budget.xlsx");
    let deleted = path_of_len(115, "minutes of the meeting.docx");
    h.left.put(&edited, b"budget v1");
    h.left.put(&deleted, b"minutes v1");
    h.apply_clean(&h.plan(), &sides);
    h.tick();
    h.left.put(&edited, b"budget v2");
    h.left.remove_file(&deleted).unwrap();
    let r = h.apply_clean(&h.plan(), &sides);
    assert_eq!((r.copied, r.soft_deletes), (1, 1), "{r:?}");
    assert_file(&h.right, &edited, "budget v2");
    assert!(h.right.get(&deleted).is_none());
    no_temps(&h.right);
    let state = h.state();
    let mut recs = state.trash_records().unwrap();
    recs.sort_by(|a, b| a.original_path.cmp(&b.original_path));
    assert_eq!(
        recs.iter()
            .map(|r| r.original_path.as_str())
            .collect::<Vec<_>>(),
        [deleted.as_str(), edited.as_str()]
    );
    for (rec, body, name) in [
        (
            &recs[0],
            b"minutes v1".as_slice(),
            "minutes of the meeting.docx",
        ),
        (&recs[1], b"budget v1".as_slice(), "budget.xlsx"),
    ] {
        assert_eq!(rec.side, Side::Right);
        assert!(rec.trash_path.starts_with(".long/"), "{}", rec.trash_path);
        assert!(rec.trash_path.ends_with(name), "{}", rec.trash_path);
        let full = format!(".sync_trash/{}", rec.trash_path);
        assert!(full.len() <= 120, "{full}");
        assert_eq!(h.right.get(&full).as_deref(), Some(body));
    }
    assert!(h.plan().ops.is_empty(), "settled");
    // Restored by its original path, back at its original path.
    let rec = trash::restore(
        &h.cfg,
        &state,
        &sides,
        &Logger::null(),
        &deleted,
        None,
        None,
    )
    .unwrap();
    assert_eq!(rec.original_path, deleted);
    assert_file(&h.right, &deleted, "minutes v1");
    assert_eq!(state.trash_records().unwrap().len(), 1);
    // The next cycle syncs it back to the left.
    h.tick();
    h.apply_clean(&h.plan(), &sides);
    assert_file(&h.left, &deleted, "minutes v1");
}

/// Issue 18, item 6, under power cuts: with the copy temps and trash
/// entries of paths at the drive's limit under their short names, a cut
/// after any write (or right after its effect, before the journal) and a
/// resume of the same plan converge, lose nothing, leave no temp file and
/// record every trash entry.
#[test]
fn power_cuts_at_the_length_limit_resume_through_the_short_names() {
    for after_write in [false, true] {
        let mut n = 0;
        loop {
            let h = harness("");
            let edited_short = path_of_len(120, "a.txt");
            let edited_long = path_of_len(120, "the quarterly figures.xlsx");
            let deleted = path_of_len(116, "old notes.txt");
            let created = path_of_len(120, "new.txt");
            for p in [&edited_short, &edited_long, &deleted] {
                h.left.put(p, format!("{p} v1").as_bytes());
            }
            h.apply_clean(&h.plan(), &limited_right(&h, 120));
            h.tick();
            for p in [&edited_short, &edited_long, &created] {
                h.left.put(p, format!("{p} v2, longer").as_bytes());
            }
            h.left.remove_file(&deleted).unwrap();
            let before = h.contents();
            let plan = h.plan();
            let right = cut(&h.right, &Arc::new(AtomicI64::new(n)), after_write);
            right.limit_names(255, 120);
            let faulty = h.sides_with(Side::Right, Arc::new(right));
            let crashed = h.apply_with(&plan, &faulty).is_err();
            // Restart: the same plan again, the power back on.
            let sides = limited_right(&h, 120);
            let r = h.apply_with(&plan, &sides).unwrap();
            assert!(r.failed.is_empty(), "n={n}: {:?}", r.failed);
            h.assert_converged_keeping(&before, n);
            no_temps(&h.right);
            assert_trash_recorded(&h, n);
            let state = h.state();
            assert_eq!(
                state.trash_records().unwrap().len(),
                3,
                "n={n}: two replaced versions and a deleted file"
            );
            let r = h.apply_with(&h.plan(), &sides).unwrap();
            assert!(r.failed.is_empty(), "n={n}: {:?}", r.failed);
            assert!(!h.plan().summary.has_changes(), "n={n}: still has work");
            if !crashed {
                break;
            }
            n += 1;
        }
        assert!(n >= 8, "the plan needed only {n} writes");
    }
}

/// The sweep removes a leftover copy temp under the short name (issue 18,
/// item 6) as under the regular one, and an older build's, unless the plan
/// owning it is still running.
#[test]
fn short_and_old_temp_names_are_swept_unless_their_plan_runs() {
    let h = harness("");
    let running = "5b7e01c2-0000-4000-8000-000000000001";
    let over = "9d31aa07-0000-4000-8000-000000000002";
    let mut state = State::open_or_create(&h.cfg.state_db).unwrap();
    state.begin_plan(running, 0).unwrap();
    let mut temps = Vec::new();
    for id in [running, over] {
        let [regular, short] = paths::copy_temps("d/report.docx", id, 12);
        let old = format!(
            "d/.~twinsync-{}-12.tmp",
            id.chars()
                .filter(char::is_ascii_alphanumeric)
                .take(8)
                .collect::<String>()
        );
        for t in [regular, short, old] {
            h.right.put(&t, b"partial copy");
            temps.push(t);
        }
    }
    let removed = sweep_temps(&state, &h.right, Side::Right, &temps, &Logger::null());
    assert_eq!(removed, temps[3..].to_vec(), "only the finished plan's");
    for t in &temps[..3] {
        assert!(h.right.get(t).is_some(), "{t} belongs to a running plan");
    }
}

/// Windows reports a path over `MAX_PATH` as "path not found": a copy whose
/// temp file is refused that way goes through the short temp name, and a
/// replaced version refused its full trash path that way goes to a short
/// trash name.
#[test]
fn a_path_not_found_refusal_is_read_as_too_long_like_windows_reports_it() {
    let h = harness("");
    h.synced(&[("docs/plan.txt", "v1")]);
    h.left.put("docs/plan.txt", b"v2");
    let sides = h
        .faults(Side::Right)
        .fail(ErrorClass::NotFound, "create", "docs/.~twinsync-", 1)
        // (refused every time, as Windows does for a path over MAX_PATH)
        .fail(
            ErrorClass::NotFound,
            "rename",
            "→ .sync_trash/docs/",
            u32::MAX,
        )
        .sides();
    h.apply_clean(&h.plan(), &sides);
    assert_file(&h.right, "docs/plan.txt", "v2");
    let state = h.state();
    let recs = state.trash_records().unwrap();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].original_path, "docs/plan.txt");
    assert!(
        recs[0].trash_path.starts_with(".long/"),
        "{}",
        recs[0].trash_path
    );
    assert_file(
        &h.right,
        &format!(".sync_trash/{}", recs[0].trash_path),
        "v1",
    );
    no_temps(&h.right);
}
