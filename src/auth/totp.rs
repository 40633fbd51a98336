//! The TOTP second factor (API.md §21): RFC 6238, SHA-1, 6 digits, 30 s steps, ±1 step, each
//! code accepted once; enrolment with a QR code drawn by the server as SVG; ten single-use
//! recovery codes, stored hashed. Failed codes count like failed passwords (`auth::limits`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use totp_rs::{Algorithm, Builder, Secret, Totp};
use uuid::Uuid;

use super::client::ClientInfo;
use super::limits;
use super::principal::{Principal, SetupPrincipal};
use super::security_log::{self, Event, EventKind};
use super::state::AuthState;
use super::store::totp;
use crate::error::{ApiError, ErrorCode};
use crate::http::extract::Json;
use crate::tokens::hash_token;

/// Bytes of a secret (160 bits, RFC 4226's recommendation).
const SECRET_BYTES: usize = 20;
pub const RECOVERY_CODES: usize = 10;
/// The alphabet of recovery codes: lower case without `l`, `o`, `0`, `1`, which read alike.
const RECOVERY_ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";
/// Characters of a recovery code (16 × 5 bits = 80 bits: a stolen table of their SHA-256
/// hashes cannot be searched).
const RECOVERY_LEN: usize = 16;

/// The TOTP generator of a secret (`account` and `issuer` only label the otpauth URL).
fn generator(secret: &[u8], issuer: &str, account: &str) -> Result<Totp, ApiError> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(Secret::new(secret.to_vec().into_boxed_slice()))
        // ':' separates issuer and account in the URL's label; neither may hold one.
        .with_issuer(Some(issuer.replace(':', " ")))
        .with_account_name(account.replace(':', "_"))
        .build()
        .map_err(|e| ApiError::internal(anyhow::anyhow!("TOTP: {e:?}")))
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// The time step a code belongs to, if it is right for now (±1 step). Spaces are ignored.
fn matching_step(secret: &[u8], code: &str, at: u64) -> Result<Option<i64>, ApiError> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    let totp = generator(secret, "Docket", "")?;
    Ok(totp.check(&code, at).map(|step| step as i64))
}

/// A recovery code as the person sees it: four groups of four.
fn new_recovery_code() -> String {
    let mut bytes = [0u8; RECOVERY_LEN];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let chars: Vec<char> = bytes
        .iter()
        .map(|b| RECOVERY_ALPHABET[(*b & 31) as usize] as char)
        .collect();
    chars
        .chunks(4)
        .map(|group| group.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// The hash a recovery code is stored and looked up by: case, spaces and dashes do not count.
pub fn recovery_code_hash(code: &str) -> Vec<u8> {
    let normal: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    hash_token(&format!("recovery:{normal}")).to_vec()
}

/// A QR code of `text` as an SVG document: one path of dark modules on a white square with the
/// standard quiet zone of four modules. Nothing but `svg`, `rect` and `path` elements.
pub fn qr_svg(text: &str) -> Result<String, ApiError> {
    use qrcodegen::{QrCode, QrCodeEcc};
    let qr = QrCode::encode_text(text, QrCodeEcc::Medium)
        .map_err(|e| ApiError::internal(anyhow::anyhow!("QR code: {e:?}")))?;
    let border = 4;
    let size = qr.size() + 2 * border;
    let mut path = String::new();
    for y in 0..qr.size() {
        for x in 0..qr.size() {
            if qr.get_module(x, y) {
                path += &format!("M{},{}h1v1h-1z", x + border, y + border);
            }
        }
    }
    Ok(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {size} {size}\" \
         shape-rendering=\"crispEdges\"><rect width=\"{size}\" height=\"{size}\" fill=\"#ffffff\"/>\
         <path d=\"{path}\" fill=\"#000000\"/></svg>"
    ))
}

/// The TOTP secret of a user, opened; `None` when they have no credential (or it was sealed
/// under another key, which means the same for them).
async fn secret_of(state: &AuthState, user_id: Uuid) -> Result<Option<(Vec<u8>, bool)>, ApiError> {
    let Some(stored) = totp::find(&state.db, user_id).await? else {
        return Ok(None);
    };
    let secret = state
        .secrets
        .open(user_id.as_bytes(), &stored.sealed_secret);
    Ok(secret.map(|secret| (secret, stored.confirmed)))
}

/// A second-factor answer that is not a passkey.
#[derive(Debug, Clone, Copy)]
pub enum CodeAnswer<'a> {
    Totp(&'a str),
    Recovery(&'a str),
}

impl CodeAnswer<'_> {
    /// The method word of the security log.
    pub fn method(&self) -> &'static str {
        match self {
            CodeAnswer::Totp(_) => "totp",
            CodeAnswer::Recovery(_) => "recovery_code",
        }
    }
}

/// Checks a code of an active TOTP (accepted once) or a recovery code (spent), under the
/// failed-password limits of API.md §1 on the account: counted before the check (429 past a
/// limit, even for a right code), given back when right. A wrong one is written to the log.
pub async fn check_code(
    state: &AuthState,
    user_id: Uuid,
    client: &ClientInfo,
    answer: CodeAnswer<'_>,
) -> Result<bool, ApiError> {
    let buckets = limits::password_buckets(Some(user_id), client.addr.0);
    let attempt = limits::attempt(&state.db, &buckets).await?;
    let right = match answer {
        CodeAnswer::Totp(code) => match secret_of(state, user_id).await? {
            Some((secret, true)) => match matching_step(&secret, code, now())? {
                Some(step) => totp::accept_step(&state.db, user_id, step, false).await?,
                None => false,
            },
            _ => false,
        },
        CodeAnswer::Recovery(code) => {
            totp::spend_recovery_code(&state.db, user_id, &recovery_code_hash(code)).await?
        }
    };
    if right {
        limits::release(&state.db, attempt).await?;
    } else {
        let event = Event::new(EventKind::SecondFactorFailed).method(answer.method());
        security_log::record(&state.db, user_id, event, Some(client)).await?;
    }
    Ok(right)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TotpStatus {
    /// Whether TOTP is on (confirmed).
    pub enabled: bool,
    /// Unused recovery codes.
    pub recovery_codes_left: i64,
}

/// Whether the caller has TOTP on, and how many recovery codes are left.
#[utoipa::path(get, path = "/api/v1/me/totp", tag = "account",
    responses((status = 200, body = TotpStatus)),
    security(("bearer" = []), ("session" = [])))]
pub async fn get_totp(
    State(state): State<AuthState>,
    SetupPrincipal(principal): SetupPrincipal,
) -> Result<axum::Json<TotpStatus>, ApiError> {
    let enabled = totp::find(&state.db, principal.id())
        .await?
        .is_some_and(|t| t.confirmed);
    let recovery_codes_left = if enabled {
        totp::recovery_codes_left(&state.db, principal.id()).await?
    } else {
        0
    };
    Ok(axum::Json(TotpStatus {
        enabled,
        recovery_codes_left,
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TotpEnrolment {
    /// The secret in base32, for typing into an authenticator app.
    pub secret: String,
    /// `otpauth://totp/…`, what the QR code holds.
    pub otpauth_url: String,
    /// The QR code as an SVG document (only `svg`, `rect` and `path` elements).
    pub qr_svg: String,
}

/// Start setting up TOTP: a new secret, not active until confirmed with a code from it. Starting
/// again replaces an unconfirmed secret; with TOTP on, 409 (turn it off first).
#[utoipa::path(post, path = "/api/v1/me/totp", tag = "account",
    responses((status = 201, body = TotpEnrolment)),
    security(("bearer" = []), ("session" = [])))]
pub async fn start_totp(
    State(state): State<AuthState>,
    SetupPrincipal(principal): SetupPrincipal,
) -> Result<Response, ApiError> {
    principal.require_login()?;
    let mut secret = [0u8; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let sealed = state.secrets.seal(principal.id().as_bytes(), &secret);
    if !totp::start_enrolment(&state.db, principal.id(), &sealed).await? {
        return Err(ApiError::conflict(
            ErrorCode::Conflict,
            "TOTP is on already; turn it off first to set up another authenticator",
        ));
    }
    let totp = generator(&secret, &state.config.totp_issuer, &principal.user.email)?;
    let otpauth_url = totp
        .to_url()
        .map_err(|e| ApiError::internal(anyhow::anyhow!("otpauth URL: {e:?}")))?;
    let body = TotpEnrolment {
        secret: totp.secret().to_base32(),
        qr_svg: qr_svg(&otpauth_url)?,
        otpauth_url,
    };
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmTotpRequest {
    /// The current 6-digit code of the authenticator.
    #[schema(pattern = r"^[^\x00]*$", max_length = 100)]
    pub code: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RecoveryCodes {
    /// Ten codes, each usable once instead of a TOTP code. Shown only now.
    pub recovery_codes: Vec<String>,
}

/// Turn TOTP on with a code from the new secret; answers the ten recovery codes (shown once,
/// stored hashed).
#[utoipa::path(post, path = "/api/v1/me/totp/confirm", tag = "account",
    request_body = ConfirmTotpRequest,
    responses((status = 200, body = RecoveryCodes)),
    security(("bearer" = []), ("session" = [])))]
pub async fn confirm_totp(
    State(state): State<AuthState>,
    SetupPrincipal(principal): SetupPrincipal,
    client: ClientInfo,
    Json(body): Json<ConfirmTotpRequest>,
) -> Result<axum::Json<RecoveryCodes>, ApiError> {
    principal.require_login()?;
    let user_id = principal.id();
    let Some((secret, false)) = secret_of(&state, user_id).await? else {
        return Err(ApiError::conflict(
            ErrorCode::Conflict,
            "there is no TOTP set-up waiting for confirmation; start one first",
        ));
    };
    let buckets = limits::password_buckets(Some(user_id), client.addr.0);
    let attempt = limits::attempt(&state.db, &buckets).await?;
    let accepted = match matching_step(&secret, &body.code, now())? {
        Some(step) => totp::accept_step(&state.db, user_id, step, true).await?,
        None => false,
    };
    if !accepted {
        let event = Event::new(EventKind::SecondFactorFailed).method("totp");
        security_log::record(&state.db, user_id, event, Some(&client)).await?;
        return Err(ApiError::field(
            "code",
            "incorrect",
            "is not the current code of this secret",
        ));
    }
    limits::release(&state.db, attempt).await?;
    let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| new_recovery_code()).collect();
    let hashes: Vec<Vec<u8>> = codes.iter().map(|c| recovery_code_hash(c)).collect();
    let tx = state.db.begin().await?;
    totp::replace_recovery_codes(&tx, user_id, &hashes).await?;
    security_log::record(
        &tx,
        user_id,
        Event::new(EventKind::TotpEnabled),
        Some(&client),
    )
    .await?;
    tx.commit().await?;
    state.principals.evict_user(user_id);
    Ok(axum::Json(RecoveryCodes {
        recovery_codes: codes,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisableTotpRequest {
    /// A current TOTP code…
    #[schema(pattern = r"^[^\x00]*$", max_length = 100)]
    pub code: Option<String>,
    /// …or one of the recovery codes.
    #[schema(pattern = r"^[^\x00]*$", max_length = 100)]
    pub recovery_code: Option<String>,
}

/// Turn TOTP off, proving it with a current code or a recovery code; the recovery codes go too.
#[utoipa::path(delete, path = "/api/v1/me/totp", tag = "account",
    request_body = DisableTotpRequest,
    responses((status = 204, description = "TOTP is off"),
        (status = 404, description = "TOTP is not on", body = crate::error::Problem,
            content_type = "application/problem+json")),
    security(("bearer" = []), ("session" = [])))]
pub async fn delete_totp(
    State(state): State<AuthState>,
    principal: Principal,
    client: ClientInfo,
    Json(body): Json<DisableTotpRequest>,
) -> Result<StatusCode, ApiError> {
    principal.require_login()?;
    let answer = match (&body.code, &body.recovery_code) {
        (Some(code), None) => CodeAnswer::Totp(code),
        (None, Some(code)) => CodeAnswer::Recovery(code),
        _ => {
            return Err(ApiError::field(
                "code",
                "required",
                "give either code or recovery_code",
            ))
        }
    };
    let user_id = principal.id();
    if !totp::find(&state.db, user_id)
        .await?
        .is_some_and(|t| t.confirmed)
    {
        return Err(ApiError::not_found().detail("TOTP is not on"));
    }
    if !check_code(&state, user_id, &client, answer).await? {
        let field = match answer {
            CodeAnswer::Totp(_) => "code",
            CodeAnswer::Recovery(_) => "recovery_code",
        };
        return Err(ApiError::field(field, "incorrect", "is not a valid code"));
    }
    let tx = state.db.begin().await?;
    totp::delete(&tx, user_id).await?;
    security_log::record(
        &tx,
        user_id,
        Event::new(EventKind::TotpDisabled),
        Some(&client),
    )
    .await?;
    tx.commit().await?;
    state.principals.evict_user(user_id);
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 (the 8-digit values' last six digits).
    #[test]
    fn codes_are_those_of_rfc_6238() {
        let secret = b"12345678901234567890";
        for (time, code) in [
            (59, "287082"),
            (1111111109, "081804"),
            (1111111111, "050471"),
            (1234567890, "005924"),
            (2000000000, "279037"),
        ] {
            assert_eq!(
                matching_step(secret, code, time).unwrap(),
                Some((time / 30) as i64),
                "{time}"
            );
        }
        // One step either side counts; two do not.
        assert_eq!(matching_step(secret, "287082", 59 + 30).unwrap(), Some(1));
        assert_eq!(matching_step(secret, "287082", 59 + 60).unwrap(), None);
        assert_eq!(matching_step(secret, "28708", 59).unwrap(), None);
        assert_eq!(matching_step(secret, "287 082", 59).unwrap(), Some(1));
    }

    #[test]
    fn recovery_codes_are_80_bits_in_four_groups_and_hash_alike_however_typed() {
        let code = new_recovery_code();
        assert_eq!(code.len(), 19);
        assert_eq!(code.split('-').count(), 4);
        assert!(code
            .chars()
            .all(|c| c == '-' || RECOVERY_ALPHABET.contains(&(c as u8))));
        assert_ne!(code, new_recovery_code());
        let typed = code.to_uppercase().replace('-', " ");
        assert_eq!(recovery_code_hash(&typed), recovery_code_hash(&code));
    }

    #[test]
    fn the_qr_code_is_a_plain_svg() {
        let svg = qr_svg("otpauth://totp/Docket:ada@example.com?secret=JBSWY3DPEHPK3PXP").unwrap();
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(!svg.contains("script") && !svg.contains("href"));
    }
}
