// The comment thread of a task (API.md §10): oldest first and paged, Markdown through the safe
// renderer, edit (If-Match) and delete of one's own comments (and delete for the project's
// admins and owner), and `@` mention completion from the project's members. Files dropped onto
// a comment are attached to it; files pasted (a screenshot) or dropped into the comment box
// wait there and are attached to the comment it sends (attachments.js uploads them).

import * as api from "../api.js";
import { h, replace, announce, confirmDialog, relative } from "../dom.js";
import { renderMarkdown } from "../markdown.js";
import { mentionCompletion } from "./mentions.js";
import { dropTarget } from "./attachments.js";

/**
 * @typedef {{task: api.Task, me: api.User, members: () => api.Member[], canComment: boolean,
 *   canModerate: boolean, signal: AbortSignal, onCount: (n: number) => void, guard: Set<() => boolean>,
 *   files?: import("./attachments.js").FilesHandle}} ThreadOptions
 * @typedef {{o: ThreadOptions, path: string, host: HTMLElement, comments: api.Comment[], cursor: string | null,
 *   editing: Map<string, HTMLElement>, list: HTMLElement, more: HTMLButtonElement, empty: HTMLElement,
 *   body: HTMLTextAreaElement, error: HTMLElement, send: HTMLButtonElement, staged: File[], chips: HTMLElement}} Thread
 *   `editing`: the comments being edited, whose elements survive a reload
 */

/**
 * The thread and its composer under `host`. Returns `reload` (for live updates).
 * @param {HTMLElement} host
 * @param {ThreadOptions} o
 */
export function commentThread(host, o) {
  /** @type {Thread} */
  const t = {
    o, host, path: `/tasks/${o.task.id}/comments`, comments: [], cursor: null, editing: new Map(),
    list: h("ol", { class: "comments", id: "comments", "aria-label": "Comments" }),
    more: /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: "ghost small load-more", id: "more-comments", hidden: true, onclick: () => loadMore(t) }, "Show more comments")),
    empty: h("p", { class: "muted", id: "no-comments", hidden: true }, o.canComment ? "No comments yet. Start the conversation below." : "No comments yet."),
    body: /** @type {HTMLTextAreaElement} */ (h("textarea", { id: "comment-body", rows: 3, maxlength: 10000, "aria-describedby": "comment-help comment-error" })),
    error: h("p", { class: "field-error", id: "comment-error" }),
    send: /** @type {HTMLButtonElement} */ (h("button", { type: "submit", class: "primary", id: "send-comment" }, "Comment")),
    staged: [],
    chips: h("ul", { class: "staged-files", id: "staged-files", "aria-label": "Files to attach to your comment" }),
  };
  const draft = () => t.body.value.trim() !== "" || t.staged.length > 0;
  o.guard.add(draft);
  o.signal.addEventListener("abort", () => o.guard.delete(draft));

  replace(host, t.list, t.empty, t.more, composer(t));

  const ready = loadMore(t);
  return { ready, reload: () => reload(t), redraw: () => draw(t) };
}

/**
 * Files pasted or dropped into the comment box wait as chips until the comment is sent.
 * @param {Thread} t
 * @param {File[]} files
 */
function stage(t, files) {
  if (!files.length || !t.o.files) return;
  t.staged.push(...files);
  drawStaged(t);
  announce(`${files.length === 1 ? files[0].name || "An image" : files.length + " files"} will be attached to your comment.`);
}

/** @param {Thread} t */
function drawStaged(t) {
  replace(t.chips, ...t.staged.map((file, i) => h("li", { class: "chip staged" },
    file.name || "pasted image",
    h("button", { type: "button", class: "icon small", "aria-label": `Do not attach ${file.name || "the pasted image"}`, onclick: () => {
      t.staged.splice(i, 1);
      drawStaged(t);
    } }, "×"))));
}

/**
 * The form that adds a comment (or, for a viewer, a line saying they cannot).
 * @param {Thread} t
 */
function composer(t) {
  const { o, body } = t;
  body.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      submit(t);
    }
  });
  if (!o.canComment) return h("p", { class: "muted small", id: "comment-readonly" }, "You can read the comments of this project but not add any.");
  body.addEventListener("paste", (e) => {
    const files = [...(e.clipboardData?.files || [])];
    if (!files.length) return;
    e.preventDefault();
    stage(t, files.map((file, i) => (file.name && file.name !== "image.png" ? file : new File([file], `screenshot-${Date.now()}${i ? "-" + i : ""}.png`, { type: file.type }))));
  });
  const form = h("form", {
    class: "composer", id: "comment-form",
    onsubmit: (/** @type {Event} */ e) => {
      e.preventDefault();
      submit(t);
    },
  },
    h("label", { for: "comment-body" }, "Add a comment"),
    h("div", { class: "mention-wrap" }, body, mentionCompletion(body, o.members, o.me.id)),
    t.chips,
    h("p", { class: "hint", id: "comment-help" }, "Markdown. Type @ to mention a member. Paste or drop files to attach them. Ctrl+Enter sends."),
    t.error,
    h("div", { class: "form-actions" }, t.send));
  dropTarget(form, (files) => stage(t, files));
  return form;
}

/** @param {Thread} t */
async function submit(t) {
  const { body, error } = t;
  const files = t.staged.slice();
  const text = body.value.trim() || (files.length ? `Attached ${files.map((file) => file.name).join(", ")}` : "");
  error.textContent = "";
  if (!text) {
    error.textContent = "Write something first.";
    body.focus();
    return;
  }
  t.send.disabled = true;
  try {
    /** @type {api.Comment} */
    const comment = await api.post(t.path, { body: text });
    body.value = "";
    body.removeAttribute("aria-invalid");
    t.staged = [];
    drawStaged(t);
    if (files.length) t.o.files?.upload(files, comment.id);
    if (t.cursor === null) t.comments.push(comment);
    draw(t);
    announce("Comment added.");
    if (t.cursor === null) t.o.onCount(t.comments.length);
    body.focus();
  } catch (e) {
    // What was typed stays; the reason shows under the field.
    error.textContent = e instanceof api.ApiError ? e.fieldMessage("body") || e.message : String(e);
    body.setAttribute("aria-invalid", "true");
  } finally {
    t.send.disabled = false;
  }
}

/**
 * @param {Thread} t
 * @param {api.Comment} c
 */
const mine = (t, c) => c.author?.id === t.o.me.id;

/**
 * One comment: author, time, edited mark, its actions, its body as Markdown.
 * @param {Thread} t
 * @param {api.Comment} c
 */
function view(t, c) {
  const kept = t.editing.get(c.id);
  if (kept) return kept;
  const head = `comment-${c.id}-head`;
  const when = new Date(c.created_at);
  const edited = c.updated_at !== c.created_at;
  const el = h("li", { class: "comment", id: `comment-${c.id}`, dataset: { id: c.id }, "aria-labelledby": head },
    h("div", { class: "comment-head", id: head },
      h("strong", { class: "comment-author" }, c.author ? c.author.name : "Deleted user"),
      h("time", { class: "muted small", datetime: c.created_at, title: when.toLocaleString() }, relative(when)),
      edited ? h("span", { class: "muted small", title: new Date(c.updated_at).toLocaleString() }, "(edited)") : null,
      h("span", { class: "comment-actions" },
        mine(t, c) && t.o.canComment ? h("button", { type: "button", class: "ghost small edit-comment", "aria-describedby": head, onclick: () => edit(t, c) }, "Edit") : null,
        mine(t, c) || t.o.canModerate ? h("button", { type: "button", class: "ghost small danger delete-comment", "aria-describedby": head, onclick: () => remove(t, c) }, "Delete") : null)),
    h("div", { class: "markdown comment-body" }, renderMarkdown(c.body)),
    t.o.files?.forComment(c.id) ?? null);
  const files = t.o.files;
  if (files && t.o.canComment) dropTarget(el, (dropped) => files.upload(dropped, c.id));
  return el;
}

/** @param {Thread} t */
function draw(t) {
  // Keyed, not replaced: a comment being edited keeps its element where it is, because moving
  // a focused element (even to the same place) takes the focus away from someone typing.
  const { list } = t;
  const nodes = t.comments.map((c) => view(t, c));
  const keep = new Set(nodes);
  for (const child of [...list.children]) if (!keep.has(/** @type {HTMLElement} */ (child))) child.remove();
  nodes.forEach((node, i) => {
    if (list.children[i] !== node) list.insertBefore(node, list.children[i] || null);
  });
  t.empty.hidden = t.comments.length > 0;
  t.more.hidden = t.cursor === null;
  t.host.dataset.count = String(t.comments.length);
}

/**
 * Turns one's own comment into a form; saving sends If-Match, and a comment changed elsewhere
 * meanwhile shows that text and keeps this one.
 * @param {Thread} t
 * @param {api.Comment} c
 */
function edit(t, c) {
  const area = /** @type {HTMLTextAreaElement} */ (h("textarea", { rows: 4, maxlength: 10000, class: "edit-body", "aria-label": "Edit your comment", "aria-describedby": `comment-${c.id}-error` }));
  area.value = c.body;
  const err = h("p", { class: "field-error", id: `comment-${c.id}-error` });
  let version = c.version;
  const guard = () => area.value.trim() !== c.body;
  t.o.guard.add(guard);
  const done = () => {
    t.o.guard.delete(guard);
    t.editing.delete(c.id);
    draw(t);
    /** @type {HTMLElement | null} */ (t.list.querySelector(`#comment-${c.id} .edit-comment`))?.focus();
  };
  const save = async () => {
    err.textContent = "";
    const text = area.value.trim();
    if (!text) {
      err.textContent = "A comment cannot be empty; delete it instead.";
      return;
    }
    try {
      /** @type {api.Comment} */
      const updated = await api.patch(`/comments/${c.id}`, { body: text }, { ifMatch: version });
      const i = t.comments.findIndex((x) => x.id === c.id);
      if (i >= 0) t.comments[i] = updated;
      c = updated;
      announce("Comment saved.");
      done();
    } catch (e) {
      if (e instanceof api.ApiError && e.status === 412) {
        // Edited elsewhere meanwhile: show that text, keep this one; saving again overwrites.
        const theirs = /** @type {api.Comment} */ (await api.get(`/comments/${c.id}`));
        version = theirs.version;
        err.textContent = `This comment was changed meanwhile to: “${theirs.body}”. Save again to replace it with your text.`;
      } else {
        err.textContent = e instanceof api.ApiError ? e.fieldMessage("body") || e.message : String(e);
      }
    }
  };
  area.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      save();
    } else if (e.key === "Escape" && !e.defaultPrevented) {
      e.stopPropagation();
      done();
    }
  });
  const el = h("li", { class: "comment editing", id: `comment-${c.id}`, dataset: { id: c.id } },
    h("div", { class: "mention-wrap" }, area, mentionCompletion(area, t.o.members, t.o.me.id)), err,
    h("div", { class: "form-actions" },
      h("button", { type: "button", class: "primary save-comment", onclick: save }, "Save"),
      h("button", { type: "button", class: "cancel-comment", onclick: done }, "Cancel")));
  t.editing.set(c.id, el);
  draw(t);
  area.focus();
  area.setSelectionRange(area.value.length, area.value.length);
}

/**
 * @param {Thread} t
 * @param {api.Comment} c
 */
async function remove(t, c) {
  const ok = await confirmDialog("Delete comment", mine(t, c) ? "Delete your comment? This cannot be undone." : `Delete ${c.author?.name || "this person"}’s comment? This cannot be undone.`, "Delete comment", true);
  if (!ok) return;
  try {
    await api.del(`/comments/${c.id}`);
    t.comments = t.comments.filter((x) => x.id !== c.id);
    draw(t);
    announce("Comment deleted.", { visible: true });
    if (t.cursor === null) t.o.onCount(t.comments.length);
    // Back to the thread, not into the composer: a shortcut typed next must not land there.
    if (t.host.isConnected) t.host.focus();
  } catch (e) {
    announce(e instanceof api.ApiError && e.status === 404 ? "That comment was deleted already." : e instanceof Error ? e.message : String(e), { error: true });
    if (e instanceof api.ApiError && e.status === 404) reload(t);
  }
}

/** @param {Thread} t */
async function loadMore(t) {
  const query = new URLSearchParams({ limit: "50" });
  if (t.cursor) query.set("cursor", t.cursor);
  /** @type {api.Page} */
  const page = await api.get(`${t.path}?${query}`, { signal: t.o.signal });
  const known = new Set(t.comments.map((c) => c.id));
  t.comments = t.comments.concat(page.items.filter((c) => !known.has(c.id)));
  t.cursor = page.next_cursor;
  draw(t);
  if (t.cursor === null) t.o.onCount(t.comments.length);
}

/**
 * Reads again as many comments as are shown (live updates).
 * @param {Thread} t
 */
async function reload(t) {
  const want = Math.max(t.comments.length, 1);
  /** @type {api.Comment[]} */
  let fresh = [];
  /** @type {string | null} */
  let next = null;
  do {
    const query = new URLSearchParams({ limit: "50" });
    if (next) query.set("cursor", next);
    /** @type {api.Page} */
    const page = await api.get(`${t.path}?${query}`, { signal: t.o.signal });
    fresh = fresh.concat(page.items);
    next = page.next_cursor;
  } while (next && fresh.length < want + 1);
  for (const id of [...t.editing.keys()]) if (!fresh.some((c) => c.id === id)) t.editing.delete(id);
  t.comments = fresh;
  t.cursor = next;
  draw(t);
  if (t.cursor === null) t.o.onCount(t.comments.length);
}
