//! The terminal around the commands: how wide a table may be, whether to
//! colour, and the progress bars of `apply` and `watch` (SPEC §12).
//!
//! - Width: `COLUMNS` when set, else the terminal's width, else 80 (a
//!   pipe, a file, a scheduled task's log); tables other than the plan's
//!   are fitted to it by [`grid`].
//! - Colour: only on a terminal, never with `NO_COLOR` set or `--no-color`
//!   ([`set_no_color`], called once by the command line).
//! - [`Bars`] is the indicatif drawing of [`apply::Progress`]: a bar per
//!   copy that has run for a second or more (bytes, file name, speed, time
//!   left), and one overall bar for a run of many steps that lasts as
//!   long. The core reports; only this module draws.
//!
//! Invariants: on a stream that is not a terminal nothing is drawn and no
//! escape code is written; every bar lives in one process-wide
//! [`MultiProgress`] on stderr, and while bars exist every line printed
//! through [`crate::out`] hides them for the moment it is written, so a
//! bar never garbles a line (the watch loop and the large-file lane draw
//! at the same time).

pub mod grid;

pub use grid::{Cell, Fit, Grid};

use crate::apply;
use crate::plan::{Op, OpKind, render};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// `--no-color` was given.
static NO_COLOR: AtomicBool = AtomicBool::new(false);

/// Turns colour off for the rest of the process (`--no-color`).
pub fn set_no_color(off: bool) {
    NO_COLOR.store(off, Ordering::Relaxed);
    if off {
        console::set_colors_enabled(false);
        console::set_colors_enabled_stderr(false);
    }
}

/// Where a text goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn term(self) -> console::Term {
        match self {
            Self::Stdout => console::Term::stdout(),
            Self::Stderr => console::Term::stderr(),
        }
    }

    fn is_terminal(self) -> bool {
        match self {
            Self::Stdout => std::io::stdout().is_terminal(),
            Self::Stderr => std::io::stderr().is_terminal(),
        }
    }
}

/// The width tables use when nothing says otherwise.
pub const DEFAULT_WIDTH: usize = 80;

/// Whether text for `stream` may be coloured: a terminal that takes
/// colour (on Windows this also switches the console to ANSI mode), and
/// neither `NO_COLOR` nor `--no-color`.
#[must_use]
pub fn color(stream: Stream) -> bool {
    !NO_COLOR.load(Ordering::Relaxed)
        && std::env::var_os("NO_COLOR").is_none()
        && stream.is_terminal()
        && stream.term().features().colors_supported()
}

/// The columns a table for `stream` may take: `COLUMNS` when set to a
/// number, else the terminal's width, else [`DEFAULT_WIDTH`].
#[must_use]
pub fn width(stream: Stream) -> usize {
    if let Some(n) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
    {
        return n;
    }
    if stream.is_terminal()
        && let Some((_, cols)) = stream.term().size_checked()
    {
        return usize::from(cols);
    }
    DEFAULT_WIDTH
}

/// The width a table for stdout is fitted to ([`grid::Grid`]): on a
/// terminal, or with `COLUMNS` set, [`width`]; in a pipe `None`: not
/// wrapped at all (a file or a `findstr` reads whole lines best; scripts
/// should read `--json`).
#[must_use]
pub fn fitted_width() -> Option<usize> {
    (Stream::Stdout.is_terminal() || std::env::var_os("COLUMNS").is_some())
        .then(|| width(Stream::Stdout))
}

/// Prints a sentence on stdout for people: escaped
/// ([`crate::human::escape`]) and, where tables are fitted
/// ([`fitted_width`]), wrapped to the width (the lines after the first
/// indented by 2); whole in a pipe, as the tables beside it.
pub fn say(text: &str) {
    let text = crate::human::escape(text);
    match fitted_width() {
        Some(w) => crate::outln!("{}", render::wrap(&text, w, 2)),
        None => crate::outln!("{text}"),
    }
}

/// How a plan shown on `stream` is drawn: its width and colour.
#[must_use]
pub fn view(stream: Stream) -> render::View {
    render::View {
        width: width(stream),
        color: color(stream),
        ..render::View::default()
    }
}

/// The one set of bars of this process, and the hook that hides them
/// while [`crate::out`] writes a line.
fn multi() -> &'static MultiProgress {
    static MULTI: OnceLock<MultiProgress> = OnceLock::new();
    MULTI.get_or_init(|| {
        crate::out::around_writes(suspend_bars);
        MultiProgress::with_draw_target(ProgressDrawTarget::stderr())
    })
}

/// Runs a write with the bars hidden (see [`crate::out::around_writes`]).
fn suspend_bars(write: &mut dyn FnMut()) {
    multi().suspend(write);
}

/// Whether progress may be drawn: stderr is a terminal and `-q` (errors
/// only, no progress) was not given. The one test every bar and spinner
/// passes.
fn draws_progress() -> bool {
    std::io::stderr().is_terminal() && !crate::out::quiet()
}

/// A spinner on stderr (`⠁ scanning… both sides`) while something long
/// runs, or `None` where progress is not drawn ([`draws_progress`]).
#[must_use]
pub fn spinner(what: &str, message: &str) -> Option<ProgressBar> {
    if !draws_progress() {
        return None;
    }
    let pb = ProgressBar::new_spinner();
    pb.set_style(
        ProgressStyle::with_template(&format!("{{spinner}} {what} {{msg}}"))
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    pb.set_message(message.to_owned());
    pb.enable_steady_tick(Duration::from_millis(120));
    Some(pb)
}

/// How long a copy, or a run, goes before it gets a bar.
const SHOW_AFTER: Duration = Duration::from_secs(1);

/// How often the overall bar moves while a copy runs.
const OVERALL_EVERY: Duration = Duration::from_millis(500);

/// How long a bar moves before it shows a speed and a time left: its
/// first frames have no measurement yet (they would read "0 B/s · 0s left").
const MEASURE_AFTER: Duration = Duration::from_millis(250);

/// A copy's bar: bytes, then speed and time left once measured.
const COPY_BAR: &str = "{msg} [{bar:30}] {binary_bytes}/{binary_total_bytes}";
const COPY_BAR_MEASURED: &str =
    "{msg} [{bar:30}] {binary_bytes}/{binary_total_bytes} · {binary_bytes_per_sec} · {eta} left";
/// The run's bar in bytes (`msg`: steps done), then speed and time left.
const RUN_BAR: &str = "[{bar:30}] {binary_bytes}/{binary_total_bytes} · {msg}";
const RUN_BAR_MEASURED: &str =
    "[{bar:30}] {binary_bytes}/{binary_total_bytes} · {msg} · {binary_bytes_per_sec} · {eta} left";

/// Where a bar was first drawn, until it shows a speed: when and at which
/// position, and the template to switch to.
#[derive(Clone, Copy)]
struct Unmeasured {
    at: Instant,
    pos: u64,
    template: &'static str,
}

impl Unmeasured {
    /// Whether a bar at `pos` now has a speed worth showing: it moved since
    /// it was first drawn, [`MEASURE_AFTER`] ago or more.
    fn due(self, pos: u64, now: Instant) -> bool {
        pos > self.pos && now.duration_since(self.at) >= MEASURE_AFTER
    }
}

/// Moves `bar` to `pos`, and gives it its speed and time left once
/// [`Unmeasured::due`].
fn move_bar(bar: &ProgressBar, pending: &mut Option<Unmeasured>, pos: u64, now: Instant) {
    bar.set_position(pos);
    if let Some(u) = *pending
        && u.due(pos, now)
    {
        bar.set_style(style(u.template));
        *pending = None;
    }
}

/// A bar not drawn yet (it is drawn once added to [`multi`]), which
/// starts where its work is: its speed and time left are counted from
/// now, not from a jump from 0.
fn new_bar(len: u64, template: &str, pos: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::hidden())
        .with_style(style(template));
    bar.set_position(pos);
    bar.reset_eta();
    bar
}

/// Characters of the file name a copy's bar shows.
const NAME_CHARS: usize = 40;

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

/// indicatif bars for an apply on a terminal: [`apply::Progress`] drawn.
pub struct Bars {
    state: Mutex<BarsState>,
}

#[derive(Default)]
struct BarsState {
    /// The run: steps and bytes to do, and done so far.
    steps: u64,
    bytes: u64,
    steps_done: u64,
    bytes_done: u64,
    started: Option<Instant>,
    overall: Option<ProgressBar>,
    /// The overall bar shows no speed yet.
    overall_unmeasured: Option<Unmeasured>,
    /// When the overall bar last moved.
    overall_moved: Option<Instant>,
    /// The copy in progress.
    copy: Option<CopyBar>,
}

struct CopyBar {
    name: String,
    size: u64,
    written: u64,
    started: Instant,
    bar: Option<ProgressBar>,
    /// Its bar shows no speed yet.
    unmeasured: Option<Unmeasured>,
}

impl Bars {
    /// Bars on stderr, or `None` when stderr is not a terminal or `-q`
    /// asked for errors only (nothing is drawn then, not even hidden bars).
    #[must_use]
    pub fn on_terminal() -> Option<Self> {
        draws_progress().then(|| Self {
            state: Mutex::new(BarsState::default()),
        })
    }

    fn with_state(&self, f: impl FnOnce(&mut BarsState)) {
        if let Ok(mut s) = self.state.lock() {
            f(&mut s);
        }
    }
}

impl BarsState {
    /// Where the overall bar stands: bytes, or steps when nothing is copied.
    fn position(&self, copying: u64) -> u64 {
        if self.bytes > 0 {
            (self.bytes_done + copying).min(self.bytes)
        } else {
            self.steps_done
        }
    }

    /// Shows the bars whose time has come and moves them.
    fn draw(&mut self, step_ended: bool) {
        let now = Instant::now();
        let copying = self.copy.as_ref().map_or(0, |c| c.written);
        if self.overall.is_none()
            && self.steps > 1
            && self
                .started
                .is_some_and(|t| now.duration_since(t) >= SHOW_AFTER)
        {
            let pos = self.position(copying);
            let bar = if self.bytes > 0 {
                self.overall_unmeasured = Some(Unmeasured {
                    at: now,
                    pos,
                    template: RUN_BAR_MEASURED,
                });
                new_bar(self.bytes, RUN_BAR, pos)
            } else {
                new_bar(self.steps, "[{bar:30}] {pos}/{len} steps · {elapsed}", pos)
            };
            bar.set_message(format!("{}/{} steps", self.steps_done, self.steps));
            // Above the copy's bar, if there is one already.
            let bar = match self.copy.as_ref().and_then(|c| c.bar.as_ref()) {
                Some(below) => multi().insert_before(below, bar),
                None => multi().add(bar),
            };
            self.overall = Some(bar);
            self.overall_moved = Some(now);
        }
        // The overall bar moves twice a second during a copy (the copy's
        // own bar gets the redraws), and at each step's end.
        if let Some(o) = &self.overall
            && (step_ended
                || self
                    .overall_moved
                    .is_none_or(|t| now.duration_since(t) >= OVERALL_EVERY))
        {
            self.overall_moved = Some(now);
            if self.bytes > 0 {
                o.set_message(format!("{}/{} steps", self.steps_done, self.steps));
            }
            let pos = self.position(copying);
            move_bar(o, &mut self.overall_unmeasured, pos, now);
        }
        if let Some(c) = &mut self.copy {
            if c.bar.is_none() && now.duration_since(c.started) >= SHOW_AFTER {
                let bar = new_bar(c.size, COPY_BAR, c.written);
                bar.set_message(c.name.clone());
                let bar = multi().add(bar);
                bar.enable_steady_tick(Duration::from_millis(250));
                c.bar = Some(bar);
                c.unmeasured = Some(Unmeasured {
                    at: now,
                    pos: c.written,
                    template: COPY_BAR_MEASURED,
                });
            }
            if let Some(b) = &c.bar {
                move_bar(b, &mut c.unmeasured, c.written.min(c.size), now);
            }
        }
    }

    fn clear(&mut self) {
        if let Some(c) = self.copy.take()
            && let Some(b) = c.bar
        {
            b.finish_and_clear();
            multi().remove(&b);
        }
        if let Some(o) = self.overall.take() {
            o.finish_and_clear();
            multi().remove(&o);
        }
    }
}

impl apply::Progress for Bars {
    fn begin(&self, steps: u64, bytes: u64) {
        self.with_state(|s| {
            s.clear();
            *s = BarsState {
                steps,
                bytes,
                started: Some(Instant::now()),
                ..BarsState::default()
            };
        });
    }

    fn step_start(&self, op: &Op) {
        if op.kind() != OpKind::Copy {
            return;
        }
        let path = op.dest_path().unwrap_or(&op.path);
        self.with_state(|s| {
            s.copy = Some(CopyBar {
                name: render::shorten_middle(path, NAME_CHARS),
                size: op.bytes,
                written: 0,
                started: Instant::now(),
                bar: None,
                unmeasured: None,
            });
            s.draw(false);
        });
    }

    fn copied(&self, n: u64) {
        self.with_state(|s| {
            if let Some(c) = &mut s.copy {
                c.written += n;
            }
            s.draw(false);
        });
    }

    fn step_end(&self, op: &Op) {
        self.with_state(|s| {
            if let Some(c) = s.copy.take()
                && let Some(b) = c.bar
            {
                b.finish_and_clear();
                multi().remove(&b);
            }
            s.steps_done += 1;
            if op.kind() == OpKind::Copy {
                s.bytes_done += op.bytes;
            }
            s.draw(true);
        });
    }
}

impl Drop for Bars {
    fn drop(&mut self) {
        self.with_state(BarsState::clear);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Audit item 8: a bar's first frames show no speed or time left (there
    /// is no measurement yet); once it moved for a while they do.
    #[test]
    fn a_bar_shows_its_speed_only_once_measured() {
        for t in [COPY_BAR, RUN_BAR] {
            assert!(!t.contains("per_sec") && !t.contains("eta"), "{t}");
        }
        for t in [COPY_BAR_MEASURED, RUN_BAR_MEASURED] {
            assert!(
                t.contains("{binary_bytes_per_sec}") && t.contains("{eta} left"),
                "{t}"
            );
        }
        let t0 = Instant::now();
        let mut u = Some(Unmeasured {
            at: t0,
            pos: 3 << 20,
            template: COPY_BAR_MEASURED,
        });
        let bar = new_bar(5 << 20, COPY_BAR, 3 << 20);
        // Not moved, or not long enough: no speed yet.
        move_bar(&bar, &mut u, 3 << 20, t0 + Duration::from_secs(2));
        move_bar(&bar, &mut u, 4 << 20, t0 + Duration::from_millis(100));
        assert!(u.is_some());
        move_bar(&bar, &mut u, 4 << 20, t0 + MEASURE_AFTER);
        assert!(u.is_none(), "measured: speed and time left from now on");
    }
}
