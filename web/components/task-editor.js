// The fields of the task panel and how they save: every field edits in place and saves itself
// (debounced) with If-Match. When someone else changed the task meanwhile (412), both versions
// are shown and the person chooses; what they typed stays in the form until they do.

import * as api from "../api.js";
import { h, replace, announce, dialog } from "../dom.js";
import { renderMarkdown, toggleTaskItem } from "../markdown.js";
import { PRIORITIES, statusLabel } from "../model.js";
import { priorityGlyph } from "./priority.js";
import { dateInputs, describe } from "./task-dates.js";
import { reminderBody, reminderWords } from "./task-reminders.js";

// The state (API.md §17) stands for the status: setting it sets the status, its category.
/** @typedef {"title"|"description"|"state_id"|"priority"|"due_date"|"labels"|"assignee_id"|"start_date"|"due_time"|"recurrence"|"reminders"} Field */
/** @type {Field[]} */
export const FIELDS = ["title", "description", "state_id", "priority", "due_date", "labels", "assignee_id", "start_date", "due_time", "recurrence", "reminders"];
/** @type {Record<Field, string>} */
const LABELS = { title: "Title", description: "Description", state_id: "State", priority: "Priority", due_date: "Due date", labels: "Labels", assignee_id: "Assignee",
  start_date: "Start date", due_time: "Due time", recurrence: "Repeat", reminders: "Reminders" };

/**
 * @typedef {{title: HTMLInputElement, description: HTMLTextAreaElement, preview: HTMLElement, editButton: HTMLElement,
 *   state: HTMLSelectElement, priority: HTMLSelectElement, assignee: HTMLSelectElement,
 *   dates: import("./task-dates.js").DateInputs, labels: HTMLInputElement}} Inputs
 * @typedef {{onSaved: (t: api.Task) => void, onDeleted: (id: string) => void, onHidden: (id: string) => void,
 *   onRestored: (id: string) => void}} Hooks what the panel tells the view: a task saved, deleted (for good), hidden
 *   while its deletion waits for Undo, and back after Undo (or a deletion that failed)
 * @typedef {{ctx: import("../model.js").Context, hooks: Hooks, base: import("./task-dates.js").TimedTask, draft: Record<Field, any>,
 *   members: api.Member[], states: api.WorkflowState[], project: api.Project | undefined, canEdit: boolean, inputs: Inputs,
 *   status: HTMLElement, errors: Record<string, HTMLElement>, scheduled: (() => void) & {flush: () => void},
 *   saving: boolean, again: boolean, pending: Promise<void> | null, conflict: boolean, editing: boolean, refreshing: boolean,
 *   guard: () => boolean}} Panel
 *   `base` is the task as last saved, `draft` what the fields show; `status` the save state.
 */

/**
 * @param {any} a
 * @param {any} b
 */
export const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

/**
 * Whether a field holds the same value in both. Reminders are a set of what was asked for: the
 * server adds when each fires and was sent, and keeps its own order.
 * @param {Field} f
 * @param {any} a
 * @param {any} b
 */
export const sameField = (f, a, b) => f === "reminders"
  ? same(reminderBody(a).map((r) => JSON.stringify(r)).sort(), reminderBody(b).map((r) => JSON.stringify(r)).sort())
  : same(a, b);

/** @param {Panel} p whether the fields differ from the saved task */
export const dirty = (p) => FIELDS.some((f) => !sameField(f, p.draft[f], p.base[f]));

/**
 * The field controls, each reporting its new value to `changed`.
 * @param {Record<Field, any>} draft
 * @param {{canEdit: boolean, members: api.Member[], states: api.WorkflowState[], changed: (field: Field, value: any) => void,
 *   toggleEditing: () => void, zone: string, errors: Record<string, HTMLElement>}} o
 * @returns {Inputs}
 */
export function fieldInputs(draft, o) {
  const { canEdit, changed } = o;
  const title = /** @type {HTMLInputElement} */ (h("input", { id: "task-title", class: "title-input", value: draft.title, maxlength: 200, readonly: !canEdit, "aria-describedby": "task-title-error", "aria-label": "Title" }));
  title.addEventListener("input", () => changed("title", title.value));
  const description = /** @type {HTMLTextAreaElement} */ (h("textarea", { id: "task-description", rows: 10, maxlength: 20000, "aria-describedby": "task-description-error" }));
  description.value = draft.description;
  description.addEventListener("input", () => changed("description", description.value));
  /**
   * @param {Field} field
   * @param {[string, string][]} options
   */
  const select = (field, options) => {
    const el = /** @type {HTMLSelectElement} */ (h("select", { id: `task-${field}`, disabled: !canEdit, "aria-describedby": `task-${field}-error` },
      options.map(([v, t]) => h("option", { value: v, selected: String(draft[field] ?? "") === v }, t))));
    el.addEventListener("change", () => {
      const v = el.value;
      changed(field, field === "priority" ? Number(v) : v === "" ? null : v);
    });
    return el;
  };
  const dates = dateInputs(draft, { canEdit, zone: o.zone, changed,
    errorFor: (field) => (o.errors[field] = h("p", { class: "field-error", id: `task-${field}-error` })) });
  const labels = /** @type {HTMLInputElement} */ (h("input", { id: "task-labels", value: draft.labels.join(", "), readonly: !canEdit, autocomplete: "off", "aria-describedby": "task-labels-help task-labels-error" }));
  labels.addEventListener("input", () => changed("labels", labels.value.split(",").map((l) => l.trim().toLowerCase()).filter(Boolean)));
  return {
    title, description, dates, labels,
    preview: h("div", { class: "markdown", id: "task-description-view" }),
    editButton: h("button", { type: "button", class: "ghost small", id: "edit-description", "aria-pressed": "false", onclick: o.toggleEditing }, "Edit"),
    state: select("state_id", o.states.map((s) => [s.id, s.name === statusLabel(s.category) ? s.name : `${s.name} (${statusLabel(s.category)})`])),
    priority: select("priority", PRIORITIES.map((t, i) => [String(i), t])),
    assignee: select("assignee_id", [["", "Nobody"], ...o.members.map((m) => /** @type {[string, string]} */ ([m.user.id, m.user.name]))]),
  };
}

/**
 * A field changed: keep it in the draft and save soon.
 * @param {Panel} p
 * @param {Field} field
 * @param {any} value
 */
export function changed(p, field, value) {
  p.draft[field] = value;
  if (field === "priority") drawGlyph(p);
  p.status.textContent = "Unsaved changes";
  p.scheduled();
}

/** @param {Panel} p */
export function drawPreview(p) {
  // A task list item's box toggles it: an ordinary edit of the description, saved with If-Match.
  const onToggle = p.canEdit ? (/** @type {number} */ line) => {
    const next = toggleTaskItem(p.draft.description, line);
    if (next === null) return;
    p.inputs.description.value = next;
    changed(p, "description", next);
    save(p);
  } : undefined;
  replace(p.inputs.preview, p.draft.description ? renderMarkdown(p.draft.description, { onToggle }) : h("p", { class: "muted" }, p.canEdit ? "No description. Select Edit to write one (Markdown)." : "No description."));
}

/**
 * Switches the description between its Markdown source and its preview.
 * @param {Panel} p
 * @param {boolean} on
 */
export function setEditing(p, on) {
  const { editButton, description, preview } = p.inputs;
  p.editing = on;
  editButton.textContent = on ? "Preview" : "Edit";
  editButton.setAttribute("aria-pressed", String(on));
  description.hidden = !on;
  preview.hidden = on;
  if (!on) drawPreview(p);
  else description.focus();
}

/**
 * Puts `draft` back into the inputs (after choosing the other version, or a live update).
 * @param {Panel} p
 */
export function fill(p) {
  const { inputs, draft } = p;
  inputs.title.value = draft.title;
  inputs.description.value = draft.description;
  inputs.state.value = draft.state_id;
  inputs.priority.value = String(draft.priority);
  inputs.assignee.value = draft.assignee_id || "";
  inputs.dates.fill(draft);
  inputs.labels.value = draft.labels.join(", ");
  drawPreview(p);
  drawGlyph(p);
}

/** @param {Panel} p the priority's glyph beside its field */
function drawGlyph(p) {
  const slot = p.inputs.priority.parentElement?.querySelector(".glyph-slot");
  if (slot) replace(slot, priorityGlyph(p.draft.priority));
}

/**
 * Sends the changed fields with If-Match; one save at a time, a change meanwhile saves after.
 * A call while one is in flight resolves when that one and the one after it are done, so a
 * caller that awaits a save (closing the panel) sees the outcome, not a save still on its way.
 * @param {Panel} p
 * @returns {Promise<void>}
 */
export function save(p) {
  p.scheduled.flush();
  if (!p.canEdit || p.conflict) return Promise.resolve();
  if (p.pending) {
    p.again = true;
    return p.pending;
  }
  p.pending = send(p).finally(() => { p.pending = null; });
  return p.pending;
}

/** @param {Panel} p */
async function send(p) {
  /** @type {Record<string, any>} */
  const body = {};
  for (const f of FIELDS) if (!sameField(f, p.draft[f], p.base[f])) body[f] = f === "reminders" ? reminderBody(p.draft[f]) : p.draft[f];
  if (!Object.keys(body).length) {
    // Put back as saved (a refused value changed back): nothing to send, nothing refused.
    if (p.status.textContent === "Not saved" || p.status.textContent === "Unsaved changes") p.status.textContent = "Saved";
    for (const el of Object.values(p.errors)) el.textContent = "";
    return;
  }
  p.saving = true;
  p.status.textContent = "Saving…";
  for (const el of Object.values(p.errors)) el.textContent = "";
  try {
    const updated = await api.patch(`/tasks/${p.base.id}`, body, { ifMatch: p.base.version });
    p.base = updated;
    // The reminders as saved, with when each fires (unless they changed again meanwhile).
    if (sameField("reminders", p.draft.reminders, updated.reminders)) {
      p.draft.reminders = updated.reminders;
      p.inputs.dates.reminders.fill(p.draft);
    }
    p.status.textContent = dirty(p) ? "Unsaved changes" : "Saved";
    p.hooks.onSaved(updated);
  } catch (e) {
    if (e instanceof api.ApiError && e.status === 412) {
      p.saving = false;
      await resolveConflict(p);
      return;
    }
    showRefusal(p, e);
  } finally {
    p.saving = false;
  }
  if (p.again) {
    p.again = false;
    await send(p);
  }
}

/**
 * A refused save: field errors under their fields, anything else in words.
 * @param {Panel} p
 * @param {unknown} e
 */
function showRefusal(p, e) {
  p.status.textContent = "Not saved";
  if (e instanceof api.ApiError && e.errors.length) {
    for (const fe of e.errors) {
      const field = fe.field.split(".")[0];
      if (p.errors[field]) p.errors[field].textContent = e.fieldMessage(field);
    }
  } else {
    announce(e instanceof Error ? e.message : String(e), { error: true });
  }
  if (e instanceof api.ApiError && e.status === 403) {
    announce("You may not edit this task any more (your role changed).", { error: true });
  }
}

/**
 * Someone else saved first: show their version next to this one and let the person choose.
 * @param {Panel} p
 */
async function resolveConflict(p) {
  p.conflict = true;
  p.status.textContent = "Changed by someone else — choose a version";
  /** @type {import("./task-dates.js").TimedTask} */
  const theirs = await api.get(`/tasks/${p.base.id}`);
  const mine = FIELDS.filter((f) => !sameField(f, p.draft[f], p.base[f]));
  const choice = await chooseVersion(p, theirs, mine);
  p.conflict = false;
  if (choice === "theirs") {
    p.base = theirs;
    for (const f of FIELDS) p.draft[f] = theirs[f];
    fill(p);
    p.status.textContent = "Showing the saved version";
    p.hooks.onSaved(theirs);
  } else if (choice === "mine") {
    // Apply my edits on top of theirs: fields I did not touch keep their new values.
    const edited = new Set(mine);
    for (const f of FIELDS) if (!edited.has(f)) p.draft[f] = theirs[f];
    p.base = theirs;
    fill(p);
    // Still inside the save that met the conflict (`save` would wait for itself).
    await send(p);
  } else {
    p.status.textContent = "Unsaved changes (conflict not resolved)";
  }
}

/**
 * The comparison dialog: each differing field, this person's value beside the saved one.
 * @param {Panel} p
 * @param {import("./task-dates.js").TimedTask} theirs
 * @param {Field[]} mine the fields this person changed
 * @returns {Promise<"theirs" | "mine" | null | undefined>}
 */
function chooseVersion(p, theirs, mine) {
  const differing = FIELDS.filter((f) => !sameField(f, p.draft[f], theirs[f]));
  /** @param {Field} f @param {any} v */
  const show = (f, v) => {
    if (f === "assignee_id") return v ? p.members.find((m) => m.user.id === v)?.user.name || "someone" : "Nobody";
    if (f === "priority") return PRIORITIES[v];
    if (f === "state_id") return p.states.find((s) => s.id === v)?.name || "another state";
    if (f === "labels") return v.length ? v.join(", ") : "none";
    if (f === "recurrence") return v ? describe(v) || `RRULE:${v.rule}` : "Does not repeat";
    if (f === "reminders") return v?.length ? v.map(reminderWords).join(", ") : "none";
    return v === null || v === "" ? "(empty)" : String(v);
  };
  return dialog("This task changed while you were editing", (close) => [
    h("p", null, "Someone else saved this task after you opened it. Nothing has been overwritten: pick the version to keep."),
    h("table", { class: "compare", id: "conflict-compare" },
      h("thead", null, h("tr", null, h("th", { scope: "col" }, "Field"), h("th", { scope: "col" }, "Your version"), h("th", { scope: "col" }, "Saved meanwhile"))),
      h("tbody", null, differing.map((f) => h("tr", { class: mine.includes(f) ? "mine" : "" },
        h("th", { scope: "row" }, LABELS[f]),
        h("td", null, h("div", { class: "compare-value" }, show(f, p.draft[f]))),
        h("td", null, h("div", { class: "compare-value" }, show(f, theirs[f]))))))),
    h("div", { class: "actions" },
      h("button", { type: "button", id: "take-theirs", onclick: () => close("theirs") }, "Use the saved version"),
      h("button", { type: "button", class: "primary", id: "keep-mine", onclick: () => close("mine") }, "Keep my changes")),
  ]);
}
