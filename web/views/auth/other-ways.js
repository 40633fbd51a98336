// The other ways to sign in, under the password form: a link per single sign-on provider
// (`GET /auth/providers`; the browser goes to the provider and comes back signed in) and a
// passkey, which needs no email (the authenticator offers the accounts it holds for this site).

import * as api from "../../api.js";
import { h, replace } from "../../dom.js";
import * as webauthn from "../../webauthn.js";

/**
 * @param {HTMLElement} box
 * @param {string} next where to land once signed in
 * @param {(session: api.Session) => Promise<void>} done
 * @param {(message: string) => void} fail
 */
export async function otherWays(box, next, done, fail) {
  /** @type {{items: {id: string, label: string}[], passkeys: boolean}} */
  let providers;
  try {
    providers = await api.get("/auth/providers");
  } catch {
    return;
  }
  const passkeys = providers.passkeys && webauthn.supported();
  if (!providers.items.length && !passkeys) return;
  const passkey = passkeys ? h("button", {
    type: "button", class: "wide", id: "passkey-sign-in",
    onclick: async () => {
      fail("");
      try {
        const start = await api.post("/auth/passkey/start", {});
        const credential = await webauthn.get(start.options);
        await done(await api.post("/auth/passkey/finish", { challenge: start.challenge, credential }, { quiet401: true }));
      } catch (e) {
        fail(e instanceof api.ApiError && e.status === 401 ? "That passkey is not one of this server's accounts." : webauthn.sentence(e));
      }
    },
  }, "Sign in with a passkey") : null;
  replace(box,
    h("p", { class: "or" }, h("span", null, "or")),
    h("ul", { class: "sign-in-ways", "aria-label": "Other ways to sign in" },
      providers.items.map((p) => h("li", null,
        h("a", { class: "button wide", href: `/api/v1/auth/oidc/${encodeURIComponent(p.id)}/start?return_to=${encodeURIComponent(next)}` }, `Sign in with ${p.label}`))),
      passkey ? h("li", null, passkey) : null));
}
