//! Background work inside the server process: periodic clean-up of expired rows.

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::app::AppState;

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

async fn purge_expired(state: &AppState) -> Result<(), sqlx::Error> {
    let statements = [
        "DELETE FROM sessions WHERE expires_at < now() OR last_seen_at < now() - interval '14 days'",
        "DELETE FROM refresh_tokens WHERE expires_at < now() - interval '1 day'",
        "DELETE FROM auth_attempts WHERE attempted_at < now() - interval '2 hours'",
        "DELETE FROM idempotency_keys WHERE created_at < now() - interval '24 hours'",
        // A cached upstream response not revalidated for a month is not worth its space.
        "DELETE FROM http_cache WHERE stored_at < now() - interval '30 days'",
        "DELETE FROM rate_limit_windows WHERE window_start < extract(epoch FROM now())::bigint - 120",
        "DELETE FROM jobs WHERE state IN ('done', 'failed') AND updated_at < now() - interval '7 days'",
    ];
    for statement in statements {
        sqlx::query(statement).execute(&state.pool).await?;
    }
    let recovered = crate::jobs::queue::recover_expired_leases(&state.pool).await?;
    if recovered > 0 {
        tracing::warn!(recovered, "returned jobs of a lost instance to the queue");
    }
    Ok(())
}
