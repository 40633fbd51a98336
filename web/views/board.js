// The board: one column per status, in the project's manual order (`position`), each column
// paged by itself. Cards move by drag and drop (pointer events, so touch works too) or by
// keyboard (Shift + arrows); the move shows at once and is sent to POST /tasks/{id}/move; a
// refused move puts the card back and says why.

import * as api from "../api.js";
import { h, replace, announce, formatDue, isOverdue, initials } from "../dom.js";
import { STATUSES, PRIORITIES, membersOf, commentBadge } from "./list.js";
import { unsavedInput } from "../app.js";
import { openTaskPanel } from "./task.js";
import * as live from "../live.js";

/** @typedef {{status: api.Status, list: HTMLElement, count: HTMLElement, cursor: string | null | undefined, loading: boolean, more: HTMLButtonElement}} Column */

const FILTERS = ["assignee", "label", "priority_min", "due_after", "due_before", "q"];

/**
 * @param {import("../app.js").Context} ctx
 * @param {HTMLElement} content
 */
export async function renderBoard(ctx, content) {
  const project = /** @type {api.Project} */ (ctx.project);
  const canEdit = api.can(project.my_role, "editor");
  /** @type {Map<string, api.Task>} */
  const tasks = new Map();
  /** @type {Map<string, {name: string}>} */
  const names = new Map();
  const filters = new URLSearchParams();
  for (const key of FILTERS) {
    const v = ctx.query.get(key);
    if (v) filters.set(key, v);
  }

  const board = h("div", { class: "board", id: "board", role: "region", "aria-label": "Board", "aria-describedby": "board-help" });
  const help = h("p", { class: "sr-only", id: "board-help" },
    canEdit ? "Arrow keys move between cards. Shift with the arrow keys moves the focused card: left and right to another column, up and down within the column. Enter opens the card." : "Arrow keys move between cards; Enter opens the card.");
  const panel = h("div", { class: "panel-host" });
  const filterNote = filters.toString() ? h("p", { class: "muted small board-filters" }, "Filtered: ", filters.toString().replace(/&/g, ", "), " · ", h("a", { href: location.pathname }, "Show all")) : null;
  replace(content, h("div", { class: "board-view" }, filterNote, help, board), panel);

  /** @type {Column[]} */
  const columns = STATUSES.map(([status, label]) => {
    const list = h("ol", { class: "cards", dataset: { status }, "aria-labelledby": `col-${status}-title` });
    const count = h("span", { class: "count", "aria-label": "cards" }, "0");
    const more = /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: "ghost small load-more", hidden: true }, "Load more"));
    /** @type {Column} */
    const column = { status: /** @type {api.Status} */ (status), list, count, cursor: undefined, loading: false, more };
    more.addEventListener("click", () => loadColumn(column));
    const add = canEdit ? h("button", { type: "button", class: "icon", "aria-label": `Add a task to ${label}`, title: "Add a task", onclick: () => addCard(column) }, "+") : null;
    board.append(h("section", { class: "column", dataset: { status }, "aria-labelledby": `col-${status}-title` },
      h("header", { class: "column-head" }, h("h2", { id: `col-${status}-title` }, label), count, add),
      h("div", { class: "column-scroll" }, list, more)));
    return column;
  });

  /** @param {api.Task} task */
  function card(task) {
    const assignee = task.assignee_id ? names.get(task.assignee_id) : null;
    const query = new URLSearchParams(location.search);
    query.set("task", task.id);
    const el = h("li", { class: "card", tabindex: "0", dataset: { id: task.id }, "aria-roledescription": canEdit ? "movable card" : "card", "aria-describedby": "board-help" },
      h("a", { href: `${location.pathname}?${query}`, class: "card-title", tabindex: "-1" }, task.title),
      h("div", { class: "card-meta" },
        h("span", { class: "num" }, `#${task.number}`),
        task.labels.map((l) => h("span", { class: "chip label" }, l)),
        task.due_date ? h("span", { class: isOverdue(task.due_date) && task.status !== "done" ? "due overdue" : "due" }, formatDue(task.due_date)) : null,
        task.priority ? h("span", { class: `prio prio-${task.priority}`, "aria-label": `Priority ${PRIORITIES[task.priority]}` }, "!".repeat(Math.min(task.priority, 3))) : null,
        commentBadge(task),
        assignee ? h("span", { class: "avatar", title: assignee.name, "aria-label": `Assigned to ${assignee.name}` }, initials(assignee.name)) : null));
    if (canEdit) el.addEventListener("pointerdown", (e) => startDrag(e, el));
    el.addEventListener("keydown", (e) => onCardKey(e, el));
    return el;
  }

  /** @param {Column} column */
  function updateCount(column) {
    const n = column.list.children.length;
    column.count.textContent = column.cursor ? `${n}+` : String(n);
  }

  /** @param {Column} column */
  async function loadColumn(column) {
    if (column.loading || column.cursor === null) return;
    column.loading = true;
    try {
      const query = new URLSearchParams(filters);
      query.set("status", column.status);
      query.set("sort", "position");
      query.set("limit", "50");
      if (column.cursor) query.set("cursor", column.cursor);
      /** @type {api.Page} */
      const page = await api.get(`/projects/${project.id}/tasks?${query}`, { signal: ctx.signal });
      for (const task of page.items) {
        tasks.set(task.id, task);
        column.list.append(card(task));
      }
      column.cursor = page.next_cursor;
      column.more.hidden = column.cursor === null;
      updateCount(column);
    } finally {
      column.loading = false;
    }
  }

  // j/k walk the cards of the focused column; c adds to the first column.
  const cardsInOrder = () => /** @type {HTMLElement[]} */ ([...board.querySelectorAll(".card")]);
  /** @param {number} step */
  const walk = (step) => {
    const all = cardsInOrder();
    const i = all.indexOf(/** @type {HTMLElement} */ (document.activeElement));
    all[Math.max(0, Math.min(all.length - 1, i + step))]?.focus();
  };
  ctx.keys.j = () => walk(1);
  ctx.keys.k = () => walk(-1);
  ctx.keys.enter = () => {
    const el = document.activeElement;
    if (el instanceof HTMLElement && el.classList.contains("card")) ctx.setQuery({ task: el.dataset.id || null });
  };
  if (canEdit) ctx.keys.c = () => addCard(columns[0]);

  // The newest change before the board is read: the live stream starts right after it.
  const after = await live.newestEntryId(project.id, ctx.signal);
  await Promise.all(columns.map(loadColumn));
  board.dataset.ready = "true";
  // Each column loads its next page when scrolled to its end.
  const observer = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      const column = columns.find((c) => c.more === entry.target);
      if (entry.isIntersecting && column) loadColumn(column);
    }
  });
  for (const c of columns) observer.observe(c.more);
  ctx.signal.addEventListener("abort", () => observer.disconnect());
  membersOf(project.id).then((members) => {
    for (const m of members) names.set(m.user.id, { name: m.user.name });
    for (const task of tasks.values()) {
      const old = board.querySelector(`[data-id="${task.id}"]`);
      if (old && !old.classList.contains("dragging")) {
        const focused = document.activeElement === old;
        const fresh = card(task);
        old.replaceWith(fresh);
        if (focused) fresh.focus();
      }
    }
  }).catch(() => {});

  /** @param {Element} list */
  const columnOf = (list) => /** @type {Column} */ (columns.find((c) => c.list === list));

  /**
   * Sends a move that the DOM already shows; undoes it if the server refuses.
   * @param {HTMLElement} el
   * @param {{parent: Element, next: Element | null}} from
   */
  function commitMove(el, from) {
    // Moves go to the server one at a time, each computed from the board as it is when sent:
    // a second key press must not race the first with a stale version (412).
    const run = moves.then(() => sendMove(el, from));
    moves = run.catch(() => {});
    return run;
  }
  /** @type {Promise<void>} */
  let moves = Promise.resolve();

  /**
   * @param {HTMLElement} el
   * @param {{parent: Element, next: Element | null}} from
   */
  async function sendMove(el, from) {
    const id = /** @type {string} */ (el.dataset.id);
    const task = /** @type {api.Task} */ (tasks.get(id));
    const list = /** @type {HTMLElement} */ (el.parentElement);
    const column = columnOf(list);
    const prev = /** @type {HTMLElement | null} */ (el.previousElementSibling);
    const next = /** @type {HTMLElement | null} */ (el.nextElementSibling);
    if (from.parent === list && from.next === next) return;
    /** @type {Record<string, any>} */
    const body = {};
    if (prev) body.before_id = prev.dataset.id;
    if (next) body.after_id = next.dataset.id;
    if (column.status !== task.status) body.status = column.status;
    updateCount(column);
    updateCount(columnOf(from.parent));
    el.classList.add("pending");
    try {
      const moved = await api.post(`/tasks/${id}/move`, body, { ifMatch: task.version });
      tasks.set(id, moved);
      const label = STATUSES.find(([s]) => s === moved.status)?.[1];
      announce(`Moved “${moved.title}” to ${label}, position ${[...list.children].indexOf(el) + 1} of ${list.children.length}.`);
    } catch (e) {
      from.parent.insertBefore(el, from.next);
      updateCount(column);
      updateCount(columnOf(from.parent));
      const why = e instanceof api.ApiError
        ? e.status === 412 ? "Someone changed this task meanwhile. Its card is back where it was; the board shows the saved order after a reload."
          : e.status === 403 ? "You may not move tasks in this project."
            : e.message
        : String(e);
      announce(`The move was not saved. ${why}`, { error: true });
      if (e instanceof api.ApiError && e.status === 412) {
        api.get(`/tasks/${id}`).then((fresh) => tasks.set(id, fresh)).catch(() => {});
      }
      if (document.activeElement !== el && el.isConnected) el.focus();
    } finally {
      el.classList.remove("pending");
    }
  }

  // --- drag and drop
  /**
   * @param {PointerEvent} e
   * @param {HTMLElement} el
   */
  function startDrag(e, el) {
    if (e.button !== 0 || !e.isPrimary) return;
    // A live update must not swap the card out from under a pointer that may start a drag.
    el.classList.add("held");
    const startX = e.clientX;
    const startY = e.clientY;
    const rect = el.getBoundingClientRect();
    const from = { parent: /** @type {Element} */ (el.parentElement), next: el.nextElementSibling };
    let dragging = false;
    const line = h("li", { class: "drop-line", "aria-hidden": "true" });
    /** @param {PointerEvent} m */
    const move = (m) => {
      if (!dragging) {
        if (Math.abs(m.clientX - startX) + Math.abs(m.clientY - startY) < 6) return;
        dragging = true;
        el.setPointerCapture(e.pointerId);
        el.style.width = `${rect.width}px`;
        el.classList.add("dragging");
        el.after(line);
        document.body.classList.add("is-dragging");
      }
      el.style.transform = `translate(${m.clientX - startX}px, ${m.clientY - startY}px)`;
      // The drop target: the column under the pointer, before the first card below it.
      const section = columns.find((c) => {
        const r = /** @type {HTMLElement} */ (c.list.closest(".column")).getBoundingClientRect();
        return m.clientX >= r.left && m.clientX <= r.right;
      });
      if (!section) return;
      const others = [...section.list.children].filter((c) => c !== el && c !== line);
      const before = others.find((c) => {
        const r = c.getBoundingClientRect();
        return m.clientY < r.top + r.height / 2;
      });
      if (before) section.list.insertBefore(line, before);
      else section.list.append(line);
    };
    const up = () => {
      el.classList.remove("held");
      el.removeEventListener("pointermove", move);
      el.removeEventListener("pointerup", up);
      el.removeEventListener("pointercancel", cancel);
      if (!dragging) return;
      // Optimistic: the card is in its new place in this same frame.
      line.replaceWith(el);
      finish();
      el.focus();
      // The click that ends a drag must not open the card.
      el.addEventListener("click", (c) => { c.preventDefault(); c.stopPropagation(); }, { capture: true, once: true });
      commitMove(el, from);
    };
    const cancel = () => {
      el.classList.remove("held");
      el.removeEventListener("pointermove", move);
      el.removeEventListener("pointerup", up);
      el.removeEventListener("pointercancel", cancel);
      if (!dragging) return;
      line.remove();
      finish();
    };
    const finish = () => {
      el.classList.remove("dragging");
      el.style.transform = "";
      el.style.width = "";
      document.body.classList.remove("is-dragging");
    };
    el.addEventListener("pointermove", move);
    el.addEventListener("pointerup", up);
    el.addEventListener("pointercancel", cancel);
  }

  // --- keyboard
  /**
   * @param {KeyboardEvent} e
   * @param {HTMLElement} el
   */
  function onCardKey(e, el) {
    const list = /** @type {HTMLElement} */ (el.parentElement);
    const index = columns.findIndex((c) => c.list === list);
    if (e.key === "Enter") {
      e.preventDefault();
      ctx.setQuery({ task: el.dataset.id || null });
      return;
    }
    const arrows = ["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight"];
    if (!arrows.includes(e.key)) return;
    e.preventDefault();
    e.stopPropagation();
    if (e.shiftKey && canEdit) {
      const from = { parent: list, next: el.nextElementSibling };
      if (e.key === "ArrowUp" && el.previousElementSibling) list.insertBefore(el, el.previousElementSibling);
      else if (e.key === "ArrowDown" && el.nextElementSibling) list.insertBefore(el, el.nextElementSibling.nextElementSibling);
      else if (e.key === "ArrowLeft" && index > 0) columns[index - 1].list.prepend(el);
      else if (e.key === "ArrowRight" && index < columns.length - 1) columns[index + 1].list.prepend(el);
      else return;
      el.focus();
      commitMove(el, from);
      return;
    }
    /** @type {Element | null | undefined} */
    let target = null;
    if (e.key === "ArrowUp") target = el.previousElementSibling;
    else if (e.key === "ArrowDown") target = el.nextElementSibling;
    else {
      const step = e.key === "ArrowLeft" ? -1 : 1;
      for (let i = index + step; i >= 0 && i < columns.length && !target; i += step) {
        const cards = columns[i].list.children;
        target = cards[Math.min([...list.children].indexOf(el), cards.length - 1)];
      }
    }
    if (target instanceof HTMLElement) target.focus();
  }

  /** @param {Column} column */
  function addCard(column) {
    const existing = column.list.parentElement?.querySelector("form");
    if (existing) return /** @type {HTMLInputElement} */ (existing.querySelector("input")).focus();
    const input = /** @type {HTMLInputElement} */ (h("input", { "aria-label": `New task in ${STATUSES.find(([s]) => s === column.status)?.[1]}`, maxlength: 200, autocomplete: "off", class: "new-card-input" }));
    const error = h("p", { class: "field-error" });
    const form = h("form", {
      class: "new-card",
      onsubmit: async (/** @type {Event} */ e) => {
        e.preventDefault();
        if (!input.value.trim()) return form.remove();
        try {
          const task = await api.post(`/projects/${project.id}/tasks`, { title: input.value, status: column.status });
          tasks.set(task.id, task);
          column.list.append(card(task));
          updateCount(column);
          input.value = "";
          error.textContent = "";
          announce(`Added “${task.title}”.`);
        } catch (err) {
          error.textContent = err instanceof Error ? err.message : String(err);
        }
      },
    }, input, error);
    input.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        e.stopPropagation();
        form.remove();
      }
    });
    column.list.after(form);
    input.focus();
  }

  // --- live: another person's change appears without a reload
  /** @type {{onEntry: (e: api.Entry) => void} | null} */
  let detail = null;
  /** Tasks being fetched after an event, and those to fetch again when that is done. */
  const fetching = new Set();
  const again = new Set();
  const me = /** @type {api.User} */ (ctx.state.user);

  /** @param {api.Task} t whether the board's filters keep it (q cannot be checked here) */
  const matches = (t) => {
    const a = filters.get("assignee");
    if (a && (a === "me" ? t.assignee_id !== me.id : a === "none" ? t.assignee_id !== null : t.assignee_id !== a)) return false;
    const label = filters.get("label");
    if (label && !t.labels.includes(label.toLowerCase())) return false;
    const min = filters.get("priority_min");
    if (min && t.priority < Number(min)) return false;
    const after = filters.get("due_after");
    if (after && (!t.due_date || t.due_date < after)) return false;
    const before = filters.get("due_before");
    if (before && (!t.due_date || t.due_date > before)) return false;
    return true;
  };
  /** @param {api.Task} a @param {api.Task} b */
  const order = (a, b) => (a.position < b.position ? -1 : a.position > b.position ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

  /** @param {string} id */
  const drop = (id) => {
    board.querySelector(`.card[data-id="${id}"]`)?.remove();
    tasks.delete(id);
    columns.forEach(updateCount);
  };

  /**
   * Puts a task where the server's order says, in its status's column: in place when it is
   * there already (no flicker), not at all when it sorts after the cards loaded so far.
   * @param {api.Task} t
   */
  function place(t) {
    const old = /** @type {HTMLElement | null} */ (board.querySelector(`.card[data-id="${t.id}"]`));
    const column = columns.find((c) => c.status === t.status);
    if (!column) return;
    const others = /** @type {HTMLElement[]} */ ([...column.list.querySelectorAll(".card")]).filter((c) => c !== old);
    const next = others.find((c) => {
      const o = tasks.get(c.dataset.id || "");
      return o ? order(t, o) < 0 : false;
    });
    const focused = old !== null && document.activeElement === old;
    if (!next && column.cursor) {
      // Beyond the loaded page: it shows when the column loads more.
      old?.remove();
      columns.forEach(updateCount);
      return;
    }
    const fresh = card(t);
    const inPlace = old && old.parentElement === column.list && (old.nextElementSibling === next || (next === undefined && !old.nextElementSibling?.classList.contains("card")));
    if (inPlace && old) old.replaceWith(fresh);
    else {
      old?.remove();
      column.list.insertBefore(fresh, next || null);
    }
    if (focused) fresh.focus();
    columns.forEach(updateCount);
  }

  /** @param {string} id */
  async function refresh(id) {
    if (fetching.has(id)) {
      again.add(id);
      return;
    }
    fetching.add(id);
    try {
      // The person's own moves first: the board shows them already.
      await moves;
      /** @type {api.Task | null} */
      let fresh = null;
      try {
        fresh = await api.get(`/tasks/${id}`, { signal: ctx.signal });
      } catch (e) {
        if (e instanceof api.ApiError && e.status === 404) return drop(id);
        throw e;
      }
      const t = /** @type {api.Task} */ (fresh);
      const known = tasks.get(id);
      if (known && t.version <= known.version && t.comment_count === known.comment_count) return;
      if (t.project_id !== project.id || !matches(t) || (!known && filters.has("q"))) return drop(id);
      const el = board.querySelector(`.card[data-id="${id}"]`);
      if (el && (el.classList.contains("dragging") || el.classList.contains("pending") || el.classList.contains("held"))) {
        again.add(id);
        return;
      }
      tasks.set(id, t);
      place(t);
    } catch {
      // Unreachable for a moment: the next event (or a reload) brings the board up to date.
    } finally {
      fetching.delete(id);
      if (again.delete(id) && !ctx.signal.aborted) setTimeout(() => refresh(id), 200);
    }
  }

  live.subscribe(project.id, after, {
    signal: ctx.signal,
    onEntry: (entry) => {
      detail?.onEntry(entry);
      if (entry.kind.startsWith("member.")) return;
      if (!entry.task_id) return;
      if (entry.kind === "task.deleted") drop(entry.task_id);
      else refresh(entry.task_id);
    },
    onReset: () => {
      if (!unsavedInput()) ctx.navigate(location.pathname + location.search, { replace: true, force: true });
    },
  });

  const taskId = ctx.query.get("task");
  if (taskId) {
    detail = await openTaskPanel(ctx, panel, taskId, {
      onSaved: (task) => {
        tasks.set(task.id, task);
        const old = board.querySelector(`[data-id="${task.id}"]`);
        const target = columns.find((c) => c.status === task.status);
        if (old && target && old.parentElement !== target.list) {
          target.list.prepend(old);
        }
        if (old && old.classList.contains("card")) old.replaceWith(card(task));
        columns.forEach(updateCount);
      },
      onDeleted: (id) => {
        board.querySelector(`[data-id="${id}"]`)?.remove();
        columns.forEach(updateCount);
      },
    });
  }
}
