// Quick add: one line becomes a task. `!3` priority, `#label`, `@me` assignee, and a due date
// written `today`, `tomorrow`, a weekday (`fri`, `friday`) or `2026-12-24`. The parsed parts
// are shown as chips before Enter (UI.md: never hide what was understood).

import { localDate } from "./dom.js";

const WEEKDAYS = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];

/**
 * @typedef {{title: string, priority?: number, labels: string[], assignee_me: boolean, due_date?: string}} QuickAdd
 */

/**
 * @param {string} word
 * @param {Date} now
 * @returns {string | null} the date the word names, YYYY-MM-DD
 */
export function parseDueWord(word, now = new Date()) {
  const w = word.toLowerCase();
  if (w === "today") return localDate(now);
  if (w === "tomorrow") {
    const d = new Date(now);
    d.setDate(d.getDate() + 1);
    return localDate(d);
  }
  if (/^\d{4}-\d{2}-\d{2}$/.test(w) && !Number.isNaN(Date.parse(w))) return w;
  const day = WEEKDAYS.findIndex((name) => w.length >= 3 && name.startsWith(w));
  if (day >= 0) {
    // The next such day, never today: "fri" on a Friday means a week on.
    const d = new Date(now);
    const ahead = ((day - d.getDay() + 7) % 7) || 7;
    d.setDate(d.getDate() + ahead);
    return localDate(d);
  }
  return null;
}

/**
 * @param {string} line
 * @param {Date} [now]
 * @returns {QuickAdd}
 */
export function parseQuickAdd(line, now = new Date()) {
  /** @type {QuickAdd} */
  const result = { title: "", labels: [], assignee_me: false };
  // Seen labels, so that a line of thousands stays linear (a search of the list each time
  // was quadratic).
  const labels = new Set();
  const words = [];
  for (const word of line.trim().split(/\s+/).filter(Boolean)) {
    const priority = word.match(/^!([0-4])$/);
    if (priority) {
      result.priority = Number(priority[1]);
      continue;
    }
    if (/^#[^#\s]+$/.test(word)) {
      const label = word.slice(1).toLowerCase();
      if (!labels.has(label)) {
        labels.add(label);
        result.labels.push(label);
      }
      continue;
    }
    if (word.toLowerCase() === "@me") {
      result.assignee_me = true;
      continue;
    }
    const due = result.due_date === undefined ? parseDueWord(word, now) : null;
    if (due) {
      result.due_date = due;
      continue;
    }
    words.push(word);
  }
  result.title = words.join(" ");
  return result;
}
