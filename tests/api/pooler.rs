//! Docket behind a transaction-mode pooler (Debian's PgBouncer 1.18, `pool_mode = transaction`,
//! started here): the core of the suite — auth, tasks, idempotency, pagination and the principal
//! cache's invalidation — with `DOCKET_DB_POOLER=transaction` and `LISTEN` on a direct
//! connection (`DOCKET_DATABASE_LISTEN_URL`).

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::*;

struct Bouncer {
    port: u16,
    _child: Child,
    _dir: PathBuf,
}

fn pgbouncer_binary() -> PathBuf {
    let found = |p: &str| {
        let path = PathBuf::from(p);
        path.exists().then_some(path)
    };
    if let Some(path) = found("/usr/sbin/pgbouncer").or_else(|| found("/usr/bin/pgbouncer")) {
        return path;
    }
    // The harness installs what it needs, like the benchmark runner does.
    let root = unsafe { libc::geteuid() } == 0;
    assert!(
        root,
        "pgbouncer is not installed (Debian: apt-get install pgbouncer)"
    );
    let status = Command::new("apt-get")
        .args(["install", "-y", "-q", "pgbouncer"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .expect("apt-get runs");
    assert!(status.success(), "apt-get install pgbouncer");
    found("/usr/sbin/pgbouncer").expect("pgbouncer installed")
}

/// `(uid, gid)` of the `postgres` user: PgBouncer, like PostgreSQL, refuses to run as root.
fn postgres_ids() -> Option<(u32, u32)> {
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").args([flag, "postgres"]).output().ok()?;
        String::from_utf8(out.stdout).ok()?.trim().parse().ok()
    };
    Some((id("-u")?, id("-g")?))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One PgBouncer for the test run, in front of the test cluster's socket.
fn bouncer() -> &'static Bouncer {
    static BOUNCER: OnceLock<Bouncer> = OnceLock::new();
    BOUNCER.get_or_init(|| {
        let binary = pgbouncer_binary();
        let cluster = cluster();
        let dir = scratch_dir("docket-pgbouncer");
        let port = free_port();
        let socket = cluster.postgres.socket_dir();
        std::fs::write(
            dir.join("pgbouncer.ini"),
            format!(
                "[databases]\n* = host={socket} user=docket\n\n[pgbouncer]\n\
                 listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
                 auth_type = trust\nauth_file = {dir}/users.txt\nadmin_users = docket\n\
                 pool_mode = transaction\nmax_client_conn = 500\ndefault_pool_size = 8\n\
                 ignore_startup_parameters = extra_float_digits\n\
                 logfile = {dir}/pgbouncer.log\npidfile = {dir}/pgbouncer.pid\n",
                socket = socket.display(),
                dir = dir.display(),
            ),
        )
        .unwrap();
        std::fs::write(dir.join("users.txt"), "\"docket\" \"\"\n").unwrap();
        let mut command = Command::new(binary);
        command
            .arg(dir.join("pgbouncer.ini"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if unsafe { libc::geteuid() } == 0 {
            let (uid, gid) = postgres_ids().expect("a postgres user");
            for file in ["", "pgbouncer.ini", "users.txt"] {
                let path = dir.join(file);
                let path = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
                unsafe { libc::chown(path.as_ptr(), uid, gid) };
            }
            command.uid(uid).gid(gid);
        }
        let child = command.spawn().expect("pgbouncer starts");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "pgbouncer did not listen: {}",
                std::fs::read_to_string(dir.join("pgbouncer.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // Stopped with the test process: a watcher like the cluster's.
        let script = format!(
            "while kill -0 {me} 2>/dev/null; do sleep 0.5; done; kill {child} 2>/dev/null",
            me = std::process::id(),
            child = child.id()
        );
        Command::new("setsid")
            .args(["-f", "sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("watcher starts");
        Bouncer {
            port,
            _child: child,
            _dir: dir,
        }
    })
}

/// The server on a fresh database reached through PgBouncer (transaction mode), `LISTEN`
/// direct; also the database's name and its direct URL (the test's own statements go there:
/// the test client prepares named statements, which a transaction-mode pooler may hand to
/// another server connection).
async fn spawn_behind_pooler() -> (TestApp, String, String) {
    let direct = create_test_database().await;
    let name = database_name(&direct);
    let pooled = format!("postgresql://docket@127.0.0.1:{}/{name}", bouncer().port);
    let listen = direct.clone();
    let app = TestApp::build()
        .on(&pooled)
        .config(move |args| {
            args.db_pooler = Some("transaction".into());
            args.database_listen_url = Some(listen);
        })
        .spawn()
        .await;
    (app, name, direct)
}

/// Transactions PgBouncer carried for database `name` (its admin console).
async fn pooled_transactions(name: &str) -> i64 {
    let config: tokio_postgres::Config =
        format!("postgresql://docket@127.0.0.1:{}/pgbouncer", bouncer().port)
            .parse()
            .unwrap();
    let client = docket::db::connect(&config).await.unwrap();
    let messages = client.simple_query("SHOW STATS").await.unwrap();
    for message in messages {
        if let tokio_postgres::SimpleQueryMessage::Row(row) = message {
            if row.get("database") == Some(name) {
                return row.get("total_xact_count").unwrap().parse().unwrap();
            }
        }
    }
    0
}

#[tokio::test]
async fn auth_tasks_idempotency_and_lists_work_through_pgbouncer() {
    let (app, name, _) = spawn_behind_pooler().await;
    let ready = app.anon().get("/readyz").await;
    assert_eq!(ready.status(), 200);

    // Registration, a password grant, a refresh, and a cookie session with CSRF.
    let user = app.new_client().await;
    let refreshed: Value = app.refresh_grant(&user.refresh_token).await.good();
    assert!(refreshed["access_token"].is_string());
    let (cookie, csrf) = app.session_login(&user.email, &user.password).await;
    let project: Project = app
        .with_session(&cookie, &csrf)
        .post("/api/v1/projects", json!({"name": "Pooled"}))
        .await
        .created();
    let tasks = tasks_path(project.id);

    // Concurrent creates: numbers stay unique and gap-free.
    let creates = (0..12).map(|i| {
        user.post(
            &tasks,
            json!({"title": format!("task {i}"), "priority": i % 5, "labels": ["pooled"]}),
        )
        .send()
    });
    let mut numbers: Vec<i64> = Vec::new();
    for response in futures::future::join_all(creates).await {
        numbers.push(response.created::<Task>().number);
    }
    numbers.sort();
    assert_eq!(numbers, (1..=12).collect::<Vec<_>>());

    // An idempotent create replays.
    let body = json!({"title": "once"});
    let first: Task = user
        .post(&tasks, &body)
        .idempotency_key("pooled-key")
        .await
        .created();
    let again = user.post(&tasks, &body).idempotency_key("pooled-key").await;
    assert_eq!(again.headers()["idempotency-replayed"], "true");
    assert_eq!(again.created::<Task>().id, first.id);

    // Optimistic concurrency and a filtered, paged list.
    let stale = user
        .patch(&task_path(first.id), json!({"status": "done"}))
        .if_match("\"7\"")
        .await;
    assert_eq!(stale.status(), 412);
    let done: Task = user
        .patch(&task_path(first.id), json!({"status": "done"}))
        .if_match("\"1\"")
        .await
        .good();
    assert!(done.completed_at.is_some());
    let mut seen = 0;
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("{tasks}?label=pooled&sort=-priority&limit=5");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page: Page<Task> = user.get(&path).await.good();
        seen += page.items.len();
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, 12);

    // A personal API token works and is scoped.
    let token: Value = user
        .post(
            "/api/v1/me/tokens",
            json!({"name": "ci", "scopes": ["read"]}),
        )
        .await
        .created();
    let api_token = app.with_token(token["token"].as_str().unwrap());
    assert_eq!(api_token.get("/api/v1/me").await.status(), 200);
    api_token
        .post("/api/v1/projects", json!({"name": "no"}))
        .await
        .problem(403, "insufficient_scope");

    assert!(
        pooled_transactions(&name).await > 20,
        "the requests went through PgBouncer"
    );
}

#[tokio::test]
async fn principal_cache_invalidation_reaches_an_instance_behind_pgbouncer() {
    let (app, _, direct) = spawn_behind_pooler().await;
    let admin = app.new_client().await;
    let user = app.new_client().await;
    // The user's access token is served (and cached).
    for _ in 0..3 {
        assert_eq!(user.get("/api/v1/me").await.status(), 200);
    }
    // A change made directly in the database (as another instance would) is announced by the
    // trigger on the direct LISTEN connection and ends the cached access at once.
    connect_db(&direct)
        .await
        .execute(
            "UPDATE users SET disabled = true WHERE id = $1",
            &[&user.id],
        )
        .await;
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let status = user.get("/api/v1/me").await.status();
        if status == 403 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a disabled user kept access: {status}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(admin.get("/api/v1/me").await.status(), 200);
}
