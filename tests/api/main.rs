//! Black-box tests: the real server over a real socket against a real PostgreSQL.

mod helpers;

mod abuse;
mod activity;
mod attachments;
mod auth;
mod binary;
mod bounded;
mod comments;
mod docs;
mod email;
mod events;
mod factors;
mod faults;
mod fields;
mod foundation;
mod github;
mod hardening;
mod idempotency;
mod invitations;
mod migrations;
mod moves;
mod notifications;
mod oidc;
mod openapi;
mod outages;
mod pooler;
mod portability;
mod projects;
mod s3;
mod smtp;
mod tasks;
mod time;
mod web;
mod webhooks;
mod workflow;
