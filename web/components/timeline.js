// A paged timeline of a task's or a project's history, newest first, in sentences
// (sentences.js); `reload` brings in what live updates announce.

import * as api from "../api.js";
import { h, replace } from "../dom.js";
import { membersOf } from "../model.js";
import { group, item } from "./sentences.js";

/** @typedef {import("./sentences.js").Lookup} Lookup */

/**
 * A paged timeline under `host`, newest first. Returns `reload`, for live updates.
 * @param {HTMLElement} host
 * @param {{path: string, projectId: string, onTask: boolean, signal: AbortSignal, label: string}} o
 */
export function timeline(host, o) {
  /** @type {Lookup} */
  const lookup = { names: new Map(), tasks: new Map(), projectId: o.projectId, onTask: o.onTask };
  /** @type {api.Entry[]} */
  let entries = [];
  /** @type {string | null} */
  let cursor = null;
  const list = h("ol", { class: "timeline", "aria-label": o.label });
  const more = /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: "ghost small load-more", hidden: true, onclick: () => load(false) }, "Show older"));
  const empty = h("p", { class: "muted", hidden: true }, "Nothing has happened here yet.");
  replace(host, list, empty, more);

  const draw = () => {
    replace(list, group(entries).map((g) => item(g, lookup)));
    empty.hidden = entries.length > 0;
    more.hidden = cursor === null;
    host.dataset.count = String(entries.length);
  };

  /** Task numbers and titles for the project timeline (a deleted task has none). */
  async function resolveTasks(/** @type {api.Entry[]} */ page) {
    if (o.onTask) return;
    const ids = [...new Set(page.map((e) => e.task_id).filter((id) => id && !lookup.tasks.has(id)))];
    const queue = /** @type {string[]} */ (ids);
    const worker = async () => {
      for (let id = queue.shift(); id; id = queue.shift()) {
        try {
          const t = await api.get(`/tasks/${id}`, { signal: o.signal });
          lookup.tasks.set(id, t.project_id === o.projectId ? { number: t.number, title: t.title } : null);
        } catch (e) {
          if (e instanceof DOMException && e.name === "AbortError") throw e;
          lookup.tasks.set(id, null);
        }
      }
    };
    await Promise.all([1, 2, 3, 4].map(worker));
  }

  /** @param {boolean} fresh */
  async function load(fresh) {
    const query = new URLSearchParams({ limit: "50" });
    if (!fresh && cursor) query.set("cursor", cursor);
    /** @type {api.Page} */
    const page = await api.get(`${o.path}?${query}`, { signal: o.signal });
    await resolveTasks(page.items);
    if (fresh) {
      entries = page.items;
    } else {
      entries = entries.concat(page.items);
    }
    cursor = page.next_cursor;
    draw();
  }

  const ready = (async () => {
    const members = await membersOf(o.projectId).catch(() => []);
    for (const m of members) lookup.names.set(m.user.id, m.user.name);
    await load(true);
  })();
  return {
    ready,
    /** Reloads the first page (live updates): older pages already shown stay. */
    async reload() {
      const query = new URLSearchParams({ limit: "50" });
      /** @type {api.Page} */
      const page = await api.get(`${o.path}?${query}`, { signal: o.signal });
      await resolveTasks(page.items);
      const known = new Set(page.items.map((e) => e.id));
      const oldest = page.items.length ? page.items[page.items.length - 1].id : Infinity;
      entries = page.items.concat(entries.filter((e) => !known.has(e.id) && e.id < oldest));
      if (!page.next_cursor && entries.length === page.items.length) cursor = null;
      draw();
    },
    /** @param {string} id */
    forgetTask(id) {
      lookup.tasks.delete(id);
    },
  };
}
