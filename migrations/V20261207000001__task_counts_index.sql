-- Exact task counts per status for a list's filters (GET /api/v1/projects/{id}/tasks/counts,
-- the board's column headers): the project's tasks by status, with the columns of the plain
-- filters (assignee, priority, due date) included, so that a count is an index-only scan of
-- the project's part of this index however the list is filtered (label and text filters add
-- their GIN index). EXPLAIN at 100,000 tasks in docs/performance.md (bench/counts.sh).
CREATE INDEX tasks_project_status ON tasks (project_id, status)
    INCLUDE (assignee_id, priority, due_date);
