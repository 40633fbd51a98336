//! The webhooks benchmark's client (`bench/webhooks.sh` starts everything): a receiver that
//! answers at once, on this process, and Docket over HTTP. Phases, chosen with `--phase`:
//! - `drain`: W webhooks switched off, BACKLOG tasks created, the webhooks switched on; prints
//!   deliveries per second until the receiver has all W × BACKLOG (run once with one instance
//!   and once with two: the script starts the second);
//! - `delay`: writers at RATE changes/s for DURATION s with W webhooks on; prints the commit →
//!   delivery delay (the entry's `at`, the database's clock just before its commit, to the
//!   receiver's arrival, one machine's clock) p50/p99;
//! - `writes`: writes/s of 16 writers for DURATION s on a project with W webhooks (0 and 5).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use serde_json::{json, Value};

#[derive(Parser, Debug, Clone)]
struct Args {
    /// Docket's base URL.
    #[arg(long)]
    url: String,
    #[arg(long)]
    phase: String,
    #[arg(long, default_value = "5")]
    webhooks: usize,
    #[arg(long, default_value = "4000")]
    backlog: usize,
    #[arg(long, default_value = "100")]
    rate: u64,
    #[arg(long, default_value = "10")]
    duration_s: u64,
}

struct Client {
    http: reqwest::Client,
    url: String,
    token: String,
}

impl Client {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> anyhow::Result<Value> {
        let response = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            bail!("{path}: {status}: {text}");
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

async fn login(url: &str) -> anyhow::Result<Client> {
    let http = reqwest::Client::new();
    let email = format!("hooks-{}@example.com", uuid::Uuid::now_v7().simple());
    let password = "benchmark passphrase";
    let post = |path: &str, body: Value| http.post(format!("{url}{path}")).json(&body).send();
    post(
        "/api/v1/auth/register",
        json!({"email": email, "password": password, "name": "Hooks"}),
    )
    .await?
    .error_for_status()?;
    let tokens: Value = post(
        "/api/v1/auth/token",
        json!({"grant_type": "password", "email": email, "password": password}),
    )
    .await?
    .json()
    .await?;
    Ok(Client {
        http: http.clone(),
        url: url.to_owned(),
        token: tokens["access_token"].as_str().context("token")?.to_owned(),
    })
}

#[derive(Default)]
struct Receiver {
    received: AtomicU64,
    delays_us: Mutex<Vec<u64>>,
    record_delays: AtomicBool,
}

/// A receiver answering 204 at once; returns its URL.
async fn receive(state: Arc<Receiver>) -> anyhow::Result<String> {
    let app = axum::Router::new().route(
        "/hook/{n}",
        axum::routing::post(move |body: String| {
            let state = state.clone();
            async move {
                state.received.fetch_add(1, Ordering::Relaxed);
                if state.record_delays.load(Ordering::Relaxed) {
                    let now = chrono::Utc::now();
                    if let Some(at) = serde_json::from_str::<Value>(&body)
                        .ok()
                        .and_then(|v| v["timestamp"].as_str().map(str::to_owned))
                        .and_then(|at| chrono::DateTime::parse_from_rfc3339(&at).ok())
                    {
                        let delay = (now - at.with_timezone(&chrono::Utc))
                            .num_microseconds()
                            .unwrap_or(0)
                            .max(0) as u64;
                        state.delays_us.lock().unwrap().push(delay);
                    }
                }
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

async fn project(
    client: &Client,
    hooks: usize,
    receiver: &str,
) -> anyhow::Result<(String, Vec<String>)> {
    let project = client
        .send(
            reqwest::Method::POST,
            "/api/v1/projects",
            json!({"name": "Hooks"}),
        )
        .await?;
    let id = project["id"].as_str().context("id")?.to_owned();
    let mut webhooks = Vec::new();
    for n in 0..hooks {
        let hook = client
            .send(
                reqwest::Method::POST,
                &format!("/api/v1/projects/{id}/webhooks"),
                json!({"url": format!("{receiver}/{n}"), "events": ["*"]}),
            )
            .await?;
        webhooks.push(hook["id"].as_str().context("id")?.to_owned());
    }
    Ok((id, webhooks))
}

async fn switch(client: &Client, webhooks: &[String], on: bool) -> anyhow::Result<()> {
    for id in webhooks {
        client
            .send(
                reqwest::Method::PATCH,
                &format!("/api/v1/webhooks/{id}"),
                json!({ "active": on }),
            )
            .await?;
    }
    Ok(())
}

/// Creates tasks with `writers` concurrent writers until `count` were made or `until` passed
/// (paced at `rate` per second when given); returns how many were made.
async fn write(
    client: &Arc<Client>,
    project: &str,
    writers: usize,
    count: usize,
    until: Option<Instant>,
    rate: Option<u64>,
) -> anyhow::Result<u64> {
    let made = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let (client, made, path) = (
                client.clone(),
                made.clone(),
                format!("/api/v1/projects/{project}/tasks"),
            );
            tokio::spawn(async move {
                let mut n = w as u64;
                loop {
                    if until.is_some_and(|t| Instant::now() >= t)
                        || made.load(Ordering::Relaxed) >= count as u64
                    {
                        return anyhow::Ok(());
                    }
                    if let Some(rate) = rate {
                        let due = started + Duration::from_secs_f64(n as f64 / rate as f64);
                        tokio::time::sleep_until(due.into()).await;
                        n += writers as u64;
                    }
                    client
                        .send(reqwest::Method::POST, &path, json!({"title": "hook me"}))
                        .await?;
                    made.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    Ok(made.load(Ordering::Relaxed))
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let client = Arc::new(login(&args.url).await?);
    let receiver = Arc::new(Receiver::default());
    let url = receive(receiver.clone()).await?;
    match args.phase.as_str() {
        "drain" => {
            let (project, hooks) = project(&client, args.webhooks, &url).await?;
            switch(&client, &hooks, false).await?;
            write(&client, &project, 16, args.backlog, None, None).await?;
            let expected = (args.backlog * hooks.len()) as u64;
            let started = Instant::now();
            switch(&client, &hooks, true).await?;
            while receiver.received.load(Ordering::Relaxed) < expected {
                if started.elapsed() > Duration::from_secs(600) {
                    bail!(
                        "only {} of {expected} delivered",
                        receiver.received.load(Ordering::Relaxed)
                    );
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let secs = started.elapsed().as_secs_f64();
            println!(
                "| drain | {} webhooks × {} events | {:.2} s | {:.0} deliveries/s |",
                hooks.len(),
                args.backlog,
                secs,
                expected as f64 / secs
            );
        }
        "delay" => {
            let (project, hooks) = project(&client, args.webhooks, &url).await?;
            receiver.record_delays.store(true, Ordering::Relaxed);
            let until = Instant::now() + Duration::from_secs(args.duration_s);
            let made = write(
                &client,
                &project,
                8,
                usize::MAX,
                Some(until),
                Some(args.rate),
            )
            .await?;
            let expected = made * hooks.len() as u64;
            let deadline = Instant::now() + Duration::from_secs(60);
            while receiver.received.load(Ordering::Relaxed) < expected && Instant::now() < deadline
            {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let mut delays = receiver.delays_us.lock().unwrap().clone();
            delays.sort_unstable();
            println!(
                "| delay | {} webhooks, {} changes/s for {} s | {} of {} delivered | p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms |",
                hooks.len(),
                args.rate,
                args.duration_s,
                receiver.received.load(Ordering::Relaxed),
                expected,
                percentile(&delays, 0.5),
                percentile(&delays, 0.99),
                percentile(&delays, 1.0)
            );
        }
        "writes" => {
            let (project, hooks) = project(&client, args.webhooks, &url).await?;
            let until = Instant::now() + Duration::from_secs(args.duration_s);
            let made = write(&client, &project, 16, usize::MAX, Some(until), None).await?;
            println!(
                "| writes | {} webhooks | {} creates in {} s | {:.0} writes/s |",
                hooks.len(),
                made,
                args.duration_s,
                made as f64 / args.duration_s as f64
            );
        }
        other => bail!("unknown phase {other}"),
    }
    Ok(())
}
