//! Schema migrations: the files in `migrations/`, embedded in the binary and applied by
//! refinery.
//!
//! Migrations run on a session of their own (`DOCKET_DATABASE_LISTEN_URL` when a
//! transaction-mode pooler sits in front of the database, which could not keep a session lock).
//! Several instances may start at once, so the run holds a PostgreSQL advisory lock (refinery
//! takes none). A database made by Docket 0.1, which migrated with sqlx, is recognised by its
//! `_sqlx_migrations` table: the migrations it records are marked applied in refinery's
//! history (without running them again) before the rest are applied. The legacy table is
//! left as it was.

use refinery::Target;

use super::{Db, DbError, DbResult, Exec};
use crate::params;
use tokio_postgres::Client;

refinery::embed_migrations!("migrations");

/// An arbitrary constant: the advisory lock that serialises migration runs.
const LOCK_KEY: i64 = 0x646f_636b_6574_6d69; // "docketmi"
const HISTORY: &str = "refinery_schema_history";

fn failed(error: refinery::Error) -> DbError {
    DbError::Unavailable(format!("migrations failed: {error}"))
}

/// Applies pending migrations over a session to `pg`. Safe to run from several instances at
/// once.
pub async fn migrate(pg: &tokio_postgres::Config) -> DbResult<()> {
    let mut client = super::connect(pg).await?;
    client
        .execute("SELECT pg_advisory_lock($1)", &[&LOCK_KEY])
        .await?;
    // The lock goes with the session, which ends when `client` is dropped, also on failure.
    migrate_locked(&mut client).await
}

/// Applies the embedded migrations up to and including `version`, as an older release would
/// have left the database: tests of a later migration start from there (refinery never
/// applies a migration older than one already applied, so a later one cannot be undone).
pub async fn migrate_to(pg: &tokio_postgres::Config, version: i64) -> DbResult<()> {
    let mut client = super::connect(pg).await?;
    client
        .execute("SELECT pg_advisory_lock($1)", &[&LOCK_KEY])
        .await?;
    migrations::runner()
        .set_target(Target::Version(version as _))
        .run_async(&mut client)
        .await
        .map_err(failed)?;
    Ok(())
}

async fn migrate_locked(client: &mut Client) -> DbResult<()> {
    if let Some(version) = legacy_version(client).await? {
        tracing::info!(
            version,
            "carrying the sqlx migration history over to refinery"
        );
        migrations::runner()
            .set_target(Target::FakeVersion(version))
            .run_async(client)
            .await
            .map_err(failed)?;
    }
    migrations::runner()
        .run_async(client)
        .await
        .map_err(failed)?;
    Ok(())
}

/// The newest migration recorded by sqlx, when the database has sqlx's history and not yet
/// refinery's.
async fn legacy_version(client: &Client) -> DbResult<Option<i64>> {
    let row = client
        .query_one(
            "SELECT to_regclass('_sqlx_migrations') IS NOT NULL AS legacy, \
                    to_regclass($1) IS NOT NULL AS current",
            &[&HISTORY],
        )
        .await?;
    let (legacy, current): (bool, bool) =
        (super::get(&row, "legacy")?, super::get(&row, "current")?);
    if !legacy || current {
        return Ok(None);
    }
    let row = client
        .query_one(
            "SELECT max(version) AS version, bool_and(success) AS clean FROM _sqlx_migrations",
            &[],
        )
        .await?;
    let version: Option<i64> = super::get(&row, "version")?;
    let clean: Option<bool> = super::get(&row, "clean")?;
    if clean == Some(false) {
        return Err(DbError::Unavailable(
            "the sqlx migration history records a failed migration; fix it by hand first".into(),
        ));
    }
    Ok(version)
}

/// The newest embedded migration's version.
fn latest() -> i64 {
    migrations::runner()
        .get_migrations()
        .iter()
        .map(|m| m.version())
        .max()
        .unwrap_or(0)
}

/// True when the database answers and every embedded migration has been applied.
pub async fn is_ready(db: &Db) -> bool {
    let sql = format!("SELECT max(version) AS version FROM {HISTORY}");
    match db.query_one(&sql, params![]).await {
        Ok(row) => {
            matches!(super::get::<Option<i64>>(&row, "version"), Ok(Some(v)) if v >= latest())
        }
        Err(_) => false,
    }
}
