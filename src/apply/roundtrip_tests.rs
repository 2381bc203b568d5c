//! Round trips on the destination (issue 21 item 2): every metadata call a
//! step makes on a cloud drive or a WAN mount costs 20–100 ms, so each one
//! must earn its place. These tests count the calls (a counting
//! [`LatencyFs`] with a free link) that small new files, updates, soft
//! deletes and moves make on the side they write, and fail above the
//! budget. `cargo test --lib roundtrip -- --nocapture` prints the figures.

use super::tests::{Harness, harness};
use super::*;
use crate::Side;
use crate::fs::Fs;
use crate::fs::latency::{LatencyFs, Link};
use std::sync::Arc;

/// Files per case: enough that per-folder and per-batch costs (a folder
/// created once, the root markers checked per batch) show as what they
/// are, a fraction of a call per file.
const FILES: u64 = 120;
const FOLDERS: u64 = 4;

fn path(i: u64) -> String {
    format!("d{}/f{i}.txt", i % FOLDERS)
}

/// Applies a fresh plan with the right side behind a counter; returns the
/// report and the metadata calls made on the right per step of `kind`.
fn counted(
    h: &Harness,
    kind: OpKind,
) -> (Report, f64, std::collections::BTreeMap<&'static str, u64>) {
    let plan = h.plan();
    let steps = plan.ops.iter().filter(|o| o.kind() == kind).count() as u64;
    assert_eq!(
        steps,
        FILES,
        "{kind:?} steps: {:?}",
        plan.ops
            .iter()
            .map(|o| (o.kind(), &o.path))
            .collect::<Vec<_>>()
    );
    let counter = Arc::new(LatencyFs::new(Arc::new(h.right.clone()), Link::default()));
    let sides = h.sides_with(Side::Right, counter.clone());
    let r = h.apply_clean(&plan, &sides);
    #[allow(clippy::cast_precision_loss)]
    let per = counter.metadata_calls() as f64 / steps as f64;
    (r, per, counter.calls())
}

/// Metadata calls per file on the destination, before issue 21 and after
/// (in-memory drive, 120 files in 4 folders): new file 13.2 → 4.3, update
/// (the old version to trash) 17.0 → 7.3, move 8.3 → 3.3, soft delete
/// 8.0 → 3.2. The budgets below fail on any return of a per-file call
/// (the ceiling for a new file is 7). On the release binary,
/// `scripts/strace-roundtrips.sh` counts the system calls.
#[test]
#[allow(clippy::print_stdout)] // the figures, with --nocapture
fn small_steps_cost_few_round_trips_on_the_destination() {
    let mut h = harness("");
    // Every file changes, moves and goes: not a mass change to refuse here.
    h.cfg.raw.safety.max_change_percent = 100;
    h.cfg.raw.safety.max_delete_percent = 100;
    for i in 0..FILES {
        h.left.put(&path(i), format!("v1 {i}").as_bytes());
    }
    let (r, new, calls) = counted(&h, OpKind::Copy);
    assert_eq!(r.copied, FILES);
    println!("new file: {new:.2} metadata calls per file on the destination {calls:?}");

    h.tick();
    for i in 0..FILES {
        h.left.put(&path(i), format!("v2 {i}, longer").as_bytes());
    }
    let (r, update, calls) = counted(&h, OpKind::Copy);
    assert_eq!(r.trashed_replaced, FILES);
    println!("update: {update:.2} per file {calls:?}");

    h.tick();
    for i in 0..FILES {
        h.left
            .rename(&path(i), &format!("moved/{}", path(i)))
            .unwrap_or_else(|_| {
                h.left
                    .create_dir_all(paths::parent(&format!("moved/{}", path(i))))
                    .unwrap();
                h.left
                    .rename(&path(i), &format!("moved/{}", path(i)))
                    .unwrap();
            });
    }
    let (r, moved, calls) = counted(&h, OpKind::Move);
    assert_eq!(r.moves, FILES);
    println!("move: {moved:.2} per file {calls:?}");

    h.tick();
    for i in 0..FILES {
        h.left.remove_file(&format!("moved/{}", path(i))).unwrap();
    }
    let (r, deleted, calls) = counted(&h, OpKind::Delete);
    assert_eq!(r.soft_deletes, FILES);
    println!("soft delete: {deleted:.2} per file {calls:?}");

    assert!(new <= 4.5, "new file: {new:.2} metadata calls per file");
    assert!(update <= 7.5, "update: {update:.2}");
    assert!(moved <= 3.5, "move: {moved:.2}");
    assert!(deleted <= 3.5, "soft delete: {deleted:.2}");
}
