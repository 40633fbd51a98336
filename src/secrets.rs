//! Secrets at rest (integration tokens, webhook secrets, queued emails): XChaCha20-Poly1305
//! under a key derived from `DOCKET_ENCRYPTION_KEY`, with the id of what owns the secret (a
//! project, a webhook, a job) as associated data, so that a ciphertext copied to another row
//! does not decrypt. Infrastructure: the owners are only ids here.

use uuid::Uuid;

use crate::config::KeyMaterial;
use crate::sealing::Sealer;

/// The purpose the key is derived for (unchanged since 0.1, so stored tokens keep opening).
const PURPOSE: &[u8] = b"docket integration tokens v1";

pub fn encrypt(key: &KeyMaterial, project_id: Uuid, token: &str) -> Vec<u8> {
    Sealer::new(key, PURPOSE).seal(project_id.as_bytes(), token.as_bytes())
}

pub fn decrypt(key: &KeyMaterial, project_id: Uuid, stored: &[u8]) -> Option<String> {
    let plain = Sealer::new(key, PURPOSE).open(project_id.as_bytes(), stored)?;
    String::from_utf8(plain).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_bound_to_the_project_and_key() {
        let key = KeyMaterial::new("e".repeat(32)).unwrap();
        let project = Uuid::now_v7();
        let sealed = encrypt(&key, project, "ghp_secret");
        assert!(!sealed.windows(10).any(|w| w == b"ghp_secret"));
        assert_eq!(
            decrypt(&key, project, &sealed).as_deref(),
            Some("ghp_secret")
        );
        assert_eq!(decrypt(&key, Uuid::now_v7(), &sealed), None);
        let other = KeyMaterial::new("f".repeat(32)).unwrap();
        assert_eq!(decrypt(&other, project, &sealed), None);
    }
}
