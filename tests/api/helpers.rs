//! The test harness: one throwaway PostgreSQL cluster per test run, a database per test cloned
//! from a migrated template, and the real server on a real socket.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use docket::config::{Config, ConfigArgs};
use docket::db::embedded::{Durability, EmbeddedPostgres};
use docket::github::client::ClientPolicy;
use docket::server::{AppState, Application, Tuning};
use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};
use tokio_postgres::types::{FromSqlOwned, ToSql};
use uuid::Uuid;

pub const PASSWORD: &str = "correct horse battery staple";
pub const JWT_SECRET: &str = "test-jwt-secret-0123456789abcdefghijklmnop";
pub const ENCRYPTION_KEY: &str = "test-encryption-key-0123456789abcdefghijk";
// The typed test client lives next door; it is part of the harness (`tests/web` includes this
// file by path, so the client comes with it).
#[path = "client.rs"]
mod client;
pub use client::*;
// The independent implementations some tests check against (an OpenID provider, pyotp).
#[path = "externals.rs"]
mod externals;
pub use externals::*;

const TEMPLATE: &str = "docket_template";

pub struct TestCluster {
    pub postgres: EmbeddedPostgres,
    /// The run's scratch directory (removed when the test process exits).
    pub dir: PathBuf,
}

/// The cluster shared by every test of this run, started on first use. A watcher process
/// stops it and removes its directory when the test process exits, however it exits.
pub fn cluster() -> &'static TestCluster {
    static CLUSTER: OnceLock<TestCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        std::thread::spawn(start_cluster)
            .join()
            .expect("the test cluster starts")
    })
}

fn scratch_root() -> PathBuf {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

/// A fresh directory that the postgres user can traverse.
pub fn scratch_dir(prefix: &str) -> PathBuf {
    let dir = scratch_root().join(format!("{prefix}-{}", Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn start_cluster() -> TestCluster {
    let dir = scratch_dir("docket-test");
    let postgres = EmbeddedPostgres::locate(&dir).expect("PostgreSQL server binaries");
    postgres
        .ensure_initialized(Durability::Throwaway)
        .expect("initdb");
    postgres.start().expect("the test cluster starts");
    let pid_file = postgres.cluster_dir().join("postmaster.pid");
    let script = format!(
        "while kill -0 {me} 2>/dev/null; do sleep 0.5; done; \
         kill -QUIT $(head -n1 '{pid}') 2>/dev/null; sleep 1; rm -rf '{dir}'",
        me = std::process::id(),
        pid = pid_file.display(),
        dir = dir.display()
    );
    // `setsid -f` forks the watcher into its own session and returns at once, so nothing is
    // left for this process to reap.
    let status = Command::new("setsid")
        .args(["-f", "sh", "-c", &script])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("the cluster watcher starts");
    assert!(status.success());

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let admin = docket::db::connect(&postgres.pg_config("postgres"))
            .await
            .unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE {TEMPLATE}"))
            .await
            .unwrap();
        migrate(&postgres.url(TEMPLATE)).await;
    });
    TestCluster { postgres, dir }
}

/// A fresh data dir for one test server (attachments of the local store land under it),
/// inside the run's scratch directory.
pub fn test_data_dir() -> PathBuf {
    let dir = cluster()
        .dir
        .join("data")
        .join(Uuid::now_v7().simple().to_string());
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A new database cloned from the migrated template; returns its URL.
pub async fn create_test_database() -> String {
    let cluster = cluster();
    let name = format!("test_{}", Uuid::now_v7().simple());
    let admin = docket::db::connect(&cluster.postgres.pg_config("postgres"))
        .await
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {TEMPLATE}"))
        .await
        .unwrap();
    cluster.postgres.url(&name)
}

/// The database name in a test cluster URL (`postgresql://user@localhost/NAME?host=…`), for
/// reaching the same database another way (a pooler, a proxy).
pub fn database_name(url: &str) -> String {
    url.split('/')
        .nth(3)
        .and_then(|rest| rest.split('?').next())
        .expect("a database name in the URL")
        .to_owned()
}

/// A new, empty database (no migrations); returns its URL.
pub async fn create_empty_database() -> String {
    let cluster = cluster();
    let name = format!("empty_{}", Uuid::now_v7().simple());
    let admin = docket::db::connect(&cluster.postgres.pg_config("postgres"))
        .await
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    cluster.postgres.url(&name)
}

/// Applies the embedded migrations to the database at `url`, as the server does.
pub async fn migrate(url: &str) {
    docket::db::migrations::migrate(&url.parse().unwrap())
        .await
        .unwrap();
}

/// A direct connection for tests that look into the database.
pub struct TestDb {
    client: tokio_postgres::Client,
}

pub async fn connect_db(url: &str) -> TestDb {
    let config: tokio_postgres::Config = url.parse().unwrap();
    TestDb {
        client: docket::db::connect(&config).await.unwrap(),
    }
}

impl TestDb {
    /// The first column of the one row the statement returns.
    pub async fn scalar<T: FromSqlOwned>(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> T {
        self.client
            .query_one(sql, params)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
            .get(0)
    }

    /// The first column of the row the statement returns, if it returns one.
    pub async fn opt_scalar<T: FromSqlOwned>(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Option<T> {
        self.client
            .query_opt(sql, params)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
            .map(|row| row.get(0))
    }

    pub async fn rows(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Vec<tokio_postgres::Row> {
        self.client
            .query(sql, params)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
    }

    pub async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> u64 {
        self.client
            .execute(sql, params)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
    }

    /// Runs a statement that may fail (the test is about the database refusing it).
    pub async fn try_execute(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, tokio_postgres::Error> {
        self.client.execute(sql, params).await
    }

    /// Runs statements without parameters (a script).
    pub async fn batch(&self, sql: &str) {
        self.client
            .batch_execute(sql)
            .await
            .unwrap_or_else(|e| panic!("batch: {e:?}"))
    }
}

pub fn base_args(database_url: &str) -> ConfigArgs {
    ConfigArgs {
        database_url: Some(database_url.to_owned()),
        listen: Some("127.0.0.1:0".to_owned()),
        jwt_secret: Some(JWT_SECRET.to_owned()),
        encryption_key: Some(ENCRYPTION_KEY.to_owned()),
        // Tests pose as many clients through X-Forwarded-For from a trusted loopback proxy.
        trusted_proxies: Some("127.0.0.1/32".to_owned()),
        log_format: Some("json".to_owned()),
        ..ConfigArgs::default()
    }
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub db: TestDb,
    pub state: AppState,
    pub database_url: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// A server on a fresh database with the defaults: what most tests need.
pub async fn spawn_app() -> TestApp {
    TestApp::build().spawn().await
}

type Customize<'a> = Box<dyn FnOnce(&mut ConfigArgs) + 'a>;

/// How a test server differs from the default: `TestApp::build()`, then any of `on` (an
/// existing database: a second instance, or one the test prepared), `config` (variables),
/// `routes` (extra routes for the test), `tuning` (timings), then `spawn()`.
pub struct AppBuilder<'a> {
    database_url: Option<String>,
    customize: Vec<Customize<'a>>,
    extra_routes: axum::Router<AppState>,
    tuning: Tuning,
    watch_disk: Option<PathBuf>,
}

impl TestApp {
    pub fn build<'a>() -> AppBuilder<'a> {
        AppBuilder {
            database_url: None,
            customize: Vec::new(),
            extra_routes: axum::Router::new(),
            tuning: fast_tuning(),
            watch_disk: None,
        }
    }
}

impl<'a> AppBuilder<'a> {
    pub fn on(mut self, database_url: &str) -> Self {
        self.database_url = Some(database_url.to_owned());
        self
    }

    pub fn config(mut self, customize: impl FnOnce(&mut ConfigArgs) + 'a) -> Self {
        self.customize.push(Box::new(customize));
        self
    }

    pub fn routes(mut self, routes: axum::Router<AppState>) -> Self {
        self.extra_routes = routes;
        self
    }

    pub fn tuning(mut self, tuning: Tuning) -> Self {
        self.tuning = tuning;
        self
    }

    /// Watches free space on the file system of `dir`, as the server does for its embedded
    /// cluster (with `DOCKET_MIN_FREE_DISK_MB`).
    pub fn watch_disk(mut self, dir: &Path) -> Self {
        self.watch_disk = Some(dir.to_path_buf());
        self
    }

    pub async fn spawn(self) -> TestApp {
        let database_url = match self.database_url {
            Some(url) => url,
            None => create_test_database().await,
        };
        let customize = self.customize;
        start_app(
            &database_url,
            move |args| customize.into_iter().for_each(|f| f(args)),
            self.extra_routes,
            self.tuning,
            self.watch_disk,
        )
        .await
    }
}

/// Short retry and backoff timings, so that failure paths run in test time.
pub fn fast_tuning() -> Tuning {
    Tuning {
        github: ClientPolicy {
            connect_timeout: Duration::from_millis(500),
            request_timeout: Duration::from_secs(2),
            max_attempts: 3,
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(200),
            max_total: Duration::from_secs(5),
            min_rate_limit_wait: Duration::from_secs(60),
            max_body_bytes: 1024 * 1024,
            breaker_threshold: 5,
            breaker_open_for: Duration::from_secs(2),
        },
        // Test builds hash slowly and tests register in parallel: waiting to hash is not what
        // they test (tests/api/abuse.rs tests the deadline itself).
        hash_start_deadline: Duration::from_secs(60),
        job_retry_base: Duration::from_millis(200),
        job_retry_cap: Duration::from_millis(500),
        events_heartbeat: Duration::from_millis(200),
        webhooks: docket::webhooks::Policy {
            schedule: vec![Duration::from_millis(200); 7],
            timeout: Duration::from_secs(2),
            concurrency: 2,
            ..docket::webhooks::Policy::default()
        },
        attachments: docket::attachments::Tuning {
            sweep_every: Duration::from_secs(1),
            orphan_after: Duration::from_secs(60),
            upload_limit: Duration::from_secs(30),
            // Tests share /dev/shm; only the full-disk test asks for a reserve.
            free_reserve: 0,
        },
        ..Tuning::default()
    }
}

async fn start_app(
    database_url: &str,
    customize: impl FnOnce(&mut ConfigArgs),
    extra_routes: axum::Router<AppState>,
    tuning: Tuning,
    watch_disk: Option<PathBuf>,
) -> TestApp {
    if std::env::var_os("DOCKET_TEST_LOG").is_some() {
        std::mem::forget(docket::telemetry::init_logging(
            "docket=debug",
            docket::config::LogFormat::Pretty,
        ));
    }
    let mut args = base_args(database_url);
    args.data_dir = Some(test_data_dir().display().to_string());
    customize(&mut args);
    let config = Config::from_args(&args).expect("valid test config");
    let connect: tokio_postgres::Config = database_url.parse().unwrap();
    let app = Application::build_tuned(config, connect, tuning)
        .await
        .expect("app builds")
        .with_extra_routes(extra_routes);
    let app = match watch_disk {
        Some(dir) => app.watch_disk(dir),
        None => app,
    };
    let address = format!("http://{}", app.local_addr());
    let state = app.state();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = rx.await;
    }));
    // Migrations are already applied in the template; wait for the server to notice.
    for _ in 0..200 {
        if state.db.is_migrated() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let db = connect_db(database_url).await;
    TestApp {
        address,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        db,
        state,
        database_url: database_url.to_owned(),
        shutdown: Some(tx),
        server: Some(server),
    }
}

/// A registered user with a fresh access token.
#[derive(Clone, Debug)]
pub struct TestUser {
    pub id: Uuid,
    pub email: String,
    pub password: String,
    pub token: String,
    pub refresh_token: String,
}

pub fn random_ip() -> String {
    let n = Uuid::new_v4().as_u128();
    format!("10.{}.{}.{}", (n >> 16) as u8, (n >> 8) as u8, n as u8)
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// Registers from a random client address (so the per-address limit stays out of the way).
    pub async fn register(&self, email: &str, password: &str, name: &str) -> TestResponse {
        self.anon()
            .post(
                "/api/v1/auth/register",
                json!({"email": email, "password": password, "name": name}),
            )
            .forwarded_for(random_ip())
            .await
    }

    pub async fn password_grant(&self, email: &str, password: &str) -> TestResponse {
        self.password_grant_from(&random_ip(), email, password)
            .await
    }

    /// A password grant from client address `ip` (through the trusted test proxy).
    pub async fn password_grant_from(&self, ip: &str, email: &str, password: &str) -> TestResponse {
        self.anon()
            .post(
                "/api/v1/auth/token",
                json!({"grant_type": "password", "email": email, "password": password}),
            )
            .forwarded_for(ip)
            .await
    }

    pub async fn refresh_grant(&self, refresh_token: &str) -> TestResponse {
        self.anon()
            .post(
                "/api/v1/auth/token",
                json!({"grant_type": "refresh_token", "refresh_token": refresh_token}),
            )
            .await
    }

    pub async fn new_user(&self) -> TestUser {
        let email = format!("user-{}@example.com", Uuid::now_v7().simple());
        let user: Value = self.register(&email, PASSWORD, "Test User").await.created();
        let tokens: Value = self.password_grant(&email, PASSWORD).await.good();
        TestUser {
            id: user["id"].as_str().unwrap().parse().unwrap(),
            email,
            password: PASSWORD.to_owned(),
            token: tokens["access_token"].as_str().unwrap().to_owned(),
            refresh_token: tokens["refresh_token"].as_str().unwrap().to_owned(),
        }
    }

    /// Logs in with a cookie session: returns (cookie header value, csrf token).
    pub async fn session_login(&self, email: &str, password: &str) -> (String, String) {
        let response = self
            .anon()
            .post(
                "/api/v1/auth/session",
                json!({"email": email, "password": password}),
            )
            .await;
        let body: Value = response.good();
        let cookie = response
            .header("set-cookie")
            .expect("a Set-Cookie header")
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        (cookie, body["csrf_token"].as_str().unwrap().to_owned())
    }

    /// Waits until the journal's sequencers have numbered every committed entry (nothing is
    /// left in `activity_pending`), so that the `activity` table can be compared with what
    /// was delivered. Entries are numbered without anyone asking: past 10 s this panics.
    pub async fn journal_settled(&self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let pending: i64 = self
                .db
                .scalar("SELECT count(*) FROM activity_pending", &[])
                .await;
            if pending == 0 {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{pending} journal entries still unnumbered after 10 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the server the way SIGTERM would.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reading answers as JSON (the typed client is in client.rs)
// ---------------------------------------------------------------------------------------------

pub fn id_of(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

pub fn keys_of(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    keys
}

/// The `(field, code)` pairs of a problem's `errors`.
pub fn field_errors(problem: &Value) -> Vec<(String, String)> {
    problem["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors in {problem}"))
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_owned(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Whether a timestamp (a JSON value, a typed field, or an optional one) is RFC 3339 in UTC.
pub fn is_utc_timestamp(value: &impl AsText) -> bool {
    value
        .as_text()
        .is_some_and(|s| s.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(s).is_ok())
}

pub trait AsText {
    fn as_text(&self) -> Option<&str>;
}

impl AsText for Value {
    fn as_text(&self) -> Option<&str> {
        self.as_str()
    }
}

impl AsText for String {
    fn as_text(&self) -> Option<&str> {
        Some(self)
    }
}

impl AsText for Option<String> {
    fn as_text(&self) -> Option<&str> {
        self.as_deref()
    }
}

/// The member roles of a project as the database has them.
pub async fn db_roles(app: &TestApp, project: Uuid) -> BTreeMap<Uuid, String> {
    let rows: Vec<(Uuid, String)> = app
        .db
        .rows(
            "SELECT user_id, role FROM memberships WHERE project_id = $1",
            &[&project],
        )
        .await
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    rows.into_iter().collect()
}
