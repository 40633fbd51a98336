// Undo (UI.md: every mutation reversible). A change that was made shows a toast with Undo, and
// Ctrl/Cmd+Z does the newest one; undoing is an ordinary write with If-Match, so a task that
// someone changed meanwhile is not overwritten (the toast says so). Deleting cannot be written
// back, so it waits instead: the tasks leave the screen at once and the DELETEs go out when the
// toast ends (or the page is left, with `keepalive`); Undo before then cancels them, and nothing
// — number, comments, history — is lost.

import * as api from "../api.js";
import { announce, toast } from "../dom.js";

const UNDO_MS = 8000;

/** @type {(() => void) | null} the newest undo still on offer (Ctrl/Cmd+Z) */
let newest = null;
/** @type {Set<() => Promise<void>>} deletions waiting for their toast to end */
const waiting = new Set();

/**
 * Offers to undo a change that was made.
 * @param {string} message what happened ("#12 is done")
 * @param {() => Promise<string>} undo reverts it; resolves to what to announce
 * @returns {{dismiss: () => void}} the toast
 */
export function offerUndo(message, undo) {
  const run = () => {
    if (newest === run) newest = null;
    item.dismiss();
    undo().then((said) => announce(said, { visible: true }), (e) => announce(refusal(e), { error: true }));
  };
  const item = toast(message, false, { label: "Undo", run, ms: UNDO_MS });
  newest = run;
  setTimeout(() => { if (newest === run) newest = null; }, UNDO_MS);
  return item;
}

/** Ctrl/Cmd+Z: the newest undo on offer; false when there is none. */
export function undoNewest() {
  if (!newest) return false;
  newest();
  return true;
}

/**
 * Why an undo (or a write) was refused, in words.
 * @param {unknown} e
 */
export function refusal(e) {
  if (e instanceof api.ApiError && e.status === 412) return "Not undone: someone changed the task meanwhile.";
  if (e instanceof api.ApiError && e.status === 404) return "Not undone: the task was deleted.";
  return e instanceof Error ? e.message : String(e);
}

/**
 * Deletes tasks once the toast ends, unless undone. The caller has hidden them already.
 * @param {api.Task[]} tasks
 * @param {{message: string, restore: () => void, deleted: (failed: api.Task[], why: string) => void}} o
 *   `restore` shows them again (Undo); `deleted` reports the DELETEs that failed (to show again)
 */
export function deleteLater(tasks, o) {
  let done = false;
  const send = async (/** @type {boolean} */ leaving) => {
    if (done) return;
    done = true;
    waiting.delete(flush);
    const { failed, why } = await sendDeletes(tasks, leaving);
    o.deleted(failed, why);
  };
  const flush = () => send(true);
  waiting.add(flush);
  const run = () => {
    if (done) return;
    done = true;
    waiting.delete(flush);
    item.dismiss();
    o.restore();
    announce(tasks.length === 1 ? `#${tasks[0].number} is back.` : `${tasks.length} tasks are back.`, { visible: true });
  };
  const item = toast(o.message, false, { label: "Undo", run, ms: UNDO_MS });
  newest = run;
  setTimeout(() => {
    if (newest === run) newest = null;
    send(false);
  }, UNDO_MS);
}

/**
 * @param {api.Task[]} tasks
 * @param {boolean} leaving the page is going away
 */
async function sendDeletes(tasks, leaving) {
  /** @type {api.Task[]} */
  const failed = [];
  let why = "";
  await eachLimited(tasks, 4, async (t) => {
    try {
      await api.del(`/tasks/${t.id}`, { ifMatch: t.version, keepalive: leaving });
    } catch (e) {
      if (e instanceof api.ApiError && e.status === 404) return;
      failed.push(t);
      why = e instanceof api.ApiError && e.status === 412 ? "someone changed it meanwhile" : e instanceof Error ? e.message : String(e);
    }
  });
  return { failed, why };
}

/** Sends what is waiting now (sign-out, leaving the page). */
export async function flushDeletes() {
  await Promise.all([...waiting].map((flush) => flush()));
}

window.addEventListener("pagehide", flushDeletes);

/**
 * Runs `work` on every item, at most `limit` at a time (the UI stays responsive and the server
 * sees a handful of requests at once, not a burst).
 * @template T
 * @param {T[]} items
 * @param {number} limit
 * @param {(item: T, index: number) => Promise<void>} work
 */
export async function eachLimited(items, limit, work) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await work(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
