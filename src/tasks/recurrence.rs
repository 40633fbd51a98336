//! Recurring tasks (API.md §19): RFC 5545 rules (the `rrule` crate) and the dates they give.
//!
//! A task's dates are local dates of the zone that counts (the assignee's, or the
//! completer's) and its `due_time` a wall-clock time there, so the next occurrence is a
//! computation on dates alone: the rule runs on a calendar without daylight-saving changes
//! (UTC) and each occurrence is read back as a date. A task due at 09:00 stays due at 09:00
//! across a change (only its instant in UTC moves), and a rule's BYHOUR never lands in a
//! skipped hour. The zone decides which day "today" is when a rule restarts on completion
//! (`completion_day`).

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use rrule::{Frequency, RRule, Unvalidated};
use serde::{Deserialize, Serialize};

/// Where the next occurrence counts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecurFrom {
    /// The next date of the rule after the completed task's due date.
    Due,
    /// The rule started afresh on the day of completion.
    Completion,
}

impl RecurFrom {
    pub fn as_str(self) -> &'static str {
        match self {
            RecurFrom::Due => "due",
            RecurFrom::Completion => "completion",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "due" => Some(RecurFrom::Due),
            "completion" => Some(RecurFrom::Completion),
            _ => None,
        }
    }
}

crate::text_enum!(RecurFrom, RecurFrom::parse);

/// Longest rule text accepted (a rule naming every day of a year is far shorter).
pub const RULE_MAX: usize = 500;

/// An RRULE value that parses and occurs at most once a day. Whether it occurs after a given
/// date is a question for [`Rule::next_after`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule(String);

impl Rule {
    /// The rule as a request gives it (`FREQ=WEEKLY;BYDAY=MO`, an `RRULE:` prefix allowed);
    /// `Err` is the message for `recurrence.rule`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let text = raw.trim();
        let text = text.strip_prefix("RRULE:").unwrap_or(text);
        if text.is_empty() || text.len() > RULE_MAX || text.contains(['\n', '\r']) {
            return Err(format!(
                "must be one RFC 5545 RRULE of at most {RULE_MAX} characters"
            ));
        }
        let rule: RRule<Unvalidated> = text
            .parse()
            .map_err(|e| format!("is not an RFC 5545 rule: {e}"))?;
        if matches!(
            rule.get_freq(),
            Frequency::Hourly | Frequency::Minutely | Frequency::Secondly
        ) {
            return Err("may occur at most once a day (FREQ of DAILY or longer)".to_owned());
        }
        if rule.get_by_hour().len() > 1
            || rule.get_by_minute().len() > 1
            || rule.get_by_second().len() > 1
        {
            return Err(
                "may occur at most once a day (one BYHOUR and BYMINUTE at most)".to_owned(),
            );
        }
        // Each occurrence starts the rule afresh from its own date, so a count would never run
        // down: UNTIL says when a series ends.
        if rule.get_count().is_some() {
            return Err("COUNT is not supported: end a series with UNTIL".to_owned());
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first date of the rule started on `anchor` that is after `anchor`; `Ok(None)` when
    /// the rule ends before one. `Err` when the rule cannot start on `anchor`.
    pub fn next_after(&self, anchor: NaiveDate) -> Result<Option<NaiveDate>, String> {
        let rule: RRule<Unvalidated> = self
            .0
            .parse()
            .map_err(|e| format!("is not an RFC 5545 rule: {e}"))?;
        let zone = rrule::Tz::UTC;
        let noon = anchor.and_time(NaiveTime::from_hms_opt(12, 0, 0).expect("noon"));
        let start = zone
            .from_local_datetime(&noon)
            .earliest()
            .ok_or_else(|| "cannot start on the due date".to_owned())?;
        let set = rule
            .build(start)
            .map_err(|e| format!("is not a valid rule: {e}"))?;
        // Occurrences are at most one a day and in order, so the first after `anchor` is the
        // first or the second (the crate bounds each search itself).
        let later = set
            .into_iter()
            .take(2)
            .map(|occurrence| occurrence.date_naive())
            .find(|date| *date > anchor);
        Ok(later)
    }
}

/// The day a task completed at `at` was completed on, in `zone`.
pub fn completion_day(at: DateTime<Utc>, zone: Tz) -> NaiveDate {
    at.with_timezone(&zone).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn next(rule: &str, from: &str) -> Option<NaiveDate> {
        Rule::parse(rule).unwrap().next_after(date(from)).unwrap()
    }

    #[test]
    fn rules_that_occur_more_than_once_a_day_or_do_not_parse_are_refused() {
        for bad in [
            "FREQ=HOURLY",
            "FREQ=MINUTELY;INTERVAL=5",
            "FREQ=DAILY;BYHOUR=9,17",
            "FREQ=DAILY;BYMINUTE=0,30",
            "FREQ=WEEKLY;COUNT=3",
            "FREQ=SOMETIMES",
            "",
            "FREQ=DAILY\nFREQ=WEEKLY",
        ] {
            assert!(Rule::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Rule::parse(" RRULE:FREQ=WEEKLY;BYDAY=MO ")
                .unwrap()
                .as_str(),
            "FREQ=WEEKLY;BYDAY=MO"
        );
    }

    #[test]
    fn weekly_monthly_and_the_31st() {
        // 2027-01-06 is a Wednesday.
        assert_eq!(
            next("FREQ=WEEKLY;BYDAY=MO,WE", "2027-01-06"),
            Some(date("2027-01-11"))
        );
        assert_eq!(
            next("FREQ=MONTHLY;BYMONTHDAY=-1", "2027-01-31"),
            Some(date("2027-02-28"))
        );
        // The 31st skips the months without one (RFC 5545).
        assert_eq!(
            next("FREQ=MONTHLY;BYMONTHDAY=31", "2027-01-31"),
            Some(date("2027-03-31"))
        );
        assert_eq!(
            next("FREQ=MONTHLY;BYMONTHDAY=31", "2027-03-31"),
            Some(date("2027-05-31"))
        );
        assert_eq!(
            next("FREQ=MONTHLY;BYDAY=-1FR", "2027-01-29"),
            Some(date("2027-02-26"))
        );
        assert_eq!(
            next("FREQ=DAILY;INTERVAL=3", "2027-01-10"),
            Some(date("2027-01-13"))
        );
        assert_eq!(
            next("FREQ=DAILY;UNTIL=20270110T235959Z", "2027-01-10"),
            None
        );
    }

    #[test]
    fn the_day_of_completion_is_the_zone_s() {
        let at: DateTime<Utc> = "2027-03-14T03:30:00Z".parse().unwrap();
        assert_eq!(completion_day(at, Tz::UTC), date("2027-03-14"));
        assert_eq!(
            completion_day(at, Tz::America__New_York),
            date("2027-03-13")
        );
        let at: DateTime<Utc> = "2027-03-27T23:30:00Z".parse().unwrap();
        assert_eq!(completion_day(at, Tz::Europe__Berlin), date("2027-03-28"));
    }

    #[test]
    fn a_time_of_day_in_the_rule_does_not_move_the_dates() {
        // 02:30 is skipped by Berlin's change on 2027-03-28: the dates know nothing of it.
        assert_eq!(
            next("FREQ=DAILY;BYHOUR=2;BYMINUTE=30", "2027-03-27"),
            Some(date("2027-03-28"))
        );
        assert_eq!(next("FREQ=WEEKLY", "2027-03-27"), Some(date("2027-04-03")));
    }
}
