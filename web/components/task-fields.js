// The task panel's custom fields (API.md §18): one control per field, by kind — a text or link
// box, a number, a date, a select with the option's colour, a multi-select as boxes, a member,
// a checkbox — each saved on its own as it changes (`{"fields": {id: value}}` with If-Match), a
// required field marked, and the server's refusal said under its field (`fields.<id>`). A task
// someone else saved meanwhile is read again: when they did not touch this field the change is
// sent again on their version, otherwise the person chooses.

import * as api from "../api.js";
import { h, replace, announce, confirmDialog } from "../dom.js";
import { fieldsOf, showValue } from "../fields.js";

/**
 * @typedef {import("../fields.js").Field} Field
 * @typedef {{task: api.Task & {fields?: Record<string, any>}, canEdit: boolean, members: api.Member[],
 *   base: () => api.Task & {fields?: Record<string, any>}, saved: (t: api.Task) => void,
 *   idle: () => Promise<void>, signal: AbortSignal}} Options
 *   `base`: the task as last saved (the panel's); `saved`: a save of this section came back;
 *   `idle`: resolves when the panel's own save in flight is done (the two never race)
 * @typedef {{field: Field, el: HTMLElement, read: () => any, write: (v: any) => void, error: HTMLElement}} Control
 */

/**
 * @param {any} a
 * @param {any} b
 */
const same = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/**
 * The section; it fills in when the project's fields arrive (hidden when there are none).
 * `show` puts a task's values into the controls not being edited (a live change), leaving alone
 * one that shows a refused value.
 * @param {Options} o
 * @returns {{section: HTMLElement, show: (t: api.Task & {fields?: Record<string, any>}) => void}}
 */
export function fieldSection(o) {
  const section = h("section", { class: "custom-fields", id: "task-fields", "aria-label": "Fields", hidden: true });
  /** @type {Control[]} */
  let controls = [];
  /** @type {Promise<void>} one save after the other */
  let queue = Promise.resolve();
  const show = (/** @type {api.Task & {fields?: Record<string, any>}} */ t) => {
    // Neither the control being edited nor one showing a refused value (what was typed stays
    // beside its error until the person changes it) is overwritten.
    for (const c of controls) if (!c.el.contains(document.activeElement) && !c.error.textContent) c.write(t.fields?.[c.field.id]);
  };
  fieldsOf(o.task.project_id).then((fields) => {
    if (o.signal.aborted || !fields.length) return;
    controls = fields.map((f) => control(f, o, (c) => (queue = queue.then(() => save(o, c)))));
    show(o.base());
    replace(section, controls.map((c) => c.el));
    section.hidden = false;
  }).catch((e) => announce(e instanceof Error ? e.message : String(e), { error: true }));
  return { section, show };
}

/**
 * One field's row: its label (marked when required), the control of its kind, its error.
 * @param {Field} f
 * @param {{canEdit: boolean, members: api.Member[]}} o
 * @param {(c: Control) => void} changed
 * @returns {Control}
 */
export function control(f, o, changed) {
  const id = `task-field-${f.id}`;
  const error = h("p", { class: "field-error", id: `${id}-error` });
  const disabled = !o.canEdit;
  const attrs = { id, disabled, "aria-describedby": error.id, "aria-required": f.required ? "true" : undefined };
  /** @type {Control} */
  const c = { field: f, el: h("div"), error, read: () => null, write: () => {} };
  /** @type {HTMLElement} */
  let input;
  if (f.kind === "multi_select") {
    const boxes = (f.options || []).map((opt) => /** @type {HTMLInputElement} */ (h("input", { type: "checkbox", value: opt.id, disabled, onchange: () => changed(c) })));
    input = h("fieldset", { class: "multi-options", id, "aria-describedby": error.id },
      h("legend", { class: "sr-only" }, f.name),
      boxes.map((box, i) => h("label", null, box, showValue(f, [(f.options || [])[i].id], new Map()))));
    c.read = () => {
      const ids = boxes.filter((b) => b.checked).map((b) => b.value);
      return ids.length ? ids : null;
    };
    c.write = (v) => { for (const b of boxes) b.checked = Array.isArray(v) && v.includes(b.value); };
  } else if (f.kind === "select" || f.kind === "user") {
    const choices = f.kind === "select"
      ? (f.options || []).map((opt) => [opt.id, opt.name])
      : o.members.map((m) => [m.user.id, m.user.name]);
    const select = /** @type {HTMLSelectElement} */ (h("select", { ...attrs, onchange: () => changed(c) },
      h("option", { value: "" }, "—"), choices.map(([v, t]) => h("option", { value: v }, t))));
    const swatch = h("span", { class: "option-dot", "aria-hidden": "true" });
    const paint = () => {
      const opt = f.options?.find((x) => x.id === select.value);
      swatch.hidden = !opt;
      if (opt) swatch.style.background = opt.color;
    };
    select.addEventListener("change", paint);
    input = f.kind === "select" ? h("div", { class: "with-glyph" }, swatch, select) : select;
    c.read = () => select.value || null;
    c.write = (v) => {
      if (v && ![...select.options].some((x) => x.value === v)) select.append(h("option", { value: v }, "Someone else"));
      select.value = v || "";
      paint();
    };
  } else if (f.kind === "checkbox") {
    const box = /** @type {HTMLInputElement} */ (h("input", { ...attrs, type: "checkbox", onchange: () => changed(c) }));
    input = box;
    c.read = () => box.checked;
    c.write = (v) => { box.checked = v === true; };
  } else {
    const type = { number: "number", date: "date", url: "url", text: "text" }[f.kind];
    const box = /** @type {HTMLInputElement} */ (h("input", { ...attrs, type, autocomplete: "off", maxlength: f.kind === "text" ? 2000 : undefined, step: f.kind === "number" ? "any" : undefined, onchange: () => changed(c) }));
    box.addEventListener("keydown", (e) => { if (e.key === "Enter") box.blur(); });
    input = box;
    c.read = () => {
      const raw = box.value.trim();
      if (!raw) return null;
      return f.kind === "number" ? Number(raw) : raw;
    };
    c.write = (v) => { box.value = v === null || v === undefined ? "" : String(v); };
  }
  const label = f.kind === "multi_select"
    ? h("span", { class: "prop-label", id: `${id}-label` }, f.name, f.required ? h("span", { class: "required-mark", title: "Required" }, "*") : null)
    : h("label", { for: id }, f.name, f.required ? h("span", { class: "required-mark", title: "Required" }, "*") : null);
  if (f.kind === "multi_select") input.setAttribute("aria-labelledby", `${id}-label`);
  c.el = h("div", { class: "prop", dataset: { field: f.id } }, label, input, error);
  return c;
}

/**
 * Sends one field's value; a 412 reads the task again (see the top of the file), a 422 says why
 * under the field and keeps what was typed.
 * @param {Options} o
 * @param {Control} c
 * @param {boolean} [again] this is the send after a 412
 */
async function save(o, c, again = false) {
  const value = c.read();
  const f = c.field;
  c.error.textContent = "";
  if (typeof value === "number" && !Number.isFinite(value)) {
    c.error.textContent = "must be a number";
    return;
  }
  await o.idle();
  const base = o.base();
  if (same(base.fields?.[f.id], value)) return;
  try {
    const updated = await api.patch(`/tasks/${base.id}`, { fields: { [f.id]: value } }, { ifMatch: base.version });
    o.saved(updated);
    c.el.querySelector("[aria-invalid]")?.removeAttribute("aria-invalid");
    announce(`Saved ${f.name}.`);
  } catch (e) {
    if (e instanceof api.ApiError && e.status === 412 && !again) return conflict(o, c, base);
    const why = e instanceof api.ApiError ? e.fieldMessage(`fields.${f.id}`) || e.message : String(e);
    c.error.textContent = why;
    c.el.querySelector("input, select")?.setAttribute("aria-invalid", "true");
  }
}

/**
 * Someone saved the task after this person's view of it.
 * @param {Options} o
 * @param {Control} c
 * @param {api.Task & {fields?: Record<string, any>}} base what this person's change was made on
 */
async function conflict(o, c, base) {
  /** @type {api.Task & {fields?: Record<string, any>}} */
  const theirs = await api.get(`/tasks/${base.id}`);
  const f = c.field;
  const mine = c.read();
  o.saved(theirs);
  if (!same(theirs.fields?.[f.id], base.fields?.[f.id])) {
    const said = (/** @type {any} */ v) => {
      const shown = showValue(f, v, new Map(o.members.map((m) => [m.user.id, { name: m.user.name }])));
      return shown === null ? "(empty)" : typeof shown === "string" ? shown : shown.textContent || "";
    };
    const keep = await confirmDialog("This task changed while you were editing",
      `Someone else set “${f.name}” to ${said(theirs.fields?.[f.id])} meanwhile. Keep yours (${said(mine)})?`, "Keep mine");
    if (!keep) return c.write(theirs.fields?.[f.id]);
  }
  await save(o, c, true);
}
