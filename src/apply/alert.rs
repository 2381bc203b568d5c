//! The alert texts of steps (SPEC §11): a conflict handled by option1 or
//! option2, and a step that failed. Each names the time, the path, the
//! sides, what was done, both sides' size and mtime, and the error.
//! Queued in the outbox (see [`crate::alert`]); the apply run calls this
//! through [`super::Options::on_event`].

use super::StepEvent;
use crate::config::Config;
use crate::plan::{ConflictInfo, Expect, Op, OpKind, SideInfo};
use crate::state::State;
use crate::{Kind, Resolution, Side};

fn with_state(cfg: &Config, f: impl FnOnce(&State)) {
    if let Ok(s) = State::open(&cfg.state_db) {
        f(&s);
    }
}

/// Size and mtime as people read them: `1.2 KiB (1234 bytes), modified …`.
fn size_and_time(kind: Kind, size: u64, mtime: i64) -> String {
    let when = crate::human::time_ns(mtime);
    if kind == Kind::Dir {
        format!("a folder, modified {when}")
    } else {
        format!(
            "{} ({}), modified {when}",
            crate::human_size(size),
            crate::human::plural(size, "byte", "bytes")
        )
    }
}

/// One side of a failed step, from what the step expected there when it
/// was planned: each path it reads or writes on that side, with its size
/// and mtime, or "absent".
fn expected_on(op: &Op, side: Side) -> String {
    let on: Vec<&Expect> = op.expect.iter().filter(|e| e.side == side).collect();
    if on.is_empty() {
        return "not touched by this step".to_owned();
    }
    on.iter()
        .map(|e| {
            let what = if e.exists {
                size_and_time(e.kind.unwrap_or(Kind::File), e.size, e.mtime)
            } else {
                "absent".to_owned()
            };
            if e.path == op.path {
                what
            } else {
                format!("`{}`: {what}", e.path)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The body of a failed step's alert.
#[must_use]
pub fn failure_body(now: &str, op: &Op, err: &str) -> String {
    let sides = match (op.from(), op.side()) {
        (Some(from), Some(to)) if from != to => format!("{from} to {to}"),
        (_, Some(side)) => side.as_str().to_owned(),
        _ => "left and right".to_owned(),
    };
    format!(
        "Time: {now}\nPath: {}\nOperation: {} (rule {}): {}\nSides: {sides}\nLeft:  {}\nRight: {}\nError: {err}\n\nThe step will be retried in later cycles.",
        op.path,
        op.kind().as_str(),
        op.rule,
        op.reason,
        expected_on(op, Side::Left),
        expected_on(op, Side::Right),
    )
}

/// Whether a conflict's alert is due (SPEC §11: every conflict handled by
/// option1 or option2, whatever that option does under its key — option2
/// of `new_file_both_different` is "newer overwrites"; a file-versus-folder
/// clash; `resolve --keep both`). `option3` and `resolve --keep left|right`
/// are the admin's own choice and are not alerted.
fn alerted(c: &ConflictInfo) -> bool {
    match c.resolution {
        Resolution::ClashCopies | Resolution::LeftAlone => true,
        Resolution::NewerOverwrites => matches!(c.option.as_str(), "option1" | "option2"),
        Resolution::KeepSide => false,
    }
}

/// What was done about a conflict, true to what this run did: when one of
/// its steps failed or was skipped, the alert says so, not "made".
fn conflict_done(op: &Op, c: &ConflictInfo, unfinished: &[String]) -> String {
    if !unfinished.is_empty() && c.resolution != Resolution::LeftAlone {
        let planned = match c.resolution {
            Resolution::ClashCopies => format!(
                "clash copies (the newer {} version at `{}`, the older {} version as `{}`, on both sides)",
                c.newer,
                op.path,
                c.older,
                c.clash_path.as_deref().unwrap_or("?")
            ),
            _ => format!(
                "the newer {} version overwriting the {} one",
                c.newer, c.older
            ),
        };
        return format!(
            "The conflict's steps failed and will be retried in later cycles; planned: {planned}.\nNot done yet:\n  {}",
            unfinished.join("\n  ")
        );
    }
    match c.resolution {
        Resolution::ClashCopies => format!(
            "Clash copies made: the newer version ({}) stays at `{}` on both sides; the older ({}) is kept as `{}` on both sides.",
            c.newer,
            op.path,
            c.older,
            c.clash_path.as_deref().unwrap_or("?")
        ),
        Resolution::NewerOverwrites | Resolution::KeepSide => format!(
            "The newer version ({}) overwrote the {} one (option {}); the replaced version went to the {} side's trash under the soft delete policy (`twinsync trash list`).",
            c.newer, c.older, c.option, c.older
        ),
        Resolution::LeftAlone => format!(
            "Both versions were left alone. Settle it with: twinsync resolve \"{}\" --keep left|right|both",
            op.path
        ),
    }
}

/// The body of a conflict's alert.
#[must_use]
pub fn conflict_body(now: &str, op: &Op, c: &ConflictInfo, unfinished: &[String]) -> String {
    let side = |i: &Option<SideInfo>| {
        i.as_ref().map_or_else(
            || "absent".to_owned(),
            |i| size_and_time(i.kind, i.size, i.mtime),
        )
    };
    format!(
        "Time: {now}\nPath: {}\nRule: {} ({})\nSides: left and right\nNewer side: {}\nLeft:  {}\nRight: {}\nWhat was done: {}\n",
        op.path,
        op.rule,
        op.reason,
        c.newer,
        side(&c.left),
        side(&c.right),
        conflict_done(op, c, unfinished)
    )
}

/// The alert of a step event, if it needs one: its kind, subject and body.
#[must_use]
pub fn message(op: &Op, ev: StepEvent<'_>, now: &str) -> Option<(&'static str, String, String)> {
    match ev {
        StepEvent::Failed(err) => Some((
            "failure",
            format!("failed: {} {}", op.kind().as_str(), op.path),
            failure_body(now, op, err),
        )),
        StepEvent::Conflict { unfinished } => {
            let c = op
                .conflict_info()
                .filter(|c| op.kind() == OpKind::Conflict && alerted(c))?;
            let subject = if unfinished.is_empty() || c.resolution == Resolution::LeftAlone {
                format!("conflict: {}", op.path)
            } else {
                format!("conflict: {} (its steps failed)", op.path)
            };
            Some(("conflict", subject, conflict_body(now, op, c, unfinished)))
        }
    }
}

/// Queues the alert of a conflict step or a failed step.
pub fn enqueue_step(cfg: &Config, op: &Op, ev: StepEvent<'_>) {
    if !cfg.raw.email.enabled {
        return;
    }
    if let Some((kind, subject, body)) = message(op, ev, &crate::human::now()) {
        with_state(cfg, |s| crate::alert::enqueue(s, kind, &subject, &body));
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::harness;
    use super::super::{Options, StepEvent};
    use super::*;
    use crate::fs::ErrorClass;
    use crate::plan::Op;
    use std::sync::Mutex;

    /// The alerts one run would queue: (kind, subject, body).
    type Sent = Mutex<Vec<(&'static str, String, String)>>;

    fn collect(sent: &Sent) -> impl Fn(&Op, StepEvent<'_>) + '_ {
        move |op, ev| {
            if let Some(m) = message(op, ev, "now") {
                sent.lock().unwrap().push(m);
            }
        }
    }

    /// A failed step's alert names both sides' size and mtime as planned
    /// (or "absent"), the sides involved and the error.
    #[test]
    fn a_failed_step_names_both_sides_size_and_mtime() {
        let h = harness("");
        h.left.put("imm/g.txt", b"hello");
        let sides = h
            .faults(Side::Right)
            .fail(ErrorClass::PermissionDenied, "rename", "g.txt", u32::MAX)
            .sides();
        let sent = Sent::default();
        let f = collect(&sent);
        let opts = Options {
            on_event: Some(&f),
            ..Options::default()
        };
        assert_eq!(h.run_opts(&h.plan(), &sides, &opts).failed.len(), 1);
        let sent = sent.lock().unwrap();
        let (kind, subject, body) = &sent[0];
        assert_eq!(
            (*kind, subject.as_str()),
            ("failure", "failed: copy imm/g.txt")
        );
        for needle in [
            "Path: imm/g.txt",
            "Sides: left to right",
            "Left:  5 B (5 bytes), modified ",
            "Right: absent",
            "Error: ",
        ] {
            assert!(body.contains(needle), "lacks {needle:?}:\n{body}");
        }
    }

    /// A clash copy that fails: no alert says "Clash copies made"; the
    /// failed step is alerted as a failure, and the conflict is not told
    /// as handled (it is planned again, `settle_conflicts`); once its
    /// steps go through, its alert says the copies were made.
    #[test]
    fn a_conflict_whose_clash_copy_failed_does_not_claim_it_was_made() {
        for fails in [true, false] {
            let h = harness("");
            h.left.put("keep", b"k");
            h.left.put("r.txt", b"base");
            h.sync();
            h.tick();
            h.left.put("r.txt", b"left edit");
            h.tick();
            h.right.put("r.txt", b"right edit, newer");
            let times = if fails { u32::MAX } else { 0 };
            let sides = h
                .faults(Side::Right)
                .fail(ErrorClass::PermissionDenied, "rename", "clash", times)
                .sides();
            let sent = Sent::default();
            let f = collect(&sent);
            let opts = Options {
                on_event: Some(&f),
                ..Options::default()
            };
            h.run_opts(&h.plan(), &sides, &opts);
            let sent = sent.lock().unwrap();
            assert!(
                sent.iter()
                    .all(|m| !m.2.contains("Clash copies made") || !fails),
                "{sent:?}"
            );
            if fails {
                assert!(sent.iter().all(|m| m.0 != "conflict"), "{sent:?}");
                let (_, _, body) = sent
                    .iter()
                    .find(|m| m.0 == "failure")
                    .unwrap_or_else(|| panic!("no failure alert: {sent:?}"));
                assert!(body.contains("r - clash.txt"), "{body}");
                assert!(body.contains("will be retried"), "{body}");
            } else {
                let (_, _, body) = sent
                    .iter()
                    .find(|m| m.0 == "conflict")
                    .unwrap_or_else(|| panic!("no conflict alert: {sent:?}"));
                assert!(body.contains("Left:  9 B (9 bytes), modified "), "{body}");
                assert!(body.contains("Clash copies made"), "{body}");
            }
        }
    }
}
