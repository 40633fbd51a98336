-- `completed_at` follows `status` (API.md §4): set when a task becomes done, kept while it
-- stays done, cleared when it leaves done. One rule for every writer (creates, edits, moves,
-- GitHub imports) instead of a CASE expression in each statement. A writer may name the time
-- a task became done (an import passes the issue's `closed_at`); otherwise it is now.
CREATE FUNCTION tasks_completed_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status <> 'done' THEN
        NEW.completed_at := NULL;
    ELSIF TG_OP = 'UPDATE' AND OLD.status = 'done' THEN
        NEW.completed_at := OLD.completed_at;
    ELSE
        NEW.completed_at := coalesce(NEW.completed_at, now());
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER tasks_completed_at_follows_status
    BEFORE INSERT OR UPDATE ON tasks
    FOR EACH ROW EXECUTE FUNCTION tasks_completed_at();
