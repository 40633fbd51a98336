//! Task field types, parsed at the boundary; past it, values are known to be valid.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::error::{FieldError, FieldErrors};

pub const TITLE_MAX: usize = 200;
pub const DESCRIPTION_MAX: usize = 20_000;
pub const LABELS_MAX: usize = 20;
pub const LABEL_MAX: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskTitle(String);

impl TaskTitle {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let title = raw.trim();
        if title.is_empty() {
            return Err(FieldError::new("title", "required", "must not be empty"));
        }
        if title.chars().count() > TITLE_MAX {
            return Err(FieldError::new(
                "title",
                "too_long",
                format!("must be at most {TITLE_MAX} characters"),
            ));
        }
        if title.chars().any(char::is_control) {
            return Err(FieldError::new(
                "title",
                "invalid",
                "must not contain control characters",
            ));
        }
        Ok(Self(title.to_owned()))
    }

    /// For imported titles: over-long ones are cut to 199 characters plus an ellipsis, and
    /// control characters become spaces.
    pub fn truncating(raw: &str) -> Self {
        let cleaned: String = raw
            .trim()
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let cleaned = cleaned.trim();
        let title = if cleaned.chars().count() > TITLE_MAX {
            let mut cut: String = cleaned.chars().take(TITLE_MAX - 1).collect();
            cut.push('…');
            cut
        } else if cleaned.is_empty() {
            "(untitled)".to_owned()
        } else {
            cleaned.to_owned()
        };
        Self(title)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description(String);

impl Description {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        if raw.chars().count() > DESCRIPTION_MAX {
            return Err(FieldError::new(
                "description",
                "too_long",
                format!("must be at most {DESCRIPTION_MAX} characters"),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn truncating(raw: &str) -> Self {
        Self(raw.chars().take(DESCRIPTION_MAX).collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Todo,
    InProgress,
    Done,
    Canceled,
}

impl Status {
    /// Every status, in the order of a workflow (and of the board's columns).
    pub const ALL: [Status; 4] = [
        Status::Todo,
        Status::InProgress,
        Status::Done,
        Status::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Todo => "todo",
            Status::InProgress => "in_progress",
            Status::Done => "done",
            Status::Canceled => "canceled",
        }
    }

    /// Open: still to do or being done (not done, not canceled). An open task that blocks
    /// another keeps it `blocked`.
    pub fn is_open(self) -> bool {
        matches!(self, Status::Todo | Status::InProgress)
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "todo" => Some(Status::Todo),
            "in_progress" => Some(Status::InProgress),
            "done" => Some(Status::Done),
            "canceled" => Some(Status::Canceled),
            _ => None,
        }
    }
}

crate::text_enum!(Status, Status::parse);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Priority(i16);

impl Priority {
    pub fn parse(raw: i64) -> Result<Self, FieldError> {
        if (0..=4).contains(&raw) {
            Ok(Self(raw as i16))
        } else {
            Err(FieldError::new(
                "priority",
                "out_of_range",
                "must be from 0 (none) to 4 (urgent)",
            ))
        }
    }

    pub fn get(self) -> i16 {
        self.0
    }
}

/// Distinct, trimmed, lower-cased, sorted labels; at most 20 of at most 50 characters each.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Labels(Vec<String>);

impl Labels {
    /// Every invalid label is counted, the first twenty are described (`FieldErrors`): 60,000
    /// bad labels in a body build twenty errors, not 60,000.
    pub fn parse(raw: &[String]) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let mut labels = Vec::new();
        for (index, label) in raw.iter().enumerate() {
            let normalised = normalise_label(label);
            let length = normalised.chars().count();
            if length == 0 || length > LABEL_MAX {
                errors.push_with(|| {
                    FieldError::new(
                        format!("labels.{index}"),
                        "invalid",
                        format!("must be 1 to {LABEL_MAX} characters"),
                    )
                });
            } else if normalised.chars().any(char::is_control) {
                errors.push_with(|| {
                    FieldError::new(
                        format!("labels.{index}"),
                        "invalid",
                        "must not contain control characters",
                    )
                });
            } else {
                labels.push(normalised);
            }
        }
        labels.sort();
        labels.dedup();
        if labels.len() > LABELS_MAX {
            errors.push_with(|| {
                FieldError::new(
                    "labels",
                    "too_many",
                    format!("must have at most {LABELS_MAX} distinct labels"),
                )
            });
        }
        if errors.total() == 0 {
            Ok(Self(labels))
        } else {
            Err(errors)
        }
    }

    /// For imported labels: each cut to 50 characters, the first 20 (sorted) kept.
    pub fn truncating(raw: &[String]) -> Self {
        let mut labels: Vec<String> = raw
            .iter()
            .map(|label| {
                normalise_label(label)
                    .chars()
                    .take(LABEL_MAX)
                    .collect::<String>()
            })
            .filter(|label| !label.is_empty())
            .collect();
        labels.sort();
        labels.dedup();
        labels.truncate(LABELS_MAX);
        Self(labels)
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

pub fn normalise_label(raw: &str) -> String {
    raw.trim().to_lowercase()
}

/// A task's due date, as a request gives it (`YYYY-MM-DD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueDate(pub NaiveDate);

impl DueDate {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        parse_date("due_date", raw).map(Self)
    }
}

// Request bodies hold these types, so the JSON extractor reports every field's error at once.
crate::deserialize_by_parse!(TaskTitle, String, |raw| TaskTitle::parse(&raw)
    .map_err(|e| vec![e]));
crate::deserialize_by_parse!(Description, String, |raw| Description::parse(&raw)
    .map_err(|e| vec![e]));
crate::deserialize_by_parse!(Priority, crate::http::extract::Integer, |raw| {
    Priority::parse(raw.0).map_err(|e| vec![e])
});
crate::deserialize_by_parse!(Labels, Vec<String>, |raw| Labels::parse(&raw));
crate::deserialize_by_parse!(DueDate, String, |raw| DueDate::parse(&raw)
    .map_err(|e| vec![e]));

pub fn parse_date(field: &str, raw: &str) -> Result<NaiveDate, FieldError> {
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .filter(|_| raw.len() == 10)
        .ok_or_else(|| FieldError::new(field, "invalid", "must be a date like 2026-01-31"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles() {
        assert_eq!(TaskTitle::parse("  Ship it ").unwrap().as_str(), "Ship it");
        assert_eq!(TaskTitle::parse("  ").unwrap_err().code, "required");
        assert_eq!(
            TaskTitle::parse(&"x".repeat(201)).unwrap_err().code,
            "too_long"
        );
        assert!(TaskTitle::parse(&"é".repeat(200)).is_ok());
        assert!(TaskTitle::parse("a\nb").is_err());
        let cut = TaskTitle::truncating(&"y".repeat(300));
        assert_eq!(cut.as_str().chars().count(), 200);
        assert!(cut.as_str().ends_with('…'));
    }

    #[test]
    fn labels_are_normalised_merged_and_bounded() {
        let labels = Labels::parse(&[" Bug ".into(), "bug".into(), "UI".into()]).unwrap();
        assert_eq!(labels.as_slice(), ["bug", "ui"]);
        let many: Vec<String> = (0..21).map(|i| format!("l{i}")).collect();
        assert!(Labels::parse(&many).is_err());
        let dupes: Vec<String> = (0..30).map(|i| format!("L{}", i % 5)).collect();
        assert_eq!(Labels::parse(&dupes).unwrap().as_slice().len(), 5);
        let errors = Labels::parse(&["ok".into(), "".into()]).unwrap_err();
        assert_eq!(errors[0].field, "labels.1");
        assert_eq!(Labels::truncating(&many).as_slice().len(), 20);
    }

    #[test]
    fn priorities_and_dates() {
        assert!(Priority::parse(4).is_ok());
        assert!(Priority::parse(5).is_err());
        assert!(Priority::parse(-1).is_err());
        assert!(parse_date("due_date", "2026-02-28").is_ok());
        assert!(parse_date("due_date", "2026-02-30").is_err());
        assert!(parse_date("due_date", "2026-2-3").is_err());
    }
}
