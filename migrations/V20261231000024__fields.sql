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
