// The set-up screen of DOCKET_REQUIRE_2FA: a person the server requires a second factor of,
// who has none, is signed in only to set one up (every other request is 403
// `second_factor_setup_required`). An authenticator app or a passkey; then on to the page.

import { h, replace } from "../dom.js";
import { passkeyForm, totpSetup } from "../components/factors.js";

/**
 * @param {HTMLElement} root
 * @param {{state: import("../model.js").State, done: () => Promise<void>, signOut: () => Promise<void>}} options
 */
export function renderSetup(root, options) {
  document.title = "Set up a second factor · Docket";
  const finish = () => { options.done(); };
  const app = h("div", { id: "setup-totp" },
    h("button", { type: "button", class: "primary", id: "setup-totp-start", onclick: () => totpSetup(app, finish, "Continue") }, "Set up an authenticator app"));
  const passkey = h("div", { id: "setup-passkey" });
  passkeyForm(passkey, finish);
  replace(root, h("main", { class: "auth", id: "main" },
    h("div", { class: "auth-card setup-card" },
      h("p", { class: "brand" }, "Docket"),
      h("h1", null, "Set up a second factor"),
      h("p", null, `Hello ${options.state.user?.name || ""}. This server asks you to confirm your sign-ins with a second factor. Set one up to continue.`),
      h("section", { "aria-labelledby": "setup-app" }, h("h2", { id: "setup-app" }, "Authenticator app"),
        h("p", { class: "muted" }, "A six-digit code from an app on your phone, with recovery codes for when you lose it."), app),
      h("section", { "aria-labelledby": "setup-key" }, h("h2", { id: "setup-key" }, "Passkey"),
        h("p", { class: "muted" }, "Your device's screen lock or a security key; it can also sign you in without a password."), passkey),
      h("p", null, h("button", { type: "button", class: "link-button", onclick: () => options.signOut() }, "Sign out")))));
  /** @type {HTMLElement} */ (root.querySelector("#setup-totp-start")).focus();
}
