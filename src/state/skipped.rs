//! The `skipped` table: the paths the latest plan could not sync (a name
//! the other side cannot hold, a case collision, a link, a folder or entry
//! that cannot be read), with why and since when, so `status`, the report,
//! the health verdict ("needs you") and the log can name them. Replaced
//! as a whole by each plan.

use super::{State, StateError, sql_err};
use crate::Side;
use rusqlite::params;

/// A path the latest plan could not sync (a name the other side cannot
/// hold, a case collision, a link, an unreadable folder): left alone on
/// both sides until it is renamed, replaced or readable.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    pub side: Side,
    pub path: String,
    pub reason: String,
    /// When a plan first skipped it (RFC 3339, UTC).
    pub since: String,
}

impl State {
    /// Replaces the skipped paths with those of the latest plan (`now`:
    /// side, path, reason), keeping `since` of the ones skipped before. One
    /// transaction; nothing is written when the list did not change.
    ///
    /// # Errors
    /// SQL errors.
    pub fn set_skipped(&self, now: &[(Side, String, String)]) -> Result<(), StateError> {
        let old = self.skipped()?;
        let same = old.len() == now.len()
            && old.iter().all(|o| {
                now.iter()
                    .any(|(s, p, r)| *s == o.side && *p == o.path && *r == o.reason)
            });
        if same {
            return Ok(());
        }
        let sql = sql_err(&self.file);
        // `&self` (callers share the State): no other statement runs inside it.
        let tx = self.conn.unchecked_transaction().map_err(sql)?;
        let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        tx.execute("DELETE FROM skipped", []).map_err(sql)?;
        for (side, path, reason) in now {
            let since = old
                .iter()
                .find(|o| o.side == *side && o.path == *path)
                .map_or(at.as_str(), |o| o.since.as_str());
            tx.execute(
                "INSERT OR REPLACE INTO skipped(side, path, reason, since) VALUES(?1, ?2, ?3, ?4)",
                params![side, path, reason, since],
            )
            .map_err(sql)?;
        }
        tx.commit().map_err(sql)
    }

    /// The paths the latest plan skipped, by side and path.
    ///
    /// # Errors
    /// SQL errors.
    pub fn skipped(&self) -> Result<Vec<Skipped>, StateError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT side, path, reason, since FROM skipped ORDER BY side, path")
            .map_err(self.sql())?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Skipped {
                    side: r.get(0)?,
                    path: r.get(1)?,
                    reason: r.get(2)?,
                    since: r.get(3)?,
                })
            })
            .map_err(self.sql())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.sql())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The skipped paths are those of the latest plan; one skipped before
    /// keeps its first time.
    #[test]
    fn skipped_paths_are_replaced_keeping_since() {
        let d = tempfile::tempdir().unwrap();
        let s = State::open_or_create(&d.path().join("s.db")).unwrap();
        let item = |side, p: &str| (side, p.to_owned(), format!("`{p}` is reserved"));
        s.set_skipped(&[item(Side::Left, "CON.txt"), item(Side::Right, "a:b")])
            .unwrap();
        assert_eq!(s.skipped().unwrap().len(), 2);
        s.conn
            .execute("UPDATE skipped SET since = 'then'", [])
            .unwrap();
        s.set_skipped(&[item(Side::Left, "CON.txt"), item(Side::Left, "NUL")])
            .unwrap();
        let now = s.skipped().unwrap();
        let paths: Vec<(&str, &str)> = now
            .iter()
            .map(|k| (k.path.as_str(), k.since.as_str()))
            .collect();
        assert_eq!(paths.len(), 2);
        assert!(paths.contains(&("CON.txt", "then")), "{paths:?}");
        assert!(paths.iter().any(|(p, t)| *p == "NUL" && *t != "then"));
        s.set_skipped(&[]).unwrap();
        assert!(s.skipped().unwrap().is_empty());
    }
}
