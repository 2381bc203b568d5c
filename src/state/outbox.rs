//! The `outbox` and `mail_log` tables: alerts queued for email, and when
//! emails went out (for the hourly limit). All outbox SQL is here; what an
//! alert says and when a digest is sent is `crate::alert`'s business.
//!
//! Invariant: a row is sent by one sender only. A sender first *claims*
//! the rows it sends ([`State::claim_outbox`], one write transaction taken
//! before any read, so two senders cannot claim the same row); a claim
//! older than the caller's timeout is from a sender that died and is void.

use super::{State, StateError, sql_err};
use rusqlite::{TransactionBehavior, params};

/// A queued, unsent alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub id: i64,
    /// Unix seconds.
    pub created_at: i64,
    pub kind: String,
    pub subject: String,
    pub body: String,
    /// Failed sends so far.
    pub attempts: i64,
    /// Unix seconds before which it is not sent again (its backoff).
    pub next_try: i64,
}

/// An email waiting in the outbox, as `report` shows it.
#[derive(Debug, Clone)]
pub struct QueuedEmail {
    /// Unix seconds.
    pub created_at: i64,
    pub kind: String,
    pub subject: String,
    pub attempts: i64,
    pub last_error: Option<String>,
}

/// How long sent rows are kept (seconds).
const SENT_KEEP_S: i64 = 7 * 86_400;

impl State {
    /// Queues an alert (`now_s`: Unix seconds).
    ///
    /// # Errors
    /// SQL errors.
    pub fn enqueue_alert(
        &self,
        kind: &str,
        subject: &str,
        body: &str,
        now_s: i64,
    ) -> Result<(), StateError> {
        self.conn
            .execute(
                "INSERT INTO outbox(created_at, kind, subject, body) VALUES(?1, ?2, ?3, ?4)",
                params![now_s, kind, subject, body],
            )
            .map(|_| ())
            .map_err(self.sql())
    }

    /// Number of unsent emails.
    ///
    /// # Errors
    /// SQL errors.
    pub fn outbox_queued(&self) -> Result<u64, StateError> {
        self.conn
            .query_row(
                "SELECT count(*) FROM outbox WHERE sent_at IS NULL",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(self.sql())
    }

    /// The unsent emails that have failed to go out since at least `since_s`
    /// (Unix seconds): how many, since when (the oldest's creation) and the
    /// latest error; `None` when there are none.
    ///
    /// # Errors
    /// SQL errors.
    pub fn undelivered_since(
        &self,
        since_s: i64,
    ) -> Result<Option<(u64, i64, String)>, StateError> {
        let (n, oldest): (i64, Option<i64>) = self
            .conn
            .query_row(
                "SELECT count(*), min(created_at) FROM outbox
                 WHERE sent_at IS NULL AND attempts > 0 AND created_at <= ?1",
                [since_s],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(self.sql())?;
        let Some(oldest) = oldest.filter(|_| n > 0) else {
            return Ok(None);
        };
        let error: Option<String> = self
            .conn
            .query_row(
                "SELECT last_error FROM outbox WHERE sent_at IS NULL AND attempts > 0
                 ORDER BY id DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .map_err(self.sql())?;
        Ok(Some((
            u64::try_from(n).unwrap_or(0),
            oldest,
            error.unwrap_or_default(),
        )))
    }

    /// The first `limit` unsent emails, oldest first.
    ///
    /// # Errors
    /// SQL errors.
    pub fn queued_emails(&self, limit: u32) -> Result<Vec<QueuedEmail>, StateError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT created_at, kind, subject, attempts, last_error FROM outbox
                 WHERE sent_at IS NULL ORDER BY id LIMIT ?1",
            )
            .map_err(self.sql())?;
        let rows = stmt
            .query_map([limit], |r| {
                Ok(QueuedEmail {
                    created_at: r.get(0)?,
                    kind: r.get(1)?,
                    subject: r.get(2)?,
                    attempts: r.get(3)?,
                    last_error: r.get(4)?,
                })
            })
            .map_err(self.sql())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.sql())
    }

    /// Claims the unsent rows if an email is due now (backoff passed
    /// unless `ignore_backoff`, digest window of `min_age_s` over, fewer
    /// than `max_per_hour` sent in the last hour), in one write transaction
    /// so that a concurrent sender sees them claimed. Claims made before
    /// `stale_before` are void. `None`: nothing to send now.
    ///
    /// # Errors
    /// SQL errors (nothing is claimed then).
    pub fn claim_outbox(
        &self,
        now: i64,
        min_age_s: i64,
        max_per_hour: u64,
        stale_before: i64,
        ignore_backoff: bool,
    ) -> Result<Option<Vec<OutboxRow>>, StateError> {
        let sql = sql_err(&self.file);
        // `&self` (callers share the State): no other statement runs inside it.
        let tx = rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)
            .map_err(sql)?;
        let rows: Vec<OutboxRow> = tx
            .prepare(
                "SELECT id, created_at, kind, subject, body, attempts, next_try FROM outbox
                 WHERE sent_at IS NULL AND (claimed_at IS NULL OR claimed_at < ?1) ORDER BY id",
            )
            .and_then(|mut st| {
                st.query_map([stale_before], |r| {
                    Ok(OutboxRow {
                        id: r.get(0)?,
                        created_at: r.get(1)?,
                        kind: r.get(2)?,
                        subject: r.get(3)?,
                        body: r.get(4)?,
                        attempts: r.get(5)?,
                        next_try: r.get(6)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()
            })
            .map_err(sql)?;
        if rows.is_empty()
            || (!ignore_backoff && rows.iter().any(|r| r.next_try > now))
            || rows.iter().all(|r| now - r.created_at < min_age_s)
        {
            return Ok(None);
        }
        let sent_last_hour: i64 = tx
            .query_row(
                "SELECT count(*) FROM mail_log WHERE sent_at > ?1",
                [now - 3600],
                |r| r.get(0),
            )
            .map_err(sql)?;
        if sent_last_hour >= i64::try_from(max_per_hour).unwrap_or(i64::MAX) {
            return Ok(None);
        }
        for r in &rows {
            tx.execute(
                "UPDATE outbox SET claimed_at = ?2 WHERE id = ?1",
                params![r.id, now],
            )
            .map_err(sql)?;
        }
        tx.commit().map_err(sql)?;
        Ok(Some(rows))
    }

    /// Marks claimed rows sent at `now`, notes the email for the hourly
    /// limit and drops rows sent more than a week ago.
    ///
    /// # Errors
    /// SQL errors.
    pub fn outbox_sent(&self, ids: &[i64], now: i64) -> Result<(), StateError> {
        for id in ids {
            self.conn
                .execute(
                    "UPDATE outbox SET sent_at = ?2, claimed_at = NULL WHERE id = ?1",
                    params![id, now],
                )
                .map_err(self.sql())?;
        }
        self.conn
            .execute("INSERT INTO mail_log(sent_at) VALUES(?1)", [now])
            .map_err(self.sql())?;
        self.conn
            .execute(
                "DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < ?1",
                [now - SENT_KEEP_S],
            )
            .map(|_| ())
            .map_err(self.sql())
    }

    /// Releases claimed rows after a failed send: `attempts` so far, not
    /// sent again before `next_try`, and why it failed.
    ///
    /// # Errors
    /// SQL errors.
    pub fn outbox_failed(
        &self,
        ids: &[i64],
        attempts: i64,
        next_try: i64,
        error: &str,
    ) -> Result<(), StateError> {
        for id in ids {
            self.conn
                .execute(
                    "UPDATE outbox SET attempts = ?2, next_try = ?3, last_error = ?4, claimed_at = NULL WHERE id = ?1",
                    params![id, attempts, next_try, error],
                )
                .map_err(self.sql())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::temp_state;

    /// Only emails that failed at least once and were queued before the
    /// threshold count as undelivered; the latest error is the one told.
    #[test]
    fn undelivered_counts_failed_old_emails_with_the_latest_error() {
        let (_d, s) = temp_state();
        let now = 1_800_000_000;
        assert_eq!(s.undelivered_since(now).unwrap(), None);
        s.enqueue_alert("conflict", "a", "b", now - 7200).unwrap();
        s.enqueue_alert("conflict", "c", "d", now - 5000).unwrap();
        s.enqueue_alert("conflict", "e", "f", now - 10).unwrap();
        // Queued, never tried: not undelivered yet.
        assert_eq!(s.undelivered_since(now - 3600).unwrap(), None);
        let ids: Vec<i64> = s
            .claim_outbox(now, 0, 10, now - 300, true)
            .unwrap()
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        s.outbox_failed(&ids[..1], 3, now + 60, "550 no such user")
            .unwrap();
        s.outbox_failed(&ids[1..], 1, now + 60, "421 try later")
            .unwrap();
        assert_eq!(
            s.undelivered_since(now - 3600).unwrap(),
            Some((2, now - 7200, "421 try later".to_owned()))
        );
    }

    /// Claims: a row claimed by a live sender is left to it, a stale claim
    /// is void; the digest window, the backoff and the hourly limit hold a
    /// send back; a sent row is no longer queued.
    #[test]
    fn claims_windows_and_limits() {
        let (_d, s) = temp_state();
        let now = 1_800_000_000;
        assert_eq!(s.claim_outbox(now, 0, 10, now - 300, false).unwrap(), None);
        s.enqueue_alert("guard", "refused", "why", now - 10)
            .unwrap();
        assert_eq!(s.outbox_queued().unwrap(), 1);
        assert_eq!(s.queued_emails(5).unwrap()[0].subject, "refused");
        assert_eq!(
            s.claim_outbox(now, 60, 10, now - 300, false).unwrap(),
            None,
            "window"
        );
        assert_eq!(
            s.claim_outbox(now, 0, 0, now - 300, false).unwrap(),
            None,
            "limit"
        );
        let rows = s
            .claim_outbox(now, 0, 10, now - 300, false)
            .unwrap()
            .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(
            s.claim_outbox(now, 0, 10, now - 300, false).unwrap(),
            None,
            "claimed"
        );
        assert!(
            s.claim_outbox(now, 0, 10, now + 1, false)
                .unwrap()
                .is_some(),
            "stale"
        );
        s.outbox_failed(&[rows[0].id], 1, now + 60, "down").unwrap();
        assert_eq!(
            s.claim_outbox(now, 0, 10, now - 300, false).unwrap(),
            None,
            "backoff"
        );
        assert!(
            s.claim_outbox(now, 0, 10, now - 300, true)
                .unwrap()
                .is_some(),
            "an explicit apply does not wait for the backoff"
        );
        s.outbox_failed(&[rows[0].id], 1, now + 60, "down").unwrap();
        let q = s.queued_emails(5).unwrap();
        assert_eq!(
            (q[0].attempts, q[0].last_error.as_deref()),
            (1, Some("down"))
        );
        let rows = s
            .claim_outbox(now + 60, 0, 10, now, false)
            .unwrap()
            .unwrap();
        s.outbox_sent(&[rows[0].id], now + 60).unwrap();
        assert_eq!(s.outbox_queued().unwrap(), 0);
        s.enqueue_alert("guard", "again", "why", now + 61).unwrap();
        assert_eq!(
            s.claim_outbox(now + 62, 0, 1, now, false).unwrap(),
            None,
            "one an hour"
        );
    }
}
