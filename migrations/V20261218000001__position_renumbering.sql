-- Manual order keys stay short (API.md §9): a move into a gap whose key would pass 64
-- characters renumbers the project's keys first (`src/tasks/moves.rs`), in the same order.
-- Renumbering is not a change of any task: no version, no activity.

-- The n-th key of a renumbered project (n from 1): 'f' and six base-62 digits of n * 62, so
-- there is room for 61 integer keys between two neighbours before a fraction is needed; seven
-- characters for every project up to the 100,000-tasks quota and far beyond.
CREATE FUNCTION task_position_nth(n bigint) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT 'f' || string_agg(
        substr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz',
               (((n * 62) / (62::bigint ^ p)::bigint) % 62)::int + 1, 1), '' ORDER BY p DESC)
    FROM generate_series(0, 5) AS p
$$;

-- How many times the project's keys were renumbered, and each task's key before the latest
-- renumbering (NULL for a task placed since): a `sort=position` cursor handed out before a
-- renumbering is translated through them, so that its page boundary survives
-- (`src/tasks/store/list.rs`).
ALTER TABLE projects ADD COLUMN position_epoch bigint NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN previous_position text COLLATE "C";

-- Keys that grew past the limit before it existed are renumbered now.
UPDATE projects SET position_epoch = position_epoch + 1
WHERE id IN (SELECT project_id FROM tasks WHERE length(position) > 64);
UPDATE tasks t SET previous_position = t.position, position = task_position_nth(o.n)
FROM (SELECT id, row_number() OVER (PARTITION BY project_id ORDER BY position, id) AS n
      FROM tasks
      WHERE project_id IN (SELECT project_id FROM tasks WHERE length(position) > 64)) o
WHERE o.id = t.id;

ALTER TABLE tasks ADD CONSTRAINT tasks_position_short CHECK (length(position) <= 64);
