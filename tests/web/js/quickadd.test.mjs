// Property tests of the quick-add parser (web/quickadd.js), run by `node --test`
// (scripts/check-web.sh): whatever is typed, parsing never throws, gives fields the API accepts
// the shape of, loses no word of the title, and takes time linear in the line.

import { test } from "node:test";
import assert from "node:assert/strict";

import { SEED, random, drawn, fastest, linearBudget } from "./support.mjs";

const { parseQuickAdd, parseDueWord } = await import("../../../web/quickadd.js");

const SEEDED = `(seed ${SEED}: DOCKET_JS_SEED=${SEED} repeats this run)`;
const NOW = new Date(2026, 11, 16, 12, 0, 0); // a Wednesday

const PIECES = [
  " ", " ", "  ", "\t", "\n", "\u00a0", "\u3000", "!", "!0", "!3", "!4", "!5", "!!", "#", "##", "#ops", "#Ops", "#a#b",
  "@", "@me", "@ME", "@mel", "today", "Tomorrow", "fri", "friday", "fr", "wed", "2026-12-24", "2026-02-30", "2026-13-01",
  "9999-99-99", "ship", "the", "release", "é", "日本", "😀", "\u0000", "-", "x",
  "every", "every", "day", "weekday", "month", "on", "1st", "31st", "2st", "at", "at", "9:00", "9am", "13pm", "24:00", "5:30pm",
];

/**
 * Parses and checks what every parse must be.
 * @param {string} line
 */
function parsedChecked(line) {
  /** @type {any} */
  let result;
  assert.doesNotThrow(() => { result = parseQuickAdd(line, NOW); }, `${SEEDED} ${JSON.stringify(line.slice(0, 200))}`);
  const where = `${SEEDED} ${JSON.stringify(line.slice(0, 200))} → ${JSON.stringify(result).slice(0, 300)}`;
  assert.equal(typeof result.title, "string", where);
  assert.equal(result.title, result.title.trim(), where);
  assert.equal(typeof result.assignee_me, "boolean", where);
  if (result.priority !== undefined) assert.ok(Number.isInteger(result.priority) && result.priority >= 0 && result.priority <= 4, where);
  if (result.due_date !== undefined) assert.match(result.due_date, /^\d{4}-\d{2}-\d{2}$/, where);
  // A time or a repetition comes with a date (the API refuses either without one).
  if (result.due_time !== undefined) assert.ok(/^([01]\d|2[0-3]):[0-5]\d$/.test(result.due_time) && result.due_date, where);
  if (result.recurrence !== undefined) {
    assert.ok(result.due_date && result.recurrence.from === "due", where);
    assert.match(result.recurrence.rule, /^FREQ=(DAILY|WEEKLY|MONTHLY|YEARLY)(;BYDAY=[A-Z,]+|;BYMONTHDAY=([1-9]|[12]\d|3[01]))?$/, where);
  }
  assert.equal(new Set(result.labels).size, result.labels.length, where);
  for (const label of result.labels) {
    assert.ok(label.length > 0 && label === label.toLowerCase() && !/[\s#]/.test(label), where);
  }
  // Every word of the title was typed, in the order typed.
  const typed = line.trim().split(/\s+/);
  let at = 0;
  for (const word of result.title.split(" ").filter(Boolean)) {
    at = typed.indexOf(word, at);
    assert.ok(at >= 0, `${where}: ${word} was not typed`);
    at++;
  }
  return result;
}

test("random lines parse into well-formed fields", () => {
  const rng = random(SEED);
  for (let i = 0; i < 2000; i++) {
    const line = drawn(rng, PIECES, rng.below(60));
    parsedChecked(line);
  }
});

test("what the chips show is what is understood", () => {
  assert.deepEqual(parseQuickAdd("Ship the release tomorrow !3 #release @me", NOW), {
    title: "Ship the release", priority: 3, labels: ["release"], assignee_me: true, due_date: "2026-12-17",
  });
  assert.deepEqual(parseQuickAdd("Plan the party 2026-12-24 #fun #Fun #fun", NOW), {
    title: "Plan the party", labels: ["fun"], assignee_me: false, due_date: "2026-12-24",
  });
  // Only the first date counts; the second is a word of the title. "on wed" on a Wednesday is
  // a week on; "!5" and "2026-02-30" are not understood. A short weekday alone is a word.
  assert.deepEqual(parseQuickAdd("on wed friday !5 2026-02-30", NOW), {
    title: "friday !5 2026-02-30", labels: [], assignee_me: false, due_date: "2026-12-23",
  });
  assert.deepEqual(parseQuickAdd("wed fri !5 2026-02-30", NOW), {
    title: "wed fri !5 2026-02-30", labels: [], assignee_me: false,
  });
  assert.equal(parseDueWord("fr", NOW), null);
  assert.equal(parseDueWord("Friday", NOW), "2026-12-18");
});

// Lines that make a careless parser quadratic: thousands of distinct labels (each checked
// against all before it), repeated dates and priorities, one long word, only spaces.
const SIZE = 320_000;
const MICROSECONDS_PER_CHARACTER = 2;
const ADVERSARIAL = {
  "distinct labels": (/** @type {number} */ n) => Array.from({ length: n / 8 }, (_, i) => `#l${i}`).join(" "),
  "the same label": (/** @type {number} */ n) => "#ops ".repeat(n / 5),
  "dates": (/** @type {number} */ n) => "2026-12-24 ".repeat(n / 11),
  "weekdays": (/** @type {number} */ n) => "fri ".repeat(n / 4),
  "priorities": (/** @type {number} */ n) => "!3 ".repeat(n / 3),
  "assignees": (/** @type {number} */ n) => "@me ".repeat(n / 4),
  "repetitions": (/** @type {number} */ n) => "every month on the 1st ".repeat(n / 23),
  "times": (/** @type {number} */ n) => "at 9:00 ".repeat(n / 8),
  "one long word": (/** @type {number} */ n) => "a".repeat(n),
  "spaces": (/** @type {number} */ n) => " ".repeat(n),
  "words": (/** @type {number} */ n) => "word ".repeat(n / 5),
};

for (const [name, make] of Object.entries(ADVERSARIAL)) {
  test(`${name}: linear time`, () => {
    const line = make(SIZE);
    parsedChecked(line); // also compiles
    const ms = fastest(() => parseQuickAdd(line, NOW), 3);
    const budget = linearBudget(SIZE, MICROSECONDS_PER_CHARACTER);
    assert.ok(ms < budget, `${name}: ${ms.toFixed(0)} ms for ${SIZE} characters (budget ${budget} ms)`);
  });
}
