-- A team's own workflow (API.md §17): per-project states, subtasks and relations.
--
-- The rules every writer of `tasks` shares live here, as `completed_at` does: a new project
-- gets its four states; a task's `status` is always its state's category (a foreign key on
-- the pair, so no writer can break it; a new task given only a status gets that category's
-- default state from a trigger); and the counters a task shows without computing them on read
-- (`subtasks_total`, `subtasks_done`, `open_blockers`) are kept by triggers in the statement
-- that changes what they count. So the API, the GitHub import, a state's deletion, cascades
-- and the benchmark's seed all keep them true.

-- States: an ordered list per project, each in one of the four categories `status` names.
CREATE TABLE states (
    id          uuid PRIMARY KEY,
    project_id  uuid NOT NULL REFERENCES projects ON DELETE CASCADE,
    name        text NOT NULL,
    category    text NOT NULL CHECK (category IN ('todo', 'in_progress', 'done', 'canceled')),
    color       text NOT NULL CHECK (color ~ '^#[0-9a-f]{6}$'),
    -- 0, 1, 2 … in board order; renumbered (at most 50 rows) by a reorder.
    position    integer NOT NULL,
    is_default  boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- The target of tasks' (project_id, state_id, status): a task's state is one of its
    -- project's, and its status that state's category.
    CONSTRAINT states_project_id_category UNIQUE (project_id, id, category)
);
CREATE UNIQUE INDEX states_project_name ON states (project_id, lower(name));
-- At most one default per category; "at least one" is the constraint trigger below.
CREATE UNIQUE INDEX states_one_default ON states (project_id, category) WHERE is_default;
CREATE INDEX states_project_position ON states (project_id, position);

-- UUIDv7 in SQL (PostgreSQL 15 has no uuidv7()): 48 bits of Unix milliseconds over a random
-- v4, whose version nibble 0100 becomes 0111 by setting two bits.
CREATE FUNCTION docket_uuid_v7() RETURNS uuid LANGUAGE sql VOLATILE AS $$
    SELECT encode(
        set_bit(set_bit(
            overlay(uuid_send(gen_random_uuid())
                    PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
                    FROM 1 FOR 6),
            52, 1), 53, 1),
        'hex')::uuid
$$;

-- The four states of today, one per category, each its category's default.
CREATE FUNCTION project_default_states() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO states (id, project_id, name, category, color, position, is_default)
    SELECT docket_uuid_v7(), NEW.id, s.name, s.category, s.color, s.position, true
    FROM (VALUES ('To do', 'todo', '#6b7280', 0),
                 ('In progress', 'in_progress', '#2563eb', 1),
                 ('Done', 'done', '#16a34a', 2),
                 ('Canceled', 'canceled', '#9ca3af', 3)) AS s(name, category, color, position)
    ORDER BY s.position;
    RETURN NULL;
END $$;
CREATE TRIGGER projects_default_states
    AFTER INSERT ON projects
    FOR EACH ROW EXECUTE FUNCTION project_default_states();

-- Every category of a project keeps a default state (so it keeps at least one state), checked
-- when the transaction commits: moving the default is two statements.
CREATE FUNCTION check_category_has_default() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM projects WHERE id = OLD.project_id)
       AND NOT EXISTS (SELECT 1 FROM states WHERE project_id = OLD.project_id
                       AND category = OLD.category AND is_default) THEN
        RAISE EXCEPTION 'project % has no default % state', OLD.project_id, OLD.category
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER states_keep_a_default
    AFTER UPDATE OR DELETE ON states DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION check_category_has_default();

-- Existing projects get theirs (the statement inserts each project's four in order).
INSERT INTO states (id, project_id, name, category, color, position, is_default)
SELECT docket_uuid_v7(), p.id, s.name, s.category, s.color, s.position, true
FROM projects p
CROSS JOIN (VALUES ('To do', 'todo', '#6b7280', 0),
                   ('In progress', 'in_progress', '#2563eb', 1),
                   ('Done', 'done', '#16a34a', 2),
                   ('Canceled', 'canceled', '#9ca3af', 3)) AS s(name, category, color, position)
ORDER BY p.created_at, p.id, s.position;

-- Tasks: their state, their parent, and the counters read with them.
ALTER TABLE tasks
    ADD COLUMN state_id uuid,
    ADD COLUMN parent_id uuid REFERENCES tasks ON DELETE CASCADE,
    -- Direct subtasks not canceled, and those done (API.md §17 `subtasks`).
    ADD COLUMN subtasks_total integer NOT NULL DEFAULT 0,
    ADD COLUMN subtasks_done integer NOT NULL DEFAULT 0,
    -- How many tasks that block this one are open (todo or in progress): `blocked` is > 0.
    -- (At most 200 relations a task: API.md §17's quota.)
    ADD COLUMN open_blockers smallint NOT NULL DEFAULT 0,
    -- How many tasks this one blocks: a status change of a task that blocks nothing (nearly
    -- all of them) skips the blockers' trigger by its WHEN clause, at no cost.
    ADD COLUMN blocking smallint NOT NULL DEFAULT 0,
    ADD CONSTRAINT tasks_not_own_parent CHECK (parent_id <> id);

-- Every task stays where it is: in the default state of its status, in the same position.
-- (No trigger reads state_id yet; `completed_at` does not change.)
ALTER TABLE tasks DISABLE TRIGGER tasks_completed_at_follows_status;
UPDATE tasks t SET state_id = s.id
FROM states s
WHERE s.project_id = t.project_id AND s.category = t.status AND s.is_default;
ALTER TABLE tasks ENABLE TRIGGER tasks_completed_at_follows_status;

ALTER TABLE tasks
    ALTER COLUMN state_id SET NOT NULL,
    ADD CONSTRAINT tasks_state FOREIGN KEY (project_id, state_id, status)
        REFERENCES states (project_id, id, category);

-- No index leads with state_id: a board column read by `state=` walks the manual order and
-- filters, as one read by `status=` does, and every move (a new row version) would pay for
-- one more index. A task's subtasks, in manual order (top-level tasks are not in it):
CREATE INDEX tasks_parent ON tasks (parent_id, position, id) WHERE parent_id IS NOT NULL;

-- A new task given a status but no state (the GitHub import, a seed) goes to that category's
-- default state in its project. (Writers that name a state name its category as the status:
-- the foreign key above refuses a pair that disagrees.) Named so that it runs before
-- tasks_completed_at_follows_status.
CREATE FUNCTION tasks_state() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT id INTO NEW.state_id FROM states
    WHERE project_id = NEW.project_id AND category = NEW.status AND is_default;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no default % state in project %', NEW.status, NEW.project_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER tasks_category_follows_state
    BEFORE INSERT ON tasks
    FOR EACH ROW WHEN (NEW.state_id IS NULL)
    EXECUTE FUNCTION tasks_state();

-- A parent's counts of its direct subtasks: each subtask adds 1 to `total` unless canceled and
-- 1 to `done` when done. A subtask's insert, delete, re-parenting or status change moves its
-- share. (A parent deleted in the same statement as its subtasks is simply not found.)
CREATE FUNCTION tasks_count_subtasks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.parent_id IS NOT NULL THEN
        UPDATE tasks SET subtasks_total = subtasks_total - (OLD.status <> 'canceled')::int,
                         subtasks_done = subtasks_done - (OLD.status = 'done')::int
        WHERE id = OLD.parent_id;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.parent_id IS NOT NULL THEN
        UPDATE tasks SET subtasks_total = subtasks_total + (NEW.status <> 'canceled')::int,
                         subtasks_done = subtasks_done + (NEW.status = 'done')::int
        WHERE id = NEW.parent_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER tasks_count_subtasks_on_insert
    AFTER INSERT ON tasks
    FOR EACH ROW WHEN (NEW.parent_id IS NOT NULL)
    EXECUTE FUNCTION tasks_count_subtasks();
CREATE TRIGGER tasks_count_subtasks_on_update
    AFTER UPDATE ON tasks
    FOR EACH ROW WHEN (OLD.parent_id IS DISTINCT FROM NEW.parent_id
                       OR (NEW.parent_id IS NOT NULL
                           AND ((OLD.status = 'done') <> (NEW.status = 'done')
                                OR (OLD.status = 'canceled') <> (NEW.status = 'canceled'))))
    EXECUTE FUNCTION tasks_count_subtasks();
CREATE TRIGGER tasks_count_subtasks_on_delete
    AFTER DELETE ON tasks
    FOR EACH ROW WHEN (OLD.parent_id IS NOT NULL)
    EXECUTE FUNCTION tasks_count_subtasks();

-- Relations between two tasks, possibly of different projects: `source` blocks `target`,
-- duplicates it, or relates to it (symmetric). One relation per pair of tasks, either way.
CREATE TABLE task_relations (
    id           uuid PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('blocks', 'relates_to', 'duplicates')),
    source_id    uuid NOT NULL REFERENCES tasks ON DELETE CASCADE,
    target_id    uuid NOT NULL REFERENCES tasks ON DELETE CASCADE,
    -- `blocks`: whether the source is open (todo or in progress), kept by the tasks trigger
    -- below, so that a relation removed with its deleted source still knows what it counted.
    source_open  boolean NOT NULL DEFAULT false,
    created_by   uuid REFERENCES users ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (source_id <> target_id)
);
CREATE UNIQUE INDEX task_relations_pair
    ON task_relations (least(source_id, target_id), greatest(source_id, target_id));
CREATE INDEX task_relations_source ON task_relations (source_id, kind);
CREATE INDEX task_relations_target ON task_relations (target_id, kind);

-- A new `blocks` relation reads whether its source is open, holding the source row so that a
-- concurrent status change waits and then sees the relation (or the relation sees the change).
CREATE FUNCTION task_relations_source_open() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT status IN ('todo', 'in_progress') INTO NEW.source_open
    FROM tasks WHERE id = NEW.source_id FOR SHARE;
    NEW.source_open := coalesce(NEW.source_open, false);
    RETURN NEW;
END $$;
CREATE TRIGGER task_relations_source_open
    BEFORE INSERT ON task_relations
    FOR EACH ROW WHEN (NEW.kind = 'blocks')
    EXECUTE FUNCTION task_relations_source_open();

-- A source's `blocking` counts its `blocks` relations; a target's `open_blockers` those whose
-- source is open. (A side deleted in the same statement is simply not found.)
CREATE FUNCTION task_relations_count_blockers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE tasks SET blocking = blocking + 1 WHERE id = NEW.source_id;
        IF NEW.source_open THEN
            UPDATE tasks SET open_blockers = open_blockers + 1 WHERE id = NEW.target_id;
        END IF;
    ELSE
        UPDATE tasks SET blocking = blocking - 1 WHERE id = OLD.source_id;
        IF OLD.source_open THEN
            UPDATE tasks SET open_blockers = open_blockers - 1 WHERE id = OLD.target_id;
        END IF;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER task_relations_count_on_insert
    AFTER INSERT ON task_relations
    FOR EACH ROW WHEN (NEW.kind = 'blocks')
    EXECUTE FUNCTION task_relations_count_blockers();
CREATE TRIGGER task_relations_count_on_delete
    AFTER DELETE ON task_relations
    FOR EACH ROW WHEN (OLD.kind = 'blocks')
    EXECUTE FUNCTION task_relations_count_blockers();

-- A task that blocks others and opens or closes (leaves or enters done/canceled) updates the
-- relations it is the source of and the counts of the tasks they block.
CREATE FUNCTION tasks_count_blockers() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    is_open boolean := NEW.status IN ('todo', 'in_progress');
BEGIN
    WITH r AS (
        UPDATE task_relations SET source_open = is_open
        WHERE source_id = NEW.id AND kind = 'blocks' AND source_open <> is_open
        RETURNING target_id)
    UPDATE tasks t SET open_blockers = t.open_blockers + c.n * (CASE WHEN is_open THEN 1 ELSE -1 END)
    FROM (SELECT target_id, count(*)::smallint AS n FROM r GROUP BY target_id) c
    WHERE t.id = c.target_id;
    RETURN NULL;
END $$;
CREATE TRIGGER tasks_count_blockers
    AFTER UPDATE ON tasks
    FOR EACH ROW WHEN (NEW.blocking > 0 AND
                       (OLD.status IN ('todo', 'in_progress')) <> (NEW.status IN ('todo', 'in_progress')))
    EXECUTE FUNCTION tasks_count_blockers();

-- History and notifications learn the new kinds.
ALTER TABLE activity DROP CONSTRAINT activity_kind_check;
ALTER TABLE activity ADD CONSTRAINT activity_kind_check CHECK (kind IN (
    'task.created', 'task.updated', 'task.moved', 'task.deleted',
    'task.related', 'task.unrelated',
    'comment.created', 'comment.updated', 'comment.deleted',
    'member.added', 'member.updated', 'member.removed',
    'project.updated', 'github.synced'));
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check CHECK (kind IN (
    'assigned', 'mentioned', 'commented', 'due_soon', 'overdue', 'unblocked'));
