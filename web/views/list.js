// The list view of a project, "My tasks" and "Upcoming": filters and sort kept in the URL,
// keyset pages loaded as the list scrolls (list/rows.js), the filters (list/toolbar.js), quick
// add (list/quick-add.js), the exact count and the done toggle (list/summary.js), bulk changes
// (list/bulk.js), j/k selection, live updates and the detail panel, which opens in place (the
// rows, the scroll position and the selection stay).

import * as api from "../api.js";
import { h, replace, announce, localDate } from "../dom.js";
import { membersOf, statesOf, hasUnsaved } from "../model.js";
import * as live from "../live.js";
import { FILTERS, filterBar } from "./list/toolbar.js";
import { fieldFilters, addFieldControls, chosenColumns } from "./list/fields.js";
import { fieldsOf, forgetFields } from "../fields.js";
import { saveViewButton } from "../components/views-sidebar.js";
import { quickAdd } from "./list/quick-add.js";
import { listSummary } from "./list/summary.js";
import { bulkBar, clearPicks } from "./list/bulk.js";
import { rowFor, rowOf, redraw, loadPage, select, selectedId, pick, dropRow, hideRows, refreshRow, showEmpty } from "./list/rows.js";

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
  const showDone = ctx.query.get("done") === "show";
  const params = listQuery(ctx.query, kind, showDone);
  /** @type {TaskList} */
  const l = {
    ctx, kind, project, me, canEdit, params, content,
    base: kind === "project" ? `/projects/${project?.id}/tasks` : "/tasks",
    names: new Map([[me.id, { name: me.name }]]),
    projectNames: new Map(ctx.state.projects.map((p) => [p.id, p.is_inbox ? "Inbox" : p.name])), stateNames: new Map(),
    members: [], tasks: [], pending: new Set(), cursor: undefined, loading: null, selected: -1,
    fetching: new Set(), again: new Set(), detail: null, picked: new Set(), anchor: null, hidden: new Set(),
    list: h("ul", { class: "rows", id: "task-list", "aria-label": "Tasks" }),
    empty: h("div", { class: "empty", hidden: true }, emptyText(kind, ctx.query, canEdit)),
    more: /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: "ghost load-more", hidden: true, onclick: () => loadPage(l) }, "Load more")),
    changed: () => {}, onPicked: () => {}, columns: [], fields: [],
  };
  const toolbar = filterBar(ctx, kind, params, () => l.members, () => states);
  if (kind !== "upcoming") toolbar.append(saveViewButton({ project: kind === "project" ? project : undefined, kind: "list" }));
  // The project's workflow states: the rows' state chips and the state filter, drawn when they
  // arrive (the first page does not wait for them).
  /** @type {api.WorkflowState[]} */
  let states = [];
  if (kind === "project" && project) {
    statesOf(project.id).then((list) => {
      if (ctx.signal.aborted) return;
      states = list;
      for (const s of list) l.stateNames.set(s.id, s.name);
      toolbar.dispatchEvent(new Event("states"));
      for (const task of l.tasks) redraw(l, task);
    }).catch(() => {});
  }
  const quick = kind === "project" && canEdit ? quickAdd(ctx, /** @type {api.Project} */ (project), (task) => added(l, task)) : null;
  const summary = listSummary(l, showDone);
  l.changed = summary.refresh;
  const bulk = canEdit ? bulkBar(l) : null;
  if (bulk) l.onPicked = bulk.update;
  const sentinel = h("div", { class: "sentinel", "aria-hidden": "true" });
  const panel = h("div", { class: "panel-host" });
  replace(content, h("div", { class: "list-view" },
    toolbar, quick, summary.el, bulk?.el, h("div", { class: "list-scroll", id: "list-scroll" }, l.list, skeleton(), l.empty, l.more, sentinel)), panel);
  l.list.addEventListener("click", (e) => onRowClick(l, e));
  // Shortcuts work while the first page is still loading.
  bindKeys(l, quick);
  ctx.openTask = (id) => showTask(l, panel, id);

  const membersReady = kind === "project" && project
    ? membersOf(project.id).then((m) => {
      l.members = m;
      for (const member of m) l.names.set(member.user.id, { name: member.user.name });
      toolbar.dispatchEvent(new Event("members"));
      bulk?.update();
    }).catch(() => {})
    : Promise.resolve();
  // Listen first, read once the stream is open: nothing committed in between is missed.
  follow(l);
  await live.ready();
  await loadPage(l);
  // Later pages load as the list scrolls (after the first, so the two never race).
  const observer = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) loadPage(l);
  }, { rootMargin: "400px" });
  observer.observe(sentinel);
  ctx.signal.addEventListener("abort", () => observer.disconnect());
  if (kind === "project" && project) showFields(l, toolbar, membersReady);
  // Assignee initials need the members; draw the rows again when they arrive.
  membersReady.then(() => {
    if (ctx.signal.aborted) return;
    for (const task of l.tasks) if (task.assignee_id) redraw(l, task);
  });
  const taskId = ctx.query.get("task");
  if (taskId) await showTask(l, panel, taskId);
}

/**
 * The query the API gets: the URL's filters, plus what the view itself means; done and
 * canceled tasks stay out unless `done=show` or the status filter names them.
 * @param {URLSearchParams} q
 * @param {"project" | "my" | "upcoming"} kind
 * @param {boolean} showDone
 */
function listQuery(q, kind, showDone) {
  const params = new URLSearchParams();
  for (const key of FILTERS) {
    const value = q.get(key);
    if (value) params.set(key, value);
  }
  for (const [key, value] of fieldFilters(q)) params.set(key, value);
  if (!params.has("sort")) params.set("sort", kind === "project" ? "position" : kind === "upcoming" ? "due_date" : "-updated_at");
  if (kind === "my") params.set("assignee", "me");
  if (kind === "upcoming") {
    const today = new Date();
    const end = new Date();
    end.setDate(end.getDate() + 14);
    if (!params.has("due_after")) params.set("due_after", localDate(today));
    if (!params.has("due_before")) params.set("due_before", localDate(end));
  }
  if (!params.has("status") && !params.has("state") && (!showDone || kind === "upcoming")) params.set("status", "todo,in_progress");
  if (kind !== "project" && params.get("sort") === "position") params.set("sort", "-updated_at");
  return params;
}

/**
 * What an empty list says: what to do next.
 * @param {"project" | "my" | "upcoming"} kind
 * @param {URLSearchParams} query the URL's
 * @param {boolean} canEdit
 */
function emptyText(kind, query, canEdit) {
  const filtered = FILTERS.some((f) => f !== "sort" && query.get(f)) || fieldFilters(query).length > 0;
  if (kind === "project") {
    if (filtered) return "No task matches these filters.";
    return canEdit ? "Add your first task — press c, type a title and Enter." : "This project has no tasks yet.";
  }
  return kind === "my" ? "Nothing open is assigned to you. Assign yourself a task with @me in quick add." : "Nothing is due in the next 14 days.";
}

/**
 * The project's custom fields, once they and the members arrive: their filters and sorts in the
 * toolbar, and the chosen columns in the rows.
 * @param {TaskList} l
 * @param {HTMLElement} toolbar
 * @param {Promise<void>} membersReady
 */
function showFields(l, toolbar, membersReady) {
  const projectId = /** @type {api.Project} */ (l.project).id;
  Promise.all([fieldsOf(projectId), membersReady]).then(([fields]) => {
    if (l.ctx.signal.aborted || !fields.length) return;
    l.fields = fields;
    /** @param {import("../fields.js").Field[]} columns */
    const draw = (columns) => {
      l.columns = columns;
      for (const task of l.tasks) redraw(l, task);
    };
    addFieldControls(l.ctx, toolbar, fields, l.members, projectId, draw);
    const chosen = chosenColumns(projectId);
    draw(fields.filter((f) => chosen.includes(f.id)));
  }).catch(() => {});
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
  if (l.tasks.some((t) => t.id === task.id)) return;
  if (l.params.get("sort") === "position" && l.cursor === null) {
    l.tasks.push(task);
    l.list.append(rowFor(l, task));
  } else {
    l.tasks.unshift(task);
    l.list.prepend(rowFor(l, task));
  }
  showEmpty(l);
  l.changed(true);
  announce(`Added #${task.number} ${task.title}`);
}

/**
 * A click on a row: with Shift, Ctrl or Cmd it picks the row for a bulk change; elsewhere than
 * on its controls it opens the task (as its title link does).
 * @param {TaskList} l
 * @param {MouseEvent} e
 */
function onRowClick(l, e) {
  const target = /** @type {Element} */ (e.target);
  const row = /** @type {HTMLElement | null} */ (target.closest(".row"));
  if (!row || e.button !== 0 || target.closest("button, input, select, textarea, label")) return;
  const id = /** @type {string} */ (row.dataset.id);
  if (e.shiftKey || e.ctrlKey || e.metaKey) {
    if (!l.canEdit) return;
    e.preventDefault();
    // A Shift-click must not select the text in between.
    getSelection()?.removeAllRanges();
    pick(l, id, e);
    return;
  }
  e.preventDefault();
  l.selected = [...l.list.querySelectorAll(".row:not([hidden])")].indexOf(row);
  for (const r of l.list.querySelectorAll(".row.selected")) r.classList.remove("selected");
  row.classList.add("selected");
  open(l, id);
}

/**
 * Opens a task in the panel (the one open saves first).
 * @param {TaskList} l
 * @param {string} id
 */
async function open(l, id) {
  if (l.detail?.id === id) return;
  if (l.detail && !(await l.detail.retire())) return;
  l.ctx.setQuery({ task: id });
}

/** @type {WeakMap<HTMLElement, AbortController>} the open panel's own signal, per panel host */
const panels = new WeakMap();

/**
 * Shows the task of the URL in the panel, or closes the panel (then the focus goes back to
 * its row).
 * @param {TaskList} l
 * @param {HTMLElement} host
 * @param {string | null} id
 */
async function showTask(l, host, id) {
  const previous = l.detail?.id;
  if (l.detail && id === previous) return;
  if (l.detail) await l.detail.retire();
  panels.get(host)?.abort();
  l.detail = null;
  replace(host);
  if (!id) {
    if (previous) /** @type {HTMLElement | null} */ (rowOf(l, previous)?.querySelector(".row-title"))?.focus();
    return;
  }
  const abort = new AbortController();
  panels.set(host, abort);
  l.ctx.signal.addEventListener("abort", () => abort.abort());
  // Loaded when first opened: the first visit of a list or board needs no panel (docs/performance.md).
  const { openTaskPanel } = await import("../components/task-panel.js");
  l.detail = await openTaskPanel({ ...l.ctx, signal: abort.signal }, host, id, detailHooks(l));
}

/**
 * j/k select (and, with the panel open, open) the next or previous task, Enter opens it, e edits
 * the open task's title, x picks the selected row, c goes to quick add, Esc leaves a field,
 * closes the panel or drops the picks.
 * @param {TaskList} l
 * @param {HTMLElement | null} quick
 */
function bindKeys(l, quick) {
  const keys = l.ctx.keys;
  /** @param {number} step */
  const walk = (step) => {
    select(l, l.selected + step);
    const id = selectedId(l);
    if (l.detail && id) open(l, id);
  };
  keys.j = () => walk(1);
  keys.k = () => walk(-1);
  keys.enter = () => {
    const id = selectedId(l);
    if (id) open(l, id);
  };
  keys.e = () => l.detail?.edit();
  keys.x = () => {
    const id = selectedId(l);
    if (id && l.canEdit) pick(l, id, { shiftKey: false });
  };
  keys.c = () => {
    if (quick) /** @type {HTMLInputElement} */ (quick.querySelector("input")).focus();
  };
  keys.escape = () => {
    if (l.detail) return l.detail.escape();
    if (l.picked.size) {
      clearPicks(l);
      // Out of the bar that just closed, back to the rows.
      if (document.activeElement?.closest(".bulk")) {
        const row = l.list.querySelector(".row.selected") || l.list.querySelector(".row:not([hidden])");
        /** @type {HTMLElement | null} */ (row?.querySelector(".row-title") || null)?.focus();
      }
      return true;
    }
    return false;
  };
}

/**
 * Live: another person's change appears without a reload, and the counts follow.
 * @param {TaskList} l
 */
function follow(l) {
  const projectId = l.kind === "project" && l.project ? l.project.id : null;
  live.follow(projectId, {
    onEntry: (entry) => {
      l.detail?.onEntry(entry);
      // Someone changed the project's custom fields: the next panel and list read them again.
      if (entry.kind === "project.updated" && entry.changes.some((c) => c.field === "fields")) forgetFields(entry.project_id);
      if (!entry.task_id || !concerns(l, entry)) return;
      if (entry.kind.startsWith("task.")) l.changed();
      if (entry.kind === "task.deleted") dropRow(l, entry.task_id);
      else refreshRow(l, entry.task_id);
      // A recurring task completed: its next occurrence is a new task (API.md §19).
      const next = entry.kind === "task.recurred" ? entry.changes.find((c) => c.field === "next_task_id")?.to : null;
      if (next) refreshRow(l, next);
    },
    onReset: () => {
      if (hasUnsaved()) return;
      // Without `openTask` the router draws the whole view again, not just the URL's panel.
      delete l.ctx.openTask;
      l.ctx.navigate(location.pathname + location.search, { replace: true, force: true });
    },
  }, l.ctx.signal);
}

/** The fields whose change can bring a task into "My tasks" or "Upcoming". */
const BRINGS_IN = new Set(["assignee_id", "due_date", "status", "project_id"]);

/**
 * Whether an entry can change what the list shows: any task event of the project's own list;
 * across projects ("My tasks", "Upcoming", every project's events) only one about a task shown,
 * or a change that may bring one in (so the list reads a task again only when it matters).
 * @param {TaskList} l
 * @param {api.Entry} entry
 */
function concerns(l, entry) {
  const shown = l.tasks.some((t) => t.id === entry.task_id);
  if (entry.kind.startsWith("comment.")) return shown;
  if (!entry.kind.startsWith("task.")) return false;
  return l.kind === "project" || shown || entry.changes.some((c) => BRINGS_IN.has(c.field));
}

/**
 * What the task panel tells the list: a saved task's row is drawn again; a deleted one goes
 * (hidden while its Undo is on offer).
 * @param {TaskList} l
 * @returns {import("../components/task-editor.js").Hooks}
 */
function detailHooks(l) {
  return {
    onSaved: (task) => {
      const known = l.tasks.find((t) => t.id === task.id);
      if (!known) return;
      Object.assign(known, task);
      redraw(l, known);
      l.changed(true);
    },
    onHidden: (id) => hideRows(l, [id], true),
    onRestored: (id) => hideRows(l, [id], false),
    onDeleted: (id) => {
      dropRow(l, id);
      l.changed(true);
    },
  };
}
