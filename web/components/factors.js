// Setting up a second factor, as the settings and the forced set-up screen (DOCKET_REQUIRE_2FA)
// both offer it: an authenticator app (TOTP: the server's QR code, the key to type, a code to
// confirm, then the recovery codes, shown once, to copy or download) and a passkey.

import * as api from "../api.js";
import { h, replace, announce } from "../dom.js";
import * as webauthn from "../webauthn.js";

const SVG = "http://www.w3.org/2000/svg";

/**
 * The server's QR code as DOM nodes. The markup is parsed, never inserted: only its `rect`
 * and `path` elements and their geometry and fill are copied into a fresh `svg`.
 * @param {string} markup
 * @returns {SVGSVGElement}
 */
export function qrCode(markup) {
  const parsed = new DOMParser().parseFromString(markup, "image/svg+xml").documentElement;
  const svg = /** @type {SVGSVGElement} */ (document.createElementNS(SVG, "svg"));
  svg.setAttribute("viewBox", parsed.getAttribute("viewBox") || "0 0 1 1");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "QR code to scan with your authenticator app");
  for (const child of Array.from(parsed.children)) {
    if (child.localName !== "rect" && child.localName !== "path") continue;
    const copy = document.createElementNS(SVG, child.localName);
    for (const name of ["d", "x", "y", "width", "height", "fill"]) {
      const value = child.getAttribute(name);
      if (value !== null) copy.setAttribute(name, value);
    }
    svg.append(copy);
  }
  return svg;
}

/**
 * The recovery codes, shown once: to copy or to download as a text file.
 * @param {string[]} codes
 */
export function recoveryCodes(codes) {
  const text = `Docket recovery codes for ${location.host}\nEach works once, instead of a code from your authenticator app.\n\n${codes.join("\n")}\n`;
  const copy = h("button", {
    type: "button", id: "copy-recovery-codes",
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(text);
        announce("Copied.", { visible: true });
      } catch {
        announce("Select the codes and copy them with Ctrl+C.", { visible: true });
      }
    },
  }, "Copy");
  const download = h("button", {
    type: "button", id: "download-recovery-codes",
    onclick: () => {
      const url = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
      const a = h("a", { href: url, download: "docket-recovery-codes.txt", hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      // Kept a minute: a busy browser may start reading the file after a second.
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    },
  }, "Download");
  return h("div", { class: "notice", id: "recovery-codes", role: "status" },
    h("p", null, h("strong", null, "Your recovery codes. "), "Keep them somewhere safe: each works once if you lose your phone. They are shown only now."),
    h("ul", { class: "recovery-codes", "aria-label": "Recovery codes" }, codes.map((c) => h("li", null, c))),
    h("div", { class: "actions-row" }, copy, download));
}

/**
 * Sets up an authenticator app: start, scan or type the key, confirm with a code; then the
 * recovery codes and a button that calls `done`.
 * @param {HTMLElement} box
 * @param {() => void} done
 * @param {string} [doneLabel]
 */
export async function totpSetup(box, done, doneLabel = "Done") {
  const enrolment = await api.post("/me/totp", {});
  const code = /** @type {HTMLInputElement} */ (h("input", { id: "totp-code", inputmode: "numeric", autocomplete: "one-time-code", maxlength: 10, required: true, "aria-describedby": "totp-code-error" }));
  const error = h("p", { class: "field-error", id: "totp-code-error" });
  const confirm = h("form", {
    class: "stack-form", id: "totp-confirm", novalidate: true,
    onsubmit: async (/** @type {Event} */ e) => {
      e.preventDefault();
      error.textContent = "";
      code.removeAttribute("aria-invalid");
      try {
        const result = await api.post("/me/totp/confirm", { code: code.value.replace(/\s/g, "") });
        replace(box, h("p", null, "The authenticator app is set up: sign-ins with your password now ask for a code."),
          recoveryCodes(result.recovery_codes),
          h("button", { type: "button", class: "primary", id: "totp-done", onclick: done }, doneLabel));
      } catch (err) {
        if (!(err instanceof api.ApiError)) throw err;
        error.textContent = err.code === "validation_failed" ? "That code is not right; check the app's clock and try the newest code." : err.message;
        code.setAttribute("aria-invalid", "true");
        code.focus();
      }
    },
  },
    h("div", { class: "field" }, h("label", { for: "totp-code" }, "Code from the app"), code, error),
    h("button", { type: "submit", class: "primary" }, "Turn on"));
  replace(box,
    h("ol", { class: "steps" },
      h("li", null, "Scan this with an authenticator app (any that supports TOTP).",
        h("div", { class: "qr", id: "totp-qr" }, qrCode(enrolment.qr_svg))),
      h("li", null, "Or type this key into it: ", h("code", { class: "secret", id: "totp-secret" }, enrolment.secret)),
      h("li", null, "Enter the six-digit code it shows.", confirm)));
  code.focus();
}

/**
 * Adds a passkey: a name, then the browser's own dialog.
 * @param {HTMLElement} box
 * @param {() => void} added
 */
export function passkeyForm(box, added) {
  const name = /** @type {HTMLInputElement} */ (h("input", { id: "passkey-name", maxlength: 100, required: true, value: "Passkey", autocomplete: "off", "aria-describedby": "passkey-error" }));
  const error = h("p", { class: "field-error", id: "passkey-error" });
  const form = h("form", {
    class: "inline-form", id: "add-passkey", novalidate: true,
    onsubmit: async (/** @type {Event} */ e) => {
      e.preventDefault();
      error.textContent = "";
      try {
        const start = await api.post("/me/passkeys/register/start", {});
        const credential = await webauthn.create(start.options);
        await api.post("/me/passkeys/register/finish", { challenge: start.challenge, name: name.value, credential });
        announce(`Passkey “${name.value.trim()}” added.`, { visible: true });
        added();
      } catch (err) {
        error.textContent = err instanceof api.ApiError ? err.message : webauthn.sentence(err);
      }
    },
  },
    h("div", { class: "field" }, h("label", { for: "passkey-name" }, "Name"), name),
    h("button", { type: "submit", class: "primary" }, "Add a passkey"),
    error);
  replace(box, webauthn.supported() ? form : h("p", { class: "muted" }, "This browser cannot make passkeys."));
}
