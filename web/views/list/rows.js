// The rows of a task list: keyset pages, the done toggle (optimistic, with Undo, back to the
// server's truth when refused), j/k selection, picking rows for a bulk change (Shift/Ctrl-click,
// `x`), rows hidden while their deletion waits for Undo, and another person's change arriving
// live.

import * as api from "../../api.js";
import { announce } from "../../dom.js";
import { matchesFilters } from "../../model.js";
import { taskRow } from "../../components/task-row.js";
import { offerUndo } from "../../components/undo.js";
import { cells, matchesFieldFilters } from "./fields.js";

/**
 * A list on screen and what it knows.
 * @typedef {{ctx: import("../../model.js").Context, kind: "project" | "my" | "upcoming", project: api.Project | undefined,
 *   me: api.User, canEdit: boolean, params: URLSearchParams, base: string, content: HTMLElement,
 *   names: Map<string, {name: string}>, projectNames: Map<string, string>, stateNames: Map<string, string>, members: api.Member[],
 *   tasks: api.Task[], pending: Set<string>, cursor: string | null | undefined, loading: Promise<void> | null, selected: number,
 *   list: HTMLElement, empty: HTMLElement, more: HTMLButtonElement,
 *   fetching: Set<string>, again: Set<string>, detail: import("../../components/task-panel.js").OpenPanel | null,
 *   picked: Set<string>, anchor: string | null, hidden: Set<string>, changed: (now?: boolean) => void, onPicked: () => void,
 *   columns: import("../../fields.js").Field[], fields: import("../../fields.js").Field[]}} TaskList
 *   `params`: the query the API gets; `pending`: tasks with a change of this person's in flight
 *   (live events wait for it); `fetching`/`again`: tasks being fetched after an event, and those
 *   to fetch again when that is done; `detail`: the open task panel; `picked`: the rows picked for
 *   a bulk change, `anchor` the last one picked (Shift-click picks from it); `hidden`: rows whose
 *   deletion waits for its Undo; `changed`: the list's tasks changed (the counts are read again: at
 *   once for this person's own change, batched for live events);
 *   `onPicked`: the picked rows changed (the bulk bar follows); `stateNames`: the project's
 *   workflow states, for the rows' state chips (empty across projects); `columns`: the custom
 *   fields shown as columns, `fields` all of the project's (list/fields.js).
 */

/**
 * @param {TaskList} l
 * @param {api.Task} task
 */
export function rowFor(l, task) {
  const query = new URLSearchParams(location.search);
  query.set("task", task.id);
  const row = taskRow(task, {
    members: l.names, canEdit: l.canEdit, href: `${location.pathname}?${query}`, onToggle: (t) => toggle(l, t),
    projectName: l.kind === "project" ? undefined : l.projectNames.get(task.project_id),
    stateName: l.stateNames.get(task.state_id),
    picked: l.picked.has(task.id), onPick: l.canEdit ? (t, e) => pick(l, t.id, e) : undefined,
  });
  if (l.hidden.has(task.id)) row.hidden = true;
  if (l.columns.length) row.querySelector(".row-meta")?.prepend(...cells(l.columns, /** @type {any} */ (task), l.names));
  return row;
}

/**
 * The row of a task, if it is on screen.
 * @param {TaskList} l
 * @param {string} id
 */
export const rowOf = (l, id) => /** @type {HTMLElement | null} */ (l.list.querySelector(`.row[data-id="${id}"]`));

/**
 * Draws a task's row again, keeping its selection and focus.
 * @param {TaskList} l
 * @param {api.Task} task
 */
export function redraw(l, task) {
  const row = rowOf(l, task.id);
  if (!row) return;
  const focused = row.contains(document.activeElement);
  const next = rowFor(l, task);
  if (row.classList.contains("selected")) next.classList.add("selected");
  row.replaceWith(next);
  if (focused) /** @type {HTMLElement | null} */ (next.querySelector(".row-title"))?.focus();
}

/**
 * Done ⇄ to do, shown at once, with Undo; a refusal puts it back and says why (a 412 reads the
 * task again).
 * @param {TaskList} l
 * @param {api.Task} task
 */
async function toggle(l, task) {
  const next = task.status === "done" ? "todo" : "done";
  const before = task.status;
  const row = rowOf(l, task.id);
  l.pending.add(task.id);
  row?.classList.replace(`status-${before}`, `status-${next}`);
  try {
    const updated = await api.patch(`/tasks/${task.id}`, { status: next }, { ifMatch: task.version });
    Object.assign(task, updated);
    redraw(l, task);
    l.changed(true);
    offerUndo(`#${task.number} is ${next === "done" ? "done" : "to do"}`, async () => {
      const back = await api.patch(`/tasks/${task.id}`, { status: before }, { ifMatch: task.version });
      Object.assign(task, back);
      redraw(l, task);
      l.changed(true);
      return `#${task.number} is ${before === "done" ? "done" : "back to " + (before === "in_progress" ? "in progress" : before === "canceled" ? "canceled" : "to do")}`;
    });
  } catch (e) {
    row?.classList.replace(`status-${next}`, `status-${before}`);
    announce(e instanceof api.ApiError && e.status === 412 ? "Someone changed this task meanwhile; the list was refreshed." : e instanceof Error ? e.message : String(e), { error: true });
    if (e instanceof api.ApiError && e.status === 412) {
      const fresh = await api.get(`/tasks/${task.id}`);
      Object.assign(task, fresh);
      redraw(l, task);
    }
  } finally {
    l.pending.delete(task.id);
  }
}

/**
 * The next page (50 tasks) after the cursor. A call while a page loads gets that page's promise,
 * not a second page: the scroll observer and the first load can ask at the same moment.
 * @param {TaskList} l
 * @returns {Promise<void>}
 */
export function loadPage(l) {
  if (l.loading) return l.loading;
  if (l.cursor === null) return Promise.resolve();
  l.more.disabled = true;
  l.loading = fetchPage(l).finally(() => {
    l.loading = null;
    l.more.disabled = false;
  });
  return l.loading;
}

/** @param {TaskList} l */
async function fetchPage(l) {
  try {
    const page = new URLSearchParams(l.params);
    page.set("limit", "50");
    if (l.cursor) page.set("cursor", l.cursor);
    /** @type {api.Page} */
    const data = await api.get(`${l.base}?${page}`, { signal: l.ctx.signal });
    l.content.querySelector(".skeleton")?.remove();
    const known = new Set(l.tasks.map((t) => t.id));
    for (const task of data.items) {
      // A task added live (or by quick add) may come again in a later page.
      if (known.has(task.id)) continue;
      l.tasks.push(task);
      l.list.append(rowFor(l, task));
    }
    l.cursor = data.next_cursor;
    l.more.hidden = l.cursor === null;
    showEmpty(l);
    l.content.dataset.loaded = String(l.tasks.length);
  } catch (e) {
    if (e instanceof DOMException && e.name === "AbortError") return;
    l.content.querySelector(".skeleton")?.remove();
    announce(e instanceof Error ? e.message : String(e), { error: true });
    if (e instanceof api.ApiError && e.status === 400) {
      l.empty.hidden = false;
      l.empty.textContent = `These filters are not valid: ${e.message}`;
      l.cursor = null;
    }
  }
}

/** @param {TaskList} l the empty state shows when no row does */
export function showEmpty(l) {
  l.empty.hidden = l.tasks.some((t) => !l.hidden.has(t.id));
}

/**
 * Selects (and focuses) a row; near the end, the next page loads.
 * @param {TaskList} l
 * @param {number} index
 */
export function select(l, index) {
  const rows = [...l.list.querySelectorAll(".row:not([hidden])")];
  if (!rows.length) return;
  l.selected = Math.max(0, Math.min(rows.length - 1, index));
  for (const r of l.list.querySelectorAll(".row.selected")) r.classList.remove("selected");
  rows[l.selected].classList.add("selected");
  /** @type {HTMLElement | null} */ (rows[l.selected].querySelector(".row-title"))?.focus();
  if (l.selected >= rows.length - 3) loadPage(l);
}

/**
 * The selected row's task id (j/k's cursor).
 * @param {TaskList} l
 */
export function selectedId(l) {
  const rows = [...l.list.querySelectorAll(".row:not([hidden])")];
  return /** @type {HTMLElement | undefined} */ (rows[l.selected])?.dataset.id || null;
}

/**
 * Picks a row for a bulk change or drops it: Shift picks the run from the last one picked,
 * otherwise the row alone is toggled.
 * @param {TaskList} l
 * @param {string} id
 * @param {{shiftKey: boolean}} how
 */
export function pick(l, id, how) {
  const rows = /** @type {HTMLElement[]} */ ([...l.list.querySelectorAll(".row:not([hidden])")]);
  const at = rows.findIndex((r) => r.dataset.id === id);
  const from = l.anchor ? rows.findIndex((r) => r.dataset.id === l.anchor) : -1;
  if (how.shiftKey && from >= 0 && at >= 0) {
    const [a, b] = from < at ? [from, at] : [at, from];
    for (const r of rows.slice(a, b + 1)) l.picked.add(/** @type {string} */ (r.dataset.id));
  } else if (l.picked.has(id)) {
    l.picked.delete(id);
  } else {
    l.picked.add(id);
  }
  l.anchor = id;
  drawPicks(l);
}

/** @param {TaskList} l rows show whether they are picked */
export function drawPicks(l) {
  for (const row of /** @type {NodeListOf<HTMLElement>} */ (l.list.querySelectorAll(".row"))) {
    const on = l.picked.has(row.dataset.id || "");
    row.classList.toggle("picked", on);
    const box = /** @type {HTMLInputElement | null} */ (row.querySelector(".pick"));
    if (box) box.checked = on;
  }
  l.list.classList.toggle("picking", l.picked.size > 0);
  l.onPicked();
}

/**
 * @param {TaskList} l
 * @param {string} id
 */
export function dropRow(l, id) {
  const i = l.tasks.findIndex((t) => t.id === id);
  if (i >= 0) l.tasks.splice(i, 1);
  rowOf(l, id)?.remove();
  l.hidden.delete(id);
  if (l.picked.delete(id)) drawPicks(l);
  showEmpty(l);
}

/**
 * Hides rows while their deletion waits for Undo (or shows them again).
 * @param {TaskList} l
 * @param {string[]} ids
 * @param {boolean} hide
 */
export function hideRows(l, ids, hide) {
  for (const id of ids) {
    if (hide) l.hidden.add(id);
    else l.hidden.delete(id);
    const row = rowOf(l, id);
    if (row) row.hidden = hide;
    if (hide) l.picked.delete(id);
  }
  drawPicks(l);
  showEmpty(l);
}

/**
 * A live event about a task: read it again and redraw, drop or add its row.
 * @param {TaskList} l
 * @param {string} id
 */
export async function refreshRow(l, id) {
  if (l.fetching.has(id) || l.pending.has(id)) {
    l.again.add(id);
    return;
  }
  l.fetching.add(id);
  try {
    /** @type {api.Task} */
    let fresh;
    try {
      fresh = await api.get(`/tasks/${id}`, { signal: l.ctx.signal });
    } catch (e) {
      if (e instanceof api.ApiError && e.status === 404) return dropRow(l, id);
      throw e;
    }
    const known = l.tasks.find((t) => t.id === id);
    // A subtask's change is its parent's too (the "done/total" of its row).
    if (fresh.parent_id && (!known || known.version < fresh.version) && l.tasks.some((t) => t.id === fresh.parent_id)) {
      setTimeout(() => refreshRow(l, /** @type {string} */ (fresh.parent_id)), 0);
    }
    // Counts kept by the server (comments, subtasks, `blocked`) change without a new version.
    if (known && fresh.version <= known.version && fresh.comment_count === known.comment_count && fresh.attachment_count === known.attachment_count && fresh.blocked === known.blocked
      && fresh.subtasks?.total === known.subtasks?.total && fresh.subtasks?.done === known.subtasks?.done) return;
    const here = l.kind === "project" ? fresh.project_id === l.project?.id : true;
    if (!here || !matchesFilters(fresh, l.params, l.me.id) || !matchesFieldFilters(/** @type {any} */ (fresh), l.params, l.fields)) return dropRow(l, id);
    if (known) {
      // The same object: the row's controls hold it.
      Object.assign(known, fresh);
      redraw(l, known);
    } else if (!l.params.has("q")) insertRow(l, fresh);
  } catch {
    // Unreachable for a moment: the next event (or a reload) brings the list up to date.
  } finally {
    l.fetching.delete(id);
    if (l.again.delete(id) && !l.ctx.signal.aborted) setTimeout(() => refreshRow(l, id), 200);
  }
}

/**
 * A task new to this list: last in the manual order when the whole list is shown, on top in any
 * other order, not at all when it belongs to a page not loaded yet.
 * @param {TaskList} l
 * @param {api.Task} fresh
 */
export function insertRow(l, fresh) {
  if (l.tasks.some((t) => t.id === fresh.id)) return;
  if (l.params.get("sort") === "position" && l.cursor === null) {
    l.tasks.push(fresh);
    l.list.append(rowFor(l, fresh));
  } else if (l.params.get("sort") !== "position" || l.cursor === null) {
    l.tasks.unshift(fresh);
    l.list.prepend(rowFor(l, fresh));
  }
  showEmpty(l);
}
