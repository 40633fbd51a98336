//! Short-lived access tokens: HS256 JWTs with a `kid` header naming the key. Verification
//! accepts only HS256 and only a known key id, so `alg: none`, another algorithm, a foreign
//! key or a tampered token are all refused.

use jsonwebtoken::{
    decode, decode_header, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::config::KeyMaterial;
use crate::error::{ApiError, ErrorCode};

pub const ACCESS_TOKEN_TTL_SECS: i64 = 15 * 60;
const LEEWAY_SECS: u64 = 5;

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    pub iat: i64,
    pub exp: i64,
    /// The refresh-token family (one per login) this token was issued under.
    pub fam: Uuid,
}

struct Key {
    id: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl Key {
    fn new(secret: &KeyMaterial) -> Self {
        // The key id is derived from the key itself, so instances that share a secret agree.
        let digest = Sha256::digest(secret.bytes());
        Self {
            id: hex::encode(&digest[..8]),
            encoding: EncodingKey::from_secret(secret.bytes()),
            decoding: DecodingKey::from_secret(secret.bytes()),
        }
    }
}

pub struct JwtKeys {
    current: Key,
    previous: Option<Key>,
}

impl JwtKeys {
    pub fn new(current: &KeyMaterial, previous: Option<&KeyMaterial>) -> Self {
        Self {
            current: Key::new(current),
            previous: previous.map(Key::new),
        }
    }

    pub fn issue(&self, user_id: Uuid, family: Uuid) -> Result<String, ApiError> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user_id,
            iat: now,
            exp: now + ACCESS_TOKEN_TTL_SECS,
            fam: family,
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.current.id.clone());
        encode(&header, &claims, &self.current.encoding).map_err(ApiError::internal)
    }

    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        let invalid = || {
            ApiError::unauthenticated(ErrorCode::Unauthenticated, "the access token is invalid")
                .bearer()
        };
        let header = decode_header(token).map_err(|_| invalid())?;
        if header.alg != Algorithm::HS256 {
            return Err(invalid());
        }
        let kid = header.kid.ok_or_else(invalid)?;
        let key = [Some(&self.current), self.previous.as_ref()]
            .into_iter()
            .flatten()
            .find(|key| key.id == kid)
            .ok_or_else(invalid)?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECS;
        validation.set_required_spec_claims(&["exp", "sub"]);
        decode::<Claims>(token, &key.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|error| match error.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => ApiError::unauthenticated(
                    ErrorCode::TokenExpired,
                    "the access token has expired",
                )
                .bearer(),
                _ => invalid(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    fn key(byte: char) -> KeyMaterial {
        KeyMaterial::new(byte.to_string().repeat(40)).unwrap()
    }

    #[test]
    fn issued_tokens_verify_and_rotation_keeps_old_ones_valid() {
        let old = JwtKeys::new(&key('a'), None);
        let token = old.issue(Uuid::now_v7(), Uuid::now_v7()).unwrap();
        assert!(old.verify(&token).is_ok());
        let rotated = JwtKeys::new(&key('b'), Some(&key('a')));
        assert!(rotated.verify(&token).is_ok());
        let forgotten = JwtKeys::new(&key('b'), None);
        assert!(forgotten.verify(&token).is_err());
    }

    #[test]
    fn alg_none_and_tampering_are_refused() {
        let keys = JwtKeys::new(&key('a'), None);
        let token = keys.issue(Uuid::now_v7(), Uuid::now_v7()).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        assert!(keys
            .verify(&format!("{none_header}.{}.", parts[1]))
            .is_err());
        let mut payload = parts[1].to_owned();
        payload.insert(3, 'x');
        assert!(keys
            .verify(&format!("{}.{payload}.{}", parts[0], parts[2]))
            .is_err());
    }
}
