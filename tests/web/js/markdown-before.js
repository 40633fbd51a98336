// The Markdown renderer as it was before issue 18 (recursive, with a quadratic inline regex),
// kept as the oracle of markdown.test.mjs: on inputs it handled, the new one must build the
// same DOM. Its import points at the client's own dom.js.

// A small, safe Markdown renderer: it builds DOM nodes and sets only textContent, so no HTML
// in a description is ever parsed, and links keep only http:, https: and mailto: targets.
// Supported: headings, paragraphs, lists (- * 1.), block quotes, fenced code, rules,
// **bold**, *italic*, `code`, [links](url) and bare URLs.

import { h } from "../../../web/dom.js";

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
 * Inline markup of one line or paragraph.
 * @param {string} text
 * @returns {Node[]}
 */
export function inline(text) {
  /** @type {Node[]} */
  const out = [];
  const pattern = /(`[^`]+`)|(\*\*[^*]+\*\*)|(\*[^*\s][^*]*\*|_[^_\s][^_]*_)|(\[[^\]]+\]\([^)\s]+\))|(https?:\/\/[^\s<>()]+)/g;
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    const index = match.index ?? 0;
    if (index > last) out.push(document.createTextNode(text.slice(last, index)));
    const token = match[0];
    if (match[1]) out.push(h("code", null, token.slice(1, -1)));
    else if (match[2]) out.push(h("strong", null, ...inline(token.slice(2, -2))));
    else if (match[3]) out.push(h("em", null, ...inline(token.slice(1, -1))));
    else if (match[4]) {
      const split = token.indexOf("](");
      const label = token.slice(1, split);
      const href = safeHref(token.slice(split + 2, -1));
      out.push(href ? h("a", { href, rel: "noopener noreferrer nofollow", target: "_blank" }, label) : document.createTextNode(label));
    } else {
      const href = safeHref(token);
      out.push(href ? h("a", { href, rel: "noopener noreferrer nofollow", target: "_blank" }, token) : document.createTextNode(token));
    }
    last = index + token.length;
  }
  if (last < text.length) out.push(document.createTextNode(text.slice(last)));
  return out;
}

/**
 * @param {string} source
 * @returns {DocumentFragment}
 */
export function renderMarkdown(source) {
  const fragment = document.createDocumentFragment();
  const lines = source.replace(/\r\n?/g, "\n").split("\n");
  let i = 0;
  /** @type {string[]} */
  let paragraph = [];
  const flush = () => {
    if (paragraph.length) fragment.append(h("p", null, ...inline(paragraph.join(" "))));
    paragraph = [];
  };
  while (i < lines.length) {
    const line = lines[i];
    const fence = line.match(/^```/);
    if (fence) {
      flush();
      const code = [];
      i++;
      while (i < lines.length && !lines[i].startsWith("```")) code.push(lines[i++]);
      i++;
      fragment.append(h("pre", null, h("code", null, code.join("\n"))));
      continue;
    }
    const heading = line.match(/^(#{1,6})\s+(.*)$/);
    if (heading) {
      flush();
      // Headings inside a task are at most h3/h4 so they never outrank the page's.
      fragment.append(h(heading[1].length <= 2 ? "h3" : "h4", null, ...inline(heading[2])));
      i++;
      continue;
    }
    if (/^(\s*[-*_]){3,}\s*$/.test(line)) {
      flush();
      fragment.append(h("hr"));
      i++;
      continue;
    }
    if (/^>\s?/.test(line)) {
      flush();
      const quoted = [];
      while (i < lines.length && /^>\s?/.test(lines[i])) quoted.push(lines[i++].replace(/^>\s?/, ""));
      fragment.append(h("blockquote", null, renderMarkdown(quoted.join("\n"))));
      continue;
    }
    const item = line.match(/^\s*([-*+]|\d+[.)])\s+(.*)$/);
    if (item) {
      flush();
      const ordered = /\d/.test(item[1]);
      const list = h(ordered ? "ol" : "ul");
      while (i < lines.length) {
        const m = lines[i].match(/^\s*([-*+]|\d+[.)])\s+(.*)$/);
        if (!m) break;
        const task = m[2].match(/^\[([ xX])\]\s+(.*)$/);
        list.append(task
          ? h("li", { class: "check" }, h("input", { type: "checkbox", disabled: true, checked: task[1] !== " ", "aria-label": task[1] !== " " ? "done" : "not done" }), " ", ...inline(task[2]))
          : h("li", null, ...inline(m[2])));
        i++;
      }
      fragment.append(list);
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
  return fragment;
}
