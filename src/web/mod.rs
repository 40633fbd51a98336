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
    // Every module the entry point imports statically, however deep, is preloaded, so the
    // browser fetches them in parallel rather than one import level at a time. Modules only
    // loaded with `import()` (screens most visits never show) are fetched when used.
    let preloads: String = static_closure(&raw, "app.js")
        .iter()
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

/// The modules `entry` imports statically, directly or through others, itself included; sorted.
fn static_closure(files: &[(String, Vec<u8>)], entry: &str) -> Vec<String> {
    let sources: HashMap<&str, &[u8]> = files
        .iter()
        .map(|(name, body)| (name.as_str(), body.as_slice()))
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    let mut todo = vec![entry.to_owned()];
    while let Some(name) = todo.pop() {
        let Some(source) = sources.get(name.as_str()) else {
            continue;
        };
        if !seen.insert(name.clone()) {
            continue;
        }
        let source = String::from_utf8_lossy(source);
        todo.extend(
            static_imports(&source)
                .into_iter()
                .map(|s| resolve(&name, &s)),
        );
    }
    seen.into_iter().collect()
}

/// The relative specifiers of a module's static imports and re-exports (`import … from
/// "./x.js"`, `import "./x.js"`, `export … from "./x.js"`), statements that begin a line as the
/// client's code is written. `import("./x.js")` is not one.
fn static_imports(source: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut statement: Option<String> = None;
    for line in source.lines() {
        let trimmed = line.trim_start();
        if statement.is_none()
            && (trimmed.starts_with("import ")
                || trimmed.starts_with("import{")
                || trimmed.starts_with("export {")
                || trimmed.starts_with("export *"))
        {
            statement = Some(String::new());
        }
        let Some(text) = statement.as_mut() else {
            continue;
        };
        text.push_str(trimmed);
        text.push(' ');
        if trimmed.contains(';') {
            if let Some(specifier) = specifier_of(text) {
                found.push(specifier);
            }
            statement = None;
        }
    }
    found
}

/// The quoted relative path of one import or export statement.
fn specifier_of(statement: &str) -> Option<String> {
    let quoted = match statement.rfind(" from ") {
        Some(at) => statement[at + 6..].trim_start(),
        None => statement.strip_prefix("import ")?.trim_start(),
    };
    let quote = quoted.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let path = quoted[1..].split(quote).next()?;
    (path.starts_with("./") || path.starts_with("../")).then(|| path.to_owned())
}

/// `specifier` as a path under `web/`, seen from the module `from`.
fn resolve(from: &str, specifier: &str) -> String {
    let mut parts: Vec<&str> = from.split('/').collect();
    parts.pop();
    for part in specifier.split('/') {
        match part {
            "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {

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
        let files: Vec<(String, Vec<u8>)> = files
            .into_iter()
            .map(|(name, body)| (name.to_owned(), body.to_vec()))
            .collect();
        assert_eq!(
            super::static_closure(&files, "app.js"),
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
    fn modules_loaded_only_with_import_are_not_preloaded() {
        let index = String::from_utf8_lossy(&super::BUNDLE.index.body).into_owned();
        for eager in [
            "app.js",
            "router.js",
            "views/auth.js",
            "views/settings.js",
            "api.js",
        ] {
            assert!(
                index.contains(&format!("/{eager}\"")),
                "{eager} is preloaded"
            );
        }
        for lazy in [
            "views/setup.js",
            "views/settings/security.js",
            "views/auth/other-ways.js",
            "components/factors.js",
            "webauthn.js",
        ] {
            assert!(
                !index.contains(&format!("/{lazy}\"")),
                "{lazy} is not preloaded"
            );
        }
    }

    #[test]
    fn static_imports_are_read_as_the_client_writes_them() {
        let source = "import * as api from \"../api.js\";\n\
            import {\n  a,\n  b,\n} from './x/y.js';\n\
            import \"./side.js\";\n\
            export { c } from \"./c.js\";\n\
            const lazy = () => import(\"./lazy.js\");\n\
            /** @param {import(\"./types.js\").T} t */\n\
            import { far } from \"https://example.com/x.js\";\n";
        assert_eq!(
            super::static_imports(source),
            ["../api.js", "./x/y.js", "./side.js", "./c.js"]
        );
        assert_eq!(super::resolve("views/auth.js", "../api.js"), "api.js");
        assert_eq!(
            super::resolve("views/auth.js", "./auth/x.js"),
            "views/auth/x.js"
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
