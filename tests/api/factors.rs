//! Second factors (API.md §21): TOTP checked against an independent implementation (pyotp from
//! PyPI), recovery codes, the `second_factor_required` challenge of both password sign-ins,
//! failed codes under the login limits, `DOCKET_REQUIRE_2FA`, the administrator's reset, the
//! passkey ceremonies' options, and the security log.

use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::*;

/// A user with a cookie session.
struct Person<'a> {
    app: &'a TestApp,
    id: String,
    email: String,
    cookie: String,
    csrf: String,
}

impl<'a> Person<'a> {
    async fn new(app: &'a TestApp) -> Person<'a> {
        let email = format!("p-{}@example.com", Uuid::now_v7().simple());
        let user: Value = app.register(&email, PASSWORD, "Pat").await.created();
        let (cookie, csrf) = app.session_login(&email, PASSWORD).await;
        Person {
            app,
            id: id_of(&user),
            email,
            cookie,
            csrf,
        }
    }

    fn session(&self) -> SessionClient<'a> {
        self.app.with_session(&self.cookie, &self.csrf)
    }

    /// Turns TOTP on with a code from pyotp; the secret and the recovery codes.
    async fn enable_totp(&self) -> (String, Vec<String>) {
        let enrolment: Value = self
            .session()
            .post("/api/v1/me/totp", json!({}))
            .await
            .created();
        let secret = enrolment["secret"].as_str().unwrap().to_owned();
        let code = Pyotp::get().code(&secret, 0);
        let confirmed: Value = self
            .session()
            .post("/api/v1/me/totp/confirm", json!({ "code": code }))
            .await
            .good();
        let codes = confirmed["recovery_codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect();
        (secret, codes)
    }
}

/// A password sign-in that is challenged: the challenge's problem body.
async fn challenged(app: &TestApp, email: &str, ip: &str) -> Value {
    app.anon()
        .post(
            "/api/v1/auth/session",
            json!({"email": email, "password": PASSWORD}),
        )
        .forwarded_for(ip)
        .await
        .problem(401, "second_factor_required")
}

async fn answer(app: &TestApp, challenge: &Value, body: Value, ip: &str) -> TestResponse {
    let mut body = body;
    body["challenge"] = challenge["challenge"].clone();
    app.anon()
        .post("/api/v1/auth/session/second-factor", body)
        .forwarded_for(ip)
        .await
}

#[tokio::test]
async fn totp_enrolment_matches_pyotp_and_each_code_works_once() {
    let app = spawn_app().await;
    let pat = Person::new(&app).await;
    let status: Value = pat.session().get("/api/v1/me/totp").await.good();
    assert_eq!(status, json!({"enabled": false, "recovery_codes_left": 0}));

    let enrolment: Value = pat
        .session()
        .post("/api/v1/me/totp", json!({}))
        .await
        .created();
    let secret = enrolment["secret"].as_str().unwrap();
    // The otpauth URL as an independent reader (pyotp) sees it: RFC 6238, SHA-1, 6, 30 s.
    let parsed = Pyotp::get().parse_uri(enrolment["otpauth_url"].as_str().unwrap());
    assert_eq!(parsed["secret"], secret);
    assert_eq!(parsed["name"], pat.email.as_str());
    assert_eq!(
        (&parsed["digits"], &parsed["interval"], &parsed["digest"]),
        (&json!(6), &json!(30), &json!("sha1"))
    );
    assert!(parsed["issuer"].as_str().unwrap().starts_with("Docket"));
    let svg = enrolment["qr_svg"].as_str().unwrap();
    assert!(
        svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
        "{svg}"
    );
    // Not on until confirmed: a password sign-in is not challenged yet.
    app.session_login(&pat.email, PASSWORD).await;

    // A wrong code does not confirm; the code of the moment does.
    pat.session()
        .post("/api/v1/me/totp/confirm", json!({"code": "000000"}))
        .await
        .invalid_field("code");
    let now = Pyotp::get().code(secret, 0);
    let confirmed: Value = pat
        .session()
        .post("/api/v1/me/totp/confirm", json!({ "code": now }))
        .await
        .good();
    let codes = confirmed["recovery_codes"].as_array().unwrap();
    assert_eq!(codes.len(), 10);
    let distinct: std::collections::BTreeSet<&str> =
        codes.iter().map(|c| c.as_str().unwrap()).collect();
    assert_eq!(distinct.len(), 10);
    // Stored hashed: no code is in the database as written.
    for code in codes {
        let found: i64 = app
            .db
            .scalar(
                "SELECT count(*) FROM recovery_codes WHERE encode(code_hash, 'escape') LIKE '%' || $1 || '%'",
                &[&code.as_str().unwrap()],
            )
            .await;
        assert_eq!(found, 0);
    }
    let status: Value = pat.session().get("/api/v1/me/totp").await.good();
    assert_eq!(status, json!({"enabled": true, "recovery_codes_left": 10}));
    let me: Value = pat.session().get("/api/v1/me").await.good();
    assert_eq!(me["second_factor"], true);
    // Setting up again while it is on: refused.
    pat.session()
        .post("/api/v1/me/totp", json!({}))
        .await
        .problem(409, "conflict");

    // A password sign-in is now challenged; the confirming code does not answer it again.
    let ip = random_ip();
    let challenge = challenged(&app, &pat.email, &ip).await;
    assert_eq!(challenge["factors"], json!(["totp", "recovery_code"]));
    assert!(challenge.get("passkey").is_none());
    answer(&app, &challenge, json!({ "code": now }), &ip)
        .await
        .problem(401, "invalid_credentials");
    // The next step's code (within the ±1 step window) answers it, once.
    let next = Pyotp::get().code(secret, 30);
    let response = answer(&app, &challenge, json!({ "code": next }), &ip).await;
    let session: Value = response.good();
    assert_eq!(session["user"]["email"], pat.email.as_str());
    let cookie = response
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    app.with_cookie(&cookie)
        .get("/api/v1/me")
        .await
        .good::<Value>();
    // The challenge was spent with it.
    answer(&app, &challenge, json!({ "code": next }), &ip)
        .await
        .problem(401, "unauthenticated");
    let again = challenged(&app, &pat.email, &ip).await;
    answer(&app, &again, json!({ "code": next }), &ip)
        .await
        .problem(401, "invalid_credentials");
    let earlier = Pyotp::get().code(secret, -30);
    answer(&app, &again, json!({ "code": earlier }), &ip)
        .await
        .problem(401, "invalid_credentials");
}

#[tokio::test]
async fn the_password_grant_is_challenged_and_recovery_codes_work_once() {
    let app = spawn_app().await;
    let pat = Person::new(&app).await;
    let (_, codes) = pat.enable_totp().await;
    let ip = random_ip();
    let challenge = app
        .password_grant_from(&ip, &pat.email, PASSWORD)
        .await
        .problem(401, "second_factor_required");
    // Typed as people type them: upper case, spaces for dashes.
    let typed = codes[0].to_uppercase().replace('-', " ");
    let tokens: Value = answer(&app, &challenge, json!({ "recovery_code": typed }), &ip)
        .await
        .good();
    assert_eq!(tokens["token_type"], "Bearer");
    let access = tokens["access_token"].as_str().unwrap();
    app.with_token(access)
        .get("/api/v1/me")
        .await
        .good::<Value>();
    app.refresh_grant(tokens["refresh_token"].as_str().unwrap())
        .await
        .good::<Value>();
    // The same recovery code again: spent.
    let again = app
        .password_grant_from(&ip, &pat.email, PASSWORD)
        .await
        .problem(401, "second_factor_required");
    answer(&app, &again, json!({ "recovery_code": codes[0] }), &ip)
        .await
        .problem(401, "invalid_credentials");
    answer(&app, &again, json!({ "recovery_code": codes[1] }), &ip)
        .await
        .good::<Value>();
    let status: Value = pat.session().get("/api/v1/me/totp").await.good();
    assert_eq!(status["recovery_codes_left"], 8);
    // Exactly one answer, and a challenge that never was.
    answer(&app, &again, json!({}), &ip)
        .await
        .invalid_field("code");
    answer(
        &app,
        &again,
        json!({"code": "123456", "recovery_code": codes[2]}),
        &ip,
    )
    .await
    .invalid_field("code");
    app.anon()
        .post(
            "/api/v1/auth/session/second-factor",
            json!({"challenge": "nothing", "code": "123456"}),
        )
        .await
        .problem(401, "unauthenticated");
}

#[tokio::test]
async fn wrong_codes_count_like_wrong_passwords() {
    let app = spawn_app().await;
    let pat = Person::new(&app).await;
    let (secret, _) = pat.enable_totp().await;
    let ip = random_ip();
    let challenge = challenged(&app, &pat.email, &ip).await;
    // Ten wrong codes from one address: the account and address bucket is full (API.md §1).
    for _ in 0..10 {
        answer(&app, &challenge, json!({"code": "000000"}), &ip)
            .await
            .problem(401, "invalid_credentials");
    }
    let right = Pyotp::get().code(&secret, 30);
    let refused = answer(&app, &challenge, json!({ "code": right }), &ip).await;
    refused.problem(429, "rate_limited");
    assert!(refused.retry_after() > 0);
    // The same bucket refuses the password at that address too, before checking it.
    app.anon()
        .post(
            "/api/v1/auth/session",
            json!({"email": pat.email, "password": PASSWORD}),
        )
        .forwarded_for(&ip)
        .await
        .problem(429, "rate_limited");
    // From another address the owner gets in.
    let other = random_ip();
    let challenge = challenged(&app, &pat.email, &other).await;
    answer(&app, &challenge, json!({ "code": right }), &other)
        .await
        .good::<Value>();
    // Each wrong code is in the security log.
    let failures: i64 = app
        .db
        .scalar(
            "SELECT count(*) FROM security_events WHERE user_id = $1::text::uuid \
             AND kind = 'second_factor_failed'",
            &[&pat.id],
        )
        .await;
    assert_eq!(failures, 10);
}

#[tokio::test]
async fn turning_totp_off_needs_a_code_and_takes_the_recovery_codes_along() {
    let app = spawn_app().await;
    let pat = Person::new(&app).await;
    let (secret, codes) = pat.enable_totp().await;
    let session = pat.session();
    // A code is needed: none, a wrong one.
    session
        .delete_with("/api/v1/me/totp", json!({}))
        .await
        .invalid_field("code");
    session
        .delete_with("/api/v1/me/totp", json!({"code": "000000"}))
        .await
        .invalid_field("code");
    session
        .delete_with("/api/v1/me/totp", json!({ "recovery_code": codes[3] }))
        .await
        .no_content();
    session
        .delete_with(
            "/api/v1/me/totp",
            json!({ "code": Pyotp::get().code(&secret, 0) }),
        )
        .await
        .problem(404, "not_found");
    let left: i64 = app
        .db
        .scalar(
            "SELECT count(*) FROM recovery_codes WHERE user_id = $1::text::uuid",
            &[&pat.id],
        )
        .await;
    assert_eq!(left, 0);
    // Off: a password alone signs in again, and the old secret's codes mean nothing.
    app.session_login(&pat.email, PASSWORD).await;
    let me: Value = pat.session().get("/api/v1/me").await.good();
    assert_eq!(me["second_factor"], false);
}

#[tokio::test]
async fn require_2fa_holds_a_covered_user_to_setting_one_up() {
    let app = TestApp::build()
        .config(|args| args.require_2fa = Some("admins".to_owned()))
        .spawn()
        .await;
    // The first user is the admin; the second is not covered.
    let admin = Person::new(&app).await;
    let member = Person::new(&app).await;
    let session: Value = admin.session().get("/api/v1/auth/session").await.good();
    assert_eq!(session["second_factor_setup_required"], true);
    admin
        .session()
        .get("/api/v1/projects")
        .await
        .problem(403, "second_factor_setup_required");
    admin
        .session()
        .post(
            "/api/v1/me/tokens",
            json!({"name": "x", "scopes": ["read"]}),
        )
        .await
        .problem(403, "second_factor_setup_required");
    // An access token of theirs is held the same way.
    let tokens: Value = app.password_grant(&admin.email, PASSWORD).await.good();
    app.with_token(tokens["access_token"].as_str().unwrap())
        .get("/api/v1/projects")
        .await
        .problem(403, "second_factor_setup_required");
    // What setting one up needs works.
    admin.session().get("/api/v1/me").await.good::<Value>();
    member
        .session()
        .get("/api/v1/projects")
        .await
        .good::<Value>();
    let member_session: Value = member.session().get("/api/v1/auth/session").await.good();
    assert_eq!(member_session["second_factor_setup_required"], false);

    admin.enable_totp().await;
    admin
        .session()
        .get("/api/v1/projects")
        .await
        .good::<Value>();
    let session: Value = admin.session().get("/api/v1/auth/session").await.good();
    assert_eq!(session["second_factor_setup_required"], false);
    // The access token from before follows at once (the principal cache was told).
    app.with_token(tokens["access_token"].as_str().unwrap())
        .get("/api/v1/projects")
        .await
        .good::<Value>();
}

#[tokio::test]
async fn an_admin_resets_a_users_factors_and_the_log_says_who() {
    let app = spawn_app().await;
    let admin = Person::new(&app).await;
    let pat = Person::new(&app).await;
    pat.enable_totp().await;
    let path = format!("/api/v1/admin/users/{}/factors", pat.id);
    pat.session().delete(&path).await.problem(403, "forbidden");
    admin.session().delete(&path).await.no_content();
    admin
        .session()
        .delete(&format!("/api/v1/admin/users/{}/factors", Uuid::now_v7()))
        .await
        .problem(404, "not_found");
    // A password alone signs in again.
    app.session_login(&pat.email, PASSWORD).await;
    let log: Value = pat.session().get("/api/v1/me/security-events").await.good();
    let reset = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "factors_reset")
        .expect("the reset is in the log");
    assert_eq!(reset["detail"], format!("by {}", admin.email));
}

#[tokio::test]
async fn the_security_log_shows_sign_ins_and_changes_newest_first() {
    let app = spawn_app().await;
    let email = format!("log-{}@example.com", Uuid::now_v7().simple());
    app.register(&email, PASSWORD, "Lou")
        .await
        .created::<Value>();
    let signed_in = app
        .anon()
        .post(
            "/api/v1/auth/session",
            json!({"email": email, "password": PASSWORD}),
        )
        .forwarded_for("203.0.113.9")
        .header("user-agent", "Mozilla/5.0 (Test) Firefox/140.0")
        .await;
    let body: Value = signed_in.good();
    let cookie = signed_in
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let lou = app.with_session(&cookie, body["csrf_token"].as_str().unwrap());
    let token: Value = lou
        .post(
            "/api/v1/me/tokens",
            json!({"name": "nightly", "scopes": ["read"]}),
        )
        .await
        .created();
    lou.delete(&format!("/api/v1/me/tokens/{}", id_of(&token)))
        .await
        .no_content();
    lou.put(
        "/api/v1/me/password",
        json!({"current_password": PASSWORD, "new_password": "another long passphrase"}),
    )
    .await
    .no_content();

    let log: Page<Value> = lou.get("/api/v1/me/security-events").await.good();
    let kinds: Vec<&str> = log
        .items
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "password_changed",
            "api_token_revoked",
            "api_token_created",
            "signed_in"
        ]
    );
    let sign_in = &log.items[3];
    assert_eq!(sign_in["method"], "password");
    assert_eq!(sign_in["detail"], "session");
    assert_eq!(sign_in["address"], "203.0.113.9");
    assert_eq!(sign_in["user_agent"], "Mozilla/5.0 (Test) Firefox/140.0");
    assert_eq!(log.items[1]["detail"], "nightly");
    assert!(is_utc_timestamp(&sign_in["created_at"]));
    // Pages, newest first, without repeats.
    let first: Page<Value> = lou.get("/api/v1/me/security-events?limit=3").await.good();
    let cursor = first.next_cursor.expect("a second page");
    let second: Page<Value> = lou
        .get(&format!(
            "/api/v1/me/security-events?limit=3&cursor={cursor}"
        ))
        .await
        .good();
    assert_eq!(first.items.len() + second.items.len(), 4);
    assert_eq!(second.items[0]["kind"], "signed_in");
    // Someone else sees only their own log.
    let other = app.new_client().await;
    let theirs: Page<Value> = other.get("/api/v1/me/security-events").await.good();
    assert!(theirs.items.iter().all(|e| e["kind"] == "signed_in"));
    other
        .get(&format!("/api/v1/me/security-events?cursor={cursor}"))
        .await
        .problem(400, "invalid_query");
}

#[tokio::test]
async fn passkey_ceremonies_ask_for_discoverable_credentials_and_user_verification() {
    // WebAuthn needs a host name: the relying party is the public URL's host.
    let app = TestApp::build()
        .config(|args| args.public_url = Some("http://localhost:8080".to_owned()))
        .spawn()
        .await;
    let pat = Person::new(&app).await;
    let providers: Value = app.anon().get("/api/v1/auth/providers").await.good();
    assert_eq!(providers, json!({"items": [], "passkeys": true}));
    let start: Value = pat
        .session()
        .post("/api/v1/me/passkeys/register/start", json!({}))
        .await
        .good();
    let options = &start["options"]["publicKey"];
    assert_eq!(options["rp"]["id"], "localhost");
    assert_eq!(options["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(
        options["authenticatorSelection"]["userVerification"],
        "required"
    );
    assert_eq!(options["user"]["name"], pat.email.as_str());
    // An answer that is not a credential is refused and spends nothing; a made-up one is
    // refused by the ceremony, which it spends.
    pat.session()
        .post(
            "/api/v1/me/passkeys/register/finish",
            json!({"challenge": start["challenge"], "name": "Laptop", "credential": {"id": 1}}),
        )
        .await
        .invalid_field("credential");
    let forged = json!({
        "id": "AAAA", "rawId": "AAAA", "type": "public-key",
        "response": {"attestationObject": "AAAA", "clientDataJSON": "AAAA"}
    });
    let finish = json!({"challenge": start["challenge"], "name": "Laptop", "credential": forged});
    pat.session()
        .post("/api/v1/me/passkeys/register/finish", finish.clone())
        .await
        .invalid_field("credential");
    pat.session()
        .post("/api/v1/me/passkeys/register/finish", finish)
        .await
        .invalid_field("challenge");
    let keys: Value = pat.session().get("/api/v1/me/passkeys").await.good();
    assert_eq!(keys, json!({"items": []}));

    // Signing in with a passkey alone: no email asked, user verification required.
    let start: Value = app
        .anon()
        .post("/api/v1/auth/passkey/start", json!({}))
        .await
        .good();
    let options = &start["options"]["publicKey"];
    assert_eq!(options["userVerification"], "required");
    assert!(options["allowCredentials"]
        .as_array()
        .is_none_or(|a| a.is_empty()));
    assert!(start["options"].get("mediation").is_none());
    let forged = json!({
        "id": "AAAA", "rawId": "AAAA", "type": "public-key",
        "response": {"authenticatorData": "AAAA", "clientDataJSON": "AAAA", "signature": "AAAA",
                     "userHandle": "AAAA"}
    });
    app.anon()
        .post(
            "/api/v1/auth/passkey/finish",
            json!({"challenge": start["challenge"], "credential": forged}),
        )
        .await
        .problem(401, "invalid_credentials");
    // The challenge went with that try.
    app.anon()
        .post(
            "/api/v1/auth/passkey/finish",
            json!({"challenge": start["challenge"], "credential": forged}),
        )
        .await
        .problem(401, "invalid_credentials");

    // On an address that is not a host name, passkeys are off and say why.
    let bare = spawn_app().await;
    let providers: Value = bare.anon().get("/api/v1/auth/providers").await.good();
    assert_eq!(providers["passkeys"], false);
    bare.anon()
        .post("/api/v1/auth/passkey/start", json!({}))
        .await
        .problem(409, "conflict");
}
