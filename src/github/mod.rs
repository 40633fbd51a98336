//! GitHub issues import and sync: the link endpoints, the sync job, the resilient outbound
//! client it uses, and encryption of the tokens it keeps.

pub mod client;
pub mod links;
pub mod secrets;
pub mod store;
pub mod sync;
