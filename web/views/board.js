// The board: one column per workflow state of the project (board/columns.js; an admin adds,
// renames, reorders and deletes them: board/states.js), each in the project's manual order
// (`position`) and paged by itself (board/cards.js), with its exact count in the header. Cards move by drag and drop or by keyboard (board/moves.js);
// another person's change shows live (board/updates.js); the open task is the detail panel,
// opened in place. The board scrolls sideways with a visible fade and buttons at its edges; on a
// phone each column is a page.

import * as api from "../api.js";
import { h, replace } from "../dom.js";
import { membersOf, statesOf, forgetStates } from "../model.js";
import * as live from "../live.js";
import { saveViewButton } from "../components/views-sidebar.js";
import { stateColumns, readCounts } from "./board/columns.js";
import { columnHead, addColumn } from "./board/states.js";
import { card, loadColumn, addCard, openCard } from "./board/cards.js";
import { follow, place, drop } from "./board/updates.js";

/**
 * @typedef {import("./board/columns.js").Board} Board
 * @typedef {import("./board/columns.js").Column} Column
 */

const FILTERS = ["assignee", "label", "priority_min", "due_after", "due_before", "q", "parent"];

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
  // A saved view's custom-field filters (API.md §18) narrow the board's cards too.
  for (const [key, v] of ctx.query) if (key.startsWith("field.") && v) filters.set(key, v);
  // The columns are read fresh each time the board is drawn (another person may have changed them).
  forgetStates(project.id);
  const states = await statesOf(project.id);
  /** @type {Board} */
  const b = {
    ctx, project, canEdit, canAdmin: api.can(project.my_role, "admin"), filters, me: /** @type {api.User} */ (ctx.state.user),
    tasks: new Map(), names: new Map(), source: stateColumns(states), columns: [], moves: Promise.resolve(), fetching: new Set(), again: new Set(), detail: null,
    board: h("div", { class: "board", id: "board", role: "region", "aria-label": "Board", "aria-describedby": "board-help", tabindex: "-1" }),
    place: (t) => place(b, t), counted: 0, lastMove: null,
  };
  const help = h("p", { class: "sr-only", id: "board-help" },
    canEdit ? "Arrow keys move between cards. Shift with the arrow keys moves the focused card: left and right to another column, up and down within the column. Enter opens the card." : "Arrow keys move between cards; Enter opens the card.");
  const panel = h("div", { class: "panel-host" });
  const filterNote = filters.toString() ? h("p", { class: "muted small board-filters" }, "Filtered: ", filters.toString().replace(/&/g, ", "), " · ", h("a", { href: location.pathname }, "Show all"), " ", saveViewButton({ project, kind: "board" })) : null;
  replace(content, h("div", { class: "board-view" }, filterNote, help, scrollFrame(b)), panel);
  b.columns = b.source.columns.map((spec) => column(b, spec));
  if (b.canAdmin) b.board.append(addColumn(b));
  bindKeys(b);
  ctx.openTask = (id) => showTask(b, panel, id);

  // Listen first, read once the stream is open: nothing committed in between is missed.
  follow(b);
  await live.ready();
  await Promise.all([...b.columns.map((c) => loadColumn(b, c)), readCounts(b)]);
  b.board.dataset.ready = "true";
  b.board.dispatchEvent(new Event("scroll"));
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

  const taskId = ctx.query.get("task");
  if (taskId) await showTask(b, panel, taskId);
}

/**
 * The board in a frame that shows it scrolls sideways: a fade at each edge with more beyond it,
 * and buttons that scroll by a column (instantly when reduced motion is asked for).
 * @param {Board} b
 */
function scrollFrame(b) {
  const step = (/** @type {number} */ dir) => {
    const column = b.board.querySelector(".column");
    const width = column ? column.getBoundingClientRect().width + 12 : 292;
    const smooth = !window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    b.board.scrollBy({ left: dir * width, behavior: smooth ? "smooth" : "auto" });
  };
  const left = h("button", { type: "button", class: "scroll-button scroll-left", id: "board-left", "aria-label": "Scroll the board left", hidden: true, onclick: () => step(-1) }, "‹");
  const right = h("button", { type: "button", class: "scroll-button scroll-right", id: "board-right", "aria-label": "Scroll the board right", hidden: true, onclick: () => step(1) }, "›");
  const frame = h("div", { class: "board-frame" }, b.board, left, right);
  const update = () => {
    const { scrollLeft, scrollWidth, clientWidth } = b.board;
    const before = scrollLeft > 1;
    const after = scrollLeft + clientWidth < scrollWidth - 1;
    frame.classList.toggle("more-left", before);
    frame.classList.toggle("more-right", after);
    left.hidden = !before;
    right.hidden = !after;
  };
  b.board.addEventListener("scroll", update, { passive: true });
  const resize = new ResizeObserver(update);
  resize.observe(b.board);
  b.ctx.signal.addEventListener("abort", () => resize.disconnect());
  return frame;
}

/**
 * One column: heading, exact count, add button, its cards and "Load more". It is marked with its
 * state and that state's category (`data-status`).
 * @param {Board} b
 * @param {import("./board/columns.js").ColumnSpec} spec
 * @returns {Column}
 */
function column(b, { key, label, state }) {
  const data = { state: key, status: state.category };
  const title = `col-${key}-title`;
  const list = h("ol", { class: "cards", dataset: data, "aria-labelledby": title });
  const count = h("span", { class: "count" }, "");
  const more = /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: "ghost small load-more", hidden: true }, "Load more"));
  /** @type {Column} */
  const c = { key, label, state, list, count, cursor: undefined, loading: false, more, total: null };
  more.addEventListener("click", () => loadColumn(b, c));
  const add = b.canEdit ? h("button", { type: "button", class: "icon", "aria-label": `Add a task to ${label}`, title: "Add a task", onclick: () => addCard(b, c) }, "+") : null;
  b.board.append(h("section", { class: "column", dataset: data, "aria-labelledby": title },
    columnHead(b, c, title, add),
    h("div", { class: "column-scroll" }, list, more)));
  return c;
}

/** @type {WeakMap<HTMLElement, AbortController>} the open panel's own signal, per panel host */
const panels = new WeakMap();

/**
 * Shows the task of the URL in the panel, or closes it (then the focus goes back to its card).
 * @param {Board} b
 * @param {HTMLElement} host
 * @param {string | null} id
 */
async function showTask(b, host, id) {
  const previous = b.detail?.id;
  if (b.detail && id === previous) return;
  if (b.detail) await b.detail.retire();
  panels.get(host)?.abort();
  b.detail = null;
  replace(host);
  if (!id) {
    if (previous) /** @type {HTMLElement | null} */ (b.board.querySelector(`.card[data-id="${previous}"]`))?.focus();
    return;
  }
  const abort = new AbortController();
  panels.set(host, abort);
  b.ctx.signal.addEventListener("abort", () => abort.abort());
  // Loaded when first opened: the first visit of a list or board needs no panel (docs/performance.md).
  const { openTaskPanel } = await import("../components/task-panel.js");
  b.detail = await openTaskPanel({ ...b.ctx, signal: abort.signal }, host, id, detailHooks(b));
}

/**
 * j/k walk the cards in order (and, with the panel open, open them), Enter opens the focused one,
 * e edits the open task's title, c adds to the first column, Esc leaves a field or closes the panel.
 * @param {Board} b
 */
function bindKeys(b) {
  const keys = b.ctx.keys;
  const cardsInOrder = () => /** @type {HTMLElement[]} */ ([...b.board.querySelectorAll(".card:not([hidden])")]);
  /** @param {number} step */
  const walk = (step) => {
    const all = cardsInOrder();
    const current = b.detail ? all.find((c) => c.dataset.id === b.detail?.id) : document.activeElement;
    const i = all.indexOf(/** @type {HTMLElement} */ (current));
    const next = all[Math.max(0, Math.min(all.length - 1, i + step))];
    if (!next) return;
    next.focus();
    next.scrollIntoView({ block: "nearest", inline: "nearest" });
    if (b.detail && next.dataset.id) openCard(b, next.dataset.id);
  };
  keys.j = () => walk(1);
  keys.k = () => walk(-1);
  keys.enter = () => {
    const el = document.activeElement;
    if (el instanceof HTMLElement && el.classList.contains("card") && el.dataset.id) openCard(b, el.dataset.id);
  };
  keys.e = () => b.detail?.edit();
  keys.escape = () => (b.detail ? b.detail.escape() : false);
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
    // Only the cards that show an assignee change (drawing all again is a long task on a phone).
    if (!task.assignee_id) continue;
    const old = /** @type {HTMLElement | null} */ (b.board.querySelector(`.card[data-id="${task.id}"]`));
    if (old && !old.classList.contains("dragging") && !old.classList.contains("held")) {
      const focused = document.activeElement === old;
      const fresh = card(b, task);
      fresh.hidden = old.hidden;
      old.replaceWith(fresh);
      if (focused) fresh.focus();
    }
  }
}

/**
 * What the task panel tells the board: a saved task's card goes where the server's order puts
 * it (another column when its status changed); a deleted one goes (hidden while its Undo is on
 * offer).
 * @param {Board} b
 * @returns {import("../components/task-editor.js").Hooks}
 */
function detailHooks(b) {
  /** @param {string} id @param {boolean} hide */
  const hide = (id, hide) => {
    const el = /** @type {HTMLElement | null} */ (b.board.querySelector(`.card[data-id="${id}"]`));
    if (el) el.hidden = hide;
  };
  return {
    onSaved: (task) => {
      const before = b.tasks.get(task.id);
      b.tasks.set(task.id, task);
      place(b, task);
      if (before && b.source.keyOf(before) !== b.source.keyOf(task)) readCounts(b);
    },
    onHidden: (id) => hide(id, true),
    onRestored: (id) => hide(id, false),
    onDeleted: (id) => {
      drop(b, id);
      readCounts(b);
    },
  };
}

