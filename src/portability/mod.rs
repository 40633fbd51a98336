//! A project's data in and out (API.md §15): the versioned export (`export.rs`) and the import of an export, a CSV (`import.rs`) or a Trello board (`trello.rs`). It sits above
//! the domains whose stores it reads (projects, states, tasks, comments, activity).

pub mod export;
pub mod import;
pub mod trello;

/// `format` of an export document.
pub const FORMAT: &str = "docket-export";
/// `version` of the export documents this release writes (and the newest it reads).
pub const VERSION: u32 = 1;

use crate::comments::CommentBody;
use crate::error::FieldError;
use crate::http::middleware::RequestContext;

/// Tells the handler deadline that the import is moving (bytes arriving, a batch written): it
/// then counts 30 s from the latest progress, so a large import is not cut off while a stalled
/// one still is. The total is bounded by the file's 64 MiB and 100,000 tasks.
#[derive(Clone)]
pub struct Progress(Option<RequestContext>);

impl Progress {
    pub fn new(context: Option<RequestContext>) -> Self {
        Progress(context)
    }

    pub fn tick(&self) {
        if let Some(context) = &self.0 {
            context.still_receiving();
        }
    }
}

/// The text of an imported comment: who wrote it and when, then what they wrote, within the
/// comment's 10,000 characters (NUL, which PostgreSQL's text cannot hold, dropped).
pub fn comment_body(author: &str, date: &str, text: &str) -> Result<CommentBody, FieldError> {
    let head = format!("**{author}** wrote on {date}:\n\n");
    let room = crate::comments::BODY_MAX.saturating_sub(head.chars().count());
    let body: String = text.chars().filter(|c| *c != '\0').take(room).collect();
    CommentBody::parse(&format!("{head}{body}"))
}
