// Deliveries: webhook endpoints and their state (GET /v1/webhooks), the deliveries of one
// (GET /v1/webhooks/{id}/deliveries: status, attempts, next attempt, last answer) and a retry
// button for each (POST /v1/webhooks/{id}/deliveries/{did}/retry: due now, whatever its
// state). The webhook routes need the admin role (with MFA): for a token without it the page
// says so instead of calling them, and a refused retry shows the problem's title.
// Below, the notifications (e-mail, push, SMS) by status (GET /v1/notifications, operators),
// with a retry button for each failed one (POST /v1/notifications/{id}/retry: due now; the
// node's workers retry the others on their own schedule). A node without the notification
// service answers 404, and the page says so.

import { getJSON, postJSON, explain, claims, ApiError } from "../api.js";
import { h, table, status, field } from "../dom.js";

const ADMIN = "admin";
const REFRESH_MS = 3000;

export function mount(root, arg) {
  const isAdmin = [].concat(claims().roles || []).includes(ADMIN);
  const endpointsBox = h("div", { class: "card", id: "endpoints" }, h("h3", { text: "Webhook endpoints" }));
  const list = h("div", { class: "card", id: "deliveries" }); // not live: it is redrawn every few seconds
  const nstatus = h("select", {}, ["failed", "pending", "sent", "skipped"].map(s => h("option", { value: s, text: s })));
  const nform = h("form", { class: "filters", id: "nt-form" }, field("nt-status", "Status", nstatus), h("button", { type: "submit", text: "Show notifications" }));
  const nlist = h("div", { id: "notifications" });
  root.append(h("h2", { text: "Deliveries" }), endpointsBox, list,
    h("div", { class: "card" }, h("h3", { text: "Notifications" }),
      h("p", { class: "hint", id: "nt-retry-hint", text: "The node retries pending notifications on its own schedule; a failed one can be sent again with its Retry button." }),
      nform, nlist));
  let current = "", shown = "", timer = 0, stopped = false;

  // The deliveries shown are read again every few seconds (the dispatcher works on), except
  // while the keyboard focus is in their table, which a refresh would take away.
  function again() {
    clearTimeout(timer);
    if (!stopped) timer = setTimeout(() => { if (list.contains(document.activeElement)) again(); else show(shown); }, REFRESH_MS);
  }

  async function endpoints() {
    if (!isAdmin) {
      endpointsBox.append(h("p", { class: "hint", id: "webhooks-admin-only",
        text: "Webhook endpoints, their deliveries and retries need the admin role (with MFA); this token does not have it." }));
      return;
    }
    try {
      const { webhooks: eps } = await getJSON("/v1/webhooks");
      if (!eps.length) { endpointsBox.append(h("p", { class: "hint", text: "No webhook endpoints are registered." })); return; }
      endpointsBox.append(table(`${eps.length} ${eps.length === 1 ? "endpoint" : "endpoints"}`, [{ label: "Endpoint" }, { label: "Events" }, { label: "State" }, { label: "Deliveries" }],
        eps.map(e => [e.description ? `${e.url} (${e.description})` : e.url, (e.event_types || []).join(", ") || "all",
          endpointState(e),
          h("a", { href: `#/deliveries/${encodeURIComponent(e.id)}`, "aria-label": `Deliveries to ${e.url}`, text: "Show deliveries" })]),
        { id: "endpoints-table" }));
      const wid = eps.some(e => e.id === arg) ? arg : eps[0].id;
      show(wid, eps.find(e => e.id === wid).url);
    } catch (err) { status(explain(err), "error"); endpointsBox.append(h("p", { text: explain(err) })); }
  }

  async function show(wid, url) {
    current = url || current;
    shown = wid;
    try {
      const { deliveries } = await getJSON(`/v1/webhooks/${encodeURIComponent(wid)}/deliveries?limit=100`);
      list.replaceChildren(h("h3", { text: `Deliveries to ${current}` }),
        table(`${deliveries.length} most recent deliveries`, [{ label: "Event" }, { label: "Type" }, { label: "Status" },
          { label: "Attempts", num: true }, { label: "Next attempt" }, { label: "Last answer" }, { label: "Action" }],
        deliveries.map(d => [d.event_id, d.event_type, h("span", { class: `pill ${d.status}`, text: d.status }), d.attempts,
          d.next_attempt_at && d.status === "pending" ? new Date(d.next_attempt_at).toLocaleString() : "—",
          d.last_error || (d.last_status_code ? `HTTP ${d.last_status_code}` : "—"),
          h("button", { type: "button", class: "secondary retry", "data-did": d.id, "aria-label": `Retry delivery of ${d.event_type} ${d.event_id}`,
            onclick: (e) => retry(e.currentTarget, wid, d.id) }, "Retry")]),
        { id: "deliveries-table" }));
    } catch (err) { status(explain(err), "error"); }
    again();
  }

  async function retry(button, wid, did) {
    button.disabled = true;
    try {
      await postJSON(`/v1/webhooks/${encodeURIComponent(wid)}/deliveries/${encodeURIComponent(did)}/retry`);
      status("Retry scheduled.", "ok");
      await show(wid);
      // The table was drawn again: keep the keyboard focus on this delivery's button.
      for (const b of list.querySelectorAll("button[data-did]")) if (b.dataset.did === did) b.focus();
    } catch (err) {
      button.disabled = false;
      status(err instanceof ApiError ? `Retry refused: ${err.title} (${err.status}). ${err.message}` : explain(err), "error");
    }
  }

  async function notifications() {
    try {
      const { notifications: ns } = await getJSON(`/v1/notifications?status=${encodeURIComponent(nstatus.value)}&limit=100`);
      nlist.replaceChildren(table(`${ns.length} most recent ${nstatus.value} notifications`, [{ label: "Channel" }, { label: "Kind" },
        { label: "Hold" }, { label: "Status" }, { label: "Attempts", num: true }, { label: "Last error" }, { label: "Updated" }, { label: "Action" }],
      ns.map(n => [n.channel, n.kind, n.hold_id, h("span", { class: `pill ${n.status}`, text: n.status }), n.attempts,
        n.last_error || "—", new Date(n.updated_at).toLocaleString(),
        n.status !== "failed" ? "—" : h("button", { type: "button", class: "secondary retry", "data-nid": n.id,
          "aria-label": `Retry ${n.kind} ${n.channel} notification of hold ${n.hold_id}`, onclick: (e) => retryNotification(e.currentTarget, n.id) }, "Retry")]),
      { id: "notifications-table" }));
    } catch (err) {
      nlist.replaceChildren(h("p", { class: "hint", text: err.status === 404 ? "Notifications are not enabled on this node." : explain(err) }));
    }
  }
  async function retryNotification(button, id) {
    button.disabled = true;
    try {
      await postJSON(`/v1/notifications/${encodeURIComponent(id)}/retry`);
      status("Notification retry scheduled.", "ok");
      await notifications();
    } catch (err) {
      button.disabled = false;
      status(err instanceof ApiError ? `Retry refused: ${err.title} (${err.status}). ${err.message}` : explain(err), "error");
    }
  }
  nform.addEventListener("submit", (e) => { e.preventDefault(); notifications(); });
  endpoints();
  notifications();
  return () => { stopped = true; clearTimeout(timer); };
}

function endpointState(e) {
  if (e.disabled) return h("span", { class: "pill failed", text: `disabled${e.disabled_reason ? `: ${e.disabled_reason}` : ""}` });
  if (e.failing_since) return h("span", { class: "pill pending", text: `failing since ${new Date(e.failing_since).toLocaleString()}` });
  return h("span", { class: "pill succeeded", text: "active" });
}
