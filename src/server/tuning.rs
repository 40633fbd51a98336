//! Timings that production leaves at their defaults and tests shorten.

use std::time::Duration;

use crate::github::client::ClientPolicy;
use crate::http::server::ConnectionLimits;

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
    /// Webhook retries, deadlines and the disabling window.
    pub webhooks: crate::webhooks::Policy,
    /// The attachment sweep's timings, the upload time limit and the free-space reserve.
    pub attachments: crate::attachments::Tuning,
    /// How late a task reminder goes out before it is marked `late` (API.md §19: an hour).
    pub reminder_late_after: Duration,
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
            webhooks: crate::webhooks::Policy::default(),
            attachments: crate::attachments::Tuning::default(),
            reminder_late_after: Duration::from_secs(3600),
        }
    }
}
