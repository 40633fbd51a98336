// `@` mention completion for comment boxes: the project's members matching what follows `@`,
// inserted as `@email`, the form the server parses as a mention.

import * as api from "../api.js";
import { h, replace } from "../dom.js";

let uid = 0;

/**
 * Completes `@…` in a textarea from the project's members: typing `@` and part of a name or
 * an email offers matching people; ↑/↓ choose, Enter or Tab inserts `@email`, Esc closes.
 * Returns the element to put right after the textarea (inside a positioned wrapper).
 * @param {HTMLTextAreaElement} area
 * @param {() => api.Member[]} members
 * @param {string} [meId]
 */
export function mentionCompletion(area, members, meId) {
  const id = `mentions-${++uid}`;
  const list = h("ul", { class: "mentions", id, role: "listbox", "aria-label": "People to mention", hidden: true });
  const status = h("span", { class: "sr-only", "aria-live": "polite" });
  area.setAttribute("aria-autocomplete", "list");
  area.setAttribute("aria-controls", id);
  /** @type {api.Member[]} */
  let shown = [];
  let active = 0;
  /** @type {{start: number, end: number} | null} */
  let token = null;

  const close = () => {
    list.hidden = true;
    shown = [];
    token = null;
    area.removeAttribute("aria-activedescendant");
  };
  const draw = () => {
    replace(list, shown.map((m, i) => h("li", {
      role: "option", id: `${id}-${i}`, class: "mention-option", "aria-selected": i === active ? "true" : "false",
      onmousedown: (/** @type {Event} */ e) => e.preventDefault(),
      onclick: () => insert(m),
    }, h("span", { class: "mention-name" }, m.user.name), " ", h("span", { class: "muted small" }, m.user.email))));
    list.hidden = shown.length === 0;
    if (shown.length) area.setAttribute("aria-activedescendant", `${id}-${active}`);
    else area.removeAttribute("aria-activedescendant");
  };
  const update = () => {
    const caret = area.selectionStart ?? area.value.length;
    const before = area.value.slice(0, caret);
    const m = before.match(/(?:^|[\s(,;])@([^\s@]{0,60})$/);
    if (!m || area.selectionStart !== area.selectionEnd) return close();
    const q = m[1].toLowerCase();
    const wasOpen = shown.length > 0;
    token = { start: caret - m[1].length - 1, end: caret };
    shown = members()
      .filter((x) => x.user.id !== meId)
      .filter((x) => !q || x.user.name.toLowerCase().includes(q) || x.user.email.toLowerCase().includes(q))
      .slice(0, 8);
    active = 0;
    draw();
    if (shown.length && !wasOpen) status.textContent = `${shown.length} ${shown.length === 1 ? "person" : "people"} to mention; up and down to choose, Enter to insert.`;
    else if (!shown.length) status.textContent = "";
  };
  /** @param {api.Member} m */
  const insert = (m) => {
    if (!token) return;
    const text = `@${m.user.email} `;
    area.setRangeText(text, token.start, token.end, "end");
    close();
    area.focus();
    area.dispatchEvent(new Event("input", { bubbles: true }));
    status.textContent = `Mentioned ${m.user.name}.`;
  };
  area.addEventListener("input", update);
  area.addEventListener("click", update);
  area.addEventListener("blur", () => setTimeout(close, 100));
  area.addEventListener("keydown", (e) => {
    if (list.hidden || !shown.length) return;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      active = (active + (e.key === "ArrowDown" ? 1 : shown.length - 1)) % shown.length;
      draw();
    } else if (e.key === "Enter" || e.key === "Tab") {
      if (e.ctrlKey || e.metaKey) return;
      e.preventDefault();
      insert(shown[active]);
    } else if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      close();
    }
  });
  return [list, status];
}
