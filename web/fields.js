// A project's custom fields (API.md §18), below the views and components that show them: the
// types, the per-project cache, a value as people read it, and the coloured option chip. Nothing
// here draws more than a chip; it imports only api.js and dom.js.

import * as api from "./api.js";
import { h, formatDue } from "./dom.js";

/**
 * @typedef {"text"|"number"|"date"|"checkbox"|"select"|"multi_select"|"user"|"url"} FieldKind
 * @typedef {{id: string, name: string, color: string}} FieldOption
 * @typedef {{id: string, project_id: string, name: string, kind: FieldKind, options?: FieldOption[],
 *   required: boolean, position: number}} Field
 * @typedef {{id: string, project_id: string|null, owner_id: string, name: string, shared: boolean,
 *   kind: "list"|"board", query: Record<string, string>, position: number}} SavedView
 */

/** @type {[FieldKind, string][]} the eight kinds, as people read them */
export const KINDS = [
  ["text", "Text"],
  ["number", "Number"],
  ["date", "Date"],
  ["select", "Select"],
  ["multi_select", "Multi-select"],
  ["user", "Person"],
  ["checkbox", "Checkbox"],
  ["url", "Link"],
];

/** @param {FieldKind} kind */
export const kindLabel = (kind) => KINDS.find(([k]) => k === kind)?.[1] || kind;

/** @param {FieldKind} kind */
export const hasOptions = (kind) => kind === "select" || kind === "multi_select";

/** @type {Map<string, Promise<Field[]>>} */
const cache = new Map();

/**
 * A project's fields in order, read once per project until forgotten.
 * @param {string} projectId
 * @returns {Promise<Field[]>}
 */
export function fieldsOf(projectId) {
  let fields = cache.get(projectId);
  if (!fields) {
    fields = api.get(`/projects/${projectId}/fields`).then((r) => /** @type {Field[]} */ (r.items));
    fields.catch(() => cache.delete(projectId));
    cache.set(projectId, fields);
  }
  return fields;
}

/** @param {string} projectId its fields changed */
export function forgetFields(projectId) {
  cache.delete(projectId);
}

/**
 * An option as a small chip in its colour (set through the CSSOM: the content security policy
 * refuses style attributes).
 * @param {FieldOption} option
 */
export function optionChip(option) {
  const dot = h("span", { class: "option-dot", "aria-hidden": "true" });
  dot.style.background = option.color;
  return h("span", { class: "chip option-chip" }, dot, option.name);
}

/**
 * A value as people read it (for the list's columns), or null when the task has none.
 * @param {Field} field
 * @param {any} value
 * @param {Map<string, {name: string}>} names user id → name
 * @returns {HTMLElement | string | null}
 */
export function showValue(field, value, names) {
  if (value === undefined || value === null) return null;
  switch (field.kind) {
    case "select": {
      const option = field.options?.find((o) => o.id === value);
      return option ? optionChip(option) : null;
    }
    case "multi_select": {
      const chosen = (field.options || []).filter((o) => value.includes(o.id));
      return chosen.length ? h("span", { class: "option-chips" }, chosen.map(optionChip)) : null;
    }
    case "checkbox":
      return value ? "✓" : "✗";
    case "user":
      return names.get(value)?.name || "someone";
    case "date":
      return formatDue(value);
    case "number":
      return Number(value).toLocaleString();
    default:
      return String(value);
  }
}
