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

use std::fmt::Arguments;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether stdout / stderr failed once (then nothing more is written there).
static CLOSED: [AtomicBool; 2] = [AtomicBool::new(false), AtomicBool::new(false)];

/// Writes to stdout; a failure (closed pipe…) silences stdout from then on.
pub fn stdout(args: Arguments<'_>) {
    write(0, &mut std::io::stdout().lock(), args);
}

/// Writes to stderr; a failure silences stderr from then on.
pub fn stderr(args: Arguments<'_>) {
    write(1, &mut std::io::stderr().lock(), args);
}

fn write(i: usize, w: &mut impl Write, args: Arguments<'_>) {
    if CLOSED[i].load(Ordering::Relaxed) {
        return;
    }
    if w.write_fmt(args).is_err() {
        CLOSED[i].store(true, Ordering::Relaxed);
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
