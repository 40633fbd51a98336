// Property tests of the client's Markdown renderer (web/markdown.js), run by `node --test`
// (scripts/check-web.sh): whatever a comment or description holds — random text, nesting
// 10,000 deep, openers that never close — rendering never throws, builds a bounded tree of
// allowed elements with safe links, takes time linear in the text, and on ordinary text builds
// exactly what the renderer built before.

import { test } from "node:test";
import assert from "node:assert/strict";

import { SEED, random, drawn, fastest, linearBudget, installDom, elements } from "./support.mjs";

installDom();
const { renderMarkdown, safeHref } = await import("../../../web/markdown.js");
const before = await import("./markdown-before.js");

const ALLOWED = new Set(["P", "H3", "H4", "PRE", "CODE", "HR", "BLOCKQUOTE", "UL", "OL", "LI", "INPUT", "STRONG", "EM", "A"]);
/** The deepest element tree the renderer may build: quotes capped, then a list or inline nesting. */
const MAX_DEPTH = 16;
const SEEDED = `(seed ${SEED}: DOCKET_JS_SEED=${SEED} repeats this run)`;

/**
 * Renders and checks what every rendering must be.
 * @param {string} source
 */
function renderChecked(source) {
  /** @type {any} */
  let fragment;
  assert.doesNotThrow(() => { fragment = renderMarkdown(source); }, `${SEEDED} ${JSON.stringify(source.slice(0, 200))}`);
  let deepest = 0;
  for (const { element, depth } of elements(fragment)) {
    deepest = Math.max(deepest, depth);
    assert.ok(ALLOWED.has(element.tagName), `${SEEDED} a <${element.tagName}>`);
    if (element.tagName === "A") {
      const href = element.getAttribute("href");
      assert.ok(href && safeHref(href) === href && /^(https?|mailto):/.test(href), `${SEEDED} href ${href}`);
    }
  }
  assert.ok(deepest <= MAX_DEPTH, `${SEEDED} ${deepest} levels deep for ${JSON.stringify(source.slice(0, 80))}`);
  return fragment;
}

/**
 * The DOM as text, for comparing two renderings.
 * @param {any} node
 * @returns {string}
 */
function serialize(node) {
  if (node.tagName === undefined) {
    if (node.data !== undefined) return JSON.stringify(node.data);
    return node.childNodes.map(serialize).join("");
  }
  const attributes = [...node.attributes].map(([k, v]) => ` ${k}=${JSON.stringify(v)}`).join("");
  const properties = ["disabled", "checked"].filter((p) => node[p] !== undefined).map((p) => ` .${p}=${node[p]}`).join("");
  return `<${node.tagName}${attributes}${properties}>${node.childNodes.map(serialize).join("")}</${node.tagName}>`;
}

// Pieces that mean something to the renderer, and some that do not.
const PIECES = [
  ">", "> ", ">>", "*", "**", "_", "`", "```", "[", "]", "(", ")", "](", "#", "# ", "### ", "- ", "* ", "+ ", "1. ", "2) ",
  "[ ] ", "[x] ", "---", "\n", "\n", "\n\n", " ", " ", "  ", "\t", "\r\n", "http://", "https://", "mailto:", "javascript:",
  "data:", "a", "b", "word", "x.y", "é", "日本", "😀", "<script>", "&amp;", "\u00a0", "\u0000", "@",
];

test("random text renders: bounded, allowed elements, safe links", () => {
  const rng = random(SEED);
  for (let i = 0; i < 400; i++) {
    renderChecked(drawn(rng, PIECES, 1 + rng.below(400)));
  }
});

test("on text it handled, the renderer builds what it built before", () => {
  const rng = random(SEED + 1);
  let compared = 0;
  for (let i = 0; i < 400; i++) {
    const source = drawn(rng, PIECES, 1 + rng.below(120));
    const old = before.renderMarkdown(source);
    // Quotes deeper than the cap are text now, by design; everything else is unchanged.
    if (elements(old).some(({ depth }) => depth > 8)) continue;
    assert.equal(serialize(renderMarkdown(source)), serialize(old), `${SEEDED} ${JSON.stringify(source)}`);
    compared++;
  }
  assert.ok(compared > 300, `only ${compared} compared`);
  for (const source of [
    "# Heading\n\nSome **bold** and a [link](https://example.com).",
    "<script>x</script>\n\n[click me](javascript:alert(1)) and [data](data:text/html,hi)",
    "- one\n- [x] done\n- [ ] open\n\n1. first\n2) second",
    "> quoted\n> > twice\n\nafter",
    "```\ncode **not bold**\n```\n\n***\n\n*em* _em_ `code` https://example.com/a?b=c",
    "**_both_** and *a_b* and _a*b_ and ****",
  ]) {
    assert.equal(serialize(renderMarkdown(source)), serialize(before.renderMarkdown(source)), source);
  }
});

// Nesting 10,000 deep, in each of the ways Markdown nests: it renders (the depth beyond a cap
// as text) without an error, and the innermost text is still there.
const DEEP = 10_000;
const NESTED = {
  "quotes on one line": ">".repeat(DEEP) + " innermost",
  "quotes with spaces": "> ".repeat(DEEP) + "innermost",
  "quotes line by line": Array.from({ length: 300 }, (_, i) => ">".repeat(i + 1) + " level").join("\n") + "\n" + ">".repeat(DEEP) + " innermost",
  "lists": "- ".repeat(DEEP) + "innermost",
  "indented lists": Array.from({ length: 2000 }, (_, i) => " ".repeat(i) + "- item").join("\n") + "\n- innermost",
  "ordered lists": "1. ".repeat(DEEP) + "innermost",
  "strong and emphasis": "**_*".repeat(DEEP) + "innermost" + "*_**".repeat(DEEP),
  "emphasis": "_*".repeat(DEEP) + "innermost" + "*_".repeat(DEEP),
  "links": "[".repeat(DEEP) + "innermost" + "](https://example.com)".repeat(DEEP),
  "code and quotes": ("> `" + "*".repeat(50) + "\n").repeat(400) + "innermost",
};

for (const [name, source] of Object.entries(NESTED)) {
  test(`${name} nested ${DEEP} deep render without an error`, () => {
    const fragment = renderChecked(source);
    assert.ok(fragment.textContent.includes("innermost"), name);
  });
}

// Inputs that make a backtracking renderer quadratic: openers that never close, runs of
// markers. At 320,000 characters (16 times the longest description) rendering stays within a
// budget linear in the size: the renderer before took 267 ms for 20,000 unclosed `[` (about
// 70 s at this size), this one about 25 ms.
const SIZE = 320_000;
const MICROSECONDS_PER_CHARACTER = 4;
const ADVERSARIAL = {
  "unclosed links": (/** @type {number} */ n) => "[".repeat(n),
  "unclosed link targets": (/** @type {number} */ n) => "[a](".repeat(n / 4),
  "unclosed strong": (/** @type {number} */ n) => "**" + "a".repeat(n),
  "unclosed emphasis": (/** @type {number} */ n) => "*a".repeat(n / 2),
  "unclosed underscores": (/** @type {number} */ n) => "_a".repeat(n / 2),
  "unclosed code": (/** @type {number} */ n) => "`" + "a".repeat(n),
  "one long quote line": (/** @type {number} */ n) => ">".repeat(n),
  "quote lines": (/** @type {number} */ n) => "> a\n".repeat(n / 4),
  "list markers": (/** @type {number} */ n) => "- ".repeat(n / 2),
  "digits": (/** @type {number} */ n) => "1".repeat(n) + "x",
  "spaces": (/** @type {number} */ n) => " ".repeat(n) + "x",
  "rules": (/** @type {number} */ n) => "- ".repeat(n / 2) + "x",
  "a long URL": (/** @type {number} */ n) => "https://" + "a".repeat(n),
  "fences": (/** @type {number} */ n) => "```\n".repeat(n / 4),
  "mixed openers": (/** @type {number} */ n) => "*_`[(".repeat(n / 5),
};

for (const [name, make] of Object.entries(ADVERSARIAL)) {
  test(`${name}: linear time`, () => {
    const source = make(SIZE);
    renderChecked(source); // also compiles
    const ms = fastest(() => renderMarkdown(source), 3);
    const budget = linearBudget(SIZE, MICROSECONDS_PER_CHARACTER);
    assert.ok(ms < budget, `${name}: ${ms.toFixed(0)} ms for ${SIZE} characters (budget ${budget} ms)`);
  });
}
