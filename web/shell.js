// The frame around every view: the layout, the sidebar (Inbox, My tasks, Upcoming, projects,
// following the person's memberships live), the top bars (one compact row on a phone: menu,
// project, the List/Board switch, "Go to…", the bell, and an overflow menu for the rest), the
// command menu, the keyboard-shortcuts dialog, and the session (who is signed in, signing in and
// out, the live stream). The router draws it; views never import it.

import * as api from "./api.js";
import { h, replace, announce, dialog } from "./dom.js";
import { state, unsaved, hasUnsaved, forgetMembers, topTimer } from "./model.js";
import { navigate } from "./navigation.js";
import * as live from "./live.js";
import { bell, startBell, stopBell } from "./components/bell.js";
import { openCommandMenu } from "./components/command-menu.js";
import { flushDeletes } from "./components/undo.js";
import { projectViews, myViews } from "./components/views-sidebar.js";

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
        item("/upcoming", "Upcoming", path.startsWith("/upcoming"), "◷"),
        item("/time", "Time", path === "/time", "◑"),
        item("/import", "Import project", path === "/import", "⇪"))),
    h("nav", { "aria-label": "Projects", class: "projects-nav" },
      h("div", { class: "nav-heading" }, h("h2", { id: "projects-heading" }, "Projects"),
        h("button", { type: "button", class: "icon", "aria-label": "New project", title: "New project", onclick: newProject }, "+")),
      others.length
        ? h("ul", { class: "nav", "aria-labelledby": "projects-heading" }, others.flatMap((p) => [
          item(`/p/${p.id}`, p.name, projectId === p.id, "#"),
          // Saved views (API.md §18): the current project's shared ones under it.
          projectId === p.id ? h("li", null, projectViews(p.id)) : null]))
        : h("p", { class: "muted small" }, "No projects yet.")),
    myViews(),
    h("div", { class: "sidebar-foot" },
      h("ul", { class: "nav" },
        item("/settings", "Settings", path === "/settings", "⚙"),
        state.user?.role === "admin" ? item("/admin", "Users", path === "/admin", "☰") : null)));
}

async function newProject() {
  // Loaded when the dialog opens: a project's first visit has a byte budget.
  const { templatePicker } = await import("./components/template-picker.js");
  const templates = await templatePicker();
  const name = await dialog("New project", (close) => {
    const input = /** @type {HTMLInputElement} */ (h("input", { id: "new-project-name", name: "name", required: true, maxlength: 100, autocomplete: "off" }));
    const error = h("p", { class: "field-error", id: "new-project-error" });
    const form = h("form", {
      onsubmit: async (/** @type {Event} */ e) => {
        e.preventDefault();
        try {
          const project = await api.post("/projects", { name: input.value, ...templates.choice() });
          close(project);
        } catch (err) {
          error.textContent = err instanceof api.ApiError ? err.fieldMessage("name") || err.message : String(err);
          input.setAttribute("aria-invalid", "true");
        }
      },
    },
      h("label", { for: "new-project-name" }, "Name"), input,
      error,
      templates.el,
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
 * The top bar of a project: its name, the List/Board switch, the project's other pages, and
 * the person's menu.
 * @param {api.Project} project
 * @param {string} view
 */
export function projectHeader(project, view) {
  const keep = new URLSearchParams(location.search);
  keep.delete("task");
  keep.delete("cursor");
  const q = keep.toString() ? "?" + keep.toString() : "";
  /**
   * @param {string} href
   * @param {string} label
   * @param {boolean} current
   * @param {string} cls
   */
  const tab = (href, label, current, cls) => h("a", { href, class: cls, "aria-current": current ? "page" : undefined }, label);
  /** @type {[string, string, string][]} the pages beyond the two views: in the overflow menu on a phone */
  const pages = [[`/p/${project.id}/activity`, "Activity", "activity"]];
  if (!project.is_inbox) pages.push([`/p/${project.id}/members`, "Members", "members"]);
  pages.push([`/p/${project.id}/settings`, "Settings", "settings"]);
  return h("header", { class: "topbar" },
    menuToggle(),
    h("h1", { class: "project-title" }, project.is_inbox ? "Inbox" : project.name),
    h("nav", { class: "tabs", "aria-label": "Project views" },
      h("span", { class: "segmented" },
        tab(`/p/${project.id}${q}`, "List", view === "list", "seg"),
        tab(`/p/${project.id}/board${q}`, "Board", view === "board", "seg")),
      pages.map(([href, label, name]) => tab(href, label, view === name, "tab page-tab"))),
    h("div", { class: "spacer" }),
    userMenu(pages.map(([href, label, name]) => ({ href, label, current: view === name }))));
}

/**
 * @param {string} title
 * @param {HTMLElement | null} [views] a switch between the page's views (Upcoming: List / Week)
 */
export function plainHeader(title, views = null) {
  return h("header", { class: "topbar" },
    menuToggle(),
    h("h1", { class: "project-title" }, title),
    views,
    h("div", { class: "spacer" }),
    userMenu([]));
}

function menuToggle() {
  return h("button", { type: "button", class: "icon menu-toggle", "aria-label": "Show navigation", "aria-controls": "sidebar", onclick: toggleDrawer }, "☰");
}

const mac = /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent);

/** Opens the command menu. */
export function commandMenu() {
  openCommandMenu({ shortcuts: () => shortcuts() });
}

/**
 * The right of a top bar: "Go to…", the name, the bell, shortcuts and sign-out; on a phone the
 * last two, and `pages`, move into an overflow menu.
 * @param {{href: string, label: string, current: boolean}[]} pages
 */
function userMenu(pages) {
  const goto = h("button", { type: "button", class: "goto", id: "goto", "aria-keyshortcuts": mac ? "Meta+K" : "Control+K", title: `Search and go to (${mac ? "⌘K" : "Ctrl+K"})`, onclick: commandMenu },
    h("span", { class: "goto-icon", "aria-hidden": "true" }), h("span", { class: "goto-text" }, "Go to…"), h("kbd", { class: "goto-key", "aria-hidden": "true" }, mac ? "⌘K" : "Ctrl K"));
  const clock = h("div", { class: "top-timer", hidden: true });
  topTimer.draw(clock);
  return h("div", { class: "user-menu" },
    clock,
    goto,
    h("span", { class: "muted small user-name" }, state.user?.name || ""),
    bell(),
    h("button", { type: "button", class: "ghost wide-only", onclick: () => shortcuts(), "aria-label": "Keyboard shortcuts", title: "Keyboard shortcuts (?)" }, "?"),
    h("button", { type: "button", class: "ghost wide-only", id: "sign-out", onclick: signOut }, "Sign out"),
    overflow(pages));
}

/**
 * The phone's "more" menu: the project's other pages, shortcuts, sign-out.
 * @param {{href: string, label: string, current: boolean}[]} pages
 */
function overflow(pages) {
  const menu = h("div", { class: "overflow-menu", id: "overflow-menu", hidden: true },
    h("ul", { class: "nav" },
      pages.map((p) => h("li", null, h("a", { href: p.href, class: "nav-item", "aria-current": p.current ? "page" : undefined }, p.label))),
      h("li", null, h("button", { type: "button", class: "ghost nav-item", onclick: () => { close(); shortcuts(); } }, "Keyboard shortcuts")),
      h("li", null, h("button", { type: "button", class: "ghost nav-item", onclick: () => { close(); signOut(); } }, "Sign out"))));
  const button = h("button", { type: "button", class: "icon overflow-button", "aria-label": "More", "aria-expanded": "false", "aria-controls": "overflow-menu" }, "⋯");
  const wrap = h("div", { class: "overflow" }, button, menu);
  const outside = (/** @type {Event} */ e) => { if (!wrap.contains(/** @type {Node} */ (e.target))) close(); };
  const close = () => {
    menu.hidden = true;
    button.setAttribute("aria-expanded", "false");
    document.removeEventListener("click", outside, true);
  };
  button.addEventListener("click", () => {
    if (!menu.hidden) return close();
    menu.hidden = false;
    button.setAttribute("aria-expanded", "true");
    document.addEventListener("click", outside, true);
    /** @type {HTMLElement | null} */ (menu.querySelector("a, button"))?.focus();
  });
  wrap.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !menu.hidden) {
      e.preventDefault();
      e.stopPropagation();
      close();
      button.focus();
    }
  });
  return wrap;
}

function toggleDrawer() {
  document.body.classList.toggle("drawer-open");
  const open = document.body.classList.contains("drawer-open");
  if (open) sidebar?.querySelector("a")?.focus();
}

export function shortcuts() {
  /** @type {[string, string][]} */
  const rows = [
    [mac ? "⌘ K" : "Ctrl + K", "Go to a project, view or task; create a task; switch the theme"],
    ["/", "Search this list"],
    ["c", "New task"],
    ["j / k", "Next / previous task (with a task open: open it)"],
    ["Enter", "Open the selected task"],
    ["e", "Edit the open task's title"],
    ["x", "Pick the selected task for a bulk change (Shift-click or Ctrl-click picks with the mouse)"],
    ["Esc", "Leave a field, close the task or dialog, drop the picked tasks"],
    [mac ? "⌘ Z" : "Ctrl + Z", "Undo the last change (while its toast shows)"],
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
    /** @type {api.Session} */
    const session = await api.get("/auth/session", { quiet401: true });
    state.user = session.user;
    state.setupRequired = !!session.second_factor_setup_required;
    api.session.csrf = session.csrf_token;
    return true;
  } catch (e) {
    if (e instanceof api.ApiError && e.status === 401) return false;
    throw e;
  }
}

/**
 * The first render's questions: who is signed in, may strangers sign up; then their projects.
 * The projects and the live stream are asked for at the same moment as the session, so a
 * signed-in page is one round trip, not three, from its first view's read (signed out, they
 * are refused quietly and dropped).
 */
export async function boot() {
  const projects = api.all("/projects", { quiet401: true }).catch(() => null);
  live.start();
  const [signedInAlready, registration] = await Promise.all([
    loadSession(),
    api.get("/auth/registration").catch(() => ({ open: true })),
  ]);
  state.registrationOpen = registration.open;
  if (signedInAlready && !state.setupRequired) {
    state.projects = (await projects) || (await api.all("/projects"));
    started();
  } else {
    // Signed out, or signed in only to set up a second factor: nothing to follow yet.
    live.stop();
  }
}

/**
 * A sign-in completed (a password, a second factor, a passkey).
 * @param {api.Session} session
 */
export async function signedIn(session) {
  state.user = session.user;
  state.setupRequired = !!session.second_factor_setup_required;
  api.session.csrf = session.csrf_token;
  if (state.setupRequired) return;
  await refreshProjects();
  started();
}

/** The required second factor is set up: the person may now use everything. */
export async function setupDone() {
  state.setupRequired = false;
  const me = await api.get("/me");
  state.user = me;
  await refreshProjects();
  started();
}

/** A session began: the live stream, the bell, the sidebar following memberships. */
function started() {
  live.start();
  live.everyEntry.add(onMembership);
  startBell({ navigate, me: () => state.user });
  // A timer this browser started may still run: the clock (timer.js) loads only then.
  if (localStorage.getItem("docket-timer")) import("./components/timer.js").then((m) => m.checkRunning());
}

function ended() {
  live.everyEntry.delete(onMembership);
  live.stop();
  stopBell();
  topTimer.stop();
}

/**
 * Being added to or removed from a project, a role changed, a project renamed: the sidebar
 * (and the list of projects the views use) follow at once.
 * @param {api.Entry} entry
 */
function onMembership(entry) {
  const me = state.user;
  if (!me || !(entry.kind.startsWith("member.") || entry.kind === "project.updated")) return;
  if (entry.kind.startsWith("member.")) forgetMembers(entry.project_id);
  if (entry.kind !== "project.updated" && entry.user_id !== me.id) return;
  const before = state.projects.find((p) => p.id === entry.project_id);
  refreshProjects().then(() => {
    const after = state.projects.find((p) => p.id === entry.project_id);
    const by = entry.actor && entry.actor.id !== me.id ? entry.actor.name : null;
    if (entry.kind === "member.added" && after && by) announce(`${by} added you to ${after.name}.`, { visible: true });
    if (entry.kind === "member.removed" && before && !after) {
      if (by) announce(`${by} removed you from ${before.name}.`, { visible: true });
      if (location.pathname.startsWith(`/p/${before.id}`)) navigate("/", { replace: true, force: true });
    }
  }).catch(() => {});
}

export async function signOut() {
  if (hasUnsaved() && !window.confirm("You have unsaved changes. Sign out anyway?")) return;
  // Deletions waiting for their Undo go out while the session still lets them.
  await flushDeletes();
  ended();
  try {
    await api.del("/auth/session");
  } catch {
    // Signed out already, or the server is down: the cookie goes either way.
  }
  state.user = null;
  state.projects = [];
  state.setupRequired = false;
  api.session.csrf = null;
  unsaved.clear();
  navigate("/signin", { force: true });
}

/** The server holds this session to setting up a second factor (a 403 said so). */
export function setupRequired() {
  if (state.setupRequired || !state.user) return;
  state.setupRequired = true;
  ended();
  navigate("/", { replace: true, force: true });
}

/** The server ended the session (a 401): back to sign-in, then to where the person was. */
export function sessionEnded() {
  if (location.pathname === "/signin" || location.pathname === "/signup") return;
  state.user = null;
  ended();
  const next = location.pathname + location.search;
  announce("Your session ended. Please sign in again.", { visible: true });
  navigate("/signin?next=" + encodeURIComponent(next), { replace: true, force: true });
}
