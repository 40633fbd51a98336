// Passkeys in the browser: the server's WebAuthn options (JSON, binary fields in base64url) to
// what navigator.credentials takes, and the browser's credential back to JSON. Nothing here
// draws or talks to the server.

/**
 * @param {string} text base64url, unpadded
 * @returns {ArrayBuffer}
 */
function bytes(text) {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const raw = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out.buffer;
}

/**
 * @param {ArrayBuffer | null | undefined} buffer
 * @returns {string | undefined}
 */
function text(buffer) {
  if (!buffer) return undefined;
  let raw = "";
  for (const b of new Uint8Array(buffer)) raw += String.fromCharCode(b);
  return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Whether this browser can use passkeys at all. */
export const supported = () => typeof window.PublicKeyCredential === "function" && !!navigator.credentials;

/**
 * @param {any[] | undefined} list credential descriptors with base64url ids
 */
const descriptors = (list) => (list || []).map((c) => ({ ...c, id: bytes(c.id) }));

/**
 * Creates a passkey from the server's registration options (`{"publicKey": …}`).
 * @param {any} options
 * @returns {Promise<any>} the credential as JSON for the server
 */
export async function create(options) {
  const o = options.publicKey;
  /** @type {PublicKeyCredentialCreationOptions} */
  const publicKey = { ...o, challenge: bytes(o.challenge), user: { ...o.user, id: bytes(o.user.id) }, excludeCredentials: descriptors(o.excludeCredentials) };
  const credential = /** @type {PublicKeyCredential | null} */ (await navigator.credentials.create({ publicKey }));
  if (!credential) throw new Error("No passkey was made.");
  return toJSON(credential);
}

/**
 * Asks for a passkey with the server's request options (`{"publicKey": …}`).
 * @param {any} options
 * @returns {Promise<any>} the credential as JSON for the server
 */
export async function get(options) {
  const o = options.publicKey;
  /** @type {PublicKeyCredentialRequestOptions} */
  const publicKey = { ...o, challenge: bytes(o.challenge), allowCredentials: descriptors(o.allowCredentials) };
  const credential = /** @type {PublicKeyCredential | null} */ (await navigator.credentials.get({ publicKey }));
  if (!credential) throw new Error("No passkey was chosen.");
  return toJSON(credential);
}

/**
 * A credential as WebAuthn's JSON (`toJSON()` where the browser has it).
 * @param {PublicKeyCredential} credential
 */
function toJSON(credential) {
  const any = /** @type {any} */ (credential);
  if (typeof any.toJSON === "function") return any.toJSON();
  const r = /** @type {any} */ (credential.response);
  return {
    id: credential.id,
    rawId: text(credential.rawId),
    type: credential.type,
    response: {
      clientDataJSON: text(r.clientDataJSON),
      attestationObject: text(r.attestationObject),
      authenticatorData: text(r.authenticatorData),
      signature: text(r.signature),
      userHandle: text(r.userHandle),
      transports: typeof r.getTransports === "function" ? r.getTransports() : undefined,
    },
    clientExtensionResults: credential.getClientExtensionResults(),
  };
}

/**
 * Why a WebAuthn call failed, as a sentence.
 * @param {unknown} error
 */
export function sentence(error) {
  if (error instanceof DOMException) {
    if (error.name === "NotAllowedError") return "The passkey request was cancelled or timed out.";
    if (error.name === "InvalidStateError") return "This passkey is registered already.";
    if (error.name === "SecurityError") return "Passkeys work only on this server's own address.";
  }
  return error instanceof Error ? error.message : String(error);
}
