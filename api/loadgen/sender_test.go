package loadgen

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/allot/allot/api/client"
	"github.com/allot/allot/api/wire"
)

const testHold = `{"id":"h_1","resource_id":"r","status":"held","buckets":["all"],"quantity":1,"user_id":"u"}`

// newTestSender returns a sender of cfg's targets and the statuses it observed.
func newTestSender(t *testing.T, ctx context.Context, cfg Config, ts client.TokenSource) (*sender, *[]int) {
	t.Helper()
	var targets []target
	for _, b := range cfg.Targets {
		tg, err := parseTarget(b)
		if err != nil {
			t.Fatal(err)
		}
		targets = append(targets, tg)
	}
	var statuses []int
	s := newSender(ctx, targets, new(atomic.Uint64), &cfg, ts, func(st int) { statuses = append(statuses, st) })
	t.Cleanup(s.close)
	return s, &statuses
}

func testConfig(targets ...string) Config {
	cfg := DefaultConfig()
	cfg.Targets, cfg.Timeout, cfg.MaxRetries, cfg.MaxRetryWait = targets, 2*time.Second, 3, time.Millisecond
	return cfg
}

// TestSenderSendsWhatAPIClientSends compares the requests api/client and the sender make of a
// hold, a confirm and a read, as a net/http server sees them.
func TestSenderSendsWhatAPIClientSends(t *testing.T) {
	type seen struct {
		Method, URI, Host, Body string
		Header                  http.Header
		ContentLength           int64
	}
	var mu sync.Mutex
	var got []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, seen{r.Method, r.RequestURI, r.Host, string(b), r.Header.Clone(), r.ContentLength})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, testHold)
	}))
	defer srv.Close()
	cfg := testConfig(srv.URL)
	tok := client.StaticToken("tok.en.x")

	c, err := newClient(&cfg, nil, tok)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	req := wire.PlaceHold{Buckets: []string{"all"}, Quantity: 1, UserID: "u"}
	_, _, _ = c.PlaceHold(ctx, "r-1", "k-1", req)
	_, _, _ = c.ConfirmHold(ctx, "r-1", "h_1")
	_, _, _ = c.Availability(ctx, "r-1")
	c.CloseIdleConnections()

	s, _ := newTestSender(t, ctx, cfg, tok)
	w := &worker{r: &runner{cfg: cfg}, user: "u"}
	s.send(http.MethodPost, resourcePath("r-1")+"/holds", "k-1", w.holdBody([]string{"all"}, 1), true)
	s.send(http.MethodPost, holdPath("r-1", "h_1")+"/"+OpConfirm, "", nil, false)
	s.send(http.MethodGet, resourcePath("r-1")+"/availability", "", nil, false)

	if len(got) != 6 {
		t.Fatalf("%d requests, want 6", len(got))
	}
	for i := range 3 {
		a, b := got[i], got[i+3]
		a.Header.Del("Accept-Encoding") // never sent: compression is off... unless net/http adds it
		b.Header.Del("Accept-Encoding")
		if a.Method != b.Method || a.URI != b.URI || a.Host != b.Host || a.Body != b.Body || a.ContentLength != b.ContentLength || len(a.Header) != len(b.Header) {
			t.Errorf("request %d: api/client %+v\nsender %+v", i, a, b)
			continue
		}
		for k, v := range a.Header {
			if strings.Join(v, ",") != strings.Join(b.Header[k], ",") {
				t.Errorf("request %d: header %s: api/client %q, sender %q", i, k, v, b.Header[k])
			}
		}
	}
}

// TestSenderReadsGinAndNetHTTP reads holds answered with Content-Length and chunked by gin
// and net/http servers, over one kept-alive connection each.
func TestSenderReadsGinAndNetHTTP(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	g := gin.New()
	g.POST("/length", func(c *gin.Context) { c.Data(http.StatusCreated, "application/json", []byte(testHold)) })
	g.POST("/chunked", func(c *gin.Context) {
		c.Header("Content-Type", "application/json")
		c.Status(http.StatusCreated)
		_, _ = c.Writer.WriteString(testHold[:10])
		c.Writer.Flush() // no Content-Length: chunked
		_, _ = c.Writer.WriteString(testHold[10:])
	})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /length", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, testHold)
	})
	mux.HandleFunc("POST /chunked", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, testHold[:10])
		w.(http.Flusher).Flush()
		_, _ = io.WriteString(w, testHold[10:])
	})
	for name, h := range map[string]http.Handler{"gin": g, "net/http": mux} {
		var conns atomic.Int64
		srv := httptest.NewUnstartedServer(h)
		srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				conns.Add(1)
			}
		}
		srv.Start()
		s, statuses := newTestSender(t, t.Context(), testConfig(srv.URL), nil)
		for i := range 6 {
			path := []string{"/length", "/chunked"}[i%2]
			a := s.send(http.MethodPost, path, "k", []byte("{}"), true)
			id, err := holdIDOf(a.resp.Body)
			if a.res.Err != nil || a.res.Status != http.StatusCreated || err != nil || id != "h_1" {
				t.Errorf("%s %s: %v %d %q %q %v", name, path, a.res.Err, a.res.Status, a.resp.Body, id, err)
			}
		}
		if n := conns.Load(); n != 1 || len(*statuses) != 6 {
			t.Errorf("%s: %d connections for 6 requests (want 1 kept alive), %d attempts", name, n, len(*statuses))
		}
		srv.Close()
	}
}

// TestSenderConnectionClose dials anew after an answer with Connection: close, and after the
// server closed an idle connection, without counting an attempt.
func TestSenderConnectionClose(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/close" {
			w.Header().Set("Connection", "close")
		}
		_, _ = io.WriteString(w, testHold)
	}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	s, statuses := newTestSender(t, t.Context(), testConfig(srv.URL), nil)
	for _, p := range []string{"/close", "/close", "/keep", "/keep"} {
		if a := s.send(http.MethodGet, p, "", nil, false); a.res.Err != nil || a.res.Status != 200 {
			t.Fatalf("%s: %v", p, a.res.Err)
		}
	}
	if n := conns.Load(); n != 3 {
		t.Errorf("%d connections, want 3 (two closed by the server, one kept)", n)
	}
	srv.CloseClientConnections() // the kept-alive one, idle
	time.Sleep(10 * time.Millisecond)
	a := s.send(http.MethodPost, "/keep", "k", []byte("{}"), true)
	if a.res.Err != nil || a.res.Retries != 0 || len(*statuses) != 5 {
		t.Errorf("after an idle close: %v, %d retries, %d attempts (want 5)", a.res.Err, a.res.Retries, len(*statuses))
	}
}

// TestSenderRetries429WithTheSameKey retries 429 and 503 with the same Idempotency-Key,
// honouring Retry-After (capped), and reports the problem code of the last answer.
func TestSenderRetries429WithTheSameKey(t *testing.T) {
	var keys []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		keys = append(keys, r.Header.Get(wire.IdempotencyKeyHeader))
		switch len(keys) {
		case 1:
			w.Header().Set("Retry-After", "60") // capped by MaxRetryWait
			problem(w, http.StatusTooManyRequests, "busy")
		case 2:
			problem(w, http.StatusServiceUnavailable, "unavailable")
		case 3:
			answer(w, http.StatusCreated, wire.Hold{ID: "h_9"})
		default:
			problem(w, http.StatusConflict, "sold_out")
		}
	}))
	defer srv.Close()
	s, statuses := newTestSender(t, t.Context(), testConfig(srv.URL), nil)
	start := time.Now()
	a := s.send(http.MethodPost, "/holds", "key-1", []byte("{}"), true)
	if id, _ := holdIDOf(a.resp.Body); a.res.Err != nil || a.res.Retries != 2 || id != "h_9" || time.Since(start) > time.Second {
		t.Fatalf("got %v, %d retries, id %q after %v", a.res.Err, a.res.Retries, id, time.Since(start))
	}
	if strings.Join(keys, ",") != "key-1,key-1,key-1" || len(*statuses) != 3 || (*statuses)[0] != 429 || (*statuses)[1] != 503 {
		t.Errorf("keys %q, statuses %v", keys, *statuses)
	}
	a = s.send(http.MethodPost, "/holds", "key-2", []byte("{}"), true)
	var e *client.Error
	if a.res.Status != http.StatusConflict || a.res.Code != "sold_out" || !errors.As(a.res.Err, &e) || a.res.outcome() != outcomeRejected {
		t.Errorf("sold out: %+v", a.res)
	}
	if want := "POST /holds: 409 sold_out"; a.res.Err.Error() != want {
		t.Errorf("error %q, want %q (as api/client says it)", a.res.Err, want)
	}
}

// TestSenderMalformedAndTimeouts: an answer that is not HTTP, a reset and a silent server
// are transport errors (status 0: outcome unknown), retried up to MaxRetries.
func TestSenderMalformedAndTimeouts(t *testing.T) {
	for name, serve := range map[string]func(net.Conn){
		"garbage": func(c net.Conn) { _, _ = io.WriteString(c, "SSH-2.0-nope\r\n\r\n") },
		"reset": func(c net.Conn) {
			_ = c.(*net.TCPConn).SetLinger(0)
		},
		"truncated": func(c net.Conn) {
			_, _ = io.WriteString(c, "HTTP/1.1 201 Created\r\nContent-Length: 100\r\n\r\n{\"id\":")
		},
		"silent": func(c net.Conn) { time.Sleep(300 * time.Millisecond) },
	} {
		t.Run(name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			var accepted atomic.Int64
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					accepted.Add(1)
					buf := make([]byte, 4096)
					_, _ = c.Read(buf)
					serve(c)
					_ = c.Close()
				}
			}()
			cfg := testConfig("http://" + ln.Addr().String())
			cfg.Timeout = 100 * time.Millisecond
			s, statuses := newTestSender(t, t.Context(), cfg, nil)
			a := s.send(http.MethodPost, "/holds", "k", []byte("{}"), true)
			if a.res.Err == nil || a.res.Status != 0 || a.res.outcome() != outcomeAmbiguous || a.res.Retries != cfg.MaxRetries {
				t.Errorf("got %+v", a.res)
			}
			if len(*statuses) != cfg.MaxRetries+1 || (*statuses)[0] != 0 {
				t.Errorf("statuses %v", *statuses)
			}
		})
	}
}

// TestSenderCancel: cancelling the run's context ends a request in flight at once.
func TestSenderCancel(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	ctx, cancel := context.WithCancel(t.Context())
	cfg := testConfig(srv.URL)
	cfg.Timeout = 10 * time.Second
	s, _ := newTestSender(t, ctx, cfg, nil)
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	a := s.send(http.MethodPost, "/holds", "k", []byte("{}"), true)
	if !errors.Is(a.res.Err, context.Canceled) || time.Since(start) > 2*time.Second {
		t.Errorf("got %v after %v", a.res.Err, time.Since(start))
	}
}
