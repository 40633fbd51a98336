// Sign in and sign up. Field errors go under their fields; a 429 says how long to wait. Below
// the form, the other ways in (single sign-on providers, a passkey: auth/other-ways.js); an
// account with a second factor gets the second step (auth/second-factor.js); a refused single
// sign-on comes back here as ?error=<code> and is said in words. Both parts are loaded when
// needed (`import()`), so that a signed-in first visit does not fetch them.

import * as api from "../api.js";
import { h, replace } from "../dom.js";

/** What each refusal of single sign-on (API.md §21) means for the person. */
const SSO_ERRORS = {
  access_denied: "The sign-in was refused: the provider declined it, or this server does not create accounts through it. Ask an administrator for an account.",
  domain_not_allowed: "Accounts of that email domain may not sign in here.",
  account_exists_link_first: "An account with this email exists already. Sign in to it another way, then link the provider in Settings.",
  account_disabled: "This account has been disabled.",
  provider_error: "The sign-in provider could not be reached, or its answer was refused. Try again, or ask an administrator.",
  state_mismatch: "That sign-in did not start in this browser, or was used already. Start again.",
};

/**
 * @typedef {{mode: "signin" | "signup", state: import("../model.js").State, navigate: (url: string, o?: any) => void,
 *   signedIn: (session: api.Session) => Promise<void>, next: string | null, error?: string | null}} AuthOptions
 */

/**
 * @param {HTMLElement} root
 * @param {AuthOptions} options
 */
export function renderAuth(root, options) {
  const signup = options.mode === "signup";
  document.title = (signup ? "Sign up" : "Sign in") + " · Docket";
  /** @type {Record<string, HTMLInputElement>} */
  const inputs = {};
  /** @type {Record<string, HTMLElement>} */
  const errors = {};
  /**
   * @param {string} name
   * @param {string} label
   * @param {Record<string, any>} attrs
   */
  const field = (name, label, attrs) => {
    const id = `auth-${name}`;
    inputs[name] = /** @type {HTMLInputElement} */ (h("input", { id, name, required: true, "aria-describedby": `${id}-error`, ...attrs }));
    errors[name] = h("p", { class: "field-error", id: `${id}-error` });
    return h("div", { class: "field" }, h("label", { for: id }, label), inputs[name], errors[name]);
  };
  const formError = h("p", { class: "form-error", role: "alert", id: "auth-error" },
    options.error ? /** @type {Record<string, string>} */ (SSO_ERRORS)[options.error] || "The sign-in was refused." : null);
  const next = options.next && options.next.startsWith("/") && !options.next.startsWith("//") ? options.next : "/";
  /** @param {api.Session} session */
  const done = async (session) => {
    await options.signedIn(session);
    options.navigate(next, { replace: true });
  };
  const submit = /** @type {HTMLButtonElement} */ (h("button", { type: "submit", class: "primary wide" }, signup ? "Create account" : "Sign in"));
  const form = h("form", { class: "auth-form", novalidate: true, onsubmit: onSubmit },
    signup ? field("name", "Name", { autocomplete: "name", maxlength: 100 }) : null,
    field("email", "Email", { type: "email", autocomplete: "email" }),
    field("password", "Password", { type: "password", autocomplete: signup ? "new-password" : "current-password", minlength: signup ? 10 : undefined }),
    signup ? h("p", { class: "hint" }, "At least 10 characters; a phrase of a few words is easiest to remember.") : null,
    formError,
    submit);

  /** @param {Event} e */
  async function onSubmit(e) {
    e.preventDefault();
    for (const [name, el] of Object.entries(errors)) {
      el.textContent = "";
      inputs[name].removeAttribute("aria-invalid");
    }
    formError.textContent = "";
    submit.disabled = true;
    const email = inputs.email.value;
    const password = inputs.password.value;
    try {
      if (signup) await api.post("/auth/register", { email, password, name: inputs.name.value }, { quiet401: true });
      await done(await api.post("/auth/session", { email, password }, { quiet401: true }));
    } catch (err) {
      if (!(err instanceof api.ApiError)) throw err;
      if (err.code === "second_factor_required") {
        const card = /** @type {HTMLElement} */ (root.querySelector(".auth-card"));
        const { secondFactorStep } = await import("./auth/second-factor.js");
        secondFactorStep(card, err.problem, done, () => renderAuth(root, { ...options, error: null }));
        return;
      }
      let placed = false;
      for (const fieldError of err.errors) {
        const name = fieldError.field.split(".")[0];
        if (errors[name]) {
          errors[name].textContent = err.fieldMessage(name);
          inputs[name].setAttribute("aria-invalid", "true");
          if (!placed) inputs[name].focus();
          placed = true;
        }
      }
      if (!placed) {
        formError.textContent = err.code === "invalid_credentials" ? "That email and password do not match an account." : err.message;
        if (err.code === "email_taken") {
          errors.email.textContent = "An account with this email exists already. Sign in instead.";
          inputs.email.setAttribute("aria-invalid", "true");
          formError.textContent = "";
        }
      }
    } finally {
      submit.disabled = false;
    }
  }

  const switchLink = signup
    ? h("p", null, "Have an account? ", h("a", { href: "/signin" + (options.next ? "?next=" + encodeURIComponent(options.next) : "") }, "Sign in"))
    : options.state.registrationOpen
      ? h("p", null, "New here? ", h("a", { href: "/signup" + (options.next ? "?next=" + encodeURIComponent(options.next) : ""), id: "to-signup" }, "Create an account"))
      : h("p", { class: "muted" }, "Sign-up is closed on this server; ask an administrator for an account.");

  const others = h("div", { class: "other-ways" });
  replace(root, h("main", { class: "auth", id: "main" },
    h("div", { class: "auth-card" },
      h("p", { class: "brand" }, "Docket"),
      h("h1", null, signup ? "Create your account" : "Sign in"),
      form,
      signup ? null : h("p", null, h("a", { href: "/forgot", id: "to-forgot" }, "Forgot your password?")),
      signup ? null : others,
      switchLink)));
  (signup ? inputs.name : inputs.email).focus();
  if (!signup) {
    import("./auth/other-ways.js").then(({ otherWays }) => otherWays(others, next, done, (message) => { formError.textContent = message; }));
  }
}
