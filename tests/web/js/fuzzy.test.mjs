// The command menu's fuzzy matching (web/fuzzy.js), table-driven, run by `node --test` from
// scripts/check-web.sh.

import { test } from "node:test";
import assert from "node:assert/strict";

const { fuzzy, rank } = await import("../../../web/fuzzy.js");

/** [query, text, matches?] */
const MATCHES = [
  ["brd", "Board", true],
  ["mytsk", "My tasks", true],
  ["my tasks", "My tasks", true],
  ["MY", "my tasks", true],
  ["", "anything", true],
  ["stgs", "Settings", true],
  ["xyz", "Settings", false],
  ["sb", "Board", false],
  ["launchb", "Launch · Board", true],
  ["é", "Café", true],
  ["dep 99", "#99 Deploy the app", true],
  ["99 dep", "#99 Deploy the app", true],
  ["board", "Cardboard boxes", true],
  ["dep 98", "#99 Deploy the app", false],
];

for (const [query, text, matches] of MATCHES) {
  test(`${JSON.stringify(query)} in ${JSON.stringify(text)}: ${matches ? "matches" : "does not"}`, () => {
    const m = fuzzy(query, text);
    assert.equal(m !== null, matches);
    if (m) {
      // Every matched position holds a character of the query, in increasing order.
      const q = query.toLowerCase();
      for (const p of m.positions) assert.ok(q.includes(text[p].toLowerCase()), `${p}`);
      for (let i = 1; i < m.positions.length; i++) assert.ok(m.positions[i] > m.positions[i - 1]);
    }
  });
}

/** [query, texts, the best first] */
const RANKS = [
  ["set", ["Reset the keys", "Settings", "Set up CI"], ["Set up CI", "Settings", "Reset the keys"]],
  ["board", ["Launch · Board", "Cardboard boxes", "Board"], ["Board", "Launch · Board", "Cardboard boxes"]],
  ["up", ["Upcoming", "Back up the database", "Cup"], ["Upcoming", "Back up the database", "Cup"]],
  ["mt", ["Move tickets", "My tasks", "Smart"], ["My tasks", "Move tickets", "Smart"]],
];

for (const [query, texts, expected] of RANKS) {
  test(`rank ${JSON.stringify(query)}`, () => {
    assert.deepEqual(rank(query, texts, (t) => t).map((r) => r.item), expected);
  });
}

test("10,000 titles are ranked in well under a frame", () => {
  const titles = Array.from({ length: 10_000 }, (_, i) => `Task number ${i} about the ${["deploy", "release", "docs", "billing"][i % 4]} work`);
  const t0 = performance.now();
  const found = rank("dep 99", titles, (t) => t, 20);
  const ms = performance.now() - t0;
  assert.ok(found.length > 0);
  // Generous for a loaded machine; the figure is printed for the record.
  console.log(`  rank over 10,000 titles: ${ms.toFixed(1)} ms`);
  assert.ok(ms < 500, `${ms} ms`);
});
