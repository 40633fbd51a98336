//! Tasks: the domain types, their SQL, the endpoints, and the filtered, keyset-paginated lists.

pub mod domain;
pub mod handlers;
pub mod list;
pub mod moves;
pub mod store;
