// The person's settings about time (API.md §19): their time zone (due times, "today", the time
// report's days and the daily reminders are taken in it), and the calendar feed — a secret URL
// for calendar programs, shown once when made, replaced by making another, ended by "Stop".

import * as api from "../../api.js";
import { h, replace, announce, confirmDialog } from "../../dom.js";

/** Every zone the browser knows (IANA names), UTC first. */
function zones() {
  /** @type {string[]} */
  let list = [];
  try {
    list = Intl.supportedValuesOf("timeZone");
  } catch {
    // An older browser: the person's own zone and UTC still work.
  }
  const mine = Intl.DateTimeFormat().resolvedOptions().timeZone;
  return ["UTC", ...new Set([mine, ...list].filter((z) => z && z !== "UTC"))];
}

/**
 * The time zone chooser: saved on change.
 * @param {import("../../model.js").Context} ctx
 */
export function zoneSection(ctx) {
  const me = /** @type {api.User & {time_zone?: string}} */ (ctx.state.user);
  const current = me.time_zone || "UTC";
  const all = zones();
  if (!all.includes(current)) all.push(current);
  const browser = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const select = /** @type {HTMLSelectElement} */ (h("select", { id: "time-zone", "aria-describedby": "time-zone-help time-zone-state" },
    all.map((z) => h("option", { value: z, selected: z === current }, z === browser ? `${z} (this device)` : z))));
  const stateLine = h("p", { class: "form-message", id: "time-zone-state", "aria-live": "polite" });
  select.addEventListener("change", async () => {
    const wanted = select.value;
    stateLine.textContent = "";
    stateLine.classList.remove("error");
    try {
      const user = await api.patch("/me", { time_zone: wanted });
      ctx.state.user = user;
      stateLine.textContent = `Saved: times are in ${user.time_zone}.`;
    } catch (e) {
      select.value = /** @type {{time_zone?: string}} */ (ctx.state.user)?.time_zone || "UTC";
      stateLine.classList.add("error");
      stateLine.textContent = `Not saved. ${e instanceof api.ApiError ? e.fieldMessage("time_zone") || e.message : String(e)}`;
    }
  });
  return h("section", { class: "card-section", "aria-labelledby": "s-time-zone" }, h("h2", { id: "s-time-zone" }, "Time zone"),
    h("div", { class: "field" }, h("label", { for: "time-zone" }, "Time zone"), select),
    h("p", { class: "hint", id: "time-zone-help" }, "Due times, “today”, the daily reminders and the Time report's days follow it."),
    stateLine);
}

/** The calendar feed: create or replace (the URL shown once, with Copy), and Stop. */
export function feedSection() {
  const box = h("div", { id: "calendar-feed" });
  const message = h("p", { class: "form-message", id: "calendar-feed-state", "aria-live": "polite" });
  /** @param {string | null} url */
  const draw = (url) => {
    replace(box,
      url ? h("div", { class: "secret-once" },
        h("label", { for: "calendar-feed-url" }, "Your feed (shown only now: copy it into your calendar program)"),
        h("div", { class: "with-glyph" },
          h("input", { id: "calendar-feed-url", readonly: true, value: url, class: "mono", onfocus: (/** @type {Event} */ e) => /** @type {HTMLInputElement} */ (e.target).select() }),
          h("button", { type: "button", id: "calendar-feed-copy", onclick: () => copy(url, message) }, "Copy"))) : null,
      h("div", { class: "actions-row" },
        h("button", { type: "button", id: "calendar-feed-create", onclick: create }, url ? "Replace with a new URL" : "Create or replace the feed URL"),
        h("button", { type: "button", class: "ghost danger", id: "calendar-feed-stop", onclick: stop }, "Stop the feed")),
      message);
  };
  const create = async () => {
    message.textContent = "";
    message.classList.remove("error");
    try {
      const { url } = await api.post("/me/calendar-feed", {});
      draw(url);
      message.textContent = "A new feed URL: any earlier one no longer works.";
    } catch (e) {
      message.classList.add("error");
      message.textContent = e instanceof Error ? e.message : String(e);
    }
  };
  const stop = async () => {
    if (!(await confirmDialog("Stop the calendar feed?", "Calendar programs using its URL will stop receiving your tasks.", "Stop the feed", true))) return;
    try {
      await api.del("/me/calendar-feed");
      draw(null);
      message.textContent = "The feed is stopped.";
    } catch (e) {
      message.classList.add("error");
      message.textContent = e instanceof Error ? e.message : String(e);
    }
  };
  draw(null);
  return h("section", { class: "card-section", "aria-labelledby": "s-calendar-feed" }, h("h2", { id: "s-calendar-feed" }, "Calendar feed"),
    h("p", { class: "muted" }, "Your tasks with a due date, in any calendar program (iCalendar). Anyone with the URL can read them: replace it if it leaks."),
    box);
}

/**
 * @param {string} text
 * @param {HTMLElement} message
 */
async function copy(text, message) {
  try {
    await navigator.clipboard.writeText(text);
    message.textContent = "Copied.";
  } catch {
    const input = /** @type {HTMLInputElement | null} */ (document.getElementById("calendar-feed-url"));
    input?.select();
    announce("Press Ctrl+C (⌘C) to copy the selected URL.", { visible: true });
  }
}
