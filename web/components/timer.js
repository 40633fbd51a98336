// Time tracking in the client (API.md §19): the person's one running timer — a start/stop button
// on the task, a clock in the top bar while one runs (elapsed time, the task, stop) — and adding
// time by hand. The API has no "running timer" read, so the running entry is the newest of
// `GET /me/time` (the last 60 days) with `ended_at: null`.
//
// This module (and its styles, time.css) loads only when needed, to keep the first visit within
// its budget: when a task panel or the Time page opens, or at sign-in when this browser started
// a timer that may still run (the `docket-timer` hint, set while one runs). The shell's top bars
// draw their clock through `topTimer` (model.js), which this module fills in when it loads.

import * as api from "../api.js";
import { h, replace, announce, dialog } from "../dom.js";
import { topTimer } from "../model.js";

/** How far back the running timer is looked for. */
const LOOKBACK_DAYS = 60;
const HINT = "docket-timer";

/**
 * @typedef {{id: string, task_id: string, user: {id: string, name: string}, started_at: string, ended_at: string|null,
 *   minutes: number, note: string, created_at: string}} TimeEntry
 * @typedef {import("./task-dates.js").TimedTask} TimedTask
 * @typedef {{id: string, project_id: string, number: number, title: string}} TaskRef
 * @typedef {{running: TimeEntry | null, task: TaskRef | null, tick: number | undefined,
 *   listeners: Set<() => void>, generation: number, checked: Promise<void> | null}} TimerState
 */

/** @type {TimerState} */
const state = { running: null, task: null, tick: undefined, listeners: new Set(), generation: 0, checked: null };

/** The styles of the timer, the panel's dates and the Time page, added to the page once. */
export function useStyles() {
  if (document.getElementById("time-styles")) return;
  document.head.append(h("link", { id: "time-styles", rel: "stylesheet", href: new URL("../time.css", import.meta.url).href }));
}

useStyles();
topTimer.draw = drawTop;
topTimer.stop = stopTimers;

/** Looks for the running timer once (until sign-out). */
export function checkRunning() {
  if (!state.checked) state.checked = startTimers();
  return state.checked;
}

/**
 * Minutes as people read them: "45 min", "2 h", "1 h 20 min".
 * @param {number} minutes
 */
export function formatMinutes(minutes) {
  const m = Math.max(0, Math.round(minutes));
  if (m < 60) return `${m} min`;
  return m % 60 ? `${Math.floor(m / 60)} h ${m % 60} min` : `${m / 60} h`;
}

/**
 * Seconds since `since` as a clock: "0:05:09".
 * @param {string} since
 */
export function clock(since) {
  const s = Math.max(0, Math.floor((Date.now() - Date.parse(since)) / 1000));
  const pad = (/** @type {number} */ n) => String(n).padStart(2, "0");
  return `${Math.floor(s / 3600)}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}`;
}

/** The running entry and its task, or null. */
export const runningTimer = () => (state.running && state.task ? { entry: state.running, task: state.task } : null);

/** @param {() => void} fn called whenever the running timer changes; returns the unsubscribe */
export function onTimerChange(fn) {
  state.listeners.add(fn);
  return () => state.listeners.delete(fn);
}

/**
 * @param {TimeEntry | null} entry
 * @param {TaskRef | null} task
 */
function setRunning(entry, task) {
  if (entry) localStorage.setItem(HINT, "1");
  else localStorage.removeItem(HINT);
  if (!entry && !state.running) return;
  state.running = entry;
  state.task = entry ? task : null;
  clearInterval(state.tick);
  state.tick = undefined;
  if (entry) state.tick = window.setInterval(drawClocks, 1000);
  drawTops();
  for (const fn of state.listeners) fn();
}

/** Reads the running timer (if any) and draws the top bars' clock. */
async function startTimers() {
  const generation = ++state.generation;
  const since = new Date();
  since.setDate(since.getDate() - LOOKBACK_DAYS);
  try {
    /** @type {TimeEntry[]} */
    const entries = await api.all(`/me/time?from=${since.toISOString().slice(0, 10)}`);
    const open = entries.filter((e) => e.ended_at === null).sort((a, b) => Date.parse(b.started_at) - Date.parse(a.started_at))[0];
    if (generation !== state.generation) return;
    if (!open) return setRunning(null, null);
    const task = await api.get(`/tasks/${open.task_id}`);
    if (generation === state.generation) setRunning(open, task);
  } catch {
    // Unreachable or gone: the top bar shows no clock; starting a timer still works.
  }
}

/** At sign-out: forgets the timer (the hint stays: the next sign-in in this browser looks again). */
function stopTimers() {
  state.generation++;
  state.checked = null;
  state.listeners.clear();
  state.running = null;
  state.task = null;
  clearInterval(state.tick);
  drawTops();
}

/**
 * Starts the person's timer on a task (the server stops any other first).
 * @param {TaskRef} task
 */
export async function startTimer(task) {
  const entry = await api.post(`/tasks/${task.id}/timer`, {});
  setRunning(entry, { id: task.id, project_id: task.project_id, number: task.number, title: task.title });
  return entry;
}

/**
 * Stops the running timer (on `taskId`, or whichever runs).
 * @param {string} [taskId]
 * @returns {Promise<TimeEntry | null>}
 */
export async function stopTimer(taskId) {
  const id = taskId || state.running?.task_id;
  if (!id) return null;
  try {
    const entry = await api.del(`/tasks/${id}/timer`);
    if (state.running?.task_id === id) setRunning(null, null);
    return entry;
  } catch (e) {
    // 404: it was stopped elsewhere (another tab, the API); the clock goes either way.
    if (e instanceof api.ApiError && e.status === 404) {
      if (state.running?.task_id === id) setRunning(null, null);
      return null;
    }
    throw e;
  }
}

function drawClocks() {
  const r = state.running;
  if (!r) return;
  const text = clock(r.started_at);
  for (const el of document.querySelectorAll(".timer-elapsed")) el.textContent = text;
}

function drawTops() {
  for (const el of document.querySelectorAll(".top-timer")) drawTop(/** @type {HTMLElement} */ (el));
}

/** @param {HTMLElement} el */
function drawTop(el) {
  const r = runningTimer();
  el.id = "top-timer";
  el.hidden = !r;
  if (!r) return replace(el);
  const href = `/p/${r.task.project_id}?task=${r.task.id}`;
  // The task's name shows where the bar has room; the clock links to the task everywhere.
  replace(el,
    h("a", { href, class: "timer-link", title: `#${r.task.number} ${r.task.title}` },
      h("span", { class: "timer-dot", "aria-hidden": "true" }),
      h("span", { class: "timer-elapsed", id: "top-timer-elapsed", role: "timer" }, clock(r.entry.started_at)),
      h("span", { class: "timer-task", id: "top-timer-task" }, `#${r.task.number} ${r.task.title}`)),
    h("button", { type: "button", class: "small", id: "top-timer-stop", onclick: () => stopWithWords() }, "Stop"));
}

/** Stops the running timer from the top bar, saying what was recorded. */
async function stopWithWords() {
  try {
    const entry = await stopTimer();
    if (entry) announce(`Timer stopped: ${formatMinutes(entry.minutes)} recorded.`, { visible: true });
  } catch (e) {
    announce(e instanceof Error ? e.message : String(e), { error: true });
  }
}

/**
 * The task panel's time: the time spent, the start/stop button, "Add time".
 * @param {{task: TimedTask, canEdit: boolean, signal: AbortSignal}} o
 */
export function timeSection(o) {
  const { task, canEdit } = o;
  checkRunning();
  let spent = task.time_spent_minutes || 0;
  const total = h("span", { id: "task-time-spent" }, formatMinutes(spent));
  const toggle = /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: "small", id: "task-timer" }));
  const ref = { id: task.id, project_id: task.project_id, number: task.number, title: task.title };
  const draw = () => {
    const on = state.running?.task_id === task.id;
    toggle.textContent = on ? "Stop timer" : "Start timer";
    toggle.setAttribute("aria-pressed", String(on));
  };
  /** Reads the total again (the server keeps it on every entry's write). */
  const reread = async () => {
    try {
      /** @type {TimedTask} */
      const fresh = await api.get(`/tasks/${task.id}`, { signal: o.signal });
      spent = fresh.time_spent_minutes || 0;
      total.textContent = formatMinutes(spent);
    } catch {
      // Gone or unreachable: the panel says so elsewhere.
    }
  };
  toggle.addEventListener("click", async () => {
    toggle.disabled = true;
    try {
      if (state.running?.task_id === task.id) {
        const entry = await stopTimer(task.id);
        if (entry) announce(`Timer stopped: ${formatMinutes(entry.minutes)} recorded.`, { visible: true });
        await reread();
      } else {
        await startTimer(ref);
      }
    } catch (e) {
      announce(e instanceof Error ? e.message : String(e), { error: true });
    } finally {
      toggle.disabled = false;
      draw();
    }
  });
  const add = h("button", { type: "button", class: "small ghost", id: "task-add-time", onclick: async () => {
    if (await addTimeDialog(task)) await reread();
  } }, "Add time");
  const off = onTimerChange(() => {
    draw();
    reread();
  });
  o.signal.addEventListener("abort", () => off());
  draw();
  return h("div", { class: "prop task-time" }, h("span", { class: "prop-label" }, "Time"),
    h("div", { class: "with-glyph" }, total, canEdit ? toggle : null, canEdit ? add : null));
}

/**
 * Adds time by hand: minutes (or "1h 30m"), an optional start and note.
 * @param {TimedTask} task
 * @returns {Promise<TimeEntry | null>}
 */
function addTimeDialog(task) {
  return dialog(`Add time to #${task.number}`, (close) => {
    const minutes = /** @type {HTMLInputElement} */ (h("input", { id: "add-time-minutes", required: true, autocomplete: "off", placeholder: "45, 1h 30m", "aria-describedby": "add-time-minutes-error" }));
    const when = /** @type {HTMLInputElement} */ (h("input", { id: "add-time-started", type: "datetime-local" }));
    const note = /** @type {HTMLInputElement} */ (h("input", { id: "add-time-note", maxlength: 1000, autocomplete: "off" }));
    const error = h("p", { class: "field-error", id: "add-time-minutes-error" });
    const form = h("form", {
      onsubmit: async (/** @type {Event} */ e) => {
        e.preventDefault();
        error.textContent = "";
        const m = parseDuration(minutes.value);
        if (m === null) {
          error.textContent = "Write minutes (45) or hours and minutes (1h 30m).";
          return;
        }
        /** @type {Record<string, any>} */
        const body = { minutes: m };
        if (when.value) body.started_at = new Date(when.value).toISOString();
        if (note.value.trim()) body.note = note.value.trim();
        try {
          const entry = await api.post(`/tasks/${task.id}/time`, body);
          announce(`Added ${formatMinutes(entry.minutes)}.`, { visible: true });
          close(entry);
        } catch (err) {
          error.textContent = err instanceof api.ApiError ? err.fieldMessage("minutes") || err.message : String(err);
        }
      },
    },
    h("label", { for: "add-time-minutes" }, "Time spent"), minutes, error,
    h("label", { for: "add-time-started" }, "Started (optional)"), when,
    h("label", { for: "add-time-note" }, "Note (optional)"), note,
    h("div", { class: "actions" },
      h("button", { type: "button", onclick: () => close(null) }, "Cancel"),
      h("button", { type: "submit", class: "primary", id: "add-time-save" }, "Add")));
    setTimeout(() => minutes.focus());
    return [form];
  });
}

/**
 * "45", "45m", "1h", "1h 30m", "1:30" → minutes; null when it is none of those.
 * @param {string} text
 */
export function parseDuration(text) {
  const t = text.trim().toLowerCase();
  let m = t.match(/^(\d{1,5})\s*(m|min|mins|minutes)?$/);
  if (m) return Number(m[1]) || null;
  m = t.match(/^(\d{1,3}):([0-5]\d)$/);
  if (m) return Number(m[1]) * 60 + Number(m[2]) || null;
  m = t.match(/^(?:(\d{1,3}(?:\.\d+)?)\s*h(?:ours?|rs?)?)?\s*(?:(\d{1,4})\s*m(?:in(?:utes?|s)?)?)?$/);
  if (m && (m[1] || m[2])) return Math.round(Number(m[1] || 0) * 60) + Number(m[2] || 0) || null;
  return null;
}
