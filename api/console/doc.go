// Package console serves the operator console at /console: a small web app (plain HTML, CSS
// and JavaScript modules, no build step, no CDN) embedded in the binary with go:embed. It
// calls the node's own API with the operator's bearer token: the cluster members, the live
// availability stream, the reports (api/reports) and the webhook deliveries (api/webhooks).
//
// The console's files and its config.json are public (auth.Public): they hold nothing
// secret, and every piece of data comes from an API route under its own policy, which
// answers 401 or 403 to a caller who is not an operator with a second factor; the console
// shows that answer. Sign-in is a pasted `allot token` (dev mode) or the OIDC authorization
// code flow with PKCE against the configured issuer, done in the browser (static/oidc.js).
package console
