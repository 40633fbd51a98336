// The router: one table of [pattern, render] from a path to its page, and the life of a view
// (its AbortSignal, its keyboard shortcuts, the frame around it). The only module that imports
// views; app.js hands `render` to navigation.js, so a view navigates without importing this.

import * as api from "./api.js";
import { h, replace } from "./dom.js";
import { state, unsaved } from "./model.js";
import { navigate, setQuery } from "./navigation.js";
import { root, layout, dropLayout, inbox, renderSidebar, refreshProjects, projectHeader, plainHeader, notFound, boot, signedIn, setupDone, signOut } from "./shell.js";
import { renderAuth } from "./views/auth.js";
import { renderForgot, renderReset, renderInvite } from "./views/recovery.js";
import { renderTaskList } from "./views/list.js";
import { renderMembers } from "./views/members.js";
import { renderProjectSettings, renderSettings, renderAdmin } from "./views/settings.js";
import { renderProjectActivity } from "./views/activity.js";
import { renderImport } from "./views/import.js";

/**
 * @typedef {import("./model.js").Context} Context
 * @typedef {import("./model.js").Keys} Keys
 * @typedef {(ctx: Context, content: HTMLElement) => Promise<void>} View
 */

/**
 * A page outside projects: a plain top bar with `title` over the view.
 * @param {string} title
 * @param {string} contentClass
 * @param {View} view
 * @param {(() => HTMLElement) | null} [views] the top bar's switch between the page's views
 * @returns {(ctx: Context) => Promise<void>}
 */
const page = (title, contentClass, view, views = null) => async (ctx) => {
  document.title = `${title} · Docket`;
  replace(ctx.main, plainHeader(title, views && views()), h("div", { class: contentClass, id: "content" }));
  await view(ctx, /** @type {HTMLElement} */ (ctx.main.querySelector("#content")));
};

/**
 * A page of the project in the path: its top bar, with `tab` current, over the view.
 * @param {string} tab
 * @param {View} view
 * @returns {(ctx: Context) => Promise<void>}
 */
const projectPage = (tab, view) => async (ctx) => {
  let project = state.projects.find((p) => p.id === ctx.params.id);
  if (!project) {
    try {
      project = await api.get(`/projects/${ctx.params.id}`);
    } catch (e) {
      if (e instanceof api.ApiError && e.status === 404) return notFound(ctx.main);
      throw e;
    }
  }
  const p = /** @type {api.Project} */ (project);
  ctx.project = p;
  document.title = `${p.is_inbox ? "Inbox" : p.name} · Docket`;
  replace(ctx.main, projectHeader(p, tab), h("div", { class: "content", id: "content" }));
  await view(ctx, /** @type {HTMLElement} */ (ctx.main.querySelector("#content")));
};

/** @type {[RegExp, (ctx: Context) => Promise<void>][]} the first match renders; its group is `params.id` */
const ROUTES = [
  [/^\/p\/([^/]+)$/, projectPage("list", (ctx, content) => renderTaskList(ctx, content, "project"))],
  // The board and its modules (~20 KB) load when first shown: a project's first visit is its list
  // (docs/performance.md's first-visit budget).
  [/^\/p\/([^/]+)\/board$/, projectPage("board", async (ctx, content) => (await import("./views/board.js")).renderBoard(ctx, content))],
  [/^\/p\/([^/]+)\/members$/, projectPage("members", renderMembers)],
  [/^\/p\/([^/]+)\/activity$/, projectPage("activity", renderProjectActivity)],
  [/^\/p\/([^/]+)\/settings$/, projectPage("settings", renderProjectSettings)],
  [/^\/my$/, page("My tasks", "content", (ctx, content) => renderTaskList(ctx, content, "my"))],
  [/^\/upcoming$/, page("Upcoming", "content", (ctx, content) => renderTaskList(ctx, content, "upcoming"), () => upcomingViews("list"))],
  [/^\/upcoming\/week$/, page("Upcoming", "content week-content", async (ctx, content) => (await import("./views/week.js")).renderWeek(ctx, content), () => upcomingViews("week"))],
  [/^\/settings$/, page("Settings", "content page", renderSettings)],
  [/^\/admin$/, page("Users", "content page", renderAdmin)],
  [/^\/import$/, page("Import a project", "content page", renderImport)],
  // Loaded when first shown (the first visit's budget).
  [/^\/time$/, page("Time", "content page", async (ctx, content) => (await import("./views/time.js")).renderTime(ctx, content))],
];

/**
 * Upcoming's List / Week switch.
 * @param {"list" | "week"} view
 */
function upcomingViews(view) {
  /** @param {string} href @param {string} text @param {boolean} current */
  const seg = (href, text, current) => h("a", { href, class: "seg", "aria-current": current ? "page" : undefined }, text);
  return h("nav", { class: "tabs", "aria-label": "Upcoming views" },
    h("span", { class: "segmented" }, seg("/upcoming", "List", view === "list"), seg("/upcoming/week", "Week", view === "week")));
}

/** @type {Keys} */
let keys = {};
/** @type {AbortController | null} */
let viewAbort = null;
let booted = false;
/** @type {{path: string, rest: string, ctx: Context} | null} the page on screen */
let shown = null;

/** The shortcuts of the view on screen (app.js's key handler calls them). */
export const currentKeys = () => keys;

/**
 * A query without its `task` (the open task changes in place; anything else renders again).
 * @param {URLSearchParams} query
 */
function withoutTask(query) {
  const rest = new URLSearchParams(query);
  rest.delete("task");
  rest.sort();
  return rest.toString();
}

/** Renders the current URL: the sign-in pages, or the layout with the route's page in it. */
export async function render() {
  const here = new URLSearchParams(location.search);
  // Only the open task changed (opening, closing, j/k, the back gesture): the view swaps its
  // panel and keeps its rows, scroll position and selection.
  if (shown && shown.ctx.openTask && !shown.ctx.signal.aborted && shown.path === location.pathname && shown.rest === withoutTask(here)) {
    shown.ctx.query = here;
    return shown.ctx.openTask(here.get("task"));
  }
  shown = null;
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
    await boot();
  }
  if (path === "/signin" || path === "/signup") {
    dropLayout();
    if (state.user) return navigate(query.get("next") || "/", { replace: true });
    return renderAuth(root, { mode: path === "/signup" && state.registrationOpen ? "signup" : "signin", state, navigate, signedIn, next: query.get("next"), error: query.get("error") });
  }
  if (path === "/forgot" || path === "/reset" || path === "/invite") {
    // Pages reached from an email: the reset and invitation links carry their token.
    dropLayout();
    const options = { state, navigate, signedIn, refreshProjects, token: query.get("token") };
    if (path === "/invite") return renderInvite(root, options);
    if (state.user) return navigate("/", { replace: true });
    return path === "/forgot" ? renderForgot(root) : renderReset(root, options);
  }
  if (!state.user) {
    return navigate("/signin" + (path === "/" ? "" : "?next=" + encodeURIComponent(path + location.search)), { replace: true, force: true });
  }
  if (state.setupRequired) {
    // DOCKET_REQUIRE_2FA: nothing else until a second factor is set up; then the page asked for.
    dropLayout();
    const here = path + location.search;
    const { renderSetup } = await import("./views/setup.js");
    return renderSetup(root, {
      state,
      signOut,
      done: async () => {
        await setupDone();
        navigate(here, { replace: true, force: true });
      },
    });
  }
  if (path === "/") {
    const box = inbox();
    return navigate(box ? `/p/${box.id}` : "/my", { replace: true });
  }
  const el = layout();
  renderSidebar();
  /** @type {Context} */
  const ctx = { state, main: el, params: {}, query, navigate, setQuery, keys, refreshProjects, signal };
  shown = { path, rest: withoutTask(query), ctx };
  await show(ctx, path);
}

/**
 * Runs the route of `path` in the main element; a failure shows its sentence and "Try again".
 * @param {Context} ctx
 * @param {string} path
 */
async function show(ctx, path) {
  const el = ctx.main;
  try {
    for (const [pattern, renderPage] of ROUTES) {
      const m = path.match(pattern);
      if (!m) continue;
      if (m[1]) ctx.params.id = m[1];
      return await renderPage(ctx);
    }
    notFound(el);
  } catch (e) {
    if (e instanceof DOMException && e.name === "AbortError") return;
    if (e instanceof api.ApiError && e.status === 401) return;
    replace(el, plainHeader("Something went wrong"),
      h("div", { class: "content page" }, h("p", { role: "alert" }, e instanceof Error ? e.message : String(e)),
        h("button", { type: "button", onclick: () => render() }, "Try again")));
  }
}
