// Cluster: the members as GET /v1/cluster/members reports them, refreshed every 2 seconds.

import { getJSON, explain } from "../api.js";
import { h, table, status } from "../dom.js";

export function mount(root) {
  const kpis = h("div", { class: "grid" });
  const list = h("div", { class: "card" });
  const updated = h("p", { class: "hint", "aria-live": "off" });
  root.append(h("h2", { text: "Cluster" }), kpis, list, updated);
  let timer = 0, stopped = false;

  async function refresh() {
    try {
      const { members } = await getJSON("/v1/cluster/members");
      members.sort((a, b) => a.id.localeCompare(b.id));
      const alive = members.filter(m => m.status === "alive").length;
      const acts = members.reduce((n, m) => n + (m.activations || 0), 0);
      kpis.replaceChildren(
        kpi("Members", members.length, "members-count"),
        kpi("Alive", `${alive} / ${members.length}`, "members-alive"),
        kpi("Active resources", acts, "activations"),
        kpi("Gossip", alive === members.length ? "healthy" : "degraded", "gossip"));
      list.replaceChildren(table("Members, their state and address, and the resources each hosts", [
        { label: "Member" }, { label: "Address" }, { label: "State" }, { label: "Active resources", num: true }],
        members.map(m => [m.id + (m.self ? " (this node)" : ""), m.address, h("span", { class: `pill ${m.status}`, text: m.status }), m.activations]),
        { id: "members-table" }));
      updated.textContent = `Updated ${new Date().toLocaleTimeString()}`;
      status("");
    } catch (err) { status(explain(err), "error"); }
    if (!stopped) timer = setTimeout(refresh, 2000);
  }
  refresh();
  return () => { stopped = true; clearTimeout(timer); };
}

function kpi(label, value, id) {
  return h("div", { class: "card" }, h("div", { class: "kpi", id, text: String(value) }), h("div", { class: "kpi-label", text: label }));
}
