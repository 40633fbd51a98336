//! Secrets at rest (integration tokens, webhook secrets, queued emails): XChaCha20-Poly1305
//! under a key derived from `DOCKET_ENCRYPTION_KEY`, with the id of what owns the secret (a
//! project, a webhook, a job) as associated data, so that a ciphertext copied to another row
//! does not decrypt. Infrastructure: the owners are only ids here.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::config::KeyMaterial;

const NONCE_LEN: usize = 24;

fn cipher(key: &KeyMaterial) -> XChaCha20Poly1305 {
    let digest = Sha256::new()
        .chain_update(b"docket integration tokens v1\0")
        .chain_update(key.bytes())
        .finalize();
    XChaCha20Poly1305::new(&digest)
}

pub fn encrypt(key: &KeyMaterial, project_id: Uuid, token: &str) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let ciphertext = cipher(key)
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: token.as_bytes(),
                aad: project_id.as_bytes(),
            },
        )
        .expect("encryption cannot fail for in-memory input");
    let mut out = nonce.to_vec();
    out.extend(ciphertext);
    out
}

pub fn decrypt(key: &KeyMaterial, project_id: Uuid, stored: &[u8]) -> Option<String> {
    if stored.len() < NONCE_LEN {
        return None;
    }
    let (nonce, ciphertext) = stored.split_at(NONCE_LEN);
    let plain = cipher(key)
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad: project_id.as_bytes(),
            },
        )
        .ok()?;
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
