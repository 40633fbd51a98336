//! Black-box tests: the real server over a real socket against a real PostgreSQL.

mod helpers;

mod auth;
mod binary;
mod docs;
mod foundation;
mod github;
mod idempotency;
mod moves;
mod openapi;
mod projects;
mod tasks;
mod web;
