// The task panel's reminders (API.md §19): up to five, each a time before the due date and time
// ("1 day before") or a moment of its own, listed with when it fires and whether it was sent.
// The list saves with the panel's other fields (task-editor.js): a change replaces the whole list.

import { h, replace } from "../dom.js";

/**
 * @typedef {{before_minutes?: number, at?: string, fire_at?: string|null, sent_at?: string|null}} Reminder
 */

export const MAX_REMINDERS = 5;

/** @type {[number, string][]} the common choices, minutes before the due date and time */
export const BEFORE = [[0, "At the due time"], [15, "15 minutes before"], [60, "1 hour before"], [1440, "1 day before"],
  [2880, "2 days before"], [10080, "1 week before"]];

/**
 * A reminder in words: "1 day before", "3 hours before", "Dec 24, 09:00".
 * @param {Reminder} r
 */
export function reminderWords(r) {
  if (r.before_minutes !== undefined) {
    const known = BEFORE.find(([m]) => m === r.before_minutes);
    if (known) return known[1];
    const m = r.before_minutes;
    /** @type {[number, string][]} */
    const units = [[10080, "week"], [1440, "day"], [60, "hour"], [1, "minute"]];
    const [size, unit] = units.find(([s]) => m % s === 0) || [1, "minute"];
    const n = m / size;
    return `${n} ${unit}${n === 1 ? "" : "s"} before`;
  }
  return r.at ? moment(r.at) : "";
}

/** @param {string} iso */
function moment(iso) {
  return new Date(iso).toLocaleString(undefined, { month: "short", day: "numeric", year: "numeric", hour: "2-digit", minute: "2-digit" });
}

/**
 * What the server takes: each entry with only its `before_minutes` or its `at`.
 * @param {Reminder[] | null | undefined} list
 */
export function reminderBody(list) {
  return (list || []).map((r) => (r.before_minutes !== undefined ? { before_minutes: r.before_minutes } : { at: r.at }));
}

/**
 * The reminders row: the list with a remove button each, and Add (a choice before the due date,
 * or a date and time of its own).
 * @param {{canEdit: boolean, changed: (field: "reminders", value: Reminder[]) => void,
 *   errorFor: (field: string) => HTMLElement}} o
 * @returns {{row: HTMLElement, fill: (draft: Record<string, any>) => void}}
 */
export function reminderInputs(o) {
  const list = h("ul", { class: "reminders", id: "task-reminders" });
  const add = /** @type {HTMLSelectElement} */ (h("select", { id: "task-reminder-add", "aria-label": "Add a reminder", disabled: !o.canEdit, "aria-describedby": "task-reminders-error" }));
  const at = /** @type {HTMLInputElement} */ (h("input", { id: "task-reminder-at", type: "datetime-local", "aria-label": "Remind at" }));
  const addAt = h("button", { type: "button", id: "task-reminder-at-add", class: "small" }, "Add");
  const atRow = h("div", { class: "with-glyph", id: "task-reminder-at-row", hidden: true }, at, addAt);
  /** @type {Reminder[]} */
  let current = [];
  /** @type {Record<string, any>} */
  let draft = {};

  /** @param {Reminder[]} next */
  const set = (next) => {
    current = next;
    o.changed("reminders", next);
    draw();
  };
  const draw = () => {
    replace(list, current.map((r, i) => h("li", { class: "reminder" + (r.sent_at ? " sent" : "") },
      h("span", { class: "reminder-words" }, reminderWords(r)),
      r.sent_at ? h("span", { class: "muted small" }, " · sent") : r.fire_at && r.before_minutes !== undefined ? h("span", { class: "muted small" }, ` · ${moment(r.fire_at)}`) : null,
      o.canEdit ? h("button", { type: "button", class: "ghost small reminder-remove", "aria-label": `Remove the reminder ${reminderWords(r)}`,
        onclick: () => set(current.filter((_, j) => j !== i)) }, "×") : null)));
    const full = current.length >= MAX_REMINDERS;
    const taken = new Set(current.map((r) => r.before_minutes));
    replace(add, h("option", { value: "" }, full ? `At most ${MAX_REMINDERS} reminders` : "Add a reminder…"),
      BEFORE.map(([m, words]) => h("option", { value: String(m), disabled: !draft.due_date || taken.has(m) }, words)),
      h("option", { value: "at" }, "At a date and time…"));
    add.value = "";
    add.disabled = !o.canEdit || full;
    if (full) atRow.hidden = true;
  };
  add.addEventListener("change", () => {
    if (add.value === "at") {
      atRow.hidden = false;
      at.focus();
      add.value = "";
      return;
    }
    if (add.value === "") return;
    set([...current, { before_minutes: Number(add.value) }]);
  });
  addAt.addEventListener("click", () => {
    if (!at.value) return;
    // To the second, as the server writes it back (no milliseconds), so the saved list reads the same.
    const iso = new Date(at.value).toISOString().replace(/\.\d{3}Z$/, "Z");
    at.value = "";
    atRow.hidden = true;
    set([...current, { at: iso }]);
  });
  const row = h("div", { class: "prop" }, h("label", { for: "task-reminder-add" }, "Reminders"), list,
    o.canEdit ? add : null, atRow, o.errorFor("reminders"));
  return {
    row,
    fill(d) {
      draft = d;
      current = d.reminders || [];
      draw();
    },
  };
}
