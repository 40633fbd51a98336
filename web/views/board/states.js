// The board's columns are the project's workflow states (API.md §17). An admin adds a column,
// renames one in place (its name is a button that turns into a field), reorders them by dragging
// a column's grip (or with its menu, from the keyboard), and deletes one, choosing the column its
// cards move to. Each change is one request; the board is then drawn again from the server's
// states, as it is when another person changes them (their `project.updated` entry, live).

import * as api from "../../api.js";
import { h, announce, dialog } from "../../dom.js";
import { statesOf, forgetStates, hasUnsaved, STATUSES } from "../../model.js";

/**
 * @typedef {import("./columns.js").Board} Board
 * @typedef {import("./columns.js").Column} Column
 */

/**
 * Draws the board again with the server's states (a column was added, renamed, moved or deleted;
 * or the live stream was reset).
 * @param {Board} b
 */
export function redrawColumns(b) {
  forgetStates(b.project.id);
  if (b.ctx.signal.aborted) return;
  // Without `openTask` the router draws the whole view again, not just the panel of the URL.
  delete b.ctx.openTask;
  b.ctx.navigate(location.pathname + location.search, { replace: true, force: true });
}

/**
 * Someone changed the project's states: draw the board again when they differ from its columns
 * (this person's own change has redrawn it already), unless input would be lost.
 * @param {Board} b
 */
export async function statesChanged(b) {
  forgetStates(b.project.id);
  const states = await statesOf(b.project.id).catch(() => null);
  if (!states || b.ctx.signal.aborted) return;
  const shown = b.source.columns.map((c) => c.state);
  const key = (/** @type {api.WorkflowState[]} */ list) => JSON.stringify(list.map((s) => [s.id, s.name, s.color, s.is_default]));
  if (key(states) !== key(shown) && !hasUnsaved() && !document.body.classList.contains("is-dragging")) redrawColumns(b);
}

/**
 * A change of the states, said in words when refused.
 * @param {Board} b
 * @param {() => Promise<any>} send
 * @param {string} done what to announce when it worked
 */
async function change(b, send, done) {
  try {
    await send();
    announce(done);
    redrawColumns(b);
    return true;
  } catch (e) {
    announce(e instanceof Error ? e.message : String(e), { error: true });
    return false;
  }
}

/**
 * A column's heading: its name (a button that renames it, for an admin), the count, an add button,
 * and an admin's grip and menu.
 * @param {Board} b
 * @param {Column} c
 * @param {string} titleId
 * @param {HTMLElement | null} add
 */
export function columnHead(b, c, titleId, add) {
  const swatch = h("span", { class: "state-dot", "aria-hidden": "true" });
  // Through the CSSOM: the content security policy refuses style attributes.
  swatch.style.background = c.state.color;
  if (!b.canAdmin) return h("header", { class: "column-head" }, swatch, h("h2", { id: titleId }, c.label), c.count, add);
  const name = h("button", { type: "button", class: "column-name", title: "Rename", "aria-label": `${c.label} (rename)`, onclick: () => rename(b, c, heading) }, c.label);
  const heading = h("h2", { id: titleId }, name);
  const grip = h("button", { type: "button", class: "icon column-grip", "aria-label": `Drag to move the column ${c.label}`, title: "Drag to move the column" }, "⠿");
  grip.addEventListener("pointerdown", (e) => dragColumn(b, c, e));
  return h("header", { class: "column-head" }, grip, swatch, heading, c.count, add, columnMenu(b, c, heading));
}

/**
 * The name becomes a field: Enter or leaving it saves, Esc puts the name back.
 * @param {Board} b
 * @param {Column} c
 * @param {HTMLElement} heading
 */
function rename(b, c, heading) {
  const shown = heading.firstElementChild;
  const input = /** @type {HTMLInputElement} */ (h("input", { class: "column-rename", value: c.label, maxlength: 50, "aria-label": `New name for ${c.label}` }));
  let done = false;
  const back = () => {
    done = true;
    input.replaceWith(/** @type {Node} */ (shown));
    /** @type {HTMLElement} */ (shown).focus();
  };
  const save = async () => {
    if (done) return;
    const value = input.value.trim();
    if (!value || value === c.label) return back();
    done = true;
    if (!(await change(b, () => api.patch(`/states/${c.key}`, { name: value }), `Renamed the column to ${value}.`))) {
      done = false;
      input.focus();
    }
  };
  input.addEventListener("keydown", (e) => {
    e.stopPropagation();
    if (e.key === "Enter") save();
    if (e.key === "Escape") back();
  });
  input.addEventListener("blur", () => save());
  /** @type {HTMLElement} */ (shown).replaceWith(input);
  input.focus();
  input.select();
}

/**
 * The column's menu: rename, move left or right, delete.
 * @param {Board} b
 * @param {Column} c
 * @param {HTMLElement} heading
 */
function columnMenu(b, c, heading) {
  const index = b.source.columns.findIndex((s) => s.key === c.key);
  const menu = /** @type {HTMLDetailsElement} */ (h("details", { class: "column-menu" }));
  /** @param {string} text @param {() => void} run @param {boolean} [disabled] */
  const item = (text, run, disabled = false) => h("button", { type: "button", class: "ghost small", disabled, onclick: () => { menu.open = false; run(); } }, text);
  menu.append(
    h("summary", { class: "icon", "aria-label": `Column ${c.label}: more actions`, title: "More actions" }, "⋯"),
    h("div", { class: "menu" },
      item("Rename", () => rename(b, c, heading)),
      item("Move left", () => moveColumn(b, c, index - 1), index === 0),
      item("Move right", () => moveColumn(b, c, index + 1), index >= b.source.columns.length - 1),
      item("Delete…", () => deleteColumn(b, c))));
  return menu;
}

/**
 * Puts a column at `to` (an index among the columns): after the one before it there.
 * @param {Board} b
 * @param {Column} c
 * @param {number} to
 */
function moveColumn(b, c, to) {
  const others = b.columns.filter((o) => o !== c);
  const after = to <= 0 ? null : others[Math.min(to, others.length) - 1].key;
  return change(b, () => api.patch(`/states/${c.key}`, { after_id: after }), `Moved the column ${c.label}.`)
    .then((ok) => ok || redrawColumns(b));
}

/**
 * Deletes a column after asking where its cards go.
 * @param {Board} b
 * @param {Column} c
 */
async function deleteColumn(b, c) {
  const others = b.columns.filter((o) => o !== c);
  const same = others.find((o) => o.state.category === c.state.category && o.state.is_default) || others[0];
  const target = /** @type {HTMLSelectElement} */ (h("select", { id: "move-cards-to" },
    others.map((o) => h("option", { value: o.key, selected: o === same }, o.label))));
  const cards = c.total ?? c.list.querySelectorAll(".card").length;
  const go = await dialog(`Delete the column ${c.label}`, (close) => [
    h("p", null, cards ? `Its ${cards.toLocaleString()} card${cards === 1 ? "" : "s"} move to another column.` : "It has no cards."),
    h("div", { class: "prop" }, h("label", { for: "move-cards-to" }, "Move its cards to…"), target),
    h("div", { class: "actions" },
      h("button", { type: "button", onclick: () => close(false) }, "Cancel"),
      h("button", { type: "button", class: "danger", id: "confirm-delete-column", onclick: () => close(true) }, "Delete column")),
  ]);
  if (!go) return;
  const to = others.find((o) => o.key === target.value);
  await change(b, () => api.del(`/states/${c.key}?move_to=${encodeURIComponent(target.value)}`), `Deleted the column ${c.label}; its cards are in ${to?.label}.`);
}

/**
 * The "Add column" button at the board's end: a name and the category it belongs to.
 * @param {Board} b
 */
export function addColumn(b) {
  const wrap = h("section", { class: "column add-column", "aria-label": "Add a column" });
  const open = h("button", { type: "button", class: "ghost", id: "add-column", onclick: () => showForm() }, "+ Add column");
  wrap.append(open);
  const showForm = () => {
    const name = /** @type {HTMLInputElement} */ (h("input", { id: "new-column-name", maxlength: 50, autocomplete: "off", required: true }));
    const category = /** @type {HTMLSelectElement} */ (h("select", { id: "new-column-category" },
      STATUSES.map(([v, t]) => h("option", { value: v, selected: v === "in_progress" }, t))));
    const error = h("p", { class: "field-error", id: "new-column-error" });
    const form = h("form", {
      class: "new-column",
      onsubmit: async (/** @type {Event} */ e) => {
        e.preventDefault();
        const last = b.columns[b.columns.length - 1];
        try {
          await api.post(`/projects/${b.project.id}/states`, { name: name.value.trim(), category: category.value, ...(last ? { after_id: last.key } : {}) });
          announce(`Added the column ${name.value.trim()}.`);
          redrawColumns(b);
        } catch (err) {
          error.textContent = err instanceof Error ? err.message : String(err);
        }
      },
    },
    h("div", { class: "prop" }, h("label", { for: "new-column-name" }, "Column name"), name),
    h("div", { class: "prop" }, h("label", { for: "new-column-category" }, "Counts as"), category),
    error,
    h("div", { class: "actions" },
      h("button", { type: "button", onclick: () => form.replaceWith(open) }, "Cancel"),
      h("button", { type: "submit", class: "primary", id: "save-column" }, "Add column")));
    form.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        e.stopPropagation();
        form.replaceWith(open);
        open.focus();
      }
    });
    open.replaceWith(form);
    name.focus();
  };
  return wrap;
}

/**
 * Drags a column by its grip: it follows the pointer among the others, and letting go puts it
 * there (one request).
 * @param {Board} b
 * @param {Column} c
 * @param {PointerEvent} e
 */
function dragColumn(b, c, e) {
  if (e.button !== 0) return;
  e.preventDefault();
  const section = /** @type {HTMLElement} */ (c.list.closest(".column"));
  const from = b.columns.indexOf(c);
  // The document listens, not the grip: moving the column in the page would release a capture.
  section.classList.add("column-dragging");
  document.body.classList.add("is-dragging");
  /** @param {PointerEvent} m */
  const move = (m) => {
    const sections = /** @type {HTMLElement[]} */ ([...b.board.querySelectorAll(".column:not(.add-column)")]).filter((s) => s !== section);
    const before = sections.find((s) => {
      const r = s.getBoundingClientRect();
      return m.clientX < r.left + r.width / 2;
    });
    if (before) b.board.insertBefore(section, before);
    else (sections[sections.length - 1] || section).after(section);
  };
  const up = () => {
    document.removeEventListener("pointermove", move);
    document.removeEventListener("pointerup", up);
    document.removeEventListener("pointercancel", up);
    section.classList.remove("column-dragging");
    document.body.classList.remove("is-dragging");
    const order = /** @type {HTMLElement[]} */ ([...b.board.querySelectorAll(".column:not(.add-column)")]);
    const to = order.indexOf(section);
    if (to !== from) moveColumn(b, c, to);
  };
  document.addEventListener("pointermove", move);
  document.addEventListener("pointerup", up);
  document.addEventListener("pointercancel", up);
}
