//! Bandwidth by time of day (`[transfer] bandwidth`, SPEC §3): the
//! timetable and the one limiter every copy of the process shares.
//!
//! **Syntax** (rclone's `--bwlimit`, which admins already type):
//! - one rate for all the time: `"10MiB"`, or `"off"` (also `""`);
//! - a timetable of `HH:MM,RATE` entries: `"08:00,512KiB 12:00,10MiB 23:00,off"`;
//!   each entry holds until the next one (the last wraps to the first);
//! - day names: a token `Mon`, `Mon-Fri` or `Sat-Sun` makes the entries after
//!   it apply on those days only (`"Mon-Fri 08:00,2MiB 18:00,off Sat-Sun
//!   00:00,off"`), and rclone's own `Mon-08:00,512KiB` form names one day;
//! - a rate is `UP:DOWN` to limit the two directions apart: UP is
//!   left → right, DOWN right → left (`"2MiB:4MiB"`); `off` on either side
//!   is unlimited;
//! - units as rclone reads them: a bare number is KiB/s; suffixes `B`,
//!   `K`/`KiB`, `M`/`MiB`, `G`/`GiB` (`KB`, `MB`, `GB` are read as binary
//!   units too, as rclone does); `1.5M` is allowed.
//!
//! **Semantics.** The timetable is a week of switch points; the limit in
//! force at a moment is that of the last switch point at or before it
//! (going back round the week). Entries without a day apply every day.
//!
//! **The limiter.** [`Limiter::take`] is called by a copy for each buffer
//! it sends, before it writes, in the direction it goes; it waits as long
//! as the limit in force asks (a token bucket with a burst of 100 ms), and
//! reads the timetable at each call, so a new limit applies mid-copy. One
//! limiter per process, shared by both lanes and every parallel copy, so
//! together they never go over the limit. Time comes from a [`Clock`], so
//! tests run on a fake one.
//!
//! Invariant: parsing is strict: an unknown token is an error naming it
//! (the config loader adds the key and file); nothing is guessed.

use crate::Side;
use std::sync::Mutex;
use std::time::Duration;

/// A limit in bytes per second; `None` is unlimited.
pub type Rate = Option<u64>;

/// The limits of the two directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limits {
    /// Left → right (upload from the office).
    pub up: Rate,
    /// Right → left.
    pub down: Rate,
}

impl Limits {
    /// The limit for a copy *to* `to`.
    #[must_use]
    pub fn toward(self, to: Side) -> Rate {
        match to {
            Side::Right => self.up,
            Side::Left => self.down,
        }
    }
}

/// Minutes in a week; a switch point is a minute of the week (Monday 00:00 = 0).
const WEEK: u32 = 7 * 24 * 60;
const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// A parsed `bandwidth` setting: switch points in the week, sorted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Timetable {
    points: Vec<(u32, Limits)>,
}

/// Why a `bandwidth` setting does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("entry `{token}` {why} (expected e.g. \"Mon-Fri 08:00,2MiB:4MiB 18:00,off\")")]
pub struct ParseError {
    pub token: String,
    pub why: String,
}

fn err(token: &str, why: &str) -> ParseError {
    ParseError {
        token: token.to_owned(),
        why: why.to_owned(),
    }
}

/// A rate: `off`, or a number with an optional unit (bare: KiB/s).
fn parse_rate(s: &str) -> Result<Rate, ParseError> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| err(s, "is not a number with a unit"))?;
    let mult: f64 = match unit.to_ascii_lowercase().as_str() {
        "" | "k" | "ki" | "kib" | "kb" => 1024.0,
        "b" => 1.0,
        "m" | "mi" | "mib" | "mb" => 1024.0 * 1024.0,
        "g" | "gi" | "gib" | "gb" => 1024.0 * 1024.0 * 1024.0,
        _ => return Err(err(s, "has an unknown unit (use B, KiB, MiB or GiB)")),
    };
    let bytes = n * mult;
    if !bytes.is_finite() || bytes < 1.0 {
        return Err(err(s, "is below 1 byte per second (write a rate, or off)"));
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(Some(bytes as u64))
}

/// `RATE` or `UP:DOWN`.
fn parse_limits(s: &str) -> Result<Limits, ParseError> {
    if let Some((up, down)) = s.split_once(':') {
        Ok(Limits {
            up: parse_rate(up)?,
            down: parse_rate(down)?,
        })
    } else {
        let r = parse_rate(s)?;
        Ok(Limits { up: r, down: r })
    }
}

fn day_of(s: &str) -> Option<u32> {
    let l = s.to_ascii_lowercase();
    DAYS.iter()
        .position(|d| l == *d || (l.len() > 3 && d.starts_with(&l[..3]) && is_day_name(&l)))
        .and_then(|i| u32::try_from(i).ok())
}

fn is_day_name(l: &str) -> bool {
    [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ]
    .contains(&l)
}

/// `Mon`, `Mon-Fri`, `Sat-Sun` (wrapping `Fri-Mon` too): the days, in order.
fn parse_days(s: &str) -> Option<Vec<u32>> {
    if let Some(d) = day_of(s) {
        return Some(vec![d]);
    }
    let (a, b) = s.split_once('-')?;
    let (a, b) = (day_of(a)?, day_of(b)?);
    let mut out = vec![a];
    let mut d = a;
    while d != b {
        d = (d + 1) % 7;
        out.push(d);
    }
    Some(out)
}

/// Reads as a time of day (`8:00`, `08:00`), right or not: an entry
/// that is only that lacks its rate.
fn time_like(s: &str) -> bool {
    s.split_once(':').is_some_and(|(h, m)| {
        !h.is_empty() && m.len() == 2 && (h.to_owned() + m).bytes().all(|b| b.is_ascii_digit())
    })
}

/// The error of an entry that is a time without a rate.
fn no_rate(tok: &str) -> ParseError {
    err(
        tok,
        &format!("has no rate: write `{tok},2MiB` (or `{tok},off`)"),
    )
}

/// `HH:MM` → minutes since midnight.
fn parse_hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60 && s.len() == 5).then_some(h * 60 + m)
}

impl Timetable {
    /// Parses a `bandwidth` setting (see the module docs).
    ///
    /// # Errors
    /// The first token that does not parse, and why.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let tokens: Vec<&str> = s.split_whitespace().collect();
        if tokens.is_empty() {
            return Ok(Self::default());
        }
        // One rate for all the time.
        if tokens.len() == 1 && !tokens[0].contains(',') {
            if time_like(tokens[0]) {
                return Err(no_rate(tokens[0]));
            }
            let l = parse_limits(tokens[0])?;
            return Ok(Self {
                points: vec![(0, l)],
            });
        }
        let every_day: Vec<u32> = (0..7).collect();
        let mut days = every_day.clone();
        let mut points: Vec<(u32, Limits)> = Vec::new();
        for tok in tokens {
            if let Some(d) = parse_days(tok) {
                days = d;
                continue;
            }
            let Some((when, rate)) = tok.split_once(',') else {
                return Err(if time_like(tok) {
                    no_rate(tok)
                } else {
                    err(tok, "is neither a day (Mon, Mon-Fri) nor HH:MM,RATE")
                });
            };
            let limits = parse_limits(rate)?;
            // rclone's `Mon-08:00,RATE`: one named day.
            let (on, hhmm) = match when.split_once('-') {
                Some((d, t)) => (
                    vec![day_of(d).ok_or_else(|| err(tok, "names an unknown day"))?],
                    t,
                ),
                None => (days.clone(), when),
            };
            let minute =
                parse_hhmm(hhmm).ok_or_else(|| err(tok, "has a time that is not HH:MM"))?;
            let every = on.len() == 7;
            for d in on {
                let at = d * 24 * 60 + minute;
                // One rate per time: a second one is a mistake to say, not
                // an override to guess at.
                if points.iter().any(|(p, _)| *p == at) {
                    let when = if every {
                        hhmm.to_owned()
                    } else {
                        minute_text(at)
                    };
                    let why = format!("sets {when} a second time (one rate per time and day)");
                    return Err(err(tok, &why));
                }
                points.push((at, limits));
            }
        }
        points.sort_by_key(|(p, _)| *p);
        Ok(Self { points })
    }

    /// One limit for both directions all the time (`max_bytes_per_second`;
    /// 0: unlimited).
    #[must_use]
    pub fn fixed(bytes_per_second: u64) -> Self {
        let r = (bytes_per_second > 0).then_some(bytes_per_second);
        Self {
            points: vec![(0, Limits { up: r, down: r })],
        }
    }

    /// True when nothing is ever limited.
    #[must_use]
    pub fn is_unlimited(&self) -> bool {
        self.points
            .iter()
            .all(|(_, l)| l.up.is_none() && l.down.is_none())
    }

    /// The limits in force at `minute` of the week (Monday 00:00 = 0), and
    /// the next switch point that changes them (minute of the week), if any.
    #[must_use]
    pub fn at(&self, minute: u32) -> (Limits, Option<u32>) {
        let Some(last) = self.points.last() else {
            return (Limits::default(), None);
        };
        let minute = minute % WEEK;
        let now = self
            .points
            .iter()
            .rev()
            .find(|(p, _)| *p <= minute)
            .unwrap_or(last)
            .1;
        // The next point after `minute` (round the week) whose limits differ.
        let after = self
            .points
            .iter()
            .filter(|(p, _)| *p > minute)
            .chain(self.points.iter())
            .take(self.points.len())
            .find(|(_, l)| *l != now)
            .map(|(p, _)| *p);
        (now, after)
    }
}

/// Where the limiter gets its time (a fake one in tests).
pub trait Clock: Send + Sync {
    /// Monotonic time since some start.
    fn now(&self) -> Duration;
    /// The local minute of the week (Monday 00:00 = 0) at this moment.
    fn minute_of_week(&self) -> u32;
    /// Waits `d`.
    fn sleep(&self, d: Duration);
}

/// The real clock: `Instant` and local time.
pub struct SystemClock(std::time::Instant);

impl Default for SystemClock {
    fn default() -> Self {
        Self(std::time::Instant::now())
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.0.elapsed()
    }
    fn minute_of_week(&self) -> u32 {
        use chrono::{Datelike, Timelike};
        let t = chrono::Local::now();
        t.weekday().num_days_from_monday() * 24 * 60 + t.hour() * 60 + t.minute()
    }
    fn sleep(&self, d: Duration) {
        std::thread::sleep(d);
    }
}

/// How much a direction may run ahead of its rate.
const BURST: Duration = Duration::from_millis(100);

/// See the module docs: one per process, shared by every copy.
pub struct Limiter {
    table: Timetable,
    clock: Box<dyn Clock>,
    /// Per direction (to right, to left): the time the bytes sent so far
    /// are due at, at the rates in force when they were sent.
    due: Mutex<[Duration; 2]>,
}

/// The limiters of this process, one per timetable (one config: one).
static SHARED: Mutex<Vec<(Timetable, std::sync::Arc<Limiter>)>> = Mutex::new(Vec::new());

impl Limiter {
    /// The process's limiter for `table` on the system clock, the same one
    /// for every copy (both lanes, every parallel copy); `None` when the
    /// table never limits anything (no waiting, no lock).
    #[must_use]
    pub fn shared(table: &Timetable) -> Option<std::sync::Arc<Self>> {
        if table.is_unlimited() {
            return None;
        }
        let mut all = SHARED.lock().ok()?;
        if let Some((_, l)) = all.iter().find(|(t, _)| t == table) {
            return Some(std::sync::Arc::clone(l));
        }
        let l = std::sync::Arc::new(Self::new(table.clone(), Box::new(SystemClock::default())));
        all.push((table.clone(), std::sync::Arc::clone(&l)));
        Some(l)
    }

    /// A limiter on `table`'s limits, timed by `clock`.
    #[must_use]
    pub fn new(table: Timetable, clock: Box<dyn Clock>) -> Self {
        Self {
            table,
            clock,
            due: Mutex::new([Duration::ZERO; 2]),
        }
    }

    /// The limits in force now, and the next change (minute of the week).
    #[must_use]
    pub fn now(&self) -> (Limits, Option<u32>) {
        self.table.at(self.clock.minute_of_week())
    }

    /// Waits until `n` more bytes toward `to` fit the limit in force.
    pub fn take(&self, to: Side, n: usize) {
        let Some(rate) = self.now().0.toward(to) else {
            return;
        };
        let i = usize::from(to == Side::Left);
        let wait = {
            let Ok(mut due) = self.due.lock() else { return };
            let now = self.clock.now();
            #[allow(clippy::cast_precision_loss)]
            let cost = Duration::from_secs_f64(n as f64 / rate as f64);
            // Idle time is not saved up beyond the burst.
            let start = due[i].max(now.saturating_sub(BURST));
            due[i] = start + cost;
            due[i].saturating_sub(now + BURST)
        };
        if !wait.is_zero() {
            self.clock.sleep(wait);
        }
    }
}

/// `Mon 08:00`: a minute of the week for people.
#[must_use]
pub fn minute_text(minute: u32) -> String {
    let m = minute % WEEK;
    let day = DAYS[(m / (24 * 60)) as usize];
    let mut d = day.to_owned();
    if let Some(c) = d.get_mut(0..1) {
        c.make_ascii_uppercase();
    }
    format!("{d} {:02}:{:02}", (m / 60) % 24, m % 60)
}

/// `2 MiB/s`, or `unlimited`.
#[must_use]
pub fn rate_text(r: Rate) -> String {
    r.map_or_else(
        || "unlimited".to_owned(),
        |b| format!("{}/s", crate::human_size(b)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    const MIB: u64 = 1024 * 1024;

    #[test]
    fn rates_read_as_rclone_reads_them() {
        assert_eq!(parse_rate("off").unwrap(), None);
        assert_eq!(parse_rate("512").unwrap(), Some(512 * 1024), "bare: KiB");
        assert_eq!(parse_rate("512k").unwrap(), Some(512 * 1024));
        assert_eq!(parse_rate("2MiB").unwrap(), Some(2 * MIB));
        assert_eq!(parse_rate("10M").unwrap(), Some(10 * MIB));
        assert_eq!(parse_rate("1.5M").unwrap(), Some(MIB * 3 / 2));
        assert_eq!(parse_rate("1G").unwrap(), Some(1024 * MIB));
        assert_eq!(parse_rate("100B").unwrap(), Some(100));
        for bad in ["fast", "10X", "0", "-5M", ""] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_limits("2MiB:4MiB").unwrap(),
            Limits {
                up: Some(2 * MIB),
                down: Some(4 * MIB)
            }
        );
        assert_eq!(
            parse_limits("off:1M").unwrap(),
            Limits {
                up: None,
                down: Some(MIB)
            }
        );
    }

    fn at(t: &Timetable, day: u32, hh: u32, mm: u32) -> Limits {
        t.at(day * 24 * 60 + hh * 60 + mm).0
    }

    #[test]
    fn a_week_with_day_ranges_switches_where_it_says() {
        let t = Timetable::parse("Mon-Fri 08:00,2MiB:4MiB 18:00,off Sat-Sun 00:00,off").unwrap();
        let day = Limits {
            up: Some(2 * MIB),
            down: Some(4 * MIB),
        };
        let off = Limits::default();
        assert_eq!(at(&t, 0, 8, 0), day, "Monday 08:00");
        assert_eq!(at(&t, 0, 17, 59), day);
        assert_eq!(at(&t, 0, 18, 0), off);
        assert_eq!(
            at(&t, 1, 7, 59),
            off,
            "Tuesday before eight: Monday 18:00's"
        );
        assert_eq!(at(&t, 4, 12, 0), day, "Friday");
        assert_eq!(at(&t, 5, 12, 0), off, "Saturday");
        assert_eq!(
            at(&t, 0, 7, 0),
            off,
            "Monday 07:00: Sunday's, round the week"
        );
        // The next change, for `status`.
        let (_, next) = t.at(17 * 60);
        assert_eq!(next.map(minute_text).as_deref(), Some("Mon 18:00"));
        let (_, next) = t.at(4 * 24 * 60 + 19 * 60);
        assert_eq!(next.map(minute_text).as_deref(), Some("Mon 08:00"));
    }

    #[test]
    fn daily_entries_and_rclone_day_entries() {
        let t = Timetable::parse("08:00,512k 12:00,10M 23:00,off").unwrap();
        assert_eq!(at(&t, 2, 9, 0).up, Some(512 * 1024));
        assert_eq!(at(&t, 2, 12, 30).down, Some(10 * MIB));
        assert_eq!(at(&t, 2, 23, 30).up, None);
        assert_eq!(at(&t, 3, 1, 0).up, None, "after midnight: still 23:00's");
        let t = Timetable::parse("Mon-00:00,512 Fri-23:59,10M").unwrap();
        assert_eq!(at(&t, 2, 12, 0).up, Some(512 * 1024));
        assert_eq!(at(&t, 6, 12, 0).up, Some(10 * MIB));
        let one = Timetable::parse("20MiB").unwrap();
        assert_eq!(at(&one, 3, 3, 3).up, Some(20 * MIB));
        assert!(Timetable::parse("").unwrap().is_unlimited());
        assert!(Timetable::parse("off").unwrap().is_unlimited());
    }

    #[test]
    fn bad_settings_name_the_token() {
        for (s, token) in [
            ("Mon-Fri 8:00,1M", "8:00,1M"),
            ("Mon-Fri 08:00", "08:00"),
            ("Funday 08:00,1M", "Funday"),
            ("08:00,1Q", "1Q"),
            ("25:00,1M", "25:00,1M"),
        ] {
            let e = Timetable::parse(s).unwrap_err();
            assert_eq!(e.token, token, "{s}: {e}");
            assert!(e.to_string().contains("Mon-Fri 08:00"), "an example: {e}");
        }
    }

    /// Regression (audit item 4): `08:00` alone was read as the rate
    /// `08:00` (UP 8 KiB/s, DOWN 0) and the error named `00`; it names the
    /// entry and says what to write.
    #[test]
    fn a_time_without_a_rate_says_so() {
        for (s, tok) in [
            ("08:00", "08:00"),
            ("8:00", "8:00"),
            ("Mon-Fri 08:00", "08:00"),
        ] {
            let e = Timetable::parse(s).unwrap_err();
            assert_eq!(e.token, tok, "{s}: {e}");
            assert!(
                e.to_string()
                    .starts_with(&format!("entry `{tok}` has no rate: write `{tok},2MiB`")),
                "{s}: {e}"
            );
        }
    }

    /// Regression (audit item 4): a time set twice in one timetable was
    /// accepted silently (the later rate won); it is refused, naming the
    /// time (and the day, for day entries). Other days at the same time
    /// are no repeat.
    #[test]
    fn a_time_set_twice_is_refused_naming_it() {
        let e = Timetable::parse("08:00,1M 12:00,2M 08:00,off").unwrap_err();
        assert_eq!(e.token, "08:00,off");
        assert!(e.why.contains("sets 08:00 a second time"), "{e}");
        let e = Timetable::parse("Mon-Fri 08:00,1M Fri 08:00,2M").unwrap_err();
        assert!(e.why.contains("sets Fri 08:00 a second time"), "{e}");
        let e = Timetable::parse("Mon-08:00,1M Mon-08:00,1M").unwrap_err();
        assert!(e.why.contains("Mon 08:00"), "{e}");
        assert!(Timetable::parse("Mon-Fri 08:00,1M Sat-Sun 08:00,2M").is_ok());
    }

    /// A fake clock: time moves only when someone sleeps; the local time
    /// of the week starts at `start_minute`.
    struct Fake {
        ns: AtomicU64,
        start_minute: u32,
    }

    impl Clock for std::sync::Arc<Fake> {
        fn now(&self) -> Duration {
            Duration::from_nanos(self.ns.load(Ordering::SeqCst))
        }
        fn minute_of_week(&self) -> u32 {
            let secs = self.ns.load(Ordering::SeqCst) / 1_000_000_000;
            self.start_minute + u32::try_from(secs / 60).unwrap()
        }
        fn sleep(&self, d: Duration) {
            self.ns
                .fetch_add(u64::try_from(d.as_nanos()).unwrap(), Ordering::SeqCst);
        }
    }

    /// Two lanes copying at once (interleaved buffers, as two threads
    /// would send them) stay within the limit in force over every 5 s
    /// window, together; the limit switches at a boundary mid-copy.
    #[test]
    fn two_lanes_share_the_limit_and_it_switches_mid_copy() {
        // 07:59:00 on a Wednesday; 4 MiB/s until 08:00, then 1 MiB/s.
        let clock = std::sync::Arc::new(Fake {
            ns: AtomicU64::new(0),
            start_minute: 2 * 24 * 60 + 7 * 60 + 59,
        });
        let t = Timetable::parse("00:00,4MiB 08:00,1MiB").unwrap();
        let lim = Limiter::new(t, Box::new(std::sync::Arc::clone(&clock)));
        let buf = 256 * 1024;
        let mut sent: Vec<(Duration, u64)> = Vec::new();
        // 150 s of copying by both lanes toward the right.
        while clock.now() < Duration::from_secs(150) {
            for _lane in 0..2 {
                lim.take(Side::Right, buf);
                sent.push((clock.now(), buf as u64));
            }
        }
        let rate_in = |from: u64, to: u64| -> f64 {
            let bytes: u64 = sent
                .iter()
                .filter(|(t, _)| *t >= Duration::from_secs(from) && *t < Duration::from_secs(to))
                .map(|(_, b)| b)
                .sum();
            #[allow(clippy::cast_precision_loss)]
            let r = bytes as f64 / (to - from) as f64;
            r
        };
        #[allow(clippy::cast_precision_loss)]
        let (fast, slow) = ((4 * MIB) as f64, MIB as f64);
        // Every 5 s window: at most 10 % over the limit in force.
        for start in 0..145 {
            let r = rate_in(start, start + 5);
            let limit = if start + 5 <= 60 {
                fast
            } else if start >= 60 {
                slow
            } else {
                fast
            };
            assert!(r <= limit * 1.1, "window {start}s: {r} B/s over {limit}");
        }
        // And the link is used: near the limit before and after 08:00.
        assert!(rate_in(5, 55) >= fast * 0.9, "{}", rate_in(5, 55));
        assert!(rate_in(65, 145) >= slow * 0.9, "{}", rate_in(65, 145));
        // The other direction has its own budget (10 MiB at 1 MiB/s), not
        // queued behind the right's.
        let before = clock.now();
        lim.take(Side::Left, 10 << 20);
        assert!(clock.now().checked_sub(before).unwrap() <= Duration::from_secs(11));
    }

    /// One limiter per timetable in the process: both lanes and every
    /// copy get the same one; an unlimited table gets none.
    #[test]
    fn copies_share_one_limiter_per_timetable() {
        let t = Timetable::parse("08:00,3MiB 18:00,7MiB").unwrap();
        let a = Limiter::shared(&t).unwrap();
        let b = Limiter::shared(&Timetable::parse("08:00,3MiB 18:00,7MiB").unwrap()).unwrap();
        assert!(std::sync::Arc::ptr_eq(&a, &b));
        let other = Limiter::shared(&Timetable::fixed(5)).unwrap();
        assert!(!std::sync::Arc::ptr_eq(&a, &other));
        assert!(Limiter::shared(&Timetable::fixed(0)).is_none());
        assert!(Limiter::shared(&Timetable::parse("off").unwrap()).is_none());
    }

    #[test]
    fn unlimited_never_waits() {
        let clock = std::sync::Arc::new(Fake {
            ns: AtomicU64::new(0),
            start_minute: 0,
        });
        let lim = Limiter::new(
            Timetable::parse("off:1M").unwrap(),
            Box::new(std::sync::Arc::clone(&clock)),
        );
        for _ in 0..100 {
            lim.take(Side::Right, 1 << 20);
        }
        assert_eq!(clock.now(), Duration::ZERO);
        lim.take(Side::Left, 3 << 20);
        assert!(clock.now() >= Duration::from_millis(2_800));
    }
}
