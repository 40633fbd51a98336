// The pages reached from an email (API.md §14): "forgot password" (asks for a link), the reset
// page (`/reset?token=…`: a new password), and an invitation's page (`/invite?token=…`: join the
// project, signed in or with a new account). Outside the layout, like sign-in.

import * as api from "../api.js";
import { h, replace } from "../dom.js";

/**
 * @typedef {{state: import("../model.js").State, navigate: (url: string, o?: any) => void,
 *   signedIn: (session: api.Session) => Promise<void>, refreshProjects: () => Promise<void>, token: string | null}} RecoveryOptions
 */

/**
 * A card like sign-in's.
 * @param {HTMLElement} root
 * @param {string} title
 * @param {...any} children
 */
function card(root, title, ...children) {
  document.title = `${title} · Docket`;
  replace(root, h("main", { class: "auth", id: "main" },
    h("div", { class: "auth-card" }, h("p", { class: "brand" }, "Docket"), h("h1", null, title), ...children)));
}

/**
 * One labelled input with its error line.
 * @param {string} id
 * @param {string} label
 * @param {Record<string, any>} attrs
 */
function field(id, label, attrs) {
  const input = /** @type {HTMLInputElement} */ (h("input", { id, required: true, "aria-describedby": `${id}-error`, ...attrs }));
  const error = h("p", { class: "field-error", id: `${id}-error` });
  return { input, error, el: h("div", { class: "field" }, h("label", { for: id }, label), input, error) };
}

/**
 * Puts the server's field errors under their inputs; the rest into `formError`.
 * @param {unknown} err
 * @param {Record<string, {input: HTMLInputElement, error: HTMLElement}>} fields
 * @param {HTMLElement} formError
 */
function showErrors(err, fields, formError) {
  if (!(err instanceof api.ApiError)) throw err;
  let placed = false;
  for (const [name, f] of Object.entries(fields)) {
    const text = err.fieldMessage(name);
    f.error.textContent = text;
    if (text) {
      f.input.setAttribute("aria-invalid", "true");
      placed = true;
    } else {
      f.input.removeAttribute("aria-invalid");
    }
  }
  formError.textContent = placed ? "" : err.message;
}

/**
 * "Forgot password": the same answer whether or not the address has an account.
 * @param {HTMLElement} root
 */
export function renderForgot(root) {
  const email = field("forgot-email", "Email", { type: "email", autocomplete: "email" });
  const formError = h("p", { class: "form-error", role: "alert", id: "forgot-error" });
  const submit = /** @type {HTMLButtonElement} */ (h("button", { type: "submit", class: "primary wide" }, "Send reset link"));
  const form = h("form", {
    class: "auth-form", novalidate: true,
    onsubmit: async (/** @type {Event} */ e) => {
      e.preventDefault();
      submit.disabled = true;
      try {
        await api.post("/auth/password-reset", { email: email.input.value }, { quiet401: true });
        replace(form, h("p", { role: "status", id: "forgot-sent" },
          `If ${email.input.value} belongs to an account, a link to choose a new password is on its way. It works for one hour.`));
      } catch (err) {
        showErrors(err, { email }, formError);
        if (err instanceof api.ApiError && err.status === 503) formError.textContent = "This server cannot send email. Ask an administrator to reset your password.";
      } finally {
        submit.disabled = false;
      }
    },
  }, email.el, formError, submit);
  card(root, "Reset your password",
    h("p", { class: "muted" }, "Enter your account's email; we send you a link to choose a new password."),
    form,
    h("p", null, h("a", { href: "/signin" }, "Back to sign in")));
  email.input.focus();
}

/**
 * The reset link's page: a new password, then sign in with it.
 * @param {HTMLElement} root
 * @param {RecoveryOptions} options
 */
export function renderReset(root, options) {
  const password = field("reset-password", "New password", { type: "password", autocomplete: "new-password", minlength: 10 });
  const formError = h("p", { class: "form-error", role: "alert", id: "reset-error" });
  const submit = /** @type {HTMLButtonElement} */ (h("button", { type: "submit", class: "primary wide" }, "Set password"));
  const form = h("form", {
    class: "auth-form", novalidate: true,
    onsubmit: async (/** @type {Event} */ e) => {
      e.preventDefault();
      submit.disabled = true;
      try {
        await api.post("/auth/password-reset/confirm", { token: options.token || "", new_password: password.input.value }, { quiet401: true });
        replace(form, h("p", { role: "status", id: "reset-done" }, "Your password is changed, and every other sign-in has ended. ",
          h("a", { href: "/signin" }, "Sign in")));
      } catch (err) {
        showErrors(err, { new_password: password }, formError);
        if (err instanceof api.ApiError && err.fieldMessage("token")) {
          replace(formError, "This link is used or expired. ", h("a", { href: "/forgot" }, "Ask for a new one"), ".");
        }
      } finally {
        submit.disabled = false;
      }
    },
  }, password.el, h("p", { class: "hint" }, "At least 10 characters."), formError, submit);
  card(root, "Choose a new password", form);
  password.input.focus();
}

/**
 * An invitation's page: signed in, join with one button; otherwise open an account with the
 * invited email (the server knows it), then sign in with it.
 * @param {HTMLElement} root
 * @param {RecoveryOptions} options
 */
export function renderInvite(root, options) {
  const token = options.token || "";
  const formError = h("p", { class: "form-error", role: "alert", id: "invite-error" });
  /** @param {any} accepted */
  const joined = async (accepted) => {
    await options.refreshProjects();
    options.navigate(`/p/${accepted.project_id}`, { replace: true, force: true });
  };
  const user = options.state.user;
  if (user) {
    const join = /** @type {HTMLButtonElement} */ (h("button", {
      type: "button", class: "primary wide", id: "accept-invitation",
      onclick: async () => {
        join.disabled = true;
        try {
          await joined(await api.post("/invitations/accept", { token }));
        } catch (err) {
          formError.textContent = err instanceof api.ApiError && err.code === "validation_failed"
            ? `This invitation is used, withdrawn, expired, or for another email than ${user.email}.`
            : err instanceof Error ? err.message : String(err);
          join.disabled = false;
        }
      },
    }, "Join the project"));
    card(root, "You are invited", h("p", null, `You are signed in as ${user.email}. Join the project you were invited to?`), formError, join);
    return;
  }
  const name = field("invite-name", "Name", { autocomplete: "name", maxlength: 100 });
  const password = field("invite-password", "Password", { type: "password", autocomplete: "new-password", minlength: 10 });
  const submit = /** @type {HTMLButtonElement} */ (h("button", { type: "submit", class: "primary wide" }, "Create account and join"));
  const form = h("form", {
    class: "auth-form", novalidate: true,
    onsubmit: async (/** @type {Event} */ e) => {
      e.preventDefault();
      submit.disabled = true;
      try {
        const accepted = await api.post("/invitations/accept", { token, name: name.input.value, password: password.input.value }, { quiet401: true });
        await options.signedIn(await api.post("/auth/session", { email: accepted.user.email, password: password.input.value }, { quiet401: true }));
        await joined(accepted);
      } catch (err) {
        showErrors(err, { name, password }, formError);
        if (err instanceof api.ApiError && err.fieldMessage("token")) formError.textContent = "This invitation is used, withdrawn or expired. Ask for a new one.";
        if (err instanceof api.ApiError && err.code === "email_taken") formError.textContent = "An account with the invited email exists already: sign in first, then open the link again.";
      } finally {
        submit.disabled = false;
      }
    },
  }, name.el, password.el, h("p", { class: "hint" }, "At least 10 characters."), formError, submit);
  const next = encodeURIComponent(`/invite?token=${token}`);
  card(root, "Join Docket",
    h("p", { class: "muted" }, "You were invited to a project. Create your account with the email the invitation was sent to."),
    form,
    h("p", null, "Have an account with that email? ", h("a", { href: `/signin?next=${next}` }, "Sign in first")));
  name.input.focus();
}
