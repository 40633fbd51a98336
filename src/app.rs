//! Application state and the server's life cycle: build, listen, drain, stop.

use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::auth::jwt::JwtKeys;
use crate::auth::password::PasswordHasher;
use crate::config::{Config, KeyMaterial};
use crate::db::Db;
use crate::github::client::{ClientPolicy, UpstreamClient};
use crate::http::rate_limit::RateLimiter;
use crate::http::server::ConnectionLimits;
use crate::pagination::CursorKey;

/// Everything a handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub db: Db,
    /// Where the `LISTEN` connection goes: `DOCKET_DATABASE_LISTEN_URL`, else the database's.
    pub listen_config: tokio_postgres::Config,
    pub config: Config,
    pub jwt: JwtKeys,
    pub cursor_key: CursorKey,
    pub encryption_key: KeyMaterial,
    pub passwords: PasswordHasher,
    pub rate_limiter: RateLimiter,
    /// Requests that reach the database before the caller is known, per client address.
    pub pre_auth_limiter: RateLimiter,
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
    pub github: UpstreamClient,
    pub principals: crate::auth::principal_cache::PrincipalCache,
    pub job_retry_base: Duration,
    pub job_retry_cap: Duration,
    pub connection_limits: ConnectionLimits,
    /// The most issues one GitHub sync imports (API.md §9: 50,000).
    pub github_import_cap: usize,
    /// Live event streams (`GET /api/v1/events`).
    pub events: Arc<crate::events::Hub>,
    migrated: AtomicBool,
}

/// Timings that production leaves at their defaults and tests shorten.
#[derive(Debug, Clone)]
pub struct Tuning {
    pub github: ClientPolicy,
    /// How long a password hash may wait to start before the request gets 503.
    pub hash_start_deadline: Duration,
    pub job_retry_base: Duration,
    pub job_retry_cap: Duration,
    pub connections: ConnectionLimits,
    pub github_import_cap: usize,
    /// How often an event stream sends its keep-alive comment (and checks its credentials).
    pub events_heartbeat: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            github: ClientPolicy::default(),
            hash_start_deadline: crate::auth::password::START_DEADLINE,
            job_retry_base: Duration::from_secs(30),
            job_retry_cap: Duration::from_secs(15 * 60),
            connections: ConnectionLimits::default(),
            github_import_cap: crate::github::sync::IMPORT_CAP,
            events_heartbeat: crate::events::HEARTBEAT,
        }
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// `config` must carry both secrets (the embedded set-up fills them in from the data dir).
    pub fn new(
        config: Config,
        connect: tokio_postgres::Config,
        tuning: Tuning,
    ) -> anyhow::Result<Self> {
        let jwt_secret = config
            .jwt_secret
            .clone()
            .context("DOCKET_JWT_SECRET is not set")?;
        let encryption_key = config
            .encryption_key
            .clone()
            .context("DOCKET_ENCRYPTION_KEY is not set")?;
        let jwt = JwtKeys::new(&jwt_secret, config.jwt_secret_previous.as_ref());
        let cursor_key = CursorKey::derive(&jwt_secret);
        let rate_limiter = RateLimiter::new(config.rate_limit_per_minute);
        let db = Db::new(&config, connect.clone());
        let listen_config =
            crate::db::session_config(&config, &connect).context("DOCKET_DATABASE_LISTEN_URL")?;
        let github = UpstreamClient::new(config.github_api_url.clone(), db.clone(), tuning.github);
        Ok(Self(Arc::new(Inner {
            principals: crate::auth::principal_cache::PrincipalCache::new(),
            github,
            job_retry_base: tuning.job_retry_base,
            job_retry_cap: tuning.job_retry_cap,
            db,
            listen_config,
            connection_limits: tuning.connections,
            github_import_cap: tuning.github_import_cap,
            events: Arc::new(crate::events::Hub::new(tuning.events_heartbeat)),
            jwt,
            cursor_key,
            encryption_key,
            passwords: PasswordHasher::new(tuning.hash_start_deadline),
            rate_limiter,
            pre_auth_limiter: RateLimiter::new(
                crate::auth::limits::PRE_AUTH_PER_ADDRESS_PER_MINUTE,
            ),
            metrics: crate::telemetry::metrics_handle(),
            migrated: AtomicBool::new(false),
            config,
        })))
    }

    pub fn is_migrated(&self) -> bool {
        self.migrated.load(Ordering::Acquire)
    }

    pub fn mark_migrated(&self) {
        self.migrated.store(true, Ordering::Release);
    }
}

/// A built server: bound to its port, not yet serving.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    extra_routes: axum::Router<AppState>,
}

impl Application {
    /// Binds the listener and builds the state over a lazily connecting pool.
    pub async fn build(config: Config, connect: tokio_postgres::Config) -> anyhow::Result<Self> {
        Self::build_tuned(config, connect, Tuning::default()).await
    }

    pub async fn build_tuned(
        config: Config,
        connect: tokio_postgres::Config,
        tuning: Tuning,
    ) -> anyhow::Result<Self> {
        ensure_descriptors(config.max_connections);
        // In the background: readiness need not wait for it, and a login that comes first
        // simply waits for the same computation.
        tokio::task::spawn_blocking(crate::auth::password::warm_up);
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let state = AppState::new(config, connect, tuning)?;
        Ok(Self {
            listener,
            state,
            extra_routes: axum::Router::new(),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener")
    }

    /// Adds routes beside the server's own (used by tests for failure cases).
    pub fn with_extra_routes(mut self, routes: axum::Router<AppState>) -> Self {
        self.extra_routes = routes;
        self
    }

    pub fn state(&self) -> AppState {
        self.state.clone()
    }

    /// Serves until `shutdown` resolves, then drains in-flight requests for at most the grace
    /// period. Migrations run in the background with backoff so that a database that is down
    /// at start-up delays readiness instead of crashing the process.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let state = self.state.clone();
        let migrations = tokio::spawn(migrate_with_backoff(state.clone()));
        let background = crate::jobs::spawn_maintenance(state.clone());
        let principal_listener = tokio::spawn({
            let state = state.clone();
            async move {
                while !state.is_migrated() {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                state.principals.listen(&state.listen_config).await;
            }
        });
        let events = tokio::spawn(crate::events::run(state.clone()));
        let metrics_upkeep = crate::telemetry::spawn_metrics_upkeep(state.metrics.clone());
        let rate_sync = tokio::spawn({
            let state = state.clone();
            async move {
                let mut ticker = tokio::time::interval(crate::http::rate_limit::SYNC_EVERY);
                ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    ticker.tick().await;
                    if state.is_migrated() {
                        for limiter in [&state.rate_limiter, &state.pre_auth_limiter] {
                            if let Err(error) = limiter.sync(&state.db).await {
                                tracing::debug!(error = %error, "rate-limit counts not shared yet");
                            }
                        }
                    }
                }
            }
        });

        let grace = state.config.shutdown_grace;
        let (draining_tx, mut draining_rx) = watch::channel(false);
        let worker = crate::jobs::worker::spawn(state.clone(), draining_rx.clone());
        let router = crate::http::with_layers(self.extra_routes, state.clone());
        let server = crate::http::server::serve(
            self.listener,
            router,
            state.config.max_connections,
            state.connection_limits,
            {
                let state = state.clone();
                async move {
                    shutdown.await;
                    tracing::info!(
                        "shutting down: no new connections, finishing in-flight requests"
                    );
                    let _ = draining_tx.send(true);
                    // Event streams never finish by themselves: end them so the drain need not wait.
                    state.events.close();
                }
            },
        );

        let deadline = async move {
            let _ = draining_rx.wait_for(|draining| *draining).await;
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            () = server => {}
            () = deadline => tracing::warn!(?grace, "grace period over; dropping unfinished requests"),
        }
        migrations.abort();
        background.abort();
        rate_sync.abort();
        events.abort();
        metrics_upkeep.abort();
        principal_listener.abort();
        // The worker finishes its job within the grace period or puts it back, then stops.
        if tokio::time::timeout(grace + Duration::from_secs(2), worker)
            .await
            .is_err()
        {
            tracing::warn!("the job worker did not stop in time");
        }
        state.db.close();
        Ok(())
    }
}

/// Raises the soft limit on open descriptors towards the hard one so that
/// `DOCKET_MAX_CONNECTIONS` connections fit beside the pool and files; warns when the hard
/// limit is too low (the deployment files set `LimitNOFILE`/`ulimits` above the default).
fn ensure_descriptors(max_connections: usize) {
    // Connections plus the pool, the log, the listener and some slack.
    let wanted = max_connections as u64 + 256;
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed in.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return;
        }
        if limit.rlim_cur < wanted && limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = wanted.min(limit.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
    if limit.rlim_cur < wanted {
        tracing::warn!(
            open_files = limit.rlim_cur,
            max_connections,
            "the descriptor limit is below DOCKET_MAX_CONNECTIONS + 256; raise LimitNOFILE / ulimit -n"
        );
    }
}

async fn migrate_with_backoff(state: AppState) {
    let mut delay = Duration::from_millis(200);
    loop {
        match crate::db::migrate(&state.listen_config).await {
            Ok(()) => {
                state.mark_migrated();
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

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = term.recv() => tracing::info!("received SIGTERM"),
        _ = int.recv() => tracing::info!("received SIGINT"),
    }
}
