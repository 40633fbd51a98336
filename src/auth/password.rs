//! Password hashing: argon2id in PHC string form, run off the async runtime as a bounded, fair
//! resource (API.md §9): at most half the cores hash at once, a hash that cannot start within
//! `START_DEADLINE` is refused with 503, and one client address has at most
//! `PER_ADDRESS` hashes queued or running (more → 429). A flood from a few accounts or
//! addresses therefore queues at most a few hashes ahead of anyone else's login.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use super::client::{address_key, ClientAddr};
use crate::error::ApiError;

/// How long a hash may wait for a free hashing slot (tests may change it through `Tuning`).
pub const START_DEADLINE: Duration = Duration::from_secs(2);
/// Hashes one client address may have queued or running.
pub const PER_ADDRESS: usize = 2;

/// OWASP's current minimum for argon2id: 19 MiB, 2 iterations, 1 lane.
const MEMORY_KIB: u32 = 19 * 1024;
const ITERATIONS: u32 = 2;
const LANES: u32 = 1;

fn argon2() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, LANES, None).expect("valid argon2 params");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    No,
    Yes,
    /// Correct, but hashed with weaker parameters than today's: store this new hash.
    YesRehash(String),
}

#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    start_deadline: Duration,
    /// Hashes queued or running per client address key.
    per_address: Arc<Mutex<HashMap<String, usize>>>,
}

/// One address's claim on a hashing slot; gives it back when dropped (also when the request
/// is abandoned while waiting).
struct AddressSlot {
    key: String,
    counts: Arc<Mutex<HashMap<String, usize>>>,
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().expect("not poisoned");
        if let Some(count) = counts.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

impl Default for PasswordHasher {
    fn default() -> Self {
        Self::new(START_DEADLINE)
    }
}

impl PasswordHasher {
    /// At most half the cores hash at once (at least one): a flood of logins then leaves the
    /// other half to every other request, and memory stays bounded (19 MiB a hash).
    pub fn new(start_deadline: Duration) -> Self {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        Self {
            permits: Arc::new(Semaphore::new((cores / 2).max(1))),
            start_deadline,
            per_address: Arc::default(),
        }
    }

    fn claim(&self, client: ClientAddr) -> Result<AddressSlot, ApiError> {
        let key = address_key(client.0);
        let mut counts = self.per_address.lock().expect("not poisoned");
        let count = counts.entry(key.clone()).or_default();
        if *count >= PER_ADDRESS {
            return Err(ApiError::rate_limited(1)
                .detail("too many password checks from your address at once; try again"));
        }
        *count += 1;
        Ok(AddressSlot {
            key,
            counts: self.per_address.clone(),
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        client: Option<ClientAddr>,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let _slot = client.map(|c| self.claim(c)).transpose()?;
        let _permit = match tokio::time::timeout(self.start_deadline, self.permits.acquire()).await
        {
            Ok(Ok(permit)) => permit,
            Ok(Err(_)) => return Err(ApiError::unavailable("the server is shutting down")),
            Err(_) => {
                return Err(ApiError::unavailable(
                    "the server is busy checking passwords; try again shortly",
                ))
            }
        };
        tokio::task::spawn_blocking(work)
            .await
            .map_err(ApiError::internal)
    }

    /// Hashes a new password; `client` is the address asking (none for commands).
    pub async fn hash(
        &self,
        password: String,
        client: Option<ClientAddr>,
    ) -> Result<String, ApiError> {
        self.run(client, move || hash_now(&password)).await?
    }

    /// Verifies `password` against `stored`, or against a dummy hash when there is no user, so
    /// that the time taken does not tell whether the email exists.
    pub async fn verify(
        &self,
        password: String,
        stored: Option<String>,
        client: ClientAddr,
    ) -> Result<Verified, ApiError> {
        self.run(Some(client), move || {
            let Some(stored) = stored else {
                let _ = verify_now(&password, dummy_hash());
                return Verified::No;
            };
            verify_now(&password, &stored)
        })
        .await
    }
}

pub fn hash_now(password: &str) -> Result<String, ApiError> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| ApiError::internal(anyhow::anyhow!("argon2 hashing failed: {e}")))
}

fn verify_now(password: &str, stored: &str) -> Verified {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return Verified::No;
    };
    if argon2()
        .verify_password(password.as_bytes(), &parsed)
        .is_err()
    {
        return Verified::No;
    }
    if needs_rehash(&parsed) {
        match hash_now(password) {
            Ok(new_hash) => Verified::YesRehash(new_hash),
            Err(_) => Verified::Yes,
        }
    } else {
        Verified::Yes
    }
}

fn needs_rehash(parsed: &PasswordHash<'_>) -> bool {
    let Ok(params) = Params::try_from(parsed) else {
        return true;
    };
    parsed.algorithm.as_str() != "argon2id"
        || params.m_cost() < MEMORY_KIB
        || params.t_cost() < ITERATIONS
        || params.p_cost() < LANES
}

/// Computes the dummy hash now, so that the first login for an unknown email does not take
/// twice as long as the others (which would tell that the email is unknown).
pub fn warm_up() {
    let _ = dummy_hash();
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        hash_now(&crate::tokens::random_token(16)).expect("hashing a dummy password")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_weak_ones_are_upgraded() {
        let hash = hash_now("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert_eq!(verify_now("correct horse battery", &hash), Verified::Yes);
        assert_eq!(verify_now("wrong", &hash), Verified::No);

        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8192, 1, 1, None).unwrap(),
        )
        .hash_password(
            b"old password here",
            &SaltString::generate(&mut rand::rngs::OsRng),
        )
        .unwrap()
        .to_string();
        assert!(matches!(
            verify_now("old password here", &weak),
            Verified::YesRehash(_)
        ));
    }
}
