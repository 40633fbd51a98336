//! Black-box tests: the real server over a real socket against a real PostgreSQL.

mod helpers;

mod abuse;
mod activity;
mod auth;
mod binary;
mod bounded;
mod comments;
mod docs;
mod email;
mod events;
mod faults;
mod foundation;
mod github;
mod hardening;
mod idempotency;
mod migrations;
mod moves;
mod notifications;
mod openapi;
mod outages;
mod pooler;
mod projects;
mod tasks;
mod web;
mod webhooks;
