//! Account domain types: once built, each holds only valid values.

use std::collections::HashSet;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// A normalised email address: trimmed, lower-cased, one `@`, a dotted domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let email = raw.trim().to_lowercase();
        if email.is_empty() || email.len() > 254 {
            return Err("must be an email address of at most 254 characters");
        }
        let Some((local, domain)) = email.split_once('@') else {
            return Err("must be an email address");
        };
        let valid = !local.is_empty()
            && local.len() <= 64
            && !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !email.chars().any(|c| c.is_whitespace() || c.is_control());
        if !valid {
            return Err("must be an email address");
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password that meets the policy: 10–128 characters, not a common password.
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password([redacted])")
    }
}

pub const PASSWORD_MIN: usize = 10;
pub const PASSWORD_MAX: usize = 128;

impl Password {
    pub fn parse(raw: String) -> Result<Self, (&'static str, String)> {
        let length = raw.chars().count();
        if length < PASSWORD_MIN {
            return Err((
                "too_short",
                format!("must be at least {PASSWORD_MIN} characters"),
            ));
        }
        if length > PASSWORD_MAX {
            return Err((
                "too_long",
                format!("must be at most {PASSWORD_MAX} characters"),
            ));
        }
        if is_common_password(&raw) {
            return Err((
                "too_common",
                "is one of the most common passwords; choose another".to_owned(),
            ));
        }
        Ok(Self(raw))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

fn common_passwords() -> &'static HashSet<&'static str> {
    static LIST: OnceLock<HashSet<&'static str>> = OnceLock::new();
    LIST.get_or_init(|| {
        include_str!("../../data/common-passwords.txt")
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .collect()
    })
}

pub fn is_common_password(password: &str) -> bool {
    common_passwords().contains(password.to_lowercase().as_str())
}

/// A display name: 1–100 characters after trimming, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserName(String);

impl UserName {
    pub fn parse(raw: &str) -> Result<Self, (&'static str, &'static str)> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(("required", "must not be empty"));
        }
        if name.chars().count() > 100 {
            return Err(("too_long", "must be at most 100 characters"));
        }
        if name.chars().any(char::is_control) {
            return Err(("invalid", "must not contain control characters"));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An IANA time zone of the tz database the server carries (chrono-tz), e.g.
/// `Europe/Berlin`; spelled exactly as the database does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeZoneName(chrono_tz::Tz);

impl TimeZoneName {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        raw.parse::<chrono_tz::Tz>()
            .map(Self)
            .map_err(|_| "must be an IANA time zone such as Europe/Berlin")
    }

    /// A stored name; one no longer in the database (renamed zones stay as links) reads as UTC.
    pub fn from_stored(raw: &str) -> Self {
        Self::parse(raw).unwrap_or(Self(chrono_tz::Tz::UTC))
    }

    pub fn zone(self) -> chrono_tz::Tz {
        self.0
    }

    pub fn as_str(self) -> &'static str {
        self.0.name()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum UserRole {
    Admin,
    User,
}

impl UserRole {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(UserRole::Admin),
            "user" => Some(UserRole::User),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            UserRole::Admin => "admin",
            UserRole::User => "user",
        }
    }
}

crate::text_enum!(UserRole, UserRole::parse);

/// A scope of a personal API token, stored in `api_tokens.scopes` (`text[]`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ApiScope {
    Read,
    Write,
}

impl ApiScope {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "read" => Some(ApiScope::Read),
            "write" => Some(ApiScope::Write),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ApiScope::Read => "read",
            ApiScope::Write => "write",
        }
    }
}

crate::text_enum!(ApiScope, ApiScope::parse);

/// A list of scopes binds as `text[]` (`Vec<ApiScope>` through `text_enum!`).
impl crate::db::PgParam for &[ApiScope] {
    const TYPE: tokio_postgres::types::Type = tokio_postgres::types::Type::TEXT_ARRAY;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            Email::parse("  Alice@Example.COM ").unwrap().as_str(),
            "alice@example.com"
        );
        for bad in [
            "",
            "alice",
            "@example.com",
            "a@b",
            "a@@b.com",
            "a b@c.com",
            "a@.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn password_policy() {
        assert_eq!(Password::parse("short".into()).unwrap_err().0, "too_short");
        assert_eq!(Password::parse("x".repeat(129)).unwrap_err().0, "too_long");
        assert_eq!(
            Password::parse("Password123".into()).unwrap_err().0,
            "too_common"
        );
        assert!(Password::parse("a sensible passphrase".into()).is_ok());
        assert!(common_passwords().len() >= 10_000);
    }

    #[test]
    fn enums_round_trip_their_spellings() {
        for role in [UserRole::Admin, UserRole::User] {
            assert_eq!(UserRole::parse(role.as_str()), Some(role));
        }
        for scope in [ApiScope::Read, ApiScope::Write] {
            assert_eq!(ApiScope::parse(scope.as_str()), Some(scope));
        }
        assert_eq!(UserRole::parse("root"), None);
        assert_eq!(ApiScope::parse("admin"), None);
    }

    #[test]
    fn names() {
        assert_eq!(UserName::parse("  Ada ").unwrap().as_str(), "Ada");
        assert!(UserName::parse("   ").is_err());
        assert!(UserName::parse("a\u{7}b").is_err());
        assert!(UserName::parse(&"n".repeat(101)).is_err());
    }
}
