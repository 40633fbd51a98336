-- Attachments (API.md §20): the rows live here, the files in storage (`attachments::storage`:
-- the data dir or S3), never in PostgreSQL.

CREATE TABLE attachments (
    id            uuid PRIMARY KEY,
    -- The task's project, kept by the trigger below when the task moves: the quota of a
    -- project is an index-only sum over this column.
    project_id    uuid NOT NULL,
    task_id       uuid NOT NULL REFERENCES tasks ON DELETE CASCADE,
    comment_id    uuid REFERENCES comments ON DELETE CASCADE,
    name          text NOT NULL,
    -- As sniffed from the bytes, never as the client declared it.
    content_type  text NOT NULL,
    size          bigint NOT NULL CHECK (size >= 0),
    sha256        bytea NOT NULL CHECK (length(sha256) = 32),
    uploaded_by   uuid REFERENCES users ON DELETE SET NULL,
    -- Which storage holds the file ('local' or 's3://bucket/prefix'); `docket storage
    -- migrate` moves rows from one to another, one at a time.
    store         text NOT NULL,
    thumbnail     boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now()
);
-- Ids are UUIDv7: (task_id, id DESC) is newest first.
CREATE INDEX attachments_task_id ON attachments (task_id, id);
CREATE INDEX attachments_comment_id ON attachments (comment_id) WHERE comment_id IS NOT NULL;
CREATE INDEX attachments_project_size ON attachments (project_id) INCLUDE (size);

-- Uploads under way: a file in storage without its row yet. Deleted in the transaction that
-- writes the row; what a crash leaves is removed by the orphan sweep (`multipart` is the S3
-- multipart upload to abort).
CREATE TABLE attachment_uploads (
    id          uuid PRIMARY KEY,
    store       text NOT NULL,
    multipart   text,
    started_at  timestamptz NOT NULL DEFAULT now()
);

-- Files whose rows are gone (deleted one by one, or with their task, comment or project),
-- removed from storage by a job after the deleting transaction committed.
CREATE TABLE attachment_garbage (
    id          uuid PRIMARY KEY,
    store       text NOT NULL,
    deleted_at  timestamptz NOT NULL DEFAULT now()
);

-- The storage new files go to once `docket storage migrate` has switched it (no row: the
-- configured DOCKET_STORAGE).
CREATE TABLE attachment_storage (
    only_row    boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    current     text NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now()
);

-- Paperclip counts on cards and rows, like comment_count. Kept by the database because rows
-- also go with their comment, task or project (cascades no store sees).
ALTER TABLE tasks ADD COLUMN attachment_count integer NOT NULL DEFAULT 0;

CREATE FUNCTION attachments_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE tasks SET attachment_count = attachment_count + 1 WHERE id = NEW.task_id;
        RETURN NEW;
    END IF;
    -- A task deleted with its files is already gone: the update finds nothing.
    UPDATE tasks SET attachment_count = attachment_count - 1 WHERE id = OLD.task_id;
    INSERT INTO attachment_garbage (id, store) VALUES (OLD.id, OLD.store)
        ON CONFLICT (id) DO NOTHING;
    RETURN OLD;
END $$;

CREATE TRIGGER attachments_counted_and_collected
    AFTER INSERT OR DELETE ON attachments
    FOR EACH ROW EXECUTE FUNCTION attachments_follow();

CREATE FUNCTION attachments_follow_task_moves() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE attachments SET project_id = NEW.project_id WHERE task_id = NEW.id;
    RETURN NEW;
END $$;

CREATE TRIGGER tasks_move_their_attachments
    AFTER UPDATE OF project_id ON tasks
    FOR EACH ROW WHEN (OLD.project_id IS DISTINCT FROM NEW.project_id)
    EXECUTE FUNCTION attachments_follow_task_moves();

ALTER TABLE activity DROP CONSTRAINT activity_kind_check;
ALTER TABLE activity ADD CONSTRAINT activity_kind_check CHECK (kind IN (
    'task.created', 'task.updated', 'task.moved', 'task.deleted',
    'task.related', 'task.unrelated',
    'comment.created', 'comment.updated', 'comment.deleted',
    'member.added', 'member.updated', 'member.removed',
    'project.updated', 'github.synced',
    'attachment.added', 'attachment.deleted'));

-- The journal's pending entries (V20261219000001) check the same kinds.
ALTER TABLE activity_pending DROP CONSTRAINT activity_pending_kind_check;
ALTER TABLE activity_pending ADD CONSTRAINT activity_pending_kind_check CHECK (kind IN (
    'task.created', 'task.updated', 'task.moved', 'task.deleted',
    'task.related', 'task.unrelated',
    'comment.created', 'comment.updated', 'comment.deleted',
    'member.added', 'member.updated', 'member.removed',
    'project.updated', 'github.synced',
    'attachment.added', 'attachment.deleted'));
