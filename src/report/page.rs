//! The page itself: a [`Snapshot`] in, one HTML document out (pure).
//!
//! Built with `maud`: the markup is Rust, checked when compiled, and every
//! `(value)` spliced into it is HTML-escaped, so a path named
//! `<script>….txt` or an error text quoting HTML shows as text. Only the
//! CSS below and the SVG from [`super::charts`] (our own labels, escaped by
//! plotters) go in unescaped.

use super::charts::{self, Chart, Series};
use super::{CHART_HOURS, Event, PendingStep, Snapshot};
use crate::health::Health;
use crate::plan::Lane;
use crate::state::{HourStats, TrashRecord};
use crate::{Entry, Side};
use chrono::{DateTime, FixedOffset};
use maud::{DOCTYPE, Markup, PreEscaped, html};

pub(crate) const CSS: &str = r#"
:root{--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e;--busy:#0969da;--muted:#57606a;--line:#d0d7de;--bg:#f6f8fa}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#1f2328;background:#fff}
main{max-width:1240px;margin:0 auto;padding:16px 24px 40px}
header.top{display:flex;justify-content:space-between;align-items:baseline;flex-wrap:wrap;gap:4px 24px;border-bottom:1px solid var(--line);padding-bottom:6px}
header.top h1{font-size:20px;margin:0}
.muted{color:var(--muted)}
.small{font-size:12px}
h2{font-size:17px;margin:28px 0 8px;padding-bottom:4px;border-bottom:1px solid var(--line)}
h3{font-size:14px;margin:16px 0 6px}
#verdict{margin:14px 0 12px;padding:14px 18px;border-radius:8px;border-left:8px solid;background:var(--bg)}
#verdict .head{font-size:22px;font-weight:650}
#verdict ul{margin:6px 0 0;padding-left:20px}
#verdict.ok{border-color:var(--ok)} #verdict.ok .head{color:var(--ok)}
#verdict.warn{border-color:var(--warn);background:#fff8c5} #verdict.warn .head{color:var(--warn)}
#verdict.bad{border-color:var(--bad);background:#ffebe9} #verdict.bad .head{color:var(--bad)}
#verdict.busy{border-color:var(--busy);background:#ddf4ff} #verdict.busy .head{color:var(--busy)}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(180px,1fr));gap:10px}
.card{border:1px solid var(--line);border-radius:8px;padding:8px 12px;min-width:0}
.card .label{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.03em}
.card .value{font-size:19px;font-weight:600;overflow-wrap:anywhere}
.card.root .value{font-size:14px;font-family:ui-monospace,SFMono-Regular,Consolas,monospace}
.yes{color:var(--ok);font-weight:600} .no{color:var(--bad);font-weight:600}
table{border-collapse:collapse;width:100%;margin:4px 0 8px}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{background:var(--bg);font-weight:600;font-size:12px;color:var(--muted)}
td.num,th.num{text-align:right;white-space:nowrap}
td.path,code{font-family:ui-monospace,SFMono-Regular,Consolas,monospace;font-size:12.5px;overflow-wrap:anywhere}
td.error,.error{color:var(--bad);overflow-wrap:anywhere}
code.cmd{display:block;background:var(--bg);border:1px solid var(--line);border-radius:4px;padding:1px 6px;margin:1px 0;white-space:pre-wrap;user-select:all}
.none{color:var(--ok)}
.charts{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:8px 24px}
figure{margin:0} figcaption{font-weight:600;margin:6px 0 2px}
figure svg{width:100%;height:auto;display:block}
.key{display:inline-block;width:10px;height:10px;border-radius:2px;margin:0 4px 0 10px;vertical-align:baseline}
.totals{display:flex;flex-wrap:wrap;gap:6px 22px;margin:4px 0 10px}
.totals b{font-size:16px}
tr.lv-error td{background:#fff5f5} tr.lv-warn td{background:#fffbea}
footer{margin-top:32px;color:var(--muted);font-size:12px;border-top:1px solid var(--line);padding-top:8px}
@media (max-width:800px){.charts{grid-template-columns:1fr}}
"#;

/// Colours of the two directions (and of steps touching both sides).
const TO_RIGHT: &str = "#0969da";
const TO_LEFT: &str = "#d4770c";
const OTHER: &str = "#8c959f";
const CONFLICT: &str = "#cf222e";
const FAILED: &str = "#57606a";
const DUR_MAX: &str = "#a5c8f0";
const DUR_MEAN: &str = "#0a3069";

/// How urgent the headline is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tone {
    Ok,
    Busy,
    Warn,
    Bad,
}

impl Tone {
    pub(crate) fn class(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Busy => "busy",
            Self::Warn => "warn",
            Self::Bad => "bad",
        }
    }
}

/// A cycle older than this means `watch` is probably not running.
const STALE_SECS: i64 = 3600;

/// Renders the page.
#[must_use]
pub fn render(s: &Snapshot) -> String {
    let (tone, head, points) = verdict(s);
    let large: Vec<&PendingStep> = s.pending.iter().filter(|p| p.lane == Lane::Large).collect();
    let pending_bytes: u64 = s.pending.iter().map(|p| p.bytes).sum();
    let large_bytes: u64 = large.iter().map(|p| p.bytes).sum();
    let hours = bins(s);
    let week = sum(&hours);
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                // Belt and braces: nothing on this page may load or run anything.
                meta http-equiv="Content-Security-Policy"
                    content="default-src 'none'; style-src 'unsafe-inline'";
                title { "twinsync: " (head) }
                style { (PreEscaped(CSS)) }
            }
            body { main {
                header.top {
                    h1 { "twinsync activity report" }
                    span.muted { "generated " (fmt_t(s.now, s.now)) " · config " code { (s.config_file) } }
                }

                // 1. Are both sides there and in sync now?
                section #now {
                    div #verdict class=(tone.class()) {
                        div.head { (head) }
                        @if !points.is_empty() {
                            ul { @for p in &points { li { (p) } } }
                        }
                    }
                    div.cards {
                        @for r in &s.roots {
                            div.card.root id={ "root-" (r.side) } data-available=(if r.problem.is_none() { "yes" } else { "no" }) {
                                div.label { (r.side) " root" }
                                div.value { (r.path) }
                                @match &r.problem {
                                    None => div.yes { "available" },
                                    Some(p) => div.no { "unavailable: " span.error { (p) } },
                                }
                            }
                        }
                        div.card #last-cycle {
                            div.label { "last cycle" }
                            @match &s.last_cycle {
                                Some(c) => {
                                    div.value { (ago(s.now, c.at)) }
                                    div.small.muted {
                                        (fmt_t(s.now, c.at)) " · " (c.result) " · " (c.changes) " changes · " (fmt_ms(c.duration_ms))
                                        @if let Some(n) = &c.note { " · " (n) }
                                    }
                                }
                                None => div.value { "none yet" },
                            }
                        }
                        div.card #last-change {
                            div.label { "last change synced" }
                            @match s.last_change {
                                Some(t) => { div.value { (ago(s.now, t)) } div.small.muted { (fmt_t(s.now, t)) } }
                                None => div.value { "none in 30 days" },
                            }
                        }
                        div.card {
                            div.label { "pending work" }
                            div.value { span #pending-count { (s.pending.len()) } (if s.pending.len() == 1 { " step" } else { " steps" }) }
                            div.small.muted { (crate::human_size(pending_bytes)) " to copy" }
                        }
                        div.card {
                            div.label { "large-file lane queue" }
                            div.value { span #lane-count { (large.len()) } (if large.len() == 1 { " file" } else { " files" }) }
                            div.small.muted #lane-bytes data-v=(large_bytes) { (crate::human_size(large_bytes)) }
                        }
                    }
                    @if !s.pending.is_empty() {
                        h3 { "Pending steps (unfinished plans)" }
                        table #pending {
                            tr { th { "step" } th { "operation" } th { "path" } th { "to" } th.num { "size" } th { "lane" } }
                            @for p in s.pending.iter().take(50) {
                                tr.pending {
                                    td.num { (p.step) } td { (p.kind) } td.path { (p.path) }
                                    td { (p.side.map_or("", Side::arrow)) }
                                    td.num { (crate::human_size(p.bytes)) }
                                    td { @if p.lane == Lane::Large { "large" } @else { "small" } }
                                }
                            }
                        }
                        @if s.pending.len() > 50 { p.muted { "…and " (s.pending.len() - 50) " more (see " code { "twinsync status" } ")." } }
                    }
                }

                // 2. What needs me?
                section #needs-you {
                    h2 { "What needs you" }
                    h3 { "Unresolved conflicts (" (s.conflicts.len()) ")" }
                    @if s.conflicts.is_empty() {
                        p.none { "None." }
                    } @else {
                        p.muted.small { "Both versions are kept until you choose; run one of the commands (the next apply or watch cycle settles it)." }
                        table #conflicts {
                            tr { th { "path" } th { "rule" } th { "since" } th { "left version" } th { "right version" } th { "to settle" } }
                            @for c in &s.conflicts {
                                tr.conflict {
                                    td.path { (c.path) }
                                    td { (c.rule) }
                                    td { (when(s.now, &c.created_at)) }
                                    td.left { (version(s.now, c.left.as_ref())) }
                                    td.right { (version(s.now, c.right.as_ref())) }
                                    td {
                                        @if let Some(k) = &c.keep {
                                            div.muted { "chosen: keep " (k) " (settled at the next cycle)" }
                                        }
                                        @for keep in ["left", "right", "both"] {
                                            code.cmd.resolve { (resolve_cmd(&s.config_file, &c.path, keep)) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    h3 { "Failing paths (" (s.failures.len()) ")" }
                    @if s.failures.is_empty() {
                        p.none { "None." }
                    } @else {
                        table #failures {
                            tr { th { "path" } th { "operation" } th { "error" } th { "failing since" } th.num { "attempts" } th { "last try" } }
                            @for f in &s.failures {
                                tr.failure {
                                    td.path { (f.path) } td { (f.op) } td.error { (f.error) }
                                    td.since { (when(s.now, &f.first_at)) }
                                    td.num { (f.count) }
                                    td { (when(s.now, &f.last_at)) }
                                }
                            }
                        }
                    }
                    h3 { "Skipped paths (" span #skipped-count { (s.skipped.len()) } ")" }
                    @if s.skipped.is_empty() {
                        p.none { "None." }
                    } @else {
                        p.muted.small { "Names the other side cannot hold: never synced until they are renamed." }
                        table #skipped {
                            tr { th { "side" } th { "path" } th { "why" } th { "since" } }
                            @for k in &s.skipped {
                                tr.skipped {
                                    td { (k.side) } td.path { (k.path) } td.error { (k.reason) }
                                    td { (when(s.now, &k.since)) }
                                }
                            }
                        }
                    }
                    p #watch { (s.watch) }
                    p #bandwidth { "Bandwidth now: " (s.bandwidth) }
                    h3 { "Queued emails (" span #emails-queued { (s.emails_queued) } ")" }
                    @if s.emails_queued == 0 {
                        p.none { "None." @if !s.email_enabled { span.muted { " (email alerts are off: [email] enabled = false)" } } }
                    } @else {
                        table #emails {
                            tr { th { "queued" } th { "kind" } th { "subject" } th.num { "attempts" } th { "last error" } }
                            @for m in &s.emails {
                                tr {
                                    td { (DateTime::from_timestamp(m.created_at, 0).map_or_else(|| m.created_at.to_string(), |t| fmt_t(s.now, t.fixed_offset()))) }
                                    td { (m.kind) } td { (m.subject) } td.num { (m.attempts) }
                                    td.error { (m.last_error.as_deref().unwrap_or("")) }
                                }
                            }
                        }
                    }
                }

                // 3. What happened?
                section #happened {
                    h2 { "What happened in the last 7 days" }
                    div.totals {
                        span { b #week-cycles data-v=(week.cycles) { (week.cycles) } " busy " (noun(week.cycles, "cycle")) }
                        span { b #week-changes-right data-v=(week.changes_to_right) { (week.changes_to_right) } " " (noun(week.changes_to_right, "change")) " → right" }
                        span { b #week-changes-left data-v=(week.changes_to_left) { (week.changes_to_left) } " " (noun(week.changes_to_left, "change")) " → left" }
                        span { b #week-bytes-right data-v=(week.bytes_to_right) { (crate::human_size(week.bytes_to_right)) } " copied → right" }
                        span { b #week-bytes-left data-v=(week.bytes_to_left) { (crate::human_size(week.bytes_to_left)) } " copied → left" }
                        span { b #week-conflicts data-v=(week.conflicts) { (week.conflicts) } " " (noun(week.conflicts, "conflict")) }
                        span { b #week-failed data-v=(week.failed) { (week.failed) } " failed " (noun(week.failed, "step")) }
                    }
                    (charts_grid(s, &hours))
                    h3 { "Latest events (" (s.events.len()) ")" }
                    @if s.events.is_empty() {
                        p.muted { "No events in the log." }
                    } @else {
                        (events_table(s.now, &s.events))
                    }
                }

                // 4. The trash.
                section #trash {
                    h2 { "Trash" }
                    table #trash-table {
                        tr {
                            th { "side" } th.num { "files" } th.num { "size" } th { "oldest entry" }
                            th { code { "trash purge" } " would free (older than " (s.retention_days) " days)" }
                        }
                        @for side in Side::BOTH {
                            @let t = trash_use(s, side);
                            tr id={ "trash-" (side) } {
                                td { (side) }
                                td.num.files data-v=(t.files) { (t.files) }
                                td.num.bytes data-v=(t.bytes) { (crate::human_size(t.bytes)) }
                                td.oldest {
                                    @match t.oldest {
                                        Some(r) => { (when(s.now, &r.deleted_at)) br; span.path.small { (r.original_path) } }
                                        None => "—",
                                    }
                                }
                                td.purge data-files=(t.purge_files) data-bytes=(t.purge_bytes) {
                                    (crate::human::plural(t.purge_files, "file", "files")) ", " (crate::human_size(t.purge_bytes))
                                }
                            }
                        }
                    }
                    p.muted.small {
                        @if s.auto_purge { "watch purges entries older than " (s.retention_days) " days by itself (auto_purge)." }
                        @else { "Nothing is purged by itself (auto_purge = false): run " code { "twinsync trash purge" } "." }
                    }
                }

                footer {
                    "Made by " code { "twinsync report" } " from the state DB " code { (s.state_db) }
                    " and the log. A static page: it changes only when written again (" code { "watch" } " with " code { "[logging] report_path" } " rewrites it after every cycle that did something)."
                }
            } }
        }
    };
    page.into_string()
}

/// The headline, its tone, and the points behind it: the health verdict
/// ([`crate::health`], the same as `status`) and its reasons, plus what
/// only the page can tell (no cycle for a while, no sync recorded yet).
pub(crate) fn verdict(s: &Snapshot) -> (Tone, String, Vec<String>) {
    let health = s.health.health;
    let mut points: Vec<String> = s
        .health
        .reasons
        .iter()
        .map(|r| sentence(&r.to_string()))
        .collect();
    let stale = s
        .last_cycle
        .as_ref()
        .is_some_and(|c| (s.now - c.at).num_seconds() > STALE_SECS);
    if let Some(c) = &s.last_cycle {
        if stale {
            points.push(format!(
                "No cycle since {} ({}): is watch (the service) running?",
                fmt_t(s.now, c.at),
                ago(s.now, c.at)
            ));
        }
        if c.result == "skipped" && health < Health::Blocked {
            points.push(
                "The last cycle was skipped (a side was away, a safety guard refused, or an apply was cancelled): see the events below.".into(),
            );
        }
    }
    let (tone, head) = match health {
        Health::NotSyncing | Health::Blocked => (Tone::Bad, s.health.headline()),
        Health::NeedsYou | Health::Paused => (Tone::Warn, s.health.headline()),
        Health::Working => (Tone::Busy, s.health.headline()),
        Health::InSync if s.last_cycle.is_none() => (Tone::Warn, "No sync recorded yet".to_owned()),
        Health::InSync if stale || s.last_cycle.as_ref().is_some_and(|c| c.result == "skipped") => {
            (
                Tone::Warn,
                "In sync at the last cycle, but look below".to_owned(),
            )
        }
        Health::InSync => {
            if let Some(c) = &s.last_cycle {
                points.push(format!(
                    "As of the last cycle, {} ({}): no pending steps, conflicts, failing or skipped paths.",
                    fmt_t(s.now, c.at),
                    ago(s.now, c.at)
                ));
            }
            (Tone::Ok, "Both sides there and in sync".to_owned())
        }
    };
    (tone, head, points)
}

/// A reason as a sentence: capital first letter, full stop.
fn sentence(text: &str) -> String {
    let mut t = text.to_owned();
    if let Some(c) = t.get_mut(0..1) {
        c.make_ascii_uppercase();
    }
    if !t.ends_with('.') {
        t.push('.');
    }
    t
}

/// "change" or "changes".
fn noun(n: u64, what: &str) -> String {
    if n == 1 {
        what.to_owned()
    } else {
        format!("{what}s")
    }
}

/// `twinsync resolve "PATH" --keep K --config "FILE"`, ready to paste.
fn resolve_cmd(config: &str, path: &str, keep: &str) -> String {
    format!(
        "twinsync resolve {} --keep {keep} --config {}",
        quote(path),
        quote(config)
    )
}

/// Double quotes, which `cmd`, PowerShell and POSIX shells read alike for
/// ordinary names; a name those would expand gets POSIX single quotes.
fn quote(s: &str) -> String {
    if s.contains(['"', '$', '`']) {
        format!("'{}'", s.replace('\'', r"'\''"))
    } else {
        format!("\"{s}\"")
    }
}

/// "12.3 KiB, modified 2024-05-02 14:03:10 +02:00", or "absent".
pub(crate) fn version(now: DateTime<FixedOffset>, e: Option<&Entry>) -> String {
    match e {
        None => "absent (deleted)".into(),
        Some(e) => {
            let t = DateTime::from_timestamp_nanos(e.mtime).fixed_offset();
            format!("{}, modified {}", crate::human_size(e.size), fmt_t(now, t))
        }
    }
}

/// A time in the page's zone: `2024-05-02 14:03:10 +02:00`.
pub(crate) fn fmt_t(now: DateTime<FixedOffset>, t: DateTime<FixedOffset>) -> String {
    crate::human::time_in(&t.with_timezone(now.offset()))
}

/// "5 min ago".
fn ago(now: DateTime<FixedOffset>, t: DateTime<FixedOffset>) -> String {
    let s = (now - t).num_seconds();
    match s {
        ..-60 => "in the future (clock?)".into(),
        -60..60 => "just now".into(),
        60..3600 => format!("{} min ago", s / 60),
        3600..172_800 => format!("{} h ago", s / 3600),
        _ => format!("{} days ago", s / 86_400),
    }
}

/// An RFC 3339 string as "2024-05-02 14:03 (3 h ago)"; unreadable ones as they are.
pub(crate) fn when(now: DateTime<FixedOffset>, rfc3339: &str) -> String {
    super::parse_time(rfc3339).map_or_else(
        || rfc3339.to_owned(),
        |t| format!("{} ({})", fmt_t(now, t), ago(now, t)),
    )
}

fn fmt_ms(ms: u64) -> String {
    crate::human::duration_ms(ms)
}

/// A side's trash in numbers.
struct TrashUse<'a> {
    files: u64,
    bytes: u64,
    oldest: Option<&'a TrashRecord>,
    purge_files: u64,
    purge_bytes: u64,
}

fn trash_use(s: &Snapshot, side: Side) -> TrashUse<'_> {
    let cutoff = s.now
        - chrono::Duration::days(
            i64::try_from(s.retention_days)
                .unwrap_or(1_000_000)
                .min(1_000_000),
        );
    let mut t = TrashUse {
        files: 0,
        bytes: 0,
        oldest: None,
        purge_files: 0,
        purge_bytes: 0,
    };
    let mut oldest_at = None;
    for r in s.trash.iter().filter(|r| r.side == side) {
        t.files += 1;
        t.bytes += r.size;
        let at = super::parse_time(&r.deleted_at);
        // `trash purge` skips what it cannot date; so does this count.
        if let Some(at) = at {
            if at <= cutoff {
                t.purge_files += 1;
                t.purge_bytes += r.size;
            }
            if oldest_at.is_none_or(|o| at < o) {
                oldest_at = Some(at);
                t.oldest = Some(r);
            }
        }
    }
    t
}

/// The chart window's hours (oldest first), each with its cycles summed:
/// per-cycle rows and hour rollups alike.
pub(crate) fn bins(s: &Snapshot) -> Vec<HourStats> {
    let now = s.now.timestamp();
    let last = now - now.rem_euclid(3600);
    let first = last - (CHART_HOURS - 1) * 3600;
    let mut out: Vec<HourStats> = (0..CHART_HOURS)
        .map(|i| HourStats {
            hour: first + i * 3600,
            ..HourStats::default()
        })
        .collect();
    let slot = |at: i64| -> Option<usize> {
        (at >= first && at < last + 3600)
            .then(|| usize::try_from((at - first) / 3600).ok())
            .flatten()
    };
    for (at, c) in &s.history.cycles {
        if let Some(i) = slot(*at) {
            out[i].add(c);
        }
    }
    for h in &s.history.hours {
        if let Some(i) = slot(h.hour) {
            out[i].merge(h);
        }
    }
    out
}

fn sum(hours: &[HourStats]) -> HourStats {
    let mut t = HourStats::default();
    for h in hours {
        t.merge(h);
    }
    t
}

#[allow(clippy::cast_precision_loss)]
pub(crate) fn charts_grid(s: &Snapshot, hours: &[HourStats]) -> Markup {
    let offset = *s.now.offset();
    let f = |v: u64| v as f64;
    let other_changes: Vec<f64> = hours
        .iter()
        .map(|h| {
            f(h.changes
                .saturating_sub(h.changes_to_left + h.changes_to_right))
        })
        .collect();
    let other_bytes: Vec<f64> = hours
        .iter()
        .map(|h| {
            f(h.bytes_copied
                .saturating_sub(h.bytes_to_left + h.bytes_to_right))
        })
        .collect();
    let col = |g: fn(&HourStats) -> u64| -> Vec<f64> { hours.iter().map(|h| f(g(h))).collect() };
    let start = hours.first().map_or(0, |h| h.hour);
    let changes = Chart {
        title: "Files changed per hour",
        start,
        offset,
        stacked: true,
        unit: charts::Unit::Count,
        series: vec![
            Series::new("→ right", TO_RIGHT, col(|h| h.changes_to_right)),
            Series::new("→ left", TO_LEFT, col(|h| h.changes_to_left)),
            Series::new("both sides / unknown", OTHER, other_changes),
        ],
    };
    let bytes = Chart {
        title: "Bytes copied per hour",
        start,
        offset,
        stacked: true,
        unit: charts::Unit::Bytes,
        series: vec![
            Series::new("→ right", TO_RIGHT, col(|h| h.bytes_to_right)),
            Series::new("→ left", TO_LEFT, col(|h| h.bytes_to_left)),
            Series::new("direction unknown", OTHER, other_bytes),
        ],
    };
    let problems = Chart {
        title: "Conflicts and failed steps per hour",
        start,
        offset,
        stacked: true,
        unit: charts::Unit::Count,
        series: vec![
            Series::new("conflicts", CONFLICT, col(|h| h.conflicts)),
            Series::new("failed steps", FAILED, col(|h| h.failed)),
        ],
    };
    let mean: Vec<f64> = hours
        .iter()
        .map(|h| {
            if h.cycles == 0 {
                0.0
            } else {
                h.duration_ms_sum as f64 / h.cycles as f64 / 1000.0
            }
        })
        .collect();
    let duration = Chart {
        title: "Cycle duration (seconds): longest and mean per hour",
        start,
        offset,
        stacked: false,
        unit: charts::Unit::Seconds,
        series: vec![
            Series::new(
                "longest",
                DUR_MAX,
                hours
                    .iter()
                    .map(|h| h.duration_ms_max as f64 / 1000.0)
                    .collect(),
            ),
            Series::new("mean", DUR_MEAN, mean),
        ],
    };
    html! {
        div.charts {
            @for c in [&changes, &bytes, &problems, &duration] {
                figure {
                    figcaption {
                        (c.title)
                        span.small.muted {
                            @for se in c.series.iter().filter(|se| !se.label.contains("unknown") || se.values.iter().any(|v| *v > 0.0)) {
                                span.key style={ "background:" (se.color) } {} (se.label)
                            }
                        }
                    }
                    (PreEscaped(charts::draw(c)))
                }
            }
        }
        p.muted.small {
            "Only cycles that did something are stored; each bar is one hour (local time, ticks at midnight). "
            "Cycles older than a day are kept as hourly sums."
        }
    }
}

pub(crate) fn events_table(now: DateTime<FixedOffset>, events: &[Event]) -> Markup {
    html! {
        table #events {
            tr { th { "time" } th { "event" } th { "path" } th { "side" } th { "rule" } th { "result" } th.num { "bytes" } th { "error / details" } }
            @for e in events {
                tr class={ "event lv-" (e.level) } {
                    td {
                        (super::parse_time(&e.ts).map_or_else(
                            || e.ts.clone(),
                            |t| fmt_t(now, t),
                        ))
                    }
                    td { (e.event) }
                    td.path { (e.path) }
                    td { (e.side) }
                    td { (e.rule) }
                    td { (e.result) }
                    td.num { @if let Some(b) = e.bytes { (crate::human_size(b)) } }
                    td {
                        @if !e.error.is_empty() { span.error { (e.error) } @if !e.detail.is_empty() { br; } }
                        (e.detail)
                    }
                }
            }
        }
    }
}
