//! Authentication and accounts (API.md §2, and the §1/§8 rules about them): registration,
//! cookie sessions and CSRF, access and refresh tokens, personal API tokens, the caller's own
//! account, instance administration, disabled accounts, and the brute-force and request limits.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use futures::future::join_all;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::helpers::*;

const WRONG_PASSWORD: &str = "not the right password";

// ---------------------------------------------------------------------------------------------
// Registration
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_first_user_becomes_admin_and_later_users_do_not() {
    let app = spawn_app().await;
    let first: Value = app
        .register("first@example.com", PASSWORD, "First")
        .await
        .created();
    assert_eq!(first["role"], "admin");
    assert_user_shape(&first);

    let second: Value = app
        .register("second@example.com", PASSWORD, "Second")
        .await
        .created();
    assert_eq!(second["role"], "user");
    assert_eq!(second["email"], "second@example.com");
    assert_eq!(second["name"], "Second");
    assert_eq!(second["disabled"], false);
    assert_ne!(first["id"], second["id"]);
}

#[tokio::test]
async fn registration_creates_the_users_inbox() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let inboxes: i64 = app
        .db
        .scalar(
            "SELECT count(*) FROM projects WHERE inbox_of = $1",
            &[&user.id],
        )
        .await;
    assert_eq!(inboxes, 1);
    let row = &app
        .db
        .rows(
            "SELECT p.name, m.role FROM projects p JOIN memberships m ON m.project_id = p.id \
             WHERE p.inbox_of = $1 AND m.user_id = $1",
            &[&user.id],
        )
        .await[0];
    let (name, role): (String, String) = (row.get(0), row.get(1));
    assert_eq!(name, "Inbox");
    assert_eq!(role, "owner");
}

#[tokio::test]
async fn registration_trims_and_lowercases_the_email() {
    let app = spawn_app().await;
    let user: Value = app
        .register("  Alice.Smith@Example.COM  ", PASSWORD, "Alice")
        .await
        .created();
    assert_eq!(user["email"], "alice.smith@example.com");

    // Logging in works with the normalised address in any case.
    let login = app
        .password_grant("ALICE.smith@example.com", PASSWORD)
        .await;
    assert_eq!(login.status(), StatusCode::OK);
}

#[tokio::test]
async fn registering_a_taken_email_is_409_in_any_case() {
    let app = spawn_app().await;
    let first = app.register("bob@example.com", PASSWORD, "Bob").await;
    assert_eq!(first.status(), StatusCode::CREATED);
    for again in ["bob@example.com", "BOB@Example.com", " bob@example.com "] {
        app.register(again, "another fine passphrase", "Bob 2")
            .await
            .problem(409, "email_taken");
    }
    let count: i64 = app.db.scalar("SELECT count(*) FROM users", &[]).await;
    assert_eq!(count, 1);
}

#[tokio::test]
async fn registration_enforces_the_password_policy() {
    let app = spawn_app().await;
    let cases = [
        ("zq8!Lm2#p", "too_short"),           // 9 characters
        (&"Ab1!".repeat(32)[..], "ok"),       // 128 characters
        (&"Ab1!".repeat(33)[..], "too_long"), // 132 characters
        ("Password123", "too_common"),
        ("qwertyuiop", "too_common"),
        ("zq8!Lm2#pX", "ok"), // 10 characters
    ];
    for (i, (password, expected)) in cases.iter().enumerate() {
        let email = format!("policy-{i}@example.com");
        let response = app.register(&email, password, "Policy").await;
        if *expected == "ok" {
            assert_eq!(response.status(), StatusCode::CREATED, "{password:?}");
            continue;
        }
        let body = response.problem(422, "validation_failed");
        let errors = body["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 1, "{body}");
        assert_eq!(errors[0]["field"], "password", "{body}");
        assert_eq!(errors[0]["code"], *expected, "{body}");
        let exists: bool = app
            .db
            .scalar(
                "SELECT EXISTS (SELECT 1 FROM users WHERE email = $1)",
                &[&email],
            )
            .await;
        assert!(!exists, "no account is made for a refused password");
    }
}

#[tokio::test]
async fn registration_reports_every_invalid_field_at_once() {
    let app = spawn_app().await;
    let body = app
        .register("not-an-email", "short", "   ")
        .await
        .problem(422, "validation_failed");
    let mut fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    fields.sort_unstable();
    assert_eq!(fields, ["email", "name", "password"]);
}

#[tokio::test]
async fn closed_registration_is_403_even_for_the_first_user() {
    let app = TestApp::build()
        .config(|a| a.registration = Some("closed".into()))
        .spawn()
        .await;
    app.register("first@example.com", PASSWORD, "First")
        .await
        .problem(403, "registration_closed");
    let count: i64 = app.db.scalar("SELECT count(*) FROM users", &[]).await;
    assert_eq!(count, 0);
}

#[tokio::test]
async fn parallel_registrations_of_one_email_make_exactly_one_account() {
    let app = spawn_app().await;
    let responses = join_all((0..30).map(|i| {
        app.register(
            "race@example.com",
            PASSWORD,
            if i % 2 == 0 { "A" } else { "B" },
        )
    }))
    .await;
    let mut created = 0;
    for response in responses {
        match response.status().as_u16() {
            201 => created += 1,
            _ => {
                response.problem(409, "email_taken");
            }
        }
    }
    assert_eq!(created, 1);
    let count: i64 = app.db.scalar("SELECT count(*) FROM users", &[]).await;
    assert_eq!(count, 1);
    let inboxes: i64 = app.db.scalar("SELECT count(*) FROM projects", &[]).await;
    assert_eq!(inboxes, 1);
}

// ---------------------------------------------------------------------------------------------
// Cookie sessions and CSRF
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn session_login_sets_a_hardened_cookie_and_returns_the_csrf_token() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let response = login_session(&app, &user.email, PASSWORD).await;
    let body: Value = response.good();
    let cookie = set_cookie(&response);
    let attributes: Vec<&str> = cookie.split(';').map(str::trim).collect();
    assert!(attributes[0].starts_with("docket_session="), "{cookie}");
    assert!(
        attributes[0].len() > "docket_session=".len() + 20,
        "{cookie}"
    );
    for expected in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(attributes.contains(&expected), "{expected} in {cookie}");
    }
    assert!(
        !attributes.iter().any(|a| a.eq_ignore_ascii_case("secure")),
        "no Secure on plain http: {cookie}"
    );
    assert_eq!(body["user"]["id"], user.id.to_string());
    assert_user_shape(&body["user"]);
    let csrf = body["csrf_token"].as_str().unwrap();
    assert!(csrf.len() >= 20);
    assert!(
        !cookie.contains(csrf),
        "the CSRF token is not the session secret"
    );

    // The cookie authenticates.
    let me: Value = app
        .with_cookie(attributes[0])
        .get("/api/v1/me")
        .await
        .good();
    assert_eq!(me["id"], user.id.to_string());
}

#[tokio::test]
async fn session_cookie_is_secure_when_the_public_url_is_https() {
    let app = TestApp::build()
        .config(|a| a.public_url = Some("https://docket.example".into()))
        .spawn()
        .await;
    let user = app.new_user().await;
    let response = login_session(&app, &user.email, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = set_cookie(&response);
    let attributes: Vec<&str> = cookie.split(';').map(str::trim).collect();
    assert!(attributes.contains(&"Secure"), "{cookie}");
    assert!(attributes.contains(&"HttpOnly"), "{cookie}");
}

#[tokio::test]
async fn get_session_describes_a_cookie_session_and_is_401_otherwise() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let (cookie, csrf) = app.session_login(&user.email, PASSWORD).await;
    let body: Value = app
        .with_cookie(&cookie)
        .get("/api/v1/auth/session")
        .await
        .good();
    assert_eq!(body["user"]["id"], user.id.to_string());
    assert_eq!(body["csrf_token"], csrf.as_str());
    let expires_at = body["expires_at"].as_str().unwrap();
    let expires_at = chrono::DateTime::parse_from_rfc3339(expires_at).unwrap();
    assert!(body["expires_at"].as_str().unwrap().ends_with('Z'));
    assert!(expires_at > chrono::Utc::now() + chrono::Duration::days(1));

    app.anon()
        .get("/api/v1/auth/session")
        .await
        .problem(401, "unauthenticated");
    let with_access_token = user.get("/api/v1/auth/session").await;
    assert_eq!(with_access_token.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn logging_out_deletes_the_session_and_clears_the_cookie() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let (cookie, csrf) = app.session_login(&user.email, PASSWORD).await;
    assert_eq!(session_count(&app, user.id).await, 1);

    let response = app
        .with_session(&cookie, &csrf)
        .delete("/api/v1/auth/session")
        .await;
    response.no_content();
    let cleared = set_cookie(&response);
    assert!(cleared.starts_with("docket_session=;"), "{cleared}");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert_eq!(session_count(&app, user.id).await, 0, "the row is gone");

    app.with_cookie(&cookie)
        .get("/api/v1/me")
        .await
        .problem(401, "unauthenticated");
}

#[tokio::test]
async fn an_expired_or_idle_session_is_refused() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let (expired, _) = app.session_login(&user.email, &user.password).await;
    let (idle, _) = app.session_login(&user.email, &user.password).await;
    let (fresh, _) = app.session_login(&user.email, &user.password).await;
    let hash = |cookie: &str| {
        Sha256::digest(cookie.trim_start_matches("docket_session=").as_bytes()).to_vec()
    };
    app.db
        .execute(
            "UPDATE sessions SET expires_at = now() - interval '1 second' WHERE token_hash = $1",
            &[&hash(&expired)],
        )
        .await;
    app.db
        .execute(
            "UPDATE sessions SET last_seen_at = now() - interval '15 days' WHERE token_hash = $1",
            &[&hash(&idle)],
        )
        .await;
    for (what, cookie) in [("expired", &expired), ("idle", &idle)] {
        let response = app.with_cookie(cookie).get("/api/v1/me").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{what}");
    }
    let response = app.with_cookie(&fresh).get("/api/v1/me").await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_new_session_login_ends_the_session_it_was_sent_with() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let (old_cookie, _) = app.session_login(&user.email, PASSWORD).await;
    let response = app
        .with_cookie(&old_cookie)
        .post(
            "/api/v1/auth/session",
            json!({"email": user.email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let new_cookie = set_cookie(&response);
    assert!(!new_cookie.starts_with(&format!("{old_cookie};")));
    let old = app.with_cookie(&old_cookie).get("/api/v1/me").await;
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn unsafe_cookie_requests_need_the_sessions_csrf_token() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let (cookie, csrf) = app.session_login(&user.email, PASSWORD).await;
    let (_, other_csrf) = app.session_login(&user.email, PASSWORD).await;

    app.with_cookie(&cookie)
        .patch("/api/v1/me", json!({"name": "No Token"}))
        .await
        .problem(403, "csrf_failed");
    app.with_session(&cookie, "wrong")
        .patch("/api/v1/me", json!({"name": "Wrong Token"}))
        .await
        .problem(403, "csrf_failed");
    // Another session's token is not this session's token.
    app.with_session(&cookie, &other_csrf)
        .patch("/api/v1/me", json!({"name": "Other Session"}))
        .await
        .problem(403, "csrf_failed");
    app.with_cookie(&cookie)
        .delete("/api/v1/auth/session")
        .await
        .problem(403, "csrf_failed");
    assert_eq!(
        session_count(&app, user.id).await,
        2,
        "nothing was logged out"
    );
    let me: Value = user.get("/api/v1/me").await.good();
    assert_eq!(me["name"], "Test User", "nothing was changed");

    let right: Value = app
        .with_session(&cookie, &csrf)
        .patch("/api/v1/me", json!({"name": "Right Token"}))
        .await
        .good();
    assert_eq!(right["name"], "Right Token");
}

#[tokio::test]
async fn safe_cookie_requests_need_no_csrf_token() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let (cookie, _) = app.session_login(&user.email, PASSWORD).await;
    for path in ["/api/v1/me", "/api/v1/auth/session", "/api/v1/me/tokens"] {
        let response = app.with_cookie(&cookie).get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn a_bearer_header_wins_over_a_cookie() {
    let app = spawn_app().await;
    let alice = app.new_user().await;
    let bob = app.new_client().await;
    let (alice_cookie, _) = app.session_login(&alice.email, PASSWORD).await;

    // Bob's token with Alice's cookie: Bob, and no CSRF token needed.
    let me: Value = bob
        .get("/api/v1/me")
        .header("cookie", &alice_cookie)
        .await
        .good();
    assert_eq!(me["id"], bob.id.to_string());
    let patch: Value = bob
        .patch("/api/v1/me", json!({"name": "Bob Via Bearer"}))
        .header("cookie", &alice_cookie)
        .await
        .good();
    assert_eq!(patch["id"], bob.id.to_string());

    // A bad header is not rescued by a good cookie.
    app.with_token("garbage")
        .get("/api/v1/me")
        .header("cookie", &alice_cookie)
        .await
        .problem(401, "unauthenticated");
}

// ---------------------------------------------------------------------------------------------
// Login failures and enumeration
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn unknown_email_and_wrong_password_are_indistinguishable() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let ip = random_ip();

    for path in ["/api/v1/auth/session", "/api/v1/auth/token"] {
        let send = |email: String| {
            let mut body = json!({"email": email, "password": WRONG_PASSWORD});
            if path.ends_with("token") {
                body["grant_type"] = json!("password");
            }
            app.anon().post(path, body).forwarded_for(&ip)
        };
        let unknown = send("nobody@example.com".to_owned()).await;
        let unknown_body = unknown.problem(401, "invalid_credentials");
        let wrong = send(user.email.clone()).await;
        let wrong_body = wrong.problem(401, "invalid_credentials");
        assert_eq!(
            without_request_id(unknown_body),
            without_request_id(wrong_body),
            "{path}"
        );
        assert_eq!(
            unknown.header("www-authenticate"),
            wrong.header("www-authenticate")
        );
        assert!(unknown.header("set-cookie").is_none());
    }
}

#[tokio::test]
async fn unknown_grant_type_is_422() {
    let app = spawn_app().await;
    let body = app
        .anon()
        .post(
            "/api/v1/auth/token",
            json!({"grant_type": "client_credentials", "client_id": "x"}),
        )
        .await
        .problem(422, "validation_failed");
    assert_eq!(body["errors"][0]["field"], "grant_type");
}

// ---------------------------------------------------------------------------------------------
// Access and refresh tokens
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_password_grant_issues_an_access_and_a_refresh_token() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let body: Value = app.password_grant(&user.email, &user.password).await.good();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    let access = body["access_token"].as_str().unwrap();
    let refresh = body["refresh_token"].as_str().unwrap();
    assert!(!refresh.is_empty());
    assert_ne!(refresh, user.refresh_token);

    let header = jsonwebtoken::decode_header(access).unwrap();
    assert_eq!(header.alg, Algorithm::HS256);
    assert_eq!(header.kid.as_deref(), Some(kid_of(JWT_SECRET).as_str()));
    let claims = jwt_claims(access);
    assert_eq!(claims["sub"], user.id.to_string());
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(lifetime, 900);

    let me: Value = app.with_token(access).get("/api/v1/me").await.good();
    assert_eq!(me["id"], user.id.to_string());
}

#[tokio::test]
async fn the_refresh_grant_rotates_the_refresh_token() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let body: Value = app.refresh_grant(&user.refresh_token).await.good();
    let access = body["access_token"].as_str().unwrap();
    let refresh = body["refresh_token"].as_str().unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_ne!(refresh, user.refresh_token);
    assert_eq!(app.with_token(access).get("/api/v1/me").await.status(), 200);

    // The new one works once more, and so on.
    let again = app.refresh_grant(refresh).await;
    assert_eq!(again.status(), StatusCode::OK);
}

#[tokio::test]
async fn reusing_a_spent_refresh_token_revokes_the_whole_login() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    // A second, independent login of the same user.
    let other_login: Value = app.password_grant(&user.email, PASSWORD).await.good();

    let rotated: Value = app.refresh_grant(&user.refresh_token).await.good();
    let new_access = rotated["access_token"].as_str().unwrap();
    let new_refresh = rotated["refresh_token"].as_str().unwrap();

    app.refresh_grant(&user.refresh_token)
        .await
        .problem(401, "invalid_credentials");

    // Everything of that login is dead...
    let new_refresh_used = app.refresh_grant(new_refresh).await;
    assert_eq!(new_refresh_used.status(), StatusCode::UNAUTHORIZED);
    for access in [new_access, user.token.as_str()] {
        let response = app.with_token(access).get("/api/v1/me").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
    }
    // ...and the other login is not.
    let other_access = other_login["access_token"].as_str().unwrap();
    assert_eq!(
        app.with_token(other_access)
            .get("/api/v1/me")
            .await
            .status(),
        200
    );
    let other_refresh = other_login["refresh_token"].as_str().unwrap();
    assert_eq!(app.refresh_grant(other_refresh).await.status(), 200);
}

#[tokio::test]
async fn a_refresh_token_raced_in_parallel_works_at_most_once() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let responses = join_all((0..8).map(|_| app.refresh_grant(&user.refresh_token))).await;
    let ok = responses
        .iter()
        .filter(|r| r.status() == StatusCode::OK)
        .count();
    assert!(ok <= 1, "{ok} refreshes succeeded with one token");
    assert!(responses
        .iter()
        .all(|r| r.status() == StatusCode::OK || r.status() == StatusCode::UNAUTHORIZED));
}

#[tokio::test]
async fn an_expired_refresh_token_is_refused() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    app.db
        .execute(
            "UPDATE refresh_tokens SET expires_at = now() - interval '1 second' WHERE user_id = $1",
            &[&user.id],
        )
        .await;
    app.refresh_grant(&user.refresh_token)
        .await
        .problem(401, "invalid_credentials");
}

#[tokio::test]
async fn revoking_a_refresh_token_ends_its_login_and_unknown_tokens_are_fine() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let response = app
        .anon()
        .post(
            "/api/v1/auth/token/revoke",
            json!({"token": user.refresh_token}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(app.refresh_grant(&user.refresh_token).await.status(), 401);
    let access = user.get("/api/v1/me").await;
    assert_eq!(access.status(), StatusCode::UNAUTHORIZED);

    let unknown = app
        .anon()
        .post(
            "/api/v1/auth/token/revoke",
            json!({"token": "never-issued"}),
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::OK);
}

// ---------------------------------------------------------------------------------------------
// Forged and expired access tokens, key rotation
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_expired_access_token_is_401_token_expired() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let now = chrono::Utc::now().timestamp();
    let token = sign_jwt(
        JWT_SECRET,
        Some(kid_of(JWT_SECRET)),
        &json!({"sub": user.id, "iat": now - 1000, "exp": now - 60, "fam": Uuid::now_v7()}),
    );
    let response = app.with_token(&token).get("/api/v1/me").await;
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    response.problem(401, "token_expired");

    // The same claims, still valid, are accepted: the expiry is what was refused.
    let fresh = sign_jwt(
        JWT_SECRET,
        Some(kid_of(JWT_SECRET)),
        &json!({"sub": user.id, "iat": now, "exp": now + 60, "fam": Uuid::now_v7()}),
    );
    assert_eq!(app.with_token(&fresh).get("/api/v1/me").await.status(), 200);
}

#[tokio::test]
async fn forged_access_tokens_are_401() {
    let app = spawn_app().await;
    let admin = app.new_user().await;
    let user = app.new_user().await;
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"sub": user.id, "iat": now, "exp": now + 600, "fam": Uuid::now_v7()});
    let other_secret = "another-secret-that-is-32-bytes-or-more!!";

    // A real token whose payload now names the admin, with the original signature.
    let parts: Vec<&str> = user.token.split('.').collect();
    let mut payload = jwt_claims(&user.token);
    payload["sub"] = json!(admin.id);
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        parts[2]
    );
    let alg_none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD
            .encode(json!({"alg": "none", "typ": "JWT", "kid": kid_of(JWT_SECRET)}).to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut hs512 = Header::new(Algorithm::HS512);
    hs512.kid = Some(kid_of(JWT_SECRET));
    let other_algorithm = jsonwebtoken::encode(
        &hs512,
        &claims,
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap();

    let forged = [
        ("tampered payload", tampered),
        ("alg none", alg_none),
        (
            "wrong secret, right kid",
            sign_jwt(other_secret, Some(kid_of(JWT_SECRET)), &claims),
        ),
        (
            "wrong secret, its own kid",
            sign_jwt(other_secret, Some(kid_of(other_secret)), &claims),
        ),
        (
            "right secret, wrong kid",
            sign_jwt(JWT_SECRET, Some(kid_of(other_secret)), &claims),
        ),
        ("right secret, no kid", sign_jwt(JWT_SECRET, None, &claims)),
        ("HS512 with the right secret", other_algorithm),
        ("not a JWT", "abc.def.ghi".to_owned()),
    ];
    for (what, token) in forged {
        let response = app.with_token(&token).get("/api/v1/me").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{what}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer", "{what}");
        let body = response.problem(401, "unauthenticated");
        assert!(!body.to_string().contains(&admin.id.to_string()), "{what}");
    }
    // The control: the same claims signed properly are accepted.
    let genuine = sign_jwt(JWT_SECRET, Some(kid_of(JWT_SECRET)), &claims);
    assert_eq!(
        app.with_token(&genuine).get("/api/v1/me").await.status(),
        200
    );
}

#[tokio::test]
async fn tokens_signed_with_the_previous_secret_work_after_key_rotation() {
    let old_app = spawn_app().await;
    let user = old_app.new_user().await;
    let new_secret = "the-new-jwt-secret-0123456789abcdefghijklm";

    let rotated = TestApp::build()
        .on(&old_app.database_url)
        .config(|a| {
            a.jwt_secret = Some(new_secret.into());
            a.jwt_secret_previous = Some(JWT_SECRET.into());
        })
        .spawn()
        .await;
    let old_token_on_new: Value = rotated.as_user(&user).get("/api/v1/me").await.good();
    assert_eq!(old_token_on_new["id"], user.id.to_string());

    // New tokens are signed with the new key.
    let fresh: Value = rotated.password_grant(&user.email, PASSWORD).await.good();
    let fresh = fresh["access_token"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(fresh).unwrap();
    assert_eq!(header.kid.as_deref(), Some(kid_of(new_secret).as_str()));
    assert_eq!(
        rotated.with_token(fresh).get("/api/v1/me").await.status(),
        200
    );

    // Once the previous secret is dropped, its tokens stop working.
    let forgotten = TestApp::build()
        .on(&old_app.database_url)
        .config(|a| {
            a.jwt_secret = Some(new_secret.into());
        })
        .spawn()
        .await;
    forgotten
        .as_user(&user)
        .get("/api/v1/me")
        .await
        .problem(401, "unauthenticated");
    assert_eq!(
        forgotten.with_token(fresh).get("/api/v1/me").await.status(),
        200
    );
}

// ---------------------------------------------------------------------------------------------
// The caller's account
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn get_me_returns_the_caller_and_needs_authentication() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let me: Value = user.get("/api/v1/me").await.good();
    assert_user_shape(&me);
    assert_eq!(me["id"], user.id.to_string());
    assert_eq!(me["email"], user.email.as_str());

    let anonymous = app.anon().get("/api/v1/me").await;
    assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
    anonymous.problem(401, "unauthenticated");
    // Another scheme in the Authorization header: the raw header is the point.
    let not_bearer = app
        .request(Method::GET, "/api/v1/me")
        .header("authorization", format!("Basic {}", user.token));
    app.send(not_bearer).await.problem(401, "unauthenticated");
}

#[tokio::test]
async fn patch_me_changes_the_name_and_validates_it() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let me: Value = user
        .patch("/api/v1/me", json!({"name": "  Ada Lovelace  "}))
        .await
        .good();
    assert_eq!(me["name"], "Ada Lovelace");
    assert_user_shape(&me);
    let again: Value = user.get("/api/v1/me").await.good();
    assert_eq!(again["name"], "Ada Lovelace");

    for bad in [
        json!({"name": "   "}),
        json!({"name": "a\u{7}b"}),
        json!({"name": "n".repeat(101)}),
    ] {
        let body = user
            .patch("/api/v1/me", &bad)
            .await
            .problem(422, "validation_failed");
        assert_eq!(body["errors"][0]["field"], "name", "{bad}");
    }
    // The role cannot be changed through /me.
    let body = user
        .patch("/api/v1/me", json!({"name": "Ada", "role": "admin"}))
        .await
        .problem(422, "validation_failed");
    assert_eq!(body["errors"][0]["field"], "role");
    let me: Value = user.get("/api/v1/me").await.good();
    assert_eq!(me["name"], "Ada Lovelace");
}

#[tokio::test]
async fn changing_the_password_needs_the_current_one() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let body = user
        .put(
            "/api/v1/me/password",
            json!({"current_password": WRONG_PASSWORD, "new_password": "a brand new passphrase"}),
        )
        .await
        .problem(422, "validation_failed");
    assert_eq!(body["errors"][0]["field"], "current_password");

    let body = user
        .put(
            "/api/v1/me/password",
            json!({"current_password": PASSWORD, "new_password": "short"}),
        )
        .await
        .problem(422, "validation_failed");
    assert_eq!(body["errors"][0]["field"], "new_password");

    // The password did not change.
    assert_eq!(
        app.password_grant(&user.email, PASSWORD).await.status(),
        200
    );
}

#[tokio::test]
async fn changing_the_password_ends_other_logins_but_keeps_the_callers() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let other: Value = app.password_grant(&user.email, PASSWORD).await.good();
    let (other_cookie, _) = app.session_login(&user.email, PASSWORD).await;
    let new_password = "a brand new passphrase";

    user.put(
        "/api/v1/me/password",
        json!({"current_password": PASSWORD, "new_password": new_password}),
    )
    .await
    .no_content();

    // Other logins are over.
    let session = app.with_cookie(&other_cookie).get("/api/v1/me").await;
    assert_eq!(session.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(session_count(&app, user.id).await, 0);
    let other_refresh = other["refresh_token"].as_str().unwrap();
    assert_eq!(app.refresh_grant(other_refresh).await.status(), 401);
    let other_access = other["access_token"].as_str().unwrap();
    assert_eq!(
        app.with_token(other_access)
            .get("/api/v1/me")
            .await
            .status(),
        401
    );

    // The caller's own access and refresh tokens keep working.
    assert_eq!(user.get("/api/v1/me").await.status(), 200);
    assert_eq!(app.refresh_grant(&user.refresh_token).await.status(), 200);

    // Only the new password logs in.
    app.password_grant(&user.email, PASSWORD)
        .await
        .problem(401, "invalid_credentials");
    assert_eq!(
        app.password_grant(&user.email, new_password).await.status(),
        200
    );
}

#[tokio::test]
async fn changing_the_password_from_a_session_keeps_that_session_only() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let (cookie, csrf) = app.session_login(&user.email, PASSWORD).await;
    let (other_cookie, _) = app.session_login(&user.email, PASSWORD).await;
    let session = app.with_session(&cookie, &csrf);
    session
        .put(
            "/api/v1/me/password",
            json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"}),
        )
        .await
        .no_content();
    let mine = session.get("/api/v1/me").await;
    assert_eq!(mine.status(), StatusCode::OK);
    let theirs = app.with_cookie(&other_cookie).get("/api/v1/me").await;
    assert_eq!(theirs.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.refresh_grant(&user.refresh_token).await.status(), 401);
    assert_eq!(user.get("/api/v1/me").await.status(), 401);
}

// ---------------------------------------------------------------------------------------------
// Personal API tokens
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_api_token_is_shown_once_and_listed_without_its_secret() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let created: Value = user
        .post(
            "/api/v1/me/tokens",
            json!({"name": "  laptop  ", "scopes": ["read", "write"], "expires_in_days": 30}),
        )
        .await
        .created();
    let secret = created["token"].as_str().unwrap();
    assert!(secret.starts_with("dkt_"), "{secret}");
    assert!(secret.len() >= 40);
    assert_eq!(created["name"], "laptop");
    assert_eq!(created["scopes"], json!(["read", "write"]));
    assert_eq!(created["last_used_at"], Value::Null);
    let created_at = parse_time(&created["created_at"]);
    let expires_at = parse_time(&created["expires_at"]);
    let days = (expires_at - created_at).num_hours();
    assert!((30 * 24 - 1..=30 * 24 + 1).contains(&days), "{days} hours");
    let mut keys: Vec<&str> = created
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "created_at",
            "expires_at",
            "id",
            "last_used_at",
            "name",
            "scopes",
            "token"
        ]
    );

    let list: Value = user.get("/api/v1/me/tokens").await.good();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], created["id"]);
    assert!(items[0].get("token").is_none(), "{list}");
    assert!(
        !list.to_string().contains(&secret[4..]),
        "the secret is never shown again"
    );

    // Using it works and sets last_used_at (asynchronously).
    let me: Value = app.with_token(secret).get("/api/v1/me").await.good();
    assert_eq!(me["id"], user.id.to_string());
    let mut last_used = Value::Null;
    for _ in 0..20 {
        let list: Value = user.get("/api/v1/me/tokens").await.good();
        last_used = list["items"][0]["last_used_at"].clone();
        if !last_used.is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!last_used.is_null(), "last_used_at was never set");
    assert!(parse_time(&last_used) >= created_at);
}

#[tokio::test]
async fn an_api_token_without_expiry_never_expires_and_an_expired_one_is_refused() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let (id, token) = api_token(&user, &["read"]).await;
    let list: Value = user.get("/api/v1/me/tokens").await.good();
    assert_eq!(list["items"][0]["expires_at"], Value::Null);

    app.db
        .execute(
            "UPDATE api_tokens SET expires_at = now() - interval '1 minute' WHERE id = $1",
            &[&id],
        )
        .await;
    let response = app.with_token(&token).get("/api/v1/me").await;
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    response.problem(401, "token_expired");
}

#[tokio::test]
async fn creating_an_api_token_validates_name_scopes_and_expiry() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let cases = [
        (json!({"name": "x", "scopes": ["write"]}), "scopes"),
        (json!({"name": "x", "scopes": []}), "scopes"),
        (json!({"name": "x", "scopes": ["read", "admin"]}), "scopes"),
        (
            json!({"name": "x", "scopes": ["read"], "expires_in_days": 0}),
            "expires_in_days",
        ),
        (
            json!({"name": "x", "scopes": ["read"], "expires_in_days": 366}),
            "expires_in_days",
        ),
        (json!({"name": "  ", "scopes": ["read"]}), "name"),
    ];
    for (body, field) in cases {
        let problem = user
            .post("/api/v1/me/tokens", &body)
            .await
            .problem(422, "validation_failed");
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
    }
    let list: Value = user.get("/api/v1/me/tokens").await.good();
    assert_eq!(list["items"], json!([]));
}

#[tokio::test]
async fn deleting_an_api_token_revokes_it() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let stranger = app.new_client().await;
    let (id, token) = api_token(&user, &["read"]).await;
    let path = format!("/api/v1/me/tokens/{id}");

    // Someone else cannot see or delete it.
    stranger.delete(&path).await.problem(404, "not_found");
    assert_eq!(app.with_token(&token).get("/api/v1/me").await.status(), 200);

    user.delete(&path).await.no_content();
    let after = app.with_token(&token).get("/api/v1/me").await;
    assert_eq!(after.headers()["www-authenticate"], "Bearer");
    after.problem(401, "unauthenticated");
    user.delete(&path).await.problem(404, "not_found");
    let list: Value = user.get("/api/v1/me/tokens").await.good();
    assert_eq!(list["items"], json!([]));
}

#[tokio::test]
async fn a_read_scoped_api_token_can_read_but_not_write() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let (_, read) = api_token(&user, &["read"]).await;
    let (_, write) = api_token(&user, &["read", "write"]).await;
    let read = app.with_token(&read);
    let write = app.with_token(&write);

    assert_eq!(read.get("/api/v1/me").await.status(), 200);
    let head = read.request(Method::HEAD, "/api/v1/me").await;
    assert_eq!(head.status(), StatusCode::OK);
    read.patch("/api/v1/me", json!({"name": "Read Only"}))
        .await
        .problem(403, "insufficient_scope");
    let me: Value = read.get("/api/v1/me").await.good();
    assert_eq!(me["name"], "Test User");

    let allowed: Value = write
        .patch("/api/v1/me", json!({"name": "Read Write"}))
        .await
        .good();
    assert_eq!(allowed["name"], "Read Write");
}

#[tokio::test]
async fn api_tokens_cannot_manage_tokens_sessions_or_the_password() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let (id, write) = api_token(&user, &["read", "write"]).await;
    let write = app.with_token(&write);
    let attempts = [
        write.post(
            "/api/v1/me/tokens",
            json!({"name": "more", "scopes": ["read"]}),
        ),
        write.get("/api/v1/me/tokens"),
        write.delete(&format!("/api/v1/me/tokens/{id}")),
        write.get("/api/v1/auth/session"),
        write.delete("/api/v1/auth/session"),
        write.put(
            "/api/v1/me/password",
            json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"}),
        ),
    ];
    for attempt in attempts {
        let response = attempt.await;
        let body = response.problem(403, "insufficient_scope");
        assert_eq!(body["status"], 403, "{}", response.what());
    }
    // Nothing happened.
    let tokens: i64 = app
        .db
        .scalar(
            "SELECT count(*) FROM api_tokens WHERE user_id = $1",
            &[&user.id],
        )
        .await;
    assert_eq!(tokens, 1);
    assert_eq!(
        app.password_grant(&user.email, PASSWORD).await.status(),
        200
    );
}

// ---------------------------------------------------------------------------------------------
// Instance administration
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn admins_list_users_page_by_page() {
    let app = spawn_app().await;
    let admin = app.new_client().await;
    let mut expected = vec![admin.id.to_string()];
    for _ in 0..4 {
        expected.push(app.new_user().await.id.to_string());
    }

    let all: Value = admin.get("/api/v1/admin/users").await.good();
    assert_eq!(all["items"].as_array().unwrap().len(), 5);
    assert_eq!(all["next_cursor"], Value::Null);
    assert_user_shape(&all["items"][0]);

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/admin/users?limit=2&cursor={c}"),
            None => "/api/v1/admin/users?limit=2".to_owned(),
        };
        let page: Value = admin.get(&path).await.good();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|u| u["id"].as_str().unwrap().to_owned()));
        pages += 1;
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(pages < 10, "pagination does not end");
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, expected, "every user once, oldest first");

    let first: Value = admin.get("/api/v1/admin/users?limit=2").await.good();
    let mut tampered = first["next_cursor"].as_str().unwrap().to_owned();
    tampered.insert(1, 'x');
    for bad in [
        format!("/api/v1/admin/users?cursor={tampered}"),
        "/api/v1/admin/users?limit=0".to_owned(),
        "/api/v1/admin/users?limit=101".to_owned(),
        "/api/v1/admin/users?limit=many".to_owned(),
    ] {
        admin.get(&bad).await.problem(400, "invalid_query");
    }
}

#[tokio::test]
async fn non_admins_get_403_forbidden_on_admin_endpoints() {
    let app = spawn_app().await;
    let admin = app.new_client().await;
    let user = app.new_client().await;
    user.get("/api/v1/admin/users")
        .await
        .problem(403, "forbidden");
    user.patch(&admin_user_path(user.id), json!({"role": "admin"}))
        .await
        .problem(403, "forbidden");
    user.patch(&admin_user_path(admin.id), json!({"disabled": true}))
        .await
        .problem(403, "forbidden");
    let me: Value = user.get("/api/v1/me").await.good();
    assert_eq!(me["role"], "user");
    let boss: Value = admin.get("/api/v1/me").await.good();
    assert_eq!(boss["disabled"], false);
}

#[tokio::test]
async fn role_changes_take_effect_at_once_whatever_tokens_are_held() {
    let app = spawn_app().await;
    let admin = app.new_client().await;
    let user = app.new_client().await;
    let promoted: Value = admin
        .patch(&admin_user_path(user.id), json!({"role": "admin"}))
        .await
        .good();
    assert_eq!(promoted["role"], "admin");
    assert_user_shape(&promoted);
    // The token issued while they were a plain user now carries admin rights...
    assert_eq!(user.get("/api/v1/admin/users").await.status(), 200);

    // ...and loses them again the moment they are demoted.
    let demoted: Value = admin
        .patch(&admin_user_path(user.id), json!({"role": "user"}))
        .await
        .good();
    assert_eq!(demoted["role"], "user");
    user.get("/api/v1/admin/users")
        .await
        .problem(403, "forbidden");
}

#[tokio::test]
async fn the_last_active_admin_cannot_be_demoted_or_disabled() {
    let app = spawn_app().await;
    let admin = app.new_client().await;
    let path = admin_user_path(admin.id);
    for body in [
        json!({"role": "user"}),
        json!({"disabled": true}),
        json!({"role": "user", "disabled": true}),
    ] {
        admin.patch(&path, &body).await.problem(409, "conflict");
    }
    let me: Value = admin.get("/api/v1/me").await.good();
    assert_eq!(me["role"], "admin");
    assert_eq!(me["disabled"], false);

    // A second admin who is disabled does not count as active.
    let second = app.new_user().await;
    let second_path = admin_user_path(second.id);
    let promote = admin
        .patch(&second_path, json!({"role": "admin", "disabled": true}))
        .await;
    assert_eq!(promote.status(), StatusCode::OK);
    admin
        .patch(&path, json!({"role": "user"}))
        .await
        .problem(409, "conflict");

    // With another active admin, the first may step down.
    let enable = admin.patch(&second_path, json!({"disabled": false})).await;
    assert_eq!(enable.status(), StatusCode::OK);
    let step_down: Value = admin.patch(&path, json!({"role": "user"})).await.good();
    assert_eq!(step_down["role"], "user");
}

#[tokio::test]
async fn admin_patch_rejects_unknown_users_and_bad_values() {
    let app = spawn_app().await;
    let admin = app.new_client().await;
    let user = app.new_user().await;
    admin
        .patch(&admin_user_path(Uuid::now_v7()), json!({"role": "admin"}))
        .await
        .problem(404, "not_found");
    let path = admin_user_path(user.id);
    for (body, field) in [
        (json!({"role": "superuser"}), "role"),
        (json!({"disabled": "yes"}), "disabled"),
        (json!({"email": "new@example.com"}), "email"),
    ] {
        let problem = admin
            .patch(&path, &body)
            .await
            .problem(422, "validation_failed");
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
    }
}

// ---------------------------------------------------------------------------------------------
// Disabled accounts
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_disabled_user_is_cut_off_from_every_credential() {
    let app = spawn_app().await;
    let admin = app.new_client().await;
    let user = app.new_client().await;
    let (cookie, _) = app.session_login(&user.email, PASSWORD).await;
    let (_, api) = api_token(&user, &["read", "write"]).await;

    let disabled: Value = admin
        .patch(&admin_user_path(user.id), json!({"disabled": true}))
        .await
        .good();
    assert_eq!(disabled["disabled"], true);

    app.with_cookie(&cookie)
        .get("/api/v1/me")
        .await
        .problem(403, "account_disabled");
    app.with_token(&api)
        .get("/api/v1/me")
        .await
        .problem(403, "account_disabled");
    // A refused refresh token is not spent: asking again gets the same answer.
    for _ in 0..2 {
        app.refresh_grant(&user.refresh_token)
            .await
            .problem(403, "account_disabled");
    }
    // Access tokens stop at the latest when they expire; here they stop at once.
    let access = user.get("/api/v1/me").await;
    assert!(
        matches!(access.status().as_u16(), 401 | 403),
        "access token of a disabled user: {}",
        access.status()
    );

    // Logging in: a correct password says the account is disabled, a wrong one says nothing.
    app.password_grant(&user.email, PASSWORD)
        .await
        .problem(403, "account_disabled");
    login_session(&app, &user.email, PASSWORD)
        .await
        .problem(403, "account_disabled");
    app.password_grant(&user.email, WRONG_PASSWORD)
        .await
        .problem(401, "invalid_credentials");
}

#[tokio::test]
async fn a_re_enabled_user_can_log_in_again() {
    let app = spawn_app().await;
    let admin = app.new_client().await;
    let user = app.new_user().await;
    let path = admin_user_path(user.id);
    let disable = admin.patch(&path, json!({"disabled": true})).await;
    assert_eq!(disable.status(), StatusCode::OK);
    assert_eq!(
        app.password_grant(&user.email, PASSWORD).await.status(),
        403
    );
    let enabled: Value = admin.patch(&path, json!({"disabled": false})).await.good();
    assert_eq!(enabled["disabled"], false);
    let login: Value = app.password_grant(&user.email, PASSWORD).await.good();
    let token = login["access_token"].as_str().unwrap();
    assert_eq!(app.with_token(token).get("/api/v1/me").await.status(), 200);
}

#[tokio::test]
async fn an_admin_who_disables_themself_is_cut_off_at_once() {
    let app = spawn_app().await;
    let admin = app.new_client().await;
    let other = app.new_client().await;
    let promote = admin
        .patch(&admin_user_path(other.id), json!({"role": "admin"}))
        .await;
    assert_eq!(promote.status(), StatusCode::OK);
    let response = admin
        .patch(&admin_user_path(admin.id), json!({"disabled": true}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let after = admin.get("/api/v1/admin/users").await;
    assert!(
        matches!(after.status().as_u16(), 401 | 403),
        "{}",
        after.status()
    );
    // The remaining admin is now the last active one.
    other
        .patch(&admin_user_path(other.id), json!({"role": "user"}))
        .await
        .problem(409, "conflict");
}

// ---------------------------------------------------------------------------------------------
// Brute-force limits
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn ten_failed_logins_lock_the_account_even_for_the_right_password() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let bystander = app.new_user().await;
    // The limit counts per account and client address (API.md §1): one attacker's address.
    let ip = random_ip();
    for attempt in 0..10 {
        // Varying case and whitespace does not make a fresh account bucket.
        let email = if attempt % 2 == 0 {
            user.email.to_uppercase()
        } else {
            format!(" {} ", user.email)
        };
        app.password_grant_from(&ip, &email, WRONG_PASSWORD)
            .await
            .problem(401, "invalid_credentials");
    }
    let locked = app.password_grant_from(&ip, &user.email, PASSWORD).await;
    let retry_after = locked.retry_after();
    assert!(
        (1..=15 * 60).contains(&retry_after),
        "Retry-After {retry_after}"
    );
    locked.problem(429, "rate_limited");
    app.anon()
        .post(
            "/api/v1/auth/session",
            json!({"email": user.email, "password": PASSWORD}),
        )
        .forwarded_for(&ip)
        .await
        .problem(429, "rate_limited");

    // Another account is not affected, and the locked user's existing tokens still work.
    assert_eq!(
        app.password_grant_from(&ip, &bystander.email, PASSWORD)
            .await
            .status(),
        200
    );
    assert_eq!(user.get("/api/v1/me").await.status(), 200);
    // And the owner, from an address of their own, is not locked out by the attacker's.
    assert_eq!(
        login_session(&app, &user.email, PASSWORD).await.status(),
        200
    );
}

#[tokio::test]
async fn parallel_password_guesses_cannot_exceed_the_account_limit() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let ip = random_ip();
    let responses =
        join_all((0..30).map(|_| app.password_grant_from(&ip, &user.email, WRONG_PASSWORD))).await;
    let mut checked = 0;
    for response in responses {
        match response.status().as_u16() {
            401 => checked += 1,
            _ => {
                response.problem(429, "rate_limited");
            }
        }
    }
    assert!(
        checked <= 10,
        "{checked} passwords were tried against one account"
    );
    // Parallel guesses are refused while two are being checked (API.md §9), so send the rest
    // one by one until the account is locked from that address: never more than ten checked.
    while checked < 10 {
        let response = app
            .password_grant_from(&ip, &user.email, WRONG_PASSWORD)
            .await;
        match response.status().as_u16() {
            401 => checked += 1,
            _ => break,
        }
    }
    app.password_grant_from(&ip, &user.email, PASSWORD)
        .await
        .problem(429, "rate_limited");
}

#[tokio::test]
async fn successful_logins_do_not_count_towards_the_limit() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let ip = random_ip();
    for _ in 0..9 {
        app.password_grant_from(&ip, &user.email, WRONG_PASSWORD)
            .await
            .problem(401, "invalid_credentials");
    }
    for _ in 0..3 {
        assert_eq!(
            app.password_grant_from(&ip, &user.email, PASSWORD)
                .await
                .status(),
            200
        );
    }
    // The tenth failure is still allowed to be checked; only then is the account locked.
    app.password_grant_from(&ip, &user.email, WRONG_PASSWORD)
        .await
        .problem(401, "invalid_credentials");
    app.password_grant_from(&ip, &user.email, PASSWORD)
        .await
        .problem(429, "rate_limited");
}

#[tokio::test]
async fn fifty_failed_logins_from_one_address_lock_that_address() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let ip = random_ip();
    // One at a time: an address may have only two password checks in flight (API.md §9).
    for i in 0..50 {
        let guess = app
            .password_grant_from(&ip, &format!("nobody-{i}@example.com"), WRONG_PASSWORD)
            .await;
        assert_eq!(guess.status(), StatusCode::UNAUTHORIZED);
    }
    let locked = app.password_grant_from(&ip, &user.email, PASSWORD).await;
    assert!(locked.retry_after() >= 1);
    locked.problem(429, "rate_limited");
    // The account itself is fine from elsewhere.
    assert_eq!(
        app.password_grant(&user.email, PASSWORD).await.status(),
        200
    );
}

#[tokio::test]
async fn the_eleventh_registration_from_one_address_within_the_hour_is_429() {
    let app = spawn_app().await;
    let ip = random_ip();
    let register = |i: usize| {
        app.anon()
            .post(
                "/api/v1/auth/register",
                json!({"email": format!("reg-{i}@example.com"), "password": PASSWORD, "name": "R"}),
            )
            .forwarded_for(&ip)
    };
    for i in 0..10 {
        assert_eq!(
            register(i).await.status(),
            StatusCode::CREATED,
            "registration {i}"
        );
    }
    let refused = register(10).await;
    let retry_after = refused.retry_after();
    assert!(
        (1..=3600).contains(&retry_after),
        "Retry-After {retry_after}"
    );
    refused.problem(429, "rate_limited");
    let exists: bool = app
        .db
        .scalar(
            "SELECT EXISTS (SELECT 1 FROM users WHERE email = 'reg-10@example.com')",
            &[],
        )
        .await;
    assert!(!exists);
    // Another address may still register.
    assert_eq!(
        app.register("elsewhere@example.com", PASSWORD, "E")
            .await
            .status(),
        201
    );
}

#[tokio::test]
async fn a_burst_of_registrations_from_one_address_cannot_exceed_the_limit() {
    let app = spawn_app().await;
    let ip = random_ip();
    let responses = join_all((0..25).map(|i| {
        app.anon()
            .post(
                "/api/v1/auth/register",
                json!({"email": format!("burst-{i}@example.com"), "password": PASSWORD, "name": "B"}),
            )
            .forwarded_for(&ip)
            .send()
    }))
    .await;
    let created = responses
        .iter()
        .filter(|r| r.status() == StatusCode::CREATED)
        .count();
    assert!(created <= 10, "{created} registrations from one address");
    let count: i64 = app.db.scalar("SELECT count(*) FROM users", &[]).await;
    assert_eq!(count as usize, created);
}

// ---------------------------------------------------------------------------------------------
// Request rate limits
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn authenticated_responses_carry_the_rate_limit_fields() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let response = user.get("/api/v1/me").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["ratelimit-policy"],
        "\"default\";q=600;w=60"
    );
    let (remaining, reset) = rate_limit_state(&response);
    assert!(remaining < 600, "remaining {remaining}");
    assert!((1..=60).contains(&reset), "t={reset}");

    let next = user.get("/api/v1/me").await;
    let (next_remaining, _) = rate_limit_state(&next);
    assert!(
        next_remaining < remaining || next_remaining >= 598,
        "a new window may have begun"
    );

    // A request that fails after authenticating carries them too.
    let refused = user.patch("/api/v1/me", json!({"name": ""})).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.headers().contains_key("ratelimit-policy"));
    assert!(refused.headers().contains_key("ratelimit"));
}

#[tokio::test]
async fn the_request_after_the_per_minute_limit_is_429() {
    let app = TestApp::build()
        .config(|a| a.rate_limit_per_minute = Some("3".into()))
        .spawn()
        .await;
    let user = app.new_client().await;
    let other = app.new_client().await;
    let mut first = user.get("/api/v1/me").await;
    let (_, reset) = rate_limit_state(&first);
    if reset < 3 {
        // Too close to the end of the window for four quick requests to share it.
        tokio::time::sleep(Duration::from_secs(reset + 1)).await;
        first = user.get("/api/v1/me").await;
    }
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(first.headers()["ratelimit-policy"], "\"default\";q=3;w=60");
    assert_eq!(rate_limit_state(&first).0, 2);
    for expected in [1, 0] {
        let response = user.get("/api/v1/me").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(rate_limit_state(&response).0, expected);
    }
    let limited = user.get("/api/v1/me").await;
    let retry_after = limited.retry_after();
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(
        limited.headers()["ratelimit-policy"],
        "\"default\";q=3;w=60"
    );
    assert_eq!(rate_limit_state(&limited).0, 0);
    limited.problem(429, "rate_limited");

    // The limit is per principal.
    assert_eq!(other.get("/api/v1/me").await.status(), 200);
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn assert_user_shape(user: &Value) {
    let mut keys: Vec<&str> = user
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "created_at",
            "disabled",
            "email",
            "email_notifications",
            "id",
            "name",
            "role",
            "second_factor"
        ],
        "{user}"
    );
    assert!(
        user["created_at"].as_str().unwrap().ends_with('Z'),
        "{user}"
    );
    parse_time(&user["created_at"]);
    let id: Uuid = user["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(id.get_version_num(), 7);
}

fn parse_time(value: &Value) -> chrono::DateTime<chrono::Utc> {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not a timestamp: {value}"));
    assert!(text.ends_with('Z'), "{text}");
    chrono::DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

fn without_request_id(mut problem: Value) -> Value {
    problem.as_object_mut().unwrap().remove("request_id");
    problem
}

fn set_cookie(response: &TestResponse) -> String {
    response
        .header("set-cookie")
        .expect("a Set-Cookie header")
        .to_owned()
}

fn admin_user_path(user: Uuid) -> String {
    format!("/api/v1/admin/users/{user}")
}

/// A cookie-session login from a random client address.
async fn login_session(app: &TestApp, email: &str, password: &str) -> TestResponse {
    app.anon()
        .post(
            "/api/v1/auth/session",
            json!({"email": email, "password": password}),
        )
        .forwarded_for(random_ip())
        .await
}

async fn session_count(app: &TestApp, user_id: Uuid) -> i64 {
    app.db
        .scalar(
            "SELECT count(*) FROM sessions WHERE user_id = $1",
            &[&user_id],
        )
        .await
}

/// Creates an API token for `user`; returns its id and secret.
async fn api_token(user: &UserClient<'_>, scopes: &[&str]) -> (Uuid, String) {
    let body: Value = user
        .post(
            "/api/v1/me/tokens",
            json!({"name": "test", "scopes": scopes}),
        )
        .await
        .created();
    (
        body["id"].as_str().unwrap().parse().unwrap(),
        body["token"].as_str().unwrap().to_owned(),
    )
}

/// The key id the server derives from a secret: hex of the first 8 bytes of its SHA-256.
fn kid_of(secret: &str) -> String {
    hex::encode(&Sha256::digest(secret.as_bytes())[..8])
}

fn sign_jwt(secret: &str, kid: Option<String>, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = kid;
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// The payload of a JWT, unverified.
fn jwt_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// `RateLimit: "default";r=<remaining>;t=<reset>` → (remaining, reset).
fn rate_limit_state(response: &TestResponse) -> (u64, u64) {
    let value = response.header("ratelimit").expect("a RateLimit header");
    let mut parts = value.split(';');
    assert_eq!(parts.next(), Some("\"default\""), "{value}");
    let mut field = |name: &str| -> u64 {
        let part = parts.next().unwrap_or_else(|| panic!("{value}"));
        part.strip_prefix(name)
            .and_then(|v| v.strip_prefix('='))
            .unwrap_or_else(|| panic!("{value}"))
            .parse()
            .unwrap()
    };
    let remaining = field("r");
    let reset = field("t");
    (remaining, reset)
}

#[tokio::test]
async fn the_request_limit_is_shared_by_every_instance() {
    let first = TestApp::build()
        .config(|a| a.rate_limit_per_minute = Some("6".into()))
        .spawn()
        .await;
    let second = TestApp::build()
        .on(&first.database_url)
        .config(|a| a.rate_limit_per_minute = Some("6".into()))
        .spawn()
        .await;
    let user = first.new_user().await;
    // Stay clear of a window boundary: the test needs one window.
    let into_minute = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        % 60;
    if into_minute > 50 {
        tokio::time::sleep(std::time::Duration::from_secs(61 - into_minute)).await;
    }
    for _ in 0..4 {
        let response = first.as_user(&user).get("/api/v1/me").await;
        assert_eq!(response.status(), 200);
    }
    // Twice the sync interval: both instances have shared their counts.
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(
            second
                .as_user(&user)
                .get("/api/v1/me")
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(
        statuses,
        [200, 200, 429, 429],
        "6 a minute over both instances"
    );
}

#[tokio::test]
async fn disabling_a_user_on_one_instance_cuts_their_access_token_off_on_another() {
    let first = spawn_app().await;
    let second = TestApp::build().on(&first.database_url).spawn().await;
    let admin = first.new_client().await;
    let user = first.new_user().await;
    let user_on_second = second.as_user(&user);
    // Warm the other instance's principal cache with this token.
    for _ in 0..3 {
        let response = user_on_second.get("/api/v1/me").await;
        assert_eq!(response.status(), 200);
    }
    let response = admin
        .patch(&admin_user_path(user.id), json!({"disabled": true}))
        .await;
    assert_eq!(response.status(), 200);
    let started = std::time::Instant::now();
    loop {
        let response = user_on_second.get("/api/v1/me").await;
        if response.status() == 403 {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_millis(500),
            "the other instance still accepts the disabled user's token"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    eprintln!("cut off after {:?}", started.elapsed());
}
