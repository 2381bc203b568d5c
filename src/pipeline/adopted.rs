//! Spare-time hashing of the pairs the first run adopted by size and
//! mtime ([`hash_adopted`]): a little at a time, the left side only, never
//! a cloud placeholder or a file that changed since its snapshot.

use crate::config::Config;
use crate::fs::hash_file;
use crate::roots::Sides;
use crate::state::{State, StateError};

/// Fills in, a little at a time, the content hashes of pairs adopted by
/// size and mtime on the first run, so that a later re-stamp (antivirus,
/// backup tool, cloud client) is told from an edit even when the other side
/// changed too (SPEC §5). Reads only the left side (the local share), never
/// a cloud placeholder, never a file that changed since its snapshot, and
/// stops after `budget`. `cursor` is the last key looked at (kept by the
/// caller; empty to start over). Returns the number of pairs hashed.
///
/// # Errors
/// State DB errors.
pub fn hash_adopted(
    cfg: &Config,
    sides: &Sides,
    state: &State,
    cursor: &mut String,
    budget: std::time::Duration,
) -> Result<usize, StateError> {
    let start = std::time::Instant::now();
    let pairs = state.unhashed_pairs(cursor, 256, cfg.raw.transfer.hash_max_bytes)?;
    if pairs.is_empty() {
        cursor.clear(); // wrap around: a skipped one may be readable now
        return Ok(0);
    }
    let fs = sides.left.as_ref();
    let same = |m: &crate::fs::Meta, e: &crate::Entry| {
        m.kind == crate::Kind::File && m.size == e.size && m.mtime == e.mtime && !m.offline
    };
    let mut n = 0;
    for (key, row) in pairs {
        if start.elapsed() >= budget {
            break;
        }
        cursor.clone_from(&key);
        let (Some(l), Some(r)) = (row.left, row.right) else {
            continue;
        };
        if !cfg.hash_at(&l.path) {
            continue; // `hash = false` here: never read to hash
        }
        let hash = if let Some(h) = l.hash.clone().or(r.hash) {
            h
        } else {
            if !matches!(fs.stat(&l.path), Ok(Some(m)) if same(&m, &l)) {
                continue;
            }
            let Ok(h) = hash_file(fs, &l.path) else {
                continue;
            };
            if !matches!(fs.stat(&l.path), Ok(Some(m)) if same(&m, &l)) {
                continue; // written while we read it
            }
            h
        };
        if state.store_pair_hash(&key, l.size, l.mtime, &hash)? {
            n += 1;
        }
    }
    Ok(n)
}
