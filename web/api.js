// The one way the client talks to the server: JSON over /api/v1 with the cookie session and
// its CSRF token, problems turned into ApiError, and an expired session sent to sign-in.

/**
 * @typedef {{id: string, email: string, name: string, role: "admin"|"user", disabled: boolean, created_at: string, email_notifications?: boolean, second_factor?: boolean}} User
 * @typedef {{user: User, csrf_token: string, expires_at?: string, second_factor_setup_required?: boolean}} Session
 * @typedef {{id: string, name: string, description: string, is_inbox: boolean, is_template: boolean, my_role: Role, version: number, created_at: string, updated_at: string}} Project
 * @typedef {"viewer"|"editor"|"admin"|"owner"} Role
 * @typedef {"todo"|"in_progress"|"done"|"canceled"} Status
 * @typedef {{kind: string, repository: string, number: number, url: string}} Source
 * @typedef {{id: string, project_id: string, number: number, title: string, description: string,
 *   status: Status, priority: number, due_date: string|null, labels: string[], assignee_id: string|null,
 *   created_by: string, completed_at: string|null, source: Source|null, position: string, version: number,
 *   created_at: string, updated_at: string, comment_count?: number, attachment_count?: number, state_id: string, parent_id: string|null,
 *   subtasks: {total: number, done: number}, blocked: boolean}} Task
 * @typedef {{id: string, project_id: string, name: string, category: Status, color: string, position: number,
 *   is_default: boolean}} WorkflowState a column of a project's board (API.md §17)
 * @typedef {"blocks"|"blocked_by"|"relates_to"|"duplicates"|"duplicated_by"} RelationKind
 * @typedef {{id: string, kind: RelationKind, task: {id: string, project_id: string, number: number, title: string,
 *   status: Status}, created_at: string, created_by: string}} Relation
 * @typedef {{user: {id: string, email: string, name: string}, role: Role, added_at: string}} Member
 * @typedef {{field: string, code: string, message: string}} FieldError
 * @typedef {{items: any[], next_cursor: string|null}} Page
 * @typedef {{id: string, name: string}} Actor
 * @typedef {{id: string, task_id: string, author: Actor|null, body: string, mentions: string[],
 *   created_at: string, updated_at: string, version: number}} Comment
 * @typedef {{id: string, task_id: string, comment_id: string|null, name: string, content_type: string, size: number,
 *   sha256: string, uploaded_by: Actor|null, created_at: string, thumbnail: boolean}} Attachment
 * @typedef {{field: string, from: any, to: any}} Change
 * @typedef {{id: number, at: string, actor: Actor|null, kind: string, project_id: string, task_id?: string,
 *   comment_id?: string, user_id?: string, changes: Change[], counts?: {created: number, updated: number}}} Entry
 * @typedef {{id: string, kind: "assigned"|"mentioned"|"commented"|"due_soon"|"overdue"|"unblocked"|"reminder"|"webhook_disabled",
 *   task: {id: string, project_id: string, number: number, title: string}|null,
 *   webhook?: {id: string, project_id: string, url: string, disabled_reason: string|null}, actor: Actor|null,
 *   comment_id?: string, late?: boolean, created_at: string, read_at: string|null}} Notification
 */

export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {any} problem
   * @param {Headers} headers
   */
  constructor(status, problem, headers) {
    super(describe(status, problem, headers));
    this.status = status;
    /** @type {string} */
    this.code = problem?.code || "";
    /** @type {FieldError[]} */
    this.errors = problem?.errors || [];
    this.headers = headers;
    /** The whole problem document, with its extension members (a second-factor challenge). */
    this.problem = problem || {};
  }

  /**
   * The message for one field, if the server named it.
   * @param {string} field
   */
  fieldMessage(field) {
    return this.errors.filter((e) => e.field === field || e.field.startsWith(field + ".")).map((e) => e.message).join("; ");
  }
}

/**
 * A sentence for a problem: its title and detail, never a bare status code.
 * @param {number} status
 * @param {any} problem
 * @param {Headers} headers
 */
function describe(status, problem, headers) {
  if (status === 429) {
    const wait = Number(headers.get("retry-after") || "0");
    return `Too many attempts. Try again in ${wait > 90 ? Math.ceil(wait / 60) + " minutes" : wait + " seconds"}.`;
  }
  if (status === 0) return "The server cannot be reached. Check your connection and try again.";
  const title = problem?.title || "Something went wrong";
  const detail = problem?.detail;
  if (problem?.errors?.length) return `${title}: ${problem.errors.map((/** @type {FieldError} */ e) => `${e.field} ${e.message}`).join("; ")}`;
  return detail ? `${title}: ${detail}` : title;
}

/** @type {{csrf: string | null, onUnauthenticated: () => void, onSetupRequired: () => void}} */
export const session = { csrf: null, onUnauthenticated: () => {}, onSetupRequired: () => {} };

/**
 * @typedef {{body?: any, ifMatch?: number, signal?: AbortSignal, quiet401?: boolean, keepalive?: boolean}} RequestOptions
 *   `keepalive`: the request outlives the page (a delete sent as the tab closes)
 */

/**
 * @param {string} method
 * @param {string} path under /api/v1
 * @param {RequestOptions} [options]
 * @returns {Promise<{data: any, etag: string | null, status: number}>}
 */
export async function request(method, path, options = {}) {
  /** @type {Record<string, string>} */
  const headers = { accept: "application/json" };
  if (options.body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET" && session.csrf) headers["x-csrf-token"] = session.csrf;
  if (options.ifMatch !== undefined) headers["if-match"] = `"${options.ifMatch}"`;
  let response;
  try {
    response = await fetch("/api/v1" + path, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      credentials: "same-origin",
      signal: options.signal,
      keepalive: options.keepalive,
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === "AbortError") throw e;
    throw new ApiError(0, null, new Headers());
  }
  const text = response.status === 204 ? "" : await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = new ApiError(response.status, data, response.headers);
    if (response.status === 401 && !options.quiet401) session.onUnauthenticated();
    // DOCKET_REQUIRE_2FA: signed in only to set up a second factor.
    if (response.status === 403 && error.code === "second_factor_setup_required") session.onSetupRequired();
    throw error;
  }
  return { data, etag: response.headers.get("etag"), status: response.status };
}

/**
 * Sends a file as the raw body of a POST (an upload, API.md §20), with progress: fetch cannot
 * report an upload's progress, XMLHttpRequest can. Aborting `signal` cancels it (the server
 * keeps nothing of a cancelled upload).
 * @param {string} path under /api/v1
 * @param {Blob} file
 * @param {{onProgress?: (sent: number, total: number) => void, signal?: AbortSignal}} [options]
 * @returns {Promise<any>}
 */
export function upload(path, file, options = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/v1" + path);
    xhr.setRequestHeader("accept", "application/json");
    xhr.setRequestHeader("content-type", file.type || "application/octet-stream");
    if (session.csrf) xhr.setRequestHeader("x-csrf-token", session.csrf);
    xhr.upload.onprogress = (e) => options.onProgress?.(e.loaded, e.lengthComputable ? e.total : file.size);
    xhr.onload = () => {
      let data = null;
      try {
        data = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch {
        data = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) return resolve(data);
      const headers = new Headers();
      const retry = xhr.getResponseHeader("retry-after");
      if (retry) headers.set("retry-after", retry);
      if (xhr.status === 401) session.onUnauthenticated();
      reject(new ApiError(xhr.status, data, headers));
    };
    xhr.onerror = () => reject(new ApiError(0, null, new Headers()));
    xhr.onabort = () => reject(new DOMException("The upload was cancelled.", "AbortError"));
    if (options.signal) {
      if (options.signal.aborted) return xhr.abort();
      options.signal.addEventListener("abort", () => xhr.abort(), { once: true });
    }
    xhr.send(file);
  });
}

/**
 * @param {string} path
 * @param {RequestOptions} [options]
 */
export const get = async (path, options) => (await request("GET", path, options)).data;
/**
 * @param {string} path
 * @param {any} body
 * @param {RequestOptions} [options]
 */
export const post = async (path, body, options) => (await request("POST", path, { ...options, body })).data;
/**
 * @param {string} path
 * @param {any} body
 * @param {RequestOptions} [options]
 */
export const patch = async (path, body, options) => (await request("PATCH", path, { ...options, body })).data;
/**
 * @param {string} path
 * @param {any} body
 * @param {RequestOptions} [options]
 */
export const put = async (path, body, options) => (await request("PUT", path, { ...options, body })).data;
/**
 * @param {string} path
 * @param {RequestOptions} [options]
 */
export const del = async (path, options) => (await request("DELETE", path, options)).data;

/**
 * Every page of a paginated list (for small lists: projects, members, tokens).
 * @param {string} path
 * @param {RequestOptions} [options]
 * @returns {Promise<any[]>}
 */
export async function all(path, options) {
  const items = [];
  let cursor = null;
  do {
    const sep = path.includes("?") ? "&" : "?";
    /** @type {Page} */
    const page = await get(path + sep + "limit=100" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : ""), options);
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}

/** @type {Record<Role, number>} */
const RANK = { viewer: 0, editor: 1, admin: 2, owner: 3 };

/**
 * Whether a role may do what needs at least `needed` (the table of API.md §3). The server
 * checks again; this only decides which controls to show.
 * @param {Role | undefined} role
 * @param {Role} needed
 */
export function can(role, needed) {
  return role !== undefined && RANK[role] >= RANK[needed];
}
