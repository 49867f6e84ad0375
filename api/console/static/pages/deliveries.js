// Deliveries: webhook endpoints (GET /v1/webhooks), the deliveries of one
// (GET /v1/webhooks/{id}/deliveries) and a retry button for each
// (POST /v1/webhooks/{id}/deliveries/{did}/retry: due now, whatever its state). The webhook routes need the admin role.
// Below, the notifications (e-mail, push, SMS) by status, read-only (GET /v1/notifications,
// operators): a node without the notification service answers 404, and the page says so.

import { getJSON, postJSON, explain } from "../api.js";
import { h, table, status, field } from "../dom.js";

export function mount(root, arg) {
  const pick = h("select", {});
  const form = h("form", { class: "filters" }, field("dl-endpoint", "Webhook endpoint", pick), h("button", { type: "submit", text: "Show deliveries" }));
  const list = h("div", { class: "card", id: "deliveries" });
  const nstatus = h("select", {}, ["failed", "pending", "sent", "skipped"].map(s => h("option", { value: s, text: s })));
  const nform = h("form", { class: "filters", id: "nt-form" }, field("nt-status", "Status", nstatus), h("button", { type: "submit", text: "Show notifications" }));
  const nlist = h("div", { id: "notifications" });
  root.append(h("h2", { text: "Deliveries" }), h("div", { class: "card" }, form), list,
    h("div", { class: "card" }, h("h3", { text: "Notifications" }), nform, nlist));

  async function endpoints() {
    try {
      const { webhooks: endpoints } = await getJSON("/v1/webhooks");
      pick.replaceChildren(...endpoints.map(e => h("option", { value: e.id, selected: e.id === arg, text: `${e.url}${e.disabled ? " (disabled)" : ""}` })));
      if (!endpoints.length) list.replaceChildren(h("p", { class: "hint", text: "No webhook endpoints are registered." }));
      else show(arg || endpoints[0].id);
    } catch (err) { status(explain(err), "error"); list.replaceChildren(h("p", { text: explain(err) })); }
  }
  async function show(wid) {
    try {
      const { deliveries } = await getJSON(`/v1/webhooks/${encodeURIComponent(wid)}/deliveries?limit=100`);
      list.replaceChildren(table(`${deliveries.length} most recent deliveries`, [{ label: "Event" }, { label: "Type" }, { label: "Status" },
        { label: "Attempts", num: true }, { label: "Last answer" }, { label: "Action" }],
      deliveries.map(d => [d.event_id, d.event_type, h("span", { class: `pill ${d.status}`, text: d.status }), d.attempts,
        d.last_error || (d.last_status_code ? `HTTP ${d.last_status_code}` : "—"),
        h("button", { type: "button", class: "secondary", "aria-label": `Retry delivery of ${d.event_id}`, onclick: () => retry(wid, d.id) }, "Retry")]),
      { id: "deliveries-table" }));
    } catch (err) { status(explain(err), "error"); }
  }
  async function retry(wid, did) {
    try {
      await postJSON(`/v1/webhooks/${encodeURIComponent(wid)}/deliveries/${encodeURIComponent(did)}/retry`);
      status("Retry scheduled.", "ok");
      show(wid);
    } catch (err) { status(explain(err), "error"); }
  }
  async function notifications() {
    try {
      const { notifications: ns } = await getJSON(`/v1/notifications?status=${encodeURIComponent(nstatus.value)}&limit=100`);
      nlist.replaceChildren(table(`${ns.length} most recent ${nstatus.value} notifications`, [{ label: "Channel" }, { label: "Kind" },
        { label: "Hold" }, { label: "Status" }, { label: "Attempts", num: true }, { label: "Last error" }, { label: "Updated" }],
      ns.map(n => [n.channel, n.kind, n.hold_id, h("span", { class: `pill ${n.status}`, text: n.status }), n.attempts,
        n.last_error || "—", new Date(n.updated_at).toLocaleString()]), { id: "notifications-table" }));
    } catch (err) {
      nlist.replaceChildren(h("p", { class: "hint", text: err.status === 404 ? "Notifications are not enabled on this node." : explain(err) }));
    }
  }
  form.addEventListener("submit", (e) => { e.preventDefault(); if (pick.value) location.hash = `#/deliveries/${encodeURIComponent(pick.value)}`; });
  nform.addEventListener("submit", (e) => { e.preventDefault(); notifications(); });
  endpoints();
  notifications();
  return () => {};
}
