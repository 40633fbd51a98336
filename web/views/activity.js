// The project's Activity page: its timeline, following live updates.

import * as api from "../api.js";
import { h, replace } from "../dom.js";
import * as live from "../live.js";
import { timeline } from "../components/timeline.js";

/**
 * The project's Activity page.
 * @param {import("../model.js").Context} ctx
 * @param {HTMLElement} content
 */
export async function renderProjectActivity(ctx, content) {
  const project = /** @type {api.Project} */ (ctx.project);
  const host = h("div", { id: "project-activity" });
  replace(content, h("div", { class: "page" }, h("h2", { class: "sr-only" }, "Activity"), host));
  let pending = false;
  /** @type {ReturnType<typeof timeline> | null} */
  let t = null;
  live.follow(project.id, {
    onEntry: (entry) => {
      if (!t) return;
      if (entry.task_id) t.forgetTask(entry.task_id);
      if (pending) return;
      pending = true;
      setTimeout(() => {
        pending = false;
        t?.reload().catch(() => {});
      }, 150);
    },
    onReset: () => {
      t?.reload().catch(() => {});
    },
  }, ctx.signal);
  await live.ready();
  t = timeline(host, { path: `/projects/${project.id}/activity`, projectId: project.id, onTask: false, signal: ctx.signal, label: "Project activity" });
  await t.ready;
}
