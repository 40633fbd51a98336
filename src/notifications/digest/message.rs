//! The words of a digest: one sentence per task ("3 comments and a mention of you on #12 “Fix
//! login” in Website, from Ann and Bob."), newest first, in plain text and HTML.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::auth::users::User;
use crate::email::{escape_html, Outgoing};
use crate::notifications::store::DigestRow;
use crate::notifications::NotifiedTask;

/// Tasks told in one email; the rest are counted ("and 12 more tasks").
pub const MAX_TASKS: usize = 50;
/// Actors named per task; the rest are counted.
const MAX_ACTORS: usize = 3;

/// Where the email's links go.
pub struct Links {
    /// The public URL, without a trailing slash.
    pub base: String,
    pub unsubscribe: String,
    pub interval: Duration,
}

/// What happened on one task.
struct TaskNews {
    task: NotifiedTask,
    project: String,
    /// (kind, how many), in [`rank`] order.
    kinds: Vec<(String, i64)>,
    actors: BTreeSet<String>,
    last_at: DateTime<Utc>,
}

/// The order kinds are told in within a task: what asks something of the reader first.
fn rank(kind: &str) -> usize {
    [
        "mentioned",
        "assigned",
        "commented",
        "reminder",
        "overdue",
        "due_soon",
        "unblocked",
    ]
    .iter()
    .position(|k| *k == kind)
    .unwrap_or(usize::MAX)
}

fn group(rows: Vec<DigestRow>) -> Vec<TaskNews> {
    let mut by_task: HashMap<Uuid, TaskNews> = HashMap::new();
    for row in rows {
        let news = by_task.entry(row.task.id).or_insert_with(|| TaskNews {
            task: row.task.clone(),
            project: row.project_name.clone(),
            kinds: Vec::new(),
            actors: BTreeSet::new(),
            last_at: row.last_at,
        });
        news.kinds.push((row.kind, row.count));
        news.actors.extend(row.actors);
        news.last_at = news.last_at.max(row.last_at);
    }
    let mut tasks: Vec<TaskNews> = by_task.into_values().collect();
    for news in &mut tasks {
        news.kinds
            .sort_by(|a, b| rank(&a.0).cmp(&rank(&b.0)).then(a.0.cmp(&b.0)));
    }
    tasks.sort_by(|a, b| b.last_at.cmp(&a.last_at).then(a.task.id.cmp(&b.task.id)));
    tasks
}

/// "a comment", "3 comments": a kind's count as a noun phrase. Kinds this release does not
/// know by name (added later) are still told, by their name.
pub fn phrase(kind: &str, count: i64) -> String {
    let (one, many) = match kind {
        "commented" => ("a comment", "comments"),
        "mentioned" => ("a mention of you", "mentions of you"),
        "assigned" => ("an assignment to you", "assignments to you"),
        "unblocked" => ("a blocker cleared", "blockers cleared"),
        "due_soon" => (
            "a reminder that it is due tomorrow",
            "due-tomorrow reminders",
        ),
        "overdue" => ("a reminder that it is overdue", "overdue reminders"),
        "reminder" => ("a reminder", "reminders"),
        other => {
            let name = other.replace('_', " ");
            return if count == 1 {
                format!("a “{name}” notification")
            } else {
                format!("{count} “{name}” notifications")
            };
        }
    };
    if count == 1 {
        one.to_owned()
    } else {
        format!("{count} {many}")
    }
}

/// "a, b and c".
fn listed(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// What happened, without the task: "3 comments and a mention of you".
fn what(news: &TaskNews) -> String {
    let phrases: Vec<String> = news
        .kinds
        .iter()
        .map(|(kind, count)| phrase(kind, *count))
        .collect();
    listed(&phrases)
}

/// "from Ann, Bob and 2 others", or nothing for the server's own reminders.
fn from(news: &TaskNews) -> Option<String> {
    if news.actors.is_empty() {
        return None;
    }
    let mut names: Vec<String> = news.actors.iter().take(MAX_ACTORS).cloned().collect();
    let more = news.actors.len().saturating_sub(MAX_ACTORS);
    if more > 0 {
        names.push(format!("{more} other{}", if more == 1 { "" } else { "s" }));
    }
    Some(format!("from {}", listed(&names)))
}

/// The whole sentence, in plain text.
fn sentence(news: &TaskNews) -> String {
    let mut text = format!(
        "{} on #{} “{}” in {}",
        capitalized(&what(news)),
        news.task.number,
        news.task.title,
        news.project
    );
    if let Some(from) = from(news) {
        text += &format!(", {from}");
    }
    text + "."
}

fn task_link(links: &Links, task: &NotifiedTask) -> String {
    format!("{}/p/{}?task={}", links.base, task.project_id, task.id)
}

/// "5 minutes", "30 seconds", "1 hour".
pub fn duration_text(interval: Duration) -> String {
    let secs = interval.as_secs();
    let (n, unit) = if secs.is_multiple_of(3600) {
        (secs / 3600, "hour")
    } else if secs.is_multiple_of(60) {
        (secs / 60, "minute")
    } else {
        (secs, "second")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

fn subject(tasks: &[TaskNews]) -> String {
    match tasks {
        [one] => {
            let mut subject = format!(
                "{} on #{} {}",
                capitalized(&what(one)),
                one.task.number,
                one.task.title
            );
            if subject.chars().count() > 120 {
                subject = subject.chars().take(119).collect::<String>() + "…";
            }
            subject
        }
        _ => {
            let total: i64 = tasks.iter().flat_map(|t| t.kinds.iter().map(|k| k.1)).sum();
            format!("{total} notifications on {} tasks in Docket", tasks.len())
        }
    }
}

/// The digest email for `user`, or `None` when there is nothing to tell.
pub fn compose(user: &User, rows: Vec<DigestRow>, links: &Links) -> Option<Outgoing> {
    let tasks = group(rows);
    if tasks.is_empty() {
        return None;
    }
    let shown = &tasks[..tasks.len().min(MAX_TASKS)];
    let hidden = tasks.len() - shown.len();
    let every = duration_text(links.interval);
    let settings = format!("{}/settings", links.base);

    let mut text = format!(
        "Hello {},\n\nThis happened in Docket since your last email:\n\n",
        user.name
    );
    let mut html = format!(
        "<p>Hello {},</p><p>This happened in Docket since your last email:</p><ul>",
        escape_html(&user.name)
    );
    for news in shown {
        let link = task_link(links, &news.task);
        text += &format!("* {}\n  {link}\n\n", sentence(news));
        html += &format!(
            "<li><a href=\"{}\">{}</a></li>",
            escape_html(&link),
            escape_html(&sentence(news))
        );
    }
    html += "</ul>";
    if hidden > 0 {
        let more = format!(
            "And {hidden} more task{}: see your notifications in Docket.",
            if hidden == 1 { "" } else { "s" }
        );
        text += &format!("{more}\n{}\n\n", links.base);
        html += &format!(
            "<p><a href=\"{}\">{}</a></p>",
            escape_html(&links.base),
            escape_html(&more)
        );
    }
    text += &format!(
        "You get these emails at most once every {every}, when something happened.\n\
         Unsubscribe: {unsubscribe}\n\
         Or switch them off in your settings: {settings}\n",
        unsubscribe = links.unsubscribe
    );
    html += &format!(
        "<p style=\"color:#666;font-size:smaller\">You get these emails at most once every \
         {every}, when something happened. <a href=\"{unsubscribe}\">Unsubscribe</a> or switch \
         them off in your <a href=\"{settings}\">settings</a>.</p>",
        unsubscribe = escape_html(&links.unsubscribe),
        settings = escape_html(&settings)
    );
    Some(Outgoing {
        to: user.email.clone(),
        subject: subject(&tasks),
        text,
        html,
        unsubscribe: Some(links.unsubscribe.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(
        task: u128,
        number: i64,
        kind: &str,
        count: i64,
        actors: &[&str],
        minute: u32,
    ) -> DigestRow {
        DigestRow {
            kind: kind.to_owned(),
            task: NotifiedTask {
                id: Uuid::from_u128(task),
                project_id: Uuid::from_u128(99),
                number,
                title: format!("Task <{number}>"),
            },
            project_name: "Website".to_owned(),
            count,
            actors: actors.iter().map(|a| a.to_string()).collect(),
            last_at: format!("2031-03-01T10:{minute:02}:00Z").parse().unwrap(),
        }
    }

    fn user() -> User {
        User {
            id: Uuid::from_u128(1),
            email: "ann@example.com".into(),
            name: "Ann & co".into(),
            role: crate::auth::domain::UserRole::User,
            disabled: false,
            email_notifications: true,
            time_zone: "UTC".into(),
            second_factor: false,
            created_at: Utc::now(),
        }
    }

    fn links() -> Links {
        Links {
            base: "https://docket.example.com".into(),
            unsubscribe: "https://docket.example.com/api/v1/unsubscribe?token=t".into(),
            interval: Duration::from_secs(300),
        }
    }

    #[test]
    fn one_sentence_per_task_newest_first() {
        let rows = vec![
            row(1, 12, "commented", 3, &["Bob", "Carol"], 1),
            row(1, 12, "mentioned", 1, &["Bob"], 2),
            row(2, 4, "assigned", 1, &["Dan"], 5),
            row(2, 4, "due_soon", 1, &[], 0),
            row(3, 7, "reminder", 2, &[], 0),
            row(3, 7, "webhook_something", 1, &[], 0),
        ];
        let mail = compose(&user(), rows, &links()).unwrap();
        assert_eq!(mail.subject, "9 notifications on 3 tasks in Docket");
        assert_eq!(mail.to, "ann@example.com");
        let lines: Vec<&str> = mail.text.lines().filter(|l| l.starts_with("* ")).collect();
        assert_eq!(
            lines,
            [
                "* An assignment to you and a reminder that it is due tomorrow on #4 “Task <4>” in Website, from Dan.",
                "* A mention of you and 3 comments on #12 “Task <12>” in Website, from Bob and Carol.",
                "* 2 reminders and a “webhook something” notification on #7 “Task <7>” in Website.",
            ]
        );
        assert!(mail.text.contains(&format!(
            "https://docket.example.com/p/{}?task={}",
            Uuid::from_u128(99),
            Uuid::from_u128(1)
        )));
        assert!(mail.text.starts_with("Hello Ann & co,"));
        assert!(mail.html.starts_with("<p>Hello Ann &amp; co,</p>"));
        assert!(mail.html.contains("“Task &lt;12&gt;”"), "{}", mail.html);
        assert!(mail.text.contains("at most once every 5 minutes"));
        assert_eq!(mail.unsubscribe, Some(links().unsubscribe));
        assert!(mail.html.contains("token=t\">Unsubscribe</a>"));
    }

    #[test]
    fn one_task_names_it_in_the_subject_and_long_lists_are_cut() {
        let mail = compose(
            &user(),
            vec![row(1, 12, "commented", 3, &["A", "B", "C", "D", "E"], 1)],
            &links(),
        )
        .unwrap();
        assert_eq!(mail.subject, "3 comments on #12 Task <12>");
        assert!(mail.text.contains("from A, B, C and 2 others."));
        let many: Vec<DigestRow> = (0..60)
            .map(|i| row(i + 10, i as i64, "commented", 1, &["Bob"], 0))
            .collect();
        let mail = compose(&user(), many, &links()).unwrap();
        assert_eq!(
            mail.text.lines().filter(|l| l.starts_with("* ")).count(),
            MAX_TASKS
        );
        assert!(mail.text.contains("And 10 more tasks"));
        assert!(compose(&user(), Vec::new(), &links()).is_none());
    }

    #[test]
    fn intervals_read_as_words() {
        assert_eq!(duration_text(Duration::from_secs(300)), "5 minutes");
        assert_eq!(duration_text(Duration::from_secs(60)), "1 minute");
        assert_eq!(duration_text(Duration::from_secs(3600)), "1 hour");
        assert_eq!(duration_text(Duration::from_secs(90)), "90 seconds");
        assert_eq!(duration_text(Duration::from_secs(1)), "1 second");
    }
}
