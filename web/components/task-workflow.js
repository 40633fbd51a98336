// The task panel's subtasks and relations (API.md §17). Subtasks: a list in the manual order
// with a box that ticks each done (an edit with If-Match), a grip to drag one to another place
// (a move between its neighbours), a field that adds one, and "done/total" in the heading.
// Relations: what blocks this task, what it blocks, related and duplicate tasks, each a link
// with a remove button; a new one is found by "#number" or words of its title in any project
// this person can see.

import * as api from "../api.js";
import { h, replace, announce, debounce } from "../dom.js";
import { statusLabel } from "../model.js";

/**
 * @typedef {{ctx: import("../model.js").Context, task: api.Task, canEdit: boolean, open: (id: string) => void}} Where
 *   `open`: shows another task in the panel
 */

/** @type {[api.RelationKind, string][]} how each kind reads, from this task's side */
const KINDS = [
  ["blocked_by", "Blocked by"],
  ["blocks", "Blocks"],
  ["relates_to", "Relates to"],
  ["duplicates", "Duplicates"],
  ["duplicated_by", "Duplicated by"],
];
const kindLabel = (/** @type {string} */ k) => KINDS.find(([v]) => v === k)?.[1] || k;

/**
 * The subtasks section; `reload` reads them again (a live event about one of them).
 * @param {Where} w
 */
export function subtaskSection(w) {
  const { ctx, task, canEdit } = w;
  /** @type {api.Task[]} */
  let items = [];
  const progress = h("span", { class: "progress", id: "subtask-progress" });
  const list = h("ol", { class: "subtasks", id: "subtasks", "aria-labelledby": "subtasks-heading" });
  const draw = () => {
    const counted = items.filter((t) => t.status !== "canceled");
    const done = counted.filter((t) => t.status === "done").length;
    progress.textContent = counted.length ? `${done}/${counted.length}` : "";
    progress.title = counted.length ? `${done} of ${counted.length} done` : "";
    replace(list, items.map((t) => subtaskItem(w, t, items, draw)));
  };
  const reload = async () => {
    try {
      /** @type {api.Page} */
      const page = await api.get(`/projects/${task.project_id}/tasks?parent=${task.id}&sort=position&limit=100`, { signal: ctx.signal });
      items = page.items;
      draw();
    } catch {
      // Unreachable for a moment: the next event or a reload shows them.
    }
  };
  const input = /** @type {HTMLInputElement} */ (h("input", { id: "new-subtask", maxlength: 200, autocomplete: "off", placeholder: "Add a subtask…", "aria-label": "New subtask" }));
  const error = h("p", { class: "field-error", id: "new-subtask-error" });
  const form = canEdit ? h("form", {
    class: "new-subtask",
    onsubmit: async (/** @type {Event} */ e) => {
      e.preventDefault();
      const title = input.value.trim();
      if (!title) return;
      try {
        const made = await api.post(`/projects/${task.project_id}/tasks`, { title, parent_id: task.id });
        items.push(made);
        draw();
        input.value = "";
        error.textContent = "";
        announce(`Added the subtask “${made.title}”.`);
      } catch (err) {
        error.textContent = err instanceof Error ? err.message : String(err);
      }
    },
  }, input, error) : null;
  input.addEventListener("keydown", (e) => {
    if (e.key === "Escape") input.blur();
  });
  reload();
  const section = h("section", { class: "subtask-section", "aria-labelledby": "subtasks-heading" },
    h("h3", { class: "small", id: "subtasks-heading" }, "Subtasks ", progress), list, form);
  return { section, reload, has: (/** @type {string} */ id) => items.some((t) => t.id === id) };
}

/**
 * One subtask: grip, box, link.
 * @param {Where} w
 * @param {api.Task} t
 * @param {api.Task[]} items all of them, in order (a tick or a move changes them)
 * @param {() => void} draw
 */
function subtaskItem(w, t, items, draw) {
  const done = t.status === "done";
  const box = /** @type {HTMLInputElement} */ (h("input", { type: "checkbox", class: "subtask-done", checked: done, disabled: !w.canEdit, "aria-label": `Done: ${t.title}` }));
  box.addEventListener("change", async () => {
    try {
      const saved = await api.patch(`/tasks/${t.id}`, { status: box.checked ? "done" : "todo" }, { ifMatch: t.version });
      const at = items.findIndex((x) => x.id === t.id);
      if (at >= 0) items.splice(at, 1, saved);
    } catch (e) {
      announce(`#${t.number} was not changed: ${e instanceof Error ? e.message : String(e)}`, { error: true });
    }
    draw();
  });
  const li = h("li", { class: done ? "subtask done" : "subtask", dataset: { id: t.id } },
    w.canEdit ? h("span", { class: "grip", "aria-hidden": "true", title: "Drag to reorder" }, "⠿") : null,
    box,
    h("a", { href: `?task=${t.id}`, class: "subtask-title", onclick: (/** @type {MouseEvent} */ e) => { e.preventDefault(); w.open(t.id); } },
      h("span", { class: "num" }, `#${t.number}`), " ", t.title));
  if (w.canEdit) li.firstElementChild?.addEventListener("pointerdown", (e) => dragSubtask(/** @type {PointerEvent} */ (e), li, t, items, draw));
  return li;
}

/**
 * Drags a subtask by its grip among the others; letting go moves it between its new neighbours.
 * @param {PointerEvent} e
 * @param {HTMLElement} li
 * @param {api.Task} t
 * @param {api.Task[]} items
 * @param {() => void} draw
 */
function dragSubtask(e, li, t, items, draw) {
  if (e.button !== 0) return;
  e.preventDefault();
  const list = /** @type {HTMLElement} */ (li.parentElement);
  // The document listens, not the grip: moving the item in the page would release a capture.
  li.classList.add("dragging");
  /** @param {PointerEvent} m */
  const move = (m) => {
    const others = /** @type {HTMLElement[]} */ ([...list.children]).filter((c) => c !== li);
    const before = others.find((c) => {
      const r = c.getBoundingClientRect();
      return m.clientY < r.top + r.height / 2;
    });
    list.insertBefore(li, before || null);
  };
  const up = async () => {
    document.removeEventListener("pointermove", move);
    document.removeEventListener("pointerup", up);
    document.removeEventListener("pointercancel", up);
    li.classList.remove("dragging");
    const order = /** @type {HTMLElement[]} */ ([...list.children]).map((c) => c.dataset.id);
    const at = order.indexOf(t.id);
    // Drawn again by a live update meanwhile: nothing to move.
    if (at < 0) return;
    if (at === items.findIndex((x) => x.id === t.id)) return;
    /** @type {Record<string, string>} */
    const body = {};
    if (at > 0) body.before_id = /** @type {string} */ (order[at - 1]);
    if (at < order.length - 1) body.after_id = /** @type {string} */ (order[at + 1]);
    try {
      const moved = await api.post(`/tasks/${t.id}/move`, body, { ifMatch: t.version });
      // By id: a live reload may have put fresh objects in `items` meanwhile.
      const was = items.findIndex((x) => x.id === t.id);
      if (was >= 0) items.splice(was, 1);
      items.splice(Math.min(at, items.length), 0, moved);
      announce(`Moved “${t.title}” to place ${at + 1} of ${items.length}.`);
    } catch (err) {
      announce(`The move was not saved. ${err instanceof Error ? err.message : String(err)}`, { error: true });
    }
    draw();
  };
  document.addEventListener("pointermove", move);
  document.addEventListener("pointerup", up);
  document.addEventListener("pointercancel", up);
}

/**
 * The relations section; `reload` reads them again.
 * @param {Where} w
 */
export function relationSection(w) {
  const { ctx, task, canEdit } = w;
  const list = h("ul", { class: "relations", id: "relations", "aria-labelledby": "relations-heading" });
  const reload = async () => {
    try {
      /** @type {{items: api.Relation[]}} */
      const r = await api.get(`/tasks/${task.id}/relations`, { signal: ctx.signal });
      replace(list, r.items.map((rel) => relationItem(w, rel, reload)));
    } catch {
      // Unreachable for a moment: the next event or a reload shows them.
    }
  };
  reload();
  const section = h("section", { class: "relation-section", "aria-labelledby": "relations-heading" },
    h("h3", { class: "small", id: "relations-heading" }, "Relations"), list, canEdit ? relationForm(w, reload) : null);
  return { section, reload };
}

/**
 * @param {Where} w
 * @param {api.Relation} rel
 * @param {() => void} reload
 */
function relationItem(w, rel, reload) {
  const other = rel.task;
  const closed = other.status === "done" || other.status === "canceled";
  return h("li", { class: `relation kind-${rel.kind}${closed ? " closed" : ""}`, dataset: { id: rel.id } },
    h("span", { class: "relation-kind" }, kindLabel(rel.kind)),
    h("a", { href: `?task=${other.id}`, onclick: (/** @type {MouseEvent} */ e) => { e.preventDefault(); w.open(other.id); } },
      h("span", { class: "num" }, `#${other.number}`), " ", other.title),
    h("span", { class: "muted small" }, statusLabel(other.status) || other.status),
    w.canEdit ? h("button", {
      type: "button", class: "icon", "aria-label": `Remove: ${kindLabel(rel.kind)} #${other.number}`,
      onclick: async () => {
        try {
          await api.del(`/tasks/${w.task.id}/relations/${rel.id}`);
          reload();
        } catch (e) {
          announce(e instanceof Error ? e.message : String(e), { error: true });
        }
      },
    }, "×") : null);
}

/**
 * The kind, and a search field whose matches (by "#number" or title, across projects) add it.
 * @param {Where} w
 * @param {() => void} reload
 */
function relationForm(w, reload) {
  const kind = /** @type {HTMLSelectElement} */ (h("select", { id: "relation-kind", "aria-label": "Kind of relation" }, KINDS.map(([v, t]) => h("option", { value: v }, t))));
  const input = /** @type {HTMLInputElement} */ (h("input", { id: "relation-search", autocomplete: "off", placeholder: "#number or title", "aria-label": "Task to relate", role: "combobox", "aria-expanded": "false", "aria-controls": "relation-matches" }));
  const matches = h("ul", { id: "relation-matches", class: "matches", role: "listbox", "aria-label": "Matching tasks" });
  const error = h("p", { class: "field-error", id: "relation-error" });
  const projects = new Map(w.ctx.state.projects.map((p) => [p.id, p.is_inbox ? "Inbox" : p.name]));
  let asked = 0;
  const search = debounce(async () => {
    const text = input.value.trim();
    const number = text.match(/^#?(\d+)$/);
    const query = number ? `number=${number[1]}` : `q=${encodeURIComponent(text)}`;
    const mine = ++asked;
    if (!text) {
      replace(matches);
      input.setAttribute("aria-expanded", "false");
      return;
    }
    try {
      // "#12" is a number in every project: this project's comes first.
      const [here, across] = await Promise.all([
        number ? api.get(`/projects/${w.task.project_id}/tasks?${query}`, { signal: w.ctx.signal }) : Promise.resolve({ items: [] }),
        api.get(`/tasks?${query}&limit=8`, { signal: w.ctx.signal }),
      ]);
      if (mine !== asked) return;
      /** @type {api.Task[]} */
      const all = [...here.items, ...across.items];
      const found = all.filter((t, i) => t.id !== w.task.id && all.findIndex((o) => o.id === t.id) === i).slice(0, 8);
      replace(matches, found.length ? found.map((t) => h("li", { role: "option", "aria-selected": "false" },
        h("button", { type: "button", class: "ghost match", onclick: () => relate(t) },
          h("span", { class: "num" }, `#${t.number}`), " ", t.title, " ", h("span", { class: "muted small" }, projects.get(t.project_id) || "")))) : h("li", { class: "muted small" }, "No task matches."));
      input.setAttribute("aria-expanded", "true");
    } catch {
      // A search that failed shows nothing; typing again asks again.
    }
  }, 200);
  /** @param {api.Task} t */
  const relate = async (t) => {
    try {
      await api.post(`/tasks/${w.task.id}/relations`, { kind: kind.value, task_id: t.id });
      input.value = "";
      replace(matches);
      input.setAttribute("aria-expanded", "false");
      error.textContent = "";
      announce(`${kindLabel(kind.value)} #${t.number} “${t.title}”.`);
      reload();
    } catch (e) {
      error.textContent = e instanceof Error ? e.message : String(e);
    }
  };
  input.addEventListener("input", search);
  input.addEventListener("keydown", (e) => {
    if (e.key === "Escape") input.blur();
  });
  return h("div", { class: "new-relation" }, h("div", { class: "relation-inputs" }, kind, input), matches, error);
}
