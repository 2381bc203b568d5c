//! The plan file format: recorded plans (`tests/replay/*/plan.json`, written
//! by earlier builds with the bag-of-fields step) load unchanged, and
//! re-serialised their steps are the same JSON (the plan around them gains
//! only the fields added since, with defaults); a plan this build writes
//! round-trips to the same bytes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use std::path::PathBuf;

fn recorded() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/replay");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path().join("plan.json"))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(files.len() >= 5, "recorded plans in {}", dir.display());
    files
}

/// Every key of `old` is in `new` with the same value (recursively).
fn within(old: &serde_json::Value, new: &serde_json::Value, at: &str) {
    use serde_json::Value;
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => {
            for (k, v) in o {
                let here = format!("{at}.{k}");
                within(v, n.get(k).unwrap_or(&Value::Null), &here);
            }
        }
        (Value::Array(o), Value::Array(n)) => {
            assert_eq!(o.len(), n.len(), "{at}");
            for (i, (a, b)) in o.iter().zip(n).enumerate() {
                within(a, b, &format!("{at}[{i}]"));
            }
        }
        _ => assert_eq!(old, new, "{at}"),
    }
}

#[test]
fn an_old_format_plan_file_and_its_re_serialisation_are_the_same_json() {
    let mut kinds = std::collections::BTreeSet::new();
    for file in recorded() {
        let old: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let plan = Plan::load(&file).unwrap();
        let new: serde_json::Value = serde_json::from_str(&plan.to_json()).unwrap();
        // The steps: the same JSON (same keys, same values), plus only the
        // keys added since: `policy` (null: the global settings decided),
        // and a conflict's details on the op itself (SPEC §7).
        within(&old["ops"], &new["ops"], &file.display().to_string());
        for (o, n) in old["ops"]
            .as_array()
            .unwrap()
            .iter()
            .zip(new["ops"].as_array().unwrap())
        {
            let mut added: Vec<&str> = n
                .as_object()
                .unwrap()
                .keys()
                .filter(|k| o.get(k.as_str()).is_none())
                .map(String::as_str)
                .collect();
            added.sort_unstable();
            let mut allowed = vec!["policy"];
            if n["kind"] == "conflict" {
                allowed.extend([
                    "clash_path",
                    "left",
                    "newer",
                    "older",
                    "resolution",
                    "right",
                ]);
                assert_eq!(n["newer"], n["conflict"]["newer"]);
                assert_eq!(n["left"], n["conflict"]["left"]);
            }
            assert!(
                added.iter().all(|k| allowed.contains(k)),
                "{added:?} in {n}"
            );
        }
        // The rest: the same, plus the plan-level fields added since it was
        // recorded (with their defaults: `detect_moves`, summary counts…).
        within(&old, &new, &file.display().to_string());
        kinds.extend(plan.ops.iter().map(Op::kind));
    }
    // The recordings cover most kinds (move and rmdir are covered below).
    for k in [
        OpKind::Copy,
        OpKind::Delete,
        OpKind::Rename,
        OpKind::SetProps,
        OpKind::Mkdir,
        OpKind::Conflict,
        OpKind::Record,
    ] {
        assert!(kinds.contains(&k), "{k:?} in the recordings");
    }
}

/// A plan with one op of every kind but conflict, a record last.
fn every_kind() -> Plan {
    let e = |path: &str| Entry {
        path: path.into(),
        size: 3,
        mtime: 7,
        ..Entry::default()
    };
    let cause = |path: &'static str| Cause {
        key: path,
        path,
        rule: Rule::NewLeft,
        reason: "why".into(),
    };
    let moved = MoveStep {
        side: Side::Right,
        from: Side::Left,
        src_path: "m".into(),
        dest_path: "n".into(),
        src_key: "m".into(),
        moved: vec![MovedEntry {
            from_key: "m".into(),
            to_key: "n".into(),
            left: e("n"),
            right: e("n"),
        }],
    };
    let mut ops = vec![
        Op::copy(cause("a"), Side::Left, &e("a"), "a", "a", None, Lane::Large),
        Op::delete(cause("b"), Side::Right, &e("b"), true),
        Op::rename(cause("c"), Side::Left, &e("c"), "C", Some("c")),
        Op::moved(cause("n"), moved, &e("m")),
        Op::set_props(cause("d"), Side::Left, &e("d"), "d", &e("d")),
        Op::mkdir(cause("f"), Side::Right, &e("f"), "f"),
        Op::rmdir(cause("g"), Side::Left, &e("g")),
        Op::record(cause("h"), Some(&e("h")), None),
    ];
    for (i, op) in ops.iter_mut().enumerate() {
        op.id = i as u64 + 1;
    }
    Plan {
        format_version: FORMAT_VERSION,
        tool_version: "test".into(),
        plan_id: "p".into(),
        created_at: "2026-12-07T00:00:00Z".into(),
        left_root: "L".into(),
        right_root: "R".into(),
        left_root_id: "l".into(),
        right_root_id: "r".into(),
        base_generation: 0,
        forced: false,
        summary: Summary::of(&ops, &PlanConfig::default()),
        config: PlanConfig::default(),
        ops,
        problems: vec!["a problem".into()],
    }
}

#[test]
fn every_kind_round_trips_to_the_same_bytes_and_keys() {
    let plan = every_kind();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plan.json");
    plan.save(&file).unwrap();
    let back = Plan::load(&file).unwrap();
    assert_eq!(*back, plan);
    assert_eq!(back.to_json(), std::fs::read_to_string(&file).unwrap());
    // The keys a step of each kind has: the header, `kind`, and its own.
    let v: serde_json::Value = serde_json::from_str(&plan.to_json()).unwrap();
    let keys = |i: usize| -> Vec<String> {
        let mut k: Vec<String> = v["ops"][i].as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    let head = [
        "bytes", "expect", "id", "key", "kind", "mtime", "path", "policy", "reason", "rule",
        "sides",
    ];
    let with = |extra: &[&str]| {
        let mut k: Vec<String> = head.iter().chain(extra).map(|s| (*s).to_owned()).collect();
        k.sort();
        k
    };
    assert_eq!(
        keys(0),
        with(&["dest_path", "from", "lane", "props", "side", "src_path"])
    );
    assert_eq!(keys(1), with(&["dest_path", "side", "soft"]));
    assert_eq!(keys(2), with(&["dest_path", "side", "src_key", "src_path"]));
    assert_eq!(
        keys(3),
        with(&["dest_path", "from", "moved", "side", "src_key", "src_path"])
    );
    assert_eq!(keys(6), with(&["dest_path", "side"]));
    assert_eq!(keys(7), with(&["record"]));
    assert_eq!(v["ops"][3]["kind"], "move");
    assert_eq!(v["ops"][4]["kind"], "set_props");
}

#[test]
fn journal_is_the_plan_without_its_records() {
    let plan = every_kind();
    let mut without = plan.clone();
    without.ops.retain(|o| o.kind() != OpKind::Record);
    assert_eq!(without.ops.len(), plan.ops.len() - 1);
    assert_eq!(
        plan.journal_json(),
        serde_json::to_string(&without).unwrap()
    );
    let back: Plan = serde_json::from_str(&plan.journal_json()).unwrap();
    assert_eq!(back, without);
}

#[test]
fn a_step_missing_what_its_kind_needs_is_refused_when_read() {
    let dir = tempfile::tempdir().unwrap();
    let src = recorded().into_iter().next().unwrap();
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(src).unwrap()).unwrap();
    let ops = v["ops"].as_array_mut().unwrap();
    let copy = ops.iter_mut().find(|o| o["kind"] == "copy").unwrap();
    copy.as_object_mut().unwrap().remove("from");
    let file = dir.path().join("plan.json");
    std::fs::write(&file, v.to_string()).unwrap();
    let err = Plan::load(&file).unwrap_err().to_string();
    assert!(err.contains("from"), "{err}");
}
