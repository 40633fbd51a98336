//! A feed's iCalendar (RFC 5545) text, one entry at a time, so the handler can page the rows.
//!
//! Properties are built and written by the `icalendar` crate, which escapes TEXT values
//! (`\`, `,`, `;`, newline), folds content lines at 75 octets on character boundaries and ends
//! them with CRLF. Around it: the calendar's envelope (fixed lines, no user data), `DTEND` of
//! an all-day event on the next day (the crate's `all_day` repeats the start, a zero-length
//! event), and text made safe for it first (a CR or another control character would break a
//! line, and the crate passes them through).

use chrono::{Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use icalendar::{
    Component, DatePerhapsTime, Event, EventLike, EventStatus, Property, Todo, TodoStatus,
};

use crate::tasks::domain::Status;
use crate::tasks::recurrence::RecurFrom;
use crate::tasks::store::calendar::CalendarTask;

/// The calendar's opening lines. `REFRESH-INTERVAL` (RFC 7986) and `X-PUBLISHED-TTL` (the
/// older spelling Outlook and Apple read) ask subscribers to poll hourly; the `ETag` keeps a
/// poll of an unchanged feed to a 304.
pub const HEAD: &str = "BEGIN:VCALENDAR\r\n\
VERSION:2.0\r\n\
PRODID:-//Docket//Docket calendar feed//EN\r\n\
CALSCALE:GREGORIAN\r\n\
X-WR-CALNAME:Docket\r\n\
REFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n\
X-PUBLISHED-TTL:PT1H\r\n";

pub const TAIL: &str = "END:VCALENDAR\r\n";

/// Which component each task becomes (`?components=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Components {
    /// `VEVENT`s: what most calendar programs show (the default).
    Vevent,
    /// `VTODO`s, for task programs.
    Vtodo,
}

/// Writes the entries of one feed.
pub struct Renderer {
    pub components: Components,
    /// The user's zone: a `due_time` is a wall-clock time there.
    pub zone: Tz,
    /// The public URL without its trailing slash: links to the web client.
    pub base_url: String,
    /// The right-hand side of every `UID` (`<task id>@<host>`), stable for the instance.
    pub host: String,
}

impl Renderer {
    /// Appends the task's `VEVENT` or `VTODO` to `out`.
    pub fn entry(&self, task: &CalendarTask, out: &mut String) {
        let text = match self.components {
            Components::Vevent => self.event(task).done().to_string(),
            Components::Vtodo => self.todo(task).done().to_string(),
        };
        out.push_str(&text);
    }

    fn event(&self, task: &CalendarTask) -> Event {
        let mut event = Event::new();
        self.common(&mut event, task);
        match self.when(task) {
            When::Day(day) => {
                event.starts(day).ends(day + Duration::days(1));
            }
            When::Utc(at) => {
                event.starts(at).ends(at + Duration::minutes(30));
            }
            When::Floating(at) => {
                event.starts(at).ends(at + Duration::minutes(30));
            }
        }
        event.status(if task.status == Status::Canceled {
            EventStatus::Cancelled
        } else {
            EventStatus::Confirmed
        });
        self.rule(&mut event, task);
        event
    }

    fn todo(&self, task: &CalendarTask) -> Todo {
        let mut todo = Todo::new();
        self.common(&mut todo, task);
        let due: DatePerhapsTime = match self.when(task) {
            When::Day(day) => day.into(),
            When::Utc(at) => at.into(),
            When::Floating(at) => at.into(),
        };
        // A recurrence set is generated from DTSTART (RFC 5545 §3.8.5.3): the due moment.
        if self.recurs(task) {
            todo.append_property(date_property("DTSTART", &due));
        }
        todo.due(due);
        todo.status(match task.status {
            Status::Todo => TodoStatus::NeedsAction,
            Status::InProgress => TodoStatus::InProcess,
            Status::Done => TodoStatus::Completed,
            Status::Canceled => TodoStatus::Cancelled,
        });
        if let Some(completed_at) = task.completed_at {
            todo.completed(completed_at);
        }
        self.rule(&mut todo, task);
        todo
    }

    /// What every entry has: identity, times of change, title and link.
    fn common(&self, component: &mut impl Component, task: &CalendarTask) {
        component
            .uid(&format!("{}@{}", task.id, self.host))
            // Without METHOD, DTSTAMP is when the entry last changed (RFC 5545 §3.8.7.2): the
            // same bytes for the same task, so an unchanged feed keeps its ETag.
            .timestamp(task.updated_at)
            .last_modified(task.updated_at)
            .created(task.created_at)
            .summary(&safe_text(&format!("#{} {}", task.number, task.title)))
            .url(&format!(
                "{}/p/{}?task={}",
                self.base_url, task.project_id, task.id
            ));
    }

    /// `RRULE` for a task that repeats by its due dates. One that restarts on completion
    /// (`from: completion`) has no next date until it is done, so it gets none: a rule would
    /// show dates that will not be.
    fn rule(&self, component: &mut impl Component, task: &CalendarTask) {
        if let (true, Some(rule)) = (self.recurs(task), &task.recurrence_rule) {
            component.add_property("RRULE", rule.as_str());
        }
    }

    fn recurs(&self, task: &CalendarTask) -> bool {
        task.recurrence_rule.is_some() && task.recurrence_from == Some(RecurFrom::Due)
    }

    /// The task's moment: its due date all day; at a `due_time`, that wall-clock time in the
    /// user's zone given in UTC (every program reads UTC the same way, and no `VTIMEZONE` is
    /// needed); a repeating one at a time floating (a wall-clock time, RFC 5545 form #1), so
    /// that its later occurrences stay at that time across daylight-saving changes as Docket's
    /// do, where a UTC start would move them by an hour.
    fn when(&self, task: &CalendarTask) -> When {
        let Some(time) = task.due_time else {
            return When::Day(task.due_date);
        };
        let local = task.due_date.and_time(time);
        if self.recurs(task) {
            return When::Floating(local);
        }
        // A time skipped by a change forward is taken an hour later (as clocks show it).
        let instant = self
            .zone
            .from_local_datetime(&local)
            .earliest()
            .or_else(|| {
                self.zone
                    .from_local_datetime(&(local + Duration::hours(1)))
                    .earliest()
            })
            .map(|at| at.with_timezone(&Utc))
            .unwrap_or_else(|| Utc.from_utc_datetime(&local));
        When::Utc(instant)
    }
}

enum When {
    Day(NaiveDate),
    Utc(chrono::DateTime<Utc>),
    Floating(NaiveDateTime),
}

/// A `DTSTART` with the same value (and `VALUE=DATE` when a date) as a `DUE`.
fn date_property(key: &str, at: &DatePerhapsTime) -> Property {
    let mut todo = Todo::new();
    todo.due(at.clone());
    let due = todo.properties().get("DUE").expect("just set");
    let mut property = Property::new(key, due.value());
    for (name, parameter) in due.params() {
        property.add_parameter(name, parameter.value());
    }
    property
}

/// Text the crate can escape safely: CR LF and lone CRs become LF (which it escapes as `\n`),
/// and other control characters become spaces (RFC 5545 TEXT allows none but HTAB).
pub fn safe_text(text: &str) -> String {
    text.replace("\r\n", "\n")
        .chars()
        .map(|c| match c {
            '\r' => '\n',
            '\n' | '\t' => c,
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveTime;
    use uuid::Uuid;

    fn task(title: &str) -> CalendarTask {
        let at = Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap();
        CalendarTask {
            id: Uuid::now_v7(),
            project_id: Uuid::now_v7(),
            number: 7,
            title: title.to_owned(),
            status: Status::Todo,
            due_date: NaiveDate::from_ymd_opt(2026, 3, 29).unwrap(),
            due_time: None,
            recurrence_rule: None,
            recurrence_from: None,
            completed_at: None,
            created_at: at,
            updated_at: at,
        }
    }

    fn renderer(components: Components) -> Renderer {
        Renderer {
            components,
            zone: "Europe/Berlin".parse().unwrap(),
            base_url: "https://docket.example".to_owned(),
            host: "docket.example".to_owned(),
        }
    }

    /// Undoes folding (CRLF + one space) and TEXT escaping, as a reader does.
    fn unfold(text: &str) -> String {
        text.replace("\r\n ", "")
    }

    fn unescape(value: &str) -> String {
        let mut out = String::new();
        let mut chars = value.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                match chars.next() {
                    Some('n') => out.push('\n'),
                    Some(other) => out.push(other),
                    None => {}
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn nasty_text_is_escaped_and_folded_at_75_octets() {
        let title = format!("a,b;c\\d\ne\r\nf\rg\u{7}h 🎉{}", "é🎉,;".repeat(40));
        let mut out = String::new();
        renderer(Components::Vevent).entry(&task(&title), &mut out);
        assert!(out.ends_with("\r\n"));
        for line in out.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(line.len() <= 75, "{} octets: {line:?}", line.len());
            assert!(!line.contains(['\r', '\n', '\u{7}']), "{line:?}");
        }
        let unfolded = unfold(&out);
        let summary = unfolded
            .split("\r\n")
            .find_map(|l| l.strip_prefix("SUMMARY:"))
            .expect("a summary");
        let expected = format!(
            "#7 {}",
            title
                .replace("\r\n", "\n")
                .replace(['\r'], "\n")
                .replace('\u{7}', " ")
        );
        assert_eq!(unescape(summary), expected);
        assert!(summary.contains("a\\,b\\;c\\\\d\\ne"), "{summary}");
    }

    #[test]
    fn events_are_all_day_or_half_an_hour_in_utc() {
        let r = renderer(Components::Vevent);
        let mut out = String::new();
        r.entry(&task("x"), &mut out);
        assert!(out.contains("DTSTART;VALUE=DATE:20260329\r\n"), "{out}");
        assert!(out.contains("DTEND;VALUE=DATE:20260330\r\n"), "{out}");
        // 29 March 2026: Berlin moves to summer time at 02:00; 09:00 is UTC+2.
        let mut timed = task("x");
        timed.due_time = NaiveTime::from_hms_opt(9, 0, 0);
        let mut out = String::new();
        r.entry(&timed, &mut out);
        assert!(out.contains("DTSTART:20260329T070000Z\r\n"), "{out}");
        assert!(out.contains("DTEND:20260329T073000Z\r\n"), "{out}");
        // 02:30 does not exist that day: an hour later, as clocks show it (03:30 CEST).
        timed.due_time = NaiveTime::from_hms_opt(2, 30, 0);
        let mut out = String::new();
        r.entry(&timed, &mut out);
        assert!(out.contains("DTSTART:20260329T013000Z\r\n"), "{out}");
    }

    #[test]
    fn repeating_by_due_date_carries_the_rule_and_keeps_the_wall_clock() {
        let mut t = task("x");
        t.due_time = NaiveTime::from_hms_opt(9, 0, 0);
        t.recurrence_rule = Some("FREQ=WEEKLY;BYDAY=MO,WE".to_owned());
        t.recurrence_from = Some(RecurFrom::Due);
        let mut out = String::new();
        renderer(Components::Vevent).entry(&t, &mut out);
        assert!(out.contains("RRULE:FREQ=WEEKLY;BYDAY=MO,WE\r\n"), "{out}");
        assert!(out.contains("DTSTART:20260329T090000\r\n"), "{out}");
        t.recurrence_from = Some(RecurFrom::Completion);
        let mut out = String::new();
        renderer(Components::Vevent).entry(&t, &mut out);
        assert!(!out.contains("RRULE"), "{out}");
    }

    #[test]
    fn todos_have_due_status_and_completion() {
        let mut t = task("x");
        t.status = Status::Done;
        t.completed_at = Some(Utc.with_ymd_and_hms(2026, 3, 28, 10, 0, 0).unwrap());
        t.recurrence_rule = Some("FREQ=DAILY".to_owned());
        t.recurrence_from = Some(RecurFrom::Due);
        let mut out = String::new();
        renderer(Components::Vtodo).entry(&t, &mut out);
        assert!(out.starts_with("BEGIN:VTODO\r\n"), "{out}");
        assert!(out.contains("DUE;VALUE=DATE:20260329\r\n"), "{out}");
        assert!(out.contains("DTSTART;VALUE=DATE:20260329\r\n"), "{out}");
        assert!(out.contains("STATUS:COMPLETED\r\n"), "{out}");
        assert!(out.contains("COMPLETED:20260328T100000Z\r\n"), "{out}");
        assert!(out.contains("DTSTAMP:20261201T080000Z\r\n"), "{out}");
        assert!(out.contains("LAST-MODIFIED:20261201T080000Z\r\n"), "{out}");
    }
}
