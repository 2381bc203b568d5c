//! A tiny SMTP server on loopback for tests: plain text (no TLS), AUTH
//! LOGIN/PLAIN checked against one password, every accepted message kept.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

pub struct Smtp {
    pub port: u16,
    pub messages: Arc<Mutex<Vec<String>>>,
    pub auth_attempts: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl Smtp {
    /// Starts a server on a free port (or `port` if given) accepting `password`.
    pub fn start(port: Option<u16>, password: &str) -> Self {
        Self::start_with(port, password, None)
    }

    /// Same, offering STARTTLS with this server certificate configuration.
    pub fn start_with(
        port: Option<u16>,
        password: &str,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port.unwrap_or(0))).unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let messages = Arc::new(Mutex::new(Vec::new()));
        let auth_attempts = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (m, a, s, pw) = (
            Arc::clone(&messages),
            Arc::clone(&auth_attempts),
            Arc::clone(&stop),
            password.to_owned(),
        );
        std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        stream.set_nonblocking(false).unwrap();
                        let (m, a, pw, tls) =
                            (Arc::clone(&m), Arc::clone(&a), pw.clone(), tls.clone());
                        std::thread::spawn(move || {
                            if let Ok(Some(tcp)) = session(stream, &m, &a, &pw, tls.is_some(), true)
                                && let Some(cfg) = tls
                                && let Ok(conn) = rustls::ServerConnection::new(cfg)
                            {
                                let tls_stream = rustls::StreamOwned::new(conn, tcp);
                                let _ = session(tls_stream, &m, &a, &pw, false, false);
                            }
                        });
                    }
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
                }
            }
        });
        Self {
            port,
            messages,
            auth_attempts,
            stop,
        }
    }

    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so the port is released.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    pub fn count(&self) -> usize {
        self.messages.lock().unwrap().len()
    }
}

fn b64(s: &str) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Runs an SMTP session; returns the bare stream when the client asked for
/// STARTTLS (the caller wraps it in TLS and runs the session again).
fn session<S: Read + Write>(
    stream: S,
    msgs: &Mutex<Vec<String>>,
    auths: &Mutex<Vec<String>>,
    pw: &str,
    offer_tls: bool,
    greet: bool,
) -> std::io::Result<Option<S>> {
    let mut r = BufReader::new(stream);
    let mut line = String::new();
    macro_rules! say {
        ($b:expr) => {{
            r.get_mut().write_all($b)?;
            r.get_mut().flush()?;
        }};
    }
    if greet {
        say!(b"220 test ESMTP\r\n");
    }
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let cmd = line.trim_end().to_owned();
        let upper = cmd.to_uppercase();
        if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            if offer_tls {
                say!(b"250-test\r\n250-STARTTLS\r\n250-AUTH LOGIN PLAIN\r\n250 8BITMIME\r\n");
            } else {
                say!(b"250-test\r\n250-AUTH LOGIN PLAIN\r\n250 8BITMIME\r\n");
            }
        } else if upper == "STARTTLS" && offer_tls {
            say!(b"220 go ahead\r\n");
            return Ok(Some(r.into_inner()));
        } else if upper.starts_with("AUTH PLAIN") {
            let given = if let Some(g) = cmd.split_whitespace().nth(2) {
                g.to_owned()
            } else {
                say!(b"334 \r\n");
                line.clear();
                r.read_line(&mut line)?;
                line.trim_end().to_owned()
            };
            auths.lock().unwrap().push(given.clone());
            if decode_ok(&given, pw) {
                say!(b"235 ok\r\n");
            } else {
                say!(b"535 5.7.8 authentication failed\r\n");
            }
        } else if upper.starts_with("AUTH LOGIN") {
            say!(b"334 VXNlcm5hbWU6\r\n");
            line.clear();
            r.read_line(&mut line)?;
            say!(b"334 UGFzc3dvcmQ6\r\n");
            line.clear();
            r.read_line(&mut line)?;
            let given = line.trim_end().to_owned();
            auths.lock().unwrap().push(given.clone());
            if given == b64(pw) {
                say!(b"235 ok\r\n");
            } else {
                say!(b"535 5.7.8 authentication failed\r\n");
            }
        } else if upper.starts_with("MAIL FROM")
            || upper.starts_with("RCPT TO")
            || upper.starts_with("RSET")
            || upper.starts_with("NOOP")
        {
            say!(b"250 ok\r\n");
        } else if upper == "DATA" {
            say!(b"354 go\r\n");
            let mut body = String::new();
            loop {
                line.clear();
                if r.read_line(&mut line)? == 0 {
                    return Ok(None);
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                body.push_str(&line);
            }
            msgs.lock().unwrap().push(body);
            say!(b"250 queued\r\n");
        } else if upper == "QUIT" {
            say!(b"221 bye\r\n");
            return Ok(None);
        } else {
            say!(b"502 no\r\n");
        }
    }
}

fn decode_ok(given: &str, pw: &str) -> bool {
    // AUTH PLAIN is base64("\0user\0password"): compare the tail.
    let want_suffix = format!("\0{pw}");
    let decoded = decode(given);
    decoded.ends_with(want_suffix.as_bytes())
}

fn decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    };
    let mut out = Vec::new();
    let bytes: Vec<u8> = s.bytes().filter(|c| *c != b'=').collect();
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= val(*c).unwrap_or(0) << (18 - 6 * i);
        }
        for i in 0..chunk.len().saturating_sub(1) {
            out.push(((n >> (16 - 8 * i)) & 0xff) as u8);
        }
    }
    out
}
