//! The load benchmark's client: drives a running Docket over real HTTP with access tokens of
//! many users, and runs pgbench on exactly the SQL that a task GET runs, against the same
//! database, for the ceiling. Prints a Markdown table. `bench/run.sh` starts everything.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use rand::seq::SliceRandom;
use rand::Rng;
use serde_json::{json, Value};
use tokio_postgres::Client as PgPool;
use uuid::Uuid;

// Shared with the other benchmark binaries, which use other parts of it.
#[allow(dead_code)]
mod cpu;

/// The statement `GET /api/v1/tasks/{id}` runs (`tasks::store::find_visible` in the server),
/// copied so that pgbench measures the same SQL: `$1` task id, `$2` user id. Keep it in step
/// with the server's.
const FIND_VISIBLE_SQL: &str = "SELECT t.id, t.project_id, t.number, t.title, t.description, \
     t.status, t.priority, t.due_date, t.labels, t.assignee_id, t.created_by, t.completed_at, \
     t.version, t.created_at, t.updated_at, t.source_repository, t.source_number, t.source_url, \
     m.role AS my_role FROM tasks t \
     JOIN memberships m ON m.project_id = t.project_id AND m.user_id = $2 \
     WHERE t.id = $1";

#[derive(Parser, Debug, Clone)]
struct Args {
    /// Docket's base URL.
    #[arg(long)]
    url: String,
    /// The database Docket uses (for picking users and tasks, and for pgbench).
    #[arg(long)]
    database_url: String,
    /// Docket's process id, to sample its memory.
    #[arg(long)]
    server_pid: u32,
    #[arg(long, default_value = "10")]
    duration_s: u64,
    #[arg(long, default_value = "2")]
    warmup_s: u64,
    #[arg(long, default_value = "16,64", value_delimiter = ',')]
    connections: Vec<usize>,
    /// How many distinct users log in and share the load.
    #[arg(long, default_value = "50")]
    users: i64,
    /// The password every seeded user has.
    #[arg(long, default_value = "benchmark passphrase")]
    password: String,
    /// Scenarios to run: a (task GET), b (list page), c (mix), d (GET while logging in), pg.
    #[arg(long, default_value = "a,b,c,d,pg", value_delimiter = ',')]
    scenarios: Vec<String>,
    /// A label for the data set (e.g. "1M tasks").
    #[arg(long, default_value = "")]
    label: String,
    /// Writes (scenarios w, cr, pgw) go to this many projects, the ones with most tasks, which
    /// every user may edit (bench/journal.sh makes them so); 0: each user's own projects.
    #[arg(long, default_value = "0")]
    write_projects: i64,
}

struct Bench {
    args: Args,
    /// The database cluster's postmaster, for its CPU time (if the role may see it).
    postmaster: Option<u32>,
    http: reqwest::Client,
    users: Vec<BenchUser>,
    editable: Vec<Vec<Uuid>>,
}

struct BenchUser {
    email: String,
    token: String,
    tasks: Vec<Uuid>,
    projects: Vec<Uuid>,
}

/// Tasks each worker alone patches (in projects where its user may edit), so that `If-Match`
/// never races another worker.
fn claim_patch_targets(
    editable: &[Vec<Uuid>],
    workers: usize,
    per_worker: usize,
) -> Vec<Vec<Uuid>> {
    let mut claimed = std::collections::HashSet::new();
    (0..workers)
        .map(|worker| {
            editable[worker % editable.len()]
                .iter()
                .filter(|task| claimed.insert(**task))
                .take(per_worker)
                .copied()
                .collect()
        })
        .collect()
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    errors: u64,
}

struct Result_ {
    scenario: String,
    connections: usize,
    requests: usize,
    rps: f64,
    p50: f64,
    p90: f64,
    p99: f64,
    errors: u64,
    peak_rss_mib: f64,
    extra: String,
    /// CPU µs per request: the server's, PostgreSQL's.
    cpu_us: (f64, f64),
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index] as f64 / 1000.0
}

fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (pool, connection) =
        tokio_postgres::connect(&args.database_url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(30))
        .build()?;
    let (users, editable) = prepare_users(&args, &pool, &http).await?;
    let bench = Arc::new(Bench {
        postmaster: cpu::postmaster_of(&pool).await.ok(),
        args: args.clone(),
        http,
        users,
        editable,
    });
    eprintln!(
        "{} users logged in; idle RSS {:.1} MiB",
        bench.users.len(),
        rss_mib(args.server_pid)
    );
    let mut results = Vec::new();
    for &connections in &args.connections {
        for scenario in &args.scenarios {
            let result = match scenario.as_str() {
                "a" => run(&bench, "a: GET task", connections, Workload::GetTask).await,
                "b" => run(&bench, "b: list page", connections, Workload::ListPage).await,
                "c" => run(&bench, "c: 70/20/10 mix", connections, Workload::Mix).await,
                "d" => {
                    run(
                        &bench,
                        "d: GET task + 20 logging in",
                        connections,
                        Workload::GetWhileLogins,
                    )
                    .await
                }
                "w" => {
                    run(
                        &bench,
                        "w: 50/50 PATCH/create",
                        connections,
                        Workload::Writes,
                    )
                    .await
                }
                "cr" => run(&bench, "cr: create", connections, Workload::Creates).await,
                "pg" => pgbench(&bench, &pool, connections).await?,
                "pgw" => pgbench_create(&bench, &pool, connections).await?,
                other => bail!("unknown scenario {other}"),
            };
            eprintln!("{}", row(&result));
            // One line a script can read (bench/journal.sh).
            println!(
                "BENCH label={:?} scenario={} conns={} write_projects={} rps={:.1} p99={:.2} errors={} cpu_server_us={:.0} cpu_pg_us={:.0}",
                args.label,
                result.scenario.split(':').next().unwrap_or_default(),
                connections,
                args.write_projects,
                result.rps,
                result.p99,
                result.errors,
                result.cpu_us.0,
                result.cpu_us.1
            );
            results.push(result);
        }
    }
    println!("\n{}", header(&args.label));
    for result in &results {
        println!("{}", row(result));
    }
    for &connections in &args.connections {
        let a = results
            .iter()
            .find(|r| r.connections == connections && r.scenario.starts_with("a:"));
        let pg = results
            .iter()
            .find(|r| r.connections == connections && r.scenario.starts_with("pgbench"));
        if let (Some(a), Some(pg)) = (a, pg) {
            println!(
                "\nRatio at {connections} connections: scenario (a) {:.0} req/s / pgbench {:.0} TPS = {:.0}%",
                a.rps,
                pg.rps,
                100.0 * a.rps / pg.rps
            );
        }
    }
    Ok(())
}

fn header(label: &str) -> String {
    format!(
        "Data set: {label}\n\n| scenario | conns | requests | req/s | p50 ms | p90 ms | p99 ms | errors | peak RSS MiB | notes |\n|---|---|---|---|---|---|---|---|---|---|"
    )
}

fn row(r: &Result_) -> String {
    format!(
        "| {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {:.1} | {} |",
        r.scenario,
        r.connections,
        r.requests,
        r.rps,
        r.p50,
        r.p90,
        r.p99,
        r.errors,
        r.peak_rss_mib,
        r.extra
    )
}

/// Signs in; `from` is the client address to claim (`X-Forwarded-For`, which the server
/// believes only when started with `DOCKET_TRUSTED_PROXIES=127.0.0.1/32`).
async fn login(
    http: &reqwest::Client,
    url: &str,
    email: &str,
    password: &str,
    from: Option<&str>,
) -> anyhow::Result<String> {
    let mut request = http
        .post(format!("{url}/api/v1/auth/token"))
        .json(&json!({"grant_type": "password", "email": email, "password": password}));
    if let Some(address) = from {
        request = request.header("x-forwarded-for", address);
    }
    let response = request.send().await?;
    if response.status() != 200 {
        bail!("login of {email} answered {}", response.status());
    }
    let body: Value = response.json().await?;
    Ok(body["access_token"]
        .as_str()
        .context("access_token")?
        .to_owned())
}

async fn prepare_users(
    args: &Args,
    pool: &PgPool,
    http: &reqwest::Client,
) -> anyhow::Result<(Vec<BenchUser>, Vec<Vec<Uuid>>)> {
    // Users who are members of at least one project with tasks.
    let emails: Vec<(Uuid, String)> = pool
        .query(
            "SELECT u.id, u.email FROM users u WHERE EXISTS ( \
                 SELECT 1 FROM memberships m JOIN projects p ON p.id = m.project_id \
                 WHERE m.user_id = u.id AND p.inbox_of IS NULL AND p.next_task_number > 20) \
             ORDER BY md5(u.id::text) LIMIT $1",
            &[&args.users],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    if emails.is_empty() {
        bail!("no seeded users with tasks: run scripts/seed.sql first");
    }
    let mut users = Vec::new();
    let mut editable = Vec::new();
    for (id, email) in emails {
        let token = login(http, &args.url, &email, &args.password, None).await?;
        let tasks: Vec<Uuid> = pool
            .query(
                "SELECT t.id FROM memberships m JOIN tasks t ON t.project_id = m.project_id \
             WHERE m.user_id = $1 ORDER BY md5(t.id::text) LIMIT 500",
                &[&id],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let projects: Vec<Uuid> = pool
            .query(
                "SELECT m.project_id FROM memberships m JOIN projects p ON p.id = m.project_id \
             WHERE m.user_id = $1 AND p.inbox_of IS NULL AND p.next_task_number > 20 \
               AND m.role IN ('editor', 'admin', 'owner')",
                &[&id],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let can_edit: Vec<Uuid> = pool
            .query(
                "SELECT t.id FROM memberships m JOIN tasks t ON t.project_id = m.project_id \
             WHERE m.user_id = $1 AND m.role IN ('editor', 'admin', 'owner') \
             ORDER BY md5(t.id::text) LIMIT 100",
                &[&id],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        if !tasks.is_empty() && !projects.is_empty() && !can_edit.is_empty() {
            editable.push(can_edit);
            users.push(BenchUser {
                email,
                token,
                tasks,
                projects,
            });
        }
    }
    if args.write_projects > 0 {
        // Everyone writes to the same few projects (and updates only tasks there).
        let shared: Vec<Uuid> = pool
            .query(
                "SELECT id FROM projects WHERE inbox_of IS NULL \
                 ORDER BY next_task_number DESC, id LIMIT $1",
                &[&args.write_projects],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        for (n, user) in users.iter_mut().enumerate() {
            user.projects = shared.clone();
            editable[n] = pool
                .query(
                    "SELECT id FROM tasks WHERE project_id = ANY($1) \
                     ORDER BY md5(id::text || $2) LIMIT 100",
                    &[&shared, &(n.to_string())],
                )
                .await?
                .iter()
                .map(|r| r.get(0))
                .collect();
        }
    }
    Ok((users, editable))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Workload {
    GetTask,
    ListPage,
    Mix,
    GetWhileLogins,
    /// Only writes: half PATCHes, half creates (what recording activity costs).
    Writes,
    /// Only creates (the transaction `pgw` runs through pgbench).
    Creates,
}

async fn run(bench: &Arc<Bench>, name: &str, connections: usize, workload: Workload) -> Result_ {
    let recording = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let stop = stop.clone();
        let recording = recording.clone();
        let peak = peak.clone();
        let pid = bench.args.server_pid;
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if recording.load(Ordering::Relaxed) {
                    let kib = (rss_mib(pid) * 1024.0) as u64;
                    peak.fetch_max(kib, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let logins = Arc::new(AtomicU64::new(0));
    let login_errors = Arc::new(AtomicU64::new(0));
    let login_latencies = Arc::new(std::sync::Mutex::new(Vec::<u32>::new()));
    let mut login_tasks = Vec::new();
    if workload == Workload::GetWhileLogins {
        for i in 0..20 {
            let bench = bench.clone();
            let stop = stop.clone();
            let recording = recording.clone();
            let logins = logins.clone();
            let login_errors = login_errors.clone();
            let login_latencies = login_latencies.clone();
            login_tasks.push(tokio::spawn(async move {
                let user = &bench.users[i % bench.users.len()];
                // Each attempt from an address of its own: the server allows one address
                // 300 unauthenticated requests a minute and two password hashes at once
                // (API.md §9), so logins from one address would measure the refusals.
                let mut attempt: u32 = 0;
                while !stop.load(Ordering::Relaxed) {
                    attempt = attempt.wrapping_add(1);
                    let from = format!("10.{i}.{}.{}", (attempt >> 8) & 0xff, attempt & 0xff);
                    let started = Instant::now();
                    let ok = login(
                        &bench.http,
                        &bench.args.url,
                        &user.email,
                        &bench.args.password,
                        Some(&from),
                    )
                    .await
                    .is_ok();
                    if recording.load(Ordering::Relaxed) {
                        login_latencies
                            .lock()
                            .expect("not poisoned")
                            .push(started.elapsed().as_micros() as u32);
                        if ok {
                            logins.fetch_add(1, Ordering::Relaxed);
                        } else {
                            login_errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }));
        }
    }
    let mut targets = claim_patch_targets(&bench.editable, connections, 5).into_iter();
    let mut workers = Vec::new();
    for worker in 0..connections {
        let own = targets.next().unwrap_or_default();
        let bench = bench.clone();
        let stop = stop.clone();
        let recording = recording.clone();
        workers.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            let mut versions: HashMap<Uuid, String> = HashMap::new();
            let mut rng = rand::rngs::StdRng::from_entropy();
            let user = &bench.users[worker % bench.users.len()];
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let ok = match workload {
                    Workload::GetTask | Workload::GetWhileLogins => {
                        get_task(&bench, user, &mut rng).await
                    }
                    Workload::ListPage => list_page(&bench, user, &mut rng).await,
                    Workload::Creates => create_task(&bench, user, &mut rng).await,
                    Workload::Writes => {
                        if rng.gen::<bool>() {
                            patch_task(&bench, user, &own, &mut versions, &mut rng).await
                        } else {
                            create_task(&bench, user, &mut rng).await
                        }
                    }
                    Workload::Mix => {
                        let roll: f64 = rng.gen();
                        if roll < 0.7 {
                            get_task(&bench, user, &mut rng).await
                        } else if roll < 0.9 {
                            patch_task(&bench, user, &own, &mut versions, &mut rng).await
                        } else {
                            create_task(&bench, user, &mut rng).await
                        }
                    }
                };
                if recording.load(Ordering::Relaxed) {
                    tally
                        .latencies_us
                        .push(started.elapsed().as_micros() as u32);
                    if !ok {
                        tally.errors += 1;
                    }
                }
            }
            tally
        }));
    }
    tokio::time::sleep(Duration::from_secs(bench.args.warmup_s)).await;
    recording.store(true, Ordering::Relaxed);
    let cpu_before = cpu_now(bench);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(bench.args.duration_s)).await;
    recording.store(false, Ordering::Relaxed);
    let cpu_after = cpu_now(bench);
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let mut all = Tally::default();
    for worker in workers {
        let tally = worker.await.expect("worker");
        all.latencies_us.extend(tally.latencies_us);
        all.errors += tally.errors;
    }
    for task in login_tasks {
        let _ = task.await;
    }
    let _ = sampler.await;
    all.latencies_us.sort_unstable();
    let extra = if workload == Workload::GetWhileLogins {
        let mut login_times = login_latencies.lock().expect("not poisoned").clone();
        login_times.sort_unstable();
        format!(
            "{:.1} logins/s, login p50 {:.1} ms / p99 {:.1} ms, {} login errors",
            logins.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64(),
            percentile(&login_times, 0.5),
            percentile(&login_times, 0.99),
            login_errors.load(Ordering::Relaxed)
        )
    } else {
        String::new()
    };
    Result_ {
        scenario: name.to_owned(),
        connections,
        requests: all.latencies_us.len(),
        rps: all.latencies_us.len() as f64 / elapsed.as_secs_f64(),
        p50: percentile(&all.latencies_us, 0.50),
        p90: percentile(&all.latencies_us, 0.90),
        p99: percentile(&all.latencies_us, 0.99),
        errors: all.errors + login_errors.load(Ordering::Relaxed),
        peak_rss_mib: peak.load(Ordering::Relaxed) as f64 / 1024.0,
        extra,
        cpu_us: (
            cpu::per_op(cpu_before.0, cpu_after.0, all.latencies_us.len()),
            cpu::per_op(cpu_before.1, cpu_after.1, all.latencies_us.len()),
        ),
    }
}

/// CPU ticks so far of the server and of the database cluster.
fn cpu_now(bench: &Bench) -> (u64, u64) {
    (
        cpu::process(bench.args.server_pid),
        bench.postmaster.map_or(0, cpu::cluster),
    )
}

use rand::SeedableRng;

async fn succeeded(response: reqwest::Result<reqwest::Response>, expected: u16) -> bool {
    match response {
        Ok(r) if r.status().as_u16() == expected => r.bytes().await.is_ok(),
        _ => false,
    }
}

async fn get_task(bench: &Bench, user: &BenchUser, rng: &mut impl Rng) -> bool {
    let task = user.tasks.choose(rng).expect("tasks");
    succeeded(
        bench
            .http
            .get(format!("{}/api/v1/tasks/{task}", bench.args.url))
            .bearer_auth(&user.token)
            .send()
            .await,
        200,
    )
    .await
}

async fn list_page(bench: &Bench, user: &BenchUser, rng: &mut impl Rng) -> bool {
    let project = user.projects.choose(rng).expect("projects");
    succeeded(
        bench
            .http
            .get(format!(
                "{}/api/v1/projects/{project}/tasks?status=todo,in_progress&sort=-priority&limit=50",
                bench.args.url
            ))
            .bearer_auth(&user.token)
            .send()
            .await,
        200,
    )
    .await
}

async fn patch_task(
    bench: &Bench,
    user: &BenchUser,
    own: &[Uuid],
    versions: &mut HashMap<Uuid, String>,
    rng: &mut impl Rng,
) -> bool {
    let Some(task) = own.choose(rng) else {
        return get_task(bench, user, rng).await;
    };
    let url = format!("{}/api/v1/tasks/{task}", bench.args.url);
    if !versions.contains_key(task) {
        let Ok(response) = bench.http.get(&url).bearer_auth(&user.token).send().await else {
            return false;
        };
        let Some(etag) = response.headers().get("etag").and_then(|v| v.to_str().ok()) else {
            return false;
        };
        versions.insert(*task, etag.to_owned());
    }
    let etag = versions[task].clone();
    let response = bench
        .http
        .patch(&url)
        .bearer_auth(&user.token)
        .header("if-match", etag)
        .json(&json!({"priority": rng.gen_range(0..=4)}))
        .send()
        .await;
    match response {
        Ok(r) if r.status() == 200 => {
            if let Some(etag) = r.headers().get("etag").and_then(|v| v.to_str().ok()) {
                versions.insert(*task, etag.to_owned());
            }
            r.bytes().await.is_ok()
        }
        _ => {
            versions.remove(task);
            false
        }
    }
}

async fn create_task(bench: &Bench, user: &BenchUser, rng: &mut impl Rng) -> bool {
    let project = user.projects.choose(rng).expect("projects");
    succeeded(
        bench
            .http
            .post(format!("{}/api/v1/projects/{project}/tasks", bench.args.url))
            .bearer_auth(&user.token)
            .json(&json!({"title": "Benchmark task", "priority": rng.gen_range(0..=4), "labels": ["bench"]}))
            .send()
            .await,
        201,
    )
    .await
}

/// The create a `POST /api/v1/projects/{id}/tasks` runs (`tasks::handlers::create_task`, with
/// the history as `activity::store` appends it), for pgbench: the role read, then the
/// transaction, the journal's rows and the COMMIT pipelined into one round trip as the server
/// sends them. Keep it in step with the server's statements. `bench_uuidv7()` stands for the
/// UUIDv7 the server makes (so the tasks index sees the same ordered keys).
const CREATE_SCRIPT: &str = "\\set k random(1, :pairs)
SELECT project_id, user_id FROM bench_writers WHERE k = :k \\gset
SELECT role FROM memberships WHERE project_id = :project_id AND user_id = :user_id;
BEGIN;
UPDATE projects SET next_task_number = next_task_number + 1, task_count = task_count + 1 WHERE id = :project_id RETURNING next_task_number - 1 AS number, task_count \\gset
INSERT INTO tasks AS t (id, project_id, number, title, description, status, priority, due_date, labels, assignee_id, created_by) VALUES (bench_uuidv7(), :project_id, :number, 'Benchmark task', '', 'todo', 2, NULL, ARRAY['bench'], NULL, :user_id) RETURNING t.id, t.project_id, t.number, t.title, t.description, t.status, t.priority, t.due_date, t.labels, t.assignee_id, t.created_by, t.completed_at, t.position, t.comment_count, t.version, t.created_at, t.updated_at, t.source_repository, t.source_number, t.source_url \\gset t_
\\startpipeline
INSERT INTO activity_pending (actor_id, kind, project_id, task_id, comment_id, user_id, changes, counts) SELECT (e.v->>'actor_id')::uuid, e.v->>'kind', (e.v->>'project_id')::uuid, (e.v->>'task_id')::uuid, (e.v->>'comment_id')::uuid, (e.v->>'user_id')::uuid, e.v->'changes', nullif(e.v->'counts', 'null'::jsonb) FROM jsonb_array_elements(jsonb_build_array(jsonb_build_object('actor_id', :user_id::text, 'kind', 'task.created', 'project_id', :project_id::text, 'task_id', :t_id::text, 'comment_id', NULL, 'user_id', NULL, 'changes', '[{\"field\": \"title\", \"from\": null, \"to\": \"Benchmark task\"}, {\"field\": \"status\", \"from\": null, \"to\": \"todo\"}, {\"field\": \"priority\", \"from\": null, \"to\": 2}, {\"field\": \"labels\", \"from\": null, \"to\": [\"bench\"]}]'::jsonb, 'counts', NULL))) WITH ORDINALITY AS e(v, ord) ORDER BY e.ord;
COMMIT;
\\endpipeline
";

/// pgbench on the create transaction (`CREATE_SCRIPT`), spread over the same projects and users
/// as scenario `cr`: the ceiling for Docket's creates.
async fn pgbench_create(
    bench: &Bench,
    pool: &PgPool,
    connections: usize,
) -> anyhow::Result<Result_> {
    pool.batch_execute(
        "DROP TABLE IF EXISTS bench_writers; \
         CREATE TABLE bench_writers (k int PRIMARY KEY, project_id uuid, user_id uuid); \
         CREATE OR REPLACE FUNCTION bench_uuidv7() RETURNS uuid LANGUAGE sql VOLATILE AS $$ \
           SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) PLACING \
             substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) \
             FROM 3) FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid $$",
    )
    .await?;
    let mut k = 0i32;
    for user in &bench.users {
        let user_id: Uuid = pool
            .query_one("SELECT id FROM users WHERE email = $1", &[&user.email])
            .await?
            .get(0);
        for project in &user.projects {
            k += 1;
            pool.execute(
                "INSERT INTO bench_writers VALUES ($1, $2, $3)",
                &[&k, project, &user_id],
            )
            .await?;
        }
    }
    let path =
        std::env::temp_dir().join(format!("docket-pgbench-create-{}.sql", std::process::id()));
    std::fs::write(&path, CREATE_SCRIPT)?;
    let cpu_before = cpu_now(bench).1;
    let output = tokio::process::Command::new("pgbench")
        .args(["-n", "-M", "prepared", "-j", "2"])
        .args(["-c", &connections.to_string()])
        .args(["-T", &bench.args.duration_s.to_string()])
        .args(["-D", &format!("pairs={k}")])
        .arg("-f")
        .arg(&path)
        .arg(&bench.args.database_url)
        .output()
        .await
        .context("running pgbench (Debian: postgresql-client)")?;
    let cpu_after = cpu_now(bench).1;
    let _ = std::fs::remove_file(&path);
    let mut result = pgbench_result(
        "pgw: pgbench, the create transaction",
        connections,
        bench.args.duration_s,
        output,
    )?;
    result.cpu_us = (0.0, cpu::per_op(cpu_before, cpu_after, result.requests));
    Ok(result)
}

/// pgbench on the statement a task GET runs, taken from the code. In steady state the
/// server runs only this one per request: the principal's user row comes from a cache that
/// every change invalidates (see `auth::principal_cache`). Each pgbench transaction first picks
/// a (task, user) pair from a table of the same pairs the HTTP scenario uses — one extra
/// primary-key lookup that the server does not do, which makes the ceiling a little lower than
/// it is.
async fn pgbench(bench: &Bench, pool: &PgPool, connections: usize) -> anyhow::Result<Result_> {
    pool.batch_execute(
        "DROP TABLE IF EXISTS bench_pairs; \
         CREATE TABLE bench_pairs (k int PRIMARY KEY, task_id uuid, user_id uuid, family_id uuid)",
    )
    .await?;
    let mut k = 0i32;
    for user in &bench.users {
        let row = pool
            .query_one(
                "SELECT r.user_id, r.family_id FROM refresh_tokens r JOIN users u ON u.id = r.user_id \
                 WHERE u.email = $1 ORDER BY r.created_at DESC LIMIT 1",
                &[&user.email],
            )
            .await?;
        let (user_id, family_id): (Uuid, Uuid) = (row.get(0), row.get(1));
        for task in &user.tasks {
            k += 1;
            pool.execute(
                "INSERT INTO bench_pairs VALUES ($1, $2, $3, $4)",
                &[&k, task, &user_id, &family_id],
            )
            .await?;
        }
    }
    let task = FIND_VISIBLE_SQL
        .replace("$1", ":task_id")
        .replace("$2", ":user_id");
    let script = format!(
        "\\set k random(1, {k})\n\
         SELECT task_id, user_id FROM bench_pairs WHERE k = :k \\gset\n\
         {task};\n"
    );
    let path = std::env::temp_dir().join(format!("docket-pgbench-{}.sql", std::process::id()));
    std::fs::write(&path, &script)?;
    let output = tokio::process::Command::new("pgbench")
        .args(["-n", "-M", "prepared", "-j", "2"])
        .args(["-c", &connections.to_string()])
        .args(["-T", &bench.args.duration_s.to_string()])
        .arg("-f")
        .arg(&path)
        .arg(&bench.args.database_url)
        .output()
        .await
        .context("running pgbench (Debian: postgresql-client)")?;
    let _ = std::fs::remove_file(&path);
    pgbench_result(
        "pgbench: same SQL as (a)",
        connections,
        bench.args.duration_s,
        output,
    )
}

/// Reads pgbench's report.
fn pgbench_result(
    scenario: &str,
    connections: usize,
    duration_s: u64,
    output: std::process::Output,
) -> anyhow::Result<Result_> {
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    if !output.status.success() {
        bail!(
            "pgbench failed: {}{}",
            text,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let tps = text
        .lines()
        .find(|l| l.starts_with("tps ="))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|v| v.parse::<f64>().ok())
        .context("pgbench printed no tps")?;
    let latency = text
        .lines()
        .find(|l| l.starts_with("latency average"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0);
    let failed = text
        .lines()
        .find(|l| l.starts_with("number of failed transactions"))
        .and_then(|l| l.split_whitespace().nth(4))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    Ok(Result_ {
        scenario: scenario.to_owned(),
        connections,
        requests: (tps * duration_s as f64) as usize,
        rps: tps,
        p50: latency,
        p90: 0.0,
        p99: 0.0,
        errors: failed,
        peak_rss_mib: 0.0,
        extra: "latency column = pgbench average".to_owned(),
        cpu_us: (0.0, 0.0),
    })
}
