//! The history's designs compared at the database (issue 28; `bench/journal.sh` runs it).
//!
//! The same write transactions as scenario `w` (half creates, half task updates, with the
//! server's SQL: the role read, `UPDATE projects … RETURNING`, `INSERT INTO tasks`, or the
//! task locked and updated), with the history recorded one of these ways, and the reader each
//! way needs running beside the writers (its cost is part of the design):
//!
//! - `none`: no history (the ceiling the others are divided by);
//! - `lock`: main before issue 28: advisory lock, insert with `pg_notify`, COMMIT, in one round
//!   trip; a reader `LISTEN`s and reads `id > last`;
//! - `notify`: the same without the lock: every writer still NOTIFYs, and PostgreSQL
//!   serialises the commits of NOTIFYing transactions (a lock on "database 0" held through
//!   the commit), so this isolates what the NOTIFY costs;
//! - `xid` (a): entries carry `pg_current_xact_id()`; the reader takes, in (xid, id) order,
//!   those whose transaction is older than its snapshot's `xmin`, and polls every millisecond
//!   while committed entries wait behind an older open transaction;
//! - `seq` (b): entries go to a pending table; a sequencer (one at a time, by a
//!   transaction-scoped advisory lock) moves committed ones into the journal, numbering them,
//!   and NOTIFYs once per batch, at most every 5 ms (as the server's); a reader `LISTEN`s and
//!   reads `id > last`. Variants tried: `seq-unpaced`, a numbering after every commit;
//!   `seq-bare`, the pending table without an index (the move finds rows by `ctid`).
//!
//! Writers ring an in-process doorbell after each commit (what wakes the `xid` reader and the
//! `seq` sequencer, as in the server). The delay is `clock_timestamp() - at` when the reader's
//! query reads the entry: commit → readable, before any fan-out to clients.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use tokio::sync::Notify;
use tokio_postgres::{AsyncMessage, Client, NoTls, Statement};
use uuid::Uuid;

// Shared with the other benchmark binaries, which use other parts of it.
#[allow(dead_code)]
mod cpu;

#[derive(Parser, Debug, Clone)]
struct Args {
    /// A database migrated by Docket and seeded (bench/journal.sh prepares it).
    #[arg(long)]
    database_url: String,
    #[arg(
        long,
        default_value = "none,lock,notify,xid,seq",
        value_delimiter = ','
    )]
    designs: Vec<String>,
    #[arg(long, default_value = "16,64", value_delimiter = ',')]
    connections: Vec<usize>,
    /// How many projects the writers spread over.
    #[arg(long, default_value = "1,64", value_delimiter = ',')]
    projects: Vec<usize>,
    /// Changes per second in all (0: as fast as they go).
    #[arg(long, default_value = "0")]
    rate: u64,
    /// Keep one more transaction open for a second (after its first write), every other second.
    #[arg(long)]
    hold: bool,
    #[arg(long, default_value = "8")]
    duration_s: u64,
    #[arg(long, default_value = "2")]
    warmup_s: u64,
    /// Runs of every design per configuration, in turn (A B C A B C …): writes/s is the
    /// median, latencies and delays are pooled.
    #[arg(long, default_value = "1")]
    rounds: usize,
    /// What runs beside the writers: `all` (the design's reader, and the sequencer for `seq`),
    /// `sequencer` (the sequencer only: a server with no stream open), `none` (writers only).
    #[arg(long, default_value = "all")]
    beside: String,
}

const JOURNAL_COLUMNS: &str =
    "actor_id, kind, project_id, task_id, comment_id, user_id, changes, counts";
/// The server's journal rows: `$1` a JSON array of entries, inserted in its order.
const FROM_JSON: &str = "SELECT (e.v->>'actor_id')::uuid, e.v->>'kind', \
     (e.v->>'project_id')::uuid, (e.v->>'task_id')::uuid, (e.v->>'comment_id')::uuid, \
     (e.v->>'user_id')::uuid, e.v->'changes', nullif(e.v->'counts', 'null'::jsonb) \
     FROM jsonb_array_elements($1) WITH ORDINALITY AS e(v, ord) ORDER BY e.ord";
const TASK_COLUMNS: &str = "t.id, t.project_id, t.number, t.title, t.description, t.status, \
     t.priority, t.due_date, t.labels, t.assignee_id, t.created_by, t.completed_at, t.position, \
     t.comment_count, t.version, t.created_at, t.updated_at, t.source_repository, \
     t.source_number, t.source_url";
const LOCK_KEY: i64 = 0x6a62_6c6f_636b; // the `lock` design's journal lock
const SEQUENCER_KEY: i64 = 0x006a_6273_6571; // the `seq` design's numbering lock
const BATCH: i64 = 1000;
/// The `wm` design's lock: shared by writers from their insert to their commit, tried
/// exclusively (never waited for) by the publisher.
const WATERMARK_KEY: i64 = 0x006a_6277_6d6b;

const SETUP: &str = "DROP TABLE IF EXISTS jb_lock, jb_xid, jb_pending, jb_pending_bare, jb_seq, \
         jb_wm; \
     CREATE TABLE jb_lock (LIKE activity INCLUDING ALL); \
     CREATE TABLE jb_wm (LIKE activity INCLUDING ALL); \
     CREATE TABLE jb_xid (LIKE activity INCLUDING ALL, \
         xid bigint NOT NULL DEFAULT pg_current_xact_id()::text::bigint); \
     CREATE INDEX ON jb_xid (xid, id); \
     CREATE TABLE jb_pending (LIKE activity INCLUDING ALL); \
     CREATE TABLE jb_pending_bare (LIKE activity INCLUDING DEFAULTS INCLUDING CONSTRAINTS \
         INCLUDING IDENTITY); \
     CREATE TABLE jb_seq (LIKE activity INCLUDING ALL)";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Design {
    None,
    Lock,
    Notify,
    Xid,
    /// `indexed`: the pending table has its primary key; `pace_ms`: the least time between
    /// two numberings' starts.
    Seq {
        indexed: bool,
        pace_ms: u64,
    },
    /// Writers insert into the journal directly, under a shared lock; a publisher hands out a
    /// watermark once nobody holds it (docs/performance.md, "Fewer numberings").
    Watermark,
}

impl Design {
    fn parse(name: &str) -> anyhow::Result<Self> {
        Ok(match name {
            "none" => Self::None,
            "lock" => Self::Lock,
            "notify" => Self::Notify,
            "xid" => Self::Xid,
            "seq" => Self::Seq {
                indexed: true,
                pace_ms: 5,
            },
            "seq-unpaced" => Self::Seq {
                indexed: true,
                pace_ms: 0,
            },
            "seq-bare" => Self::Seq {
                indexed: false,
                pace_ms: 5,
            },
            "wm" => Self::Watermark,
            other => bail!("unknown design {other}"),
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Lock => "lock (main)",
            Self::Notify => "NOTIFY, no lock",
            Self::Xid => "(a) xid + xmin",
            Self::Seq {
                indexed: true,
                pace_ms: 0,
            } => "(b), numbering after every commit",
            Self::Seq { indexed: true, .. } => "(b) sequencer",
            Self::Seq { indexed: false, .. } => "(b), pending table without index",
            Self::Watermark => "written once, a watermark",
        }
    }

    fn pending_table(self) -> &'static str {
        match self {
            Self::Seq { indexed: false, .. } => "jb_pending_bare",
            _ => "jb_pending",
        }
    }

    /// The writer's journal statement, run with the COMMIT.
    fn journal_sql(self) -> Option<String> {
        let notifying = |table: &str| {
            format!(
                "WITH new AS (INSERT INTO {table} ({JOURNAL_COLUMNS}) {FROM_JSON} RETURNING id) \
                 SELECT pg_notify('{table}', max(id)::text) FROM new"
            )
        };
        match self {
            Self::None => None,
            Self::Lock | Self::Notify => Some(notifying("jb_lock")),
            Self::Xid => Some(format!(
                "INSERT INTO jb_xid ({JOURNAL_COLUMNS}) {FROM_JSON}"
            )),
            Self::Seq { .. } => Some(format!(
                "INSERT INTO {} ({JOURNAL_COLUMNS}) {FROM_JSON}",
                self.pending_table()
            )),
            Self::Watermark => Some(format!("INSERT INTO jb_wm ({JOURNAL_COLUMNS}) {FROM_JSON}")),
        }
    }
}

async fn connect(url: &str) -> anyhow::Result<Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// A connection whose notifications arrive on the returned channel.
async fn listen(
    url: &str,
    channel: &str,
) -> anyhow::Result<(Client, tokio::sync::mpsc::UnboundedReceiver<()>)> {
    let (client, mut connection) = tokio_postgres::connect(url, NoTls).await?;
    let (forward, received) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(Ok(message)) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            if matches!(message, AsyncMessage::Notification(_)) && forward.send(()).is_err() {
                break;
            }
        }
    });
    client.batch_execute(&format!("LISTEN {channel}")).await?;
    Ok((client, received))
}

/// What every writer shares in one run.
struct Run {
    design: Design,
    recording: AtomicBool,
    stop: AtomicBool,
    doorbell: Notify,
    delays_us: Mutex<Vec<u32>>,
    read: std::sync::atomic::AtomicU64,
}

impl Run {
    fn record_delays(&self, delays: impl IntoIterator<Item = f64>) {
        let recording = self.recording.load(Ordering::Relaxed);
        let mut all = self.delays_us.lock().unwrap();
        for ms in delays {
            self.read.fetch_add(1, Ordering::Relaxed);
            if recording {
                all.push((ms * 1000.0).clamp(0.0, u32::MAX as f64) as u32);
            }
        }
    }
}

/// One writer's connection and statements.
struct Writer {
    client: Client,
    role: Statement,
    take_number: Statement,
    insert_task: Statement,
    lock_task: Statement,
    update_task: Statement,
    lock: Statement,
    lock_shared: Statement,
    journal: Option<Statement>,
}

impl Writer {
    async fn new(url: &str, design: Design) -> anyhow::Result<Self> {
        let client = connect(url).await?;
        let role = client
            .prepare("SELECT role FROM memberships WHERE project_id = $1 AND user_id = $2")
            .await?;
        let take_number = client
            .prepare(
                "UPDATE projects SET next_task_number = next_task_number + 1, \
                 task_count = task_count + 1 WHERE id = $1 \
                 RETURNING next_task_number - 1 AS number, task_count",
            )
            .await?;
        let insert_task = client
            .prepare(&format!(
                "INSERT INTO tasks AS t (id, project_id, number, title, description, status, \
                 priority, due_date, labels, assignee_id, created_by) \
                 VALUES ($1, $2, $3, $4, '', 'todo', $5, NULL, ARRAY['bench'], NULL, $6) \
                 RETURNING {TASK_COLUMNS}"
            ))
            .await?;
        let lock_task = client
            .prepare(&format!(
                "SELECT {TASK_COLUMNS}, m.role AS my_role FROM tasks t \
                 JOIN memberships m ON m.project_id = t.project_id AND m.user_id = $2 \
                 WHERE t.id = $1 FOR UPDATE OF t"
            ))
            .await?;
        let update_task = client
            .prepare(&format!(
                "UPDATE tasks AS t SET priority = $2, version = t.version + 1, \
                 updated_at = now() WHERE t.id = $1 RETURNING {TASK_COLUMNS}"
            ))
            .await?;
        let lock = client.prepare("SELECT pg_advisory_xact_lock($1)").await?;
        let lock_shared = client
            .prepare("SELECT pg_advisory_xact_lock_shared($1)")
            .await?;
        let journal = match design.journal_sql() {
            Some(sql) => Some(
                client
                    .prepare_typed(&sql, &[tokio_postgres::types::Type::JSONB])
                    .await?,
            ),
            None => None,
        };
        Ok(Self {
            client,
            role,
            take_number,
            insert_task,
            lock_task,
            update_task,
            lock,
            lock_shared,
            journal,
        })
    }

    /// The journal rows and the COMMIT, in one round trip as the server sends them.
    async fn commit(&self, run: &Run, entry: Value) -> anyhow::Result<()> {
        let rows = Value::Array(vec![entry]);
        let journal_values: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&rows];
        match (&self.journal, run.design) {
            (None, _) => self.client.batch_execute("COMMIT").await?,
            (Some(journal), design @ (Design::Lock | Design::Watermark)) => {
                // The lock's design holds its lock exclusively, `wm` shares it.
                let (lock, key) = if design == Design::Lock {
                    (&self.lock, &LOCK_KEY)
                } else {
                    (&self.lock_shared, &WATERMARK_KEY)
                };
                let lock_values: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [key];
                let (lock, write, commit) = tokio::join!(
                    self.client.execute(lock, &lock_values),
                    self.client.execute(journal, &journal_values),
                    self.client.batch_execute("COMMIT"),
                );
                lock?;
                write?;
                commit?;
            }
            (Some(journal), _) => {
                let (write, commit) = tokio::join!(
                    self.client.execute(journal, &journal_values),
                    self.client.batch_execute("COMMIT"),
                );
                write?;
                commit?;
            }
        }
        run.doorbell.notify_one();
        Ok(())
    }

    async fn create(&self, run: &Run, user: Uuid, project: Uuid) -> anyhow::Result<()> {
        self.client
            .query_one(&self.role, &[&project, &user])
            .await?;
        self.client.batch_execute("BEGIN").await?;
        let row = self
            .client
            .query_one(&self.take_number, &[&project])
            .await?;
        let number: i64 = row.get(0);
        let id = Uuid::now_v7();
        let priority: i16 = 2;
        self.client
            .query_one(
                &self.insert_task,
                &[&id, &project, &number, &"Benchmark task", &priority, &user],
            )
            .await?;
        let entry = json!({
            "actor_id": user, "kind": "task.created", "project_id": project, "task_id": id,
            "comment_id": null, "user_id": null, "counts": null,
            "changes": [{"field": "title", "from": null, "to": "Benchmark task"},
                        {"field": "status", "from": null, "to": "todo"},
                        {"field": "priority", "from": null, "to": priority},
                        {"field": "labels", "from": null, "to": ["bench"]}],
        });
        self.commit(run, entry).await
    }

    async fn update(&self, run: &Run, user: Uuid, task: Uuid, priority: i16) -> anyhow::Result<()> {
        self.client.batch_execute("BEGIN").await?;
        let old = self
            .client
            .query_one(&self.lock_task, &[&task, &user])
            .await?;
        let (project, before): (Uuid, i16) = (old.get("project_id"), old.get("priority"));
        self.client
            .query_one(&self.update_task, &[&task, &priority])
            .await?;
        let entry = json!({
            "actor_id": user, "kind": "task.updated", "project_id": project, "task_id": task,
            "comment_id": null, "user_id": null, "counts": null,
            "changes": [{"field": "priority", "from": before, "to": priority}],
        });
        self.commit(run, entry).await
    }
}

/// Who writes where: users who may edit every chosen project, the projects, each connection's
/// own tasks to update.
struct Targets {
    users: Vec<Uuid>,
    projects: Vec<Uuid>,
    own_tasks: Vec<Vec<Uuid>>,
}

async fn targets(db: &Client, projects: usize, connections: usize) -> anyhow::Result<Targets> {
    let projects: Vec<Uuid> = db
        .query(
            "SELECT id FROM projects WHERE inbox_of IS NULL \
             ORDER BY next_task_number DESC, id LIMIT $1",
            &[&(projects as i64)],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let users: Vec<Uuid> = db
        .query(
            "SELECT user_id FROM memberships WHERE project_id = ANY($1) \
               AND role IN ('editor', 'admin', 'owner') \
             GROUP BY user_id HAVING count(*) = $2 ORDER BY user_id LIMIT 64",
            &[&projects, &(projects.len() as i64)],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if users.is_empty() {
        bail!(
            "no user may edit all {} projects: run bench/journal.sh",
            projects.len()
        );
    }
    let tasks: Vec<Uuid> = db
        .query(
            "SELECT id FROM tasks WHERE project_id = ANY($1) ORDER BY md5(id::text) LIMIT $2",
            &[&projects, &((connections * 5) as i64)],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let own_tasks = (0..connections)
        .map(|c| tasks.iter().skip(c).step_by(connections).copied().collect())
        .collect();
    Ok(Targets {
        users,
        projects,
        own_tasks,
    })
}

/// The `seq` design's sequencer: after each doorbell (and every second), moves what committed
/// into the journal, numbered, one batch per transaction under the numbering lock.
async fn sequencer(url: String, run: Arc<Run>) -> anyhow::Result<()> {
    let Design::Seq { indexed, pace_ms } = run.design else {
        bail!("not a sequencer design");
    };
    let client = connect(&url).await?;
    let pending = run.design.pending_table();
    // Without an index the batch is found by `ctid` (rows are never updated, and only this
    // lock's holder deletes them).
    let batch = if indexed {
        format!("id IN (SELECT id FROM {pending} ORDER BY id LIMIT $1)")
    } else {
        format!("ctid = ANY (ARRAY(SELECT ctid FROM {pending} ORDER BY id LIMIT $1))")
    };
    let moving = client
        .prepare(&format!(
            "WITH moved AS (DELETE FROM {pending} WHERE {batch} \
                 RETURNING id, at, {JOURNAL_COLUMNS}), \
             numbered AS (INSERT INTO jb_seq (at, {JOURNAL_COLUMNS}) \
                 SELECT at, {JOURNAL_COLUMNS} FROM moved ORDER BY id RETURNING id) \
             SELECT n.moved, CASE WHEN n.moved > 0 THEN pg_notify('jb_seq', n.last::text) END \
             FROM (SELECT count(*) AS moved, max(id) AS last FROM numbered) n"
        ))
        .await?;
    let begin = format!("BEGIN; SELECT pg_advisory_xact_lock({SEQUENCER_KEY})");
    let pace = Duration::from_millis(pace_ms);
    let mut last_start = Instant::now() - pace;
    while !run.stop.load(Ordering::Relaxed) {
        next_turn(&run, pace, &mut last_start).await;
        loop {
            client.batch_execute(&begin).await?;
            let (moved, commit) = tokio::join!(
                client.query_one(&moving, &[&BATCH]),
                client.batch_execute("COMMIT"),
            );
            commit?;
            let moved: i64 = moved?.get(0);
            if moved < BATCH {
                break;
            }
        }
    }
    Ok(())
}

/// Waits for the writers' doorbell (or a second, in case one was missed), then until `pace`
/// after the previous turn's start, and marks this turn's start: the cadence the sequencer and
/// the `wm` publisher share, as the server's journal has it.
async fn next_turn(run: &Run, pace: Duration, last_start: &mut Instant) {
    tokio::select! {
        () = run.doorbell.notified() => {}
        () = tokio::time::sleep(Duration::from_secs(1)) => {}
    }
    tokio::time::sleep(pace.saturating_sub(last_start.elapsed())).await;
    *last_start = Instant::now();
}

/// The `wm` design's publisher and reader: after each doorbell (at most every 5 ms, and every
/// second), reads the identity's last value `L`, then tries the writers' lock exclusively
/// without waiting; once it gets it, every id up to `L` is committed or rolled back, and the
/// entries up to it are read (and a NOTIFY would tell the other readers). While a writer holds
/// the lock it tries again after 0.2 ms.
async fn publisher(url: String, run: Arc<Run>) -> anyhow::Result<()> {
    let client = connect(&url).await?;
    let last_value = client
        .prepare(
            "SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END \
             FROM jb_wm_id_seq",
        )
        .await?;
    let barrier = client
        .prepare("SELECT pg_try_advisory_xact_lock($1)")
        .await?;
    let read = client
        .prepare(
            "SELECT id, (extract(epoch FROM clock_timestamp() - at) * 1000)::float8 \
             FROM jb_wm WHERE id > $1 AND id <= $2 ORDER BY id LIMIT 1000",
        )
        .await?;
    let mut published: i64 = client.query_one(&last_value, &[]).await?.get(0);
    let pace = Duration::from_millis(5);
    let mut last_start = Instant::now() - pace;
    while !run.stop.load(Ordering::Relaxed) {
        next_turn(&run, pace, &mut last_start).await;
        let watermark = loop {
            let (value, got) = tokio::join!(
                client.query_one(&last_value, &[]),
                client.query_one(&barrier, &[&WATERMARK_KEY]),
            );
            let value: i64 = value?.get(0);
            if got?.get::<_, bool>(0) {
                break value;
            }
            if run.stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        };
        while published < watermark {
            let rows = client.query(&read, &[&published, &watermark]).await?;
            run.record_delays(rows.iter().map(|r| r.get::<_, f64>(1)));
            published = match rows.last() {
                Some(row) if rows.len() == 1000 => row.get(0),
                _ => watermark,
            };
        }
    }
    Ok(())
}

/// A reader of a journal whose ids increase in commit order (`lock`, `notify`, `seq`).
async fn id_reader(url: String, table: &'static str, run: Arc<Run>) -> anyhow::Result<()> {
    let (client, mut doorbell) = listen(&url, table).await?;
    let read = client
        .prepare(&format!(
            "SELECT id, (extract(epoch FROM clock_timestamp() - at) * 1000)::float8 \
             FROM {table} WHERE id > $1 ORDER BY id LIMIT 1000"
        ))
        .await?;
    let mut last: i64 = client
        .query_one(&format!("SELECT coalesce(max(id), 0) FROM {table}"), &[])
        .await?
        .get(0);
    while !run.stop.load(Ordering::Relaxed) {
        tokio::select! {
            _ = doorbell.recv() => {}
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        loop {
            let rows = client.query(&read, &[&last]).await?;
            if let Some(row) = rows.last() {
                last = row.get(0);
            }
            run.record_delays(rows.iter().map(|r| r.get::<_, f64>(1)));
            if rows.len() < 1000 {
                break;
            }
        }
    }
    Ok(())
}

/// The `xid` design's reader: entries in (xid, id) order, only those whose transaction is
/// older than the snapshot's xmin; while committed entries wait behind an older open
/// transaction, it polls again after a millisecond.
async fn xid_reader(url: String, run: Arc<Run>) -> anyhow::Result<()> {
    let client = connect(&url).await?;
    let read = client
        .prepare(
            "WITH h AS (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin) \
             SELECT j.xid, j.id, j.xid < h.xmin AS ready, \
                    (extract(epoch FROM clock_timestamp() - j.at) * 1000)::float8 \
             FROM jb_xid j, h WHERE (j.xid, j.id) > ($1, $2) ORDER BY j.xid, j.id LIMIT 1000",
        )
        .await?;
    let (mut xid, mut id): (i64, i64) = (0, 0);
    let mut behind = false;
    while !run.stop.load(Ordering::Relaxed) {
        let wait = if behind {
            Duration::from_millis(1)
        } else {
            Duration::from_secs(1)
        };
        tokio::select! {
            () = run.doorbell.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
        loop {
            let rows = client.query(&read, &[&xid, &id]).await?;
            let ready: Vec<_> = rows.iter().take_while(|r| r.get::<_, bool>(2)).collect();
            behind = ready.len() < rows.len();
            if let Some(row) = ready.last() {
                (xid, id) = (row.get(0), row.get(1));
            }
            run.record_delays(ready.iter().map(|r| r.get::<_, f64>(3)));
            if ready.len() < 1000 {
                break;
            }
        }
    }
    Ok(())
}

/// With `--hold`: every other second, a transaction that updates a task, stays open for a
/// second, then records its entry and commits.
async fn holder(url: String, run: Arc<Run>, user: Uuid, task: Uuid) -> anyhow::Result<()> {
    let writer = Writer::new(&url, run.design).await?;
    while !run.stop.load(Ordering::Relaxed) {
        writer.client.batch_execute("BEGIN").await?;
        let old = writer
            .client
            .query_one(&writer.lock_task, &[&task, &user])
            .await?;
        let project: Uuid = old.get("project_id");
        writer
            .client
            .query_one(&writer.update_task, &[&task, &1i16])
            .await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let entry = json!({
            "actor_id": user, "kind": "task.updated", "project_id": project, "task_id": task,
            "comment_id": null, "user_id": null, "counts": null, "changes": [],
        });
        writer.commit(&run, entry).await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Ok(())
}

struct Outcome {
    per_second: f64,
    /// CPU µs per write: PostgreSQL, this process (writers, readers, sequencer).
    cpu_us: (f64, f64),
    latencies_us: Vec<u32>,
    delays_us: Vec<u32>,
    read: u64,
}

async fn run_one(
    args: &Args,
    db: &Client,
    design: Design,
    connections: usize,
    projects: usize,
) -> anyhow::Result<Outcome> {
    db.batch_execute(SETUP).await?;
    let targets = Arc::new(targets(db, projects, connections + 1).await?);
    let run = Arc::new(Run {
        design,
        recording: AtomicBool::new(false),
        stop: AtomicBool::new(false),
        doorbell: Notify::new(),
        delays_us: Mutex::new(Vec::new()),
        read: Default::default(),
    });
    let url = args.database_url.clone();
    let mut helpers = Vec::new();
    let (readers, sequencers) = match args.beside.as_str() {
        "all" => (true, true),
        "sequencer" => (false, true),
        "none" => (false, false),
        other => bail!("--beside {other}: all, sequencer or none"),
    };
    match design {
        Design::None => {}
        Design::Lock | Design::Notify if readers => {
            helpers.push(tokio::spawn(id_reader(url.clone(), "jb_lock", run.clone())))
        }
        Design::Xid if readers => helpers.push(tokio::spawn(xid_reader(url.clone(), run.clone()))),
        Design::Watermark if sequencers => {
            helpers.push(tokio::spawn(publisher(url.clone(), run.clone())))
        }
        Design::Seq { .. } => {
            if sequencers {
                helpers.push(tokio::spawn(sequencer(url.clone(), run.clone())));
            }
            if readers {
                helpers.push(tokio::spawn(id_reader(url.clone(), "jb_seq", run.clone())));
            }
        }
        _ => {}
    }
    if args.hold {
        let task = targets.own_tasks[connections][0];
        helpers.push(tokio::spawn(holder(
            url.clone(),
            run.clone(),
            targets.users[0],
            task,
        )));
    }
    // Each writer's share of the rate, if one is set.
    let every =
        (args.rate > 0).then(|| Duration::from_secs_f64(connections as f64 / args.rate as f64));
    let mut writers = Vec::new();
    for c in 0..connections {
        let writer = Writer::new(&url, design).await?;
        let (run, targets) = (run.clone(), targets.clone());
        writers.push(tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::from_entropy();
            let user = targets.users[c % targets.users.len()];
            let own = &targets.own_tasks[c];
            let mut latencies = Vec::new();
            let mut ticker = every.map(|every| {
                let mut t = tokio::time::interval_at(
                    tokio::time::Instant::now() + every.mul_f64(rng.gen::<f64>()),
                    every,
                );
                t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                t
            });
            while !run.stop.load(Ordering::Relaxed) {
                if let Some(ticker) = ticker.as_mut() {
                    ticker.tick().await;
                }
                let started = Instant::now();
                let outcome = if own.is_empty() || rng.gen::<bool>() {
                    let project = *targets.projects.choose(&mut rng).expect("projects");
                    writer.create(&run, user, project).await
                } else {
                    let task = *own.choose(&mut rng).expect("tasks");
                    writer.update(&run, user, task, rng.gen_range(0..=4)).await
                };
                outcome?;
                if run.recording.load(Ordering::Relaxed) {
                    latencies.push(started.elapsed().as_micros() as u32);
                }
            }
            anyhow::Ok(latencies)
        }));
    }
    tokio::time::sleep(Duration::from_secs(args.warmup_s)).await;
    let postmaster = cpu::postmaster_of(db).await?;
    run.recording.store(true, Ordering::Relaxed);
    let cpu_before = (cpu::cluster(postmaster), cpu::own());
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.duration_s)).await;
    run.recording.store(false, Ordering::Relaxed);
    let cpu_after = (cpu::cluster(postmaster), cpu::own());
    let elapsed = started.elapsed();
    run.stop.store(true, Ordering::Relaxed);
    run.doorbell.notify_waiters();
    let mut latencies_us = Vec::new();
    for writer in writers {
        latencies_us.extend(writer.await??);
    }
    for helper in helpers {
        helper.await??;
    }
    latencies_us.sort_unstable();
    let mut delays_us = std::mem::take(&mut *run.delays_us.lock().unwrap());
    delays_us.sort_unstable();
    Ok(Outcome {
        cpu_us: (
            cpu::per_op(cpu_before.0, cpu_after.0, latencies_us.len()),
            cpu::per_op(cpu_before.1, cpu_after.1, latencies_us.len()),
        ),
        per_second: latencies_us.len() as f64 / elapsed.as_secs_f64(),
        latencies_us,
        delays_us,
        read: run.read.load(Ordering::Relaxed),
    })
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize] as f64 / 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let designs = args
        .designs
        .iter()
        .map(|d| Design::parse(d))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let db = connect(&args.database_url)
        .await
        .context("connecting to the benchmark database")?;
    let rate = match args.rate {
        0 => "flat out".to_owned(),
        r => format!("{r}/s"),
    };
    println!(
        "\nHistory designs at the database ({rate}{}; {} s per run after {} s warm-up)\n",
        if args.hold {
            ", one transaction held open 1 s every 2 s"
        } else {
            ""
        },
        args.duration_s,
        args.warmup_s
    );
    println!("| design | conns | projects | writes/s (median, range) | ÷ none | CPU µs/write PostgreSQL + client | ÷ none, by CPU | write p50 ms | write p99 ms | commit → readable p50 ms | p99 ms | max ms | entries read |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for &connections in &args.connections {
        for &projects in &args.projects {
            let mut outcomes: HashMap<usize, Vec<Outcome>> = HashMap::new();
            for _ in 0..args.rounds {
                for (n, &design) in designs.iter().enumerate() {
                    let outcome = run_one(&args, &db, design, connections, projects).await?;
                    outcomes.entry(n).or_default().push(outcome);
                }
            }
            let median = |n: usize| {
                let mut rates: Vec<f64> = outcomes[&n].iter().map(|o| o.per_second).collect();
                rates.sort_by(f64::total_cmp);
                (rates[rates.len() / 2], rates[0], rates[rates.len() - 1])
            };
            let none = designs
                .iter()
                .position(|d| *d == Design::None)
                .map(|n| median(n).0);
            // CPU per write, median of the rounds: PostgreSQL, client, and their sum.
            let cpu = |n: usize| {
                let mut sums: Vec<(f64, f64)> = outcomes[&n].iter().map(|o| o.cpu_us).collect();
                sums.sort_by(|a, b| (a.0 + a.1).total_cmp(&(b.0 + b.1)));
                sums[sums.len() / 2]
            };
            let none_cpu = designs.iter().position(|d| *d == Design::None).map(|n| {
                let (pg, own) = cpu(n);
                pg + own
            });
            for (n, &design) in designs.iter().enumerate() {
                let (rate, low, high) = median(n);
                let pooled = |pick: fn(&Outcome) -> &Vec<u32>| {
                    let mut all: Vec<u32> =
                        outcomes[&n].iter().flat_map(|o| pick(o).clone()).collect();
                    all.sort_unstable();
                    all
                };
                let latencies = pooled(|o| &o.latencies_us);
                let delays = pooled(|o| &o.delays_us);
                let read: u64 = outcomes[&n].iter().map(|o| o.read).sum();
                let ratio = none.map_or("–".to_owned(), |none| format!("{:.2}", rate / none));
                let spread = if args.rounds > 1 {
                    format!(" ({low:.0}–{high:.0})")
                } else {
                    String::new()
                };
                let delay = |p: f64| {
                    if design == Design::None {
                        "–".to_owned()
                    } else {
                        format!("{:.1}", percentile(&delays, p))
                    }
                };
                let (pg, own) = cpu(n);
                let by_cpu =
                    none_cpu.map_or("–".to_owned(), |none| format!("{:.2}", none / (pg + own)));
                println!(
                    "| {} | {connections} | {projects} | {rate:.0}{spread} | {ratio} | {pg:.0} + {own:.0} | {by_cpu} | {:.2} | {:.2} | {} | {} | {} | {} |",
                    design.name(),
                    percentile(&latencies, 0.5),
                    percentile(&latencies, 0.99),
                    delay(0.5),
                    delay(0.99),
                    delay(1.0),
                    if design == Design::None { "–".to_owned() } else { read.to_string() },
                );
            }
        }
    }
    db.batch_execute("DROP TABLE IF EXISTS jb_lock, jb_xid, jb_pending, jb_pending_bare, jb_seq")
        .await?;
    Ok(())
}
