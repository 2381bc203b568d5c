//! Recorded plans replayed: each case in `tests/replay/<name>/` holds
//! `case.json` (a base tree synced first, then the edits on each side),
//! `plan.json` (the plan recorded for that situation) and `expect.json`
//! (both trees after applying it). The test rebuilds the situation with
//! fixed root ids and mtimes, applies the *recorded* plan with the current
//! binary and compares both trees byte for byte. A plan format change that
//! breaks an old recording fails here.
//!
//! Re-record (after an intended behaviour change, reviewing the diff):
//! `cargo test --test replay -- --ignored record_fixtures`

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::Env;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};
use twinsync::Side;

const T0: u64 = 1_700_000_000;

fn set_mtime(p: &Path, secs: u64) {
    let f = std::fs::File::options().write(true).open(p).unwrap();
    f.set_modified(UNIX_EPOCH + Duration::from_secs(secs))
        .unwrap();
}

fn put(root: &Path, rel: &str, data: &str, secs: u64) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, data).unwrap();
    set_mtime(&p, secs);
}

/// Builds the situation of a case; returns the environment, ready for the plan.
fn build(case: &Value) -> Env {
    let extra = case["config"].as_str().unwrap_or("");
    let e = Env::with_config(extra);
    std::fs::write(
        e.left.join(".twinsync-root"),
        r#"{"root_id":"replay-left"}"#,
    )
    .unwrap();
    std::fs::write(
        e.right.join(".twinsync-root"),
        r#"{"root_id":"replay-right"}"#,
    )
    .unwrap();
    e.cmd(&["init"]).assert().success();
    for (rel, data) in case["base"].as_object().unwrap() {
        put(&e.left, rel, data.as_str().unwrap(), T0);
    }
    e.sync();
    let mut t = T0 + 100;
    for side in twinsync::Side::BOTH {
        for (rel, data) in case[side.as_str()].as_object().unwrap() {
            let root = e.root(side);
            match data {
                Value::Null => {
                    let p = root.join(rel);
                    if p.is_dir() {
                        std::fs::remove_dir_all(p).unwrap();
                    } else {
                        std::fs::remove_file(p).unwrap();
                    }
                }
                Value::String(s) => put(root, rel, s, t),
                _ => panic!("bad case value for {rel}"),
            }
            t += 10;
        }
    }
    e
}

fn trees(e: &Env) -> Value {
    let strip = |m: BTreeMap<String, String>| -> BTreeMap<String, String> { m };
    json!({"left": strip(e.tree(Side::Left)), "right": strip(e.tree(Side::Right))})
}

fn cases() -> Vec<(String, std::path::PathBuf)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/replay");
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|d| d.path().join("case.json").exists())
        .map(|d| (d.file_name().to_string_lossy().into_owned(), d.path()))
        .collect();
    out.sort();
    out
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
    )
    .unwrap()
}

#[test]
fn recorded_plans_replay_to_the_recorded_trees() {
    let cases = cases();
    assert!(cases.len() >= 5, "fixtures missing");
    for (name, dir) in cases {
        let case = read_json(&dir.join("case.json"));
        let e = build(&case);
        let plan_file = dir.join("plan.json");
        let out = e
            .cmd(&["apply", plan_file.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: replay failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("0 failed, 0 skipped"), "{name}: {stdout}");
        assert_eq!(
            trees(&e),
            read_json(&dir.join("expect.json")),
            "{name}: trees differ from the recording"
        );
    }
}

#[test]
#[ignore = "re-records the fixtures; run by hand after an intended change"]
fn record_fixtures() {
    for (name, dir) in cases() {
        let case = read_json(&dir.join("case.json"));
        let e = build(&case);
        let mut plan = e.plan_json();
        // Stable recordings: no machine paths or times.
        plan["left_root"] = "LEFT".into();
        plan["right_root"] = "RIGHT".into();
        plan["created_at"] = "2026-11-26T00:00:00Z".into();
        plan["plan_id"] = format!("replay-{name}").into();
        let text = serde_json::to_string_pretty(&plan).unwrap() + "\n";
        std::fs::write(dir.join("plan.json"), text).unwrap();
        e.cmd(&["apply", dir.join("plan.json").to_str().unwrap()])
            .assert()
            .success();
        std::fs::write(
            dir.join("expect.json"),
            serde_json::to_string_pretty(&trees(&e)).unwrap() + "\n",
        )
        .unwrap();
        eprintln!("recorded {name}");
    }
}
