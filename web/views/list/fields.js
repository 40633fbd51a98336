// A project list's custom fields (API.md §18): the columns chosen among them (remembered per
// project in this browser), their filters in the filter bar — equality for a select, a
// multi-select ("has"), a person and a checkbox, ranges for numbers and dates, "contains" for
// text and links — and sorting by them. Filters and sorts live in the URL (`field.<id>`,
// `field.<id>.min`/`.max`, `sort=[-]field.<id>`), so a link reproduces the list.

import { h } from "../../dom.js";
import { showValue } from "../../fields.js";

/**
 * @typedef {import("../../fields.js").Field} Field
 * @typedef {import("../../model.js").Context} Context
 */

/** @param {string} key whether a query parameter is a field's filter */
export const isFieldFilter = (key) => key.startsWith("field.");

/**
 * The URL's field filters, to pass to the API as they are.
 * @param {URLSearchParams} q
 * @returns {[string, string][]}
 */
export const fieldFilters = (q) => [...q].filter(([k, v]) => isFieldFilter(k) && v);

/**
 * Whether a task passes the field filters of `params` (as the server decides them), for live
 * updates that may move a task out of the list. A filter on a field not (yet) known passes.
 * @param {{fields?: Record<string, any>}} task
 * @param {URLSearchParams} params
 * @param {Field[]} fields
 */
export function matchesFieldFilters(task, params, fields) {
  for (const [key, wanted] of fieldFilters(params)) {
    const [, id, bound] = key.split(".");
    const f = fields.find((x) => x.id === id);
    if (!f) continue;
    const v = task.fields?.[id];
    if (v === undefined || v === null) return false;
    if (bound === "min" || bound === "max") {
      const [a, b] = f.kind === "number" ? [Number(v), Number(wanted)] : [String(v), wanted];
      if (bound === "min" ? a < b : a > b) return false;
    } else if (f.kind === "multi_select") {
      if (!v.includes(wanted)) return false;
    } else if (f.kind === "text" || f.kind === "url") {
      if (!String(v).toLowerCase().includes(wanted.toLowerCase())) return false;
    } else if (String(v) !== wanted) return false;
  }
  return true;
}

/** @param {string} projectId */
const storageKey = (projectId) => `docket-columns-${projectId}`;

/**
 * The field ids shown as columns in this project's list (this browser remembers them).
 * @param {string} projectId
 * @returns {string[]}
 */
export function chosenColumns(projectId) {
  try {
    const ids = JSON.parse(localStorage.getItem(storageKey(projectId)) || "[]");
    return Array.isArray(ids) ? ids.filter((x) => typeof x === "string") : [];
  } catch {
    return [];
  }
}

/**
 * The cells of a row for the chosen columns, in the fields' order.
 * @param {Field[]} columns
 * @param {{fields?: Record<string, any>}} task
 * @param {Map<string, {name: string}>} names
 */
export function cells(columns, task, names) {
  return columns.map((f) => {
    const value = showValue(f, task.fields?.[f.id], names);
    return h("span", { class: "field-cell", dataset: { field: f.id }, title: f.name }, value === null ? "" : value);
  });
}

/**
 * Adds the fields to the filter bar: their filters into its grid, their sorts into its sort
 * menu, and the column picker beside it. `redraw` draws the rows again with other columns.
 * @param {Context} ctx
 * @param {HTMLElement} bar the list's toolbar (list/toolbar.js)
 * @param {Field[]} fields
 * @param {import("../../api.js").Member[]} members
 * @param {string} projectId
 * @param {(columns: Field[]) => void} redraw
 */
export function addFieldControls(ctx, bar, fields, members, projectId, redraw) {
  const grid = bar.querySelector(".filter-grid");
  const clear = grid?.querySelector("button.ghost");
  for (const f of fields) {
    for (const el of filterOf(ctx, f, members)) grid?.insertBefore(el, clear || null);
  }
  const sort = /** @type {HTMLSelectElement | null} */ (bar.querySelector("#filter-sort"));
  const current = ctx.query.get("sort") || "";
  for (const f of fields) {
    if (f.kind === "multi_select") continue;
    for (const [value, text] of [[`field.${f.id}`, `${f.name}, ascending`], [`-field.${f.id}`, `${f.name}, descending`]]) {
      sort?.append(h("option", { value, selected: current === value }, text));
    }
  }
  bar.append(columnPicker(fields, projectId, redraw));
}

/**
 * The filter controls of one field.
 * @param {Context} ctx
 * @param {Field} f
 * @param {import("../../api.js").Member[]} members
 * @returns {HTMLElement[]}
 */
function filterOf(ctx, f, members) {
  const q = ctx.query;
  const key = `field.${f.id}`;
  /**
   * @param {string} param
   * @param {string} label
   * @param {HTMLInputElement | HTMLSelectElement} el
   */
  const wrap = (param, label, el) => {
    el.id = `filter-${param.replaceAll(".", "-")}`;
    el.addEventListener("change", () => ctx.setQuery({ [param]: el.value.trim() || null, task: null }));
    return h("div", { class: "filter field-filter" }, h("label", { for: el.id }, label), el);
  };
  /** @param {[string, string][]} options */
  const select = (options) => {
    const now = q.get(key) || "";
    if (now && !options.some(([v]) => v === now)) options.push([now, "Another value"]);
    return /** @type {HTMLSelectElement} */ (h("select", null, options.map(([v, t]) => h("option", { value: v, selected: now === v }, t))));
  };
  /** @param {string} param @param {Record<string, any>} attrs */
  const input = (param, attrs) => /** @type {HTMLInputElement} */ (h("input", { value: q.get(param) || "", autocomplete: "off", ...attrs }));
  switch (f.kind) {
    case "select":
    case "multi_select":
      return [wrap(key, f.name, select([["", "Any"], ...(f.options || []).map((o) => /** @type {[string, string]} */ ([o.id, o.name]))]))];
    case "user":
      return [wrap(key, f.name, select([["", "Anyone"], ...members.map((m) => /** @type {[string, string]} */ ([m.user.id, m.user.name]))]))];
    case "checkbox":
      return [wrap(key, f.name, select([["", "Any"], ["true", "Checked"], ["false", "Not checked"]]))];
    case "number":
    case "date": {
      const type = f.kind === "number" ? "number" : "date";
      return [
        wrap(`${key}.min`, `${f.name} from`, input(`${key}.min`, { type, step: type === "number" ? "any" : undefined })),
        wrap(`${key}.max`, `${f.name} until`, input(`${key}.max`, { type, step: type === "number" ? "any" : undefined })),
      ];
    }
    default:
      return [wrap(key, `${f.name} contains`, input(key, { type: "text" }))];
  }
}

/**
 * "Columns": a box per field; the choice is remembered for the project and the rows redrawn.
 * @param {Field[]} fields
 * @param {string} projectId
 * @param {(columns: Field[]) => void} redraw
 */
function columnPicker(fields, projectId, redraw) {
  const chosen = new Set(chosenColumns(projectId));
  const boxes = fields.map((f) => {
    const box = /** @type {HTMLInputElement} */ (h("input", { type: "checkbox", id: `column-${f.id}`, value: f.id, checked: chosen.has(f.id) }));
    box.addEventListener("change", () => {
      const ids = boxes.filter((b) => b.checked).map((b) => b.value);
      localStorage.setItem(storageKey(projectId), JSON.stringify(ids));
      redraw(fields.filter((x) => ids.includes(x.id)));
    });
    return box;
  });
  return h("details", { class: "filters columns-picker", id: "columns-picker" },
    h("summary", null, "Columns"),
    h("div", { class: "filter-grid" }, boxes.map((box, i) => h("div", { class: "field checkbox" }, box, h("label", { for: box.id }, fields[i].name)))));
}
