// What the views share, below them all: who is signed in and their projects, the statuses and
// priorities as people read them, the members cache, the one predicate that says whether a task
// still belongs in a filtered list or board, and the guards of unsaved input. Nothing here
// draws; it imports only api.js.

import * as api from "./api.js";

/**
 * @typedef {{user: api.User | null, projects: api.Project[], registrationOpen: boolean, setupRequired: boolean}} State
 *   `setupRequired`: DOCKET_REQUIRE_2FA holds the person to setting up a second factor first
 * @typedef {{j?: () => void, k?: () => void, enter?: () => void, c?: () => void, e?: () => void, x?: () => void,
 *   escape?: () => boolean}} Keys
 * @typedef {(url: string, options?: {replace?: boolean, force?: boolean}) => void} Navigate
 * @typedef {(changes: Record<string, string | null>, options?: {replace?: boolean}) => void} SetQuery
 * @typedef {{state: State, main: HTMLElement, params: Record<string, string>, query: URLSearchParams,
 *   project?: api.Project, navigate: Navigate, setQuery: SetQuery, keys: Keys,
 *   refreshProjects: () => Promise<void>, signal: AbortSignal, openTask?: (id: string | null) => Promise<void>}} Context
 *   what a view is rendered with; a view that shows tasks in a panel sets `openTask`, and a change of
 *   the URL's `task` alone is handed to it instead of rendering the view again
 */

/** @type {State} */
export const state = { user: null, projects: [], registrationOpen: true, setupRequired: false };

/** The top bars' running-timer clock: drawn by components/timer.js once it is loaded (issue 21). */
export const topTimer = { draw: (/** @type {HTMLElement} */ _el) => {}, stop: () => {} };

/** Things with unsaved input: each returns true while it has some. */
export const unsaved = new Set();
/** @type {() => boolean} */
export const hasUnsaved = () => [...unsaved].some((f) => f());

export const STATUSES = /** @type {const} */ ([
  ["todo", "To do"],
  ["in_progress", "In progress"],
  ["done", "Done"],
  ["canceled", "Canceled"],
]);
export const PRIORITIES = ["None", "Low", "Medium", "High", "Urgent"];

/**
 * A status as people read it ("In progress").
 * @param {string} status
 */
export const statusLabel = (status) => STATUSES.find(([s]) => s === status)?.[1];

/** @type {Map<string, api.Member[]>} */
const membersCache = new Map();

/**
 * The members of a project (cached for the session of a view).
 * @param {string} projectId
 * @returns {Promise<api.Member[]>}
 */
export async function membersOf(projectId) {
  let members = membersCache.get(projectId);
  if (!members) {
    members = /** @type {api.Member[]} */ (await api.all(`/projects/${projectId}/members`));
    membersCache.set(projectId, members);
  }
  return members;
}

/** @param {string} projectId */
export function forgetMembers(projectId) {
  membersCache.delete(projectId);
}

/** @type {Map<string, Promise<api.WorkflowState[]>>} */
const statesCache = new Map();

/**
 * A project's workflow states in order (API.md §17), read once per project until forgotten.
 * @param {string} projectId
 * @returns {Promise<api.WorkflowState[]>}
 */
export function statesOf(projectId) {
  let states = statesCache.get(projectId);
  if (!states) {
    states = api.get(`/projects/${projectId}/states`).then((r) => /** @type {api.WorkflowState[]} */ (r.items));
    states.catch(() => statesCache.delete(projectId));
    statesCache.set(projectId, states);
  }
  return states;
}

/** @param {string} projectId its states changed */
export function forgetStates(projectId) {
  statesCache.delete(projectId);
}

/** How many tasks the command menu remembers for instant matching. */
const RECENT_LIMIT = 2000;
/** @type {Map<string, {id: string, project_id: string, number: number, title: string}>} */
const recent = new Map();

/**
 * Remembers tasks the views showed (their titles match in the command menu at once, even
 * half-typed; the server's search needs whole words). The oldest are forgotten first.
 * @param {api.Task[]} tasks
 */
export function rememberTasks(tasks) {
  for (const t of tasks) {
    recent.delete(t.id);
    recent.set(t.id, { id: t.id, project_id: t.project_id, number: t.number, title: t.title });
  }
  for (const id of recent.keys()) {
    if (recent.size <= RECENT_LIMIT) break;
    recent.delete(id);
  }
}

/** The remembered tasks, newest last. */
export const recentTasks = () => [...recent.values()];

/** @param {string} id a task that is gone */
export function forgetTask(id) {
  recent.delete(id);
}

/**
 * Whether a task passes a list's or the board's filters (the URL's `status`, `state`, `assignee`,
 * `label`, `priority_min`, `due_after`, `due_before`; `q` and the sort cannot be checked here).
 * Live updates use it to drop a changed task that no longer belongs.
 * @param {api.Task} t
 * @param {URLSearchParams} filters
 * @param {string} meId who `assignee=me` is
 */
export function matchesFilters(t, filters, meId) {
  const status = filters.get("status");
  if (status && !status.split(",").includes(t.status)) return false;
  const state = filters.get("state");
  if (state && !state.split(",").includes(t.state_id)) return false;
  const a = filters.get("assignee");
  if (a && (a === "me" ? t.assignee_id !== meId : a === "none" ? t.assignee_id !== null : t.assignee_id !== a)) return false;
  const label = filters.get("label");
  if (label && !t.labels.includes(label.toLowerCase())) return false;
  const min = filters.get("priority_min");
  if (min && t.priority < Number(min)) return false;
  const from = filters.get("due_after");
  if (from && (!t.due_date || t.due_date < from)) return false;
  const to = filters.get("due_before");
  if (to && (!t.due_date || t.due_date > to)) return false;
  return true;
}
