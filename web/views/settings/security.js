// The person's sign-in settings: two-step sign-in with an authenticator app (with recovery
// codes), passkeys, single sign-on identities, and the account's security log.

import * as api from "../../api.js";
import { h, replace, announce, confirmDialog } from "../../dom.js";
import { passkeyForm, totpSetup } from "../../components/factors.js";

/**
 * @param {import("../../model.js").Context} ctx
 * @param {HTMLElement} content where the sections go
 */
export async function renderSecurity(ctx, content) {
  const totp = h("div", { id: "totp" });
  const passkeys = h("div", { id: "passkeys" });
  const identities = h("div", { id: "identities" });
  const log = h("div", { id: "security-log" });
  const section = (/** @type {string} */ id, /** @type {string} */ title, /** @type {any[]} */ ...children) =>
    h("section", { class: "card-section", "aria-labelledby": id }, h("h2", { id }, title), ...children);
  content.append(
    section("s-totp", "Two-step sign-in", h("p", { class: "muted" }, "With an authenticator app, signing in with your password also asks for a code."), totp),
    section("s-passkeys", "Passkeys", h("p", { class: "muted" }, "Sign in with your device's screen lock or a security key, without a password; a passkey also answers the two-step check."), passkeys),
    section("s-identities", "Single sign-on", identities),
    section("s-log", "Security log", h("p", { class: "muted" }, "Sign-ins and changes to how you sign in, newest first (kept 90 days)."), log));
  await Promise.all([drawTotp(totp), drawPasskeys(passkeys), drawIdentities(identities, ctx.query.get("error")), drawLog(log)]);
}

/** @param {HTMLElement} box */
async function drawTotp(box) {
  const status = await api.get("/me/totp");
  const redraw = () => drawTotp(box).catch((e) => announce(e.message, { error: true }));
  if (!status.enabled) {
    replace(box, h("p", { id: "totp-state" }, "Off."),
      h("button", { type: "button", class: "primary", id: "totp-start", onclick: () => totpSetup(box, redraw).catch((e) => announce(e.message, { error: true })) }, "Set up an authenticator app"));
    return;
  }
  const code = /** @type {HTMLInputElement} */ (h("input", { id: "totp-off-code", autocomplete: "one-time-code", required: true, "aria-describedby": "totp-off-error" }));
  const error = h("p", { class: "field-error", id: "totp-off-error" });
  const off = h("form", {
    class: "inline-form", id: "totp-off", novalidate: true,
    onsubmit: async (/** @type {Event} */ e) => {
      e.preventDefault();
      error.textContent = "";
      const value = code.value.trim();
      const body = /^\d{6}$/.test(value.replace(/\s/g, "")) ? { code: value.replace(/\s/g, "") } : { recovery_code: value };
      try {
        await api.del("/me/totp", { body });
        announce("Two-step sign-in is off.", { visible: true });
        redraw();
      } catch (err) {
        error.textContent = err instanceof api.ApiError && err.code === "validation_failed" ? "That code is not right." : err instanceof Error ? err.message : String(err);
      }
    },
  },
    h("div", { class: "field" }, h("label", { for: "totp-off-code" }, "Code or recovery code"), code),
    h("button", { type: "submit", class: "danger" }, "Turn off"), error);
  replace(box,
    h("p", { id: "totp-state" }, h("strong", null, "On. "), `${status.recovery_codes_left} recovery code${status.recovery_codes_left === 1 ? "" : "s"} left.`),
    h("p", { class: "muted" }, "To turn it off, prove it is you with a code from the app or a recovery code."), off);
}

/** @param {HTMLElement} box */
async function drawPasskeys(box) {
  const keys = (await api.get("/me/passkeys")).items;
  const redraw = () => drawPasskeys(box).catch((e) => announce(e.message, { error: true }));
  const add = h("div", { id: "passkey-add" });
  passkeyForm(add, redraw);
  replace(box,
    keys.length
      ? h("table", { class: "table", id: "passkey-list" },
        h("thead", null, h("tr", null, ["Name", "Added", "Last used"].map((t) => h("th", { scope: "col" }, t)), h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")))),
        h("tbody", null, keys.map((/** @type {any} */ k) => h("tr", null,
          h("td", null, k.name),
          h("td", null, new Date(k.created_at).toLocaleDateString()),
          h("td", null, k.last_used_at ? new Date(k.last_used_at).toLocaleString() : "Never"),
          h("td", { class: "actions-cell" }, h("button", {
            type: "button", class: "ghost danger", "aria-label": `Remove ${k.name}`,
            onclick: async () => {
              if (!(await confirmDialog("Remove passkey", `Remove “${k.name}”? It will no longer sign you in.`, "Remove", true))) return;
              try {
                await api.del(`/me/passkeys/${k.id}`);
                announce(`Removed ${k.name}.`, { visible: true });
              } catch (e) {
                announce(e instanceof Error ? e.message : String(e), { error: true });
              }
              redraw();
            },
          }, "Remove"))))))
      : h("p", { class: "muted" }, "No passkeys yet."),
    add);
}

/** What a refused link says (the provider's redirect back brings `?error=`). */
const LINK_ERRORS = {
  access_denied: "That identity could not be linked: it belongs to another account, or you have one at that provider already.",
  domain_not_allowed: "Accounts of that email domain may not sign in here.",
  provider_error: "The provider could not be reached, or its answer was refused.",
  state_mismatch: "That link did not start in this browser, or was used already. Start again.",
};

/**
 * @param {HTMLElement} box
 * @param {string | null} error
 */
async function drawIdentities(box, error) {
  const [providers, linked] = await Promise.all([api.get("/auth/providers"), api.get("/me/identities")]);
  /** @type {Map<string, any>} */
  const byProvider = new Map(linked.items.map((/** @type {any} */ i) => [i.provider, i]));
  const redraw = () => drawIdentities(box, null).catch((e) => announce(e.message, { error: true }));
  if (!providers.items.length && !linked.items.length) {
    replace(box, h("p", { class: "muted" }, "This server has no single sign-on provider."));
    return;
  }
  /** @type {{id: string, label: string}[]} */
  const rows = [...providers.items];
  for (const i of linked.items) if (!rows.some((p) => p.id === i.provider)) rows.push({ id: i.provider, label: i.provider });
  replace(box,
    error ? h("p", { class: "form-error", role: "alert", id: "identity-error" }, /** @type {Record<string, string>} */ (LINK_ERRORS)[error] || "That identity could not be linked.") : null,
    h("table", { class: "table", id: "identity-list" },
      h("thead", null, h("tr", null, ["Provider", "Account"].map((t) => h("th", { scope: "col" }, t)), h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")))),
      h("tbody", null, rows.map((p) => {
        const identity = byProvider.get(p.id);
        return h("tr", { dataset: { provider: p.id } },
          h("td", null, p.label),
          h("td", null, identity ? identity.email || "Linked" : h("span", { class: "muted" }, "Not linked")),
          h("td", { class: "actions-cell" }, identity
            ? h("button", {
              type: "button", class: "ghost danger", "aria-label": `Unlink ${p.label}`,
              onclick: async () => {
                try {
                  await api.del(`/me/identities/${encodeURIComponent(p.id)}`);
                  announce(`Unlinked ${p.label}.`, { visible: true });
                } catch (e) {
                  announce(e instanceof api.ApiError && e.status === 409 ? "It is your only way to sign in: add a passkey or link another provider first." : e instanceof Error ? e.message : String(e), { error: true });
                }
                redraw();
              },
            }, "Unlink")
            : h("button", {
              type: "button", "aria-label": `Link ${p.label}`,
              onclick: async () => {
                try {
                  const start = await api.post(`/me/identities/${encodeURIComponent(p.id)}`, { return_to: "/settings" });
                  location.assign(start.redirect_to);
                } catch (e) {
                  announce(e instanceof Error ? e.message : String(e), { error: true });
                }
              },
            }, "Link")));
      }))));
}

/** A log entry as a sentence. */
const KINDS = {
  signed_in: "Signed in",
  second_factor_failed: "A wrong second factor",
  totp_enabled: "Two-step sign-in turned on",
  totp_disabled: "Two-step sign-in turned off",
  passkey_added: "Passkey added",
  passkey_removed: "Passkey removed",
  identity_linked: "Single sign-on linked",
  identity_unlinked: "Single sign-on unlinked",
  password_changed: "Password changed",
  api_token_created: "API token created",
  api_token_revoked: "API token revoked",
  factors_reset: "Second factors removed by an administrator",
};

/** @param {string | null} method */
function how(method) {
  if (!method) return "";
  if (method.startsWith("oidc:")) return `single sign-on (${method.slice(5)})`;
  return method.replace("password+totp", "password and app code").replace("password+recovery_code", "password and recovery code")
    .replace("password+passkey", "password and passkey").replace("recovery_code", "recovery code").replace("totp", "app code");
}

/**
 * @param {HTMLElement} box
 * @param {string | null} [cursor]
 * @param {any[]} [shown]
 */
async function drawLog(box, cursor = null, shown = []) {
  const page = await api.get("/me/security-events?limit=20" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : ""));
  const items = [...shown, ...page.items];
  replace(box,
    h("table", { class: "table", id: "security-events" },
      h("thead", null, h("tr", null, ["When", "What", "How", "From"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", null, items.map((/** @type {any} */ e) => h("tr", null,
        h("td", null, new Date(e.created_at).toLocaleString()),
        h("td", null, /** @type {Record<string, string>} */ (KINDS)[e.kind] || e.kind, e.detail && e.kind !== "signed_in" ? h("span", { class: "muted" }, ` · ${e.detail}`) : null),
        h("td", null, how(e.method)),
        h("td", null, e.address || "", e.user_agent ? h("div", { class: "muted small" }, e.user_agent) : null))))),
    page.next_cursor ? h("button", { type: "button", onclick: () => drawLog(box, page.next_cursor, items) }, "Show more") : null);
}
