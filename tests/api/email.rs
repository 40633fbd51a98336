//! Email (API.md §14) through a real SMTP server: `aiosmtpd` from PyPI, started per test, which
//! prints every message it accepts (decoded) as a JSON line. Password reset end to end.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::*;

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

async fn mailing_app(smtp: &SmtpServer) -> TestApp {
    let url = smtp.url.clone();
    TestApp::build()
        .config(move |args| args.smtp_url = Some(url))
        .spawn()
        .await
}

fn token_in(text: &str) -> String {
    let start = text.find("/reset?token=").expect("a reset link") + "/reset?token=".len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

const RESET: &str = "/api/v1/auth/password-reset";
const CONFIRM: &str = "/api/v1/auth/password-reset/confirm";

#[tokio::test]
async fn a_password_reset_goes_by_email_works_once_and_ends_every_login() {
    let smtp = SmtpServer::start().await;
    let app = mailing_app(&smtp).await;
    let user = app.new_user().await;
    let anon = app.anon();

    // An address nobody has gets the same answer and no email.
    let nobody = anon
        .post(RESET, json!({"email": "nobody@example.com"}))
        .await;
    assert_eq!(nobody.status(), 202);
    let asked = anon
        .post(RESET, json!({"email": user.email.to_uppercase()}))
        .await;
    assert_eq!(asked.status(), 202);
    let mail = smtp.wait_for(1).await.remove(0);
    assert_eq!(mail["to"], json!([user.email]));
    assert_eq!(mail["subject"], "Reset your Docket password");
    let text = mail["text"].as_str().unwrap();
    let token = token_in(text);
    assert_eq!(token.len(), 43);
    assert!(mail["html"].as_str().unwrap().contains(&token));
    assert!(text.starts_with("Hello "));
    // Only its hash is stored.
    let stored: i64 = app
        .db
        .scalar(
            "SELECT count(*) FROM password_resets WHERE token_hash = sha256($1::text::bytea)",
            &[&token],
        )
        .await;
    assert_eq!(stored, 1);
    // The queued email is sealed: the link is not readable in the queue either.
    let (queued, readable): (i64, i64) = (
        app.db
            .scalar("SELECT count(*) FROM jobs WHERE kind = 'email'", &[])
            .await,
        app.db
            .scalar(
                "SELECT count(*) FROM jobs WHERE strpos(payload::text, $1) > 0",
                &[&token],
            )
            .await,
    );
    assert_eq!((queued, readable), (1, 0));

    let short = anon
        .post(CONFIRM, json!({"token": token, "new_password": "short"}))
        .await;
    short.invalid_field("new_password");
    let confirmed = anon
        .post(
            CONFIRM,
            json!({"token": token, "new_password": "a brand new passphrase"}),
        )
        .await;
    assert_eq!(confirmed.status(), 204);
    // Used once: never again.
    anon.post(
        CONFIRM,
        json!({"token": token, "new_password": "another passphrase"}),
    )
    .await
    .invalid_field("token");
    // Every login of the user ended; the new password works, the old one does not.
    assert_eq!(app.refresh_grant(&user.refresh_token).await.status(), 401);
    assert_eq!(
        app.password_grant(&user.email, &user.password)
            .await
            .status(),
        401
    );
    assert_eq!(
        app.password_grant(&user.email, "a brand new passphrase")
            .await
            .status(),
        200
    );
    // Nothing was sent for the address nobody has.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(smtp.received().len(), 1);
}

#[tokio::test]
async fn an_expired_or_unknown_token_is_refused_and_changes_nothing() {
    let smtp = SmtpServer::start().await;
    let app = mailing_app(&smtp).await;
    let user = app.new_user().await;
    let anon = app.anon();
    assert_eq!(
        anon.post(RESET, json!({"email": user.email}))
            .await
            .status(),
        202
    );
    let token = token_in(smtp.wait_for(1).await[0]["text"].as_str().unwrap());
    app.db
        .execute(
            "UPDATE password_resets SET expires_at = now() - interval '1 second'",
            &[],
        )
        .await;
    for token in [token.as_str(), "not-a-token"] {
        anon.post(
            CONFIRM,
            json!({"token": token, "new_password": "a brand new passphrase"}),
        )
        .await
        .invalid_field("token");
    }
    assert_eq!(
        app.password_grant(&user.email, &user.password)
            .await
            .status(),
        200
    );
    anon.post(RESET, json!({"email": "not an address"}))
        .await
        .invalid_field("email");
}

#[tokio::test]
async fn without_smtp_a_reset_cannot_be_asked_for() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    app.anon()
        .post(RESET, json!({"email": user.email}))
        .await
        .problem(503, "unavailable");
}
