//! The daily reminders (API.md §12): `due_soon` for an assignee's open tasks due the next day,
//! `overdue` for those due before the day, the day being the assignee's own, in their time
//! zone (API.md §19).
//!
//! Each instance's scheduler enqueues one job an hour under a `once:` key, which the queue
//! takes only once across instances (`jobs::queue::enqueue_once`); the job reminds the people
//! whose day began in that hour (the zones whose local time is then 00:00–00:59), of their
//! day. At start the scheduler enqueues the past day's hours too, so that a day begun while
//! every instance was down is reminded of late rather than not at all (an hour already run is
//! not enqueued again). A job for a date (`enqueue`) reminds everyone of that date, whatever
//! their zone: tests, and jobs a release before this one left.
//!
//! The tasks store reads the due tasks (it owns that table); this module turns them into
//! notifications, inserted in batches by the notifications store. A cause names the task and
//! the person's day, so a day reminds once however many jobs cover it.

use chrono::{DateTime, NaiveDate, NaiveTime, Timelike, Utc};
use serde_json::json;

use super::{store, Kind, Notify};
use crate::auth::domain::TimeZoneName;
use crate::db::{Db, DbResult, Exec};
use crate::jobs::queue::{self, Job};
use crate::jobs::{JobKey, JobKind};
use crate::jobs::{Outcome, RetryPolicy};
use crate::tasks::store::{due_assignments, DueAssignment};

/// Tasks read and notified per statement.
const BATCH: i64 = 1000;
const MAX_ATTEMPTS: i32 = 5;

/// Enqueues the reminders of `day` unless they were already enqueued (by any instance, even
/// if they have run since). Returns whether this call added the job.
pub async fn enqueue(db: &impl Exec, day: NaiveDate) -> DbResult<bool> {
    queue::enqueue_once(
        db,
        JobKind::DueReminders,
        json!({ "date": day }),
        &JobKey::due_reminders(day),
        MAX_ATTEMPTS,
    )
    .await
}

/// Enqueues the reminders of the hour beginning at `hour` (a whole hour) unless they were
/// already enqueued.
pub async fn enqueue_hour(db: &impl Exec, hour: DateTime<Utc>) -> DbResult<bool> {
    queue::enqueue_once(
        db,
        JobKind::DueReminders,
        json!({ "at": hour }),
        &JobKey::due_reminders_at(hour),
        MAX_ATTEMPTS,
    )
    .await
}

/// The whole hour `at` is in.
pub fn hour_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(at)
}

/// Of the zones in use, those whose day begins in the hour from `hour` (local time 00:00 to
/// 00:59 then), and that day: one day, as their clocks are within an hour of each other.
pub fn zones_beginning_a_day(
    hour: DateTime<Utc>,
    in_use: &[String],
) -> Option<(NaiveDate, Vec<String>)> {
    let mut day = None;
    let mut zones = Vec::new();
    for name in in_use {
        let local = hour.with_timezone(&TimeZoneName::from_stored(name).zone());
        if local.time() < NaiveTime::from_hms_opt(1, 0, 0).expect("01:00") {
            day = Some(local.date_naive());
            zones.push(name.clone());
        }
    }
    day.map(|day| (day, zones))
}

/// The reminder a due task gives on `day`, if any.
fn reminder(day: NaiveDate, due: &DueAssignment) -> Option<Notify> {
    let kind = if Some(due.due_date) == day.succ_opt() {
        Kind::DueSoon
    } else if due.due_date < day {
        Kind::Overdue
    } else {
        return None;
    };
    Some(Notify {
        user_id: due.assignee_id,
        kind,
        task_id: due.task_id,
        actor_id: None,
        comment_id: None,
        cause: format!("{}:{}:{day}", kind.as_str(), due.task_id),
    })
}

/// Creates the reminders of `day`; returns how many were new. Running it again creates none
/// (each cause names the day), so a retried job is harmless.
pub async fn remind(db: &impl Exec, day: NaiveDate) -> DbResult<u64> {
    remind_in(db, day, None).await
}

/// Creates the reminders of the people whose day begins in the hour from `hour`.
pub async fn remind_hour(db: &impl Exec, hour: DateTime<Utc>) -> DbResult<u64> {
    let in_use = crate::auth::users::time_zones_in_use(db).await?;
    match zones_beginning_a_day(hour, &in_use) {
        Some((day, zones)) => remind_in(db, day, Some(&zones)).await,
        None => Ok(0),
    }
}

async fn remind_in(db: &impl Exec, day: NaiveDate, zones: Option<&[String]>) -> DbResult<u64> {
    let mut created = 0;
    let mut after = None;
    loop {
        let due = due_assignments(db, day, zones, after, BATCH).await?;
        let Some(last) = due.last() else {
            return Ok(created);
        };
        after = Some((last.due_date, last.task_id));
        let batch: Vec<Notify> = due.iter().filter_map(|d| reminder(day, d)).collect();
        created += store::notify_all(db, &batch).await?;
        if (due.len() as i64) < BATCH {
            return Ok(created);
        }
    }
}

pub async fn run_job(db: &Db, retry: RetryPolicy, job: &Job) -> Outcome {
    let field = |name: &str| job.payload.get(name).and_then(|v| v.as_str());
    let day = field("date").and_then(|v| v.parse::<NaiveDate>().ok());
    let hour = field("at").and_then(|v| v.parse::<DateTime<Utc>>().ok());
    let sent = match (day, hour) {
        (Some(day), _) => remind(db, day).await,
        (None, Some(hour)) => remind_hour(db, hour).await,
        (None, None) => return Outcome::Fatal("the job has no date or hour".to_owned()),
    };
    match sent {
        Ok(created) => {
            tracing::info!(?day, ?hour, created, "due-date reminders sent");
            Outcome::Done
        }
        Err(error) => Outcome::Retry(
            retry.after(job.attempts as u32),
            format!("could not send the reminders: {error}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn a_task_due_tomorrow_is_due_soon_one_due_before_today_overdue() {
        let day = NaiveDate::from_ymd_opt(2031, 3, 1).unwrap();
        let due = |y, m, d| DueAssignment {
            task_id: Uuid::nil(),
            assignee_id: Uuid::max(),
            due_date: NaiveDate::from_ymd_opt(y, m, d).unwrap(),
        };
        let kind = |d: DueAssignment| reminder(day, &d).map(|n| n.kind);
        assert_eq!(kind(due(2031, 3, 2)), Some(Kind::DueSoon));
        assert_eq!(kind(due(2031, 2, 28)), Some(Kind::Overdue));
        assert_eq!(kind(due(2030, 12, 31)), Some(Kind::Overdue));
        assert_eq!(kind(due(2031, 3, 1)), None, "due today is neither");
        assert_eq!(kind(due(2031, 3, 3)), None);
        let cause = reminder(day, &due(2031, 3, 2)).unwrap().cause;
        assert_eq!(cause, format!("due_soon:{}:2031-03-01", Uuid::nil()));
    }

    #[test]
    fn each_zone_s_day_begins_in_one_hour_of_the_day() {
        let in_use: Vec<String> = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"]
            .map(String::from)
            .to_vec();
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        // 23:00 UTC on 1 March: midnight in Berlin (winter time), already 2 March there.
        let (day, zones) = zones_beginning_a_day(at("2031-03-01T23:00:00Z"), &in_use).unwrap();
        assert_eq!(
            (day, zones),
            (
                NaiveDate::from_ymd_opt(2031, 3, 2).unwrap(),
                vec!["Europe/Berlin".to_owned()]
            )
        );
        // In summer time Berlin's day begins an hour earlier.
        let (_, zones) = zones_beginning_a_day(at("2031-07-01T22:00:00Z"), &in_use).unwrap();
        assert_eq!(zones, ["Europe/Berlin"]);
        // Kolkata is 5:30 ahead: its midnight is 18:30 UTC, and 19:00 UTC is 00:30 there.
        assert!(zones_beginning_a_day(at("2031-03-01T18:00:00Z"), &in_use).is_none());
        let (_, zones) = zones_beginning_a_day(at("2031-03-01T19:00:00Z"), &in_use).unwrap();
        assert_eq!(zones, ["Asia/Kolkata"]);
        let (day, zones) = zones_beginning_a_day(at("2031-03-02T05:00:00Z"), &in_use).unwrap();
        assert_eq!(
            (day.to_string(), zones),
            ("2031-03-02".to_owned(), vec!["America/New_York".to_owned()])
        );
        assert!(zones_beginning_a_day(at("2031-03-02T12:00:00Z"), &in_use).is_none());
        // Every zone's day begins in exactly one hour of the 24.
        for zone in &in_use {
            let hours = (0..24)
                .filter(|h| {
                    let hour = at("2031-03-01T00:00:00Z") + chrono::Duration::hours(*h);
                    zones_beginning_a_day(hour, &in_use).is_some_and(|(_, z)| z.contains(zone))
                })
                .count();
            assert_eq!(hours, 1, "{zone}");
        }
    }
}
