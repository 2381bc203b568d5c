//! The report from a state with conflicts, failures, trash, pending steps
//! and a week of cycles: the numbers and paths read back from the parsed
//! page, and nothing on it that could run or load anything.

use super::*;
use crate::Entry;
use crate::fs::Kind;
use crate::state::{CycleRecord, Update};
use scraper::{Html, Selector};

const SCRIPT_PATH: &str = "<script>alert(1)</script>.txt";

/// A config (and initialised roots) in a temp folder.
struct Fixture {
    dir: tempfile::TempDir,
    cfg: Config,
}

fn fixture(extra: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    for side in ["left", "right"] {
        std::fs::create_dir_all(dir.path().join(side)).unwrap();
    }
    let file = dir.path().join("sync_config.toml");
    std::fs::write(
        &file,
        format!(
            "left_root = 'left'\nright_root = 'right'\nstate_db = 'state/twinsync.db'\n\
             [transfer]\nmin_file_age_seconds = 0\nlarge_file_bytes = 100\n\
             [logging]\nlog_file_path = 'log.jsonl'\n{extra}"
        ),
    )
    .unwrap();
    // What `init` does, quietly: a marker in each root, its id in the DB.
    let state = State::open_or_create(&dir.path().join("state/twinsync.db")).unwrap();
    for side in Side::BOTH {
        let id = format!("{side}-id");
        let m = crate::roots::Marker {
            root_id: id.clone(),
            side: side.as_str().into(),
            created_at: String::new(),
        };
        std::fs::write(
            dir.path()
                .join(side.as_str())
                .join(crate::paths::MARKER_NAME),
            serde_json::to_vec(&m).unwrap(),
        )
        .unwrap();
        state.set_meta(&format!("{side}_root_id"), &id).unwrap();
    }
    let cfg = Config::load(&file).unwrap();
    Fixture { dir, cfg }
}

fn entry(path: &str, size: u64, mtime_s: i64) -> Entry {
    Entry {
        path: path.into(),
        kind: Kind::File,
        size,
        mtime: mtime_s * 1_000_000_000,
        props: 0o644,
        offline: false,
        hash: None,
        id: None,
        unchanged: false,
    }
}

fn conflict(path: &str, l: u64, r: u64) -> Update {
    Update::Conflict(crate::state::ConflictRecord {
        key: path.to_lowercase(),
        path: path.into(),
        rule: crate::Rule::ChangedBoth,
        left: Some(entry(path, l, 1_700_000_000)),
        right: Some(entry(path, r, 1_700_000_100)),
        keep: None,
        created_at: chrono::Utc::now().to_rfc3339(),
    })
}

fn trash(side: Side, path: &str, size: u64, days_ago: i64) -> Update {
    Update::Trash(crate::state::TrashRecord {
        id: 0,
        side,
        original_path: path.into(),
        trash_path: path.into(),
        size,
        deleted_at: (chrono::Utc::now() - chrono::Duration::days(days_ago)).to_rfc3339(),
        rule: "6.2.7".into(),
    })
}

/// One synthetic cycle an hour for the last 7 days (but the oldest hour,
/// so the test holds if the clock passes an hour before the page is made) (3 changes: 1 → left,
/// 2 → right; 1 kB → left, 2 kB → right; a conflict every 24 hours), and
/// two older ones the charts must leave out.
fn week_of_cycles(state: &State) {
    let now = crate::now_ns() / 1_000_000_000;
    let mut ks: Vec<i64> = vec![500, 200];
    ks.extend((0..167).rev());
    for k in ks {
        let at = now - k * 3600;
        let c = CycleRecord {
            started_at: DateTime::from_timestamp(at, 0).unwrap().to_rfc3339(),
            files_scanned: 90,
            changes: 3,
            changes_to_left: 1,
            changes_to_right: 2,
            conflicts: u64::from(k % 24 == 0),
            bytes_copied: 3000,
            bytes_to_left: 1000,
            bytes_to_right: 2000,
            duration_ms: 1500,
            result: crate::CycleResult::Ok,
            ..CycleRecord::default()
        };
        state.record_cycle_at(&c, now).unwrap();
    }
}

fn sel(s: &str) -> Selector {
    Selector::parse(s).unwrap()
}

fn text(doc: &Html, s: &str) -> String {
    doc.select(&sel(s))
        .next()
        .unwrap_or_else(|| panic!("no `{s}` on the page"))
        .text()
        .collect::<String>()
}

fn attr(doc: &Html, s: &str, a: &str) -> String {
    doc.select(&sel(s))
        .next()
        .unwrap_or_else(|| panic!("no `{s}` on the page"))
        .value()
        .attr(a)
        .unwrap_or_else(|| panic!("`{s}` has no {a}"))
        .to_owned()
}

/// Nothing on the page can run or load: no script element or handler, no
/// URL anywhere (the SVG namespace is dropped too).
fn assert_inert(html: &str, doc: &Html) {
    assert!(!html.to_lowercase().contains("<script"), "a <script tag");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "a URL"
    );
    assert_eq!(
        doc.select(&sel("script, link, img, iframe, object, embed"))
            .count(),
        0
    );
    assert_eq!(
        attr(doc, "meta[http-equiv=Content-Security-Policy]", "content"),
        "default-src 'none'; style-src 'unsafe-inline'"
    );
    for el in doc
        .root_element()
        .descendants()
        .filter_map(scraper::ElementRef::wrap)
    {
        for (name, _) in el.value().attrs() {
            assert!(!name.starts_with("on"), "event handler {name}");
            assert!(
                !matches!(name, "src" | "href" | "xlink:href"),
                "resource {name}"
            );
        }
    }
}

#[test]
fn report_shows_the_numbers_and_paths_of_the_state() {
    let f = fixture("[conflicts]\nsame_file_changed_both = 'option2'\n");
    let cfg = &f.cfg;
    let root = f.dir.path();
    // Pending work: an unfinished plan with a large and a small copy.
    std::fs::write(root.join("left/big.bin"), vec![7u8; 5000]).unwrap();
    std::fs::write(root.join("left/small.txt"), "s").unwrap();
    let mut state = State::open(&cfg.state_db).unwrap();
    let sides = Sides::real(cfg);
    let req = crate::pipeline::PlanRequest {
        now_ns: crate::now_ns(),
        ..crate::pipeline::PlanRequest::default()
    };
    let (plan, _) = crate::pipeline::make_plan(cfg, &sides, &state, req).unwrap();
    state
        .begin_plan(&plan.plan_id, plan.base_generation)
        .unwrap();
    state
        .save_plan_json(&plan.plan_id, &plan.to_json())
        .unwrap();
    // Two conflicts, one named like a script; a failing path; trash on both sides.
    state
        .commit(
            "x",
            &[],
            &[
                conflict(SCRIPT_PATH, 12_000, 34_000),
                conflict("docs/budget.xlsx", 1_500_000, 1_600_000),
                trash(Side::Left, "old/a.doc", 1000, 40),
                trash(Side::Left, "old/b.doc", 2000, 31),
                trash(Side::Left, "new/c.doc", 4000, 2),
                trash(Side::Right, "r.doc", 500, 1),
            ],
        )
        .unwrap();
    state
        .record_failure(
            "locked.docx",
            "Locked <b>.docx",
            "copy",
            "sharing violation <img src=x onerror=alert(2)>",
            0,
        )
        .unwrap();
    crate::alert::enqueue(&state, "conflict", "twinsync: conflict on <i>x</i>", "body");
    week_of_cycles(&state);
    // The log: quiet cycles and routine scans are left out of the events.
    let log = [
        r#"{"ts":"2024-05-01T10:00:00.000Z","level":"info","event":"scan","side":"left","mode":"full","files_scanned":3}"#.to_owned(),
        format!(
            r#"{{"ts":"2024-05-01T10:00:01.000Z","level":"info","event":"copy","path":{},"side":"right","rule":"6.2.2","result":"ok","bytes":12000}}"#,
            serde_json::to_string(SCRIPT_PATH).unwrap()
        ),
        r#"{"ts":"2024-05-01T10:00:02.000Z","level":"info","event":"cycle","started_at":"2024-05-01T10:00:00Z","changes":1,"conflicts":0,"failed":0,"bytes_copied":12000,"duration_ms":40,"result":"ok"}"#.to_owned(),
        r#"{"ts":"2024-05-01T10:00:12.000Z","level":"info","event":"cycle","started_at":"2024-05-01T10:00:10Z","changes":0,"conflicts":0,"failed":0,"duration_ms":5,"result":"ok"}"#.to_owned(),
    ];
    std::fs::write(&cfg.log_file, log.join("\n") + "\n").unwrap();

    let snap = gather(cfg, &state, &sides).unwrap();
    let html = render(&snap);
    let doc = Html::parse_document(&html);
    assert_inert(&html, &doc);

    // 1. Roots and pending work.
    assert_eq!(attr(&doc, "#root-left", "data-available"), "yes");
    assert_eq!(attr(&doc, "#root-right", "data-available"), "yes");
    assert!(text(&doc, "#root-left").contains(&cfg.left_root.display().to_string()));
    assert_eq!(text(&doc, "#pending-count"), "2");
    assert_eq!(text(&doc, "#lane-count"), "1");
    assert_eq!(attr(&doc, "#lane-bytes", "data-v"), "5000");
    let pending: Vec<String> = doc
        .select(&sel("tr.pending td.path"))
        .map(|e| e.text().collect())
        .collect();
    assert_eq!(pending.len(), 2, "{pending:?}");
    assert!(pending.contains(&"big.bin".to_owned()), "{pending:?}");
    // The last cycle is the log's latest (a quiet one), from 2024.
    assert!(
        text(&doc, "#last-cycle").contains("2024-05-01"),
        "{}",
        text(&doc, "#last-cycle")
    );

    // 2. What needs me: the verdict, conflicts with sizes and commands, failures, emails.
    assert_eq!(attr(&doc, "#verdict", "class"), "warn");
    assert!(text(&doc, "#verdict").contains("2 unresolved conflicts, 1 failing path"));
    let rows: Vec<_> = doc.select(&sel("#conflicts tr.conflict")).collect();
    assert_eq!(rows.len(), 2);
    let script_row = rows
        .iter()
        .find(|r| {
            r.select(&sel("td.path"))
                .next()
                .unwrap()
                .text()
                .collect::<String>()
                == SCRIPT_PATH
        })
        .expect("the <script> path shown as text");
    let cell = |r: &scraper::ElementRef<'_>, s: &str| -> String {
        r.select(&sel(s)).next().unwrap().text().collect()
    };
    assert!(
        cell(script_row, "td.left").starts_with("11.72 KiB, modified 2023-11-1"),
        "{}",
        cell(script_row, "td.left")
    );
    assert!(cell(script_row, "td.right").starts_with("33.20 KiB"));
    let cmds: Vec<String> = script_row
        .select(&sel("code.resolve"))
        .map(|e| e.text().collect())
        .collect();
    let config = std::path::absolute(&cfg.file)
        .unwrap()
        .display()
        .to_string();
    assert_eq!(
        cmds,
        ["left", "right", "both"].map(|k| format!(
            "twinsync resolve \"{SCRIPT_PATH}\" --keep {k} --config \"{config}\""
        ))
    );
    assert_eq!(
        text(&doc, "#failures tr.failure td.path"),
        "Locked <b>.docx"
    );
    assert_eq!(
        text(&doc, "#failures tr.failure td.error"),
        "sharing violation <img src=x onerror=alert(2)>"
    );
    assert!(text(&doc, "#failures tr.failure td.since").contains("(just now)"));
    assert_eq!(text(&doc, "#emails-queued"), "1");
    assert!(text(&doc, "#emails").contains("conflict on <i>x</i>"));

    // 3. What happened: the week's sums (the two older cycles left out), four charts, events.
    for (id, v) in [
        ("#week-cycles", 167),
        ("#week-changes-left", 167),
        ("#week-changes-right", 334),
        ("#week-bytes-left", 167_000),
        ("#week-bytes-right", 334_000),
        ("#week-conflicts", 7),
        ("#week-failed", 0),
    ] {
        assert_eq!(attr(&doc, id, "data-v"), v.to_string(), "{id}");
    }
    assert_eq!(text(&doc, "#week-bytes-right"), "326.17 KiB");
    assert_eq!(doc.select(&sel("#happened figure svg")).count(), 4);
    assert!(doc.select(&sel("#happened figure svg rect")).count() > 167);
    let events: Vec<String> = doc
        .select(&sel("#events tr.event"))
        .map(|e| e.text().collect())
        .collect();
    assert_eq!(
        events.len(),
        2,
        "quiet cycle and routine scan left out: {events:?}"
    );
    assert!(
        events[0].contains("cycle") && events[0].contains("1 change,"),
        "{events:?}"
    );
    assert!(
        events[1].contains(SCRIPT_PATH) && events[1].contains("11.72 KiB"),
        "{events:?}"
    );

    // 4. Trash: files, bytes, oldest, what purge (30 days) would free.
    assert_eq!(attr(&doc, "#trash-left td.files", "data-v"), "3");
    assert_eq!(attr(&doc, "#trash-left td.bytes", "data-v"), "7000");
    assert!(text(&doc, "#trash-left td.oldest").contains("old/a.doc"));
    assert_eq!(attr(&doc, "#trash-left td.purge", "data-files"), "2");
    assert_eq!(attr(&doc, "#trash-left td.purge", "data-bytes"), "3000");
    assert_eq!(attr(&doc, "#trash-right td.files", "data-v"), "1");
    assert_eq!(attr(&doc, "#trash-right td.purge", "data-files"), "0");

    // The sections come in the order an admin asks.
    let at = |id: &str| html.find(&format!("id=\"{id}\"")).unwrap();
    assert!(
        at("now") < at("needs-you")
            && at("needs-you") < at("happened")
            && at("happened") < at("trash")
    );
}

#[test]
fn an_unavailable_side_turns_the_verdict_red() {
    let f = fixture("");
    std::fs::remove_file(f.dir.path().join("right/.twinsync-root")).unwrap();
    let state = State::open(&f.cfg.state_db).unwrap();
    let html = render(&gather(&f.cfg, &state, &Sides::real(&f.cfg)).unwrap());
    let doc = Html::parse_document(&html);
    assert_eq!(attr(&doc, "#verdict", "class"), "bad");
    assert!(text(&doc, "#verdict").contains("right side is unavailable"));
    assert_eq!(attr(&doc, "#root-right", "data-available"), "no");
    assert!(text(&doc, "#root-right").contains("marker"));
    assert_eq!(attr(&doc, "#root-left", "data-available"), "yes");
    // No cycle at all yet: the charts still draw, empty.
    assert_eq!(attr(&doc, "#week-cycles", "data-v"), "0");
    assert!(text(&doc, "#last-cycle").contains("none yet"));
}

#[test]
fn write_replaces_the_page_atomically_and_leaves_no_temp_file() {
    let f = fixture("");
    let state = State::open(&f.cfg.state_db).unwrap();
    let out = f.dir.path().join("pages/r.html");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    std::fs::write(&out, "old").unwrap();
    write(&f.cfg, &state, &Sides::real(&f.cfg), &out).unwrap();
    let page = std::fs::read_to_string(&out).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>") && page.ends_with("</html>"));
    let names: Vec<_> = std::fs::read_dir(out.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["r.html"]);
    // A page that cannot be written is an error naming it.
    let bad = f.dir.path().join("sync_config.toml/r.html");
    let e = write(&f.cfg, &state, &Sides::real(&f.cfg), &bad).unwrap_err();
    assert!(e.to_string().contains("r.html"), "{e}");
}

#[test]
fn watch_rewrites_after_busy_cycles_spaced_by_its_cost_and_never_forgets_one() {
    // Without report_path: never.
    let f = fixture("");
    let state = State::open(&f.cfg.state_db).unwrap();
    let mut rw = Rewriter::default();
    assert!(!maybe_rewrite(&f.cfg, &state, &mut rw, true).unwrap());

    let f = fixture("report_path = 'out/report.html'\n");
    let state = State::open(&f.cfg.state_db).unwrap();
    let page = f.dir.path().join("out/report.html");
    let mut rw = Rewriter::default();
    // The first cycle writes the page, busy or not.
    assert!(maybe_rewrite(&f.cfg, &state, &mut rw, false).unwrap());
    assert!(page.exists());
    // A busy cycle writes it again at once (the page is cheap here)…
    std::fs::remove_file(&page).unwrap();
    rw.last = Instant::now().checked_sub(rw.took * REWRITE_SPACING);
    assert!(maybe_rewrite(&f.cfg, &state, &mut rw, true).unwrap());
    assert!(page.exists());
    // …a quiet one writes nothing.
    rw.last = Instant::now().checked_sub(rw.took * REWRITE_SPACING);
    assert!(!maybe_rewrite(&f.cfg, &state, &mut rw, false).unwrap());
    // Too soon after a costly write: remembered, not written…
    std::fs::remove_file(&page).unwrap();
    rw.took = Duration::from_secs(1);
    rw.last = Some(Instant::now());
    assert!(!maybe_rewrite(&f.cfg, &state, &mut rw, true).unwrap());
    assert!(!maybe_rewrite(&f.cfg, &state, &mut rw, false).unwrap());
    assert!(!page.exists());
    // …and written by the next call once its spacing passed, busy or not.
    rw.last = Instant::now().checked_sub(Duration::from_secs(11));
    assert!(maybe_rewrite(&f.cfg, &state, &mut rw, false).unwrap());
    assert!(page.exists());
}

#[test]
fn the_log_tail_reaches_into_the_rotated_file() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("l.jsonl");
    let line = |i: u32| {
        format!(r#"{{"ts":"2024-05-01T10:00:00Z","level":"info","event":"copy","path":"f{i}"}}"#)
    };
    std::fs::write(
        d.path().join("l.jsonl.1"),
        (0..40).map(line).collect::<Vec<_>>().join("\n") + "\n",
    )
    .unwrap();
    std::fs::write(
        &log,
        (40..60).map(line).collect::<Vec<_>>().join("\n") + "\n",
    )
    .unwrap();
    let (events, cycle) = read_log(&log, 50);
    assert!(cycle.is_none());
    assert_eq!(events.len(), 50);
    assert_eq!(events[0].path, "f59");
    assert_eq!(events[49].path, "f10");
    // A tail that starts mid-line drops the cut line.
    let lines = tail_lines(&log, 30);
    assert!(lines.iter().all(|l| l.starts_with('{')), "{lines:?}");
}
