//! The live-events benchmark's client (`bench/events.sh` starts everything): registers users,
//! puts them all in one project, opens many `GET /api/v1/events` streams spread over them (at
//! most 10 per user), then has a few writers change tasks as fast as they can. Prints how many
//! events per second reached the streams and the delay from commit to delivery, as Markdown.
//!
//! The delay is measured from the entry's own `at` (the database's `clock_timestamp()` when
//! the entry was written, just before its commit) to the moment the client parsed the event,
//! on the same machine's clock; it therefore includes the commit itself.

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
    #[arg(long, default_value = "200")]
    streams: usize,
    /// Users the streams are spread over (at least streams / 10).
    #[arg(long, default_value = "20")]
    users: usize,
    /// Concurrent writers (each PATCHes its own task in a loop).
    #[arg(long, default_value = "4")]
    writers: usize,
    #[arg(long, default_value = "10")]
    duration_s: u64,
    /// Pause between one writer's changes (0: as fast as it can).
    #[arg(long, default_value = "0")]
    write_pause_ms: u64,
    /// Changes per second of all writers together, evenly spaced (0: use --write-pause-ms).
    #[arg(long, default_value = "0")]
    rate: u64,
}

const PASSWORD: &str = "benchmark passphrase";

struct Client {
    http: reqwest::Client,
    url: String,
}

impl Client {
    async fn json(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Value,
        ip: &str,
    ) -> anyhow::Result<Value> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.url))
            .header("x-forwarded-for", ip)
            .json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            bail!("{path}: {status}: {text}");
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

/// Registers a user and returns (id, access token).
async fn user(client: &Client, n: usize) -> anyhow::Result<(String, String)> {
    let email = format!("events-{n}-{}@example.com", uuid::Uuid::now_v7().simple());
    let ip = format!("10.77.{}.{}", n / 250, n % 250 + 1);
    let user = client
        .json(
            reqwest::Method::POST,
            "/api/v1/auth/register",
            None,
            json!({"email": email, "password": PASSWORD, "name": format!("Reader {n}")}),
            &ip,
        )
        .await?;
    let tokens = client
        .json(
            reqwest::Method::POST,
            "/api/v1/auth/token",
            None,
            json!({"grant_type": "password", "email": email, "password": PASSWORD}),
            &ip,
        )
        .await?;
    Ok((
        user["id"].as_str().context("id")?.to_owned(),
        tokens["access_token"].as_str().context("token")?.to_owned(),
    ))
}

#[derive(Default)]
struct Tally {
    delays_us: Mutex<Vec<u32>>,
    delivered: AtomicU64,
    ended: AtomicU64,
}

/// Reads one stream until `stop`, recording each event's delay.
async fn read_stream(
    mut response: reqwest::Response,
    tally: Arc<Tally>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<()> {
    let mut buffer = String::new();
    let mut delays = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let chunk = match tokio::time::timeout(Duration::from_millis(200), response.chunk()).await {
            Err(_) => continue,
            Ok(chunk) => chunk?,
        };
        let Some(chunk) = chunk else {
            tally.ended.fetch_add(1, Ordering::Relaxed);
            break;
        };
        let now = chrono::Utc::now();
        buffer.push_str(std::str::from_utf8(&chunk)?);
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            // Only the entry's `at` is needed: no full JSON parse on the client's side.
            let Some(start) = block.find("\"at\":\"") else {
                continue;
            };
            let rest = &block[start + 6..];
            let at = &rest[..rest.find('"').context("at")?];
            let at = chrono::DateTime::parse_from_rfc3339(at)?;
            let delay = (now - at.with_timezone(&chrono::Utc))
                .num_microseconds()
                .unwrap_or(0)
                .max(0);
            delays.push(delay.min(u32::MAX as i64) as u32);
            tally.delivered.fetch_add(1, Ordering::Relaxed);
        }
    }
    tally.delays_us.lock().unwrap().extend(delays);
    Ok(())
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize] as f64 / 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.users * 10 < args.streams {
        bail!("at most 10 streams per user: raise --users");
    }
    let client = Client {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(args.streams + args.writers + 8)
            .build()?,
        url: args.url.clone(),
    };
    let mut users = Vec::new();
    for n in 0..args.users {
        users.push(user(&client, n).await?);
    }
    let owner = users[0].1.clone();
    let project = client
        .json(
            reqwest::Method::POST,
            "/api/v1/projects",
            Some(&owner),
            json!({"name": "Events benchmark"}),
            "10.78.0.1",
        )
        .await?;
    let project = project["id"].as_str().context("project id")?.to_owned();
    for (id, _) in &users[1..] {
        client
            .json(
                reqwest::Method::PUT,
                &format!("/api/v1/projects/{project}/members/{id}"),
                Some(&owner),
                json!({"role": "viewer"}),
                "10.78.0.1",
            )
            .await?;
    }
    let mut tasks = Vec::new();
    for w in 0..args.writers {
        let task = client
            .json(
                reqwest::Method::POST,
                &format!("/api/v1/projects/{project}/tasks"),
                Some(&owner),
                json!({"title": format!("writer {w}")}),
                "10.78.0.1",
            )
            .await?;
        tasks.push(task["id"].as_str().context("task id")?.to_owned());
    }

    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for s in 0..args.streams {
        let token = &users[s % args.users].1;
        let response = client
            .http
            .get(format!("{}/api/v1/events", args.url))
            .bearer_auth(token)
            .send()
            .await?;
        if response.status() != 200 {
            bail!("stream {s}: {}", response.status());
        }
        readers.push(tokio::spawn(read_stream(
            response,
            tally.clone(),
            stop.clone(),
        )));
    }

    let writing = Arc::new(AtomicBool::new(true));
    let committed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let writers: Vec<_> = tasks
        .into_iter()
        .enumerate()
        .map(|(w, task)| {
            let (http, url, token) = (client.http.clone(), args.url.clone(), owner.clone());
            let (writing, committed) = (writing.clone(), committed.clone());
            let pause = Duration::from_millis(args.write_pause_ms);
            let mut ticker = (args.rate > 0).then(|| {
                let every = Duration::from_secs_f64(args.writers as f64 / args.rate as f64);
                // Writers spread over the interval, not all at its start.
                let first =
                    tokio::time::Instant::now() + every.mul_f64(w as f64 / args.writers as f64);
                let mut ticker = tokio::time::interval_at(first, every);
                ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                ticker
            });
            tokio::spawn(async move {
                let mut n = 0u64;
                while writing.load(Ordering::Relaxed) {
                    if let Some(ticker) = ticker.as_mut() {
                        ticker.tick().await;
                    }
                    n += 1;
                    let response = http
                        .patch(format!("{url}/api/v1/tasks/{task}"))
                        .bearer_auth(&token)
                        .json(&json!({"title": format!("writer {w} change {n}")}))
                        .send()
                        .await;
                    if matches!(&response, Ok(r) if r.status() == 200) {
                        committed.fetch_add(1, Ordering::Relaxed);
                    }
                    if ticker.is_none() && !pause.is_zero() {
                        tokio::time::sleep(pause).await;
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(args.duration_s)).await;
    writing.store(false, Ordering::Relaxed);
    for writer in writers {
        writer.await?;
    }
    let wrote_for = started.elapsed();
    // Let the last deliveries arrive.
    let expected = committed.load(Ordering::Relaxed) * args.streams as u64;
    let drain_started = Instant::now();
    while tally.delivered.load(Ordering::Relaxed) < expected
        && drain_started.elapsed() < Duration::from_secs(10)
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let delivered_for = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        reader.await??;
    }

    let mut delays = std::mem::take(&mut *tally.delays_us.lock().unwrap());
    delays.sort_unstable();
    let entries = committed.load(Ordering::Relaxed);
    let delivered = tally.delivered.load(Ordering::Relaxed);
    println!(
        "| streams | writers | entries committed | entries/s | events delivered | events/s | delay p50 (ms) | p99 (ms) | max (ms) | streams dropped |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {} | {} | {} | {:.0} | {} of {} | {:.0} | {:.1} | {:.1} | {:.1} | {} |",
        args.streams,
        args.writers,
        entries,
        entries as f64 / wrote_for.as_secs_f64(),
        delivered,
        expected,
        delivered as f64 / delivered_for.as_secs_f64(),
        percentile(&delays, 0.5),
        percentile(&delays, 0.99),
        delays.last().copied().unwrap_or(0) as f64 / 1000.0,
        tally.ended.load(Ordering::Relaxed),
    );
    println!(
        "EVENTS rate={} entries_per_s={:.0} delivered={} expected={} p50={:.1} p99={:.1} max={:.1}",
        args.rate,
        entries as f64 / wrote_for.as_secs_f64(),
        delivered,
        expected,
        percentile(&delays, 0.5),
        percentile(&delays, 0.99),
        delays.last().copied().unwrap_or(0) as f64 / 1000.0,
    );
    Ok(())
}
