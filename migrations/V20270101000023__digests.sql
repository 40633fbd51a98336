-- Notification digests by email (API.md §14, issue 23).
--
-- `digested_at`: when a digest took the notification (emailed, or passed over: read in the app
-- by then, the user's emails off, no longer a member). NULL = waiting for the user's next
-- digest. Rows that exist before this migration count as taken ('-infinity'), so an upgrade
-- does not mail everyone their whole past: the column is added with that default, which
-- PostgreSQL keeps for the existing rows without rewriting the table, and the default is then
-- dropped so that new rows start NULL.
ALTER TABLE notifications ADD COLUMN digested_at timestamptz DEFAULT '-infinity';
ALTER TABLE notifications ALTER COLUMN digested_at DROP DEFAULT;
-- The waiting rows: only the last few minutes' notifications, so the index stays small.
CREATE INDEX notifications_undigested ON notifications (user_id, created_at)
    WHERE digested_at IS NULL;

-- One row per user who has had a digest: the claim that makes "at most one email per user per
-- period" hold across any number of instances (an upsert that succeeds only when the last
-- digest is at least one period old; the row lock decides between two instances).
CREATE TABLE notification_digests (
    user_id uuid PRIMARY KEY REFERENCES users ON DELETE CASCADE,
    sent_at timestamptz NOT NULL
);

-- A webhook switched off after failing (API.md §13) tells its project's admins in the app too:
-- kind `webhook_disabled`, about a webhook rather than a task (§12 only has task notifications).
-- A notification is about exactly one of the two; deleting either deletes it.
ALTER TABLE notifications ALTER COLUMN task_id DROP NOT NULL;
ALTER TABLE notifications ADD COLUMN webhook_id uuid REFERENCES webhooks ON DELETE CASCADE;
ALTER TABLE notifications ADD CONSTRAINT notifications_subject_check
    CHECK ((task_id IS NULL) <> (webhook_id IS NULL));
CREATE INDEX notifications_webhook_id ON notifications (webhook_id) WHERE webhook_id IS NOT NULL;
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check CHECK (kind IN (
    'assigned', 'mentioned', 'commented', 'due_soon', 'overdue', 'unblocked', 'reminder',
    'webhook_disabled'));
