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

-- Time tracking: entries by hand and timers (`ended_at` null while one runs).
CREATE TABLE time_entries (
    id          uuid PRIMARY KEY,
    task_id     uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    started_at  timestamptz NOT NULL,
    ended_at    timestamptz,
    -- Whole minutes, set when an entry is made by hand or its timer stops (0 while it runs).
    minutes     integer NOT NULL DEFAULT 0 CHECK (minutes BETWEEN 0 AND 100000),
    note        text NOT NULL DEFAULT '' CHECK (char_length(note) <= 1000),
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (ended_at IS NULL OR ended_at >= started_at)
);
-- One running timer per user, whoever starts it and wherever.
CREATE UNIQUE INDEX time_entries_one_running ON time_entries (user_id) WHERE ended_at IS NULL;
CREATE INDEX time_entries_task ON time_entries (task_id, started_at, id);
CREATE INDEX time_entries_user ON time_entries (user_id, started_at, id);

-- The task's total, kept by every write of an entry (a cascade included).
ALTER TABLE tasks ADD COLUMN time_spent_minutes integer NOT NULL DEFAULT 0;

CREATE FUNCTION time_entries_keep_total() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE tasks SET time_spent_minutes = time_spent_minutes - OLD.minutes
        WHERE id = OLD.task_id AND OLD.minutes <> 0;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE tasks SET time_spent_minutes = time_spent_minutes + NEW.minutes
        WHERE id = NEW.task_id AND NEW.minutes <> 0;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER time_entries_keep_total AFTER INSERT OR UPDATE OF minutes, task_id OR DELETE
    ON time_entries FOR EACH ROW EXECUTE FUNCTION time_entries_keep_total();
