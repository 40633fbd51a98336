// Settings pages: the person's own (name, password, API tokens, theme; how they sign in:
// settings/security.js, loaded when the page is opened), a project's (name, description, use as template: settings/template.js, GitHub link, deletion) and, for
// instance admins, the users.

import * as api from "../api.js";
import { h, replace, announce, confirmDialog, setTheme } from "../dom.js";

/**
 * A form whose server errors land under their fields.
 * @param {{id: string, fields: [string, string, Record<string, any>][], submit: string,
 *   onSubmit: (values: Record<string, string>) => Promise<string | void>}} spec
 */
function form(spec) {
  /** @type {Record<string, HTMLInputElement | HTMLTextAreaElement>} */
  const inputs = {};
  /** @type {Record<string, HTMLElement>} */
  const errors = {};
  const message = h("p", { class: "form-message", role: "status" });
  const el = h("form", {
    id: spec.id, class: "stack-form", novalidate: true,
    onsubmit: async (/** @type {Event} */ e) => {
      e.preventDefault();
      message.textContent = "";
      message.classList.remove("error");
      for (const [name, err] of Object.entries(errors)) {
        err.textContent = "";
        inputs[name].removeAttribute("aria-invalid");
      }
      const values = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, v.value]));
      try {
        const done = await spec.onSubmit(values);
        if (done) message.textContent = done;
      } catch (err) {
        if (!(err instanceof api.ApiError)) throw err;
        let placed = false;
        for (const fe of err.errors) {
          const name = fe.field.split(".")[0];
          if (errors[name]) {
            errors[name].textContent = err.fieldMessage(name);
            inputs[name].setAttribute("aria-invalid", "true");
            placed = true;
          }
        }
        if (!placed) {
          message.textContent = err.message;
          message.classList.add("error");
        }
      }
    },
  },
    spec.fields.map(([name, label, attrs]) => {
      const id = `${spec.id}-${name}`;
      const tag = attrs.multiline ? "textarea" : "input";
      const { multiline, value, ...rest } = attrs;
      void multiline;
      const input = /** @type {HTMLInputElement} */ (h(tag, { id, name, "aria-describedby": `${id}-error`, ...rest }));
      input.value = value || "";
      inputs[name] = input;
      errors[name] = h("p", { class: "field-error", id: `${id}-error` });
      return h("div", { class: "field" }, h("label", { for: id }, label), input, errors[name]);
    }),
    h("div", { class: "form-actions" }, h("button", { type: "submit", class: "primary" }, spec.submit), message));
  return el;
}

/**
 * @param {import("../model.js").Context} ctx
 * @param {HTMLElement} content
 */
export async function renderSettings(ctx, content) {
  const me = /** @type {api.User} */ (ctx.state.user);
  const profile = form({
    id: "profile", submit: "Save name",
    fields: [["name", "Display name", { value: me.name, maxlength: 100, autocomplete: "name", required: true }]],
    onSubmit: async (v) => {
      const user = await api.patch("/me", { name: v.name });
      ctx.state.user = user;
      document.querySelector(".user-name")?.replaceChildren(user.name);
      return "Saved.";
    },
  });
  const password = form({
    id: "password", submit: "Change password",
    fields: [
      ["current_password", "Current password", { type: "password", autocomplete: "current-password", required: true }],
      ["new_password", "New password", { type: "password", autocomplete: "new-password", minlength: 10, required: true }],
    ],
    onSubmit: async (v) => {
      await api.put("/me/password", v);
      for (const input of password.querySelectorAll("input")) input.value = "";
      return "Password changed. Your other sessions were signed out.";
    },
  });

  const themeSelect = /** @type {HTMLSelectElement} */ (h("select", { id: "theme" },
    [["system", "Same as the system"], ["light", "Light"], ["dark", "Dark"]].map(([v, t]) => h("option", { value: v, selected: (localStorage.getItem("docket-theme") || "system") === v }, t))));
  themeSelect.addEventListener("change", () => setTheme(themeSelect.value));

  const emailToggle = /** @type {HTMLInputElement} */ (h("input", { id: "email-notifications", type: "checkbox", checked: me.email_notifications !== false, "aria-describedby": "email-notifications-help email-notifications-state" }));
  const emailState = h("p", { class: "form-message", id: "email-notifications-state", "aria-live": "polite" });
  emailToggle.addEventListener("change", async () => {
    const wanted = emailToggle.checked;
    emailState.textContent = "";
    emailState.classList.remove("error");
    try {
      const user = await api.patch("/me", { email_notifications: wanted });
      ctx.state.user = user;
      emailState.textContent = wanted ? "Saved: you get emails." : "Saved: no emails.";
    } catch (e) {
      emailToggle.checked = !wanted;
      emailState.classList.add("error");
      emailState.textContent = `Not saved. ${e instanceof Error ? e.message : String(e)}`;
    }
  });

  const tokens = h("div", { id: "tokens" });
  const { zoneSection, feedSection } = await import("./settings/time.js");
  replace(content,
    h("section", { class: "card-section", "aria-labelledby": "s-profile" }, h("h2", { id: "s-profile" }, "Profile"), h("p", { class: "muted" }, me.email), profile),
    h("section", { class: "card-section", "aria-labelledby": "s-theme" }, h("h2", { id: "s-theme" }, "Appearance"),
      h("div", { class: "field" }, h("label", { for: "theme" }, "Theme"), themeSelect)),
    h("section", { class: "card-section", "aria-labelledby": "s-notifications" }, h("h2", { id: "s-notifications" }, "Notifications"),
      h("div", { class: "field checkbox" }, emailToggle, h("label", { for: "email-notifications" }, "Email notifications")),
      h("p", { class: "hint", id: "email-notifications-help" }, "An email when someone assigns you a task, mentions you or comments on your tasks, and for tasks due soon. The bell shows them either way."),
      emailState),
    zoneSection(ctx),
    feedSection(),
    h("section", { class: "card-section", "aria-labelledby": "s-password" }, h("h2", { id: "s-password" }, "Password"), password),
    h("section", { class: "card-section", "aria-labelledby": "s-tokens" }, h("h2", { id: "s-tokens" }, "API tokens"),
      h("p", { class: "muted" }, "For scripts: send ", h("code", null, "Authorization: Bearer dkt_…"), ". A read token can only read."),
      tokens));
  await Promise.all([drawTokens(tokens), import("./settings/security.js").then(({ renderSecurity }) => renderSecurity(ctx, content))]);
}

/** @param {HTMLElement} box */
async function drawTokens(box) {
  const items = (await api.get("/me/tokens")).items;
  const secret = h("div", { id: "token-secret" });
  const name = /** @type {HTMLInputElement} */ (h("input", { id: "token-name", required: true, maxlength: 100, autocomplete: "off" }));
  const write = /** @type {HTMLInputElement} */ (h("input", { id: "token-write", type: "checkbox" }));
  const days = /** @type {HTMLInputElement} */ (h("input", { id: "token-days", type: "number", min: 1, max: 365, placeholder: "never", inputmode: "numeric" }));
  const error = h("p", { class: "field-error", id: "token-error" });
  const create = h("form", {
    class: "inline-form", id: "create-token",
    onsubmit: async (/** @type {Event} */ e) => {
      e.preventDefault();
      error.textContent = "";
      /** @type {Record<string, any>} */
      const body = { name: name.value, scopes: write.checked ? ["read", "write"] : ["read"] };
      if (days.value) body.expires_in_days = Number(days.value);
      try {
        const token = await api.post("/me/tokens", body);
        await drawTokens(box);
        const shown = /** @type {HTMLInputElement} */ (h("input", { id: "new-token-value", readonly: true, value: token.token, "aria-label": "New token", class: "mono" }));
        const copy = h("button", {
          type: "button", id: "copy-token",
          onclick: async () => {
            try {
              await navigator.clipboard.writeText(token.token);
              announce("Copied.", { visible: true });
            } catch {
              shown.select();
              announce("Select the token and copy it with Ctrl+C.", { visible: true });
            }
          },
        }, "Copy");
        replace(/** @type {HTMLElement} */ (box.querySelector("#token-secret")),
          h("div", { class: "notice", role: "status" }, h("p", null, h("strong", null, `Token “${token.name}” created. `), "Copy it now: it is shown only once."),
            h("div", { class: "copy-row" }, shown, copy)));
      } catch (err) {
        error.textContent = err instanceof Error ? err.message : String(err);
      }
    },
  },
    h("div", { class: "field" }, h("label", { for: "token-name" }, "Name"), name),
    h("div", { class: "field checkbox" }, write, h("label", { for: "token-write" }, "May write")),
    h("div", { class: "field" }, h("label", { for: "token-days" }, "Expires in days"), days),
    h("button", { type: "submit", class: "primary" }, "Create token"), error);
  replace(box, secret,
    items.length
      ? h("table", { class: "table", id: "token-list" },
        h("thead", null, h("tr", null, ["Name", "Scopes", "Expires", "Last used"].map((t) => h("th", { scope: "col" }, t)), h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")))),
        h("tbody", null, items.map((/** @type {any} */ t) => h("tr", null,
          h("td", null, t.name), h("td", null, t.scopes.join(", ")),
          h("td", null, t.expires_at ? new Date(t.expires_at).toLocaleDateString() : "Never"),
          h("td", null, t.last_used_at ? new Date(t.last_used_at).toLocaleString() : "Never"),
          h("td", null, h("button", {
            type: "button", class: "ghost danger", "aria-label": `Revoke ${t.name}`,
            onclick: async () => {
              if (!(await confirmDialog("Revoke token", `Revoke “${t.name}”? Scripts using it stop working at once.`, "Revoke", true))) return;
              await api.del(`/me/tokens/${t.id}`);
              announce(`Revoked ${t.name}.`, { visible: true });
              await drawTokens(box);
            },
          }, "Revoke"))))))
      : h("p", { class: "muted" }, "No tokens yet."),
    h("h3", null, "New token"), create);
}

const LINK_STATES = { pending: "Waiting for its first import", syncing: "Importing now", idle: "Up to date", failed: "Failed" };

/**
 * @param {import("../model.js").Context} ctx
 * @param {HTMLElement} content
 */
export async function renderProjectSettings(ctx, content) {
  const project = /** @type {api.Project} */ (ctx.project);
  const isAdmin = api.can(project.my_role, "admin");
  const sections = [];
  if (!project.is_inbox && isAdmin) {
    // Loaded here, not with the list: a project's first visit has a byte budget.
    const { templateSwitch } = await import("./settings/template.js");
    sections.push(h("section", { class: "card-section", "aria-labelledby": "s-project" }, h("h2", { id: "s-project" }, "Project"),
      form({
        id: "project-form", submit: "Save",
        fields: [
          ["name", "Name", { value: project.name, maxlength: 100, required: true }],
          ["description", "Description", { value: project.description, maxlength: 2000, multiline: true, rows: 3 }],
        ],
        onSubmit: async (v) => {
          const updated = await api.patch(`/projects/${project.id}`, v, { ifMatch: project.version });
          Object.assign(project, updated);
          await ctx.refreshProjects();
          const title = document.querySelector(".project-title");
          if (title) title.textContent = updated.name;
          return "Saved.";
        },
      }),
      templateSwitch(project)));
  } else {
    sections.push(h("section", { class: "card-section" }, h("h2", null, project.is_inbox ? "Inbox" : project.name),
      h("p", { class: "muted" }, project.is_inbox ? "Your Inbox is private: only you see it, and it cannot be deleted or shared." : project.description || "No description."),
      project.is_inbox ? null : h("p", { class: "muted" }, `Your role: ${project.my_role}. Only admins and the owner change the project.`)));
  }
  const github = h("div", { id: "github" });
  if (!project.is_inbox) {
    sections.push(h("section", { class: "card-section", "aria-labelledby": "s-github" }, h("h2", { id: "s-github" }, "GitHub issues"), github));
  }
  const fields = h("div", { id: "fields-settings" });
  if (!project.is_inbox && isAdmin) {
    sections.push(h("section", { class: "card-section", "aria-labelledby": "s-fields" }, h("h2", { id: "s-fields" }, "Fields"), fields));
  }
  const webhooks = h("div", { id: "webhooks-settings" });
  if (!project.is_inbox && isAdmin) {
    sections.push(h("section", { class: "card-section", "aria-labelledby": "s-webhooks" }, h("h2", { id: "s-webhooks" }, "Webhooks"), webhooks));
  }
  // Any member may export (API.md §15b); the server names the file.
  sections.push(h("section", { class: "card-section", "aria-labelledby": "s-export" }, h("h2", { id: "s-export" }, "Export"),
    h("p", { class: "muted" }, "Download the project as one JSON file: its tasks with their comments, states, members and history. Import it here or on another Docket server."),
    h("a", { class: "button", id: "export-project", href: `/api/v1/projects/${project.id}/export`, download: "" }, "Export")));
  if (project.my_role === "owner" && !project.is_inbox) {
    sections.push(h("section", { class: "card-section danger-zone", "aria-labelledby": "s-danger" }, h("h2", { id: "s-danger" }, "Delete project"),
      h("p", null, "Deletes the project and all its tasks for every member."),
      h("button", { type: "button", class: "danger", id: "delete-project", onclick: () => deleteProject(ctx, project).catch((e) => announce(e.message, { error: true })) }, "Delete project")));
  }
  replace(content, h("div", { class: "page" }, sections));
  await Promise.all([
    project.is_inbox ? null : drawGithub(ctx, github, project, isAdmin),
    !project.is_inbox && isAdmin ? import("./settings/fields.js").then(({ renderFields }) => renderFields(fields, project)) : null,
    !project.is_inbox && isAdmin ? import("./settings/webhooks.js").then(({ renderWebhooks }) => renderWebhooks(webhooks, project)) : null,
  ]);
}

/**
 * Deletes a project after asking, then goes home.
 * @param {import("../model.js").Context} ctx
 * @param {api.Project} project
 */
async function deleteProject(ctx, project) {
  const ok = await confirmDialog("Delete project", `Delete “${project.name}” and all its tasks? This cannot be undone.`, "Delete project", true);
  if (!ok) return;
  await api.del(`/projects/${project.id}`);
  await ctx.refreshProjects();
  announce(`Deleted ${project.name}.`, { visible: true });
  ctx.navigate("/", { force: true });
}

/**
 * @param {import("../model.js").Context} ctx
 * @param {HTMLElement} box
 * @param {api.Project} project
 * @param {boolean} isAdmin
 */
async function drawGithub(ctx, box, project, isAdmin) {
  /** @type {any} */
  let link = null;
  try {
    link = await api.get(`/projects/${project.id}/github`);
  } catch (e) {
    if (!(e instanceof api.ApiError && e.status === 404)) throw e;
  }
  const redraw = () => drawGithub(ctx, box, project, isAdmin);
  const status = link ? h("dl", { class: "facts", id: "github-link" },
    h("dt", null, "Repository"), h("dd", null, h("a", { href: `https://github.com/${link.repository}`, rel: "noopener noreferrer", target: "_blank" }, link.repository)),
    h("dt", null, "State"), h("dd", { id: "github-state" }, /** @type {any} */ (LINK_STATES)[link.state] || link.state),
    h("dt", null, "Imported"), h("dd", null, `${link.imported_count} tasks`),
    h("dt", null, "Last sync"), h("dd", null, link.last_synced_at ? new Date(link.last_synced_at).toLocaleString() : "Not yet"),
    link.last_error ? [h("dt", null, "Last error"), h("dd", { class: "error-text", id: "github-error" }, link.last_error)] : null,
    link.next_sync_at ? [h("dt", null, "Next sync"), h("dd", null, new Date(link.next_sync_at).toLocaleString())] : null)
    : h("p", { class: "muted" }, "Not linked. Link a repository to import its issues as tasks and keep them in sync.");
  const actions = isAdmin && link ? h("div", { class: "actions-row" },
    h("button", {
      type: "button", id: "sync-now",
      onclick: async () => {
        try {
          await api.post(`/projects/${project.id}/github/sync`, {});
          announce("Sync queued.", { visible: true });
        } catch (e) {
          announce(e instanceof Error ? e.message : String(e), { error: true });
        }
        redraw();
      },
    }, "Sync now"),
    h("button", {
      type: "button", class: "ghost danger",
      onclick: async () => {
        if (!(await confirmDialog("Unlink repository", "Stop syncing? Imported tasks stay.", "Unlink", true))) return;
        await api.del(`/projects/${project.id}/github`);
        redraw();
      },
    }, "Unlink")) : null;
  const linkForm = isAdmin ? form({
    id: "github-form", submit: link ? "Replace link" : "Link repository",
    fields: [
      ["repository", "Repository (owner/name)", { value: link?.repository || "", placeholder: "octocat/hello-world", autocomplete: "off", required: true }],
      ["token", "Access token", { type: "password", autocomplete: "off", placeholder: ctx.state.user?.role === "admin" ? "optional: the server's token is used" : "a fine-grained token that can read issues" }],
    ],
    onSubmit: async (v) => {
      /** @type {Record<string, string>} */
      const body = { repository: v.repository.trim() };
      if (v.token) body.token = v.token;
      await api.put(`/projects/${project.id}/github`, body);
      await redraw();
      announce("Linked. The first import has started.", { visible: true });
    },
  }) : h("p", { class: "muted" }, "Only admins and the owner link a repository.");
  replace(box, status, actions, linkForm);
}

/**
 * @param {import("../model.js").Context} ctx
 * @param {HTMLElement} content
 */
export async function renderAdmin(ctx, content) {
  const me = /** @type {api.User} */ (ctx.state.user);
  if (me.role !== "admin") {
    replace(content, h("p", null, "Only instance administrators see this page."));
    return;
  }
  /** @type {api.User[]} */
  const users = await api.all("/admin/users");
  /**
   * @param {api.User} user
   * @param {Record<string, any>} change
   */
  const update = async (user, change) => {
    try {
      await api.patch(`/admin/users/${user.id}`, change);
      announce(`Updated ${user.name}.`, { visible: true });
    } catch (e) {
      announce(e instanceof api.ApiError && e.status === 409 ? "The last active administrator cannot be demoted or disabled." : e instanceof Error ? e.message : String(e), { error: true });
    }
    ctx.navigate("/admin", { replace: true, force: true });
  };
  // The last active administrator cannot be demoted or disabled (the server says 409): not
  // offered at all, with the reason in its place.
  const admins = users.filter((u) => u.role === "admin" && !u.disabled);
  const last = (/** @type {api.User} */ u) => admins.length === 1 && admins[0].id === u.id;
  replace(content, h("div", { class: "page" },
    h("p", { class: "muted" }, "Everyone with an account on this server."),
    h("table", { class: "table", id: "users" },
      h("thead", null, h("tr", null, ["Person", "Role", "Status", "Second factor"].map((t) => h("th", { scope: "col" }, t)), h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")))),
      h("tbody", null, users.map((u) => h("tr", { dataset: { user: u.id } },
        h("td", null, h("div", null, u.name, u.id === me.id ? h("span", { class: "muted" }, " (you)") : null), h("div", { class: "muted small" }, u.email)),
        h("td", null, u.role === "admin" ? "Administrator" : "User"),
        h("td", null, u.disabled ? h("span", { class: "error-text" }, "Disabled") : "Active"),
        h("td", null, u.second_factor
          ? h("button", { type: "button", class: "ghost danger", "aria-label": `Remove the second factors of ${u.name}`, onclick: () => resetFactors(ctx, u) }, "Remove")
          : h("span", { class: "muted" }, "None")),
        h("td", { class: "actions-cell" }, last(u)
          ? h("span", { class: "muted small" }, "The only administrator")
          : [h("button", { type: "button", class: "ghost", onclick: () => update(u, { role: u.role === "admin" ? "user" : "admin" }) }, u.role === "admin" ? "Make user" : "Make admin"),
            h("button", { type: "button", class: u.disabled ? "ghost" : "ghost danger", onclick: () => update(u, { disabled: !u.disabled }) }, u.disabled ? "Enable" : "Disable")])))))));
}

/**
 * Removes a user's second factors (they lost their phone), after asking.
 * @param {import("../model.js").Context} ctx
 * @param {api.User} user
 */
async function resetFactors(ctx, user) {
  const ok = await confirmDialog("Remove second factors", `Remove every second factor of ${user.name} (authenticator app, recovery codes and passkeys)? Their password alone will sign them in until they set one up again. This is recorded in their security log.`, "Remove", true);
  if (!ok) return;
  try {
    await api.del(`/admin/users/${user.id}/factors`);
    announce(`Removed the second factors of ${user.name}.`, { visible: true });
  } catch (e) {
    announce(e instanceof Error ? e.message : String(e), { error: true });
  }
  ctx.navigate("/admin", { replace: true, force: true });
}
