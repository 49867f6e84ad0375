package ratelimit

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/allot/allot/actors/booking"
)

// TestAuthFailuresGuardVerification installs the budgets around a stand-in for
// api.Authenticate, as the node will, and shows that an address sending bad tokens is
// refused before its tokens are checked once its failure budget is spent, while good
// requests from it do not spend that budget and other addresses are not affected.
func TestAuthFailuresGuardVerification(t *testing.T) {
	gin.SetMode(gin.TestMode)
	clk := newFakeClock()
	cfg := DefaultConfig()
	cfg.Now, cfg.Registerer = clk.Now, prometheus.NewRegistry()
	cfg.AuthFailures = Limit{Count: 1, Period: time.Second, Burst: 2}
	cfg.TrustedProxies = parsePrefixesMust(t, "127.0.0.1")
	limits, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	verified := 0
	authenticate := func(c *gin.Context) { // api.Authenticate's stand-in
		verified++
		if c.GetHeader("Authorization") != "Bearer good" {
			c.AbortWithStatus(http.StatusUnauthorized)
			return
		}
		c.Next()
	}
	fail := func(c *gin.Context, err error) {
		if booking.ErrorCode(err) != booking.CodeRateLimited {
			t.Errorf("failure callback got %v", err)
		}
		c.AbortWithStatus(http.StatusTooManyRequests)
	}
	key := KeyBy(testPrincipalOf, limits.ClientIP)
	r := gin.New()
	r.Use(limits.Middleware(ClassAuthFailures, key, fail), authenticate)
	r.GET("/v1/me/holds", func(c *gin.Context) { c.Status(http.StatusOK) })
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)

	call := func(client, token string) *http.Response {
		t.Helper()
		return do(t, srv, "GET", "/v1/me/holds", "Authorization", "Bearer "+token, "X-Forwarded-For", client)
	}
	for i := range 5 {
		if resp := call("198.51.100.1", "good"); resp.StatusCode != http.StatusOK || resp.Header.Get("RateLimit") != "" {
			t.Fatalf("good request %d: %d %q", i, resp.StatusCode, resp.Header.Get("RateLimit"))
		}
	}
	for i := range 2 {
		if resp := call("198.51.100.1", "forged"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("bad token %d: %d", i, resp.StatusCode)
		}
	}
	before := verified
	resp := call("198.51.100.1", "forged")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" ||
		resp.Header.Get("RateLimit-Policy") != `"auth_failures";q=2;w=2` || resp.Header.Get("RateLimit") != `"auth_failures";r=0;t=2` {
		t.Fatalf("third bad token: %d Retry-After %q %q %q", resp.StatusCode, resp.Header.Get("Retry-After"),
			resp.Header.Get("RateLimit-Policy"), resp.Header.Get("RateLimit"))
	}
	if resp := call("198.51.100.1", "good"); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("good token from the refused address: %d", resp.StatusCode)
	}
	if verified != before {
		t.Fatalf("%d tokens were checked for a refused address", verified-before)
	}
	if resp := call("198.51.100.2", "forged"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("another address: %d", resp.StatusCode)
	}
	clk.Advance(time.Second)
	if resp := call("198.51.100.1", "good"); resp.StatusCode != http.StatusOK {
		t.Fatalf("after a unit came back: %d", resp.StatusCode)
	}
}

func TestPeekSpendsNothing(t *testing.T) {
	clk := newFakeClock()
	lim := mustLimiter(t, Limit{Count: 1, Period: time.Second, Burst: 2}, 100, clk.Now)
	for range 3 {
		if d := lim.Peek("k"); !d.Allowed || d.Remaining != 2 {
			t.Fatalf("Peek of a fresh key: %+v", d)
		}
	}
	lim.Allow("k")
	lim.Allow("k")
	if d := lim.Peek("k"); d.Allowed || d.RetryAfter != time.Second {
		t.Fatalf("Peek of a spent key: %+v", d)
	}
	clk.Advance(time.Second)
	if d := lim.Peek("k"); !d.Allowed || d.Remaining != 1 {
		t.Fatalf("Peek after one interval: %+v", d)
	}
}

func parsePrefixesMust(t *testing.T, s string) []netip.Prefix {
	t.Helper()
	p, err := ParsePrefixes(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
