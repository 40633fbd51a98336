//! The server's own background loops: migrations at start-up, the clean-up of expired rows,
//! sharing the rate-limit counts, and the principal cache's invalidation listener.

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::auth::state::AuthState;
use crate::db::backoff::Backoff;
use crate::db::{Db, DbResult};

const MAINTENANCE_EVERY: Duration = Duration::from_secs(60);

/// Applies the migrations, retrying with backoff: a database that is down at start-up delays
/// readiness instead of crashing the process. Says once that it is waiting, with the reason.
/// The sole instance of a database then lets go of what its killed predecessor left
/// unfinished, before the API opens.
pub async fn migrate_with_backoff(db: Db, listen: tokio_postgres::Config, sole_instance: bool) {
    let mut backoff = Backoff::new("migrations");
    loop {
        let ready = async {
            crate::db::migrations::migrate(&listen).await?;
            if sole_instance {
                release_unanswered_claims(&db).await?;
            }
            anyhow::Ok(())
        };
        match ready.await {
            Ok(()) => {
                backoff.succeeded();
                db.mark_migrated();
                tracing::info!("database ready: migrations are current");
                return;
            }
            Err(error) => {
                if backoff.failures() == 0 {
                    tracing::warn!(error = %format!("{error:#}"), "database not ready; retrying with backoff");
                }
                let wait = backoff.failed(&format!("{error:#}"), true);
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// Idempotency claims without an answer: their requests died with the previous process (an
/// answer commits with its effect, so none of them made anything). A client retrying such a
/// key would otherwise be told "in flight" until the claim counts as abandoned.
async fn release_unanswered_claims(db: &Db) -> DbResult<()> {
    let released = crate::idempotency::store::forget_all_unanswered(db).await?;
    if released > 0 {
        tracing::info!(
            released,
            "let go of idempotency claims left unanswered by a server that was killed"
        );
    }
    Ok(())
}

pub fn spawn_maintenance(db: Db) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(MAINTENANCE_EVERY);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Once a minute is no spin; the backoff only keeps an outage from being logged each time.
        let mut backoff = Backoff::new("maintenance");
        loop {
            ticker.tick().await;
            if !db.is_migrated() {
                // Look again soon: the first purge comes right after start-up's migration, not
                // a minute later.
                ticker.reset_after(Duration::from_secs(1));
                continue;
            }
            match purge_expired(&db).await {
                Ok(()) => backoff.succeeded(),
                Err(error) => {
                    backoff.failed(&error, error.is_unreachable());
                }
            }
        }
    })
}

/// Each table's owner purges its own expired rows.
async fn purge_expired(db: &Db) -> DbResult<()> {
    crate::auth::store::sessions::purge_expired(db).await?;
    crate::auth::store::refresh_tokens::purge_expired(db).await?;
    crate::auth::store::attempts::purge_expired(db).await?;
    crate::auth::store::resets::purge_expired(db).await?;
    crate::projects::invitations::store::purge_expired(db).await?;
    crate::auth::store::oidc_flows::purge_expired(db).await?;
    crate::auth::store::ceremonies::purge_expired(db).await?;
    crate::auth::store::security_events::purge_expired(db).await?;
    crate::idempotency::store::purge_expired(db).await?;
    crate::github::store::purge_expired(db).await?;
    crate::http::rate_limit::store::purge_expired(db).await?;
    crate::jobs::queue::purge_expired(db).await?;
    crate::webhooks::store::purge_expired(db).await?;
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
        let mut backoff = Backoff::new("rate-limit sharing");
        loop {
            ticker.tick().await;
            if !auth.db.is_migrated() {
                continue;
            }
            let mut failed = None;
            for limiter in [&auth.rate_limiter, &auth.pre_auth_limiter] {
                if let Err(error) = limiter.sync(&auth.db).await {
                    failed = Some(error);
                }
            }
            match failed {
                None => backoff.succeeded(),
                // Counts stay local meanwhile (each instance still limits what it sees).
                Some(error) => {
                    let wait = backoff.failed(&error, error.is_unreachable());
                    tokio::time::sleep(wait).await;
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
