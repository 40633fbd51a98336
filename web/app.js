// Docket's web client: the shell (sidebar, top bar), the router, sign-in/up/out and the
// keyboard shortcuts. Views live in views/*.js; every one talks to /api/v1 through api.js.

import * as api from "./api.js";
import { h, replace, announce, dialog, confirmDialog } from "./dom.js";
import { renderAuth } from "./views/auth.js";
import { renderTaskList } from "./views/list.js";
import { renderBoard } from "./views/board.js";
import { renderMembers } from "./views/members.js";
import { renderProjectSettings, renderSettings, renderAdmin } from "./views/settings.js";
import { renderProjectActivity } from "./views/activity.js";
import { bell, startBell, stopBell } from "./views/notifications.js";

/**
 * @typedef {{user: api.User | null, projects: api.Project[], registrationOpen: boolean}} State
 * @typedef {{j?: () => void, k?: () => void, enter?: () => void, c?: () => void, escape?: () => boolean}} Keys
 * @typedef {{state: State, main: HTMLElement, params: Record<string, string>, query: URLSearchParams,
 *   project?: api.Project, navigate: typeof navigate, setQuery: typeof setQuery, keys: Keys,
 *   refreshProjects: typeof refreshProjects, signal: AbortSignal}} Context
 */

/** @type {State} */
const state = { user: null, projects: [], registrationOpen: true };

/** Things with unsaved input: each returns true while it has some. */
export const unsaved = new Set();
/** @type {() => boolean} */
const hasUnsaved = () => [...unsaved].some((f) => f());
export const unsavedInput = hasUnsaved;

window.addEventListener("beforeunload", (e) => {
  if (hasUnsaved()) {
    e.preventDefault();
    e.returnValue = "";
  }
});

/** @type {Keys} */
let keys = {};
/** @type {AbortController | null} */
let viewAbort = null;

/**
 * Goes to a client URL (pushes history unless `replace`).
 * @param {string} url
 * @param {{replace?: boolean, force?: boolean}} [options]
 */
export function navigate(url, options = {}) {
  if (!options.force && hasUnsaved() && !window.confirm("You have unsaved changes. Leave anyway?")) return;
  if (options.replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  render();
}

/**
 * Changes the query of the current URL (filters, the open task) and re-renders.
 * @param {Record<string, string | null>} changes
 * @param {{replace?: boolean}} [options]
 */
export function setQuery(changes, options = {}) {
  const query = new URLSearchParams(location.search);
  for (const [key, value] of Object.entries(changes)) {
    if (value === null || value === "") query.delete(key);
    else query.set(key, value);
  }
  const search = query.toString();
  navigate(location.pathname + (search ? "?" + search : ""), options);
}

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

api.session.onUnauthenticated = () => {
  if (location.pathname === "/signin" || location.pathname === "/signup") return;
  state.user = null;
  stopBell();
  const next = location.pathname + location.search;
  announce("Your session ended. Please sign in again.", { visible: true });
  navigate("/signin?next=" + encodeURIComponent(next), { replace: true, force: true });
};

export async function refreshProjects() {
  state.projects = await api.all("/projects");
  renderSidebar();
}

/** Asks the server who is signed in (the cookie decides). */
async function loadSession() {
  try {
    const session = await api.get("/auth/session", { quiet401: true });
    state.user = session.user;
    api.session.csrf = session.csrf_token;
    return true;
  } catch (e) {
    if (e instanceof api.ApiError && e.status === 401) return false;
    throw e;
  }
}

/**
 * @param {api.User} user
 * @param {string} csrf
 */
export async function signedIn(user, csrf) {
  state.user = user;
  api.session.csrf = csrf;
  await refreshProjects();
  startBell({ navigate, me: () => state.user });
}

async function signOut() {
  if (hasUnsaved() && !window.confirm("You have unsaved changes. Sign out anyway?")) return;
  try {
    await api.del("/auth/session");
  } catch {
    // Signed out already, or the server is down: the cookie goes either way.
  }
  state.user = null;
  state.projects = [];
  api.session.csrf = null;
  unsaved.clear();
  stopBell();
  navigate("/signin", { force: true });
}

const root = /** @type {HTMLElement} */ (document.getElementById("root"));

/** @type {HTMLElement | null} */
let sidebar = null;

function inbox() {
  return state.projects.find((p) => p.is_inbox);
}

function renderSidebar() {
  if (!sidebar) return;
  const path = location.pathname;
  const projectId = path.startsWith("/p/") ? path.split("/")[2] : null;
  /**
   * @param {string} href
   * @param {string} label
   * @param {boolean} current
   * @param {string} [icon]
   */
  const item = (href, label, current, icon) =>
    h("li", null, h("a", { href, "aria-current": current ? "page" : undefined, class: "nav-item" },
      icon ? h("span", { class: "nav-icon", "aria-hidden": "true" }, icon) : null, label));
  const box = inbox();
  const others = state.projects.filter((p) => !p.is_inbox);
  replace(sidebar,
    h("div", { class: "brand" }, h("a", { href: "/", class: "brand-link" }, "Docket")),
    h("nav", { "aria-label": "Views" },
      h("ul", { class: "nav" },
        box ? item(`/p/${box.id}`, "Inbox", projectId === box.id, "▣") : null,
        item("/my", "My tasks", path === "/my", "◉"),
        item("/upcoming", "Upcoming", path === "/upcoming", "◷"))),
    h("nav", { "aria-label": "Projects", class: "projects-nav" },
      h("div", { class: "nav-heading" }, h("h2", { id: "projects-heading" }, "Projects"),
        h("button", { type: "button", class: "icon", "aria-label": "New project", title: "New project", onclick: newProject }, "+")),
      others.length
        ? h("ul", { class: "nav", "aria-labelledby": "projects-heading" }, others.map((p) => item(`/p/${p.id}`, p.name, projectId === p.id, "#")))
        : h("p", { class: "muted small" }, "No projects yet.")),
    h("div", { class: "sidebar-foot" },
      h("ul", { class: "nav" },
        item("/settings", "Settings", path === "/settings", "⚙"),
        state.user?.role === "admin" ? item("/admin", "Users", path === "/admin", "☰") : null)));
}

async function newProject() {
  const name = await dialog("New project", (close) => {
    const input = /** @type {HTMLInputElement} */ (h("input", { id: "new-project-name", name: "name", required: true, maxlength: 100, autocomplete: "off" }));
    const error = h("p", { class: "field-error", id: "new-project-error" });
    const form = h("form", {
      onsubmit: async (/** @type {Event} */ e) => {
        e.preventDefault();
        try {
          const project = await api.post("/projects", { name: input.value });
          close(project);
        } catch (err) {
          error.textContent = err instanceof api.ApiError ? err.fieldMessage("name") || err.message : String(err);
          input.setAttribute("aria-invalid", "true");
        }
      },
    },
      h("label", { for: "new-project-name" }, "Name"), input,
      error,
      h("div", { class: "actions" },
        h("button", { type: "button", onclick: () => close(null) }, "Cancel"),
        h("button", { type: "submit", class: "primary" }, "Create project")));
    setTimeout(() => input.focus());
    return [form];
  });
  if (name) {
    await refreshProjects();
    navigate(`/p/${name.id}`);
  }
}

/**
 * The top bar of a project: its name, the view switch and the project's pages.
 * @param {api.Project} project
 * @param {string} view
 */
function projectHeader(project, view) {
  const search = location.search;
  const keep = new URLSearchParams(search);
  keep.delete("task");
  keep.delete("cursor");
  const q = keep.toString() ? "?" + keep.toString() : "";
  /**
   * @param {string} href
   * @param {string} label
   * @param {boolean} current
   */
  const tab = (href, label, current) => h("a", { href, class: "tab", "aria-current": current ? "page" : undefined }, label);
  return h("header", { class: "topbar" },
    h("button", { type: "button", class: "icon menu-toggle", "aria-label": "Show navigation", "aria-controls": "sidebar", onclick: toggleDrawer }, "☰"),
    h("h1", { class: "project-title" }, project.is_inbox ? "Inbox" : project.name),
    h("nav", { class: "tabs", "aria-label": "Project views" },
      tab(`/p/${project.id}${q}`, "List", view === "list"),
      tab(`/p/${project.id}/board${q}`, "Board", view === "board"),
      tab(`/p/${project.id}/activity`, "Activity", view === "activity"),
      project.is_inbox ? null : tab(`/p/${project.id}/members`, "Members", view === "members"),
      tab(`/p/${project.id}/settings`, "Settings", view === "settings")),
    userMenu());
}

/** @param {string} title */
function plainHeader(title) {
  return h("header", { class: "topbar" },
    h("button", { type: "button", class: "icon menu-toggle", "aria-label": "Show navigation", "aria-controls": "sidebar", onclick: toggleDrawer }, "☰"),
    h("h1", { class: "project-title" }, title),
    h("div", { class: "spacer" }),
    userMenu());
}

function userMenu() {
  return h("div", { class: "user-menu" },
    h("span", { class: "muted small user-name" }, state.user?.name || ""),
    bell(),
    h("button", { type: "button", class: "ghost", onclick: () => shortcuts(), "aria-label": "Keyboard shortcuts", title: "Keyboard shortcuts (?)" }, "?"),
    h("button", { type: "button", class: "ghost", id: "sign-out", onclick: signOut }, "Sign out"));
}

function toggleDrawer() {
  document.body.classList.toggle("drawer-open");
  const open = document.body.classList.contains("drawer-open");
  if (open) sidebar?.querySelector("a")?.focus();
}

function shortcuts() {
  /** @type {[string, string][]} */
  const rows = [
    ["/", "Search"],
    ["c", "New task"],
    ["j / k", "Next / previous task"],
    ["Enter", "Open the selected task"],
    ["Esc", "Close the task or dialog"],
    ["Shift + ← →", "Board: move the focused card to the previous / next column"],
    ["Shift + ↑ ↓", "Board: move the focused card up / down"],
    ["?", "This list"],
  ];
  return dialog("Keyboard shortcuts", (close) => [
    h("table", { class: "shortcuts" },
      h("tbody", null, rows.map(([key, what]) => h("tr", null, h("th", { scope: "row" }, h("kbd", null, key)), h("td", null, what))))),
    h("div", { class: "actions" }, h("button", { type: "button", class: "primary", onclick: () => close() }, "Close")),
  ]);
}

document.addEventListener("keydown", (e) => {
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

/** @type {HTMLElement | null} */
let main = null;

function shell() {
  if (!sidebar || !main || !document.body.contains(main)) {
    sidebar = h("aside", { id: "sidebar", class: "sidebar", "aria-label": "Sidebar" });
    main = h("main", { id: "main", class: "main", tabindex: "-1" });
    const skip = h("a", { href: "#main", class: "skip-link", onclick: (/** @type {Event} */ e) => { e.preventDefault(); main?.focus(); } }, "Skip to content");
    replace(root, skip, h("div", { class: "layout" }, sidebar, h("div", { class: "scrim", onclick: toggleDrawer }), main));
  }
  return /** @type {HTMLElement} */ (main);
}

/** @type {[RegExp, string][]} */
const ROUTES = [
  [/^\/p\/([^/]+)$/, "list"],
  [/^\/p\/([^/]+)\/board$/, "board"],
  [/^\/p\/([^/]+)\/members$/, "members"],
  [/^\/p\/([^/]+)\/activity$/, "activity"],
  [/^\/p\/([^/]+)\/settings$/, "project-settings"],
  [/^\/my$/, "my"],
  [/^\/upcoming$/, "upcoming"],
  [/^\/settings$/, "settings"],
  [/^\/admin$/, "admin"],
];

let booted = false;

async function render() {
  viewAbort?.abort();
  viewAbort = new AbortController();
  const signal = viewAbort.signal;
  keys = {};
  unsaved.clear();
  document.body.classList.remove("drawer-open");
  const path = location.pathname;
  const query = new URLSearchParams(location.search);
  if (!booted) {
    booted = true;
    const [signedInAlready, registration] = await Promise.all([
      loadSession(),
      api.get("/auth/registration").catch(() => ({ open: true })),
    ]);
    state.registrationOpen = registration.open;
    if (signedInAlready) {
      await refreshProjects();
      startBell({ navigate, me: () => state.user });
    }
  }
  if (path === "/signin" || path === "/signup") {
    sidebar = null;
    main = null;
    if (state.user) return navigate(query.get("next") || "/", { replace: true });
    return renderAuth(root, { mode: path === "/signup" && state.registrationOpen ? "signup" : "signin", state, navigate, signedIn, next: query.get("next") });
  }
  if (!state.user) {
    return navigate("/signin" + (path === "/" ? "" : "?next=" + encodeURIComponent(path + location.search)), { replace: true, force: true });
  }
  if (path === "/") {
    const box = inbox();
    return navigate(box ? `/p/${box.id}` : "/my", { replace: true });
  }
  const el = shell();
  renderSidebar();
  /** @type {Record<string, string>} */
  const params = {};
  let view = "not-found";
  for (const [pattern, name] of ROUTES) {
    const m = path.match(pattern);
    if (m) {
      view = name;
      if (m[1]) params.id = m[1];
      break;
    }
  }
  /** @type {Context} */
  const ctx = { state, main: el, params, query, navigate, setQuery, keys, refreshProjects, signal };
  try {
    if (view === "my" || view === "upcoming") {
      const title = view === "my" ? "My tasks" : "Upcoming";
      document.title = `${title} · Docket`;
      replace(el, plainHeader(title), h("div", { class: "content", id: "content" }));
      await renderTaskList(ctx, /** @type {HTMLElement} */ (el.querySelector("#content")), view);
    } else if (view === "settings") {
      document.title = "Settings · Docket";
      replace(el, plainHeader("Settings"), h("div", { class: "content page", id: "content" }));
      await renderSettings(ctx, /** @type {HTMLElement} */ (el.querySelector("#content")));
    } else if (view === "admin") {
      document.title = "Users · Docket";
      replace(el, plainHeader("Users"), h("div", { class: "content page", id: "content" }));
      await renderAdmin(ctx, /** @type {HTMLElement} */ (el.querySelector("#content")));
    } else if (params.id) {
      let project = state.projects.find((p) => p.id === params.id);
      if (!project) {
        try {
          project = await api.get(`/projects/${params.id}`);
        } catch (e) {
          if (e instanceof api.ApiError && e.status === 404) return notFound(el);
          throw e;
        }
      }
      const p = /** @type {api.Project} */ (project);
      ctx.project = p;
      document.title = `${p.is_inbox ? "Inbox" : p.name} · Docket`;
      replace(el, projectHeader(p, view === "project-settings" ? "settings" : view), h("div", { class: "content", id: "content" }));
      const content = /** @type {HTMLElement} */ (el.querySelector("#content"));
      if (view === "list") await renderTaskList(ctx, content, "project");
      else if (view === "board") await renderBoard(ctx, content);
      else if (view === "members") await renderMembers(ctx, content);
      else if (view === "activity") await renderProjectActivity(ctx, content);
      else await renderProjectSettings(ctx, content);
    } else {
      notFound(el);
    }
  } catch (e) {
    if (e instanceof DOMException && e.name === "AbortError") return;
    if (e instanceof api.ApiError && e.status === 401) return;
    replace(el, plainHeader("Something went wrong"),
      h("div", { class: "content page" }, h("p", { role: "alert" }, e instanceof Error ? e.message : String(e)),
        h("button", { type: "button", onclick: () => render() }, "Try again")));
  }
}

/** @param {HTMLElement} el */
function notFound(el) {
  document.title = "Not found · Docket";
  replace(el, plainHeader("Not found"), h("div", { class: "content page" },
    h("p", null, "There is nothing here, or you are not a member of this project."),
    h("p", null, h("a", { href: "/" }, "Go to your Inbox"))));
}

/**
 * Deletes a project after asking, then goes home.
 * @param {api.Project} project
 */
export async function deleteProject(project) {
  const ok = await confirmDialog("Delete project", `Delete “${project.name}” and all its tasks? This cannot be undone.`, "Delete project", true);
  if (!ok) return;
  await api.del(`/projects/${project.id}`);
  await refreshProjects();
  announce(`Deleted ${project.name}.`, { visible: true });
  navigate("/", { force: true });
}

// Theme: the system's unless the person chose one in Settings.
const theme = localStorage.getItem("docket-theme");
if (theme === "light" || theme === "dark") document.documentElement.dataset.theme = theme;

render();
