// The command menu (Ctrl/Cmd+K, or the top bar's "Go to…" button): go to a project, a view or a
// task by number or title across every project, create a task, switch the theme, open settings.
// Places and actions are fuzzy-matched here as the person types; tasks come from the tasks the
// views showed this session (fuzzy, instant, half-typed words too) and from the API's search
// over every project (`GET /api/v1/tasks?q=`, whole words with stemming; `number=` for "#12"),
// the previous search cancelled by the next keystroke. Arrow keys choose, Enter runs, Esc closes.

import * as api from "../api.js";
import { h, replace, setTheme } from "../dom.js";
import { state, recentTasks } from "../model.js";
import { navigate } from "../navigation.js";
import { rank } from "../fuzzy.js";

/**
 * @typedef {{kind: string, label: string, hint?: string, run: () => void, key: string}} Command
 * @typedef {{shortcuts: () => void}} MenuHooks what the shell lends the menu
 */

/** @param {api.Project} p */
const projectName = (p) => (p.is_inbox ? "Inbox" : p.name);

/**
 * The places and actions on offer, in the order an empty query lists them.
 * @param {MenuHooks} hooks
 * @returns {Command[]}
 */
function commands(hooks) {
  /** @type {Command[]} */
  const out = [];
  const here = location.pathname.match(/^\/p\/([^/]+)/)?.[1];
  const current = state.projects.find((p) => p.id === here);
  const go = (/** @type {string} */ url) => () => navigate(url);
  out.push({ kind: "Action", label: "Create a task", hint: current ? projectName(current) : "Inbox", run: () => createTask(current), key: "new" });
  if (current) {
    for (const [path, view] of [["", "List"], ["/board", "Board"], ["/activity", "Activity"], ["/members", "Members"], ["/settings", "Settings"]]) {
      if (view === "Members" && current.is_inbox) continue;
      out.push({ kind: "View", label: `${projectName(current)}: ${view}`, run: go(`/p/${current.id}${path}`), key: `view${path}` });
    }
  }
  const inbox = state.projects.find((p) => p.is_inbox);
  if (inbox) out.push({ kind: "Go to", label: "Inbox", run: go(`/p/${inbox.id}`), key: "inbox" });
  out.push({ kind: "Go to", label: "My tasks", run: go("/my"), key: "my" });
  out.push({ kind: "Go to", label: "Upcoming", run: go("/upcoming"), key: "upcoming" });
  for (const p of state.projects) {
    if (p.is_inbox) continue;
    out.push({ kind: "Project", label: p.name, run: go(`/p/${p.id}`), key: `p${p.id}` });
    out.push({ kind: "Board", label: `${p.name}: Board`, run: go(`/p/${p.id}/board`), key: `b${p.id}` });
  }
  out.push({ kind: "Go to", label: "Settings", hint: "your account", run: go("/settings"), key: "settings" });
  if (state.user?.role === "admin") out.push({ kind: "Go to", label: "Users", hint: "administration", run: go("/admin"), key: "admin" });
  for (const theme of ["light", "dark", "system"]) {
    out.push({ kind: "Action", label: `Theme: ${theme === "system" ? "same as the system" : theme}`, run: () => setTheme(theme), key: `theme-${theme}` });
  }
  out.push({ kind: "Action", label: "Keyboard shortcuts", run: hooks.shortcuts, key: "shortcuts" });
  return out;
}

/**
 * "Create a task": the quick add of the project on screen, or of the Inbox.
 * @param {api.Project | undefined} current
 */
function createTask(current) {
  const project = current || state.projects.find((p) => p.is_inbox);
  if (!project) return;
  const focus = () => /** @type {HTMLInputElement | null} */ (document.getElementById("quick-add"))?.focus();
  if (location.pathname === `/p/${project.id}` && document.getElementById("quick-add")) return focus();
  navigate(`/p/${project.id}`);
  const until = performance.now() + 3000;
  const wait = () => (document.getElementById("quick-add") ? focus() : performance.now() < until && requestAnimationFrame(wait));
  requestAnimationFrame(wait);
}

/**
 * A task as a command: "#12 Title", in its project.
 * @param {{id: string, project_id: string, number: number, title: string}} t
 * @returns {Command}
 */
function taskCommand(t) {
  const project = state.projects.find((p) => p.id === t.project_id);
  return { kind: "Task", label: `#${t.number} ${t.title}`, hint: project ? projectName(project) : "", run: () => navigate(`/p/${t.project_id}?task=${t.id}`), key: `t${t.id}` };
}

/**
 * The open menu: its parts and what it shows.
 * @typedef {{all: Command[], input: HTMLInputElement, list: HTMLElement, status: HTMLElement, dialog: HTMLDialogElement,
 *   previous: Element | null, shown: Command[], active: number, found: Command[], searching: AbortController | null}} Menu
 *   `all`: the places and actions; `found`: the tasks the server's search found for the current query
 */

/**
 * Opens the menu (one at a time).
 * @param {MenuHooks} hooks
 */
export function openCommandMenu(hooks) {
  if (document.getElementById("command-menu")) return;
  const input = /** @type {HTMLInputElement} */ (h("input", {
    id: "command-input", type: "text", role: "combobox", autocomplete: "off", spellcheck: "false",
    "aria-expanded": "true", "aria-controls": "command-results", "aria-autocomplete": "list", "aria-label": "Go to or do",
    placeholder: "Go to a project, view or task (#12), or do something…",
  }));
  const list = h("ul", { id: "command-results", role: "listbox", "aria-label": "Results" });
  const status = h("p", { class: "sr-only", id: "command-status", "aria-live": "polite" });
  const dialog = /** @type {HTMLDialogElement} */ (h("dialog", { class: "dialog command-menu", id: "command-menu", "aria-label": "Command menu" },
    input, list, status, h("p", { class: "command-foot muted small" }, h("kbd", null, "↑"), " ", h("kbd", null, "↓"), " to choose, ", h("kbd", null, "Enter"), " to go, ", h("kbd", null, "Esc"), " to close")));
  /** @type {Menu} */
  const m = { all: commands(hooks), input, list, status, dialog, previous: document.activeElement, shown: [], active: 0, found: [], searching: null };
  input.addEventListener("input", () => {
    m.active = 0;
    m.found = [];
    draw(m);
    search(m);
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      m.active = m.shown.length ? (m.active + (e.key === "ArrowDown" ? 1 : -1) + m.shown.length) % m.shown.length : 0;
      mark(m);
    } else if (e.key === "Enter") {
      e.preventDefault();
      run(m, m.shown[m.active]);
    }
  });
  dialog.addEventListener("cancel", (e) => {
    e.preventDefault();
    close(m);
  });
  dialog.addEventListener("click", (e) => {
    if (e.target === dialog) close(m);
  });
  document.body.append(dialog);
  dialog.showModal();
  draw(m);
  input.focus();
}

/** @param {Menu} m */
function close(m) {
  m.searching?.abort();
  m.dialog.close();
  m.dialog.remove();
  if (m.previous instanceof HTMLElement && m.previous.isConnected) m.previous.focus();
}

/**
 * @param {Menu} m
 * @param {Command | undefined} c
 */
function run(m, c) {
  if (!c) return;
  close(m);
  c.run();
}

/**
 * The results for the query: places and actions, the tasks remembered and found.
 * @param {Menu} m
 */
function draw(m) {
  const q = m.input.value.trim();
  const local = q ? rank(q, m.all, (c) => `${c.label} ${c.hint || ""}`, 12).map((r) => r.item) : m.all.slice(0, 14);
  const remembered = q ? rank(q, recentTasks(), (t) => `#${t.number} ${t.title}`, 8).map((r) => taskCommand(r.item)) : [];
  const tasks = [...remembered, ...m.found];
  // Places and actions first, unless the query looks like a task number ("#12").
  const ordered = /^#?\d+$/.test(q) ? [...tasks, ...local] : [...local, ...tasks];
  const seen = new Set();
  m.shown = ordered.filter((c) => !seen.has(c.key) && seen.add(c.key)).slice(0, 20);
  m.active = Math.min(m.active, Math.max(0, m.shown.length - 1));
  replace(m.list, m.shown.map((c, i) => h("li", {
    role: "option", id: `command-${i}`, class: "command", "aria-selected": i === m.active ? "true" : "false",
    onmousemove: () => {
      if (m.active === i) return;
      m.active = i;
      mark(m);
    },
    onclick: () => run(m, c),
  }, h("span", { class: "command-kind" }, c.kind), h("span", { class: "command-label" }, c.label), c.hint ? h("span", { class: "command-hint muted" }, c.hint) : null)));
  m.status.textContent = m.shown.length ? `${m.shown.length} results` : "Nothing matches.";
  mark(m);
}

/** @param {Menu} m the chosen result: marked, announced, in view */
function mark(m) {
  m.list.querySelectorAll("[role=option]").forEach((el, i) => el.setAttribute("aria-selected", i === m.active ? "true" : "false"));
  const el = m.list.querySelector(`#command-${m.active}`);
  if (el) {
    m.input.setAttribute("aria-activedescendant", el.id);
    el.scrollIntoView({ block: "nearest" });
  } else m.input.removeAttribute("aria-activedescendant");
}

/**
 * The server's search over every project (the previous one cancelled): `number=` for "#12",
 * else `q=` (whole words, stemmed).
 * @param {Menu} m
 */
async function search(m) {
  m.searching?.abort();
  m.found = [];
  const q = m.input.value.trim();
  if (!q) return;
  const abort = new AbortController();
  m.searching = abort;
  const number = q.match(/^#?(\d+)$/)?.[1];
  const query = number ? `number=${number}&limit=20` : `q=${encodeURIComponent(q)}&limit=10`;
  try {
    /** @type {api.Page} */
    const page = await api.get(`/tasks?${query}&sort=-updated_at`, { signal: abort.signal });
    if (abort.signal.aborted) return;
    m.found = page.items.map(taskCommand);
    draw(m);
    m.list.dataset.searched = q;
  } catch {
    // A query the search refuses (or a moment offline): the places still match.
  }
}
