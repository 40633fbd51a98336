// Live updates (API.md §11): one EventSource per project view on GET /api/v1/events, opened
// after the view has read the newest activity id and closed with the view. The stream starts
// right after that id (`?after=`), so a change committed while the view was loading is
// replayed rather than missed; a replayed change the view already shows is ignored by the view
// (it compares versions). EventSource resumes with Last-Event-ID by itself after a dropped
// connection; an `event: reset` (too far behind) makes the view reload.

import * as api from "./api.js";

export const KINDS = [
  "task.created", "task.updated", "task.moved", "task.deleted",
  "comment.created", "comment.updated", "comment.deleted",
  "member.added", "member.updated", "member.removed",
  "project.updated", "github.synced",
];

/** Listeners for every entry of every open stream (the notification bell). */
export const everyEntry = new Set();

/**
 * The id of the newest activity entry of a project (0 when it has none, null when unknown).
 * @param {string} projectId
 * @param {AbortSignal} [signal]
 * @returns {Promise<number | null>}
 */
export async function newestEntryId(projectId, signal) {
  try {
    /** @type {api.Page} */
    const page = await api.get(`/projects/${projectId}/activity?limit=1`, { signal });
    return page.items.length ? Number(page.items[0].id) : 0;
  } catch (e) {
    if (e instanceof DOMException && e.name === "AbortError") throw e;
    return null;
  }
}

/**
 * Subscribes to a project's entries until `signal` aborts.
 * @param {string} projectId
 * @param {number | null} after the newest entry the view already reflects
 * @param {{onEntry: (entry: api.Entry) => void, onReset: () => void, signal: AbortSignal}} o
 */
export function subscribe(projectId, after, o) {
  if (typeof EventSource === "undefined" || o.signal.aborted) return;
  /** @type {EventSource | null} */
  let source = null;
  /** @type {number | null} */
  let last = after;
  /** @type {number | undefined} */
  let retry;
  let failures = 0;
  const open = () => {
    const query = new URLSearchParams({ project_id: projectId });
    if (last !== null) query.set("after", String(last));
    const es = new EventSource(`/api/v1/events?${query}`);
    source = es;
    es.onopen = () => {
      failures = 0;
      document.body.dataset.live = "open";
    };
    es.onerror = () => {
      // A dropped connection reconnects by itself (readyState CONNECTING); a refused one
      // (401, 404, 503…) is closed for good: try again later, from the last entry seen.
      if (es.readyState === EventSource.CLOSED && !o.signal.aborted) {
        delete document.body.dataset.live;
        failures += 1;
        retry = window.setTimeout(open, Math.min(30_000, 1000 * 2 ** failures));
      }
    };
    const onEvent = (/** @type {MessageEvent} */ ev) => {
      /** @type {api.Entry} */
      let entry;
      try {
        entry = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (typeof entry.id === "number") last = entry.id;
      o.onEntry(entry);
      for (const listener of everyEntry) listener(entry);
    };
    for (const kind of KINDS) es.addEventListener(kind, onEvent);
    es.addEventListener("reset", () => {
      es.close();
      last = null;
      o.onReset();
      // The view reloads (and opens a fresh stream) unless it may not, e.g. with unsaved input.
      if (!o.signal.aborted) open();
    });
  };
  open();
  o.signal.addEventListener("abort", () => {
    clearTimeout(retry);
    source?.close();
    delete document.body.dataset.live;
  });
}
