//! A real SMTP server for tests: `aiosmtpd` from PyPI in a virtualenv the API tests make
//! themselves, started per test, printing every message it accepts (decoded) as a JSON line.
//! Shared by the API suite (email, invitations, webhooks) and the browser suite.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The virtualenv the email and webhook tests share (a real SMTP server, the independent
/// webhook verifier), under `target/api-tests/venv`; made once per test run, and again when
/// `tests/api/requirements.txt` changes.
pub fn python() -> std::path::PathBuf {
    static PYTHON: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    PYTHON.get_or_init(make_venv).clone()
}

fn make_venv() -> std::path::PathBuf {
    use std::process::Command;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let venv = root.join("target/api-tests/venv");
    let python = venv.join("bin/python");
    let requirements = root.join("tests/api/requirements.txt");
    let wanted = std::fs::read_to_string(&requirements).unwrap();
    let stamp = venv.join("requirements.installed");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) {
        eprintln!("creating {} with {}", venv.display(), wanted.trim());
        let _ = std::fs::remove_dir_all(&venv);
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status();
        assert!(
            made.is_ok_and(|s| s.success()),
            "python3 -m venv (Debian: apt-get install python3-venv)"
        );
        let installed = Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "-r"])
            .arg(&requirements)
            .status();
        assert!(
            installed.is_ok_and(|s| s.success()),
            "pip install -r tests/api/requirements.txt"
        );
        std::fs::write(&stamp, wanted).unwrap();
    }
    python
}

const SMTP_SERVER: &str = r#"
import email, json, sys, threading
from email import policy
from aiosmtpd.controller import Controller
class Print:
    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=policy.default)
        print(json.dumps({
            "to": envelope.rcpt_tos,
            "subject": msg["subject"],
            "text": msg.get_body(preferencelist=("plain",)).get_content(),
            "html": msg.get_body(preferencelist=("html",)).get_content(),
            "list_unsubscribe": msg["List-Unsubscribe"],
            "list_unsubscribe_post": msg["List-Unsubscribe-Post"],
        }), flush=True)
        return "250 OK"
controller = Controller(Print(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
print("ready", flush=True)
threading.Event().wait()
"#;

/// A real SMTP server on a loopback port, and what it received.
pub struct SmtpServer {
    pub url: String,
    received: Arc<Mutex<Vec<Value>>>,
    _child: tokio::process::Child,
}

impl SmtpServer {
    pub async fn start() -> Self {
        Self::start_logging(None).await
    }

    /// `start`, also appending each message's JSON line to `log` (the browser tests' script
    /// reads the links there).
    pub async fn start_logging(log: Option<std::path::PathBuf>) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = tokio::process::Command::new(python())
            .args(["-c", SMTP_SERVER, &port.to_string()])
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(
            child.stdout.take().unwrap(),
        ));
        let ready = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("aiosmtpd started")
            .unwrap();
        assert_eq!(ready.as_deref(), Some("ready"));
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = received.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(log) = &log {
                    use std::io::Write;
                    let mut file = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(log)
                        .unwrap();
                    writeln!(file, "{line}").unwrap();
                }
                sink.lock()
                    .unwrap()
                    .push(serde_json::from_str(&line).unwrap());
            }
        });
        Self {
            url: format!("smtp://127.0.0.1:{port}"),
            received,
            _child: child,
        }
    }

    pub fn received(&self) -> Vec<Value> {
        self.received.lock().unwrap().clone()
    }

    /// Waits (up to 20 s) for the `n`th message.
    pub async fn wait_for(&self, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let received = self.received();
            if received.len() >= n {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} emails",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
