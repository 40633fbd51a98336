// Live updates (API.md §11): one EventSource per signed-in tab on GET /api/v1/events, carrying
// the entries of every project the person is a member of; opened at sign-in (`start`), closed at
// sign-out (`stop`). Views listen to their project's entries with `follow`, registered *before*
// they read what they show, and they read only once the stream is open (`ready`): a change
// committed after that is delivered, one committed before is in what they read, so nothing is
// missed between the two. Entries the view already reflects are harmless (it compares
// versions). EventSource resumes with Last-Event-ID by itself after a dropped connection; an
// `event: reset` (too far behind), or a stream opened again with no entry to resume from,
// makes the followers reload. So does a burst (an import, a state deleted with its tasks moved):
// more than BURST entries for a follower within one delivery window are not read one by one —
// thousands of reads at once exhaust the browser — but replaced by one reload once the stream
// has been quiet for QUIET_MS.

import * as api from "./api.js";

export const KINDS = [
  "task.created", "task.updated", "task.moved", "task.deleted", "task.related", "task.unrelated",
  "comment.created", "comment.updated", "comment.deleted",
  "member.added", "member.updated", "member.removed",
  "project.updated", "github.synced",
];

/**
 * @typedef {{onEntry: (entry: api.Entry) => void, onReset?: () => void}} Follower
 * @typedef {{projectId: string | null, f: Follower, queue: api.Entry[], floodedSince: number | null, quiet: number | undefined}} Following
 */

/** Entries gathered for this long are handed to the followers together. */
const WINDOW_MS = 40;
/** More entries than this for one follower in one window make it reload once instead. */
const BURST = 50;
/** A flooded follower reloads once no entry has come for this long (or after MAX_FLOOD_MS). */
const QUIET_MS = 400;
const MAX_FLOOD_MS = 5000;

/** Listeners for every entry of every project (the bell, the sidebar). */
export const everyEntry = new Set();

/** @type {Set<Following>} */
const followers = new Set();
/** @type {number | undefined} */
let flushing;

/** @type {{source: EventSource | null, last: number | null, retry: number | undefined, failures: number, open: boolean, waiting: (() => void)[], gap: boolean}} */
const stream = { source: null, last: null, retry: undefined, failures: 0, open: false, waiting: [], gap: false };

/** Opens the stream (after sign-in); a second call keeps the one open. */
export function start() {
  if (stream.source || typeof EventSource === "undefined") return;
  connect();
}

/** Closes the stream (sign-out). */
export function stop() {
  clearTimeout(stream.retry);
  stream.source?.close();
  stream.source = null;
  stream.last = null;
  stream.failures = 0;
  setOpen(false);
  settle();
}

/**
 * Resolves once the stream is open, or has failed (the view then works without live updates),
 * or after a second at most: what a view reads after this, plus what the stream brings, is
 * complete.
 * @returns {Promise<void>}
 */
export function ready() {
  if (stream.open || !stream.source) return Promise.resolve();
  return new Promise((resolve) => {
    stream.waiting.push(resolve);
    setTimeout(resolve, 1000);
  });
}

/**
 * Calls `f` with the entries of `projectId` (every project when null) until `signal` aborts.
 * @param {string | null} projectId
 * @param {Follower} f
 * @param {AbortSignal} signal
 */
export function follow(projectId, f, signal) {
  if (signal.aborted) return;
  /** @type {Following} */
  const following = { projectId, f, queue: [], floodedSince: null, quiet: undefined };
  followers.add(following);
  signal.addEventListener("abort", () => {
    clearTimeout(following.quiet);
    followers.delete(following);
  });
}

/** Hands each follower what the window gathered: one by one, or one reload for a burst. */
function flush() {
  flushing = undefined;
  for (const following of [...followers]) {
    const entries = following.queue;
    following.queue = [];
    if (entries.length === 0) continue;
    const { f } = following;
    if (f.onReset && (following.floodedSince !== null || entries.length > BURST)) {
      flood(following);
      continue;
    }
    for (const entry of entries) f.onEntry(entry);
  }
}

/** @param {Following} following */
function flood(following) {
  following.floodedSince ??= Date.now();
  clearTimeout(following.quiet);
  // One reload once the burst is over; a burst that never ends still reloads every MAX_FLOOD_MS.
  const overdue = Date.now() - following.floodedSince >= MAX_FLOOD_MS;
  following.quiet = window.setTimeout(() => {
    following.floodedSince = null;
    following.quiet = undefined;
    if (followers.has(following)) following.f.onReset?.();
  }, overdue ? 0 : QUIET_MS);
}

function settle() {
  const waiting = stream.waiting;
  stream.waiting = [];
  for (const resolve of waiting) resolve();
}

/** @param {boolean} open */
function setOpen(open) {
  stream.open = open;
  if (open) document.body.dataset.live = "open";
  else delete document.body.dataset.live;
}

function connect() {
  const query = stream.last !== null ? `?after=${stream.last}` : "";
  const es = new EventSource(`/api/v1/events${query}`);
  stream.source = es;
  es.onopen = () => {
    stream.failures = 0;
    setOpen(true);
    settle();
    // Opened again with nothing to resume from: what happened meanwhile is unknown.
    if (stream.gap) {
      stream.gap = false;
      for (const { f } of [...followers]) f.onReset?.();
    }
  };
  es.onerror = () => {
    // A dropped connection reconnects by itself (readyState CONNECTING, with Last-Event-ID);
    // a refused one (401, 503…) is closed for good: try again later, from the last entry seen.
    if (es.readyState !== EventSource.CLOSED || stream.source !== es) return;
    setOpen(false);
    settle();
    stream.failures += 1;
    if (stream.last === null) stream.gap = true;
    stream.retry = window.setTimeout(connect, Math.min(30_000, 1000 * 2 ** stream.failures));
  };
  const onEvent = (/** @type {MessageEvent} */ ev) => {
    /** @type {api.Entry} */
    let entry;
    try {
      entry = JSON.parse(ev.data);
    } catch {
      return;
    }
    if (typeof entry.id === "number") stream.last = entry.id;
    for (const following of followers) {
      if (following.projectId === null || following.projectId === entry.project_id) following.queue.push(entry);
    }
    flushing ??= window.setTimeout(flush, WINDOW_MS);
    for (const listener of [...everyEntry]) listener(entry);
  };
  for (const kind of KINDS) es.addEventListener(kind, onEvent);
  es.addEventListener("reset", () => {
    // The stream ends after a reset: open a fresh one from the current end, and reload.
    es.close();
    stream.last = null;
    for (const { f } of [...followers]) f.onReset?.();
    connect();
  });
}
