// Moving cards: drag and drop (pointer events; on a touch screen the card lifts after a short
// press, so a swipe still scrolls) and the keyboard (Shift + arrows). The dragged card floats
// above everything (a copy in a fixed layer of the page, never clipped by its column) while a line
// shows the drop target; near the board's edges it scrolls. The move shows at once, is sent to
// POST /tasks/{id}/move and offers Undo; a refused move puts the card back and says why. Arrow
// keys without Shift walk between cards.

import * as api from "../../api.js";
import { h, announce } from "../../dom.js";
import { offerUndo } from "../../components/undo.js";
import { updateCount, columnOf, columnAt, countMove } from "./columns.js";

/**
 * @typedef {import("./columns.js").Board} Board
 * @typedef {import("./columns.js").Origin} Origin
 * @typedef {{parent: Element, next: Element | null, prev: Element | null}} Place where a card was before the move
 */

/**
 * @param {HTMLElement} el
 * @returns {Place}
 */
const placeOf = (el) => ({ parent: /** @type {Element} */ (el.parentElement), next: el.nextElementSibling, prev: el.previousElementSibling });

/** @param {Element | null} el a card's task id, if it is a card */
const idOf = (el) => (el instanceof HTMLElement && el.classList.contains("card") ? el.dataset.id || null : null);

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
  const source = columnOf(b, from.parent);
  const prev = /** @type {HTMLElement | null} */ (el.previousElementSibling);
  const next = /** @type {HTMLElement | null} */ (el.nextElementSibling);
  if (from.parent === list && from.next === next) return;
  /** @type {Record<string, any>} */
  const body = {};
  if (prev) body.before_id = prev.dataset.id;
  if (next) body.after_id = next.dataset.id;
  if (column.key !== b.source.keyOf(task)) Object.assign(body, b.source.move(column.key));
  // Where it started, kept across a run of moves of the same card (Undo goes back there).
  /** @type {Origin} */
  const origin = b.lastMove?.id === id ? b.lastMove.origin : { key: source.key, prev: idOf(from.prev), next: idOf(from.next) };
  countMove(b, source, column);
  el.classList.add("pending");
  try {
    const moved = await api.post(`/tasks/${id}/move`, body, { ifMatch: task.version });
    b.tasks.set(id, moved);
    const where = `${column.label}, position ${[...list.children].indexOf(el) + 1} of ${list.children.length}`;
    announce(`Moved “${moved.title}” to ${where}.`);
    b.lastMove?.dismiss();
    const item = offerUndo(`Moved #${moved.number} to ${column.label}`, () => undoMove(b, id, origin));
    b.lastMove = { id, origin, dismiss: () => item.dismiss() };
  } catch (e) {
    from.parent.insertBefore(el, from.next);
    countMove(b, column, source);
    updateCount(column);
    updateCount(source);
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
 * Undo: the card goes back next to the neighbours it had (an ordinary move with If-Match).
 * @param {Board} b
 * @param {string} id
 * @param {Origin} origin
 */
async function undoMove(b, id, origin) {
  if (b.lastMove?.id === id) b.lastMove = null;
  await b.moves;
  const task = /** @type {api.Task} */ (b.tasks.get(id));
  /** @type {Record<string, any>} */
  const body = { ...b.source.move(origin.key) };
  if (origin.next) body.after_id = origin.next;
  else if (origin.prev) body.before_id = origin.prev;
  else body.before_id = null;
  const from = columnAt(b, b.source.keyOf(task));
  const back = await api.post(`/tasks/${id}/move`, body, { ifMatch: task.version });
  b.tasks.set(id, back);
  const to = columnAt(b, origin.key);
  if (from && to) countMove(b, from, to);
  b.place(back);
  return `#${back.number} is back in ${to?.label || "its column"}.`;
}

/** How long a touch must rest on a card before it lifts (ms). */
const LIFT_MS = 300;

/**
 * A pointer went down on a card: past 6 px (a mouse or pen) or after a short press (a finger)
 * it drags, a line shows the drop target, and letting go moves the card there (optimistically,
 * in the same frame).
 * @param {Board} b
 * @param {PointerEvent} e
 * @param {HTMLElement} el
 */
export function startDrag(b, e, el) {
  if (e.button !== 0 || !e.isPrimary) return;
  const touch = e.pointerType === "touch";
  // A live update must not swap the card out from under a pointer that may start a drag.
  el.classList.add("held");
  const startX = e.clientX;
  const startY = e.clientY;
  const from = placeOf(el);
  /** @type {HTMLElement | null} */
  let ghost = null;
  let lastX = startX;
  let lastY = startY;
  /** @type {number | undefined} */
  let scroller;
  const line = h("li", { class: "drop-line", "aria-hidden": "true" });
  const lift = () => {
    const rect = el.getBoundingClientRect();
    ghost = /** @type {HTMLElement} */ (el.cloneNode(true));
    ghost.removeAttribute("tabindex");
    delete ghost.dataset.id;
    ghost.setAttribute("aria-hidden", "true");
    ghost.classList.add("drag-ghost");
    Object.assign(ghost.style, { left: `${rect.left}px`, top: `${rect.top}px`, width: `${rect.width}px` });
    document.body.append(ghost);
    el.setPointerCapture(e.pointerId);
    el.classList.add("dragging");
    el.after(line);
    document.body.classList.add("is-dragging");
    scroller = window.setInterval(() => edgeScroll(b, lastX, lastY, el, line), 16);
  };
  const timer = touch ? window.setTimeout(lift, LIFT_MS) : undefined;
  /** @param {TouchEvent} t */
  const noScroll = (t) => { if (ghost) t.preventDefault(); };
  if (touch) el.addEventListener("touchmove", noScroll, { passive: false });
  /** @param {PointerEvent} m */
  const move = (m) => {
    lastX = m.clientX;
    lastY = m.clientY;
    if (!ghost) {
      const far = Math.abs(m.clientX - startX) + Math.abs(m.clientY - startY);
      // A finger that moves before the card lifted is scrolling, not dragging.
      if (touch && far > 8) return stop();
      if (touch || far < 6) return;
      lift();
    }
    /** @type {HTMLElement} */ (ghost).style.transform = `translate(${m.clientX - startX}px, ${m.clientY - startY}px) rotate(1.5deg)`;
    showDropLine(b, m.clientX, m.clientY, el, line);
  };
  const stop = () => {
    clearTimeout(timer);
    clearInterval(scroller);
    el.classList.remove("held");
    el.removeEventListener("pointermove", move);
    el.removeEventListener("pointerup", up);
    el.removeEventListener("pointercancel", cancel);
    el.removeEventListener("touchmove", noScroll);
    const dragged = ghost !== null;
    ghost?.remove();
    ghost = null;
    return dragged;
  };
  const up = () => {
    if (!stop()) return;
    // Optimistic: the card is in its new place in this same frame.
    line.replaceWith(el);
    endDrag(el);
    el.focus();
    // The click that ends a drag must not open the card (a touch drag ends without one, so the
    // guard goes once this input event is over).
    const swallow = (/** @type {Event} */ c) => { c.preventDefault(); c.stopPropagation(); };
    el.addEventListener("click", swallow, { capture: true, once: true });
    setTimeout(() => el.removeEventListener("click", swallow, { capture: true }), 0);
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
 * While dragging near the board's left or right edge (or a column's top or bottom), scroll it.
 * @param {Board} b
 * @param {number} x
 * @param {number} y
 * @param {HTMLElement} el
 * @param {HTMLElement} line
 */
function edgeScroll(b, x, y, el, line) {
  const r = b.board.getBoundingClientRect();
  const edge = 48;
  const dx = x < r.left + edge ? -12 : x > r.right - edge ? 12 : 0;
  const column = b.columns.find((c) => {
    const cr = /** @type {HTMLElement} */ (c.list.closest(".column")).getBoundingClientRect();
    return x >= cr.left && x <= cr.right;
  });
  const scroll = /** @type {HTMLElement | null} */ (column?.list.closest(".column-scroll") || null);
  let dy = 0;
  if (scroll) {
    const sr = scroll.getBoundingClientRect();
    dy = y < sr.top + edge ? -12 : y > sr.bottom - edge ? 12 : 0;
  }
  if (!dx && !dy) return;
  if (dx) b.board.scrollLeft += dx;
  if (dy && scroll) scroll.scrollTop += dy;
  showDropLine(b, x, y, el, line);
}

/**
 * The drop target: the column under the pointer, before the first card below it.
 * @param {Board} b
 * @param {number} x
 * @param {number} y
 * @param {HTMLElement} el the dragged card
 * @param {HTMLElement} line
 */
function showDropLine(b, x, y, el, line) {
  const section = b.columns.find((c) => {
    const r = /** @type {HTMLElement} */ (c.list.closest(".column")).getBoundingClientRect();
    return x >= r.left && x <= r.right;
  });
  if (!section) return;
  const others = [...section.list.children].filter((c) => c !== el && c !== line);
  const before = others.find((c) => {
    const r = c.getBoundingClientRect();
    return y < r.top + r.height / 2;
  });
  if (before) section.list.insertBefore(line, before);
  else section.list.append(line);
}

/** @param {HTMLElement} el */
function endDrag(el) {
  el.classList.remove("dragging");
  document.body.classList.remove("is-dragging");
}

/**
 * Keys on a focused card: arrows walk, Shift + arrows move it (Enter, like j/k, is the page's:
 * app.js calls the board's `keys.enter`).
 * @param {Board} b
 * @param {KeyboardEvent} e
 * @param {HTMLElement} el
 */
export function onCardKey(b, e, el) {
  const { columns } = b;
  const list = /** @type {HTMLElement} */ (el.parentElement);
  const index = columns.findIndex((c) => c.list === list);
  const arrows = ["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight"];
  if (!arrows.includes(e.key)) return;
  e.preventDefault();
  e.stopPropagation();
  if (e.shiftKey && b.canEdit) {
    const from = placeOf(el);
    if (e.key === "ArrowUp" && el.previousElementSibling) list.insertBefore(el, el.previousElementSibling);
    else if (e.key === "ArrowDown" && el.nextElementSibling) list.insertBefore(el, el.nextElementSibling.nextElementSibling);
    else if (e.key === "ArrowLeft" && index > 0) columns[index - 1].list.prepend(el);
    else if (e.key === "ArrowRight" && index < columns.length - 1) columns[index + 1].list.prepend(el);
    else return;
    el.focus();
    el.scrollIntoView({ block: "nearest", inline: "nearest" });
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
  if (target instanceof HTMLElement) {
    target.focus();
    target.scrollIntoView({ block: "nearest", inline: "nearest" });
  }
}
