//! Terminal rendering of a plan, in the Terraform spirit: a table of ops
//! grouped by kind and direction, the steps themselves, and a one-line total.

use super::{Op, OpKind, Plan};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use std::collections::BTreeMap;
use std::fmt::Write;

fn direction(op: &Op) -> String {
    match (op.kind, op.from, op.side) {
        (OpKind::Copy | OpKind::SetProps, Some(f), Some(t)) => format!("{f} → {t}"),
        (OpKind::Conflict, _, _) => op
            .conflict
            .as_ref()
            .map_or_else(String::new, |c| format!("{} newer", c.newer)),
        (OpKind::Record, _, _) => "state only".into(),
        (_, _, Some(s)) => format!("on {s}"),
        _ => String::new(),
    }
}

/// What a copy would have sent for the files a move moves.
fn moved_bytes(op: &Op) -> u64 {
    op.moved
        .iter()
        .flat_map(|m| m.iter())
        .filter(|e| e.left.kind == crate::Kind::File)
        .map(|e| e.left.size)
        .sum()
}

/// The size column: bytes copied, or for a move the bytes it does not send.
fn size_text(op: &Op, bytes: u64) -> String {
    if op.kind == OpKind::Move {
        format!("{} not sent", crate::human_size(bytes))
    } else if bytes > 0 {
        crate::human_size(bytes)
    } else {
        String::new()
    }
}

fn label(op: &Op) -> &'static str {
    match op.kind {
        OpKind::Delete if op.soft == Some(true) => "delete (to trash)",
        OpKind::Delete => "delete (for good)",
        k => k.as_str(),
    }
}

/// The grouped summary table.
#[must_use]
pub fn summary_table(plan: &Plan) -> String {
    let mut groups: BTreeMap<(String, String, String), (u64, u64, &Op)> = BTreeMap::new();
    for op in &plan.ops {
        let g = groups
            .entry((
                label(op).to_owned(),
                direction(op),
                op.rule.as_str().to_owned(),
            ))
            .or_insert((0, 0, op));
        g.0 += 1;
        g.1 += if op.kind == OpKind::Move {
            moved_bytes(op)
        } else {
            op.bytes
        };
    }
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    t.set_header(["operation", "direction", "rule", "count", "size"]);
    for ((k, d, r), (n, b, op)) in groups {
        let size = if op.kind == OpKind::Move {
            size_text(op, b)
        } else {
            crate::human_size(b)
        };
        t.add_row([k, d, r, n.to_string(), size]);
    }
    t.to_string()
}

/// The steps, up to `limit` rows (all when `None`).
#[must_use]
pub fn ops_table(plan: &Plan, limit: Option<usize>) -> String {
    let shown: Vec<&Op> = plan
        .ops
        .iter()
        .filter(|o| o.kind != OpKind::Record)
        .collect();
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    t.set_header(["#", "operation", "direction", "path", "size", "rule", "why"]);
    let n = limit.unwrap_or(usize::MAX);
    for op in shown.iter().take(n) {
        let mut path = if op.kind == OpKind::Move {
            op.src_path.clone().unwrap_or_default()
        } else {
            op.path.clone()
        };
        if let Some(d) = &op.dest_path
            && d != &path
        {
            let _ = write!(path, " → {d}");
        }
        if let Some(c) = op.conflict.as_ref().and_then(|c| c.clash_path.as_ref()) {
            let _ = write!(path, " (clash: {c})");
        }
        t.add_row([
            op.id.to_string(),
            label(op).to_owned(),
            direction(op),
            path,
            size_text(
                op,
                if op.kind == OpKind::Move {
                    moved_bytes(op)
                } else {
                    op.bytes
                },
            ),
            op.rule.as_str().to_owned(),
            op.reason.clone(),
        ]);
    }
    let mut s = t.to_string();
    if shown.len() > n {
        let _ = write!(
            s,
            "\n… and {} more steps (see the plan file, or `twinsync show PLAN.json`)",
            shown.len() - n
        );
    }
    s
}

/// The headline of a plan with nothing to do. Only true when nothing else
/// is pending and nothing needs the admin: `plan` replaces it otherwise.
pub const IN_SYNC: &str = "No changes. Both sides are in sync.";

/// Everything `plan` and `show` print for people.
#[must_use]
pub fn render(plan: &Plan, limit: Option<usize>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Plan {} ({})", plan.plan_id, plan.created_at);
    let _ = writeln!(
        out,
        "  left:  {}\n  right: {}",
        plan.left_root, plan.right_root
    );
    for p in &plan.problems {
        let _ = writeln!(out, "  warning: {p}");
    }
    let s = &plan.summary;
    if plan.ops.is_empty() && s.deferred == 0 {
        let _ = writeln!(out, "\n{IN_SYNC}");
    } else if plan.ops.is_empty() {
        let _ = writeln!(out, "\nNo changes to make now.");
    } else if !s.has_changes() {
        let _ = writeln!(
            out,
            "\nNo file changes; {} paths to record as in sync (identical on both sides).",
            s.records
        );
    } else {
        let _ = writeln!(out, "\n{}", summary_table(plan));
        let _ = writeln!(out, "{}", ops_table(plan, limit));
        if s.records > 0 {
            let _ = writeln!(
                out,
                "{} more paths are identical on both sides and will be recorded as in sync.",
                s.records
            );
        }
    }
    if s.deferred > 0 {
        let _ = writeln!(
            out,
            "{} paths left for a later cycle (still being written, unreadable, or in flight).",
            s.deferred
        );
    }
    let _ = writeln!(out, "\n{}", s.one_line());
    out
}
