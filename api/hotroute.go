package api

import "strings"

// IsHotRoute reports whether a POST to target is one of the edge's hot requests, which a
// node without TLS serves on httpserver.Lean's fast path (issue 17, round 15): hold creation,
// POST /v1/resources/:rid/holds. target is an origin-form path without a query (Lean passes
// only [A-Za-z0-9/_-]); the handler checks the resource id as for any other request.
func IsHotRoute(target string) bool {
	const prefix, suffix = "/v1/resources/", "/holds"
	if len(target) <= len(prefix)+len(suffix) || !strings.HasPrefix(target, prefix) || !strings.HasSuffix(target, suffix) {
		return false
	}
	return strings.IndexByte(target[len(prefix):len(target)-len(suffix)], '/') < 0
}
