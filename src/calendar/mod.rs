//! API.md §19 "Calendar feed": a secret per-user URL serving the user's due tasks as
//! iCalendar. `handlers.rs` the three endpoints; `ics.rs` the text; `store.rs` owns
//! `calendar_feeds` (the secret's hash). The tasks are read by `tasks::store::calendar`.

pub mod handlers;
pub mod ics;
pub mod store;
