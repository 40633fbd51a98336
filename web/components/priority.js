// One priority scale for every place a task shows (list rows, board cards, the task panel):
// signal bars for Low, Medium and High (one, two, three filled), a filled "!" for Urgent, and
// nothing for None. The colours go with the glyph (app.css `.prio-N`): muted for Low and
// Medium, full for High, the warning colour for Urgent (red is kept for overdue and destructive
// actions, UI.md). The name is in `aria-label` and `title`.

import { h } from "../dom.js";
import { PRIORITIES } from "../model.js";

/**
 * The priority's glyph, or null for None.
 * @param {number} priority 0–4
 */
export function priorityGlyph(priority) {
  if (!priority) return null;
  const name = PRIORITIES[priority];
  const attrs = { class: `prio prio-${priority}`, role: "img", "aria-label": `Priority ${name}`, title: `Priority: ${name}` };
  return priority === 4 ? h("span", attrs, "!") : h("span", attrs, h("i"), h("i"), h("i"));
}
