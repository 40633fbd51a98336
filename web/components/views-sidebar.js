// Saved views (API.md §18) in the sidebar, and saving one: the current project's shared views
// under it, the person's own under "My views" (every project's, and those over all projects);
// a view is a link to the list or board with its query in the URL, so it opens like any link and
// a copied link reproduces it. "Save view" stores the URL's query as it is (the open task left
// out); rename and delete are in each view's menu (its owner's, or a project admin's for a
// shared one). What the sidebar shows is read at most once a minute, and again at once after
// this person's own change.

import * as api from "../api.js";
import { h, replace, announce, dialog, confirmDialog } from "../dom.js";
import { state } from "../model.js";

/** @typedef {import("../fields.js").SavedView} SavedView */

/** How long the sidebar trusts what it read (others' shared views appear within this). */
const FRESH_MS = 60_000;
/** @type {Map<string, {at: number, items: Promise<SavedView[]>}>} path → its views */
const cache = new Map();
/** @type {Map<HTMLElement, () => void>} the sidebar's lists, to draw again after a change */
const shown = new Map();

/**
 * @param {string} path `/me/views` or `/projects/<id>/views`
 * @returns {Promise<SavedView[]>}
 */
function read(path) {
  const hit = cache.get(path);
  if (hit && Date.now() - hit.at < FRESH_MS) return hit.items;
  const items = api.get(path).then((r) => /** @type {SavedView[]} */ (r.items));
  items.catch(() => cache.delete(path));
  cache.set(path, { at: Date.now(), items });
  return items;
}

/** This person changed a view: read again and draw again. */
function changed() {
  cache.clear();
  for (const [list, draw] of shown) {
    if (list.isConnected) draw();
    else shown.delete(list);
  }
}

/**
 * Where a view opens: its project's list or board, or "My tasks" for one over all projects.
 * @param {SavedView} v
 */
export function viewUrl(v) {
  const query = new URLSearchParams(v.query);
  query.sort();
  const path = v.project_id ? `/p/${v.project_id}${v.kind === "board" ? "/board" : ""}` : "/my";
  return query.toString() ? `${path}?${query}` : path;
}

/** The URL on screen without its open task, as `viewUrl` writes it. */
function here() {
  const query = new URLSearchParams(location.search);
  query.delete("task");
  query.sort();
  return query.toString() ? `${location.pathname}?${query}` : location.pathname;
}

/**
 * A list of views, filled when they arrive (and again after a change).
 * @param {string} path
 * @param {(v: SavedView) => boolean} keep
 * @param {string} label
 * @param {string} [none] what an empty list says (nothing when absent)
 */
function viewList(path, keep, label, none) {
  const list = h("ul", { class: "nav view-list", "aria-label": label });
  const draw = () => {
    read(path).then((items) => {
      list.dataset.drawn = "1";
      const kept = items.filter(keep);
      replace(list, kept.length || !none ? kept.map(viewItem) : h("li", { class: "muted small nav-empty" }, none));
    }).catch(() => {});
  };
  // The sidebar is drawn again on every navigation: forget the lists it replaced.
  for (const old of shown.keys()) if (old.dataset.drawn && !old.isConnected) shown.delete(old);
  shown.set(list, draw);
  draw();
  return list;
}

/**
 * The current project's shared views, for under its sidebar entry.
 * @param {string} projectId
 */
export const projectViews = (projectId) => viewList(`/projects/${projectId}/views`, (v) => v.shared, "Shared views");

/** "My views": the person's own, over every project. */
export function myViews() {
  const list = viewList("/me/views", () => true, "My views", "None yet: filter a list, then “Save view”.");
  return h("nav", { class: "projects-nav my-views", "aria-labelledby": "my-views-heading" },
    h("div", { class: "nav-heading" }, h("h2", { id: "my-views-heading" }, "My views")), list);
}

/**
 * One view: its link (current when the URL is its own) and, for who may change it, a menu.
 * @param {SavedView} v
 */
function viewItem(v) {
  const url = viewUrl(v);
  const project = v.project_id ? state.projects.find((p) => p.id === v.project_id) : null;
  const mayChange = v.owner_id === state.user?.id || (v.shared && api.can(project?.my_role, "admin"));
  const where = v.shared || !v.project_id ? "" : ` · ${project ? (project.is_inbox ? "Inbox" : project.name) : "a project"}`;
  return h("li", { class: "view-item", dataset: { view: v.id } },
    h("a", { href: url, class: "nav-item", "aria-current": url === here() ? "page" : undefined },
      h("span", { class: "nav-icon", "aria-hidden": "true" }, v.kind === "board" ? "▦" : "≡"), v.name,
      where ? h("span", { class: "muted small" }, where) : null),
    mayChange ? h("button", { type: "button", class: "icon view-menu", "aria-label": `Rename or delete the view ${v.name}`, onclick: () => editView(v) }, "⋯") : null);
}

/**
 * Rename or delete a view.
 * @param {SavedView} v
 */
async function editView(v) {
  const choice = await dialog(`View “${v.name}”`, (close) => {
    const name = /** @type {HTMLInputElement} */ (h("input", { id: "view-rename", value: v.name, maxlength: 50, required: true, autocomplete: "off", "aria-describedby": "view-rename-error" }));
    const error = h("p", { class: "field-error", id: "view-rename-error" });
    setTimeout(() => name.select());
    return [h("form", {
      onsubmit: async (/** @type {Event} */ e) => {
        e.preventDefault();
        try {
          await api.patch(`/views/${v.id}`, { name: name.value.trim() });
          close("renamed");
        } catch (err) {
          error.textContent = err instanceof api.ApiError ? err.fieldMessage("name") || err.message : String(err);
          name.setAttribute("aria-invalid", "true");
        }
      },
    },
      h("label", { for: "view-rename" }, "Name"), name, error,
      h("div", { class: "actions" },
        h("button", { type: "button", class: "danger ghost", id: "delete-view", onclick: () => close("delete") }, "Delete view"),
        h("button", { type: "button", onclick: () => close(null) }, "Cancel"),
        h("button", { type: "submit", class: "primary" }, "Rename")))];
  });
  if (choice === "delete") {
    if (!(await confirmDialog("Delete view", `Delete the view “${v.name}”? The tasks stay as they are.`, "Delete view", true))) return;
    try {
      await api.del(`/views/${v.id}`);
      announce(`Deleted the view ${v.name}.`, { visible: true });
    } catch (e) {
      announce(e instanceof Error ? e.message : String(e), { error: true });
    }
  }
  if (choice) changed();
}

/**
 * "Save view": the URL's query (without the open task) as a view of `project` (personal, or
 * shared when an admin ticks it), or over every project from "My tasks".
 * @param {{project?: api.Project, kind: "list" | "board"}} o
 */
export function saveViewButton(o) {
  return h("button", { type: "button", id: "save-view", onclick: () => saveView(o) }, "Save view");
}

/** @param {{project?: api.Project, kind: "list" | "board"}} o */
async function saveView(o) {
  const query = new URLSearchParams(location.search);
  query.delete("task");
  const canShare = !!o.project && !o.project.is_inbox && api.can(o.project.my_role, "admin");
  const saved = await dialog("Save view", (close) => {
    const name = /** @type {HTMLInputElement} */ (h("input", { id: "view-name", maxlength: 50, required: true, autocomplete: "off", "aria-describedby": "view-name-error" }));
    const share = /** @type {HTMLInputElement} */ (h("input", { type: "checkbox", id: "view-shared" }));
    const error = h("p", { class: "field-error", id: "view-name-error" });
    setTimeout(() => name.focus());
    return [h("form", {
      onsubmit: async (/** @type {Event} */ e) => {
        e.preventDefault();
        const body = { name: name.value.trim(), kind: o.kind, query: Object.fromEntries(query) };
        try {
          close(o.project
            ? await api.post(`/projects/${o.project.id}/views`, { ...body, shared: canShare && share.checked })
            : await api.post("/me/views", body));
        } catch (err) {
          // A bad filter is named `query.<parameter>`: said in words, the name kept.
          error.textContent = err instanceof api.ApiError ? err.message : String(err);
          name.setAttribute("aria-invalid", "true");
        }
      },
    },
      h("p", { class: "muted" }, "Saves this page's filters and sort; the view opens it again from the sidebar."),
      h("label", { for: "view-name" }, "Name"), name, error,
      canShare ? h("div", { class: "field checkbox" }, share, h("label", { for: "view-shared" }, "Share with the project's members")) : null,
      h("div", { class: "actions" },
        h("button", { type: "button", onclick: () => close(null) }, "Cancel"),
        h("button", { type: "submit", class: "primary" }, "Save view")))];
  });
  if (!saved) return;
  announce(`Saved the view ${saved.name}.`, { visible: true });
  changed();
}
