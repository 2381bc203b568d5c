//! `twinsync report` on a real pair after a sync: the page lands where it
//! should (atomically: no temp file left), shows the conflict left for the
//! admin with its `resolve` commands, escapes paths (one named like a
//! script: skipped by the scan as invalid on Windows, and reported), and
//! loads or runs nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::Env;
use predicates::str::contains;
use scraper::{Html, Selector};
use twinsync::Side;

#[cfg(unix)]
const SCRIPT_PATH: &str = "<script>alert(1)</script>.txt";
/// HTML-special, yet a valid name on both sides.
#[cfg(unix)]
const AMP_PATH: &str = "R&D &amp; notes.txt";

fn page(path: &std::path::Path) -> (String, Html) {
    let html = std::fs::read_to_string(path).unwrap();
    let doc = Html::parse_document(&html);
    (html, doc)
}

fn texts(doc: &Html, sel: &str) -> Vec<String> {
    doc.select(&Selector::parse(sel).unwrap())
        .map(|e| e.text().collect::<String>())
        .collect()
}

#[cfg(unix)] // `<`, `>` are not allowed in Windows names
#[test]
fn report_after_a_sync_shows_the_conflict_and_writes_a_safe_page() {
    let e = Env::init("[conflicts]\nsame_file_changed_both = 'option2'\n");
    e.write(Side::Left, "docs/a.txt", "a", 300);
    e.write(Side::Left, SCRIPT_PATH, "never synced", 300);
    e.write(Side::Left, AMP_PATH, "base", 300);
    e.sync();
    e.write(Side::Left, AMP_PATH, "left edit", 200);
    e.write(Side::Right, AMP_PATH, "right edit, longer", 100);
    e.sync();
    assert!(e.read(Side::Right, SCRIPT_PATH).is_none());
    // A watch cycle logs the skipped names (and, quiet, stores no cycle).
    e.cmd(&["watch", "--cycles", "1"]).assert().success();

    e.cmd(&["report", "--out", "out/x.html"])
        .assert()
        .success()
        .stdout(contains("out/x.html"));
    let out = e.dir.path().join("out/x.html");
    let (html, doc) = page(&out);
    let names: Vec<_> = std::fs::read_dir(e.dir.path().join("out"))
        .unwrap()
        .map(|d| d.unwrap().file_name())
        .collect();
    assert_eq!(names, ["x.html"], "no temp file left beside the page");

    // Nothing to run, nothing to load.
    assert!(!html.to_lowercase().contains("<script"));
    assert!(!html.contains("http://") && !html.contains("https://"));
    assert!(texts(&doc, "script").is_empty());

    // Both roots there; the conflict waits for the admin, shown as text.
    assert_eq!(texts(&doc, "#root-left .yes"), ["available"]);
    assert_eq!(texts(&doc, "#root-right .yes"), ["available"]);
    assert!(
        texts(&doc, "#verdict")[0].contains("1 unresolved conflict"),
        "{:?}",
        texts(&doc, "#verdict")
    );
    assert_eq!(texts(&doc, "#conflicts tr.conflict td.path"), [AMP_PATH]);
    assert!(texts(&doc, "#conflicts td.left")[0].starts_with("9 B, modified "));
    assert!(texts(&doc, "#conflicts td.right")[0].starts_with("18 B, modified "));
    let cmds = texts(&doc, "#conflicts code.resolve");
    assert_eq!(cmds.len(), 3);
    assert!(
        cmds[0].starts_with(&format!(
            "twinsync resolve \"{AMP_PATH}\" --keep left --config \""
        )),
        "{cmds:?}"
    );
    // Two cycles in the week's sums: the first made `docs/` and copied 2 files → right.
    let week = |id: &str| {
        doc.select(&Selector::parse(id).unwrap())
            .next()
            .unwrap()
            .value()
            .attr("data-v")
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    assert_eq!(week("#week-cycles"), 2);
    assert_eq!(week("#week-changes-right"), 3);
    assert_eq!(week("#week-changes-left"), 0);
    assert_eq!(week("#week-conflicts"), 1);
    assert!(texts(&doc, "#events td.path").contains(&"docs/a.txt".to_owned()));
    // The skipped script-named path is reported as text: its first name
    // (a folder, `/` being a separator) is invalid, so it is skipped whole.
    let script_dir = SCRIPT_PATH.split('/').next().unwrap();
    assert!(
        texts(&doc, "#events .error")
            .iter()
            .any(|t| t.contains(&format!("skipped `{script_dir}`"))),
        "{:?}",
        texts(&doc, "#events .error")
    );

    // The command it shows settles the conflict.
    e.cmd(&["resolve", AMP_PATH, "--keep", "right"])
        .assert()
        .success();
    e.sync();
    assert_eq!(
        e.read(Side::Left, AMP_PATH).as_deref(),
        Some("right edit, longer")
    );
}

#[test]
fn report_defaults_to_beside_the_state_db_and_needs_an_initialised_pair() {
    let e = Env::new();
    e.cmd(&["report"])
        .assert()
        .code(1)
        .stderr(contains("twinsync init"));
    e.cmd(&["init"]).assert().success();
    e.write(Side::Right, "r.txt", "r", 100);
    e.sync();
    e.cmd(&["report"]).assert().success();
    let (_, doc) = page(&e.dir.path().join("state/twinsync-report.html"));
    assert!(
        texts(&doc, "#verdict")[0].contains("in sync"),
        "{:?}",
        texts(&doc, "#verdict")
    );
    assert_eq!(texts(&doc, "#pending-count"), ["0"]);
    assert_eq!(texts(&doc, "#week-changes-left"), ["1"]);
    // --help names it.
    let help = e.cmd(&["--help"]).output().unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("report"));
}

/// `[logging] report_path`: `watch` writes the page (at its first cycle and
/// after busy ones, at most once a minute), whole (no temp file left).
#[test]
fn watch_rewrites_the_report_at_report_path() {
    let e = Env::init("[logging]\nreport_path = 'out/report.html'\n");
    e.write(Side::Left, "docs/plan.txt", "plan", 300);
    e.cmd(&["watch", "--cycles", "2"]).assert().success();
    let out = e.dir.path().join("out/report.html");
    let (html, _) = page(&out);
    assert!(html.contains("Both sides there and in sync"), "{html}");
    assert!(
        html.contains("busy cycle"),
        "the cycle that copied plan.txt is counted"
    );
    let left_over: Vec<_> = std::fs::read_dir(out.parent().unwrap())
        .unwrap()
        .map(|d| d.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left_over, ["report.html"], "only the page, no temp file");
    // Without report_path, watch writes no page.
    let e2 = Env::init("");
    e2.cmd(&["watch", "--cycles", "1"]).assert().success();
    assert!(!e2.dir.path().join("twinsync-report.html").exists());
}
