-- How many reminders a task has, set by the statement sequence that rewrites them
-- (tasks::store::reminders::write). A read of a task runs the reminders subquery only when it
-- is not 0: nearly every task has none, and a list page probed task_reminders once per row.
ALTER TABLE tasks ADD COLUMN reminder_count smallint NOT NULL DEFAULT 0
    CONSTRAINT tasks_reminder_count_range CHECK (reminder_count BETWEEN 0 AND 5);

UPDATE tasks t SET reminder_count = r.n
FROM (SELECT task_id, count(*) AS n FROM task_reminders GROUP BY task_id) r
WHERE t.id = r.task_id;
