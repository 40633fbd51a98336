-- Manual order (API.md §4): every task has `position`, a fractional-indexing key compared byte
-- by byte (COLLATE "C"). Keys are an "integer part" whose first character gives its length
-- ('a'..'z' → 2..27 characters, 'A'..'Z' the mirror image below 'a0') followed by an optional
-- base-62 fraction that never ends in '0'. `src/tasks/moves.rs` computes keys between two
-- neighbours; this file only needs "a key after the project's last one", for new tasks and for
-- tasks moved into another project, so that every writer of `tasks` gets a key without knowing
-- about it. Writers hold the project's row lock (`next_number`), so two new tasks never get the
-- same key.

-- The smallest key after `k` (NULL: the first key, 'a0'): the integer part incremented, the
-- fraction dropped. Grows by one character every 62^n keys, so it never runs out of room.
CREATE FUNCTION task_position_after(k text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    digits constant text := '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
    head text;
    body text;
    len int;
    i int;
    d int;
BEGIN
    IF k IS NULL OR k = '' THEN
        RETURN 'a0';
    END IF;
    head := substr(k, 1, 1);
    IF ascii(head) BETWEEN ascii('a') AND ascii('z') THEN
        len := ascii(head) - ascii('a') + 2;
    ELSIF ascii(head) BETWEEN ascii('A') AND ascii('Z') THEN
        len := ascii('Z') - ascii(head) + 2;
    ELSE
        RAISE EXCEPTION 'invalid position key %', k;
    END IF;
    body := substr(k, 2, len - 1);
    i := length(body);
    WHILE i >= 1 LOOP
        d := strpos(digits, substr(body, i, 1));
        IF d < 62 THEN
            RETURN head || overlay(body PLACING substr(digits, d + 1, 1) FROM i FOR 1);
        END IF;
        body := overlay(body PLACING '0' FROM i FOR 1);
        i := i - 1;
    END LOOP;
    -- Every digit carried: the integer part grows (or, below 'a0', shrinks) by one character.
    IF head = 'Z' THEN
        RETURN 'a0';
    ELSIF head = 'z' THEN
        -- 62^26 keys later: keep the largest integer and extend the fraction instead.
        RETURN k || 'V';
    ELSIF ascii(head) >= ascii('a') THEN
        RETURN chr(ascii(head) + 1) || body || '0';
    ELSE
        RETURN chr(ascii(head) + 1) || substr(body, 2);
    END IF;
END $$;

ALTER TABLE tasks ADD COLUMN position text COLLATE "C";

-- Existing tasks keep their creation order: 'f' + six base-62 digits (56 billion keys).
UPDATE tasks t SET position = 'f' || (
    SELECT string_agg(substr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz',
                             ((o.n / (62::bigint ^ p)::bigint) % 62)::int + 1, 1), '' ORDER BY p DESC)
    FROM generate_series(0, 5) AS p)
FROM (SELECT id, row_number() OVER (PARTITION BY project_id ORDER BY created_at, id) - 1 AS n
      FROM tasks) o
WHERE o.id = t.id;

ALTER TABLE tasks ALTER COLUMN position SET NOT NULL;
CREATE INDEX tasks_project_position ON tasks (project_id, position, id);

-- A task without a key, or one that changes project without a new key, goes last.
CREATE FUNCTION tasks_default_position() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.position IS NULL
       OR (TG_OP = 'UPDATE' AND NEW.project_id <> OLD.project_id
           AND NEW.position IS NOT DISTINCT FROM OLD.position) THEN
        NEW.position := task_position_after(
            (SELECT max(position) FROM tasks WHERE project_id = NEW.project_id));
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER tasks_default_position
    BEFORE INSERT OR UPDATE OF project_id ON tasks
    FOR EACH ROW EXECUTE FUNCTION tasks_default_position();
