package api

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/allot/allot/api/ratelimit"
	"github.com/allot/allot/api/wire"
)

// limitedServer is a testEnv whose edge has the given limits on its fake clock.
func limitedServer(t *testing.T, change func(*ratelimit.Config)) *testEnv {
	t.Helper()
	rc := ratelimit.DefaultConfig()
	rc.Now = nil // the server's clock
	change(&rc)
	return MustServer(t, func(c *Config) { c.RateLimits = &rc })
}

// from sends a request whose TCP peer is peer ("203.0.113.7:4711").
func (e *testEnv) from(peer, method, path, body string, hdr ...string) *httptest.ResponseRecorder {
	e.tb.Helper()
	if !hasHeader(hdr, "Authorization") {
		hdr = append(e.bearer(asAdmin), hdr...)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.RemoteAddr = peer
		e.h.ServeHTTP(w, r)
	})
	return e.serve(h, method, path, body, hdr...)
}

// mustRateLimited asserts a 429 rate-limited problem+json with Retry-After and the
// RateLimit headers naming policy.
func mustRateLimited(t *testing.T, rec *httptest.ResponseRecorder, policy, retryAfter string) {
	t.Helper()
	p := mustProblem(t, rec, http.StatusTooManyRequests, "rate-limited")
	if p.Code != "rate_limited" {
		t.Fatalf("code %q, want rate_limited", p.Code)
	}
	if got := rec.Header().Get("Retry-After"); got != retryAfter {
		t.Fatalf("Retry-After %q, want %q", got, retryAfter)
	}
	if !strings.Contains(strings.Join(rec.Header().Values("RateLimit-Policy"), ","), `"`+policy+`"`) ||
		!strings.Contains(strings.Join(rec.Header().Values("RateLimit"), ","), `"`+policy+`";r=0`) {
		t.Fatalf("RateLimit headers %v / %v do not name %s with nothing left", rec.Header().Values("RateLimit-Policy"), rec.Header().Values("RateLimit"), policy)
	}
}

// TestRateLimitPerSubject: a signed-in user has a budget of their own, whatever address they
// come from; another user is not affected; the budget comes back with time.
func TestRateLimitPerSubject(t *testing.T) {
	e := limitedServer(t, func(c *ratelimit.Config) { c.Subject = ratelimit.Limit{Count: 1, Period: 2 * time.Second, Burst: 3} })
	u1, u2 := e.bearer(asCustomer), e.bearer(asOther)
	for i := range 3 {
		rec := e.from("198.51.100.1:1000", "GET", "/v1/me/holds", "", u1...)
		if rec.Code != http.StatusOK {
			t.Fatalf("request %d: %d %s", i, rec.Code, rec.Body)
		}
		if rec.Header().Get("RateLimit-Policy") != `"subject";q=3;w=6` || rec.Header().Get("RateLimit") == "" {
			t.Fatalf("request %d: RateLimit-Policy %q RateLimit %q", i, rec.Header().Get("RateLimit-Policy"), rec.Header().Get("RateLimit"))
		}
	}
	// Another address does not give the same user a new budget.
	mustRateLimited(t, e.from("198.51.100.2:1000", "GET", "/v1/me/holds", "", u1...), ratelimit.PolicySubject, "2")
	if rec := e.from("198.51.100.1:1000", "GET", "/v1/me/holds", "", u2...); rec.Code != http.StatusOK {
		t.Fatalf("another user: %d %s", rec.Code, rec.Body)
	}
	e.clock.Advance(2 * time.Second)
	if rec := e.from("198.51.100.1:1000", "GET", "/v1/me/holds", "", u1...); rec.Code != http.StatusOK {
		t.Fatalf("after the wait: %d %s", rec.Code, rec.Body)
	}
	// The refusal is logged and counted like any 429.
	if got := e.doAdmin("GET", MetricsPath).Body.String(); !strings.Contains(got, `allot_ratelimit_refused_total{policy="subject"} 1`) {
		t.Fatalf("metrics do not count the refusal:\n%s", got)
	}
}

// TestRateLimitAnonymousPerIP: requests without a token are counted per client IP; the
// probes are never limited; X-Forwarded-For is believed only from a trusted proxy.
func TestRateLimitAnonymousPerIP(t *testing.T) {
	e := limitedServer(t, func(c *ratelimit.Config) {
		c.Anonymous = ratelimit.Limit{Count: 2, Period: time.Second, Burst: 2}
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	})
	anon := []string{"Authorization", ""}
	for range 2 {
		if rec := e.from("203.0.113.7:1", "GET", "/v1/resources", "", anon...); rec.Code != http.StatusOK {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
	mustRateLimited(t, e.from("203.0.113.7:2", "GET", "/v1/resources", "", anon...), ratelimit.PolicyAnonymous, "1")
	// A client spoofing X-Forwarded-For directly is still counted by its address.
	mustRateLimited(t, e.from("203.0.113.7:3", "GET", "/v1/resources", "", append(anon, "X-Forwarded-For", "192.0.2.99")...), ratelimit.PolicyAnonymous, "1")
	if rec := e.from("203.0.113.8:1", "GET", "/v1/resources", "", anon...); rec.Code != http.StatusOK {
		t.Fatalf("another address: %d %s", rec.Code, rec.Body)
	}
	// Behind the trusted proxy, the forwarded client is counted, not the proxy.
	for range 2 {
		if rec := e.from("10.1.2.3:1", "GET", "/v1/resources", "", append(anon, "X-Forwarded-For", "192.0.2.50")...); rec.Code != http.StatusOK {
			t.Fatalf("via proxy: %d %s", rec.Code, rec.Body)
		}
	}
	mustRateLimited(t, e.from("10.1.2.3:1", "GET", "/v1/resources", "", append(anon, "X-Forwarded-For", "192.0.2.50")...), ratelimit.PolicyAnonymous, "1")
	if rec := e.from("10.1.2.3:1", "GET", "/v1/resources", "", append(anon, "X-Forwarded-For", "192.0.2.51")...); rec.Code != http.StatusOK {
		t.Fatalf("another client via proxy: %d %s", rec.Code, rec.Body)
	}
	for _, p := range []string{HealthzPath, ReadyzPath} {
		for range 5 {
			rec := e.from("203.0.113.7:1", "GET", p, "", anon...)
			if rec.Code != http.StatusOK || rec.Header().Get("RateLimit") != "" {
				t.Fatalf("%s: %d, RateLimit %q: probes are not limited", p, rec.Code, rec.Header().Get("RateLimit"))
			}
		}
	}
}

// TestRateLimitHoldCreation: hold creation spends a stricter budget of its own besides the
// user's; other routes of the same user go on.
func TestRateLimitHoldCreation(t *testing.T) {
	e := limitedServer(t, func(c *ratelimit.Config) { c.Holds = ratelimit.Limit{Count: 1, Period: time.Second, Burst: 1} })
	e.mustCreate()
	u1 := e.bearer(asCustomer)
	hold := `{"quantity":1,"buckets":["2026-12-24"]}`
	rec := e.do("POST", "/v1/resources/hotel-1/holds", hold, append(u1, "Idempotency-Key", "k-1")...)
	if rec.Code != http.StatusCreated {
		t.Fatalf("first hold: %d %s", rec.Code, rec.Body)
	}
	if got := rec.Header().Values("RateLimit-Policy"); len(got) != 2 {
		t.Fatalf("RateLimit-Policy %v: want the subject's and the holds' budgets", got)
	}
	mustRateLimited(t, e.do("POST", "/v1/resources/hotel-1/holds", hold, append(u1, "Idempotency-Key", "k-2")...), ratelimit.PolicyHolds, "1")
	// Other routes of the user go on, and the refused hold changed nothing: one is listed.
	var list wire.HoldList
	e.ok(e.do("GET", "/v1/me/holds", "", u1...), http.StatusOK, &list)
	if len(list.Holds) != 1 {
		t.Fatalf("%d holds listed, want 1", len(list.Holds))
	}
}

// TestRateLimitAuthFailures: an address whose tokens keep failing is refused 429 before its
// next token is checked, and a valid token from it is refused too until a unit is back.
func TestRateLimitAuthFailures(t *testing.T) {
	e := limitedServer(t, func(c *ratelimit.Config) { c.AuthFailures = ratelimit.Limit{Count: 1, Period: time.Second, Burst: 2} })
	bad := []string{"Authorization", "Bearer not-a-token"}
	for range 2 {
		mustProblem(t, e.from("203.0.113.9:1", "GET", "/v1/me/holds", "", bad...), http.StatusUnauthorized, "unauthenticated")
	}
	mustRateLimited(t, e.from("203.0.113.9:1", "GET", "/v1/me/holds", "", bad...), ratelimit.PolicyAuth, "1")
	mustRateLimited(t, e.from("203.0.113.9:1", "GET", "/v1/me/holds", "", e.bearer(asCustomer)...), ratelimit.PolicyAuth, "1")
	if rec := e.from("203.0.113.10:1", "GET", "/v1/me/holds", "", e.bearer(asCustomer)...); rec.Code != http.StatusOK {
		t.Fatalf("another address: %d %s", rec.Code, rec.Body)
	}
	e.clock.Advance(time.Second)
	if rec := e.from("203.0.113.9:1", "GET", "/v1/me/holds", "", e.bearer(asCustomer)...); rec.Code != http.StatusOK {
		t.Fatalf("after the wait: %d %s", rec.Code, rec.Body)
	}
}

// TestRateLimitsOff: --rate-limits=off passes everything and sets no header.
func TestRateLimitsOff(t *testing.T) {
	e := limitedServer(t, func(c *ratelimit.Config) {
		c.Off = true
		c.Subject = ratelimit.Limit{Count: 1, Period: time.Hour, Burst: 1}
	})
	for i := range 5 {
		rec := e.do("GET", "/v1/me/holds", "", e.bearer(asCustomer)...)
		if rec.Code != http.StatusOK || rec.Header().Get("RateLimit") != "" {
			t.Fatalf("request %d: %d, RateLimit %q", i, rec.Code, rec.Header().Get("RateLimit"))
		}
	}
}

// TestRateLimitMissingTokenIsNoAuthFailure: 401s for requests without a token (an app
// asking for "my holds" before its user signed in, many behind one NAT) do not spend the
// address's failed-authentication budget.
func TestRateLimitMissingTokenIsNoAuthFailure(t *testing.T) {
	e := limitedServer(t, func(c *ratelimit.Config) { c.AuthFailures = ratelimit.Limit{Count: 1, Period: time.Hour, Burst: 1} })
	for range 5 {
		mustProblem(t, e.from("203.0.113.11:1", "GET", "/v1/me/holds", "", "Authorization", ""), http.StatusUnauthorized, "unauthenticated")
	}
	if rec := e.from("203.0.113.11:1", "GET", "/v1/me/holds", "", e.bearer(asCustomer)...); rec.Code != http.StatusOK {
		t.Fatalf("a signed-in request after anonymous 401s: %d %s", rec.Code, rec.Body)
	}
}
