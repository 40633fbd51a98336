// The Time page (`/time`, API.md §19): the time entries of the person (`GET /me/time`) or of one
// project (`GET /projects/{id}/time`, everyone's), over a date range, with the total of every
// matching entry (the server's, not a sum of the page) and a CSV download of the same. The URL
// holds the range and the project, so a report can be bookmarked.

import * as api from "../api.js";
import { h, replace, announce, localDate } from "../dom.js";
import { formatMinutes, onTimerChange, checkRunning } from "../components/timer.js";

/** @typedef {{id: string, project_id: string, number: number, title: string}} TaskRef */

/**
 * @param {import("../model.js").Context} ctx
 * @param {HTMLElement} content
 */
export async function renderTime(ctx, content) {
  const q = ctx.query;
  const today = new Date();
  const monthAgo = new Date();
  monthAgo.setDate(monthAgo.getDate() - 30);
  const from = q.get("from") || localDate(monthAgo);
  const to = q.get("to") || localDate(today);
  const projectId = q.get("project") || "";
  const fromInput = /** @type {HTMLInputElement} */ (h("input", { id: "time-from", type: "date", value: from }));
  const toInput = /** @type {HTMLInputElement} */ (h("input", { id: "time-to", type: "date", value: to }));
  const scope = /** @type {HTMLSelectElement} */ (h("select", { id: "time-project" },
    h("option", { value: "" }, "My time, all projects"),
    ctx.state.projects.map((p) => h("option", { value: p.id, selected: p.id === projectId }, `${p.is_inbox ? "Inbox" : p.name} (everyone)`))));
  const apply = () => ctx.setQuery({ from: fromInput.value || null, to: toInput.value || null, project: scope.value || null });
  for (const el of [fromInput, toInput, scope]) el.addEventListener("change", apply);

  const base = projectId ? `/projects/${projectId}/time` : "/me/time";
  const params = new URLSearchParams();
  if (from) params.set("from", from);
  if (to) params.set("to", to);
  const csvParams = new URLSearchParams(params);
  csvParams.set("format", "csv");
  const total = h("p", { class: "time-total", id: "time-total", "aria-live": "polite" }, "…");
  const body = h("tbody", { id: "time-entries" });
  const more = h("div", { class: "list-foot" });
  replace(content, h("div", { class: "time-page" },
    h("form", { class: "time-filters", "aria-label": "Report", onsubmit: (/** @type {Event} */ e) => { e.preventDefault(); apply(); } },
      h("div", { class: "field" }, h("label", { for: "time-from" }, "From"), fromInput),
      h("div", { class: "field" }, h("label", { for: "time-to" }, "To"), toInput),
      h("div", { class: "field" }, h("label", { for: "time-project" }, "Whose"), scope),
      h("a", { class: "button", id: "time-csv", href: `/api/v1${base}?${csvParams}`, download: `time-${from}-${to}.csv` }, "Download CSV")),
    total,
    h("table", { class: "time-table" },
      h("caption", { class: "sr-only" }, "Time entries"),
      h("thead", null, h("tr", null, ["Started", "Task", "Person", "Note", "Time"].map((t) => h("th", { scope: "col" }, t)))),
      body),
    more));

  /** @type {Map<string, Promise<TaskRef | null>>} each task read once for its title */
  const tasks = new Map();
  /** @param {string} id */
  const taskOf = (id) => {
    let t = tasks.get(id);
    if (!t) {
      t = api.get(`/tasks/${id}`, { signal: ctx.signal }).catch(() => null);
      tasks.set(id, t);
    }
    return t;
  };

  // Each reading from the top replaces the one before; a slower earlier one is dropped.
  let generation = 0;
  /** @param {string | null} cursor */
  const load = async (cursor, g = generation) => {
    const page = await api.get(`${base}?${params}&limit=50${cursor ? "&cursor=" + encodeURIComponent(cursor) : ""}`, { signal: ctx.signal });
    /** @type {import("../components/timer.js").TimeEntry[]} */
    const items = page.items;
    const refs = await Promise.all(items.map((e) => taskOf(e.task_id)));
    if (g !== generation) return;
    total.textContent = `Total: ${formatMinutes(page.total_minutes)}`;
    if (!cursor && !items.length) body.append(h("tr", null, h("td", { colspan: 5, class: "muted" }, "No time recorded in these dates. Start a timer on a task, or add time by hand.")));
    items.forEach((e, i) => body.append(entryRow(e, refs[i])));
    replace(more, page.next_cursor ? h("button", { type: "button", id: "time-more", onclick: () => load(page.next_cursor).catch(failed) }, "Show more") : []);
  };
  const failed = (/** @type {unknown} */ e) => {
    if (!(e instanceof DOMException && e.name === "AbortError")) announce(e instanceof Error ? e.message : String(e), { error: true });
  };
  // A timer started or stopped elsewhere on the page: read the report again.
  const off = onTimerChange(() => {
    generation++;
    replace(body);
    load(null).catch(failed);
  });
  ctx.signal.addEventListener("abort", () => off());
  checkRunning();
  await load(null);
}

/**
 * @param {import("../components/timer.js").TimeEntry} e
 * @param {TaskRef | null} task
 */
function entryRow(e, task) {
  const started = new Date(e.started_at);
  return h("tr", { class: "time-entry", "data-id": e.id },
    h("td", null, started.toLocaleString(undefined, { month: "short", day: "numeric", hour: "numeric", minute: "2-digit" })),
    h("td", null, task ? h("a", { href: `/p/${task.project_id}?task=${task.id}` }, `#${task.number} ${task.title}`) : h("span", { class: "muted" }, "a task you cannot see")),
    h("td", null, e.user.name),
    h("td", null, e.note),
    h("td", { class: "num" }, e.ended_at === null ? h("span", { class: "running" }, "running") : formatMinutes(e.minutes)));
}
