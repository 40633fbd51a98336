//! GitHub issues import and sync: the link endpoints, the sync job, the resilient outbound
//! client it uses, and encryption of the tokens it keeps.

pub mod client;
pub mod links;
/// Tokens are sealed with the shared `crate::secrets`.
pub use crate::secrets;
pub mod store;
pub mod sync;

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;

use crate::config::KeyMaterial;
use crate::db::Db;
use crate::jobs::RetryPolicy;

/// What the link endpoints and the sync job need. Cheap to clone.
#[derive(Clone)]
pub struct Github(Arc<Inner>);

pub struct Inner {
    pub db: Db,
    pub client: client::UpstreamClient,
    /// Seals the tokens links keep (`secrets`).
    pub encryption_key: KeyMaterial,
    /// The operator's token (`DOCKET_GITHUB_TOKEN`), for links without one of their own.
    pub token: Option<SecretString>,
    pub sync_interval: Duration,
    /// The most issues one sync imports (API.md §9).
    pub import_cap: usize,
    pub retry: RetryPolicy,
}

impl Github {
    pub fn new(inner: Inner) -> Self {
        Self(Arc::new(inner))
    }
}

impl Deref for Github {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
