// Above a list's rows: how many tasks it holds, exactly (the count endpoint, not the pages
// loaded), and the "Show done" toggle, kept in the URL (`done=show`): lists hide done and
// canceled tasks unless asked, or unless the status filter names them.

import * as api from "../../api.js";
import { h, debounce } from "../../dom.js";
import { FILTERS } from "./toolbar.js";
import { fieldFilters } from "./fields.js";

/** @param {number} n */
const number = (n) => n.toLocaleString();

/**
 * @param {import("./rows.js").TaskList} l
 * @param {boolean} showDone
 * @returns {{el: HTMLElement | null, refresh: (now?: boolean) => void}}
 */
export function listSummary(l, showDone) {
  const { ctx, kind, project } = l;
  const explicit = ctx.query.has("status");
  if (kind === "upcoming" || (explicit && kind !== "project")) return { el: null, refresh: () => {} };
  const count = h("span", { class: "list-count", id: "list-count" });
  const toggle = explicit ? null : h("button", {
    type: "button", class: "ghost small", id: "show-done", "aria-pressed": showDone ? "true" : "false",
    onclick: () => ctx.setQuery({ done: showDone ? null : "show", task: null }),
  }, "Show done");
  const el = h("div", { class: "list-summary", "aria-live": "polite" }, count, toggle);
  if (kind !== "project" || !project) return { el, refresh: () => {} };
  let asked = 0;
  const read = async () => {
    const mine = ++asked;
    // The list's own filters, without the hiding of done tasks: the toggle says how many hide.
    const query = new URLSearchParams();
    for (const key of FILTERS) if (key !== "sort" && ctx.query.get(key)) query.set(key, /** @type {string} */ (ctx.query.get(key)));
    for (const [key, value] of fieldFilters(ctx.query)) query.set(key, value);
    try {
      /** @type {{total: number, groups: {key: string, count: number}[]}} */
      const counts = await api.get(`/projects/${project.id}/tasks/counts?${query}`, { signal: ctx.signal });
      // An answer overtaken by a later question is not shown over it.
      if (mine !== asked) return;
      const of = (/** @type {string} */ key) => counts.groups.find((g) => g.key === key)?.count || 0;
      const closed = of("done") + of("canceled");
      count.textContent = explicit || showDone ? `${number(counts.total)} ${counts.total === 1 ? "task" : "tasks"}` : `${number(counts.total - closed)} open`;
      count.dataset.total = String(counts.total);
      if (toggle) toggle.textContent = `Show done (${number(closed)})`;
      // Nothing open, but done tasks hidden: say so rather than "add your first task".
      if (!showDone && !explicit && closed && counts.total === closed && l.empty.dataset.said !== "done") {
        l.empty.dataset.said = "done";
        l.empty.textContent = `Nothing open: all ${number(closed)} ${closed === 1 ? "task is" : "tasks are"} done or canceled. Show them with “Show done”.`;
      }
    } catch {
      // The count is a courtesy: the rows are the list.
    }
  };
  // This person's own changes are counted at once; live events are batched.
  const later = debounce(read, 250);
  const refresh = (/** @type {boolean | undefined} */ now) => {
    if (!now) return later();
    later.flush();
    read();
  };
  read();
  return { el, refresh };
}
