//! The database: pool construction, embedded migrations, readiness, and the embedded cluster.

pub mod embedded;

use std::str::FromStr;
use std::time::Duration;

use secrecy::ExposeSecret;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::ConnectOptions;

use crate::config::Config;

pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Connection options from `DATABASE_URL`, with statement logging turned down: statements can
/// hold values we never want in logs.
pub fn connect_options_from_url(url: &str) -> anyhow::Result<PgConnectOptions> {
    let options = PgConnectOptions::from_str(url)?
        .log_statements(tracing::log::LevelFilter::Trace)
        .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_secs(2))
        .application_name("docket")
        // Short OLTP queries: JIT compilation costs more than it saves (measured in
        // docs/performance.md).
        .options([("jit", "off")]);
    Ok(options)
}

/// A pool that connects lazily: the server can start (and answer `/healthz`) while the
/// database is still down, and recovers by itself when it comes back.
pub fn lazy_pool(config: &Config, options: PgConnectOptions) -> PgPool {
    PgPoolOptions::new()
        .max_connections(config.db_max_connections)
        .min_connections(0)
        .acquire_timeout(config.db_acquire_timeout)
        .idle_timeout(Some(Duration::from_secs(300)))
        // A cheap liveness check only for connections that sat idle: after a database restart
        // the dead ones are dropped instead of failing a request.
        .test_before_acquire(false)
        .connect_lazy_with(options)
}

pub fn external_connect_options(config: &Config) -> anyhow::Result<Option<PgConnectOptions>> {
    config
        .database_url
        .as_ref()
        .map(|url| connect_options_from_url(url.expose_secret()))
        .transpose()
}

/// Applies pending migrations. sqlx takes a PostgreSQL advisory lock around them, so several
/// instances starting at once apply each migration exactly once.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    MIGRATOR.run(pool).await?;
    Ok(())
}

/// True when the database answers and every embedded migration has been applied.
pub async fn is_ready(pool: &PgPool) -> bool {
    let latest = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
    let applied: Result<Option<i64>, _> =
        sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(pool)
            .await;
    matches!(applied, Ok(Some(version)) if version >= latest)
}
