//! The dashboard's pages (pure: facts in, HTML out), built with `maud`
//! like the report, whose verdict box, charts and event table they reuse:
//! every spliced string (paths, error texts, plan tables) is HTML-escaped.
//!
//! The live part ([`live`]) is the page's `#live` element; the little
//! script ([`SCRIPT`], served from the same origin: the CSP allows no
//! inline script) fetches it again every [`REFRESH_MS`] and swaps it in,
//! unless a form field has the focus. Every form is a plain POST carrying
//! the session's CSRF token, so the page works without the script too.

use super::live::{Copy, Cycle, Offer};
use crate::Side;
use crate::apply::trash::Version;
use crate::report::Snapshot;
use crate::report::page::{self as rp, CSS};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use std::time::Instant;

/// How often the page refreshes its live part.
pub const REFRESH_MS: u64 = 2000;

/// The script: refresh `#live` every two seconds; back to the login page
/// when the session is gone.
pub const SCRIPT: &str = r#""use strict";
(function () {
  var live = document.getElementById("live");
  if (!live) { return; }
  var pressed = 0;
  // A click in progress keeps its button: no refresh for a moment.
  document.addEventListener("pointerdown", function () { pressed = Date.now(); }, true);
  document.addEventListener("submit", function () { pressed = Date.now() + 60000; }, true);
  function busy() {
    var a = document.activeElement;
    return Date.now() - pressed < 3000 ||
      (a && (a.tagName === "SELECT" || a.tagName === "INPUT" || a.tagName === "TEXTAREA"));
  }
  function tick() {
    if (busy()) { return; }
    fetch("/live", { credentials: "same-origin", cache: "no-store", redirect: "manual" })
      .then(function (r) {
        if (r.status === 200) { return r.text(); }
        if (r.status === 401 || r.type === "opaqueredirect") { window.location = "/login"; }
        return null;
      })
      .then(function (t) { if (t !== null) { live.innerHTML = t; live.dataset.refreshed = String(Date.now()); } })
      .catch(function () {});
  }
  setInterval(tick, 2000);
})();
"#;

/// Dashboard-only styles, after the report's.
const MORE_CSS: &str = r"
form.inline{display:inline;margin:0}
button{font:inherit;padding:3px 10px;border:1px solid var(--line);border-radius:6px;background:#f6f8fa;cursor:pointer}
button.primary{background:#1f883d;color:#fff;border-color:#1a7f37}
button.danger{background:#cf222e;color:#fff;border-color:#a40e26}
.actions{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin:8px 0}
.bar{height:8px;background:var(--line);border-radius:4px;overflow:hidden;min-width:120px}
.bar>span{display:block;height:100%;background:var(--busy)}
pre.plan{background:var(--bg);border:1px solid var(--line);padding:8px;overflow:auto;max-height:420px}
ul.notes{margin:4px 0;padding-left:18px}
td.path{min-width:12em}
";

/// What the live part shows besides the report's snapshot.
pub struct Live<'a> {
    pub snap: &'a Snapshot,
    pub csrf: &'a str,
    pub copies: &'a [Copy],
    pub cycle: Option<&'a Cycle>,
    pub offer: Option<&'a Offer>,
    pub preview_pending: bool,
    pub notes: &'a [(String, String)],
    /// Trash versions, numbered per path (newest first).
    pub trash: &'a [Version],
    /// The watch loop serves this page (false: a stand-alone server, e.g. a test).
    pub in_watch: bool,
    pub now: Instant,
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) }
            style { (PreEscaped(CSS)) (PreEscaped(MORE_CSS)) }
        }
    }
}

/// The whole page: the live part and the script.
#[must_use]
pub fn page(l: &Live<'_>) -> String {
    let (_, head_text, _) = rp::verdict(l.snap);
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(&format!("twinsync: {head_text}")))
            body { main {
                header.top {
                    h1 { "twinsync dashboard" }
                    span.muted {
                        "config " code { (l.snap.config_file) } " · "
                        form.inline method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(l.csrf);
                            button type="submit" { "Log out" }
                        }
                    }
                }
                div #live { (live(l)) }
                footer { "Refreshes every " (REFRESH_MS / 1000) " s. Every action takes effect at the next cycle boundary and is logged with the actor `dashboard`." }
            } }
            script src="/app.js" {}
        }
    }
    .into_string()
}

fn post(action: &str, csrf: &str, fields: &[(&str, &str)], label: &str, class: &str) -> Markup {
    html! {
        form.inline method="post" action=(action) {
            input type="hidden" name="csrf" value=(csrf);
            @for (k, v) in fields { input type="hidden" name=(k) value=(v); }
            button type="submit" class=(class) { (label) }
        }
    }
}

fn rate(bps: f64) -> String {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let b = bps as u64;
    format!("{}/s", crate::human_size(b))
}

/// The live part (also served alone at `/live`).
#[must_use]
pub fn live(l: &Live<'_>) -> Markup {
    let s = l.snap;
    let (tone, head, points) = rp::verdict(s);
    let paused = s.health.health == crate::health::Health::Paused;
    let blocked = s
        .health
        .reasons
        .iter()
        .any(|r| matches!(r, crate::health::Reason::Blocked { .. }));
    let hours = rp::bins(s);
    html! {
        section #now {
            div #verdict class=(tone.class()) data-state=(s.health.health.label()) {
                div.head { (head) }
                @if !points.is_empty() { ul { @for p in &points { li { (p) } } } }
            }
            div.actions {
                @if paused {
                    (post("/resume", l.csrf, &[], "Resume syncing", "primary"))
                } @else {
                    (post("/pause", l.csrf, &[], "Pause syncing", ""))
                }
                (post("/sync-now", l.csrf, &[], "Sync now", ""))
                @if blocked {
                    (post("/override/preview", l.csrf, &[], "Review the forced plan", "danger"))
                }
                @if !l.in_watch { span.muted { "(not served by watch: actions are recorded, nothing syncs here)" } }
            }
            @if !l.notes.is_empty() {
                ul.notes #notes { @for (t, n) in l.notes { li { span.muted { (crate::health::local_time(t)) } " " (n) } } }
            }
            @if l.preview_pending {
                p #override-pending { "Preparing the forced plan at the next cycle boundary…" }
            }
            @if let Some(o) = l.offer {
                section #override {
                    h2 { "Forced plan: what overriding the guard would do" }
                    p { (o.plan.summary.one_line()) }
                    pre.plan { (o.text) }
                    (post("/override/apply", l.csrf, &[("plan_id", o.plan.plan_id.as_str())], "Apply this forced plan", "danger"))
                }
            }
            div.cards {
                @for r in &s.roots {
                    div.card.root id={ "root-" (r.side) } {
                        div.label { (r.side) " root" }
                        div.value { (r.path) }
                        @match &r.problem {
                            None => div.yes { "available" },
                            Some(p) => div.no { "unavailable: " span.error { (p) } },
                        }
                    }
                }
                div.card #cycle {
                    div.label { "current cycle" }
                    @match l.cycle {
                        Some(c) => div.value { "#" (c.n) " running " (crate::human::duration(l.now.duration_since(c.started))) },
                        None => div.value { "between cycles" },
                    }
                }
                div.card #last-cycle {
                    div.label { "last cycle" }
                    @match &s.last_cycle {
                        Some(c) => div.value { (rp::fmt_t(s.now, c.at)) } ,
                        None => div.value { "none yet" },
                    }
                }
            }
        }
        section #copies {
            h2 { "Copies in flight" }
            @if l.copies.is_empty() {
                p.none { "None right now." }
            } @else {
                table {
                    tr { th { "path" } th { "lane" } th { "to" } th.num { "done" } th { "" } th.num { "speed" } th.num { "time left" } }
                    @for c in l.copies {
                        @let pct = c.done.saturating_mul(100).checked_div(c.total).unwrap_or(100);
                        tr.copy {
                            td.path { (c.path) }
                            td { (lane(c.lane)) }
                            td { (c.to.map_or("both".to_owned(), |s| s.to_string())) }
                            td.num { (crate::human_size(c.done)) " of " (crate::human_size(c.total)) }
                            td { div.bar { span style={ "width:" (pct.min(100)) "%" } {} } }
                            td.num { (rate(c.speed(l.now))) }
                            td.num { (c.eta_secs(l.now).map_or("…".to_owned(), |e| crate::human::duration(std::time::Duration::from_secs(e)))) }
                        }
                    }
                }
            }
            @let waiting: Vec<_> = s.pending.iter().filter(|p| !l.copies.iter().any(|c| c.path == p.path)).collect();
            @if !waiting.is_empty() {
                h3 { "Waiting (" (crate::human::plural(waiting.len() as u64, "step", "steps")) ")" }
                table {
                    tr { th { "step" } th { "path" } th { "lane" } th.num { "bytes" } }
                    @for p in waiting.iter().take(50) {
                        tr { td { (p.kind) } td.path { (p.path) } td { (lane(p.lane)) } td.num { (crate::human_size(p.bytes)) } }
                    }
                }
            }
        }
        section #conflicts {
            h2 { "Unresolved conflicts (" (s.conflicts.len()) ")" }
            @if s.conflicts.is_empty() {
                p.none { "None." }
            } @else {
                table {
                    tr { th { "path" } th { "rule" } th { "since" } th { "left" } th { "right" } th { "keep" } }
                    @for c in &s.conflicts {
                        tr.conflict data-path=(c.path) {
                            td.path { (c.path) }
                            td { (c.rule.to_string()) }
                            td { (rp::when(s.now, &c.created_at)) }
                            td { (rp::version(s.now, c.left.as_ref())) }
                            td { (rp::version(s.now, c.right.as_ref())) }
                            td {
                                @match c.keep {
                                    Some(k) => { "keep " (k) " (settled at the next cycle)" },
                                    None => {
                                        @for k in crate::Keep::ALL {
                                            (post("/resolve", l.csrf, &[("path", c.path.as_str()), ("keep", k.as_str())], &format!("Keep {}", k.as_str()), ""))
                                            " "
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        section #failing {
            h2 { "Failing and skipped paths" }
            @if s.failures.is_empty() && s.skipped.is_empty() {
                p.none { "None." }
            } @else {
                table {
                    tr { th { "path" } th { "what" } th { "since" } th { "error" } }
                    @for f in &s.failures {
                        tr { td.path { (f.path) } td { (f.op) " (failed " (f.count) "×)" } td { (rp::when(s.now, &f.first_at)) } td.error { (f.error) } }
                    }
                    @for k in &s.skipped {
                        tr { td.path { (k.path) } td { "skipped on the " (k.side) " side" } td { (rp::when(s.now, &k.since)) } td.error { (k.reason) } }
                    }
                }
            }
        }
        section #trash {
            h2 { "Trash" }
            p {
                @for side in Side::BOTH {
                    @let (n, b) = l.trash.iter().filter(|v| v.rec.side == side).fold((0u64, 0u64), |(n, b), v| (n + 1, b + v.rec.size));
                    (side) ": " (crate::human::plural(n, "file", "files")) ", " (crate::human_size(b)) ". "
                }
            }
            @if !l.trash.is_empty() {
                table {
                    tr { th { "version" } th { "side" } th { "original path" } th.num { "size" } th { "deleted at" } th { "" } }
                    @for v in l.trash.iter().take(200) {
                        tr.trash data-path=(v.rec.original_path) {
                            td { (v.number) } td { (v.rec.side) } td.path { (v.rec.original_path) }
                            td.num { (crate::human_size(v.rec.size)) } td { (rp::when(s.now, &v.rec.deleted_at)) }
                            td { (post("/restore", l.csrf, &[("path", v.rec.original_path.as_str()), ("side", v.rec.side.as_str()), ("version", &v.number.to_string())], "Restore", "")) }
                        }
                    }
                }
            }
        }
        section #emails {
            h2 { "Queued emails (" (s.emails_queued) ")" }
            @for e in &s.emails {
                p { (e.kind) ": " (e.subject) @if let Some(err) = &e.last_error { " — " span.error { (err) } } }
            }
        }
        section #history {
            h2 { "Last cycles" }
            @if !s.history.cycles.is_empty() {
                table #cycles {
                    tr { th { "cycle at" } th.num { "changes" } th.num { "→ right" } th.num { "→ left" } th.num { "conflicts" } th.num { "copied" } th.num { "failed" } th.num { "duration" } th { "result" } }
                    @for (_, c) in s.history.cycles.iter().rev().take(10) {
                        tr {
                            td { (crate::health::local_time(&c.started_at)) }
                            td.num { (c.changes) } td.num { (c.changes_to_right) } td.num { (c.changes_to_left) }
                            td.num { (c.conflicts) } td.num { (crate::human_size(c.bytes_copied)) } td.num { (c.failed) }
                            td.num { (crate::human::duration_ms(c.duration_ms)) } td { (c.result.as_str()) }
                        }
                    }
                }
            }
            (rp::charts_grid(s, &hours))
            (rp::events_table(s.now, &s.events))
        }
    }
}

/// The login page (`error`: why the last try failed).
#[must_use]
pub fn login(error: Option<&str>) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head("twinsync dashboard: log in"))
            body { main {
                h1 { "twinsync dashboard" }
                @if let Some(e) = error { p.error #login-error { (e) } }
                p { "Open the one-time link that " code { "twinsync dashboard" } " prints, or enter the API key from the key file beside the state DB." }
                form method="post" action="/login" {
                    input type="password" name="key" autocomplete="current-password" size="70" autofocus;
                    " "
                    button.primary type="submit" { "Log in" }
                }
            } }
        }
    }
    .into_string()
}

/// A plain message page (refusals, errors), escaped.
#[must_use]
pub fn message(title: &str, text: &str) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body { main { h1 { (title) } p { (text) } p { a href="/" { "Back to the dashboard" } } } }
        }
    }
    .into_string()
}

fn lane(l: crate::plan::Lane) -> &'static str {
    match l {
        crate::plan::Lane::Small => "small",
        crate::plan::Lane::Large => "large",
    }
}
