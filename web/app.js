// Docket's web client, the entry and composition root: it wires the router into navigation, the
// session's end into sign-in, and the page-wide listeners (links, history, keyboard shortcuts,
// unsaved input), then renders. Nothing imports this module. The layers below it, each
// importing only downward: router.js (the route table; the only importer of views/*.js),
// shell.js (sidebar, top bars, session), views/*.js (one module per screen), components/ (the
// pieces several views use), and model.js, navigation.js, api.js, live.js, dom.js beneath them.

import * as api from "./api.js";
import { hasUnsaved } from "./model.js";
import { navigate, onNavigate } from "./navigation.js";
import { sessionEnded, shortcuts } from "./shell.js";
import { render, currentKeys } from "./router.js";

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

document.addEventListener("keydown", (e) => {
  const keys = currentKeys();
  const target = /** @type {HTMLElement} */ (e.target);
  const typing = target.closest("input, textarea, select, [contenteditable]") !== null;
  if (document.querySelector("dialog[open]")) return;
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
      search.focus();
      search.select();
    }
  } else if (e.key === "?") {
    e.preventDefault();
    shortcuts();
  } else if (e.key === "c" && keys.c) {
    e.preventDefault();
    keys.c();
  } else if (e.key === "j" && keys.j) {
    e.preventDefault();
    keys.j();
  } else if (e.key === "k" && keys.k) {
    e.preventDefault();
    keys.k();
  } else if (e.key === "Enter" && keys.enter && !target.closest("a, button")) {
    e.preventDefault();
    keys.enter();
  }
});

// Theme: the system's unless the person chose one in Settings.
const theme = localStorage.getItem("docket-theme");
if (theme === "light" || theme === "dark") document.documentElement.dataset.theme = theme;

render();
