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

func TestPprofIsOffByDefault(t *testing.T) {
	if DefaultNodeConfig().PprofAddr != "" {
		t.Fatal("pprof is on by default")
	}
	m := MustRunMain(t)
	if m.PprofURL() != "" {
		t.Fatalf("PprofURL %q without --pprof-addr", m.PprofURL())
	}
	if code, _ := httpGet(t, m.HTTPURL()+"/debug/pprof/"); code != http.StatusNotFound {
		t.Fatalf("the HTTP edge answers /debug/pprof/ with %d, want 404", code)
	}
}

func TestPprofServesOnItsOwnListener(t *testing.T) {
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	c := DefaultNodeConfig()
	c.RegisterFlags(fs)
	if err := fs.Parse([]string{"--pprof-addr", "127.0.0.1:6060"}); err != nil || c.PprofAddr != "127.0.0.1:6060" {
		t.Fatalf("--pprof-addr: %v, config %q", err, c.PprofAddr)
	}

	m := MustRunMain(t, func(c *NodeConfig) { c.PprofAddr = "127.0.0.1:0" })
	base := m.PprofURL()
	if base == "" || base == m.HTTPURL() {
		t.Fatalf("PprofURL %q, HTTP edge %q: want a listener of its own", base, m.HTTPURL())
	}
	if code, body := httpGet(t, base+"/debug/pprof/"); code != http.StatusOK || !strings.Contains(string(body), "goroutine") {
		t.Fatalf("pprof index: %d %.200s", code, body)
	}
	code, body := httpGet(t, base+"/debug/pprof/profile?seconds=1")
	if code != http.StatusOK || !bytes.HasPrefix(body, []byte{0x1f, 0x8b}) {
		t.Fatalf("CPU profile: %d, %d bytes; want a gzipped profile", code, len(body))
	}
	if code, _ := httpGet(t, m.HTTPURL()+"/debug/pprof/"); code != http.StatusNotFound {
		t.Fatalf("the HTTP edge answers /debug/pprof/ with %d, want 404", code)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := (&http.Client{Timeout: time.Second}).Get(base + "/debug/pprof/"); err == nil {
		t.Fatal("pprof still served after Close")
	}
}

func TestPprofBadAddressFailsRun(t *testing.T) {
	m := NewMain()
	m.Config.HTTPAddr = "127.0.0.1:0"
	m.Config.GossipAddr = "127.0.0.1:0"
	m.Config.RemoteAddr = "127.0.0.1:0"
	m.Config.AdvertiseAddr = "127.0.0.1"
	m.Config.DataDir = t.TempDir()
	m.Config.PprofAddr = "127.0.0.1:notaport"
	m.Logger = slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := m.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "--pprof-addr") {
		_ = m.Close()
		t.Fatalf("Run with a bad --pprof-addr: %v", err)
	}
	// Run stopped what it had started: the HTTP edge is gone.
	if m.HTTPURL() != "" {
		if _, err := (&http.Client{Timeout: time.Second}).Get(m.HTTPURL() + "/healthz"); err == nil {
			t.Fatal("HTTP edge still served after a failed Run")
		}
	}
}
