// Reports: bookings per group, revenue, the conversion funnel and top resources, with the
// API's filters, and a CSV download of each (the same routes with Accept: text/csv).

import { getJSON, getCSV, explain } from "../api.js";
import { h, table, status, field, money, pct } from "../dom.js";
import { bars } from "../charts.js";

function today(offset = 0) {
  const d = new Date(Date.now() + offset * 86400000);
  return d.toISOString().slice(0, 10);
}

export function mount(root) {
  const from = h("input", { type: "date", value: today(-29) });
  const to = h("input", { type: "date", value: today(1) });
  const rid = h("input", { type: "text", placeholder: "all resources", autocomplete: "off" });
  const group = h("select", {}, ["day", "week", "month", "resource", "bucket"].map(g => h("option", { value: g, text: g })));
  const tz = h("select", {}, h("option", { value: "utc", text: "UTC" }), h("option", { value: "resource", text: "Resource's time zone" }));
  const form = h("form", { class: "filters" },
    field("rep-from", "From", from), field("rep-to", "To (exclusive)", to), field("rep-rid", "Resource", rid),
    field("rep-group", "Group by", group), field("rep-tz", "Days in", tz), h("button", { type: "submit", text: "Show" }));
  const out = h("div", { id: "report-out" });
  root.append(h("h2", { text: "Reports" }), h("div", { class: "card" }, form), out);

  function query(kind) {
    const p = new URLSearchParams({ from: from.value, to: to.value, group_by: kind === "funnel" && group.value === "bucket" ? "resource" : group.value, tz: tz.value });
    if (rid.value.trim()) p.set("resource_id", rid.value.trim());
    if (kind === "top-resources") { p.delete("group_by"); p.set("limit", "10"); }
    return `/v1/reports/${kind}?${p}`;
  }
  function csvButton(kind) {
    return h("button", { type: "button", class: "secondary", onclick: async () => {
      try {
        const blob = await getCSV(query(kind));
        const a = h("a", { href: URL.createObjectURL(blob), download: `${kind}_${from.value}_${to.value}.csv` });
        document.body.append(a); a.click(); a.remove();
        setTimeout(() => URL.revokeObjectURL(a.href), 1000);
      } catch (err) { status(explain(err), "error"); }
    } }, `Download ${kind} CSV`);
  }
  async function show() {
    try {
      const [b, r, f, t] = await Promise.all(["bookings", "revenue", "funnel", "top-resources"].map(k => getJSON(query(k))));
      status("");
      const labels = b.rows.map(x => x.group);
      out.replaceChildren(
        h("div", { class: "grid" },
          kpi("Holds placed", b.total.placed, "rep-total-placed"), kpi("Confirmed", b.total.confirmed, "rep-total-confirmed"),
          kpi("Conversion", pct(b.total.conversion), "rep-conversion"), kpi("Cancelled", pct(b.total.cancellation_rate), "rep-cancel-rate"),
          kpi("Expired", pct(b.total.expiry_rate), "rep-expiry-rate"),
          ...r.totals.map(x => kpi(`Net revenue ${x.currency}`, money(x.net, x.currency), `rep-net-${x.currency}`))),
        h("section", { class: "card", "aria-labelledby": "h-bookings" }, h("h3", { id: "h-bookings", text: `Bookings by ${b.group_by}` }),
          bars(`Holds placed, confirmed and cancelled by ${b.group_by}`, labels, [
            { name: "placed", color: "#6b7280", values: b.rows.map(x => x.placed) },
            { name: "confirmed", color: "#0b5cad", values: b.rows.map(x => x.confirmed) },
            { name: "cancelled", color: "#a31d1d", values: b.rows.map(x => x.cancelled) }]),
          legend([["placed", "#6b7280"], ["confirmed", "#0b5cad"], ["cancelled", "#a31d1d"]]),
          table("Bookings", [{ label: b.group_by }, { label: "Placed", num: true }, { label: "Confirmed", num: true }, { label: "Cancelled", num: true },
            { label: "Expired", num: true }, { label: "Refunded", num: true }, { label: "Units sold", num: true }, { label: "Conversion", num: true }],
          b.rows.map(x => [x.group, x.placed, x.confirmed, x.cancelled, x.expired, x.refunded, x.units_confirmed, pct(x.conversion)]), { id: "bookings-table" }),
          csvButton("bookings")),
        h("section", { class: "card", "aria-labelledby": "h-revenue" }, h("h3", { id: "h-revenue", text: "Revenue" }),
          table("Revenue per group and currency", [{ label: b.group_by }, { label: "Currency" }, { label: "Gross", num: true }, { label: "Refunded", num: true }, { label: "Net", num: true }],
            r.rows.map(x => [x.group, x.currency, money(x.gross, x.currency), money(x.refunded, x.currency), money(x.net, x.currency)]), { id: "revenue-table" }),
          csvButton("revenue")),
        h("section", { class: "card", "aria-labelledby": "h-funnel" }, h("h3", { id: "h-funnel", text: "Conversion funnel" }),
          bars("Funnel: viewers, holds placed, confirmed, cancelled", ["viewers", "placed", "confirmed", "cancelled"],
            [{ name: "total", color: "#0b5cad", values: [f.total.views, f.total.placed, f.total.confirmed, f.total.cancelled] }], { h: 180 }),
          table("Funnel", [{ label: "Viewers", num: true }, { label: "Placed", num: true }, { label: "Confirmed", num: true }, { label: "Cancelled", num: true },
            { label: "View → hold", num: true }, { label: "Hold → confirmed", num: true }],
          [[f.total.views, f.total.placed, f.total.confirmed, f.total.cancelled, pct(f.total.view_to_hold), pct(f.total.conversion)]], { id: "funnel-table" }),
          csvButton("funnel")),
        h("section", { class: "card", "aria-labelledby": "h-top" }, h("h3", { id: "h-top", text: "Top resources" }),
          table("By units sold", [{ label: "Resource" }, { label: "Name" }, { label: "Confirmed", num: true }, { label: "Units sold", num: true }, { label: "Net revenue", num: true }],
            t.resources.map(x => [x.resource_id, x.name, x.confirmed, x.units_confirmed, x.revenue.map(v => money(v.net, v.currency)).join(", ") || "—"]), { id: "top-table" }),
          csvButton("top-resources")),
        h("section", { class: "card", "aria-labelledby": "h-lead" }, h("h3", { id: "h-lead", text: "Lead time and peak hours" }),
          h("p", { class: "hint", text: "Confirmations by lead time (confirmation to the first bucket)" }),
          bars("Confirmations by lead time", b.lead_times.map(x => x.class), [{ name: "confirmed", color: "#1b6e3a", values: b.lead_times.map(x => x.confirmed) }], { h: 180 }),
          h("p", { class: "hint", text: `Holds placed by hour of day (${b.time_zone})` }),
          bars(`Holds placed by hour of day (${b.time_zone})`, b.peak_hours.map((_, i) => String(i)), [{ name: "placed", color: "#c77c02", values: b.peak_hours }], { h: 180 })));
    } catch (err) { status(explain(err), "error"); }
  }
  form.addEventListener("submit", (e) => { e.preventDefault(); show(); });
  show();
  return () => {};
}

function kpi(label, value, id) {
  return h("div", { class: "card" }, h("div", { class: "kpi", id, text: String(value) }), h("div", { class: "kpi-label", text: label }));
}

function legend(items) {
  return h("div", { class: "legend" }, items.map(([n, c]) => h("span", {}, h("span", { class: "swatch", style: `background:${c}` }), n)));
}
