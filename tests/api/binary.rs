//! The real `docket` binary: configuration errors, the embedded cluster's life cycle
//! (start, second instance, SIGTERM, restart, kill -9), a database that goes away and comes
//! back, and what the logs never contain.

use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use docket::db::embedded::{Durability, EmbeddedPostgres};
use serde_json::{json, Value};

use crate::helpers::*;

/// The `docket` executable: this build's, or another one named by `DOCKET_TEST_BIN`
/// (bench/faults.sh runs the fault suite against a release build).
fn binary() -> String {
    std::env::var("DOCKET_TEST_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_docket").to_owned())
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(crate) fn docket(args: &[&str]) -> Command {
    let mut command = Command::new(binary());
    command.args(args).env_clear().env(
        "PATH",
        std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into()),
    );
    command
}

pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) port: u16,
    /// Standard output, drained continuously (an undrained pipe would fill up).
    pub(crate) output: std::sync::Arc<std::sync::Mutex<String>>,
}

fn drain(mut stdout: std::process::ChildStdout) -> std::sync::Arc<std::sync::Mutex<String>> {
    let output = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = output.clone();
    std::thread::spawn(move || {
        let mut buffer = [0u8; 8192];
        while let Ok(n) = stdout.read(&mut buffer) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buffer[..n]));
        }
    });
    output
}

impl Server {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub(crate) fn signal(&self, signal: i32) {
        unsafe { libc::kill(self.child.id() as i32, signal) };
    }

    /// Waits for exit and returns (exit code, stdout).
    pub(crate) fn wait(mut self, within: Duration) -> (Option<i32>, String) {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Give the drain thread a moment to read the last lines.
                std::thread::sleep(Duration::from_millis(100));
                let out = self.output.lock().unwrap().clone();
                let mut err = String::new();
                if let Some(mut stderr) = self.child.stderr.take() {
                    stderr.read_to_string(&mut err).unwrap();
                }
                if status.code() != Some(0) {
                    eprintln!("docket exited with {status}; stderr:\n{err}");
                }
                return (status.code(), out);
            }
            if started.elapsed() > within {
                let _ = self.child.kill();
                let out = self.output.lock().unwrap().clone();
                let tail: Vec<&str> = out.lines().rev().take(15).collect();
                panic!(
                    "docket did not exit in {within:?}; last log lines, newest first:\n{}",
                    tail.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(envs: &[(&str, &str)]) -> Server {
    start_on(free_port(), envs)
}

/// `docket serve` on `port` (a restarted server takes its predecessor's).
pub(crate) fn start_on(port: u16, envs: &[(&str, &str)]) -> Server {
    let mut command = docket(&["serve"]);
    command
        .env("DOCKET_LISTEN", format!("127.0.0.1:{port}"))
        .env("DOCKET_LOG_FORMAT", "json")
        .env("DOCKET_SHUTDOWN_GRACE_S", "5")
        .envs(envs.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let output = drain(child.stdout.take().unwrap());
    Server {
        child,
        port,
        output,
    }
}

pub(crate) async fn wait_status(url: &str, status: u16, within: Duration) -> Duration {
    let started = Instant::now();
    let client = reqwest::Client::new();
    loop {
        if let Ok(response) = client.get(url).send().await {
            if response.status().as_u16() == status {
                return started.elapsed();
            }
        }
        assert!(
            started.elapsed() < within,
            "{url} did not answer {status} in {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[test]
fn check_config_lists_every_problem() {
    let output = docket(&["check-config"])
        .env("DOCKET_LISTEN", "not-an-address")
        .env("DOCKET_JWT_SECRET", "too-short")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("DOCKET_LISTEN"), "{stderr}");
    assert!(stderr.contains("DOCKET_JWT_SECRET"), "{stderr}");
    assert!(
        !stderr.contains("too-short"),
        "the secret is not echoed: {stderr}"
    );

    let output = docket(&["check-config", "--listen", "127.0.0.1:9999"])
        .env(
            "DOCKET_JWT_SECRET",
            "a-long-enough-secret-for-hs256-0123456789",
        )
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("DOCKET_LISTEN=127.0.0.1:9999"),
        "flags win: {stdout}"
    );
    assert!(stdout.contains("DOCKET_JWT_SECRET=[redacted]"));
    assert!(!stdout.contains("a-long-enough-secret"));
}

#[test]
fn serve_refuses_a_bad_configuration_with_exit_1() {
    let output = docket(&["serve"])
        .env("DATABASE_URL", "postgres://localhost/x")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("DOCKET_JWT_SECRET") && stderr.contains("DOCKET_ENCRYPTION_KEY"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_embedded_cluster_starts_stops_and_recovers() {
    let data = scratch_dir("docket-embedded");
    let data_dir = data.join("data");
    let data_str = data_dir.to_str().unwrap().to_owned();
    let envs = [("DOCKET_DATA_DIR", data_str.as_str())];

    // First start: initdb, secrets generated and kept.
    let server = start(&envs);
    let first = wait_status(&server.url("/readyz"), 200, Duration::from_secs(60)).await;
    let secret_file = data_dir.join("secrets/jwt_secret");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&secret_file)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let secret = std::fs::read_to_string(&secret_file).unwrap();

    // A second docket on the same data dir fails clearly.
    let second = docket(&["serve"])
        .env("DOCKET_DATA_DIR", &data_str)
        .env("DOCKET_LISTEN", format!("127.0.0.1:{}", free_port()))
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&second.stderr).contains("already running"));

    // SIGTERM: exit 0 and the cluster is stopped.
    server.signal(libc::SIGTERM);
    let (code, _) = server.wait(Duration::from_secs(20));
    assert_eq!(code, Some(0));
    let postgres = EmbeddedPostgres::locate(&data_dir).unwrap();
    assert!(!postgres.is_running(), "the cluster stops with the server");

    // Warm start: quick, same secret.
    let server = start(&envs);
    let warm = wait_status(&server.url("/readyz"), 200, Duration::from_secs(30)).await;
    assert_eq!(std::fs::read_to_string(&secret_file).unwrap(), secret);
    eprintln!("first start {first:?}, warm start {warm:?}");
    assert!(warm < Duration::from_secs(5), "warm start took {warm:?}");

    // kill -9 of docket: the next start recovers (adopting or restarting the cluster).
    server.signal(libc::SIGKILL);
    let _ = server.wait(Duration::from_secs(5));
    let server = start(&envs);
    wait_status(&server.url("/readyz"), 200, Duration::from_secs(30)).await;

    // kill -9 of the postmaster it adopted (a pidfd tells it, no exit status): started again.
    let adopted = postgres.postmaster_pid().expect("a running postmaster");
    postgres.kill_hard();
    let restarted = wait_for_new_postmaster(&postgres, adopted, Duration::from_secs(30)).await;
    wait_status(&server.url("/readyz"), 200, Duration::from_secs(30)).await;
    wait_status(&server.url("/healthz"), 200, Duration::from_secs(1)).await;
    // The pool can reach the new postmaster a poll before the supervisor sees it ready; a kill
    // in between is a failed start, not a second exit.
    wait_until_postgres_up(&server).await;

    // And again, now its own child: exit status read, started again; SIGTERM still exits 0.
    postgres.kill_hard();
    wait_for_new_postmaster(&postgres, restarted, Duration::from_secs(30)).await;
    wait_status(&server.url("/readyz"), 200, Duration::from_secs(30)).await;
    server.signal(libc::SIGTERM);
    let (code, logs) = server.wait(Duration::from_secs(20));
    assert_eq!(code, Some(0), "{logs}");
    assert!(!postgres.is_running(), "the cluster stops with the server");
    let changes: Vec<&str> = logs
        .lines()
        .filter(|line| line.contains("the embedded PostgreSQL") && !line.contains("adopting"))
        .collect();
    assert_eq!(
        changes.len(),
        4,
        "one line per change of state (exited, running again, twice): {changes:#?}"
    );
    assert!(changes[2].contains("SIGKILL"), "{}", changes[2]);
    let server = start(&envs);
    wait_status(&server.url("/readyz"), 200, Duration::from_secs(30)).await;

    // Admin commands work beside a running server; db url names the socket.
    let mut create = docket(&[
        "admin",
        "create-user",
        "--email",
        "root@example.com",
        "--admin",
    ])
    .env("DOCKET_DATA_DIR", &data_str)
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    use std::io::Write;
    create
        .stdin
        .take()
        .unwrap()
        .write_all(b"a long admin passphrase\n")
        .unwrap();
    let output = create.wait_with_output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let login = reqwest::Client::new()
        .post(server.url("/api/v1/auth/token"))
        .json(&json!({"grant_type": "password", "email": "root@example.com", "password": "a long admin passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let url = docket(&["db", "url"])
        .env("DOCKET_DATA_DIR", &data_str)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&url.stdout).contains("host="));

    server.signal(libc::SIGTERM);
    let (code, _) = server.wait(Duration::from_secs(20));
    assert_eq!(code, Some(0));
    let _ = std::fs::remove_dir_all(&data);
}

/// Waits until the server's supervisor counts the embedded PostgreSQL as running.
async fn wait_until_postgres_up(server: &Server) {
    let started = Instant::now();
    loop {
        let metrics = reqwest::get(server.url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metrics
            .lines()
            .any(|line| line == "docket_embedded_postgres_up 1")
        {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the supervisor never saw the postmaster ready: {metrics}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Waits until a postmaster other than `old` runs the cluster; returns its pid.
pub(crate) async fn wait_for_new_postmaster(
    postgres: &EmbeddedPostgres,
    old: i32,
    within: Duration,
) -> i32 {
    let started = Instant::now();
    loop {
        if let Some(pid) = postgres.postmaster_pid().filter(|pid| *pid != old) {
            return pid;
        }
        assert!(
            started.elapsed() < within,
            "no new postmaster within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A private cluster for tests that stop and start the database under a running server.
pub(crate) fn private_cluster(dir: &Path) -> EmbeddedPostgres {
    let postgres = EmbeddedPostgres::locate(dir).unwrap();
    postgres.ensure_initialized(Durability::Throwaway).unwrap();
    postgres.start().unwrap();
    postgres
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_that_goes_away_gives_503_and_recovery_needs_no_restart() {
    let dir = scratch_dir("docket-dbdown");
    let postgres = private_cluster(&dir);
    postgres.ensure_database("docket").await.unwrap();
    let url = postgres.url("docket");

    let app = TestApp::build()
        .on(&url)
        .config(|args| {
            args.db_acquire_timeout_ms = Some("500".into());
        })
        .spawn()
        .await;
    let user = app.new_client().await;

    let pg = postgres.clone();
    tokio::task::spawn_blocking(move || pg.stop().unwrap())
        .await
        .unwrap();
    let started = Instant::now();
    let response = user.get("/api/v1/me").await;
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(response.headers().contains_key("retry-after"));
    response.problem(503, "unavailable");
    let ready = app.anon().get("/readyz").await;
    assert_eq!(ready.status(), 503);
    let health = app.anon().get("/healthz").await;
    assert_eq!(health.status(), 200);

    let pg = postgres.clone();
    tokio::task::spawn_blocking(move || pg.start().unwrap())
        .await
        .unwrap();
    let mut recovered = false;
    for _ in 0..50 {
        let response = user.get("/api/v1/me").await;
        if response.status() == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        recovered,
        "requests succeed again once the database is back"
    );
    app.stop().await;
    postgres.kill();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_down_at_start_up_delays_readiness_instead_of_crashing() {
    let dir = scratch_dir("docket-dblate");
    let postgres = private_cluster(&dir);
    postgres.ensure_database("docket").await.unwrap();
    let pg = postgres.clone();
    tokio::task::spawn_blocking(move || pg.stop().unwrap())
        .await
        .unwrap();

    let url = postgres.url("docket");
    let server = start(&[
        ("DATABASE_URL", url.as_str()),
        ("DOCKET_JWT_SECRET", JWT_SECRET),
        ("DOCKET_ENCRYPTION_KEY", ENCRYPTION_KEY),
    ]);
    wait_status(&server.url("/healthz"), 200, Duration::from_secs(10)).await;
    wait_status(&server.url("/readyz"), 503, Duration::from_secs(1)).await;
    let pg = postgres.clone();
    tokio::task::spawn_blocking(move || pg.start().unwrap())
        .await
        .unwrap();
    wait_status(&server.url("/readyz"), 200, Duration::from_secs(30)).await;
    server.signal(libc::SIGTERM);
    let (code, _) = server.wait(Duration::from_secs(10));
    assert_eq!(code, Some(0));
    postgres.kill();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_never_contain_passwords_tokens_or_cookies() {
    let url = create_test_database().await;
    let server = start(&[
        ("DATABASE_URL", url.as_str()),
        ("DOCKET_JWT_SECRET", JWT_SECRET),
        ("DOCKET_ENCRYPTION_KEY", ENCRYPTION_KEY),
        ("DOCKET_LOG", "debug"),
    ]);
    wait_status(&server.url("/readyz"), 200, Duration::from_secs(30)).await;
    let client = reqwest::Client::new();
    let password = "a very secret passphrase 42";
    let email = "logged@example.com";
    let response = client
        .post(server.url("/api/v1/auth/register"))
        .json(&json!({"email": email, "password": password, "name": "Log"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let tokens: Value = client
        .post(server.url("/api/v1/auth/token"))
        .json(&json!({"grant_type": "password", "email": email, "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let session = client
        .post(server.url("/api/v1/auth/session"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    let cookie = session.headers()["set-cookie"].to_str().unwrap().to_owned();
    let cookie_value = cookie
        .split(';')
        .next()
        .unwrap()
        .split('=')
        .nth(1)
        .unwrap()
        .to_owned();
    let csrf = session.json::<Value>().await.unwrap()["csrf_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let api_token: Value = client
        .post(server.url("/api/v1/me/tokens"))
        .bearer_auth(&access)
        .json(&json!({"name": "ci", "scopes": ["read"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let api_token = api_token["token"].as_str().unwrap().to_owned();
    client
        .get(server.url("/api/v1/me"))
        .bearer_auth(&api_token)
        .send()
        .await
        .unwrap();
    client
        .post(server.url("/api/v1/auth/token"))
        .json(&json!({"grant_type": "refresh_token", "refresh_token": refresh}))
        .send()
        .await
        .unwrap();
    client
        .post(server.url("/api/v1/auth/session"))
        .json(&json!({"email": email, "password": "wrong password here"}))
        .send()
        .await
        .unwrap();

    server.signal(libc::SIGTERM);
    let (code, logs) = server.wait(Duration::from_secs(10));
    assert_eq!(code, Some(0));
    assert!(
        logs.lines().count() >= 7,
        "one line per request at least:\n{logs}"
    );
    for line in logs.lines() {
        let parsed: Value = serde_json::from_str(line).expect("every log line is JSON");
        assert!(parsed.get("level").is_some());
    }
    for (name, secret) in [
        ("password", password),
        ("access token", &access),
        ("refresh token", &refresh),
        ("session cookie", &cookie_value),
        ("CSRF token", &csrf),
        ("API token", &api_token),
        ("JWT secret", JWT_SECRET),
        ("encryption key", ENCRYPTION_KEY),
    ] {
        let leaks: Vec<String> = logs
            .lines()
            .filter(|line| line.contains(secret))
            .map(|line| line.replace(secret, "<SECRET>"))
            .collect();
        assert!(
            leaks.is_empty(),
            "the {name} leaked into the logs: {leaks:?}"
        );
    }
    assert!(logs.contains("\"request_id\""));
    assert!(logs.contains("\"route\":\"/api/v1/me\""));
}

pub(crate) async fn register_and_login(base: &str, client: &reqwest::Client) -> String {
    let email = format!("u-{}@example.com", uuid::Uuid::now_v7().simple());
    let response = client
        .post(format!("{base}/api/v1/auth/register"))
        .json(&json!({"email": email, "password": PASSWORD, "name": "Load"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let tokens: Value = client
        .post(format!("{base}/api/v1/auth/token"))
        .json(&json!({"grant_type": "password", "email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    tokens["access_token"].as_str().unwrap().to_owned()
}

pub(crate) async fn create_project(
    base: &str,
    client: &reqwest::Client,
    token: &str,
    name: &str,
) -> String {
    let project: Value = client
        .post(format!("{base}/api/v1/projects"))
        .bearer_auth(token)
        .json(&json!({"name": name}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    project["id"].as_str().unwrap().to_owned()
}

fn external_envs(url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("DATABASE_URL", url.to_owned()),
        ("DOCKET_JWT_SECRET", JWT_SECRET.to_owned()),
        ("DOCKET_ENCRYPTION_KEY", ENCRYPTION_KEY.to_owned()),
        ("DOCKET_RATE_LIMIT_PER_MINUTE", "100000".to_owned()),
    ]
}

fn start_owned(envs: &[(&'static str, String)]) -> Server {
    let borrowed: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    start(&borrowed)
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_during_creates_loses_nothing_that_was_acknowledged() {
    let url = create_test_database().await;
    let envs = external_envs(&url);
    let server = start_owned(&envs);
    wait_status(&server.url("/readyz"), 200, Duration::from_secs(30)).await;
    let base = server.url("");
    let client = reqwest::Client::new();
    let token = register_and_login(&base, &client).await;
    let project_id = create_project(&base, &client, &token, "Crash").await;

    let writers = (0..8).map(|w| {
        let client = client.clone();
        let token = token.clone();
        let url = format!("{base}/api/v1/projects/{project_id}/tasks");
        tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for i in 0.. {
                let sent = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&json!({"title": format!("writer {w} task {i}")}))
                    .send()
                    .await;
                match sent {
                    Ok(response) if response.status() == 201 => {
                        let body: Result<Value, _> = response.json().await;
                        match body {
                            Ok(task) => acknowledged.push(task["id"].as_str().unwrap().to_owned()),
                            Err(_) => break,
                        }
                    }
                    Ok(response) => panic!("unexpected status {}", response.status()),
                    Err(_) => break,
                }
            }
            acknowledged
        })
    });
    let writers: Vec<_> = writers.collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.signal(libc::SIGKILL);
    let mut acknowledged = Vec::new();
    for writer in writers {
        acknowledged.extend(writer.await.unwrap());
    }
    let _ = server.wait(Duration::from_secs(5));
    assert!(
        acknowledged.len() > 10,
        "the load ran: {}",
        acknowledged.len()
    );

    let server = start_owned(&envs);
    wait_status(&server.url("/readyz"), 200, Duration::from_secs(30)).await;
    for id in &acknowledged {
        let response = client
            .get(server.url(&format!("/api/v1/tasks/{id}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            200,
            "acknowledged task {id} exists after the crash"
        );
    }
    let db = connect_db(&url).await;
    let row = &db
        .rows(
            "SELECT count(*), max(number) FROM tasks WHERE project_id = $1::uuid",
            &[&project_id.parse::<uuid::Uuid>().unwrap()],
        )
        .await[0];
    let (count, max): (i64, Option<i64>) = (row.get(0), row.get(1));
    assert_eq!(
        Some(count),
        max,
        "numbers are gap-free: nothing half-written"
    );
    eprintln!("{} acknowledged, {count} stored", acknowledged.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_under_load_finishes_requests_and_returns_a_running_job_to_the_queue() {
    // An upstream that never answers in time keeps the sync job running through shutdown.
    let slow = axum::Router::new().route(
        "/repos/{owner}/{repo}/issues",
        axum::routing::get(|| async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            "[]"
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, slow).await.unwrap() });

    let url = create_test_database().await;
    let mut envs = external_envs(&url);
    envs.push(("DOCKET_GITHUB_API_URL", upstream));
    envs.push(("DOCKET_SHUTDOWN_GRACE_S", "2".to_owned()));
    let server = start_owned(&envs);
    wait_status(&server.url("/readyz"), 200, Duration::from_secs(30)).await;
    let base = server.url("");
    let client = reqwest::Client::new();
    let token = register_and_login(&base, &client).await;
    let project_id = create_project(&base, &client, &token, "Drain").await;
    let linked = client
        .put(format!("{base}/api/v1/projects/{project_id}/github"))
        .bearer_auth(&token)
        .json(&json!({"repository": "octo/slow"}))
        .send()
        .await
        .unwrap();
    assert_eq!(linked.status(), 201);
    let db = connect_db(&url).await;
    let started = Instant::now();
    loop {
        let state: Option<String> = db
            .opt_scalar(
                "SELECT state FROM jobs WHERE kind = 'github_sync' LIMIT 1",
                &[],
            )
            .await;
        if state.as_deref() == Some("running") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the job starts"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let readers = (0..6).map(|_| {
        let client = client.clone();
        let token = token.clone();
        let url = format!("{base}/api/v1/me");
        tokio::spawn(async move {
            let mut statuses = Vec::new();
            loop {
                match client.get(&url).bearer_auth(&token).send().await {
                    Ok(response) => statuses.push(response.status().as_u16()),
                    Err(_) => return statuses,
                }
            }
        })
    });
    let readers: Vec<_> = readers.collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let signalled = Instant::now();
    server.signal(libc::SIGTERM);
    let (code, _) = server.wait(Duration::from_secs(10));
    let took = signalled.elapsed();
    assert_eq!(code, Some(0));
    assert!(
        took < Duration::from_secs(5),
        "exit within the grace period: {took:?}"
    );
    for reader in readers {
        let statuses = reader.await.unwrap();
        assert!(!statuses.is_empty());
        assert!(
            statuses.iter().all(|s| *s == 200),
            "no request failed: {statuses:?}"
        );
    }
    let row = &db
        .rows(
            "SELECT state, attempts FROM jobs WHERE kind = 'github_sync'",
            &[],
        )
        .await[0];
    let (state, attempts): (String, i32) = (row.get(0), row.get(1));
    assert_eq!(state, "queued", "the interrupted job is back in the queue");
    assert_eq!(attempts, 0, "an interrupted attempt does not count");
}
