// Resources: search the resources the reports know (GET /v1/reports/resources), and a heat map
// of one resource's buckets by fill (held + sold over stock), laid out as a calendar when the
// buckets are dates.

import { getJSON, explain } from "../api.js";
import { h, table, status, field, money } from "../dom.js";

export function mount(root, arg) {
  const q = h("input", { type: "search", placeholder: "id or name", autocomplete: "off" });
  const form = h("form", { class: "filters", role: "search" }, field("res-q", "Search resources", q), h("button", { type: "submit", text: "Search" }));
  const list = h("div", { class: "card" });
  const heat = h("div", { class: "card", id: "heat" });
  root.append(h("h2", { text: "Resources" }), h("div", { class: "card" }, form), list, heat);

  async function search() {
    try {
      const { resources } = await getJSON(`/v1/reports/resources?q=${encodeURIComponent(q.value.trim())}`);
      list.replaceChildren(table(`${resources.length} resources`, [{ label: "Resource" }, { label: "Name" }, { label: "Time zone" }, { label: "Price", num: true }],
        resources.map(r => [h("a", { href: `#/resources/${encodeURIComponent(r.id)}`, text: r.id }), r.name, r.time_zone || "UTC",
          r.price ? money(r.price.amount, r.price.currency) : "—"]), { id: "resources-table" }));
    } catch (err) { status(explain(err), "error"); }
  }
  async function showHeat(rid) {
    try {
      const av = await getJSON(`/v1/resources/${encodeURIComponent(rid)}/availability`);
      const names = Object.keys(av.buckets).sort();
      const dated = names.every(n => /^\d{4}-\d{2}-\d{2}$/.test(n));
      const cells = [];
      if (dated && names.length) {
        const first = new Date(names[0] + "T00:00:00Z");
        for (let i = 0; i < (first.getUTCDay() + 6) % 7; i++) cells.push(h("div", { "aria-hidden": "true" }));
      }
      for (const n of names) {
        const b = av.buckets[n];
        const fill = b.capacity ? (b.held + b.confirmed) / b.capacity : 1;
        cells.push(h("div", { class: "cell", style: `background:${shade(fill)};color:${fill > 0.55 ? "#fff" : "#14171c"}`,
          title: `${n}: ${b.confirmed} sold, ${b.held} held of ${b.capacity}`, role: "listitem" },
          h("div", { text: dated ? n.slice(5) : n }), h("strong", { text: `${Math.round(fill * 100)}%` })));
      }
      heat.replaceChildren(h("h3", { text: `Availability of ${rid}` }),
        h("p", { class: "hint", text: "Each cell is a bucket, darker when fuller (held and sold over stock)." + (dated ? " Weeks start on Monday." : "") }),
        dated ? h("div", { class: "heat", "aria-hidden": "true" }, ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].map(d => h("div", { class: "hint", text: d }))) : "",
        h("div", { class: "heat", role: "list", "aria-label": `Fill of each bucket of ${rid}` }, cells));
    } catch (err) { status(explain(err), "error"); }
  }
  form.addEventListener("submit", (e) => { e.preventDefault(); search(); });
  search();
  if (arg) showHeat(arg);
  else heat.replaceChildren(h("p", { class: "hint", text: "Choose a resource to see its availability calendar." }));
  return () => {};
}

// shade maps a fill in [0, 1] from pale to deep blue.
function shade(f) {
  f = Math.max(0, Math.min(1, f));
  const c = (a, b) => Math.round(a + (b - a) * f);
  return `rgb(${c(230, 8)},${c(240, 60)},${c(250, 130)})`;
}
