//! The server's own background loops: migrations at start-up, the clean-up of expired rows,
//! sharing the rate-limit counts, and the principal cache's invalidation listener.

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::auth::state::AuthState;
use crate::db::{Db, DbResult};

const MAINTENANCE_EVERY: Duration = Duration::from_secs(60);

/// Applies the migrations, retrying with backoff: a database that is down at start-up delays
/// readiness instead of crashing the process.
pub async fn migrate_with_backoff(db: Db, listen: tokio_postgres::Config) {
    let mut delay = Duration::from_millis(200);
    loop {
        match crate::db::migrations::migrate(&listen).await {
            Ok(()) => {
                db.mark_migrated();
                tracing::info!("database ready: migrations are current");
                return;
            }
            Err(error) => {
                tracing::warn!(error = %error, retry_in_ms = delay.as_millis() as u64, "database not ready");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
        }
    }
}

pub fn spawn_maintenance(db: Db) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(MAINTENANCE_EVERY);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if !db.is_migrated() {
                continue;
            }
            if let Err(error) = purge_expired(&db).await {
                tracing::warn!(error = %error, "maintenance failed");
            }
        }
    })
}

/// Each table's owner purges its own expired rows.
async fn purge_expired(db: &Db) -> DbResult<()> {
    crate::auth::store::sessions::purge_expired(db).await?;
    crate::auth::store::refresh_tokens::purge_expired(db).await?;
    crate::auth::store::attempts::purge_expired(db).await?;
    crate::auth::store::oidc_flows::purge_expired(db).await?;
    crate::auth::store::ceremonies::purge_expired(db).await?;
    crate::auth::store::security_events::purge_expired(db).await?;
    crate::idempotency::store::purge_expired(db).await?;
    crate::github::store::purge_expired(db).await?;
    crate::http::rate_limit::store::purge_expired(db).await?;
    crate::jobs::queue::purge_expired(db).await?;
    let recovered = crate::jobs::queue::recover_expired_leases(db).await?;
    if recovered > 0 {
        tracing::warn!(recovered, "returned jobs of a lost instance to the queue");
    }
    Ok(())
}

/// Adds this instance's request counts to the shared windows, four times a second.
pub fn spawn_rate_sync(auth: AuthState) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(crate::http::rate_limit::SYNC_EVERY);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if auth.db.is_migrated() {
                for limiter in [&auth.rate_limiter, &auth.pre_auth_limiter] {
                    if let Err(error) = limiter.sync(&auth.db).await {
                        tracing::debug!(error = %error, "rate-limit counts not shared yet");
                    }
                }
            }
        }
    })
}

/// The principal cache's invalidations, from every instance, once the schema exists.
pub fn spawn_principal_listener(auth: AuthState, listen: tokio_postgres::Config) -> JoinHandle<()> {
    tokio::spawn(async move {
        while !auth.db.is_migrated() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        auth.principals.listen(&listen).await;
    })
}
