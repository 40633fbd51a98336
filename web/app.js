// Docket's web client, the entry and composition root: it wires the router into navigation, the
// session's end into sign-in, and the page-wide listeners (links, history, keyboard shortcuts,
// unsaved input), then renders. Nothing imports this module. The layers below it, each
// importing only downward: router.js (the route table; the only importer of views/*.js),
// shell.js (sidebar, top bars, session), views/*.js (one module per screen), components/ (the
// pieces several views use), and model.js, navigation.js, api.js, live.js, dom.js beneath them.

import * as api from "./api.js";
import { hasUnsaved } from "./model.js";
import { navigate, onNavigate } from "./navigation.js";
import { sessionEnded, setupRequired, shortcuts, commandMenu } from "./shell.js";
import { render, currentKeys } from "./router.js";
import { undoNewest } from "./components/undo.js";

onNavigate(render);

window.addEventListener("beforeunload", (e) => {
  if (hasUnsaved()) {
    e.preventDefault();
    e.returnValue = "";
  }
});

window.addEventListener("popstate", () => render());

// Links inside the app navigate without reloading.
document.addEventListener("click", (e) => {
  const target = e.target instanceof Element ? e.target.closest("a") : null;
  if (!target || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const href = target.getAttribute("href");
  if (!href || !href.startsWith("/") || href.startsWith("/api") || href.startsWith("/docs") || target.target) return;
  e.preventDefault();
  navigate(href);
});

api.session.onUnauthenticated = sessionEnded;
api.session.onSetupRequired = setupRequired;

/**
 * Whether keys typed here are text (a shortcut must never type into a field the person did not
 * focus, and must not act while they type in one). A checkbox or a button is not.
 * @param {HTMLElement} el
 */
function typingIn(el) {
  if (el.closest("textarea, select, [contenteditable]")) return true;
  const input = el.closest("input");
  return input !== null && !["checkbox", "radio", "button", "submit", "reset", "range", "color"].includes(/** @type {HTMLInputElement} */ (input).type);
}

document.addEventListener("keydown", (e) => {
  const keys = currentKeys();
  const target = /** @type {HTMLElement} */ (e.target);
  const typing = typingIn(target);
  const mod = e.metaKey || e.ctrlKey;
  if (mod && !e.altKey && !e.shiftKey && e.key.toLowerCase() === "k") {
    // The command menu, from anywhere (even a field), unless a dialog is open already.
    e.preventDefault();
    if (!document.querySelector("dialog[open]")) commandMenu();
    return;
  }
  if (document.querySelector("dialog[open]")) return;
  if (mod && !e.altKey && !e.shiftKey && e.key.toLowerCase() === "z" && !typing) {
    if (undoNewest()) e.preventDefault();
    return;
  }
  if (e.key === "Escape") {
    if (keys.escape?.()) e.preventDefault();
    document.body.classList.remove("drawer-open");
    return;
  }
  if (typing || e.metaKey || e.ctrlKey || e.altKey) return;
  if (e.key === "/") {
    const search = /** @type {HTMLInputElement | null} */ (document.getElementById("search"));
    if (search) {
      e.preventDefault();
      document.body.classList.add("search-open");
      search.focus();
      search.select();
    }
    return;
  }
  if (e.key === "?") {
    e.preventDefault();
    shortcuts();
    return;
  }
  if (e.key === "Enter") {
    if (keys.enter && !target.closest("a, button, input")) {
      e.preventDefault();
      keys.enter();
    }
    return;
  }
  const action = /** @type {Record<string, (() => void) | undefined>} */ ({ c: keys.c, j: keys.j, k: keys.k, e: keys.e, x: keys.x })[e.key];
  if (action) {
    e.preventDefault();
    action();
  }
});

// Theme: the system's unless the person chose one in Settings.
const theme = localStorage.getItem("docket-theme");
if (theme === "light" || theme === "dark") document.documentElement.dataset.theme = theme;

render();
