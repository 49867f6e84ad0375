// DOM helpers shared by the pages.

export function h(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== undefined && c !== null) e.append(c);
  return e;
}

// table builds a table: columns [{label, num}] and rows of cells (strings, numbers or nodes).
export function table(caption, columns, rows, attrs = {}) {
  return h("div", { class: "table-wrap" },
    h("table", attrs,
      h("caption", { class: "hint", text: caption }),
      h("thead", {}, h("tr", {}, columns.map(c => h("th", { scope: "col", class: c.num ? "num" : undefined, text: c.label })))),
      h("tbody", {}, rows.map(r => h("tr", {}, r.map((cell, i) =>
        h("td", { class: columns[i] && columns[i].num ? "num" : undefined }, cell instanceof Node ? cell : String(cell))))))));
}

// status shows a message to everyone, screen readers included; "" hides it.
export function status(msg, kind = "") {
  const s = document.getElementById("status");
  s.hidden = !msg;
  s.textContent = msg;
  s.className = "status " + kind;
}

export function money(amount, currency) {
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(amount / 100);
  } catch { return `${(amount / 100).toFixed(2)} ${currency}`; }
}

export function pct(x) { return (x * 100).toFixed(1) + "%"; }

export function field(id, label, input) {
  input.id = id;
  return h("div", {}, h("label", { for: id, text: label }), input);
}
