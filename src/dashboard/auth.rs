//! Who may use the dashboard: the API key file, one-time login links,
//! sessions with their CSRF tokens, the login rate limit, and the `Host`
//! and `Origin` checks against DNS rebinding and cross-site requests.
//!
//! Invariants: the key and tokens are compared in constant time and never
//! logged or served; the key file is created owner-only (0600 on Unix)
//! beside the state DB and never rewritten; a login link works once and
//! for [`super::LOGIN_LINK_MINUTES`]; a session lives [`SESSION_HOURS`]
//! after its last use, in memory only (a restart logs everyone out).

use crate::config::Config;
use crate::state::{State, StateError};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A session ends this long after its last request.
pub const SESSION_HOURS: u64 = 8;
/// At most this many failed logins a minute (from anywhere: the server is
/// on loopback, where every client has the same address).
pub const MAX_FAILED_LOGINS: usize = 5;
/// The meta key holding the one-time login link's hash and expiry.
const LOGIN_KEY: &str = "dashboard_login";

/// Why the key or a login link could not be made.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("dashboard API key file `{path}`: {source}")]
    Key {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "dashboard API key file `{0}` is empty or damaged: delete it and run `twinsync dashboard` to make a new one"
    )]
    BadKey(PathBuf),
    #[error(transparent)]
    State(#[from] StateError),
}

/// A fresh random secret: 244 random bits as 64 hex digits.
#[must_use]
pub fn secret() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Equal, in time independent of where they differ.
#[must_use]
pub fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The API key file: beside the state DB, `<state DB>.dashboard-key`.
#[must_use]
pub fn key_file(cfg: &Config) -> PathBuf {
    PathBuf::from(format!("{}.dashboard-key", cfg.state_db.display()))
}

/// The API key, the file made first if there is none (owner-only).
///
/// # Errors
/// The file cannot be read or created, or holds no key.
pub fn ensure_key(cfg: &Config) -> Result<String, AuthError> {
    let path = key_file(cfg);
    match std::fs::read_to_string(&path) {
        Ok(_) => read_key(&path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => match create_key(&path) {
            // Made by another process meanwhile (`watch` and `twinsync dashboard`): use it.
            Err(AuthError::Key { source, .. })
                if source.kind() == std::io::ErrorKind::AlreadyExists =>
            {
                read_key(&path)
            }
            other => other,
        },
        Err(source) => Err(AuthError::Key { path, source }),
    }
}

fn read_key(path: &Path) -> Result<String, AuthError> {
    let k = std::fs::read_to_string(path).map_err(|source| AuthError::Key {
        path: path.to_path_buf(),
        source,
    })?;
    let k = k.trim().to_owned();
    if k.len() < 32 {
        return Err(AuthError::BadKey(path.to_path_buf()));
    }
    Ok(k)
}

fn create_key(path: &Path) -> Result<String, AuthError> {
    use std::io::Write;
    let key = secret();
    let err = |source| AuthError::Key {
        path: path.to_path_buf(),
        source,
    };
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    // Owner-only from the first byte. (On Windows the file takes the ACL
    // of the state DB's folder: keep that folder to the service account
    // and administrators, as the README says.)
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o.open(path).map_err(err)?;
    f.write_all(format!("{key}\n").as_bytes()).map_err(err)?;
    f.sync_all().map_err(err)?;
    Ok(key)
}

/// Makes a new one-time login token (the previous one stops working) and
/// returns it; the state DB keeps only its hash and expiry.
///
/// # Errors
/// State DB errors.
pub fn new_login_token(state: &State, valid: Duration) -> Result<String, StateError> {
    let token = secret();
    let expires = crate::now_ns() / 1_000_000_000 + i64::try_from(valid.as_secs()).unwrap_or(0);
    let v = serde_json::json!({"hash": blake3::hash(token.as_bytes()).to_hex().as_str(), "expires": expires});
    state.set_meta(LOGIN_KEY, &v.to_string())?;
    Ok(token)
}

/// Uses up a one-time login token: true when it is the current one and
/// not expired (it is then gone).
///
/// # Errors
/// State DB errors.
pub fn take_login_token(state: &State, token: &str) -> Result<bool, StateError> {
    let Some(v) = state.meta(LOGIN_KEY)? else {
        return Ok(false);
    };
    let v: serde_json::Value = serde_json::from_str(&v).unwrap_or_default();
    let hash = v.get("hash").and_then(|h| h.as_str()).unwrap_or("");
    let expires = v
        .get("expires")
        .and_then(serde_json::Value::as_i64)
        .unwrap_or(0);
    let ok = same(hash, blake3::hash(token.as_bytes()).to_hex().as_str())
        && crate::now_ns() / 1_000_000_000 <= expires;
    if ok {
        state.delete_meta(LOGIN_KEY)?;
    }
    Ok(ok)
}

/// A logged-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    /// The token every POST must carry.
    pub csrf: String,
    last: Instant,
}

/// The sessions and the failed logins of the last minute.
#[derive(Debug, Default)]
pub struct Sessions {
    by_token: HashMap<String, Session>,
    failures: Vec<Instant>,
}

impl Sessions {
    /// A new session: its cookie token and its CSRF token.
    pub fn open(&mut self) -> (String, Session) {
        self.expire();
        let s = Session {
            csrf: secret(),
            last: Instant::now(),
        };
        let token = secret();
        self.by_token.insert(token.clone(), s.clone());
        (token, s)
    }

    /// The session of a cookie token, kept alive.
    pub fn get(&mut self, token: &str) -> Option<Session> {
        self.expire();
        // (A hash map's lookup is not constant-time, but the token is 244
        // random bits: guessing it by timing is out of reach.)
        let s = self.by_token.get_mut(token)?;
        s.last = Instant::now();
        Some(s.clone())
    }

    pub fn close(&mut self, token: &str) {
        self.by_token.remove(token);
    }

    fn expire(&mut self) {
        let ttl = Duration::from_secs(SESSION_HOURS * 3600);
        self.by_token.retain(|_, s| s.last.elapsed() < ttl);
    }

    /// Whether a login may be tried now (fewer than
    /// [`MAX_FAILED_LOGINS`] failures in the last minute).
    pub fn may_try(&mut self) -> bool {
        self.failures
            .retain(|t| t.elapsed() < Duration::from_mins(1));
        self.failures.len() < MAX_FAILED_LOGINS
    }

    pub fn failed(&mut self) {
        self.failures.push(Instant::now());
    }
}

/// The `Host` values the server answers to: its own loopback address and
/// port, as an IP or as `localhost`. Anything else is a DNS-rebinding
/// attempt (a foreign name resolving to 127.0.0.1) or a misdirected proxy.
#[must_use]
pub fn host_ok(host: Option<&str>, addr: SocketAddr) -> bool {
    let Some(h) = host else { return false };
    let port = addr.port();
    let ip = match addr.ip() {
        std::net::IpAddr::V4(v4) => v4.to_string(),
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
    };
    h.eq_ignore_ascii_case(&format!("{ip}:{port}"))
        || h.eq_ignore_ascii_case(&format!("localhost:{port}"))
}

/// A state-changing request's `Origin` (when the browser sends one, as
/// every current browser does on a POST) must be this server; a
/// `Sec-Fetch-Site` other than same-origin is refused as well.
#[must_use]
pub fn origin_ok(origin: Option<&str>, fetch_site: Option<&str>, addr: SocketAddr) -> bool {
    if fetch_site.is_some_and(|s| s != "same-origin" && s != "none") {
        return false;
    }
    match origin {
        None => true,
        Some(o) => o
            .strip_prefix("http://")
            .is_some_and(|h| host_ok(Some(h), addr)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_origin_checks() {
        let a: SocketAddr = "127.0.0.1:8390".parse().unwrap();
        assert!(host_ok(Some("127.0.0.1:8390"), a));
        assert!(host_ok(Some("LOCALHOST:8390"), a));
        assert!(!host_ok(Some("evil.example:8390"), a));
        assert!(!host_ok(Some("127.0.0.1:8391"), a));
        assert!(!host_ok(None, a));
        assert!(origin_ok(
            Some("http://127.0.0.1:8390"),
            Some("same-origin"),
            a
        ));
        assert!(origin_ok(None, None, a));
        assert!(!origin_ok(Some("http://evil.example"), None, a));
        assert!(!origin_ok(Some("https://127.0.0.1:8390"), None, a));
        assert!(!origin_ok(None, Some("cross-site"), a));
        let a6: SocketAddr = "[::1]:9".parse().unwrap();
        assert!(host_ok(Some("[::1]:9"), a6));
    }

    #[test]
    fn secrets_compare_and_login_rate_limit() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "abcd"));
        assert_eq!(secret().len(), 64);
        assert_ne!(secret(), secret());
        let mut s = Sessions::default();
        for _ in 0..MAX_FAILED_LOGINS {
            assert!(s.may_try());
            s.failed();
        }
        assert!(!s.may_try());
    }

    #[test]
    fn a_login_token_works_once() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open_or_create(&dir.path().join("s.db")).unwrap();
        let t = new_login_token(&state, Duration::from_mins(1)).unwrap();
        assert!(!take_login_token(&state, "wrong").unwrap());
        assert!(take_login_token(&state, &t).unwrap());
        assert!(!take_login_token(&state, &t).unwrap(), "used up");
        let t = new_login_token(&state, Duration::ZERO).unwrap();
        let t2 = new_login_token(&state, Duration::from_mins(1)).unwrap();
        assert!(!take_login_token(&state, &t).unwrap(), "replaced");
        assert!(take_login_token(&state, &t2).unwrap());
    }
}
