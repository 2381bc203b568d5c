//! `trash list|restore|purge`.

use crate::apply::trash;
use crate::config::Config;
use crate::error::RunError;
use crate::log::Logger;
use crate::roots::Sides;
use crate::state::State;

/// `trash list`.
///
/// # Errors
/// State DB errors.
pub fn trash_list(cfg: &Config) -> Result<i32, RunError> {
    let state = State::open(&cfg.state_db)?;
    let recs = state.trash_records()?;
    let mut t = comfy_table::Table::new();
    t.load_style(comfy_table::presets::UTF8_FULL_CONDENSED);
    t.set_header([
        "side",
        "original path",
        "trash path",
        "size",
        "deleted at",
        "rule",
    ]);
    for r in &recs {
        t.add_row([
            r.side.to_string(),
            r.original_path.clone(),
            r.trash_path.clone(),
            crate::human_size(r.size),
            r.deleted_at.clone(),
            r.rule.clone(),
        ]);
    }
    crate::outln!("{t}");
    crate::outln!("{} files in trash", recs.len());
    Ok(0)
}

/// `trash restore PATH`.
///
/// # Errors
/// No such record, the original path is taken, the move failed.
pub fn trash_restore(cfg: &Config, path: &str) -> Result<i32, RunError> {
    let state = State::open(&cfg.state_db)?;
    let log = Logger::from_config(cfg);
    let rec = trash::restore(cfg, &state, &Sides::real(cfg), &log, path)?;
    crate::outln!(
        "restored {} on the {} side; the next cycle syncs it",
        rec.original_path,
        rec.side
    );
    Ok(0)
}

/// `trash purge [--older-than DAYS]` (default: `soft_delete.retention_days`).
///
/// # Errors
/// State DB errors.
pub fn trash_purge(cfg: &Config, older_than: Option<u64>) -> Result<i32, RunError> {
    let state = State::open(&cfg.state_db)?;
    let log = Logger::from_config(cfg);
    let days = older_than.unwrap_or(cfg.raw.soft_delete.retention_days);
    let n = trash::purge_older_than(cfg, &state, &Sides::real(cfg), days, &log)?;
    crate::outln!("purged {n} trash entries older than {days} days");
    Ok(0)
}
