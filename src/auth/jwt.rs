//! Short-lived access tokens: HS256 JWTs with a `kid` header naming the key. Verification
//! accepts only HS256 and only a known key id, so `alg: none`, another algorithm, a foreign
//! key or a tampered token are all refused.
//!
//! Every authenticated request verifies one, so the common case has a path of its own: a
//! token whose header is byte for byte the one this server issues for a key is checked with
//! that key's precomputed HMAC state and its claims parsed once (jsonwebtoken would parse the
//! header, set up the HMAC key and parse the claims twice, on every call). Any other header
//! goes through jsonwebtoken, which also decides what the fast path cannot: it never accepts a
//! token the slow path would refuse.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
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
    /// The first segment of every token issued with this key (`{"typ":"JWT","alg":"HS256","kid":…}`).
    header: String,
    /// HMAC-SHA256 keyed with the secret, cloned per verification.
    mac: Hmac<Sha256>,
}

impl Key {
    fn new(secret: &KeyMaterial) -> Self {
        // The key id is derived from the key itself, so instances that share a secret agree.
        let digest = Sha256::digest(secret.bytes());
        let id = hex::encode(&digest[..8]);
        let header = serde_json::to_vec(&Self::header_for(&id)).expect("a header serializes");
        Self {
            header: URL_SAFE_NO_PAD.encode(header),
            mac: Hmac::new_from_slice(secret.bytes()).expect("HMAC takes keys of any length"),
            encoding: EncodingKey::from_secret(secret.bytes()),
            decoding: DecodingKey::from_secret(secret.bytes()),
            id,
        }
    }

    fn header_for(id: &str) -> Header {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(id.to_owned());
        header
    }
}

/// The claims must hold `sub` and `exp` (the struct requires both); `exp` is checked with the
/// same leeway on both paths.
fn validation() -> &'static Validation {
    static VALIDATION: std::sync::OnceLock<Validation> = std::sync::OnceLock::new();
    VALIDATION.get_or_init(|| {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECS;
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation
    })
}

/// Why a token was refused.
enum Refused {
    Invalid,
    Expired,
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
        encode(
            &Key::header_for(&self.current.id),
            &claims,
            &self.current.encoding,
        )
        .map_err(ApiError::internal)
    }

    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        let checked = match self.fast_path(token) {
            Some(checked) => checked,
            None => self.slow_path(token),
        };
        checked.map_err(|refused| match refused {
            Refused::Expired => {
                ApiError::unauthenticated(ErrorCode::TokenExpired, "the access token has expired")
                    .bearer()
            }
            Refused::Invalid => {
                ApiError::unauthenticated(ErrorCode::Unauthenticated, "the access token is invalid")
                    .bearer()
            }
        })
    }

    fn keys(&self) -> impl Iterator<Item = &Key> {
        [Some(&self.current), self.previous.as_ref()]
            .into_iter()
            .flatten()
    }

    /// `None` when the header is not one this server issues: the slow path decides.
    fn fast_path(&self, token: &str) -> Option<Result<Claims, Refused>> {
        let (header, rest) = token.split_once('.')?;
        let key = self.keys().find(|key| key.header == header)?;
        let Some((payload, signature)) = rest.split_once('.') else {
            return Some(Err(Refused::Invalid));
        };
        Some(verified_claims(key, header, payload, signature))
    }

    fn slow_path(&self, token: &str) -> Result<Claims, Refused> {
        let header = decode_header(token).map_err(|_| Refused::Invalid)?;
        if header.alg != Algorithm::HS256 {
            return Err(Refused::Invalid);
        }
        let kid = header.kid.ok_or(Refused::Invalid)?;
        let key = self
            .keys()
            .find(|key| key.id == kid)
            .ok_or(Refused::Invalid)?;
        decode::<Claims>(token, &key.decoding, validation())
            .map(|data| data.claims)
            .map_err(|error| match error.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => Refused::Expired,
                _ => Refused::Invalid,
            })
    }
}

fn verified_claims(
    key: &Key,
    header: &str,
    payload: &str,
    signature: &str,
) -> Result<Claims, Refused> {
    let mut signature_bytes = [0u8; 32];
    match URL_SAFE_NO_PAD.decode_slice(signature, &mut signature_bytes) {
        Ok(32) => {}
        _ => return Err(Refused::Invalid),
    }
    let mut mac = key.mac.clone();
    mac.update(header.as_bytes());
    mac.update(b".");
    mac.update(payload.as_bytes());
    // Constant time.
    mac.verify_slice(&signature_bytes)
        .map_err(|_| Refused::Invalid)?;
    let payload = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| Refused::Invalid)?;
    let claims: Claims = serde_json::from_slice(&payload).map_err(|_| Refused::Invalid)?;
    let now = chrono::Utc::now().timestamp();
    if claims.exp.saturating_add(LEEWAY_SECS as i64) < now {
        return Err(Refused::Expired);
    }
    Ok(claims)
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

    fn expired_error(keys: &JwtKeys, token: &str) -> bool {
        matches!(
            keys.fast_path(token)
                .unwrap_or_else(|| keys.slow_path(token)),
            Err(Refused::Expired)
        )
    }

    #[test]
    fn issued_tokens_take_the_fast_path_and_others_the_slow_one_with_the_same_answers() {
        let keys = JwtKeys::new(&key('a'), None);
        let (user, family) = (Uuid::now_v7(), Uuid::now_v7());
        let token = keys.issue(user, family).unwrap();
        let fast = keys
            .fast_path(&token)
            .expect("our own header")
            .ok()
            .unwrap();
        assert_eq!((fast.sub, fast.fam), (user, family));

        // The same claims under a header written differently (no `typ`) verify the slow way.
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user,
            iat: now,
            exp: now + 60,
            fam: family,
        };
        let mut header = Header::new(Algorithm::HS256);
        header.typ = None;
        header.kid = Some(keys.current.id.clone());
        let other = encode(
            &header,
            &claims,
            &EncodingKey::from_secret(key('a').bytes()),
        )
        .unwrap();
        assert!(keys.fast_path(&other).is_none());
        assert_eq!(keys.verify(&other).unwrap().sub, user);

        // Expired beyond the leeway: the same refusal on both paths; within it, accepted.
        for (exp, expired) in [(now - 60, true), (now - 2, false)] {
            let claims = Claims {
                sub: user,
                iat: now - 900,
                exp,
                fam: family,
            };
            let ours = encode(
                &Key::header_for(&keys.current.id),
                &claims,
                &keys.current.encoding,
            )
            .unwrap();
            let theirs = encode(&header, &claims, &keys.current.encoding).unwrap();
            assert!(keys.fast_path(&ours).is_some());
            assert_eq!(expired_error(&keys, &ours), expired);
            assert_eq!(expired_error(&keys, &theirs), expired);
            assert_eq!(keys.verify(&ours).is_ok(), !expired);
        }
    }

    #[test]
    fn the_fast_path_refuses_a_bad_signature_a_forged_payload_and_a_foreign_key() {
        let keys = JwtKeys::new(&key('a'), None);
        let token = keys.issue(Uuid::now_v7(), Uuid::now_v7()).unwrap();
        let (head, signature) = token.rsplit_once('.').unwrap();
        let mut flipped = signature.to_owned().into_bytes();
        flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
        let flipped = format!("{head}.{}", String::from_utf8(flipped).unwrap());
        for bad in [
            flipped,
            format!("{head}.{signature}AAAA"),
            format!("{head}."),
            head.to_owned(),
            head.split('.').next().unwrap().to_owned() + ".",
        ] {
            assert!(keys.verify(&bad).is_err(), "{bad}");
        }
        // Signed with another secret under our header (and our key id): refused.
        let impostor = Key {
            id: keys.current.id.clone(),
            ..Key::new(&key('b'))
        };
        let claims = Claims {
            sub: Uuid::now_v7(),
            iat: 0,
            exp: i64::MAX / 2,
            fam: Uuid::now_v7(),
        };
        let forged = encode(&Key::header_for(&impostor.id), &claims, &impostor.encoding).unwrap();
        assert!(keys.fast_path(&forged).is_some());
        assert!(keys.verify(&forged).is_err());
    }
}
