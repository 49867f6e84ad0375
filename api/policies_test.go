package api

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/mount"
	"github.com/allot/allot/api/wire"
)

// TestEveryRouteHasAPolicy walks the router: a route without a policy (refused to everyone
// at run time) or a policy naming a route that does not exist fails here first.
func TestEveryRouteHasAPolicy(t *testing.T) {
	e := MustServer(t)
	policies := Policies()
	if missing := policies.Missing(e.srv.engine); len(missing) > 0 {
		t.Errorf("routes without a policy in routePolicies: %v", missing)
	}
	if stale := policies.Stale(e.srv.engine); len(stale) > 0 {
		t.Errorf("routePolicies names routes the router does not serve: %v", stale)
	}
	if len(e.srv.engine.Routes()) < 25 {
		t.Fatalf("only %d routes", len(e.srv.engine.Routes()))
	}
}

// TestOpenAPISecurityMatchesPolicies: each operation's x-allot-policy and security are the
// route's policy.
func TestOpenAPISecurityMatchesPolicies(t *testing.T) {
	doc := mustOpenAPI(t)
	n := 0
	// The policies of every mounted route (webhooks, live streams, reports, console, stats,
	// payments) travel with them (api/mount): checked here too.
	all := Policies()
	mount.AddPolicies(all, mountedRoutes())
	for r, p := range all {
		if r.Method == http.MethodHead {
			continue
		}
		path := r.Path
		for _, seg := range strings.Split(path, "/") {
			if strings.HasPrefix(seg, ":") || strings.HasPrefix(seg, "*") {
				path = strings.Replace(path, seg, "{"+seg[1:]+"}", 1)
			}
		}
		op, _ := doc.Paths[path][strings.ToLower(r.Method)].(map[string]any)
		if op == nil {
			t.Errorf("%s: not documented", r)
			continue
		}
		n++
		if got := fmt.Sprint(op["x-allot-policy"]); got != p.String() {
			t.Errorf("%s: x-allot-policy %s, want %s", r, got, p)
		}
		sec := fmt.Sprint(op["security"])
		if (p == auth.Public) != (sec == "[]") || (p != auth.Public && !strings.Contains(sec, "bearer")) {
			t.Errorf("%s: security %s for policy %s", r, sec, p)
		}
	}
	if n < 15 {
		t.Fatalf("only %d operations checked", n)
	}
}

// matrixCallers are the callers of the access matrix, in order.
var matrixCallers = []struct {
	name string
	spec *auth.TokenSpec // nil: anonymous
}{
	{"anonymous", nil},
	{"customer", &asCustomer},
	{"other customer", &asOther},
	{"operator without MFA", &asOperatorNoM},
	{"operator", &asOperator},
	{"admin", &asAdmin},
}

// TestAccessMatrix checks every route for every caller: the exact status and, for refusals,
// the problem type. hotel-1 holds u-1's holds (the customer's); the other customer and the
// operator without a second factor must not learn that they exist. The booking rules' rows
// act for u-1 by naming them (user_id): customers other than u-1, and operators without a
// second factor, are refused before anything is read.
func TestAccessMatrix(t *testing.T) {
	e := MustServer(t, func(c *Config) { c.Events = c.Dispatcher.(*actorDispatcher).store })
	e.mustCreate()
	held := func() string { // a hold of u-1's, placed by u-1
		return e.mustHold(`{"buckets":["2026-12-25"],"quantity":1}`, e.bearer(asCustomer)...).ID
	}
	confirmID, cancelID, getID, extendID := held(), held(), held(), held()
	const (
		res   = "/v1/resources/hotel-1"
		holds = res + "/holds"
	)
	// Renewals: u-1, the operator and the admin renew extendID once each.
	e.ok(e.do("PATCH", res, `{"max_extensions":5}`), http.StatusOK, nil)
	// The waitlist: 2026-12-26 (capacity 1) is sold out, so anyone may join for it.
	e.mustHold(`{"buckets":["2026-12-26"],"quantity":1,"user_id":"u-9"}`)
	const join = `{"buckets":["2026-12-26"],"quantity":1}`
	// u1Entry returns the path of u-1's waiting entry on hotel-1, joining first when u-1 has
	// none (the previous caller's leave succeeded).
	u1Entry := func(int) string {
		var mine wire.WaitlistList
		e.ok(e.do("GET", "/v1/me/waitlist", "", e.bearer(asCustomer)...), http.StatusOK, &mine)
		if len(mine.Entries) == 0 {
			var en wire.WaitlistEntry
			e.ok(e.do("POST", res+"/waitlist", join, e.bearer(asCustomer)...), http.StatusCreated, &en)
			mine.Entries = append(mine.Entries, en)
		}
		return res + "/waitlist/" + mine.Entries[0].ID + "?user_id=u-1"
	}
	// Archiving: a resource of its own for each caller, with nothing live on it.
	archivable := func(i int) string {
		id := fmt.Sprintf("arch-%d", i)
		e.ok(e.do("POST", "/v1/resources", `{"id":"`+id+`","name":"Archive me","buckets":{"all":1}}`), http.StatusCreated, nil)
		return "/v1/resources/" + id
	}
	type want [6]int // by matrixCallers
	const (
		ok, created = http.StatusOK, http.StatusCreated
		unauth      = http.StatusUnauthorized
		forbid      = http.StatusForbidden
		notFound    = http.StatusNotFound
	)
	cases := []struct {
		method, route, path string
		body                func(caller int) string
		want                want
		pathOf              func(caller int) string // when set, instead of path
	}{
		{"GET", HealthzPath, HealthzPath, nil, want{ok, ok, ok, ok, ok, ok}, nil},
		{"GET", ReadyzPath, ReadyzPath, nil, want{ok, ok, ok, ok, ok, ok}, nil},
		{"GET", OpenAPIPath, OpenAPIPath, nil, want{ok, ok, ok, ok, ok, ok}, nil},
		{"GET", DiscoveryPath, DiscoveryPath, nil, want{ok, ok, ok, ok, ok, ok}, nil},
		{"GET", JWKSPath, JWKSPath, nil, want{ok, ok, ok, ok, ok, ok}, nil},
		{"POST", "/v1/resources", "/v1/resources", func(i int) string {
			return fmt.Sprintf(`{"id":"room-%d","name":"Room","buckets":{"all":1}}`, i)
		}, want{unauth, forbid, forbid, forbid, created, created}, nil},
		{"GET", "/v1/resources/:rid", res, nil, want{ok, ok, ok, ok, ok, ok}, nil},
		{"PATCH", "/v1/resources/:rid", res, func(int) string { return `{"name":"Renamed"}` }, want{unauth, forbid, forbid, forbid, ok, ok}, nil},
		{"GET", "/v1/resources/:rid/availability", res + "/availability", nil, want{ok, ok, ok, ok, ok, ok}, nil},
		{"POST", "/v1/resources/:rid/holds", holds, func(int) string { return `{"buckets":["2026-12-24"],"quantity":1}` },
			want{unauth, created, created, created, created, created}, nil},
		{"GET", "/v1/resources/:rid/holds", holds, nil, want{unauth, forbid, forbid, forbid, ok, ok}, nil},
		{"GET", "/v1/resources/:rid/holds/:hid", holds + "/" + getID, nil, want{unauth, ok, notFound, notFound, ok, ok}, nil},
		{"POST", "/v1/resources/:rid/holds/:hid/confirm", holds + "/" + confirmID + "/confirm", nil, want{unauth, ok, notFound, notFound, ok, ok}, nil},
		{"POST", "/v1/resources/:rid/holds/:hid/cancel", holds + "/" + cancelID + "/cancel", nil, want{unauth, ok, notFound, notFound, ok, ok}, nil},
		{"GET", "/v1/me/holds", "/v1/me/holds", nil, want{unauth, ok, ok, ok, ok, ok}, nil},
		{"GET", "/v1/users/:uid/holds", "/v1/users/u-1/holds", nil, want{unauth, forbid, forbid, forbid, ok, ok}, nil},
		{"GET", "/v1/cluster/members", "/v1/cluster/members", nil, want{unauth, forbid, forbid, forbid, ok, ok}, nil},
		{"GET", "/v1/events", "/v1/events", nil, want{unauth, forbid, forbid, forbid, ok, ok}, nil},
		// The booking rules.
		{"GET", "/v1/resources", "/v1/resources", nil, want{ok, ok, ok, ok, ok, ok}, nil},
		{"DELETE", "/v1/resources/:rid", "", nil, want{unauth, forbid, forbid, forbid, ok, ok}, archivable},
		{"POST", "/v1/resources/:rid/holds/:hid/extend", holds + "/" + extendID + "/extend?user_id=u-1", nil,
			want{unauth, ok, forbid, forbid, ok, ok}, nil},
		{"POST", "/v1/resources/:rid/waitlist", res + "/waitlist", func(int) string { return join },
			want{unauth, created, created, created, created, created}, nil},
		{"DELETE", "/v1/resources/:rid/waitlist/:eid", "", nil, want{unauth, ok, forbid, forbid, ok, ok}, u1Entry},
		{"GET", "/v1/me/waitlist", "/v1/me/waitlist", nil, want{unauth, ok, ok, ok, ok, ok}, nil},
	}
	for _, c := range slices.Clone(cases) {
		if c.method == "GET" {
			c.method = "HEAD"
			cases = append(cases, c)
		}
	}
	covered := map[auth.Route]bool{}
	for _, c := range cases {
		covered[auth.Route{Method: c.method, Path: c.route}] = true
		for i, caller := range matrixCallers {
			hdr := anonymous
			if caller.spec != nil {
				hdr = e.bearer(*caller.spec)
			}
			body := ""
			if c.body != nil {
				body = c.body(i)
			}
			path := c.path
			if c.pathOf != nil {
				path = c.pathOf(i)
			}
			rec := e.do(c.method, path, body, hdr...)
			w := c.want[i]
			if rec.Code != w {
				t.Errorf("%s %s as %s: status %d, want %d; body %s", c.method, c.route, caller.name, rec.Code, w, rec.Body)
				continue
			}
			if c.method == "HEAD" {
				continue
			}
			switch {
			case w == unauth:
				mustProblem(t, rec, w, "unauthenticated")
				if rec.Header().Get("WWW-Authenticate") != "Bearer" {
					t.Errorf("%s %s as %s: WWW-Authenticate %q", c.method, c.route, caller.name, rec.Header().Get("WWW-Authenticate"))
				}
			case w == forbid && i == 3 && routePolicies[auth.Route{Method: c.method, Path: c.route}] == auth.Operator:
				mustProblem(t, rec, w, "mfa-required") // else: an admin route, or naming another user
			case w == forbid:
				mustProblem(t, rec, w, "forbidden")
			case w == notFound:
				mustProblem(t, rec, w, "not-found")
			}
		}
	}
	for _, r := range e.srv.engine.Routes() {
		if !covered[auth.Route{Method: r.Method, Path: r.Path}] {
			t.Errorf("the matrix does not cover %s %s", r.Method, r.Path)
		}
	}
}

// A customer's hold is theirs: body user_id naming someone else is refused, an operator may
// place for anyone, another user's hold is 404 and unchanged, and listings are per user.
func TestHoldOwnership(t *testing.T) {
	e := MustServer(t)
	e.mustCreate()
	const body = `{"buckets":["2026-12-24"],"quantity":1,"user_id":"u-2"}`
	mustProblem(t, e.do("POST", "/v1/resources/hotel-1/holds", body, e.bearer(asCustomer)...), http.StatusForbidden, "forbidden")
	mustProblem(t, e.do("POST", "/v1/resources/hotel-1/holds", body, e.bearer(asOperatorNoM)...), http.StatusForbidden, "forbidden")
	front := e.mustHold(body, e.bearer(asOperator)...)
	if front.UserID != "u-2" {
		t.Fatalf("an operator's hold for u-2 belongs to %q", front.UserID)
	}
	own := e.mustHold(`{"buckets":["2026-12-24"],"quantity":1,"user_id":"u-1"}`, e.bearer(asCustomer)...)
	if own.UserID != "u-1" {
		t.Fatalf("hold user %q", own.UserID)
	}
	// u-2 cannot see, confirm or cancel u-1's hold, and the answer is the unknown hold's.
	unknown := e.do("GET", "/v1/resources/hotel-1/holds/h-404", "", e.bearer(asOther)...)
	for _, op := range []string{"", "/confirm", "/cancel"} {
		method := "POST"
		if op == "" {
			method = "GET"
		}
		rec := e.do(method, "/v1/resources/hotel-1/holds/"+own.ID+op, "", e.bearer(asOther)...)
		p := mustProblem(t, rec, http.StatusNotFound, "not-found")
		u := mustProblem(t, unknown, http.StatusNotFound, "not-found")
		if strings.Replace(p.Detail, own.ID, "h-404", 1) != u.Detail || rec.Header().Get(OwnerHeader) != "" {
			t.Fatalf("foreign hold answered %+v %v, unknown hold %+v", p, rec.Header(), u)
		}
	}
	var h wire.Hold
	e.ok(e.do("GET", "/v1/resources/hotel-1/holds/"+own.ID, "", e.bearer(asCustomer)...), http.StatusOK, &h)
	if h.Status != "held" {
		t.Fatalf("u-1's hold changed by u-2: %+v", h)
	}
	// Listings: /v1/me/holds is the caller's own.
	var mine wire.HoldList
	e.ok(e.do("GET", "/v1/me/holds", "", e.bearer(asOther)...), http.StatusOK, &mine)
	if len(mine.Holds) != 1 || mine.Holds[0].ID != front.ID {
		t.Fatalf("u-2's holds: %+v", mine)
	}
	// The owner header is for operators only.
	if rec := e.do("GET", "/v1/resources/hotel-1", "", anonymous...); rec.Code != http.StatusOK || rec.Header().Get(OwnerHeader) != "" {
		t.Fatalf("anonymous read: %d, owner %q", rec.Code, rec.Header().Get(OwnerHeader))
	}
	if rec := e.do("GET", "/v1/resources/hotel-1", "", e.bearer(asOperator)...); rec.Header().Get(OwnerHeader) != testOwner {
		t.Fatalf("operator read: owner %q", rec.Header().Get(OwnerHeader))
	}
}

// Idempotency keys are scoped per caller: two users with the same key get two holds, and
// each one's retry replays their own.
func TestIdempotencyKeyPerUser(t *testing.T) {
	e := MustServer(t)
	e.mustCreate()
	const body = `{"buckets":["2026-12-24"],"quantity":1}`
	key := []string{IdempotencyKeyHeader, "same-key"}
	a := e.mustHold(body, append(e.bearer(asCustomer), key...)...)
	b := e.mustHold(body, append(e.bearer(asOther), key...)...)
	if a.ID == b.ID || a.UserID != "u-1" || b.UserID != "u-2" {
		t.Fatalf("holds %+v and %+v", a, b)
	}
	rec := e.do("POST", "/v1/resources/hotel-1/holds", body, append(e.bearer(asCustomer), key...)...)
	var again wire.Hold
	e.ok(rec, http.StatusCreated, &again)
	if again.ID != a.ID || rec.Header().Get(IdempotentReplayedHeader) != "true" {
		t.Fatalf("replay %+v %v", again, rec.Header())
	}
	if k := scopedIdempotencyKey("u-1", strings.Repeat("k", 128)); len(k) > 128 || k == scopedIdempotencyKey("u-2", strings.Repeat("k", 128)) {
		t.Fatalf("scoped key %q", k)
	}
	if scopedIdempotencyKey("ab", "c") == scopedIdempotencyKey("a", "bc") || scopedIdempotencyKey("u", "") != "" {
		t.Fatal("scoped keys collide across the subject/key boundary, or an absent key got one")
	}
}
