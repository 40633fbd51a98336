-- Templates (API.md §18, issue 24): a project its admins mark as a template is listed under
-- "Templates" in the client's "new project" dialog (`GET /api/v1/projects?is_template=true`);
-- it is otherwise an ordinary project. A project is copied from one by `POST /api/v1/projects`
-- with `from_project_id` (src/templates/): no table of its own.
ALTER TABLE projects ADD COLUMN is_template boolean NOT NULL DEFAULT false;
