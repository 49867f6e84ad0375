// Small inline-SVG charts. Each has role="img" and an aria-label; pages put the numbers in a
// table beside it as the accessible alternative.

const NS = "http://www.w3.org/2000/svg";

function el(name, attrs = {}, text) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function frame(label, w, h) {
  const svg = el("svg", { viewBox: `0 0 ${w} ${h}`, class: "chart", role: "img", "aria-label": label });
  return svg;
}

// bars draws grouped bars: labels along x, series [{name, color, values}].
export function bars(label, labels, series, { w = 640, h = 220 } = {}) {
  const svg = frame(label, w, h);
  const pad = { l: 44, r: 8, t: 8, b: 40 };
  const max = Math.max(1, ...series.flatMap(s => s.values));
  const iw = w - pad.l - pad.r, ih = h - pad.t - pad.b;
  for (let i = 0; i <= 4; i++) {
    const y = pad.t + ih - (ih * i) / 4;
    svg.append(el("line", { x1: pad.l, x2: w - pad.r, y1: y, y2: y, stroke: "#d7dde6" }));
    svg.append(el("text", { x: pad.l - 4, y: y + 4, "text-anchor": "end" }, fmt(max * i / 4)));
  }
  const gw = iw / Math.max(1, labels.length), bw = Math.max(2, (gw * 0.8) / series.length);
  labels.forEach((lab, i) => {
    series.forEach((s, j) => {
      const v = s.values[i] || 0, bh = (ih * v) / max;
      const r = el("rect", { x: pad.l + i * gw + gw * 0.1 + j * bw, y: pad.t + ih - bh, width: bw - 1, height: bh, fill: s.color });
      r.append(el("title", {}, `${s.name} ${lab}: ${v}`));
      svg.append(r);
    });
    if (labels.length <= 16 || i % Math.ceil(labels.length / 16) === 0) {
      svg.append(el("text", { x: pad.l + i * gw + gw / 2, y: h - pad.b + 14, "text-anchor": "middle" }, short(lab)));
    }
  });
  return svg;
}

// stacked draws one horizontal bar per row: parts [{name, color, value}] of a total.
export function stacked(label, rows, { w = 640, row = 26 } = {}) {
  const h = rows.length * row + 8;
  const svg = frame(label, w, h);
  const lw = 110;
  rows.forEach((r, i) => {
    const total = Math.max(1, r.total);
    let x = lw;
    svg.append(el("text", { x: lw - 6, y: i * row + 18, "text-anchor": "end" }, short(r.label)));
    svg.append(el("rect", { x: lw, y: i * row + 4, width: w - lw - 8, height: row - 8, fill: "#d7dde6" }));
    for (const p of r.parts) {
      const pw = ((w - lw - 8) * p.value) / total;
      const rect = el("rect", { x, y: i * row + 4, width: Math.max(0, pw), height: row - 8, fill: p.color });
      rect.append(el("title", {}, `${r.label} ${p.name}: ${p.value} of ${r.total}`));
      svg.append(rect);
      x += pw;
    }
  });
  return svg;
}

// line draws one series of recent values (oldest first).
export function line(label, values, { w = 640, h = 160, color = "#0b5cad" } = {}) {
  const svg = frame(label, w, h);
  const pad = { l: 44, r: 8, t: 8, b: 18 };
  const max = Math.max(1, ...values);
  const iw = w - pad.l - pad.r, ih = h - pad.t - pad.b;
  for (let i = 0; i <= 2; i++) {
    const y = pad.t + ih - (ih * i) / 2;
    svg.append(el("line", { x1: pad.l, x2: w - pad.r, y1: y, y2: y, stroke: "#d7dde6" }));
    svg.append(el("text", { x: pad.l - 4, y: y + 4, "text-anchor": "end" }, fmt(max * i / 2)));
  }
  const n = Math.max(2, values.length);
  const pts = values.map((v, i) => `${pad.l + (iw * i) / (n - 1)},${pad.t + ih - (ih * v) / max}`).join(" ");
  svg.append(el("polyline", { points: pts, fill: "none", stroke: color, "stroke-width": 2 }));
  svg.append(el("text", { x: pad.l, y: h - 4 }, `${values.length} s ago`));
  svg.append(el("text", { x: w - pad.r, y: h - 4, "text-anchor": "end" }, "now"));
  return svg;
}

function fmt(v) { return Math.abs(v) >= 1000 ? (v / 1000).toFixed(1) + "k" : String(Math.round(v * 10) / 10); }
function short(s) { s = String(s); return s.length > 14 ? s.slice(0, 13) + "…" : s; }
