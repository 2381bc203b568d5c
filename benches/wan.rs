//! The WAN bench (issue 21 item 4, `cargo bench --bench wan`; part of
//! `cargo make bench-wan`): the first sync of 5,000 small files (3 kB, in
//! 50 folders) to a side behind [`LatencyFs`] with 20 ms per metadata call
//! and per write call — a cloud drive or an SMB mount over a WAN — at
//! `parallel_copies` 1, 4 and 8. Prints the wall time of the apply, the
//! speed-up over 1, and the calls per file on the slow side.
//! Goal: 8 parallel copies at least 5× faster than 1.
//!
//! Knobs: `WAN_FILES` (default 5000), `WAN_MS` (per call, default 20),
//! `WAN_PARALLEL` (default "1,4,8"). Both sides are in memory: what is
//! measured is the round trips, not a disk.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};
use twinsync::apply::{self, Options};
use twinsync::config::Config;
use twinsync::fs::Fs;
use twinsync::fs::latency::{LatencyFs, Link};
use twinsync::fs::mem::MemFs;
use twinsync::log::Logger;
use twinsync::pipeline::{self, PlanRequest};
use twinsync::roots::Sides;
use twinsync::state::State;

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One initial sync at `parallel` copies at once: (apply seconds, calls
/// per file on the slow side).
fn initial_sync(files: u64, per_call: Duration, parallel: u32) -> (f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "left_root = 'L'\nright_root = 'R'\nstate_db = '{}'\ncase_sensitive = false\n[transfer]\nmin_file_age_seconds = 0\nparallel_copies = {parallel}\n[logging]\nlog_file_path = '{}'\n",
        dir.path().join("s.db").display(),
        dir.path().join("log.jsonl").display()
    );
    let cfg = Config::parse(&dir.path().join("c.toml"), &text).unwrap();
    let left = MemFs::new("left", true, 1);
    let right = MemFs::new("right", true, 1);
    left.put(twinsync::paths::MARKER_NAME, br#"{"root_id":"L"}"#);
    right.put(twinsync::paths::MARKER_NAME, br#"{"root_id":"R"}"#);
    let body = vec![b'x'; 3000];
    for i in 0..files {
        left.put(&format!("folder{:02}/doc{i:05}.txt", i % 50), &body);
    }
    let slow = Arc::new(LatencyFs::new(
        Arc::new(right.clone()),
        Link {
            per_call,
            per_write: per_call,
            bytes_per_second: 0,
        },
    ));
    let sides = Sides {
        left: Arc::new(left.clone()),
        right: slow.clone(),
    };
    let mut state = State::open_or_create(&cfg.state_db).unwrap();
    let req = PlanRequest {
        now_ns: twinsync::model::time::now_ns() + 10_000_000_000,
        forced: true,
        ..PlanRequest::default()
    };
    let (plan, _) = pipeline::make_plan(&cfg, &sides, &state, req).unwrap();
    apply::admit(
        &plan,
        &cfg,
        &sides,
        &mut state,
        apply::Overrides::GUARDS_CHECKED,
    )
    .unwrap();
    let plan = plan.validated().unwrap();
    slow.reset_counts();
    let t0 = Instant::now();
    let r = apply::run(
        &plan,
        &cfg,
        &sides,
        &mut state,
        &Logger::null(),
        &Options::default(),
    )
    .unwrap();
    let secs = t0.elapsed().as_secs_f64();
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    assert_eq!(r.copied, files);
    assert!(
        right
            .stat(&format!("folder00/doc{:05}.txt", 0))
            .unwrap()
            .is_some()
    );
    #[allow(clippy::cast_precision_loss)]
    let per_file = slow.metadata_calls() as f64 / files as f64;
    (secs, per_file)
}

fn main() {
    let files: u64 = env_or("WAN_FILES", 5000);
    let ms: u64 = env_or("WAN_MS", 20);
    let parallel: Vec<u32> = std::env::var("WAN_PARALLEL")
        .unwrap_or_else(|_| "1,4,8".into())
        .split(',')
        .filter_map(|p| p.trim().parse().ok())
        .collect();
    println!(
        "wan: initial sync of {files} small files (3 kB) to a side with {ms} ms per metadata call and per write call"
    );
    let mut first = None;
    for p in parallel {
        let (secs, per_file) = initial_sync(files, Duration::from_millis(ms), p);
        let base = *first.get_or_insert(secs);
        #[allow(clippy::cast_precision_loss)]
        let rate = files as f64 / secs;
        println!(
            "wan: parallel_copies = {p}: {secs:.1} s ({rate:.0} files/s), {per_file:.2} metadata calls per file on the slow side, {:.1}x the first",
            base / secs
        );
    }
}
