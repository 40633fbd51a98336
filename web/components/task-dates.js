// The task panel's dates (API.md §19): start date, due date with an optional time (the person's
// time zone, set in Settings), and the repetition — common choices in words, computed from the due
// date ("every week on Friday", "monthly on the last Friday"), or a custom RRULE — with the rule
// itself always shown. The fields save with the panel's other fields (task-editor.js).

import { h, replace } from "../dom.js";
import { useStyles } from "./timer.js";
import { reminderInputs } from "./task-reminders.js";

/**
 * @typedef {{rule: string, from: "due"|"completion"}} Recurrence a task's repetition
 * @typedef {import("../api.js").Task & {start_date?: string|null, due_time?: string|null, recurrence?: Recurrence|null,
 *   time_spent_minutes?: number, reminders?: import("./task-reminders.js").Reminder[]}} TimedTask a task with its fields of API.md §19
 */

const DAY_CODES = ["SU", "MO", "TU", "WE", "TH", "FR", "SA"];
const DAY_NAMES = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/**
 * 1st, 2nd, 3rd, 4th, 11th, 21st…
 * @param {number} n
 */
export function ordinal(n) {
  const tens = n % 100;
  if (tens >= 11 && tens <= 13) return `${n}th`;
  return `${n}${["th", "st", "nd", "rd"][n % 10] || "th"}`;
}

/**
 * The common choices, worded for this due date (today's when there is none).
 * @param {string | null} due YYYY-MM-DD
 * @returns {[string, string, Recurrence][]} [id, words, recurrence]
 */
export function presets(due) {
  const d = due ? new Date(due + "T12:00:00") : new Date();
  const day = d.getDay();
  const date = d.getDate();
  return [
    ["daily", "Every day", { rule: "FREQ=DAILY", from: "due" }],
    ["weekdays", "Every weekday", { rule: "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", from: "due" }],
    ["weekly", `Every week on ${DAY_NAMES[day]}`, { rule: `FREQ=WEEKLY;BYDAY=${DAY_CODES[day]}`, from: "due" }],
    ["monthly-day", `Monthly on the ${ordinal(date)}`, { rule: `FREQ=MONTHLY;BYMONTHDAY=${date}`, from: "due" }],
    ["monthly-last", `Monthly on the last ${DAY_NAMES[day]}`, { rule: `FREQ=MONTHLY;BYDAY=-1${DAY_CODES[day]}`, from: "due" }],
    ["yearly", "Every year", { rule: "FREQ=YEARLY", from: "due" }],
    ["after-3", "3 days after completion", { rule: "FREQ=DAILY;INTERVAL=3", from: "completion" }],
  ];
}

/**
 * A rule in words where it is a simple one, else null (then the rule itself speaks).
 * @param {Recurrence} r
 * @returns {string | null}
 */
export function describe(r) {
  /** @type {Record<string, string>} */
  const parts = {};
  for (const part of r.rule.replace(/^RRULE:/i, "").split(";")) {
    const [k, v] = part.split("=");
    if (k && v !== undefined) parts[k.toUpperCase()] = v.toUpperCase();
  }
  const n = Number(parts.INTERVAL || "1");
  const known = new Set(["FREQ", "INTERVAL", "BYDAY", "BYMONTHDAY"]);
  if (!Number.isInteger(n) || n < 1 || Object.keys(parts).some((k) => !known.has(k))) return null;
  /** @type {Record<string, [string, string]>} */
  const units = { DAILY: ["day", "days"], WEEKLY: ["week", "weeks"], MONTHLY: ["month", "months"], YEARLY: ["year", "years"] };
  const unit = units[parts.FREQ];
  if (!unit) return null;
  const every = n === 1 ? `every ${unit[0]}` : `every ${n} ${unit[1]}`;
  if (r.from === "completion") {
    if (parts.BYDAY || parts.BYMONTHDAY) return null;
    return `${n} ${n === 1 ? unit[0] : unit[1]} after completion`;
  }
  const days = parts.BYDAY ? parts.BYDAY.split(",") : [];
  if (parts.FREQ === "WEEKLY" && days.length && !parts.BYMONTHDAY && days.every((c) => DAY_CODES.includes(c))) {
    if (n === 1 && days.join() === "MO,TU,WE,TH,FR") return "every weekday";
    return `${every} on ${days.map((c) => DAY_NAMES[DAY_CODES.indexOf(c)]).join(", ")}`;
  }
  if (parts.FREQ === "MONTHLY" && !days.length && parts.BYMONTHDAY) {
    const md = Number(parts.BYMONTHDAY);
    if (md === -1) return `${n === 1 ? "monthly" : every} on the last day`;
    if (Number.isInteger(md) && md >= 1 && md <= 31) return `${n === 1 ? "monthly" : every} on the ${ordinal(md)}`;
    return null;
  }
  if (parts.FREQ === "MONTHLY" && days.length === 1 && !parts.BYMONTHDAY) {
    const m = days[0].match(/^(-1|[1-4])([A-Z]{2})$/);
    if (!m || !DAY_CODES.includes(m[2])) return null;
    const which = m[1] === "-1" ? "last" : ["first", "second", "third", "fourth"][Number(m[1]) - 1];
    return `${n === 1 ? "monthly" : every} on the ${which} ${DAY_NAMES[DAY_CODES.indexOf(m[2])]}`;
  }
  return days.length || parts.BYMONTHDAY ? null : every;
}

/**
 * @typedef {{section: HTMLElement, start: HTMLInputElement, due: HTMLInputElement, time: HTMLInputElement,
 *   repeat: HTMLSelectElement, fill: (draft: Record<string, any>) => void,
 *   reminders: {fill: (draft: Record<string, any>) => void}}} DateInputs
 */

/**
 * The date fields: start, due (date and time), repeat, reminders. Each reports its new value to `changed`;
 * `errorFor(field)` makes the element its server errors land in.
 * @param {Record<string, any>} draft
 * @param {{canEdit: boolean, zone: string, changed: (field: any, value: any) => void,
 *   errorFor: (field: string) => HTMLElement}} o
 * @returns {DateInputs}
 */
export function dateInputs(draft, o) {
  useStyles();
  const { canEdit, changed } = o;
  const start = /** @type {HTMLInputElement} */ (h("input", { id: "task-start_date", type: "date", readonly: !canEdit, "aria-describedby": "task-start_date-error" }));
  const due = /** @type {HTMLInputElement} */ (h("input", { id: "task-due_date", type: "date", readonly: !canEdit, "aria-describedby": "task-due_date-error" }));
  const time = /** @type {HTMLInputElement} */ (h("input", { id: "task-due_time", type: "time", readonly: !canEdit, "aria-label": "Due time", "aria-describedby": "task-due-zone task-due_time-error" }));
  const repeat = /** @type {HTMLSelectElement} */ (h("select", { id: "task-recurrence", disabled: !canEdit, "aria-describedby": "task-recurrence-shown task-recurrence-error" }));
  const rule = /** @type {HTMLInputElement} */ (h("input", { id: "task-recurrence-rule", class: "mono", placeholder: "FREQ=WEEKLY;BYDAY=MO,WE", readonly: !canEdit, autocomplete: "off", spellcheck: "false" }));
  const from = /** @type {HTMLSelectElement} */ (h("select", { id: "task-recurrence-from", disabled: !canEdit, "aria-label": "Counted from" },
    h("option", { value: "due" }, "from the due date"), h("option", { value: "completion" }, "from completion")));
  const custom = h("div", { class: "recurrence-custom", id: "recurrence-custom", hidden: true },
    h("label", { for: "task-recurrence-rule", class: "small" }, "RRULE (RFC 5545)"), rule, from);
  const shown = h("p", { class: "hint", id: "task-recurrence-shown" });
  /** @type {Record<string, any>} the values shown, to word the choices after each change */
  let current = draft;
  // "Custom rule…" chosen and its rule not yet typed.
  let customOpen = false;

  const drawChoices = () => {
    const r = /** @type {Recurrence | null} */ (current.recurrence);
    const list = presets(current.due_date);
    const match = r ? list.find(([, , p]) => p.rule === r.rule && p.from === r.from) : null;
    const chosen = customOpen || (r && !match) ? "custom" : match ? match[0] : "none";
    replace(repeat, h("option", { value: "none", selected: chosen === "none" }, "Does not repeat"),
      list.map(([id, words]) => h("option", { value: id, selected: chosen === id }, words)),
      h("option", { value: "custom", selected: chosen === "custom" }, "Custom rule…"));
    custom.hidden = chosen !== "custom";
    if (r) {
      if (document.activeElement !== rule) rule.value = r.rule;
      from.value = r.from;
    }
    const words = r ? describe(r) : null;
    replace(shown, r ? [words ? `Repeats ${words} · ` : "Repeats · ", h("code", { id: "task-recurrence-rule-shown" }, `RRULE:${r.rule}`), r.from === "completion" && !words ? " (from completion)" : ""] : []);
    time.disabled = !current.due_date;
  };
  const reminders = reminderInputs({ canEdit, changed, errorFor: o.errorFor });
  const fill = (/** @type {Record<string, any>} */ d) => {
    current = d;
    start.value = d.start_date || "";
    due.value = d.due_date || "";
    time.value = d.due_time || "";
    drawChoices();
    reminders.fill(d);
  };

  start.addEventListener("change", () => changed("start_date", start.value || null));
  due.addEventListener("change", () => {
    changed("due_date", due.value || null);
    // Clearing the date clears its time on the server too.
    if (!due.value && current.due_time) changed("due_time", null);
    drawChoices();
    // Choices before the due date need one.
    reminders.fill(current);
  });
  time.addEventListener("change", () => changed("due_time", time.value || null));
  repeat.addEventListener("change", () => {
    const v = repeat.value;
    customOpen = v === "custom";
    if (customOpen) {
      custom.hidden = false;
      rule.focus();
      return;
    }
    const preset = presets(current.due_date).find(([id]) => id === v);
    changed("recurrence", preset ? { ...preset[2] } : null);
    drawChoices();
  });
  const customChanged = () => {
    // The rule's field left after a common choice was made instead: that choice stands.
    if (repeat.value !== "custom") return;
    const text = rule.value.trim().replace(/^RRULE:/i, "");
    changed("recurrence", text ? { rule: text, from: from.value === "completion" ? "completion" : "due" } : null);
    drawChoices();
  };
  rule.addEventListener("change", customChanged);
  from.addEventListener("change", customChanged);

  /**
   * @param {string} id
   * @param {string} text
   * @param {HTMLElement[]} controls
   * @param {string[]} fields whose errors show here
   */
  const row = (id, text, controls, fields) => h("div", { class: "prop" }, h("label", { for: id }, text), h("div", { class: "with-glyph" }, controls), ...fields.map(o.errorFor));
  const section = h("div", { class: "props dates", id: "task-dates" },
    row("task-start_date", "Start", [start], ["start_date"]),
    row("task-due_date", "Due", [due, time], ["due_date", "due_time"]),
    h("div", { class: "prop" }, h("label", { for: "task-recurrence" }, "Repeat"), repeat, custom, shown, o.errorFor("recurrence")),
    reminders.row,
    h("p", { class: "hint", id: "task-due-zone" }, `Times are in ${o.zone} (Settings).`));
  fill(draft);
  return { section, start, due, time, repeat, fill, reminders };
}
