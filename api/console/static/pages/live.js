// Live sale: one resource's availability from the SSE stream
// (GET /v1/resources/{rid}/availability/stream), or by polling GET .../availability once a
// second when the stream fails. Charts redraw every second: units taken per second over the
// last minute, and sold and held against stock per bucket; and from this node's stats
// (GET /v1/cluster/stats, read from its metrics): its 429 answers, holds and confirmations per
// second and its p99 latency over the last second, and the resources each member hosts.

import { getJSON, explain } from "../api.js";
import { h, table, status, field } from "../dom.js";
import { line, stacked } from "../charts.js";

export function mount(root, arg) {
  const input = h("input", { type: "text", value: arg || "", placeholder: "resource id", autocomplete: "off" });
  const form = h("form", { class: "filters" }, field("live-rid", "Resource", input), h("button", { type: "submit", text: "Watch" }));
  const mode = h("p", { class: "hint", id: "live-mode" });
  const kpis = h("div", { class: "grid" });
  const rate = h("div", { class: "card" });
  const stock = h("div", { class: "card" });
  const nodes = h("div", { class: "card" });
  root.append(h("h2", { text: "Live sale" }), h("div", { class: "card" }, form, mode), kpis, rate, stock, nodes);

  const none = { r429: "—", p99: "—", holds: "—", node: "", members: [] };
  let es = null, poll = 0, tick = 0, current = null, lastTaken = null, edge = none, peak = 0;
  const rates = [];
  form.addEventListener("submit", (e) => { e.preventDefault(); location.hash = `#/live/${encodeURIComponent(input.value.trim())}`; });

  function take(av) { current = av; }
  function taken(av) {
    return Object.values(av.buckets || {}).reduce((n, b) => n + b.held + b.confirmed, 0);
  }
  async function scrape() {
    try {
      const s = await getJSON("/v1/cluster/stats");
      const ready = s.window_seconds > 0; // the first answer has nothing to compare with yet
      if (ready) peak = Math.max(peak, s.holds_per_second);
      edge = {
        r429: ready ? rateText(s.rate_429_per_second) : "—",
        p99: ready && s.p99_seconds !== null ? durationText(s.p99_seconds) : "—",
        holds: ready ? rateText(s.holds_per_second) : "—",
        node: s.node, members: s.members || [],
      };
    } catch { edge = none; }
  }
  function draw() {
    scrape();
    if (!current) return;
    const t = taken(current);
    rates.push(lastTaken === null ? 0 : Math.max(0, t - lastTaken));
    lastTaken = t;
    if (rates.length > 60) rates.shift();
    const names = Object.keys(current.buckets).sort();
    const sold = names.reduce((n, k) => n + current.buckets[k].confirmed, 0);
    const held = names.reduce((n, k) => n + current.buckets[k].held, 0);
    const cap = names.reduce((n, k) => n + current.buckets[k].capacity, 0);
    kpis.replaceChildren(
      kpi("Sold", sold, "sold-total"), kpi("Held", held, "held-total"), kpi("Stock", cap, "stock-total"),
      kpi("Units taken / s", rates[rates.length - 1], "rate-now"),
      kpi("Holds placed / s (node)", edge.holds, "holds-rate"), kpi("Peak holds / s (node, this watch)", rateText(peak), "holds-peak"),
      kpi("429 answers / s (node)", edge.r429, "rate-429"), kpi("p99 latency (node, 1 s)", edge.p99, "p99"));
    nodes.replaceChildren(h("h3", { text: `Members and the resources each hosts${edge.node ? ` (rates from ${edge.node})` : ""}` }),
      table("Members", [{ label: "Member" }, { label: "State" }, { label: "Active resources", num: true }],
        edge.members.map(m => [m.id + (m.self ? " (this node)" : ""), m.status, m.activations]), { id: "live-members" }));
    rate.replaceChildren(h("h3", { text: "Units taken per second, last minute" }), line("Units taken per second over the last minute", rates));
    const rows = names.slice(0, 40).map(k => {
      const b = current.buckets[k];
      return { label: k, total: b.capacity, parts: [{ name: "sold", color: "#0b5cad", value: b.confirmed }, { name: "held", color: "#c77c02", value: b.held }] };
    });
    stock.replaceChildren(h("h3", { text: "Sold and held against stock, per bucket" }),
      h("div", { class: "legend" }, h("span", {}, h("span", { class: "swatch", style: "background:#0b5cad" }), "sold"),
        h("span", {}, h("span", { class: "swatch", style: "background:#c77c02" }), "held"),
        h("span", {}, h("span", { class: "swatch", style: "background:#d7dde6" }), "available")),
      stacked("Sold and held against stock per bucket", rows),
      table("Per bucket", [{ label: "Bucket" }, { label: "Sold", num: true }, { label: "Held", num: true }, { label: "Available", num: true }, { label: "Stock", num: true }],
        names.map(k => { const b = current.buckets[k]; return [k, b.confirmed, b.held, b.available, b.capacity]; }), { id: "live-table" }));
  }
  function startPolling(rid) {
    if (poll) return;
    mode.textContent = "Polling every second (the live stream is unavailable).";
    const once = async () => {
      try { take(await getJSON(`/v1/resources/${encodeURIComponent(rid)}/availability`)); status(""); }
      catch (err) { status(explain(err), "error"); }
    };
    once();
    poll = setInterval(once, 1000);
  }
  if (arg) {
    if (window.EventSource) {
      es = new EventSource(`/v1/resources/${encodeURIComponent(arg)}/availability/stream`);
      mode.textContent = "Connecting to the live stream…";
      es.addEventListener("availability", (e) => { mode.textContent = "Live (server-sent events)."; take(JSON.parse(e.data)); });
      es.onerror = () => { if (es.readyState === EventSource.CLOSED) { es = null; startPolling(arg); } };
    } else startPolling(arg);
    tick = setInterval(draw, 1000);
  } else mode.textContent = "Choose a resource to watch its sale.";
  return () => { if (es) es.close(); clearInterval(poll); clearInterval(tick); };
}

function kpi(label, value, id) {
  return h("div", { class: "card" }, h("div", { class: "kpi", id, text: String(value) }), h("div", { class: "kpi-label", text: label }));
}

// rateText shows a per-second rate: whole numbers as they are, small ones with a decimal.
export function rateText(r) {
  return r >= 10 || Number.isInteger(r) ? String(Math.round(r)) : r.toFixed(1);
}

// durationText shows a latency in seconds as ms (below 1 s) or s.
export function durationText(s) {
  return s < 1 ? `${Math.round(s * 1000 * 10) / 10} ms` : `${Math.round(s * 100) / 100} s`;
}
