// The comment thread of a task (API.md §10): oldest first and paged, Markdown through the safe
// renderer, edit (If-Match) and delete of one's own comments (and delete for the project's
// admins and owner), and `@` mention completion from the project's members.

import * as api from "../api.js";
import { h, replace, announce, confirmDialog } from "../dom.js";
import { renderMarkdown } from "../markdown.js";
import { relative } from "./activity.js";

let uid = 0;

/**
 * Completes `@…` in a textarea from the project's members: typing `@` and part of a name or
 * an email offers matching people; ↑/↓ choose, Enter or Tab inserts `@email`, Esc closes.
 * Returns the element to put right after the textarea (inside a positioned wrapper).
 * @param {HTMLTextAreaElement} area
 * @param {() => api.Member[]} members
 * @param {string} [meId]
 */
export function mentionCompletion(area, members, meId) {
  const id = `mentions-${++uid}`;
  const list = h("ul", { class: "mentions", id, role: "listbox", "aria-label": "People to mention", hidden: true });
  const status = h("span", { class: "sr-only", "aria-live": "polite" });
  area.setAttribute("aria-autocomplete", "list");
  area.setAttribute("aria-controls", id);
  /** @type {api.Member[]} */
  let shown = [];
  let active = 0;
  /** @type {{start: number, end: number} | null} */
  let token = null;

  const close = () => {
    list.hidden = true;
    shown = [];
    token = null;
    area.removeAttribute("aria-activedescendant");
  };
  const draw = () => {
    replace(list, shown.map((m, i) => h("li", {
      role: "option", id: `${id}-${i}`, class: "mention-option", "aria-selected": i === active ? "true" : "false",
      onmousedown: (/** @type {Event} */ e) => e.preventDefault(),
      onclick: () => insert(m),
    }, h("span", { class: "mention-name" }, m.user.name), " ", h("span", { class: "muted small" }, m.user.email))));
    list.hidden = shown.length === 0;
    if (shown.length) area.setAttribute("aria-activedescendant", `${id}-${active}`);
    else area.removeAttribute("aria-activedescendant");
  };
  const update = () => {
    const caret = area.selectionStart ?? area.value.length;
    const before = area.value.slice(0, caret);
    const m = before.match(/(?:^|[\s(,;])@([^\s@]{0,60})$/);
    if (!m || area.selectionStart !== area.selectionEnd) return close();
    const q = m[1].toLowerCase();
    const wasOpen = shown.length > 0;
    token = { start: caret - m[1].length - 1, end: caret };
    shown = members()
      .filter((x) => x.user.id !== meId)
      .filter((x) => !q || x.user.name.toLowerCase().includes(q) || x.user.email.toLowerCase().includes(q))
      .slice(0, 8);
    active = 0;
    draw();
    if (shown.length && !wasOpen) status.textContent = `${shown.length} ${shown.length === 1 ? "person" : "people"} to mention; up and down to choose, Enter to insert.`;
    else if (!shown.length) status.textContent = "";
  };
  /** @param {api.Member} m */
  const insert = (m) => {
    if (!token) return;
    const text = `@${m.user.email} `;
    area.setRangeText(text, token.start, token.end, "end");
    close();
    area.focus();
    area.dispatchEvent(new Event("input", { bubbles: true }));
    status.textContent = `Mentioned ${m.user.name}.`;
  };
  area.addEventListener("input", update);
  area.addEventListener("click", update);
  area.addEventListener("blur", () => setTimeout(close, 100));
  area.addEventListener("keydown", (e) => {
    if (list.hidden || !shown.length) return;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      active = (active + (e.key === "ArrowDown" ? 1 : shown.length - 1)) % shown.length;
      draw();
    } else if (e.key === "Enter" || e.key === "Tab") {
      if (e.ctrlKey || e.metaKey) return;
      e.preventDefault();
      insert(shown[active]);
    } else if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      close();
    }
  });
  return [list, status];
}

/**
 * @typedef {{task: api.Task, me: api.User, members: () => api.Member[], canComment: boolean,
 *   canModerate: boolean, signal: AbortSignal, onCount: (n: number) => void, guard: Set<() => boolean>}} ThreadOptions
 */

/**
 * The thread and its composer under `host`. Returns `reload` (for live updates).
 * @param {HTMLElement} host
 * @param {ThreadOptions} o
 */
export function commentThread(host, o) {
  const path = `/tasks/${o.task.id}/comments`;
  /** @type {api.Comment[]} */
  let comments = [];
  /** @type {string | null} */
  let cursor = null;
  /** Comments being edited: their elements survive a reload. */
  /** @type {Map<string, HTMLElement>} */
  const editing = new Map();

  const list = h("ol", { class: "comments", id: "comments", "aria-label": "Comments" });
  const more = /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: "ghost small load-more", id: "more-comments", hidden: true, onclick: () => loadMore() }, "Show more comments"));
  const empty = h("p", { class: "muted", id: "no-comments", hidden: true }, o.canComment ? "No comments yet. Start the conversation below." : "No comments yet.");

  // --- the composer
  const body = /** @type {HTMLTextAreaElement} */ (h("textarea", { id: "comment-body", rows: 3, maxlength: 10000, "aria-describedby": "comment-help comment-error" }));
  const error = h("p", { class: "field-error", id: "comment-error" });
  const send = /** @type {HTMLButtonElement} */ (h("button", { type: "submit", class: "primary", id: "send-comment" }, "Comment"));
  const composer = o.canComment ? h("form", {
    class: "composer", id: "comment-form",
    onsubmit: (/** @type {Event} */ e) => {
      e.preventDefault();
      submit();
    },
  },
    h("label", { for: "comment-body" }, "Add a comment"),
    h("div", { class: "mention-wrap" }, body, mentionCompletion(body, o.members, o.me.id)),
    h("p", { class: "hint", id: "comment-help" }, "Markdown. Type @ to mention a member. Ctrl+Enter sends."),
    error,
    h("div", { class: "form-actions" }, send)) : h("p", { class: "muted small", id: "comment-readonly" }, "You can read the comments of this project but not add any.");
  body.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      submit();
    }
  });
  const draft = () => body.value.trim() !== "";
  o.guard.add(draft);
  o.signal.addEventListener("abort", () => o.guard.delete(draft));

  replace(host, list, empty, more, composer);

  async function submit() {
    const text = body.value.trim();
    error.textContent = "";
    if (!text) {
      error.textContent = "Write something first.";
      body.focus();
      return;
    }
    send.disabled = true;
    try {
      /** @type {api.Comment} */
      const comment = await api.post(path, { body: text });
      body.value = "";
      body.removeAttribute("aria-invalid");
      if (cursor === null) comments.push(comment);
      draw();
      announce("Comment added.");
      if (cursor === null) o.onCount(comments.length);
      body.focus();
    } catch (e) {
      // What was typed stays; the reason shows under the field.
      error.textContent = e instanceof api.ApiError ? e.fieldMessage("body") || e.message : String(e);
      body.setAttribute("aria-invalid", "true");
    } finally {
      send.disabled = false;
    }
  }

  /** @param {api.Comment} c */
  const mine = (c) => c.author?.id === o.me.id;

  /** @param {api.Comment} c */
  function view(c) {
    const kept = editing.get(c.id);
    if (kept) return kept;
    const head = `comment-${c.id}-head`;
    const when = new Date(c.created_at);
    const edited = c.updated_at !== c.created_at;
    return h("li", { class: "comment", id: `comment-${c.id}`, dataset: { id: c.id }, "aria-labelledby": head },
      h("div", { class: "comment-head", id: head },
        h("strong", { class: "comment-author" }, c.author ? c.author.name : "Deleted user"),
        h("time", { class: "muted small", datetime: c.created_at, title: when.toLocaleString() }, relative(when)),
        edited ? h("span", { class: "muted small", title: new Date(c.updated_at).toLocaleString() }, "(edited)") : null,
        h("span", { class: "comment-actions" },
          mine(c) && o.canComment ? h("button", { type: "button", class: "ghost small edit-comment", "aria-describedby": head, onclick: () => edit(c) }, "Edit") : null,
          mine(c) || o.canModerate ? h("button", { type: "button", class: "ghost small danger delete-comment", "aria-describedby": head, onclick: () => remove(c) }, "Delete") : null)),
      h("div", { class: "markdown comment-body" }, renderMarkdown(c.body)));
  }

  function draw() {
    // Keyed, not replaced: a comment being edited keeps its element where it is, because moving
    // a focused element (even to the same place) takes the focus away from someone typing.
    const nodes = comments.map(view);
    const keep = new Set(nodes);
    for (const child of [...list.children]) if (!keep.has(/** @type {HTMLElement} */ (child))) child.remove();
    nodes.forEach((node, i) => {
      if (list.children[i] !== node) list.insertBefore(node, list.children[i] || null);
    });
    empty.hidden = comments.length > 0;
    more.hidden = cursor === null;
    host.dataset.count = String(comments.length);
  }

  /** @param {api.Comment} c */
  function edit(c) {
    const area = /** @type {HTMLTextAreaElement} */ (h("textarea", { rows: 4, maxlength: 10000, class: "edit-body", "aria-label": "Edit your comment", "aria-describedby": `comment-${c.id}-error` }));
    area.value = c.body;
    const err = h("p", { class: "field-error", id: `comment-${c.id}-error` });
    let version = c.version;
    const guard = () => area.value.trim() !== c.body;
    o.guard.add(guard);
    const done = () => {
      o.guard.delete(guard);
      editing.delete(c.id);
      draw();
      /** @type {HTMLElement | null} */ (list.querySelector(`#comment-${c.id} .edit-comment`))?.focus();
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
        const i = comments.findIndex((x) => x.id === c.id);
        if (i >= 0) comments[i] = updated;
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
      h("div", { class: "mention-wrap" }, area, mentionCompletion(area, o.members, o.me.id)), err,
      h("div", { class: "form-actions" },
        h("button", { type: "button", class: "primary save-comment", onclick: save }, "Save"),
        h("button", { type: "button", class: "cancel-comment", onclick: done }, "Cancel")));
    editing.set(c.id, el);
    draw();
    area.focus();
    area.setSelectionRange(area.value.length, area.value.length);
  }

  /** @param {api.Comment} c */
  async function remove(c) {
    const ok = await confirmDialog("Delete comment", mine(c) ? "Delete your comment? This cannot be undone." : `Delete ${c.author?.name || "this person"}’s comment? This cannot be undone.`, "Delete comment", true);
    if (!ok) return;
    try {
      await api.del(`/comments/${c.id}`);
      comments = comments.filter((x) => x.id !== c.id);
      draw();
      announce("Comment deleted.", { visible: true });
      if (cursor === null) o.onCount(comments.length);
      body.isConnected ? body.focus() : null;
    } catch (e) {
      announce(e instanceof api.ApiError && e.status === 404 ? "That comment was deleted already." : e instanceof Error ? e.message : String(e), { error: true });
      if (e instanceof api.ApiError && e.status === 404) reload();
    }
  }

  async function loadMore() {
    const query = new URLSearchParams({ limit: "50" });
    if (cursor) query.set("cursor", cursor);
    /** @type {api.Page} */
    const page = await api.get(`${path}?${query}`, { signal: o.signal });
    const known = new Set(comments.map((c) => c.id));
    comments = comments.concat(page.items.filter((c) => !known.has(c.id)));
    cursor = page.next_cursor;
    draw();
    if (cursor === null) o.onCount(comments.length);
  }

  /** Reads again as many comments as are shown (live updates). */
  async function reload() {
    const want = Math.max(comments.length, 1);
    /** @type {api.Comment[]} */
    let fresh = [];
    /** @type {string | null} */
    let next = null;
    do {
      const query = new URLSearchParams({ limit: "50" });
      if (next) query.set("cursor", next);
      /** @type {api.Page} */
      const page = await api.get(`${path}?${query}`, { signal: o.signal });
      fresh = fresh.concat(page.items);
      next = page.next_cursor;
    } while (next && fresh.length < want + 1);
    for (const id of [...editing.keys()]) if (!fresh.some((c) => c.id === id)) editing.delete(id);
    comments = fresh;
    cursor = next;
    draw();
    if (cursor === null) o.onCount(comments.length);
  }

  const ready = loadMore();
  return { ready, reload };
}
