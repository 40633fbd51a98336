// Moving cards: drag and drop (pointer events, so touch works too) and the keyboard (Shift +
// arrows); the move shows at once and is sent to POST /tasks/{id}/move; a refused move puts the
// card back and says why. Arrow keys without Shift walk between cards.

import * as api from "../../api.js";
import { h, announce } from "../../dom.js";
import { statusLabel } from "../../model.js";
import { updateCount, columnOf } from "./columns.js";

/**
 * @typedef {import("./columns.js").Board} Board
 * @typedef {{parent: Element, next: Element | null}} Place where a card was before the move
 */

/**
 * Sends a move that the DOM already shows; undoes it if the server refuses.
 * @param {Board} b
 * @param {HTMLElement} el
 * @param {Place} from
 */
export function commitMove(b, el, from) {
  // Moves go to the server one at a time, each computed from the board as it is when sent:
  // a second key press must not race the first with a stale version (412).
  const run = b.moves.then(() => sendMove(b, el, from));
  b.moves = run.catch(() => {});
  return run;
}

/**
 * @param {Board} b
 * @param {HTMLElement} el
 * @param {Place} from
 */
async function sendMove(b, el, from) {
  const id = /** @type {string} */ (el.dataset.id);
  const task = /** @type {api.Task} */ (b.tasks.get(id));
  const list = /** @type {HTMLElement} */ (el.parentElement);
  const column = columnOf(b, list);
  const prev = /** @type {HTMLElement | null} */ (el.previousElementSibling);
  const next = /** @type {HTMLElement | null} */ (el.nextElementSibling);
  if (from.parent === list && from.next === next) return;
  /** @type {Record<string, any>} */
  const body = {};
  if (prev) body.before_id = prev.dataset.id;
  if (next) body.after_id = next.dataset.id;
  if (column.status !== task.status) body.status = column.status;
  updateCount(column);
  updateCount(columnOf(b, from.parent));
  el.classList.add("pending");
  try {
    const moved = await api.post(`/tasks/${id}/move`, body, { ifMatch: task.version });
    b.tasks.set(id, moved);
    announce(`Moved “${moved.title}” to ${statusLabel(moved.status)}, position ${[...list.children].indexOf(el) + 1} of ${list.children.length}.`);
  } catch (e) {
    from.parent.insertBefore(el, from.next);
    updateCount(column);
    updateCount(columnOf(b, from.parent));
    const why = e instanceof api.ApiError
      ? e.status === 412 ? "Someone changed this task meanwhile. Its card is back where it was; the board shows the saved order after a reload."
        : e.status === 403 ? "You may not move tasks in this project."
          : e.message
      : String(e);
    announce(`The move was not saved. ${why}`, { error: true });
    if (e instanceof api.ApiError && e.status === 412) {
      api.get(`/tasks/${id}`).then((fresh) => b.tasks.set(id, fresh)).catch(() => {});
    }
    if (document.activeElement !== el && el.isConnected) el.focus();
  } finally {
    el.classList.remove("pending");
  }
}

/**
 * A pointer went down on a card: past 6 px it drags, a line shows the drop target, and letting
 * go moves the card there (optimistically, in the same frame).
 * @param {Board} b
 * @param {PointerEvent} e
 * @param {HTMLElement} el
 */
export function startDrag(b, e, el) {
  if (e.button !== 0 || !e.isPrimary) return;
  // A live update must not swap the card out from under a pointer that may start a drag.
  el.classList.add("held");
  const startX = e.clientX;
  const startY = e.clientY;
  const rect = el.getBoundingClientRect();
  /** @type {Place} */
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
    showDropLine(b, m, el, line);
  };
  const stop = () => {
    el.classList.remove("held");
    el.removeEventListener("pointermove", move);
    el.removeEventListener("pointerup", up);
    el.removeEventListener("pointercancel", cancel);
    return dragging;
  };
  const up = () => {
    if (!stop()) return;
    // Optimistic: the card is in its new place in this same frame.
    line.replaceWith(el);
    endDrag(el);
    el.focus();
    // The click that ends a drag must not open the card.
    el.addEventListener("click", (c) => { c.preventDefault(); c.stopPropagation(); }, { capture: true, once: true });
    commitMove(b, el, from);
  };
  const cancel = () => {
    if (!stop()) return;
    line.remove();
    endDrag(el);
  };
  el.addEventListener("pointermove", move);
  el.addEventListener("pointerup", up);
  el.addEventListener("pointercancel", cancel);
}

/**
 * The drop target: the column under the pointer, before the first card below it.
 * @param {Board} b
 * @param {PointerEvent} m
 * @param {HTMLElement} el the dragged card
 * @param {HTMLElement} line
 */
function showDropLine(b, m, el, line) {
  const section = b.columns.find((c) => {
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
}

/** @param {HTMLElement} el */
function endDrag(el) {
  el.classList.remove("dragging");
  el.style.transform = "";
  el.style.width = "";
  document.body.classList.remove("is-dragging");
}

/**
 * Keys on a focused card: Enter opens it, arrows walk, Shift + arrows move it.
 * @param {Board} b
 * @param {KeyboardEvent} e
 * @param {HTMLElement} el
 */
export function onCardKey(b, e, el) {
  const { columns } = b;
  const list = /** @type {HTMLElement} */ (el.parentElement);
  const index = columns.findIndex((c) => c.list === list);
  if (e.key === "Enter") {
    e.preventDefault();
    b.ctx.setQuery({ task: el.dataset.id || null });
    return;
  }
  const arrows = ["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight"];
  if (!arrows.includes(e.key)) return;
  e.preventDefault();
  e.stopPropagation();
  if (e.shiftKey && b.canEdit) {
    const from = { parent: list, next: el.nextElementSibling };
    if (e.key === "ArrowUp" && el.previousElementSibling) list.insertBefore(el, el.previousElementSibling);
    else if (e.key === "ArrowDown" && el.nextElementSibling) list.insertBefore(el, el.nextElementSibling.nextElementSibling);
    else if (e.key === "ArrowLeft" && index > 0) columns[index - 1].list.prepend(el);
    else if (e.key === "ArrowRight" && index < columns.length - 1) columns[index + 1].list.prepend(el);
    else return;
    el.focus();
    commitMove(b, el, from);
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
