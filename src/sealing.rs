//! Secrets at rest that the server must read back (integration tokens, TOTP secrets):
//! XChaCha20-Poly1305 under a key derived from `DOCKET_ENCRYPTION_KEY` and a purpose, with
//! associated data that binds a ciphertext to its row, so that one copied elsewhere does not
//! open. (Secrets the server only compares are hashed instead: `tokens`.)

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::config::KeyMaterial;

const NONCE_LEN: usize = 24;

/// A key for one purpose; keys of different purposes never open each other's ciphertexts.
#[derive(Clone)]
pub struct Sealer(XChaCha20Poly1305);

impl Sealer {
    /// `purpose` separates the keys derived from one secret (`b"docket totp secrets v1"`).
    pub fn new(key: &KeyMaterial, purpose: &[u8]) -> Self {
        let digest = Sha256::new()
            .chain_update(purpose)
            .chain_update([0])
            .chain_update(key.bytes())
            .finalize();
        Self(XChaCha20Poly1305::new(&digest))
    }

    /// A random nonce, then the ciphertext of `plain` bound to `aad`.
    pub fn seal(&self, aad: &[u8], plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ciphertext = self
            .0
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plain, aad })
            .expect("encryption cannot fail for in-memory input");
        let mut out = nonce.to_vec();
        out.extend(ciphertext);
        out
    }

    /// What `seal` sealed with the same key and `aad`; `None` for anything else.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        self.0
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_their_key_purpose_and_row() {
        let key = KeyMaterial::new("e".repeat(32)).unwrap();
        let sealer = Sealer::new(&key, b"test v1");
        let sealed = sealer.seal(b"row 1", b"the secret");
        assert!(!sealed.windows(10).any(|w| w == b"the secret"));
        assert_eq!(
            sealer.open(b"row 1", &sealed).as_deref(),
            Some(&b"the secret"[..])
        );
        assert_eq!(sealer.open(b"row 2", &sealed), None);
        assert_eq!(Sealer::new(&key, b"other v1").open(b"row 1", &sealed), None);
        let other = KeyMaterial::new("f".repeat(32)).unwrap();
        assert_eq!(
            Sealer::new(&other, b"test v1").open(b"row 1", &sealed),
            None
        );
        assert_eq!(sealer.open(b"row 1", b"short"), None);
    }
}
