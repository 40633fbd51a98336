//! The web client (API.md §16) and the API reference's assets (§6), served from the binary.
//!
//! No endpoint here reads a credential or the database: the client is static files that talk to
//! `/api/v1` like any other client. `index.html` is served for every path outside `/api`,
//! `/docs`, `/healthz`, `/readyz` and `/metrics` (the client routes in the browser), with
//! `no-cache`; it names its modules under `/assets/<build>/`, where `<build>` is a hash of every
//! asset, so those URLs never change content and are cached for a year, `immutable`. Every file
//! is gzip-compressed once, on first use, and carries an `ETag` (its SHA-256).

use std::collections::HashMap;
use std::io::Write;
use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};

#[derive(rust_embed::Embed)]
#[folder = "web/"]
struct ClientFiles;

#[derive(rust_embed::Embed)]
#[folder = "vendor/scalar/"]
#[include = "*.js"]
struct DocsFiles;

/// Pages: only Docket's own origin, no inline script, no framing.
const PAGE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
/// The API reference: the same, except that its renderer (Scalar) injects `<style>` elements,
/// so inline *styles* (never scripts) are allowed on `/docs` only.
const DOCS_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// Prefixes that belong to the server, not to the client's router.
const SERVER_PREFIXES: &[&str] = &["/api", "/docs", "/healthz", "/readyz", "/metrics"];

struct Asset {
    body: Vec<u8>,
    gzip: Option<Vec<u8>>,
    etag: HeaderValue,
    content_type: &'static str,
}

impl Asset {
    fn new(path: &str, body: Vec<u8>) -> Self {
        let hash = Sha256::digest(&body);
        let etag = HeaderValue::from_str(&format!("\"{}\"", &hex::encode(hash)[..24]))
            .expect("hex is a valid header");
        let content_type = content_type(path);
        let gzip = (body.len() > 512 && !content_type.starts_with("image/png")).then(|| {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            encoder.write_all(&body).expect("writing to memory");
            encoder.finish().expect("writing to memory")
        });
        Asset {
            body,
            gzip,
            etag,
            content_type,
        }
    }
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "json" | "webmanifest" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

struct Bundle {
    /// Hash of every client file: the `<build>` segment of asset URLs.
    build: String,
    files: HashMap<String, Asset>,
    index: Asset,
    docs_page: Asset,
    docs_files: HashMap<String, Asset>,
}

static BUNDLE: LazyLock<Bundle> = LazyLock::new(load);

/// The modules `entry` imports with `import … from "./x.js"` (or `import "./x.js"`), directly or
/// through others, `entry` included, sorted. Dynamic `import("…")` is not followed. The client's
/// modules put each import on lines of its own (`} from "…";` ends a long one).
fn statically_imported<'a>(entry: &'a str, modules: &HashMap<&'a str, &[u8]>) -> Vec<&'a str> {
    let mut seen = std::collections::BTreeSet::new();
    let mut todo = vec![entry];
    while let Some(name) = todo.pop() {
        let Some((&key, body)) = modules.get_key_value(name) else {
            continue;
        };
        if !seen.insert(key) {
            continue;
        }
        let dir = key.rsplit_once('/').map_or("", |(dir, _)| dir);
        for line in String::from_utf8_lossy(body).lines() {
            let line = line.trim_start();
            let spec = if line.starts_with("import ") || line.starts_with("} from ") {
                line.split_once(" from \"")
                    .or_else(|| line.strip_prefix("import \"").map(|rest| ("", rest)))
                    .and_then(|(_, rest)| rest.split_once('"'))
                    .map(|(spec, _)| spec)
            } else {
                None
            };
            if let Some(target) = spec.and_then(|spec| resolve(dir, spec)) {
                if let Some((&known, _)) = modules.get_key_value(target.as_str()) {
                    todo.push(known);
                }
            }
        }
    }
    seen.into_iter().collect()
}

/// A relative module specifier (`./x.js`, `../y/z.js`) from a module in `dir`, as a path in the
/// bundle; `None` for anything else.
fn resolve(dir: &str, spec: &str) -> Option<String> {
    if !spec.starts_with("./") && !spec.starts_with("../") {
        return None;
    }
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for part in spec.split('/') {
        match part {
            "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    Some(parts.join("/"))
}

fn load() -> Bundle {
    let mut names: Vec<String> = ClientFiles::iter().map(|n| n.into_owned()).collect();
    names.sort();
    let mut hasher = Sha256::new();
    let mut raw = Vec::new();
    for name in names {
        let Some(file) = ClientFiles::get(&name) else {
            continue;
        };
        hasher.update(name.as_bytes());
        hasher.update(file.metadata.sha256_hash());
        raw.push((name, file.data.into_owned()));
    }
    let build = hex::encode(hasher.finalize())[..12].to_owned();
    let template = raw
        .iter()
        .find(|(name, _)| name == "index.html")
        .map(|(_, body)| String::from_utf8_lossy(body).into_owned())
        .unwrap_or_default();
    // Every module the page imports statically is preloaded, so the browser fetches them in
    // parallel rather than one import level at a time. Modules loaded on demand (`import()`:
    // the task panel) are fetched when first used, not on every first visit.
    let modules: HashMap<&str, &[u8]> = raw
        .iter()
        .filter(|(name, _)| name.ends_with(".js") && !name.starts_with("docs/"))
        .map(|(name, body)| (name.as_str(), body.as_slice()))
        .collect();
    let preloads: String = statically_imported("app.js", &modules)
        .into_iter()
        .map(|name| format!("<link rel=\"modulepreload\" href=\"/assets/{build}/{name}\">\n"))
        .collect();
    let index = template
        .replace("<!--PRELOADS-->", &preloads)
        .replace("__BUILD__", &build);
    let files = raw
        .into_iter()
        .filter(|(name, _)| name != "index.html")
        .map(|(name, body)| {
            let asset = Asset::new(&name, body);
            (name, asset)
        })
        .collect();
    let docs_files: HashMap<String, Asset> = DocsFiles::iter()
        .filter_map(|name| {
            let file = DocsFiles::get(&name)?;
            Some((name.to_string(), Asset::new(&name, file.data.into_owned())))
        })
        .collect();
    let docs_page = Asset::new("docs.html", docs_html(&build).into_bytes());
    Bundle {
        index: Asset::new("index.html", index.into_bytes()),
        docs_page,
        files,
        docs_files,
        build,
    }
}

fn docs_html(build: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Docket API reference</title>\n</head>\n<body>\n\
         <div id=\"app\"></div>\n\
         <script src=\"/docs/assets/{build}/scalar-standalone.js\"></script>\n\
         <script src=\"/docs/assets/{build}/docs-init.js\"></script>\n</body>\n</html>\n"
    )
}

/// The routes of this module: the client's assets, `/docs` and its assets, and the fallback
/// that hands every other non-server path to the client.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/assets/{build}/{*path}", get(client_asset))
        .route("/docs", get(docs_page))
        .route("/docs/assets/{build}/{file}", get(docs_asset))
        .fallback(fallback)
}

/// Builds the response for one asset, honouring `If-None-Match` and `Accept-Encoding`.
fn respond(asset: &Asset, request: &HeaderMap, cache: &'static str, csp: Option<&str>) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(header::ETAG, asset.etag.clone());
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if let Some(csp) = csp {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_str(csp).expect("a constant"),
        );
    }
    let not_modified = request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| tag.trim().trim_start_matches("W/") == asset.etag || tag.trim() == "*");
    if not_modified {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    let accepts_gzip = request
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|e| {
            let mut parts = e.trim().split(';');
            parts.next() == Some("gzip") && !parts.any(|p| p.trim() == "q=0")
        });
    match &asset.gzip {
        Some(gzip) if accepts_gzip => {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            (headers, gzip.clone()).into_response()
        }
        _ => (headers, asset.body.clone()).into_response(),
    }
}

/// A current build's URL never changes content; another build's (an old page after an
/// upgrade) gets today's file, but not cached as immutable.
fn cache_for(build: &str) -> &'static str {
    if build == BUNDLE.build {
        IMMUTABLE
    } else {
        "no-cache"
    }
}

async fn client_asset(Path((build, path)): Path<(String, String)>, headers: HeaderMap) -> Response {
    match BUNDLE.files.get(&path) {
        Some(asset) => respond(asset, &headers, cache_for(&build), None),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn docs_asset(Path((build, file)): Path<(String, String)>, headers: HeaderMap) -> Response {
    let asset = BUNDLE
        .docs_files
        .get(&file)
        .or_else(|| (file == "docs-init.js").then(|| BUNDLE.files.get("docs/init.js"))?);
    match asset {
        Some(asset) => respond(asset, &headers, cache_for(&build), None),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn docs_page(headers: HeaderMap) -> Response {
    respond(&BUNDLE.docs_page, &headers, "no-cache", Some(DOCS_CSP))
}

/// Every path the server does not own is a page of the client; paths it owns but does not know
/// stay 404s (rendered as problems by the outer middleware).
async fn fallback(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path();
    let server_owned = SERVER_PREFIXES
        .iter()
        .any(|p| path == *p || path.starts_with(&format!("{p}/")));
    if server_owned || path.starts_with("/assets/") {
        return StatusCode::NOT_FOUND.into_response();
    }
    if method != Method::GET && method != Method::HEAD {
        let mut response = StatusCode::METHOD_NOT_ALLOWED.into_response();
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    respond(&BUNDLE.index, &headers, "no-cache", Some(PAGE_CSP))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    /// Preloads follow static imports (one line or several, `./` and `../`), not `import()`.
    #[test]
    fn preloads_are_the_static_imports_of_the_entry() {
        let files: [(&str, &[u8]); 6] = [
            ("app.js", b"import { a } from \"./a.js\";\nimport \"./side.js\";\nconst p = import(\"./lazy.js\");\n"),
            ("a.js", b"import {\n  b,\n} from \"./views/b.js\";\n/** @type {import(\"./lazy.js\").T} */\n"),
            ("views/b.js", b"import * as api from \"../a.js\";\nimport { x } from \"../missing.js\";\n"),
            ("side.js", b"export const s = 1;\n"),
            ("lazy.js", b"import { c } from \"./c.js\";\n"),
            ("c.js", b"export const c = 1;\n"),
        ];
        let modules: HashMap<&str, &[u8]> = files.into_iter().collect();
        assert_eq!(
            super::statically_imported("app.js", &modules),
            ["a.js", "app.js", "side.js", "views/b.js"]
        );
        let bundle = &*super::BUNDLE;
        let index = String::from_utf8_lossy(&bundle.index.body).into_owned();
        assert!(
            index.contains("/views/list.js\""),
            "the list view is preloaded"
        );
        assert!(
            !index.contains("/components/task-panel.js\""),
            "the task panel loads on demand"
        );
    }

    #[test]
    fn the_client_and_the_reference_are_embedded() {
        let bundle = &*super::BUNDLE;
        assert!(bundle.files.contains_key("app.js"));
        assert!(bundle.docs_files.contains_key("scalar-standalone.js"));
        let index = String::from_utf8_lossy(&bundle.index.body);
        assert!(index.contains(&format!("/assets/{}/app.js", bundle.build)));
        assert!(!index.contains("__BUILD__"));
    }
}
