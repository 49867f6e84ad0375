// The console's shell: sign-in (a pasted dev token, or OIDC with PKCE), the hash router and
// the page modules. No framework and no build step: each page is a module whose mount(root)
// returns a function that stops its timers and streams.

import { token, setToken, clearToken, claims, getJSON, explain } from "./api.js";
import * as oidc from "./oidc.js";
import { status } from "./dom.js";
import * as cluster from "./pages/cluster.js";
import * as live from "./pages/live.js";
import * as resources from "./pages/resources.js";
import * as reports from "./pages/reports.js";
import * as deliveries from "./pages/deliveries.js";

const pages = { cluster, live, resources, reports, deliveries };
let stop = () => {};
let config = { dev_tokens: false };

function route() {
  const [name, ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  return { name: pages[name] ? name : "cluster", arg: decodeURIComponent(rest.join("/")) };
}

function showSignIn() {
  stop(); stop = () => {};
  document.getElementById("signin").hidden = false;
  document.getElementById("nav").hidden = true;
  document.getElementById("who").hidden = true;
  document.getElementById("page").replaceChildren();
  document.getElementById("token-form").hidden = !config.dev_tokens;
  const box = document.getElementById("oidc-box");
  box.hidden = !config.oidc;
  if (config.oidc) document.getElementById("oidc-issuer").textContent = `Issuer: ${config.oidc.issuer}`;
  document.getElementById(config.dev_tokens ? "token" : "oidc-start")?.focus();
}

function render() {
  if (!token()) { showSignIn(); return; }
  document.getElementById("signin").hidden = true;
  document.getElementById("nav").hidden = false;
  const c = claims();
  const roles = [].concat(c.roles || []).join(", ") || "no roles";
  document.getElementById("who").hidden = false;
  document.getElementById("who-name").textContent = `${c.sub || "?"} (${roles}${(c.amr || []).includes("otp") || (c.amr || []).includes("mfa") ? ", MFA" : ""})`;
  const { name, arg } = route();
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.getAttribute("href") === `#/${name}`) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  stop();
  status("");
  const root = document.getElementById("page");
  root.replaceChildren();
  root.dataset.page = name;
  stop = pages[name].mount(root, arg) || (() => {});
  document.title = `${name[0].toUpperCase() + name.slice(1)} · Allot console`;
}

// verify checks the token against an operator route, so that a customer token or one
// without MFA is told so at once.
async function verify() {
  try {
    await getJSON("/v1/reports/resources?q=");
    return true;
  } catch (err) {
    status(explain(err), "error");
    return false;
  }
}

async function main() {
  try { config = await (await fetch("config.json")).json(); } catch { /* defaults */ }
  document.getElementById("token-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    setToken(document.getElementById("token").value);
    if (await verify()) { document.getElementById("token").value = ""; render(); document.getElementById("main").focus(); }
    else { clearToken(); showSignIn(); }
  });
  document.getElementById("oidc-start").addEventListener("click", () => oidc.start(config.oidc).catch(e => status(String(e.message), "error")));
  document.getElementById("sign-out").addEventListener("click", () => { clearToken(); status("Signed out.", "ok"); showSignIn(); });
  window.addEventListener("hashchange", render);
  if (config.oidc) {
    try {
      const t = await oidc.finish(config.oidc);
      if (t) { setToken(t); if (!(await verify())) clearToken(); }
    } catch (err) { status(String(err.message), "error"); }
  }
  render();
}

main();
