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
