// The "Templates" part of the new-project dialog (API.md §18): the projects marked as templates,
// one of which the new project may start from, and which of its parts to copy. A blank project
// is the default; the parts show once a template is chosen.

import * as api from "../api.js";
import { h } from "../dom.js";

/** @type {[string, string][]} the parts a copy can take, as `include` names them */
const PARTS = [["states", "Workflow states"], ["fields", "Custom fields"], ["tasks", "Tasks"], ["views", "Shared views"]];

/**
 * @typedef {{from_project_id: string, include: string[]} | null} TemplateChoice
 */

/**
 * The picker for the caller's templates (none: no element).
 * @returns {Promise<{el: HTMLElement | null, choice: () => TemplateChoice}>}
 */
export async function templatePicker() {
  /** @type {api.Project[]} */
  let templates = [];
  try {
    templates = await api.all("/projects?is_template=true");
  } catch {
    templates = [];
  }
  if (!templates.length) return { el: null, choice: () => null };
  /** @type {Record<string, HTMLInputElement>} */
  const parts = {};
  const partsBox = h("fieldset", { class: "template-parts", hidden: true },
    h("legend", null, "Copy from the template"),
    PARTS.map(([name, label]) => {
      const box = /** @type {HTMLInputElement} */ (h("input", { type: "checkbox", id: `template-part-${name}`, name: "include", value: name, checked: true }));
      parts[name] = box;
      return h("div", { class: "field checkbox" }, box, h("label", { for: `template-part-${name}` }, label));
    }));
  /** @param {string} value @param {string} label @param {boolean} checked */
  const option = (value, label, checked) => {
    const radio = /** @type {HTMLInputElement} */ (h("input", { type: "radio", name: "template", id: `template-${value || "blank"}`, value, checked }));
    radio.addEventListener("change", () => { partsBox.hidden = !value; });
    return h("div", { class: "field checkbox" }, radio, h("label", { for: `template-${value || "blank"}` }, label));
  };
  const list = h("fieldset", { class: "templates" },
    h("legend", null, "Templates"),
    option("", "Blank project", true),
    templates.map((t) => option(t.id, t.name, false)));
  const el = h("div", { class: "template-picker" }, list, partsBox);
  return {
    el,
    choice: () => {
      const picked = /** @type {HTMLInputElement | null} */ (list.querySelector("input[name=template]:checked"));
      if (!picked || !picked.value) return null;
      return { from_project_id: picked.value, include: PARTS.map(([name]) => name).filter((name) => parts[name].checked) };
    },
  };
}
