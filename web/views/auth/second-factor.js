// The second step of a password sign-in: the account has a second factor, and the server
// answered 401 `second_factor_required` with a challenge. A code from the authenticator app,
// a recovery code, or a passkey (when the account has one) answers it.

import * as api from "../../api.js";
import { h, replace } from "../../dom.js";
import * as webauthn from "../../webauthn.js";

/**
 * Replaces the card's content with the second step.
 * @param {HTMLElement} card
 * @param {any} problem the 401's body: `challenge`, `factors`, `passkey.options`
 * @param {(session: api.Session) => Promise<void>} done
 * @param {() => void} back to the password form
 */
export function secondFactorStep(card, problem, done, back) {
  const factors = /** @type {string[]} */ (problem.factors || []);
  let recovery = !factors.includes("totp");
  const label = h("label", { for: "second-factor-code" });
  const input = /** @type {HTMLInputElement} */ (h("input", { id: "second-factor-code", name: "code", required: true, "aria-describedby": "second-factor-error" }));
  const error = h("p", { class: "form-error", role: "alert", id: "second-factor-error" });
  const submit = /** @type {HTMLButtonElement} */ (h("button", { type: "submit", class: "primary wide" }, "Verify"));
  const toggle = factors.includes("totp") ? h("button", { type: "button", class: "link-button", id: "use-recovery-code", onclick: () => { recovery = !recovery; setMode(); } }) : null;
  const setMode = () => {
    label.textContent = recovery ? "Recovery code" : "Code from your authenticator app";
    Object.assign(input, { value: "", inputMode: recovery ? "text" : "numeric", autocomplete: recovery ? "off" : "one-time-code", placeholder: recovery ? "xxxx-xxxx-xxxx-xxxx" : "123456" });
    if (toggle) toggle.textContent = recovery ? "Use the authenticator app instead" : "Use a recovery code instead";
    input.focus();
  };
  /** @param {Record<string, any>} answer */
  const send = async (answer) => {
    error.textContent = "";
    submit.disabled = true;
    try {
      await done(await api.post("/auth/session/second-factor", { challenge: problem.challenge, ...answer }, { quiet401: true }));
    } catch (e) {
      if (e instanceof api.ApiError && e.code === "invalid_credentials") error.textContent = "That is not right. Try again.";
      else if (e instanceof api.ApiError && e.status === 401) error.textContent = "This sign-in took too long. Go back and sign in again.";
      else error.textContent = e instanceof api.ApiError ? e.message : webauthn.sentence(e);
    } finally {
      submit.disabled = false;
    }
  };
  const form = h("form", {
    class: "auth-form", novalidate: true, id: "second-factor",
    onsubmit: (/** @type {Event} */ e) => {
      e.preventDefault();
      send(recovery ? { recovery_code: input.value } : { code: input.value.replace(/\s/g, "") });
    },
  }, h("div", { class: "field" }, label, input), error, submit);
  const passkey = problem.passkey && webauthn.supported() ? h("button", {
    type: "button", class: "wide", id: "second-factor-passkey",
    onclick: async () => {
      try {
        send({ credential: await webauthn.get(problem.passkey.options) });
      } catch (e) {
        error.textContent = webauthn.sentence(e);
      }
    },
  }, "Use a passkey") : null;
  const codes = factors.includes("totp") || factors.includes("recovery_code");
  replace(card,
    h("p", { class: "brand" }, "Docket"),
    h("h1", null, "Two-step sign-in"),
    h("p", { class: "muted" }, codes ? "Your password was right. Now confirm it is you." : "Your password was right. Now confirm it is you with your passkey."),
    codes ? form : null,
    codes && toggle ? h("p", null, toggle) : null,
    passkey,
    h("p", null, h("button", { type: "button", class: "link-button", onclick: back }, "Back to sign-in")));
  if (codes) setMode();
  else passkey?.focus();
}
