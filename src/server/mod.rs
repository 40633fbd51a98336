//! The composition root: builds the application from its parts (state, router, workers) and
//! runs its life cycle. Only `cli` (and the tests) import it; no module below imports it back.

mod application;
mod background;
mod jobs;
pub mod openapi;
mod router;
pub mod routes;
mod state;
mod tuning;

pub use application::{shutdown_signal, Application};
pub use router::with_layers;
pub use state::AppState;
pub use tuning::Tuning;
