// Import a project (API.md §15c): a Docket export, a CSV or a Trello board export, uploaded
// with its progress; a refused file lists its problems row by row (`rows.N.field`).

import * as api from "../api.js";
import { h, replace, announce } from "../dom.js";

/**
 * The content type the server reads a file as: CSV by its name or type, JSON otherwise (the
 * server tells a Docket export from a Trello one by its content).
 * @param {File} file
 */
const isCsv = (file) => file.type === "text/csv" || /\.csv$/i.test(file.name);

/**
 * @param {import("../model.js").Context} ctx
 * @param {HTMLElement} content
 */
export async function renderImport(ctx, content) {
  const fileInput = /** @type {HTMLInputElement} */ (h("input", { id: "import-file", type: "file", accept: ".json,.csv,application/json,text/csv", required: true, "aria-describedby": "import-file-help import-file-error" }));
  const nameInput = /** @type {HTMLInputElement} */ (h("input", { id: "import-name", maxlength: 100, autocomplete: "off", "aria-describedby": "import-name-help import-name-error" }));
  const fileError = h("p", { class: "field-error", id: "import-file-error" });
  const nameError = h("p", { class: "field-error", id: "import-name-error" });
  const progress = /** @type {HTMLProgressElement} */ (h("progress", { id: "import-progress", max: 100, value: 0, hidden: true, "aria-label": "Upload progress" }));
  const status = h("p", { class: "form-message", id: "import-status", role: "status" });
  const problems = h("div", { id: "import-problems" });
  const submit = /** @type {HTMLButtonElement} */ (h("button", { type: "submit", class: "primary" }, "Import"));

  /** @param {api.ApiError} err */
  const showProblems = (err) => {
    replace(problems, h("div", { class: "notice error", role: "alert" },
      h("p", null, h("strong", null, err.problem.title || "The file was not imported"), err.problem.detail ? ` ${err.problem.detail}` : ""),
      h("table", { class: "table", id: "import-errors" },
        h("thead", null, h("tr", null, ["Row", "Field", "Problem"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", null, err.errors.map((e) => {
          // `rows.17.due_date`: row 17 (the first data row being 1), its column.
          const [, row, field] = /^rows\.(\d+)\.(.+)$/.exec(e.field) || [null, "", e.field];
          return h("tr", { dataset: { field: e.field } }, h("td", null, row), h("td", { class: "mono" }, field), h("td", null, e.message));
        })))));
  };

  const form = h("form", {
    id: "import-form", class: "stack-form", novalidate: true,
    onsubmit: async (/** @type {Event} */ e) => {
      e.preventDefault();
      for (const el of [fileError, nameError, status, problems]) el.textContent = "";
      status.classList.remove("error");
      const file = fileInput.files?.[0];
      if (!file) {
        fileError.textContent = "Choose a file to import.";
        return fileInput.focus();
      }
      const csv = isCsv(file);
      const name = nameInput.value.trim();
      if (csv && !name) {
        nameError.textContent = "A CSV file needs a name for its project.";
        return nameInput.focus();
      }
      const body = new Blob([file], { type: csv ? "text/csv" : "application/json" });
      progress.hidden = false;
      progress.value = 0;
      submit.disabled = true;
      try {
        const project = await api.upload(`/projects/import${name ? "?name=" + encodeURIComponent(name) : ""}`, body, {
          signal: ctx.signal,
          onProgress: (sent, total) => {
            progress.value = total ? Math.round((sent / total) * 100) : 0;
            status.textContent = `Uploading… ${progress.value}%`;
          },
        });
        await ctx.refreshProjects();
        announce(`Imported ${project.name}.`, { visible: true });
        ctx.navigate(`/p/${project.id}`);
      } catch (err) {
        if (!(err instanceof api.ApiError)) throw err;
        status.textContent = "";
        if (err.errors.some((fe) => fe.field.startsWith("rows."))) showProblems(err);
        else if (err.fieldMessage("name")) nameError.textContent = err.fieldMessage("name");
        else {
          status.textContent = err.message;
          status.classList.add("error");
        }
      } finally {
        progress.hidden = true;
        submit.disabled = false;
      }
    },
  },
    h("div", { class: "field" }, h("label", { for: "import-file" }, "File"), fileInput,
      h("p", { class: "hint", id: "import-file-help" }, "A Docket export (.json), a CSV with a header row (title, description, status, priority, due_date, labels) or a Trello board export (.json). Up to 64 MiB."),
      fileError),
    h("div", { class: "field" }, h("label", { for: "import-name" }, "Project name"), nameInput,
      h("p", { class: "hint", id: "import-name-help" }, "Required for a CSV; a JSON file keeps its project's or board's name unless you give one."),
      nameError),
    h("div", { class: "form-actions" }, submit, progress, status));
  replace(content, h("section", { class: "card-section", "aria-labelledby": "s-import" },
    h("h2", { id: "s-import" }, "Import a project"),
    h("p", { class: "muted" }, "Creates a new project of yours. One invalid row and nothing is created: fix the rows listed and import again."),
    form, problems));
}
