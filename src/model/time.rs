//! A point in time as twinsync stores it: nanoseconds since the Unix epoch
//! in an `i64` (negative before 1970), in entries, plans, the state DB and
//! the log. Here: the clock ([`now_ns`]), the conversion from the OS's
//! [`SystemTime`] ([`system_time_ns`]) and the RFC 3339 text machines read
//! ([`fmt_time`]). Times, durations and sizes for people are in
//! [`crate::human`].
//!
//! Invariant: nothing here panics or fails; a time out of range saturates
//! (conversion) or is shown as its number (formatting).

use std::time::{SystemTime, UNIX_EPOCH};

/// Nanoseconds since the Unix epoch of a `SystemTime` (negative before 1970).
#[must_use]
pub fn system_time_ns(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_nanos()).unwrap_or(i64::MAX),
    }
}

/// Now, in nanoseconds since the epoch.
#[must_use]
pub fn now_ns() -> i64 {
    system_time_ns(SystemTime::now())
}

/// Formats nanoseconds since the epoch as RFC 3339 (UTC, up to ns).
#[must_use]
pub fn fmt_time(ns: i64) -> String {
    chrono::DateTime::from_timestamp(
        ns.div_euclid(1_000_000_000),
        u32::try_from(ns.rem_euclid(1_000_000_000)).unwrap_or(0),
    )
    .map_or_else(
        || ns.to_string(),
        |t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
    )
}
