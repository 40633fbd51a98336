"""Schemathesis hooks for scripts/schemathesis.sh.

They change only *valid* (positive) requests, and only where the contract makes a value's
validity depend on server state rather than on its shape, which no schema can express:

* `Idempotency-Key`: a client sends a fresh key per distinct request (API.md §1); a key reused
  with another body is 422 `idempotency_key_reused` by contract. Hypothesis repeats small
  values across cases, so a valid key is replaced by a fresh UUID (also valid).
* `cursor`: only a cursor the server issued for the same list is valid; any other is 400
  `invalid_query` by contract (API.md §1, signed cursors). A generated cursor is dropped from a
  valid request; invalid ones (empty, wrong type) are still sent, and the black-box tests
  cover tampered and foreign cursors.
* `POST /projects/{id}/members` `email`: an email nobody registered is 422 by contract
  (API.md §3); a valid request adds the registered schemathesis user instead.
* a task's `assignee_id`: someone outside the task's project is 422 by contract (API.md, tasks);
  a valid request assigns the schemathesis user, a member of every project it creates.
* `PATCH /tasks/{id}` `project_id`: moving to a project the caller is not an editor of is a
  422 field error by contract; a valid request does not move the task.
* a task's `labels`: at most 20 *distinct once trimmed and lower-cased* (API.md §4), which
  JSON Schema cannot say (`maxItems` would refuse 30 copies of one label, which the contract
  takes); a valid request keeps its first 20.
* a task's `state_id` and `parent_id`, a state's `after_id`: a state (or task) of *the same
  project* is valid and any other is 422 by contract (API.md §17); the schema can only say "an
  id". A valid request leaves them out (the black-box tests cover them).
* a task's `start_date`, `due_time` and `recurrence` (API.md §19): the start not after the due
  date, a time and a rule only with a due date, a rule that parses and has a date after the due
  date — rules between fields and the task's stored dates, beyond a schema. A valid request
  leaves out `start_date` and `recurrence`, and `due_time` unless it sets a `due_date` (the
  black-box tests in tests/api/time.rs cover them).
* a task's `reminders` (API.md §19): a relative one needs a due date (the request's or the
  stored one), and no two may be the same. A valid request keeps its relative reminders only
  when it sets a `due_date`, and each entry once (tests/api/reminders.rs covers the rest).
* `PATCH /me` `time_zone`: an IANA name the tz database knows (about 600; the schema says "a
  string"); a valid request names one.
* a task's `fields`, a list's `sort=field.<id>`, a field's `after_id` (API.md §18): values are
  keyed by the project's field ids, and a field or option of another project is 422 (400 for a
  list's sort) by contract. A valid request leaves them out (tests/api/fields.rs covers them).
* a field's `options`: only select kinds have them, option names are distinct once trimmed and
  compared case-insensitively, and an option's `id` must be one of the field's own (API.md §18),
  which JSON Schema cannot say; a valid request sends up to 100 options with distinct names and
  no ids, and none for other kinds.
* a field's `required`: a required field makes every later task create without its value a
  422 by contract, and the stateful phase creates tasks in the projects it gave fields; a valid
  request leaves it out (tests/api/fields.rs covers required fields).
* `POST /projects` `from_project_id` and `include` (API.md §18, templates): a project the
  caller is not a member of is 404, and `include` is 422 without `from_project_id` — a rule
  between two fields and the server's state; a valid request leaves both out (a blank project;
  tests/api/templates.rs covers copies).

Negative (invalid) requests are never touched, so every check keeps its full strength there.
"""

import os
import uuid

import schemathesis

KNOWN_EMAIL = "st@example.com"


def _is_positive(case):
    meta = getattr(case, "meta", None)
    if meta is None:
        return False
    return meta.generation.mode.is_positive


@schemathesis.hook
def before_call(context, case, kwargs):
    if not _is_positive(case):
        return
    if case.headers:
        for name in list(case.headers):
            if name.lower() == "idempotency-key":
                case.headers[name] = str(uuid.uuid4())
    if case.query and isinstance(case.query.get("cursor"), str) and case.query["cursor"]:
        del case.query["cursor"]
    if (
        case.method.upper() == "POST"
        and case.path == "/api/v1/projects/{id}/members"
        and isinstance(case.body, dict)
        and "email" in case.body
    ):
        case.body["email"] = KNOWN_EMAIL
    if (
        case.path in ("/api/v1/projects/{id}/tasks", "/api/v1/tasks/{id}")
        and isinstance(case.body, dict)
        and isinstance(case.body.get("assignee_id"), str)
    ):
        case.body["assignee_id"] = os.environ["ST_USER_ID"]
    if case.path == "/api/v1/tasks/{id}" and isinstance(case.body, dict):
        case.body.pop("project_id", None)
    if (
        case.path in ("/api/v1/projects/{id}/tasks", "/api/v1/tasks/{id}")
        and isinstance(case.body, dict)
        and isinstance(case.body.get("labels"), list)
    ):
        case.body["labels"] = case.body["labels"][:20]
    if case.path in ("/api/v1/projects/{id}/tasks", "/api/v1/tasks/{id}") and isinstance(
        case.body, dict
    ):
        case.body.pop("state_id", None)
        case.body.pop("parent_id", None)
    if case.path in ("/api/v1/projects/{id}/states", "/api/v1/states/{id}") and isinstance(
        case.body, dict
    ):
        case.body.pop("after_id", None)
    if case.path in ("/api/v1/projects/{id}/tasks", "/api/v1/tasks/{id}") and isinstance(
        case.body, dict
    ):
        case.body.pop("fields", None)
        case.body.pop("start_date", None)
        case.body.pop("recurrence", None)
        if not isinstance(case.body.get("due_date"), str):
            case.body.pop("due_time", None)
        if isinstance(case.body.get("reminders"), list):
            # Relative ones only with a due date set here, and no two the same (API.md §19).
            kept = []
            for entry in case.body["reminders"]:
                relative = isinstance(entry, dict) and "before_minutes" in entry
                if relative and not isinstance(case.body.get("due_date"), str):
                    continue
                if entry not in kept:
                    kept.append(entry)
            case.body["reminders"] = kept
    if (
        case.method.upper() == "POST"
        and case.path == "/api/v1/projects"
        and isinstance(case.body, dict)
    ):
        case.body.pop("from_project_id", None)
        case.body.pop("include", None)
    if (
        case.path == "/api/v1/me"
        and isinstance(case.body, dict)
        and "time_zone" in case.body
    ):
        case.body["time_zone"] = "Europe/Berlin"
    if (
        case.query
        and isinstance(case.query.get("sort"), str)
        and "field." in case.query["sort"]
    ):
        del case.query["sort"]
    if case.path in ("/api/v1/projects/{id}/fields", "/api/v1/fields/{id}") and isinstance(
        case.body, dict
    ):
        case.body.pop("after_id", None)
        case.body.pop("required", None)
        options = case.body.get("options")
        kind = case.body.get("kind")
        if isinstance(options, list):
            if case.path.endswith("/fields") and kind not in ("select", "multi_select"):
                case.body.pop("options")
            else:
                case.body["options"] = [
                    {**{k: v for k, v in o.items() if k != "id"}, "name": f"option {i}"}
                    for i, o in enumerate(options[:100])
                    if isinstance(o, dict)
                ]
