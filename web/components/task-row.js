// A task as a line: the rows of the lists ("My tasks", "Upcoming", a project's list) and the
// badges that the board's cards show too (comments, attachments, subtasks done of all, blocked).

import * as api from "../api.js";
import { h, formatDue, isOverdue, initials } from "../dom.js";
import { statusLabel } from "../model.js";
import { priorityGlyph } from "./priority.js";

/**
 * The number of comments of a task, when it has any.
 * @param {api.Task} task
 */
export function commentBadge(task) {
  const n = task.comment_count || 0;
  return n ? h("span", { class: "comment-count", title: `${n} comment${n === 1 ? "" : "s"}`, "aria-label": `${n} comment${n === 1 ? "" : "s"}` }, String(n)) : null;
}

/**
 * The number of files attached to a task (a paperclip), when it has any.
 * @param {api.Task} task
 */
export function attachmentBadge(task) {
  const n = task.attachment_count || 0;
  const label = `${n} attachment${n === 1 ? "" : "s"}`;
  return n ? h("span", { class: "attachment-count", title: label, "aria-label": label }, String(n)) : null;
}

/**
 * Its subtasks as "done/total", when it has any (canceled ones count in neither).
 * @param {api.Task} task
 */
export function progressBadge(task) {
  const s = task.subtasks;
  if (!s || !s.total) return null;
  return h("span", { class: s.done === s.total ? "progress complete" : "progress", title: `${s.done} of ${s.total} subtasks done`, "aria-label": `${s.done} of ${s.total} subtasks done` }, `${s.done}/${s.total}`);
}

/**
 * "Blocked" while some task that blocks it is open.
 * @param {api.Task} task
 */
export function blockedBadge(task) {
  return task.blocked ? h("span", { class: "chip blocked", title: "Waits on another task" }, "Blocked") : null;
}

/**
 * A box to pick it for a bulk change, a status toggle, a title that opens the task, then labels,
 * due date, assignee, priority.
 * @param {api.Task} task
 * @param {{members: Map<string, {name: string}>, projectName?: string, stateName?: string, canEdit: boolean, onToggle: (t: api.Task) => void, href: string,
 *   picked?: boolean, onPick?: (t: api.Task, e: MouseEvent) => void}} o `onPick`: the row can be picked for a bulk change
 */
export function taskRow(task, o) {
  const done = task.status === "done";
  const assignee = task.assignee_id ? o.members.get(task.assignee_id) : null;
  const label = statusLabel(task.status) || task.status;
  return h("li", { class: `row status-${task.status}${o.picked ? " picked" : ""}`, dataset: { id: task.id } },
    o.onPick ? h("input", {
      type: "checkbox", class: "pick", checked: !!o.picked, "aria-label": `Select #${task.number} ${task.title}`,
      onclick: (/** @type {MouseEvent} */ e) => o.onPick?.(task, e),
    }) : null,
    h("button", {
      type: "button", class: "status-toggle", "aria-pressed": done ? "true" : "false",
      "aria-label": `${label}: mark “${task.title}” ${done ? "not done" : "done"}`,
      disabled: !o.canEdit, onclick: () => o.onToggle(task),
    }, h("span", { class: "status-dot", "aria-hidden": "true" })),
    h("a", { href: o.href, class: "row-title" }, h("span", { class: "num" }, `#${task.number}`), " ", task.title),
    h("span", { class: "row-meta" },
      o.projectName ? h("span", { class: "chip project-chip" }, o.projectName) : null,
      task.labels.map((l) => h("span", { class: "chip label" }, l)),
      task.due_date ? h("span", { class: isOverdue(task.due_date) && !done ? "due overdue" : "due", title: task.due_date }, formatDue(task.due_date)) : null,
      o.stateName ? h("span", { class: "chip state-chip" }, o.stateName) : null,
      commentBadge(task),
      attachmentBadge(task),
      progressBadge(task),
      blockedBadge(task),
      assignee ? h("span", { class: "avatar", title: assignee.name, "aria-label": `Assigned to ${assignee.name}` }, initials(assignee.name)) : null,
      priorityGlyph(task.priority)));
}
