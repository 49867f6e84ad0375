package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/httpserver"
)

// leanEdge makes testEnv.serve send its requests over loopback to the edge served as the
// node serves it without TLS (cmd/edge.go): httpserver.Lean, hold requests on its fast path,
// everything else handed to net/http. TestMain runs the package's tests a second time with
// it set, so that the same API suite checks the fast path (issue 17, round 15);
// ALLOT_API_LEAN=0 skips that second run.
var leanEdge bool

func TestMain(m *testing.M) {
	code := m.Run()
	if code != 0 || os.Getenv("ALLOT_API_LEAN") == "0" {
		os.Exit(code)
	}
	fmt.Println("api: the same tests through the node's plain-HTTP edge (httpserver.Lean)")
	leanEdge = true
	os.Exit(m.Run())
}

// leanTestHandler names, on a request to a testEnv's lean server, which handler serves it
// (testEnv.serve is given one per call: the edge's, the admin one, a wrapper setting the
// peer). The server takes it out before the handler sees the request.
const leanTestHandler = "X-Allot-Test-Handler"

// leanServer is a testEnv's edge over loopback.
type leanServer struct {
	lean     *httpserver.Lean
	addr     string
	handlers sync.Map // id -> http.Handler
	next     atomic.Uint64
}

func (e *testEnv) leanServer() *leanServer {
	e.leanOnce.Do(func() {
		ls := &leanServer{}
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := r.Header.Get(leanTestHandler)
			r.Header.Del(leanTestHandler)
			v, ok := ls.handlers.Load(id)
			if !ok {
				http.Error(w, "no test handler "+id, http.StatusInternalServerError)
				return
			}
			r.RemoteAddr = "192.0.2.1:1234" // httptest's peer, which the tests expect
			v.(http.Handler).ServeHTTP(w, r)
		})
		cfg := httpserver.DefaultConfig()
		cfg.MaxConnsPerIP = 0
		srv, err := httpserver.New(h, cfg)
		if err != nil {
			e.tb.Fatal(err)
		}
		srv.ConnContext = auth.ConnContext
		lean, err := httpserver.NewLean(srv, cfg, IsHotRoute)
		if err != nil {
			e.tb.Fatal(err)
		}
		tcp, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			e.tb.Fatal(err)
		}
		ln, err := httpserver.Listen(tcp, cfg)
		if err != nil {
			e.tb.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- lean.Serve(ln) }()
		ls.addr, ls.lean = tcp.Addr().String(), lean
		e.tb.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx)
			if err := <-done; !errors.Is(err, http.ErrServerClosed) {
				e.tb.Errorf("lean Serve: %v", err)
			}
		})
		e.lean = ls
	})
	return e.lean
}

// serveLean sends req to h through the testEnv's lean server and records the answer; ok is
// false when the client cannot send req (a header value net/http's client refuses), which
// the caller then serves in process.
func (e *testEnv) serveLean(h http.Handler, req *http.Request, body string) (*httptest.ResponseRecorder, bool) {
	ls := e.leanServer()
	id := fmt.Sprint(ls.next.Add(1))
	ls.handlers.Store(id, h)
	defer ls.handlers.Delete(id)
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body) // a known length: the fast path's form
	}
	creq, err := http.NewRequest(req.Method, "http://"+ls.addr+req.URL.RequestURI(), r)
	if err != nil {
		return nil, false
	}
	creq.Host = req.Host
	for k, vs := range req.Header {
		creq.Header[k] = append([]string(nil), vs...)
	}
	creq.Header.Set(leanTestHandler, id)
	// A connection of its own for every request: a connection stays with net/http once a
	// request of another route was handed over on it, and the suite mixes routes.
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(creq)
	if err != nil {
		return nil, false
	}
	defer resp.Body.Close()
	rec := httptest.NewRecorder()
	for k, vs := range resp.Header {
		if k == "Date" {
			continue // net/http's own, not the handler's
		}
		rec.Header()[k] = vs
	}
	rec.WriteHeader(resp.StatusCode)
	if _, err := io.Copy(rec, resp.Body); err != nil {
		e.tb.Fatalf("lean edge: reading the answer: %v", err)
	}
	return rec, true
}

// TestLeanEdgeServesHoldsOnTheFastPath: in the lean run, the suite's hold requests do take the
// fast path (and the rest is handed over), so that the run checks what it claims to.
func TestLeanEdgeServesHoldsOnTheFastPath(t *testing.T) {
	if !leanEdge {
		t.Skip("the lean run only")
	}
	e := MustServer(t)
	e.mustCreate()
	e.mustHold(`{"quantity":1,"buckets":["2026-12-24"]}`, e.bearer(asCustomer)...)
	ls := e.leanServer()
	if ls.lean.Served() == 0 {
		t.Fatal("no request was served on the fast path")
	}
	if ls.lean.Handed() == 0 {
		t.Fatal("the resource's creation was not handed to net/http")
	}
}
