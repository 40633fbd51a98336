// Project settings' "Use as template" switch (API.md §18), in the general section for admins;
// loaded by import() when the settings page opens. A project so marked is offered under
// Templates in the new-project dialog (components/template-picker.js).

import * as api from "../../api.js";
import { h } from "../../dom.js";

/**
 * "Use as template" (API.md §18): a project so marked is offered in the new-project dialog.
 * @param {api.Project} project
 */
export function templateSwitch(project) {
  const box = /** @type {HTMLInputElement} */ (h("input", { id: "project-template", type: "checkbox", role: "switch", checked: !!project.is_template, "aria-describedby": "project-template-help project-template-state" }));
  const said = h("p", { class: "form-message", id: "project-template-state", "aria-live": "polite" });
  box.addEventListener("change", async () => {
    const wanted = box.checked;
    said.textContent = "";
    said.classList.remove("error");
    try {
      const updated = await api.patch(`/projects/${project.id}`, { is_template: wanted }, { ifMatch: project.version });
      Object.assign(project, updated);
      said.textContent = wanted ? "Saved: offered as a template." : "Saved: no longer a template.";
    } catch (e) {
      box.checked = !wanted;
      said.classList.add("error");
      said.textContent = `Not saved. ${e instanceof Error ? e.message : String(e)}`;
    }
  });
  return h("div", { class: "template-switch" },
    h("div", { class: "field checkbox" }, box, h("label", { for: "project-template" }, "Use as template")),
    h("p", { class: "hint", id: "project-template-help" }, "Offered under Templates when anyone who is a member creates a project: its workflow, fields, tasks and shared views can be copied."),
    said);
}
