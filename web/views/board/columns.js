// What the board's modules share: the board on screen, where its columns come from, and their
// exact counts. The columns are data: a list of {key, label} from the board's `source`, each
// loading the tasks of `filter(key)`, a move into it setting `move(key)`, a task belonging to
// `keyOf(task)`, and counted by `group` (the count endpoint's `group_by`). The columns are the
// project's workflow states (API.md §17), each in one of the four status categories.

import * as api from "../../api.js";

/**
 * @typedef {{key: string, label: string, state: api.WorkflowState}} ColumnSpec
 * @typedef {{group: string, columns: ColumnSpec[], keyOf: (task: api.Task) => string,
 *   filter: (key: string) => Record<string, string>, move: (key: string) => Record<string, string>}} ColumnSource
 * @typedef {{key: string, label: string, state: api.WorkflowState, list: HTMLElement, count: HTMLElement,
 *   cursor: string | null | undefined, loading: boolean, more: HTMLButtonElement, total: number | null}} Column
 *   `total`: the exact number of the column's tasks (the count endpoint, adjusted by this person's moves)
 * @typedef {{ctx: import("../../model.js").Context, project: api.Project, canEdit: boolean, canAdmin: boolean, me: api.User,
 *   tasks: Map<string, api.Task>, names: Map<string, {name: string}>, filters: URLSearchParams,
 *   board: HTMLElement, source: ColumnSource, columns: Column[], moves: Promise<void>, fetching: Set<string>, again: Set<string>,
 *   detail: import("../../components/task-panel.js").OpenPanel | null, place: (t: api.Task) => void,
 *   counted: number, lastMove: {id: string, origin: Origin, dismiss: () => void} | null}} Board
 *   `source`: where the columns come from (the project's states); `moves`: this person's moves,
 *   sent one at a time; `fetching`/`again`: tasks being fetched after an event, and those to fetch
 *   again when that is done; `detail`: the open task panel; `place`: puts a task where the
 *   server's order says; `counted`: bumped by each local change of the counts, so an older answer
 *   of the count endpoint is not shown over it; `lastMove`: the move whose Undo is on offer
 * @typedef {{key: string, prev: string | null, next: string | null}} Origin where a card was before its moves
 */

/**
 * The board's columns: the project's states, in order.
 * @param {api.WorkflowState[]} states
 * @returns {ColumnSource}
 */
export function stateColumns(states) {
  return {
    group: "state",
    columns: states.map((state) => ({ key: state.id, label: state.name, state })),
    keyOf: (task) => task.state_id,
    filter: (key) => ({ state: key }),
    move: (key) => ({ state_id: key }),
  };
}

/** @param {Column} column the exact count when known, else the cards loaded ("50+" while more can load) */
export function updateCount(column) {
  const n = column.list.querySelectorAll(".card").length;
  const text = column.total !== null ? column.total.toLocaleString() : column.cursor ? `${n}+` : String(n);
  column.count.textContent = text;
  column.count.setAttribute("aria-label", `${text} ${column.total === 1 || (column.total === null && n === 1) ? "card" : "cards"}`);
}

/** @param {Board} b */
export function updateCounts(b) {
  b.columns.forEach(updateCount);
}

/**
 * This person moved a card from one column to another: the counts follow at once.
 * @param {Board} b
 * @param {Column} from
 * @param {Column} to
 */
export function countMove(b, from, to) {
  if (from === to) return;
  b.counted += 1;
  if (from.total !== null) from.total -= 1;
  if (to.total !== null) to.total += 1;
  updateCount(from);
  updateCount(to);
}

/**
 * Reads the exact counts of every column under the board's filters (after this person's moves
 * in flight; an answer overtaken by a local change is dropped).
 * @param {Board} b
 */
export async function readCounts(b) {
  await b.moves;
  const asked = b.counted;
  const query = new URLSearchParams(b.filters);
  query.set("group_by", b.source.group);
  try {
    /** @type {{groups: {key: string, count: number}[]}} */
    const counts = await api.get(`/projects/${b.project.id}/tasks/counts?${query}`, { signal: b.ctx.signal });
    if (asked !== b.counted) return;
    for (const c of b.columns) c.total = counts.groups.find((g) => g.key === c.key)?.count ?? 0;
  } catch {
    // Without counts the headers show the cards loaded.
  }
  updateCounts(b);
}

/**
 * @param {Board} b
 * @param {Element} list
 */
export const columnOf = (b, list) => /** @type {Column} */ (b.columns.find((c) => c.list === list));

/**
 * @param {Board} b
 * @param {string} key
 */
export const columnAt = (b, key) => b.columns.find((c) => c.key === key);
