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
 * Opens the menu (one at a time).
 * @param {MenuHooks} hooks
 */
export function openCommandMenu(hooks) {
  if (document.getElementById("command-menu")) return;
  const previous = document.activeElement;
  const all = commands(hooks);
  const input = /** @type {HTMLInputElement} */ (h("input", {
    id: "command-input", type: "text", role: "combobox", autocomplete: "off", spellcheck: "false",
    "aria-expanded": "true", "aria-controls": "command-results", "aria-autocomplete": "list", "aria-label": "Go to or do",
    placeholder: "Go to a project, view or task (#12), or do something…",
  }));
  const list = h("ul", { id: "command-results", role: "listbox", "aria-label": "Results" });
  const status = h("p", { class: "sr-only", id: "command-status", "aria-live": "polite" });
  const dialog = /** @type {HTMLDialogElement} */ (h("dialog", { class: "dialog command-menu", id: "command-menu", "aria-label": "Command menu" },
    input, list, status, h("p", { class: "command-foot muted small" }, h("kbd", null, "↑"), " ", h("kbd", null, "↓"), " to choose, ", h("kbd", null, "Enter"), " to go, ", h("kbd", null, "Esc"), " to close")));
  /** @type {Command[]} */
  let shown = [];
  let active = 0;
  /** @type {Command[]} */
  let found = [];
  /** @type {AbortController | null} */
  let searching = null;

  const close = () => {
    searching?.abort();
    dialog.close();
    dialog.remove();
    if (previous instanceof HTMLElement && previous.isConnected) previous.focus();
  };
  const run = (/** @type {Command | undefined} */ c) => {
    if (!c) return;
    close();
    c.run();
  };
  const draw = () => {
    const q = input.value.trim();
    const local = q ? rank(q, all, (c) => `${c.label} ${c.hint || ""}`, 12).map((r) => r.item) : all.slice(0, 14);
    const remembered = q ? rank(q, recentTasks(), (t) => `#${t.number} ${t.title}`, 8).map((r) => taskCommand(r.item)) : [];
    const tasks = [...remembered, ...found];
    // Places and actions first, unless the query looks like a task number ("#12").
    const ordered = /^#?\d+$/.test(q) ? [...tasks, ...local] : [...local, ...tasks];
    const seen = new Set();
    shown = ordered.filter((c) => !seen.has(c.key) && seen.add(c.key)).slice(0, 20);
    active = Math.min(active, Math.max(0, shown.length - 1));
    replace(list, shown.map((c, i) => h("li", {
      role: "option", id: `command-${i}`, class: "command", "aria-selected": i === active ? "true" : "false",
      onmousemove: () => { if (active !== i) { active = i; mark(); } },
      onclick: () => run(c),
    }, h("span", { class: "command-kind" }, c.kind), h("span", { class: "command-label" }, c.label), c.hint ? h("span", { class: "command-hint muted" }, c.hint) : null)));
    status.textContent = shown.length ? `${shown.length} results` : "Nothing matches.";
    mark();
  };
  const mark = () => {
    list.querySelectorAll("[role=option]").forEach((el, i) => el.setAttribute("aria-selected", i === active ? "true" : "false"));
    const el = list.querySelector(`#command-${active}`);
    if (el) {
      input.setAttribute("aria-activedescendant", el.id);
      el.scrollIntoView({ block: "nearest" });
    } else input.removeAttribute("aria-activedescendant");
  };
  const search = async () => {
    searching?.abort();
    found = [];
    const q = input.value.trim();
    if (!q) return;
    const abort = new AbortController();
    searching = abort;
    const number = q.match(/^#?(\d+)$/)?.[1];
    const query = number ? `number=${number}&limit=20` : `q=${encodeURIComponent(q)}&limit=10`;
    try {
      /** @type {api.Page} */
      const page = await api.get(`/tasks?${query}&sort=-updated_at`, { signal: abort.signal });
      if (abort.signal.aborted) return;
      found = page.items.map(taskCommand);
      draw();
      list.dataset.searched = q;
    } catch {
      // A query the search refuses (or a moment offline): the places still match.
    }
  };
  input.addEventListener("input", () => {
    active = 0;
    found = [];
    draw();
    search();
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      active = shown.length ? (active + (e.key === "ArrowDown" ? 1 : -1) + shown.length) % shown.length : 0;
      mark();
    } else if (e.key === "Enter") {
      e.preventDefault();
      run(shown[active]);
    }
  });
  dialog.addEventListener("cancel", (e) => {
    e.preventDefault();
    close();
  });
  dialog.addEventListener("click", (e) => {
    if (e.target === dialog) close();
  });
  document.body.append(dialog);
  dialog.showModal();
  draw();
  input.focus();
}
