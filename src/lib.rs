//! Docket: a self-hostable task tracker server.
//!
//! The library holds everything; the `docket` binary only parses the command line and calls
//! [`cli::run`]. The layers, bottom up: infrastructure (`config`, `error`, `db`, `http`,
//! `jobs`, `telemetry`, `pagination`, `quotas`), then the domains (`auth`, `activity`,
//! `notifications`, `projects`, `states`, `tasks`, `comments`, `attachments`, `github`, `events`,
//! ...), then `server`,
//! the composition root, which only `cli` imports. See ARCHITECTURE.md.

pub mod activity;
pub mod attachments;
pub mod auth;
pub mod calendar;
pub mod cli;
pub mod comments;
pub mod config;
pub mod db;
pub mod email;
pub mod error;
pub mod events;
pub mod fields;
pub mod github;
pub mod http;
pub mod idempotency;
pub mod jobs;
pub mod memory;
pub mod notifications;
pub mod ops;
pub mod pagination;
pub mod portability;
pub mod projects;
pub mod quotas;
pub mod sealing;
pub mod secrets;
pub mod server;
pub mod states;
pub mod tasks;
pub mod telemetry;
pub mod templates;
pub mod timesheets;
pub mod tokens;
pub mod views;
pub mod web;
pub mod webhooks;
