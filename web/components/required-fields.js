// Creating a task in a project with required custom fields (API.md §18): quick add and the
// board's add-a-card know nothing of fields, so when the server refuses a new task for want of
// them (422, `fields.<id>` with code `required`), this asks for those fields in a dialog, with
// the task panel's controls, and sends the task again with their values. Loaded with `import()`
// on that refusal only.

import * as api from "../api.js";
import { h, dialog } from "../dom.js";
import { fieldsOf } from "../fields.js";
import { membersOf } from "../model.js";
import { control } from "./task-fields.js";

/**
 * Whether a refused new task lacked required custom fields (then `createTask` asks for them).
 * @param {unknown} e
 */
export const lacksFields = (e) => e instanceof api.ApiError && e.status === 422 && e.errors.some((x) => x.code === "required" && x.field.startsWith("fields."));

/**
 * After `refused` (the server's answer to `body`): asks for the missing required fields and
 * POSTs again, as often as the server still finds some missing. Resolves to the task, or null
 * when the person cancels; other refusals are thrown.
 * @param {string} projectId
 * @param {Record<string, any>} body
 * @param {unknown} refused
 * @returns {Promise<api.Task | null>}
 */
export async function createTask(projectId, body, refused) {
  const missing = refused instanceof api.ApiError
    ? refused.errors.filter((x) => x.code === "required" && x.field.startsWith("fields.")).map((x) => x.field.slice("fields.".length))
    : [];
  if (!missing.length) throw refused;
  const [fields, members] = await Promise.all([fieldsOf(projectId), membersOf(projectId).catch(() => [])]);
  const values = await ask(fields.filter((f) => missing.includes(f.id)), members, body.title);
  if (!values) return null;
  const next = { ...body, fields: { ...(body.fields || {}), ...values } };
  try {
    return await api.post(`/projects/${projectId}/tasks`, next);
  } catch (again) {
    if (!lacksFields(again)) throw again;
    return createTask(projectId, next, again);
  }
}

/**
 * The dialog: a control per missing field.
 * @param {import("../fields.js").Field[]} fields
 * @param {api.Member[]} members
 * @param {string} title
 * @returns {Promise<Record<string, any> | null>}
 */
function ask(fields, members, title) {
  return dialog("Required fields", (close) => {
    const controls = fields.map((f) => control(f, { canEdit: true, members }, () => {}));
    return [h("form", {
      class: "custom-fields", id: "required-fields",
      onsubmit: (/** @type {Event} */ e) => {
        e.preventDefault();
        let complete = true;
        for (const c of controls) {
          const empty = c.read() === null;
          c.error.textContent = empty ? "must have a value" : "";
          complete &&= !empty;
        }
        if (complete) close(Object.fromEntries(controls.map((c) => [c.field.id, c.read()])));
      },
    },
      h("p", null, `“${title}” needs these fields in this project.`),
      controls.map((c) => c.el),
      h("div", { class: "actions" },
        h("button", { type: "button", onclick: () => close(null) }, "Cancel"),
        h("button", { type: "submit", class: "primary" }, "Add task")))];
  });
}
