package cmd

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/allot/allot/api/audit"
	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/ratelimit"
	"github.com/allot/allot/api/wire"
)

// nodeCall sends one request to the node as the token's bearer (none when token is "").
func nodeCall(t *testing.T, method, url, token, body string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func mint(t *testing.T, m *Main, spec auth.TokenSpec) string {
	t.Helper()
	spec.TTL = time.Hour
	tok, err := m.DevIssuer().Mint(spec)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

var nodeOperator = auth.TokenSpec{Subject: "op-1", Roles: []auth.Role{auth.RoleOperator, auth.RoleAdmin}, MFA: true}

// TestNodeRateLimits: the real node refuses a user over the budget its flags set with 429
// rate_limited problem+json, Retry-After and the RateLimit headers, per user.
func TestNodeRateLimits(t *testing.T) {
	m := MustRunMain(t, func(c *NodeConfig) {
		c.RateLimitSubject = ratelimit.Limit{Count: 1, Period: 10 * time.Second, Burst: 2}
	})
	u1, u2 := mint(t, m, auth.TokenSpec{Subject: "u-1"}), mint(t, m, auth.TokenSpec{Subject: "u-2"})
	for range 2 {
		if resp, b := nodeCall(t, "GET", m.HTTPURL()+"/v1/me/holds", u1, ""); resp.StatusCode != http.StatusOK {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
	}
	resp, b := nodeCall(t, "GET", m.HTTPURL()+"/v1/me/holds", u1, "")
	var p wire.Problem
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Content-Type") != "application/problem+json" ||
		json.Unmarshal(b, &p) != nil || p.Code != "rate_limited" || !strings.HasSuffix(p.Type, "/rate-limited") {
		t.Fatalf("over the budget: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	if resp.Header.Get("Retry-After") == "" || resp.Header.Get("RateLimit-Policy") != `"subject";q=2;w=20` ||
		!strings.HasPrefix(resp.Header.Get("RateLimit"), `"subject";r=0;t=`) {
		t.Fatalf("headers %v", resp.Header)
	}
	if resp, b := nodeCall(t, "GET", m.HTTPURL()+"/v1/me/holds", u2, ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("another user: %d %s", resp.StatusCode, b)
	}
	// Probes are never limited.
	for range 5 {
		if resp, _ := nodeCall(t, "GET", m.HTTPURL()+"/healthz", "", ""); resp.StatusCode != http.StatusOK || resp.Header.Get("RateLimit") != "" {
			t.Fatalf("healthz: %d %v", resp.StatusCode, resp.Header)
		}
	}
}

// TestNodeRateLimitsOff: --rate-limits off passes what the same budget would refuse, and
// sets no RateLimit headers. (A test of its own: two nodes at once in one process race in
// gRPC's global logger.)
func TestNodeRateLimitsOff(t *testing.T) {
	off := MustRunMain(t, func(c *NodeConfig) {
		c.RateLimits = rateLimitsOff
		c.RateLimitSubject = ratelimit.Limit{Count: 1, Period: 10 * time.Second, Burst: 1}
	})
	tok := mint(t, off, auth.TokenSpec{Subject: "u-1"})
	for range 3 {
		if resp, b := nodeCall(t, "GET", off.HTTPURL()+"/v1/me/holds", tok, ""); resp.StatusCode != http.StatusOK || resp.Header.Get("RateLimit") != "" {
			t.Fatalf("limits off: %d %v %s", resp.StatusCode, resp.Header, b)
		}
	}
}

// TestNodeMaxActiveResources: at --max-active-resources a new activation passivates the
// least recently used idle one instead of being refused: with a cap of 1, reading r-2 makes
// r-1 passivate, and r-1 answers again afterwards (from the store), nothing lost.
func TestNodeMaxActiveResources(t *testing.T) {
	m := MustRunMain(t, func(c *NodeConfig) { c.MaxActiveResources = 1 })
	op := mint(t, m, nodeOperator)
	for _, id := range []string{"r-1", "r-2"} {
		body := `{"id":"` + id + `","name":"Room","buckets":{"all":1},"hold_ttl":"10m"}`
		if resp, b := nodeCall(t, "POST", m.HTTPURL()+"/v1/resources", op, body); resp.StatusCode != http.StatusCreated {
			t.Fatalf("create %s: %d %s", id, resp.StatusCode, b)
		}
	}
	// An admission refuses (503, Retry-After) while the activation it would replace still has
	// work (a create's commit just answered may leave it busy for a moment on a loaded
	// machine); a client retries, and within a few seconds the idle one is passivated.
	for _, id := range []string{"r-1", "r-2", "r-1"} {
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			resp, b := nodeCall(t, "GET", m.HTTPURL()+"/v1/resources/"+id, "", "")
			if resp.StatusCode == http.StatusOK {
				break
			}
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || time.Now().After(deadline) {
				t.Fatalf("%s at the cap: %d %s", id, resp.StatusCode, b)
			}
		}
	}
}

// TestNodeAuditLogIsDurable: an operator's change is in the audit log, which admins read at
// GET /v1/audit, and is still there after the node restarted on the same data directory.
func TestNodeAuditLogIsDurable(t *testing.T) {
	dir := t.TempDir()
	m := MustRunMain(t, func(c *NodeConfig) { c.DataDir = dir })
	op := mint(t, m, nodeOperator)
	body := `{"id":"r-1","name":"Room","buckets":{"all":1},"hold_ttl":"10m"}`
	if resp, b := nodeCall(t, "POST", m.HTTPURL()+"/v1/resources", op, body); resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, b)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m = MustRunMain(t, func(c *NodeConfig) { c.DataDir = dir })
	resp, b := nodeCall(t, "GET", m.HTTPURL()+"/v1/audit?action=resource.create", mint(t, m, nodeOperator), "")
	var list audit.ListBody
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &list) != nil || len(list.Entries) != 1 {
		t.Fatalf("audit log after the restart: %d %s", resp.StatusCode, b)
	}
	if e := list.Entries[0]; e.Subject != "op-1" || e.Outcome != audit.OutcomeSucceeded || e.Status != http.StatusCreated || e.RequestID == "" {
		t.Fatalf("entry %+v", e)
	}
	// An anonymous caller cannot read it.
	if resp, _ := nodeCall(t, "GET", m.HTTPURL()+"/v1/audit", "", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous: %d", resp.StatusCode)
	}
}
