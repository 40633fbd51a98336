-- API.md §19: dates with a time of day in the user's zone, recurrence.

-- The user's IANA time zone; the server checks the name against the tz database it carries
-- (chrono-tz) before writing it.
ALTER TABLE users ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC';

ALTER TABLE tasks
    ADD COLUMN start_date date,
    ADD COLUMN due_time time,
    ADD COLUMN recurrence_rule text,
    ADD COLUMN recurrence_from text,
    ADD CONSTRAINT tasks_due_time_needs_date CHECK (due_time IS NULL OR due_date IS NOT NULL),
    ADD CONSTRAINT tasks_start_not_after_due
        CHECK (start_date IS NULL OR due_date IS NULL OR start_date <= due_date),
    ADD CONSTRAINT tasks_recurrence_whole CHECK ((recurrence_rule IS NULL) = (recurrence_from IS NULL)),
    ADD CONSTRAINT tasks_recurrence_from_check CHECK (recurrence_from IN ('due', 'completion')),
    ADD CONSTRAINT tasks_recurrence_needs_due CHECK (recurrence_rule IS NULL OR due_date IS NOT NULL);

-- The due scan (notifications::due) reads open assigned tasks by due date: a range scan.
CREATE INDEX tasks_open_due ON tasks (due_date, id) INCLUDE (assignee_id)
    WHERE assignee_id IS NOT NULL AND due_date IS NOT NULL AND status IN ('todo', 'in_progress');

-- The completion of a recurring task records `task.recurred` (both the history and the
-- journal's pending entries check the same kinds).
ALTER TABLE activity DROP CONSTRAINT activity_kind_check;
ALTER TABLE activity ADD CONSTRAINT activity_kind_check CHECK (kind IN (
    'task.created', 'task.updated', 'task.moved', 'task.deleted',
    'task.related', 'task.unrelated', 'task.recurred',
    'comment.created', 'comment.updated', 'comment.deleted',
    'member.added', 'member.updated', 'member.removed',
    'project.updated', 'github.synced',
    'attachment.added', 'attachment.deleted'));

ALTER TABLE activity_pending DROP CONSTRAINT activity_pending_kind_check;
ALTER TABLE activity_pending ADD CONSTRAINT activity_pending_kind_check CHECK (kind IN (
    'task.created', 'task.updated', 'task.moved', 'task.deleted',
    'task.related', 'task.unrelated', 'task.recurred',
    'comment.created', 'comment.updated', 'comment.deleted',
    'member.added', 'member.updated', 'member.removed',
    'project.updated', 'github.synced',
    'attachment.added', 'attachment.deleted'));
