//! The sync: a first import of every issue (`state=all`), then incremental runs (`since` the
//! newest `updated_at` seen, minus an overlap). Issues are upserted by (project, GitHub issue
//! id) under the project's row lock, so a sync run twice, or by two instances, never makes a
//! duplicate. Pull requests are skipped. GitHub owns title, description, status and labels;
//! priority, due date and assignee keep local edits.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::client::UpstreamError;
use super::secrets;
use super::store::{self, SyncLink};
use super::Github;
use crate::activity::SyncCounts;
use crate::db::{DbError, Tx};
use crate::jobs::queue::{self, Job};
use crate::jobs::Outcome;
use crate::tasks::domain::{Description, Labels, Status, TaskTitle};
use crate::tasks::store::imports::{self, ImportedIssue, Upserted};

/// Issues updated this long before the newest one seen are fetched again, so that clock skew
/// and same-second updates are never missed (the upsert makes re-reads harmless).
const OVERLAP: chrono::Duration = chrono::Duration::minutes(2);

/// The most issues one link imports in a sync (API.md §9); more ends the link `failed`, with
/// what was imported kept.
pub const IMPORT_CAP: usize = 50_000;

#[derive(Debug, Deserialize)]
struct Issue {
    id: i64,
    number: i64,
    title: String,
    body: Option<String>,
    state: String,
    state_reason: Option<String>,
    #[serde(default)]
    labels: Vec<IssueLabel>,
    html_url: String,
    updated_at: DateTime<Utc>,
    closed_at: Option<DateTime<Utc>>,
    pull_request: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum IssueLabel {
    Named { name: String },
    Plain(String),
}

impl IssueLabel {
    fn name(&self) -> &str {
        match self {
            IssueLabel::Named { name } | IssueLabel::Plain(name) => name,
        }
    }
}

fn status_of(issue: &Issue) -> Status {
    match (issue.state.as_str(), issue.state_reason.as_deref()) {
        ("open", _) => Status::Todo,
        ("closed", Some("not_planned")) => Status::Canceled,
        _ => Status::Done,
    }
}

/// The task fields GitHub owns, from an issue.
struct MappedIssue {
    title: TaskTitle,
    description: Description,
    labels: Labels,
    status: Status,
}

/// The issue→task mapping (API.md §5 and §9): NUL and other control characters GitHub sends
/// are dropped before storing — a NUL is not storable in PostgreSQL text at all, so one issue
/// with it would fail every sync. Descriptions keep newlines and tabs; in titles and labels
/// line breaks and tabs become spaces, since neither may contain control characters.
fn map_issue(issue: &Issue) -> MappedIssue {
    let title = TaskTitle::truncating(&without_controls(&issue.title, false));
    let description =
        Description::truncating(&without_controls(issue.body.as_deref().unwrap_or(""), true));
    let names: Vec<String> = issue
        .labels
        .iter()
        .map(|l| without_controls(l.name(), false))
        .collect();
    MappedIssue {
        title,
        description,
        labels: Labels::truncating(&names),
        status: status_of(issue),
    }
}

/// `text` without control characters. With `multiline`, newlines and tabs stay (a CR of a
/// CRLF pair goes); without it, whitespace controls become spaces.
fn without_controls(text: &str, multiline: bool) -> String {
    text.chars()
        .filter_map(|c| match c {
            '\n' | '\t' if multiline => Some(c),
            c if c.is_control() && c.is_whitespace() && !multiline => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect()
}

enum SyncError {
    LinkGone,
    /// The link was replaced (`PUT` with another repository or token) during the run.
    Replaced,
    Upstream(UpstreamError),
    Database(DbError),
    Unreadable(String),
    /// The repository has more issues than one link may import.
    TooMany(usize),
}

impl From<DbError> for SyncError {
    fn from(error: DbError) -> Self {
        SyncError::Database(error)
    }
}

impl From<UpstreamError> for SyncError {
    fn from(error: UpstreamError) -> Self {
        SyncError::Upstream(error)
    }
}

pub async fn run_job(state: &Github, job: &Job) -> Outcome {
    let Some(project_id) = job
        .payload
        .get("project_id")
        .and_then(|v| v.as_str())
        .and_then(|v| v.parse::<Uuid>().ok())
    else {
        return Outcome::Fatal("the job has no project_id".to_owned());
    };
    // A link replaced during the run is synced again at once, as it now is: its `PUT` could
    // not queue a sync of its own while this one ran.
    let mut runs = 0;
    let error = loop {
        runs += 1;
        match sync(state, project_id, job).await {
            Ok(()) | Err(SyncError::LinkGone) => return Outcome::Done,
            Err(SyncError::Replaced) if runs < 3 => continue,
            Err(error) => break error,
        }
    };
    let retry_delay = || state.retry.after(job.attempts as u32);
    let attempts_left = job.attempts < job.max_attempts;
    let repo: String = store::repository(&state.db, project_id)
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    let at = |delay: std::time::Duration| {
        let when = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
        when.format("%H:%M UTC").to_string()
    };
    let (message, outcome) = match error {
        SyncError::LinkGone => unreachable!("handled above"),
        SyncError::Replaced => {
            // Replaced again and again while running: try later, leaving the link as it is.
            return Outcome::Retry(
                retry_delay(),
                "the link was replaced during the sync".to_owned(),
            );
        }
        SyncError::Upstream(UpstreamError::Unauthorized) => fatal(
            "GitHub refused the token (401 Unauthorized): give the link a valid token with \
             access to the repository's issues."
                .to_owned(),
        ),
        SyncError::Upstream(UpstreamError::Forbidden(message)) => {
            fatal(format!(
            "GitHub denied access to {repo} (403 Forbidden{}): the token needs permission to read \
             its issues.",
            if message.is_empty() { String::new() } else { format!(": {message}") }
        ))
        }
        SyncError::Upstream(UpstreamError::NotFound) => fatal(format!(
            "Repository {repo} was not found on GitHub, or the token cannot read it: check the \
             name and the token's access."
        )),
        SyncError::Upstream(UpstreamError::Gone) => fatal(format!(
            "Issues are disabled for {repo} on GitHub: enable them or unlink the repository."
        )),
        SyncError::TooMany(cap) => fatal(format!(
            "{repo} has more than {cap} issues, the most one link imports: the first {cap} \
             were imported and kept; the rest were not."
        )),
        SyncError::Upstream(UpstreamError::ForeignUrl) => fatal(
            "GitHub pointed to a URL outside the configured API address; Docket did not follow \
             it with the token."
                .to_owned(),
        ),
        SyncError::Upstream(UpstreamError::RateLimited { until }) => {
            let delay = (until - Utc::now()).to_std().unwrap_or_default();
            retry(
                format!(
                    "GitHub's rate limit for this token was reached; retrying at {}.",
                    until.format("%H:%M UTC")
                ),
                delay,
                attempts_left,
            )
        }
        SyncError::Upstream(UpstreamError::CircuitOpen { until }) => {
            let delay = (until - Utc::now())
                .to_std()
                .unwrap_or_default()
                .max(retry_delay());
            retry(
                format!(
                    "GitHub has been failing repeatedly, so calls are paused; retrying at {}.",
                    at(delay)
                ),
                delay,
                attempts_left,
            )
        }
        SyncError::Upstream(UpstreamError::Unreachable(reason)) => {
            let delay = retry_delay();
            retry(
                format!(
                    "GitHub was unreachable ({reason}); retrying at {}.",
                    at(delay)
                ),
                delay,
                attempts_left,
            )
        }
        SyncError::Upstream(UpstreamError::Invalid(reason)) | SyncError::Unreadable(reason) => {
            let delay = retry_delay();
            retry(
                format!(
                    "GitHub sent a response Docket could not use ({reason}); retrying at {}.",
                    at(delay)
                ),
                delay,
                attempts_left,
            )
        }
        SyncError::Database(error) => {
            tracing::error!(error = %error, "GitHub sync could not write to the database");
            let delay = retry_delay();
            retry(
                format!(
                    "Docket could not save the imported issues; retrying at {}.",
                    at(delay)
                ),
                delay,
                attempts_left,
            )
        }
    };
    let message = if !(matches!(outcome, Outcome::Fatal(_)) && message.contains("; retrying at")) {
        message
    } else {
        // No attempt left: say when the next scheduled sync will try instead.
        message
            .split("; retrying at")
            .next()
            .unwrap_or(&message)
            .to_owned()
            + "; gave up for now, the next scheduled sync will try again."
    };
    tracing::warn!(%project_id, error = %message, "GitHub sync failed");
    let _ = store::mark_failed(&state.db, project_id, &message).await;
    match outcome {
        Outcome::Retry(delay, _) => Outcome::Retry(delay, message),
        Outcome::Fatal(_) => Outcome::Fatal(message),
        Outcome::Done => Outcome::Done,
    }
}

fn fatal(message: String) -> (String, Outcome) {
    (message.clone(), Outcome::Fatal(message))
}

fn retry(message: String, delay: std::time::Duration, allowed: bool) -> (String, Outcome) {
    if allowed {
        (message.clone(), Outcome::Retry(delay, message))
    } else {
        (message.clone(), Outcome::Fatal(message))
    }
}

async fn sync(state: &Github, project_id: Uuid, job: &Job) -> Result<(), SyncError> {
    let link = store::start_sync(&state.db, project_id)
        .await?
        .ok_or(SyncError::LinkGone)?;
    let token = match &link.token_ciphertext {
        Some(sealed) => Some(
            secrets::decrypt(&state.encryption_key, project_id, sealed).ok_or_else(|| {
                SyncError::Unreadable(
                    "the stored token cannot be decrypted with the current DOCKET_ENCRYPTION_KEY"
                        .to_owned(),
                )
            })?,
        ),
        None => state
            .token
            .as_ref()
            .map(|t| secrecy::ExposeSecret::expose_secret(t).to_owned()),
    };

    let mut url = state
        .client
        .url(&format!("repos/{}/issues", link.repository));
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("state", "all")
            .append_pair("per_page", "100")
            .append_pair("sort", "updated")
            .append_pair("direction", "asc");
        if let Some(since) = link.synced_through {
            query.append_pair(
                "since",
                &(since - OVERLAP).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            );
        }
    }

    match import(state, project_id, job, &link, token.as_deref(), url).await {
        Ok(()) => {}
        Err(SyncError::LinkGone) => return Err(SyncError::LinkGone),
        // A failure with a link that was replaced meanwhile says nothing about the new one.
        Err(error) => {
            return Err(if is_current(state, project_id, &link).await? {
                error
            } else {
                SyncError::Replaced
            })
        }
    }
    Ok(())
}

/// Whether the link still has the repository and token this run uses; `LinkGone` when it was
/// removed.
async fn is_current(state: &Github, project_id: Uuid, link: &SyncLink) -> Result<bool, SyncError> {
    match store::source(&state.db, project_id).await? {
        None => Err(SyncError::LinkGone),
        Some(current) => Ok(current.repository == link.repository
            && current.token_ciphertext == link.token_ciphertext),
    }
}

async fn import(
    state: &Github,
    project_id: Uuid,
    job: &Job,
    link: &SyncLink,
    token: Option<&str>,
    url: url::Url,
) -> Result<(), SyncError> {
    let mut newest = link.synced_through;
    let mut next = Some(url);
    let mut seen = 0usize;
    while let Some(page_url) = next.take() {
        let fetched = state.client.get(&page_url, token).await?;
        let issues: Vec<Issue> = serde_json::from_slice(&fetched.body).map_err(|e| {
            SyncError::Unreadable(format!("the issue list is not as documented: {e}"))
        })?;
        let tx = state.db.begin().await?;
        // The project's row lock serialises writers of this project's task numbers.
        if crate::projects::store::lock(&tx, project_id)
            .await?
            .is_none()
        {
            return Err(SyncError::LinkGone);
        }
        // Unlinked or replaced meanwhile: the rest of this repository is not imported.
        match store::source(&tx, project_id).await? {
            None => return Err(SyncError::LinkGone),
            Some(current) => {
                if current.repository != link.repository
                    || current.token_ciphertext != link.token_ciphertext
                {
                    return Err(SyncError::Replaced);
                }
            }
        }
        let mut over_cap = false;
        let mut counts = SyncCounts {
            created: 0,
            updated: 0,
        };
        for issue in issues.iter().filter(|i| i.pull_request.is_none()) {
            if seen >= state.import_cap {
                over_cap = true;
                break;
            }
            seen += 1;
            match upsert(&tx, project_id, link, issue).await? {
                Upserted::Created => counts.created += 1,
                Upserted::Updated => counts.updated += 1,
                Upserted::Unchanged => {}
            }
            newest = newest.max(Some(issue.updated_at));
        }
        imports::record_sync(&tx, project_id, counts);
        tx.commit().await?;
        if over_cap {
            return Err(SyncError::TooMany(state.import_cap));
        }
        queue::heartbeat(&state.db, job.id).await?;
        next = fetched.next;
    }

    let finished = store::finish_sync(
        &state.db,
        project_id,
        newest,
        &link.repository,
        link.token_ciphertext.as_deref(),
    )
    .await?;
    if !finished {
        return Err(SyncError::Replaced);
    }
    Ok(())
}

async fn upsert(
    tx: &Tx,
    project_id: Uuid,
    link: &SyncLink,
    issue: &Issue,
) -> Result<Upserted, DbError> {
    let MappedIssue {
        title,
        description,
        labels,
        status,
    } = map_issue(issue);
    imports::upsert_issue(
        tx,
        project_id,
        link.created_by,
        &ImportedIssue {
            github_issue_id: issue.id,
            title: title.as_str(),
            description: description.as_str(),
            status,
            labels: labels.as_slice(),
            closed_at: issue.closed_at,
            repository: &link.repository,
            number: issue.number,
            url: &issue.html_url,
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issue(title: &str, body: &str, labels: &[&str]) -> Issue {
        serde_json::from_value(serde_json::json!({
            "id": 1, "number": 1, "title": title, "body": body, "state": "open",
            "labels": labels.iter().map(|name| serde_json::json!({"name": name})).collect::<Vec<_>>(),
            "html_url": "https://github.com/o/r/issues/1",
            "updated_at": "2026-01-01T00:00:00Z",
        }))
        .unwrap()
    }

    #[test]
    fn control_characters_are_dropped_but_lines_kept_in_descriptions() {
        let mapped = map_issue(&issue(
            "Cra\u{0}sh\non start",
            "line\u{0} one\r\n\tline two\u{7}\u{1b}[31m",
            &["bu\u{0}g", "ui\u{85}"],
        ));
        assert_eq!(mapped.title.as_str(), "Crash on start");
        assert_eq!(mapped.description.as_str(), "line one\n\tline two[31m");
        assert_eq!(mapped.labels.as_slice(), ["bug", "ui"]);
    }
}
