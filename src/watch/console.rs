//! What `watch` says on its console (SPEC §12): one human line per cycle
//! that did something, per direction (`10:42:05  → right  Sales/Q3.xlsx,
//! 2 more · 1.20 MiB · 0.4 s`), one per large-file copy when it finishes, and
//! a line when a side goes away or comes back and when a guard blocks or
//! clears. Nothing for quiet cycles. Times are local `HH:MM:SS`, sizes
//! binary units.
//!
//! The JSON events go to the log file (and, with `--log-json`, to stdout:
//! the human lines then go to stderr, so stdout stays pure JSON Lines).

use crate::plan::{Op, OpKind, Step};
use crate::{Resolution, Side};
use std::time::Duration;

/// Where the human lines go.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Console {
    /// `--log-json`: stdout carries the JSON events, the human lines go to stderr.
    pub(super) log_json: bool,
    /// The Windows service has no console: nothing is printed.
    pub(super) silent: bool,
}

impl Console {
    /// Prints `2026-12-07 03:33:10 +01:00  text` (SPEC §12: times people
    /// read are local, to the second, with the offset), control characters
    /// escaped (a path in it may hold them).
    pub(super) fn line(self, text: &str) {
        if self.silent {
            return;
        }
        let text = crate::human::escape(text);
        let t = crate::human::time(&chrono::Local::now());
        if self.log_json {
            crate::eoutln!("{t}  {text}");
        } else {
            crate::outln!("{t}  {text}");
        }
    }

    /// Prints a line without the time (the banner), escaped.
    pub(super) fn plain(self, text: &str) {
        if self.silent {
            return;
        }
        let text = crate::human::escape(text);
        if self.log_json {
            crate::eoutln!("{text}");
        } else {
            crate::outln!("{text}");
        }
    }
}

/// How many paths a line names before "N more".
const NAMED: usize = 3;

/// The lines of a cycle (or a large copy) that did `done`, which took
/// `took`: one per direction, then one for conflicts; none when nothing
/// was done (records of unchanged files do not count).
pub(super) fn cycle_lines(done: &[&Op], took: Duration, lane: Option<&str>) -> Vec<String> {
    let mut lines = Vec::new();
    let tail = lane.map_or_else(String::new, |l| format!(" ({l})"));
    for side in [Side::Right, Side::Left] {
        let mut ops: Vec<&Op> = done
            .iter()
            .copied()
            .filter(|o| {
                o.side() == Some(side) && o.kind() != OpKind::Record && o.kind() != OpKind::Conflict
            })
            .collect();
        if ops.is_empty() {
            continue;
        }
        // Files first, folders last: what people look for is named.
        ops.sort_by_key(|o| match o.kind() {
            OpKind::Copy => 0,
            OpKind::Move | OpKind::Rename => 1,
            OpKind::Delete => 2,
            OpKind::SetProps => 3,
            _ => 4,
        });
        let bytes: u64 = ops
            .iter()
            .filter(|o| o.kind() == OpKind::Copy)
            .map(|o| o.bytes)
            .sum();
        let mut line = format!("→ {:<5}  {}", side.as_str(), names(&ops));
        if bytes > 0 {
            line.push_str(&format!(
                " · {}",
                humansize::format_size(bytes, humansize::BINARY)
            ));
        }
        line.push_str(&format!(" · {}{tail}", duration(took)));
        lines.push(line);
    }
    // Conflicts: those left for the admin (option2) are in `status`; the
    // others were settled here, and the line says how.
    let conflicts: Vec<&Op> = done
        .iter()
        .copied()
        .filter(|o| o.kind() == OpKind::Conflict)
        .collect();
    let (open, settled): (Vec<&Op>, Vec<&Op>) = conflicts.iter().partition(
        |o| matches!(&o.step, Step::Conflict(c) if c.conflict.resolution == Resolution::LeftAlone),
    );
    if !open.is_empty() {
        lines.push(format!(
            "conflict  {}: left for you (see `twinsync status`)",
            names(&open)
        ));
    }
    for op in settled {
        lines.push(format!("conflict  {}", settled_how(op)));
    }
    lines
}

/// A conflict settled by its plan, in words: `report.docx: the older
/// version kept as report - clash.docx`, `a.txt: the newer version won`.
fn settled_how(op: &Op) -> String {
    let Step::Conflict(c) = &op.step else {
        return op.path.clone();
    };
    let c = &c.conflict;
    match (c.resolution, c.clash_path.as_deref()) {
        (Resolution::ClashCopies, Some(clash)) => format!(
            "{}: the {} version is newer; the {} one kept as {clash}",
            op.path, c.newer, c.older
        ),
        (Resolution::KeepSide, _) => format!("{}: settled as `resolve` chose", op.path),
        _ => format!(
            "{}: the {} version is newer and replaced the {} one",
            op.path, c.newer, c.older
        ),
    }
}

/// `a.txt, b.txt, c.txt, 2 more`: each named once, in order (a path
/// with two steps one way, e.g. a clash copy's, is one name).
fn names(ops: &[&Op]) -> String {
    let mut seen = std::collections::HashSet::new();
    let mut all: Vec<String> = ops
        .iter()
        .map(|o| describe(o))
        .filter(|d| seen.insert(d.clone()))
        .collect();
    if all.len() > NAMED {
        let more = all.len() - NAMED;
        all.truncate(NAMED);
        all.push(format!("{more} more"));
    }
    all.join(", ")
}

/// One step as a few words: `Sales/Q3.xlsx`, `old.txt (deleted)`, `a → b`.
fn describe(op: &Op) -> String {
    match op.kind() {
        OpKind::Delete | OpKind::Rmdir => {
            if op.is_hard_delete() {
                format!("{} (deleted for good)", op.path)
            } else {
                format!("{} (deleted)", op.path)
            }
        }
        OpKind::Move | OpKind::Rename => match (op.src_path(), op.dest_path()) {
            (Some(from), Some(to)) if from != to => format!("{from} → {to}"),
            _ => op.path.clone(),
        },
        OpKind::SetProps => format!("{} (properties)", op.path),
        OpKind::Mkdir => format!("{}/", op.path),
        _ => op.path.clone(),
    }
}

/// `850 ms`, `1.4 s`, `12 s`, `2 min 5 s`.
pub(super) fn duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 1.0 {
        format!("{} ms", d.as_millis())
    } else if s < 10.0 {
        format!("{s:.1} s")
    } else if s < 60.0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} min {} s", d.as_secs() / 60, d.as_secs() % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(kind: OpKind, path: &str, side: Side, bytes: u64) -> Op {
        serde_json::from_value(serde_json::json!({
            "id": 1, "kind": kind.as_str(), "path": path, "key": path, "rule": "6.2.3",
            "reason": "r", "side": side, "bytes": bytes, "expect": [],
            // What each kind needs (the others ignore them).
            "from": side.other(), "src_path": path, "dest_path": path, "props": 0,
            "soft": true, "record": {"left": null, "right": null}
        }))
        .unwrap()
    }

    #[test]
    fn one_line_per_direction_names_three_paths_bytes_and_time() {
        let ops = [
            op(OpKind::Copy, "Sales/Q3.xlsx", Side::Right, 1_000_000),
            op(OpKind::Copy, "b.txt", Side::Right, 258_576),
            op(OpKind::Delete, "old.txt", Side::Right, 0),
            op(OpKind::Copy, "c.txt", Side::Right, 0),
            op(OpKind::Mkdir, "New", Side::Left, 0),
            op(OpKind::Record, "same.txt", Side::Left, 0),
        ];
        let refs: Vec<&Op> = ops.iter().collect();
        let lines = cycle_lines(&refs, Duration::from_millis(400), None);
        assert_eq!(
            lines,
            [
                "→ right  Sales/Q3.xlsx, b.txt, c.txt, 1 more · 1.20 MiB · 400 ms",
                "→ left   New/ · 400 ms",
            ]
        );
    }

    /// A conflict the plan settled says how; one left for the admin
    /// points at `status` (which lists only those).
    #[test]
    fn a_conflict_line_says_how_it_was_settled() {
        let conflict = |path: &str, resolution: &str, clash: Option<&str>| -> Op {
            serde_json::from_value(serde_json::json!({
                "id": 1, "kind": "conflict", "path": path, "key": path, "rule": "6.2.1",
                "reason": "r", "expect": [],
                "conflict": {"newer": "right", "older": "left", "clash_path": clash,
                             "resolution": resolution, "option": "option1",
                             "left": null, "right": null}
            }))
            .unwrap()
        };
        let clash = conflict("report.docx", "clash_copies", Some("report - clash.docx"));
        let left = conflict("budget.xlsx", "left_alone", None);
        let lines = cycle_lines(&[&clash, &left], Duration::from_millis(5), None);
        assert_eq!(
            lines,
            [
                "conflict  budget.xlsx: left for you (see `twinsync status`)",
                "conflict  report.docx: the right version is newer; the left one kept as report - clash.docx",
            ]
        );
    }

    /// Regression (audit item 3): `→ right a.txt, n.txt, a.txt`. Each
    /// path is named once, in order, and "N more" counts names.
    #[test]
    fn a_line_names_each_path_once() {
        let ops = [
            op(OpKind::Copy, "a.txt", Side::Right, 1),
            op(OpKind::Copy, "n.txt", Side::Right, 1),
            op(OpKind::Copy, "a.txt", Side::Right, 1),
            op(OpKind::Copy, "b.txt", Side::Right, 1),
            op(OpKind::Copy, "b.txt", Side::Right, 1),
        ];
        let refs: Vec<&Op> = ops.iter().collect();
        let lines = cycle_lines(&refs, Duration::from_millis(5), None);
        assert_eq!(lines, ["→ right  a.txt, n.txt, b.txt · 5 B · 5 ms"]);
        let refs: Vec<&Op> = ops.iter().chain(&ops[..1]).collect();
        let mut more = refs.clone();
        let c = op(OpKind::Copy, "c.txt", Side::Right, 1);
        more.insert(1, &c);
        let lines = cycle_lines(&more, Duration::from_millis(5), None);
        assert_eq!(lines, ["→ right  a.txt, c.txt, n.txt, 1 more · 7 B · 5 ms"]);
    }

    #[test]
    fn records_alone_make_no_line() {
        let ops = [op(OpKind::Record, "same.txt", Side::Left, 0)];
        let refs: Vec<&Op> = ops.iter().collect();
        assert!(cycle_lines(&refs, Duration::from_secs(1), None).is_empty());
        assert!(cycle_lines(&[], Duration::from_secs(1), None).is_empty());
    }

    #[test]
    fn a_large_copy_says_its_lane_and_durations_read_as_people_say_them() {
        let ops = [op(OpKind::Copy, "big.mov", Side::Left, 150 << 20)];
        let refs: Vec<&Op> = ops.iter().collect();
        let lines = cycle_lines(&refs, Duration::from_secs(125), Some("large-file lane"));
        assert_eq!(
            lines,
            ["→ left   big.mov · 150 MiB · 2 min 5 s (large-file lane)"]
        );
        assert_eq!(duration(Duration::from_millis(11_330)), "11 s");
        assert_eq!(duration(Duration::from_millis(1_400)), "1.4 s");
        assert_eq!(duration(Duration::from_millis(14)), "14 ms");
    }
}
