//! Single sign-on (API.md §21) against a real OpenID provider: node-oidc-provider, started by
//! the harness on loopback with real keys (`tests/oidc/provider.mjs`). A small browser here
//! follows the redirects and keeps each site's cookies, as a person's browser would.

use std::collections::HashMap;
use std::net::TcpListener;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::Url;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::*;

const SECRET: &str = "a-client-secret-for-tests";

/// A port that was free a moment ago, so that the server's public URL (and so its redirect
/// URI, registered at the provider) can be known before it starts.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A provider as one Docket server is configured with it.
struct Sso<'a> {
    /// `<NAME>` of the variables.
    name: &'static str,
    provider: &'a OidcProvider,
    /// The issuer as configured: with or without its trailing slash, whatever it publishes.
    issuer: String,
    client_id: String,
    extra: Vec<(&'static str, &'static str)>,
}

impl<'a> Sso<'a> {
    fn new(name: &'static str, provider: &'a OidcProvider) -> Self {
        Sso {
            name,
            provider,
            issuer: provider.issuer.clone(),
            client_id: format!("docket-{}", Uuid::now_v7().simple()),
            extra: vec![("CREATE_USERS", "true")],
        }
    }

    fn id(&self) -> String {
        self.name.to_lowercase()
    }

    /// The issuer configured with a trailing slash when the provider publishes none, and
    /// without when it publishes one (Planka #1514's case).
    fn issuer_the_other_way(mut self) -> Self {
        self.issuer = match self.issuer.strip_suffix('/') {
            Some(bare) => bare.to_owned(),
            None => format!("{}/", self.issuer),
        };
        self
    }

    fn with(mut self, setting: &'static str, value: &'static str) -> Self {
        self.extra.retain(|(s, _)| *s != setting);
        self.extra.push((setting, value));
        self
    }

    fn variables(&self) -> Vec<(String, String)> {
        let prefix = format!("DOCKET_OIDC_{}", self.name);
        let mut variables = vec![
            (format!("{prefix}_ISSUER"), self.issuer.clone()),
            (format!("{prefix}_CLIENT_ID"), self.client_id.clone()),
            (format!("{prefix}_CLIENT_SECRET"), SECRET.to_owned()),
            (format!("{prefix}_LABEL"), format!("{} SSO", self.name)),
        ];
        for (setting, value) in &self.extra {
            variables.push((format!("{prefix}_{setting}"), value.to_string()));
        }
        variables
    }
}

/// A server with these providers, its public URL on `localhost` and a port known in advance;
/// each provider learns the server's redirect URI.
async fn spawn_with(ssos: &[Sso<'_>], closed: bool) -> TestApp {
    let port = free_port();
    let public = format!("http://localhost:{port}");
    for sso in ssos {
        let redirect = format!("{public}/api/v1/auth/oidc/{}/callback", sso.id());
        sso.provider
            .register_client(&sso.client_id, SECRET, &redirect)
            .await;
    }
    let variables: Vec<(String, String)> = ssos.iter().flat_map(Sso::variables).collect();
    TestApp::build()
        .config(move |args| {
            args.listen = Some(format!("127.0.0.1:{port}"));
            args.public_url = Some(public);
            args.oidc = variables;
            if closed {
                args.registration = Some("closed".to_owned());
            }
        })
        .spawn()
        .await
}

/// A browser: no redirect followed by itself, the cookies of Docket and of the provider kept
/// apart. Docket's public URL names `localhost`; its requests go to the test server's address.
#[derive(Default)]
struct Browser {
    cookies: HashMap<String, HashMap<String, String>>,
}

/// Where a callback sent the browser.
#[derive(Debug)]
struct Landed {
    location: String,
    /// The callback's URL, to replay it.
    callback: String,
}

impl Landed {
    fn error(&self) -> Option<String> {
        let url = Url::parse(&format!("http://x{}", self.location)).ok()?;
        url.query_pairs()
            .find(|(k, _)| k == "error")
            .map(|(_, v)| v.into_owned())
    }
}

impl Browser {
    fn site(url: &Url) -> String {
        format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(80))
    }

    /// Sends a request with the site's cookies and keeps the ones it sets.
    async fn send(
        &mut self,
        app: &TestApp,
        method: reqwest::Method,
        url: &str,
        form: Option<&[(&str, &str)]>,
    ) -> reqwest::Response {
        let mut url = Url::parse(url).unwrap();
        // Docket's own pages: its public URL is http://localhost:PORT, the server listens on
        // 127.0.0.1:PORT; the cookies are localhost's.
        let site = Self::site(&url);
        if url.host_str() == Some("localhost") {
            url.set_host(Some("127.0.0.1")).unwrap();
        }
        let cookies = self.cookies.entry(site.clone()).or_default();
        let mut request = app.client.request(method, url.as_str());
        if !cookies.is_empty() {
            let header: Vec<String> = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
            request = request.header(COOKIE, header.join("; "));
        }
        if let Some(form) = form {
            request = request.form(form);
        }
        let response = request.send().await.unwrap();
        for value in response.headers().get_all(SET_COOKIE) {
            let text = value.to_str().unwrap();
            let (pair, attributes) = text.split_once(';').unwrap_or((text, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if attributes.contains("Max-Age=0")
                || attributes
                    .to_lowercase()
                    .contains("expires=thu, 01 jan 1970")
            {
                cookies.remove(name.trim());
            } else {
                cookies.insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
        response
    }

    /// Docket's cookie of this name, if the browser has it.
    fn docket_cookie(&self, app: &TestApp, name: &str) -> Option<String> {
        let port = Url::parse(&app.address).unwrap().port().unwrap();
        self.cookies
            .get(&format!("localhost:{port}"))
            .and_then(|c| c.get(name))
            .map(|v| format!("{name}={v}"))
    }

    fn session(&self, app: &TestApp) -> Option<String> {
        self.docket_cookie(app, "docket_session")
    }

    /// Starts a sign-in at Docket; the provider's authorization URL.
    async fn start(&mut self, app: &TestApp, provider: &str, return_to: &str) -> String {
        let port = Url::parse(&app.address).unwrap().port().unwrap();
        let start = format!(
            "http://localhost:{port}/api/v1/auth/oidc/{provider}/start?return_to={}",
            urlencode(return_to)
        );
        let response = self.send(app, reqwest::Method::GET, &start, None).await;
        assert_eq!(response.status(), 302, "{start}");
        location(&response)
    }

    /// At the provider: from the authorization URL through its login form as `login`, to the
    /// redirect back to Docket; then Docket's answer.
    async fn authorize(&mut self, app: &TestApp, authorization_url: &str, login: &str) -> Landed {
        let base = {
            let url = Url::parse(authorization_url).unwrap();
            format!("{}://{}", url.scheme(), Self::site(&url))
        };
        let response = self
            .send(app, reqwest::Method::GET, authorization_url, None)
            .await;
        assert_eq!(response.status(), 303, "{authorization_url}");
        let interaction = location(&response);
        let uid = interaction.rsplit('/').next().unwrap().to_owned();
        let form = [("login", login)];
        let response = self
            .send(
                app,
                reqwest::Method::POST,
                &format!("{base}/interaction/{uid}/login"),
                Some(&form),
            )
            .await;
        assert_eq!(response.status(), 303);
        let resume = absolute(&base, &location(&response));
        let response = self.send(app, reqwest::Method::GET, &resume, None).await;
        assert_eq!(response.status(), 303, "{resume}");
        let callback = location(&response);
        self.callback(app, &callback).await
    }

    /// Docket's callback, as the provider sent the browser to it.
    async fn callback(&mut self, app: &TestApp, callback: &str) -> Landed {
        let response = self.send(app, reqwest::Method::GET, callback, None).await;
        assert_eq!(response.status(), 302, "{callback}");
        Landed {
            location: location(&response),
            callback: callback.to_owned(),
        }
    }

    async fn sign_in(&mut self, app: &TestApp, provider: &str, login: &str) -> Landed {
        let url = self.start(app, provider, "/p/welcome?x=1").await;
        self.authorize(app, &url, login).await
    }
}

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(LOCATION)
        .unwrap_or_else(|| panic!("no Location: {response:?}"))
        .to_str()
        .unwrap()
        .to_owned()
}

fn absolute(base: &str, location: &str) -> String {
    if location.starts_with("http") {
        location.to_owned()
    } else {
        format!("{base}{location}")
    }
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn email() -> String {
    format!("{}@corp.example", Uuid::now_v7().simple())
}

async fn whoami(app: &TestApp, cookie: &str) -> Value {
    let session: Value = app
        .with_cookie(cookie)
        .get("/api/v1/auth/session")
        .await
        .good();
    session["user"].clone()
}

async fn users_with_email(app: &TestApp, email: &str) -> i64 {
    app.db
        .scalar(
            "SELECT count(*) FROM users WHERE lower(email) = lower($1)",
            &[&email],
        )
        .await
}

const SLASH: ProviderStyle = ProviderStyle {
    slash: true,
    conform: false,
};
const PLAIN: ProviderStyle = ProviderStyle {
    slash: false,
    conform: true,
};

#[tokio::test]
async fn first_sign_in_creates_an_account_even_with_registration_closed() {
    let provider = OidcProvider::shared(SLASH);
    let sso = Sso::new("CORP", provider);
    let client_id = sso.client_id.clone();
    let app = spawn_with(&[sso], true).await;
    let providers: Value = app.anon().get("/api/v1/auth/providers").await.good();
    assert_eq!(
        providers["items"],
        json!([{"id": "corp", "label": "CORP SSO"}])
    );

    let alice = email();
    provider
        .set_account(&alice, &alice, true, "Alice Liddell")
        .await;
    let mut browser = Browser::default();
    let landed = browser.sign_in(&app, "corp", &alice).await;
    assert_eq!(landed.location, "/p/welcome?x=1", "{landed:?}");
    let cookie = browser.session(&app).expect("a session cookie");
    let user = whoami(&app, &cookie).await;
    assert_eq!(user["email"], alice.as_str());
    assert_eq!(user["name"], "Alice Liddell");
    // The first user of the instance, made by single sign-on: the admin, with an Inbox.
    assert_eq!(user["role"], "admin");
    let user_id: Uuid = user["id"].as_str().unwrap().parse().unwrap();
    let inboxes: i64 = app
        .db
        .scalar(
            "SELECT count(*) FROM projects WHERE inbox_of = $1",
            &[&user_id],
        )
        .await;
    assert_eq!(inboxes, 1);
    let session = app.with_cookie(&cookie);
    let identities: Value = session.get("/api/v1/me/identities").await.good();
    assert_eq!(identities["items"][0]["provider"], "corp");
    assert_eq!(identities["items"][0]["email"], alice.as_str());
    // No password: a password sign-in with any password fails as for a stranger.
    app.anon()
        .post(
            "/api/v1/auth/session",
            json!({"email": alice, "password": "whatever it is"}),
        )
        .await
        .problem(401, "invalid_credentials");
    let log: Value = session.get("/api/v1/me/security-events").await.good();
    assert_eq!(log["items"][0]["kind"], "signed_in");
    assert_eq!(log["items"][0]["method"], "oidc:corp");

    // One sign-in is one authorization request and one token exchange (WeKan #5796 runs the
    // flow twice).
    let counts = provider.counts().await;
    assert_eq!(counts[&client_id]["authorization"], 1, "{counts}");
    assert_eq!(counts[&client_id]["token"], 1, "{counts}");

    // Found again by (provider, subject), even after the provider changed the email.
    provider
        .set_account(&alice, "alice.new@corp.example", true, "Alice")
        .await;
    let mut other = Browser::default();
    let landed = other.sign_in(&app, "corp", &alice).await;
    assert_eq!(landed.error(), None, "{landed:?}");
    let again = whoami(&app, &other.session(&app).unwrap()).await;
    assert_eq!(again["id"], user["id"]);
    assert_eq!(users_with_email(&app, "alice.new@corp.example").await, 0);
}

#[tokio::test]
async fn the_issuer_matches_with_or_without_its_trailing_slash() {
    // Each provider's issuer configured as it publishes it, and the other way round.
    let slash = OidcProvider::shared(SLASH);
    let plain = OidcProvider::shared(PLAIN);
    let ssos = [
        Sso::new("SLASH_AS_IS", slash),
        Sso::new("SLASH_BARE", slash).issuer_the_other_way(),
        Sso::new("PLAIN_AS_IS", plain),
        Sso::new("PLAIN_SLASHED", plain).issuer_the_other_way(),
    ];
    assert!(!ssos[1].issuer.ends_with('/') && slash.issuer.ends_with('/'));
    assert!(ssos[3].issuer.ends_with('/') && !plain.issuer.ends_with('/'));
    let app = spawn_with(&ssos, false).await;
    for sso in &ssos {
        let login = email();
        let mut browser = Browser::default();
        let landed = browser.sign_in(&app, &sso.id(), &login).await;
        assert_eq!(landed.error(), None, "{}: {landed:?}", sso.name);
        let user = whoami(&app, &browser.session(&app).unwrap()).await;
        // The plain provider gives the email only from UserInfo (its ID tokens carry `sub`).
        assert_eq!(user["email"], login.as_str(), "{}", sso.name);
    }
}

#[tokio::test]
async fn a_second_provider_reaches_the_same_account_once_linked() {
    let (first, second) = (OidcProvider::shared(SLASH), OidcProvider::shared(PLAIN));
    let app = spawn_with(&[Sso::new("WORK", first), Sso::new("OTHER", second)], false).await;
    let login = email();
    let mut browser = Browser::default();
    assert_eq!(browser.sign_in(&app, "work", &login).await.error(), None);
    let cookie = browser.session(&app).unwrap();
    let user = whoami(&app, &cookie).await;

    // The second provider knows the person under another email; linked from the session.
    let elsewhere = format!("{}@elsewhere.example", Uuid::now_v7().simple());
    second
        .set_account(&elsewhere, &elsewhere, true, "Same Person")
        .await;
    let session: Value = app
        .with_cookie(&cookie)
        .get("/api/v1/auth/session")
        .await
        .good();
    let csrf = session["csrf_token"].as_str().unwrap().to_owned();
    let linking = app
        .with_session(&cookie, &csrf)
        .post(
            "/api/v1/me/identities/other",
            json!({"return_to": "/settings"}),
        )
        .await;
    let start: Value = linking.good();
    let binding = linking.header("set-cookie").unwrap().to_owned();
    let port = Url::parse(&app.address).unwrap().port().unwrap();
    browser
        .cookies
        .entry(format!("localhost:{port}"))
        .or_default()
        .insert(
            "docket_oidc".to_owned(),
            binding
                .split(';')
                .next()
                .unwrap()
                .split_once('=')
                .unwrap()
                .1
                .to_owned(),
        );
    let landed = browser
        .authorize(&app, start["redirect_to"].as_str().unwrap(), &elsewhere)
        .await;
    assert_eq!(landed.location, "/settings", "{landed:?}");
    let identities: Value = app
        .with_cookie(&cookie)
        .get("/api/v1/me/identities")
        .await
        .good();
    let providers: Vec<&str> = identities["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["provider"].as_str().unwrap())
        .collect();
    assert_eq!(providers, ["work", "other"]);

    // Now the second provider alone signs in to the same account; no account for its email.
    let mut fresh = Browser::default();
    assert_eq!(fresh.sign_in(&app, "other", &elsewhere).await.error(), None);
    let again = whoami(&app, &fresh.session(&app).unwrap()).await;
    assert_eq!(again["id"], user["id"]);
    assert_eq!(users_with_email(&app, &elsewhere).await, 0);

    // Unlinking is allowed while another way remains, and not for the last one.
    let session = app.with_session(&cookie, &csrf);
    session
        .delete("/api/v1/me/identities/other")
        .await
        .no_content();
    session
        .delete("/api/v1/me/identities/work")
        .await
        .problem(409, "conflict");
    session
        .delete("/api/v1/me/identities/other")
        .await
        .problem(404, "not_found");
}

#[tokio::test]
async fn an_allowed_domain_list_refuses_the_others() {
    let provider = OidcProvider::shared(SLASH);
    let app = spawn_with(
        &[Sso::new("CORP", provider).with("ALLOWED_DOMAINS", "corp.example")],
        false,
    )
    .await;
    let outsider = format!("{}@gmail.example", Uuid::now_v7().simple());
    let landed = Browser::default().sign_in(&app, "corp", &outsider).await;
    assert_eq!(landed.error().as_deref(), Some("domain_not_allowed"));
    assert_eq!(users_with_email(&app, &outsider).await, 0);
    // An address in the domain that the provider has not verified counts as outside it.
    let unverified = email();
    provider
        .set_account(&unverified, &unverified, false, "Unverified")
        .await;
    let landed = Browser::default().sign_in(&app, "corp", &unverified).await;
    assert_eq!(landed.error().as_deref(), Some("domain_not_allowed"));
    let insider = email();
    let mut browser = Browser::default();
    assert_eq!(browser.sign_in(&app, "corp", &insider).await.error(), None);
    assert!(browser.session(&app).is_some());
}

#[tokio::test]
async fn an_existing_account_is_not_taken_over_by_email_and_is_linked_from_a_session() {
    let provider = OidcProvider::shared(PLAIN);
    let app = spawn_with(&[Sso::new("CORP", provider)], false).await;
    let carol = email();
    let registered: Value = app.register(&carol, PASSWORD, "Carol").await.created();
    provider.set_account(&carol, &carol, true, "Carol").await;

    // The provider vouches for the same (verified) email: still no way in.
    let mut stranger = Browser::default();
    let landed = stranger.sign_in(&app, "corp", &carol).await;
    assert_eq!(landed.error().as_deref(), Some("account_exists_link_first"));
    assert!(stranger.session(&app).is_none());
    let identities: i64 = app.db.scalar("SELECT count(*) FROM identities", &[]).await;
    assert_eq!(identities, 0);

    // Carol signs in with her password and links the identity herself.
    let (cookie, csrf) = app.session_login(&carol, PASSWORD).await;
    let linking = app
        .with_session(&cookie, &csrf)
        .post("/api/v1/me/identities/corp", json!({}))
        .await;
    let start: Value = linking.good();
    let mut browser = Browser::default();
    let port = Url::parse(&app.address).unwrap().port().unwrap();
    let site = browser
        .cookies
        .entry(format!("localhost:{port}"))
        .or_default();
    let binding = linking.header("set-cookie").unwrap();
    let (name, value) = binding.split(';').next().unwrap().split_once('=').unwrap();
    site.insert(name.to_owned(), value.to_owned());
    let landed = browser
        .authorize(&app, start["redirect_to"].as_str().unwrap(), &carol)
        .await;
    assert_eq!(landed.location, "/settings", "{landed:?}");

    // From now on the provider signs her in to her account.
    let mut later = Browser::default();
    assert_eq!(later.sign_in(&app, "corp", &carol).await.error(), None);
    let user = whoami(&app, &later.session(&app).unwrap()).await;
    assert_eq!(user["id"], registered["id"]);
    let log: Value = app
        .with_cookie(&cookie)
        .get("/api/v1/me/security-events")
        .await
        .good();
    let kinds: Vec<&str> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["signed_in", "identity_linked", "signed_in"]);
}

#[tokio::test]
async fn a_wrong_audience_an_expired_token_and_a_wrong_nonce_are_refused() {
    let provider = OidcProvider::shared(SLASH);
    let sso = Sso::new("CORP", provider);
    let client_id = sso.client_id.clone();
    let app = spawn_with(&[sso], false).await;

    for mode in ["aud", "exp"] {
        provider.tamper(&client_id, Some(mode)).await;
        let login = email();
        let mut browser = Browser::default();
        let landed = browser.sign_in(&app, "corp", &login).await;
        assert_eq!(landed.error().as_deref(), Some("provider_error"), "{mode}");
        assert!(browser.session(&app).is_none());
        assert_eq!(users_with_email(&app, &login).await, 0, "{mode}");
    }
    provider.tamper(&client_id, None).await;

    // The authorization request is changed on its way to the provider: the ID token then
    // carries a nonce this browser's flow did not make.
    let login = email();
    let mut browser = Browser::default();
    let url = browser.start(&app, "corp", "/").await;
    let mut tampered = Url::parse(&url).unwrap();
    let pairs: Vec<(String, String)> = tampered
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "nonce" {
                "an-attackers-nonce".into()
            } else {
                v
            };
            (k.into_owned(), v.into_owned())
        })
        .collect();
    tampered.query_pairs_mut().clear().extend_pairs(pairs);
    let landed = browser.authorize(&app, tampered.as_str(), &login).await;
    assert_eq!(landed.error().as_deref(), Some("provider_error"));
    assert_eq!(users_with_email(&app, &login).await, 0);

    // The same flow untouched works: what was refused was the token, not the set-up.
    let mut browser = Browser::default();
    assert_eq!(browser.sign_in(&app, "corp", &login).await.error(), None);
}

#[tokio::test]
async fn a_replayed_or_foreign_state_is_refused() {
    let provider = OidcProvider::shared(SLASH);
    let app = spawn_with(&[Sso::new("CORP", provider)], false).await;
    let login = email();
    let mut browser = Browser::default();
    let landed = browser.sign_in(&app, "corp", &login).await;
    assert_eq!(landed.error(), None);
    // The same callback again (its state was used): refused, no second session.
    let sessions_before: i64 = app.db.scalar("SELECT count(*) FROM sessions", &[]).await;
    let replay = browser.callback(&app, &landed.callback).await;
    assert_eq!(replay.error().as_deref(), Some("state_mismatch"));
    let sessions_after: i64 = app.db.scalar("SELECT count(*) FROM sessions", &[]).await;
    assert_eq!(sessions_before, sessions_after);

    // A flow started in one browser cannot be finished in another (login CSRF): the state
    // is bound to the first browser's cookie.
    let mut victim = Browser::default();
    let url = victim.start(&app, "corp", "/").await;
    let mut attacker = Browser::default();
    attacker.start(&app, "corp", "/").await;
    let response = victim.send(&app, reqwest::Method::GET, &url, None).await;
    let interaction = location(&response);
    let base = {
        let u = Url::parse(&url).unwrap();
        format!("http://{}", Browser::site(&u))
    };
    let uid = interaction.rsplit('/').next().unwrap();
    let response = victim
        .send(
            &app,
            reqwest::Method::POST,
            &format!("{base}/interaction/{uid}/login"),
            Some(&[("login", login.as_str())]),
        )
        .await;
    let resume = absolute(&base, &location(&response));
    let response = victim.send(&app, reqwest::Method::GET, &resume, None).await;
    let callback = location(&response);
    let landed = attacker.callback(&app, &callback).await;
    assert_eq!(landed.error().as_deref(), Some("state_mismatch"));
    assert!(attacker.session(&app).is_none());
    // A state that never was, and none at all.
    let port = Url::parse(&app.address).unwrap().port().unwrap();
    let made_up = format!("http://localhost:{port}/api/v1/auth/oidc/corp/callback?code=x&state=y");
    assert_eq!(
        victim.callback(&app, &made_up).await.error().as_deref(),
        Some("state_mismatch")
    );
    let bare = format!("http://localhost:{port}/api/v1/auth/oidc/corp/callback");
    assert_eq!(
        victim.callback(&app, &bare).await.error().as_deref(),
        Some("state_mismatch")
    );
    // An unknown provider is not a page at all.
    app.anon()
        .get("/api/v1/auth/oidc/nobody/start")
        .await
        .problem(404, "not_found");
}

#[tokio::test]
async fn keys_the_provider_rotates_are_fetched_when_a_token_names_one() {
    // A provider of its own: rotating its keys must not disturb other tests.
    let provider = OidcProvider::start(SLASH);
    let app = spawn_with(&[Sso::new("CORP", &provider)], false).await;
    let mut browser = Browser::default();
    assert_eq!(browser.sign_in(&app, "corp", &email()).await.error(), None);
    let mut browser = Browser::default();
    assert_eq!(browser.sign_in(&app, "corp", &email()).await.error(), None);
    let counts = provider.counts().await;
    // Discovery and keys were read once for both sign-ins: cached.
    assert_eq!(counts["-"]["discovery"], 1, "{counts}");
    assert_eq!(counts["-"]["jwks"], 1, "{counts}");

    provider.rotate_keys().await;
    let mut browser = Browser::default();
    let landed = browser.sign_in(&app, "corp", &email()).await;
    assert_eq!(landed.error(), None, "{landed:?}");
    let counts = provider.counts().await;
    // The new kid made Docket fetch the keys again, and only them.
    assert_eq!(counts["-"]["discovery"], 1, "{counts}");
    assert_eq!(counts["-"]["jwks"], 2, "{counts}");
}

#[tokio::test]
async fn who_may_not_sign_in_is_told_why() {
    let provider = OidcProvider::shared(SLASH);
    let app = spawn_with(
        &[
            Sso::new("OPEN", provider),
            Sso::new("INVITE", provider).with("CREATE_USERS", "false"),
        ],
        false,
    )
    .await;
    // Without CREATE_USERS, only accounts that exist (and linked) get in.
    let newcomer = email();
    let landed = Browser::default().sign_in(&app, "invite", &newcomer).await;
    assert_eq!(landed.error().as_deref(), Some("access_denied"));
    assert_eq!(users_with_email(&app, &newcomer).await, 0);
    // A new account takes the provider's email as its own: an unverified one is refused.
    let unverified = email();
    provider
        .set_account(&unverified, &unverified, false, "Unverified")
        .await;
    let landed = Browser::default().sign_in(&app, "open", &unverified).await;
    assert_eq!(landed.error().as_deref(), Some("access_denied"));
    // The person declined at the provider.
    let mut browser = Browser::default();
    let url = browser.start(&app, "open", "/").await;
    let state = Url::parse(&url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let port = Url::parse(&app.address).unwrap().port().unwrap();
    let declined = format!(
        "http://localhost:{port}/api/v1/auth/oidc/open/callback?error=access_denied&state={state}"
    );
    let landed = browser.callback(&app, &declined).await;
    assert_eq!(landed.error().as_deref(), Some("access_denied"));
    // A disabled account.
    let member = email();
    let mut browser = Browser::default();
    assert_eq!(browser.sign_in(&app, "open", &member).await.error(), None);
    app.db
        .execute(
            "UPDATE users SET disabled = true WHERE email = $1",
            &[&member],
        )
        .await;
    let landed = Browser::default().sign_in(&app, "open", &member).await;
    assert_eq!(landed.error().as_deref(), Some("account_disabled"));
    // A provider that cannot be reached: back to the sign-in page, saying so.
    let down = spawn_with_unreachable().await;
    let response = down
        .anon()
        .get("/api/v1/auth/oidc/down/start?return_to=/")
        .await;
    assert_eq!(response.status(), 302);
    assert_eq!(response.location(), "/signin?error=provider_error");
}

async fn spawn_with_unreachable() -> TestApp {
    TestApp::build()
        .config(|args| {
            args.oidc = vec![
                (
                    "DOCKET_OIDC_DOWN_ISSUER".to_owned(),
                    "http://127.0.0.1:9/".to_owned(),
                ),
                ("DOCKET_OIDC_DOWN_CLIENT_ID".to_owned(), "x".to_owned()),
            ];
        })
        .spawn()
        .await
}

#[tokio::test]
async fn return_to_must_be_a_path_here() {
    let provider = OidcProvider::shared(SLASH);
    let app = spawn_with(&[Sso::new("CORP", provider)], false).await;
    for bad in [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
    ] {
        app.anon()
            .get(&format!(
                "/api/v1/auth/oidc/corp/start?return_to={}",
                urlencode(bad)
            ))
            .await
            .problem(400, "invalid_query");
    }
}
