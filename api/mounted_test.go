package api

import (
	"net/http"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/allot/allot/api/audit"
	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/console"
	"github.com/allot/allot/api/live"
	"github.com/allot/allot/api/mount"
	"github.com/allot/allot/api/nodestats"
	"github.com/allot/allot/api/notify"
	"github.com/allot/allot/api/payments"
	"github.com/allot/allot/api/reports"
	"github.com/allot/allot/api/webhooks"
)

// mountedRoutes are the route tables of the packages whose routes api.Server mounts
// (webhooks admin API, live streams, reports, console, node stats, payments, notifications).
// Only methods and paths are read here.
func mountedRoutes() []mount.Route {
	routes := append(webhooks.NewHandlers(nil, nil).Routes(), (&live.Streams{}).Routes()...)
	routes = append(routes, (&reports.Handlers{}).Routes()...)
	routes = append(routes, (&console.Console{}).Routes()...)
	routes = append(routes, (&nodestats.Stats{}).Routes()...)
	routes = append(routes, (*payments.Service)(nil).Routes()...)
	routes = append(routes, audit.NewHandlers(nil, nil).Routes()...)
	return append(routes, notify.NewHandlers(nil, nil, nil).Routes()...)
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
	// The reports and the node's stats: operators with a second factor only.
	for _, path := range []string{"/v1/reports/bookings", "/v1/reports/revenue", "/v1/reports/funnel",
		"/v1/reports/top-resources", "/v1/reports/resources", "/v1/cluster/stats"} {
		mustProblem(t, e.do("GET", path, "", anonymous...), http.StatusUnauthorized, "unauthenticated")
		mustProblem(t, e.do("GET", path, "", e.bearer(asCustomer)...), http.StatusForbidden, "forbidden")
		mustProblem(t, e.do("GET", path, "", e.bearer(asOperatorNoM)...), http.StatusForbidden, "mfa-required")
	}
}

// TestAvailabilityObservers: the observers run around the availability route, after
// authentication (they see the caller) and around the handler (they see its status); other
// routes do not run them.
func TestAvailabilityObservers(t *testing.T) {
	type seen struct {
		rid, subject string
		status       int
	}
	var got []seen
	e := MustServer(t, func(c *Config) {
		c.AvailabilityObservers = []gin.HandlerFunc{func(c *gin.Context) {
			c.Next()
			s := seen{rid: c.Param("rid"), status: c.Writer.Status()}
			if p := PrincipalOf(c); p != nil {
				s.subject = p.Subject
			}
			got = append(got, s)
		}}
	})
	e.mustCreate()
	e.do("GET", "/v1/resources/hotel-1/availability", "", e.bearer(asCustomer)...)
	e.do("GET", "/v1/resources/hotel-1/availability", "", anonymous...)
	e.do("GET", "/v1/resources/nope/availability", "", anonymous...)
	e.do("GET", "/v1/resources/hotel-1", "", anonymous...)
	want := []seen{{"hotel-1", "u-1", http.StatusOK}, {"hotel-1", "", http.StatusOK}, {"nope", "", http.StatusNotFound}}
	if len(got) != len(want) {
		t.Fatalf("observed %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("observed %+v, want %+v", got, want)
		}
	}
}
