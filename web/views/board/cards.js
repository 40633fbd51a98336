// The board's cards: a card shows only what matters (title, labels, due, priority, comments,
// subtasks done of all, a "Blocked" marker, assignee) and opens on a click anywhere on it (not at the end of a drag); each column loads its
// pages in the manual order and adds a card in place.

import * as api from "../../api.js";
import { h, announce, formatDue, isOverdue, initials } from "../../dom.js";
import { commentBadge, attachmentBadge, progressBadge, blockedBadge } from "../../components/task-row.js";
import { priorityGlyph } from "../../components/priority.js";
import { updateCount, readCounts } from "./columns.js";
import { startDrag, onCardKey } from "./moves.js";

/**
 * @typedef {import("./columns.js").Board} Board
 * @typedef {import("./columns.js").Column} Column
 */

/**
 * @param {Board} b
 * @param {api.Task} task
 */
export function card(b, task) {
  const assignee = task.assignee_id ? b.names.get(task.assignee_id) : null;
  const query = new URLSearchParams(location.search);
  query.set("task", task.id);
  const el = h("li", { class: "card", tabindex: "0", dataset: { id: task.id }, "aria-roledescription": b.canEdit ? "movable card" : "card", "aria-describedby": "board-help" },
    h("a", { href: `${location.pathname}?${query}`, class: "card-title", tabindex: "-1", draggable: "false" }, task.title),
    h("div", { class: "card-meta" },
      h("span", { class: "num" }, `#${task.number}`),
      task.labels.map((l) => h("span", { class: "chip label" }, l)),
      task.due_date ? h("span", { class: isOverdue(task.due_date) && task.status !== "done" ? "due overdue" : "due" }, formatDue(task.due_date)) : null,
      priorityGlyph(task.priority),
      commentBadge(task),
      attachmentBadge(task),
      progressBadge(task),
      blockedBadge(task),
      assignee ? h("span", { class: "avatar", title: assignee.name, "aria-label": `Assigned to ${assignee.name}` }, initials(assignee.name)) : null));
  if (b.canEdit) el.addEventListener("pointerdown", (e) => startDrag(b, e, el));
  // The browser's own drag of the title link would cancel the pointer (and the move).
  el.addEventListener("dragstart", (e) => e.preventDefault());
  el.addEventListener("keydown", (e) => onCardKey(b, e, el));
  el.addEventListener("click", (e) => {
    // Anywhere on the card opens it; a modified click on the title is the browser's (new tab).
    if (e.defaultPrevented || e.button !== 0 || ((e.ctrlKey || e.metaKey || e.shiftKey) && /** @type {Element} */ (e.target).closest("a"))) return;
    e.preventDefault();
    openCard(b, task.id);
  });
  return el;
}

/**
 * Opens a card's task in the panel (the one open saves first).
 * @param {Board} b
 * @param {string} id
 */
export async function openCard(b, id) {
  if (b.detail?.id === id) return;
  if (b.detail && !(await b.detail.retire())) return;
  b.ctx.setQuery({ task: id });
}

/**
 * The column's next page (50 cards) in the manual order, under the board's filters.
 * @param {Board} b
 * @param {Column} column
 */
export async function loadColumn(b, column) {
  if (column.loading || column.cursor === null) return;
  column.loading = true;
  try {
    const query = new URLSearchParams(b.filters);
    for (const [k, v] of Object.entries(b.source.filter(column.key))) query.set(k, v);
    query.set("sort", "position");
    query.set("limit", "50");
    if (column.cursor) query.set("cursor", column.cursor);
    /** @type {api.Page} */
    const page = await api.get(`/projects/${b.project.id}/tasks?${query}`, { signal: b.ctx.signal });
    for (const task of page.items) {
      if (b.board.querySelector(`.card[data-id="${task.id}"]`)) continue;
      b.tasks.set(task.id, task);
      column.list.append(card(b, task));
    }
    column.cursor = page.next_cursor;
    column.more.hidden = column.cursor === null;
    updateCount(column);
  } finally {
    column.loading = false;
  }
}

/**
 * A one-line form under the column: Enter adds a card to it, Esc closes.
 * @param {Board} b
 * @param {Column} column
 */
export function addCard(b, column) {
  const existing = column.list.parentElement?.querySelector("form");
  if (existing) return /** @type {HTMLInputElement} */ (existing.querySelector("input")).focus();
  const input = /** @type {HTMLInputElement} */ (h("input", { "aria-label": `New task in ${column.label}`, maxlength: 200, autocomplete: "off", class: "new-card-input" }));
  const error = h("p", { class: "field-error" });
  const form = h("form", {
    class: "new-card",
    onsubmit: async (/** @type {Event} */ e) => {
      e.preventDefault();
      if (!input.value.trim()) return form.remove();
      try {
        const body = { title: input.value, ...b.source.move(column.key) };
        const task = await api.post(`/projects/${b.project.id}/tasks`, body).catch(async (e) => {
          // Required custom fields are asked for in a dialog (loaded only then).
          const { lacksFields, createTask } = await import("../../components/required-fields.js");
          if (!lacksFields(e)) throw e;
          return createTask(b.project.id, body, e);
        });
        if (!task) return;
        b.tasks.set(task.id, task);
        column.list.append(card(b, task));
        b.counted += 1;
        if (column.total !== null) column.total += 1;
        updateCount(column);
        readCounts(b);
        input.value = "";
        error.textContent = "";
        announce(`Added “${task.title}”.`);
      } catch (err) {
        error.textContent = err instanceof Error ? err.message : String(err);
      }
    },
  }, input, error);
  input.addEventListener("keydown", (e) => {
    if (e.key === "Escape") {
      e.stopPropagation();
      form.remove();
    }
  });
  column.list.after(form);
  input.focus();
}
