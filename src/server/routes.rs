//! Every route of the server, in one list. Each handler's `#[utoipa::path]` is the one
//! declaration of its method and path: `routes!` registers it with the router and puts its
//! operation into the OpenAPI document, so the two cannot disagree.

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::activity::handlers as activity;
use crate::attachments::handlers as attachments;
use crate::auth::oidc::flow as oidc;
use crate::auth::{
    account, admin, api_tokens, login, passkeys, registration, reset, second_factor, security_log,
    totp,
};
use crate::calendar::handlers as calendar;
use crate::comments::handlers as comments;
use crate::fields::handlers as fields;
use crate::github::links;
use crate::notifications::handlers as notifications;
use crate::notifications::unsubscribe;
use crate::portability::{export, import};
use crate::projects::{handlers as projects, invitations, members};
use crate::states::handlers as states;
use crate::tasks::{handlers as tasks, list as task_lists, moves, relations};
use crate::templates::handlers as templates;
use crate::timesheets::handlers as time;
use crate::views::handlers as views;
use crate::webhooks::handlers as webhooks;

use super::state::AppState;

/// The documented `/api/v1` operations: they sit behind `router::api_gate` (readiness, then
/// idempotency).
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(account::register))
        .routes(routes!(registration::get_registration))
        .routes(routes!(
            login::create_session,
            login::get_session,
            login::delete_session
        ))
        .routes(routes!(second_factor::answer_second_factor))
        .routes(routes!(login::create_token))
        .routes(routes!(reset::request_password_reset))
        .routes(routes!(reset::confirm_password_reset))
        .routes(routes!(login::revoke_token))
        .routes(routes!(oidc::list_providers))
        .routes(routes!(oidc::start_sign_in))
        .routes(routes!(oidc::callback))
        .routes(routes!(passkeys::start_sign_in))
        .routes(routes!(passkeys::finish_sign_in))
        .routes(routes!(account::get_me, account::update_me))
        .routes(routes!(account::change_password))
        .routes(routes!(oidc::list_identities))
        .routes(routes!(oidc::link_identity, oidc::unlink_identity))
        .routes(routes!(totp::get_totp, totp::start_totp, totp::delete_totp))
        .routes(routes!(totp::confirm_totp))
        .routes(routes!(passkeys::list_passkeys))
        .routes(routes!(passkeys::delete_passkey))
        .routes(routes!(passkeys::start_registration))
        .routes(routes!(passkeys::finish_registration))
        .routes(routes!(security_log::list_security_events))
        .routes(routes!(
            api_tokens::create_api_token,
            api_tokens::list_api_tokens
        ))
        .routes(routes!(api_tokens::delete_api_token))
        .routes(routes!(
            calendar::create_calendar_feed,
            calendar::delete_calendar_feed
        ))
        .routes(routes!(calendar::get_calendar_feed))
        .routes(routes!(admin::list_users))
        .routes(routes!(admin::update_user))
        .routes(routes!(admin::reset_factors))
        .routes(routes!(projects::list_projects, templates::create_project))
        .routes(routes!(
            projects::get_project,
            projects::update_project,
            projects::delete_project
        ))
        .routes(routes!(export::export_project))
        .routes(routes!(import::import_project))
        .routes(routes!(members::list_members, members::add_member))
        .routes(routes!(members::put_member, members::remove_member))
        .routes(routes!(invitations::list_invitations))
        .routes(routes!(invitations::withdraw_invitation))
        .routes(routes!(invitations::accept_invitation))
        .routes(routes!(task_lists::list_project_tasks, tasks::create_task))
        .routes(routes!(task_lists::count_project_tasks))
        .routes(routes!(task_lists::list_my_tasks))
        .routes(routes!(
            tasks::get_task,
            tasks::update_task,
            tasks::delete_task
        ))
        .routes(routes!(moves::move_task))
        .routes(routes!(states::list_states, states::create_state))
        .routes(routes!(fields::list_fields, fields::create_field))
        .routes(routes!(fields::update_field, fields::delete_field))
        .routes(routes!(
            views::list_project_views,
            views::create_project_view
        ))
        .routes(routes!(
            views::list_personal_views,
            views::create_personal_view
        ))
        .routes(routes!(views::update_view, views::delete_view))
        .routes(routes!(states::update_state, states::delete_state))
        .routes(routes!(
            relations::list_relations,
            relations::create_relation
        ))
        .routes(routes!(relations::delete_relation))
        .routes(routes!(
            links::put_link,
            links::get_link,
            links::delete_link
        ))
        .routes(routes!(links::sync_link))
        .routes(routes!(comments::list_comments, comments::create_comment))
        .routes(routes!(
            comments::get_comment,
            comments::update_comment,
            comments::delete_comment
        ))
        .routes(routes!(activity::task_activity))
        .routes(routes!(activity::project_activity))
        .routes(routes!(time::start_timer, time::stop_timer))
        .routes(routes!(time::add_time))
        .routes(routes!(time::update_time, time::delete_time))
        .routes(routes!(time::project_time))
        .routes(routes!(time::my_time))
        .routes(routes!(notifications::list_notifications))
        .routes(routes!(notifications::mark_notifications_read))
        .routes(routes!(
            unsubscribe::show_unsubscribe,
            unsubscribe::unsubscribe
        ))
        .routes(routes!(crate::events::handlers::stream_events))
        .routes(routes!(
            attachments::list_attachments,
            attachments::upload_attachment
        ))
        .routes(routes!(attachments::get_attachment_content))
        .routes(routes!(attachments::get_attachment_thumbnail))
        .routes(routes!(attachments::delete_attachment))
        .routes(routes!(webhooks::list_webhooks, webhooks::create_webhook))
        .routes(routes!(
            webhooks::get_webhook,
            webhooks::update_webhook,
            webhooks::delete_webhook
        ))
        .routes(routes!(webhooks::rotate_secret))
        .routes(routes!(webhooks::list_deliveries))
        .routes(routes!(webhooks::redeliver))
        .routes(routes!(webhooks::ping))
}

/// The documented operations endpoints, served even before the database is ready.
pub fn ops() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(crate::ops::healthz))
        .routes(routes!(crate::ops::readyz))
        .routes(routes!(crate::ops::metrics))
}

/// The writes that go on while the embedded database's disk is nearly full (API.md §1, 507):
/// signing in and out. Every other POST, PUT and PATCH of the API gets 507 then.
pub const KEPT_WHEN_DISK_IS_LOW: &[&str] = &[
    "/api/v1/auth/session",
    "/api/v1/auth/token",
    "/api/v1/auth/token/revoke",
];

/// The routes that are deliberately not in the document: the documents themselves
/// (`openapi::routes`; the web client's pages are `web::routes`).
pub const UNDOCUMENTED: &[&str] = &["/api/v1/openapi.json", "/docs"];

/// The OpenAPI document of exactly the routes above (before the shared modifiers).
pub fn paths_document() -> utoipa::openapi::OpenApi {
    let (_, mut doc) = ops().split_for_parts();
    let (_, api) = api().split_for_parts();
    doc.merge(api);
    doc
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_creating_posts_come_from_their_declarations() {
        let routes = crate::idempotency::CreatingRoutes::from_document(&super::paths_document());
        let mut paths = routes.paths();
        paths.sort();
        assert_eq!(
            paths,
            [
                "/api/v1/me/views",
                "/api/v1/projects",
                "/api/v1/projects/{id}/fields",
                "/api/v1/projects/{id}/members",
                "/api/v1/projects/{id}/states",
                "/api/v1/projects/{id}/tasks",
                "/api/v1/projects/{id}/views",
                "/api/v1/tasks/{id}/attachments",
                "/api/v1/tasks/{id}/comments",
                "/api/v1/tasks/{id}/relations",
                "/api/v1/tasks/{id}/time",
                "/api/v1/tasks/{id}/timer"
            ]
        );
        assert_eq!(routes.streamed_paths(), ["/api/v1/tasks/{id}/attachments"]);
    }
}
