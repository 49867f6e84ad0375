package httpserver

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// These tests run real clients against a real server on 127.0.0.1 and let real time pass:
// the timeouts under test are net/http's, which read the wall clock through socket deadlines.
// The timeouts are scaled down so that each test takes a few seconds.

type served struct {
	addr string
	ln   *Listener
	reg  *prometheus.Registry
}

func serve(t *testing.T, cfg Config, h http.Handler) served {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := Listen(tcp, cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(h, cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	if leanMode {
		// The whole suite runs again with the fast path in front (TestMain): every POST it
		// sends in the fast path's form is served there, everything else is handed over.
		lean, err := NewLean(srv, cfg, func(string) bool { return true })
		if err != nil {
			t.Fatal(err)
		}
		go func() { done <- lean.Serve(ln) }()
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx)
			if err := <-done; !errors.Is(err, http.ErrServerClosed) {
				t.Errorf("Serve: %v", err)
			}
		})
		return served{addr: tcp.Addr().String(), ln: ln, reg: reg}
	}
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return served{addr: tcp.Addr().String(), ln: ln, reg: reg}
}

// dialFrom opens a TCP connection to addr from the loopback address local (Linux routes all
// of 127.0.0.0/8 to lo), so that one test can act as several client IPs.
func dialFrom(t *testing.T, local, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// get sends GET path on c and returns the status code.
func get(t *testing.T, c net.Conn, path string) int {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: allot\r\n\r\n", path); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// closedByServer waits up to within for the server to close c (EOF or reset), reading and
// discarding whatever arrives, and reports whether it did.
func closedByServer(c net.Conn, within time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(within))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

// refused dials addr from local and reports whether the server closed the connection at
// once: the reset may even arrive before the dial returns.
func refused(t *testing.T, local, addr string) bool {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("dial: %v", err)
		}
		return true
	}
	defer c.Close()
	return closedByServer(c, 5*time.Second)
}

func healthz() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }
}

func TestSlowBodyIsCutAtReadTimeout(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ReadHeaderTimeout, cfg.ReadTimeout = time.Second, 3*time.Second
	bodyErr := make(chan error, 1)
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", healthz())
	mux.HandleFunc("POST /v1/holds", func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		bodyErr <- err
	})
	s := serve(t, cfg, mux)

	c := dialFrom(t, "127.0.0.1", s.addr)
	start := time.Now()
	if _, err := io.WriteString(c, "POST /v1/holds HTTP/1.1\r\nHost: allot\r\nContent-Length: 100\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	// The slow-loris client: one byte every 2 s, until the server hangs up.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := c.Write([]byte("x")); err != nil {
					return
				}
			}
		}
	}()
	// Meanwhile another client is answered.
	if code := get(t, dialFrom(t, "127.0.0.2", s.addr), "/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz during the slow body: %d", code)
	}
	select {
	case err := <-bodyErr:
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("body read ended with %v, want a timeout", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the slow body was still being read after 10 s")
	}
	if el := time.Since(start); el < 2500*time.Millisecond || el > 6*time.Second {
		t.Fatalf("body read cut after %v, want about the 3 s read timeout", el)
	}
	if !closedByServer(c, 5*time.Second) {
		t.Fatal("the server kept the slow connection open")
	}
}

func TestNeverReadingClientIsCutAtWriteTimeout(t *testing.T) {
	neverReading(t, "GET /v1/holds HTTP/1.1\r\nHost: allot\r\n\r\n")
}

// TestNeverReadingPOSTClientIsCutAtWriteTimeout: the same for a POST in the fast path's form
// (served there in the Lean run).
func TestNeverReadingPOSTClientIsCutAtWriteTimeout(t *testing.T) {
	neverReading(t, "POST /v1/holds HTTP/1.1\r\nHost: allot\r\nContent-Length: 0\r\n\r\n")
}

func neverReading(t *testing.T, request string) {
	cfg := DefaultConfig()
	cfg.WriteTimeout = 2 * time.Second
	type result struct {
		written int64
		err     error
		elapsed time.Duration
	}
	done := make(chan result, 1)
	chunk := []byte(strings.Repeat("a", 64<<10))
	const most = 1 << 30 // far more than the socket buffers hold
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/holds", func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		var n int64
		var err error
		for n < most && err == nil {
			var k int
			k, err = w.Write(chunk)
			n += int64(k)
		}
		done <- result{n, err, time.Since(start)}
	})
	mux.Handle("GET /healthz", healthz())
	s := serve(t, cfg, mux)

	c := dialFrom(t, "127.0.0.1", s.addr)
	if _, err := io.WriteString(c, request); err != nil {
		t.Fatal(err)
	}
	// The client never reads. Meanwhile another client is answered.
	if code := get(t, dialFrom(t, "127.0.0.2", s.addr), "/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz during the stuck write: %d", code)
	}
	var r result
	select {
	case r = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the handler was still writing after 10 s")
	}
	if r.err == nil || r.written >= most {
		t.Fatalf("wrote %d bytes, err %v: want the write cut", r.written, r.err)
	}
	if r.elapsed < 1500*time.Millisecond || r.elapsed > 5*time.Second {
		t.Fatalf("write cut after %v, want about the 2 s write timeout", r.elapsed)
	}
	if !closedByServer(c, 5*time.Second) {
		t.Fatal("the server kept the never-reading connection open")
	}
}

func TestConnectionCapPerIP(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxConnsPerIP = 3
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", healthz())
	s := serve(t, cfg, mux)

	// Three idle connections from 127.0.0.1 fill its cap; each is proved accepted by an answer.
	held := make([]net.Conn, 3)
	for i := range held {
		held[i] = dialFrom(t, "127.0.0.1", s.addr)
		if code := get(t, held[i], "/healthz"); code != http.StatusOK {
			t.Fatalf("connection %d: %d", i, code)
		}
	}
	// A fourth is closed at once.
	if !refused(t, "127.0.0.1", s.addr) {
		t.Fatal("a fourth connection from the same IP was kept")
	}
	if n := counter(t, s.reg, "allot_http_connections_refused_total"); n != 1 {
		t.Fatalf("refused = %v, want 1", n)
	}
	// Another client IP is not affected.
	if code := get(t, dialFrom(t, "127.0.0.2", s.addr), "/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz from another IP: %d", code)
	}
	// When one of the three goes, its place is free again.
	held[0].Close()
	deadline := time.Now().Add(5 * time.Second)
	for s.ln.Open(netip.MustParseAddr("127.0.0.1")) != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("open count stuck at %d after a close", s.ln.Open(netip.MustParseAddr("127.0.0.1")))
		}
		time.Sleep(5 * time.Millisecond) // the server notices the close on its own goroutine
	}
	if code := get(t, dialFrom(t, "127.0.0.1", s.addr), "/healthz"); code != http.StatusOK {
		t.Fatalf("after a close: %d", code)
	}
}

func TestExemptPeersAreNotCapped(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxConnsPerIP = 1
	cfg.ExemptPeers = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/30")}
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", healthz())
	s := serve(t, cfg, mux)
	for i := range 4 {
		if code := get(t, dialFrom(t, "127.0.0.1", s.addr), "/healthz"); code != http.StatusOK {
			t.Fatalf("connection %d from an exempt proxy: %d", i, code)
		}
	}
	first := dialFrom(t, "127.0.0.9", s.addr)
	if code := get(t, first, "/healthz"); code != http.StatusOK {
		t.Fatalf("non-exempt: %d", code)
	}
	if !refused(t, "127.0.0.9", s.addr) {
		t.Fatal("a non-exempt peer's second connection was kept")
	}
}

func TestServerSettings(t *testing.T) {
	srv, err := New(http.NotFoundHandler(), DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if srv.ReadHeaderTimeout != DefaultReadHeaderTimeout || srv.ReadTimeout != DefaultReadTimeout ||
		srv.WriteTimeout != DefaultWriteTimeout || srv.IdleTimeout != DefaultIdleTimeout ||
		srv.MaxHeaderBytes != DefaultMaxHeaderBytes || srv.ErrorLog == nil {
		t.Fatalf("server settings: %+v", srv)
	}
	for name, mutate := range map[string]func(*Config){
		"no read timeout":  func(c *Config) { c.ReadTimeout = 0 },
		"no write timeout": func(c *Config) { c.WriteTimeout = 0 },
		"no idle timeout":  func(c *Config) { c.IdleTimeout = 0 },
		"header over read": func(c *Config) { c.ReadHeaderTimeout = 2 * c.ReadTimeout },
		"tiny headers":     func(c *Config) { c.MaxHeaderBytes = 100 },
		"negative cap":     func(c *Config) { c.MaxConnsPerIP = -1 },
		"bad v6 prefix":    func(c *Config) { c.IPv6PrefixLen = 8 },
		"invalid exempt":   func(c *Config) { c.ExemptPeers = []netip.Prefix{{}} },
	} {
		cfg := DefaultConfig()
		mutate(&cfg)
		if _, err := New(http.NotFoundHandler(), cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: New gave %v, want ErrConfig", name, err)
		}
	}
}

func TestOversizedHeadersAreRefused(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxHeaderBytes = 4 << 10
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", healthz())
	s := serve(t, cfg, mux)
	c := dialFrom(t, "127.0.0.1", s.addr)
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: allot\r\nX-Big: %s\r\n\r\n", strings.Repeat("b", 16<<10))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("16 KiB header over a 4 KiB cap: %d", resp.StatusCode)
	}
}

func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return -1
}
