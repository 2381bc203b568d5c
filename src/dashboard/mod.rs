//! The live dashboard (SPEC §12 "Dashboard", §3 `[dashboard]`): a small
//! HTTP server that `watch` (and so the service) runs on its own thread
//! when `[dashboard] enabled = true`, and `twinsync dashboard`'s login link.
//!
//! - [`auth`]: API key file, one-time login links, sessions, CSRF tokens,
//!   login rate limit, `Host` / `Origin` checks.
//! - [`page`]: the pages (maud; every spliced string escaped), reusing the
//!   report's verdict box, charts and event table.
//! - [`live`]: what the loop and the server share ([`Shared`]): the cycle
//!   and copies in flight, the wake-up, the forced plan on offer.
//!
//! Server: `tiny_http` (synchronous, four small crates, no TLS, no async
//! runtime; one thread answers requests one at a time: the page has one
//! admin, and its heaviest request reads what the report reads).
//!
//! Security, in the order a request meets it: the server listens on
//! loopback only (the config refuses anything else); a `Host` that is not
//! this address is refused (421: DNS rebinding); every page but the login
//! page and the script needs the session cookie (`HttpOnly`,
//! `SameSite=Strict`), got for the API key or a one-time link; every POST
//! needs the session's CSRF token and a same-origin `Origin` (403);
//! failed logins are limited to [`auth::MAX_FAILED_LOGINS`] a minute (429);
//! every response carries a strict Content-Security-Policy (scripts from
//! this origin only, nothing inline, no framing) and `no-store`. Nothing
//! served holds the key, a password or the config (the page names the
//! config file, the roots and the state DB, as `status` does).
//!
//! Actions go through the code of their commands ([`crate::control`],
//! [`crate::apply::trash::restore`]), are logged as `action` events with
//! `"actor": "dashboard"`, and take effect at the loop's next cycle
//! boundary (the loop is woken for it).

pub mod auth;
pub mod live;
pub mod page;

pub use live::{Shared, Tee};

use crate::Side;
use crate::config::Config;
use crate::log::Logger;
use crate::state::{State, StateError};
use serde_json::json;
use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;
use tiny_http::{Header, Method, Request, Response};

/// How long `twinsync dashboard`'s login link works.
pub const LOGIN_LINK_MINUTES: u64 = 10;
/// The meta key where a running dashboard notes its URL.
pub const URL_KEY: &str = "dashboard_url";
/// The session cookie's name.
pub const COOKIE: &str = "twinsync_session";
/// The Content-Security-Policy of every response.
pub const CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
/// The largest request body read.
const MAX_BODY: u64 = 64 * 1024;

/// Why the dashboard could not start or make a link.
#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    #[error(transparent)]
    Auth(#[from] auth::AuthError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(
        "the dashboard cannot listen on {addr}: {why} ([dashboard] listen; is another program or twinsync using that port?)"
    )]
    Listen { addr: SocketAddr, why: String },
}

/// What `twinsync dashboard` prints.
#[derive(Debug)]
pub struct LoginInfo {
    pub url: String,
    pub link: String,
    pub key_file: PathBuf,
    /// A running `watch` noted its URL (else it is the configured one).
    pub running: bool,
}

/// The dashboard's URL (the running server's, else the configured one)
/// and a fresh one-time login link; makes the key file if there is none.
///
/// # Errors
/// The key file or the state DB.
pub fn login_link(cfg: &Config, state: &State) -> Result<LoginInfo, DashboardError> {
    auth::ensure_key(cfg)?;
    // The URL a running server noted; it runs if it answers there (a
    // killed `watch` leaves its note behind).
    let noted = state.meta(URL_KEY)?;
    let running = noted
        .as_deref()
        .and_then(|u| {
            u.trim_start_matches("http://")
                .trim_end_matches('/')
                .parse::<SocketAddr>()
                .ok()
        })
        .is_some_and(|a| {
            std::net::TcpStream::connect_timeout(&a, Duration::from_millis(500)).is_ok()
        });
    let url = match noted {
        Some(u) if running => u,
        _ => format!("http://{}/", cfg.dashboard_listen),
    };
    let token = auth::new_login_token(state, Duration::from_mins(LOGIN_LINK_MINUTES))?;
    Ok(LoginInfo {
        link: format!("{url}login?once={token}"),
        url,
        key_file: auth::key_file(cfg),
        running,
    })
}

/// A running dashboard.
pub struct Server {
    pub addr: SocketAddr,
    handle: JoinHandle<()>,
}

impl Server {
    /// The URL it serves.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Waits for the server's thread (after `stop` was set): it ends
    /// within a quarter of a second.
    pub fn join(self) {
        let _ = self.handle.join();
    }
}

/// Starts the server on `[dashboard] listen` on its own thread, until
/// `stop`. `in_watch`: the watch loop acts on the shared requests.
///
/// # Errors
/// The key file cannot be made, the address cannot be bound, the state DB.
pub fn start(
    cfg: &Config,
    shared: Arc<Shared>,
    log: Arc<Logger>,
    stop: Arc<AtomicBool>,
    in_watch: bool,
) -> Result<Server, DashboardError> {
    let key = auth::ensure_key(cfg)?;
    let want = cfg.dashboard_listen;
    let server = tiny_http::Server::http(want).map_err(|e| DashboardError::Listen {
        addr: want,
        why: e.to_string(),
    })?;
    let addr = server.server_addr().to_ip().unwrap_or(want);
    let state = State::open_or_create(&cfg.state_db)?;
    state.set_meta(URL_KEY, &format!("http://{addr}/"))?;
    log.info(
        "scan",
        json!({"note": "dashboard listening", "url": format!("http://{addr}/"), "actor": "dashboard"}),
    );
    let mut app = App {
        cfg: cfg.clone(),
        state,
        key,
        addr,
        shared,
        log,
        sessions: auth::Sessions::default(),
        in_watch,
    };
    let handle = std::thread::Builder::new()
        .name("dashboard".into())
        .spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                match server.recv_timeout(Duration::from_millis(250)) {
                    Ok(Some(req)) => app.serve(req),
                    Ok(None) => {}
                    Err(e) => {
                        app.log.warn(
                            "error",
                            json!({"actor": "dashboard", "error": format!("dashboard: {e}")}),
                        );
                        std::thread::sleep(Duration::from_millis(250));
                    }
                }
            }
            if let Err(e) = app.state.delete_meta(URL_KEY) {
                app.log.warn(
                    "error",
                    json!({"actor": "dashboard", "error": e.to_string()}),
                );
            }
        })
        .map_err(|e| DashboardError::Listen {
            addr,
            why: e.to_string(),
        })?;
    Ok(Server { addr, handle })
}

/// The server's thread's state.
struct App {
    cfg: Config,
    state: State,
    key: String,
    addr: SocketAddr,
    shared: Arc<Shared>,
    log: Arc<Logger>,
    sessions: auth::Sessions,
    in_watch: bool,
}

/// A response before the common headers.
struct Reply {
    status: u16,
    body: String,
    content_type: &'static str,
    headers: Vec<(&'static str, String)>,
}

impl Reply {
    fn html(status: u16, body: String) -> Self {
        Self {
            status,
            body,
            content_type: "text/html; charset=utf-8",
            headers: Vec::new(),
        }
    }

    fn refuse(status: u16, title: &str, why: &str) -> Self {
        Self::html(status, page::message(title, why))
    }

    fn redirect(to: &str) -> Self {
        Self {
            status: 303,
            body: String::new(),
            content_type: "text/plain; charset=utf-8",
            headers: vec![("Location", to.to_owned())],
        }
    }
}

/// The fields of a request the handlers need.
struct Req {
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    form: Vec<(String, String)>,
    cookie: Option<String>,
}

impl Req {
    fn field(&self, k: &str) -> Option<&str> {
        self.form
            .iter()
            .chain(&self.query)
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }
}

fn header<'a>(req: &'a Request, name: &'static str) -> Option<&'a str> {
    req.headers()
        .iter()
        .find(|h| h.field.equiv(name))
        .map(|h| h.value.as_str())
}

impl App {
    fn serve(&mut self, mut req: Request) {
        let reply = self.route(&mut req);
        let mut resp = Response::from_string(reply.body).with_status_code(reply.status);
        let mut headers = vec![
            ("Content-Type", reply.content_type.to_owned()),
            ("Content-Security-Policy", CSP.to_owned()),
            ("X-Content-Type-Options", "nosniff".to_owned()),
            ("X-Frame-Options", "DENY".to_owned()),
            // (`no-referrer` would make browsers send `Origin: null` on the forms.)
            ("Referrer-Policy", "same-origin".to_owned()),
            ("Cache-Control", "no-store".to_owned()),
        ];
        headers.extend(reply.headers);
        for (k, v) in headers {
            if let Ok(h) = Header::from_bytes(k.as_bytes(), v.as_bytes()) {
                resp.add_header(h);
            }
        }
        // A client that went away is no concern of ours.
        let _ = req.respond(resp);
    }

    fn route(&mut self, req: &mut Request) -> Reply {
        if !auth::host_ok(header(req, "Host"), self.addr) {
            return Reply::refuse(
                421,
                "Wrong host",
                "This dashboard answers only to its own loopback address (Host header check).",
            );
        }
        let (path, query) = match req.url().split_once('?') {
            Some((p, q)) => (p.to_owned(), parse_form(q)),
            None => (req.url().to_owned(), Vec::new()),
        };
        let is_post = *req.method() == Method::Post;
        if is_post
            && !auth::origin_ok(
                header(req, "Origin"),
                header(req, "Sec-Fetch-Site"),
                self.addr,
            )
        {
            return Reply::refuse(
                403,
                "Cross-origin request refused",
                "A change may only be asked for from this dashboard's own page.",
            );
        }
        let mut form = Vec::new();
        if is_post {
            let mut body = String::new();
            if req
                .as_reader()
                .take(MAX_BODY)
                .read_to_string(&mut body)
                .is_err()
            {
                return Reply::refuse(400, "Bad request", "The form could not be read.");
            }
            form = parse_form(&body);
        }
        let cookie = header(req, "Cookie").and_then(|c| {
            c.split(';').find_map(|kv| {
                let (k, v) = kv.trim().split_once('=')?;
                (k == COOKIE).then(|| v.to_owned())
            })
        });
        let r = Req {
            method: req.method().clone(),
            path,
            query,
            form,
            cookie,
        };
        self.handle(&r)
    }

    fn handle(&mut self, r: &Req) -> Reply {
        match (&r.method, r.path.as_str()) {
            (Method::Get, "/app.js") => Reply {
                status: 200,
                body: page::SCRIPT.to_owned(),
                content_type: "text/javascript; charset=utf-8",
                headers: Vec::new(),
            },
            (Method::Get, "/login") => match r.field("once") {
                Some(t) => self.login_once(t),
                None => Reply::html(200, page::login(None)),
            },
            (Method::Post, "/login") => self.login_key(r.field("key").unwrap_or("")),
            _ => {
                let Some((token, s)) = r
                    .cookie
                    .as_deref()
                    .and_then(|t| Some((t.to_owned(), self.sessions.get(t)?)))
                else {
                    return if r.method == Method::Get && r.path == "/" {
                        Reply::redirect("/login")
                    } else {
                        Reply::refuse(
                            401,
                            "Log in first",
                            "This needs a dashboard session: open the link `twinsync dashboard` prints.",
                        )
                    };
                };
                if r.method == Method::Post {
                    if !r.field("csrf").is_some_and(|c| auth::same(c, &s.csrf)) {
                        return Reply::refuse(
                            403,
                            "Missing or wrong CSRF token",
                            "Reload the dashboard and try again.",
                        );
                    }
                    return self.act(r, &token);
                }
                match r.path.as_str() {
                    "/" => self.page(&s.csrf, false),
                    "/live" => self.page(&s.csrf, true),
                    "/api/status" => self.status_json(),
                    _ => Reply::refuse(404, "Not found", "No such page."),
                }
            }
        }
    }

    fn session_reply(&mut self) -> Reply {
        let (token, _) = self.sessions.open();
        let mut r = Reply::redirect("/");
        r.headers.push((
            "Set-Cookie",
            format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/"),
        ));
        r
    }

    fn login_once(&mut self, token: &str) -> Reply {
        if !self.sessions.may_try() {
            return Reply::html(
                429,
                page::login(Some("Too many failed logins: wait a minute.")),
            );
        }
        match auth::take_login_token(&self.state, token) {
            Ok(true) => {
                self.log.info("action", json!({"actor": "dashboard", "action": "login", "result": "ok", "note": "one-time link"}));
                self.session_reply()
            }
            Ok(false) => {
                self.sessions.failed();
                self.log.warn("action", json!({"actor": "dashboard", "action": "login", "result": "failed", "note": "one-time link unknown, used or expired"}));
                Reply::html(
                    403,
                    page::login(Some(
                        "That login link is used up or expired: run `twinsync dashboard` for a new one.",
                    )),
                )
            }
            Err(e) => Reply::refuse(500, "State DB error", &e.to_string()),
        }
    }

    fn login_key(&mut self, key: &str) -> Reply {
        if !self.sessions.may_try() {
            return Reply::html(
                429,
                page::login(Some("Too many failed logins: wait a minute.")),
            );
        }
        if auth::same(key.trim(), &self.key) {
            self.log.info(
                "action",
                json!({"actor": "dashboard", "action": "login", "result": "ok", "note": "API key"}),
            );
            self.session_reply()
        } else {
            self.sessions.failed();
            self.log.warn("action", json!({"actor": "dashboard", "action": "login", "result": "failed", "note": "wrong API key"}));
            Reply::html(403, page::login(Some("Wrong API key.")))
        }
    }

    fn page(&self, csrf: &str, live_only: bool) -> Reply {
        let sides = crate::roots::Sides::real(&self.cfg);
        let snap = match crate::report::gather(&self.cfg, &self.state, &sides) {
            Ok(s) => s,
            Err(e) => return Reply::refuse(500, "State DB error", &e.to_string()),
        };
        let trash = crate::apply::trash::versions(snap.trash.clone(), self.cfg.case_sensitive);
        let copies = self.shared.copies();
        let cycle = self.shared.cycle();
        let offer = self.shared.offer();
        let notes = self.shared.notes();
        let l = page::Live {
            snap: &snap,
            csrf,
            copies: &copies,
            cycle: cycle.as_ref(),
            offer: offer.as_ref(),
            preview_pending: self.shared.preview_pending(),
            notes: &notes,
            trash: &trash,
            in_watch: self.in_watch,
            now: std::time::Instant::now(),
        };
        if live_only {
            Reply::html(200, page::live(&l).into_string())
        } else {
            Reply::html(200, page::page(&l))
        }
    }

    fn status_json(&self) -> Reply {
        let sides = crate::roots::Sides::real(&self.cfg);
        match crate::status::Status::gather(&self.cfg, &self.state, &sides) {
            Ok(s) => Reply {
                status: 200,
                body: s.to_json(),
                content_type: "application/json",
                headers: Vec::new(),
            },
            Err(e) => Reply::refuse(500, "State DB error", &e.to_string()),
        }
    }

    /// A state-changing request (session and CSRF token checked).
    fn act(&mut self, r: &Req, token: &str) -> Reply {
        let done = |app: &Self, action: &str, fields: serde_json::Value, note: String| {
            let mut ev = json!({"actor": "dashboard", "action": action, "result": "ok"});
            if let (Some(e), serde_json::Value::Object(f)) = (ev.as_object_mut(), fields) {
                e.extend(f);
            }
            app.log.info("action", ev);
            app.shared.note(note);
            app.shared.wake();
            Reply::redirect("/")
        };
        let failed = |app: &Self, action: &str, why: String| {
            app.log.warn(
                "action",
                json!({"actor": "dashboard", "action": action, "result": "failed", "error": why}),
            );
            app.shared.note(format!("{action} failed: {why}"));
            Reply::refuse(409, &format!("{action} failed"), &why)
        };
        match r.path.as_str() {
            "/logout" => {
                self.sessions.close(token);
                let mut rep = Reply::redirect("/login");
                rep.headers.push((
                    "Set-Cookie",
                    format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
                ));
                rep
            }
            "/resolve" => {
                let path = r.field("path").unwrap_or("");
                let Some(keep) = r.field("keep").and_then(|k| k.parse::<crate::Keep>().ok()) else {
                    return Reply::refuse(400, "Bad request", "keep must be left, right or both.");
                };
                match crate::control::resolve(&self.state, path, self.cfg.case_sensitive, keep) {
                    Ok(_) => done(
                        self,
                        "resolve",
                        json!({"path": path, "keep": keep.as_str()}),
                        format!("{path}: keep {keep}; the next cycle settles it"),
                    ),
                    Err(e) => failed(self, "resolve", e.to_string()),
                }
            }
            "/restore" => {
                let path = r.field("path").unwrap_or("");
                let side = r.field("side").and_then(|s| s.parse::<Side>().ok());
                let version = r.field("version").and_then(|v| v.parse::<u32>().ok());
                let sides = crate::roots::Sides::real(&self.cfg);
                match crate::apply::trash::restore(
                    &self.cfg,
                    &self.state,
                    &sides,
                    &self.log,
                    path,
                    side,
                    version,
                ) {
                    Ok(rec) => done(
                        self,
                        "restore",
                        json!({"path": rec.original_path, "side": rec.side, "version": version}),
                        format!(
                            "restored {} on the {} side; the next cycle syncs it",
                            rec.original_path, rec.side
                        ),
                    ),
                    Err(e) => failed(self, "restore", e.to_string()),
                }
            }
            "/pause" => match crate::control::pause(&self.state, "dashboard") {
                Ok(_) => done(self, "pause", json!({}), "syncing paused".into()),
                Err(e) => failed(self, "pause", e.to_string()),
            },
            "/resume" => match crate::control::resume(&self.state) {
                Ok(_) => done(self, "resume", json!({}), "syncing resumed".into()),
                Err(e) => failed(self, "resume", e.to_string()),
            },
            "/sync-now" => done(
                self,
                "sync_now",
                json!({}),
                "sync now: a full cycle starts".into(),
            ),
            "/override/preview" => {
                self.shared.want_preview();
                done(
                    self,
                    "override_preview",
                    json!({}),
                    "the forced plan is made at the next cycle boundary".into(),
                )
            }
            "/override/apply" => {
                let id = r.field("plan_id").unwrap_or("");
                if self.shared.approve(id) {
                    done(
                        self,
                        "override",
                        json!({"plan_id": id}),
                        format!("forced plan {id} approved: applied at the next cycle boundary"),
                    )
                } else {
                    failed(
                        self,
                        "override",
                        "that forced plan is no longer on offer: review it again".into(),
                    )
                }
            }
            _ => Reply::refuse(404, "Not found", "No such action."),
        }
    }
}

/// `a=1&b=x%20y` (also `+` for a space) → pairs; bad escapes are kept as written.
fn parse_form(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(s.get(i + 1..i + 3).unwrap_or("zz"), 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode() {
        assert_eq!(
            parse_form("path=a%2Fb+c.txt&keep=left&x"),
            vec![
                ("path".into(), "a/b c.txt".into()),
                ("keep".into(), "left".into()),
                ("x".into(), String::new())
            ]
        );
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz%41"), "%zzA");
        assert_eq!(decode("%C3%A9"), "é");
    }
}
