//! A task's reminders (API.md §19): up to five, each `{"before_minutes": N}` (before the due
//! date and time) or `{"at": "<RFC 3339>"}`, sent once as a `reminder` notification to the
//! task's recipient — its assignee, or its creator when unassigned.
//!
//! A relative reminder counts from `due_date` + `due_time` in the recipient's time zone, or
//! from 09:00 of the due date there when the task has no `due_time`. Fire times are computed
//! here and stored with each reminder (`store::reminders` owns the table); every write that
//! moves one (due date or time, assignee, the recipient's zone) recomputes them in its
//! transaction. The periodic job (`reminder_scan::run_job`, a `JobKind::TaskReminders` job the
//! scheduler enqueues every scan period) claims the due ones and writes their notifications in
//! one transaction.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth::domain::TimeZoneName;
use crate::error::{FieldError, FieldErrors};

/// At most this many reminders on a task.
pub const MAX_REMINDERS: usize = 5;
/// The longest a relative reminder may come before the due time: 30 days.
pub const MAX_BEFORE_MINUTES: i32 = 43_200;
/// A relative reminder of a task without a `due_time` counts from this time of the due date.
pub const DEFAULT_TIME: NaiveTime = match NaiveTime::from_hms_opt(9, 0, 0) {
    Some(time) => time,
    None => panic!("09:00 is a time"),
};

/// One reminder as a request gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spec {
    /// Minutes before the due date and time.
    Before(i32),
    /// An instant.
    At(DateTime<Utc>),
}

impl Spec {
    pub fn before_minutes(self) -> Option<i32> {
        match self {
            Spec::Before(minutes) => Some(minutes),
            Spec::At(_) => None,
        }
    }

    pub fn at(self) -> Option<DateTime<Utc>> {
        match self {
            Spec::At(at) => Some(at),
            Spec::Before(_) => None,
        }
    }

    pub fn is_relative(self) -> bool {
        matches!(self, Spec::Before(_))
    }
}

/// A task's reminder list as a request gives it: at most five, each valid, no two the same.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reminders(Vec<Spec>);

/// One reminder of a request: exactly one of the two members (the document's shape; the
/// handler parses `Reminders`, naming each bad entry).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
#[schema(as = ReminderInput)]
#[allow(dead_code)]
pub enum ReminderInput {
    Before(ReminderBefore),
    At(ReminderAt),
}

/// A relative reminder.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ReminderBefore {
    /// Minutes before the due date and time (09:00 of the due date without a `due_time`), in
    /// the recipient's time zone: 0 to 43,200 (30 days). Needs a `due_date`.
    #[schema(minimum = 0, maximum = 43200)]
    before_minutes: i32,
}

/// An absolute reminder.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ReminderAt {
    /// An instant (RFC 3339).
    at: DateTime<Utc>,
}

impl Reminders {
    pub fn new(specs: Vec<Spec>) -> Self {
        Self(specs)
    }

    /// The list a task holds now.
    pub fn of(shown: &[Reminder]) -> Self {
        Self(
            shown
                .iter()
                .filter_map(|r| match (r.before_minutes, r.at) {
                    (Some(minutes), _) => Some(Spec::Before(minutes)),
                    (None, Some(at)) => Some(Spec::At(at)),
                    (None, None) => None,
                })
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_slice(&self) -> &[Spec] {
        &self.0
    }

    /// Each bad entry named `reminders.N.<field>` (or `reminders.N` when it is not an object
    /// with exactly one of the two members).
    pub fn parse(raw: &[Value]) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        if raw.len() > MAX_REMINDERS {
            errors.push_with(|| {
                FieldError::new(
                    "reminders",
                    "too_many",
                    format!("at most {MAX_REMINDERS} reminders"),
                )
            });
        }
        let mut specs = Vec::with_capacity(raw.len());
        for (index, entry) in raw.iter().enumerate() {
            match parse_one(index, entry) {
                Ok(spec) if specs.contains(&spec) => errors.push_with(|| {
                    FieldError::new(
                        format!("reminders.{index}"),
                        "duplicate",
                        "the same reminder is already in the list",
                    )
                }),
                Ok(spec) => specs.push(spec),
                Err(error) => errors.push_with(|| error),
            }
        }
        if errors.total() > 0 {
            return Err(errors);
        }
        Ok(Self(specs))
    }

    /// Without the relative ones (their due date is gone).
    pub fn absolute_only(&self) -> Self {
        Self(
            self.0
                .iter()
                .copied()
                .filter(|s| !s.is_relative())
                .collect(),
        )
    }

    /// Only the relative ones (what a recurring task's next occurrence carries).
    pub fn relative_only(&self) -> Self {
        Self(self.0.iter().copied().filter(|s| s.is_relative()).collect())
    }

    /// A relative reminder needs a due date: the errors when there is none.
    pub fn check_due(&self, due: Option<NaiveDate>, errors: &mut Vec<FieldError>) {
        if due.is_some() {
            return;
        }
        for (index, spec) in self.0.iter().enumerate() {
            if spec.is_relative() {
                errors.push(FieldError::new(
                    format!("reminders.{index}.before_minutes"),
                    "requires_due_date",
                    "a relative reminder needs a due_date",
                ));
            }
        }
    }
}

fn parse_one(index: usize, entry: &Value) -> Result<Spec, FieldError> {
    let field = |name: &str| format!("reminders.{index}.{name}");
    let Some(object) = entry.as_object() else {
        return Err(FieldError::new(
            format!("reminders.{index}"),
            "invalid_type",
            "must be an object with before_minutes or at",
        ));
    };
    if let Some(unknown) = object.keys().find(|k| *k != "before_minutes" && *k != "at") {
        return Err(FieldError::new(
            field(unknown),
            "unknown_field",
            "not a member of a reminder",
        ));
    }
    match (object.get("before_minutes"), object.get("at")) {
        // JSON Schema's integer: `30.0` is one too.
        (Some(minutes), None) => match minutes
            .as_number()
            .and_then(crate::http::extract::Integer::from_number)
            .map(|i| i.0)
        {
            Some(m) if (0..=i64::from(MAX_BEFORE_MINUTES)).contains(&m) => {
                Ok(Spec::Before(m as i32))
            }
            _ => Err(FieldError::new(
                field("before_minutes"),
                "out_of_range",
                format!("must be a whole number of minutes from 0 to {MAX_BEFORE_MINUTES}"),
            )),
        },
        (None, Some(at)) => at
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|at| Spec::At(at.with_timezone(&Utc)))
            .ok_or_else(|| {
                FieldError::new(
                    field("at"),
                    "invalid",
                    "must be an RFC 3339 date and time such as 2026-12-24T09:00:00Z",
                )
            }),
        _ => Err(FieldError::new(
            format!("reminders.{index}"),
            "invalid",
            "needs exactly one of before_minutes and at",
        )),
    }
}

crate::deserialize_by_parse!(Reminders, Vec<Value>, |raw| Reminders::parse(&raw));

/// What a task's relative reminders count from: its due date and time, in its recipient's zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub due_date: Option<NaiveDate>,
    pub due_time: Option<NaiveTime>,
    pub zone: TimeZoneName,
}

impl Schedule {
    /// When `spec` fires; `None` for a relative reminder without a due date.
    pub fn fire_time(&self, spec: Spec) -> Option<DateTime<Utc>> {
        match spec {
            Spec::At(at) => Some(at),
            Spec::Before(minutes) => {
                let local = self
                    .due_date?
                    .and_time(self.due_time.unwrap_or(DEFAULT_TIME));
                let zone = self.zone.zone();
                // A wall-clock time a DST change skips is taken an hour later (as PostgreSQL
                // does); one it repeats, at its first occurrence.
                let due = zone.from_local_datetime(&local).earliest().or_else(|| {
                    zone.from_local_datetime(&(local + Duration::hours(1)))
                        .earliest()
                })?;
                Some(due.with_timezone(&Utc) - Duration::minutes(i64::from(minutes)))
            }
        }
    }
}

/// A reminder as the task shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Reminder {
    /// Minutes before the due date and time (relative reminders).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub before_minutes: Option<i32>,
    /// The instant (absolute reminders).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub at: Option<DateTime<Utc>>,
    /// When it fires (read-only): recomputed when the due date or time, the assignee or the
    /// recipient's time zone changes.
    pub fire_at: DateTime<Utc>,
    /// When its notification was sent (read-only); `null` until then, and for one that will
    /// not be sent (its time had passed when it was set, or its task was closed then).
    #[schema(required = true)]
    pub sent_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schedule(date: &str, time: Option<&str>, zone: &str) -> Schedule {
        Schedule {
            due_date: Some(date.parse().unwrap()),
            due_time: time.map(|t| NaiveTime::parse_from_str(t, "%H:%M").unwrap()),
            zone: TimeZoneName::parse(zone).unwrap(),
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn relative_reminders_count_from_the_due_time_in_the_zone_or_nine() {
        let s = schedule("2031-03-10", Some("14:30"), "Europe/Berlin");
        assert_eq!(
            s.fire_time(Spec::Before(60)),
            Some(utc("2031-03-10T12:30:00Z"))
        );
        let s = schedule("2031-03-10", None, "America/New_York");
        assert_eq!(
            s.fire_time(Spec::Before(0)),
            Some(utc("2031-03-10T13:00:00Z")),
            "09:00 EDT (DST began on 9 March)"
        );
        let s = schedule("2031-03-30", Some("02:30"), "Europe/Berlin");
        assert_eq!(
            s.fire_time(Spec::Before(0)),
            Some(utc("2031-03-30T01:30:00Z")),
            "a skipped time is taken an hour later: 03:30 CEST"
        );
        let none = Schedule {
            due_date: None,
            ..s
        };
        assert_eq!(none.fire_time(Spec::Before(5)), None);
        let at = utc("2031-01-01T00:00:00Z");
        assert_eq!(none.fire_time(Spec::At(at)), Some(at));
    }

    #[test]
    fn every_bad_entry_is_named() {
        let raw = vec![
            json!({"before_minutes": 10}),
            json!({"before_minutes": -1}),
            json!({"at": "tomorrow"}),
            json!({"before_minutes": 1, "at": "2031-01-01T00:00:00Z"}),
            json!(3),
            json!({"before_minutes": 10}),
        ];
        let errors = Reminders::parse(&raw).unwrap_err();
        let fields: Vec<String> = errors.into_parts().0.into_iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [
                "reminders",
                "reminders.1.before_minutes",
                "reminders.2.at",
                "reminders.3",
                "reminders.4",
                "reminders.5"
            ]
        );
        let six = vec![json!({"before_minutes": 1}); 6];
        assert!(Reminders::parse(&six).is_err());
        let ok = Reminders::parse(&[
            json!({"before_minutes": 43200}),
            json!({"before_minutes": 30.0}),
            json!({"at": "2031-01-01T10:00:00+01:00"}),
        ])
        .unwrap();
        assert_eq!(
            ok.as_slice(),
            [
                Spec::Before(43200),
                Spec::Before(30),
                Spec::At(utc("2031-01-01T09:00:00Z"))
            ]
        );
    }
}
