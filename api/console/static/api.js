// The API client: the bearer token kept for this tab (sessionStorage), and fetch calls that
// turn problem+json answers into ApiError with the status and the problem's detail.

const KEY = "allot.token";

export function token() { return sessionStorage.getItem(KEY) || ""; }
export function setToken(t) { sessionStorage.setItem(KEY, t.trim()); }
export function clearToken() { sessionStorage.removeItem(KEY); }

export class ApiError extends Error {
  constructor(status, title, detail) {
    super(detail || title || `HTTP ${status}`);
    this.status = status;
    this.title = title;
  }
}

// claims decodes the token's payload (not verified here: the API verifies every call).
export function claims(t = token()) {
  try {
    const part = t.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part + "=".repeat((4 - part.length % 4) % 4)));
  } catch { return {}; }
}

async function call(method, path, { accept = "application/json", body } = {}) {
  const headers = { Accept: accept };
  const t = token();
  if (t) headers.Authorization = `Bearer ${t}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!res.ok) {
    let title = res.statusText, detail = "";
    try { const p = await res.json(); title = p.title || title; detail = p.detail || ""; } catch { /* not JSON */ }
    throw new ApiError(res.status, title, detail);
  }
  return res;
}

export async function getJSON(path) { return (await call("GET", path)).json(); }
export async function postJSON(path, body) { return (await call("POST", path, { body })).json(); }
export async function getText(path) { return (await call("GET", path, { accept: "text/plain" })).text(); }
export async function getCSV(path) { return (await call("GET", path, { accept: "text/csv" })).blob(); }

// explain turns an error into what the operator should know.
export function explain(err) {
  if (err instanceof ApiError) {
    if (err.status === 401) return `Not signed in, or the token expired (401): ${err.message}`;
    if (err.status === 403) return `Not allowed (403): ${err.message}. The console needs the operator role and a second factor (MFA).`;
    return `${err.status} ${err.title}: ${err.message}`;
  }
  return String(err && err.message || err);
}
