// The frame around every view: the layout, the sidebar (Inbox, My tasks, Upcoming, projects),
// the top bars with the user menu and the bell, the keyboard-shortcuts dialog, and the session
// (who is signed in, signing in and out). The router draws it; views never import it.

import * as api from "./api.js";
import { h, replace, announce, dialog } from "./dom.js";
import { state, unsaved, hasUnsaved } from "./model.js";
import { navigate } from "./navigation.js";
import { bell, startBell, stopBell } from "./components/bell.js";

export const root = /** @type {HTMLElement} */ (document.getElementById("root"));

/** @type {HTMLElement | null} */
let sidebar = null;
/** @type {HTMLElement | null} */
let main = null;

/** The layout (sidebar and main), built once and kept across views; returns the main element. */
export function layout() {
  if (!sidebar || !main || !document.body.contains(main)) {
    sidebar = h("aside", { id: "sidebar", class: "sidebar", "aria-label": "Sidebar" });
    main = h("main", { id: "main", class: "main", tabindex: "-1" });
    const skip = h("a", { href: "#main", class: "skip-link", onclick: (/** @type {Event} */ e) => { e.preventDefault(); main?.focus(); } }, "Skip to content");
    replace(root, skip, h("div", { class: "layout" }, sidebar, h("div", { class: "scrim", onclick: toggleDrawer }), main));
  }
  return /** @type {HTMLElement} */ (main);
}

/** The sign-in pages replace the whole page: the layout is built again after them. */
export function dropLayout() {
  sidebar = null;
  main = null;
}

export function inbox() {
  return state.projects.find((p) => p.is_inbox);
}

export async function refreshProjects() {
  state.projects = await api.all("/projects");
  renderSidebar();
}

export function renderSidebar() {
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
export function projectHeader(project, view) {
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
export function plainHeader(title) {
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

export function shortcuts() {
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

/** @param {HTMLElement} el */
export function notFound(el) {
  document.title = "Not found · Docket";
  replace(el, plainHeader("Not found"), h("div", { class: "content page" },
    h("p", null, "There is nothing here, or you are not a member of this project."),
    h("p", null, h("a", { href: "/" }, "Go to your Inbox"))));
}

// --- the session

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

/** The first render's questions: who is signed in, may strangers sign up; then their projects. */
export async function boot() {
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

/** The server ended the session (a 401): back to sign-in, then to where the person was. */
export function sessionEnded() {
  if (location.pathname === "/signin" || location.pathname === "/signup") return;
  state.user = null;
  stopBell();
  const next = location.pathname + location.search;
  announce("Your session ended. Please sign in again.", { visible: true });
  navigate("/signin?next=" + encodeURIComponent(next), { replace: true, force: true });
}
