//! Trash entries without a record: files in a side's trash folder that
//! the state DB does not know, because the DB was moved aside and made
//! again (the README's way out of a corrupt DB) or lost with its drive.
//! Unrecorded, they would never be listed, restored, counted against
//! `max_trash_bytes` or purged: the trash would grow for ever, unseen.
//!
//! [`adopt`] walks each side's trash once and records every file it does
//! not know: the original path is its trash path without the
//! ` (deleted YYYY-MM-DD HHMMSS)` tag, the time the tag's (local time),
//! else now (so the retention counts from when it was found, never
//! earlier: nothing is purged sooner than it would have been), the rule
//! [`FOUND_RULE`]. It is called where a state DB is new: before the first
//! apply of a DB that never synced, at the start of a `watch` on one, and
//! by the trash commands on one.
//!
//! Invariant: only records are added; no file is moved or removed. A
//! folder that cannot be listed is logged and skipped (its files wait for
//! the next call), never read as empty.

use super::TrashLoc;
use crate::Side;
use crate::config::Config;
use crate::fs::Fs;
use crate::log::Logger;
use crate::paths;
use crate::roots::Sides;
use crate::state::{State, StateError, TrashRecord};
use serde_json::json;
use std::collections::HashSet;

/// The `rule` of a record made for a file found in the trash.
pub const FOUND_RULE: &str = "found";

/// Records the files of both trash folders the state DB does not know;
/// returns how many. Does nothing for a state DB that has synced (its
/// records are its own).
///
/// # Errors
/// State DB errors.
pub fn adopt_if_new(
    cfg: &Config,
    state: &State,
    sides: &Sides,
    log: &Logger,
) -> Result<u64, StateError> {
    if state.has_synced()? {
        return Ok(0);
    }
    adopt(cfg, state, sides, log)
}

/// Records the files of both trash folders the state DB does not know.
///
/// # Errors
/// State DB errors.
pub fn adopt(cfg: &Config, state: &State, sides: &Sides, log: &Logger) -> Result<u64, StateError> {
    let known: HashSet<(Side, String)> = state
        .trash_records()?
        .into_iter()
        .map(|r| (r.side, r.trash_path))
        .collect();
    let now = chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
    let mut found = Vec::new();
    for side in Side::BOTH {
        // Only a root that is this pair's (another drive mounted there
        // has another trash): its marker, with the id the DB knows.
        let fs = sides.get(side);
        let ours = match state.root_id(side)? {
            Some(id) => crate::roots::check_root(fs, side, &id).is_ok(),
            None => crate::roots::marker_present(fs),
        };
        if !ours {
            continue;
        }
        let loc = TrashLoc::new(fs, cfg.trash(side));
        for (rel, size) in files(&loc, side, log) {
            // (A copy's temp left by a crash is the sweep's, not a version.)
            if known.contains(&(side, rel.clone()))
                || paths::file_name(&rel).starts_with(paths::TEMP_PREFIX)
            {
                continue;
            }
            let (original, at) = untagged(&rel);
            found.push(TrashRecord {
                id: 0,
                side,
                original_path: original,
                trash_path: rel,
                size,
                deleted_at: at.unwrap_or_else(|| now.clone()),
                rule: FOUND_RULE.to_owned(),
            });
        }
    }
    date_plain_names(&mut found);
    if !found.is_empty() {
        state.add_trash_records(&found)?;
        log.info(
            "trash",
            json!({"result": "ok", "note": format!(
                "{} in the trash that the state DB did not know (made again?) recorded: `twinsync trash list` shows them, the purge counts them",
                crate::human::plural(found.len() as u64, "file", "files"))}),
        );
    }
    Ok(found.len() as u64)
}

/// A path's untagged trash entry was trashed first (a tag is added only
/// when the plain name is taken): it is dated just before the earliest
/// tagged one of the same path and side, so versions keep their order
/// (and its retention still counts from no earlier than it was trashed).
fn date_plain_names(found: &mut [TrashRecord]) {
    let mut first_tag: std::collections::HashMap<(Side, String), i64> =
        std::collections::HashMap::new();
    for r in found.iter().filter(|r| r.trash_path != r.original_path) {
        if let Ok(t) = chrono::DateTime::parse_from_rfc3339(&r.deleted_at) {
            let e = first_tag
                .entry((r.side, r.original_path.clone()))
                .or_insert(i64::MAX);
            *e = (*e).min(t.timestamp());
        }
    }
    for r in found.iter_mut().filter(|r| r.trash_path == r.original_path) {
        if let Some(t) = first_tag
            .get(&(r.side, r.original_path.clone()))
            .and_then(|&t| chrono::DateTime::from_timestamp(t - 1, 0))
        {
            r.deleted_at = t
                .with_timezone(&chrono::Local)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
        }
    }
}

/// Every file below a trash folder (paths relative to it) with its size.
fn files(loc: &TrashLoc<'_>, side: Side, log: &Logger) -> Vec<(String, u64)> {
    let (fs, base): (&dyn Fs, &str) = match loc {
        TrashLoc::Inside { fs, dir } => (*fs, dir.as_str()),
        TrashLoc::Outside { trash, .. } => (trash, ""),
    };
    let mut out = Vec::new();
    let mut dirs = vec![String::new()];
    while let Some(rel) = dirs.pop() {
        let dir = if rel.is_empty() {
            base.to_owned()
        } else {
            paths::join(base, &rel)
        };
        let listing = match fs.list_dir(&dir) {
            Ok(l) => l,
            Err(e) if e.is_not_found() => continue,
            Err(e) => {
                log.warn(
                    "trash",
                    json!({"side": side, "path": rel, "error": format!("cannot list the trash folder: {e}")}),
                );
                continue;
            }
        };
        for (name, meta) in listing.entries {
            let child = paths::join(&rel, &name);
            if meta.kind == crate::Kind::Dir {
                dirs.push(child);
            } else {
                out.push((child, meta.size));
            }
        }
    }
    out
}

/// A trash path without its ` (deleted YYYY-MM-DD HHMMSS[ n])` tag, and
/// the tag's time (RFC 3339, local offset) when it has one.
fn untagged(rel: &str) -> (String, Option<String>) {
    let (dir, name) = (paths::parent(rel), paths::file_name(rel));
    let Some(start) = name.find(" (deleted ") else {
        return (rel.to_owned(), None);
    };
    let after = &name[start + " (deleted ".len()..];
    let Some(end) = after.find(')') else {
        return (rel.to_owned(), None);
    };
    let stamp = after[..end].get(..17).unwrap_or_default();
    let at = chrono::NaiveDateTime::parse_from_str(stamp, "%Y-%m-%d %H%M%S")
        .ok()
        .and_then(|t| t.and_local_timezone(chrono::Local).earliest())
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, false));
    if at.is_none() {
        return (rel.to_owned(), None);
    }
    let bare = format!("{}{}", &name[..start], &after[end + 1..]);
    (paths::join(dir, &bare), at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deleted_tag_is_taken_off_and_its_time_kept() {
        let (p, at) = untagged("a/b/report (deleted 2026-11-26 101500).docx");
        assert_eq!(p, "a/b/report.docx");
        assert!(at.unwrap().starts_with("2026-11-26T10:15:00"));
        let (p, at) = untagged("report (deleted 2026-11-26 101500 2).docx");
        assert_eq!(p, "report.docx");
        assert!(at.is_some());
        // No tag, or something else in brackets: the path as it is, no time.
        assert_eq!(untagged("a/plain.txt"), ("a/plain.txt".into(), None));
        assert_eq!(
            untagged("notes (deleted by Ann).txt"),
            ("notes (deleted by Ann).txt".into(), None)
        );
    }
}
