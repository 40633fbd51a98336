// Bulk changes of the rows picked in a list (Shift/Ctrl-click, `x`, or their boxes): status,
// assignee, a label added or removed, the due date, or deletion, for all at once. One request
// per task (If-Match, four at a time), shown at once and undone together; what the server
// refuses goes back and is named.

import * as api from "../../api.js";
import { h, replace, announce } from "../../dom.js";
import { STATUSES, statusLabel } from "../../model.js";
import { offerUndo, deleteLater, eachLimited, refusal } from "../../components/undo.js";
import { redraw, drawPicks, hideRows, dropRow } from "./rows.js";

/** @typedef {import("./rows.js").TaskList} TaskList */

/**
 * The bar over the list while rows are picked.
 * @param {TaskList} l
 * @returns {{el: HTMLElement, update: () => void}}
 */
export function bulkBar(l) {
  const count = h("span", { class: "bulk-count", id: "bulk-count" });
  const progress = h("span", { class: "muted small", id: "bulk-progress", "aria-live": "polite" });
  const status = /** @type {HTMLSelectElement} */ (h("select", { id: "bulk-status", "aria-label": "Set the status of the picked tasks" },
    h("option", { value: "" }, "Status…"), STATUSES.map(([v, t]) => h("option", { value: v }, t))));
  status.addEventListener("change", () => {
    const value = status.value;
    status.value = "";
    if (value) change(l, `status ${statusLabel(value)}`, () => ({ status: value }));
  });
  const assignee = /** @type {HTMLSelectElement} */ (h("select", { id: "bulk-assignee", "aria-label": "Assign the picked tasks" }));
  const drawAssignees = () => replace(assignee, h("option", { value: "" }, "Assignee…"), h("option", { value: "none" }, "Nobody"),
    l.members.map((m) => h("option", { value: m.user.id }, m.user.name)));
  assignee.addEventListener("change", () => {
    const value = assignee.value;
    assignee.value = "";
    if (!value) return;
    const who = value === "none" ? null : value;
    change(l, who ? `assigned to ${l.names.get(who)?.name || "them"}` : "unassigned", () => ({ assignee_id: who }));
  });
  const label = /** @type {HTMLInputElement} */ (h("input", { id: "bulk-label", "aria-label": "Label", placeholder: "label", autocomplete: "off", maxlength: 50 }));
  const labelled = (/** @type {boolean} */ add) => {
    const name = label.value.trim().toLowerCase();
    if (!name) return label.focus();
    change(l, add ? `labelled ${name}` : `without ${name}`, (t) => {
      const has = t.labels.includes(name);
      if (add === has) return null;
      return { labels: add ? [...t.labels, name].sort() : t.labels.filter((x) => x !== name) };
    });
  };
  const due = /** @type {HTMLInputElement} */ (h("input", { type: "date", id: "bulk-due", "aria-label": "Due date of the picked tasks" }));
  due.addEventListener("change", () => {
    const value = due.value || null;
    due.value = "";
    change(l, value ? `due ${value}` : "without a due date", () => ({ due_date: value }));
  });
  const el = h("div", { class: "bulk", role: "toolbar", "aria-label": "Change the picked tasks", hidden: true },
    count,
    status, assignee,
    h("span", { class: "bulk-group" }, label,
      h("button", { type: "button", class: "small", id: "bulk-add-label", onclick: () => labelled(true) }, "Add label"),
      h("button", { type: "button", class: "small", id: "bulk-remove-label", onclick: () => labelled(false) }, "Remove")),
    due,
    h("button", { type: "button", class: "small danger ghost", id: "bulk-delete", onclick: () => remove(l) }, "Delete"),
    h("button", { type: "button", class: "small ghost", id: "bulk-clear", onclick: () => clearPicks(l) }, "Clear (Esc)"),
    progress);
  const update = () => {
    const n = l.picked.size;
    el.hidden = n === 0;
    count.textContent = `${n} picked`;
    if (assignee.options.length !== l.members.length + 2) drawAssignees();
  };
  return { el, update };
}

/** @param {TaskList} l */
export function clearPicks(l) {
  l.picked.clear();
  l.anchor = null;
  drawPicks(l);
}

/**
 * The picked tasks, in the list's order.
 * @param {TaskList} l
 */
const pickedTasks = (l) => l.tasks.filter((t) => l.picked.has(t.id) && !l.hidden.has(t.id));

/**
 * Changes every picked task: shown at once, sent one request per task, undone together.
 * @param {TaskList} l
 * @param {string} what how the change reads ("status Done")
 * @param {(t: api.Task) => Record<string, any> | null} bodyFor the fields to set (null: nothing to do)
 */
async function change(l, what, bodyFor) {
  /** @type {{task: api.Task, body: Record<string, any>, old: Record<string, any>}[]} */
  const work = [];
  for (const task of pickedTasks(l)) {
    const body = bodyFor(task);
    if (!body) continue;
    const old = Object.fromEntries(Object.keys(body).map((k) => [k, /** @type {any} */ (task)[k]]));
    work.push({ task, body, old });
    l.pending.add(task.id);
    Object.assign(task, body);
    redraw(l, task);
  }
  if (!work.length) return announce(`Nothing to change: the picked tasks are ${what} already.`, { visible: true });
  const done = await send(l, work.map(({ task, body, old }) => ({ task, body, back: old })), `Changing ${work.length} tasks`);
  l.changed(true);
  if (!done.length) return;
  offerUndo(`${done.length} ${done.length === 1 ? "task" : "tasks"} ${what}`, async () => {
    const undone = await send(l, done.map(({ task, body, back }) => ({ task, body: back, back: body })), `Undoing ${done.length} changes`);
    l.changed(true);
    return `${undone.length} of ${done.length} changes undone.`;
  });
}

/** Each list's last bulk change, which the next one waits for. @type {WeakMap<TaskList, Promise<unknown>>} */
const inFlight = new WeakMap();

/**
 * Sends one bulk change after the list's previous one has finished: its If-Match needs the
 * versions the previous one got back (two changes picked in a row would otherwise race, and
 * the second would be refused with 412 for every task the first had not reached yet).
 * @param {TaskList} l
 * @param {{task: api.Task, body: Record<string, any>, back: Record<string, any>}[]} work
 * @param {string} doing
 * @returns {Promise<{task: api.Task, body: Record<string, any>, back: Record<string, any>}[]>} what was saved
 */
function send(l, work, doing) {
  const run = (inFlight.get(l) ?? Promise.resolve()).then(() => sendNow(l, work, doing));
  inFlight.set(l, run.catch(() => {}));
  return run;
}

/**
 * Sends one PATCH per task with If-Match, four at a time; a refusal puts that task back.
 * @param {TaskList} l
 * @param {{task: api.Task, body: Record<string, any>, back: Record<string, any>}[]} work
 * @param {string} doing
 * @returns {Promise<{task: api.Task, body: Record<string, any>, back: Record<string, any>}[]>} what was saved
 */
async function sendNow(l, work, doing) {
  const progress = l.content.querySelector("#bulk-progress");
  /** @type {typeof work} */
  const saved = [];
  /** @type {string[]} */
  const refused = [];
  let finished = 0;
  for (const { task } of work) l.pending.add(task.id);
  await eachLimited(work, 4, async (w) => {
    Object.assign(w.task, w.body);
    redraw(l, w.task);
    try {
      const updated = await api.patch(`/tasks/${w.task.id}`, w.body, { ifMatch: w.task.version });
      Object.assign(w.task, updated);
      saved.push(w);
    } catch (e) {
      Object.assign(w.task, w.back);
      refused.push(`#${w.task.number}: ${refusal(e)}`);
      if (e instanceof api.ApiError && e.status === 412) {
        api.get(`/tasks/${w.task.id}`).then((fresh) => { Object.assign(w.task, fresh); redraw(l, w.task); }).catch(() => {});
      }
    } finally {
      redraw(l, w.task);
      l.pending.delete(w.task.id);
      finished += 1;
      if (progress) progress.textContent = finished < work.length ? `${doing}: ${finished} of ${work.length}…` : "";
    }
  });
  if (refused.length) announce(`${refused.length} of ${work.length} not changed. ${refused.slice(0, 3).join(" ")}`, { error: true });
  return saved;
}

/**
 * Deletes the picked tasks, with Undo (they leave the list at once).
 * @param {TaskList} l
 */
function remove(l) {
  const tasks = pickedTasks(l);
  if (!tasks.length) return;
  const ids = tasks.map((t) => t.id);
  hideRows(l, ids, true);
  deleteLater(tasks, {
    message: `Deleted ${tasks.length} ${tasks.length === 1 ? "task" : "tasks"}`,
    restore: () => hideRows(l, ids, false),
    deleted: (failed, why) => {
      const back = new Set(failed.map((t) => t.id));
      for (const id of ids) if (!back.has(id)) dropRow(l, id);
      if (failed.length) {
        hideRows(l, [...back], false);
        announce(`${failed.length} of ${tasks.length} were not deleted: ${why}.`, { error: true });
      }
      l.changed(true);
    },
  });
}
