//! Docket: a self-hostable task tracker server.
//!
//! The library holds everything; the `docket` binary only parses the command line and calls
//! [`cli::run`].

pub mod activity;
pub mod app;
pub mod auth;
pub mod cli;
pub mod comments;
pub mod config;
pub mod db;
pub mod error;
pub mod events;
pub mod github;
pub mod http;
pub mod jobs;
pub mod memory;
pub mod notifications;
pub mod openapi;
pub mod ops;
pub mod pagination;
pub mod projects;
pub mod quotas;
pub mod tasks;
pub mod telemetry;
pub mod web;
