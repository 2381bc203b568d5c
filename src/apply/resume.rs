//! Resumable large copies (SPEC §8 "Large copies resume").
//!
//! A copy in the large lane writes its temp file in chunks (a sixteenth of
//! the file, 1–64 MiB: [`chunk_for`]; tests choose through
//! [`super::Options::resume_chunk_bytes`]). After
//! each chunk the temp is synced ([`crate::fs::FileWriter::sync`]) and
//! *then* the offset is recorded in the state DB with the source's identity
//! and the temp's name ([`crate::state::Transfer`], one row per
//! destination). The next copy of the same unchanged source to the same
//! destination — the same step after a crash or a stop, or a fresh plan's
//! step after an I/O error — continues from that offset once the temp is
//! checked: it exists, holds at least that many bytes, and its last
//! recorded chunk equals the source's (one chunk read from each, not the
//! whole file). The whole-file hash the state needs covers the kept
//! prefix too: it is read and hashed (not sent) before the rest is read,
//! hashed and sent, from the left side's copy of it (the source of an
//! upload, the temp of a download): the right side is the drive across
//! the link, and its copy is read back one chunk only.
//!
//! The rules on temps, which `recover::sweep_temps`, `recover::sweep_transfers`
//! and the copy's own "remove the stale temp" keep:
//! - a temp named by a transfer row is never swept while the row lives;
//! - a row lives while its temp exists and its source still has the
//!   recorded identity (size, mtime, file id when both are known); when the
//!   source changed or is gone, the temp is removed and the row dropped
//!   (a source that cannot be looked at now is unknown: kept);
//! - a temp that fails its check (missing, too short, last chunk differs)
//!   is removed with its row, and the copy starts over under its own name;
//! - a copy that stops (I/O error, stop request, power cut) after at least
//!   one recorded chunk keeps its temp; before one, it is removed as ever;
//! - a finished copy's temp is renamed into place (the file appears whole,
//!   at once) and its row dropped; nothing half-written is ever visible
//!   under the real name or recorded as the file.
//!
//! Invariant: a row never claims more bytes than its temp durably holds
//! (sync before record), so a power cut mid-chunk resumes from the
//! chunk before.

use super::steps::{Executor, Outcome};
use crate::fs::{ErrorClass, Fs, FsError, Meta, Written};
use crate::paths;
use crate::plan::{CopyStep, Lane, Op};
use crate::state::{State, Transfer, TransferBook};
use crate::{Side, human_size};
use serde_json::json;
use std::io::{Read, Write};

/// The largest chunk of a resumable copy in production: big enough that
/// one sync and one small DB transaction per chunk cost nothing, small
/// enough that an interrupted copy re-sends little.
pub const CHUNK_BYTES: u64 = 64 * 1024 * 1024;

/// The smallest: a file just above `large_file_bytes` still records its
/// progress every few seconds on a slow link.
const MIN_CHUNK_BYTES: u64 = 1024 * 1024;

/// The chunk for a file of `size` bytes: a sixteenth of it, within
/// [`MIN_CHUNK_BYTES`, `CHUNK_BYTES`] (a 30 MB video records every 1.9 MB,
/// not never; a 20 GB one every 64 MiB). A function of the size only, so
/// a resumed copy compares the same last chunk it recorded (any span below
/// the recorded offset would do).
#[must_use]
pub fn chunk_for(size: u64) -> u64 {
    (size / 16).clamp(MIN_CHUNK_BYTES, CHUNK_BYTES)
}

/// What a run needs to resume large copies: the DB connection their
/// chunks are recorded on (none when the plan has no large copy, or the
/// DB cannot be opened twice: copies then start over as before) and the
/// chunk size.
pub(super) struct Resumer {
    pub(super) book: Option<TransferBook>,
    /// A fixed chunk (tests, benchmarks); `None`: [`chunk_for`] the size.
    chunk: Option<u64>,
}

impl Resumer {
    /// The book for `plan`'s run on `state`, opened only when the plan
    /// holds a large-lane copy.
    pub(super) fn new(
        state: &State,
        plan: &crate::plan::Plan,
        chunk: Option<u64>,
        log: &crate::log::Logger,
    ) -> Self {
        let large = plan
            .ops
            .iter()
            .any(|op| matches!(&op.step, crate::plan::Step::Copy(c) if c.lane == Lane::Large));
        let book = if large {
            state
                .transfer_book()
                .inspect_err(|e| {
                    log.warn(
                        "copy",
                        json!({"result": "failed", "error": format!("large copies cannot resume this run: {e}")}),
                    );
                })
                .ok()
        } else {
            None
        };
        Self {
            book,
            chunk: chunk.map(|c| c.max(1)),
        }
    }

    /// The chunk of a copy of `size` bytes.
    pub(super) fn chunk(&self, size: u64) -> u64 {
        self.chunk.unwrap_or_else(|| chunk_for(size))
    }
}

/// True when `m`, the source now, is the source whose bytes `t` holds.
pub(super) fn same_source(t: &Transfer, from: Side, src_path: &str, m: &Meta) -> bool {
    t.from == from
        && t.src_path == src_path
        && t.src_size == m.size
        && t.src_mtime == m.mtime
        && (t.src_id.is_none() || m.id.is_none() || t.src_id == m.id)
}

impl Executor<'_> {
    /// Runs a copy step; for the large lane, drops the transfer row of a
    /// temp that is gone (renamed into place, removed as dead or after a
    /// failure) once the step is over. Never after a fatal error: the
    /// machine may have stopped, and the row is what the next run resumes.
    pub(super) fn copy(&self, op: &Op, c: &CopyStep) -> Result<Outcome, FsError> {
        let out = self.copy_once(op, c);
        if c.lane == Lane::Large
            && !matches!(&out, Err(e) if e.is_fatal())
            && let Some(t) = self.transfer(c.side, &c.dest_path)
            && matches!(self.fs(c.side).stat(&t.temp_path), Ok(None))
        {
            self.forget_transfer(c.side, &c.dest_path);
        }
        out
    }

    /// The transfer row of the copy to `dest` on `side`, if any (a DB
    /// error reads as none: the copy then starts over, losing time only).
    pub(super) fn transfer(&self, side: Side, dest: &str) -> Option<Transfer> {
        let book = self.resume.book.as_ref()?;
        book.find(side, dest)
            .inspect_err(|e| {
                self.log.warn(
                    "copy",
                    json!({"path": dest, "side": side, "error": e.to_string()}),
                );
            })
            .ok()
            .flatten()
    }

    fn forget_transfer(&self, side: Side, dest: &str) {
        if let Some(book) = &self.resume.book
            && let Err(e) = book.forget(side, dest)
        {
            self.log.warn(
                "copy",
                json!({"path": dest, "side": side, "error": e.to_string()}),
            );
        }
    }

    /// The earlier attempt a large copy may resume: its transfer row, when
    /// the source is the one whose bytes it holds (`live_src`) and its
    /// temp exists with at least the recorded bytes. A row that fails
    /// either is dead: its temp is removed and the row dropped.
    ///
    /// # Errors
    /// A failed stat or removal of the temp (unknown: kept for later).
    pub(super) fn resumable(
        &self,
        c: &CopyStep,
        live_src: Option<&Meta>,
    ) -> Result<Option<Transfer>, FsError> {
        if c.lane != Lane::Large {
            return Ok(None);
        }
        let Some(t) = self.transfer(c.side, &c.dest_path) else {
            return Ok(None);
        };
        let dfs = self.fs(c.side);
        let temp = dfs.stat(&t.temp_path)?;
        let same = live_src.is_some_and(|m| same_source(&t, c.from, &c.src_path, m));
        if same && temp.as_ref().is_some_and(|m| m.size >= t.done) {
            return Ok(Some(t));
        }
        self.drop_transfer(
            &t,
            temp.is_some(),
            if same {
                "its temp file is shorter than recorded"
            } else {
                "its source changed"
            },
        )?;
        Ok(None)
    }

    /// Removes a dead transfer's temp (when `present`) and its row.
    fn drop_transfer(&self, t: &Transfer, present: bool, why: &str) -> Result<(), FsError> {
        if present {
            super::recover::remove_temp(self.fs(t.side), &t.temp_path)?;
        }
        self.forget_transfer(t.side, &t.dest_path);
        self.log.info(
            "copy",
            json!({"path": t.dest_path, "side": t.side, "result": "ok",
                   "note": format!("an interrupted copy starts over: {why}; its temp file `{}` was removed", t.temp_path)}),
        );
        Ok(())
    }

    /// Checks that `t`'s temp still holds the source's bytes where it
    /// matters: its last recorded chunk is read from both and compared.
    /// Returns the offset to resume from, or `None` (the temp removed and
    /// the row dropped: the copy starts over).
    ///
    /// # Errors
    /// A failed read of the source (the step fails; the temp is kept).
    pub(super) fn resume_from(&self, sfs: &dyn Fs, t: &Transfer) -> Result<Option<u64>, FsError> {
        let dfs = self.fs(t.side);
        let from = t.done.saturating_sub(self.resume.chunk(t.src_size));
        let mut src = sfs.open_read_at(&t.src_path, from)?;
        let same = match dfs.open_read_at(&t.temp_path, from) {
            Ok(mut tmp) => same_bytes(
                &mut *src,
                &t.src_path,
                &mut *tmp,
                &t.temp_path,
                t.done - from,
            )?,
            Err(e) if e.is_fatal() => return Err(e),
            Err(_) => false,
        };
        if !same {
            self.drop_transfer(t, true, "its temp file no longer holds what was sent")?;
            return Ok(None);
        }
        self.log.info(
            "copy",
            json!({"path": t.dest_path, "side": t.side, "result": "ok", "offset": t.done,
                   "note": format!("resuming an interrupted copy at byte {} ({} of {} already sent, kept in `{}`)",
                                   t.done, human_size(t.done), human_size(t.src_size), t.temp_path)}),
        );
        Ok(Some(t.done))
    }

    /// After a large copy failed: keeps its temp when a chunk of it is
    /// recorded (the next copy resumes it); true when kept.
    pub(super) fn keeps_for_resume(&self, c: &CopyStep, temp: &str) -> bool {
        let kept = self
            .transfer(c.side, &c.dest_path)
            .filter(|t| t.temp_path == temp && t.done > 0);
        if let Some(t) = &kept {
            self.log.info(
                "copy",
                json!({"path": c.dest_path, "side": c.side, "offset": t.done,
                       "note": format!("the interrupted copy's temp file `{temp}` is kept: the next copy resumes at byte {}", t.done)}),
            );
        }
        kept.is_some()
    }

    /// Streams the source of a large-lane copy into `temp` from byte
    /// `start` on (0: a new temp), syncing and recording each chunk; the
    /// first `start` bytes are read and hashed, not sent. Returns the
    /// whole file's hash and the bytes the source held.
    ///
    /// # Errors
    /// Read and write errors; a stop request (the temp is kept when a
    /// chunk is recorded).
    pub(super) fn stream_chunked(
        &self,
        sfs: &dyn Fs,
        c: &CopyStep,
        src: &Meta,
        temp: &str,
        start: u64,
    ) -> Result<(String, u64, Written), FsError> {
        let (to, src_path) = (c.side, c.src_path.as_str());
        let dfs = self.fs(to);
        // The kept prefix is hashed, not sent, and read from the left
        // side's copy of it: the source on an upload, the temp (checked by
        // `resume_from`) on a download, so the right side, the drive
        // across the link (SPEC §1), is not read twice. Either way the
        // hash is of the bytes the finished file holds.
        let r: Box<dyn Read + Send> = if start > 0 && to == Side::Left {
            match dfs.open_read(temp) {
                Ok(kept) => Box::new(
                    Exactly::new(kept, start, temp).chain(sfs.open_read_at(src_path, start)?),
                ),
                Err(e) if e.is_fatal() => return Err(e),
                // Unreadable now: the source has the same bytes.
                Err(_) => sfs.open_read(src_path)?,
            }
        } else {
            sfs.open_read(src_path)?
        };
        // A drive that cannot continue a file (no `open_write_at`, or it
        // refused) starts over rather than failing every attempt.
        let reopened = if start == 0 {
            None
        } else {
            match dfs.open_write_at(temp, start) {
                Ok(w) => Some(w),
                Err(e) if e.is_fatal() => return Err(e),
                Err(e) => {
                    self.forget_transfer(to, &c.dest_path);
                    self.log.info(
                        "copy",
                        json!({"path": c.dest_path, "side": to, "result": "ok",
                               "note": format!("an interrupted copy starts over: its temp file cannot be continued ({e})")}),
                    );
                    None
                }
            }
        };
        let start = if reopened.is_some() { start } else { 0 };
        let mut w = match reopened {
            Some(w) => w,
            None => dfs.create(temp)?,
        };
        let mut row = Transfer {
            side: to,
            dest_path: c.dest_path.clone(),
            temp_path: temp.to_owned(),
            from: c.from,
            src_path: src_path.to_owned(),
            src_size: src.size,
            src_mtime: src.mtime,
            src_id: src.id,
            done: start,
        };
        let limiter = crate::bandwidth::Limiter::shared(&self.cfg.bandwidth);
        let chunk = self.resume.chunk(src.size);
        let mut at: u64 = 0;
        let hash = super::pipe::pipelined(r, src_path, temp, |buf| {
            let len = buf.len() as u64;
            // Bytes before `start` are in the temp already.
            let skip = usize::try_from(start.saturating_sub(at).min(len)).unwrap_or(buf.len());
            at += len;
            let rest = &buf[skip..];
            if !rest.is_empty() {
                self.stop_large(temp, row.done)?;
                if let Some(l) = &limiter {
                    l.take(to, rest.len());
                }
                w.write_all(rest)
                    .map_err(|e| FsError::io("write", temp, e))?;
            }
            // The kept prefix counts too: the bar shows the whole file.
            if let Some(p) = self.progress {
                p.copied(len);
            }
            if !rest.is_empty() && at - row.done >= chunk {
                w.sync()?;
                row.done = at;
                self.record_chunk(&row);
            }
            Ok(())
        })?;
        // Times and properties on the handle, as a small copy's.
        let written = w.finish_with(src.mtime, src.props)?;
        Ok((hash, at, written))
    }

    /// Records a durable chunk; a DB error is logged (the copy goes on; an
    /// interruption then resumes from an earlier chunk, or starts over).
    fn record_chunk(&self, row: &Transfer) {
        if let Some(book) = &self.resume.book
            && let Err(e) = book.save(row)
        {
            self.log.warn(
                "copy",
                json!({"path": row.dest_path, "side": row.side, "error": format!("cannot record the copy's progress: {e}")}),
            );
        }
    }

    /// A stop request ends a large copy; its temp is kept for resuming.
    fn stop_large(&self, temp: &str, done: u64) -> Result<(), FsError> {
        if self
            .stop
            .is_some_and(|s| s.load(std::sync::atomic::Ordering::SeqCst))
        {
            return Err(FsError::synthetic(
                "copy",
                temp,
                ErrorClass::Crashed,
                &format!(
                    "interrupted by a stop request; the copy resumes at byte {done} next time"
                ),
            ));
        }
        Ok(())
    }

    /// This step's own temp name (a copy that starts over).
    pub(super) fn own_temp(&self, op: &Op, dest: &str) -> String {
        let [regular, _] = paths::copy_temps(dest, &self.plan.plan_id, op.id);
        regular
    }
}

/// True when the next `len` bytes of `a` and `b` are equal (and both hold them).
/// The first `len` bytes of a reader, and an error if it holds fewer: a
/// kept prefix that came up short must not shift the rest of the file.
pub(super) struct Exactly {
    inner: std::io::Take<Box<dyn Read + Send>>,
    left: u64,
    path: String,
}

impl Exactly {
    pub(super) fn new(r: Box<dyn Read + Send>, len: u64, path: &str) -> Self {
        Self {
            inner: r.take(len),
            left: len,
            path: path.to_owned(),
        }
    }
}

impl Read for Exactly {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && self.left > 0 && !buf.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!(
                    "`{}` ended {} bytes before the kept prefix did",
                    self.path, self.left
                ),
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

fn same_bytes(
    a: &mut dyn Read,
    a_path: &str,
    b: &mut dyn Read,
    b_path: &str,
    len: u64,
) -> Result<bool, FsError> {
    let mut left = len;
    let (mut x, mut y) = (vec![0u8; 256 * 1024], vec![0u8; 256 * 1024]);
    while left > 0 {
        let n = usize::try_from(left.min(x.len() as u64)).unwrap_or(x.len());
        a.read_exact(&mut x[..n])
            .map_err(|e| FsError::io("read", a_path, e))?;
        match b.read_exact(&mut y[..n]) {
            Ok(()) if x[..n] == y[..n] => {}
            Ok(()) => return Ok(false),
            Err(e) => {
                let e = FsError::io("read", b_path, e);
                return if e.is_fatal() { Err(e) } else { Ok(false) };
            }
        }
        left -= n as u64;
    }
    Ok(true)
}
