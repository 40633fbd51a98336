//! The application state: the parts handlers and extractors ask for, each by its own type
//! (`State<Db>`, `State<CursorKey>`, `State<AuthState>`, ...), through axum's `FromRef`. Only
//! this module knows the whole.

use std::sync::Arc;

use anyhow::Context;
use axum::extract::FromRef;

use super::tuning::Tuning;
use crate::attachments::Attachments;
use crate::auth::client::TrustedProxies;
use crate::auth::state::{AuthKeys, AuthState};
use crate::config::Config;
use crate::db::disk::DiskSpace;
use crate::db::Db;
use crate::email::Mailer;
use crate::events::Hub;
use crate::github::client::UpstreamClient;
use crate::github::Github;
use crate::http::middleware::HandlerDeadline;
use crate::idempotency::CreatingRoutes;
use crate::jobs::RetryPolicy;
use crate::notifications::digest::token::UnsubscribeKey;
use crate::notifications::digest::Digests;
use crate::ops::MetricsExporter;
use crate::pagination::CursorKey;
use crate::webhooks::Webhooks;

/// Cheap to clone: every part is reference-counted or small.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub db: Db,
    pub auth: AuthState,
    /// Also inside `auth`; a part of its own for the `ClientAddr` extractor.
    pub trusted_proxies: TrustedProxies,
    pub cursor_key: CursorKey,
    pub events: Arc<Hub>,
    pub github: Github,
    pub webhooks: Webhooks,
    pub mailer: Mailer,
    /// Notification emails and their unsubscribe links.
    pub digests: Digests,
    pub metrics: MetricsExporter,
    pub deadline: HandlerDeadline,
    pub creating_routes: CreatingRoutes,
    pub attachments: Attachments,
    /// Free space on the embedded cluster's disk (watched only when the cluster is ours).
    pub disk: DiskSpace,
}

impl AppState {
    /// `config` must carry both secrets (the embedded set-up fills them in from the data dir).
    pub fn new(
        config: &Config,
        db: Db,
        tuning: &Tuning,
        creating_routes: CreatingRoutes,
    ) -> anyhow::Result<Self> {
        let jwt_secret = config
            .jwt_secret
            .as_ref()
            .context("DOCKET_JWT_SECRET is not set")?;
        let encryption_key = config
            .encryption_key
            .clone()
            .context("DOCKET_ENCRYPTION_KEY is not set")?;
        let retry = RetryPolicy {
            base: tuning.job_retry_base,
            cap: tuning.job_retry_cap,
        };
        let auth = AuthState::new(
            config,
            db.clone(),
            AuthKeys {
                jwt_secret,
                encryption_key: &encryption_key,
            },
            tuning.hash_start_deadline,
            crate::auth::limits::PRE_AUTH_PER_ADDRESS_PER_MINUTE,
        );
        let mailer = Mailer::new(
            config.smtp_url.as_ref().map(|url| {
                use secrecy::ExposeSecret;
                url.expose_secret()
            }),
            config.mail_from.clone(),
            retry,
            encryption_key.clone(),
        )?;
        Ok(Self {
            trusted_proxies: auth.config.trusted_proxies.clone(),
            auth,
            cursor_key: CursorKey::derive(jwt_secret),
            events: Arc::new(Hub::new(tuning.events_heartbeat)),
            webhooks: Webhooks::new(
                db.clone(),
                encryption_key.clone(),
                config.webhook_allow_private,
                tuning.webhooks.clone(),
                mailer.clone(),
                config.public_url.clone(),
            ),
            digests: Digests {
                db: db.clone(),
                mailer: mailer.clone(),
                public_url: config.public_url.clone(),
                interval: config.digest_interval,
                unsubscribe: UnsubscribeKey::derive(&encryption_key),
                retry,
            },
            mailer,
            github: Github::new(crate::github::Inner {
                db: db.clone(),
                client: UpstreamClient::new(
                    config.github_api_url.clone(),
                    db.clone(),
                    tuning.github.clone(),
                ),
                encryption_key,
                token: config.github_token.clone(),
                sync_interval: config.github_sync_interval,
                import_cap: tuning.github_import_cap,
                retry,
            }),
            metrics: MetricsExporter {
                handle: crate::telemetry::metrics_handle(),
                token: config.metrics_token.clone().map(Arc::new),
                db_max_connections: config.db_max_connections,
            },
            deadline: HandlerDeadline(tuning.connections.handler_timeout),
            creating_routes,
            attachments: Attachments::new(config, db.clone(), tuning.attachments),
            disk: DiskSpace::new(config.min_free_disk_bytes),
            db,
        })
    }
}
