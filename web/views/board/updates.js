// Another person's change on the board without a reload: the task is read again and its card
// placed where the server's order says (`position`, then `id`, byte-compared like the column's
// `COLLATE "C"`), after this person's own moves in flight, never under a held or dragged card.
// Every task event also reads the exact column counts again (debounced). A change of a subtask
// reads its parent again too (its "done/total" changed without a version of its own), and a
// change of the project's states draws the columns again.

import * as api from "../../api.js";
import { debounce } from "../../dom.js";
import { hasUnsaved, matchesFilters } from "../../model.js";
import * as live from "../../live.js";
import { updateCounts, readCounts, columnAt } from "./columns.js";
import { card } from "./cards.js";
import { statesChanged, redrawColumns } from "./states.js";

/** @typedef {import("./columns.js").Board} Board */

/**
 * Follows the project's events until the view is left.
 * @param {Board} b
 */
export function follow(b) {
  const counts = debounce(() => readCounts(b), 250);
  live.follow(b.project.id, {
    onEntry: (entry) => {
      b.detail?.onEntry(entry);
      if (entry.kind === "project.updated" && entry.changes.some((c) => c.field === "states")) statesChanged(b);
      if (entry.kind.startsWith("member.") || !entry.task_id) return;
      if (entry.kind.startsWith("task.")) counts();
      if (entry.kind === "task.deleted") {
        const parent = b.tasks.get(entry.task_id)?.parent_id;
        drop(b, entry.task_id);
        if (parent) refresh(b, parent);
      } else refresh(b, entry.task_id);
    },
    onReset: () => {
      if (!hasUnsaved()) redrawColumns(b);
    },
  }, b.ctx.signal);
}

/** @param {api.Task} a @param {api.Task} b whether what the server counts for them is the same */
const sameCounts = (a, b) => a.comment_count === b.comment_count && a.attachment_count === b.attachment_count && a.blocked === b.blocked
  && a.subtasks?.total === b.subtasks?.total && a.subtasks?.done === b.subtasks?.done;

/** @param {api.Task} a @param {api.Task} b */
const order = (a, b) => (a.position < b.position ? -1 : a.position > b.position ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * @param {Board} b
 * @param {string} id
 */
export function drop(b, id) {
  b.board.querySelector(`.card[data-id="${id}"]`)?.remove();
  b.tasks.delete(id);
  updateCounts(b);
}

/**
 * Puts a task where the server's order says, in its column: in place when it is there already
 * (no flicker), not at all when it sorts after the cards loaded so far.
 * @param {Board} b
 * @param {api.Task} t
 */
export function place(b, t) {
  const old = /** @type {HTMLElement | null} */ (b.board.querySelector(`.card[data-id="${t.id}"]`));
  const column = columnAt(b, b.source.keyOf(t));
  if (!column) return;
  const others = /** @type {HTMLElement[]} */ ([...column.list.querySelectorAll(".card")]).filter((c) => c !== old);
  const next = others.find((c) => {
    const o = b.tasks.get(c.dataset.id || "");
    return o ? order(t, o) < 0 : false;
  });
  const focused = old !== null && document.activeElement === old;
  if (!next && column.cursor) {
    // Beyond the loaded page: it shows when the column loads more.
    old?.remove();
    updateCounts(b);
    return;
  }
  const fresh = card(b, t);
  const inPlace = old && old.parentElement === column.list && (old.nextElementSibling === next || (next === undefined && !old.nextElementSibling?.classList.contains("card")));
  if (inPlace && old) old.replaceWith(fresh);
  else {
    old?.remove();
    column.list.insertBefore(fresh, next || null);
  }
  if (focused) fresh.focus();
  updateCounts(b);
}

/**
 * @param {Board} b
 * @param {string} id
 */
async function refresh(b, id) {
  if (b.fetching.has(id)) {
    b.again.add(id);
    return;
  }
  b.fetching.add(id);
  try {
    // The person's own moves first: the board shows them already.
    await b.moves;
    /** @type {api.Task | null} */
    let fresh = null;
    try {
      fresh = await api.get(`/tasks/${id}`, { signal: b.ctx.signal });
    } catch (e) {
      if (e instanceof api.ApiError && e.status === 404) return drop(b, id);
      throw e;
    }
    const t = /** @type {api.Task} */ (fresh);
    const known = b.tasks.get(id);
    // A subtask's change is its parent's too (the counts on its card).
    if (t.parent_id && (!known || known.version < t.version)) setTimeout(() => refresh(b, /** @type {string} */ (t.parent_id)), 0);
    // Counts kept by the server (comments, subtasks, `blocked`) change without a new version.
    if (known && t.version <= known.version && sameCounts(t, known)) return;
    if (t.project_id !== b.project.id || !matchesFilters(t, b.filters, b.me.id) || (!known && b.filters.has("q"))) return drop(b, id);
    const el = b.board.querySelector(`.card[data-id="${id}"]`);
    if (el && (el.classList.contains("dragging") || el.classList.contains("pending") || el.classList.contains("held"))) {
      b.again.add(id);
      return;
    }
    b.tasks.set(id, t);
    place(b, t);
  } catch {
    // Unreachable for a moment: the next event (or a reload) brings the board up to date.
  } finally {
    b.fetching.delete(id);
    if (b.again.delete(id) && !b.ctx.signal.aborted) setTimeout(() => refresh(b, id), 200);
  }
}
