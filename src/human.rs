//! The one way twinsync shows times, durations and sizes to a person
//! (`status`, `trash list`, the plan header, `watch`, the report, emails).
//!
//! - a time is local, with its offset, to the second:
//!   `2026-12-07 03:33:10 +01:00` (an admin compares it with the clock on
//!   the wall and with Explorer; the offset keeps a table across a DST
//!   change unambiguous);
//! - a duration is humanised: `850 ms` under a second, `11.3 s` under a
//!   minute, `2 min 5 s` under an hour, `1 h 4 min` above;
//! - a size is in binary units, as Windows Explorer counts them
//!   (`180 MiB` for 188,743,680 bytes, never `188.74 MB`).
//!
//! - a path, a name or a message that may hold one is shown with its
//!   control characters escaped ([`escape`]: `\e`, `\n`, `\t`, `\u{1}`),
//!   so a file named `evil\e[2J` cannot clear the screen or break a row.
//!
//! Machine-read outputs (the JSON log, `--json`, plan files) keep RFC 3339;
//! this module is for people only (the machine form of a time is
//! [`crate::model::time::fmt_time`]). Invariant: nothing here panics or fails:
//! a time that cannot be read is shown as it was given.

use chrono::{DateTime, Local, TimeZone};
use std::borrow::Cow;
use std::time::Duration;

/// The display format of a time: date, time to the second, offset.
const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S %:z";

/// A time in its own zone, to the second: `2026-12-07 03:33:10 +01:00`.
#[must_use]
pub fn time_in<Tz: TimeZone>(t: &DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    t.format(TIME_FORMAT).to_string()
}

/// A time in this machine's local zone: `2026-12-07 03:33:10 +01:00`.
#[must_use]
pub fn time<Tz: TimeZone>(t: &DateTime<Tz>) -> String {
    time_in(&t.with_timezone(&Local))
}

/// Now, local: `2026-12-07 03:33:10 +01:00`.
#[must_use]
pub fn now() -> String {
    time(&Local::now())
}

/// A stored RFC 3339 time (state DB, plan file, log) in local time; text
/// that is not RFC 3339 is returned as it is.
#[must_use]
pub fn time_text(rfc3339: &str) -> String {
    DateTime::parse_from_rfc3339(rfc3339).map_or_else(|_| rfc3339.to_owned(), |t| time(&t))
}

/// Nanoseconds since the Unix epoch (a file's mtime) in local time.
#[must_use]
pub fn time_ns(ns: i64) -> String {
    time(&DateTime::from_timestamp_nanos(ns))
}

/// A duration for people: `850 ms`, `11.3 s`, `2 min 5 s`, `1 h 4 min`.
#[must_use]
pub fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms} ms");
    }
    // Tenths of a second, rounded; below a minute `11.3 s`.
    let tenths = (ms + 50) / 100;
    if tenths < 600 {
        return format!("{}.{} s", tenths / 10, tenths % 10);
    }
    let s = (ms + 500) / 1000;
    if s < 3600 {
        return match s % 60 {
            0 => format!("{} min", s / 60),
            r => format!("{} min {r} s", s / 60),
        };
    }
    let min = (s + 30) / 60;
    match min % 60 {
        0 => format!("{} h", min / 60),
        r => format!("{} h {r} min", min / 60),
    }
}

/// A duration given in milliseconds (cycle records), as [`duration`].
#[must_use]
pub fn duration_ms(ms: u64) -> String {
    duration(Duration::from_millis(ms))
}

/// A size in binary units, as Explorer shows it: `512 B`, `1.5 KiB`, `180 MiB`.
#[must_use]
pub fn size(bytes: u64) -> String {
    humansize::format_size(bytes, humansize::BINARY)
}

/// A count and its noun, singular or plural: `1 copy`, `2 copies`, `0 copies`.
#[must_use]
pub fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Whether a character is escaped for people: control characters (C0,
/// DEL, C1) and the bidirectional overrides that reorder what follows them.
fn hidden(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` as it may reach a terminal: control characters escaped as
/// `ls -b` and Rust's `escape_debug` do (`\n`, `\t`, `\r`, `\e` for ESC,
/// else `\u{1}`), everything else (backslashes of Windows paths, accents,
/// any script) as it is. Borrowed when there is nothing to escape. Every
/// path, name or message with one shown to people goes through here; the
/// JSON log and `--json` keep the exact bytes.
#[must_use]
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(hidden) {
        return Cow::Borrowed(text);
    }
    let mut s = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => s.push_str("\\n"),
            '\t' => s.push_str("\\t"),
            '\r' => s.push_str("\\r"),
            '\u{1b}' => s.push_str("\\e"),
            c if hidden(c) => s.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => s.push(c),
        }
    }
    Cow::Owned(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::FixedOffset;

    #[test]
    fn a_time_has_its_offset_and_whole_seconds() {
        let t = DateTime::parse_from_rfc3339("2026-12-07T02:33:10.101296338+00:00").unwrap();
        let paris = FixedOffset::east_opt(3600).unwrap();
        assert_eq!(
            time_in(&t.with_timezone(&paris)),
            "2026-12-07 03:33:10 +01:00"
        );
        let ny = FixedOffset::west_opt(5 * 3600).unwrap();
        assert_eq!(time_in(&t.with_timezone(&ny)), "2026-12-06 21:33:10 -05:00");
        // The local rendering has the same shape whatever the zone.
        let local = time_text("2026-12-07T02:33:10.101296338+00:00");
        assert_eq!(local.len(), "2026-12-07 03:33:10 +01:00".len(), "{local}");
        assert!(!local.contains('T') && !local.contains(".101"), "{local}");
        assert_eq!(time_text("yesterday"), "yesterday");
        // Nanoseconds since the epoch: the same instant as its RFC 3339 text.
        let ns = t.timestamp_nanos_opt().unwrap();
        assert_eq!(time_ns(ns), local);
    }

    #[test]
    fn durations_read_like_a_person_says_them() {
        let ms = |n| duration(Duration::from_millis(n));
        assert_eq!(ms(0), "0 ms");
        assert_eq!(ms(850), "850 ms");
        assert_eq!(ms(999), "999 ms");
        assert_eq!(ms(1000), "1.0 s");
        assert_eq!(ms(11_330), "11.3 s");
        assert_eq!(ms(59_940), "59.9 s");
        assert_eq!(ms(59_960), "1 min");
        assert_eq!(ms(125_000), "2 min 5 s");
        assert_eq!(ms(3_599_000), "59 min 59 s");
        assert_eq!(ms(3_600_000), "1 h");
        assert_eq!(ms(3_840_000), "1 h 4 min");
        assert_eq!(duration_ms(11_330), "11.3 s");
    }

    #[test]
    fn sizes_are_binary_as_explorer_shows_them() {
        assert_eq!(size(0), "0 B");
        assert_eq!(size(512), "512 B");
        assert_eq!(size(1536), "1.50 KiB");
        assert_eq!(size(180 * 1024 * 1024), "180 MiB");
        assert_eq!(size(20_971_520), "20 MiB");
        assert_eq!(size(3 * 1024 * 1024 * 1024), "3 GiB");
    }

    /// Audit item 4: names with control characters reach the terminal escaped.
    #[test]
    fn control_characters_are_escaped_and_nothing_else() {
        assert_eq!(escape("evil\u{1b}[2J\u{1b}[31mRED"), "evil\\e[2J\\e[31mRED");
        assert_eq!(escape("new\nline.txt"), "new\\nline.txt");
        assert_eq!(
            escape("a\tb\rc\u{1}d\u{7f}\u{9b}"),
            "a\\tb\\rc\\u{1}d\\u{7f}\\u{9b}"
        );
        assert_eq!(escape("txt.\u{202e}exe"), "txt.\\u{202e}exe");
        for plain in [r"C:\local_share", "Ünïcödé/été 2026 – 東京.docx", ""] {
            assert!(matches!(escape(plain), Cow::Borrowed(_)), "{plain}");
        }
    }
}
