//! The token of a user's unsubscribe link (`notifications::unsubscribe`): their id and a
//! 128-bit HMAC-SHA256 tag under a key derived from `DOCKET_ENCRYPTION_KEY`. Nothing is
//! stored, every digest of the user carries the same link, and a token cannot be made for
//! another user.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

use crate::config::KeyMaterial;

type HmacSha256 = Hmac<Sha256>;

/// The length of a token's tag, in bytes (128 bits).
const TAG: usize = 16;

/// Signs and checks unsubscribe tokens.
#[derive(Clone)]
pub struct UnsubscribeKey([u8; 32]);

impl UnsubscribeKey {
    pub fn derive(secret: &KeyMaterial) -> Self {
        let mut mac = HmacSha256::new_from_slice(secret.bytes()).expect("any key length");
        mac.update(b"docket unsubscribe token v1");
        Self(mac.finalize().into_bytes().into())
    }

    fn mac(&self, user_id: Uuid) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("any key length");
        mac.update(user_id.as_bytes());
        mac
    }

    /// The user's token: their id and its tag, base64url.
    pub fn token(&self, user_id: Uuid) -> String {
        let tag = self.mac(user_id).finalize().into_bytes();
        let mut raw = user_id.as_bytes().to_vec();
        raw.extend_from_slice(&tag[..TAG]);
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// The user a token was made for, if it is one of ours (compared in constant time).
    pub fn user_of(&self, token: &str) -> Option<Uuid> {
        let raw = URL_SAFE_NO_PAD.decode(token.as_bytes()).ok()?;
        if raw.len() != 16 + TAG {
            return None;
        }
        let user_id = Uuid::from_slice(&raw[..16]).ok()?;
        self.mac(user_id).verify_truncated_left(&raw[16..]).ok()?;
        Some(user_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_names_its_user_and_cannot_be_forged() {
        let key = UnsubscribeKey::derive(&KeyMaterial::new("k".repeat(32)).unwrap());
        let other = UnsubscribeKey::derive(&KeyMaterial::new("o".repeat(32)).unwrap());
        let (ann, bob) = (Uuid::now_v7(), Uuid::now_v7());
        let token = key.token(ann);
        assert_eq!(token.len(), 43);
        assert_eq!(key.user_of(&token), Some(ann));
        assert_eq!(other.user_of(&token), None, "another instance's key");
        // Bob's id with Ann's tag.
        let mut raw = URL_SAFE_NO_PAD.decode(&token).unwrap();
        raw[..16].copy_from_slice(bob.as_bytes());
        assert_eq!(key.user_of(&URL_SAFE_NO_PAD.encode(&raw)), None);
        for bad in [
            "",
            "x",
            &token[..42],
            &format!("{token}A"),
            "not a token at all",
        ] {
            assert_eq!(key.user_of(bad), None, "{bad:?}");
        }
    }
}
