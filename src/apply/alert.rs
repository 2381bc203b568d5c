//! The alert texts of steps (SPEC §11): a conflict handled by option1 or
//! option2, and a step that failed. Queued in the outbox (see
//! [`crate::alert`]); the apply run calls this through [`super::Options::on_event`].

use crate::Resolution;
use crate::config::Config;
use crate::plan::{Op, OpKind};
use crate::state::State;

fn with_state(cfg: &Config, f: impl FnOnce(&State)) {
    if let Ok(s) = State::open(&cfg.state_db) {
        f(&s);
    }
}

/// Queues the alert of a conflict step or a failed step (`err` non-empty).
pub fn enqueue_step(cfg: &Config, op: &Op, err: &str) {
    if !cfg.raw.email.enabled {
        return;
    }
    let now = crate::human::now();
    if !err.is_empty() {
        let body = format!(
            "Time: {now}\nPath: {}\nOperation: {} (rule {})\nSide: {}\nError: {err}\n\nThe step will be retried in later cycles.",
            op.path,
            op.kind().as_str(),
            op.rule,
            op.side().map_or("both", |s| s.as_str())
        );
        with_state(cfg, |s| {
            crate::alert::enqueue(
                s,
                "failure",
                &format!("failed: {} {}", op.kind().as_str(), op.path),
                &body,
            );
        });
        return;
    }
    if op.kind() != OpKind::Conflict {
        return;
    }
    let Some(c) = op.conflict_info() else { return };
    if !matches!(
        c.resolution,
        Resolution::ClashCopies | Resolution::LeftAlone
    ) {
        return;
    }
    let side = |i: &Option<crate::plan::SideInfo>| {
        i.as_ref().map_or_else(
            || "absent".to_owned(),
            |i| {
                format!(
                    "{} ({}), modified {}",
                    crate::human_size(i.size),
                    crate::human::plural(i.size, "byte", "bytes"),
                    crate::human::time_ns(i.mtime)
                )
            },
        )
    };
    let done = match c.resolution {
        Resolution::ClashCopies => format!(
            "Clash copies made: the newer version ({}) stays at `{}` on both sides; the older ({}) is kept as `{}` on both sides.",
            c.newer,
            op.path,
            c.older,
            c.clash_path.as_deref().unwrap_or("?")
        ),
        _ => format!(
            "Both versions were left alone. Settle it with: twinsync resolve \"{}\" --keep left|right|both",
            op.path
        ),
    };
    let body = format!(
        "Time: {now}\nPath: {}\nRule: {} ({})\nSides: left and right\nNewer side: {}\nLeft:  {}\nRight: {}\nWhat was done: {done}\n",
        op.path,
        op.rule,
        op.reason,
        c.newer,
        side(&c.left),
        side(&c.right)
    );
    with_state(cfg, |s| {
        crate::alert::enqueue(s, "conflict", &format!("conflict: {}", op.path), &body);
    });
}
