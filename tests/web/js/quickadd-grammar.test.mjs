// The quick-add grammar (web/quickadd.js), table-driven, run by `node --test` from
// scripts/check-web.sh: which words become a date, a priority, a label or an assignee, what the
// title keeps, the spans the input highlights, and what keeping a span as words does.

import { test } from "node:test";
import assert from "node:assert/strict";

const { scanQuickAdd, parseQuickAdd, parseDueWord, shiftKept } = await import("../../../web/quickadd.js");

const NOW = new Date(2026, 11, 16, 12, 0, 0); // Wednesday 16 December 2026

/** [line, title, due date or null, the due span's text or null] */
const DATES = [
  // The two titles of issue 27: a full weekday is a date (shown, and reversible: below); a
  // three-letter one is a word unless `on`/`next` comes first.
  ["Update Monday newsletter copy", "Update newsletter copy", "2026-12-21", "Monday"],
  ["Design sun icon for dark mode", "Design sun icon for dark mode", null, null],
  ["Fix the mon bug", "Fix the mon bug", null, null],
  ["Sat down with design", "Sat down with design", null, null],
  ["Write wed notes", "Write wed notes", null, null],
  ["Thu Tue Fri", "Thu Tue Fri", null, null],
  ["Call mom on sun", "Call mom", "2026-12-20", "on sun"],
  ["Call mom next fri", "Call mom", "2026-12-18", "next fri"],
  ["Standup on thurs", "Standup", "2026-12-17", "on thurs"],
  ["Retro on Wednesday", "Retro", "2026-12-23", "on Wednesday"],
  ["Wednesday standup", "standup", "2026-12-23", "Wednesday"],
  ["Go on holiday", "Go on holiday", null, null],
  ["Next steps", "Next steps", null, null],
  ["Meet tomorrow at noon", "Meet at noon", "2026-12-17", "tomorrow"],
  ["Eat today today", "Eat today", "2026-12-16", "today"],
  ["TODAY: triage", "TODAY: triage", null, null],
  ["Pay rent dec 24", "Pay rent", "2026-12-24", "dec 24"],
  ["Party on december 31st", "Party", "2026-12-31", "on december 31st"],
  ["Review budget Jan 5", "Review budget", "2027-01-05", "Jan 5"],
  ["Visit dec 10", "Visit", "2027-12-10", "dec 10"],
  ["Buy 3 sept 9 tickets", "Buy 3 tickets", "2027-09-09", "sept 9"],
  ["feb 30 party", "feb 30 party", null, null],
  ["Decorate the december tree", "Decorate the december tree", null, null],
  ["Release 2027-01-04", "Release", "2027-01-04", "2027-01-04"],
  ["Release on 2027-01-04", "Release", "2027-01-04", "on 2027-01-04"],
  ["Release 2026-02-30", "Release 2026-02-30", null, null],
  ["Release 2026-13-01", "Release 2026-13-01", null, null],
  ["Tomorrow, maybe", "Tomorrow, maybe", null, null],
  ["tomorrow friday", "friday", "2026-12-17", "tomorrow"],
];

for (const [line, title, due, span] of DATES) {
  test(`dates: ${JSON.stringify(line)}`, () => {
    const { result, spans } = scanQuickAdd(line, NOW);
    assert.equal(result.title, title);
    assert.equal(result.due_date, due ?? undefined);
    const dueSpans = spans.filter((s) => s.kind === "due");
    assert.deepEqual(dueSpans.map((s) => s.text), span === null ? [] : [span]);
    for (const s of spans) assert.equal(line.slice(s.start, s.end), s.text);
  });
}

/** [line, what it sets] */
const FIELDS = [
  ["Ship the release tomorrow !3 #release @me",
    { title: "Ship the release", priority: 3, labels: ["release"], assignee_me: true, due_date: "2026-12-17" }],
  ["Plan the party 2026-12-24 #fun #Fun #fun", { title: "Plan the party", labels: ["fun"], assignee_me: false, due_date: "2026-12-24" }],
  ["!1 !4 Triage", { title: "Triage", priority: 4, labels: [], assignee_me: false }],
  ["!5 and ! and #", { title: "!5 and ! and #", labels: [], assignee_me: false }],
  ["Tell @Me and @mel", { title: "Tell and @mel", labels: [], assignee_me: true }],
  ["   ", { title: "", labels: [], assignee_me: false }],
];

for (const [line, expected] of FIELDS) {
  test(`fields: ${JSON.stringify(line)}`, () => {
    assert.deepEqual(parseQuickAdd(line, NOW), expected);
  });
}

/** [line, the span kept as words (its text), title, due date or null] */
const KEPT = [
  ["Update Monday newsletter copy", "Monday", "Update Monday newsletter copy", null],
  ["Call mom on sun", "on sun", "Call mom on sun", null],
  // Keeping the first date lets a later one count.
  ["Monday review tomorrow", "Monday", "Monday review", "2026-12-17"],
  ["Fix #ops now", "#ops", "Fix #ops now", null],
  ["Think !2 times", "!2", "Think !2 times", null],
];

for (const [line, text, title, due] of KEPT) {
  test(`kept as words: ${JSON.stringify(text)} of ${JSON.stringify(line)}`, () => {
    const start = line.indexOf(text);
    const { result, spans } = scanQuickAdd(line, NOW, [[start, start + text.length]]);
    assert.equal(result.title, title);
    assert.equal(result.due_date, due ?? undefined);
    const kept = spans.filter((s) => s.kept);
    assert.deepEqual(kept.map((s) => s.text), [text]);
    if (text.startsWith("#")) assert.deepEqual(result.labels, []);
    if (text.startsWith("!")) assert.equal(result.priority, undefined);
  });
}

test("parseDueWord: one word that needs no `on`", () => {
  assert.equal(parseDueWord("Friday", NOW), "2026-12-18");
  assert.equal(parseDueWord("wednesday", NOW), "2026-12-23");
  assert.equal(parseDueWord("fri", NOW), null);
  assert.equal(parseDueWord("fr", NOW), null);
  assert.equal(parseDueWord("2028-02-29", NOW), "2028-02-29");
  assert.equal(parseDueWord("2027-02-29", NOW), null);
});

/** [kept, before, after, kept after] */
const SHIFTS = [
  // Typing after the span leaves it; typing before moves it; touching it forgets it.
  [[[7, 13]], "Update Monday", "Update Monday copy", [[7, 13]]],
  [[[7, 13]], "Update Monday", "Please update Monday", [[14, 20]]],
  [[[7, 13]], "Update Monday", "Update Mondays", []],
  [[[7, 13]], "Update Monday", "Update Moday", []],
  [[[7, 13]], "Update Monday", "Update  Monday", [[8, 14]]],
  [[[0, 6], [7, 13]], "Monday Monday", "Monday", [[0, 6]]],
  [[], "a", "b", []],
];

for (const [kept, before, after, expected] of SHIFTS) {
  test(`shiftKept: ${JSON.stringify(before)} → ${JSON.stringify(after)}`, () => {
    assert.deepEqual(shiftKept(kept, before, after), expected);
  });
}

/** [line, title, due date, due time, rule, the spans' texts] (issue 21: repetition and a time) */
const REPEATS = [
  ["Standup every monday", "Standup", "2026-12-21", undefined, "FREQ=WEEKLY;BYDAY=MO", ["every monday"]],
  ["Standup every mon at 9:00", "Standup", "2026-12-21", "09:00", "FREQ=WEEKLY;BYDAY=MO", ["every mon", "at 9:00"]],
  ["Pay rent every month on the 1st", "Pay rent", "2027-01-01", undefined, "FREQ=MONTHLY;BYMONTHDAY=1", ["every month on the 1st"]],
  ["Report every month on the 16th", "Report", "2026-12-16", undefined, "FREQ=MONTHLY;BYMONTHDAY=16", ["every month on the 16th"]],
  ["Report every month on the 2st", "Report on the 2st", "2026-12-16", undefined, "FREQ=MONTHLY", ["every month"]],
  ["Water plants every weekday", "Water plants", "2026-12-16", undefined, "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", ["every weekday"]],
  ["Backup every day at 5:30pm", "Backup", "2026-12-16", "17:30", "FREQ=DAILY", ["every day", "at 5:30pm"]],
  ["Call at 9am tomorrow", "Call", "2026-12-17", "09:00", undefined, ["at 9am", "tomorrow"]],
  ["Plan every monday friday", "Plan", "2026-12-18", undefined, "FREQ=WEEKLY;BYDAY=MO", ["every monday", "friday"]],
  // Not a time or a repetition: the words stay.
  ["Meet at noon", "Meet at noon", undefined, undefined, undefined, []],
  ["Sleep at 9", "Sleep at 9", undefined, undefined, undefined, []],
  ["Wake at 25:00", "Wake at 25:00", undefined, undefined, undefined, []],
  ["Every little thing", "Every little thing", undefined, undefined, undefined, []],
  ["every", "every", undefined, undefined, undefined, []],
  // Only the first repetition counts.
  ["Gym every monday every day", "Gym every day", "2026-12-21", undefined, "FREQ=WEEKLY;BYDAY=MO", ["every monday"]],
];

for (const [line, title, due, time, rule, texts] of REPEATS) {
  test(`repetition and time: ${JSON.stringify(line)}`, () => {
    const { result, spans } = scanQuickAdd(line, NOW);
    assert.equal(result.title, title);
    assert.equal(result.due_date, due);
    assert.equal(result.due_time, time);
    assert.deepEqual(result.recurrence, rule === undefined ? undefined : { rule, from: "due" });
    assert.deepEqual(spans.map((s) => s.text), texts);
  });
}

test("a repetition kept as words repeats nothing, and the next one counts", () => {
  const line = "Gym every monday every friday";
  const { result } = scanQuickAdd(line, NOW, [[4, 16]]);
  assert.equal(result.title, "Gym every monday");
  assert.deepEqual(result.recurrence, { rule: "FREQ=WEEKLY;BYDAY=FR", from: "due" });
  assert.equal(result.due_date, "2026-12-18");
});
