//! Console output that never panics: everything twinsync prints goes
//! through [`outln!`](crate::outln) and friends (the lint
//! `clippy::print_stdout` keeps it so).
//!
//! `print!` panics when its stream fails, typically stdout piped into a
//! reader that went away (`twinsync status --json | head -c 10`). Here a
//! failed write instead closes that stream for the rest of the process:
//! later output to it is dropped, and the command finishes its work and
//! exits with its own code. (Resetting SIGPIPE would need `unsafe` and has
//! no Windows counterpart; a closed pipe is an ordinary write error on both.)
//!
//! How much is said is decided here too, once per process from the global
//! flags: `-q` drops everything but errors ([`errln!`](crate::errln), and
//! questions asked on a terminal); stdout stays open under `-q` when it
//! carries what the command was asked to print (`--json`, `init
//! --example`, `completions`). `-v` adds [`debugln!`](crate::debugln)
//! detail on stderr.
//!
//! While progress bars are on the terminal, each write goes through the
//! hook they installed ([`around_writes`]), which hides them for that
//! moment: a line is never drawn into a bar.

use std::cell::Cell;
use std::fmt::Arguments;
use std::io::Write;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether stdout / stderr failed once (then nothing more is written there).
static CLOSED: [AtomicBool; 2] = [AtomicBool::new(false), AtomicBool::new(false)];

/// Whether stdout / stderr are quieted by `-q` (errors still go out).
static QUIET: [AtomicBool; 2] = [AtomicBool::new(false), AtomicBool::new(false)];

/// Whether `-v` asked for debug detail.
static VERBOSE: AtomicBool = AtomicBool::new(false);

/// True when `path` is there and is neither a regular file nor a folder:
/// a device or a pipe (`--out /dev/null`, `--out /dev/stdout`). Files the
/// admin names are written into such a path as a shell redirect would,
/// never replaced by a temp file's rename (which, run as root, would turn
/// `/dev/null` into a regular file for the whole machine).
#[must_use]
pub fn is_special_file(path: &std::path::Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir())
}

/// `-q`: from now on only errors (and questions) are written; `keep_stdout`
/// when stdout carries the data the command was asked for.
pub fn set_quiet(keep_stdout: bool) {
    QUIET[0].store(!keep_stdout, Ordering::Relaxed);
    QUIET[1].store(true, Ordering::Relaxed);
}

/// `-v`: [`debugln!`](crate::debugln) lines are written from now on.
pub fn set_verbose(on: bool) {
    VERBOSE.store(on, Ordering::Relaxed);
}

/// True with `-q`: progress bars and other stderr chatter drawn outside
/// these functions (indicatif) must stay hidden too.
#[must_use]
pub fn quiet() -> bool {
    QUIET[1].load(Ordering::Relaxed)
}

/// True with `-v`.
#[must_use]
pub fn verbose() -> bool {
    VERBOSE.load(Ordering::Relaxed)
}

/// Writes to stdout; a failure (closed pipe…) silences stdout from then on.
pub fn stdout(args: Arguments<'_>) {
    if !QUIET[0].load(Ordering::Relaxed) {
        write(0, &mut std::io::stdout().lock(), args);
    }
}

/// Writes to stderr; a failure silences stderr from then on.
pub fn stderr(args: Arguments<'_>) {
    if !QUIET[1].load(Ordering::Relaxed) {
        write(1, &mut std::io::stderr().lock(), args);
    }
}

/// Writes to stdout even under `-q`: what the command was asked to print
/// (`init --example`, `completions`).
pub fn data(args: Arguments<'_>) {
    write(0, &mut std::io::stdout().lock(), args);
}

/// Writes to stderr even under `-q`: errors, and a question on a terminal.
pub fn error(args: Arguments<'_>) {
    write(1, &mut std::io::stderr().lock(), args);
}

/// Writes to stderr only with `-v`.
pub fn debug(args: Arguments<'_>) {
    if verbose() {
        write(1, &mut std::io::stderr().lock(), args);
    }
}

/// What every write runs inside (set once, by the progress bars).
static AROUND: OnceLock<fn(&mut dyn FnMut())> = OnceLock::new();

thread_local! {
    /// This thread is inside [`AROUND`] already (a write never nests it).
    static INSIDE: Cell<bool> = const { Cell::new(false) };
}

/// Makes every later write run inside `hook` (the progress bars hide
/// themselves around it). The first hook set stays.
pub fn around_writes(hook: fn(&mut dyn FnMut())) {
    let _ = AROUND.set(hook);
}

fn write(i: usize, w: &mut impl Write, args: Arguments<'_>) {
    if CLOSED[i].load(Ordering::Relaxed) {
        return;
    }
    let mut go = || {
        if w.write_fmt(args).is_err() || w.flush().is_err() {
            CLOSED[i].store(true, Ordering::Relaxed);
        }
    };
    match AROUND.get() {
        Some(hook) if !INSIDE.with(Cell::get) => {
            INSIDE.with(|c| c.set(true));
            hook(&mut go);
            INSIDE.with(|c| c.set(false));
        }
        _ => go(),
    }
}

/// `print!` that stops quietly at a closed stdout.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::out::stdout(format_args!($($arg)*))
    };
}

/// `println!` that stops quietly at a closed stdout.
#[macro_export]
macro_rules! outln {
    () => {
        $crate::out::stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::out::stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `eprint!` that stops quietly at a closed stderr.
#[macro_export]
macro_rules! eout {
    ($($arg:tt)*) => {
        $crate::out::stderr(format_args!($($arg)*))
    };
}

/// `eprintln!` that stops quietly at a closed stderr.
#[macro_export]
macro_rules! eoutln {
    () => {
        $crate::out::stderr(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::out::stderr(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// An error line on stderr, written even under `-q`.
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::out::error(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// A debug-detail line on stderr, written only with `-v`.
#[macro_export]
macro_rules! debugln {
    ($($arg:tt)*) => {
        $crate::out::debug(format_args!("{}\n", format_args!($($arg)*)))
    };
}
