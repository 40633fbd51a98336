// Members and roles: list, add by email (an email without an account is invited: API.md §14),
// pending invitations (withdraw), change role, remove, transfer ownership, leave.
// Controls appear only for those the role table (API.md §3) allows; the server's 403s are
// still handled, because roles can change while the page is open.

import * as api from "../api.js";
import { h, replace, announce, confirmDialog } from "../dom.js";
import { forgetMembers } from "../model.js";

/** @type {api.Role[]} */
const ROLES = ["viewer", "editor", "admin", "owner"];
const ROLE_NAMES = { viewer: "Viewer", editor: "Editor", admin: "Admin", owner: "Owner" };

/**
 * The page on screen: the project, who is looking, and their role in it.
 * @typedef {{ctx: import("../model.js").Context, project: api.Project, me: api.User, myRole: api.Role}} Page
 */

/**
 * @param {import("../model.js").Context} ctx
 * @param {HTMLElement} content
 */
export async function renderMembers(ctx, content) {
  const project = /** @type {api.Project} */ (ctx.project);
  /** @type {Page} */
  const page = { ctx, project, me: /** @type {api.User} */ (ctx.state.user), myRole: project.my_role };
  forgetMembers(project.id);
  /** @type {api.Member[]} */
  const members = await api.all(`/projects/${project.id}/members`);
  const rows = members.map((m) => memberRow(page, m));
  const canAdd = api.can(page.myRole, "admin");
  /** @type {any[]} */
  const invitations = canAdd && !project.is_inbox ? await api.all(`/projects/${project.id}/invitations`) : [];
  replace(content, h("div", { class: "page" },
    h("h2", null, "Members"),
    h("p", { class: "muted" }, "Viewers read; editors also change tasks; admins also manage the project and its members; the owner can do everything, including deleting the project."),
    h("table", { class: "table", id: "members" },
      h("thead", null, h("tr", null, h("th", { scope: "col" }, "Person"), h("th", { scope: "col" }, "Role"), h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")))),
      h("tbody", null, rows)),
    invitations.length ? invitationList(page, invitations) : null,
    canAdd ? h("h3", null, "Add a member") : null,
    canAdd ? h("div", { id: "invite-link" }) : null,
    canAdd ? addForm(page) : null));
  if (justInvited) showLink(justInvited.email, justInvited.link);
  justInvited = null;
}

/**
 * Which roles I may give to someone who has `current` (API.md §3): admins manage roles below
 * admin; the owner manages everything and can hand over ownership.
 * @param {api.Role} myRole
 * @param {api.Role} current
 * @returns {api.Role[]}
 */
function assignable(myRole, current) {
  if (myRole === "owner") return ROLES;
  if (myRole === "admin" && current !== "admin" && current !== "owner") return ["viewer", "editor"];
  return [];
}

/**
 * @param {Page} page
 * @param {unknown} e
 */
function explain(page, e) {
  if (e instanceof api.ApiError && e.status === 403) {
    // Our role changed meanwhile: learn the new one, so the redrawn page shows the truth.
    page.ctx.refreshProjects().catch(() => {});
    return "You are not allowed to do that in this project (any more).";
  }
  return e instanceof Error ? e.message : String(e);
}

/** @param {Page} page */
const reload = (page) => page.ctx.navigate(location.pathname, { replace: true, force: true });

/**
 * @param {Page} page
 * @param {api.Member} member
 * @param {api.Role} role
 */
async function changeRole(page, member, role) {
  const { ctx, project, me } = page;
  if (role === "owner") {
    const ok = await confirmDialog("Transfer ownership", `Make ${member.user.name} the owner of “${project.name}”? You become an admin.`, "Transfer ownership", true);
    if (!ok) return reload(page);
  }
  try {
    await api.put(`/projects/${project.id}/members/${member.user.id}`, { role });
    announce(`${member.user.name} is now ${ROLE_NAMES[role].toLowerCase()}.`, { visible: true });
    if (role === "owner" || member.user.id === me.id) await ctx.refreshProjects();
  } catch (e) {
    announce(explain(page, e), { error: true });
    if (e instanceof api.ApiError && e.status === 403) await ctx.refreshProjects();
  }
  reload(page);
}

/**
 * @param {Page} page
 * @param {api.Member} member
 */
async function remove(page, member) {
  const { ctx, project, me } = page;
  const self = member.user.id === me.id;
  const ok = await confirmDialog(self ? "Leave project" : "Remove member",
    self ? `Leave “${project.name}”? You will lose access to it.` : `Remove ${member.user.name} from “${project.name}”?`,
    self ? "Leave project" : "Remove", true);
  if (!ok) return;
  try {
    await api.del(`/projects/${project.id}/members/${member.user.id}`);
    if (self) {
      await ctx.refreshProjects();
      announce(`You left ${project.name}.`, { visible: true });
      return ctx.navigate("/", { force: true });
    }
    announce(`Removed ${member.user.name}.`, { visible: true });
  } catch (e) {
    announce(explain(page, e), { error: true });
  }
  reload(page);
}

/**
 * One member: name and email, their role (a select where I may change it), remove or leave.
 * @param {Page} page
 * @param {api.Member} m
 */
function memberRow(page, m) {
  const { me, myRole } = page;
  const roles = m.user.id === me.id ? [] : assignable(myRole, m.role);
  const roleCell = roles.length
    ? (() => {
      const id = `role-${m.user.id}`;
      const select = /** @type {HTMLSelectElement} */ (h("select", { id, "aria-label": `Role of ${m.user.name}` },
        roles.map((r) => h("option", { value: r, selected: r === m.role }, ROLE_NAMES[r]))));
      select.addEventListener("change", () => changeRole(page, m, /** @type {api.Role} */ (select.value)));
      return select;
    })()
    : h("span", { class: `role role-${m.role}` }, ROLE_NAMES[m.role]);
  const self = m.user.id === me.id;
  const canRemove = self ? m.role !== "owner" : (myRole === "owner" || (myRole === "admin" && (m.role === "viewer" || m.role === "editor")));
  return h("tr", { dataset: { user: m.user.id } },
    h("td", null, h("div", null, m.user.name, self ? h("span", { class: "muted" }, " (you)") : null), h("div", { class: "muted small" }, m.user.email)),
    h("td", null, roleCell),
    h("td", { class: "actions-cell" }, canRemove ? h("button", { type: "button", class: "ghost danger", onclick: () => remove(page, m) }, self ? "Leave project" : "Remove") : null));
}

/** @type {{email: string, link: string} | null} an invitation's link, for the next drawing only */
let justInvited = null;

/**
 * Invitations waiting for an answer, each with "Withdraw" (for whoever may give its role).
 * @param {Page} page
 * @param {any[]} invitations
 */
function invitationList(page, invitations) {
  return [h("h3", null, "Pending invitations"),
    h("table", { class: "table", id: "invitations" },
      h("thead", null, h("tr", null, ["Email", "Role", "Expires"].map((t) => h("th", { scope: "col" }, t)), h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")))),
      h("tbody", null, invitations.map((i) => h("tr", { dataset: { invitation: i.id } },
        h("td", null, i.email),
        h("td", null, ROLE_NAMES[/** @type {api.Role} */ (i.role)]),
        h("td", null, new Date(i.expires_at).toLocaleDateString()),
        h("td", { class: "actions-cell" }, i.role === "admin" && page.myRole !== "owner" ? null : h("button", {
          type: "button", class: "ghost danger", "aria-label": `Withdraw the invitation of ${i.email}`,
          onclick: async () => {
            if (!(await confirmDialog("Withdraw invitation", `Withdraw the invitation of ${i.email}? Its link stops working.`, "Withdraw", true))) return;
            try {
              await api.del(`/invitations/${i.id}`);
              announce(`Withdrew the invitation of ${i.email}.`, { visible: true });
            } catch (e) {
              announce(explain(page, e), { error: true });
            }
            reload(page);
          },
        }, "Withdraw"))))))];
}

/**
 * An invitation made without email on the server: its link, once, to pass on by hand.
 * @param {string} email
 * @param {string} link
 */
function showLink(email, link) {
  const box = document.getElementById("invite-link");
  if (!box) return;
  const shown = /** @type {HTMLInputElement} */ (h("input", { id: "invite-link-value", readonly: true, value: link, "aria-label": "Invitation link", class: "mono" }));
  const copy = h("button", {
    type: "button", id: "copy-invite-link",
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(link);
        announce("Copied.", { visible: true });
      } catch {
        shown.select();
        announce("Select the link and copy it with Ctrl+C.", { visible: true });
      }
    },
  }, "Copy");
  replace(box, h("div", { class: "notice", role: "status" },
    h("p", null, h("strong", null, `${email} has no account yet and is invited. `), "This server sends no email: give them this link yourself. It is shown only once and works for 7 days."),
    h("div", { class: "copy-row" }, shown, copy)));
}

/**
 * Adding a member by email, with a role up to mine (admins add viewers and editors).
 * @param {Page} page
 */
function addForm(page) {
  const { project, myRole } = page;
  const email = /** @type {HTMLInputElement} */ (h("input", { id: "member-email", type: "email", required: true, autocomplete: "off", "aria-describedby": "member-email-error" }));
  const role = /** @type {HTMLSelectElement} */ (h("select", { id: "member-role" },
    (myRole === "owner" ? ["viewer", "editor", "admin"] : ["viewer", "editor"]).map((r) => h("option", { value: r, selected: r === "editor" }, ROLE_NAMES[/** @type {api.Role} */ (r)]))));
  const emailError = h("p", { class: "field-error", id: "member-email-error" });
  return h("form", {
    class: "inline-form", id: "add-member",
    onsubmit: async (/** @type {Event} */ e) => {
      e.preventDefault();
      emailError.textContent = "";
      try {
        const added = await api.post(`/projects/${project.id}/members`, { email: email.value, role: role.value });
        if (added.invitation) {
          announce(`Invited ${email.value}.`, { visible: true });
          // The redrawn page shows the link (once) above the form.
          if (added.link) justInvited = { email: added.invitation.email, link: added.link };
          return reload(page);
        }
        announce(`Added ${email.value}.`, { visible: true });
        reload(page);
      } catch (err) {
        emailError.textContent = err instanceof api.ApiError && err.errors.length ? (err.fieldMessage("email") || err.message) : explain(page, err);
        email.setAttribute("aria-invalid", "true");
      }
    },
  },
    h("div", { class: "field" }, h("label", { for: "member-email" }, "Email"), email, emailError),
    h("div", { class: "field" }, h("label", { for: "member-role" }, "Role"), role),
    h("button", { type: "submit", class: "primary" }, "Add member"));
}
