package api

import (
	"net/http"
	"testing"

	"github.com/allot/allot/api/audit"
	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/live"
	"github.com/allot/allot/api/mount"
	"github.com/allot/allot/api/webhooks"
)

// mountedRoutes are the route tables of the packages whose routes api.Server mounts
// (webhooks admin API, live streams). Only methods and paths are read here.
func mountedRoutes() []mount.Route {
	routes := append(webhooks.NewHandlers(nil, nil).Routes(), (&live.Streams{}).Routes()...)
	return append(routes, audit.NewHandlers(nil, nil).Routes()...)
}

// TestMountedRoutesHaveTheirPolicies: a server with mounted routes serves them (HEAD on GET
// too) under their declared policies, so that Authenticate refuses before their handlers
// run (the handlers here are nil and must not be reached).
func TestMountedRoutesHaveTheirPolicies(t *testing.T) {
	routes := mountedRoutes()
	e := MustServer(t, func(c *Config) { c.Mounted = routes })
	policies := MountedPolicies(routes)
	if missing := policies.Missing(e.srv.engine); len(missing) > 0 {
		t.Errorf("routes without a policy: %v", missing)
	}
	for _, r := range routes {
		if got := policies[auth.Route{Method: r.Method, Path: r.Path}]; got != r.Policy {
			t.Errorf("%s %s: policy %s, want %s", r.Method, r.Path, got, r.Policy)
		}
		if r.Method == http.MethodGet && policies[auth.Route{Method: http.MethodHead, Path: r.Path}] != r.Policy {
			t.Errorf("HEAD %s: no policy", r.Path)
		}
	}
	for _, c := range []struct{ method, path string }{
		{"POST", "/v1/webhooks"}, {"GET", "/v1/webhooks"}, {"GET", "/v1/webhooks/w-1/deliveries"},
		{"POST", "/v1/webhooks/w-1/deliveries/d-1/retry"}, {"DELETE", "/v1/webhooks/w-1"}, {"GET", "/v1/me/events"},
		{"GET", "/v1/audit"},
	} {
		rec := e.do(c.method, c.path, "", anonymous...)
		mustProblem(t, rec, http.StatusUnauthorized, "unauthenticated")
		if c.path != "/v1/me/events" { // any signed-in user may: its nil handler must not run
			rec = e.do(c.method, c.path, "", e.bearer(asOperator)...)
			mustProblem(t, rec, http.StatusForbidden, "forbidden")
		}
	}
}
