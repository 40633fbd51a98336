// A small, safe Markdown renderer: it builds DOM nodes and sets only textContent, so no HTML
// in a description is ever parsed, and links keep only http:, https: and mailto: targets.
// Supported: headings, paragraphs, lists (- * 1.) with task list items (- [ ] / - [x]), block
// quotes, fenced code, rules, **bold**, *italic*, `code`, [links](url) and bare URLs.
//
// Whatever the text, the work is linear in its length and the tree is shallow (API.md §9, "work
// is linear in what was sent", and a comment is read by every member): quotes nest at most
// MAX_QUOTE_DEPTH deep (deeper `>` are text), inline markup at most MAX_INLINE_DEPTH, and the
// inline scanner never looks for the same closing character twice. Parsing (`parseMarkdown`,
// `parseInline`: plain objects) is apart from building the DOM, so that it can be tested
// outside a browser.

import { append, h } from "./dom.js";

/** Quotes nested deeper than this show their remaining `>` as text. */
const MAX_QUOTE_DEPTH = 8;
/** Inline markup nested deeper than this shows as text (the syntax allows about three). */
const MAX_INLINE_DEPTH = 8;

/**
 * @typedef {{type: "text" | "code", text: string}
 *   | {type: "strong" | "em", children: Inline[]}
 *   | {type: "link", href: string | null, text: string}} Inline
 * @typedef {{type: "p" | "h3" | "h4", children: Inline[]}
 *   | {type: "pre", text: string}
 *   | {type: "hr"}
 *   | {type: "blockquote", children: Block[]}
 *   | {type: "ul" | "ol", items: {checked: boolean | null, line: number, children: Inline[]}[]}} Block
 *   `line`: the item's line in the source (from 0), which a task list item's box toggles
 */

/**
 * @param {string} href
 * @returns {string | null} the URL when its scheme is allowed
 */
export function safeHref(href) {
  try {
    const url = new URL(href, "https://invalid.example/");
    if (url.origin === "https://invalid.example") return null;
    return ["http:", "https:", "mailto:"].includes(url.protocol) ? url.href : null;
  } catch {
    return null;
  }
}

/**
 * Where the next character of a kind is, remembering the last answer: the scanner asks with
 * positions that only grow, so each kind of character is looked for once over the text.
 * @param {string} text
 * @param {(c: string) => boolean} matches
 */
function finder(text, matches) {
  let from = 0;
  let found = -1;
  let searched = false;
  /** @param {number} start @returns {number} the index, or -1 */
  return (start) => {
    if (searched && start >= from && (found === -1 || start <= found)) return found;
    from = start;
    searched = true;
    found = -1;
    for (let i = start; i < text.length; i++) {
      if (matches(text[i])) {
        found = i;
        break;
      }
    }
    return found;
  };
}

const isSpace = (/** @type {string} */ c) => /\s/.test(c);

/** The characters the inline scanner looks ahead for. */
const CLOSERS = {
  backtick: (/** @type {string} */ c) => c === "`",
  star: (/** @type {string} */ c) => c === "*",
  underscore: (/** @type {string} */ c) => c === "_",
  bracket: (/** @type {string} */ c) => c === "]",
  targetEnd: (/** @type {string} */ c) => c === ")" || isSpace(c),
  urlEnd: (/** @type {string} */ c) => isSpace(c) || c === "<" || c === ">" || c === "(" || c === ")",
};

/**
 * Inline markup of one line or paragraph, as the former single regular expression read it
 * (at each position, in order: `code`, **strong**, *em* or _em_, [label](url), a bare URL),
 * but in one pass.
 * @param {string} text
 * @param {number} [depth]
 * @returns {Inline[]}
 */
export function parseInline(text, depth = 0) {
  /** @type {Inline[]} */
  const out = [];
  if (depth >= MAX_INLINE_DEPTH) {
    if (text) out.push({ type: "text", text });
    return out;
  }
  // Made when first needed: most texts need few of them, and emphasis parses its content.
  /** @type {Record<string, (start: number) => number>} */
  const finders = {};
  /** @param {keyof typeof CLOSERS} kind @param {number} start */
  const next = (kind, start) => (finders[kind] ??= finder(text, CLOSERS[kind]))(start);
  let last = 0;
  let i = 0;
  /** @param {number} end @param {Inline} token */
  const emit = (end, token) => {
    if (i > last) out.push({ type: "text", text: text.slice(last, i) });
    out.push(token);
    last = i = end;
  };
  while (i < text.length) {
    const c = text[i];
    if (c === "`") {
      const close = next("backtick", i + 1);
      if (close > i + 1) {
        emit(close + 1, { type: "code", text: text.slice(i + 1, close) });
        continue;
      }
    }
    if (c === "*" && text[i + 1] === "*") {
      const close = next("star", i + 2);
      if (close > i + 2 && text[close + 1] === "*") {
        emit(close + 2, { type: "strong", children: parseInline(text.slice(i + 2, close), depth + 1) });
        continue;
      }
    }
    if ((c === "*" || c === "_") && i + 1 < text.length && text[i + 1] !== c && !isSpace(text[i + 1])) {
      const close = next(c === "*" ? "star" : "underscore", i + 2);
      if (close !== -1) {
        emit(close + 1, { type: "em", children: parseInline(text.slice(i + 1, close), depth + 1) });
        continue;
      }
    }
    if (c === "[") {
      const split = next("bracket", i + 1);
      if (split > i + 1 && text[split + 1] === "(") {
        const close = next("targetEnd", split + 2);
        if (close > split + 2 && text[close] === ")") {
          emit(close + 1, { type: "link", href: safeHref(text.slice(split + 2, close)), text: text.slice(i + 1, split) });
          continue;
        }
      }
    }
    if (c === "h" && (text.startsWith("http://", i) || text.startsWith("https://", i))) {
      const start = i + (text[i + 4] === "s" ? 8 : 7);
      let end = next("urlEnd", start);
      if (end === -1) end = text.length;
      if (end > start) {
        const url = text.slice(i, end);
        emit(end, { type: "link", href: safeHref(url), text: url });
        continue;
      }
    }
    i++;
  }
  if (last < text.length) out.push({ type: "text", text: text.slice(last) });
  return out;
}

const LIST_ITEM = /^\s*([-*+]|\d+[.)])\s+(.*)$/;
const QUOTE = /^>\s?/;

/**
 * The blocks of a text.
 * @param {string} source
 * @returns {Block[]}
 */
export function parseMarkdown(source) {
  const lines = source.replace(/\r\n?/g, "\n").split("\n");
  return parseBlocks(lines, 0, lines.map((_, i) => i));
}

/**
 * @param {string[]} lines
 * @param {number} depth how many quotes these lines are in
 * @param {number[]} origin each line's number in the source
 * @returns {Block[]}
 */
function parseBlocks(lines, depth, origin) {
  /** @type {Block[]} */
  const blocks = [];
  let i = 0;
  /** @type {string[]} */
  let paragraph = [];
  const flush = () => {
    if (paragraph.length) blocks.push({ type: "p", children: parseInline(paragraph.join(" ")) });
    paragraph = [];
  };
  while (i < lines.length) {
    const line = lines[i];
    if (line.startsWith("```")) {
      flush();
      const code = [];
      i++;
      while (i < lines.length && !lines[i].startsWith("```")) code.push(lines[i++]);
      i++;
      blocks.push({ type: "pre", text: code.join("\n") });
      continue;
    }
    const heading = line.match(/^(#{1,6})\s+(.*)$/);
    if (heading) {
      flush();
      // Headings inside a task are at most h3/h4 so they never outrank the page's.
      blocks.push({ type: heading[1].length <= 2 ? "h3" : "h4", children: parseInline(heading[2]) });
      i++;
      continue;
    }
    if (/^(\s*[-*_]){3,}\s*$/.test(line)) {
      flush();
      blocks.push({ type: "hr" });
      i++;
      continue;
    }
    if (depth < MAX_QUOTE_DEPTH && QUOTE.test(line)) {
      flush();
      const quoted = [];
      const from = [];
      while (i < lines.length && QUOTE.test(lines[i])) {
        from.push(origin[i]);
        quoted.push(lines[i++].replace(QUOTE, ""));
      }
      blocks.push({ type: "blockquote", children: parseBlocks(quoted, depth + 1, from) });
      continue;
    }
    const item = line.match(LIST_ITEM);
    if (item) {
      flush();
      const items = [];
      while (i < lines.length) {
        const m = lines[i].match(LIST_ITEM);
        if (!m) break;
        const task = m[2].match(/^\[([ xX])\]\s+(.*)$/);
        items.push(task
          ? { checked: task[1] !== " ", line: origin[i], children: parseInline(task[2]) }
          : { checked: null, line: origin[i], children: parseInline(m[2]) });
        i++;
      }
      blocks.push({ type: /\d/.test(item[1]) ? "ol" : "ul", items });
      continue;
    }
    if (line.trim() === "") {
      flush();
      i++;
      continue;
    }
    paragraph.push(line.trim());
    i++;
  }
  flush();
  return blocks;
}

/**
 * An element with children, appended one by one (a long paragraph can hold thousands).
 * @param {string} tag
 * @param {Node[]} children
 * @param {Record<string, any> | null} [props]
 */
function element(tag, children, props = null) {
  const el = h(tag, props);
  append(el, children);
  return el;
}

/**
 * @param {Inline} token
 * @returns {Node}
 */
function inlineNode(token) {
  switch (token.type) {
    case "text": return document.createTextNode(token.text);
    case "code": return h("code", null, token.text);
    case "strong": case "em": return element(token.type, token.children.map(inlineNode));
    case "link": return token.href
      ? h("a", { href: token.href, rel: "noopener noreferrer nofollow", target: "_blank" }, token.text)
      : document.createTextNode(token.text);
  }
}

/**
 * @typedef {{onToggle?: (line: number) => void}} RenderOptions `onToggle`: task list items' boxes
 *   can be ticked, and say which source line they are (else they are read-only)
 */

/**
 * @param {Block} block
 * @param {RenderOptions} options
 * @returns {Node}
 */
function blockNode(block, options) {
  switch (block.type) {
    case "p": case "h3": case "h4": return element(block.type, block.children.map(inlineNode));
    case "pre": return h("pre", null, h("code", null, block.text));
    case "hr": return h("hr");
    case "blockquote": return element("blockquote", block.children.map((b) => blockNode(b, options)));
    case "ul": case "ol": return element(block.type, block.items.map((item) => item.checked === null
      ? element("li", item.children.map(inlineNode))
      : element("li", [
        taskBox(item.checked, item.line, item.children, options),
        document.createTextNode(" "),
        ...item.children.map(inlineNode),
      ], { class: "check" })));
  }
}

/**
 * A task list item's box: read-only, or ticked by a click (the caller edits the source).
 * @param {boolean} checked
 * @param {number} line
 * @param {Inline[]} children
 * @param {RenderOptions} options
 */
function taskBox(checked, line, children, options) {
  const { onToggle } = options;
  const text = children.map((c) => ("text" in c ? c.text : "")).join("").slice(0, 80);
  const box = h("input", {
    type: "checkbox", disabled: !onToggle, checked, dataset: { line: String(line) },
    "aria-label": onToggle ? `${text || "item"}: ${checked ? "done" : "not done"}` : checked ? "done" : "not done",
  });
  if (onToggle) box.addEventListener("change", () => onToggle(line));
  return box;
}

const TASK_ITEM = /^((?:>\s?)*\s*(?:[-*+]|\d+[.)])\s+)\[([ xX])\](?=\s)/;

/**
 * The source with the task list item on `line` ticked or unticked (`null` when that line holds
 * none). Line breaks are kept as they were.
 * @param {string} source
 * @param {number} line
 * @returns {string | null}
 */
export function toggleTaskItem(source, line) {
  const parts = source.split(/(\r\n?|\n)/);
  const at = line * 2;
  const m = parts[at]?.match(TASK_ITEM);
  if (!m) return null;
  parts[at] = m[1] + (m[2] === " " ? "[x]" : "[ ]") + parts[at].slice(m[0].length);
  return parts.join("");
}

/**
 * Inline markup of one line or paragraph.
 * @param {string} text
 * @returns {Node[]}
 */
export function inline(text) {
  return parseInline(text).map(inlineNode);
}

/**
 * @param {string} source
 * @param {RenderOptions} [options]
 * @returns {DocumentFragment}
 */
export function renderMarkdown(source, options = {}) {
  const fragment = document.createDocumentFragment();
  append(fragment, parseMarkdown(source).map((b) => blockNode(b, options)));
  return fragment;
}
