-- Custom fields (API.md §18, issue 24). A project's field definitions are rows of
-- `custom_fields` (options of select kinds inline, as a JSON array: at most 100, always read
-- and written with their field). A task's values are one JSONB object on the task
-- (`tasks.fields`, {field_id: value}, only the fields that have a value), so every read of a
-- task carries them with no join and a move or a copy writes them in the task's own statement.
CREATE TABLE custom_fields (
    id uuid PRIMARY KEY,
    project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name text NOT NULL,
    kind text NOT NULL CHECK (kind IN
        ('text', 'number', 'date', 'checkbox', 'select', 'multi_select', 'user', 'url')),
    options jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(options) = 'array'),
    required boolean NOT NULL DEFAULT false,
    position integer NOT NULL
);
CREATE UNIQUE INDEX custom_fields_project_name ON custom_fields (project_id, lower(name));
CREATE INDEX custom_fields_project_position ON custom_fields (project_id, position);

ALTER TABLE tasks ADD COLUMN fields jsonb NOT NULL DEFAULT '{}'
    CHECK (jsonb_typeof(fields) = 'object');
-- Equality filters on a field (`fields @> {"<field id>": value}`: a select's option, a
-- multi_select holding one, a user, a checkbox, a number or a date) are answered by this index.
CREATE INDEX tasks_fields ON tasks USING gin (fields jsonb_path_ops);

-- Sort keys of number and date fields: one row per task and such field of its project (also
-- for tasks without a value: `missing`), so that a list sorted by the field walks an index in
-- order, nulls last in both directions (`missing` ascending; `NOT missing` for descending
-- sorts, read backwards), whatever the field (an expression index per field would be DDL per
-- field). A date is kept as days since 1970-01-01. Kept by triggers for every writer of tasks
-- and of fields (bench/fields.sh, ARCHITECTURE.md "Custom field values").
CREATE TABLE task_field_keys (
    task_id uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    field_id uuid NOT NULL REFERENCES custom_fields (id) ON DELETE CASCADE,
    missing boolean NOT NULL,
    num numeric NOT NULL,
    PRIMARY KEY (task_id, field_id)
);
CREATE INDEX task_field_keys_ascending ON task_field_keys (field_id, missing, num, task_id);
CREATE INDEX task_field_keys_descending ON task_field_keys (field_id, (NOT missing), num, task_id);

CREATE FUNCTION task_field_keys_of_task() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM task_field_keys WHERE task_id = NEW.id;
    END IF;
    INSERT INTO task_field_keys (task_id, field_id, missing, num)
    SELECT NEW.id, f.id, NOT (NEW.fields ? f.id::text),
           CASE f.kind
               WHEN 'number' THEN coalesce((NEW.fields ->> f.id::text)::numeric, 0)
               ELSE coalesce((NEW.fields ->> f.id::text)::date - date '1970-01-01', 0)
           END
    FROM custom_fields f
    WHERE f.project_id = NEW.project_id AND f.kind IN ('number', 'date');
    RETURN NULL;
END $$;
CREATE TRIGGER task_field_keys_insert AFTER INSERT ON tasks
    FOR EACH ROW EXECUTE FUNCTION task_field_keys_of_task();
CREATE TRIGGER task_field_keys_update AFTER UPDATE OF fields, project_id ON tasks
    FOR EACH ROW WHEN (OLD.fields IS DISTINCT FROM NEW.fields OR OLD.project_id <> NEW.project_id)
    EXECUTE FUNCTION task_field_keys_of_task();

CREATE FUNCTION task_field_keys_of_field() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO task_field_keys (task_id, field_id, missing, num)
    SELECT t.id, NEW.id, true, 0 FROM tasks t WHERE t.project_id = NEW.project_id;
    RETURN NULL;
END $$;
CREATE TRIGGER task_field_keys_field AFTER INSERT ON custom_fields
    FOR EACH ROW WHEN (NEW.kind IN ('number', 'date'))
    EXECUTE FUNCTION task_field_keys_of_field();

-- Saved views (API.md §18): a list's or board's query parameters under a name, personal
-- (`shared` false: its owner's alone; `project_id` null: over every project) or shared with a
-- project's members.
CREATE TABLE saved_views (
    id uuid PRIMARY KEY,
    project_id uuid REFERENCES projects (id) ON DELETE CASCADE,
    owner_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name text NOT NULL,
    shared boolean NOT NULL,
    kind text NOT NULL CHECK (kind IN ('list', 'board')),
    query jsonb NOT NULL CHECK (jsonb_typeof(query) = 'object'),
    position integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (NOT shared OR project_id IS NOT NULL)
);
CREATE INDEX saved_views_project ON saved_views (project_id, position, id);
CREATE INDEX saved_views_owner ON saved_views (owner_id, position, id);
