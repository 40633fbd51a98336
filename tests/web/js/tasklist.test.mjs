// Property tests of ticking a Markdown task list item in a description (web/markdown.js,
// `toggleTaskItem`; the task panel saves the result as an ordinary edit): on random text, each
// item the renderer shows as a box flips alone — every other block and item parses as before —,
// flipping twice gives the text back byte for byte (line breaks included; "[X]" comes back "[x]"), and a line that is no
// task list item is left alone.

import { test } from "node:test";
import assert from "node:assert/strict";

import { SEED, random, drawn, installDom } from "./support.mjs";

installDom();
const { parseMarkdown, toggleTaskItem } = await import("../../../web/markdown.js");
const SEEDED = `(seed ${SEED}: DOCKET_JS_SEED=${SEED} repeats this run)`;

const PIECES = [
  "- ", "* ", "+ ", "1. ", "2) ", "  ", "> ", ">", "[ ] ", "[x] ", "[X] ", "[ ]", "```", "\n", "\n", "\n", "\r\n", "\r",
  "a", "word", "**b**", " ", "#", "# ", "---",
];

/**
 * Every list item of the blocks, in order, with whether it is a task.
 * @param {any[]} blocks
 * @returns {{checked: boolean | null, line: number}[]}
 */
function items(blocks) {
  return blocks.flatMap((b) => b.type === "ul" || b.type === "ol" ? b.items.map((/** @type {any} */ i) => ({ checked: i.checked, line: i.line }))
    : b.type === "blockquote" ? items(b.children) : []);
}

test("each task item flips alone, and twice gives the text back", () => {
  const rng = random(SEED + 7);
  let flipped = 0;
  for (let i = 0; i < 1500; i++) {
    const source = drawn(rng, PIECES, 1 + rng.below(60));
    const all = items(parseMarkdown(source));
    for (const [k, item] of all.entries()) {
      if (item.checked === null) continue;
      const next = toggleTaskItem(source, item.line);
      assert.notEqual(next, null, `${SEEDED} ${JSON.stringify(source)} line ${item.line}`);
      const after = items(parseMarkdown(/** @type {string} */ (next)));
      assert.deepEqual(after.map((a, j) => (j === k ? !a.checked : a.checked)), all.map((a) => a.checked), `${SEEDED} ${JSON.stringify(source)} → ${JSON.stringify(next)}`);
      // Byte for byte, but for a ticked "[X]", which comes back as "[x]".
      const twice = /** @type {string} */ (toggleTaskItem(/** @type {string} */ (next), item.line));
      assert.equal(twice.toLowerCase(), source.toLowerCase(), `${SEEDED} ${JSON.stringify(source)}`);
      assert.equal(twice.replace(/\[x\]/gi, "[x]"), source.replace(/\[x\]/gi, "[x]"), `${SEEDED} ${JSON.stringify(source)}`);
      flipped++;
    }
  }
  assert.ok(flipped > 50, `only ${flipped} items flipped: the text rarely holds task items`);
});

test("a line without a task item is left alone", () => {
  assert.equal(toggleTaskItem("- plain\n- [ ] task", 0), null);
  // The caller never asks for a line in code (the renderer shows no box there).
  assert.equal(toggleTaskItem("```\n- [ ] in code\n```", 1), "```\n- [x] in code\n```");
  assert.equal(toggleTaskItem("one\r\n- [ ] two\r\nthree", 1), "one\r\n- [x] two\r\nthree");
  assert.equal(toggleTaskItem("> - [x] quoted", 0), "> - [ ] quoted");
  assert.equal(toggleTaskItem("- [ ] only", 5), null);
});
