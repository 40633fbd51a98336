// Quick add: one line becomes a task. `!0`–`!4` priority, `#label`, `@me` assignee, and a due
// date written only in forms that cannot be ordinary words of a title:
//   today, tomorrow                     anywhere
//   monday … sunday                     a full weekday name, anywhere (the coming one)
//   on/next + mon, tue(s), wed, thu(r/rs), fri, sat, sun, or a full name: the coming one
//   dec 24, december 24 (on dec 24)     the next such date (this year, or next once it passed)
//   2026-12-24 (on 2026-12-24)          a real calendar date
// Repetition and a due time (API.md §19), each also only the first:
//   every day, every weekday, every week, every month, every year
//   every monday (or mon … sun)         weekly on that day
//   every month on the 1st (… the 31st) monthly on that day
//   at 9:00, at 17:30, at 9am, at 5:30pm
// A repeating task needs a due date: without one it is due on the first occurrence from today
// on; a time without a date is due today.
// Only the first date counts; a later one stays in the title. Every match is a span of the
// line, which the input highlights and a chip shows; a span the person chose to keep (one
// click on its chip, or Backspace right after it) stays words of the title. Linear in the line.

import { localDate } from "./dom.js";

const WEEKDAYS = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];
/** Short forms, understood only after `on` or `next` ("Design sun icon" keeps its sun). */
const SHORT_DAYS = new Map([
  ["sun", 0], ["mon", 1], ["tue", 2], ["tues", 2], ["wed", 3], ["thu", 4], ["thur", 4], ["thurs", 4], ["fri", 5], ["sat", 6],
]);
const MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"];

/**
 * @typedef {{rule: string, from: "due"}} Recurrence
 * @typedef {{title: string, priority?: number, labels: string[], assignee_me: boolean, due_date?: string,
 *   due_time?: string, recurrence?: Recurrence}} QuickAdd
 * @typedef {"priority" | "label" | "assignee" | "due" | "repeat" | "time"} SpanKind
 * @typedef {{start: number, end: number, kind: SpanKind, text: string, value: string | number | Repeat, kept: boolean}} Span
 * @typedef {{rule: string, words: string, first: string}} Repeat a repetition: its rule, in words, and its first date
 *   a part of the line that means something: `start`/`end` are offsets in the line, `kept` that the
 *   person turned it back into words
 * @typedef {[number, number][]} Kept the [start, end) of the spans kept as words
 */

/**
 * @param {Date} now
 * @param {number} day 0 (Sunday) – 6
 * @returns {string} the coming such day, never today ("fri" on a Friday means a week on)
 */
function coming(now, day) {
  const d = new Date(now);
  d.setDate(d.getDate() + (((day - d.getDay() + 7) % 7) || 7));
  return localDate(d);
}

/**
 * @param {number} y
 * @param {number} m 1–12
 * @param {number} d
 * @returns {Date | null} the date, if it exists on the calendar
 */
function calendarDate(y, m, d) {
  const date = new Date(y, m - 1, d, 12);
  return date.getFullYear() === y && date.getMonth() === m - 1 && date.getDate() === d ? date : null;
}

/**
 * @param {string} word
 * @returns {number} the month a word names (0–11), or -1
 */
function monthOf(word) {
  if (word === "sept") return 8;
  if (word.length < 3) return -1;
  return MONTHS.findIndex((name) => name === word || (word.length === 3 && name.startsWith(word)));
}

/**
 * A date written as one word that needs no `on`: today, tomorrow, a full weekday, an ISO date.
 * @param {string} word
 * @param {Date} [now]
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
  const iso = w.match(/^(\d{4})-(\d{2})-(\d{2})$/);
  if (iso) return calendarDate(Number(iso[1]), Number(iso[2]), Number(iso[3])) ? w : null;
  const day = WEEKDAYS.indexOf(w);
  return day >= 0 ? coming(now, day) : null;
}

/**
 * "dec 24": the next such date from today on.
 * @param {string} month
 * @param {string} day
 * @param {Date} now
 */
function monthDay(month, day, now) {
  const m = monthOf(month);
  const d = day.match(/^(\d{1,2})(st|nd|rd|th)?,?$/);
  if (m < 0 || !d) return null;
  const today = localDate(now);
  for (const y of [now.getFullYear(), now.getFullYear() + 1]) {
    const date = calendarDate(y, m + 1, Number(d[1]));
    if (date && localDate(date) >= today) return localDate(date);
  }
  return null;
}

/**
 * A date that starts at word `i`: how many words it takes and the date, or null.
 * @param {string[]} words lower-cased
 * @param {number} i
 * @param {Date} now
 * @returns {[number, string] | null}
 */
function dateAt(words, i, now) {
  const w = words[i];
  if ((w === "on" || w === "next") && i + 1 < words.length) {
    const next = words[i + 1];
    const short = SHORT_DAYS.get(next);
    const day = short ?? WEEKDAYS.indexOf(next);
    if (day >= 0) return [2, coming(now, day)];
    if (w === "on") {
      const md = i + 2 < words.length ? monthDay(next, words[i + 2], now) : null;
      if (md) return [3, md];
      const iso = /^\d{4}-/.test(next) ? parseDueWord(next, now) : null;
      if (iso) return [2, iso];
    }
    return null;
  }
  const one = parseDueWord(w, now);
  if (one) return [1, one];
  const md = i + 1 < words.length ? monthDay(w, words[i + 1], now) : null;
  return md ? [2, md] : null;
}

const DAY_CODES = ["SU", "MO", "TU", "WE", "TH", "FR", "SA"];
const CAPITAL = (/** @type {string} */ w) => w[0].toUpperCase() + w.slice(1);

/**
 * @param {Date} now
 * @param {(d: Date) => boolean} ok
 * @returns {string} the first day from today on that is `ok` (within a year and a month)
 */
function firstFrom(now, ok) {
  const d = new Date(now);
  for (let i = 0; i < 400 && !ok(d); i++) d.setDate(d.getDate() + 1);
  return localDate(d);
}

/**
 * A repetition that starts at word `i` ("every …"): how many words it takes and what it means.
 * @param {string[]} words lower-cased
 * @param {number} i
 * @param {Date} now
 * @returns {[number, Repeat] | null}
 */
function repeatAt(words, i, now) {
  if (words[i] !== "every" || i + 1 >= words.length) return null;
  const w = words[i + 1];
  const today = localDate(now);
  if (w === "day") return [2, { rule: "FREQ=DAILY", words: "Every day", first: today }];
  if (w === "weekday") return [2, { rule: "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", words: "Every weekday", first: firstFrom(now, (d) => d.getDay() > 0 && d.getDay() < 6) }];
  if (w === "week") return [2, { rule: "FREQ=WEEKLY", words: "Every week", first: today }];
  if (w === "year") return [2, { rule: "FREQ=YEARLY", words: "Every year", first: today }];
  const day = SHORT_DAYS.get(w) ?? WEEKDAYS.indexOf(w);
  if (day >= 0) {
    return [2, { rule: `FREQ=WEEKLY;BYDAY=${DAY_CODES[day]}`, words: `Every ${CAPITAL(WEEKDAYS[day])}`, first: firstFrom(now, (d) => d.getDay() === day) }];
  }
  if (w !== "month") return null;
  const nth = words[i + 2] === "on" && words[i + 3] === "the" ? words[i + 4]?.match(/^(\d{1,2})(st|nd|rd|th)$/) : null;
  const n = nth ? Number(nth[1]) : 0;
  if (n >= 1 && n <= 31 && nth?.[2] === ordinalSuffix(n)) {
    return [5, { rule: `FREQ=MONTHLY;BYMONTHDAY=${n}`, words: `Every month on the ${n}${nth[2]}`, first: firstFrom(now, (d) => d.getDate() === n) }];
  }
  return [2, { rule: "FREQ=MONTHLY", words: "Every month", first: today }];
}

/** @param {number} n */
function ordinalSuffix(n) {
  if (n % 100 >= 11 && n % 100 <= 13) return "th";
  return ["th", "st", "nd", "rd"][n % 10] || "th";
}

/**
 * A time that starts at word `i` ("at 9:00", "at 9am", "at 5:30pm").
 * @param {string[]} words lower-cased
 * @param {number} i
 * @returns {string | null} HH:MM
 */
function timeAt(words, i) {
  if (words[i] !== "at" || i + 1 >= words.length) return null;
  const m = words[i + 1].match(/^(\d{1,2})(?::([0-5]\d))?(am|pm)?$/);
  if (!m || (!m[2] && !m[3])) return null;
  let hour = Number(m[1]);
  if (m[3]) {
    if (hour < 1 || hour > 12) return null;
    hour = (hour % 12) + (m[3] === "pm" ? 12 : 0);
  } else if (hour > 23) return null;
  return `${String(hour).padStart(2, "0")}:${m[2] || "00"}`;
}

/**
 * Reads a line: what it sets, and the spans that say so.
 * @param {string} line
 * @param {Date} [now]
 * @param {Kept} [kept]
 * @returns {{result: QuickAdd, spans: Span[]}}
 */
export function scanQuickAdd(line, now = new Date(), kept = []) {
  /** @type {QuickAdd} */
  const result = { title: "", labels: [], assignee_me: false };
  /** @type {Span[]} */
  const spans = [];
  const keep = new Set(kept.map(([s, e]) => `${s}:${e}`));
  // Seen labels, so that a line of thousands stays linear.
  const labels = new Set();
  /** @type {{text: string, start: number, end: number}[]} */
  const tokens = [];
  for (const m of line.matchAll(/\S+/g)) {
    const start = /** @type {number} */ (m.index);
    tokens.push({ text: m[0], start, end: start + m[0].length });
  }
  const lower = tokens.map((t) => t.text.toLowerCase());
  const title = [];
  /** @type {Repeat | null} */
  let repeat = null;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    const word = lower[i];
    /** @type {[number, SpanKind, string | number | Repeat] | null} */
    let found = null;
    const priority = word.match(/^!([0-4])$/);
    if (priority) found = [1, "priority", Number(priority[1])];
    else if (/^#[^#\s]+$/.test(word)) found = [1, "label", word.slice(1)];
    else if (word === "@me") found = [1, "assignee", "me"];
    if (!found && repeat === null) {
      const repeat = repeatAt(lower, i, now);
      if (repeat) found = [repeat[0], "repeat", repeat[1]];
    }
    if (!found && result.due_time === undefined) {
      const time = timeAt(lower, i);
      if (time) found = [2, "time", time];
    }
    if (!found && result.due_date === undefined) {
      const date = dateAt(lower, i, now);
      if (date) found = [date[0], "due", date[1]];
    }
    if (!found) {
      title.push(token.text);
      continue;
    }
    const [count, kind, value] = found;
    const end = tokens[i + count - 1].end;
    const isKept = keep.has(`${token.start}:${end}`);
    spans.push({ start: token.start, end, kind, text: line.slice(token.start, end), value, kept: isKept });
    if (isKept) {
      for (let k = i; k < i + count; k++) title.push(tokens[k].text);
    } else if (kind === "priority") {
      result.priority = /** @type {number} */ (value);
    } else if (kind === "label") {
      if (!labels.has(value)) {
        labels.add(value);
        result.labels.push(/** @type {string} */ (value));
      }
    } else if (kind === "assignee") {
      result.assignee_me = true;
    } else if (kind === "repeat") {
      repeat = /** @type {Repeat} */ (value);
      result.recurrence = { rule: repeat.rule, from: "due" };
    } else if (kind === "time") {
      result.due_time = /** @type {string} */ (value);
    } else {
      result.due_date = /** @type {string} */ (value);
    }
    i += count - 1;
  }
  result.title = title.join(" ");
  // A repetition or a time needs a date: the first occurrence, or today.
  if (result.due_date === undefined && (repeat || result.due_time !== undefined)) result.due_date = repeat ? repeat.first : localDate(now);
  return { result, spans };
}

/**
 * @param {string} line
 * @param {Date} [now]
 * @param {Kept} [kept]
 * @returns {QuickAdd}
 */
export function parseQuickAdd(line, now = new Date(), kept = []) {
  return scanQuickAdd(line, now, kept).result;
}

/**
 * The kept spans after the line changed from `before` to `after`: those before the edit stay,
 * those after it move with it, those it touched (or that it joined to a word) are forgotten.
 * @param {Kept} kept
 * @param {string} before
 * @param {string} after
 * @returns {Kept}
 */
export function shiftKept(kept, before, after) {
  if (!kept.length || before === after) return kept;
  let prefix = 0;
  const shortest = Math.min(before.length, after.length);
  while (prefix < shortest && before[prefix] === after[prefix]) prefix++;
  let suffix = 0;
  while (suffix < shortest - prefix && before[before.length - 1 - suffix] === after[after.length - 1 - suffix]) suffix++;
  const editEnd = before.length - suffix;
  const delta = after.length - before.length;
  // Text typed right against a span changes its word; text after a space does not.
  const space = (/** @type {string | undefined} */ c) => c === undefined || /\s/.test(c);
  /** @type {Kept} */
  const out = [];
  for (const [s, e] of kept) {
    if (e < prefix || (e === prefix && space(after[e]))) out.push([s, e]);
    else if (s > editEnd || (s === editEnd && space(after[s + delta - 1]))) out.push([s + delta, e + delta]);
  }
  return out;
}
