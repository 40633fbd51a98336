//! A project's workflow (API.md §17): its ordered states, each in one of the four categories
//! that a task's `status` names. The database keeps the rules every writer shares
//! (migrations/V20261220000001): a new project's four states, one default per category, and
//! a task's `status` always its state's category.

pub mod handlers;
pub mod store;

use serde::Serialize;
use uuid::Uuid;

use crate::error::FieldError;
use crate::tasks::domain::Status;

pub const NAME_MAX: usize = 50;

/// A state's name: 1–50 characters once trimmed, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateName(String);

impl StateName {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let name = raw.trim();
        let length = name.chars().count();
        if length == 0 || length > NAME_MAX {
            let code = if length == 0 { "required" } else { "too_long" };
            return Err(FieldError::new(
                "name",
                code,
                format!("must be 1 to {NAME_MAX} characters"),
            ));
        }
        if name.chars().any(char::is_control) {
            return Err(FieldError::new(
                "name",
                "invalid",
                "must not contain control characters",
            ));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A colour as `#rrggbb`, kept lower-case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Color(String);

impl Color {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let hex = raw.strip_prefix('#').unwrap_or("");
        if hex.len() == 6 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(format!("#{}", hex.to_ascii_lowercase())))
        } else {
            Err(FieldError::new(
                "color",
                "invalid",
                "must be a colour like #1f883d",
            ))
        }
    }

    /// The colour a new state of `category` gets when none is given.
    pub fn default_for(category: Status) -> Self {
        Self(
            match category {
                Status::Todo => "#6b7280",
                Status::InProgress => "#2563eb",
                Status::Done => "#16a34a",
                Status::Canceled => "#9ca3af",
            }
            .to_owned(),
        )
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

crate::deserialize_by_parse!(StateName, String, |raw| StateName::parse(&raw)
    .map_err(|e| vec![e]));
crate::deserialize_by_parse!(Color, String, |raw| Color::parse(&raw).map_err(|e| vec![e]));

/// A state of a project's workflow.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct State {
    pub id: Uuid,
    pub project_id: Uuid,
    /// 1–50 characters, unique in the project (case-insensitively).
    pub name: String,
    /// The status of every task in this state; fixed once created.
    pub category: Status,
    /// `#rrggbb`, lower-case.
    pub color: String,
    /// 0, 1, 2 … in the board's order.
    pub position: i32,
    /// New tasks of this category, and tasks given only a `status`, go here.
    pub is_default: bool,
}

/// Where a state goes in the order: `after_id` absent, `null`, or a state's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    Last,
    First,
    After(Uuid),
}

/// The states of a project, in order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StateList {
    pub items: Vec<State>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_colours() {
        assert_eq!(StateName::parse("  Review ").unwrap().as_str(), "Review");
        assert_eq!(StateName::parse(" ").unwrap_err().code, "required");
        assert_eq!(
            StateName::parse(&"x".repeat(51)).unwrap_err().code,
            "too_long"
        );
        assert!(StateName::parse(&"é".repeat(50)).is_ok());
        assert!(StateName::parse("a\tb").is_err());
        assert_eq!(Color::parse("#A1b2C3").unwrap().as_str(), "#a1b2c3");
        for bad in ["a1b2c3", "#a1b2c", "#a1b2c3d", "#g1b2c3", ""] {
            assert!(Color::parse(bad).is_err(), "{bad}");
        }
    }
}
