// Small DOM helpers. Text always goes in through textContent, never innerHTML: nothing a
// task, a name or a server message contains can become markup or script.

/**
 * @typedef {string | number | Node | null | undefined | false} Child
 * @typedef {Record<string, any>} Props
 */

/**
 * Creates an element. `props`: attributes, except `on*` (listeners), `class`, `dataset`,
 * and the properties `value`, `checked`, `disabled`, `hidden`.
 * @param {string} tag
 * @param {Props | null} [props]
 * @param {...(Child | Child[])} children
 * @returns {HTMLElement}
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (["value", "checked", "disabled", "hidden", "selected", "indeterminate"].includes(key)) {
      /** @type {any} */ (el)[key] = value;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

/**
 * @param {Node} parent
 * @param {(Child | Child[])[]} children
 */
export function append(parent, children) {
  for (const child of children.flat(3)) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/**
 * Replaces the children of `el`.
 * @param {Element} el
 * @param {...(Child | Child[])} children
 */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/** @type {HTMLElement | null} */
let live = null;

/**
 * Says something to screen readers (and shows it as a toast when `visible`).
 * @param {string} message
 * @param {{visible?: boolean, error?: boolean}} [options]
 */
export function announce(message, options = {}) {
  if (!live) {
    live = h("div", { class: "sr-only", "aria-live": "polite", id: "live" });
    document.body.append(live);
  }
  live.textContent = message;
  if (options.visible || options.error) toast(message, options.error);
}

/**
 * A message at the bottom of the window, gone after a while; with `action`, a button (Undo)
 * that runs it. Returns the toast, whose `dismiss` removes it early.
 * @param {string} message
 * @param {boolean} [error]
 * @param {{label: string, run: () => void, ms?: number}} [action]
 * @returns {HTMLElement & {dismiss: () => void}}
 */
export function toast(message, error = false, action) {
  let box = document.getElementById("toasts");
  if (!box) {
    box = h("div", { id: "toasts", role: "status", "aria-live": "polite" });
    document.body.append(box);
  }
  /** @type {number | undefined} */
  let timer;
  const dismiss = () => {
    clearTimeout(timer);
    item.remove();
  };
  const item = Object.assign(h("div", { class: error ? "toast toast-error" : "toast" }, h("span", { class: "toast-text" }, message),
    action ? h("button", { type: "button", class: "toast-action", onclick: () => { dismiss(); action.run(); } }, action.label) : null,
    h("button", { type: "button", class: "icon", "aria-label": "Dismiss", onclick: () => dismiss() }, "×")), { dismiss });
  box.append(item);
  timer = window.setTimeout(dismiss, action?.ms ?? (error ? 8000 : 4000));
  return item;
}

/**
 * A modal dialog; resolves when closed. `build` gets a `close` function.
 * @param {string} title
 * @param {(close: (value?: any) => void) => Child[]} build
 * @returns {Promise<any>}
 */
export function dialog(title, build) {
  return new Promise((resolve) => {
    const previous = document.activeElement;
    const el = /** @type {HTMLDialogElement} */ (h("dialog", { class: "dialog", "aria-labelledby": "dialog-title" }));
    /** @param {any} [value] */
    const close = (value) => {
      el.close();
      el.remove();
      if (previous instanceof HTMLElement) previous.focus();
      resolve(value);
    };
    el.addEventListener("cancel", (e) => {
      e.preventDefault();
      close(undefined);
    });
    append(el, [h("h2", { id: "dialog-title" }, title), ...build(close)]);
    document.body.append(el);
    el.showModal();
  });
}

/**
 * A yes/no question in a dialog.
 * @param {string} title
 * @param {string} text
 * @param {string} yes
 * @param {boolean} [danger]
 * @returns {Promise<boolean>}
 */
export function confirmDialog(title, text, yes, danger = false) {
  return dialog(title, (close) => [
    h("p", null, text),
    h("div", { class: "actions" },
      h("button", { type: "button", onclick: () => close(false) }, "Cancel"),
      h("button", { type: "button", class: danger ? "danger" : "primary", onclick: () => close(true) }, yes)),
  ]).then(Boolean);
}

/**
 * Due dates as people say them: Today, Tomorrow, a weekday within a week, else a date.
 * @param {string | null} date YYYY-MM-DD
 * @returns {string}
 */
export function formatDue(date) {
  if (!date) return "";
  const today = localDate(new Date());
  const days = Math.round((Date.parse(date) - Date.parse(today)) / 86400000);
  if (days === 0) return "Today";
  if (days === 1) return "Tomorrow";
  if (days === -1) return "Yesterday";
  const d = new Date(date + "T12:00:00");
  if (days > 1 && days < 7) return d.toLocaleDateString(undefined, { weekday: "short" });
  const sameYear = date.slice(0, 4) === today.slice(0, 4);
  return d.toLocaleDateString(undefined, sameYear ? { month: "short", day: "numeric" } : { year: "numeric", month: "short", day: "numeric" });
}

/**
 * @param {Date} d
 * @returns {string} YYYY-MM-DD in the local time zone
 */
export function localDate(d) {
  const pad = (/** @type {number} */ n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** @param {string | null} date */
export function isOverdue(date) {
  return !!date && date < localDate(new Date());
}

/**
 * A past moment as people say it: "just now", "5 min ago", "3 h ago", a weekday, then a date.
 * @param {Date} d
 */
export function relative(d) {
  const s = Math.round((Date.now() - d.getTime()) / 1000);
  if (s < 45) return "just now";
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  if (s < 7 * 86400) return d.toLocaleDateString(undefined, { weekday: "short", hour: "numeric", minute: "2-digit" });
  return d.toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" });
}

/**
 * Initials of a name, for assignee badges.
 * @param {string} name
 */
export function initials(name) {
  return name.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join("") || "?";
}

/**
 * The colour theme: "light", "dark", or "system" (follow prefers-color-scheme); remembered.
 * @param {string} theme
 */
export function setTheme(theme) {
  if (theme === "light" || theme === "dark") {
    localStorage.setItem("docket-theme", theme);
    document.documentElement.dataset.theme = theme;
  } else {
    localStorage.removeItem("docket-theme");
    delete document.documentElement.dataset.theme;
  }
}

/**
 * Calls `fn` after `ms` without another call.
 * @template {any[]} A
 * @param {(...args: A) => void} fn
 * @param {number} ms
 */
export function debounce(fn, ms) {
  /** @type {number | undefined} */
  let timer;
  const wrapped = (/** @type {A} */ ...args) => {
    clearTimeout(timer);
    timer = window.setTimeout(() => fn(...args), ms);
  };
  wrapped.flush = () => clearTimeout(timer);
  return wrapped;
}
