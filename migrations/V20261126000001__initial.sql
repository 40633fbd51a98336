-- Accounts, credentials and abuse counters.
CREATE TABLE users (
    id                  uuid PRIMARY KEY,
    email               text NOT NULL,
    name                text NOT NULL,
    password_hash       text NOT NULL,
    role                text NOT NULL CHECK (role IN ('admin', 'user')),
    disabled            boolean NOT NULL DEFAULT false,
    created_at          timestamptz NOT NULL DEFAULT now()
);
-- Enforced by the database so that two racing registrations cannot both succeed.
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_created_at_id ON users (created_at, id);

CREATE TABLE sessions (
    id            uuid PRIMARY KEY,
    token_hash    bytea NOT NULL UNIQUE,
    user_id       uuid NOT NULL REFERENCES users ON DELETE CASCADE,
    csrf_token    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL
);
CREATE INDEX sessions_user_id ON sessions (user_id);

-- Opaque refresh tokens, one family per login; a spent token stays (used_at set) so that its
-- reuse can be detected.
CREATE TABLE refresh_tokens (
    id          uuid PRIMARY KEY,
    token_hash  bytea NOT NULL UNIQUE,
    family_id   uuid NOT NULL,
    user_id     uuid NOT NULL REFERENCES users ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    revoked_at  timestamptz
);
CREATE INDEX refresh_tokens_family_id ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_id ON refresh_tokens (user_id);

CREATE TABLE api_tokens (
    id            uuid PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users ON DELETE CASCADE,
    name          text NOT NULL,
    token_hash    bytea NOT NULL UNIQUE,
    scopes        text[] NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz,
    last_used_at  timestamptz
);
CREATE INDEX api_tokens_user_id ON api_tokens (user_id, created_at);

-- Failed logins and registrations, counted across every instance.
CREATE TABLE auth_attempts (
    bucket       text NOT NULL,
    attempted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX auth_attempts_bucket_at ON auth_attempts (bucket, attempted_at);

-- Projects and memberships.
CREATE TABLE projects (
    id                uuid PRIMARY KEY,
    name              text NOT NULL,
    description       text NOT NULL DEFAULT '',
    -- Set only on Inboxes: one Inbox per user.
    inbox_of          uuid UNIQUE REFERENCES users ON DELETE CASCADE,
    next_task_number  bigint NOT NULL DEFAULT 1,
    version           bigint NOT NULL DEFAULT 1,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE memberships (
    project_id  uuid NOT NULL REFERENCES projects ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users ON DELETE CASCADE,
    role        text NOT NULL CHECK (role IN ('viewer', 'editor', 'admin', 'owner')),
    added_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, user_id)
);
CREATE INDEX memberships_user_id ON memberships (user_id, project_id);
-- At most one owner per project...
CREATE UNIQUE INDEX memberships_one_owner ON memberships (project_id) WHERE role = 'owner';

-- ...and at least one, checked when the transaction commits.
CREATE FUNCTION check_project_has_owner() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    pid uuid;
BEGIN
    IF TG_TABLE_NAME = 'projects' THEN
        pid := NEW.id;
    ELSE
        pid := OLD.project_id;
    END IF;
    IF EXISTS (SELECT 1 FROM projects WHERE id = pid)
       AND NOT EXISTS (SELECT 1 FROM memberships WHERE project_id = pid AND role = 'owner') THEN
        RAISE EXCEPTION 'project % has no owner', pid USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER projects_have_an_owner
    AFTER INSERT ON projects DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION check_project_has_owner();
CREATE CONSTRAINT TRIGGER memberships_keep_an_owner
    AFTER UPDATE OR DELETE ON memberships DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION check_project_has_owner();

-- Inboxes are never shared: only their owner may be a member.
CREATE FUNCTION check_inbox_membership() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM projects WHERE id = NEW.project_id AND inbox_of IS NOT NULL
               AND inbox_of <> NEW.user_id) THEN
        RAISE EXCEPTION 'an Inbox cannot be shared' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER memberships_inbox_private
    BEFORE INSERT OR UPDATE ON memberships
    FOR EACH ROW EXECUTE FUNCTION check_inbox_membership();

-- Tasks.
CREATE TABLE tasks (
    id                 uuid PRIMARY KEY,
    project_id         uuid NOT NULL REFERENCES projects ON DELETE CASCADE,
    number             bigint NOT NULL,
    title              text NOT NULL,
    description        text NOT NULL DEFAULT '',
    status             text NOT NULL CHECK (status IN ('todo', 'in_progress', 'done', 'canceled')),
    priority           smallint NOT NULL DEFAULT 0 CHECK (priority BETWEEN 0 AND 4),
    due_date           date,
    labels             text[] NOT NULL DEFAULT '{}',
    assignee_id        uuid REFERENCES users ON DELETE SET NULL,
    created_by         uuid NOT NULL REFERENCES users,
    completed_at       timestamptz,
    source_repository  text,
    source_number      bigint,
    source_url         text,
    github_issue_id    bigint,
    version            bigint NOT NULL DEFAULT 1,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    search             tsvector GENERATED ALWAYS AS
                         (to_tsvector('english', title || ' ' || description)) STORED,
    CONSTRAINT tasks_project_number UNIQUE (project_id, number),
    CONSTRAINT tasks_completed_at_matches_status CHECK ((status = 'done') = (completed_at IS NOT NULL))
);
-- One index per sort of the list endpoints; the due-date keys put nulls last both ways.
CREATE INDEX tasks_project_created ON tasks (project_id, created_at, id);
CREATE INDEX tasks_project_updated ON tasks (project_id, updated_at, id);
CREATE INDEX tasks_project_priority ON tasks (project_id, priority, id);
CREATE INDEX tasks_project_due_asc ON tasks (project_id, coalesce(due_date, 'infinity'::date), id);
CREATE INDEX tasks_project_due_desc ON tasks (project_id, coalesce(due_date, '-infinity'::date), id);
CREATE INDEX tasks_assignee ON tasks (assignee_id, project_id) WHERE assignee_id IS NOT NULL;
CREATE INDEX tasks_labels ON tasks USING gin (labels);
CREATE INDEX tasks_search ON tasks USING gin (search);
CREATE UNIQUE INDEX tasks_github_issue ON tasks (project_id, github_issue_id)
    WHERE github_issue_id IS NOT NULL;

-- Idempotency keys of creating POSTs, shared by every instance.
CREATE TABLE idempotency_keys (
    principal_id   uuid NOT NULL,
    key            text NOT NULL,
    request_hash   bytea NOT NULL,
    status         smallint,
    headers        jsonb,
    body           bytea,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (principal_id, key)
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
