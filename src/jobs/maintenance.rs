//! Background work inside the server process: periodic clean-up of expired rows.

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::app::AppState;
use crate::db::DbResult;

const MAINTENANCE_EVERY: Duration = Duration::from_secs(60);

pub fn spawn_maintenance(state: AppState) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(MAINTENANCE_EVERY);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if !state.is_migrated() {
                continue;
            }
            if let Err(error) = purge_expired(&state).await {
                tracing::warn!(error = %error, "maintenance failed");
            }
        }
    })
}

/// Each table's owner purges its own expired rows.
async fn purge_expired(state: &AppState) -> DbResult<()> {
    let db = &state.db;
    crate::auth::store::sessions::purge_expired(db).await?;
    crate::auth::store::refresh_tokens::purge_expired(db).await?;
    crate::auth::store::attempts::purge_expired(db).await?;
    crate::http::idempotency::store::purge_expired(db).await?;
    crate::github::store::purge_expired(db).await?;
    crate::http::rate_limit::store::purge_expired(db).await?;
    crate::jobs::queue::purge_expired(db).await?;
    let recovered = crate::jobs::queue::recover_expired_leases(db).await?;
    if recovered > 0 {
        tracing::warn!(recovered, "returned jobs of a lost instance to the queue");
    }
    Ok(())
}
