// Quick add: one line makes a task. What the line will set is highlighted in the input and shown
// as chips before Enter, with the title that is left; a click on a chip, or Backspace right after
// a highlighted part, keeps that part as words of the title (a second click reads it again).

import * as api from "../../api.js";
import { h, replace, formatDue } from "../../dom.js";
import { scanQuickAdd, shiftKept } from "../../quickadd.js";
import { PRIORITIES } from "../../model.js";

/** @typedef {import("../../quickadd.js").Span} Span */

/**
 * What a span's chip says.
 * @param {Span} s
 */
function chipText(s) {
  if (s.kept) return `“${s.text}” as words`;
  if (s.kind === "priority") return `Priority: ${PRIORITIES[/** @type {number} */ (s.value)]}`;
  if (s.kind === "label") return `#${s.value}`;
  if (s.kind === "assignee") return "Assignee: me";
  return `Due: ${formatDue(/** @type {string} */ (s.value))} (${s.value})`;
}

/**
 * One line makes a task; the chips show what the line will set before Enter.
 * @param {import("../../model.js").Context} ctx
 * @param {api.Project} project
 * @param {(task: api.Task) => void} onCreated
 */
export function quickAdd(ctx, project, onCreated) {
  const input = /** @type {HTMLInputElement} */ (h("input", {
    id: "quick-add", name: "quick-add", autocomplete: "off", maxlength: 400, spellcheck: "false",
    placeholder: "Add a task: Ship it tomorrow !3 #release @me", "aria-describedby": "quick-add-help quick-add-chips",
  }));
  const mirror = h("div", { class: "qa-mirror", "aria-hidden": "true" });
  const chips = h("div", { class: "chips", id: "quick-add-chips", "aria-live": "polite" });
  const error = h("p", { class: "field-error", id: "quick-add-error" });
  /** @type {import("../../quickadd.js").Kept} */
  let kept = [];
  let last = "";
  /** @type {Span[]} */
  let spans = [];

  const draw = () => {
    kept = shiftKept(kept, last, input.value);
    last = input.value;
    const scanned = scanQuickAdd(input.value, new Date(), kept);
    spans = scanned.spans;
    /** @type {(string | HTMLElement)[]} */
    const parts = [];
    let at = 0;
    for (const s of spans) {
      parts.push(input.value.slice(at, s.start), h("mark", { class: s.kept ? "qa-kept" : `qa-mark qa-${s.kind}` }, s.text));
      at = s.end;
    }
    parts.push(input.value.slice(at));
    replace(mirror, parts);
    mirror.scrollLeft = input.scrollLeft;
    replace(chips,
      spans.some((s) => !s.kept) ? h("span", { class: "chip title-chip", id: "quick-add-title" }, "Title: ", scanned.result.title || "(none)") : null,
      spans.map((s) => h("button", {
        type: "button", class: `chip chip-${s.kind}${s.kept ? " kept" : ""}${s.kind === "label" && !s.kept ? " label" : ""}`,
        "aria-pressed": s.kept ? "true" : "false",
        title: s.kept ? `Keeping “${s.text}” as words; click to read it again` : `“${s.text}” leaves the title; click to keep it as words`,
        onclick: () => {
          keep(s, !s.kept);
          input.focus();
        },
      }, chipText(s))));
  };
  /**
   * @param {Span} s
   * @param {boolean} on
   */
  const keep = (s, on) => {
    kept = on ? [...kept, [s.start, s.end]] : kept.filter(([a, b]) => a !== s.start || b !== s.end);
    draw();
  };
  input.addEventListener("input", draw);
  input.addEventListener("scroll", () => { mirror.scrollLeft = input.scrollLeft; });
  input.addEventListener("keydown", (e) => {
    // Backspace right after a highlighted part turns it back into words (a second one deletes).
    if (e.key !== "Backspace" || input.selectionStart !== input.selectionEnd) return;
    const s = spans.find((x) => !x.kept && x.end === input.selectionStart);
    if (!s) return;
    e.preventDefault();
    keep(s, true);
  });
  const form = h("form", {
    class: "quick-add",
    onsubmit: async (/** @type {Event} */ e) => {
      e.preventDefault();
      const parsed = scanQuickAdd(input.value, new Date(), kept).result;
      if (!parsed.title) {
        error.textContent = "A task needs a title.";
        return;
      }
      error.textContent = "";
      /** @type {Record<string, any>} */
      const body = { title: parsed.title };
      if (parsed.priority !== undefined) body.priority = parsed.priority;
      if (parsed.labels.length) body.labels = parsed.labels;
      if (parsed.due_date) body.due_date = parsed.due_date;
      if (parsed.assignee_me) body.assignee_id = ctx.state.user?.id;
      try {
        const task = await api.post(`/projects/${project.id}/tasks`, body);
        input.value = "";
        kept = [];
        draw();
        onCreated(task);
      } catch (err) {
        error.textContent = err instanceof Error ? err.message : String(err);
      }
    },
  },
    h("label", { for: "quick-add", class: "sr-only" }, "New task"),
    h("span", { class: "plus", "aria-hidden": "true" }, "+"),
    h("div", { class: "qa-field" }, mirror, input),
    h("button", { type: "submit", class: "primary" }, "Add"),
    h("p", { id: "quick-add-help", class: "sr-only" },
      "Write !0 to !4 for priority, #label, @me to assign yourself, and today, tomorrow, a weekday (friday, or on fri), dec 24 or 2026-12-24 for the due date. Backspace right after a highlighted part, or its chip, keeps it as words of the title."),
    chips, error);
  return form;
}
