// The list view of a project, "My tasks" and "Upcoming": filters and sort kept in the URL,
// keyset pages loaded as the list scrolls (list/rows.js), quick add and the filters
// (list/toolbar.js), j/k selection, live updates and the detail panel.

import * as api from "../api.js";
import { h, replace, announce, localDate } from "../dom.js";
import { membersOf, hasUnsaved } from "../model.js";
import * as live from "../live.js";
import { openTaskPanel } from "../components/task-panel.js";
import { FILTERS, filterBar, quickAdd } from "./list/toolbar.js";
import { rowFor, loadPage, select, dropRow, refreshRow } from "./list/rows.js";

/** @typedef {import("./list/rows.js").TaskList} TaskList */

/**
 * @param {import("../model.js").Context} ctx
 * @param {HTMLElement} content
 * @param {"project" | "my" | "upcoming"} kind
 */
export async function renderTaskList(ctx, content, kind) {
  const project = ctx.project;
  const canEdit = kind === "project" ? api.can(project?.my_role, "editor") : true;
  const me = /** @type {api.User} */ (ctx.state.user);
  const params = listQuery(ctx.query, kind);
  /** @type {TaskList} */
  const l = {
    ctx, kind, project, me, canEdit, params, content,
    base: kind === "project" ? `/projects/${project?.id}/tasks` : "/tasks",
    names: new Map([[me.id, { name: me.name }]]),
    projectNames: new Map(ctx.state.projects.map((p) => [p.id, p.is_inbox ? "Inbox" : p.name])),
    members: [], tasks: [], pending: new Set(), cursor: undefined, loading: false, selected: -1,
    fetching: new Set(), again: new Set(), detail: null,
    list: h("ul", { class: "rows", id: "task-list", "aria-label": "Tasks" }),
    empty: h("div", { class: "empty", hidden: true }, emptyText(kind, params, canEdit)),
    more: /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: "ghost load-more", hidden: true, onclick: () => loadPage(l) }, "Load more")),
  };
  const toolbar = filterBar(ctx, kind, params, () => l.members);
  const quick = kind === "project" && canEdit ? quickAdd(ctx, /** @type {api.Project} */ (project), (task) => added(l, task)) : null;
  const sentinel = h("div", { class: "sentinel", "aria-hidden": "true" });
  const panel = h("div", { class: "panel-host" });
  replace(content, h("div", { class: "list-view" },
    toolbar, quick, h("div", { class: "list-scroll", id: "list-scroll" }, l.list, skeleton(), l.empty, l.more, sentinel)), panel);

  const observer = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) loadPage(l);
  }, { rootMargin: "400px" });
  observer.observe(sentinel);
  ctx.signal.addEventListener("abort", () => observer.disconnect());
  // Shortcuts work while the first page is still loading.
  bindKeys(l, quick);

  const membersReady = kind === "project" && project
    ? membersOf(project.id).then((m) => {
      l.members = m;
      for (const member of m) l.names.set(member.user.id, { name: member.user.name });
      toolbar.dispatchEvent(new Event("members"));
    }).catch(() => {})
    : Promise.resolve();
  // The newest change before the list is read: the live stream starts right after it.
  const after = kind === "project" && project ? await live.newestEntryId(project.id, ctx.signal) : null;
  await loadPage(l);
  // Assignee initials need the members; draw the rows again when they arrive.
  membersReady.then(() => {
    if (ctx.signal.aborted) return;
    for (const task of l.tasks) l.list.querySelector(`[data-id="${task.id}"]`)?.replaceWith(rowFor(l, task));
    if (l.selected >= 0) select(l, l.selected);
  });
  if (kind === "project" && project) follow(l, project, after);
  const taskId = ctx.query.get("task");
  if (taskId) l.detail = await openTaskPanel(ctx, panel, taskId, detailHooks(l));
}

/**
 * The query the API gets: the URL's filters, plus what the view itself means.
 * @param {URLSearchParams} q
 * @param {"project" | "my" | "upcoming"} kind
 */
function listQuery(q, kind) {
  const params = new URLSearchParams();
  for (const key of FILTERS) {
    const value = q.get(key);
    if (value) params.set(key, value);
  }
  if (!params.has("sort")) params.set("sort", kind === "project" ? "position" : kind === "upcoming" ? "due_date" : "-updated_at");
  if (kind === "my") params.set("assignee", "me");
  if (kind === "upcoming") {
    const today = new Date();
    const end = new Date();
    end.setDate(end.getDate() + 14);
    if (!params.has("due_after")) params.set("due_after", localDate(today));
    if (!params.has("due_before")) params.set("due_before", localDate(end));
    if (!params.has("status")) params.set("status", "todo,in_progress");
  }
  if (kind !== "project" && params.get("sort") === "position") params.set("sort", "-updated_at");
  return params;
}

/**
 * What an empty list says: what to do next.
 * @param {"project" | "my" | "upcoming"} kind
 * @param {URLSearchParams} params
 * @param {boolean} canEdit
 */
function emptyText(kind, params, canEdit) {
  if (kind === "project") {
    return params.toString().replace(/sort=[^&]*&?/, "") ? "No task matches these filters." : canEdit ? "Add your first task — press c, type a title and Enter." : "This project has no tasks yet.";
  }
  return kind === "my" ? "Nothing is assigned to you. Assign yourself a task with @me in quick add." : "Nothing is due in the next 14 days.";
}

function skeleton() {
  // Shown only if the first page takes longer than 100 ms (CSS animation delay).
  return h("div", { class: "skeleton", "aria-hidden": "true" }, [1, 2, 3, 4, 5].map(() => h("div", { class: "skeleton-row" })));
}

/**
 * Quick add made a task. New tasks go last in the manual order: at the end when the whole list
 * is shown, otherwise on top, where the person sees what they added.
 * @param {TaskList} l
 * @param {api.Task} task
 */
function added(l, task) {
  if (l.params.get("sort") === "position" && l.cursor === null) {
    l.tasks.push(task);
    l.list.append(rowFor(l, task));
  } else {
    l.tasks.unshift(task);
    l.list.prepend(rowFor(l, task));
  }
  l.empty.hidden = true;
  announce(`Added #${task.number} ${task.title}`);
}

/**
 * j/k select, Enter opens the selected task, c goes to quick add.
 * @param {TaskList} l
 * @param {HTMLElement | null} quick
 */
function bindKeys(l, quick) {
  const keys = l.ctx.keys;
  keys.j = () => select(l, l.selected + 1);
  keys.k = () => select(l, l.selected - 1);
  keys.enter = () => {
    const row = l.list.querySelectorAll(".row")[l.selected];
    if (row) l.ctx.setQuery({ task: /** @type {HTMLElement} */ (row).dataset.id || null });
  };
  keys.c = () => {
    if (quick) /** @type {HTMLInputElement} */ (quick.querySelector("input")).focus();
  };
}

/**
 * Live: another person's change appears without a reload.
 * @param {TaskList} l
 * @param {api.Project} project
 * @param {number | null} after
 */
function follow(l, project, after) {
  live.subscribe(project.id, after, {
    signal: l.ctx.signal,
    onEntry: (entry) => {
      l.detail?.onEntry(entry);
      if (!entry.task_id || entry.kind.startsWith("member.")) return;
      if (entry.kind === "task.deleted") dropRow(l, entry.task_id);
      else refreshRow(l, entry.task_id);
    },
    onReset: () => {
      if (!hasUnsaved()) l.ctx.navigate(location.pathname + location.search, { replace: true, force: true });
    },
  });
}

/**
 * What the task panel tells the list: a saved task's row is drawn again, a deleted one goes.
 * @param {TaskList} l
 * @returns {import("../components/task-editor.js").Hooks}
 */
function detailHooks(l) {
  return {
    onSaved: (task) => {
      const index = l.tasks.findIndex((t) => t.id === task.id);
      if (index >= 0) {
        l.tasks[index] = task;
        l.list.querySelector(`[data-id="${task.id}"]`)?.replaceWith(rowFor(l, task));
      }
    },
    onDeleted: (id) => {
      l.list.querySelector(`[data-id="${id}"]`)?.remove();
    },
  };
}
