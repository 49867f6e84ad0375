package cmd

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/allot/allot/cluster/bus"
	"github.com/allot/allot/cluster/clustertest"
)

// MustRunMain boots the real program in-process on port 0 (its admin listener too) with the
// embedded store in a temp dir, in dev auth mode (m.DevIssuer mints tokens it accepts), and
// closes it in Cleanup.
func MustRunMain(tb testing.TB, mutate ...func(*NodeConfig)) *Main {
	tb.Helper()
	m := NewMain()
	m.Config.HTTPAddr = "127.0.0.1:0"
	m.Config.GossipAddr = "127.0.0.1:0"
	m.Config.RemoteAddr = "127.0.0.1:0"
	m.Config.AdvertiseAddr = "127.0.0.1"
	m.Config.AdminAddr = "127.0.0.1:0"
	m.Config.DataDir = tb.TempDir()
	m.Config.LeaveTimeout = 10 * time.Second
	m.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	loadTestRateLimits(&m.Config) // abuse_test.go: tests load faster than people
	for _, f := range mutate {
		f(&m.Config)
	}
	if !m.Config.Single() && m.Config.KeyFile == "" && m.Config.Auth == AuthDev {
		m.Config.KeyFile = clustertest.KeyFile(tb) // a cluster member's dev mode needs a shared key
	}
	clustertest.BeforeInProcessNode(tb, func() bool { return m.Node() != nil && !m.Closed() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.Run(ctx); err != nil {
		tb.Fatalf("run main: %v", err)
	}
	tb.Cleanup(func() {
		if err := m.Close(); err != nil {
			tb.Errorf("close main: %v", err)
		}
	})
	return m
}

func TestMainWalksAWholeBooking(t *testing.T) {
	m := MustRunMain(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := clustertest.NewClient(5*time.Second, m.DevIssuer())
	base := m.HTTPURL()

	for _, p := range []string{"/healthz", "/readyz", "/openapi.yaml", "/.well-known/openid-configuration", "/.well-known/jwks.json"} {
		r, err := c.Do(ctx, http.MethodGet, base+p, "", nil)
		if err != nil || r.Status != http.StatusOK {
			t.Fatalf("GET %s: %v %+v", p, err, r)
		}
	}
	if err := c.CreateResource(ctx, base, "hotel-1", map[string]int64{"2026-12-24": 2, "2026-12-25": 2}, "10m"); err != nil {
		t.Fatal(err)
	}
	h, p, err := c.PlaceHold(ctx, base, "hotel-1", "k-1", "u-1", []string{"2026-12-24", "2026-12-25"}, 2)
	if err != nil || p != nil {
		t.Fatalf("hold: %v %+v", err, p)
	}
	if h.Status != "held" || h.Quantity != 2 {
		t.Fatalf("hold = %+v", h)
	}
	// The same key again is the same hold; the same key with another request is refused.
	h2, p, err := c.PlaceHold(ctx, base, "hotel-1", "k-1", "u-1", []string{"2026-12-25", "2026-12-24"}, 2)
	if err != nil || p != nil || h2.ID != h.ID {
		t.Fatalf("replay: %v %+v %+v", err, p, h2)
	}
	if _, p, _ = c.PlaceHold(ctx, base, "hotel-1", "k-1", "u-1", []string{"2026-12-24"}, 1); p == nil || p.Code != "idempotency_mismatch" {
		t.Fatalf("mismatch replay: %+v", p)
	}
	// The stay took every room: the next guest is told it is sold out, with a problem document.
	if _, p, _ = c.PlaceHold(ctx, base, "hotel-1", "k-2", "u-2", []string{"2026-12-24"}, 1); p == nil || p.Code != "sold_out" || p.Status != http.StatusConflict {
		t.Fatalf("sold out: %+v", p)
	}
	a, err := c.Availability(ctx, base, "hotel-1")
	if err != nil {
		t.Fatal(err)
	}
	if b := a.Buckets["2026-12-24"]; b.Held != 2 || b.Available != 0 {
		t.Fatalf("availability = %+v", a)
	}
	if h, p, err = c.Transition(ctx, base, "hotel-1", h.ID, "confirm"); err != nil || p != nil || h.Status != "confirmed" {
		t.Fatalf("confirm: %v %+v %+v", err, p, h)
	}
	r, err := c.Do(ctx, http.MethodGet, base+"/v1/users/u-1/holds", "", nil)
	if err != nil || r.Status != http.StatusOK || !strings.Contains(string(r.Body), h.ID) {
		t.Fatalf("user holds: %v %+v", err, r)
	}
	if h, p, err = c.Transition(ctx, base, "hotel-1", h.ID, "cancel"); err != nil || p != nil || h.Status != "cancelled" {
		t.Fatalf("cancel: %v %+v %+v", err, p, h)
	}
	a, err = c.Availability(ctx, base, "hotel-1")
	if err != nil {
		t.Fatal(err)
	}
	if b := a.Buckets["2026-12-25"]; b.Held != 0 || b.Confirmed != 0 || b.Available != 2 {
		t.Fatalf("availability after cancel = %+v", a)
	}
	// Bad input is a 4xx problem and changes nothing.
	r, err = c.Do(ctx, http.MethodPost, base+"/v1/resources/hotel-1/holds", "", map[string]any{"buckets": []string{"2026-12-24"}, "quantity": -1, "user_id": "u"})
	if err != nil || r.Status/100 != 4 || r.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("bad input: %v %+v", err, r)
	}
	var members struct {
		Members []map[string]any `json:"members"`
	}
	r, err = c.Do(ctx, http.MethodGet, base+"/v1/cluster/members", "", nil)
	if err != nil || r.Status != http.StatusOK || json.Unmarshal(r.Body, &members) != nil || len(members.Members) != 1 {
		t.Fatalf("members: %v %+v", err, r)
	}
}

func TestMainCloseIsIdempotentAndDrains(t *testing.T) {
	m := MustRunMain(t)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(m.HTTPURL() + "/healthz"); err == nil {
		t.Fatal("HTTP still served after Close")
	}
}

func TestConfigValidate(t *testing.T) {
	for name, mut := range map[string]func(*NodeConfig){
		"cluster on embedded store": func(c *NodeConfig) { c.Join = []string{"127.0.0.1:7946"} },
		"no http addr":              func(c *NodeConfig) { c.HTTPAddr = "" },
		"bad log level":             func(c *NodeConfig) { c.LogLevel = "loud" },
		"zero pool":                 func(c *NodeConfig) { c.DBMaxConns = 0 },
		"no store":                  func(c *NodeConfig) { c.DataDir = "" },
		"event retention too short": func(c *NodeConfig) { c.EventRetention = bus.ClusterDuplicateWindow - time.Second },
		"no nats replicas":          func(c *NodeConfig) { c.NATSReplicas = 0 },
	} {
		c := DefaultNodeConfig()
		mut(&c)
		if err := c.validate(); err == nil {
			t.Errorf("%s: validate accepted it", name)
		}
	}
	c := DefaultNodeConfig()
	if err := c.validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
}
