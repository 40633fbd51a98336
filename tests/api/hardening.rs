//! Hostile clients (API.md §9): connections, headers, bounded answers, metrics, client
//! addresses. Black-box: raw sockets where HTTP clients would hide the behaviour.

use std::time::{Duration, Instant};

use axum::routing::get;
use docket::http::server::ConnectionLimits;
use docket::server::Tuning;
use reqwest::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

fn short_limits() -> Tuning {
    Tuning {
        connections: ConnectionLimits {
            header_read_timeout: Duration::from_millis(600),
            idle_timeout: Duration::from_millis(1500),
            handler_timeout: Duration::from_millis(400),
        },
        ..fast_tuning()
    }
}

async fn spawn_with(
    tuning: Tuning,
    customize: impl FnOnce(&mut docket::config::ConfigArgs),
) -> TestApp {
    let routes = axum::Router::new().route(
        "/api/v1/test/stall",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            "too late"
        }),
    );
    TestApp::build()
        .config(customize)
        .routes(routes)
        .tuning(tuning)
        .spawn()
        .await
}

fn socket_address(app: &TestApp) -> String {
    app.address.trim_start_matches("http://").to_owned()
}

/// Reads one response (headers and a `Content-Length` body) from a kept-alive connection.
async fn read_response(stream: &mut TcpStream) -> String {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).to_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map(|v| v.trim().parse().unwrap())
                .unwrap_or(0);
            if buffer.len() >= end + 4 + length {
                return String::from_utf8_lossy(&buffer[..end + 4 + length]).into_owned();
            }
        }
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut chunk))
            .await
            .expect("a response within 5 s")
            .unwrap();
        assert!(n > 0, "closed before a whole response: {buffer:?}");
        buffer.extend_from_slice(&chunk[..n]);
    }
}

/// Waits (at most `within`) for the server to close the connection; returns how long it took.
async fn time_until_closed(stream: &mut TcpStream, within: Duration) -> Duration {
    let started = Instant::now();
    let mut chunk = [0u8; 1024];
    loop {
        match tokio::time::timeout(within, stream.read(&mut chunk)).await {
            Err(_) => panic!("still open after {within:?}"),
            Ok(Ok(0)) | Ok(Err(_)) => return started.elapsed(),
            Ok(Ok(_)) => continue,
        }
    }
}

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: docket\r\n\r\n";

#[tokio::test]
async fn a_connection_trickling_its_headers_is_closed_at_the_header_deadline() {
    let app = spawn_with(short_limits(), |_| {}).await;
    let mut stream = TcpStream::connect(socket_address(&app)).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: docket\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    // One header line every 100 ms, never the blank line that ends them.
    let closed = loop {
        if stream.write_all(b"X-Trickle: 1\r\n").await.is_err() {
            break started.elapsed();
        }
        let mut byte = [0u8; 1];
        match tokio::time::timeout(Duration::from_millis(100), stream.read(&mut byte)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break started.elapsed(),
            Ok(Ok(_)) => panic!("the server answered headers that never ended"),
            Err(_) => {}
        }
        assert!(started.elapsed() < Duration::from_secs(5), "never closed");
    };
    assert!(
        closed >= Duration::from_millis(500) && closed < Duration::from_secs(2),
        "closed after {closed:?}, the deadline is 600 ms"
    );
    // A connection that sends nothing at all is closed too.
    let mut silent = TcpStream::connect(socket_address(&app)).await.unwrap();
    let after = time_until_closed(&mut silent, Duration::from_secs(5)).await;
    assert!(after < Duration::from_secs(2), "{after:?}");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_lives_past_the_header_deadline_then_closes() {
    let app = spawn_with(short_limits(), |_| {}).await;
    let mut stream = TcpStream::connect(socket_address(&app)).await.unwrap();
    stream.write_all(HEALTHZ).await.unwrap();
    assert!(read_response(&mut stream).await.starts_with("HTTP/1.1 200"));
    // Idle for longer than the header deadline (600 ms) but not the idle one (1.5 s): a
    // kept-alive connection between requests is not a slow request.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    stream.write_all(HEALTHZ).await.unwrap();
    assert!(read_response(&mut stream).await.starts_with("HTTP/1.1 200"));
    let idle = time_until_closed(&mut stream, Duration::from_secs(6)).await;
    assert!(
        idle >= Duration::from_millis(1300) && idle < Duration::from_secs(4),
        "closed after {idle:?} idle, the limit is 1.5 s"
    );
}

#[tokio::test]
async fn past_the_connection_limit_new_connections_are_closed_at_once() {
    let app = spawn_with(short_limits(), |args| {
        args.max_connections = Some("3".to_owned());
    })
    .await;
    let mut open = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(socket_address(&app)).await.unwrap();
        stream.write_all(HEALTHZ).await.unwrap();
        assert!(read_response(&mut stream).await.starts_with("HTTP/1.1 200"));
        open.push(stream);
    }
    let mut refused = TcpStream::connect(socket_address(&app)).await.unwrap();
    let _ = refused.write_all(HEALTHZ).await;
    let closed = time_until_closed(&mut refused, Duration::from_secs(2)).await;
    assert!(closed < Duration::from_millis(500), "{closed:?}");

    // A slot freed is a slot for the next client.
    drop(open.pop());
    let started = Instant::now();
    loop {
        let mut stream = TcpStream::connect(socket_address(&app)).await.unwrap();
        stream.write_all(HEALTHZ).await.unwrap();
        let mut head = [0u8; 12];
        if tokio::time::timeout(Duration::from_secs(1), stream.read_exact(&mut head))
            .await
            .is_ok_and(|r| r.is_ok())
        {
            assert_eq!(&head, b"HTTP/1.1 200");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "the freed slot was never reused"
        );
    }
}

#[tokio::test]
async fn a_handler_running_past_its_deadline_gets_503() {
    let app = spawn_with(short_limits(), |_| {}).await;
    let started = Instant::now();
    let response = app.anon().get("/api/v1/test/stall").await;
    let elapsed = started.elapsed();
    assert!(response.headers().contains_key("retry-after"));
    response.problem(503, "unavailable");
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let check_common = |response: &TestResponse| {
        let headers = response.headers();
        assert_eq!(
            headers["x-content-type-options"],
            "nosniff",
            "{}",
            response.what()
        );
        assert_eq!(
            headers["referrer-policy"],
            "no-referrer",
            "{}",
            response.what()
        );
        assert_eq!(
            headers["content-security-policy"],
            "default-src 'none'; frame-ancestors 'none'",
            "{}",
            response.what()
        );
    };
    // Unauthenticated, no credential: no Cache-Control demanded.
    let healthz = app.anon().get("/healthz").await;
    check_common(&healthz);
    let problem = app.anon().get("/api/v1/nowhere").await;
    check_common(&problem);
    assert_eq!(problem.status(), 404);
    // Authenticated responses, and those that hand out credentials, are never stored.
    let me = user.get("/api/v1/me").await;
    check_common(&me);
    assert_eq!(me.headers()["cache-control"], "no-store");
    let token = app.password_grant(&user.email, &user.password).await;
    assert_eq!(token.status(), 200);
    check_common(&token);
    assert_eq!(token.headers()["cache-control"], "no-store");
    let created = user
        .post(
            "/api/v1/me/tokens",
            json!({"name": "ci", "scopes": ["read"]}),
        )
        .await;
    assert_eq!(created.status(), 201);
    assert_eq!(created.headers()["cache-control"], "no-store");
    let login = app
        .anon()
        .post(
            "/api/v1/auth/session",
            json!({"email": user.email, "password": user.password}),
        )
        .forwarded_for(random_ip())
        .await;
    assert_eq!(login.status(), 200);
    assert_eq!(login.headers()["cache-control"], "no-store");
    // A failed login with the wrong password: a problem, still with the headers.
    let refused = app
        .anon()
        .post(
            "/api/v1/auth/session",
            json!({"email": user.email, "password": "wrong password here"}),
        )
        .forwarded_for(random_ip())
        .await;
    check_common(&refused);
    assert_eq!(refused.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn over_https_the_session_cookie_is_host_prefixed_and_works() {
    let app = TestApp::build()
        .config(|args| {
            args.public_url = Some("https://docket.example.com".to_owned());
        })
        .spawn()
        .await;
    let user = app.new_user().await;
    let response = app
        .anon()
        .post(
            "/api/v1/auth/session",
            json!({"email": user.email, "password": user.password}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let cookie = response.header("set-cookie").unwrap().to_owned();
    assert!(cookie.starts_with("__Host-docket_session="), "{cookie}");
    let attributes: Vec<&str> = cookie.split(';').map(str::trim).collect();
    assert!(attributes.contains(&"Secure"), "{cookie}");
    assert!(attributes.contains(&"Path=/"), "{cookie}");
    assert!(attributes.contains(&"HttpOnly"), "{cookie}");
    assert!(
        !attributes
            .iter()
            .any(|a| a.to_lowercase().starts_with("domain")),
        "{cookie}"
    );
    let pair = attributes[0];
    let session = app.with_cookie(pair).get("/api/v1/auth/session").await;
    assert_eq!(session.status(), 200);
    // The plain name is not a session on an https instance.
    let plain = pair.replacen("__Host-docket_session", "docket_session", 1);
    let session = app.with_cookie(&plain).get("/api/v1/auth/session").await;
    assert_eq!(session.status(), 401);
}

#[tokio::test]
async fn metrics_need_the_token_when_one_is_set() {
    let secret = "metrics-secret-for-the-scraper";
    let app = TestApp::build()
        .config(|args| args.metrics_token = Some(secret.to_owned()))
        .spawn()
        .await;
    app.anon()
        .get("/metrics")
        .await
        .problem(401, "unauthenticated");
    app.with_token("metrics-secret-for-the-scrapeR")
        .get("/metrics")
        .await
        .problem(401, "unauthenticated");
    let response = app.with_token(secret).get("/metrics").await;
    assert_eq!(response.status(), 200);
    assert!(response.text().contains("http_requests_total"));
}

#[tokio::test]
async fn the_method_label_of_metrics_is_bounded() {
    let app = spawn_app().await;
    let invented = format!("X{}", uuid::Uuid::new_v4().simple()).to_uppercase();
    let response = app
        .anon()
        .request(Method::from_bytes(invented.as_bytes()).unwrap(), "/healthz")
        .await;
    assert_eq!(response.status(), 405);
    let metrics = app.anon().get("/metrics").await.text();
    assert!(
        !metrics.contains(&invented),
        "an invented method became a label"
    );
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("http_requests_total") && l.contains("method=\"other\"")),
        "no method=\"other\" series"
    );
}

#[tokio::test]
async fn eighty_seven_thousand_empty_labels_get_a_small_422() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let project = user.create_project("Flood").await;
    let labels = vec![""; 87_000];
    let body = json!({"title": "t", "labels": labels});
    let size = serde_json::to_vec(&body).unwrap().len();
    assert!(size <= 256 * 1024, "{size} bytes");
    let response = user.post(&tasks_path(project.id), &body).await;
    let text_len = response.text().len();
    let problem = response.problem(422, "validation_failed");
    let errors = problem["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 20, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("87000"),
        "{problem}"
    );
    assert!(
        serde_json::to_vec(&problem).unwrap().len() < 8 * 1024,
        "{text_len} bytes"
    );
}

#[tokio::test]
async fn searches_that_are_too_long_or_too_many_terms_are_refused() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let long = "a".repeat(501);
    let many = vec!["word"; 31].join("+");
    for q in [long.as_str(), many.as_str()] {
        user.get(&format!("/api/v1/tasks?q={q}"))
            .await
            .problem(400, "invalid_query");
    }
    let fine = vec!["word"; 30].join("+");
    let response = user.get(&format!("/api/v1/tasks?q={fine}")).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn ipv6_clients_count_by_their_64_for_registration_limits() {
    let app = spawn_app().await;
    let n = uuid::Uuid::new_v4().as_u128();
    let prefix = format!("2001:db8:{:x}:{:x}", (n >> 16) as u16, n as u16);
    let register = |ip: String| {
        let email = format!("v6-{}@example.com", uuid::Uuid::now_v7().simple());
        app.anon()
            .post(
                "/api/v1/auth/register",
                json!({"email": email, "password": PASSWORD, "name": "Six"}),
            )
            .forwarded_for(ip)
    };
    // Ten addresses of one /64 use up its ten registrations an hour...
    for host in 0..10u32 {
        let response = register(format!("{prefix}:{host:x}::1")).await;
        assert_eq!(response.status(), 201);
    }
    // ...so an eleventh address of the same /64 is refused.
    register(format!("{prefix}:beef::1"))
        .await
        .problem(429, "rate_limited");
    // Another /64 is another client.
    let other = format!("2001:db8:ffff:{:x}::1", n as u16);
    let response = register(other).await;
    assert_eq!(response.status(), 201);
}
