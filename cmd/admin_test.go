package cmd

import (
	"bytes"
	"context"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/allot/allot/cluster/clustertest"
)

func httpGet(t *testing.T, url string) (int, []byte) {
	t.Helper()
	c := &http.Client{Timeout: 20 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, b
}

func TestAdminListenerIsLoopbackByDefault(t *testing.T) {
	if got := DefaultNodeConfig().AdminAddr; got != "127.0.0.1:9090" {
		t.Fatalf("default --admin-addr %q", got)
	}
	m := MustRunMain(t, func(c *NodeConfig) { c.AdminAddr = "" })
	if m.AdminURL() != "" {
		t.Fatalf("AdminURL %q without --admin-addr", m.AdminURL())
	}
	for _, p := range []string{"/debug/pprof/", "/metrics"} {
		if code, _ := httpGet(t, m.HTTPURL()+p); code != http.StatusNotFound {
			t.Fatalf("the HTTP edge answers %s with %d, want 404", p, code)
		}
	}
}

func TestAdminServesMetricsAndPprofOnItsOwnListener(t *testing.T) {
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	c := DefaultNodeConfig()
	c.RegisterFlags(fs)
	if err := fs.Parse([]string{"--admin-addr", "127.0.0.1:6060"}); err != nil || c.AdminAddr != "127.0.0.1:6060" {
		t.Fatalf("--admin-addr: %v, config %q", err, c.AdminAddr)
	}

	m := MustRunMain(t)
	base := m.AdminURL()
	if base == "" || base == m.HTTPURL() {
		t.Fatalf("AdminURL %q, HTTP edge %q: want a listener of its own", base, m.HTTPURL())
	}
	if code, body := httpGet(t, base+"/debug/pprof/"); code != http.StatusOK || !strings.Contains(string(body), "goroutine") {
		t.Fatalf("pprof index: %d %.200s", code, body)
	}
	code, body := httpGet(t, base+"/debug/pprof/profile?seconds=1")
	if code != http.StatusOK || !bytes.HasPrefix(body, []byte{0x1f, 0x8b}) {
		t.Fatalf("CPU profile: %d, %d bytes; want a gzipped profile", code, len(body))
	}
	httpGet(t, m.HTTPURL()+"/healthz")
	if code, body := httpGet(t, base+"/metrics"); code != http.StatusOK || !strings.Contains(string(body), `allot_http_requests_total{code="200",route="/healthz"}`) ||
		!strings.Contains(string(body), "go_goroutines") || !strings.Contains(string(body), "allot_webhook_delivery_lag_seconds_count") {
		t.Fatalf("metrics: %d %.300s", code, body)
	}
	for _, p := range []string{"/debug/pprof/", "/metrics"} {
		if code, _ := httpGet(t, m.HTTPURL()+p); code != http.StatusNotFound {
			t.Fatalf("the HTTP edge answers %s with %d, want 404", p, code)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := (&http.Client{Timeout: time.Second}).Get(base + "/debug/pprof/"); err == nil {
		t.Fatal("admin listener still served after Close")
	}
}

func TestAdminBadAddressFailsRun(t *testing.T) {
	m := NewMain()
	m.Config.HTTPAddr = "127.0.0.1:0"
	m.Config.GossipAddr = "127.0.0.1:0"
	m.Config.RemoteAddr = "127.0.0.1:0"
	m.Config.AdvertiseAddr = "127.0.0.1"
	m.Config.DataDir = t.TempDir()
	m.Config.AdminAddr = "127.0.0.1:notaport"
	m.Logger = slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	clustertest.BeforeInProcessNode(t, func() bool { return m.Node() != nil && !m.Closed() })
	err := m.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "--admin-addr") {
		_ = m.Close()
		t.Fatalf("Run with a bad --admin-addr: %v", err)
	}
	// Run stopped what it had started: the HTTP edge is gone.
	if m.HTTPURL() != "" {
		if _, err := (&http.Client{Timeout: time.Second}).Get(m.HTTPURL() + "/healthz"); err == nil {
			t.Fatal("HTTP edge still served after a failed Run")
		}
	}
}
