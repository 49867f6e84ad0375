// OpenID Connect sign-in: the authorization code flow with PKCE (RFC 7636, S256) against the
// configured issuer, found through its discovery document. The verifier and state live in
// sessionStorage for the round trip only.

const PENDING = "allot.oidc";

function b64url(bytes) {
  let s = "";
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function random(n) { return b64url(crypto.getRandomValues(new Uint8Array(n))); }

async function discover(issuer) {
  const res = await fetch(issuer.replace(/\/$/, "") + "/.well-known/openid-configuration");
  if (!res.ok) throw new Error(`discovery failed: ${res.status}`);
  return res.json();
}

export function redirectURI() { return location.origin + location.pathname; }

// start sends the browser to the issuer's authorization endpoint.
export async function start(cfg) {
  const doc = await discover(cfg.issuer);
  const verifier = random(32);
  const challenge = b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const state = random(16);
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, token_endpoint: doc.token_endpoint }));
  const u = new URL(doc.authorization_endpoint);
  u.search = new URLSearchParams({
    response_type: "code", client_id: cfg.client_id, redirect_uri: redirectURI(),
    scope: cfg.scopes || "openid", state, code_challenge: challenge, code_challenge_method: "S256",
  }).toString();
  location.assign(u.toString());
}

// finish exchanges the code in the URL for an access token, or returns "" when the URL holds
// no authorization response. A state that does not match is refused.
export async function finish(cfg) {
  const q = new URLSearchParams(location.search);
  if (!q.has("code") && !q.has("error")) return "";
  const pending = JSON.parse(sessionStorage.getItem(PENDING) || "null");
  sessionStorage.removeItem(PENDING);
  history.replaceState(null, "", location.pathname + location.hash);
  if (q.has("error")) throw new Error(`sign-in refused: ${q.get("error")}`);
  if (!pending || q.get("state") !== pending.state) throw new Error("sign-in state does not match; try again");
  const res = await fetch(pending.token_endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code", code: q.get("code"), redirect_uri: redirectURI(),
      client_id: cfg.client_id, code_verifier: pending.verifier,
    }),
  });
  if (!res.ok) throw new Error(`token exchange failed: ${res.status}`);
  const body = await res.json();
  return body.access_token || "";
}
