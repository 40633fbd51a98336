// Project settings → webhooks (API.md §13), for the project's admins and owner: the list, a new
// one (its secret shown once, with a copy button), each one's deliveries (status, response code,
// duration, error) with "redeliver" and "send a ping", rotating the secret, switching it on and
// off, and why a disabled one was disabled.

import * as api from "../../api.js";
import { h, replace, announce, confirmDialog } from "../../dom.js";

/**
 * @typedef {{id: string, project_id: string, url: string, events: string[], description: string|null, active: boolean,
 *   disabled_reason: string|null, created_at: string, last_delivery_at: string|null, last_status: string|null}} Webhook
 * @typedef {{id: string, event_id: string, kind: string, attempt: number, status: "pending"|"delivered"|"failed",
 *   response_status: number|null, error: string|null, duration_ms: number|null, created_at: string,
 *   next_attempt_at: string|null}} Delivery
 */

/** @param {unknown} e */
const message = (e) => (e instanceof Error ? e.message : String(e));

/**
 * Draws the webhooks of `project` into `box`.
 * @param {HTMLElement} box
 * @param {api.Project} project
 */
export async function renderWebhooks(box, project) {
  /** @type {Webhook[]} */
  const hooks = await api.all(`/projects/${project.id}/webhooks`);
  const redraw = () => renderWebhooks(box, project);
  const secret = h("div", { id: "webhook-secret" });
  replace(box,
    h("p", { class: "muted" }, "Other systems receive this project's changes as signed HTTP requests (Standard Webhooks)."),
    secret,
    hooks.length
      ? h("ul", { class: "webhook-list", id: "webhooks" }, hooks.map((w) => webhookItem(w, redraw)))
      : h("p", { class: "muted", id: "no-webhooks" }, "No webhooks yet."),
    h("h3", null, "New webhook"),
    createForm(project, redraw));
}

/**
 * The secret, shown once with a copy button, above the list (as drawn now: a redraw replaces it).
 * @param {string} what
 * @param {string} secret
 */
function showSecret(what, secret) {
  const where = document.getElementById("webhook-secret");
  if (!where) return;
  const shown = /** @type {HTMLInputElement} */ (h("input", { id: "webhook-secret-value", readonly: true, value: secret, "aria-label": "Signing secret", class: "mono" }));
  const copy = h("button", {
    type: "button", id: "copy-webhook-secret",
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(secret);
        announce("Copied.", { visible: true });
      } catch {
        shown.select();
        announce("Select the secret and copy it with Ctrl+C.", { visible: true });
      }
    },
  }, "Copy");
  replace(where, h("div", { class: "notice", role: "status" },
    h("p", null, h("strong", null, what), " Copy the signing secret now: it is shown only once."),
    h("div", { class: "copy-row" }, shown, copy)));
}

/**
 * @param {api.Project} project
 * @param {() => Promise<void>} redraw
 */
function createForm(project, redraw) {
  const url = /** @type {HTMLInputElement} */ (h("input", { id: "webhook-url", type: "url", required: true, placeholder: "https://example.com/hooks/docket", autocomplete: "off", "aria-describedby": "webhook-error" }));
  const events = /** @type {HTMLInputElement} */ (h("input", { id: "webhook-events", value: "*", autocomplete: "off", "aria-describedby": "webhook-events-help" }));
  const description = /** @type {HTMLInputElement} */ (h("input", { id: "webhook-description", maxlength: 200, autocomplete: "off" }));
  const error = h("p", { class: "field-error", id: "webhook-error", role: "alert" });
  return h("form", {
    class: "stack-form", id: "create-webhook",
    onsubmit: async (/** @type {Event} */ e) => {
      e.preventDefault();
      error.textContent = "";
      /** @type {Record<string, any>} */
      const body = { url: url.value.trim(), events: events.value.split(/[\s,]+/).filter(Boolean) };
      if (description.value.trim()) body.description = description.value.trim();
      try {
        const created = await api.post(`/projects/${project.id}/webhooks`, body);
        await redraw();
        showSecret(`Webhook for ${created.url} created.`, created.secret);
      } catch (err) {
        error.textContent = err instanceof api.ApiError && err.code === "private_address"
          ? "That address is on a private network; this server does not send webhooks there."
          : message(err);
      }
    },
  },
    h("div", { class: "field" }, h("label", { for: "webhook-url" }, "Payload URL"), url),
    h("div", { class: "field" }, h("label", { for: "webhook-events" }, "Events"), events,
      h("p", { class: "hint", id: "webhook-events-help" }, "* for every change, or kinds such as task.created, comment.created")),
    h("div", { class: "field" }, h("label", { for: "webhook-description" }, "Description (optional)"), description),
    error,
    h("button", { type: "submit", class: "primary" }, "Add webhook"));
}

/**
 * One webhook: its URL, state, last delivery, actions, and its deliveries on demand.
 * @param {Webhook} w
 * @param {() => Promise<void>} redraw
 */
function webhookItem(w, redraw) {
  const deliveries = h("div", { class: "deliveries", id: `deliveries-${w.id}` });
  /** @param {() => Promise<any>} action @param {string} done */
  const run = async (action, done) => {
    try {
      await action();
      announce(done, { visible: true });
    } catch (e) {
      announce(message(e), { error: true });
    }
  };
  const state = w.active
    ? h("span", { class: "badge ok" }, "Active")
    : h("span", { class: "badge error" }, "Disabled");
  return h("li", { class: "webhook", dataset: { webhook: w.id } },
    h("div", { class: "webhook-head" }, h("span", { class: "mono webhook-url" }, w.url), state),
    w.description ? h("p", { class: "muted" }, w.description) : null,
    !w.active && w.disabled_reason ? h("p", { class: "error-text disabled-reason" }, `Disabled: ${w.disabled_reason}`) : null,
    h("p", { class: "muted small" }, `Events: ${w.events.join(", ")} · Last delivery: `,
      w.last_delivery_at ? `${new Date(w.last_delivery_at).toLocaleString()} (${w.last_status || "—"})` : "none yet"),
    h("div", { class: "actions-row" },
      h("button", { type: "button", class: "show-deliveries", onclick: () => drawDeliveries(deliveries, w) }, "Deliveries"),
      h("button", { type: "button", class: "ping", onclick: () => run(() => api.post(`/webhooks/${w.id}/ping`, {}), "Ping queued.").then(() => drawDeliveries(deliveries, w)) }, "Send a ping"),
      h("button", {
        type: "button", class: "rotate",
        onclick: async () => {
          if (!(await confirmDialog("Rotate secret", "Make a new signing secret? The old one keeps signing too for 24 hours, so you can switch the receiver over.", "Rotate"))) return;
          try {
            const rotated = await api.post(`/webhooks/${w.id}/rotate-secret`, {});
            showSecret("New secret made.", rotated.secret);
          } catch (e) {
            announce(message(e), { error: true });
          }
        },
      }, "Rotate secret"),
      h("button", {
        type: "button", class: "ghost toggle",
        onclick: () => run(() => api.patch(`/webhooks/${w.id}`, { active: !w.active }), w.active ? "Webhook switched off." : "Webhook switched on.").then(redraw),
      }, w.active ? "Switch off" : "Switch on"),
      h("button", {
        type: "button", class: "ghost danger",
        onclick: async () => {
          if (!(await confirmDialog("Delete webhook", `Stop sending to ${w.url} and delete its delivery log?`, "Delete", true))) return;
          await run(() => api.del(`/webhooks/${w.id}`), "Webhook deleted.");
          await redraw();
        },
      }, "Delete")),
    deliveries);
}

/**
 * The newest deliveries of a webhook, each with "redeliver".
 * @param {HTMLElement} box
 * @param {Webhook} w
 */
async function drawDeliveries(box, w) {
  /** @type {{items: Delivery[]}} */
  const page = await api.get(`/webhooks/${w.id}/deliveries?limit=20`);
  if (!page.items.length) return replace(box, h("p", { class: "muted" }, "No deliveries yet."));
  replace(box, h("table", { class: "table delivery-list" },
    h("thead", null, h("tr", null, ["Event", "Status", "Code", "Duration", "Error", "When"].map((t) => h("th", { scope: "col" }, t)), h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")))),
    h("tbody", null, page.items.map((d) => h("tr", { dataset: { delivery: d.id } },
      h("td", null, h("span", { class: "mono" }, d.kind), d.attempt > 1 ? h("span", { class: "muted small" }, ` (attempt ${d.attempt})`) : null),
      h("td", { class: `delivery-status ${d.status}` }, d.status),
      h("td", null, d.response_status === null ? "—" : String(d.response_status)),
      h("td", null, d.duration_ms === null ? "—" : `${d.duration_ms} ms`),
      h("td", { class: "small" }, d.error || (d.next_attempt_at ? `retry at ${new Date(d.next_attempt_at).toLocaleTimeString()}` : "")),
      h("td", { class: "small" }, new Date(d.created_at).toLocaleString()),
      h("td", null, d.status === "pending" ? null : h("button", {
        type: "button", class: "ghost redeliver", "aria-label": `Redeliver ${d.kind}`,
        onclick: async () => {
          try {
            await api.post(`/webhooks/${w.id}/deliveries/${d.id}/redeliver`, {});
            announce("Redelivery queued.", { visible: true });
          } catch (e) {
            announce(message(e), { error: true });
          }
          await drawDeliveries(box, w);
        },
      }, "Redeliver")))))));
}
