//! What lives between a start and its finish, single use and five minutes long: WebAuthn
//! ceremonies (the `webauthn_ceremonies` table) and password sign-ins waiting for their second
//! factor (the `login_challenges` table). Both are found by the hash of an opaque id the client
//! holds, and taking one deletes it.

use uuid::Uuid;

use crate::db::{get, DbResult, Exec, FromRow, Row};
use crate::params;

/// How long a challenge lives.
pub const CHALLENGE_TTL_SECS: i64 = 5 * 60;

/// What a WebAuthn ceremony is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyKind {
    Register,
    SignIn,
}

impl CeremonyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CeremonyKind::Register => "register",
            CeremonyKind::SignIn => "sign_in",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "register" => Some(CeremonyKind::Register),
            "sign_in" => Some(CeremonyKind::SignIn),
            _ => None,
        }
    }
}

crate::text_enum!(CeremonyKind, CeremonyKind::parse);

pub async fn insert_ceremony(
    db: &impl Exec,
    challenge_hash: &[u8],
    kind: CeremonyKind,
    user_id: Option<Uuid>,
    state: serde_json::Value,
) -> DbResult<()> {
    db.execute(
        "INSERT INTO webauthn_ceremonies (challenge_hash, kind, user_id, state, expires_at) \
         VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))",
        params![
            challenge_hash,
            kind,
            user_id,
            state,
            CHALLENGE_TTL_SECS as f64
        ],
    )
    .await?;
    Ok(())
}

/// Takes the live ceremony of this kind (and of this user, for one that has a user); once.
pub async fn take_ceremony(
    db: &impl Exec,
    challenge_hash: &[u8],
    kind: CeremonyKind,
    user_id: Option<Uuid>,
) -> DbResult<Option<serde_json::Value>> {
    let row = db
        .query_opt(
            "DELETE FROM webauthn_ceremonies \
             WHERE challenge_hash = $1 AND kind = $2 AND user_id IS NOT DISTINCT FROM $3 \
               AND expires_at > now() \
             RETURNING state",
            params![challenge_hash, kind, user_id],
        )
        .await?;
    row.map(|row| get(&row, "state")).transpose()
}

/// What answering a second-factor challenge gets: what the challenged request would have had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantKind {
    /// `POST /auth/session`: a cookie session.
    Session,
    /// The password grant of `POST /auth/token`: the token body.
    Token,
}

impl GrantKind {
    pub fn as_str(self) -> &'static str {
        match self {
            GrantKind::Session => "session",
            GrantKind::Token => "token",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "session" => Some(GrantKind::Session),
            "token" => Some(GrantKind::Token),
            _ => None,
        }
    }
}

crate::text_enum!(GrantKind, GrantKind::parse);

/// A password sign-in waiting for its second factor.
#[derive(Debug, Clone)]
pub struct LoginChallenge {
    pub user_id: Uuid,
    pub grant: GrantKind,
    /// The WebAuthn assertion offered with the challenge, when the user has passkeys.
    pub passkey_state: Option<serde_json::Value>,
}

impl FromRow for LoginChallenge {
    fn from_row(row: &Row) -> DbResult<Self> {
        Ok(Self {
            user_id: get(row, "user_id")?,
            grant: get(row, "grant_kind")?,
            passkey_state: get(row, "passkey_state")?,
        })
    }
}

pub async fn insert_login_challenge(
    db: &impl Exec,
    challenge_hash: &[u8],
    challenge: &LoginChallenge,
) -> DbResult<()> {
    db.execute(
        "INSERT INTO login_challenges (challenge_hash, user_id, grant_kind, passkey_state, \
             expires_at) \
         VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))",
        params![
            challenge_hash,
            challenge.user_id,
            challenge.grant,
            challenge.passkey_state.clone(),
            CHALLENGE_TTL_SECS as f64
        ],
    )
    .await?;
    Ok(())
}

/// The live challenge, without taking it: a wrong code leaves it for another try.
pub async fn find_login_challenge(
    db: &impl Exec,
    challenge_hash: &[u8],
) -> DbResult<Option<LoginChallenge>> {
    db.fetch_opt(
        "SELECT user_id, grant_kind, passkey_state FROM login_challenges \
         WHERE challenge_hash = $1 AND expires_at > now()",
        params![challenge_hash],
    )
    .await
}

/// Takes the challenge once it was answered: true for exactly one of any racing answers.
pub async fn take_login_challenge(db: &impl Exec, challenge_hash: &[u8]) -> DbResult<bool> {
    let taken = db
        .execute(
            "DELETE FROM login_challenges WHERE challenge_hash = $1 AND expires_at > now()",
            params![challenge_hash],
        )
        .await?;
    Ok(taken == 1)
}

/// Deletes the rows past their use (maintenance).
pub async fn purge_expired(db: &impl Exec) -> DbResult<()> {
    db.execute(
        "DELETE FROM webauthn_ceremonies WHERE expires_at < now()",
        params![],
    )
    .await?;
    db.execute(
        "DELETE FROM login_challenges WHERE expires_at < now()",
        params![],
    )
    .await?;
    Ok(())
}
