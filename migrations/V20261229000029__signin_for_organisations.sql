-- Sign-in for organisations (issue 29, API.md §21): single sign-on identities, second factors
-- (TOTP with recovery codes, passkeys), the ceremonies in between, and the account's security log.

-- An account that single sign-on created has no password.
ALTER TABLE users ALTER COLUMN password_hash DROP NOT NULL;
-- Whether the user has a second factor (a confirmed TOTP or a passkey). Kept by the triggers
-- below so that it travels with the user row on every request (DOCKET_REQUIRE_2FA), and so that
-- a change reaches every instance's principal cache through `users_announce_changes`.
ALTER TABLE users ADD COLUMN second_factor boolean NOT NULL DEFAULT false;

-- How a session began: `password` (with or without a second factor), `passkey`, or `oidc`
-- (single sign-on answers for its own second factor).
ALTER TABLE sessions ADD COLUMN method text NOT NULL DEFAULT 'password'
    CHECK (method IN ('password', 'passkey', 'oidc'));

-- An account's identity at a single sign-on provider: found by (provider, subject) only, never
-- by email.
CREATE TABLE identities (
    user_id    uuid NOT NULL REFERENCES users ON DELETE CASCADE,
    provider   text NOT NULL,
    subject    text NOT NULL,
    email      text,
    linked_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, provider),
    UNIQUE (provider, subject)
);

-- Authorization requests in flight: found by the hash of `state`, and only together with the
-- hash of the browser's binding cookie; deleted when the callback takes them (single use).
CREATE TABLE oidc_flows (
    state_hash     bytea PRIMARY KEY,
    browser_hash   bytea NOT NULL,
    provider       text NOT NULL,
    nonce          text NOT NULL,
    pkce_verifier  text NOT NULL,
    return_to      text NOT NULL,
    -- Set when a signed-in user links an identity (`POST /me/identities/{provider}`).
    link_user_id   uuid REFERENCES users ON DELETE CASCADE,
    expires_at     timestamptz NOT NULL
);
CREATE INDEX oidc_flows_expires_at ON oidc_flows (expires_at);

-- TOTP (RFC 6238). The secret is sealed with DOCKET_ENCRYPTION_KEY; `last_step` is the newest
-- time step a code was accepted for, so that a code works once.
CREATE TABLE totp_credentials (
    user_id       uuid PRIMARY KEY REFERENCES users ON DELETE CASCADE,
    secret        bytea NOT NULL,
    confirmed_at  timestamptz,
    last_step     bigint NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Recovery codes, stored as SHA-256 hashes of 80-bit random codes; each works once.
CREATE TABLE recovery_codes (
    user_id    uuid NOT NULL REFERENCES users ON DELETE CASCADE,
    code_hash  bytea NOT NULL,
    used_at    timestamptz,
    PRIMARY KEY (user_id, code_hash)
);

-- Passkeys (WebAuthn credentials): the public key and signature counter as webauthn-rs keeps
-- them.
CREATE TABLE passkeys (
    id             uuid PRIMARY KEY,
    user_id        uuid NOT NULL REFERENCES users ON DELETE CASCADE,
    credential_id  bytea NOT NULL UNIQUE,
    name           text NOT NULL,
    credential     jsonb NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_used_at   timestamptz
);
CREATE INDEX passkeys_user_id ON passkeys (user_id, created_at);

-- WebAuthn ceremonies between their start and finish (any instance may finish what another
-- started): the hash of the opaque challenge id, the server-side state, five minutes.
CREATE TABLE webauthn_ceremonies (
    challenge_hash  bytea PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('register', 'sign_in')),
    user_id         uuid REFERENCES users ON DELETE CASCADE,
    state           jsonb NOT NULL,
    expires_at      timestamptz NOT NULL
);
CREATE INDEX webauthn_ceremonies_expires_at ON webauthn_ceremonies (expires_at);

-- A password sign-in waiting for its second factor: single use, five minutes. `grant_kind`
-- says what the answer gets (a cookie session or the token body); `passkey_state` is the
-- WebAuthn assertion offered with it when the user has passkeys.
CREATE TABLE login_challenges (
    challenge_hash  bytea PRIMARY KEY,
    user_id         uuid NOT NULL REFERENCES users ON DELETE CASCADE,
    grant_kind      text NOT NULL CHECK (grant_kind IN ('session', 'token')),
    passkey_state   jsonb,
    expires_at      timestamptz NOT NULL
);
CREATE INDEX login_challenges_expires_at ON login_challenges (expires_at);

-- The account's security log (kept 90 days).
CREATE TABLE security_events (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users ON DELETE CASCADE,
    kind        text NOT NULL,
    method      text,
    address     text,
    user_agent  text,
    detail      text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX security_events_user_id ON security_events (user_id, created_at DESC, id DESC);
CREATE INDEX security_events_created_at ON security_events (created_at);

CREATE FUNCTION refresh_second_factor() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    uid uuid := CASE WHEN TG_OP = 'DELETE' THEN OLD.user_id ELSE NEW.user_id END;
    has boolean;
BEGIN
    has := EXISTS (SELECT 1 FROM totp_credentials t
                   WHERE t.user_id = uid AND t.confirmed_at IS NOT NULL)
        OR EXISTS (SELECT 1 FROM passkeys p WHERE p.user_id = uid);
    UPDATE users SET second_factor = has WHERE id = uid AND second_factor IS DISTINCT FROM has;
    RETURN NULL;
END $$;

CREATE TRIGGER totp_credentials_second_factor
    AFTER INSERT OR DELETE OR UPDATE OF confirmed_at ON totp_credentials
    FOR EACH ROW EXECUTE FUNCTION refresh_second_factor();

CREATE TRIGGER passkeys_second_factor
    AFTER INSERT OR DELETE ON passkeys
    FOR EACH ROW EXECUTE FUNCTION refresh_second_factor();
