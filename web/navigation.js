// Moving between client URLs. URLs are the state (filters, sort, the open task), so every move
// renders again; the renderer (the router) is handed in by app.js, so nothing here, and nothing
// that navigates, depends on the router.

import { hasUnsaved } from "./model.js";

/** @type {() => void} */
let renderer = () => {};

/**
 * Sets what renders the current URL (app.js passes the router's `render`).
 * @param {() => void} render
 */
export function onNavigate(render) {
  renderer = render;
}

/**
 * Goes to a client URL (pushes history unless `replace`).
 * @param {string} url
 * @param {{replace?: boolean, force?: boolean}} [options]
 */
export function navigate(url, options = {}) {
  if (!options.force && hasUnsaved() && !window.confirm("You have unsaved changes. Leave anyway?")) return;
  if (options.replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  renderer();
}

/**
 * Changes the query of the current URL (filters, the open task) and re-renders.
 * @param {Record<string, string | null>} changes
 * @param {{replace?: boolean}} [options]
 */
export function setQuery(changes, options = {}) {
  const query = new URLSearchParams(location.search);
  for (const [key, value] of Object.entries(changes)) {
    if (value === null || value === "") query.delete(key);
    else query.set(key, value);
  }
  const search = query.toString();
  navigate(location.pathname + (search ? "?" + search : ""), options);
}
