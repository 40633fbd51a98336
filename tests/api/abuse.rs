//! API.md §9 rules that need the database: quotas, caps on live credentials, and a refresh
//! racing a revocation.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.request(Method::POST, "/api/v1/auth/token")
        .json(&json!({"grant_type": "refresh_token", "refresh_token": token}))
        .send()
        .await
        .unwrap()
}

/// A refresh and a revocation of the same login, sent together many times: whichever wins,
/// nothing of that login works afterwards — not the successor refresh token, not the access
/// token that came with it.
#[tokio::test]
async fn a_refresh_racing_a_revocation_leaves_no_live_token() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    for round in 0..25 {
        let login: Value = app
            .password_grant(&user.email, &user.password)
            .await
            .json()
            .await
            .unwrap();
        let token = login["refresh_token"].as_str().unwrap().to_owned();
        let revoke = app
            .request(Method::POST, "/api/v1/auth/token/revoke")
            .json(&json!({"token": token}))
            .send();
        let (refreshed, revoked) = tokio::join!(refresh(&app, &token), revoke);
        assert_eq!(revoked.unwrap().status(), 200);
        if refreshed.status() != 200 {
            continue;
        }
        let successor: Value = refreshed.json().await.unwrap();
        let next = refresh(&app, successor["refresh_token"].as_str().unwrap()).await;
        assert_eq!(
            next.status(),
            401,
            "round {round}: the successor of a revoked login still refreshes"
        );
        let me = app
            .get("/api/v1/me", successor["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(
            me.status(),
            401,
            "round {round}: the access token of a revoked login still works"
        );
    }
}

#[tokio::test]
async fn api_tokens_stop_at_fifty_per_user() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    for i in 0..50 {
        let response = app
            .post(
                "/api/v1/me/tokens",
                &user.token,
                &json!({"name": format!("t{i}"), "scopes": ["read"]}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "token {i}");
    }
    let over = app
        .post(
            "/api/v1/me/tokens",
            &user.token,
            &json!({"name": "one too many", "scopes": ["read"]}),
        )
        .send()
        .await
        .unwrap();
    let problem = assert_problem(over, 422, "quota_exceeded").await;
    assert!(problem["detail"].as_str().unwrap().contains("50"));
    // Revoking one makes room again.
    let tokens: Value = app
        .get("/api/v1/me/tokens", &user.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = tokens["items"][0]["id"].as_str().unwrap();
    let deleted = app
        .delete(&format!("/api/v1/me/tokens/{id}"), &user.token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let again = app
        .post(
            "/api/v1/me/tokens",
            &user.token,
            &json!({"name": "room again", "scopes": ["read"]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 201);
}

#[tokio::test]
async fn projects_stop_at_a_thousand_per_user() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    // 999 owned projects made directly (creating them one by one would only slow the test).
    app.db
        .execute(
            "WITH made AS ( \
                 INSERT INTO projects (id, name) \
                 SELECT gen_random_uuid(), 'p' || i FROM generate_series(1, 999) i RETURNING id) \
             INSERT INTO memberships (project_id, user_id, role) \
             SELECT id, $1, 'owner' FROM made",
            &[&user.id],
        )
        .await;
    let thousandth = app
        .post("/api/v1/projects", &user.token, &json!({"name": "1000"}))
        .send()
        .await
        .unwrap();
    assert_eq!(thousandth.status(), 201);
    let over = app
        .post("/api/v1/projects", &user.token, &json!({"name": "1001"}))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(over, 422, "quota_exceeded").await;
    assert!(problem["detail"].as_str().unwrap().contains("1000"));
    // The Inbox does not count, and other users are not affected.
    let other = app.new_user().await;
    let theirs = app
        .post("/api/v1/projects", &other.token, &json!({"name": "mine"}))
        .send()
        .await
        .unwrap();
    assert_eq!(theirs.status(), 201);
}

#[tokio::test]
async fn tasks_stop_at_a_hundred_thousand_per_project() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let project: Value = app
        .post("/api/v1/projects", &user.token, &json!({"name": "Full"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let project_id = project["id"].as_str().unwrap();
    let first: Value = app
        .post(
            &format!("/api/v1/projects/{project_id}/tasks"),
            &user.token,
            &json!({"title": "the one real task"}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // Pretend the other 99,999 exist: the quota reads the project's count.
    app.db
        .execute(
            "UPDATE projects SET task_count = 100000 WHERE id = $1::text::uuid",
            &[&project_id],
        )
        .await;
    let over = app
        .post(
            &format!("/api/v1/projects/{project_id}/tasks"),
            &user.token,
            &json!({"title": "one too many"}),
        )
        .send()
        .await
        .unwrap();
    let problem = assert_problem(over, 422, "quota_exceeded").await;
    assert!(problem["detail"].as_str().unwrap().contains("100000"));
    // Nothing was taken: the next number is still 2 once there is room.
    let deleted = app
        .delete(
            &format!("/api/v1/tasks/{}", first["id"].as_str().unwrap()),
            &user.token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let fits: Value = app
        .post(
            &format!("/api/v1/projects/{project_id}/tasks"),
            &user.token,
            &json!({"title": "fits again"}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(fits["number"], 2);
}

#[tokio::test]
async fn a_user_keeps_at_most_a_hundred_sessions_and_logins() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    // 100 older sessions and 100 older logins, made directly.
    app.db
        .execute(
            "INSERT INTO sessions (id, token_hash, user_id, csrf_token, last_seen_at, expires_at) \
             SELECT gen_random_uuid(), sha256(('s' || i)::bytea), $1, 'x', \
                    now() - make_interval(mins => 200 - i), now() + interval '1 day' \
             FROM generate_series(1, 100) i",
            &[&user.id],
        )
        .await;
    app.db
        .execute(
            "INSERT INTO refresh_tokens (id, token_hash, family_id, user_id, created_at, expires_at) \
             SELECT gen_random_uuid(), sha256(('r' || i)::bytea), gen_random_uuid(), $1, \
                    now() - make_interval(mins => 200 - i), now() + interval '1 day' \
             FROM generate_series(1, 100) i",
            &[&user.id],
        )
        .await;
    let (cookie, _) = app.session_login(&user.email, &user.password).await;
    let sessions: i64 = app
        .db
        .scalar(
            "SELECT count(*) FROM sessions WHERE user_id = $1",
            &[&user.id],
        )
        .await;
    assert_eq!(sessions, 100);
    // The least recently used one went; the new one works.
    let oldest_gone: bool = app
        .db
        .scalar(
            "SELECT NOT EXISTS (SELECT 1 FROM sessions WHERE token_hash = sha256('s1'::bytea))",
            &[],
        )
        .await;
    assert!(oldest_gone);
    let me = app
        .request(Method::GET, "/api/v1/me")
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);

    let login = app.password_grant(&user.email, &user.password).await;
    assert_eq!(login.status(), 200);
    let live: i64 = app
        .db
        .scalar(
            "SELECT count(DISTINCT family_id) FROM refresh_tokens \
             WHERE user_id = $1 AND revoked_at IS NULL",
            &[&user.id],
        )
        .await;
    assert_eq!(live, 100);
    // The least recently used logins were revoked; newer ones, like the user's first, live.
    let revoked: Vec<bool> = app
        .db
        .rows(
            "SELECT revoked_at IS NOT NULL FROM refresh_tokens \
             WHERE token_hash IN (sha256('r1'::bytea), sha256('r2'::bytea), sha256('r3'::bytea)) \
             ORDER BY created_at",
            &[],
        )
        .await
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(revoked, [true, true, false]);
    assert_eq!(refresh(&app, &user.refresh_token).await.status(), 200);
}

/// The operator's `DOCKET_GITHUB_TOKEN` reads what the operator can: only an instance admin may
/// link a repository without a token of their own (API.md §5).
#[tokio::test]
async fn only_instance_admins_may_link_with_the_servers_github_token() {
    let app = spawn_app_with(|args| {
        args.github_api_url = Some("http://127.0.0.1:9".into());
        args.github_token = Some("operator-token".into());
    })
    .await;
    let admin = app.new_user().await; // the first user of an instance is its admin
    let user = app.new_user().await;
    let project: Value = app
        .post("/api/v1/projects", &user.token, &json!({"name": "Mine"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let link = format!(
        "/api/v1/projects/{}/github",
        project["id"].as_str().unwrap()
    );
    let refused = app
        .put(&link, &user.token, &json!({"repository": "acme/private"}))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(refused, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "token");
    assert_eq!(problem["errors"][0]["code"], "required");
    let none: i64 = app
        .db
        .scalar("SELECT count(*) FROM github_links", &[])
        .await;
    assert_eq!(none, 0, "nothing was linked");
    // With a token of their own they may.
    let own = app
        .put(
            &link,
            &user.token,
            &json!({"repository": "acme/public", "token": "ghp_their_own"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 201);
    // An admin's own project may use the server's token.
    let admins: Value = app
        .post("/api/v1/projects", &admin.token, &json!({"name": "Ops"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let linked = app
        .put(
            &format!("/api/v1/projects/{}/github", admins["id"].as_str().unwrap()),
            &admin.token,
            &json!({"repository": "acme/infra"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(linked.status(), 201);
}
