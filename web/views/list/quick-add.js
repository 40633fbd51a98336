// Quick add: one line makes a task. What the line will set is highlighted in the input and shown
// as chips before Enter, with the title that is left; a click on a chip, or Backspace right after
// a highlighted part, keeps that part as words of the title (a second click reads it again).
// The grammar (quickadd.js) loads with `import()` when the line is first focused or typed in: a
// first visit shows its rows without it (the budget of docs/performance.md).

import * as api from "../../api.js";
import { h, replace, formatDue } from "../../dom.js";
import { PRIORITIES } from "../../model.js";

/** @type {Promise<typeof import("../../quickadd.js")> | null} */
let grammar = null;
const loadGrammar = () => (grammar ??= import("../../quickadd.js"));

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
  if (s.kind === "repeat") return `Repeats: ${/** @type {import("../../quickadd.js").Repeat} */ (s.value).words}`;
  if (s.kind === "time") return `At ${s.value}`;
  return `Due: ${formatDue(/** @type {string} */ (s.value))} (${s.value})`;
}

/**
 * The line on screen and what was read from it.
 * @typedef {{input: HTMLInputElement, mirror: HTMLElement, chips: HTMLElement, error: HTMLElement,
 *   kept: import("../../quickadd.js").Kept, last: string, spans: Span[]}} Line
 *   `kept`: the spans the person kept as words; `last`: the text they were read from
 */

/**
 * One line makes a task; the chips show what the line will set before Enter.
 * @param {import("../../model.js").Context} ctx
 * @param {api.Project} project
 * @param {(task: api.Task) => void} onCreated
 */
export function quickAdd(ctx, project, onCreated) {
  /** @type {Line} */
  const q = {
    input: /** @type {HTMLInputElement} */ (h("input", {
      id: "quick-add", name: "quick-add", autocomplete: "off", maxlength: 400, spellcheck: "false",
      placeholder: "Add a task: Ship it tomorrow !3 #release @me", "aria-describedby": "quick-add-help quick-add-chips",
    })),
    mirror: h("div", { class: "qa-mirror", "aria-hidden": "true" }),
    chips: h("div", { class: "chips", id: "quick-add-chips", "aria-live": "polite" }),
    error: h("p", { class: "field-error", id: "quick-add-error" }),
    kept: [], last: "", spans: [],
  };
  const { input } = q;
  input.addEventListener("focus", () => loadGrammar(), { once: true });
  input.addEventListener("input", () => draw(q));
  input.addEventListener("scroll", () => { q.mirror.scrollLeft = input.scrollLeft; });
  input.addEventListener("keydown", (e) => {
    // Backspace right after a highlighted part turns it back into words (a second one deletes).
    if (e.key !== "Backspace" || input.selectionStart !== input.selectionEnd) return;
    const s = q.spans.find((x) => !x.kept && x.end === input.selectionStart);
    if (!s) return;
    e.preventDefault();
    keep(q, s, true);
  });
  return h("form", {
    class: "quick-add",
    onsubmit: (/** @type {Event} */ e) => {
      e.preventDefault();
      submit(ctx, project, q, onCreated);
    },
  },
    h("label", { for: "quick-add", class: "sr-only" }, "New task"),
    h("span", { class: "plus", "aria-hidden": "true" }, "+"),
    h("div", { class: "qa-field" }, q.mirror, input),
    h("button", { type: "submit", class: "primary" }, "Add"),
    h("p", { id: "quick-add-help", class: "sr-only" },
      "Write !0 to !4 for priority, #label, @me to assign yourself, and today, tomorrow, a weekday (friday, or on fri), dec 24 or 2026-12-24 for the due date, at 9:00 for its time, every monday, every weekday or every month on the 1st to repeat it. Backspace right after a highlighted part, or its chip, keeps it as words of the title."),
    q.chips, q.error);
}

/**
 * Reads the line again: the highlights under it, the title that is left, a chip per span.
 * @param {Line} q
 */
async function draw(q) {
  // Once loaded, every draw waits on the same settled promise, so they run in the order typed.
  const { scanQuickAdd, shiftKept } = await loadGrammar();
  const { input } = q;
  q.kept = shiftKept(q.kept, q.last, input.value);
  q.last = input.value;
  const scanned = scanQuickAdd(input.value, new Date(), q.kept);
  q.spans = scanned.spans;
  /** @type {(string | HTMLElement)[]} */
  const parts = [];
  let at = 0;
  for (const s of q.spans) {
    parts.push(input.value.slice(at, s.start), h("mark", { class: s.kept ? "qa-kept" : `qa-mark qa-${s.kind}` }, s.text));
    at = s.end;
  }
  parts.push(input.value.slice(at));
  replace(q.mirror, parts);
  q.mirror.scrollLeft = input.scrollLeft;
  replace(q.chips,
    q.spans.some((s) => !s.kept) ? h("span", { class: "chip title-chip", id: "quick-add-title" }, "Title: ", scanned.result.title || "(none)") : null,
    q.spans.map((s) => h("button", {
      type: "button", class: `chip chip-${s.kind}${s.kept ? " kept" : ""}${s.kind === "label" && !s.kept ? " label" : ""}`,
      "aria-pressed": s.kept ? "true" : "false",
      title: s.kept ? `Keeping “${s.text}” as words; click to read it again` : `“${s.text}” leaves the title; click to keep it as words`,
      onclick: () => {
        keep(q, s, !s.kept);
        input.focus();
      },
    }, chipText(s))));
}

/**
 * Keeps a span as words of the title, or reads it again.
 * @param {Line} q
 * @param {Span} s
 * @param {boolean} on
 */
function keep(q, s, on) {
  q.kept = on ? [...q.kept, [s.start, s.end]] : q.kept.filter(([a, b]) => a !== s.start || b !== s.end);
  draw(q);
}

/**
 * Creates the task the line describes; a refusal stays under the line, with the line.
 * @param {import("../../model.js").Context} ctx
 * @param {api.Project} project
 * @param {Line} q
 * @param {(task: api.Task) => void} onCreated
 */
async function submit(ctx, project, q, onCreated) {
  const { scanQuickAdd } = await loadGrammar();
  const parsed = scanQuickAdd(q.input.value, new Date(), q.kept).result;
  if (!parsed.title) {
    q.error.textContent = "A task needs a title.";
    return;
  }
  q.error.textContent = "";
  /** @type {Record<string, any>} */
  const body = { title: parsed.title };
  if (parsed.priority !== undefined) body.priority = parsed.priority;
  if (parsed.labels.length) body.labels = parsed.labels;
  if (parsed.due_date) body.due_date = parsed.due_date;
  if (parsed.due_time) body.due_time = parsed.due_time;
  if (parsed.recurrence) body.recurrence = parsed.recurrence;
  if (parsed.assignee_me) body.assignee_id = ctx.state.user?.id;
  try {
    const task = await api.post(`/projects/${project.id}/tasks`, body).catch(async (e) => {
      // Required custom fields are asked for in a dialog (loaded only then).
      const { lacksFields, createTask } = await import("../../components/required-fields.js");
      if (!lacksFields(e)) throw e;
      return createTask(project.id, body, e);
    });
    if (!task) return;
    q.input.value = "";
    q.kept = [];
    draw(q);
    onCreated(task);
  } catch (err) {
    q.error.textContent = err instanceof Error ? err.message : String(err);
  }
}
