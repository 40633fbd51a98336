//! A project's data in and out (API.md §15): the versioned export (`export.rs`) and the import of an export, a CSV (`import.rs`) or a Trello board (`trello.rs`). It sits above
//! the domains whose stores it reads (projects, states, tasks, comments, activity).

pub mod export;
pub mod import;
pub mod trello;

/// `format` of an export document.
pub const FORMAT: &str = "docket-export";
/// `version` of the export documents this release writes (and the newest it reads).
pub const VERSION: u32 = 1;
