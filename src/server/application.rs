//! The server's life cycle: build (bind, state), run (background loops, worker, serving), drain
//! on shutdown with a deadline, stop.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::router::with_layers;
use super::state::AppState;
use super::tuning::Tuning;
use super::{background, jobs, routes};
use crate::config::Config;
use crate::db::Db;
use crate::idempotency::CreatingRoutes;

/// A built server: bound to its port, not yet serving.
pub struct Application {
    listener: TcpListener,
    config: Config,
    /// Where `LISTEN` connections and the migrations go: `DOCKET_DATABASE_LISTEN_URL`, else
    /// the database's.
    listen_config: tokio_postgres::Config,
    tuning: Tuning,
    state: AppState,
    extra_routes: axum::Router<AppState>,
    /// No other instance uses the database (the embedded cluster: the data-dir lock says so).
    sole_instance: bool,
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
        let db = Db::new(&config, connect.clone());
        let listen_config =
            crate::db::session_config(&config, &connect).context("DOCKET_DATABASE_LISTEN_URL")?;
        let creating_routes = CreatingRoutes::from_document(&routes::paths_document())
            .with_stream_limit(config.attachment_max_bytes);
        let state = AppState::new(&config, db, &tuning, creating_routes)?;
        Ok(Self {
            listener,
            config,
            listen_config,
            tuning,
            state,
            extra_routes: axum::Router::new(),
            sole_instance: false,
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

    /// Watches free space on the file system holding `dir` (the embedded cluster's data
    /// directory): below `DOCKET_MIN_FREE_DISK_MB` writes get 507.
    pub fn watch_disk(self, dir: std::path::PathBuf) -> Self {
        self.state.disk.watch(dir);
        self
    }

    /// Says that no other instance uses the database (the embedded cluster, which one
    /// process holds): what is unfinished in it at start-up was left by this server's killed
    /// predecessor, and is let go of before the API opens.
    pub fn sole_instance(mut self) -> Self {
        self.sole_instance = true;
        self
    }

    /// Serves until `shutdown` resolves, then drains in-flight requests for at most the grace
    /// period. Migrations run in the background with backoff so that a database that is down
    /// at start-up delays readiness instead of crashing the process.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Self {
            listener,
            config,
            listen_config,
            tuning,
            state,
            extra_routes,
            sole_instance,
        } = self;
        let db = state.db.clone();
        let background = [
            tokio::spawn(background::migrate_with_backoff(
                db.clone(),
                listen_config.clone(),
                sole_instance,
            )),
            background::spawn_maintenance(db.clone()),
            background::spawn_principal_listener(state.auth.clone(), listen_config.clone()),
            tokio::spawn(crate::activity::journal::run(db.clone())),
            tokio::spawn(crate::events::run(
                state.events.clone(),
                db.clone(),
                listen_config,
            )),
            crate::telemetry::spawn_metrics_upkeep(state.metrics.handle.clone()),
            background::spawn_rate_sync(state.auth.clone()),
            tokio::spawn(state.disk.clone().run()),
        ];
        let _deliveries = crate::webhooks::outbox::spawn(&state.webhooks, state.events.commits());

        let grace = config.shutdown_grace;
        let (draining_tx, mut draining_rx) = watch::channel(false);
        let worker = crate::jobs::worker::spawn(
            db.clone(),
            jobs::Jobs {
                db: db.clone(),
                github: state.github.clone(),
                mailer: state.mailer.clone(),
                digests: state.digests.clone(),
                retry: state.github.retry,
                reminders_for: None,
                attachments: state.attachments.clone(),
                attachment_schedule: crate::attachments::jobs::Schedule::default(),
                reminder_scan: config.reminder_scan,
                reminder_late_after: tuning.reminder_late_after,
                reminders_scanned: None,
            },
            grace,
            draining_rx.clone(),
        );
        let events = state.events.clone();
        let router = with_layers(extra_routes, state);
        let server = crate::http::server::serve(
            listener,
            router,
            config.max_connections,
            tuning.connections,
            async move {
                shutdown.await;
                tracing::info!("shutting down: no new connections, finishing in-flight requests");
                let _ = draining_tx.send(true);
                // Event streams never finish by themselves: end them so the drain need not wait.
                events.close();
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
        for task in background {
            task.abort();
        }
        // The worker finishes its job within the grace period or puts it back, then stops.
        if tokio::time::timeout(grace + Duration::from_secs(2), worker)
            .await
            .is_err()
        {
            tracing::warn!("the job worker did not stop in time");
        }
        db.close();
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
