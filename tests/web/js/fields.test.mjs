// The list's custom-field filters as the client checks them for live updates
// (web/views/list/fields.js, `matchesFieldFilters`): the same answers as the server's filters
// (API.md §18), table-driven, run by `node --test` from scripts/check-web.sh.

import { test } from "node:test";
import assert from "node:assert/strict";

import { installDom } from "./support.mjs";

installDom();
const { matchesFieldFilters, fieldFilters } = await import("../../../web/views/list/fields.js");

const FIELDS = [
  { id: "s", kind: "select" }, { id: "m", kind: "multi_select" }, { id: "t", kind: "text" },
  { id: "n", kind: "number" }, { id: "d", kind: "date" }, { id: "c", kind: "checkbox" }, { id: "u", kind: "user" },
];
const TASK = { fields: { s: "o1", m: ["a", "b"], t: "Needs Review", n: 5, d: "2026-12-07", c: false, u: "ada" } };

/** [query, passes?] */
const CASES = [
  ["", true],
  ["field.s=o1", true], ["field.s=o2", false],
  ["field.m=b", true], ["field.m=c", false],
  ["field.t=review", true], ["field.t=done", false],
  ["field.n.min=5", true], ["field.n.min=5.5", false], ["field.n.max=10", true], ["field.n.max=4", false],
  ["field.n.min=10&field.n.max=2", false],
  ["field.d.min=2026-12-01&field.d.max=2026-12-07", true], ["field.d.max=2026-12-06", false],
  ["field.c=false", true], ["field.c=true", false],
  ["field.u=ada", true], ["field.u=bob", false],
  ["field.unknown=x", true],
  ["field.s=o1&field.c=true", false],
  ["status=todo", true],
];

test("a task passes the field filters the server would pass it by", () => {
  for (const [query, passes] of CASES) {
    assert.equal(matchesFieldFilters(TASK, new URLSearchParams(query), FIELDS), passes, query);
  }
});

test("a task without a value passes no filter on that field", () => {
  for (const query of ["field.s=o1", "field.n.min=0", "field.t=a", "field.c=false"]) {
    assert.equal(matchesFieldFilters({ fields: {} }, new URLSearchParams(query), FIELDS), false, query);
    assert.equal(matchesFieldFilters({}, new URLSearchParams(query), FIELDS), false, query);
  }
});

test("only field parameters with a value are passed to the API", () => {
  assert.deepEqual(fieldFilters(new URLSearchParams("status=todo&field.s=o1&field.n.min=&fieldx=1&field.n.max=3")),
    [["field.s", "o1"], ["field.n.max", "3"]]);
});
