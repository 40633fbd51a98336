//! The database: the pool, how a statement is executed, transactions, embedded migrations,
//! readiness, and the embedded cluster.
//!
//! Every statement goes through [`Exec`]: the SQL text and its parameters, each with its
//! PostgreSQL type (the `params!` macro derives the type from the Rust value). Knowing the types
//! up front lets one code path serve both connection modes:
//! - direct (the default): statements are prepared once per connection and reused
//!   (`prepare_typed_cached`), so a query is a single Bind/Execute/Sync write;
//! - behind a transaction-mode pooler (`DOCKET_DB_POOLER=transaction`): every statement is sent
//!   unnamed with its types (`query_typed`), in one round trip, and nothing prepared outlives it.
//!
//! Store modules own the SQL; nothing outside them and this module writes any.

pub mod backoff;
pub mod backup;
pub mod disk;
pub mod embedded;
mod id_map;
mod lanes;
pub mod migrations;
mod param;
pub mod postmaster;

use std::future::Future;
use std::time::Duration;

use deadpool_postgres::{
    Hook, Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, TimeoutType,
};
use secrecy::ExposeSecret;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::NoTls;

pub use id_map::IdMap;
pub use param::{typed, Param, PgParam};
pub use tokio_postgres::Row;

use crate::config::Config;

/// `params![a, b]`: the parameters of a statement, typed from their Rust types.
#[macro_export]
macro_rules! params {
    () => { &[] as &[$crate::db::Param<'_>] };
    ($($value:expr),+ $(,)?) => { &[$($crate::db::typed(&$value)),+] as &[$crate::db::Param<'_>] };
}

/// How statements reach the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementMode {
    /// Prepared once per connection and cached.
    Cached,
    /// Unnamed, typed, one round trip: for transaction-mode poolers.
    Unnamed,
}

/// A database failure, as the rest of the code needs to tell them apart. Store functions
/// return it (never an HTTP error); `error.rs` maps it at the edge.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// No connection could be had in time, or the connection broke: try again later.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Query(#[from] tokio_postgres::Error),
    /// A row did not have the shape its reader expected (a bug).
    #[error("unexpected row: {0}")]
    Decode(String),
}

impl DbError {
    pub fn code(&self) -> Option<&SqlState> {
        match self {
            DbError::Query(error) => error.code(),
            _ => None,
        }
    }

    /// The constraint behind a unique violation, if that is what this is.
    pub fn unique_violation(&self) -> Option<&str> {
        match self {
            DbError::Query(error) if error.code() == Some(&SqlState::UNIQUE_VIOLATION) => error
                .as_db_error()
                .map(|db| db.constraint().unwrap_or_default()),
            _ => None,
        }
    }

    /// True for failures that say nothing about the request: the server is away, shutting
    /// down, restarting after a crash, out of disk or another resource, or cancelled the
    /// statement (the statement timeout).
    pub fn is_unavailable(&self) -> bool {
        self.is_unreachable()
            || self.code().is_some_and(|code| {
                code == &SqlState::QUERY_CANCELED || code.code().starts_with("53")
            })
            || self.is_panic()
    }

    /// The server could not be reached or the connection ended under the statement (it
    /// stopped, crashed, or is still recovering): an outage, not something about this
    /// statement.
    pub fn is_unreachable(&self) -> bool {
        match self {
            DbError::Unavailable(_) => true,
            DbError::Query(error) => {
                error.is_closed()
                    || error.code().is_some_and(|code| {
                        code.code().starts_with("57P") || code.code().starts_with("08")
                    })
                    || std::error::Error::source(error)
                        .is_some_and(|source| source.is::<std::io::Error>())
            }
            DbError::Decode(_) => false,
        }
    }

    /// SQLSTATE 53100: the database's disk is full.
    pub fn is_disk_full(&self) -> bool {
        self.code() == Some(&SqlState::DISK_FULL)
    }

    /// The server reported a PANIC: it is restarting (every session ends).
    fn is_panic(&self) -> bool {
        match self {
            DbError::Query(error) => error.as_db_error().is_some_and(|db| {
                db.parsed_severity() == Some(tokio_postgres::error::Severity::Panic)
            }),
            _ => false,
        }
    }
}

impl From<PoolError> for DbError {
    fn from(error: PoolError) -> Self {
        DbError::Unavailable(error.to_string())
    }
}

/// Whether a failed checkout says the server is unreachable (it could not be connected to in
/// time, or refused), rather than that the pool is busy.
fn is_outage(error: &PoolError) -> bool {
    matches!(
        error,
        PoolError::Backend(_) | PoolError::Timeout(TimeoutType::Create)
    )
}

pub type DbResult<T> = Result<T, DbError>;

/// Reads a value of a row by column name, as a `DbError` instead of a panic.
pub fn get<'a, T: tokio_postgres::types::FromSql<'a>>(row: &'a Row, column: &str) -> DbResult<T> {
    row.try_get(column)
        .map_err(|e| DbError::Decode(format!("{column}: {e}")))
}

/// Reads a row's columns by name, fastest when they are read in the order the statement
/// selects them: each read first tries the column after the previous one, and only searches
/// by name when that is not it (a name lookup compares against every column before it, which
/// for a task's twenty columns is most of decoding one).
pub struct Columns<'a> {
    row: &'a Row,
    next: usize,
}

impl<'a> Columns<'a> {
    pub fn new(row: &'a Row) -> Self {
        Self { row, next: 0 }
    }

    pub fn get<T: tokio_postgres::types::FromSql<'a>>(&mut self, column: &str) -> DbResult<T> {
        let columns = self.row.columns();
        let index = match columns.get(self.next) {
            Some(c) if c.name() == column => self.next,
            _ => columns
                .iter()
                .position(|c| c.name() == column)
                .ok_or_else(|| DbError::Decode(format!("no column {column}")))?,
        };
        self.next = index + 1;
        self.row
            .try_get(index)
            .map_err(|e| DbError::Decode(format!("{column}: {e}")))
    }
}

/// A type built from one row.
pub trait FromRow: Sized {
    fn from_row(row: &Row) -> DbResult<Self>;
}

/// Something statements can run on: the pool (a connection per statement), a connection, or
/// a transaction.
pub trait Exec: Sync {
    fn query<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [Param<'a>],
    ) -> impl Future<Output = DbResult<Vec<Row>>> + Send + 'a;

    fn query_opt<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [Param<'a>],
    ) -> impl Future<Output = DbResult<Option<Row>>> + Send + 'a {
        async move {
            // Like `fetch_optional`: the first row, if any.
            Ok(self.query(sql, params).await?.into_iter().next())
        }
    }

    fn query_one<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [Param<'a>],
    ) -> impl Future<Output = DbResult<Row>> + Send + 'a {
        async move {
            self.query_opt(sql, params)
                .await?
                .ok_or_else(|| DbError::Decode("expected one row, got none".into()))
        }
    }

    /// Runs a statement, returning the number of rows it touched.
    fn execute<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [Param<'a>],
    ) -> impl Future<Output = DbResult<u64>> + Send + 'a;

    fn fetch_all<'a, T: FromRow + Send>(
        &'a self,
        sql: &'a str,
        params: &'a [Param<'a>],
    ) -> impl Future<Output = DbResult<Vec<T>>> + Send + 'a {
        async move {
            self.query(sql, params)
                .await?
                .iter()
                .map(T::from_row)
                .collect()
        }
    }

    fn fetch_opt<'a, T: FromRow + Send>(
        &'a self,
        sql: &'a str,
        params: &'a [Param<'a>],
    ) -> impl Future<Output = DbResult<Option<T>>> + Send + 'a {
        async move {
            self.query_opt(sql, params)
                .await?
                .as_ref()
                .map(T::from_row)
                .transpose()
        }
    }

    fn fetch_one<'a, T: FromRow + Send>(
        &'a self,
        sql: &'a str,
        params: &'a [Param<'a>],
    ) -> impl Future<Output = DbResult<T>> + Send + 'a {
        async move { T::from_row(&self.query_one(sql, params).await?) }
    }
}

/// The pool. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    /// The connection settings, kept for [`Db::sibling`].
    pg: std::sync::Arc<tokio_postgres::Config>,
    acquire_timeout: Duration,
    mode: StatementMode,
    statement_timeout: Duration,
    lanes: std::sync::Arc<lanes::Lanes>,
    /// Outages as the pool sees them (one log line and the metrics each).
    health: std::sync::Arc<backoff::Health>,
    /// Set once the migrations are current: until then the API answers 503 and the
    /// background loops wait.
    migrated: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Rung after each commit of a transaction that wrote journal rows (see `Tx::journal`).
    journal_committed: std::sync::Arc<tokio::sync::Notify>,
}

impl Db {
    /// A pool that connects lazily: the server can start (and answer `/healthz`) while the
    /// database is still down, and recovers by itself when it comes back.
    pub fn new(config: &Config, pg: tokio_postgres::Config) -> Self {
        let mode = if config.db_pooler_transaction {
            StatementMode::Unnamed
        } else {
            StatementMode::Cached
        };
        let pg = session_options(pg, config, mode);
        let health = std::sync::Arc::new(backoff::Health::default());
        let max_size = config.db_max_connections as usize;
        let pool = build_pool(&pg, &health, max_size, config.db_acquire_timeout);
        // Lanes share a connection between requests; behind a transaction-mode pooler a
        // connection is not ours to share, so reads take the pool's path there.
        let lanes = match mode {
            StatementMode::Cached => read_lanes(config.db_max_connections as usize),
            StatementMode::Unnamed => 0,
        };
        Self {
            pool,
            pg: std::sync::Arc::new(pg),
            acquire_timeout: config.db_acquire_timeout,
            mode,
            statement_timeout: config.db_statement_timeout,
            lanes: std::sync::Arc::new(lanes::Lanes::new(
                lanes,
                config.db_acquire_timeout.max(lanes::MIN_WAIT),
            )),
            health,
            migrated: Default::default(),
            journal_committed: Default::default(),
        }
    }

    /// A pool of `max_size` connections of its own, for work that runs on another runtime (the
    /// webhook deliveries, `webhooks::outbox::spawn`): a pooled connection is driven by a task
    /// of the runtime that opened it, so two runtimes must not share connections. It shares
    /// the migration flag, the outage state and the journal's bell with `self`, and has no
    /// read lanes.
    pub fn sibling(&self, max_size: usize) -> Db {
        Db {
            pool: build_pool(&self.pg, &self.health, max_size, self.acquire_timeout),
            pg: self.pg.clone(),
            acquire_timeout: self.acquire_timeout,
            mode: self.mode,
            statement_timeout: self.statement_timeout,
            lanes: std::sync::Arc::new(lanes::Lanes::new(
                0,
                self.acquire_timeout.max(lanes::MIN_WAIT),
            )),
            health: self.health.clone(),
            migrated: self.migrated.clone(),
            journal_committed: self.journal_committed.clone(),
        }
    }

    pub fn is_migrated(&self) -> bool {
        self.migrated.load(std::sync::atomic::Ordering::Acquire)
    }

    pub fn mark_migrated(&self) {
        self.migrated
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// Rung (`notify_one`) after a transaction of this process that wrote journal rows
    /// committed: whoever follows the journal waits on it instead of a NOTIFY per commit
    /// (PostgreSQL serialises the commits of transactions that NOTIFY).
    pub fn journal_committed(&self) -> &tokio::sync::Notify {
        &self.journal_committed
    }

    /// Short read-only statements that cannot wait on a lock (point lookups by key, no
    /// `FOR UPDATE`) run here: on shared connections, where concurrent requests' queries
    /// pipeline (see `lanes`). Anything else uses the pool (`Db` itself) or a transaction.
    pub fn reads(&self) -> Reads<'_> {
        Reads(self)
    }

    pub fn mode(&self) -> StatementMode {
        self.mode
    }

    /// Whether the pool's last attempt to reach the server failed (and none succeeded since).
    pub fn is_down(&self) -> bool {
        self.health.is_down()
    }

    /// A pooled connection; a failure to reach the server starts an outage (see `Health`).
    async fn checkout(&self) -> DbResult<Object> {
        checkout(&self.pool, &self.health).await
    }

    /// A connection of its own, for a run of statements.
    pub async fn conn(&self) -> DbResult<Conn> {
        Ok(Conn {
            client: Some(self.checkout().await?),
            mode: self.mode,
        })
    }

    /// A transaction on a connection of its own. Dropped without `commit`, it rolls back.
    pub async fn begin(&self) -> DbResult<Tx> {
        self.begin_with("").await
    }

    /// A transaction that first takes the transaction-scoped advisory lock `key`, waiting for
    /// it, in the same round trip as its BEGIN. Its next statement's snapshot is taken after
    /// the lock is held, so it sees every commit of the lock's previous holders.
    pub async fn begin_locked(&self, key: i64) -> DbResult<Tx> {
        self.begin_with(&format!("; SELECT pg_advisory_xact_lock({key})"))
            .await
    }

    async fn begin_with(&self, then: &str) -> DbResult<Tx> {
        let conn = self.conn().await?;
        let begin = match self.mode {
            StatementMode::Cached => format!("BEGIN{then}"),
            // Behind a pooler the session's options were not applied (see `session_options`).
            StatementMode::Unnamed => format!(
                "BEGIN; SET LOCAL statement_timeout = {}{then}",
                self.statement_timeout.as_millis()
            ),
        };
        conn.client().batch_execute(&begin).await?;
        Ok(Tx {
            conn,
            finished: false,
            journal: std::sync::Mutex::new(None),
            journal_committed: self.journal_committed.clone(),
        })
    }

    /// Pool use, for the metrics.
    pub fn status(&self) -> deadpool_postgres::Status {
        self.pool.status()
    }

    /// Drops connections that sat unused for `idle`.
    pub fn prune_idle(&self, idle: Duration) {
        self.pool.retain(|_, metrics| metrics.last_used() < idle);
    }

    pub fn close(&self) {
        self.lanes.clear();
        self.pool.close();
    }
}

/// Settings every session gets. Behind a pooler, startup options are not passed on (PgBouncer
/// refuses them), so the statement timeout is then set per transaction (see `Tx`) and should
/// also be set on the role.
/// A lazily connecting pool over `pg`; a connection it opens marks the server reachable.
fn build_pool(
    pg: &tokio_postgres::Config,
    health: &std::sync::Arc<backoff::Health>,
    max_size: usize,
    acquire_timeout: Duration,
) -> Pool {
    let manager = Manager::from_config(
        pg.clone(),
        NoTls,
        ManagerConfig {
            // A broken connection is closed by its connection task (a database restart
            // closes the socket), so checking `is_closed` on checkout is enough and costs
            // no round trip.
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let reached = health.clone();
    Pool::builder(manager)
        .post_create(Hook::sync_fn(move |_, _| {
            reached.reachable();
            Ok(())
        }))
        .max_size(max_size)
        .wait_timeout(Some(acquire_timeout))
        .create_timeout(Some(acquire_timeout))
        .recycle_timeout(Some(acquire_timeout))
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .build()
        .expect("a pool with a runtime and timeouts builds")
}

fn session_options(
    mut pg: tokio_postgres::Config,
    config: &Config,
    mode: StatementMode,
) -> tokio_postgres::Config {
    pg.application_name("docket");
    if mode == StatementMode::Cached {
        // Short OLTP queries: JIT compilation costs more than it saves (docs/performance.md).
        pg.options(format!(
            "-c jit=off -c statement_timeout={}",
            config.db_statement_timeout.as_millis()
        ));
    }
    pg
}

async fn checkout(pool: &Pool, health: &backoff::Health) -> DbResult<Object> {
    match pool.get().await {
        Ok(client) => Ok(client),
        Err(error) => {
            if is_outage(&error) {
                health.unreachable(&error);
            }
            Err(error.into())
        }
    }
}

impl Exec for Db {
    async fn query<'a>(&'a self, sql: &'a str, params: &'a [Param<'a>]) -> DbResult<Vec<Row>> {
        let client = self.checkout().await?;
        run_query(&client, self.mode, sql, params).await
    }

    async fn execute<'a>(&'a self, sql: &'a str, params: &'a [Param<'a>]) -> DbResult<u64> {
        let client = self.checkout().await?;
        run_execute(&client, self.mode, sql, params).await
    }
}

/// How many lanes a pool of `max_connections` keeps: a quarter of it, from one to four, so
/// that most connections stay free for transactions.
fn read_lanes(max_connections: usize) -> usize {
    (max_connections / 4)
        .clamp(1, 4)
        .min(max_connections.saturating_sub(1))
}

/// Statements on the read lanes (`Db::reads`).
pub struct Reads<'a>(&'a Db);

impl Exec for Reads<'_> {
    async fn query<'a>(&'a self, sql: &'a str, params: &'a [Param<'a>]) -> DbResult<Vec<Row>> {
        let db = self.0;
        // No lanes, or none to be had just now (refilling one is backing off): the pool's way.
        let Some(client) = db.lanes.connection(&db.pool, &db.health).await? else {
            return db.query(sql, params).await;
        };
        // Waiting on a shared connection is waiting for a connection: a hung database gives
        // 503 within the acquire timeout here too, not at the handler deadline.
        match tokio::time::timeout(db.lanes.wait(), run_query(&client, db.mode, sql, params)).await
        {
            Ok(result) => result,
            Err(_) => {
                db.lanes.abandon(&client);
                Err(DbError::Unavailable(format!(
                    "a read on a shared connection got no answer within {} ms",
                    db.lanes.wait().as_millis()
                )))
            }
        }
    }

    /// A write could wait on a row lock and stall every read queued behind it: never on a lane.
    async fn execute<'a>(&'a self, sql: &'a str, params: &'a [Param<'a>]) -> DbResult<u64> {
        self.0.execute(sql, params).await
    }
}

/// One pooled connection.
pub struct Conn {
    client: Option<Object>,
    mode: StatementMode,
}

impl Conn {
    fn client(&self) -> &Object {
        self.client.as_ref().expect("present until dropped")
    }
}

impl Exec for Conn {
    fn query<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [Param<'a>],
    ) -> impl Future<Output = DbResult<Vec<Row>>> + Send + 'a {
        run_query(self.client(), self.mode, sql, params)
    }

    fn execute<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [Param<'a>],
    ) -> impl Future<Output = DbResult<u64>> + Send + 'a {
        run_execute(self.client(), self.mode, sql, params)
    }
}

/// A transaction. Statements run on it through `Exec`; `commit` ends it, and dropping it
/// without a commit rolls it back (on a spawned task, since `Drop` cannot wait).
pub struct Tx {
    conn: Conn,
    finished: bool,
    journal: std::sync::Mutex<Option<Journal>>,
    journal_committed: std::sync::Arc<tokio::sync::Notify>,
}

/// Rows a transaction appends to the journal (the activity history): one statement that takes
/// them all as a JSON array in `$1`, written as text as they are queued (no `Value` tree).
struct Journal {
    sql: &'static str,
    /// `[` and the rows so far, comma-separated; empty when there are none.
    rows: Vec<u8>,
}

impl Journal {
    /// The rows as one JSON array, leaving none queued (`None` when there were none).
    fn take_array(&mut self) -> Option<param::JsonText> {
        if self.rows.is_empty() {
            return None;
        }
        let mut rows = std::mem::take(&mut self.rows);
        rows.push(b']');
        Some(param::JsonText(rows))
    }
}

impl Tx {
    /// Queues a row for the journal. Journal rows are written at commit, in the same round
    /// trip as the COMMIT (so recording history costs a write no extra round trip); a
    /// transaction that rolls back writes none. No lock is taken: the rows are numbered after
    /// the commit by whoever follows the journal, woken by `Db::journal_committed`. Every row
    /// of a transaction goes through the same `sql`.
    pub fn journal(&self, sql: &'static str, row: &impl serde::Serialize) {
        let mut journal = self.journal.lock().unwrap_or_else(|e| e.into_inner());
        let journal = journal.get_or_insert_with(|| Journal {
            sql,
            rows: Vec::new(),
        });
        debug_assert_eq!(journal.sql, sql, "one journal statement per transaction");
        let rows = &mut journal.rows;
        rows.push(if rows.is_empty() { b'[' } else { b',' });
        serde_json::to_writer(&mut *rows, row).expect("a journal row serializes");
    }

    /// Writes the journal rows queued so far now, inside the transaction, instead of with the
    /// COMMIT: for a transaction that writes very many (an import), so they are not all held
    /// in memory until the end. They still become visible only when it commits, and a rollback
    /// still writes none. Their order is kept (the pending identity is taken as they are
    /// written).
    pub async fn flush_journal(&self) -> DbResult<()> {
        let journal = self
            .journal
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
            .and_then(|journal| Some((journal.sql, journal.take_array()?)));
        if let Some((sql, rows)) = journal {
            self.execute(sql, crate::params![rows]).await?;
        }
        Ok(())
    }

    /// Commits, unless the task runs inside [`with_commit_held`] and this is the first
    /// transaction to commit there: then it stays open, parked for that caller, who adds to it
    /// and commits it (so for this code it has committed; the caller answers for the rest).
    /// A second transaction committing there would be an effect without the answer, so
    /// handlers under an `Idempotency-Key` commit once, last.
    pub async fn commit(self) -> DbResult<()> {
        let mut this = Some(self);
        let second = HELD.try_with(|held| {
            let mut state = held.lock().unwrap_or_else(|e| e.into_inner());
            match *state {
                Held::Waiting => {
                    *state = Held::Parked(Box::new(this.take().expect("not taken yet")));
                    false
                }
                Held::Parked(_) => true,
                Held::Taken => false,
            }
        });
        if second == Ok(true) {
            tracing::error!("a second transaction committed under a held commit");
            // Tests run debug builds: a handler that does this fails its idempotency tests.
            #[cfg(debug_assertions)]
            panic!("a second transaction committed under a held commit");
        }
        match this {
            Some(tx) => tx.commit_now().await,
            None => Ok(()),
        }
    }

    /// Commits now, held or not.
    pub async fn commit_now(mut self) -> DbResult<()> {
        let journal = self
            .journal
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let Some(mut journal) = journal else {
            return self.commit_bare().await;
        };
        let committed = self.journal_committed.clone();
        match journal.take_array() {
            Some(rows) => {
                self.commit_with(journal.sql, crate::params![rows]).await?;
            }
            // All of them were written already (`flush_journal`): the bell still rings.
            None => self.commit_bare().await?,
        }
        committed.notify_one();
        Ok(())
    }

    /// A COMMIT and nothing else.
    async fn commit_bare(mut self) -> DbResult<()> {
        self.finished = true;
        self.conn.client().batch_execute("COMMIT").await?;
        Ok(())
    }

    /// Runs `sql` as the transaction's last statement and commits, in one round trip, and
    /// returns the statement's rows. They must reach the server in that order, so the
    /// statement is prepared first (a no-op once cached): its future then sends its messages on
    /// its first poll, and `join!` polls it before the COMMIT's. A failing statement leaves the
    /// transaction aborted, so the COMMIT that follows rolls it back, and its error is
    /// returned. (A transaction with journal rows commits through `commit`, which writes them.)
    pub async fn commit_with(mut self, sql: &str, params: &[Param<'_>]) -> DbResult<Vec<Row>> {
        debug_assert!(
            self.journal.get_mut().map_or(true, |j| j.is_none()),
            "journal rows would be lost"
        );
        let client = self.conn.client();
        let (rows, commit) = match self.conn.mode {
            StatementMode::Cached => {
                let types: Vec<Type> = params.iter().map(|(_, t)| t.clone()).collect();
                let statement = client.prepare_typed_cached(sql, &types).await?;
                let values: Vec<&(dyn ToSql + Sync)> = params.iter().map(|(v, _)| *v).collect();
                tokio::join!(
                    client.query(&statement, &values),
                    client.batch_execute("COMMIT"),
                )
            }
            // Unnamed statements are parsed, bound and run in one message each.
            StatementMode::Unnamed => tokio::join!(
                client.query_typed(sql, params),
                client.batch_execute("COMMIT"),
            ),
        };
        self.finished = true;
        let rows = rows?;
        commit?;
        Ok(rows)
    }

    pub async fn rollback(mut self) -> DbResult<()> {
        self.finished = true;
        self.conn.client().batch_execute("ROLLBACK").await?;
        Ok(())
    }
}

/// What [`with_commit_held`] keeps for its caller.
enum Held {
    /// No transaction has committed yet.
    Waiting,
    Parked(Box<Tx>),
    /// Handed back: later commits in the scope go through.
    Taken,
}

tokio::task_local! {
    static HELD: std::sync::Mutex<Held>;
}

/// Runs `work` with the COMMIT of its first transaction held back: that transaction comes
/// back open beside `work`'s output, for the caller to add a statement to and commit, so that
/// both become durable together or not at all (the idempotency layer stores a response this
/// way in the transaction that made it). Dropped without a commit, it rolls back.
pub async fn with_commit_held<F: Future>(work: F) -> (F::Output, Option<Tx>) {
    let (output, held) = HELD
        .scope(std::sync::Mutex::new(Held::Waiting), async move {
            let output = work.await;
            let held = HELD.with(|held| {
                std::mem::replace(
                    &mut *held.lock().unwrap_or_else(|e| e.into_inner()),
                    Held::Taken,
                )
            });
            (output, held)
        })
        .await;
    match held {
        Held::Parked(tx) => (output, Some(*tx)),
        Held::Waiting | Held::Taken => (output, None),
    }
}

impl Exec for Tx {
    fn query<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [Param<'a>],
    ) -> impl Future<Output = DbResult<Vec<Row>>> + Send + 'a {
        self.conn.query(sql, params)
    }

    fn execute<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [Param<'a>],
    ) -> impl Future<Output = DbResult<u64>> + Send + 'a {
        self.conn.execute(sql, params)
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        // The connection goes back to the pool only after the rollback; if the runtime is gone
        // the connection is dropped with it, which ends the transaction too.
        if let (Some(client), Ok(runtime)) = (
            self.conn.client.take(),
            tokio::runtime::Handle::try_current(),
        ) {
            runtime.spawn(async move {
                if client.batch_execute("ROLLBACK").await.is_err() {
                    // A connection in an unknown state must not be reused.
                    let _ = Object::take(client);
                }
            });
        }
    }
}

async fn run_query(
    client: &Object,
    mode: StatementMode,
    sql: &str,
    params: &[Param<'_>],
) -> DbResult<Vec<Row>> {
    match mode {
        StatementMode::Cached => {
            let types: Vec<Type> = params.iter().map(|(_, t)| t.clone()).collect();
            let statement = client.prepare_typed_cached(sql, &types).await?;
            let values: Vec<&(dyn ToSql + Sync)> = params.iter().map(|(v, _)| *v).collect();
            Ok(client.query(&statement, &values).await?)
        }
        StatementMode::Unnamed => Ok(client.query_typed(sql, params).await?),
    }
}

async fn run_execute(
    client: &Object,
    mode: StatementMode,
    sql: &str,
    params: &[Param<'_>],
) -> DbResult<u64> {
    match mode {
        StatementMode::Cached => {
            let types: Vec<Type> = params.iter().map(|(_, t)| t.clone()).collect();
            let statement = client.prepare_typed_cached(sql, &types).await?;
            let values: Vec<&(dyn ToSql + Sync)> = params.iter().map(|(v, _)| *v).collect();
            Ok(client.execute(&statement, &values).await?)
        }
        StatementMode::Unnamed => {
            let stream = client
                .query_typed_raw(sql, params.iter().map(|(v, t)| (*v, t.clone())))
                .await?;
            futures::pin_mut!(stream);
            while futures::TryStreamExt::try_next(&mut stream)
                .await?
                .is_some()
            {}
            Ok(stream.rows_affected().unwrap_or(0))
        }
    }
}

/// The connection settings of `DATABASE_URL`.
pub fn external_config(config: &Config) -> anyhow::Result<Option<tokio_postgres::Config>> {
    config
        .database_url
        .as_ref()
        .map(|url| Ok(url.expose_secret().parse::<tokio_postgres::Config>()?))
        .transpose()
}

/// Where sessions that outlive a transaction go (`LISTEN`, the migrations' lock):
/// `DOCKET_DATABASE_LISTEN_URL`, else the database's own settings.
pub fn session_config(
    config: &Config,
    connect: &tokio_postgres::Config,
) -> anyhow::Result<tokio_postgres::Config> {
    Ok(match &config.database_listen_url {
        Some(url) => url.expose_secret().parse()?,
        None => connect.clone(),
    })
}

/// A plain connection outside the pool, driven on its own task (the `LISTEN` connection,
/// one-shot commands).
pub async fn connect(pg: &tokio_postgres::Config) -> DbResult<tokio_postgres::Client> {
    let (client, connection) = pg.connect(NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// A statement assembled at run time (the task lists' filters): text plus owned, typed
/// parameters, numbered as they are bound.
#[derive(Default)]
pub struct QueryBuilder {
    sql: String,
    values: Vec<(Box<dyn ToSql + Sync + Send>, Type)>,
}

impl QueryBuilder {
    pub fn new(sql: impl Into<String>) -> Self {
        Self {
            sql: sql.into(),
            values: Vec::new(),
        }
    }

    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Appends a placeholder (`$n`) bound to `value`.
    pub fn bind<T: PgParam + Send + 'static>(&mut self, value: T) -> &mut Self {
        self.values.push((Box::new(value), T::TYPE));
        self.sql.push('$');
        self.sql.push_str(&self.values.len().to_string());
        self
    }

    pub fn sql(&self) -> &str {
        &self.sql
    }

    pub fn params(&self) -> Vec<Param<'_>> {
        self.values
            .iter()
            .map(|(value, ty)| (value.as_ref() as &(dyn ToSql + Sync), ty.clone()))
            .collect()
    }
}
