-- Manual order keys stay short (API.md §9): a move into a gap whose key would pass 64
-- characters first gives the project's long keys new short ones, in the same order
-- (`src/tasks/moves.rs`). Renumbering is not a change of any task: no version, no activity.

-- How many times the project's keys were renumbered; and per task, what a `sort=position`
-- cursor handed out before the latest renumbering needs to find its place again
-- (`src/tasks/store/list.rs`):
--   previous_epoch     the epoch in which the task's key last changed: by a renumbering, or by
--                      placing the task (created, moved, moved in from another project);
--   previous_position  the key it had before, when a renumbering changed it (NULL when it was
--                      placed).
ALTER TABLE projects ADD COLUMN position_epoch bigint NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN previous_position text COLLATE "C";
ALTER TABLE tasks ADD COLUMN previous_epoch bigint;

-- Every writer that places a task without a key (a create, a move to another project) gets one
-- here, and the task counts as placed in the project's current epoch.
CREATE OR REPLACE FUNCTION tasks_default_position() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.position IS NULL
       OR (TG_OP = 'UPDATE' AND NEW.project_id <> OLD.project_id
           AND NEW.position IS NOT DISTINCT FROM OLD.position) THEN
        NEW.position := task_position_after(
            (SELECT max(position) FROM tasks WHERE project_id = NEW.project_id));
        NEW.previous_position := NULL;
        NEW.previous_epoch := (SELECT position_epoch FROM projects WHERE id = NEW.project_id);
    END IF;
    RETURN NEW;
END $$;

-- Keys that grew past the limit before it existed: those projects get 'f' and six base-62
-- digits of 62·rank (the scheme of the 0003 migration), in their order.
UPDATE projects SET position_epoch = 1
WHERE id IN (SELECT project_id FROM tasks WHERE length(position) > 64);
UPDATE tasks t SET previous_position = t.position, previous_epoch = 1, position = 'f' || (
    SELECT string_agg(substr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz',
                             (((o.n * 62) / (62::bigint ^ p)::bigint) % 62)::int + 1, 1), ''
                      ORDER BY p DESC)
    FROM generate_series(0, 5) AS p)
FROM (SELECT id, row_number() OVER (PARTITION BY project_id ORDER BY position, id) AS n
      FROM tasks
      WHERE project_id IN (SELECT project_id FROM tasks WHERE length(position) > 64)) o
WHERE o.id = t.id;

ALTER TABLE tasks ADD CONSTRAINT tasks_position_short CHECK (length(position) <= 64);
