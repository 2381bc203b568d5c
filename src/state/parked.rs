//! The `parked` table: items under a twinsync temp name on their way
//! from one name to another (a case-only rename goes through an
//! intermediate name). Written before the first rename, forgotten after
//! the second; in between the scan holds both names and recovery puts the
//! item back.

use super::{State, StateError};
use crate::Side;
use rusqlite::params;

/// An item under a twinsync temp name on its way from `original` to `target`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Parked {
    pub side: Side,
    pub temp_path: String,
    pub original: String,
    pub target: String,
    pub since: String,
}

impl State {
    /// Notes, before it happens, that `original` on `side` is about to be
    /// parked under the temp name `temp_path` on its way to `target` (a
    /// case-only rename through an intermediate name). Until [`Self::unpark`]
    /// the scan holds both names and recovery puts the item back.
    ///
    /// # Errors
    /// SQL errors.
    pub fn park(
        &self,
        side: Side,
        temp_path: &str,
        original: &str,
        target: &str,
    ) -> Result<(), StateError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO parked(side, temp_path, original, target, since) VALUES(?1, ?2, ?3, ?4, ?5)",
                params![side, temp_path, original, target, chrono::Utc::now().to_rfc3339()],
            )
            .map(|_| ())
            .map_err(self.sql())
    }

    /// Forgets a parked item (it is back under a real name).
    ///
    /// # Errors
    /// SQL errors.
    pub fn unpark(&self, side: Side, temp_path: &str) -> Result<(), StateError> {
        self.conn
            .execute(
                "DELETE FROM parked WHERE side = ?1 AND temp_path = ?2",
                params![side, temp_path],
            )
            .map(|_| ())
            .map_err(self.sql())
    }

    /// Every parked item.
    ///
    /// # Errors
    /// SQL errors.
    pub fn parked(&self) -> Result<Vec<Parked>, StateError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT side, temp_path, original, target, since FROM parked")
            .map_err(self.sql())?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Parked {
                    side: r.get(0)?,
                    temp_path: r.get(1)?,
                    original: r.get(2)?,
                    target: r.get(3)?,
                    since: r.get(4)?,
                })
            })
            .map_err(self.sql())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.sql())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::temp_state;
    use super::*;

    /// Parked items round-trip; a stored side that is neither `left` nor
    /// `right` is an error, not a guess (it used to read as left).
    #[test]
    fn parked_items_round_trip_and_an_unknown_side_is_an_error() {
        let (_d, s) = temp_state();
        s.park(Side::Right, ".ts-1", "a.txt", "A.txt").unwrap();
        let p = s.parked().unwrap();
        assert_eq!(
            (p[0].side, p[0].original.as_str(), p[0].target.as_str()),
            (Side::Right, "a.txt", "A.txt")
        );
        s.conn
            .execute("UPDATE parked SET side = 'Right'", [])
            .unwrap();
        let e = s.parked().unwrap_err().to_string();
        assert!(e.contains("`Right` is not a side"), "{e}");
        s.conn
            .execute("UPDATE parked SET side = 'right'", [])
            .unwrap();
        s.unpark(Side::Right, ".ts-1").unwrap();
        assert!(s.parked().unwrap().is_empty());
    }
}
