// Task detail: every field edits in place and saves itself with If-Match. When someone else
// changed the task meanwhile (412), both versions are shown and the person chooses; what they
// typed stays in the form until they do, and leaving with unsaved input asks first.

import * as api from "../api.js";
import { h, replace, announce, dialog, confirmDialog, debounce } from "../dom.js";
import { renderMarkdown } from "../markdown.js";
import { unsaved } from "../app.js";
import { STATUSES, PRIORITIES, membersOf } from "./list.js";
import { commentThread } from "./comments.js";
import { timeline } from "./activity.js";

/** @typedef {"title"|"description"|"status"|"priority"|"due_date"|"labels"|"assignee_id"} Field */
/** @type {Field[]} */
const FIELDS = ["title", "description", "status", "priority", "due_date", "labels", "assignee_id"];
/** @type {Record<Field, string>} */
const LABELS = { title: "Title", description: "Description", status: "Status", priority: "Priority", due_date: "Due date", labels: "Labels", assignee_id: "Assignee" };

/**
 * @param {any} a
 * @param {any} b
 */
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

/**
 * @param {import("../app.js").Context} ctx
 * @param {HTMLElement} host
 * @param {string} taskId
 * @param {{onSaved: (t: api.Task) => void, onDeleted: (id: string) => void}} hooks
 * @returns {Promise<{onEntry: (entry: api.Entry) => void} | null>} what live updates call
 */
export async function openTaskPanel(ctx, host, taskId, hooks) {
  /** @type {api.Task} */
  let base;
  try {
    base = await api.get(`/tasks/${taskId}`, { signal: ctx.signal });
  } catch (e) {
    if (e instanceof api.ApiError && e.status === 404) {
      announce("That task does not exist any more, or you cannot see it.", { error: true });
      return null;
    }
    throw e;
  }
  const project = ctx.state.projects.find((p) => p.id === base.project_id) || ctx.project;
  const canEdit = api.can(project?.my_role, "editor");
  const members = await membersOf(base.project_id).catch(() => []);
  /** @type {Record<Field, any>} */
  const draft = /** @type {Record<Field, any>} */ (Object.fromEntries(FIELDS.map((f) => [f, base[f]])));
  let saving = false;
  let again = false;
  let conflict = false;
  const dirty = () => FIELDS.some((f) => !same(draft[f], base[f]));
  const guard = () => dirty() || saving;
  unsaved.add(guard);

  const status = h("p", { class: "save-state muted small", id: "save-state", "aria-live": "polite" }, "");
  /** @type {Record<string, HTMLElement>} */
  const errors = {};
  /** @param {string} field */
  const errorFor = (field) => (errors[field] = h("p", { class: "field-error", id: `task-${field}-error` }));

  const scheduled = debounce(() => save(), 700);
  /** @param {Field} field */
  const changed = (field) => {
    return (/** @type {any} */ value) => {
      draft[field] = value;
      status.textContent = "Unsaved changes";
      scheduled();
    };
  };

  const title = /** @type {HTMLInputElement} */ (h("input", { id: "task-title", class: "title-input", value: draft.title, maxlength: 200, readonly: !canEdit, "aria-describedby": "task-title-error", "aria-label": "Title" }));
  title.addEventListener("input", () => changed("title")(title.value));

  const description = /** @type {HTMLTextAreaElement} */ (h("textarea", { id: "task-description", rows: 10, maxlength: 20000, "aria-describedby": "task-description-error" }));
  description.value = draft.description;
  description.addEventListener("input", () => changed("description")(description.value));
  const preview = h("div", { class: "markdown", id: "task-description-view" });
  const drawPreview = () => replace(preview, draft.description ? renderMarkdown(draft.description) : h("p", { class: "muted" }, canEdit ? "No description. Select Edit to write one (Markdown)." : "No description."));
  let editing = false;
  const editButton = h("button", { type: "button", class: "ghost small", id: "edit-description", "aria-pressed": "false", onclick: () => setEditing(!editing) }, "Edit");
  /** @param {boolean} on */
  const setEditing = (on) => {
    editing = on;
    editButton.textContent = on ? "Preview" : "Edit";
    editButton.setAttribute("aria-pressed", String(on));
    description.hidden = !on;
    preview.hidden = on;
    if (!on) drawPreview();
    else description.focus();
  };

  /**
   * @param {Field} field
   * @param {[string, string][]} options
   */
  const select = (field, options) => {
    const el = /** @type {HTMLSelectElement} */ (h("select", { id: `task-${field}`, disabled: !canEdit, "aria-describedby": `task-${field}-error` },
      options.map(([v, t]) => h("option", { value: v, selected: String(draft[field] ?? "") === v }, t))));
    el.addEventListener("change", () => {
      const v = el.value;
      changed(field)(field === "priority" ? Number(v) : v === "" ? null : v);
    });
    return el;
  };
  const statusSelect = select("status", STATUSES.map(([v, t]) => [v, t]));
  const prioritySelect = select("priority", PRIORITIES.map((t, i) => [String(i), t]));
  const assigneeSelect = select("assignee_id", [["", "Nobody"], ...members.map((m) => /** @type {[string, string]} */ ([m.user.id, m.user.name]))]);
  const due = /** @type {HTMLInputElement} */ (h("input", { id: "task-due_date", type: "date", value: draft.due_date || "", readonly: !canEdit, "aria-describedby": "task-due_date-error" }));
  due.addEventListener("change", () => changed("due_date")(due.value || null));
  const labels = /** @type {HTMLInputElement} */ (h("input", { id: "task-labels", value: draft.labels.join(", "), readonly: !canEdit, autocomplete: "off", "aria-describedby": "task-labels-help task-labels-error" }));
  labels.addEventListener("input", () => changed("labels")(labels.value.split(",").map((l) => l.trim().toLowerCase()).filter(Boolean)));

  /** Puts `draft` back into the inputs (after choosing the other version). */
  const fill = () => {
    title.value = draft.title;
    description.value = draft.description;
    statusSelect.value = draft.status;
    prioritySelect.value = String(draft.priority);
    assigneeSelect.value = draft.assignee_id || "";
    due.value = draft.due_date || "";
    labels.value = draft.labels.join(", ");
    drawPreview();
  };

  async function save() {
    scheduled.flush();
    if (!canEdit || conflict) return;
    if (saving) {
      again = true;
      return;
    }
    /** @type {Record<string, any>} */
    const body = {};
    for (const f of FIELDS) if (!same(draft[f], base[f])) body[f] = draft[f];
    if (!Object.keys(body).length) return;
    saving = true;
    status.textContent = "Saving…";
    for (const el of Object.values(errors)) el.textContent = "";
    try {
      const updated = await api.patch(`/tasks/${base.id}`, body, { ifMatch: base.version });
      base = updated;
      status.textContent = dirty() ? "Unsaved changes" : "Saved";
      hooks.onSaved(updated);
    } catch (e) {
      if (e instanceof api.ApiError && e.status === 412) {
        saving = false;
        await resolveConflict();
        return;
      }
      status.textContent = "Not saved";
      if (e instanceof api.ApiError && e.errors.length) {
        for (const fe of e.errors) {
          const field = fe.field.split(".")[0];
          if (errors[field]) errors[field].textContent = e.fieldMessage(field);
        }
      } else {
        announce(e instanceof Error ? e.message : String(e), { error: true });
      }
      if (e instanceof api.ApiError && e.status === 403) {
        announce("You may not edit this task any more (your role changed).", { error: true });
      }
    } finally {
      saving = false;
    }
    if (again) {
      again = false;
      await save();
    }
  }

  /** Someone else saved first: show their version next to this one and let the person choose. */
  async function resolveConflict() {
    conflict = true;
    status.textContent = "Changed by someone else — choose a version";
    /** @type {api.Task} */
    const theirs = await api.get(`/tasks/${base.id}`);
    const mine = FIELDS.filter((f) => !same(draft[f], base[f]));
    const differing = FIELDS.filter((f) => !same(draft[f], theirs[f]));
    /** @param {Field} f @param {any} v */
    const show = (f, v) => {
      if (f === "assignee_id") return v ? members.find((m) => m.user.id === v)?.user.name || "someone" : "Nobody";
      if (f === "priority") return PRIORITIES[v];
      if (f === "status") return STATUSES.find(([s]) => s === v)?.[1] || v;
      if (f === "labels") return v.length ? v.join(", ") : "none";
      return v === null || v === "" ? "(empty)" : String(v);
    };
    const choice = await dialog("This task changed while you were editing", (close) => [
      h("p", null, "Someone else saved this task after you opened it. Nothing has been overwritten: pick the version to keep."),
      h("table", { class: "compare", id: "conflict-compare" },
        h("thead", null, h("tr", null, h("th", { scope: "col" }, "Field"), h("th", { scope: "col" }, "Your version"), h("th", { scope: "col" }, "Saved meanwhile"))),
        h("tbody", null, differing.map((f) => h("tr", { class: mine.includes(f) ? "mine" : "" },
          h("th", { scope: "row" }, LABELS[f]),
          h("td", null, h("div", { class: "compare-value" }, show(f, draft[f]))),
          h("td", null, h("div", { class: "compare-value" }, show(f, theirs[f]))))))),
      h("div", { class: "actions" },
        h("button", { type: "button", id: "take-theirs", onclick: () => close("theirs") }, "Use the saved version"),
        h("button", { type: "button", class: "primary", id: "keep-mine", onclick: () => close("mine") }, "Keep my changes")),
    ]);
    conflict = false;
    if (choice === "theirs") {
      base = theirs;
      for (const f of FIELDS) draft[f] = theirs[f];
      fill();
      status.textContent = "Showing the saved version";
      hooks.onSaved(theirs);
    } else if (choice === "mine") {
      // Apply my edits on top of theirs: fields I did not touch keep their new values.
      const edited = new Set(mine);
      for (const f of FIELDS) if (!edited.has(f)) draft[f] = theirs[f];
      base = theirs;
      fill();
      await save();
    } else {
      status.textContent = "Unsaved changes (conflict not resolved)";
    }
  }

  async function close() {
    await save();
    if (dirty() && !window.confirm("Your last change could not be saved. Close anyway?")) return;
    unsaved.delete(guard);
    ctx.setQuery({ task: null });
  }
  ctx.keys.escape = () => {
    if (document.activeElement === description && editing) {
      setEditing(false);
      return true;
    }
    close();
    return true;
  };

  async function remove() {
    const ok = await confirmDialog("Delete task", `Delete #${base.number} “${base.title}”?`, "Delete task", true);
    if (!ok) return;
    try {
      await api.del(`/tasks/${base.id}`, { ifMatch: base.version });
      unsaved.delete(guard);
      hooks.onDeleted(base.id);
      announce(`Deleted #${base.number}.`, { visible: true });
      ctx.setQuery({ task: null });
    } catch (e) {
      announce(e instanceof api.ApiError && e.status === 412 ? "Someone changed this task meanwhile; reopen it to see the change before deleting." : e instanceof Error ? e.message : String(e), { error: true });
    }
  }

  /**
   * @param {string} id
   * @param {string} text
   * @param {HTMLElement} control
   * @param {HTMLElement | null} [help]
   */
  const row = (id, text, control, help) => h("div", { class: "prop" }, h("label", { for: id }, text), control, help || null, errorFor(id.replace("task-", "")));
  // --- comments and activity, as two tabs
  const me = /** @type {api.User} */ (ctx.state.user);
  const commentsPanel = h("div", { id: "task-comments", role: "tabpanel", "aria-labelledby": "tab-comments", tabindex: "-1" });
  const activityPanel = h("div", { id: "task-activity", role: "tabpanel", "aria-labelledby": "tab-activity", tabindex: "-1", hidden: true });
  /** @param {number | undefined} n */
  const commentsLabel = (n) => (n === undefined ? "Comments" : `Comments (${n})`);
  const commentsTab = h("button", { type: "button", role: "tab", id: "tab-comments", "aria-selected": "true", "aria-controls": "task-comments" }, commentsLabel(base.comment_count));
  const activityTab = h("button", { type: "button", role: "tab", id: "tab-activity", "aria-selected": "false", "aria-controls": "task-activity", tabindex: "-1" }, "Activity");
  /** @type {ReturnType<typeof timeline> | null} */
  let history = null;
  /** @param {"comments" | "activity"} which */
  const showTab = (which) => {
    const comments = which === "comments";
    commentsTab.setAttribute("aria-selected", String(comments));
    activityTab.setAttribute("aria-selected", String(!comments));
    commentsTab.tabIndex = comments ? 0 : -1;
    activityTab.tabIndex = comments ? -1 : 0;
    commentsPanel.hidden = !comments;
    activityPanel.hidden = comments;
    if (!comments && !history) {
      history = timeline(activityPanel, { path: `/tasks/${base.id}/activity`, projectId: base.project_id, onTask: true, signal: ctx.signal, label: "Task activity" });
    }
  };
  commentsTab.addEventListener("click", () => showTab("comments"));
  activityTab.addEventListener("click", () => showTab("activity"));
  const tablist = h("div", { role: "tablist", class: "detail-tabs", "aria-label": "Comments and activity" }, commentsTab, activityTab);
  tablist.addEventListener("keydown", (e) => {
    if (e.key !== "ArrowLeft" && e.key !== "ArrowRight" && e.key !== "Home" && e.key !== "End") return;
    e.preventDefault();
    e.stopPropagation();
    const toActivity = e.key === "End" || ((e.key === "ArrowRight" || e.key === "ArrowLeft") && activityTab.tabIndex !== 0);
    showTab(toActivity ? "activity" : "comments");
    (toActivity ? activityTab : commentsTab).focus();
  });
  const thread = commentThread(commentsPanel, {
    task: base, me, members: () => members, canComment: canEdit,
    canModerate: api.can(project?.my_role, "admin"), signal: ctx.signal, guard: unsaved,
    onCount: (n) => {
      commentsTab.textContent = commentsLabel(n);
      if (base.comment_count !== n) {
        base = { ...base, comment_count: n };
        hooks.onSaved(base);
      }
    },
  });
  thread.ready.catch((e) => {
    if (!(e instanceof DOMException && e.name === "AbortError")) replace(commentsPanel, h("p", { class: "error-text" }, e instanceof Error ? e.message : String(e)));
  });
  const together = h("section", { class: "together", "aria-label": "Comments and activity" }, tablist, commentsPanel, activityPanel);

  const panel = h("aside", { class: "panel", id: "task-panel", "aria-labelledby": "task-panel-heading" },
    h("div", { class: "panel-head" },
      h("h2", { id: "task-panel-heading", class: "small muted" }, `#${base.number}`, project ? ` · ${project.is_inbox ? "Inbox" : project.name}` : ""),
      status,
      h("button", { type: "button", class: "icon", id: "close-task", "aria-label": "Close task (Esc)", onclick: close }, "×")),
    h("div", { class: "panel-body" },
      h("div", { class: "prop" }, title, errorFor("title")),
      canEdit ? null : h("p", { class: "notice", id: "read-only-notice" }, "You can read this project but not change it."),
      h("div", { class: "props" },
        row("task-status", "Status", statusSelect),
        row("task-priority", "Priority", prioritySelect),
        row("task-due_date", "Due", due),
        row("task-assignee_id", "Assignee", assigneeSelect),
        row("task-labels", "Labels", labels, h("p", { class: "hint", id: "task-labels-help" }, "Comma-separated"))),
      base.source ? h("p", { class: "source" }, "Imported from ", h("a", { href: base.source.url, rel: "noopener noreferrer", target: "_blank", id: "task-source" }, `${base.source.repository}#${base.source.number}`)) : null,
      h("div", { class: "description" },
        h("div", { class: "description-head" }, h("h3", { class: "small" }, h("label", { for: "task-description" }, "Description")), canEdit ? editButton : null),
        description, preview, errorFor("description")),
      together,
      canEdit ? h("div", { class: "panel-foot" }, h("button", { type: "button", class: "danger ghost", id: "delete-task", onclick: remove }, "Delete task")) : null));
  description.hidden = true;
  drawPreview();
  replace(host, panel);
  document.body.classList.add("panel-open");
  ctx.signal.addEventListener("abort", () => {
    document.body.classList.remove("panel-open");
  });
  title.focus();

  /** Someone changed this task or its comments (a live event): show it unless it is ours. */
  let refreshing = false;
  async function refreshTask() {
    if (refreshing || dirty() || saving || conflict) return;
    refreshing = true;
    try {
      /** @type {api.Task} */
      const fresh = await api.get(`/tasks/${base.id}`, { signal: ctx.signal });
      if (fresh.version > base.version && !dirty() && !saving && !conflict) {
        base = fresh;
        for (const f of FIELDS) draft[f] = fresh[f];
        fill();
        status.textContent = "Updated just now";
      }
    } catch {
      // Gone or unreachable: the next event or a reload says so.
    } finally {
      refreshing = false;
    }
  }
  return {
    onEntry(entry) {
      if (entry.task_id !== base.id || ctx.signal.aborted) return;
      if (entry.kind === "task.deleted") {
        unsaved.delete(guard);
        announce(`#${base.number} was deleted${entry.actor ? " by " + entry.actor.name : ""}.`, { visible: true });
        hooks.onDeleted(base.id);
        ctx.setQuery({ task: null });
        return;
      }
      if (entry.kind.startsWith("comment.")) thread.reload().catch(() => {});
      else refreshTask();
      history?.reload().catch(() => {});
    },
  };
}
