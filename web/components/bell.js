// The notification bell of the top bar (API.md §12): the unread count, a dropdown of recent
// notifications (choosing one opens its task — or, for a webhook switched off, the project's
// settings, where its deliveries are — and marks it read), "Mark all read". The count is
// read on a modest timer and soon after a live event that may have notified this person.

import * as api from "../api.js";
import { h, replace, announce, relative } from "../dom.js";
import { everyEntry } from "../live.js";

const EVERY_MS = 30_000;

/** @type {{unread: number, more: boolean, timer: number | undefined, soon: number | undefined, navigate: (url: string) => void, me: () => api.User | null}} */
const state = { unread: 0, more: false, timer: undefined, soon: undefined, navigate: () => {}, me: () => null };

/** @type {Record<string, string>} */
const VERBS = {
  assigned: "assigned you",
  mentioned: "mentioned you on",
  commented: "commented on",
  unblocked: "cleared the last blocker of",
};

/**
 * Starts the timer and the live hook (after sign-in).
 * @param {{navigate: (url: string) => void, me: () => api.User | null}} o
 */
export function startBell(o) {
  state.navigate = o.navigate;
  state.me = o.me;
  stopBell();
  state.timer = window.setInterval(() => {
    if (document.visibilityState === "visible") refreshBell();
  }, EVERY_MS);
  everyEntry.add(onEntry);
  refreshBell();
}

export function stopBell() {
  clearInterval(state.timer);
  clearTimeout(state.soon);
  everyEntry.delete(onEntry);
  state.unread = 0;
  state.more = false;
}

/** @param {api.Entry} entry */
function onEntry(entry) {
  // Only others' changes notify; comments, assignments and new tasks are the ones that can.
  const me = state.me();
  if (!me || entry.actor?.id === me.id) return;
  const maybe = entry.kind === "comment.created" || entry.kind === "comment.updated"
    || ((entry.kind === "task.updated" || entry.kind === "task.created") && entry.changes.some((c) => c.field === "assignee_id" && c.to === me.id));
  if (!maybe) return;
  clearTimeout(state.soon);
  // The notification is written with the change; a short pause lets a slow commit land.
  state.soon = window.setTimeout(refreshBell, 300);
}

/** Reads the unread count and redraws every bell on the page. */
export async function refreshBell() {
  try {
    /** @type {api.Page} */
    const page = await api.get("/me/notifications?unread=true&limit=100");
    state.unread = page.items.length;
    state.more = page.next_cursor !== null;
  } catch {
    return;
  }
  for (const el of document.querySelectorAll(".bell")) drawBell(/** @type {HTMLElement} */ (el));
}

/** @param {HTMLElement} wrap */
function drawBell(wrap) {
  const button = /** @type {HTMLButtonElement} */ (wrap.querySelector(".bell-button"));
  const badge = /** @type {HTMLElement} */ (wrap.querySelector(".bell-count"));
  const n = state.unread;
  const text = n ? `${n}${state.more ? "+" : ""}` : "";
  badge.textContent = text;
  badge.hidden = !n;
  button.setAttribute("aria-label", n ? `Notifications, ${text} unread` : "Notifications, none unread");
  wrap.dataset.unread = String(n);
}

/** @typedef {{button: HTMLButtonElement, dropdown: HTMLElement, close: (focus: boolean) => void}} Bell */

/** The bell for a top bar. */
export function bell() {
  const id = "notifications-panel";
  const button = /** @type {HTMLButtonElement} */ (h("button", {
    type: "button", class: "ghost bell-button", id: "bell", "aria-expanded": "false", "aria-controls": id, title: "Notifications",
  }, h("span", { class: "bell-icon", "aria-hidden": "true" }), h("span", { class: "bell-count", "aria-hidden": "true", hidden: true })));
  const dropdown = h("div", { class: "bell-panel", id, hidden: true, role: "region", "aria-labelledby": "notifications-heading" });
  const wrap = h("div", { class: "bell" }, button, dropdown);
  drawBell(wrap);

  const close = (/** @type {boolean} */ focus) => {
    dropdown.hidden = true;
    button.setAttribute("aria-expanded", "false");
    document.removeEventListener("click", outside, true);
    if (focus) button.focus();
  };
  const outside = (/** @type {Event} */ e) => {
    if (!wrap.contains(/** @type {Node} */ (e.target))) close(false);
  };
  /** @type {Bell} */
  const b = { button, dropdown, close };
  const open = async () => {
    dropdown.hidden = false;
    button.setAttribute("aria-expanded", "true");
    document.addEventListener("click", outside, true);
    replace(dropdown, h("h2", { id: "notifications-heading" }, "Notifications"), h("p", { class: "muted small" }, "Loading…"));
    try {
      /** @type {api.Page} */
      const page = await api.get("/me/notifications?limit=20");
      drawList(b, /** @type {api.Notification[]} */ (page.items));
    } catch (e) {
      replace(dropdown, h("h2", { id: "notifications-heading" }, "Notifications"), h("p", { class: "error-text" }, e instanceof Error ? e.message : String(e)));
    }
  };
  button.addEventListener("click", () => (dropdown.hidden ? open() : close(false)));
  wrap.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !dropdown.hidden) {
      e.preventDefault();
      e.stopPropagation();
      close(true);
    }
  });
  return wrap;
}

/**
 * The dropdown's list: the newest notifications, unread ones marked, and "Mark all read".
 * @param {Bell} b
 * @param {api.Notification[]} items
 */
function drawList(b, items) {
  replace(b.dropdown,
    h("div", { class: "bell-head" },
      h("h2", { id: "notifications-heading" }, "Notifications"),
      state.unread ? h("button", { type: "button", class: "ghost small", id: "mark-all-read", onclick: () => markAll(b) }, "Mark all read") : null),
    items.length
      ? h("ul", { class: "bell-list", id: "notifications" }, items.map((n) => h("li", { class: n.read_at ? "note" : "note unread", dataset: { id: n.id } },
        h("a", { href: target(n), class: "note-link", onclick: (/** @type {Event} */ e) => choose(b, e, n) },
          n.read_at ? null : h("span", { class: "sr-only" }, "Unread: "),
          sentence(n),
          h("time", { class: "muted small", datetime: n.created_at }, relative(new Date(n.created_at)))))))
      : h("p", { class: "muted", id: "no-notifications" }, "Nothing new. You are notified when someone assigns you a task, mentions you, or comments on your tasks."));
  /** @type {HTMLElement | null} */ (b.dropdown.querySelector("a, button"))?.focus();
}

/**
 * Opens a notification's task and marks it read.
 * @param {Bell} b
 * @param {Event} e
 * @param {api.Notification} n
 */
async function choose(b, e, n) {
  e.preventDefault();
  b.close(false);
  if (!n.read_at) {
    try {
      await api.post("/me/notifications/read", { ids: [n.id] });
    } catch {
      // Opening the task matters more; the next refresh shows it still unread.
    }
  }
  state.navigate(target(n));
  refreshBell();
}

/** @param {Bell} b */
async function markAll(b) {
  try {
    await api.post("/me/notifications/read", { all: true });
    announce("All notifications marked read.");
  } catch (e) {
    announce(e instanceof Error ? e.message : String(e), { error: true });
  }
  await refreshBell();
  b.close(true);
}

/**
 * Where a notification leads: its task, or the project's settings for a webhook.
 * @param {api.Notification} n
 */
function target(n) {
  if (n.task) return `/p/${n.task.project_id}?task=${n.task.id}`;
  return n.webhook ? `/p/${n.webhook.project_id}/settings` : "/";
}

/** @param {api.Notification} n */
function sentence(n) {
  if (n.kind === "webhook_disabled" && n.webhook) {
    const why = n.webhook.disabled_reason;
    return h("span", { class: "note-text" }, h("strong", null, "Docket"), " switched off the webhook to ", n.webhook.url,
      why ? `: ${why}` : " (it is on again)");
  }
  if (!n.task) return h("span", { class: "note-text" }, n.kind.replaceAll("_", " "));
  const who = n.actor ? n.actor.name : "Docket";
  const task = `#${n.task.number} ${n.task.title}`;
  if (n.kind === "due_soon" || n.kind === "overdue") return h("span", { class: "note-text" }, `${task} ${n.kind === "due_soon" ? "is due tomorrow" : "is overdue"}`);
  if (n.kind === "reminder") return h("span", { class: "note-text" }, `Reminder: ${task}${n.late ? " (sent late: Docket was down at its time)" : ""}`);
  return h("span", { class: "note-text" }, h("strong", null, who), ` ${VERBS[n.kind] || n.kind} `, task);
}
