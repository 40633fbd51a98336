// The rows of a task list: keyset pages, the done toggle (optimistic, back to the server's
// truth when refused), j/k selection, and another person's change arriving live.

import * as api from "../../api.js";
import { announce } from "../../dom.js";
import { matchesFilters } from "../../model.js";
import { taskRow } from "../../components/task-row.js";

/**
 * A list on screen and what it knows.
 * @typedef {{ctx: import("../../model.js").Context, kind: "project" | "my" | "upcoming", project: api.Project | undefined,
 *   me: api.User, canEdit: boolean, params: URLSearchParams, base: string, content: HTMLElement,
 *   names: Map<string, {name: string}>, projectNames: Map<string, string>, members: api.Member[],
 *   tasks: api.Task[], pending: Set<string>, cursor: string | null | undefined, loading: boolean, selected: number,
 *   list: HTMLElement, empty: HTMLElement, more: HTMLButtonElement,
 *   fetching: Set<string>, again: Set<string>, detail: {onEntry: (e: api.Entry) => void} | null}} TaskList
 *   `params`: the query the API gets; `pending`: tasks with a change of this person's in flight
 *   (live events wait for it); `fetching`/`again`: tasks being fetched after an event, and those
 *   to fetch again when that is done; `detail`: the open task panel's live hook.
 */

/**
 * @param {TaskList} l
 * @param {api.Task} task
 */
export function rowFor(l, task) {
  const query = new URLSearchParams(location.search);
  query.set("task", task.id);
  return taskRow(task, {
    members: l.names, canEdit: l.canEdit, href: `${location.pathname}?${query}`, onToggle: (t) => toggle(l, t),
    projectName: l.kind === "project" ? undefined : l.projectNames.get(task.project_id),
  });
}

/**
 * Done ⇄ to do, shown at once; a refusal puts it back and says why (a 412 reads the task again).
 * @param {TaskList} l
 * @param {api.Task} task
 */
async function toggle(l, task) {
  const next = task.status === "done" ? "todo" : "done";
  const row = l.list.querySelector(`[data-id="${task.id}"]`);
  l.pending.add(task.id);
  const before = task.status;
  row?.classList.replace(`status-${before}`, `status-${next}`);
  try {
    const updated = await api.patch(`/tasks/${task.id}`, { status: next }, { ifMatch: task.version });
    Object.assign(task, updated);
    row?.replaceWith(rowFor(l, task));
    announce(`#${task.number} is ${next === "done" ? "done" : "to do"}`);
  } catch (e) {
    row?.classList.replace(`status-${next}`, `status-${before}`);
    announce(e instanceof api.ApiError && e.status === 412 ? "Someone changed this task meanwhile; the list was refreshed." : e instanceof Error ? e.message : String(e), { error: true });
    if (e instanceof api.ApiError && e.status === 412) {
      const fresh = await api.get(`/tasks/${task.id}`);
      Object.assign(task, fresh);
      row?.replaceWith(rowFor(l, task));
    }
  } finally {
    l.pending.delete(task.id);
  }
}

/**
 * The next page (50 tasks) after the cursor; nothing when one is loading or none is left.
 * @param {TaskList} l
 */
export async function loadPage(l) {
  if (l.loading || l.cursor === null) return;
  l.loading = true;
  l.more.disabled = true;
  try {
    const page = new URLSearchParams(l.params);
    page.set("limit", "50");
    if (l.cursor) page.set("cursor", l.cursor);
    /** @type {api.Page} */
    const data = await api.get(`${l.base}?${page}`, { signal: l.ctx.signal });
    l.content.querySelector(".skeleton")?.remove();
    for (const task of data.items) {
      l.tasks.push(task);
      l.list.append(rowFor(l, task));
    }
    l.cursor = data.next_cursor;
    l.more.hidden = l.cursor === null;
    l.empty.hidden = l.tasks.length > 0;
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
  } finally {
    l.loading = false;
    l.more.disabled = false;
  }
}

/**
 * Selects (and focuses) a row; near the end, the next page loads.
 * @param {TaskList} l
 * @param {number} index
 */
export function select(l, index) {
  const rows = [...l.list.querySelectorAll(".row")];
  if (!rows.length) return;
  l.selected = Math.max(0, Math.min(rows.length - 1, index));
  rows.forEach((r, i) => r.classList.toggle("selected", i === l.selected));
  /** @type {HTMLElement | null} */ (rows[l.selected].querySelector(".row-title"))?.focus();
  if (l.selected >= rows.length - 3) loadPage(l);
}

/**
 * @param {TaskList} l
 * @param {string} id
 */
export function dropRow(l, id) {
  const i = l.tasks.findIndex((t) => t.id === id);
  if (i >= 0) l.tasks.splice(i, 1);
  l.list.querySelector(`.row[data-id="${id}"]`)?.remove();
  l.empty.hidden = l.tasks.length > 0;
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
    if (known && fresh.version <= known.version && fresh.comment_count === known.comment_count) return;
    if (fresh.project_id !== l.project?.id || !matchesFilters(fresh, l.params, l.me.id)) return dropRow(l, id);
    if (known) redrawRow(l, known, fresh);
    else if (!l.params.has("q")) insertRow(l, fresh);
  } catch {
    // Unreachable for a moment: the next event (or a reload) brings the list up to date.
  } finally {
    l.fetching.delete(id);
    if (l.again.delete(id) && !l.ctx.signal.aborted) setTimeout(() => refreshRow(l, id), 200);
  }
}

/**
 * A shown task changed: its row is drawn again, keeping selection and focus.
 * @param {TaskList} l
 * @param {api.Task} known
 * @param {api.Task} fresh
 */
function redrawRow(l, known, fresh) {
  // The same object: the row's controls hold it.
  Object.assign(known, fresh);
  const row = l.list.querySelector(`.row[data-id="${known.id}"]`);
  const focused = row?.contains(document.activeElement);
  const selectedRow = row?.classList.contains("selected");
  const next = rowFor(l, known);
  if (selectedRow) next.classList.add("selected");
  row?.replaceWith(next);
  if (focused) /** @type {HTMLElement | null} */ (next.querySelector(".row-title"))?.focus();
}

/**
 * A task new to this list: last in the manual order when the whole list is shown, on top in any
 * other order, not at all when it belongs to a page not loaded yet.
 * @param {TaskList} l
 * @param {api.Task} fresh
 */
function insertRow(l, fresh) {
  if (l.params.get("sort") === "position" && l.cursor === null) {
    l.tasks.push(fresh);
    l.list.append(rowFor(l, fresh));
  } else if (l.params.get("sort") !== "position" || l.cursor === null) {
    l.tasks.unshift(fresh);
    l.list.prepend(rowFor(l, fresh));
  }
  l.empty.hidden = l.tasks.length > 0;
}
