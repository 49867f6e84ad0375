package ratelimit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/api/auth"
)

// testSubjectHeader stands in for a verified token: the tests' principalOf reads it.
const testSubjectHeader = "X-Test-Subject"

func testPrincipalOf(c *gin.Context) *auth.Principal {
	if s := c.GetHeader(testSubjectHeader); s != "" {
		return &auth.Principal{Subject: s}
	}
	return nil
}

// edge serves a gin engine on 127.0.0.1 with the limits installed as the node will: the
// requests budget on every route, the holds budget on hold creation. fail writes a problem
// body the way the api package does (status from the code, Retry-After kept).
func edge(t *testing.T, cfg Config) (*httptest.Server, *fakeClock, *prometheus.Registry) {
	t.Helper()
	gin.SetMode(gin.TestMode)
	clk := newFakeClock()
	reg := prometheus.NewRegistry()
	cfg.Now, cfg.Registerer = clk.Now, reg
	limits, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	fail := func(c *gin.Context, err error) {
		status := http.StatusInternalServerError
		if booking.ErrorCode(err) == booking.CodeRateLimited {
			status = http.StatusTooManyRequests
		}
		var ex *Exceeded
		detail := ""
		if errors.As(err, &ex) {
			detail = fmt.Sprintf("%s %v", ex.Policy, ex.RetryAfter())
		}
		c.Header("Content-Type", "application/problem+json")
		c.JSON(status, gin.H{"code": booking.ErrorCode(err), "detail": detail})
	}
	key := KeyBy(testPrincipalOf, limits.ClientIP)
	r := gin.New()
	r.Use(limits.Middleware(ClassRequests, key, fail))
	r.GET("/v1/resources", func(c *gin.Context) { c.String(http.StatusOK, "ok") })
	r.POST("/v1/holds", limits.Middleware(ClassHolds, key, fail), func(c *gin.Context) { c.String(http.StatusCreated, "held") })
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv, clk, reg
}

func do(t *testing.T, srv *httptest.Server, method, path string, header ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestMiddlewareAnonymousByIP(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Anonymous = Limit{Count: 2, Period: time.Second, Burst: 2}
	srv, clk, reg := edge(t, cfg)
	for i, want := range []string{`"anonymous";r=1;t=1`, `"anonymous";r=0;t=1`} {
		resp := do(t, srv, "GET", "/v1/resources")
		if resp.StatusCode != http.StatusOK || resp.Header.Get("RateLimit") != want || resp.Header.Get("RateLimit-Policy") != `"anonymous";q=2;w=1` {
			t.Fatalf("request %d: %d RateLimit=%q Policy=%q", i, resp.StatusCode, resp.Header.Get("RateLimit"), resp.Header.Get("RateLimit-Policy"))
		}
		if resp.Header.Get("Retry-After") != "" {
			t.Fatalf("request %d: an allowed answer carries Retry-After", i)
		}
	}
	resp := do(t, srv, "GET", "/v1/resources")
	var body struct{ Code, Detail string }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" ||
		resp.Header.Get("RateLimit") != `"anonymous";r=0;t=1` || body.Code != booking.CodeRateLimited || body.Detail != "anonymous 500ms" {
		t.Fatalf("over the limit: %d Retry-After=%q RateLimit=%q body=%+v", resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("RateLimit"), body)
	}
	if n := refused(t, reg, "anonymous"); n != 1 {
		t.Fatalf("refused counter = %v, want 1", n)
	}
	// A signed-in user from the same address has a budget of their own.
	if resp := do(t, srv, "GET", "/v1/resources", testSubjectHeader, "u-1"); resp.StatusCode != http.StatusOK ||
		!strings.HasPrefix(resp.Header.Get("RateLimit"), `"subject";`) {
		t.Fatalf("signed-in user behind the same IP: %d %q", resp.StatusCode, resp.Header.Get("RateLimit"))
	}
	clk.Advance(500 * time.Millisecond)
	if resp := do(t, srv, "GET", "/v1/resources"); resp.StatusCode != http.StatusOK {
		t.Fatalf("after Retry-After: %d", resp.StatusCode)
	}
}

func TestMiddlewareHoldsBudgetIsStricter(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Subject = Limit{Count: 100, Period: time.Second, Burst: 100}
	cfg.Holds = Limit{Count: 1, Period: 2 * time.Second, Burst: 2}
	srv, clk, reg := edge(t, cfg)
	for i := range 2 {
		resp := do(t, srv, "POST", "/v1/holds", testSubjectHeader, "u-1")
		policies := resp.Header.Values("RateLimit-Policy")
		if resp.StatusCode != http.StatusCreated || len(policies) != 2 || policies[0] != `"subject";q=100;w=1` || policies[1] != `"holds";q=2;w=4` {
			t.Fatalf("hold %d: %d policies %q", i, resp.StatusCode, policies)
		}
	}
	resp := do(t, srv, "POST", "/v1/holds", testSubjectHeader, "u-1")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "2" {
		t.Fatalf("third hold: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if got := resp.Header.Values("RateLimit"); len(got) != 2 || got[1] != `"holds";r=0;t=4` {
		t.Fatalf("third hold RateLimit: %q", got)
	}
	// Reads are not held back by the holds budget, and another user has their own.
	if resp := do(t, srv, "GET", "/v1/resources", testSubjectHeader, "u-1"); resp.StatusCode != http.StatusOK {
		t.Fatalf("read after the holds budget ran out: %d", resp.StatusCode)
	}
	if resp := do(t, srv, "POST", "/v1/holds", testSubjectHeader, "u-2"); resp.StatusCode != http.StatusCreated {
		t.Fatalf("another user's hold: %d", resp.StatusCode)
	}
	if n := refused(t, reg, "holds"); n != 1 {
		t.Fatalf("holds refused = %v", n)
	}
	clk.Advance(2 * time.Second)
	if resp := do(t, srv, "POST", "/v1/holds", testSubjectHeader, "u-1"); resp.StatusCode != http.StatusCreated {
		t.Fatalf("hold after waiting: %d", resp.StatusCode)
	}
}

func TestMiddlewareTrustedProxy(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Anonymous = Limit{Count: 1, Period: time.Minute, Burst: 1}
	cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	srv, _, _ := edge(t, cfg)
	// Behind the trusted proxy (the test client on 127.0.0.1), each forwarded client has a
	// budget of its own, and a client cannot forge its way out by prepending entries.
	if resp := do(t, srv, "GET", "/v1/resources", "X-Forwarded-For", "198.51.100.1"); resp.StatusCode != http.StatusOK {
		t.Fatalf("first client: %d", resp.StatusCode)
	}
	if resp := do(t, srv, "GET", "/v1/resources", "X-Forwarded-For", "198.51.100.2"); resp.StatusCode != http.StatusOK {
		t.Fatalf("second client: %d", resp.StatusCode)
	}
	if resp := do(t, srv, "GET", "/v1/resources", "X-Forwarded-For", "9.9.9.9, 198.51.100.1"); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("first client with a forged entry: %d", resp.StatusCode)
	}
}

func TestMiddlewareIPv6ByPrefix(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Anonymous = Limit{Count: 1, Period: time.Minute, Burst: 1}
	cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	srv, _, _ := edge(t, cfg)
	if resp := do(t, srv, "GET", "/v1/resources", "X-Forwarded-For", "2001:db8:1:2::1"); resp.StatusCode != http.StatusOK {
		t.Fatalf("first address: %d", resp.StatusCode)
	}
	if resp := do(t, srv, "GET", "/v1/resources", "X-Forwarded-For", "2001:db8:1:2:ffff::9"); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("another address of the same /64: %d", resp.StatusCode)
	}
	if resp := do(t, srv, "GET", "/v1/resources", "X-Forwarded-For", "2001:db8:1:3::1"); resp.StatusCode != http.StatusOK {
		t.Fatalf("another /64: %d", resp.StatusCode)
	}
}

func TestMiddlewareOff(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Off = true
	cfg.Anonymous = Limit{Count: 1, Period: time.Hour, Burst: 1}
	srv, _, _ := edge(t, cfg)
	for i := range 5 {
		resp := do(t, srv, "GET", "/v1/resources")
		if resp.StatusCode != http.StatusOK || resp.Header.Get("RateLimit") != "" {
			t.Fatalf("request %d with limits off: %d %q", i, resp.StatusCode, resp.Header.Get("RateLimit"))
		}
	}
}

func TestMiddlewareNeedsCallbacks(t *testing.T) {
	limits, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Middleware accepted a nil failure callback")
		}
	}()
	limits.Middleware(ClassRequests, KeyBy(testPrincipalOf, limits.ClientIP), nil)
}

func TestExceededIsBusy(t *testing.T) {
	ex := &Exceeded{Policy: PolicyHolds, Wait: 1500 * time.Millisecond, err: booking.Errorf(booking.CodeRateLimited, "x")}
	var be *booking.Error
	if !errors.As(fmt.Errorf("wrapped: %w", ex), &be) || be.Code != booking.CodeRateLimited || !booking.Retryable(booking.ErrorCode(ex)) {
		t.Fatalf("Exceeded does not unwrap to a rate_limited booking.Error: %v", ex)
	}
}

// refused reads allot_ratelimit_refused_total{policy} from reg.
func refused(t *testing.T, reg *prometheus.Registry, policy string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "allot_ratelimit_refused_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "policy" && lp.GetValue() == policy {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
