// The history of a task or a project (API.md §11) in sentences: "Ana moved #12 to Done".
// Consecutive entries of one person on one task within a few minutes read as one sentence
// ("… renamed #12 to “Ship it”, then moved it to Done"), so the timeline stays quiet.

import * as api from "../api.js";
import { h, formatDue, relative } from "../dom.js";
import { PRIORITIES, statusLabel } from "../model.js";

const GROUP_MS = 5 * 60 * 1000;
const ROLES = { viewer: "viewer", editor: "editor", admin: "admin", owner: "owner" };

/**
 * What a sentence needs to know besides the entry.
 * @typedef {{names: Map<string, string>, tasks: Map<string, {number: number, title: string} | null>,
 *   projectId: string, onTask: boolean}} Lookup
 */

/** @param {any} v */
const statusName = (v) => statusLabel(v) || String(v);

/**
 * @param {Lookup} l
 * @param {string | null | undefined} id
 */
const person = (l, id) => (id ? l.names.get(id) || "someone" : "nobody");

/**
 * Phrases of one task entry, each a verb phrase about `ref` ("#12" for the first, "it" after).
 * @param {api.Entry} e
 * @param {Lookup} l
 * @returns {((ref: string, poss: string) => string)[]}
 */
function taskPhrases(e, l) {
  const title = e.changes.find((c) => c.field === "title");
  if (e.kind === "task.created") return [(ref) => `created ${ref}`];
  if (e.kind === "task.deleted") return [() => `deleted “${title?.from ?? "a task"}”`];
  if (e.kind === "comment.created") return [(ref) => `commented on ${ref}`];
  if (e.kind === "comment.updated") return [(ref) => `edited a comment on ${ref}`];
  if (e.kind === "comment.deleted") return [(ref) => `deleted a comment on ${ref}`];
  if (e.kind === "task.related" || e.kind === "task.unrelated") return [relationPhrase(e, l)];
  const file = e.changes.find((c) => c.field === "attachment");
  if (e.kind === "attachment.added") return [(ref) => `attached “${file?.to?.name ?? "a file"}” to ${ref}`];
  if (e.kind === "attachment.deleted") return [(ref) => `removed “${file?.from?.name ?? "a file"}” from ${ref}`];
  /** @type {((ref: string, poss: string) => string)[]} */
  const out = [];
  for (const c of e.changes) {
    switch (c.field) {
      case "status": out.push((ref) => `moved ${ref} to ${statusName(c.to)}`); break;
      case "title": out.push((ref) => `renamed ${ref} to “${c.to}”`); break;
      case "description": out.push((_ref, poss) => (c.to ? `edited ${poss} description` : `cleared ${poss} description`)); break;
      case "priority": out.push((ref, poss) => (c.to ? `set ${ref} to ${PRIORITIES[c.to] || c.to} priority` : `removed ${poss} priority`)); break;
      case "due_date": out.push((ref, poss) => (c.to ? `made ${ref} due ${formatDue(c.to)}` : `removed ${poss} due date`)); break;
      case "assignee_id": out.push((ref) => (!c.to ? `unassigned ${ref}` : c.to === e.actor?.id ? `took ${ref}` : `assigned ${ref} to ${person(l, c.to)}`)); break;
      case "labels": {
        const from = /** @type {string[]} */ (c.from || []);
        const to = /** @type {string[]} */ (c.to || []);
        const added = to.filter((x) => !from.includes(x));
        const removed = from.filter((x) => !to.includes(x));
        if (added.length) out.push((ref) => `labelled ${ref} ${added.join(", ")}`);
        if (removed.length) out.push((ref) => `removed the label${removed.length > 1 ? "s" : ""} ${removed.join(", ")} from ${ref}`);
        break;
      }
      case "project_id":
        out.push((ref) => (c.to === l.projectId ? `moved ${ref} here from another project` : `moved ${ref} to another project`));
        break;
      case "state_id":
        // A change of category says it already ("moved to Done"); between two columns of one
        // category it is worth a word.
        if (!e.changes.some((x) => x.field === "status")) out.push((ref) => `moved ${ref} to another column`);
        break;
      case "parent_id":
        out.push((ref) => (c.to ? `made ${ref} a subtask${l.tasks.get(c.to) ? ` of #${l.tasks.get(c.to)?.number}` : ""}` : `made ${ref} a top-level task`));
        break;
      case "blocked":
        if (e.kind === "task.updated") out.push((ref) => (c.to ? `blocked ${ref}` : `unblocked ${ref}`));
        break;
      case "position":
        // A status change says where it went already; a bare reorder is worth a word.
        if (!e.changes.some((x) => x.field === "status" || x.field === "project_id")) out.push((ref) => `reordered ${ref}`);
        break;
      default: break;
    }
  }
  if (!out.length) out.push((ref) => `changed ${ref}`);
  return out;
}

/** @type {Record<string, string>} how a relation reads from the side of the entry's task */
const RELATION_WORDS = { blocks: "blocks", blocked_by: "is blocked by", relates_to: "relates to", duplicates: "duplicates", duplicated_by: "is duplicated by" };

/**
 * "… said #12 is blocked by #7" (or "by a task of another project"), and its removal.
 * @param {api.Entry} e
 * @param {Lookup} l
 * @returns {(ref: string, poss: string) => string}
 */
function relationPhrase(e, l) {
  const c = e.changes.find((x) => x.field === "relations");
  const rel = /** @type {{kind?: string, task_id?: string} | null} */ (c ? c.to ?? c.from : null);
  const other = rel?.task_id ? l.tasks.get(rel.task_id) : null;
  const target = other ? `#${other.number}` : rel?.task_id ? "another task" : "a task of another project";
  const words = RELATION_WORDS[rel?.kind || ""] || "relates to";
  return e.kind === "task.related" ? (ref) => `said ${ref} ${words} ${target}` : (ref) => `removed that ${ref} ${words} ${target}`;
}

/**
 * The sentence of a project-level entry (members, the project, GitHub).
 * @param {api.Entry} e
 * @param {Lookup} l
 */
function projectSentence(e, l) {
  const role = e.changes.find((c) => c.field === "role");
  const who = person(l, e.user_id);
  /** @param {any} r */
  const roleName = (r) => /** @type {Record<string, string>} */ (ROLES)[r] || String(r);
  switch (e.kind) {
    case "member.added": return `added ${who} as ${roleName(role?.to)}`;
    case "member.updated": return `made ${who} ${roleName(role?.to)}`;
    case "member.removed": return e.actor && e.actor.id === e.user_id ? "left the project" : `removed ${who} from the project`;
    case "project.updated": {
      const name = e.changes.find((c) => c.field === "name");
      const parts = [];
      if (name) parts.push(`renamed the project to “${name.to}”`);
      if (e.changes.some((c) => c.field === "description")) parts.push("edited the project description");
      if (e.changes.some((c) => c.field === "states")) parts.push("changed the board's columns");
      if (e.changes.some((c) => c.field === "fields")) parts.push("changed the project's fields");
      return parts.join(" and ") || "changed the project";
    }
    case "github.synced": {
      const n = e.counts || { created: 0, updated: 0 };
      return `synced GitHub issues: ${n.created} created, ${n.updated} updated`;
    }
    default: return e.kind;
  }
}

/**
 * A task's reference as read in a sentence: "#12" (a link on the project's timeline), or its
 * title when it is gone.
 * @param {api.Entry} e
 * @param {Lookup} l
 */
function taskRef(e, l) {
  if (l.onTask) return "this task";
  const known = e.task_id ? l.tasks.get(e.task_id) : null;
  if (known) return `#${known.number}`;
  const title = e.changes.find((c) => c.field === "title");
  return title ? `“${title.to ?? title.from}”` : "a task";
}

/**
 * Groups consecutive task entries of one actor on one task (newest first, as listed).
 * @param {api.Entry[]} entries
 */
export function group(entries) {
  /** @type {api.Entry[][]} */
  const groups = [];
  for (const e of entries) {
    const last = groups[groups.length - 1];
    const head = last?.[0];
    const tail = last?.[last.length - 1];
    const sameTask = head && e.task_id && head.task_id === e.task_id && e.kind.startsWith("task.") && head.kind.startsWith("task.")
      && e.kind !== "task.deleted" && head.kind !== "task.deleted";
    if (sameTask && tail && (head.actor?.id ?? null) === (e.actor?.id ?? null) && Date.parse(tail.at) - Date.parse(e.at) < GROUP_MS) {
      last.push(e);
    } else {
      groups.push([e]);
    }
  }
  return groups;
}

/**
 * One item of the timeline: the actor, what they did, when.
 * @param {api.Entry[]} entries newest first
 * @param {Lookup} l
 */
export function item(entries, l) {
  const newest = entries[0];
  const actor = newest.actor ? newest.actor.name : newest.kind === "github.synced" ? "GitHub" : "Docket";
  let sentence;
  if (newest.task_id && /^(task|comment|attachment)\./.test(newest.kind)) {
    // Oldest first: "created #12, then assigned it to Bob and set it to High priority".
    const ref = taskRef(newest, l);
    const poss = ref === "this task" ? "this task’s" : `${ref}’s`;
    let first = true;
    sentence = entries.slice().reverse().map((e) => {
      const parts = taskPhrases(e, l).map((p) => {
        const text = first ? p(ref, poss) : p("it", "its");
        first = false;
        return text;
      });
      return parts.length > 1 ? `${parts.slice(0, -1).join(", ")} and ${parts[parts.length - 1]}` : parts[0];
    }).join(", then ");
  } else {
    sentence = projectSentence(newest, l);
  }
  const known = !l.onTask && newest.task_id ? l.tasks.get(newest.task_id) : null;
  const when = new Date(newest.at);
  return h("li", { class: "entry", dataset: { kind: newest.kind, id: String(newest.id) } },
    h("span", { class: "entry-text" },
      h("strong", null, actor), " ", sentence,
      known && newest.kind !== "task.deleted" ? h("a", { href: `/p/${l.projectId}?task=${newest.task_id}`, class: "entry-task small" }, `#${known.number} ${known.title}`) : null),
    h("time", { class: "muted small", datetime: newest.at, title: when.toLocaleString() }, relative(when)));
}
