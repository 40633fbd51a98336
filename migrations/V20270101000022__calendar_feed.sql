-- API.md §19 "Calendar feed": one secret feed URL per user. Only the SHA-256 of the secret is
-- kept (like API tokens), so a leaked database gives no readable feed; a new secret replaces
-- the row, so the old URL stops working in the same statement.
CREATE TABLE calendar_feeds (
    user_id     uuid PRIMARY KEY REFERENCES users ON DELETE CASCADE,
    secret_hash bytea NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- The feed reads a user's assigned tasks with a due date a page at a time by (due_date, id):
-- a range scan per page (the project mode uses tasks_project_due_asc).
CREATE INDEX tasks_assignee_due ON tasks (assignee_id, due_date, id)
    WHERE assignee_id IS NOT NULL AND due_date IS NOT NULL;
