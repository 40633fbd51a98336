// What the board's modules share: the board on screen, its columns, and their counts.

import * as api from "../../api.js";

/**
 * @typedef {{status: api.Status, list: HTMLElement, count: HTMLElement, cursor: string | null | undefined, loading: boolean, more: HTMLButtonElement}} Column
 * @typedef {{ctx: import("../../model.js").Context, project: api.Project, canEdit: boolean, me: api.User,
 *   tasks: Map<string, api.Task>, names: Map<string, {name: string}>, filters: URLSearchParams,
 *   board: HTMLElement, columns: Column[], moves: Promise<void>, fetching: Set<string>, again: Set<string>,
 *   detail: {onEntry: (e: api.Entry) => void} | null}} Board
 *   `moves`: this person's moves, sent one at a time; `fetching`/`again`: tasks being fetched after
 *   an event, and those to fetch again when that is done; `detail`: the open task panel's live hook.
 */

/** @param {Column} column the number of cards, with "+" while more can load */
export function updateCount(column) {
  const n = column.list.children.length;
  column.count.textContent = column.cursor ? `${n}+` : String(n);
}

/** @param {Board} b */
export function updateCounts(b) {
  b.columns.forEach(updateCount);
}

/**
 * @param {Board} b
 * @param {Element} list
 */
export const columnOf = (b, list) => /** @type {Column} */ (b.columns.find((c) => c.list === list));
