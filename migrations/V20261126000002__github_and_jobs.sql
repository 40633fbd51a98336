-- GitHub links: one repository per project, kept in sync by jobs.
CREATE TABLE github_links (
    project_id        uuid PRIMARY KEY REFERENCES projects ON DELETE CASCADE,
    repository        text NOT NULL,
    -- XChaCha20-Poly1305: 24-byte nonce followed by the ciphertext; NULL = use the server's token.
    token_ciphertext  bytea,
    state             text NOT NULL DEFAULT 'pending'
                          CHECK (state IN ('pending', 'syncing', 'idle', 'failed')),
    last_synced_at    timestamptz,
    last_error        text,
    next_sync_at      timestamptz NOT NULL DEFAULT now(),
    -- The newest issue `updated_at` seen; incremental syncs ask for issues since a bit before.
    synced_through    timestamptz,
    created_by        uuid NOT NULL REFERENCES users,
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX github_links_next_sync ON github_links (next_sync_at);

-- A durable job queue: claimed with FOR UPDATE SKIP LOCKED, so each job runs once however
-- many instances poll.
CREATE TABLE jobs (
    id            uuid PRIMARY KEY,
    kind          text NOT NULL,
    payload       jsonb NOT NULL,
    dedupe_key    text,
    state         text NOT NULL DEFAULT 'queued'
                      CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempts      integer NOT NULL DEFAULT 0,
    max_attempts  integer NOT NULL DEFAULT 5,
    run_at        timestamptz NOT NULL DEFAULT now(),
    locked_at     timestamptz,
    last_error    text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
-- At most one queued or running job per key (one sync per link).
CREATE UNIQUE INDEX jobs_one_active_per_key ON jobs (dedupe_key)
    WHERE state IN ('queued', 'running');
CREATE INDEX jobs_ready ON jobs (run_at) WHERE state = 'queued';
CREATE INDEX jobs_running ON jobs (locked_at) WHERE state = 'running';

-- Conditional-request cache of outbound GET responses, per URL and token.
CREATE TABLE http_cache (
    cache_key      text PRIMARY KEY,
    etag           text,
    last_modified  text,
    link           text,
    body           bytea NOT NULL,
    stored_at      timestamptz NOT NULL DEFAULT now()
);
