// Upcoming as a week (`/upcoming/week`, issue 21): seven days as columns (sections on a phone),
// each with the open tasks due that day across the person's projects, by due time; the week in
// the URL (`?from=YYYY-MM-DD`, today when absent), with the previous and next weeks a click away.
// A task opens in its project's list with its panel. Loaded with `import()` when first shown.

import * as api from "../api.js";
import { h, replace, localDate } from "../dom.js";
import { rememberTasks } from "../model.js";
import { useStyles } from "../components/timer.js";

/** At most this many tasks are read for one week (pages of 100). */
const WEEK_LIMIT = 500;

/**
 * @param {string} date YYYY-MM-DD
 * @param {number} days
 */
function shift(date, days) {
  const d = new Date(date + "T12:00:00");
  d.setDate(d.getDate() + days);
  return localDate(d);
}

/**
 * @param {import("../model.js").Context} ctx
 * @param {HTMLElement} content
 */
export async function renderWeek(ctx, content) {
  useStyles();
  const today = localDate(new Date());
  const asked = ctx.query.get("from");
  const from = asked && /^\d{4}-\d{2}-\d{2}$/.test(asked) && !Number.isNaN(Date.parse(asked)) ? asked : today;
  const to = shift(from, 6);
  const days = Array.from({ length: 7 }, (_, i) => shift(from, i));
  /** @type {(import("../components/task-dates.js").TimedTask)[]} */
  const tasks = [];
  let cursor = null;
  do {
    const params = new URLSearchParams({ due_after: from, due_before: to, status: "todo,in_progress", sort: "due_date", limit: "100" });
    if (cursor) params.set("cursor", cursor);
    /** @type {api.Page} */
    const page = await api.get(`/tasks?${params}`, { signal: ctx.signal });
    tasks.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && tasks.length < WEEK_LIMIT);
  rememberTasks(tasks);
  const projects = new Map(ctx.state.projects.map((p) => [p.id, p.is_inbox ? "Inbox" : p.name]));
  const label = (/** @type {string} */ d) => new Date(d + "T12:00:00").toLocaleDateString(undefined, { weekday: "short", month: "short", day: "numeric" });
  const go = (/** @type {string | null} */ start) => ctx.setQuery({ from: start });
  replace(content, h("div", { class: "week-page" },
    h("nav", { class: "week-nav", "aria-label": "Weeks" },
      h("button", { type: "button", id: "week-previous", onclick: () => go(shift(from, -7)) }, "← Previous week"),
      h("button", { type: "button", id: "week-today", disabled: from === today, onclick: () => go(null) }, "From today"),
      h("button", { type: "button", id: "week-next", onclick: () => go(shift(from, 7)) }, "Next week →"),
      h("span", { class: "muted small", id: "week-range" }, `${label(from)} – ${label(to)}`)),
    h("div", { class: "week", id: "week" }, days.map((day) => {
      const due = tasks.filter((t) => t.due_date === day).sort((a, b) => (a.due_time || "99").localeCompare(b.due_time || "99"));
      return h("section", { class: day === today ? "week-day today" : "week-day", "data-date": day, "aria-labelledby": `day-${day}` },
        h("h2", { id: `day-${day}`, class: "week-day-head" }, day === today ? `Today · ${label(day)}` : label(day), h("span", { class: "count" }, String(due.length))),
        due.length
          ? h("ul", { class: "week-tasks" }, due.map((t) => h("li", { class: "week-task", "data-id": t.id },
            h("a", { href: `/p/${t.project_id}?task=${t.id}` },
              t.due_time ? h("span", { class: "week-time" }, t.due_time) : null,
              h("span", { class: "week-title" }, t.title)),
            h("span", { class: "muted small" }, `${projects.get(t.project_id) || ""} #${t.number}`, t.recurrence ? " · repeats" : ""))))
          : h("p", { class: "muted small week-empty" }, "Nothing due"));
    })),
    tasks.length >= WEEK_LIMIT ? h("p", { class: "notice" }, `Showing the first ${WEEK_LIMIT} tasks of this week.`) : null));
}
