// The list view of a project, "My tasks" and "Upcoming": filters and sort kept in the URL,
// keyset pages loaded as the list scrolls, quick add, j/k selection and the detail panel.

import * as api from "../api.js";
import { h, replace, announce, formatDue, isOverdue, initials, debounce, localDate } from "../dom.js";
import { parseQuickAdd } from "../quickadd.js";
import { unsavedInput } from "../app.js";
import { openTaskPanel } from "./task.js";
import * as live from "../live.js";

export const STATUSES = /** @type {const} */ ([
  ["todo", "To do"],
  ["in_progress", "In progress"],
  ["done", "Done"],
  ["canceled", "Canceled"],
]);
export const PRIORITIES = ["None", "Low", "Medium", "High", "Urgent"];
const SORTS = [
  ["position", "Manual order"],
  ["created_at", "Oldest first"],
  ["-created_at", "Newest first"],
  ["-updated_at", "Recently updated"],
  ["due_date", "Due date"],
  ["-priority", "Priority, highest first"],
  ["priority", "Priority, lowest first"],
];
const FILTERS = ["status", "assignee", "label", "priority_min", "due_after", "due_before", "q", "sort"];

/** @type {Map<string, api.Member[]>} */
const membersCache = new Map();

/**
 * The members of a project (cached for the session of a view).
 * @param {string} projectId
 * @returns {Promise<api.Member[]>}
 */
export async function membersOf(projectId) {
  let members = membersCache.get(projectId);
  if (!members) {
    members = /** @type {api.Member[]} */ (await api.all(`/projects/${projectId}/members`));
    membersCache.set(projectId, members);
  }
  return members;
}

/** @param {string} projectId */
export function forgetMembers(projectId) {
  membersCache.delete(projectId);
}

/**
 * The number of comments of a task, when it has any.
 * @param {api.Task} task
 */
export function commentBadge(task) {
  const n = task.comment_count || 0;
  return n ? h("span", { class: "comment-count", title: `${n} comment${n === 1 ? "" : "s"}`, "aria-label": `${n} comment${n === 1 ? "" : "s"}` }, String(n)) : null;
}

/**
 * A status toggle, a title that opens the task, then labels, due date, assignee, priority.
 * @param {api.Task} task
 * @param {{members: Map<string, {name: string}>, projectName?: string, canEdit: boolean, onToggle: (t: api.Task) => void, href: string}} o
 */
export function taskRow(task, o) {
  const done = task.status === "done";
  const assignee = task.assignee_id ? o.members.get(task.assignee_id) : null;
  const statusLabel = STATUSES.find(([s]) => s === task.status)?.[1] || task.status;
  return h("li", { class: `row status-${task.status}`, dataset: { id: task.id } },
    h("button", {
      type: "button", class: "status-toggle", "aria-pressed": done ? "true" : "false",
      "aria-label": `${statusLabel}: mark “${task.title}” ${done ? "not done" : "done"}`,
      disabled: !o.canEdit, onclick: () => o.onToggle(task),
    }, h("span", { class: "status-dot", "aria-hidden": "true" })),
    h("a", { href: o.href, class: "row-title" }, h("span", { class: "num" }, `#${task.number}`), " ", task.title),
    h("span", { class: "row-meta" },
      o.projectName ? h("span", { class: "chip project-chip" }, o.projectName) : null,
      task.labels.map((l) => h("span", { class: "chip label" }, l)),
      task.due_date ? h("span", { class: isOverdue(task.due_date) && !done ? "due overdue" : "due", title: task.due_date }, formatDue(task.due_date)) : null,
      commentBadge(task),
      assignee ? h("span", { class: "avatar", title: assignee.name, "aria-label": `Assigned to ${assignee.name}` }, initials(assignee.name)) : null,
      task.priority ? h("span", { class: `prio prio-${task.priority}`, title: `Priority: ${PRIORITIES[task.priority]}`, "aria-label": `Priority ${PRIORITIES[task.priority]}` }, "!".repeat(Math.min(task.priority, 3)) + (task.priority === 4 ? "!" : "")) : null));
}

/**
 * @param {import("../app.js").Context} ctx
 * @param {HTMLElement} content
 * @param {"project" | "my" | "upcoming"} kind
 */
export async function renderTaskList(ctx, content, kind) {
  const project = ctx.project;
  const q = ctx.query;
  const canEdit = kind === "project" ? api.can(project?.my_role, "editor") : true;
  const me = /** @type {api.User} */ (ctx.state.user);

  // The query the API gets: the URL's filters, plus what the view itself means.
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
  const base = kind === "project" ? `/projects/${project?.id}/tasks` : "/tasks";

  /** @type {Map<string, {name: string}>} */
  const names = new Map([[me.id, { name: me.name }]]);
  const projectNames = new Map(ctx.state.projects.map((p) => [p.id, p.is_inbox ? "Inbox" : p.name]));
  /** @type {api.Member[]} */
  let members = [];

  // --- toolbar
  const toolbar = filterBar(ctx, kind, params, () => members);
  const quick = kind === "project" && canEdit ? quickAdd(ctx, /** @type {api.Project} */ (project), (task) => {
    // New tasks go last in the manual order: at the end when the whole list is shown,
    // otherwise on top, where the person sees what they added.
    if (params.get("sort") === "position" && cursor === null) {
      tasks.push(task);
      list.append(rowFor(task));
    } else {
      tasks.unshift(task);
      list.prepend(rowFor(task));
    }
    empty.hidden = true;
    announce(`Added #${task.number} ${task.title}`);
  }) : null;

  const list = h("ul", { class: "rows", id: "task-list", "aria-label": "Tasks" });
  const empty = h("div", { class: "empty", hidden: true },
    kind === "project"
      ? (params.toString().replace(/sort=[^&]*&?/, "") ? "No task matches these filters." : canEdit ? "Add your first task — press c, type a title and Enter." : "This project has no tasks yet.")
      : kind === "my" ? "Nothing is assigned to you. Assign yourself a task with @me in quick add." : "Nothing is due in the next 14 days.");
  const more = /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: "ghost load-more", hidden: true, onclick: () => loadPage() }, "Load more"));
  const sentinel = h("div", { class: "sentinel", "aria-hidden": "true" });
  const panel = h("div", { class: "panel-host" });
  replace(content, h("div", { class: "list-view" },
    toolbar, quick, h("div", { class: "list-scroll", id: "list-scroll" }, list, skeleton(list), empty, more, sentinel)), panel);

  /** @type {api.Task[]} */
  const tasks = [];
  /** Tasks with a change of this person's in flight: live events wait for it. */
  const pending = new Set();
  /** @type {string | null | undefined} */
  let cursor;
  let loading = false;
  let selected = -1;

  /** @param {api.Task} task */
  function rowFor(task) {
    const query = new URLSearchParams(location.search);
    query.set("task", task.id);
    const href = kind === "project" ? `${location.pathname}?${query}` : `${location.pathname}?${query}`;
    return taskRow(task, {
      members: names, canEdit, href, onToggle: toggle,
      projectName: kind === "project" ? undefined : projectNames.get(task.project_id),
    });
  }

  /** @param {api.Task} task */
  async function toggle(task) {
    const next = task.status === "done" ? "todo" : "done";
    const row = list.querySelector(`[data-id="${task.id}"]`);
    pending.add(task.id);
    const before = task.status;
    row?.classList.replace(`status-${before}`, `status-${next}`);
    try {
      const updated = await api.patch(`/tasks/${task.id}`, { status: next }, { ifMatch: task.version });
      Object.assign(task, updated);
      row?.replaceWith(rowFor(task));
      announce(`#${task.number} is ${next === "done" ? "done" : "to do"}`);
    } catch (e) {
      row?.classList.replace(`status-${next}`, `status-${before}`);
      announce(e instanceof api.ApiError && e.status === 412 ? "Someone changed this task meanwhile; the list was refreshed." : e instanceof Error ? e.message : String(e), { error: true });
      if (e instanceof api.ApiError && e.status === 412) {
        const fresh = await api.get(`/tasks/${task.id}`);
        Object.assign(task, fresh);
        row?.replaceWith(rowFor(task));
      }
    } finally {
      pending.delete(task.id);
    }
  }

  async function loadPage() {
    if (loading || cursor === null) return;
    loading = true;
    more.disabled = true;
    try {
      const page = new URLSearchParams(params);
      page.set("limit", "50");
      if (cursor) page.set("cursor", cursor);
      /** @type {api.Page} */
      const data = await api.get(`${base}?${page}`, { signal: ctx.signal });
      content.querySelector(".skeleton")?.remove();
      for (const task of data.items) {
        tasks.push(task);
        list.append(rowFor(task));
      }
      cursor = data.next_cursor;
      more.hidden = cursor === null;
      empty.hidden = tasks.length > 0;
      content.dataset.loaded = String(tasks.length);
    } catch (e) {
      if (e instanceof DOMException && e.name === "AbortError") return;
      content.querySelector(".skeleton")?.remove();
      announce(e instanceof Error ? e.message : String(e), { error: true });
      if (e instanceof api.ApiError && e.status === 400) {
        empty.hidden = false;
        empty.textContent = `These filters are not valid: ${e.message}`;
        cursor = null;
      }
    } finally {
      loading = false;
      more.disabled = false;
    }
  }

  const observer = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) loadPage();
  }, { rootMargin: "400px" });
  observer.observe(sentinel);
  ctx.signal.addEventListener("abort", () => observer.disconnect());

  // Shortcuts work while the first page is still loading.
  /** @param {number} index */
  function select(index) {
    const rows = [...list.querySelectorAll(".row")];
    if (!rows.length) return;
    selected = Math.max(0, Math.min(rows.length - 1, index));
    rows.forEach((r, i) => r.classList.toggle("selected", i === selected));
    /** @type {HTMLElement | null} */ (rows[selected].querySelector(".row-title"))?.focus();
    if (selected >= rows.length - 3) loadPage();
  }
  ctx.keys.j = () => select(selected + 1);
  ctx.keys.k = () => select(selected - 1);
  ctx.keys.enter = () => {
    const row = list.querySelectorAll(".row")[selected];
    if (row) ctx.setQuery({ task: /** @type {HTMLElement} */ (row).dataset.id || null });
  };
  ctx.keys.c = () => {
    if (quick) /** @type {HTMLInputElement} */ (quick.querySelector("input")).focus();
  };

  const membersReady = kind === "project" && project
    ? membersOf(project.id).then((m) => {
      members = m;
      for (const member of m) names.set(member.user.id, { name: member.user.name });
      toolbar.dispatchEvent(new Event("members"));
    }).catch(() => {})
    : Promise.resolve();
  // The newest change before the list is read: the live stream starts right after it.
  const after = kind === "project" && project ? await live.newestEntryId(project.id, ctx.signal) : null;
  await loadPage();
  // Assignee initials need the members; draw the rows again when they arrive.
  membersReady.then(() => {
    if (ctx.signal.aborted) return;
    for (const task of tasks) list.querySelector(`[data-id="${task.id}"]`)?.replaceWith(rowFor(task));
    if (selected >= 0) select(selected);
  });

  // --- live: another person's change appears without a reload
  /** @type {{onEntry: (e: api.Entry) => void} | null} */
  let detail = null;
  const fetching = new Set();
  const again = new Set();
  /** @param {api.Task} t whether the list's filters keep it (q and sort-only pages are not checked) */
  const matches = (t) => {
    const status = params.get("status");
    if (status && !status.split(",").includes(t.status)) return false;
    const a = params.get("assignee");
    if (a && (a === "me" ? t.assignee_id !== me.id : a === "none" ? t.assignee_id !== null : t.assignee_id !== a)) return false;
    const label = params.get("label");
    if (label && !t.labels.includes(label.toLowerCase())) return false;
    const min = params.get("priority_min");
    if (min && t.priority < Number(min)) return false;
    const from = params.get("due_after");
    if (from && (!t.due_date || t.due_date < from)) return false;
    const to = params.get("due_before");
    if (to && (!t.due_date || t.due_date > to)) return false;
    return true;
  };
  /** @param {string} id */
  const dropRow = (id) => {
    const i = tasks.findIndex((t) => t.id === id);
    if (i >= 0) tasks.splice(i, 1);
    list.querySelector(`.row[data-id="${id}"]`)?.remove();
    empty.hidden = tasks.length > 0;
  };
  /** @param {string} id */
  async function refreshRow(id) {
    if (fetching.has(id) || pending.has(id)) {
      again.add(id);
      return;
    }
    fetching.add(id);
    try {
      /** @type {api.Task} */
      let fresh;
      try {
        fresh = await api.get(`/tasks/${id}`, { signal: ctx.signal });
      } catch (e) {
        if (e instanceof api.ApiError && e.status === 404) return dropRow(id);
        throw e;
      }
      const known = tasks.find((t) => t.id === id);
      if (known && fresh.version <= known.version && fresh.comment_count === known.comment_count) return;
      if (fresh.project_id !== project?.id || !matches(fresh)) return dropRow(id);
      if (known) {
        // The same object: the row's controls hold it.
        Object.assign(known, fresh);
        const row = list.querySelector(`.row[data-id="${id}"]`);
        const focused = row?.contains(document.activeElement);
        const selectedRow = row?.classList.contains("selected");
        const next = rowFor(known);
        if (selectedRow) next.classList.add("selected");
        row?.replaceWith(next);
        if (focused) /** @type {HTMLElement | null} */ (next.querySelector(".row-title"))?.focus();
      } else if (!params.has("q")) {
        if (params.get("sort") === "position" && cursor === null) {
          tasks.push(fresh);
          list.append(rowFor(fresh));
        } else if (params.get("sort") !== "position" || cursor === null) {
          tasks.unshift(fresh);
          list.prepend(rowFor(fresh));
        }
        empty.hidden = tasks.length > 0;
      }
    } catch {
      // Unreachable for a moment: the next event (or a reload) brings the list up to date.
    } finally {
      fetching.delete(id);
      if (again.delete(id) && !ctx.signal.aborted) setTimeout(() => refreshRow(id), 200);
    }
  }
  if (kind === "project" && project) {
    live.subscribe(project.id, after, {
      signal: ctx.signal,
      onEntry: (entry) => {
        detail?.onEntry(entry);
        if (!entry.task_id || entry.kind.startsWith("member.")) return;
        if (entry.kind === "task.deleted") dropRow(entry.task_id);
        else refreshRow(entry.task_id);
      },
      onReset: () => {
        if (!unsavedInput()) ctx.navigate(location.pathname + location.search, { replace: true, force: true });
      },
    });
  }

  const taskId = q.get("task");
  if (taskId) {
    detail = await openTaskPanel(ctx, panel, taskId, {
      onSaved: (task) => {
        const index = tasks.findIndex((t) => t.id === task.id);
        if (index >= 0) {
          tasks[index] = task;
          list.querySelector(`[data-id="${task.id}"]`)?.replaceWith(rowFor(task));
        }
      },
      onDeleted: (id) => {
        list.querySelector(`[data-id="${id}"]`)?.remove();
      },
    });
  }
}

/** @param {HTMLElement} list */
function skeleton(list) {
  // Shown only if the first page takes longer than 100 ms (CSS animation delay).
  void list;
  return h("div", { class: "skeleton", "aria-hidden": "true" }, [1, 2, 3, 4, 5].map(() => h("div", { class: "skeleton-row" })));
}

/**
 * Search, filters and sort: each change goes into the URL.
 * @param {import("../app.js").Context} ctx
 * @param {string} kind
 * @param {URLSearchParams} params
 * @param {() => api.Member[]} members
 */
function filterBar(ctx, kind, params, members) {
  const q = ctx.query;
  const search = /** @type {HTMLInputElement} */ (h("input", {
    type: "search", id: "search", name: "q", placeholder: "Search tasks  ( / )", value: q.get("q") || "", "aria-label": "Search tasks", autocomplete: "off",
  }));
  const pushSearch = debounce(() => ctx.setQuery({ q: search.value.trim() || null, task: null }, { replace: true }), 300);
  search.addEventListener("input", pushSearch);
  search.addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      pushSearch.flush();
      ctx.setQuery({ q: search.value.trim() || null, task: null }, { replace: true });
    }
  });
  /**
   * @param {string} name
   * @param {string} label
   * @param {[string, string][]} options
   */
  const select = (name, label, options) => {
    const id = `filter-${name}`;
    const el = /** @type {HTMLSelectElement} */ (h("select", { id, name, onchange: () => ctx.setQuery({ [name]: el.value || null, task: null }) },
      options.map(([value, text]) => h("option", { value, selected: (q.get(name) || "") === value }, text))));
    return h("div", { class: "filter" }, h("label", { for: id }, label), el);
  };
  const statusValue = q.get("status") || "";
  const statusSelect = select("status", "Status", [
    ["", kind === "upcoming" ? "Open" : "Any"],
    ["todo,in_progress", "Open"],
    ["todo", "To do"], ["in_progress", "In progress"], ["done", "Done"], ["canceled", "Canceled"],
  ]);
  if (statusValue && !["todo,in_progress", "todo", "in_progress", "done", "canceled"].includes(statusValue)) {
    /** @type {HTMLSelectElement} */ (statusSelect.querySelector("select")).append(h("option", { value: statusValue, selected: true }, statusValue));
  }
  const assigneeWrap = h("div", { class: "filter" });
  const drawAssignee = () => {
    const options = /** @type {[string, string][]} */ ([["", "Anyone"], ["me", "Me"], ["none", "Nobody"]]);
    for (const m of members()) if (m.user.id !== ctx.state.user?.id) options.push([m.user.id, m.user.name]);
    const current = q.get("assignee") || "";
    if (current && !options.some(([v]) => v === current)) options.push([current, "Someone"]);
    assigneeWrap.replaceWith(Object.assign(select("assignee", "Assignee", options), {}));
  };
  const assignee = select("assignee", "Assignee", [["", "Anyone"], ["me", "Me"], ["none", "Nobody"]]);
  assigneeWrap.append(...assignee.childNodes);
  /**
   * @param {string} name
   * @param {string} label
   * @param {Record<string, any>} attrs
   */
  const input = (name, label, attrs) => {
    const id = `filter-${name}`;
    const el = /** @type {HTMLInputElement} */ (h("input", { id, name, value: q.get(name) || "", ...attrs }));
    el.addEventListener("change", () => ctx.setQuery({ [name]: el.value.trim() || null, task: null }));
    return h("div", { class: "filter" }, h("label", { for: id }, label), el);
  };
  const active = FILTERS.filter((f) => f !== "sort" && f !== "q" && q.get(f)).length;
  const bar = h("div", { class: "toolbar", role: "search" },
    h("div", { class: "search-wrap" }, search),
    h("details", { class: "filters", open: active > 0 ? true : undefined },
      h("summary", null, active ? `Filters (${active})` : "Filters"),
      h("div", { class: "filter-grid" },
        statusSelect,
        kind === "my" ? null : assigneeWrap,
        input("label", "Label", { type: "text", autocomplete: "off", placeholder: "bug" }),
        select("priority_min", "Priority at least", [["", "Any"], ["1", "Low"], ["2", "Medium"], ["3", "High"], ["4", "Urgent"]]),
        input("due_after", "Due from", { type: "date" }),
        input("due_before", "Due until", { type: "date" }),
        active ? h("button", { type: "button", class: "ghost", onclick: () => ctx.setQuery(Object.fromEntries(FILTERS.filter((f) => f !== "sort").map((f) => [f, null]))) }, "Clear filters") : null)),
    select("sort", "Sort", /** @type {[string, string][]} */ (SORTS.filter(([s]) => kind === "project" || s !== "position").map(([v, t]) => [v === params.get("sort") && !q.get("sort") ? "" : v, t]))));
  bar.addEventListener("members", drawAssignee);
  return bar;
}

/**
 * One line makes a task; the chips show what the line will set before Enter.
 * @param {import("../app.js").Context} ctx
 * @param {api.Project} project
 * @param {(task: api.Task) => void} onCreated
 */
function quickAdd(ctx, project, onCreated) {
  const input = /** @type {HTMLInputElement} */ (h("input", {
    id: "quick-add", name: "quick-add", autocomplete: "off", maxlength: 400,
    placeholder: "Add a task: Ship it tomorrow !3 #release @me", "aria-describedby": "quick-add-help quick-add-chips",
  }));
  const chips = h("div", { class: "chips", id: "quick-add-chips", "aria-live": "polite" });
  const error = h("p", { class: "field-error", id: "quick-add-error" });
  const draw = () => {
    const parsed = parseQuickAdd(input.value);
    replace(chips,
      parsed.priority !== undefined ? h("span", { class: "chip" }, `Priority: ${PRIORITIES[parsed.priority]}`) : null,
      parsed.labels.map((l) => h("span", { class: "chip label" }, `#${l}`)),
      parsed.assignee_me ? h("span", { class: "chip" }, "Assignee: me") : null,
      parsed.due_date ? h("span", { class: "chip" }, `Due: ${formatDue(parsed.due_date)} (${parsed.due_date})`) : null);
  };
  input.addEventListener("input", draw);
  const form = h("form", {
    class: "quick-add",
    onsubmit: async (/** @type {Event} */ e) => {
      e.preventDefault();
      const parsed = parseQuickAdd(input.value);
      if (!parsed.title) {
        error.textContent = "A task needs a title.";
        return;
      }
      error.textContent = "";
      /** @type {Record<string, any>} */
      const body = { title: parsed.title };
      if (parsed.priority !== undefined) body.priority = parsed.priority;
      if (parsed.labels.length) body.labels = parsed.labels;
      if (parsed.due_date) body.due_date = parsed.due_date;
      if (parsed.assignee_me) body.assignee_id = ctx.state.user?.id;
      try {
        const task = await api.post(`/projects/${project.id}/tasks`, body);
        input.value = "";
        draw();
        onCreated(task);
      } catch (err) {
        error.textContent = err instanceof Error ? err.message : String(err);
      }
    },
  },
    h("label", { for: "quick-add", class: "sr-only" }, "New task"),
    h("span", { class: "plus", "aria-hidden": "true" }, "+"),
    input,
    h("button", { type: "submit", class: "primary" }, "Add"),
    h("p", { id: "quick-add-help", class: "sr-only" }, "Write !0 to !4 for priority, #label, @me to assign yourself, and today, tomorrow, a weekday or a date like 2026-12-24 for the due date."),
    chips, error);
  return form;
}
