//! `trash list [PATH] | restore PATH [--side] [--version N] | purge
//! [--older-than DAYS] [--dry-run] [-y]`: the printing and the asking; the
//! work is in [`crate::apply::trash`].

use crate::apply::trash;
use crate::config::Config;
use crate::error::RunError;
use crate::log::Logger;
use crate::roots::Sides;
use crate::state::{State, TrashRecord};
use crate::terminal::{Cell, Fit, Grid};
use crate::{Side, human};
use std::io::IsTerminal;

/// Rows a table shows before "… and N more".
const MAX_ROWS: usize = 200;

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The state DB; on one that never synced (made again after it was lost
/// or corrupt), the files already in the trash folders are recorded
/// first, so that they are listed, restorable and purged.
fn open(cfg: &Config) -> Result<State, RunError> {
    let state = State::open(&cfg.state_db)?;
    let log = Logger::from_config(cfg);
    trash::orphans::adopt_if_new(cfg, &state, &Sides::real(cfg), &log)?;
    Ok(state)
}

/// `trash list [PATH]`: everything in the trash, or the versions of one
/// file (numbered for `restore --version`), or what was trashed below a folder.
///
/// # Errors
/// State DB errors.
pub fn trash_list(cfg: &Config, path: Option<&str>) -> Result<i32, RunError> {
    let state = open(cfg)?;
    let all = trash::versions(state.trash_records()?, cfg.case_sensitive);
    let shown = trash::select(&all, path.unwrap_or(""), cfg.case_sensitive);
    // Where an entry is in the trash, when not at its own path there: on a
    // second line of its path (a column of its own would not leave the
    // others room at 80 columns).
    let mut t = Grid::new(&[
        ("version", Fit::Whole),
        ("side", Fit::Whole),
        ("original path", Fit::Path(16)),
        ("size", Fit::Whole),
        ("deleted at", Fit::Words(10)),
        ("rule", Fit::Words(5)),
    ]);
    for v in shown.iter().take(MAX_ROWS) {
        let r = &v.rec;
        let mut path = vec![r.original_path.clone()];
        if r.trash_path != r.original_path {
            path.push(in_trash(&r.original_path, &r.trash_path));
        }
        t.row([
            Cell::from(v.number.to_string()),
            Cell::from(r.side.as_str()),
            Cell::lines(path),
            Cell::from(human::size(r.size)),
            Cell::from(human::time_text(&r.deleted_at)),
            Cell::from(&r.rule),
        ]);
    }
    if shown.is_empty() {
        match path {
            Some(p) => crate::terminal::say(&format!("Nothing in the trash for `{p}`.")),
            None => crate::terminal::say("The trash is empty."),
        }
        return Ok(0);
    }
    crate::outln!("{t}");
    if shown.len() > MAX_ROWS {
        crate::terminal::say(&format!("… and {} more", shown.len() - MAX_ROWS));
    }
    let bytes: u64 = shown.iter().map(|v| v.rec.size).sum();
    crate::terminal::say(&format!(
        "{} in trash, {}",
        plural(shown.len() as u64, "file", "files"),
        human::size(bytes)
    ));
    let one_file = shown.first().is_some_and(|f| {
        shown
            .iter()
            .all(|v| v.rec.original_path == f.rec.original_path)
    });
    if let Some(p) = path
        && shown.len() > 1
        && one_file
    {
        crate::terminal::say(&format!(
            "Version 1 is the newest. Restore another with `twinsync trash restore \"{p}\" --version N`."
        ));
    } else {
        crate::terminal::say(
            "Restore one with `twinsync trash restore PATH` (PATH as in `original path`).",
        );
    }
    Ok(0)
}

/// Where an entry not at its own path sits in the trash: its name only
/// when in the same folder (`in trash as: report (deleted 2026-12-07
/// 103000).docx`), else its whole trash path.
fn in_trash(original: &str, trash: &str) -> String {
    let parent = original.rsplit_once('/').map_or("", |(d, _)| d);
    match trash.rsplit_once('/') {
        Some((dir, name)) if dir == parent => format!("in trash as: {name}"),
        None if parent.is_empty() => format!("in trash as: {trash}"),
        _ => format!("in trash: {trash}"),
    }
}

/// `trash restore PATH [--side left|right] [--version N]`.
///
/// # Errors
/// No such record or version, the original path is taken, the move failed.
pub fn trash_restore(
    cfg: &Config,
    path: &str,
    side: Option<Side>,
    version: Option<u32>,
) -> Result<i32, RunError> {
    let state = open(cfg)?;
    let log = Logger::from_config(cfg);
    let rec = trash::restore(cfg, &state, &Sides::real(cfg), &log, path, side, version)?;
    crate::terminal::say(&format!(
        "restored {} on the {} side (the version deleted at {}); the next cycle syncs it",
        rec.original_path,
        rec.side,
        human::time_text(&rec.deleted_at)
    ));
    Ok(0)
}

/// `trash purge [--older-than DAYS] [--dry-run] [-y]` (default:
/// `soft_delete.retention_days`): lists what goes and the space it frees,
/// then deletes it, after asking on a terminal unless `-y`. Without a
/// terminal and without `-y` it refuses (exit 1), as `apply` does: a
/// scheduled task passes `-y`.
///
/// # Errors
/// No terminal to ask on and no `-y`; state DB errors.
pub fn trash_purge(
    cfg: &Config,
    older_than: Option<u64>,
    dry_run: bool,
    yes: bool,
) -> Result<i32, RunError> {
    let state = open(cfg)?;
    let days = older_than.unwrap_or(cfg.raw.soft_delete.retention_days);
    let mut due = trash::purge_due(&state, days)?;
    let cap = cfg.raw.soft_delete.max_trash_bytes;
    let over = trash::over_cap(&state, cap, &due)?;
    let over_n = over.len() as u64;
    due.extend(over);
    let age = if days == 0 {
        String::new()
    } else {
        format!(" trashed {} ago or more", plural(days, "day", "days"))
    };
    if due.is_empty() {
        if days == 0 {
            crate::terminal::say("Nothing to purge: the trash is empty.");
        } else {
            crate::terminal::say(&format!("Nothing to purge: no entries{age}."));
        }
        return Ok(0);
    }
    print_due(&due);
    let bytes = human::size(due.iter().map(|r| r.size).sum());
    let by_age = due.len() as u64 - over_n;
    let mut what = format!("{}{age}", plural(by_age, "entry", "entries"));
    if over_n > 0 {
        let over = format!(
            "{} over the trash cap ({} a side)",
            plural(over_n, "entry", "entries"),
            human::size(cap)
        );
        what = if by_age == 0 {
            over
        } else {
            format!("{what} and {over}")
        };
    }
    if dry_run {
        crate::terminal::say(&format!(
            "Dry run: purging would free {bytes}, deleting {what} for good; nothing was deleted."
        ));
        return Ok(0);
    }
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(RunError::Other(format!(
                "purging would delete {what} for good ({bytes}), and there is no terminal to ask on: pass -y to purge without asking (or --dry-run to only look)"
            )));
        }
        crate::out::error(format_args!(
            "Delete {what} for good, freeing {bytes}? [y/N] "
        ));
        let mut line = String::new();
        let ok = std::io::stdin().read_line(&mut line).is_ok()
            && matches!(line.trim(), "y" | "Y" | "yes" | "Yes" | "YES");
        if !ok {
            crate::terminal::say("Purge cancelled; nothing was deleted.");
            return Ok(0);
        }
    }
    let log = Logger::from_config(cfg);
    let done = trash::purge(cfg, &state, &Sides::real(cfg), &due, &log)?;
    crate::terminal::say(&format!(
        "Purged {}, freed {}{}.",
        plural(done.files, "entry", "entries"),
        human::size(done.bytes),
        if done.folders > 0 {
            format!(
                "; removed {} left empty",
                plural(done.folders, "folder", "folders")
            )
        } else {
            String::new()
        }
    ));
    if done.failed > 0 {
        return Err(RunError::Other(format!(
            "{} could not be deleted and stay in the trash (the warnings above and the log say why)",
            plural(done.failed, "entry", "entries")
        )));
    }
    Ok(0)
}

/// The entries a purge would delete, oldest first.
fn print_due(due: &[TrashRecord]) {
    let mut t = Grid::new(&[
        ("side", Fit::Whole),
        ("trash path", Fit::Path(16)),
        ("size", Fit::Whole),
        ("deleted at", Fit::Words(10)),
    ]);
    for r in due.iter().take(MAX_ROWS) {
        t.row([
            r.side.to_string(),
            r.trash_path.clone(),
            human::size(r.size),
            human::time_text(&r.deleted_at),
        ]);
    }
    crate::outln!("{t}");
    if due.len() > MAX_ROWS {
        crate::terminal::say(&format!("… and {} more", due.len() - MAX_ROWS));
    }
}
