// The task panel's reminders (web/components/task-reminders.js), run by `node --test` from
// scripts/check-web.sh: their words, and the body a save sends (only what the server takes).

import { test } from "node:test";
import assert from "node:assert/strict";

const { reminderWords, reminderBody } = await import("../../../web/components/task-reminders.js");

test("relative reminders read as a time before the due date", () => {
  for (const [minutes, words] of [[0, "At the due time"], [15, "15 minutes before"], [1440, "1 day before"],
    [180, "3 hours before"], [4320, "3 days before"], [20160, "2 weeks before"], [90, "90 minutes before"]]) {
    assert.equal(reminderWords({ before_minutes: minutes }), words, `${minutes}`);
  }
});

test("a save sends each reminder with only its before_minutes or its at", () => {
  const saved = [
    { before_minutes: 1440, fire_at: "2027-01-07T08:00:00Z", sent_at: null },
    { at: "2027-01-05T09:00:00Z", fire_at: "2027-01-05T09:00:00Z", sent_at: "2027-01-05T09:00:03Z" },
    { before_minutes: 0 },
  ];
  assert.deepEqual(reminderBody(saved), [{ before_minutes: 1440 }, { at: "2027-01-05T09:00:00Z" }, { before_minutes: 0 }]);
  assert.deepEqual(reminderBody(null), []);
});
