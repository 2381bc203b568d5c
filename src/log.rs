//! The JSON Lines log (SPEC §12): one event per line, rotated by size.
//!
//! Fields: `ts`, `level`, `event`, then whatever the event carries (`path`,
//! `side`, `rule`, `result`, `bytes`, `error`, cycle metrics). Logging never
//! fails a sync: a log that cannot be written is reported once on stderr.
//! Credentials are never passed here.
//!
//! On a console (`watch` run by hand) the logger can also [`Echo`] events:
//! warnings and errors as one human line each on stderr (never the JSON,
//! never Rust `Debug` text), or, with `watch --log-json`, every event as
//! its JSON line on stdout.
//!
//! One logger per log file and process ([`Logger::from_config`] hands out
//! the same `Arc`), shared by every thread: rotation renames the file, so a
//! second writer would keep appending to the renamed file through its old
//! handle and rotate again on its own.

use crate::config::Level;
use serde_json::{Map, Value, json};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// What a logger shows on the console besides writing the log file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Echo {
    /// Nothing (the service, commands).
    Off = 0,
    /// Warnings and errors as human lines on stderr.
    Human = 1,
    /// Every event as its JSON line on stdout (`watch --log-json`).
    Json = 2,
}

/// The loggers of this process by log file (see [`Logger::from_config`]).
static SHARED: Mutex<Vec<(PathBuf, Weak<Logger>)>> = Mutex::new(Vec::new());

/// The log file writer. Shared behind `&` or `Arc`.
pub struct Logger {
    path: Option<PathBuf>,
    level: Level,
    max_size: u64,
    max_files: u32,
    file: Mutex<Option<File>>,
    warned: AtomicBool,
    /// An [`Echo`] (as its `u8`): what also goes to the console.
    echo: AtomicU8,
}

impl Logger {
    /// A logger writing to `path`.
    #[must_use]
    pub fn new(path: &Path, level: Level, max_size: u64, max_files: u32) -> Self {
        Self {
            path: Some(path.to_path_buf()),
            level,
            max_size,
            max_files,
            file: Mutex::new(None),
            warned: AtomicBool::new(false),
            echo: AtomicU8::new(Echo::Off as u8),
        }
    }

    /// A logger that drops everything (tests).
    #[must_use]
    pub fn null() -> Self {
        Self {
            path: None,
            level: Level::Error,
            max_size: 0,
            max_files: 0,
            file: Mutex::new(None),
            warned: AtomicBool::new(false),
            echo: AtomicU8::new(Echo::Off as u8),
        }
    }

    /// The process's logger of the `[logging]` section's file: created on
    /// first use, the same one afterwards while anybody holds it (so all
    /// threads write and rotate through one file handle).
    #[must_use]
    pub fn from_config(c: &crate::config::Config) -> Arc<Self> {
        let l = &c.raw.logging;
        let make = || {
            Arc::new(Self::new(
                &c.log_file,
                l.log_level,
                l.max_log_size_bytes,
                l.max_log_files,
            ))
        };
        let Ok(mut all) = SHARED.lock() else {
            return make();
        };
        all.retain(|(_, w)| w.strong_count() > 0);
        if let Some(log) = all
            .iter()
            .find(|(p, _)| *p == c.log_file)
            .and_then(|(_, w)| w.upgrade())
        {
            return log;
        }
        let log = make();
        all.push((c.log_file.clone(), Arc::downgrade(&log)));
        log
    }

    /// What to show on the console as well (see [`Echo`]).
    pub fn set_echo(&self, echo: Echo) {
        self.echo.store(echo as u8, Ordering::Relaxed);
    }

    /// Writes one event if `level` passes the configured level.
    pub fn event(&self, level: Level, event: &str, fields: Value) {
        if level > self.level {
            return;
        }
        let mut obj = Map::new();
        obj.insert(
            "ts".into(),
            json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        );
        obj.insert("level".into(), json!(format!("{level:?}").to_lowercase()));
        obj.insert("event".into(), json!(event));
        if let Value::Object(m) = fields {
            for (k, v) in m {
                if !v.is_null() {
                    obj.insert(k, v);
                }
            }
        }
        let echo = self.echo.load(Ordering::Relaxed);
        if echo == Echo::Human as u8
            && level <= Level::Warn
            && let Some(text) = human_line(level, &obj)
        {
            crate::eoutln!(
                "{}  {}",
                crate::human::time(&chrono::Local::now()),
                crate::human::escape(&text)
            );
        }
        let line = Value::Object(obj).to_string();
        if echo == Echo::Json as u8 {
            crate::outln!("{line}");
        }
        let Some(path) = &self.path else { return };
        let Ok(mut guard) = self.file.lock() else {
            return;
        };
        if let Err(e) = self.write_line(path, &mut guard, &line)
            && !self.warned.swap(true, Ordering::Relaxed)
        {
            crate::eoutln!("warning: cannot write log file `{}`: {e}", path.display());
        }
    }

    fn write_line(&self, path: &Path, slot: &mut Option<File>, line: &str) -> std::io::Result<()> {
        if slot.is_none() {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            *slot = Some(OpenOptions::new().create(true).append(true).open(path)?);
        }
        let size = slot
            .as_ref()
            .and_then(|f| f.metadata().ok())
            .map_or(0, |m| m.len());
        if self.max_size > 0 && size + line.len() as u64 + 1 > self.max_size && size > 0 {
            *slot = None;
            self.rotate(path);
            *slot = Some(OpenOptions::new().create(true).append(true).open(path)?);
        }
        if let Some(f) = slot.as_mut() {
            f.write_all(line.as_bytes())?;
            f.write_all(b"\n")?;
        }
        Ok(())
    }

    /// `log` → `log.1` → `log.2` …, keeping `max_files` old files.
    fn rotate(&self, path: &Path) {
        let name = |i: u32| PathBuf::from(format!("{}.{i}", path.display()));
        let keep = self.max_files.max(1);
        let _ = std::fs::remove_file(name(keep));
        for i in (1..keep).rev() {
            let _ = std::fs::rename(name(i), name(i + 1));
        }
        let _ = std::fs::rename(path, name(1));
    }

    pub fn info(&self, event: &str, fields: Value) {
        self.event(Level::Info, event, fields);
    }
    pub fn warn(&self, event: &str, fields: Value) {
        self.event(Level::Warn, event, fields);
    }
    pub fn error(&self, event: &str, fields: Value) {
        self.event(Level::Error, event, fields);
    }
    pub fn debug(&self, event: &str, fields: Value) {
        self.event(Level::Debug, event, fields);
    }
}

/// A warning or error event as one human line: `error: copy `a.txt` →
/// right: disk full`. `None` for the events the `watch` console reports in
/// its own words (a side unavailable or back, a guard's refusal).
fn human_line(level: Level, obj: &Map<String, Value>) -> Option<String> {
    let s = |k: &str| obj.get(k).and_then(Value::as_str).unwrap_or("");
    let event = s("event");
    if event == "unavailable" || obj.contains_key("guard") {
        return None;
    }
    let mut line = String::from(if level == Level::Error {
        "error: "
    } else {
        "warning: "
    });
    // The event's kind, unless it only says "error" again.
    if event != "error" {
        line.push_str(event);
        line.push(' ');
    }
    if !s("path").is_empty() {
        line.push_str(&format!("`{}` ", s("path")));
    }
    if !s("side").is_empty() {
        line.push_str(&format!("({}) ", s("side")));
    }
    let what = [s("error"), s("note"), s("reason")]
        .into_iter()
        .find(|t| !t.is_empty())
        .unwrap_or("");
    let line = line.trim_end().trim_end_matches(':').to_owned();
    Some(if what.is_empty() {
        line
    } else {
        format!("{line}: {what}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_json_lines_and_rotates() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("t.log.jsonl");
        let l = Logger::new(&p, Level::Info, 300, 2);
        for i in 0..20 {
            l.info(
                "copy",
                json!({"path": format!("f{i}"), "result": "ok", "bytes": i}),
            );
        }
        l.debug("scan", json!({}));
        let text = std::fs::read_to_string(&p).unwrap();
        for line in text.lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["event"], "copy");
            assert!(v["ts"].is_string());
        }
        assert!(d.path().join("t.log.jsonl.1").exists());
        assert!(d.path().join("t.log.jsonl.2").exists());
        assert!(!d.path().join("t.log.jsonl.3").exists());
    }

    #[test]
    fn human_lines_name_path_side_and_error_and_leave_out_what_watch_says_itself() {
        let obj = |v: Value| match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        };
        let copy =
            obj(json!({"event": "copy", "path": "a.txt", "side": "right", "error": "disk full"}));
        assert_eq!(
            human_line(Level::Error, &copy).as_deref(),
            Some("error: copy `a.txt` (right): disk full")
        );
        let scan = obj(
            json!({"event": "scan", "result": "skipped", "error": "left: skipped `CON.txt`: reserved"}),
        );
        assert_eq!(
            human_line(Level::Warn, &scan).as_deref(),
            Some("warning: scan: left: skipped `CON.txt`: reserved")
        );
        let plain = obj(json!({"event": "error", "error": "cannot write the report"}));
        assert_eq!(
            human_line(Level::Error, &plain).as_deref(),
            Some("error: cannot write the report")
        );
        for quiet in [
            json!({"event": "unavailable", "side": "left", "error": "gone"}),
            json!({"event": "error", "guard": "mass_delete", "error": "the plan deletes"}),
        ] {
            assert_eq!(human_line(Level::Error, &obj(quiet)), None);
        }
    }

    /// Two parts of one process (the watch loop and its mailer thread, say)
    /// asking for the logger get the same one: events stay in order across
    /// rotations and none is written into an already rotated file.
    #[test]
    fn one_logger_per_file_keeps_events_in_order_across_rotation() {
        let d = tempfile::tempdir().unwrap();
        let text = "left_root = 'l'\nright_root = 'r'\n[logging]\nlog_file_path = 't.log.jsonl'\nmax_log_size_bytes = 400\nmax_log_files = 100\n";
        let cfg = crate::config::Config::parse(&d.path().join("c.toml"), text).unwrap();
        let (a, b) = (Logger::from_config(&cfg), Logger::from_config(&cfg));
        for n in 0..60 {
            let l = if n % 3 == 0 { &a } else { &b };
            l.info("copy", json!({"n": n, "path": "some/file.txt"}));
        }
        let p = d.path().join("t.log.jsonl");
        let mut files: Vec<PathBuf> = (1..=100)
            .rev()
            .map(|i| PathBuf::from(format!("{}.{i}", p.display())))
            .filter(|f| f.exists())
            .collect();
        assert!(files.len() > 3, "rotated only {} times", files.len());
        files.push(p);
        let seen: Vec<u64> = files
            .iter()
            .flat_map(|f| {
                std::fs::read_to_string(f)
                    .unwrap()
                    .lines()
                    .map(|l| {
                        serde_json::from_str::<Value>(l).unwrap()["n"]
                            .as_u64()
                            .unwrap()
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(seen, (0..60).collect::<Vec<u64>>());
    }
}
