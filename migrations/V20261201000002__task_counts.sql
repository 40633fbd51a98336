-- How many tasks a project holds, kept by the tasks store in the same statement that takes a
-- task number (so a create costs no extra write), for the 100,000-tasks quota (API.md §9).
ALTER TABLE projects ADD COLUMN task_count bigint NOT NULL DEFAULT 0;
UPDATE projects p SET task_count = (SELECT count(*) FROM tasks t WHERE t.project_id = p.id);
