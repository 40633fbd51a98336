// Task detail, beside the list or the board (full screen on a phone, where the back gesture or
// a swipe to the right closes it): the fields (task-editor.js saves them with If-Match and
// resolves a 412 with the person), its subtasks and relations (task-workflow.js), the attached
// files (attachments.js; files dropped anywhere on the panel are uploaded), the comments and the
// task's activity as two tabs, deletion
// (with Undo), and live updates. Leaving with unsaved input asks first.
//
// Focus: opening a task focuses the panel itself, never a field, so the shortcuts (j/k, Esc, ?)
// keep working and no key lands in the title; a field takes focus on a click or `e`, and Esc
// from a field goes back to the panel (a second Esc closes it).

import * as api from "../api.js";
import { h, replace, announce, debounce } from "../dom.js";
import { unsaved, membersOf, statesOf } from "../model.js";
import { FIELDS, dirty, fieldInputs, changed, drawPreview, setEditing, fill, save, sameField } from "./task-editor.js";
import { commentThread } from "./comment-thread.js";
import { timeline } from "./timeline.js";
import { priorityGlyph } from "./priority.js";
import { deleteLater } from "./undo.js";
import { subtaskSection, relationSection } from "./task-workflow.js";
import { attachmentList, dropTarget } from "./attachments.js";
import { timeSection } from "./timer.js";
import { fieldSection } from "./task-fields.js";

/**
 * @typedef {import("./task-editor.js").Panel} Panel
 * @typedef {import("./task-editor.js").Field} Field
 * @typedef {{section: HTMLElement, thread: ReturnType<typeof commentThread>, history: ReturnType<typeof timeline> | null,
 *   subtasks: ReturnType<typeof subtaskSection>, relations: ReturnType<typeof relationSection>,
 *   files: import("./attachments.js").FilesHandle, fields: ReturnType<typeof fieldSection>}} Discussion
 *   what follows live events: the comments, the history, the subtasks, the relations, the files and the custom fields
 * @typedef {{id: string, onEntry: (entry: api.Entry) => void, escape: () => boolean, edit: () => void,
 *   retire: () => Promise<boolean>}} OpenPanel what the view holds of the open panel: live updates,
 *   Esc, `e`, and `retire` (saves what is left before another task takes its place; false when the
 *   person chose to stay)
 */

/**
 * @param {import("../model.js").Context} ctx
 * @param {HTMLElement} host
 * @param {string} taskId
 * @param {import("./task-editor.js").Hooks} hooks
 * @returns {Promise<OpenPanel | null>}
 */
export async function openTaskPanel(ctx, host, taskId, hooks) {
  /** @type {import("./task-dates.js").TimedTask} */
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
  const [members, states] = await Promise.all([membersOf(base.project_id).catch(() => []), statesOf(base.project_id).catch(() => [])]);
  /** @type {Record<Field, any>} */
  const draft = /** @type {Record<Field, any>} */ (Object.fromEntries(FIELDS.map((f) => [f, base[f] ?? null])));
  /** @type {Record<string, HTMLElement>} */
  const errors = {};
  /** @type {Panel} */
  const p = {
    ctx, hooks, base, draft, members, states, project, canEdit,
    inputs: fieldInputs(draft, { canEdit, members, states, changed: (f, v) => changed(p, f, v), toggleEditing: () => setEditing(p, !p.editing),
      zone: /** @type {{time_zone?: string}} */ (ctx.state.user)?.time_zone || "UTC", errors }),
    status: h("p", { class: "save-state muted small", id: "save-state", "aria-live": "polite" }, ""),
    errors,
    scheduled: debounce(() => save(p), 700),
    saving: false, again: false, pending: null, conflict: false, editing: false, refreshing: false,
    guard: () => dirty(p) || p.saving,
  };
  unsaved.add(p.guard);
  const talk = discussion(p);
  const panel = panelView(p, talk);
  if (canEdit) dropTarget(panel, (files) => talk.files.upload(files));
  p.inputs.description.hidden = true;
  drawPreview(p);
  replace(host, panel);
  document.body.classList.add("panel-open");
  ctx.signal.addEventListener("abort", () => {
    document.body.classList.remove("panel-open");
    unsaved.delete(p.guard);
  });
  swipeToClose(p, panel);
  panel.focus();
  return {
    id: base.id,
    onEntry: (entry) => onEntry(p, talk, entry),
    escape: () => escape(p, panel),
    edit: () => {
      if (!canEdit) return;
      p.inputs.title.focus();
      p.inputs.title.select();
    },
    retire: () => retire(p),
  };
}

/**
 * Esc: from a field back to the panel (leaving the description's editor), else close.
 * @param {Panel} p
 * @param {HTMLElement} panel
 */
function escape(p, panel) {
  const el = document.activeElement;
  if (el instanceof HTMLElement && el !== panel && panel.contains(el) && el.matches("input, textarea, select")) {
    if (el === p.inputs.description && p.editing) setEditing(p, false);
    save(p);
    panel.focus();
    return true;
  }
  close(p);
  return true;
}

/**
 * A swipe to the right on a phone's full-screen panel goes back, like the system's gesture.
 * @param {Panel} p
 * @param {HTMLElement} panel
 */
function swipeToClose(p, panel) {
  /** @type {{x: number, y: number} | null} */
  let from = null;
  panel.addEventListener("pointerdown", (e) => {
    from = e.pointerType === "touch" && window.matchMedia("(max-width: 767px)").matches ? { x: e.clientX, y: e.clientY } : null;
  });
  panel.addEventListener("pointerup", (e) => {
    if (from && e.clientX - from.x > 80 && Math.abs(e.clientY - from.y) < 40) close(p);
    from = null;
  });
}

/**
 * Before another task takes the panel's place: saves what is left.
 * @param {Panel} p
 */
async function retire(p) {
  await save(p);
  if (dirty(p) && !window.confirm("Your last change could not be saved. Leave this task anyway?")) return false;
  unsaved.delete(p.guard);
  return true;
}

/**
 * The panel: head (number, project, save state, close), fields, description, files, the
 * discussion.
 * @param {Panel} p
 * @param {Discussion} talk the subtasks, relations, files, comments and activity
 */
function panelView(p, talk) {
  const { base, project, canEdit, inputs } = p;
  /** @param {string} field */
  const errorFor = (field) => (p.errors[field] = h("p", { class: "field-error", id: `task-${field}-error` }));
  /**
   * @param {string} id
   * @param {string} text
   * @param {HTMLElement} control
   * @param {HTMLElement | null} [help]
   */
  const row = (id, text, control, help) => h("div", { class: "prop" }, h("label", { for: id }, text), control, help || null, errorFor(id.replace("task-", "")));
  return h("aside", { class: "panel", id: "task-panel", tabindex: "-1", "aria-labelledby": "task-panel-heading" },
    h("div", { class: "panel-head" },
      h("button", { type: "button", class: "icon back-task", "aria-label": "Back", onclick: () => close(p) }, "←"),
      h("h2", { id: "task-panel-heading", class: "small muted" }, `#${base.number}`, project ? ` · ${project.is_inbox ? "Inbox" : project.name}` : ""),
      p.status,
      h("button", { type: "button", class: "icon", id: "close-task", "aria-label": "Close task (Esc)", onclick: () => close(p) }, "×")),
    h("div", { class: "panel-body" },
      h("div", { class: "prop" }, inputs.title, errorFor("title")),
      canEdit ? null : h("p", { class: "notice", id: "read-only-notice" }, "You can read this project but not change it."),
      h("div", { class: "props" },
        row("task-state_id", "State", inputs.state),
        row("task-priority", "Priority", h("div", { class: "with-glyph" }, inputs.priority, h("span", { class: "glyph-slot", id: "task-priority-glyph" }, priorityGlyph(p.draft.priority)))),
        row("task-assignee_id", "Assignee", inputs.assignee),
        row("task-labels", "Labels", inputs.labels, h("p", { class: "hint", id: "task-labels-help" }, "Comma-separated"))),
      inputs.dates.section,
      timeSection({ task: base, canEdit, signal: p.ctx.signal }),
      talk.fields.section,
      base.source ? h("p", { class: "source" }, "Imported from ", h("a", { href: base.source.url, rel: "noopener noreferrer", target: "_blank", id: "task-source" }, `${base.source.repository}#${base.source.number}`)) : null,
      h("div", { class: "description" },
        h("div", { class: "description-head" }, h("h3", { class: "small" }, h("label", { for: "task-description" }, "Description")), canEdit ? inputs.editButton : null),
        inputs.description, inputs.preview, errorFor("description")),
      talk.subtasks.section,
      talk.relations.section,
      talk.files.section,
      talk.section,
      canEdit ? h("div", { class: "panel-foot" }, h("button", { type: "button", class: "danger ghost", id: "delete-task", onclick: () => remove(p) }, "Delete task")) : null));
}

/**
 * The comments and the task's activity, as two tabs (the activity loads when first shown).
 * @param {Panel} p
 * @returns {Discussion}
 */
function discussion(p) {
  const { ctx, base } = p;
  const commentsPanel = h("div", { id: "task-comments", role: "tabpanel", "aria-labelledby": "tab-comments", tabindex: "-1" });
  const activityPanel = h("div", { id: "task-activity", role: "tabpanel", "aria-labelledby": "tab-activity", tabindex: "-1", hidden: true });
  /** @param {number | undefined} n */
  const commentsLabel = (n) => (n === undefined ? "Comments" : `Comments (${n})`);
  const commentsTab = h("button", { type: "button", role: "tab", id: "tab-comments", "aria-selected": "true", "aria-controls": "task-comments" }, commentsLabel(base.comment_count));
  const activityTab = h("button", { type: "button", role: "tab", id: "tab-activity", "aria-selected": "false", "aria-controls": "task-activity", tabindex: "-1" }, "Activity");
  /** @param {"comments" | "activity"} which */
  const showTab = (which) => {
    const comments = which === "comments";
    commentsTab.setAttribute("aria-selected", String(comments));
    activityTab.setAttribute("aria-selected", String(!comments));
    commentsTab.tabIndex = comments ? 0 : -1;
    activityTab.tabIndex = comments ? -1 : 0;
    commentsPanel.hidden = !comments;
    activityPanel.hidden = comments;
    if (!comments && !d.history) {
      d.history = timeline(activityPanel, { path: `/tasks/${base.id}/activity`, projectId: base.project_id, onTask: true, signal: ctx.signal, label: "Task activity" });
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
  const files = attachmentList({
    task: base, me: /** @type {api.User} */ (ctx.state.user), canUpload: p.canEdit,
    canModerate: api.can(p.project?.my_role, "admin"), signal: ctx.signal,
    onCount: (n) => {
      if (p.base.attachment_count !== n) {
        p.base = { ...p.base, attachment_count: n };
        p.hooks.onSaved(p.base);
      }
    },
    onChange: () => thread.redraw(),
  });
  files.ready.catch((e) => {
    if (!(e instanceof DOMException && e.name === "AbortError")) announce(e instanceof Error ? e.message : String(e), { error: true });
  });
  const thread = commentThread(commentsPanel, {
    task: base, me: /** @type {api.User} */ (ctx.state.user), members: () => p.members, canComment: p.canEdit,
    canModerate: api.can(p.project?.my_role, "admin"), signal: ctx.signal, guard: unsaved, files,
    onCount: (n) => {
      commentsTab.textContent = commentsLabel(n);
      if (p.base.comment_count !== n) {
        p.base = { ...p.base, comment_count: n };
        p.hooks.onSaved(p.base);
      }
    },
  });
  thread.ready.catch((e) => {
    if (!(e instanceof DOMException && e.name === "AbortError")) replace(commentsPanel, h("p", { class: "error-text" }, e instanceof Error ? e.message : String(e)));
  });
  const where = { ctx, task: base, canEdit: p.canEdit, open: (/** @type {string} */ id) => ctx.setQuery({ task: id }) };
  /** @type {Discussion} */
  const d = {
    section: h("section", { class: "together", "aria-label": "Comments and activity" }, tablist, commentsPanel, activityPanel), thread, history: null,
    subtasks: subtaskSection(where), relations: relationSection(where), files,
    fields: fieldSection({
      task: base, canEdit: p.canEdit, members: p.members, signal: ctx.signal, base: () => p.base,
      idle: () => (p.pending || Promise.resolve()).catch(() => {}),
      saved: (t) => {
        // The built-in fields not being edited follow the task as saved (it may be someone else's).
        for (const f of FIELDS) if (sameField(f, p.draft[f], p.base[f])) p.draft[f] = /** @type {Record<string, any>} */ (t)[f] ?? null;
        p.base = t;
        fill(p);
        d.fields.show(t);
        p.hooks.onSaved(t);
      },
    }),
  };
  return d;
}

/**
 * Saves what is left, asks when that fails, then closes the panel.
 * @param {Panel} p
 */
async function close(p) {
  await save(p);
  if (dirty(p) && !window.confirm("Your last change could not be saved. Close anyway?")) return;
  unsaved.delete(p.guard);
  p.ctx.setQuery({ task: null });
}

/**
 * Deletes the task, with Undo: it leaves the list at once and is deleted when the toast ends.
 * @param {Panel} p
 */
async function remove(p) {
  await save(p);
  const task = p.base;
  const { hooks } = p;
  unsaved.delete(p.guard);
  hooks.onHidden(task.id);
  p.ctx.setQuery({ task: null });
  deleteLater([task], {
    message: `Deleted #${task.number} “${task.title}”`,
    restore: () => hooks.onRestored(task.id),
    deleted: (failed, why) => {
      if (!failed.length) return hooks.onDeleted(task.id);
      announce(`#${task.number} was not deleted: ${why}.`, { error: true });
      hooks.onRestored(task.id);
    },
  });
}

/**
 * A live event about this task: it was deleted, its comments changed, or its fields did.
 * @param {Panel} p
 * @param {Discussion} talk
 * @param {api.Entry} entry
 */
function onEntry(p, talk, entry) {
  if (p.ctx.signal.aborted) return;
  // A subtask changed, or a task became (or stopped being) one of this task's subtasks.
  const here = p.base.id;
  if (entry.task_id && entry.task_id !== here && (talk.subtasks.has(entry.task_id) || entry.changes.some((c) => c.field === "parent_id" && (c.to === here || c.from === here)))) {
    talk.subtasks.reload();
  }
  if (entry.task_id !== here) return;
  if (entry.kind === "task.related" || entry.kind === "task.unrelated" || entry.changes.some((c) => c.field === "blocked")) talk.relations.reload();
  if (entry.kind === "task.deleted") {
    unsaved.delete(p.guard);
    announce(`#${p.base.number} was deleted${entry.actor ? " by " + entry.actor.name : ""}.`, { visible: true });
    p.hooks.onDeleted(p.base.id);
    p.ctx.setQuery({ task: null });
    return;
  }
  if (entry.kind.startsWith("comment.")) {
    talk.thread.reload().catch(() => {});
    // A comment's files go with it.
    if (entry.kind === "comment.deleted") talk.files.reload().catch(() => {});
  } else if (entry.kind.startsWith("attachment.")) talk.files.reload().catch(() => {});
  else refreshTask(p).then(() => talk.fields.show(p.base));
  talk.history?.reload().catch(() => {});
}

/**
 * Someone changed this task (a live event): show it unless this person is editing it.
 * @param {Panel} p
 */
async function refreshTask(p) {
  if (p.refreshing || dirty(p) || p.saving || p.conflict) return;
  p.refreshing = true;
  try {
    /** @type {import("./task-dates.js").TimedTask} */
    const fresh = await api.get(`/tasks/${p.base.id}`, { signal: p.ctx.signal });
    if (fresh.version > p.base.version && !dirty(p) && !p.saving && !p.conflict) {
      p.base = fresh;
      for (const f of FIELDS) p.draft[f] = fresh[f] ?? null;
      fill(p);
      p.status.textContent = "Updated just now";
    }
  } catch {
    // Gone or unreachable: the next event or a reload says so.
  } finally {
    p.refreshing = false;
  }
}
