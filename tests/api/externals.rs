//! Independent implementations the tests check Docket against, installed under `target/` on
//! first use (as the browser suite installs Playwright and axe): a real OpenID provider
//! (`oidc-provider` from npm, pinned by `tests/oidc/package-lock.json`, run by
//! `tests/oidc/provider.mjs`) and `pyotp` from PyPI (pinned in `tests/api/requirements.txt`).

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

use serde_json::{json, Value};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

fn run(command: &mut Command, what: &str) {
    let status = command.status().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(status.success(), "{what} failed ({status})");
}

/// Runs `install` unless `stamp` already holds `wanted` (then the work was done before).
fn once_per_content(stamp: &Path, wanted: &str, install: impl FnOnce()) {
    static LOCK: Mutex<()> = Mutex::new(());
    let _one_at_a_time = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if std::fs::read_to_string(stamp).ok().as_deref() == Some(wanted) {
        return;
    }
    install();
    std::fs::write(stamp, wanted).unwrap();
}

/// `target/oidc-provider` with oidc-provider installed from the lock file (`npm ci`).
fn oidc_provider_dir() -> PathBuf {
    let dir = target_dir().join("oidc-provider");
    std::fs::create_dir_all(&dir).unwrap();
    let source = root().join("tests/oidc");
    let lock = std::fs::read_to_string(source.join("package-lock.json")).unwrap();
    once_per_content(&dir.join("installed.stamp"), &lock, || {
        for file in ["package.json", "package-lock.json"] {
            std::fs::copy(source.join(file), dir.join(file)).unwrap();
        }
        eprintln!("installing oidc-provider into {}", dir.display());
        run(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&dir),
            "npm ci (tests/oidc)",
        );
    });
    // The script sits beside its node_modules so that its imports resolve.
    std::fs::copy(source.join("provider.mjs"), dir.join("provider.mjs")).unwrap();
    dir
}

/// A real OpenID provider on loopback (see `tests/oidc/provider.mjs`). It stops by itself when
/// the test process ends.
pub struct OidcProvider {
    /// The issuer it publishes (with a trailing slash when started `slash`).
    pub issuer: String,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    http: reqwest::Client,
}

/// How a provider publishes itself.
#[derive(Clone, Copy, Debug)]
pub struct ProviderStyle {
    /// The issuer ends with `/` (as Auth0's and Authentik's do; Keycloak's and Google's do not).
    pub slash: bool,
    /// ID tokens of the code flow carry only `sub`; the email comes from UserInfo.
    pub conform: bool,
}

impl OidcProvider {
    pub fn start(style: ProviderStyle) -> OidcProvider {
        let dir = oidc_provider_dir();
        let options = json!({
            "slash": style.slash,
            "conform": style.conform,
            "parent": std::process::id(),
        });
        let mut child = Command::new("node")
            .arg(dir.join("provider.mjs"))
            .arg(options.to_string())
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node starts (Debian: apt-get install nodejs)");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let ready: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("the provider did not start ({e}): {line:?}"));
        // The child is not waited for: it exits when this process does (it watches its parent).
        std::mem::forget(child);
        OidcProvider {
            issuer: ready["issuer"].as_str().unwrap().to_owned(),
            base: ready["base"].as_str().unwrap().to_owned(),
            http: reqwest::Client::new(),
        }
    }

    /// One provider of each style, shared by the tests of this run (each test registers its
    /// own client, so they do not meet).
    pub fn shared(style: ProviderStyle) -> &'static OidcProvider {
        static SLASH: OnceLock<OidcProvider> = OnceLock::new();
        static PLAIN: OnceLock<OidcProvider> = OnceLock::new();
        let cell = if style.slash { &SLASH } else { &PLAIN };
        cell.get_or_init(|| OidcProvider::start(style))
    }

    async fn put(&self, path: &str, body: Value) {
        let response = self
            .http
            .put(format!("{}/__test/{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{path}: {response:?}");
    }

    /// Registers a client (a Docket instance) with its redirect URI.
    pub async fn register_client(&self, client_id: &str, secret: &str, redirect_uri: &str) {
        self.put(
            &format!("clients/{client_id}"),
            json!({"secret": secret, "redirect_uris": [redirect_uri]}),
        )
        .await;
    }

    /// Who a login name is at the provider (unknown names: their own email, verified).
    pub async fn set_account(&self, login: &str, email: &str, verified: bool, name: &str) {
        self.put(
            &format!("accounts/{login}"),
            json!({"email": email, "email_verified": verified, "name": name}),
        )
        .await;
    }

    /// From now on the ID tokens issued to `client_id` are re-signed with the provider's own key
    /// but with a wrong audience (`"aud"`) or an expiry in the past (`"exp"`); `None` stops it.
    pub async fn tamper(&self, client_id: &str, mode: Option<&str>) {
        self.put(&format!("tamper/{client_id}"), json!({ "mode": mode }))
            .await;
    }

    /// The provider replaces its signing key with a new one (a new `kid`; the old key is gone).
    pub async fn rotate_keys(&self) {
        let response = self
            .http
            .post(format!("{}/__test/rotate", self.base))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }

    /// Requests the provider served: `{client_id: {route: n}}`, `"-"` for those without a
    /// client (discovery, keys).
    pub async fn counts(&self) -> Value {
        self.http
            .get(format!("{}/__test/counts", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// TOTP codes from an independent implementation: pyotp, from PyPI, in a virtualenv under
/// `target/api-tests/venv`.
pub struct Pyotp {
    python: PathBuf,
}

impl Pyotp {
    pub fn get() -> &'static Pyotp {
        static PYOTP: OnceLock<Pyotp> = OnceLock::new();
        PYOTP.get_or_init(|| {
            let work = target_dir().join("api-tests");
            std::fs::create_dir_all(&work).unwrap();
            let venv = work.join("venv");
            let python = venv.join("bin/python");
            let requirements = root().join("tests/api/requirements.txt");
            let wanted = std::fs::read_to_string(&requirements).unwrap();
            once_per_content(&work.join("venv.stamp"), &wanted, || {
                eprintln!("creating {} with {}", venv.display(), wanted.trim());
                let _ = std::fs::remove_dir_all(&venv);
                run(
                    Command::new("python3").args(["-m", "venv"]).arg(&venv),
                    "python3 -m venv (Debian: apt-get install python3-venv)",
                );
                run(
                    Command::new(&python)
                        .args(["-m", "pip", "install", "--quiet", "-r"])
                        .arg(&requirements),
                    "pip install -r tests/api/requirements.txt",
                );
            });
            Pyotp { python }
        })
    }

    fn python(&self, program: &str, args: &[&str]) -> String {
        let output = Command::new(&self.python)
            .arg("-c")
            .arg(program)
            .args(args)
            .output()
            .expect("python runs");
        assert!(
            output.status.success(),
            "pyotp: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    }

    /// The code of a base32 secret `offset_secs` from now.
    pub fn code(&self, secret: &str, offset_secs: i64) -> String {
        self.python(
            "import pyotp, sys, time; \
             print(pyotp.TOTP(sys.argv[1]).at(int(time.time()) + int(sys.argv[2])))",
            &[secret, &offset_secs.to_string()],
        )
    }

    /// The secret, issuer and account an otpauth URL holds, as pyotp reads it.
    pub fn parse_uri(&self, url: &str) -> Value {
        let text = self.python(
            "import json, pyotp, sys; t = pyotp.parse_uri(sys.argv[1]); \
             print(json.dumps({'secret': t.secret, 'issuer': t.issuer, 'name': t.name, \
                               'digits': t.digits, 'interval': t.interval, \
                               'digest': t.digest().name}))",
            &[url],
        );
        serde_json::from_str(&text).unwrap()
    }
}

/// An iCalendar text as the `icalendar` package from PyPI (an independent RFC 5545 parser,
/// pinned in `tests/api/requirements.txt`) reads it: every `VEVENT` and `VTODO` with the
/// properties the feed writes (dates as ISO text; `"date": true` when a DATE), and the parse
/// problems it noted (`errors`, per component).
pub fn parse_calendar(text: &str) -> Value {
    use std::io::Write;
    const PROGRAM: &str = r#"
import json, sys
import icalendar
raw = sys.stdin.buffer.read()
cal = icalendar.Calendar.from_ical(raw)
def when(component, key):
    prop = component.get(key)
    if prop is None:
        return None
    value = prop.dt
    return {"value": value.isoformat(), "date": not hasattr(value, "hour"),
            "utc": getattr(value, "tzinfo", None) is not None and value.utcoffset().total_seconds() == 0,
            "floating": hasattr(value, "hour") and value.tzinfo is None}
out = {"version": str(cal.get("VERSION")), "prodid": str(cal.get("PRODID")),
       "errors": [list(e) for e in cal.errors], "components": []}
for c in cal.subcomponents:
    rrule = c.get("RRULE")
    out["components"].append({
        "kind": c.name, "uid": str(c.get("UID")), "summary": str(c.get("SUMMARY")),
        "url": str(c.get("URL")), "status": str(c.get("STATUS")) if c.get("STATUS") else None,
        "dtstart": when(c, "DTSTART"), "dtend": when(c, "DTEND"), "due": when(c, "DUE"),
        "dtstamp": when(c, "DTSTAMP"), "last_modified": when(c, "LAST-MODIFIED"),
        "completed": when(c, "COMPLETED"),
        "rrule": rrule.to_ical().decode() if rrule is not None else None,
        "errors": [list(e) for e in c.errors]})
print(json.dumps(out))
"#;
    let python = &Pyotp::get().python;
    let mut child = Command::new(python)
        .arg("-c")
        .arg(PROGRAM)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "icalendar: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}
