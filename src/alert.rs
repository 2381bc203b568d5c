//! Email alerts through a persistent outbox (SPEC §11).
//!
//! Events are written to the `outbox` table of the state DB first and sent
//! from there, so an alert survives a dead mail server, a dead link and a
//! restart. [`flush`] sends everything queued as ONE email (a digest),
//! respects `max_emails_per_hour` (what is held back goes out, summarised,
//! in the next allowed email) and gives up quickly (short SMTP timeout) so
//! a failing mail server never slows a sync.
//!
//! Several senders may flush one outbox (`watch`'s mailer thread, an
//! `apply` or `plan`, another process): each first *claims* the rows it
//! sends in a write transaction, so no row goes out twice. A claim older
//! than [`CLAIM_TIMEOUT_S`] is from a sender that died mid-send and is void.
//!
//! What an alert says is its sender's business (steps: [`crate::apply::alert`];
//! guard refusals: [`crate::plan::guard`]; outages: `watch`); this module
//! only queues, claims and sends. The outbox's SQL is the state DB's
//! (`state/outbox.rs`): this module decides what to send and when.
//!
//! Invariant: the password is read only here, only when sending, and never
//! formatted into a log line, a plan or an error message.

use crate::config::{Auth, Config, Security};
use crate::log::Logger;
use crate::state::{OutboxRow, State};
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

/// Why an email could not be sent, in words an admin can act on (never
/// with credentials).
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error("cannot read [email] password_file `{}`: {source}", path.display())]
    PasswordFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the environment variable {0} (from [email] password_env) is not set")]
    PasswordEnv(String),
    #[error("no password: set [email] password_env or password_file")]
    NoPassword,
    #[error("cannot read [email] tls_ca_file `{}`: {source}", path.display())]
    CaFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("[email] tls_ca_file `{}` is not a PEM certificate: {source}", path.display())]
    NotPem {
        path: PathBuf,
        #[source]
        source: lettre::transport::smtp::Error,
    },
    #[error("TLS setup failed: {0}")]
    Tls(#[source] lettre::transport::smtp::Error),
    #[error("[email] from_address: {0}")]
    From(#[source] lettre::address::AddressError),
    #[error("[email] to_addresses `{to}`: {source}")]
    To {
        to: String,
        #[source]
        source: lettre::address::AddressError,
    },
    #[error("{0}")]
    Message(#[source] lettre::error::Error),
    /// The server or the link failed: what to check, diagnosed.
    #[error("{0}")]
    Send(String),
}

/// SMTP timeout (per connect, read and write): a failing server must not
/// hold an `apply` up for long (`watch` sends from its own thread). 4 s is
/// ample on a LAN or to a public mail service.
const SMTP_TIMEOUT: Duration = Duration::from_secs(4);

/// After this many seconds a claimed, unsent row can be claimed again (its
/// sender crashed or hangs); far longer than one send can take.
pub const CLAIM_TIMEOUT_S: i64 = 300;

/// Warnings about the email settings (printed at start).
#[must_use]
pub fn config_warnings(cfg: &Config) -> Vec<String> {
    let mut out = Vec::new();
    let e = &cfg.raw.email;
    if e.password.is_some() {
        out.push(format!(
            "{}: [email] password is written in the config file; prefer password_env or password_file",
            cfg.file.display()
        ));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if let Ok(m) = std::fs::metadata(&cfg.file)
                && m.permissions().mode() & 0o044 != 0
            {
                out.push(format!(
                    "{} holds a password and is readable by other users: chmod 600 it",
                    cfg.file.display()
                ));
            }
        }
    }
    out
}

fn now_s() -> i64 {
    crate::now_ns() / 1_000_000_000
}

/// Queues an alert in the outbox (no network); a state DB error doing so
/// is said on stderr (callers that keep a log use [`try_enqueue`]).
pub fn enqueue(state: &State, kind: &str, subject: &str, body: &str) {
    if let Err(e) = try_enqueue(state, kind, subject, body) {
        crate::errln!(
            "cannot queue the alert `{}`: {e}",
            crate::human::escape(subject)
        );
    }
}

/// Queues an alert in the outbox (no network).
///
/// # Errors
/// The state DB error: the alert is not queued.
pub fn try_enqueue(
    state: &State,
    kind: &str,
    subject: &str,
    body: &str,
) -> Result<(), crate::state::StateError> {
    state.enqueue_alert(kind, subject, body, now_s())
}

/// Queues the alert of a guard refusal (no network: the caller flushes,
/// or in `watch` the mailer thread does).
/// `guard` names the guard, `body` says the counts and the first paths.
pub fn enqueue_guard(cfg: &Config, state: &State, guard: &str, body: &str) {
    if cfg.raw.email.enabled {
        enqueue(
            state,
            "guard",
            &format!("sync refused by the {guard}"),
            body,
        );
    }
}

/// Number of unsent emails; a state DB error reading it is said on stderr
/// and counts as 0 (status and the report still show everything else).
#[must_use]
pub fn queued(state: &State) -> u64 {
    state.outbox_queued().unwrap_or_else(|e| {
        crate::errln!("cannot count the queued emails: {e}");
        0
    })
}

fn password(cfg: &Config) -> Result<Option<String>, AlertError> {
    let e = &cfg.raw.email;
    if e.auth == Auth::None {
        return Ok(None);
    }
    if let Some(p) = &e.password {
        return Ok(Some(p.clone()));
    }
    if let Some(f) = &e.password_file {
        let path =
            crate::config::resolve(cfg.file.parent().unwrap_or(std::path::Path::new(".")), f);
        return std::fs::read_to_string(&path)
            .map(|s| Some(s.trim_end_matches(['\r', '\n']).to_owned()))
            .map_err(|source| AlertError::PasswordFile { path, source });
    }
    if let Some(var) = &e.password_env {
        return std::env::var(var)
            .map(Some)
            .map_err(|_| AlertError::PasswordEnv(var.clone()));
    }
    Err(AlertError::NoPassword)
}

fn transport(cfg: &Config) -> Result<SmtpTransport, AlertError> {
    let e = &cfg.raw.email;
    let tls_params = || -> Result<TlsParameters, AlertError> {
        let mut b = TlsParameters::builder(e.smtp_host.clone());
        if let Some(f) = &e.tls_ca_file {
            let path =
                crate::config::resolve(cfg.file.parent().unwrap_or(std::path::Path::new(".")), f);
            let pem = std::fs::read(&path).map_err(|source| AlertError::CaFile {
                path: path.clone(),
                source,
            })?;
            let cert = Certificate::from_pem(&pem)
                .map_err(|source| AlertError::NotPem { path, source })?;
            b = b.add_root_certificate(cert);
        }
        b.build_rustls().map_err(AlertError::Tls)
    };
    let tls = match e.security {
        Security::Starttls => Tls::Required(tls_params()?),
        Security::Tls => Tls::Wrapper(tls_params()?),
        Security::None => Tls::None,
    };
    let mut b = SmtpTransport::builder_dangerous(e.smtp_host.as_str())
        .port(e.smtp_port)
        .tls(tls)
        .timeout(Some(SMTP_TIMEOUT));
    if let Some(pw) = password(cfg)? {
        b = b
            .credentials(Credentials::new(e.username.clone(), pw))
            .authentication(vec![match e.auth {
                Auth::Plain => Mechanism::Plain,
                _ => Mechanism::Login,
            }]);
    }
    Ok(b.build())
}

/// Whether an SMTP failure is the read or write timeout running out: lettre
/// reports it as the socket's error, which on Unix reads "Resource
/// temporarily unavailable (os error 11)" (`WouldBlock`).
fn timed_out(err: &lettre::transport::smtp::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            )
        {
            return true;
        }
        cause = c.source();
    }
    err.is_timeout()
}

/// Explains an SMTP failure in words an admin can act on (never with credentials).
fn diagnose(err: &lettre::transport::smtp::Error) -> String {
    if timed_out(err) {
        return format!(
            "timed out after {} s: the server did not answer (a firewall dropping the connection, or not an SMTP server); check [email] smtp_host and smtp_port",
            SMTP_TIMEOUT.as_secs()
        );
    }
    let text = err.to_string();
    let code = err.status().map(|c| c.to_string());
    if code
        .as_deref()
        .is_some_and(|c| c.starts_with("535") || c.starts_with("534") || c.starts_with("530"))
        || text.contains("authentication")
    {
        return format!(
            "authentication rejected by the server ({}); check username and password (Gmail needs an app password)",
            code.unwrap_or_default()
        );
    }
    let lower = text.to_lowercase();
    if lower.contains("certificate") {
        return format!(
            "TLS failure: the server's certificate is not trusted ({text}); for a self-signed or internal certificate set [email] tls_ca_file"
        );
    }
    if err.is_tls() || lower.contains("handshake") || lower.contains("tls") {
        return format!(
            "TLS failure: {text}; check [email] security (starttls on 587, tls on 465)"
        );
    }
    if lower.contains("refused") {
        return format!("connection refused: nothing listens on that host and port ({text})");
    }
    if lower.contains("resolve") || lower.contains("lookup") || lower.contains("dns") {
        return format!("cannot resolve the SMTP host: {text}");
    }
    if err.is_permanent() {
        return format!(
            "the server rejected the message ({}): {text}",
            code.unwrap_or_default()
        );
    }
    text
}

fn build_message(cfg: &Config, subject: &str, body: &str) -> Result<Message, AlertError> {
    let e = &cfg.raw.email;
    let from: Mailbox = e.from_address.parse().map_err(AlertError::From)?;
    let mut m = Message::builder().from(from).subject(subject);
    for to in &e.to_addresses {
        m = m.to(to.parse().map_err(|source| AlertError::To {
            to: to.clone(),
            source,
        })?);
    }
    m.body(body.to_owned()).map_err(AlertError::Message)
}

fn send(cfg: &Config, subject: &str, body: &str) -> Result<(), AlertError> {
    let msg = build_message(cfg, subject, body)?;
    let t = transport(cfg)?;
    t.send(&msg)
        .map(|_| ())
        .map_err(|e| AlertError::Send(diagnose(&e)))
}

/// Sends what is queued, as one digest email, if email is enabled, the
/// hourly limit allows and the retry backoff has passed (`watch`'s mailer
/// thread: the backoff is at most a minute, so a queued email is retried
/// at least once a minute). With `min_age_s`, waits until the oldest event
/// is that old (the digest window).
pub fn flush_with(cfg: &Config, state: &State, log: &Logger, min_age_s: i64) {
    flush_inner(cfg, state, log, min_age_s, false);
}

fn flush_inner(cfg: &Config, state: &State, log: &Logger, min_age_s: i64, ignore_backoff: bool) {
    let e = &cfg.raw.email;
    if !e.enabled {
        return;
    }
    let now = now_s();
    let rows = match state.claim_outbox(
        now,
        min_age_s,
        e.max_emails_per_hour,
        now - CLAIM_TIMEOUT_S,
        ignore_backoff,
    ) {
        Ok(Some(rows)) => rows,
        Ok(None) => return,
        Err(why) => {
            log.warn(
                "alert",
                json!({"result": "failed", "error": why.to_string()}),
            );
            return;
        }
    };
    // When each event happened, as people read times (the body of a step's
    // alert already starts with it).
    let at = |s: i64| {
        chrono::DateTime::from_timestamp(s, 0)
            .map_or_else(|| s.to_string(), |t| crate::human::time(&t))
    };
    let with_time = |r: &OutboxRow| {
        if r.body.starts_with("Time: ") {
            r.body.clone()
        } else {
            format!("Time: {}\n{}", at(r.created_at), r.body)
        }
    };
    let (subject, body) = if rows.len() == 1 {
        (
            format!("[twinsync] {}", rows[0].subject),
            with_time(&rows[0]),
        )
    } else {
        let mut t = comfy_table::Table::new();
        t.load_style(comfy_table::presets::ASCII_MARKDOWN);
        t.set_header(["#", "time", "kind", "what"]);
        for (i, r) in rows.iter().enumerate() {
            t.add_row([
                (i + 1).to_string(),
                at(r.created_at),
                r.kind.clone(),
                r.subject.clone(),
            ]);
        }
        let details: Vec<String> = rows
            .iter()
            .map(|r| format!("--- {}\n{}", r.subject, with_time(r)))
            .collect();
        (
            format!("[twinsync] {} events", rows.len()),
            format!(
                "{} events since the last email:\n\n{t}\n\n{}",
                rows.len(),
                details.join("\n\n")
            ),
        )
    };
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    match send(cfg, &subject, &body).map_err(|e| e.to_string()) {
        Ok(()) => {
            if let Err(e) = state.outbox_sent(&ids, now) {
                log.warn(
                    "alert",
                    json!({"result": "sent, not recorded", "error": e.to_string()}),
                );
            }
            log.info(
                "alert",
                json!({"result": "ok", "events": ids.len(), "subject": subject}),
            );
        }
        Err(why) => {
            let attempts = rows.iter().map(|r| r.attempts).max().unwrap_or(0) + 1;
            let backoff = (15_i64 << attempts.min(6)).min(60);
            if let Err(e) = state.outbox_failed(&ids, attempts, now + backoff, &why) {
                log.warn(
                    "alert",
                    json!({"result": "failure not recorded", "error": e.to_string()}),
                );
            }
            log.warn("alert", json!({"result": "failed", "error": why, "retry_in_s": backoff, "queued": ids.len()}));
        }
    }
}

/// Sends what is queued now, whatever the retry backoff says: an explicit
/// `apply` (or `plan`, `alert test`) delivers what is queued before it
/// finishes (SPEC §11), so a mail server that is back is used at once.
/// The hourly limit still holds.
pub fn flush(cfg: &Config, state: &State, log: &Logger) {
    flush_inner(cfg, state, log, 0, true);
}

/// Sends one email now, bypassing the outbox (`twinsync alert test`).
///
/// # Errors
/// The diagnosis of what failed, in words an admin can act on.
pub fn send_now(cfg: &Config, subject: &str, body: &str) -> Result<(), AlertError> {
    send(cfg, subject, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// An SMTP server on loopback that takes `delay` to accept each message;
    /// returns its port and the number of messages accepted.
    fn slow_smtp(delay: Duration) -> (u16, Arc<AtomicUsize>) {
        fn session(s: TcpStream, n: &AtomicUsize, delay: Duration) -> std::io::Result<()> {
            let mut w = s.try_clone()?;
            let mut r = BufReader::new(s);
            w.write_all(b"220 test ESMTP\r\n")?;
            let (mut line, mut data) = (String::new(), false);
            loop {
                line.clear();
                if r.read_line(&mut line)? == 0 {
                    return Ok(());
                }
                let up = line.to_uppercase();
                if data {
                    if line == ".\r\n" {
                        data = false;
                        std::thread::sleep(delay);
                        n.fetch_add(1, Ordering::SeqCst);
                        w.write_all(b"250 queued\r\n")?;
                    }
                } else if up.starts_with("EHLO") {
                    w.write_all(b"250-test\r\n250 8BITMIME\r\n")?;
                } else if up.starts_with("DATA") {
                    data = true;
                    w.write_all(b"354 go\r\n")?;
                } else if up.starts_with("QUIT") {
                    return w.write_all(b"221 bye\r\n");
                } else {
                    w.write_all(b"250 ok\r\n")?;
                }
            }
        }
        let l = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = l.local_addr().unwrap().port();
        let n = Arc::new(AtomicUsize::new(0));
        let n2 = Arc::clone(&n);
        std::thread::spawn(move || {
            for s in l.incoming().flatten() {
                let n = Arc::clone(&n2);
                std::thread::spawn(move || session(s, &n, delay));
            }
        });
        (port, n)
    }

    /// A server that accepts the connection and never answers is told as
    /// a timeout with its length, not as the socket's "os error 11".
    #[test]
    fn a_blackholed_server_is_told_as_a_timeout() {
        let tarpit = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = tarpit.local_addr().unwrap().port();
        let d = tempfile::tempdir().unwrap();
        let text = format!(
            "left_root = 'l'\nright_root = 'r'\nstate_db = 's.db'\n[email]\nenabled = true\nsmtp_host = '127.0.0.1'\nsmtp_port = {port}\nsecurity = 'none'\nauth = 'none'\nfrom_address = 'sync@example.com'\nto_addresses = ['admin@example.com']\n"
        );
        let cfg = Config::parse(&d.path().join("c.toml"), &text).unwrap();
        let t = std::time::Instant::now();
        let why = send_now(&cfg, "s", "b").unwrap_err().to_string();
        assert!(t.elapsed() < Duration::from_secs(10));
        assert!(why.starts_with("timed out after 4 s"), "{why}");
        assert!(!why.contains("os error"), "{why}");
        drop(tarpit);
    }

    /// Two senders flushing one outbox at once (the watch mailer and an
    /// apply, say) send each queued row once; a row claimed by a sender that
    /// died is sent again once its claim timed out.
    #[test]
    fn concurrent_flushes_send_each_row_once_and_stale_claims_expire() {
        let (port, sent) = slow_smtp(Duration::from_millis(500));
        let d = tempfile::tempdir().unwrap();
        let text = format!(
            "left_root = 'l'\nright_root = 'r'\nstate_db = 's.db'\n[email]\nenabled = true\nsmtp_host = '127.0.0.1'\nsmtp_port = {port}\nsecurity = 'none'\nauth = 'none'\nfrom_address = 'sync@example.com'\nto_addresses = ['admin@example.com']\n"
        );
        let cfg = Config::parse(&d.path().join("c.toml"), &text).unwrap();
        let state = State::open_or_create(&cfg.state_db).unwrap();
        enqueue(&state, "guard", "refused", "why");
        let go = Arc::new(std::sync::Barrier::new(2));
        let senders: Vec<_> = (0..2)
            .map(|_| {
                let (cfg, go) = (cfg.clone(), Arc::clone(&go));
                std::thread::spawn(move || {
                    let s = State::open(&cfg.state_db).unwrap();
                    go.wait();
                    flush(&cfg, &s, &Logger::null());
                })
            })
            .collect();
        for s in senders {
            s.join().unwrap();
        }
        assert_eq!(sent.load(Ordering::SeqCst), 1, "one row, one email");
        assert_eq!(queued(&state), 0);

        // A row another sender is sending right now is left to it…
        enqueue(&state, "guard", "refused again", "why");
        // Another sender's claim, written through a connection of its own.
        let other = rusqlite::Connection::open(&cfg.state_db).unwrap();
        let claim_at = |t: i64| {
            other
                .execute(
                    "UPDATE outbox SET claimed_at = ?1 WHERE sent_at IS NULL",
                    [t],
                )
                .unwrap();
        };
        claim_at(now_s());
        flush(&cfg, &state, &Logger::null());
        assert_eq!(sent.load(Ordering::SeqCst), 1);
        assert_eq!(queued(&state), 1);
        // …but a claim older than the timeout is from a dead sender.
        claim_at(now_s() - CLAIM_TIMEOUT_S - 1);
        flush(&cfg, &state, &Logger::null());
        assert_eq!(sent.load(Ordering::SeqCst), 2);
        assert_eq!(queued(&state), 0);
    }
}
