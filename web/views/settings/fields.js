// Project settings → Fields (API.md §18), for the project's admins and owner: the fields in
// order, each renamed in place, made required or not, moved by dragging its grip (or with the
// arrow keys on it), its options edited with their colours (a select or multi-select), and
// deleted; a new field of any of the eight kinds. Each change is one request, then the list is
// drawn again from the server's fields; a refusal says why in words. Removing options that tasks
// hold asks first (the server's 409) and then sends `force=true`, which clears those values.

import * as api from "../../api.js";
import { h, replace, announce, confirmDialog } from "../../dom.js";
import { KINDS, kindLabel, hasOptions, forgetFields } from "../../fields.js";

/**
 * @typedef {import("../../fields.js").Field} Field
 * @typedef {import("../../fields.js").FieldOption} FieldOption
 * @typedef {{box: HTMLElement, project: api.Project, fields: Field[], redraw: (focus?: string) => Promise<void>}} Page
 */

/** @param {unknown} e */
const message = (e) => (e instanceof Error ? e.message : String(e));

/**
 * Draws the fields of `project` into `box`.
 * @param {HTMLElement} box
 * @param {api.Project} project
 */
export async function renderFields(box, project) {
  forgetFields(project.id);
  /** @type {Field[]} */
  const fields = (await api.get(`/projects/${project.id}/fields`)).items;
  /** @type {Page} */
  const pg = {
    box, project, fields,
    redraw: async (focus) => {
      await renderFields(box, project);
      if (focus) /** @type {HTMLElement | null} */ (box.querySelector(focus))?.focus();
    },
  };
  replace(box,
    h("p", { class: "muted" }, "Fields every task of this project can carry: shown in the task panel, as list columns, and in the filters."),
    fields.length
      ? h("ul", { class: "field-list", id: "fields", "aria-label": "Fields" }, fields.map((f) => fieldItem(pg, f)))
      : h("p", { class: "muted", id: "no-fields" }, "No fields yet."),
    h("h3", null, "New field"),
    createForm(pg));
}

/**
 * Sends one change; on success the list is drawn again (focus on `focus`), on refusal the reason
 * goes under the field (or in a toast).
 * @param {Page} pg
 * @param {() => Promise<any>} send
 * @param {string} done announced when it worked
 * @param {HTMLElement | null} error where a refusal is said
 * @param {string} [focus] a selector to focus after the redraw
 */
async function change(pg, send, done, error, focus) {
  if (error) error.textContent = "";
  try {
    await send();
    forgetFields(pg.project.id);
    announce(done);
    await pg.redraw(focus);
    return true;
  } catch (e) {
    if (error) error.textContent = message(e);
    else announce(message(e), { error: true });
    return false;
  }
}

/**
 * One field: grip, name (renamed on change), kind, required, options, delete.
 * @param {Page} pg
 * @param {Field} f
 */
function fieldItem(pg, f) {
  const error = h("p", { class: "field-error", id: `field-${f.id}-error`, role: "alert" });
  const name = /** @type {HTMLInputElement} */ (h("input", {
    class: "field-name", value: f.name, maxlength: 50, required: true, autocomplete: "off",
    "aria-label": `Name of the field ${f.name}`, "aria-describedby": error.id,
  }));
  name.addEventListener("change", () => {
    const next = name.value.trim();
    if (!next || next === f.name) return void (name.value = f.name);
    change(pg, () => api.patch(`/fields/${f.id}`, { name: next }), `Renamed to ${next}.`, error).then((ok) => {
      if (!ok) name.setAttribute("aria-invalid", "true");
    });
  });
  const required = /** @type {HTMLInputElement} */ (h("input", { type: "checkbox", id: `field-${f.id}-required`, checked: f.required }));
  required.addEventListener("change", () => {
    change(pg, () => api.patch(`/fields/${f.id}`, { required: required.checked }),
      required.checked ? `${f.name} is required on new tasks.` : `${f.name} is optional.`, error, `#field-${f.id}-required`);
  });
  const grip = h("button", {
    type: "button", class: "icon field-grip", id: `field-${f.id}-grip`,
    "aria-label": `Move the field ${f.name} (arrow keys)`, title: "Drag, or use the arrow keys, to move the field",
  }, "⠿");
  grip.addEventListener("keydown", (e) => {
    if (e.key !== "ArrowUp" && e.key !== "ArrowDown") return;
    e.preventDefault();
    const order = shownOrder(pg);
    const to = order.indexOf(f.id) + (e.key === "ArrowUp" ? -1 : 1);
    if (to >= 0 && to < order.length) move(pg, f, to);
  });
  grip.addEventListener("pointerdown", (e) => drag(pg, f, e));
  const remove = h("button", { type: "button", class: "danger ghost", "aria-label": `Delete ${f.name}`, onclick: () => deleteField(pg, f, error) }, "Delete");
  return h("li", { class: "field-item", dataset: { id: f.id } },
    h("div", { class: "field-row" },
      grip,
      name,
      h("span", { class: "chip kind-chip" }, kindLabel(f.kind)),
      h("span", { class: "field checkbox" }, required, h("label", { for: `field-${f.id}-required` }, "Required")),
      remove),
    error,
    hasOptions(f.kind) ? optionsEditor(pg, f) : null);
}

/**
 * The field ids in the order on screen (a drag has moved them already; a key pressed while the
 * list is being drawn again acts on what the person sees).
 * @param {Page} pg
 */
const shownOrder = (pg) => /** @type {HTMLElement[]} */ ([...pg.box.querySelectorAll("#fields .field-item")]).map((x) => /** @type {string} */ (x.dataset.id));

/**
 * Moves a field to position `to` (0-based) of the order on screen: after the field before that
 * place, or first.
 * @param {Page} pg
 * @param {Field} f
 * @param {number} to
 */
function move(pg, f, to) {
  const others = shownOrder(pg).filter((id) => id !== f.id);
  const after = to === 0 ? null : others[to - 1];
  return change(pg, () => api.patch(`/fields/${f.id}`, { after_id: after }), `Moved ${f.name} to position ${to + 1} of ${pg.fields.length}.`, null, `#field-${f.id}-grip`);
}

/**
 * Drags a field by its grip: it follows the pointer among the others, and letting go puts it
 * there (one request).
 * @param {Page} pg
 * @param {Field} f
 * @param {PointerEvent} e
 */
function drag(pg, f, e) {
  if (e.button !== 0) return;
  e.preventDefault();
  const list = /** @type {HTMLElement} */ (pg.box.querySelector("#fields"));
  const item = /** @type {HTMLElement} */ (list.querySelector(`.field-item[data-id="${f.id}"]`));
  const from = pg.fields.indexOf(f);
  item.classList.add("field-dragging");
  document.body.classList.add("is-dragging");
  /** @param {PointerEvent} m */
  const follow = (m) => {
    const items = /** @type {HTMLElement[]} */ ([...list.querySelectorAll(".field-item")]).filter((x) => x !== item);
    const before = items.find((x) => {
      const r = x.getBoundingClientRect();
      return m.clientY < r.top + r.height / 2;
    });
    if (before) list.insertBefore(item, before);
    else list.append(item);
  };
  // The document listens, not the grip: moving the item in the page would release a capture.
  const up = () => {
    document.removeEventListener("pointermove", follow);
    document.removeEventListener("pointerup", up);
    document.removeEventListener("pointercancel", up);
    item.classList.remove("field-dragging");
    document.body.classList.remove("is-dragging");
    const to = [...list.querySelectorAll(".field-item")].indexOf(item);
    if (to !== from) move(pg, f, to);
  };
  document.addEventListener("pointermove", follow);
  document.addEventListener("pointerup", up);
  document.addEventListener("pointercancel", up);
}

/**
 * Deletes a field after asking (its values on every task go with it).
 * @param {Page} pg
 * @param {Field} f
 * @param {HTMLElement} error
 */
async function deleteField(pg, f, error) {
  const ok = await confirmDialog("Delete field", `Delete “${f.name}”? Its values on every task are deleted too.`, "Delete field", true);
  if (ok) await change(pg, () => api.del(`/fields/${f.id}`), `Deleted the field ${f.name}.`, error);
}

/**
 * The options of a select or multi-select: each a colour and a name, removable; "Add option";
 * "Save options" sends the whole list (kept options with their ids).
 * @param {Page} pg
 * @param {Field} f
 */
function optionsEditor(pg, f) {
  const list = h("ul", { class: "option-list", "aria-label": `Options of ${f.name}` });
  const error = h("p", { class: "field-error", role: "alert" });
  /** @param {Partial<FieldOption>} o */
  const row = (o) => {
    const n = list.children.length + 1;
    const color = /** @type {HTMLInputElement} */ (h("input", { type: "color", class: "option-color", value: o.color || "#6b7280", "aria-label": `Colour of option ${n}` }));
    const name = /** @type {HTMLInputElement} */ (h("input", { class: "option-name", value: o.name || "", maxlength: 50, autocomplete: "off", "aria-label": `Name of option ${n}` }));
    const li = h("li", { class: "option-row", dataset: o.id ? { id: o.id } : {} }, color, name,
      h("button", { type: "button", class: "icon", "aria-label": `Remove option ${n}`, title: "Remove", onclick: () => li.remove() }, "×"));
    list.append(li);
    return name;
  };
  for (const o of f.options || []) row(o);
  const save = async () => {
    const options = /** @type {HTMLElement[]} */ ([...list.children]).map((li) => {
      /** @type {Record<string, string>} */
      const o = {
        name: /** @type {HTMLInputElement} */ (li.querySelector(".option-name")).value.trim(),
        color: /** @type {HTMLInputElement} */ (li.querySelector(".option-color")).value,
      };
      if (li.dataset.id) o.id = li.dataset.id;
      return o;
    });
    const send = (/** @type {boolean} */ force) => api.patch(`/fields/${f.id}${force ? "?force=true" : ""}`, { options });
    error.textContent = "";
    try {
      await send(false);
    } catch (e) {
      if (!(e instanceof api.ApiError && e.status === 409)) {
        error.textContent = e instanceof api.ApiError && e.errors.length ? e.errors.map((x) => optionError(x)).join("; ") : message(e);
        return;
      }
      const ok = await confirmDialog("Remove options in use?",
        `Some tasks have an option you removed from “${f.name}”. Removing it clears that value on those tasks.`, "Remove and clear values", true);
      if (!ok) return;
      if (!(await change(pg, () => send(true), `Saved the options of ${f.name}.`, error))) return;
      return;
    }
    forgetFields(pg.project.id);
    announce(`Saved the options of ${f.name}.`);
    await pg.redraw();
  };
  return h("details", { class: "field-options", open: (f.options || []).length === 0 ? true : undefined },
    h("summary", null, `Options (${(f.options || []).length})`),
    list,
    h("div", { class: "form-actions" },
      h("button", { type: "button", onclick: () => row({}).focus() }, "Add option"),
      h("button", { type: "button", class: "primary", onclick: save }, "Save options")),
    error);
}

/**
 * "options.2.name must …" as "Option 3: must …".
 * @param {api.FieldError} e
 */
function optionError(e) {
  const m = e.field.match(/^options\.(\d+)\.(name|color)$/);
  return m ? `Option ${Number(m[1]) + 1} ${m[2] === "color" ? "colour" : "name"}: ${e.message}` : `${e.field} ${e.message}`;
}

/**
 * A new field: name, kind, required.
 * @param {Page} pg
 */
function createForm(pg) {
  const name = /** @type {HTMLInputElement} */ (h("input", { id: "field-new-name", required: true, maxlength: 50, autocomplete: "off", "aria-describedby": "field-new-error" }));
  const kind = /** @type {HTMLSelectElement} */ (h("select", { id: "field-new-kind" }, KINDS.map(([k, label]) => h("option", { value: k }, label))));
  const required = /** @type {HTMLInputElement} */ (h("input", { type: "checkbox", id: "field-new-required" }));
  const error = h("p", { class: "field-error", id: "field-new-error", role: "alert" });
  return h("form", {
    class: "inline-form", id: "create-field",
    onsubmit: async (/** @type {Event} */ e) => {
      e.preventDefault();
      const body = { name: name.value.trim(), kind: kind.value, required: required.checked };
      const ok = await change(pg, () => api.post(`/projects/${pg.project.id}/fields`, body), `Added the field ${body.name}.`, error, "#field-new-name");
      if (!ok) name.setAttribute("aria-invalid", "true");
    },
  },
    h("div", { class: "field" }, h("label", { for: "field-new-name" }, "Name"), name),
    h("div", { class: "field" }, h("label", { for: "field-new-kind" }, "Kind"), kind),
    h("div", { class: "field checkbox" }, required, h("label", { for: "field-new-required" }, "Required")),
    h("button", { type: "submit", class: "primary" }, "Add field"),
    error);
}
