package api

import "strings"

// IsHotRoute reports whether a POST to target is one of the edge's hot requests, which a
// node without TLS serves on httpserver.Lean's fast path (issue 17, round 15): hold creation,
// POST /v1/resources/:rid/holds, and what a client does next on the same connection,
// POST /v1/resources/:rid/holds/:hid/confirm, cancel and extend (a connection stays with
// net/http once a request of another route was handed over on it). target is an origin-form
// path without a query (Lean passes only [A-Za-z0-9/_-]); the handler checks the ids as for
// any other request.
func IsHotRoute(target string) bool {
	const prefix = "/v1/resources/"
	rest, ok := strings.CutPrefix(target, prefix)
	if !ok {
		return false
	}
	rid, rest, ok := strings.Cut(rest, "/")
	if !ok || rid == "" {
		return false
	}
	if rest == "holds" {
		return true
	}
	hold, ok := strings.CutPrefix(rest, "holds/")
	if !ok {
		return false
	}
	hid, op, ok := strings.Cut(hold, "/")
	if !ok || hid == "" {
		return false
	}
	switch op {
	case "confirm", "cancel", "extend":
		return true
	}
	return false
}
