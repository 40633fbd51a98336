// The list's toolbar: search, filters and sort, each change going into the URL.

import * as api from "../../api.js";
import { h, debounce } from "../../dom.js";

const SORTS = [
  ["position", "Manual order"],
  ["created_at", "Oldest first"],
  ["-created_at", "Newest first"],
  ["-updated_at", "Recently updated"],
  ["due_date", "Due date"],
  ["-priority", "Priority, highest first"],
  ["priority", "Priority, lowest first"],
];
/** The query parameters of the URL that the list passes to the API. */
export const FILTERS = ["status", "state", "assignee", "label", "priority_min", "due_after", "due_before", "q", "sort"];

/**
 * Search, filters and sort: each change goes into the URL.
 * @param {import("../../model.js").Context} ctx
 * @param {string} kind
 * @param {URLSearchParams} params
 * @param {() => api.Member[]} members
 * @param {() => api.WorkflowState[]} states the project's workflow states (the "states" event says they arrived)
 */
export function filterBar(ctx, kind, params, members, states) {
  const q = ctx.query;
  const search = /** @type {HTMLInputElement} */ (h("input", {
    type: "search", id: "search", name: "q", placeholder: "Search tasks  ( / )", value: q.get("q") || "", "aria-label": "Search tasks", autocomplete: "off",
  }));
  const pushSearch = debounce(() => ctx.setQuery({ q: search.value.trim() || null, task: null }, { replace: true }), 300);
  search.addEventListener("input", pushSearch);
  search.addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      pushSearch.flush();
      ctx.setQuery({ q: search.value.trim() || null, task: null }, { replace: true });
    }
  });
  /**
   * @param {string} name
   * @param {string} label
   * @param {[string, string][]} options
   */
  const select = (name, label, options) => {
    const id = `filter-${name}`;
    const el = /** @type {HTMLSelectElement} */ (h("select", { id, name, onchange: () => ctx.setQuery({ [name]: el.value || null, task: null }) },
      options.map(([value, text]) => h("option", { value, selected: (q.get(name) || "") === value }, text))));
    return h("div", { class: "filter" }, h("label", { for: id }, label), el);
  };
  const statusValue = q.get("status") || "";
  const statusSelect = select("status", "Status", [
    ["", kind === "upcoming" ? "Open" : "Any"],
    ["todo,in_progress", "Open"],
    ["todo", "To do"], ["in_progress", "In progress"], ["done", "Done"], ["canceled", "Canceled"],
  ]);
  if (statusValue && !["todo,in_progress", "todo", "in_progress", "done", "canceled"].includes(statusValue)) {
    /** @type {HTMLSelectElement} */ (statusSelect.querySelector("select")).append(h("option", { value: statusValue, selected: true }, statusValue));
  }
  const assigneeWrap = h("div", { class: "filter" });
  const drawAssignee = () => {
    const options = /** @type {[string, string][]} */ ([["", "Anyone"], ["me", "Me"], ["none", "Nobody"]]);
    for (const m of members()) if (m.user.id !== ctx.state.user?.id) options.push([m.user.id, m.user.name]);
    const current = q.get("assignee") || "";
    if (current && !options.some(([v]) => v === current)) options.push([current, "Someone"]);
    assigneeWrap.replaceWith(Object.assign(select("assignee", "Assignee", options), {}));
  };
  const assignee = select("assignee", "Assignee", [["", "Anyone"], ["me", "Me"], ["none", "Nobody"]]);
  assigneeWrap.append(...assignee.childNodes);
  /**
   * @param {string} name
   * @param {string} label
   * @param {Record<string, any>} attrs
   */
  const input = (name, label, attrs) => {
    const id = `filter-${name}`;
    const el = /** @type {HTMLInputElement} */ (h("input", { id, name, value: q.get(name) || "", ...attrs }));
    el.addEventListener("change", () => ctx.setQuery({ [name]: el.value.trim() || null, task: null }));
    return h("div", { class: "filter" }, h("label", { for: id }, label), el);
  };
  // The project's own states (API.md §17): a board column as a list.
  const stateWrap = h("div", { class: "filter", hidden: true });
  const drawStates = () => {
    /** @type {[string, string][]} */
    const options = [["", "Any"], ...states().map((s) => /** @type {[string, string]} */ ([s.id, s.name]))];
    const drawn = select("state", "State", options);
    stateWrap.replaceWith(drawn);
  };
  // Custom fields' filters (`field.<id>…`, list/fields.js) count and clear with the others.
  const fieldKeys = [...q.keys()].filter((k) => k.startsWith("field."));
  const active = FILTERS.filter((f) => f !== "sort" && f !== "q" && q.get(f)).length + fieldKeys.length;
  const bar = h("div", { class: "toolbar", role: "search" },
    h("div", { class: "search-wrap" }, search),
    h("details", { class: "filters", open: active > 0 ? true : undefined },
      h("summary", null, active ? `Filters (${active})` : "Filters"),
      h("div", { class: "filter-grid" },
        statusSelect,
        kind === "project" ? stateWrap : null,
        kind === "my" ? null : assigneeWrap,
        input("label", "Label", { type: "text", autocomplete: "off", placeholder: "bug" }),
        select("priority_min", "Priority at least", [["", "Any"], ["1", "Low"], ["2", "Medium"], ["3", "High"], ["4", "Urgent"]]),
        input("due_after", "Due from", { type: "date" }),
        input("due_before", "Due until", { type: "date" }),
        active ? h("button", { type: "button", class: "ghost", onclick: () => ctx.setQuery(Object.fromEntries([...FILTERS.filter((f) => f !== "sort"), ...fieldKeys].map((f) => [f, null]))) }, "Clear filters") : null)),
    select("sort", "Sort", /** @type {[string, string][]} */ (SORTS.filter(([s]) => kind === "project" || s !== "position").map(([v, t]) => [v === params.get("sort") && !q.get("sort") ? "" : v, t]))));
  bar.addEventListener("members", drawAssignee);
  bar.addEventListener("states", drawStates);
  return bar;
}
