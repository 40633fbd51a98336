//! The web client in a real browser: Debian's Chromium driven by Playwright (Python), against
//! real servers on throwaway databases: registration open, registration closed, one with a
//! single sign-on provider (a real OpenID provider, node-oidc-provider, as the API tests start
//! it) on a `localhost` public URL (passkeys need a domain), and one under
//! `DOCKET_REQUIRE_2FA=all`.
//!
//! What is missing is installed first, as the benchmark's runner does: `apt-get install
//! chromium` when running as root, a virtualenv under `target/web-tests/venv` with the pinned
//! `playwright` of `tests/web/requirements.txt` (its browser download is never used), and
//! `axe-core` from npm under `target/web-tests/node_modules`. Screenshots land in
//! `target/screenshots/`, the measured budgets and axe results in
//! `target/web-report.json`.
//!
//! `DOCKET_SKIP_BROWSER_TESTS=1` skips this test (it says so); `DOCKET_WEB_ONLY=<part of a test
//! name>[,<another>…]` runs only matching browser tests.

#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;
// Only the logging start and the URL are used here.
#[allow(dead_code)]
#[path = "../api/smtp.rs"]
mod smtp;

use std::path::{Path, PathBuf};
use std::process::Command;

const AXE_CORE: &str = "axe-core@4.14.1";
const SSO_SECRET: &str = "a-client-secret-for-browser-tests";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

fn run(command: &mut Command, what: &str) {
    let status = command.status().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(status.success(), "{what} failed ({status})");
}

fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return PathBuf::from(path);
    }
    let path = PathBuf::from("/usr/bin/chromium");
    if !path.exists() {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let root_user = unsafe { libc::geteuid() } == 0;
        assert!(
            root_user,
            "Chromium is missing: run `apt-get install -y chromium` (or set CHROMIUM), or skip \
             these tests with DOCKET_SKIP_BROWSER_TESTS=1"
        );
        eprintln!("installing chromium from Debian's packages");
        let install = || {
            Command::new("apt-get")
                .args(["install", "-y", "--no-install-recommends", "chromium"])
                .env("DEBIAN_FRONTEND", "noninteractive")
                .status()
                .is_ok_and(|s| s.success())
        };
        if !install() {
            run(Command::new("apt-get").arg("update"), "apt-get update");
            assert!(install(), "apt-get install chromium failed");
        }
    }
    path
}

/// The virtualenv with Playwright; rebuilt when `requirements.txt` changes.
fn python(work: &Path) -> PathBuf {
    let venv = work.join("venv");
    let python = venv.join("bin/python");
    let requirements = root().join("tests/web/requirements.txt");
    let wanted = std::fs::read_to_string(&requirements).unwrap();
    let stamp = venv.join("requirements.installed");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) {
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
            "pip install -r tests/web/requirements.txt",
        );
        std::fs::write(&stamp, wanted).unwrap();
    }
    python
}

fn axe(work: &Path) -> PathBuf {
    let axe = work.join("node_modules/axe-core/axe.min.js");
    if !axe.exists() {
        eprintln!("installing {AXE_CORE} from npm");
        run(
            Command::new("npm")
                .args([
                    "install",
                    "--no-save",
                    "--no-audit",
                    "--no-fund",
                    "--prefix",
                ])
                .arg(work)
                .arg(AXE_CORE),
            "npm install axe-core",
        );
    }
    axe
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_client_works_in_chromium() {
    if std::env::var_os("DOCKET_SKIP_BROWSER_TESTS").is_some() {
        eprintln!("skipped: DOCKET_SKIP_BROWSER_TESTS is set");
        return;
    }
    let work = target_dir().join("web-tests");
    std::fs::create_dir_all(&work).unwrap();
    let chromium = chromium();
    let python = python(&work);
    let axe = axe(&work);

    // Email from the open server goes to a real SMTP server; the script reads the links in
    // the messages it logs (forgot password, invitations).
    let mail_log = work.join("mail.jsonl");
    let _ = std::fs::remove_file(&mail_log);
    let smtp = smtp::SmtpServer::start_logging(Some(mail_log.clone())).await;
    let smtp_url = smtp.url.clone();
    let open = helpers::TestApp::build()
        .config(move |args| {
            args.smtp_url = Some(smtp_url);
            // The webhooks page's receiver listens on loopback, in the script.
            args.webhook_allow_private = Some("true".to_owned());
            // The suite creates a 1,000-task project through the API, from one user.
            args.rate_limit_per_minute = Some("100000".to_owned());
            // No GitHub here: a link fails quickly and says why.
            args.github_api_url = Some("http://127.0.0.1:9".to_owned());
        })
        .spawn()
        .await;
    let closed = helpers::TestApp::build()
        .config(|args| args.registration = Some("closed".to_owned()))
        .spawn()
        .await;

    // Single sign-on and passkeys: the public URL names `localhost` (a relying party must be
    // a domain), on a port known before the server starts so that the provider can learn the
    // redirect URI.
    let provider = helpers::OidcProvider::start(helpers::ProviderStyle {
        slash: false,
        conform: true,
    });
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sso_url = format!("http://localhost:{port}");
    provider
        .register_client(
            "docket-web",
            SSO_SECRET,
            &format!("{sso_url}/api/v1/auth/oidc/acme/callback"),
        )
        .await;
    let sso = helpers::TestApp::build()
        .config(|args| {
            args.listen = Some(format!("127.0.0.1:{port}"));
            args.public_url = Some(sso_url.clone());
            args.oidc = [
                ("ISSUER", provider.issuer.as_str()),
                ("CLIENT_ID", "docket-web"),
                ("CLIENT_SECRET", SSO_SECRET),
                ("LABEL", "Acme SSO"),
                ("CREATE_USERS", "true"),
            ]
            .iter()
            .map(|(k, v)| (format!("DOCKET_OIDC_ACME_{k}"), (*v).to_owned()))
            .collect();
        })
        .spawn()
        .await;
    let strict = helpers::TestApp::build()
        .config(|args| args.require_2fa = Some("all".to_owned()))
        .spawn()
        .await;

    let out = target_dir();
    let status = tokio::process::Command::new(&python)
        .arg(root().join("tests/web/e2e.py"))
        .arg(&open.address)
        .arg(&closed.address)
        .arg(&out)
        .arg(&axe)
        .env("CHROMIUM", &chromium)
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
        .env("DOCKET_E2E_SSO", &sso_url)
        .env("DOCKET_E2E_PROVIDER", &provider.base)
        .env("DOCKET_E2E_STRICT", &strict.address)
        .env("DOCKET_E2E_MAIL", &mail_log)
        .status()
        .await
        .expect("the browser tests start");
    open.stop().await;
    closed.stop().await;
    sso.stop().await;
    strict.stop().await;
    assert!(
        status.success(),
        "browser tests failed; see the output above and target/screenshots/FAILED-*.png"
    );
}
