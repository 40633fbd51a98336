//! Tasks: the domain types, their SQL, the endpoints, the filtered, keyset-paginated lists,
//! subtasks (`store::tree`) and relations between tasks.

pub mod domain;
pub mod handlers;
pub mod list;
pub mod moves;
pub mod recurrence;
pub mod relations;
pub mod reminder_scan;
pub mod reminders;
pub mod store;
