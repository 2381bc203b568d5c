//! `status`: the [`Status`] model as tables, or as JSON with `--json`;
//! either way it exits with the health verdict's code (0 in sync or
//! working, 3 not syncing, 4 blocked, 5 needs you).

use crate::config::Config;
use crate::error::RunError;
use crate::roots::Sides;
use crate::state::State;
use crate::status::Status;
use crate::terminal::{self, Fit, Grid, Stream};

/// `status [--json]`: exits with the health verdict's code.
///
/// # Errors
/// State DB errors (no state DB yet: run `init`).
pub fn status(cfg: &Config, json_out: bool) -> Result<i32, RunError> {
    let state = State::open(&cfg.state_db)?;
    let s = Status::gather(cfg, &state, &Sides::real(cfg))?;
    let code = s.health.health.exit_code();
    if json_out {
        crate::outln!("{}", s.to_json());
        return Ok(code);
    }
    let width = terminal::width(Stream::Stdout);
    crate::outln!(
        "{}",
        crate::plan::render::wrap(&format!("Health: {}", s.health.headline()), width, 2)
    );
    for r in &s.health.reasons {
        let text = r.to_string();
        crate::outln!(
            "{}",
            crate::plan::render::wrap(&format!("  - {}", crate::human::escape(&text)), width, 4)
        );
        for c in r.commands() {
            crate::outln!("      {c}");
        }
    }
    // Sentences wrap at spaces from 16 columns, times from 10 (between
    // date, time and offset), paths after a `/` and stay whole.
    const SENTENCE: Fit = Fit::Words(16);
    const TIME: Fit = Fit::Words(10);
    const PATH: Fit = Fit::Path(16);
    let mut t = Grid::new(&[
        ("side", Fit::Whole),
        ("root", PATH),
        ("available", SENTENCE),
    ]);
    for r in &s.roots {
        t.row([
            r.side.to_string(),
            r.root.clone(),
            if r.available {
                "yes".into()
            } else {
                format!("NO: {}", r.problem.as_deref().unwrap_or(""))
            },
        ]);
    }
    crate::outln!("{t}");
    crate::terminal::say(&crate::status::WatchStatus::line(s.watch.as_ref()));
    let mut t = Grid::new(&[
        ("cycle at", TIME),
        ("changes", Fit::Whole),
        ("moves", Fit::Whole),
        ("conflicts", Fit::Whole),
        ("copied", Fit::Whole),
        ("failed", Fit::Whole),
        ("duration", Fit::Whole),
    ]);
    for c in &s.last_cycles {
        t.row([
            crate::human::time_text(&c.started_at),
            c.changes.to_string(),
            c.moves.to_string(),
            c.conflicts.to_string(),
            crate::human_size(c.bytes_copied),
            c.failed.to_string(),
            crate::human::duration_ms(c.duration_ms),
        ]);
    }
    if s.last_cycles.is_empty() {
        // No sync has run against this state yet: say so, not an empty table.
        crate::outln!("Last cycles: none yet (no apply or watch cycle has run)");
    } else {
        crate::outln!("Last cycles:\n{t}");
    }
    for p in &s.plans_in_flight {
        crate::terminal::say(&format!(
            "Plan in flight (unfinished): {p}; the next apply of it, or watch, resumes it."
        ));
    }
    if !s.steps_in_flight.is_empty() {
        let mut t = Grid::new(&[
            ("step", Fit::Whole),
            ("operation", Fit::Whole),
            ("path", PATH),
            ("size", Fit::Whole),
        ]);
        for step in s.steps_in_flight.iter().take(50) {
            t.row([
                step.step.to_string(),
                step.kind.as_str().to_owned(),
                step.path.clone(),
                crate::human_size(step.bytes),
            ]);
        }
        crate::outln!("Steps in flight:\n{t}");
    }
    if s.unresolved_conflicts.is_empty() {
        crate::terminal::say("Unresolved conflicts: none");
    } else {
        let mut t = Grid::new(&[
            ("path", PATH),
            ("rule", Fit::Words(5)),
            ("since", TIME),
            ("to settle", SENTENCE),
        ]);
        for c in &s.unresolved_conflicts {
            t.row([
                c.path.clone(),
                c.rule.to_string(),
                crate::human::time_text(&c.since),
                c.resolve.clone(),
            ]);
        }
        crate::outln!("Unresolved conflicts:\n{t}");
    }
    if s.failing_paths.is_empty() {
        crate::terminal::say("Failing paths: none");
    } else {
        let mut t = Grid::new(&[
            ("path", PATH),
            ("operation", Fit::Whole),
            ("since", TIME),
            ("attempts", Fit::Whole),
            ("error", SENTENCE),
        ]);
        for f in &s.failing_paths {
            t.row([
                f.path.clone(),
                f.op.clone(),
                crate::human::time_text(&f.first_at),
                f.count.to_string(),
                f.error.clone(),
            ]);
        }
        crate::outln!("Failing paths:\n{t}");
    }
    if !s.skipped_paths.is_empty() {
        let mut t = Grid::new(&[
            ("side", Fit::Whole),
            ("path", PATH),
            ("why it is not synced", SENTENCE),
            ("since", TIME),
        ]);
        for k in &s.skipped_paths {
            t.row([
                k.side.to_string(),
                k.path.clone(),
                k.reason.clone(),
                crate::health::local_time(&k.since),
            ]);
        }
        crate::outln!(
            "Skipped paths (left alone on both sides until renamed, replaced or readable):\n{t}"
        );
    }
    for (side, u) in s.trash.iter() {
        crate::terminal::say(&format!(
            "Trash {side}: {}, {}",
            crate::human::plural(u.files, "file", "files"),
            crate::human_size(u.bytes)
        ));
    }
    crate::terminal::say(&format!("Emails queued: {}", s.emails_queued));
    crate::terminal::say(&format!("Bandwidth: {}", s.bandwidth.text()));
    Ok(code)
}
