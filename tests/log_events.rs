//! The JSON log as the audit read it (SPEC §12): every `apply` run ends
//! with one `cycle` event, a refused or unavailable one too; `unavailable`
//! events name the side and the result; one `conflict` event per conflict.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::Env;
use serde_json::Value;
use twinsync::Side;

/// Runs twinsync; returns its exit code and the log events it added.
fn run(e: &Env, args: &[&str]) -> (i32, Vec<Value>) {
    let before = e.log().len();
    let out = e.cmd(args).output().unwrap();
    let code = out.status.code().unwrap();
    (code, e.log().split_off(before))
}

/// The run's events end with exactly one `cycle` event; returns it.
fn ends_with_one_cycle(events: &[Value], what: &str) -> Value {
    let cycles: Vec<&Value> = events.iter().filter(|v| v["event"] == "cycle").collect();
    assert_eq!(cycles.len(), 1, "{what}: {events:#?}");
    let last = events.last().unwrap();
    assert_eq!(
        last["event"], "cycle",
        "{what}: the last event: {events:#?}"
    );
    for k in common::CYCLE_FIELDS {
        assert!(last[k].is_u64(), "{what}: {k} in {last}");
    }
    last.clone()
}

#[test]
fn a_stale_plan_refused_ends_with_a_skipped_cycle_event() {
    let e = Env::init("");
    e.write(Side::Left, "a.txt", "a", 100);
    e.cmd(&["plan", "--out", "p1.json"]).assert().success();
    let (code, events) = run(&e, &["apply", "-y"]);
    assert_eq!(code, 0);
    let c = ends_with_one_cycle(&events, "apply -y");
    assert_eq!(c["result"], "ok");
    assert_eq!(c["changes"], 1);
    let (code, events) = run(&e, &["apply", "p1.json"]);
    assert_eq!(code, 4, "stale");
    let c = ends_with_one_cycle(&events, "stale plan");
    assert_eq!(c["result"], "skipped", "{c}");
    assert!(c["error"].as_str().unwrap().contains("refused"), "{c}");
    assert_eq!(c["changes"], 0);
    assert_eq!(c["bytes_copied"], 0);
}

#[test]
fn the_mass_delete_guard_ends_with_a_skipped_cycle_event() {
    let e = Env::init("[safety]\nmax_delete_min_files = 2\n");
    for i in 0..4 {
        e.write(Side::Left, &format!("f{i}.txt"), "x", 100);
    }
    e.sync();
    for i in 0..3 {
        std::fs::remove_file(e.left.join(format!("f{i}.txt"))).unwrap();
    }
    let (code, events) = run(&e, &["apply", "-y"]);
    assert_eq!(code, 4);
    let c = ends_with_one_cycle(&events, "mass delete");
    assert_eq!(c["result"], "skipped", "{c}");
    assert!(
        c["error"].as_str().unwrap().contains("max_delete_percent"),
        "{c}"
    );
    assert_eq!(c["files_scanned"], 5, "it planned: 1 + 4 files");
    assert_eq!(c["hard_deletes"], 0);
    assert_eq!(c["soft_deletes"], 0);
}

#[test]
fn an_unavailable_side_ends_every_run_with_a_cycle_event_naming_the_side() {
    let e = Env::init("");
    e.write(Side::Left, "a.txt", "a", 100);
    e.sync();
    std::fs::rename(&e.right, e.dir.path().join("right.bak")).unwrap();
    // Twice: a repeat run during the same outage says so too.
    for n in 1..=2 {
        let (code, events) = run(&e, &["apply", "-y"]);
        assert_eq!(code, 3);
        let c = ends_with_one_cycle(&events, &format!("run {n}"));
        assert_eq!(c["result"], "skipped", "{c}");
        assert!(c["error"].as_str().unwrap().contains("right root"), "{c}");
        let u = events
            .iter()
            .find(|v| v["event"] == "unavailable")
            .unwrap_or_else(|| panic!("run {n}: {events:#?}"));
        assert_eq!(u["side"], "right", "{u}");
        assert_eq!(u["result"], "skipped", "{u}");
    }
    // `plan` logs its `unavailable` event the same way.
    let (code, events) = run(&e, &["plan"]);
    assert_eq!(code, 3);
    let u = events.iter().find(|v| v["event"] == "unavailable").unwrap();
    assert_eq!(
        (&u["side"], &u["result"]),
        (&"right".into(), &"skipped".into())
    );
}

#[test]
fn an_apply_that_cannot_ask_ends_with_a_failed_cycle_event() {
    let e = Env::init("");
    e.write(Side::Left, "a.txt", "a", 100);
    let (code, events) = run(&e, &["apply"]);
    assert_eq!(code, 1, "no terminal and no -y");
    let c = ends_with_one_cycle(&events, "no terminal");
    assert_eq!(c["result"], "failed", "{c}");
    assert!(c["error"].as_str().unwrap().contains("-y"), "{c}");
}

/// Every `watch` cycle ends with a `cycle` event too: a refused one and an
/// unavailable one carry `result` "skipped" and the error, each cycle.
#[test]
fn watch_cycles_refused_or_unavailable_carry_result_and_error() {
    let e = Env::init("sync_interval_seconds = 1\n[safety]\nmax_delete_min_files = 2\n");
    for i in 0..4 {
        e.write(Side::Left, &format!("f{i}.txt"), "x", 100);
    }
    e.sync();
    for i in 0..3 {
        std::fs::remove_file(e.left.join(format!("f{i}.txt"))).unwrap();
    }
    let (code, events) = run(&e, &["watch", "--cycles", "2"]);
    assert_eq!(code, 4);
    let cycles: Vec<&Value> = events.iter().filter(|v| v["event"] == "cycle").collect();
    assert_eq!(cycles.len(), 2, "{events:#?}");
    for c in cycles {
        assert_eq!(c["result"], "skipped", "{c}");
        assert!(
            c["error"].as_str().unwrap().contains("max_delete_percent"),
            "{c}"
        );
    }
    std::fs::rename(&e.right, e.dir.path().join("right.bak")).unwrap();
    let (code, events) = run(&e, &["watch", "--cycles", "2"]);
    assert_eq!(code, 3);
    let cycles: Vec<&Value> = events.iter().filter(|v| v["event"] == "cycle").collect();
    assert_eq!(cycles.len(), 2, "{events:#?}");
    for c in cycles {
        assert_eq!(c["result"], "skipped", "{c}");
        assert!(c["error"].as_str().unwrap().contains("right root"), "{c}");
    }
    let u = events.iter().find(|v| v["event"] == "unavailable").unwrap();
    assert_eq!(
        (&u["side"], &u["result"]),
        (&"right".into(), &"skipped".into())
    );
}

/// Audit item 9: each conflict handled is one `conflict` event (with both
/// sides and the resolution), option1 and option2 alike.
#[test]
fn each_conflict_is_one_conflict_event() {
    for option in ["option1", "option2"] {
        let e = Env::init(&format!(
            "[conflicts]\nsame_file_changed_both = '{option}'\n"
        ));
        for f in ["a.txt", "b.txt"] {
            e.write(Side::Left, f, "v1", 100);
        }
        e.sync();
        for f in ["a.txt", "b.txt"] {
            e.write(Side::Left, f, "left edit", 50);
            e.write(Side::Right, f, "right edit!", 40);
        }
        let (code, events) = run(&e, &["apply", "-y"]);
        assert_eq!(code, 0);
        for f in ["a.txt", "b.txt"] {
            let c: Vec<&Value> = events
                .iter()
                .filter(|v| v["event"] == "conflict" && v["path"] == f)
                .collect();
            assert_eq!(c.len(), 1, "{option} {f}: {events:#?}");
            assert_eq!(c[0]["rule"], "6.2.1");
            assert!(
                c[0]["resolution"].is_string() && c[0]["left_size"].is_u64(),
                "{}",
                c[0]
            );
        }
        let cycle = ends_with_one_cycle(&events, option);
        assert_eq!(cycle["conflicts"], 2, "{cycle}");
    }
}
