//! The fault suite (issue 26): the real `docket` binary, four writers creating tasks flat out
//! with an `Idempotency-Key` each (retrying the same key until it is acknowledged), and one
//! fault at a time — kill -9 of Docket, kill -9 of the embedded postmaster, a hung postmaster
//! (SIGSTOP, then the whole cluster), a full disk on a small tmpfs, an external database
//! restarted. After each: every acknowledged write is stored exactly once (and nothing else
//! twice), no request got a 500 or waited past the handler deadline, 503s came within the
//! acquire timeout, and the server was ready again within `RECOVERY_BOUND`.
//!
//! Loopback only, bounded (about a minute per test). Each test prints a row of figures
//! (`-- --nocapture`); `DOCKET_TEST_BIN` runs them against another build: `bench/faults.sh`
//! does so with a release build (the table in docs/performance.md), and with
//! `DOCKET_FAULTS_SEED_TASKS` seeds that many tasks before the postmaster is killed.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use docket::db::embedded::EmbeddedPostgres;
use serde_json::{json, Value};
use tokio::sync::watch;
use uuid::Uuid;

use crate::binary::{
    create_project, free_port, private_cluster, register_and_login, start_on,
    wait_for_new_postmaster, wait_status, Server,
};
use crate::helpers::*;

/// Ready again within this after the fault ends (generous: CI machines are shared; the real
/// figures are printed and measured in release by bench/faults.sh).
const RECOVERY_BOUND: Duration = Duration::from_secs(30);
/// The server's handler deadline (API.md §9): no request may take longer.
const HANDLER_DEADLINE: Duration = Duration::from_secs(30);
/// Slack for a loaded machine on top of a deadline.
const SLACK: Duration = Duration::from_secs(5);
const WRITERS: usize = 4;
/// After the load is told to stop, a writer retries its last key this long, then counts it
/// as unknown (neither acknowledged nor refused).
const SETTLE: Duration = Duration::from_secs(15);

// ---------------------------------------------------------------------------------------------
// The server under test
// ---------------------------------------------------------------------------------------------

/// A `docket serve` with its data dir (or external database), a user and a project to write
/// into. Dropping it stops what it started.
struct Target {
    server: Option<Server>,
    port: u16,
    envs: Vec<(&'static str, String)>,
    /// The embedded cluster, when the database is Docket's own.
    embedded: Option<EmbeddedPostgres>,
    /// Where to look into the database.
    database_url: String,
    token: String,
    project: Uuid,
}

impl Target {
    /// Docket with its embedded cluster under `data_dir`.
    async fn embedded(data_dir: &Path, extra: &[(&'static str, &str)]) -> Target {
        let mut envs = vec![("DOCKET_DATA_DIR", data_dir.display().to_string())];
        envs.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        let postgres = EmbeddedPostgres::locate(data_dir).unwrap();
        let database_url = postgres.url("docket");
        Self::start(envs, Some(postgres), database_url).await
    }

    /// Docket on an external database at `url`.
    async fn external(url: &str, extra: &[(&'static str, &str)]) -> Target {
        let mut envs = vec![
            ("DATABASE_URL", url.to_owned()),
            ("DOCKET_JWT_SECRET", JWT_SECRET.to_owned()),
            ("DOCKET_ENCRYPTION_KEY", ENCRYPTION_KEY.to_owned()),
        ];
        envs.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        Self::start(envs, None, url.to_owned()).await
    }

    async fn start(
        mut envs: Vec<(&'static str, String)>,
        embedded: Option<EmbeddedPostgres>,
        database_url: String,
    ) -> Target {
        envs.push(("DOCKET_RATE_LIMIT_PER_MINUTE", "1000000".to_owned()));
        let port = free_port();
        let mut target = Target {
            server: None,
            port,
            envs,
            embedded,
            database_url,
            token: String::new(),
            project: Uuid::nil(),
        };
        target.launch();
        wait_status(&target.url("/readyz"), 200, Duration::from_secs(60)).await;
        if let Ok(tasks) = std::env::var("DOCKET_FAULTS_SEED_TASKS") {
            target.seed(&tasks);
        }
        let client = reqwest::Client::new();
        target.token = register_and_login(&target.url(""), &client).await;
        target.project = create_project(&target.url(""), &client, &target.token, "Faults")
            .await
            .parse()
            .unwrap();
        target
    }

    /// Starts `docket serve` (again) on the same port.
    fn launch(&mut self) {
        let envs: Vec<(&str, &str)> = self.envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.server = Some(start_on(self.port, &envs));
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn server(&self) -> &Server {
        self.server.as_ref().expect("running")
    }

    fn logs(&self) -> String {
        self.server().output.lock().unwrap().clone()
    }

    fn postmaster(&self) -> i32 {
        self.embedded
            .as_ref()
            .and_then(EmbeddedPostgres::postmaster_pid)
            .expect("a running postmaster")
    }

    /// `scripts/seed.sql` with `tasks` tasks (for the recovery figure of a big database),
    /// then a checkpoint, as a database that size has had long before (set
    /// `DOCKET_FAULTS_NO_CHECKPOINT` to have crash recovery replay the whole bulk load).
    fn seed(&self, tasks: &str) {
        let started = Instant::now();
        let output = std::process::Command::new("psql")
            .arg(&self.database_url)
            .args(["-q", "-v", "ON_ERROR_STOP=1", "-v", "users=100", "-v"])
            .arg(format!("projects={}", 1000))
            .args(["-v", &format!("tasks={tasks}")])
            .arg("-f")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/seed.sql"))
            .output()
            .expect("psql runs");
        assert!(
            output.status.success(),
            "seeding failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        if std::env::var_os("DOCKET_FAULTS_NO_CHECKPOINT").is_none() {
            let checkpoint = std::process::Command::new("psql")
                .arg(&self.database_url)
                .args(["-q", "-c", "CHECKPOINT"])
                .status()
                .expect("psql runs");
            assert!(checkpoint.success());
        }
        eprintln!("seeded {tasks} tasks in {:?}", started.elapsed());
    }

    /// SIGTERM: it must exit 0 within the grace period.
    fn stop(&mut self) -> String {
        let server = self.server.take().expect("running");
        server.signal(libc::SIGTERM);
        let (code, logs) = server.wait(Duration::from_secs(30));
        assert_eq!(code, Some(0), "docket exits 0 on SIGTERM");
        logs
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        drop(self.server.take());
        // Docket's kill -9 (Server's drop) leaves its postmaster running: stop it too.
        if let Some(pid) = self
            .embedded
            .as_ref()
            .and_then(EmbeddedPostgres::postmaster_pid)
        {
            // SAFETY: a signal to this cluster's postmaster.
            unsafe { libc::kill(pid, libc::SIGQUIT) };
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The load: four writers with idempotency keys
// ---------------------------------------------------------------------------------------------

/// What the writers saw.
#[derive(Default, Clone)]
struct Tally {
    /// (key, task id) of every acknowledged create.
    acknowledged: Vec<(String, Uuid)>,
    /// Keys never acknowledged before the writer gave up (may or may not be stored).
    unknown: Vec<String>,
    /// Answers by status (and problem code), and transport errors.
    answers: BTreeMap<String, usize>,
    /// 500s, and anything else no fault may cause.
    wrong: Vec<String>,
    slowest: Duration,
    /// How long each 503 took.
    took_503: Vec<Duration>,
    /// How long each answer took (probes only).
    took: Vec<Duration>,
    /// 503s without Retry-After.
    no_retry_after: usize,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.acknowledged.extend(other.acknowledged);
        self.unknown.extend(other.unknown);
        for (answer, n) in other.answers {
            *self.answers.entry(answer).or_default() += n;
        }
        self.wrong.extend(other.wrong);
        self.slowest = self.slowest.max(other.slowest);
        self.took_503.extend(other.took_503);
        self.took.extend(other.took);
        self.no_retry_after += other.no_retry_after;
    }

    fn count(&self, answer: &str) -> usize {
        self.answers.get(answer).copied().unwrap_or(0)
    }
}

/// The writers, running until `stop`.
struct Load {
    stop: watch::Sender<bool>,
    writers: Vec<tokio::task::JoinHandle<Tally>>,
    /// When each acknowledged create was sent, and when it was answered.
    acks: Arc<Mutex<Vec<(Instant, Instant)>>>,
    /// Where the writers send (changed when the server moves: never here, the port is kept).
    base: String,
}

impl Load {
    fn start(target: &Target) -> Load {
        let (stop, stopped) = watch::channel(false);
        let acks = Arc::new(Mutex::new(Vec::new()));
        let base = target.url("");
        let url = format!("{base}/api/v1/projects/{}/tasks", target.project);
        let client = reqwest::Client::builder()
            .timeout(HANDLER_DEADLINE * 2)
            .build()
            .unwrap();
        let writers = (0..WRITERS)
            .map(|w| {
                tokio::spawn(write(
                    w,
                    client.clone(),
                    url.clone(),
                    target.token.clone(),
                    stopped.clone(),
                    acks.clone(),
                ))
            })
            .collect();
        Load {
            stop,
            writers,
            acks,
            base,
        }
    }

    /// Waits for a create sent after `since` to be acknowledged; how long after `since` it
    /// was.
    async fn written_after(&self, target: &Target, since: Instant) -> Duration {
        let within = RECOVERY_BOUND;
        loop {
            let first = self
                .acks
                .lock()
                .unwrap()
                .iter()
                .filter(|(sent, _)| *sent >= since)
                .map(|(_, answered)| *answered)
                .min();
            if let Some(answered) = first {
                return answered - since;
            }
            if since.elapsed() > within {
                let logs = target.logs();
                let tail: Vec<&str> = logs.lines().rev().take(40).collect();
                let pg = target
                    .embedded
                    .as_ref()
                    .map(|pg| std::fs::read_to_string(pg.log_file()).unwrap_or_default());
                let pg_tail: Vec<&str> = pg.iter().flat_map(|t| t.lines().rev().take(30)).collect();
                panic!(
                    "no write went through within {within:?} after the fault ({}); docket said, \
                     newest first:\n{}\nPostgreSQL said, newest first:\n{}",
                    self.base,
                    tail.join("\n"),
                    pg_tail.join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn acknowledged(&self) -> usize {
        self.acks.lock().unwrap().len()
    }

    async fn finish(self) -> Tally {
        self.stop.send_replace(true);
        let mut tally = Tally::default();
        for writer in self.writers {
            tally.merge(writer.await.unwrap());
        }
        tally
    }
}

/// One writer: a fresh key per task, the same key until the create is acknowledged.
async fn write(
    w: usize,
    client: reqwest::Client,
    url: String,
    token: String,
    stop: watch::Receiver<bool>,
    acks: Arc<Mutex<Vec<(Instant, Instant)>>>,
) -> Tally {
    let mut tally = Tally::default();
    while !*stop.borrow() {
        let key = Uuid::now_v7().to_string();
        let mut stopping_since = None;
        loop {
            let sent = Instant::now();
            let answer = client
                .post(&url)
                .bearer_auth(&token)
                .header("idempotency-key", &key)
                .json(&json!({"title": format!("w{w} {key}")}))
                .send()
                .await;
            let took = sent.elapsed();
            tally.slowest = tally.slowest.max(took);
            match answer {
                Ok(response) if response.status() == 201 => {
                    let task: Value = response.json().await.unwrap();
                    let id = task["id"].as_str().unwrap().parse().unwrap();
                    tally.acknowledged.push((key, id));
                    acks.lock().unwrap().push((sent, Instant::now()));
                    *tally.answers.entry("201".into()).or_default() += 1;
                    break;
                }
                Ok(response) => {
                    let status = response.status().as_u16();
                    let retry_after = response.headers().contains_key("retry-after");
                    let body: Value = response.json().await.unwrap_or(Value::Null);
                    let code = body["code"].as_str().unwrap_or("-").to_owned();
                    *tally.answers.entry(format!("{status} {code}")).or_default() += 1;
                    match status {
                        503 => {
                            tally.took_503.push(took);
                            if !retry_after {
                                tally.no_retry_after += 1;
                            }
                        }
                        507 => {}
                        409 if code == "idempotency_in_flight" => {}
                        _ => tally.wrong.push(format!("{status} {body}")),
                    }
                }
                Err(error) => {
                    let kind = if error.is_timeout() {
                        "timed out"
                    } else {
                        "no answer"
                    };
                    *tally.answers.entry(kind.into()).or_default() += 1;
                }
            }
            if *stop.borrow() {
                let since = *stopping_since.get_or_insert_with(Instant::now);
                if since.elapsed() > SETTLE {
                    tally.unknown.push(key);
                    return tally;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    tally
}

// ---------------------------------------------------------------------------------------------
// Checks and figures
// ---------------------------------------------------------------------------------------------

/// Every acknowledged create is stored once with the acknowledged id; no title is stored
/// twice; numbers have no gap. Returns the number of tasks stored.
async fn verify(target: &Target, tally: &Tally) -> i64 {
    let db = connect_db(&target.database_url).await;
    let rows = db
        .rows(
            "SELECT id, title FROM tasks WHERE project_id = $1",
            &[&target.project],
        )
        .await;
    let mut by_key: HashMap<String, Vec<Uuid>> = HashMap::new();
    for row in &rows {
        let title: String = row.get(1);
        let key = title.split(' ').nth(1).unwrap_or_default().to_owned();
        by_key.entry(key).or_default().push(row.get(0));
    }
    for (key, id) in &tally.acknowledged {
        assert_eq!(
            by_key.get(key),
            Some(&vec![*id]),
            "acknowledged create {key} is stored exactly once, as {id}"
        );
    }
    let twice: Vec<_> = by_key.iter().filter(|(_, ids)| ids.len() > 1).collect();
    assert!(twice.is_empty(), "stored twice: {twice:?}");
    let known: std::collections::HashSet<&String> = tally
        .acknowledged
        .iter()
        .map(|(key, _)| key)
        .chain(&tally.unknown)
        .collect();
    assert!(
        by_key.keys().all(|key| known.contains(key)),
        "nothing stored that no writer sent"
    );
    let (count, max): (i64, Option<i64>) = {
        let row = &db
            .rows(
                "SELECT count(*), max(number) FROM tasks WHERE project_id = $1",
                &[&target.project],
            )
            .await[0];
        (row.get(0), row.get(1))
    };
    assert_eq!(Some(count), max, "task numbers have no gap");
    count
}

/// What no fault may cause: a 500 (or another unexpected answer), a request past the
/// handler deadline, a 503 without Retry-After, a 503 later than the acquire timeout (but
/// for `slow_503s` of them: requests that held a connection when the database hung).
fn assert_answers_were_sound(tally: &Tally, acquire_timeout: Duration, slow_503s: usize) {
    assert!(
        tally.wrong.is_empty(),
        "unexpected answers: {:?}",
        tally.wrong
    );
    assert!(
        tally.slowest <= HANDLER_DEADLINE + SLACK,
        "a request took {:?}",
        tally.slowest
    );
    let slow: Vec<&Duration> = tally
        .took_503
        .iter()
        .filter(|took| **took > acquire_timeout + SLACK)
        .collect();
    assert!(
        slow.len() <= slow_503s,
        "503s later than the acquire timeout ({acquire_timeout:?}): {slow:?}"
    );
    assert_eq!(tally.no_retry_after, 0, "every 503 says when to retry");
}

/// One row of the figures (collected by bench/faults.sh).
fn report(fault: &str, tally: &Tally, stored: i64, ready: Duration, written: Duration) {
    let answers: Vec<String> = tally
        .answers
        .iter()
        .map(|(answer, n)| format!("{answer}: {n}"))
        .collect();
    eprintln!(
        "FAULT-ROW | {fault} | {} acknowledged, {stored} stored, 0 lost, 0 twice, {} unknown | \
         ready {:.2} s, writing {:.2} s after | slowest {:.2} s | {} |",
        tally.acknowledged.len(),
        tally.unknown.len(),
        ready.as_secs_f64(),
        written.as_secs_f64(),
        tally.slowest.as_secs_f64(),
        answers.join(", ")
    );
}

/// Waits until `/readyz` answers 200; how long after `since`.
async fn ready_after(target: &Target, since: Instant) -> Duration {
    wait_status(&target.url("/readyz"), 200, RECOVERY_BOUND).await;
    since.elapsed()
}

/// Warnings and errors the server logged, but for the request lines.
fn warnings(logs: &str) -> Vec<&str> {
    logs.lines()
        .filter(|line| line.contains("\"level\":\"WARN\"") || line.contains("\"level\":\"ERROR\""))
        .collect()
}

/// Lets the load run until `n` creates were acknowledged (so a fault hits a working server).
async fn warm_up(load: &Load, n: usize) {
    let started = Instant::now();
    while load.acknowledged() < n {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the load runs ({} acknowledged)",
            load.acknowledged()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn data_dir(name: &str) -> (PathBuf, PathBuf) {
    let scratch = scratch_dir(name);
    let data = scratch.join("data");
    (scratch, data)
}

// ---------------------------------------------------------------------------------------------
// The faults
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_of_docket_loses_nothing_acknowledged() {
    let (scratch, data) = data_dir("docket-fault-kill");
    let mut target = Target::embedded(&data, &[]).await;
    let load = Load::start(&target);
    warm_up(&load, 200).await;

    target.server().signal(libc::SIGKILL);
    let killed = Instant::now();
    let _ = target.server.take().unwrap().wait(Duration::from_secs(10));
    // The restarted server adopts the postmaster its predecessor left running.
    target.launch();
    let ready = ready_after(&target, killed).await;
    let written = load.written_after(&target, killed).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let tally = load.finish().await;

    assert_answers_were_sound(&tally, Duration::from_secs(2), 0);
    let stored = verify(&target, &tally).await;
    let logs = target.logs();
    assert!(logs.contains("adopting the embedded PostgreSQL left running"));
    // The creates the kill interrupted were let go of at start-up: every retry got through.
    assert!(
        tally.unknown.is_empty(),
        "no key stayed 'in flight': {:?}",
        tally.unknown
    );
    report("kill -9 of Docket", &tally, stored, ready, written);
    target.stop();
    drop(target);
    let _ = std::fs::remove_dir_all(&scratch);
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_of_the_postmaster_is_healed_within_seconds() {
    let (scratch, data) = data_dir("docket-fault-postmaster");
    let mut target = Target::embedded(&data, &[]).await;
    let load = Load::start(&target);
    warm_up(&load, 200).await;

    let old = target.postmaster();
    // SAFETY: a signal to a pid.
    unsafe { libc::kill(old, libc::SIGKILL) };
    let killed = Instant::now();
    wait_for_new_postmaster(target.embedded.as_ref().unwrap(), old, RECOVERY_BOUND).await;
    let ready = ready_after(&target, killed).await;
    let written = load.written_after(&target, killed).await;
    // A few seconds of normal running: no warning comes back.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let tally = load.finish().await;

    assert_answers_were_sound(&tally, Duration::from_secs(2), 0);
    let stored = verify(&target, &tally).await;
    let logs = target.logs();
    let warned = warnings(&logs);
    // One line per change of state: the postmaster exited (WARN), the pool lost the database
    // (WARN); then it runs again and is reachable again (INFO). Nothing per attempt.
    assert!(
        warned.len() <= 4,
        "a few lines for one outage, not one per attempt: {warned:#?}"
    );
    assert!(logs.contains("the embedded PostgreSQL exited; starting it again"));
    assert!(logs.contains("the embedded PostgreSQL is running again"));
    let metrics = reqwest::get(target.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("docket_embedded_postgres_restarts_total 1"));
    assert!(metrics.contains("docket_db_outages_total"));
    assert!(metrics.contains("docket_db_outage_seconds_count"));
    report("kill -9 of the postmaster", &tally, stored, ready, written);
    target.stop();
    drop(target);
    let _ = std::fs::remove_dir_all(&scratch);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hung_database_answers_503_in_time_and_recovers() {
    let acquire = Duration::from_millis(1000);
    let (scratch, data) = data_dir("docket-fault-sigstop");
    let mut target = Target::embedded(&data, &[("DOCKET_DB_ACQUIRE_TIMEOUT_MS", "1000")]).await;
    let load = Load::start(&target);
    warm_up(&load, 200).await;

    // The postmaster alone: new connections hang (503 after the acquire timeout); the pool's
    // connections go on.
    let postmaster = target.postmaster();
    // SAFETY: signals to a pid.
    unsafe { libc::kill(postmaster, libc::SIGSTOP) };
    tokio::time::sleep(Duration::from_secs(20)).await;
    unsafe { libc::kill(postmaster, libc::SIGCONT) };
    let resumed = Instant::now();
    let written_after_postmaster = load.written_after(&target, resumed).await;

    // The whole cluster (the postmaster and every process it forked: each backend is in a
    // session of its own): every statement hangs. The requests that hold a connection wait
    // (at most the handler deadline); every other one gets 503 once the acquire timeout
    // passes, reads on the shared lanes included. Probes are sent throughout.
    let probes = Probes::start(&target);
    let cluster = signal_cluster(postmaster, libc::SIGSTOP);
    tokio::time::sleep(Duration::from_secs(10)).await;
    let during = load.acknowledged();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        load.acknowledged(),
        during,
        "nothing is written while it hangs"
    );
    for pid in cluster.iter().rev() {
        // SAFETY: signals to the processes stopped above.
        unsafe { libc::kill(*pid, libc::SIGCONT) };
    }
    let resumed = Instant::now();
    let ready = ready_after(&target, resumed).await;
    let written = load.written_after(&target, resumed).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let probed = probes.finish().await;
    let tally = load.finish().await;

    // At most a pool's worth of requests (10) held a connection when it hung.
    let mut all = tally.clone();
    all.merge(probed.clone());
    assert_answers_were_sound(&all, acquire, 10);
    let waited = probed
        .took
        .iter()
        .filter(|took| **took > acquire + SLACK)
        .count();
    assert!(
        waited <= 10,
        "only requests holding a connection wait: {waited} of {}",
        probed.took.len()
    );
    assert!(
        probed.count("503 unavailable") > 0,
        "a hung database gives 503s: {:?}",
        probed.answers
    );
    let stored = verify(&target, &tally).await;
    assert_eq!(
        target.postmaster(),
        postmaster,
        "a stopped postmaster is not a dead one"
    );
    eprintln!("writing again {written_after_postmaster:?} after the postmaster alone resumed");
    eprintln!("probes while the cluster hung: {:?}", probed.answers);
    report(
        "SIGSTOP of the postmaster 20 s, then of the cluster 15 s",
        &tally,
        stored,
        ready,
        written,
    );
    target.stop();
    drop(target);
    let _ = std::fs::remove_dir_all(&scratch);
}

/// Requests sent every 200 ms, each on its own (a hung one does not hold back the next): a
/// task read (the access token's user and the membership on the shared lanes, the task on
/// the pool) and a list.
struct Probes {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Tally>,
}

impl Probes {
    fn start(target: &Target) -> Probes {
        let (stop, stopped) = watch::channel(false);
        let client = reqwest::Client::builder()
            .timeout(HANDLER_DEADLINE * 2)
            .build()
            .unwrap();
        let urls = [
            target.url("/api/v1/me"),
            target.url(&format!(
                "/api/v1/projects/{}/tasks?limit=5",
                target.project
            )),
        ];
        let token = target.token.clone();
        let task = tokio::spawn(async move {
            let mut sent = Vec::new();
            while !*stopped.borrow() {
                for url in &urls {
                    let request = client.get(url).bearer_auth(&token);
                    sent.push(tokio::spawn(async move {
                        let started = Instant::now();
                        let answer = request.send().await;
                        (started.elapsed(), answer.map(|r| r.status().as_u16()).ok())
                    }));
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            let mut tally = Tally::default();
            for probe in sent {
                let (took, status) = probe.await.unwrap();
                tally.slowest = tally.slowest.max(took);
                tally.took.push(took);
                let answer = match status {
                    Some(200) => "200".to_owned(),
                    Some(503) => {
                        tally.took_503.push(took);
                        "503 unavailable".to_owned()
                    }
                    Some(other) => {
                        tally.wrong.push(other.to_string());
                        other.to_string()
                    }
                    None => "no answer".to_owned(),
                };
                *tally.answers.entry(answer).or_default() += 1;
            }
            tally
        });
        Probes { stop, task }
    }

    async fn finish(self) -> Tally {
        self.stop.send_replace(true);
        self.task.await.unwrap()
    }
}

/// Sends `signal` to the postmaster, then to each of its children; returns their pids.
fn signal_cluster(postmaster: i32, signal: i32) -> Vec<i32> {
    // SAFETY: signals to pids.
    unsafe { libc::kill(postmaster, signal) };
    let mut pids = vec![postmaster];
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // `pid (comm) state ppid …`
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|ppid| ppid.parse::<i32>().ok());
        if ppid == Some(postmaster) {
            // SAFETY: as above.
            unsafe { libc::kill(pid, signal) };
            pids.push(pid);
        }
    }
    pids
}

/// A tmpfs of `size` mounted at a fresh directory; `None` (with the reason printed) where
/// mounting is not permitted.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(size: &str, test: &str) -> Option<Tmpfs> {
        let dir = scratch_dir("docket-fault-tmpfs");
        let mounted = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "tmpfs",
            ])
            .arg(&dir)
            .output();
        match mounted {
            Ok(output) if output.status.success() => Some(Tmpfs(dir)),
            Ok(output) => {
                eprintln!(
                    "SKIPPED {test}: mounting a tmpfs is not permitted here ({})",
                    String::from_utf8_lossy(&output.stderr).trim()
                );
                let _ = std::fs::remove_dir(&dir);
                None
            }
            Err(error) => {
                eprintln!("SKIPPED {test}: cannot run mount ({error})");
                let _ = std::fs::remove_dir(&dir);
                None
            }
        }
    }

    fn free(&self) -> u64 {
        let path = std::ffi::CString::new(self.0.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: statvfs writes only the struct given.
        unsafe {
            let mut stat: libc::statvfs = std::mem::zeroed();
            assert_eq!(libc::statvfs(path.as_ptr(), &mut stat), 0);
            stat.f_bavail * stat.f_frsize
        }
    }

    /// Writes a ballast file that leaves `leave` bytes free (tmpfs has no sparse room: every
    /// byte is written).
    fn leave_free(&self, leave: u64) {
        let ballast = self.0.join("ballast");
        let _ = std::fs::remove_file(&ballast);
        let size = self.free().saturating_sub(leave);
        let mut file = std::fs::File::create(&ballast).unwrap();
        let chunk = vec![0x5au8; 1 << 20];
        let mut written = 0;
        while written < size {
            let n = (size - written).min(chunk.len() as u64) as usize;
            match std::io::Write::write_all(&mut file, &chunk[..n]) {
                Ok(()) => written += n as u64,
                // The writers took the rest meanwhile: the disk is as full as it gets.
                Err(error) if error.raw_os_error() == Some(libc::ENOSPC) => break,
                Err(error) => panic!("writing the ballast: {error}"),
            }
        }
    }

    fn free_ballast(&self) {
        std::fs::remove_file(self.0.join("ballast")).unwrap();
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const MB: u64 = 1 << 20;

/// With the margin: writes are refused before the database runs out; reads and deletes go on;
/// freeing space lets writes resume by themselves.
#[tokio::test(flavor = "multi_thread")]
async fn a_nearly_full_disk_refuses_writes_before_postgres_runs_out() {
    // Room for the cluster (~42 MB with its first WAL segment) and a ballast that, removed,
    // gives back more than PostgreSQL took meanwhile.
    let Some(tmpfs) = Tmpfs::mount("128m", "faults::a_nearly_full_disk…") else {
        return;
    };
    let data = tmpfs.0.join("data");
    let mut target = Target::embedded(&data, &[("DOCKET_MIN_FREE_DISK_MB", "24")]).await;
    let load = Load::start(&target);
    warm_up(&load, 50).await;
    tmpfs.leave_free(32 * MB);
    let started = Instant::now();
    loop {
        let ready: Value = reqwest::get(target.url("/readyz"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if ready["disk"]["writes"] == "refused" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the disk fills and writes are refused: {ready}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let pg_log = data.join("pg/postgres.log");
    let client = reqwest::Client::new();
    let list = client
        .get(target.url(&format!("/api/v1/projects/{}/tasks", target.project)))
        .bearer_auth(&target.token)
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), 200, "reads go on");
    let refused = client
        .post(target.url("/api/v1/projects"))
        .bearer_auth(&target.token)
        .json(&json!({"name": "No room"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 507);
    assert!(target
        .logs()
        .contains("refusing writes until space is freed"));
    let said = std::fs::read_to_string(&pg_log).unwrap();
    assert!(!said.contains("No space left"), "PostgreSQL never ran out");
    tmpfs.free_ballast();
    let freed = Instant::now();
    let written = load.written_after(&target, freed).await;
    let tally = load.finish().await;
    assert_answers_were_sound(&tally, Duration::from_secs(2), 0);
    assert!(
        tally.count("507 insufficient_storage") > 0,
        "writes were refused"
    );
    assert_eq!(
        tally.count("503 unavailable"),
        0,
        "the database never ran out"
    );
    let stored = verify(&target, &tally).await;
    report(
        "disk nearly full (128 MB tmpfs, minimum 24 MB)",
        &tally,
        stored,
        Duration::ZERO,
        written,
    );
    target.stop();
}

/// Without a margin (`DOCKET_MIN_FREE_DISK_MB=0`) PostgreSQL runs out, the way the issue saw
/// it on an 80 MB tmpfs: it needs a new WAL segment, cannot write it, PANICs and restarts.
/// 503 with Retry-After, never a 500; once space is back it recovers by itself. A fresh
/// cluster has no recycled WAL segment to fall back on, and a WAL switch makes the next write
/// need one.
#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_that_panics_postgres_is_503_never_500_and_heals() {
    let Some(tmpfs) = Tmpfs::mount("80m", "faults::a_full_disk_that_panics…") else {
        return;
    };
    let data = tmpfs.0.join("data");
    let pg_log = data.join("pg/postgres.log");
    let mut target = Target::embedded(&data, &[("DOCKET_MIN_FREE_DISK_MB", "0")]).await;
    let load = Load::start(&target);
    warm_up(&load, 50).await;
    tmpfs.leave_free(MB);
    // (It may have run out already, and this fail: then so much the better.)
    if let Ok(client) = docket::db::connect(&target.database_url.parse().unwrap()).await {
        let _ = client.batch_execute("SELECT pg_switch_wal()").await;
    }
    let started = Instant::now();
    let panicked = loop {
        let said = std::fs::read_to_string(&pg_log).unwrap();
        if said.contains("PANIC:") {
            break true;
        }
        // Some builds have the segment already: then a statement fails for want of space.
        if started.elapsed() > Duration::from_secs(20) && target.logs().contains("disk is full") {
            break false;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the disk fills up"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    tmpfs.free_ballast();
    let freed = Instant::now();
    let ready = ready_after(&target, freed).await;
    let written = load.written_after(&target, freed).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let tally = load.finish().await;
    assert_answers_were_sound(&tally, Duration::from_secs(2), 0);
    assert!(tally.count("503 unavailable") > 0, "the full disk was felt");
    let stored = verify(&target, &tally).await;
    let said = std::fs::read_to_string(&pg_log).unwrap();
    eprintln!(
        "PostgreSQL said: {:#?}",
        said.lines()
            .filter(|l| l.contains("PANIC") || l.contains("FATAL") || l.contains("No space"))
            .take(6)
            .collect::<Vec<_>>()
    );
    report(
        if panicked {
            "disk full, PostgreSQL PANICs (80 MB tmpfs, no minimum)"
        } else {
            "disk full (80 MB tmpfs, no minimum)"
        },
        &tally,
        stored,
        ready,
        written,
    );
    target.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_external_database_restarted_under_load() {
    let dir = scratch_dir("docket-fault-external");
    let postgres = private_cluster(&dir);
    postgres.ensure_database("docket").await.unwrap();
    let mut target = Target::external(&postgres.url("docket"), &[]).await;
    let load = Load::start(&target);
    warm_up(&load, 200).await;

    let restarted = Instant::now();
    let pg = postgres.clone();
    tokio::task::spawn_blocking(move || {
        pg.stop().unwrap();
        pg.start().unwrap();
    })
    .await
    .unwrap();
    let ready = ready_after(&target, restarted).await;
    let written = load.written_after(&target, restarted).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let tally = load.finish().await;

    assert_answers_were_sound(&tally, Duration::from_secs(2), 0);
    let stored = verify(&target, &tally).await;
    let logs = target.stop();
    assert!(
        !logs.contains("embedded PostgreSQL"),
        "with DATABASE_URL nothing is supervised"
    );
    report(
        "external database restarted (pg_ctl stop -m fast; start)",
        &tally,
        stored,
        ready,
        written,
    );
    postgres.kill();
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------------
// A cluster that will not start
// ---------------------------------------------------------------------------------------------

/// `docket serve` on `data`; waits for it to exit and returns (exit code, stdout, stderr).
fn serve_until_exit(data: &Path, within: Duration) -> (Option<i32>, String, String) {
    let mut server = start_on(free_port(), &[("DOCKET_DATA_DIR", data.to_str().unwrap())]);
    let started = Instant::now();
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            std::thread::sleep(Duration::from_millis(100));
            let mut stderr = String::new();
            std::io::Read::read_to_string(server.child.stderr.as_mut().unwrap(), &mut stderr)
                .unwrap();
            let stdout = server.output.lock().unwrap().clone();
            return (status.code(), stdout, stderr);
        }
        assert!(started.elapsed() < within, "docket serve did not give up");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn a_postmaster_that_will_not_start_is_an_error_naming_the_reason() {
    let scratch = scratch_dir("docket-fault-nostart");
    let data = scratch.join("data");
    let postgres = EmbeddedPostgres::locate(&data).unwrap();
    postgres
        .ensure_initialized(docket::db::embedded::Durability::Throwaway)
        .unwrap();

    // Permissions PostgreSQL refuses.
    set_mode(&postgres.cluster_dir(), 0o777);
    let (code, _, stderr) = serve_until_exit(&data, Duration::from_secs(60));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot be kept running (6 starts within a minute)"),
        "{stderr}"
    );
    assert!(stderr.contains("has invalid permissions"), "{stderr}");
    assert!(
        stderr.contains("postgres.log"),
        "it says where to look: {stderr}"
    );
    set_mode(&postgres.cluster_dir(), 0o700);

    // A data directory whose control file is corrupt (past its version: the checksum fails).
    let control = postgres.cluster_dir().join("global/pg_control");
    let mut bytes = std::fs::read(&control).unwrap();
    bytes[64..96].fill(0xff);
    std::fs::write(&control, bytes).unwrap();
    let (code, _, stderr) = serve_until_exit(&data, Duration::from_secs(60));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("incorrect checksum in control file"),
        "{stderr}"
    );
    assert!(!postgres.is_running());
    let _ = std::fs::remove_dir_all(&scratch);
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_exits_non_zero_once_the_cluster_cannot_be_started_again() {
    let (scratch, data) = data_dir("docket-fault-giveup");
    let mut target = Target::embedded(&data, &[]).await;
    let cluster = target.embedded.clone().unwrap();
    set_mode(&cluster.cluster_dir(), 0o777);
    let old = target.postmaster();
    // SAFETY: a signal to the cluster's postmaster.
    unsafe { libc::kill(old, libc::SIGKILL) };
    let server = target.server.take().unwrap();
    let (code, logs) = server.wait(Duration::from_secs(60));
    assert_eq!(code, Some(1), "a supervisor that gave up ends the server");
    assert!(
        logs.contains("giving up on the embedded PostgreSQL"),
        "{logs}"
    );
    assert!(logs.contains("has invalid permissions"), "{logs}");
    let tries = logs
        .lines()
        .filter(|line| line.contains("the embedded PostgreSQL did not start"))
        .count();
    assert_eq!(
        tries, 5,
        "five tries after the first start, each logged: {logs}"
    );
    set_mode(&cluster.cluster_dir(), 0o700);
    drop(target);
    let _ = std::fs::remove_dir_all(&scratch);
}
