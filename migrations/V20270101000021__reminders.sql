-- API.md §19 reminders: up to five per task, relative to the due date and time
-- (`before_minutes`) or absolute (`at`), each with its computed fire time, sent once as a
-- `reminder` notification by the job queue's periodic scan (tasks::reminders).

CREATE TABLE task_reminders (
    id             uuid PRIMARY KEY,
    task_id        uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    -- The reminder's place in the task's list (0–4).
    position       smallint NOT NULL CHECK (position BETWEEN 0 AND 4),
    before_minutes integer CHECK (before_minutes BETWEEN 0 AND 43200),
    at             timestamptz,
    -- When it fires: `at`, or the due date and time (09:00 without one) in the recipient's
    -- zone less `before_minutes`; recomputed by every write that moves it.
    fire_at        timestamptz NOT NULL,
    -- `pending` until the scan takes it: `sent`, or `passed` (its task was closed then, or
    -- its time had already gone when it was set).
    state          text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'passed')),
    sent_at        timestamptz,
    CONSTRAINT task_reminders_one_kind CHECK ((before_minutes IS NULL) <> (at IS NULL)),
    CONSTRAINT task_reminders_place UNIQUE (task_id, position)
);

-- The scan reads pending reminders by fire time: a range scan of this partial index.
CREATE INDEX task_reminders_due ON task_reminders (fire_at) WHERE state = 'pending';

-- Notifications gain the kind `reminder` and, for it, whether it went out more than an hour
-- after its time (null for the other kinds).
ALTER TABLE notifications ADD COLUMN late boolean;
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check CHECK (kind IN (
    'assigned', 'mentioned', 'commented', 'due_soon', 'overdue', 'unblocked', 'reminder'));
