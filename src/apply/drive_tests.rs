//! Apply against the faults of a real cloud drive or WAN mount (issue 18):
//! interrupted reads and stats, short reads, a drive that refuses to set
//! times or attributes, a drive that rounds times after an upload, and a
//! source that grows while it is copied. Each test fails without the code
//! it names.

use super::tests::{Harness, harness, live, valid};
use super::*;
use crate::fs::Fs;
use crate::fs::fault::{FaultFs, FaultRule};
use crate::fs::mem::MemFs;
use crate::fs::retry::RetryFs;
use crate::pipeline::{self, PlanRequest};
use crate::plan::{Op, OpKind, Plan};
use crate::{Side, paths};
use std::sync::Arc;

fn rule(op: &'static str, path: &str, class: ErrorClass, times: u32) -> FaultRule {
    FaultRule {
        op,
        path_contains: path.into(),
        class,
        times,
    }
}

/// A side as production builds it (interrupted reads retried, see
/// [`crate::fs::retry`]) over a fault-injecting one.
fn flaky(m: &MemFs) -> (Arc<FaultFs>, Arc<dyn Fs>) {
    let f = Arc::new(FaultFs::new(Arc::new(m.clone())));
    let fs: Arc<dyn Fs> = f.clone();
    (f, RetryFs::wrap(fs))
}

/// A mount that interrupts everything it can: each read, stat, listing and
/// open is interrupted a few times, and reads come back short.
fn interrupt_everything(f: &FaultFs) {
    for op in ["stat", "list", "open"] {
        f.fail(rule(op, "", ErrorClass::Interrupted, 3));
    }
    f.fail(rule("stat", paths::MARKER_NAME, ErrorClass::Interrupted, 3));
    f.fail(rule("read", "", ErrorClass::Interrupted, 200));
    f.short_reads(7_919);
}

fn plan_on(h: &Harness, sides: &Sides) -> Plan {
    let state = State::open_or_create(&h.cfg.state_db).unwrap();
    let req = PlanRequest {
        now_ns: crate::now_ns(),
        ..PlanRequest::default()
    };
    pipeline::make_plan(&h.cfg, sides, &state, req).unwrap().0
}

fn bytes(n: usize, seed: u64) -> Vec<u8> {
    (0..n as u64)
        .map(|i| (i.wrapping_add(seed).wrapping_mul(2_654_435_761) >> 13).to_le_bytes()[0])
        .collect()
}

/// `EINTR` on reads (small and pipelined copies, hashes), on `stat` of the
/// root marker and of files, on listings and opens: retried, never a failed
/// copy, a hash left for later or a side reported unavailable.
#[test]
fn interrupted_reads_and_stats_fail_no_copy_no_hash_and_no_side() {
    let h = harness("");
    let small = bytes(40_000, 1);
    let large = bytes(5 * 1024 * 1024 + 3, 2);
    h.left.put("docs/small.docx", &small);
    h.left.put("media/large.mov", &large);
    let (lf, left) = flaky(&h.left);
    let (rf, right) = flaky(&h.right);
    interrupt_everything(&lf);
    interrupt_everything(&rf);
    let sides = Sides { left, right };
    let plan = plan_on(&h, &sides);
    let r = h.apply_with(&plan, &sides).unwrap();
    assert!(r.failed.is_empty(), "failed: {:?}", r.failed);
    assert_eq!(r.copied, 2);
    assert_eq!(h.right.get("docs/small.docx").unwrap(), small);
    assert_eq!(h.right.get("media/large.mov").unwrap(), large);
    assert!(lf.fired() > 20 && rf.fired() > 5, "faults were injected");

    // An mtime-only change is hashed to tell a re-stamp from an edit: the
    // hash is read through interruptions too, so it is a property change,
    // not a copy.
    h.tick();
    h.left.put("docs/small.docx", &small);
    interrupt_everything(&lf);
    let plan = plan_on(&h, &sides);
    let kinds: Vec<OpKind> = plan
        .ops
        .iter()
        .filter(|o| o.path == "docs/small.docx")
        .map(Op::kind)
        .collect();
    assert_eq!(kinds, [OpKind::SetProps], "{:?}", plan.ops);
    assert!(plan.problems.is_empty(), "{:?}", plan.problems);
    let r = h.apply_with(&plan, &sides).unwrap();
    assert!(r.failed.is_empty(), "failed: {:?}", r.failed);
}

/// Without the retry layer, the same faults fail: the test above is not
/// passing by accident.
#[test]
fn the_same_interruptions_without_the_retry_layer_do_fail() {
    let h = harness("");
    h.left.put("a.txt", &bytes(10_000, 3));
    let f = FaultFs::new(Arc::new(h.left.clone()));
    f.fail(rule("read", "a.txt", ErrorClass::Interrupted, 1));
    let sides = Sides {
        left: Arc::new(f),
        right: Arc::new(h.right.clone()),
    };
    let plan = h.plan();
    let r = h.apply_with(&plan, &sides).unwrap();
    assert_eq!(r.failed.len(), 1, "{r:?}");
}

/// A drive that refuses to set times (and attributes): the copy lands,
/// the times the drive reports are recorded, the refusal is noted once in
/// the state DB, and the next plans are empty.
#[test]
fn a_drive_that_refuses_times_still_receives_every_file() {
    let h = harness("");
    for i in 0..3 {
        h.left.put(&format!("f{i}.txt"), &bytes(100 + i, 4));
    }
    let f = FaultFs::new(Arc::new(h.right.clone()));
    f.fail(rule(
        "set properties",
        "",
        ErrorClass::PermissionDenied,
        u32::MAX,
    ));
    let f = Arc::new(f);
    let sides = Sides {
        left: Arc::new(h.left.clone()),
        right: f.clone(),
    };
    let plan = plan_on(&h, &sides);
    let r = h.apply_with(&plan, &sides).unwrap();
    assert!(r.failed.is_empty(), "failed: {:?}", r.failed);
    assert_eq!(r.copied, 3);
    assert!(f.fired() >= 3);
    assert_eq!(live(&h.left), live(&h.right));
    let state = h.state();
    let note = state.meta(&no_times_key(Side::Right)).unwrap();
    assert!(
        note.as_deref().is_some_and(|n| n.contains("injected")),
        "{note:?}"
    );
    assert!(state.meta(&no_times_key(Side::Left)).unwrap().is_none());
    // `status` and the report say so: a needs-you item naming the drive.
    let facts = crate::health::Facts::read(&state, [(Side::Left, None), (Side::Right, None)], 0, 0)
        .unwrap();
    let v = crate::health::verdict(&facts);
    assert_eq!(v.health, crate::health::Health::NeedsYou);
    assert!(
        v.headline()
            .contains("the right drive keeps no modification times"),
        "{}",
        v.headline()
    );
    // The right side's files carry the drive's own times: nothing to redo.
    for _ in 0..2 {
        h.tick();
        let p = plan_on(&h, &sides);
        assert!(!p.summary.has_changes(), "{:?}", p.ops);
    }
    // A property change made on the left reaches a known refusing drive as
    // far as the drive allows: recorded, not failed again and again.
    h.tick();
    h.left.set_meta("f1.txt", h.left.now(), 0o600).unwrap();
    let p = plan_on(&h, &sides);
    let r = h.apply_with(&p, &sides).unwrap();
    assert!(r.failed.is_empty(), "failed: {:?}", r.failed);
    h.tick();
    assert!(!plan_on(&h, &sides).summary.has_changes());
    // Once a copy there keeps its times again, the note goes.
    h.tick();
    h.left.put("later.txt", b"later");
    h.sync();
    assert!(state.meta(&no_times_key(Side::Right)).unwrap().is_none());
}

/// A permission error on a step that is not a just-written file's times
/// is still a failure: only the drive's refusal of times is absorbed.
#[test]
fn a_refused_rename_is_still_a_failure() {
    let h = harness("");
    h.left.put("a.txt", b"x");
    let f = FaultFs::new(Arc::new(h.right.clone()));
    f.fail(rule(
        "rename",
        "a.txt",
        ErrorClass::PermissionDenied,
        u32::MAX,
    ));
    let sides = Sides {
        left: Arc::new(h.left.clone()),
        right: Arc::new(f),
    };
    let r = h.apply_with(&h.plan(), &sides).unwrap();
    assert_eq!(r.failed.len(), 1);
}

/// SPEC §8: a source that grows while it is copied is a drifted skip with
/// a plain sentence, not a failure (no failure record, no alert); it is
/// copied whole once it has stopped changing.
#[test]
fn a_source_that_grows_during_the_copy_is_skipped_not_failed() {
    let h = harness("");
    let first = bytes(6 * 1024 * 1024, 5);
    h.left.put("Video/big_new.mp4", &first);
    let plan = h.plan();
    let grown = bytes(8 * 1024 * 1024, 5);
    let g2 = grown.clone();
    let sides = h
        .hooked(Side::Left)
        .on_open(move |m, p| {
            if p.ends_with("big_new.mp4") && m.get(p).is_some_and(|d| d.len() < g2.len()) {
                m.put(p, &g2); // the render goes on: same mtime tick, more bytes
            }
        })
        .sides();
    let alerts = std::sync::Mutex::new(Vec::new());
    let on_event = |op: &Op, ev: StepEvent<'_>| {
        let err = match ev {
            StepEvent::Failed(e) => e.to_owned(),
            StepEvent::Conflict { .. } => String::new(),
        };
        alerts.lock().unwrap().push((op.path.clone(), err));
    };
    let mut state = State::open_or_create(&h.cfg.state_db).unwrap();
    admit(&plan, &h.cfg, &sides, &mut state, Overrides::GUARDS_CHECKED).unwrap();
    let opts = Options {
        on_event: Some(&on_event),
        ..Options::default()
    };
    let r = run(
        &valid(&plan),
        &h.cfg,
        &sides,
        &mut state,
        &Logger::null(),
        &opts,
    )
    .unwrap();
    assert!(r.failed.is_empty(), "not a failure: {:?}", r.failed);
    assert_eq!(r.drifted, 1);
    assert!(alerts.lock().unwrap().is_empty(), "no alert");
    assert!(state.failures().unwrap().is_empty(), "no failure record");
    assert!(
        h.right.get("Video/big_new.mp4").is_none(),
        "nothing torn landed"
    );
    assert!(h.right.dump().keys().all(|k| !k.contains(".~twinsync-")));
    drop(state);
    h.tick();
    h.sync();
    assert_eq!(h.right.get("Video/big_new.mp4").unwrap(), grown);
}

#[test]
fn the_drift_sentence_names_the_sizes_in_words() {
    let s = copy::changed_while_copied(
        Side::Left,
        "Marketing/Video/big_new.mp4",
        116_391_936,
        157_286_400,
        2,
    );
    assert!(s.contains("`Marketing/Video/big_new.mp4` grew from"), "{s}");
    assert!(s.contains("while it was copied"), "{s}");
    assert!(!s.contains("Some("), "{s}");
    let s = copy::changed_while_copied(Side::Right, "a", 10, 4, 2);
    assert!(s.contains("shrank from 10 B to 4 B"), "{s}");
}

/// A harness whose sides keep fine-grained times (100 ns, as NTFS does),
/// unlike the default 2 s, with the clock at an uneven time.
fn fine_grained() -> Harness {
    let base = harness("");
    let left = MemFs::new("left", true, 100);
    let right = MemFs::new("right", true, 100);
    left.put(paths::MARKER_NAME, br#"{"root_id":"L"}"#);
    right.put(paths::MARKER_NAME, br#"{"root_id":"R"}"#);
    let h = Harness {
        left,
        right,
        ..base
    };
    h.left.advance(1_234_567_891);
    h
}

/// A cloud client that rewrites each uploaded file's mtime to whole
/// seconds a moment later: the next plans carry nothing back (no property
/// change on the office share), and the snapshot takes the rounded time.
#[test]
fn a_drive_that_rounds_times_after_upload_is_not_echoed_back() {
    let h = fine_grained();
    let names: Vec<String> = (0..15).map(|i| format!("up/f{i}.docx")).collect();
    for (i, n) in names.iter().enumerate() {
        h.left.put(n, &bytes(1000 + i, 6));
        h.left.advance(123_456_789);
    }
    h.sync();
    // The cloud client rounds every upload to whole seconds.
    for n in &names {
        let m = h.right.stat(n).unwrap().unwrap();
        assert_ne!(m.mtime % 1_000_000_000, 0, "fine-grained before");
        let rounded = (m.mtime + 500_000_000).div_euclid(1_000_000_000) * 1_000_000_000;
        h.right.set_meta(n, rounded, m.props).unwrap();
    }
    h.tick();
    let plan = h.plan();
    assert!(
        plan.ops.iter().all(|o| o.kind() == OpKind::Record),
        "only the right side's snapshots are updated: {:?}",
        plan.ops
    );
    assert!(
        !plan.ops.iter().any(|o| o.kind() == OpKind::SetProps),
        "echoed back: {:?}",
        plan.ops
    );
    h.apply_with(&plan, &h.sides()).unwrap();
    let left_after: Vec<i64> = names
        .iter()
        .map(|n| h.left.stat(n).unwrap().unwrap().mtime)
        .collect();
    assert!(
        left_after.iter().all(|t| t % 1_000_000_000 != 0),
        "office times untouched"
    );
    // Settled: the next plan has nothing at all.
    h.tick();
    let plan = h.plan();
    assert!(plan.ops.is_empty(), "{:?}", plan.ops);
    // A real re-date on the rounding side is still carried over.
    h.tick();
    let m = h.right.stat(&names[0]).unwrap().unwrap();
    h.right
        .set_meta(&names[0], m.mtime - 86_400_000_000_000, m.props)
        .unwrap();
    let plan = h.plan();
    assert!(
        plan.ops
            .iter()
            .any(|o| o.kind() == OpKind::SetProps && o.path == names[0]),
        "{:?}",
        plan.ops
    );
}

/// A drive that rounds times as it stores them (the read-back differs from
/// what was set): the read-back is recorded, so nothing is copied or
/// re-dated again, on either side.
#[test]
fn a_drive_that_rounds_times_as_it_stores_them_settles_at_once() {
    let h = fine_grained();
    for i in 0..5 {
        h.left.put(&format!("f{i}.xlsx"), &bytes(500 + i, 8));
        h.left.advance(333_333_333);
    }
    let f = Arc::new(FaultFs::new(Arc::new(h.right.clone())));
    f.round_times(1_000_000_000);
    let sides = Sides {
        left: Arc::new(h.left.clone()),
        right: f.clone(),
    };
    let r = h.apply_with(&plan_on(&h, &sides), &sides).unwrap();
    assert_eq!(r.copied, 5);
    assert!(
        (0..5).all(
            |i| h.right.stat(&format!("f{i}.xlsx")).unwrap().unwrap().mtime % 1_000_000_000 == 0
        ),
        "the drive rounded"
    );
    for _ in 0..2 {
        h.tick();
        let p = plan_on(&h, &sides);
        assert!(p.ops.is_empty(), "{:?}", p.ops);
    }
}

/// The rounding rule never hides an edit: a file whose bytes changed
/// (same size) while its time moved to the rounded one is copied.
#[test]
fn a_rounded_time_with_other_bytes_is_an_edit() {
    let h = fine_grained();
    for i in 0..4 {
        h.left.put(&format!("f{i}.txt"), b"AAAA");
        h.left.advance(111_111_111);
    }
    h.sync();
    // The drive rounds all four; one was also rewritten, same size.
    for i in 0..4 {
        let n = format!("f{i}.txt");
        let m = h.right.stat(&n).unwrap().unwrap();
        if i == 2 {
            h.right.put(&n, b"BBBB");
        }
        let rounded = (m.mtime + 500_000_000).div_euclid(1_000_000_000) * 1_000_000_000;
        h.right.set_meta(&n, rounded, m.props).unwrap();
    }
    h.tick();
    let plan = h.plan();
    let copies: Vec<&str> = plan
        .ops
        .iter()
        .filter(|o| o.kind() == OpKind::Copy)
        .map(|o| o.path.as_str())
        .collect();
    assert_eq!(copies, ["f2.txt"], "{:?}", plan.ops);
    assert!(!plan.ops.iter().any(|o| o.kind() == OpKind::SetProps));
    h.apply_with(&plan, &h.sides()).unwrap();
    assert_eq!(h.left.get("f2.txt").unwrap(), b"BBBB");
}
