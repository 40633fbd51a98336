//! Background work: a durable job queue in PostgreSQL with its worker and scheduler, and the
//! periodic clean-up of expired rows.

pub mod maintenance;
pub mod queue;
pub mod worker;

pub use maintenance::spawn_maintenance;
