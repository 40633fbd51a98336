//! Projects and their members, and the authorization rule every project-scoped endpoint uses.

pub mod access;
pub mod handlers;
pub mod members;
pub mod store;
