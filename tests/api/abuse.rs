//! API.md §9 rules that need the database: quotas, caps on live credentials, and a refresh
//! racing a revocation.

use serde_json::{json, Value};

use crate::helpers::*;

/// A refresh and a revocation of the same login, sent together many times: whichever wins,
/// nothing of that login works afterwards — not the successor refresh token, not the access
/// token that came with it.
#[tokio::test]
async fn a_refresh_racing_a_revocation_leaves_no_live_token() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    for round in 0..25 {
        let login: Value = app.password_grant(&user.email, &user.password).await.good();
        let token = login["refresh_token"].as_str().unwrap().to_owned();
        let revoke = app
            .anon()
            .post("/api/v1/auth/token/revoke", json!({"token": token}));
        let (refreshed, revoked) = tokio::join!(app.refresh_grant(&token), revoke);
        assert_eq!(revoked.status(), 200);
        if refreshed.status() != 200 {
            continue;
        }
        let successor: Value = refreshed.good();
        let next = app
            .refresh_grant(successor["refresh_token"].as_str().unwrap())
            .await;
        assert_eq!(
            next.status(),
            401,
            "round {round}: the successor of a revoked login still refreshes"
        );
        let me = app
            .with_token(successor["access_token"].as_str().unwrap())
            .get("/api/v1/me")
            .await;
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
    let user = app.new_client().await;
    for i in 0..50 {
        let response = user
            .post(
                "/api/v1/me/tokens",
                json!({"name": format!("t{i}"), "scopes": ["read"]}),
            )
            .await;
        assert_eq!(response.status(), 201, "token {i}");
    }
    let problem = user
        .post(
            "/api/v1/me/tokens",
            json!({"name": "one too many", "scopes": ["read"]}),
        )
        .await
        .problem(422, "quota_exceeded");
    assert!(problem["detail"].as_str().unwrap().contains("50"));
    // Revoking one makes room again.
    let tokens: Value = user.get("/api/v1/me/tokens").await.good();
    let id = tokens["items"][0]["id"].as_str().unwrap();
    let deleted = user.delete(&format!("/api/v1/me/tokens/{id}")).await;
    assert_eq!(deleted.status(), 204);
    let again = user
        .post(
            "/api/v1/me/tokens",
            json!({"name": "room again", "scopes": ["read"]}),
        )
        .await;
    assert_eq!(again.status(), 201);
}

#[tokio::test]
async fn projects_stop_at_a_thousand_per_user() {
    let app = spawn_app().await;
    let user = app.new_client().await;
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
    let thousandth = user.post("/api/v1/projects", json!({"name": "1000"})).await;
    assert_eq!(thousandth.status(), 201);
    let problem = user
        .post("/api/v1/projects", json!({"name": "1001"}))
        .await
        .problem(422, "quota_exceeded");
    assert!(problem["detail"].as_str().unwrap().contains("1000"));
    // The Inbox does not count, and other users are not affected.
    let other = app.new_client().await;
    let theirs = other
        .post("/api/v1/projects", json!({"name": "mine"}))
        .await;
    assert_eq!(theirs.status(), 201);
}

#[tokio::test]
async fn tasks_stop_at_a_hundred_thousand_per_project() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let project = user.create_project("Full").await;
    let first = user
        .create_task(project.id, json!({"title": "the one real task"}))
        .await;
    // Pretend the other 99,999 exist: the quota reads the project's count.
    app.db
        .execute(
            "UPDATE projects SET task_count = 100000 WHERE id = $1",
            &[&project.id],
        )
        .await;
    let problem = user
        .post(&tasks_path(project.id), json!({"title": "one too many"}))
        .await
        .problem(422, "quota_exceeded");
    assert!(problem["detail"].as_str().unwrap().contains("100000"));
    // Nothing was taken: the next number is still 2 once there is room.
    let deleted = user.delete(&task_path(first.id)).await;
    assert_eq!(deleted.status(), 204);
    let fits = user
        .create_task(project.id, json!({"title": "fits again"}))
        .await;
    assert_eq!(fits.number, 2);
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
    let me = app.with_cookie(&cookie).get("/api/v1/me").await;
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
    assert_eq!(app.refresh_grant(&user.refresh_token).await.status(), 200);
}

/// The operator's `DOCKET_GITHUB_TOKEN` reads what the operator can: only an instance admin may
/// link a repository without a token of their own (API.md §5).
#[tokio::test]
async fn only_instance_admins_may_link_with_the_servers_github_token() {
    let app = TestApp::build()
        .config(|args| {
            args.github_api_url = Some("http://127.0.0.1:9".into());
            args.github_token = Some("operator-token".into());
        })
        .spawn()
        .await;
    let admin = app.new_client().await; // the first user of an instance is its admin
    let user = app.new_client().await;
    let project = user.create_project("Mine").await;
    let link = format!("{}/github", project_path(project.id));
    let problem = user
        .put(&link, json!({"repository": "acme/private"}))
        .await
        .problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "token");
    assert_eq!(problem["errors"][0]["code"], "required");
    let none: i64 = app
        .db
        .scalar("SELECT count(*) FROM github_links", &[])
        .await;
    assert_eq!(none, 0, "nothing was linked");
    // With a token of their own they may.
    let own = user
        .put(
            &link,
            json!({"repository": "acme/public", "token": "ghp_their_own"}),
        )
        .await;
    assert_eq!(own.status(), 201);
    // An admin's own project may use the server's token.
    let admins = admin.create_project("Ops").await;
    let linked = admin
        .put(
            &format!("{}/github", project_path(admins.id)),
            json!({"repository": "acme/infra"}),
        )
        .await;
    assert_eq!(linked.status(), 201);
}

// ---------------------------------------------------------------------------------------------
// Failed password checks (API.md §1) and the hashing resource (§9)
// ---------------------------------------------------------------------------------------------

const WRONG: &str = "not the right passphrase";

async fn change_password_from(app: &TestApp, ip: &str, token: &str, current: &str) -> TestResponse {
    app.with_token(token)
        .put(
            "/api/v1/me/password",
            json!({"current_password": current, "new_password": "a brand new passphrase 9"}),
        )
        .forwarded_for(ip)
        .await
}

/// A wrong `current_password` is a failed password check: ten from one address and the
/// eleventh is refused before any hashing, even with the right password.
#[tokio::test]
async fn wrong_current_passwords_count_like_wrong_logins() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let ip = random_ip();
    for i in 0..10 {
        let problem = change_password_from(&app, &ip, &user.token, WRONG)
            .await
            .problem(422, "validation_failed");
        assert_eq!(problem["errors"][0]["field"], "current_password", "try {i}");
    }
    change_password_from(&app, &ip, &user.token, PASSWORD)
        .await
        .problem(429, "rate_limited");
    // The same counter guards logins from that address...
    app.password_grant_from(&ip, &user.email, PASSWORD)
        .await
        .problem(429, "rate_limited");
    // ...but not the owner elsewhere.
    let elsewhere = change_password_from(&app, &random_ip(), &user.token, PASSWORD).await;
    assert_eq!(elsewhere.status(), 204);
}

/// An IPv6 client counts by its /64: addresses inside one /64 share a bucket.
#[tokio::test]
async fn ipv6_clients_count_by_their_slash_64() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    for i in 1..=10 {
        let ip = format!("2001:db8:7:7::{i:x}");
        app.password_grant_from(&ip, &user.email, WRONG)
            .await
            .problem(401, "invalid_credentials");
    }
    app.password_grant_from("2001:db8:7:7:ffff::1", &user.email, PASSWORD)
        .await
        .problem(429, "rate_limited");
    let other_64 = app
        .password_grant_from("2001:db8:7:8::1", &user.email, PASSWORD)
        .await;
    assert_eq!(other_64.status(), 200);
}

/// Per account across every address: 100 failures in an hour lock the account everywhere
/// (the OWASP ASVS ceiling), counted in the database that every instance shares.
#[tokio::test]
async fn a_hundred_failures_from_many_addresses_lock_the_account_everywhere() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    // 99 failures from 33 addresses, recorded as the server records them (hashing 99 wrong
    // passwords would only slow the test), then the hundredth through the API.
    app.db
        .execute(
            "INSERT INTO auth_attempts (bucket, attempted_at) \
             SELECT 'password:account:' || $1::uuid::text, now() - make_interval(secs => i) \
             FROM generate_series(1, 99) i",
            &[&user.id],
        )
        .await;
    app.password_grant_from(&random_ip(), &user.email, WRONG)
        .await
        .problem(401, "invalid_credentials");
    let fresh_address = app
        .password_grant_from(&random_ip(), &user.email, PASSWORD)
        .await;
    let retry = fresh_address.retry_after();
    assert!(retry > 15 * 60 && retry <= 3600, "Retry-After {retry}");
    fresh_address.problem(429, "rate_limited");
}

/// One client address has at most two password checks queued or running.
#[tokio::test]
async fn one_address_may_have_two_password_checks_in_flight() {
    let app = spawn_app().await;
    let ip = random_ip();
    let guesses = (0..10).map(|i| {
        app.anon()
            .post(
                "/api/v1/auth/token",
                json!({
                    "grant_type": "password",
                    "email": format!("nobody-{i}@example.com"),
                    "password": WRONG,
                }),
            )
            .forwarded_for(&ip)
            .send()
    });
    let mut refused = 0;
    let mut checked = 0;
    for response in futures::future::join_all(guesses).await {
        match response.status().as_u16() {
            401 => checked += 1,
            429 => refused += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert!(
        checked >= 1 && refused >= 1,
        "{checked} checked, {refused} refused"
    );
}

/// A hash that cannot start within the deadline is refused with 503 and Retry-After.
#[tokio::test]
async fn a_hash_that_cannot_start_in_time_is_503() {
    let url = create_test_database().await;
    let mut tuning = fast_tuning();
    tuning.hash_start_deadline = std::time::Duration::from_millis(1);
    let app = TestApp::build().on(&url).tuning(tuning).spawn().await;
    let logins = (0..8).map(|i| {
        app.anon()
            .post(
                "/api/v1/auth/token",
                json!({
                    "grant_type": "password",
                    "email": format!("nobody-{i}@example.com"),
                    "password": WRONG,
                }),
            )
            .forwarded_for(random_ip())
            .send()
    });
    let mut unavailable = 0;
    for response in futures::future::join_all(logins).await {
        if response.status() == 503 {
            assert!(response.headers().contains_key("retry-after"));
            response.problem(503, "unavailable");
            unavailable += 1;
        } else {
            assert_eq!(response.status(), 401);
        }
    }
    assert!(unavailable >= 1, "every hash started at once");
}

/// Four accounts flooding wrong password changes do not make a fifth user's login wait: their
/// guesses are refused before hashing once over the limits, and at most two per address wait
/// for the hasher. (Before these limits, each wrong guess was an unlimited hash in one queue.)
#[tokio::test]
async fn a_flood_of_wrong_password_changes_does_not_stall_other_logins() {
    let app = spawn_app().await;
    let victim = app.new_user().await;
    let mut attackers = Vec::new();
    for _ in 0..4 {
        attackers.push(app.new_user().await);
    }
    let started = std::time::Instant::now();
    let flood = attackers.iter().map(|attacker| {
        let app = &app;
        async move {
            let ip = random_ip();
            let mut sent = 0;
            // Four in flight per account, for at most 6 s or 120 requests.
            while sent < 120 && started.elapsed() < std::time::Duration::from_secs(6) {
                let batch = (0..4).map(|_| change_password_from(app, &ip, &attacker.token, WRONG));
                futures::future::join_all(batch).await;
                sent += 4;
            }
        }
    });
    let probe = async {
        let mut worst = std::time::Duration::ZERO;
        for _ in 0..10 {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            let at = std::time::Instant::now();
            let response = app.password_grant(&victim.email, PASSWORD).await;
            assert_eq!(response.status(), 200);
            worst = worst.max(at.elapsed());
        }
        worst
    };
    let (_, worst) = tokio::join!(futures::future::join_all(flood), probe);
    println!("fifth user's slowest login during the flood: {worst:?}");
    assert!(
        worst < std::time::Duration::from_secs(3),
        "a login took {worst:?} during the flood"
    );
}

// ---------------------------------------------------------------------------------------------
// Work before authentication (API.md §9)
// ---------------------------------------------------------------------------------------------

/// Refresh grants, revocations and unknown API tokens reach the database before the caller is
/// known; one address gets 300 a minute, then 429.
#[tokio::test]
async fn pre_authentication_requests_are_limited_per_address() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let ip = random_ip();
    let anon = app.anon();
    for i in 0..300 {
        let response = match i % 3 {
            0 => {
                anon.post(
                    "/api/v1/auth/token",
                    json!({"grant_type": "refresh_token", "refresh_token": format!("junk-{i}")}),
                )
                .forwarded_for(&ip)
                .await
            }
            1 => {
                anon.post(
                    "/api/v1/auth/token/revoke",
                    json!({"token": format!("junk-{i}")}),
                )
                .forwarded_for(&ip)
                .await
            }
            _ => {
                app.with_token(&format!("dkt_random{i}"))
                    .get("/api/v1/me")
                    .forwarded_for(&ip)
                    .await
            }
        };
        assert_ne!(response.status(), 429, "request {i}");
    }
    app.with_token("dkt_one_more")
        .get("/api/v1/me")
        .forwarded_for(&ip)
        .await
        .problem(429, "rate_limited");
    let refresh = json!({"grant_type": "refresh_token", "refresh_token": user.refresh_token});
    anon.post("/api/v1/auth/token", &refresh)
        .forwarded_for(&ip)
        .await
        .problem(429, "rate_limited");
    // Other addresses, and authenticated callers with a valid JWT, are unaffected.
    let other = anon
        .post("/api/v1/auth/token", &refresh)
        .forwarded_for(random_ip())
        .await;
    assert_eq!(other.status(), 200);
    let me = app
        .as_user(&user)
        .get("/api/v1/me")
        .forwarded_for(&ip)
        .await;
    assert_eq!(me.status(), 200);
}

/// Someone at an office's address floods it with bogus cookies and API tokens (API.md §9):
/// their lookups are refused past the limit, but every valid session, access token and API
/// token from the same address still works, reads and writes.
#[tokio::test]
async fn others_failed_lookups_never_refuse_a_valid_credential_from_the_same_address() {
    let app = spawn_app().await;
    let colleague = app.new_client().await;
    let project = colleague.create_project("Office").await.id;
    let (cookie, csrf) = app
        .session_login(&colleague.email, &colleague.password)
        .await;
    let api_token: Value = colleague
        .post(
            "/api/v1/me/tokens",
            json!({"name": "ci", "scopes": ["read", "write"]}),
        )
        .await
        .created();
    let api_token = api_token["token"].as_str().unwrap().to_owned();
    let office = random_ip();

    // 300 failed lookups a minute is the address's allowance; the flood goes past it.
    for i in 0..300 {
        let bogus = if i % 2 == 0 {
            app.anon()
                .get("/api/v1/me")
                .header("cookie", format!("docket_session=bogus{i}"))
        } else {
            app.with_token(&format!("dkt_bogus{i}")).get("/api/v1/me")
        };
        let status = bogus.header("x-forwarded-for", &office).await.status();
        assert_eq!(status, 401, "failed lookup {i}");
    }
    for bogus in [
        app.anon()
            .get("/api/v1/me")
            .header("cookie", "docket_session=one-more"),
        app.with_token("dkt_one_more").get("/api/v1/me"),
    ] {
        bogus
            .header("x-forwarded-for", &office)
            .await
            .problem(429, "rate_limited");
    }

    // The colleague's credentials, from the same address: a read and a write each.
    let session = app.with_session(&cookie, &csrf);
    let token = app.with_token(&api_token);
    let answers = [
        session
            .get("/api/v1/me")
            .header("x-forwarded-for", &office)
            .await,
        session
            .post(&tasks_path(project), json!({"title": "by session"}))
            .header("x-forwarded-for", &office)
            .await,
        token
            .get("/api/v1/me")
            .header("x-forwarded-for", &office)
            .await,
        token
            .post(&tasks_path(project), json!({"title": "by API token"}))
            .header("x-forwarded-for", &office)
            .await,
        colleague
            .get("/api/v1/me")
            .header("x-forwarded-for", &office)
            .await,
        colleague
            .post(&tasks_path(project), json!({"title": "by access token"}))
            .header("x-forwarded-for", &office)
            .await,
    ];
    for response in &answers {
        assert!(
            response.status().is_success(),
            "{}: {} {}",
            response.what(),
            response.status(),
            response.text()
        );
    }
    // And the flood is still refused afterwards.
    app.with_token("dkt_still_bogus")
        .get("/api/v1/me")
        .header("x-forwarded-for", &office)
        .await
        .problem(429, "rate_limited");
}

// ---------------------------------------------------------------------------------------------
// A notification channel that dies silently (API.md §9)
// ---------------------------------------------------------------------------------------------

/// A TCP proxy to the test cluster's socket that can go silent: it keeps the connections open
/// but stops passing bytes either way, as a broken network path would.
struct SilentableProxy {
    port: u16,
    silent: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

async fn silentable_proxy() -> SilentableProxy {
    use std::sync::atomic::{AtomicBool, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = std::sync::Arc::new(AtomicBool::new(false));
    let socket = cluster().postgres.socket_dir().join(".s.PGSQL.5432");
    let flag = silent.clone();
    tokio::spawn(async move {
        loop {
            let Ok((client, _)) = listener.accept().await else {
                return;
            };
            let Ok(server) = tokio::net::UnixStream::connect(&socket).await else {
                continue;
            };
            let (mut client_read, mut client_write) = client.into_split();
            let (mut server_read, mut server_write) = server.into_split();
            let (up, down) = (flag.clone(), flag.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                while let Ok(n) = client_read.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    if !up.load(Ordering::Relaxed)
                        && server_write.write_all(&buf[..n]).await.is_err()
                    {
                        break;
                    }
                }
            });
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                while let Ok(n) = server_read.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    if !down.load(Ordering::Relaxed)
                        && client_write.write_all(&buf[..n]).await.is_err()
                    {
                        break;
                    }
                }
            });
        }
    });
    SilentableProxy { port, silent }
}

#[tokio::test]
async fn a_silently_dead_notification_channel_does_not_keep_a_disabled_user_in() {
    let first = spawn_app().await;
    let proxy = silentable_proxy().await;
    let name = database_name(&first.database_url);
    let listen = format!("postgresql://docket@127.0.0.1:{}/{name}", proxy.port);
    let second = TestApp::build()
        .on(&first.database_url)
        .config(move |args| {
            args.database_listen_url = Some(listen);
        })
        .spawn()
        .await;
    let admin = first.new_client().await;
    let user = first.new_user().await;
    let user_on_second = second.as_user(&user);
    // The second instance is listening through the proxy and caching this user.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    for _ in 0..3 {
        let response = user_on_second.get("/api/v1/me").await;
        assert_eq!(response.status(), 200);
    }
    // The path to the second instance's listener goes quiet without closing.
    proxy
        .silent
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let response = admin
        .patch(
            &format!("/api/v1/admin/users/{}", user.id),
            json!({"disabled": true}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let started = std::time::Instant::now();
    loop {
        let response = user_on_second.get("/api/v1/me").await;
        if response.status() == 403 {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "a disabled user's cached token still works on an instance whose channel died"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    println!(
        "cut off after {:?} with a silent channel",
        started.elapsed()
    );
}

/// Every statement has DOCKET_DB_STATEMENT_TIMEOUT_MS: a request stuck behind a lock is
/// cancelled and answered 503, and the connection serves the next request.
#[tokio::test]
async fn a_statement_over_the_timeout_is_cancelled_and_the_request_is_503() {
    let app = TestApp::build()
        .config(|args| {
            args.db_statement_timeout_ms = Some("300".into());
        })
        .spawn()
        .await;
    let user = app.new_client().await;
    let id = user.create_project("Locked").await.id;
    // Another session holds the project's row lock and does not let go.
    let holder = connect_db(&app.database_url).await;
    holder
        .batch(&format!(
            "BEGIN; SELECT 1 FROM projects WHERE id = '{id}' FOR UPDATE"
        ))
        .await;
    let started = std::time::Instant::now();
    let response = user
        .patch(&project_path(id), json!({"name": "Renamed"}))
        .await;
    let waited = started.elapsed();
    assert!(response.headers().contains_key("retry-after"));
    response.problem(503, "unavailable");
    assert!(
        waited < std::time::Duration::from_secs(3),
        "waited {waited:?}"
    );
    holder.batch("ROLLBACK").await;
    let renamed = user
        .patch(&project_path(id), json!({"name": "Renamed"}))
        .await;
    assert_eq!(renamed.status(), 200);
}
