// The board: one column per status, in the project's manual order (`position`), each column
// paged by itself (board/cards.js). Cards move by drag and drop or by keyboard (board/moves.js);
// another person's change shows live (board/updates.js); the open task is the detail panel.

import * as api from "../api.js";
import { h, replace } from "../dom.js";
import { STATUSES, membersOf } from "../model.js";
import * as live from "../live.js";
import { openTaskPanel } from "../components/task-panel.js";
import { updateCounts } from "./board/columns.js";
import { card, loadColumn, addCard } from "./board/cards.js";
import { follow } from "./board/updates.js";

/**
 * @typedef {import("./board/columns.js").Board} Board
 * @typedef {import("./board/columns.js").Column} Column
 */

const FILTERS = ["assignee", "label", "priority_min", "due_after", "due_before", "q"];

/**
 * @param {import("../model.js").Context} ctx
 * @param {HTMLElement} content
 */
export async function renderBoard(ctx, content) {
  const project = /** @type {api.Project} */ (ctx.project);
  const canEdit = api.can(project.my_role, "editor");
  const filters = new URLSearchParams();
  for (const key of FILTERS) {
    const v = ctx.query.get(key);
    if (v) filters.set(key, v);
  }
  /** @type {Board} */
  const b = {
    ctx, project, canEdit, filters, me: /** @type {api.User} */ (ctx.state.user),
    tasks: new Map(), names: new Map(), columns: [], moves: Promise.resolve(), fetching: new Set(), again: new Set(), detail: null,
    board: h("div", { class: "board", id: "board", role: "region", "aria-label": "Board", "aria-describedby": "board-help" }),
  };
  const help = h("p", { class: "sr-only", id: "board-help" },
    canEdit ? "Arrow keys move between cards. Shift with the arrow keys moves the focused card: left and right to another column, up and down within the column. Enter opens the card." : "Arrow keys move between cards; Enter opens the card.");
  const panel = h("div", { class: "panel-host" });
  const filterNote = filters.toString() ? h("p", { class: "muted small board-filters" }, "Filtered: ", filters.toString().replace(/&/g, ", "), " · ", h("a", { href: location.pathname }, "Show all")) : null;
  replace(content, h("div", { class: "board-view" }, filterNote, help, b.board), panel);
  b.columns = STATUSES.map(([status, label]) => column(b, status, label));
  bindKeys(b);

  // The newest change before the board is read: the live stream starts right after it.
  const after = await live.newestEntryId(project.id, ctx.signal);
  await Promise.all(b.columns.map((c) => loadColumn(b, c)));
  b.board.dataset.ready = "true";
  // Each column loads its next page when scrolled to its end.
  const observer = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      const c = b.columns.find((c) => c.more === entry.target);
      if (entry.isIntersecting && c) loadColumn(b, c);
    }
  });
  for (const c of b.columns) observer.observe(c.more);
  ctx.signal.addEventListener("abort", () => observer.disconnect());
  membersOf(project.id).then((members) => drawMembers(b, members)).catch(() => {});
  follow(b, after);

  const taskId = ctx.query.get("task");
  if (taskId) b.detail = await openTaskPanel(ctx, panel, taskId, detailHooks(b));
}

/**
 * One status's column: heading, count, add button, its cards and "Load more".
 * @param {Board} b
 * @param {api.Status} status
 * @param {string} label
 * @returns {Column}
 */
function column(b, status, label) {
  const list = h("ol", { class: "cards", dataset: { status }, "aria-labelledby": `col-${status}-title` });
  const count = h("span", { class: "count", "aria-label": "cards" }, "0");
  const more = /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: "ghost small load-more", hidden: true }, "Load more"));
  /** @type {Column} */
  const c = { status, list, count, cursor: undefined, loading: false, more };
  more.addEventListener("click", () => loadColumn(b, c));
  const add = b.canEdit ? h("button", { type: "button", class: "icon", "aria-label": `Add a task to ${label}`, title: "Add a task", onclick: () => addCard(b, c) }, "+") : null;
  b.board.append(h("section", { class: "column", dataset: { status }, "aria-labelledby": `col-${status}-title` },
    h("header", { class: "column-head" }, h("h2", { id: `col-${status}-title` }, label), count, add),
    h("div", { class: "column-scroll" }, list, more)));
  return c;
}

/**
 * j/k walk the cards in order, Enter opens the focused one, c adds to the first column.
 * @param {Board} b
 */
function bindKeys(b) {
  const keys = b.ctx.keys;
  const cardsInOrder = () => /** @type {HTMLElement[]} */ ([...b.board.querySelectorAll(".card")]);
  /** @param {number} step */
  const walk = (step) => {
    const all = cardsInOrder();
    const i = all.indexOf(/** @type {HTMLElement} */ (document.activeElement));
    all[Math.max(0, Math.min(all.length - 1, i + step))]?.focus();
  };
  keys.j = () => walk(1);
  keys.k = () => walk(-1);
  keys.enter = () => {
    const el = document.activeElement;
    if (el instanceof HTMLElement && el.classList.contains("card")) b.ctx.setQuery({ task: el.dataset.id || null });
  };
  if (b.canEdit) keys.c = () => addCard(b, b.columns[0]);
}

/**
 * Assignee initials need the members: draw the cards again when they arrive (not one being dragged).
 * @param {Board} b
 * @param {api.Member[]} members
 */
function drawMembers(b, members) {
  for (const m of members) b.names.set(m.user.id, { name: m.user.name });
  for (const task of b.tasks.values()) {
    const old = b.board.querySelector(`[data-id="${task.id}"]`);
    if (old && !old.classList.contains("dragging")) {
      const focused = document.activeElement === old;
      const fresh = card(b, task);
      old.replaceWith(fresh);
      if (focused) fresh.focus();
    }
  }
}

/**
 * What the task panel tells the board: a saved task's card moves to its status's column and is
 * drawn again; a deleted one goes.
 * @param {Board} b
 * @returns {import("../components/task-editor.js").Hooks}
 */
function detailHooks(b) {
  return {
    onSaved: (task) => {
      b.tasks.set(task.id, task);
      const old = b.board.querySelector(`[data-id="${task.id}"]`);
      const target = b.columns.find((c) => c.status === task.status);
      if (old && target && old.parentElement !== target.list) {
        target.list.prepend(old);
      }
      if (old && old.classList.contains("card")) old.replaceWith(card(b, task));
      updateCounts(b);
    },
    onDeleted: (id) => {
      b.board.querySelector(`[data-id="${id}"]`)?.remove();
      updateCounts(b);
    },
  };
}
