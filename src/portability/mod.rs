//! A project's data in and out (API.md §15): the versioned export (`export.rs`). It sits above
//! the domains whose stores it reads (projects, states, tasks, comments, activity).

pub mod export;

/// `format` of an export document.
pub const FORMAT: &str = "docket-export";
/// `version` of the export documents this release writes (and the newest it reads).
pub const VERSION: u32 = 1;
