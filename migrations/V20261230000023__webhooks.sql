-- Webhooks (API.md §13, issue 23). The outbox is the activity history itself: each webhook
-- keeps its `position` in it (the last entry id it is done with), so an entry is "queued" for
-- every webhook of its project from the moment it is numbered, in the change's own commit and
-- with no extra write on the write path. The delivery worker claims a webhook row with
-- `FOR UPDATE SKIP LOCKED` and keeps it locked while it sends (one in flight per webhook, in
-- id order = commit order); it moves `position` in the same transaction that records the
-- attempt, so a crash at any point before that commit sends the same event again, with the
-- same `webhook-id`.
CREATE TABLE webhooks (
    id                   uuid PRIMARY KEY,
    project_id           uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    url                  text NOT NULL,
    -- Activity kinds, or '*' for all of them.
    events               text[] NOT NULL CHECK (cardinality(events) > 0),
    description          text,
    active               boolean NOT NULL DEFAULT true,
    disabled_reason      text,
    -- XChaCha20-Poly1305 with the webhook id as associated data (`src/secrets.rs`).
    secret               bytea NOT NULL,
    -- After a rotation the old secret signs too, until `previous_until`.
    previous_secret      bytea,
    previous_until       timestamptz,
    -- The last activity id this webhook is done with (delivered, failed for good, or filtered out).
    position             bigint NOT NULL,
    -- Attempts made at the first entry after `position`, and when the next one is due.
    head_attempts        integer NOT NULL DEFAULT 0,
    retry_at             timestamptz,
    -- When the current run of failures began (NULL after a success): 24 h of it disables.
    failing_since        timestamptz,
    -- When a worker last took it (claims go to the longest-waiting webhook first).
    claimed_at           timestamptz NOT NULL DEFAULT '-infinity',
    created_at           timestamptz NOT NULL DEFAULT now(),
    last_delivery_at     timestamptz,
    last_status          text CHECK (last_status IN ('delivered', 'failed'))
);
CREATE INDEX webhooks_project ON webhooks (project_id, id);
CREATE INDEX webhooks_active ON webhooks (claimed_at) WHERE active;

-- One row per attempt; a `pending` row is a delivery asked for by hand (ping, redeliver) that
-- was not attempted yet, and becomes its own attempt.
CREATE TABLE webhook_deliveries (
    id               uuid PRIMARY KEY,
    webhook_id       uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    -- The `webhook-id` header: `evt_<activity id>`, or `ping_<uuid>`.
    event_id         text NOT NULL,
    kind             text NOT NULL,
    -- The body sent (redelivery sends it again, byte for byte).
    payload          text NOT NULL,
    attempt          integer NOT NULL CHECK (attempt > 0),
    status           text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    response_status  integer,
    error            text,
    duration_ms      integer,
    created_at       timestamptz NOT NULL DEFAULT now(),
    next_attempt_at  timestamptz
);
CREATE INDEX webhook_deliveries_list ON webhook_deliveries (webhook_id, id DESC);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (webhook_id, id) WHERE status = 'pending';
-- The maintenance loop drops attempts after 30 days.
CREATE INDEX webhook_deliveries_age ON webhook_deliveries (created_at) WHERE status <> 'pending';

-- Password reset (API.md §14): single-use tokens valid 1 h, only their hash kept.
CREATE TABLE password_resets (
    token_hash  bytea PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX password_resets_user ON password_resets (user_id);
CREATE INDEX password_resets_expiry ON password_resets (expires_at);

-- Invitations (API.md §14): someone without an account invited to a project by email. The
-- token is single-use (the row goes when it is accepted) and valid 7 days; only its hash kept.
CREATE TABLE invitations (
    id          uuid PRIMARY KEY,
    project_id  uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    email       text NOT NULL,
    role        text NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
    invited_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    token_hash  bytea NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
-- One invitation per address and project: inviting again replaces it (and its link).
CREATE UNIQUE INDEX invitations_per_address ON invitations (project_id, lower(email));
CREATE INDEX invitations_list ON invitations (project_id, created_at, id);
CREATE INDEX invitations_expiry ON invitations (expires_at);
