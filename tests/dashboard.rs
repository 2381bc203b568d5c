//! The dashboard over real HTTP (issue 23): a real client (`ureq`, and a
//! raw socket where a client would not forge a header) against the real
//! server on 127.0.0.1:0, started in-process (`dashboard::start`) or by
//! the real `twinsync watch`.
//!
//! Refusals: no session, a forged `Host`, a missing or wrong CSRF token, a
//! cross-origin POST, too many failed logins. Actions: resolve and restore
//! through the dashboard leave the state exactly as the CLI does; a pause
//! persists across a restart of `watch`, which then syncs nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::Env;
use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use twinsync::Side;
use twinsync::config::Config;
use twinsync::dashboard::{self, Shared};
use twinsync::state::State;

const DASH: &str = "[dashboard]\nenabled = true\nlisten = '127.0.0.1:0'\n";
const OPTION2: &str = "[conflicts]\nsame_file_changed_both = 'option2'\n";

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .max_redirects(0)
        .max_redirects_will_error(false)
        .http_status_as_error(false)
        .build()
        .into()
}

/// A dashboard server run by the test (no watch loop behind it).
struct Dash {
    url: String,
    stop: Arc<AtomicBool>,
    server: Option<dashboard::Server>,
    cfg: Config,
}

impl Dash {
    fn start(e: &Env) -> Self {
        let cfg = Config::load(&e.config).unwrap();
        let log = twinsync::log::Logger::from_config(&cfg);
        let stop = Arc::new(AtomicBool::new(false));
        let server = dashboard::start(
            &cfg,
            Arc::new(Shared::default()),
            log,
            Arc::clone(&stop),
            false,
        )
        .unwrap();
        Self {
            url: server.url(),
            stop,
            server: Some(server),
            cfg,
        }
    }

    /// A one-time login link, as `twinsync dashboard` makes it.
    fn link(&self) -> String {
        let state = State::open(&self.cfg.state_db).unwrap();
        dashboard::login_link(&self.cfg, &state).unwrap().link
    }
}

impl Drop for Dash {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(s) = self.server.take() {
            s.join();
        }
    }
}

/// A logged-in browser: its session cookie and the page's CSRF token.
struct Session {
    base: String,
    cookie: String,
    csrf: String,
}

fn body(r: ureq::http::Response<ureq::Body>) -> String {
    r.into_body().read_to_string().unwrap()
}

fn header(r: &ureq::http::Response<ureq::Body>, name: &str) -> String {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// Logs in with a one-time link; checks the cookie's attributes.
fn login(base: &str, link: &str) -> Session {
    let a = agent();
    let r = a.get(link).call().unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let set = header(&r, "set-cookie");
    assert!(set.contains("HttpOnly"), "{set}");
    assert!(set.contains("SameSite=Strict"), "{set}");
    let cookie = set.split(';').next().unwrap().to_owned();
    // The link works once.
    let again = a.get(link).call().unwrap();
    assert_eq!(again.status().as_u16(), 403, "a login link works once");
    let page = body(a.get(base).header("Cookie", &cookie).call().unwrap());
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();
    Session {
        base: base.to_owned(),
        cookie,
        csrf,
    }
}

impl Session {
    fn get(&self, path: &str) -> ureq::http::Response<ureq::Body> {
        agent()
            .get(format!("{}{}", self.base, path.trim_start_matches('/')))
            .header("Cookie", &self.cookie)
            .call()
            .unwrap()
    }

    fn post(&self, path: &str, fields: &[(&str, &str)]) -> ureq::http::Response<ureq::Body> {
        let mut f: Vec<(&str, &str)> = vec![("csrf", &self.csrf)];
        f.extend_from_slice(fields);
        agent()
            .post(format!("{}{}", self.base, path.trim_start_matches('/')))
            .header("Cookie", &self.cookie)
            .header("Origin", self.base.trim_end_matches('/'))
            .send_form(f)
            .unwrap()
    }

    fn status(&self) -> serde_json::Value {
        serde_json::from_str(&body(self.get("/api/status"))).unwrap()
    }
}

/// A raw request, for headers a client library would not forge.
fn raw(url: &str, request: &str) -> String {
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// `r.docx` changed on both sides under option2: an unresolved conflict.
fn conflicted(extra: &str) -> Env {
    let e = Env::init(&format!("{OPTION2}{extra}"));
    e.write(Side::Left, "r.docx", "base", 900);
    e.sync();
    e.write(Side::Left, "r.docx", "left edit", 300);
    e.write(Side::Right, "r.docx", "right edit, newer", 200);
    e.sync();
    e
}

fn status_json(e: &Env) -> serde_json::Value {
    let out = e.cmd(&["status", "--json"]).output().unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn unauthenticated_forged_host_csrf_and_cross_origin_requests_are_refused() {
    let e = conflicted(DASH);
    let d = Dash::start(&e);
    let a = agent();
    // No session: the page sends to the login page, the API and actions refuse.
    let r = a.get(&d.url).call().unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(header(&r, "location"), "/login");
    let csp = header(&r, "content-security-policy");
    for want in [
        "default-src 'none'",
        "script-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(want), "{want} in {csp}");
    }
    assert_eq!(
        a.get(format!("{}api/status", d.url))
            .call()
            .unwrap()
            .status()
            .as_u16(),
        401
    );
    let r = a
        .post(format!("{}pause", d.url))
        .send_form([("csrf", "x")])
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(!status_json(&e)["health"]["state"].eq("paused"));
    // A bad one-time link is refused.
    let r = a
        .get(format!("{}login?once=not-a-token", d.url))
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);

    let s = login(&d.url, &d.link());
    let page = body(s.get("/"));
    assert!(page.contains("r.docx"), "the conflict is listed");
    // No secret is served: not the API key, in the page or the API.
    let key = std::fs::read_to_string(dashboard::auth::key_file(&d.cfg)).unwrap();
    assert!(!page.contains(key.trim()));
    assert!(!body(s.get("/api/status")).contains(key.trim()));

    // A forged Host (DNS rebinding), even with a valid session.
    let port = d.url.trim_end_matches('/').rsplit(':').next().unwrap();
    // (and the same request with the server's own Host goes through)
    for (host, status) in [("evil.example", "421"), ("127.0.0.1", "200")] {
        let resp = raw(
            &d.url,
            &format!(
                "GET / HTTP/1.1\r\nHost: {host}:{port}\r\nCookie: {}\r\nConnection: close\r\n\r\n",
                s.cookie
            ),
        );
        assert!(
            resp.starts_with(&format!("HTTP/1.1 {status}")),
            "{host}: {resp}"
        );
    }

    // POSTs: without a CSRF token, with a wrong one, from another origin.
    let wrong_token = "0".repeat(64);
    type Pairs<'a> = &'a [(&'a str, &'a str)];
    let refused: [(&str, Pairs, Pairs); 4] = [
        ("no CSRF token", &[], &[("x", "y")]),
        ("a wrong CSRF token", &[], &[("csrf", &wrong_token)]),
        (
            "another origin",
            &[("Origin", "http://evil.example")],
            &[("csrf", &s.csrf)],
        ),
        (
            "a cross-site fetch",
            &[("Sec-Fetch-Site", "cross-site")],
            &[("csrf", &s.csrf)],
        ),
    ];
    for (why, headers, form) in refused {
        let mut req = agent()
            .post(format!("{}pause", d.url))
            .header("Cookie", &s.cookie);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let r = req.send_form(form.iter().copied()).unwrap();
        assert_eq!(r.status().as_u16(), 403, "{why}");
    }
    assert_ne!(
        status_json(&e)["health"]["state"],
        "paused",
        "nothing refused changed anything"
    );
    // The same request done right works.
    assert_eq!(s.post("/pause", &[]).status().as_u16(), 303);
    assert_eq!(status_json(&e)["health"]["state"], "paused");
    // Logged with the actor.
    assert!(
        e.log()
            .iter()
            .any(|l| l["event"] == "action" && l["actor"] == "dashboard" && l["action"] == "pause")
    );
    // Logged out: the cookie no longer works.
    assert_eq!(s.post("/logout", &[]).status().as_u16(), 303);
    assert_eq!(s.get("/api/status").status().as_u16(), 401);
}

#[test]
fn logins_are_rate_limited() {
    let e = Env::init(DASH);
    let d = Dash::start(&e);
    let key = std::fs::read_to_string(dashboard::auth::key_file(&d.cfg)).unwrap();
    for _ in 0..dashboard::auth::MAX_FAILED_LOGINS {
        let r = agent()
            .post(format!("{}login", d.url))
            .send_form([("key", "wrong")])
            .unwrap();
        assert_eq!(r.status().as_u16(), 403);
    }
    // Now even the right key waits a minute.
    let r = agent()
        .post(format!("{}login", d.url))
        .send_form([("key", key.trim())])
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
}

#[test]
fn the_api_key_logs_in_and_its_file_is_owner_only() {
    let e = Env::init(DASH);
    let d = Dash::start(&e);
    let file = dashboard::auth::key_file(&d.cfg);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    let key = std::fs::read_to_string(&file).unwrap();
    let r = agent()
        .post(format!("{}login", d.url))
        .send_form([("key", key.trim())])
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert!(header(&r, "set-cookie").starts_with("twinsync_session="));
}

/// A path with markup is shown as text, never as markup.
#[test]
fn paths_are_html_escaped() {
    let e = Env::init(&format!("{OPTION2}{DASH}"));
    // Windows refuses `<` and `>` in names: there, a name holding `&` and
    // an entity, which would show as markup if not escaped.
    let (name, escaped, raw) = if cfg!(windows) {
        (
            "R&D &lt;img&gt;.txt",
            "R&amp;D &amp;lt;img&amp;gt;.txt",
            "R&D ",
        )
    } else {
        (
            "<img src=x onerror=alert(1)>.txt",
            "&lt;img src=x onerror=alert(1)&gt;.txt",
            "<img",
        )
    };
    e.write(Side::Left, name, "base", 900);
    e.sync();
    e.write(Side::Left, name, "left", 300);
    e.write(Side::Right, name, "right", 200);
    e.sync();
    let d = Dash::start(&e);
    let s = login(&d.url, &d.link());
    let page = body(s.get("/"));
    assert!(page.contains(escaped), "escaped");
    assert!(!page.contains(raw), "never raw");
}

/// Resolve through the dashboard = `twinsync resolve`: the same state,
/// then the same trees after the next sync.
#[test]
fn resolve_through_the_dashboard_changes_the_state_as_the_cli_does() {
    let cli = conflicted("");
    let web = conflicted(DASH);
    cli.cmd(&["resolve", "r.docx", "--keep", "left"])
        .assert()
        .success();
    let d = Dash::start(&web);
    let s = login(&d.url, &d.link());
    // Every choice is offered, one click each.
    let page = body(s.get("/"));
    for k in ["Keep left", "Keep right", "Keep both"] {
        assert!(page.contains(k), "{k}");
    }
    assert_eq!(
        s.post("/resolve", &[("path", "r.docx"), ("keep", "left")])
            .status()
            .as_u16(),
        303
    );
    let (a, b) = (status_json(&cli), status_json(&web));
    let conflicts = |v: &serde_json::Value| {
        let mut c = v["unresolved_conflicts"].clone();
        c[0]["since"] = serde_json::Value::Null;
        // (Two folders: the times of the files differ.)
        c[0]["left"]["mtime"] = serde_json::Value::Null;
        c[0]["right"]["mtime"] = serde_json::Value::Null;
        c
    };
    assert_eq!(conflicts(&a), conflicts(&b));
    assert_eq!(b["unresolved_conflicts"][0]["keep"], "left");
    // The API's status is `status --json`'s.
    assert_eq!(s.status()["unresolved_conflicts"][0]["keep"], "left");
    // An unknown path is refused, as the CLI refuses it.
    assert_eq!(
        s.post("/resolve", &[("path", "nope.txt"), ("keep", "left")])
            .status()
            .as_u16(),
        409
    );
    cli.sync();
    web.sync();
    for side in Side::BOTH {
        assert_eq!(cli.tree(side), web.tree(side), "{side}");
        assert_eq!(web.read(side, "r.docx").as_deref(), Some("left edit"));
    }
}

/// Restore through the dashboard = `twinsync trash restore`.
#[test]
fn restore_through_the_dashboard_changes_the_state_as_the_cli_does() {
    let setup = |extra: &str| {
        let e = Env::init(extra);
        e.write(Side::Left, "a/doc.txt", "v1", 900);
        e.sync();
        std::fs::remove_file(e.root(Side::Left).join("a/doc.txt")).unwrap();
        e.sync(); // soft-deleted on the right
        assert!(e.read(Side::Right, ".sync_trash/a/doc.txt").is_some());
        e
    };
    let cli = setup("");
    let web = setup(DASH);
    cli.cmd(&["trash", "restore", "a/doc.txt"])
        .assert()
        .success();
    let d = Dash::start(&web);
    let s = login(&d.url, &d.link());
    let page = body(s.get("/"));
    assert!(page.contains("a/doc.txt") && page.contains("Restore"));
    assert_eq!(
        s.post(
            "/restore",
            &[("path", "a/doc.txt"), ("side", "right"), ("version", "1")]
        )
        .status()
        .as_u16(),
        303
    );
    for side in Side::BOTH {
        assert_eq!(cli.tree(side), web.tree(side), "{side}");
    }
    assert_eq!(status_json(&web)["trash"], status_json(&cli)["trash"]);
    assert_eq!(web.read(Side::Right, "a/doc.txt").as_deref(), Some("v1"));
    // Nothing left to restore: refused.
    assert_eq!(
        s.post("/restore", &[("path", "a/doc.txt")])
            .status()
            .as_u16(),
        409
    );
    cli.sync();
    web.sync();
    for side in Side::BOTH {
        assert_eq!(cli.tree(side), web.tree(side), "{side}");
    }
}

/// A running `twinsync watch`, killed when dropped.
struct Watch(std::process::Child);

impl Watch {
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `twinsync watch` with the dashboard on; returns it and the URL and
/// link `twinsync dashboard` prints once it serves.
fn watch(e: &Env) -> (Watch, String, String) {
    let child = Watch(
        std::process::Command::new(assert_cmd::cargo::cargo_bin("twinsync"))
            .current_dir(e.dir.path())
            .arg("--config")
            .arg(&e.config)
            .args(["watch", "--log-json"])
            .env_remove("TWINSYNC_CONFIG")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let start = Instant::now();
    loop {
        let out = e.cmd(&["dashboard"]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let err = String::from_utf8_lossy(&out.stderr);
        if out.status.success() && !err.contains("not serving") {
            let url = text
                .lines()
                .find_map(|l| l.strip_prefix("Dashboard: "))
                .unwrap()
                .to_owned();
            let link = text
                .lines()
                .find_map(|l| l.split("): ").nth(1))
                .unwrap()
                .to_owned();
            return (child, url, link);
        }
        assert!(start.elapsed() < Duration::from_mins(1), "{text}{err}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_mins(1),
            "waited for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Pause from the dashboard: watch syncs nothing, the verdict says
/// `paused` (status exits 5), and so it stays after a restart, until resumed.
#[test]
fn a_pause_persists_across_a_restart_and_watch_honours_it() {
    let e = conflicted(DASH);
    let (mut w, url, link) = watch(&e);
    let s = login(&url, &link);
    // A resolve through the page is settled by watch's next cycle.
    assert_eq!(
        s.post("/resolve", &[("path", "r.docx"), ("keep", "right")])
            .status()
            .as_u16(),
        303
    );
    wait_for("the conflict to be settled", || {
        e.read(Side::Left, "r.docx").as_deref() == Some("right edit, newer")
    });
    wait_for("the page to drop the conflict", || {
        !body(s.get("/live")).contains("class=\"conflict\" data-path=\"r.docx\"")
    });
    assert_eq!(s.post("/pause", &[]).status().as_u16(), 303);
    w.kill();
    e.cmd(&["status"]).assert().code(5);
    assert_eq!(status_json(&e)["health"]["reasons"][0]["by"], "dashboard");
    // Restarted: still paused; a new file is not synced.
    let (mut w, url, link) = watch(&e);
    e.write(Side::Left, "new.txt", "new", 100);
    let s = login(&url, &link);
    assert_eq!(s.status()["health"]["state"], "paused");
    assert!(body(s.get("/")).contains("Resume syncing"));
    wait_for("a paused cycle", || {
        e.log().iter().any(|l| {
            l["event"] == "cycle" && l["note"].as_str().is_some_and(|n| n.starts_with("paused"))
        })
    });
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        e.read(Side::Right, "new.txt"),
        None,
        "paused: nothing synced"
    );
    // Resumed: the next cycle syncs it.
    assert_eq!(s.post("/resume", &[]).status().as_u16(), 303);
    wait_for("the new file to be synced", || {
        e.read(Side::Right, "new.txt").as_deref() == Some("new")
    });
    w.kill();
    e.cmd(&["status"]).assert().code(0);
}

#[test]
fn pause_and_resume_from_the_command_line() {
    let e = Env::init("");
    e.cmd(&["pause"]).assert().success();
    let st = status_json(&e);
    assert_eq!(st["health"]["state"], "paused");
    assert_eq!(st["health"]["reasons"][0]["by"], "cli");
    e.write(Side::Left, "x.txt", "x", 100);
    e.cmd(&["watch", "--cycles", "1"]).assert().success();
    assert_eq!(e.read(Side::Right, "x.txt"), None, "paused");
    e.cmd(&["resume"]).assert().success();
    e.cmd(&["watch", "--cycles", "1"]).assert().success();
    assert_eq!(e.read(Side::Right, "x.txt").as_deref(), Some("x"));
}

#[test]
fn a_non_loopback_listen_is_a_config_error_naming_the_key() {
    let e = Env::with_config("[dashboard]\nenabled = true\nlisten = '0.0.0.0:8390'\n");
    let out = e.cmd(&["init"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("dashboard.listen"), "{err}");
    assert!(err.contains("loopback"), "{err}");
}

/// A guard refusal overridden from the dashboard: the forced plan is made
/// by `watch` and shown first; approving it applies exactly that plan.
#[test]
fn a_guard_refusal_is_overridden_after_showing_the_forced_plan() {
    let e = Env::init(DASH);
    for i in 0..30 {
        e.write(Side::Left, &format!("f{i}.txt"), "x", 100);
    }
    e.sync();
    for i in 0..25 {
        std::fs::remove_file(e.left.join(format!("f{i}.txt"))).unwrap();
    }
    let (_w, url, link) = watch(&e);
    let s = login(&url, &link);
    wait_for("the guard to block", || {
        s.status()["health"]["state"] == "blocked"
    });
    assert!(body(s.get("/")).contains("Review the forced plan"));
    // Approving a plan never shown is refused.
    assert_eq!(
        s.post("/override/apply", &[("plan_id", "made-up")])
            .status()
            .as_u16(),
        409
    );
    assert_eq!(s.post("/override/preview", &[]).status().as_u16(), 303);
    let mut page = String::new();
    wait_for("the forced plan to be shown", || {
        page = body(s.get("/live"));
        page.contains("Apply this forced plan")
    });
    // It says what it would do: the 25 deletes, by name.
    assert!(page.contains("f0.txt"), "the plan's steps are listed");
    assert_eq!(
        e.tree(Side::Right).len(),
        30,
        "nothing done before approval"
    );
    let plan_id = page
        .split("name=\"plan_id\" value=\"")
        .nth(1)
        .and_then(|x| x.split('"').next())
        .unwrap()
        .to_owned();
    assert_eq!(
        s.post("/override/apply", &[("plan_id", &plan_id)])
            .status()
            .as_u16(),
        303
    );
    wait_for("the forced deletes", || {
        e.read(Side::Right, "f0.txt").is_none()
    });
    wait_for("the block to clear", || {
        s.status()["health"]["state"] != "blocked"
    });
    assert_eq!(
        e.read(Side::Right, ".sync_trash/f0.txt").as_deref(),
        Some("x")
    );
    assert!(e.log().iter().any(|l| l["action"] == "override"
        && l["actor"] == "dashboard"
        && l["plan_id"] == plan_id.as_str()));
}
