-- Working together (API.md §10–12): comments, the activity history and notifications.

-- Comments on a task. The author may leave (the comment stays, authorless).
CREATE TABLE comments (
    id          uuid PRIMARY KEY,
    task_id     uuid NOT NULL REFERENCES tasks ON DELETE CASCADE,
    author_id   uuid REFERENCES users ON DELETE SET NULL,
    body        text NOT NULL,
    mentions    uuid[] NOT NULL DEFAULT '{}',
    version     bigint NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
-- Ids are UUIDv7, so (task_id, id) is oldest first.
CREATE INDEX comments_task_id ON comments (task_id, id);

-- Kept by the comment store in the statement that adds or removes a comment, so that the
-- quota of comments per task is exact under concurrent writers (the task row is locked).
ALTER TABLE tasks ADD COLUMN comment_count integer NOT NULL DEFAULT 0;

-- The history. Rows are written last in their transaction, under one advisory lock held until
-- commit (db::Tx::commit), so `id` increases in commit order — which is what lets a reader
-- resume "after id N" without missing an entry committed later with a smaller id.
-- No foreign keys on purpose: an insert under the journal lock must not wait on a row lock
-- (a KEY SHARE on a locked project row would deadlock with its holder waiting for the lock),
-- and entries outlive the tasks, comments and users they name.
CREATE TABLE activity (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor_id    uuid,
    kind        text NOT NULL CHECK (kind IN (
                    'task.created', 'task.updated', 'task.moved', 'task.deleted',
                    'comment.created', 'comment.updated', 'comment.deleted',
                    'member.added', 'member.updated', 'member.removed',
                    'project.updated', 'github.synced')),
    project_id  uuid NOT NULL,
    task_id     uuid,
    comment_id  uuid,
    -- The member a member.* entry is about.
    user_id     uuid,
    changes     jsonb NOT NULL DEFAULT '[]',
    -- github.synced: {"created": n, "updated": m}.
    counts      jsonb
);
CREATE INDEX activity_project_id ON activity (project_id, id);
CREATE INDEX activity_task_id ON activity (task_id, id) WHERE task_id IS NOT NULL;

-- Notifications (§12). `cause` makes "once per cause" a unique key.
CREATE TABLE notifications (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('assigned', 'mentioned', 'commented', 'due_soon', 'overdue')),
    task_id     uuid NOT NULL REFERENCES tasks ON DELETE CASCADE,
    actor_id    uuid REFERENCES users ON DELETE SET NULL,
    comment_id  uuid,
    cause       text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    read_at     timestamptz,
    UNIQUE (user_id, cause)
);
CREATE INDEX notifications_user_id ON notifications (user_id, id);
CREATE INDEX notifications_unread ON notifications (user_id, id) WHERE read_at IS NULL;
CREATE INDEX notifications_task_id ON notifications (task_id);

ALTER TABLE users ADD COLUMN email_notifications boolean NOT NULL DEFAULT true;
