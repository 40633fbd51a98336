//! The web client's pages and assets (API.md §6, §9, §16): served from the binary for every
//! path the server does not own, with a self-only CSP; fingerprinted assets cached for good,
//! compressed, with ETags.

use reqwest::Method;

use crate::helpers::*;

#[tokio::test]
async fn pages_are_the_client_with_a_self_only_csp() {
    let app = spawn_app().await;
    for path in ["/", "/signin", "/p/0192/board?assignee=me", "/settings"] {
        let response = app.anon().get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'self'"), "{csp}");
        assert!(csp.contains("script-src 'self';"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["referrer-policy"], "no-referrer");
        assert_eq!(headers["cache-control"], "no-cache");
        let html = response.text();
        assert!(
            html.contains("<script type=\"module\" src=\"/assets/"),
            "{html}"
        );
        assert!(!html.contains("<script>"), "no inline script: {html}");
    }
}

#[tokio::test]
async fn server_paths_stay_the_servers() {
    let app = spawn_app().await;
    for path in [
        "/api/v1/nope",
        "/api",
        "/healthz/x",
        "/metrics/x",
        "/assets/x/none.js",
    ] {
        let response = app.anon().get(path).await;
        assert_eq!(response.status(), 404, "{path}");
    }
    app.anon()
        .get("/api/v1/nope")
        .await
        .problem(404, "not_found");
    let response = app.anon().request(Method::POST, "/some/page").await;
    assert_eq!(response.status(), 405);
}

#[tokio::test]
async fn assets_are_immutable_compressed_and_revalidate() {
    let app = spawn_app().await;
    let html = app.anon().get("/").await.text();
    let end = html.find("/app.css").unwrap() + "/app.css".len();
    let start = html[..end].rfind("/assets/").unwrap();
    let url = &html[start..end];
    // A client that leaves the body compressed, to see what is on the wire.
    let raw = reqwest::Client::builder().no_gzip().build().unwrap();
    let response = raw
        .get(app.url(url))
        .header("accept-encoding", "gzip, br")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(
        headers["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(headers["content-encoding"], "gzip");
    assert_eq!(headers["content-type"], "text/css; charset=utf-8");
    let etag = headers["etag"].to_str().unwrap().to_owned();
    let response = app.anon().get(url).if_none_match(&etag).await;
    assert_eq!(response.status(), 304);
    // Another build's URL (a page from before an upgrade) gets today's file, not cached for good.
    let old = url.replace(&url[8..20], "000000000000");
    let response = app.anon().get(&old).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-cache");
}

#[tokio::test]
async fn docs_load_their_renderer_from_docket() {
    let app = spawn_app().await;
    let response = app.anon().get("/docs").await;
    let csp = response.header("content-security-policy").unwrap();
    assert!(csp.contains("script-src 'self';"), "{csp}");
    let html = response.text();
    assert!(!html.contains("https://"), "no third-party asset: {html}");
    let start = html.find("/docs/assets/").unwrap();
    let end = start + html[start..].find('"').unwrap();
    let response = app.anon().get(&html[start..end]).await;
    assert_eq!(response.status(), 200);
    assert!(response.bytes().len() > 100_000);
}

#[tokio::test]
async fn api_reads_are_gzipped_but_never_an_answer_holding_a_credential() {
    let app = spawn_app().await;
    let ada = app.new_client().await;
    let project = ada.create_project("Wire").await;
    for n in 0..30 {
        ada.create_task(
            project.id,
            serde_json::json!({"title": format!("A task worth its bytes {n}")}),
        )
        .await;
    }
    // A client that leaves the body compressed, to see what is on the wire.
    let raw = reqwest::Client::builder().no_gzip().build().unwrap();
    let bearer = format!("Bearer {}", ada.token);
    let list = raw
        .get(app.url(&tasks_path(project.id)))
        .header("authorization", &bearer)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), 200);
    assert_eq!(list.headers()["content-encoding"], "gzip");
    assert_eq!(list.headers()["vary"], "accept-encoding");
    let zipped = list.bytes().await.unwrap();
    let mut json = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&zipped[..]), &mut json)
        .unwrap();
    let page: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 30);
    assert!(
        zipped.len() * 3 < json.len(),
        "{} → {}",
        json.len(),
        zipped.len()
    );
    // Not without asking, nor a write's answer (answers handing out credentials: the unit test
    // in src/http/compression.rs; they are all under the 1 KiB floor today anyway).
    let plain = raw
        .get(app.url(&tasks_path(project.id)))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    let created = raw
        .post(app.url(&tasks_path(project.id)))
        .header("authorization", &bearer)
        .header("accept-encoding", "gzip")
        .json(&serde_json::json!({"title": "Big", "description": "x".repeat(2000)}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    assert!(created.headers().get("content-encoding").is_none());
}
