package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/api/wire"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/protos"
)

// testEnv is a Server over the real resource actors and an in-memory store (actorDispatcher),
// with an injected clock, a private metrics registry, a readiness switch and captured logs.
type testEnv struct {
	tb    testing.TB
	srv   *Server
	h     http.Handler
	disp  *actorDispatcher
	clock *fakeClock
	reg   *prometheus.Registry
	ready *atomic.Bool
	logs  *syncBuffer
	// tokens mints the bearer tokens do sends (asAdmin unless the call names Authorization).
	tokens *testTokens
	// lean is the edge over loopback when leanEdge is set (leanedge_main_test.go).
	lean     *leanServer
	leanOnce sync.Once
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a slog handler.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// MustServer builds a testEnv; mutate may change the Config (e.g. wrap the Dispatcher)
// before NewServer runs.
func MustServer(tb testing.TB, mutate ...func(*Config)) *testEnv {
	tb.Helper()
	clock := newFakeClock()
	disp := mustActorDispatcher(tb, clock.Now)
	reg := prometheus.NewRegistry()
	ready := &atomic.Bool{}
	ready.Store(true)
	logs := &syncBuffer{}
	tokens, verifier := newTestAuth(tb, clock.Now)
	cfg := Config{
		Dispatcher: disp,
		Holds:      disp,
		Verifier:   verifier,
		WellKnown:  tokens.issuer.Handler(),
		Waitlist:   disp,
		Resources:  disp,
		NodeID:     "node-1",
		Ready:      ready.Load,
		Registerer: reg,
		Gatherer:   reg,
		Logger:     slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
		Now:        clock.Now,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	srv, err := NewServer(cfg)
	if err != nil {
		tb.Fatalf("NewServer: %v", err)
	}
	return &testEnv{tb: tb, srv: srv, h: srv.Handler(), disp: disp, clock: clock, reg: reg, ready: ready, logs: logs, tokens: tokens}
}

// logRecords returns the log records written so far, decoded.
func (e *testEnv) logRecords() []map[string]any {
	e.tb.Helper()
	var out []map[string]any
	dec := json.NewDecoder(strings.NewReader(e.logs.String()))
	for dec.More() {
		var r map[string]any
		if err := dec.Decode(&r); err != nil {
			e.tb.Fatalf("log record: %v", err)
		}
		out = append(out, r)
	}
	return out
}

// emptyHeader, as a header value for do, sends the header with an empty value.
const emptyHeader = "\x00empty"

// do sends a request. A non-empty body gets Content-Type application/json unless hdr sets
// it; hdr is name, value pairs, and an empty value deletes the header. The caller is asAdmin
// unless hdr names Authorization (anonymous: no header; e.bearer(spec): spec's token).
func (e *testEnv) do(method, path, body string, hdr ...string) *httptest.ResponseRecorder {
	e.tb.Helper()
	if !hasHeader(hdr, "Authorization") {
		hdr = append(e.bearer(asAdmin), hdr...)
	}
	return e.serve(e.h, method, path, body, hdr...)
}

// doAdmin sends a request to the admin handler (metrics).
func (e *testEnv) doAdmin(method, path string) *httptest.ResponseRecorder {
	e.tb.Helper()
	return e.serve(e.srv.AdminHandler(), method, path, "")
}

func (e *testEnv) serve(h http.Handler, method, path, body string, hdr ...string) *httptest.ResponseRecorder {
	e.tb.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == emptyHeader {
			req.Header[http.CanonicalHeaderKey(hdr[i])] = append(req.Header[http.CanonicalHeaderKey(hdr[i])], "")
		} else if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Add(hdr[i], hdr[i+1])
		}
	}
	if leanEdge { // the second run of the suite (leanedge_main_test.go)
		if rec, ok := e.serveLean(h, req, body); ok {
			return rec
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// ok asserts the status of a successful answer and decodes its JSON body into v.
func (e *testEnv) ok(rec *httptest.ResponseRecorder, status int, v any) {
	e.tb.Helper()
	if rec.Code != status {
		e.tb.Fatalf("status %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		e.tb.Fatalf("Content-Type %q, want application/json", ct)
	}
	if v != nil {
		dec := json.NewDecoder(rec.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			e.tb.Fatalf("decode %T: %v", v, err)
		}
	}
}

// mustProblem asserts a problem+json answer of the given status and slug, consistent with
// kindOf, and returns it.
func mustProblem(tb testing.TB, rec *httptest.ResponseRecorder, status int, slug string) wire.Problem {
	tb.Helper()
	if rec.Code != status {
		tb.Fatalf("status %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != ProblemContentType {
		tb.Fatalf("Content-Type %q, want %q; body %s", ct, ProblemContentType, rec.Body)
	}
	var p wire.Problem
	dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		tb.Fatalf("decode problem: %v; body %s", err, rec.Body)
	}
	if p.Type != ProblemTypeBase+slug || p.Status != status || p.Title == "" || p.Code == "" || p.Instance == "" {
		tb.Fatalf("problem %+v, want type %s status %d", p, ProblemTypeBase+slug, status)
	}
	return p
}

const walkResource = `{"id":"hotel-1","name":"Double room","buckets":{"2026-12-24":10,"2026-12-25":10,"2026-12-26":1},"hold_ttl":"10m","price":{"amount":12000,"currency":"EUR"}}`

// mustCreate creates hotel-1 (walkResource) and returns it.
func (e *testEnv) mustCreate() wire.Resource {
	e.tb.Helper()
	var r wire.Resource
	e.ok(e.do("POST", "/v1/resources", walkResource), http.StatusCreated, &r)
	return r
}

// mustHold places a hold on hotel-1 and returns it.
func (e *testEnv) mustHold(body string, hdr ...string) wire.Hold {
	e.tb.Helper()
	var h wire.Hold
	e.ok(e.do("POST", "/v1/resources/hotel-1/holds", body, hdr...), http.StatusCreated, &h)
	return h
}

func TestNewServerConfig(t *testing.T) {
	disp := mustActorDispatcher(t, time.Now)
	_, v := newTestAuth(t, time.Now)
	reg := prometheus.NewRegistry()
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"minimal", Config{Dispatcher: disp, Holds: disp, Verifier: v}, true},
		{"registry alone serves as gatherer", Config{Dispatcher: disp, Holds: disp, Verifier: v, Registerer: reg}, true},
		{"no dispatcher", Config{Holds: disp, Verifier: v}, false},
		{"no verifier", Config{Dispatcher: disp, Holds: disp}, false},
		{"holds that cannot list waitlists", Config{Dispatcher: disp, Verifier: v, Holds: errLister{}}, false},
		{"holds and a waitlist lister", Config{Dispatcher: disp, Verifier: v, Holds: errLister{}, Waitlist: disp}, false},
		{"holds and the other listers", Config{Dispatcher: disp, Verifier: v, Holds: errLister{}, Waitlist: disp, Resources: disp}, true},
		{"no holds", Config{Dispatcher: disp, Verifier: v}, false},
		{"negative timeout", Config{Dispatcher: disp, Holds: disp, Verifier: v, RequestTimeout: -time.Second}, false},
		{"negative body limit", Config{Dispatcher: disp, Holds: disp, Verifier: v, MaxBodyBytes: -1}, false},
		{"gatherer without registerer", Config{Dispatcher: disp, Holds: disp, Verifier: v, Gatherer: reg}, false},
		{"registerer that cannot gather", Config{Dispatcher: disp, Holds: disp, Verifier: v, Registerer: prometheus.WrapRegistererWith(prometheus.Labels{"x": "y"}, reg)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewServer(tt.cfg)
			if tt.ok != (err == nil) {
				t.Fatalf("NewServer: %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrConfig) {
				t.Fatalf("error %v does not wrap ErrConfig", err)
			}
			if err == nil && s.Handler() == nil {
				t.Fatal("nil handler")
			}
		})
	}
}

func TestNewServerDefaults(t *testing.T) {
	disp := mustActorDispatcher(t, time.Now)
	_, v := newTestAuth(t, time.Now)
	s, err := NewServer(Config{Dispatcher: disp, Holds: disp, Verifier: v})
	if err != nil {
		t.Fatal(err)
	}
	d := DefaultConfig()
	if s.cfg.RequestTimeout != d.RequestTimeout || s.cfg.MaxBodyBytes != d.MaxBodyBytes || d.RequestTimeout != 5*time.Second || d.MaxBodyBytes != 64<<10 {
		t.Fatalf("defaults not applied: %+v", s.cfg)
	}
	if s.cfg.NodeID == "" || s.cfg.Logger == nil || s.cfg.Now == nil || s.cfg.Ready == nil || !s.cfg.Ready() || s.cfg.Gatherer == nil {
		t.Fatalf("defaults not applied: %+v", s.cfg)
	}
}

// Two servers may share one registry (a test booting two nodes in one process).
func TestTwoServersShareRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	disp := mustActorDispatcher(t, time.Now)
	_, v := newTestAuth(t, time.Now)
	for i := 0; i < 2; i++ {
		if _, err := NewServer(Config{Dispatcher: disp, Holds: disp, Verifier: v, Registerer: reg, Gatherer: reg}); err != nil {
			t.Fatalf("server %d: %v", i, err)
		}
	}
	// A different collector under the same name is an error, not a silent mix.
	other := prometheus.NewRegistry()
	other.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "allot_http_requests_total", Help: "x"}))
	if _, err := NewServer(Config{Dispatcher: disp, Holds: disp, Verifier: v, Registerer: other, Gatherer: other}); err == nil {
		t.Fatal("NewServer accepted a clashing metric")
	}
}

// panicDispatcher panics, to exercise the recovery middleware.
type panicDispatcher struct{}

func (panicDispatcher) Dispatch(context.Context, *protos.Command) (*protos.Reply, error) {
	panic("boom")
}

func TestRecoveryAnswersProblem(t *testing.T) {
	e := MustServer(t, func(c *Config) { c.Dispatcher = panicDispatcher{} })
	rec := e.do("GET", "/v1/resources/r1", "")
	p := mustProblem(t, rec, http.StatusInternalServerError, "internal")
	if p.Code != booking.CodeInternal || strings.Contains(p.Detail, "boom") {
		t.Fatalf("problem %+v leaks the panic or has the wrong code", p)
	}
	recs := e.logRecords()
	if len(recs) != 1 || recs[0]["level"] != "ERROR" || recs[0]["panic"] != "boom" || !strings.Contains(fmt.Sprint(recs[0]["stack"]), "panicDispatcher") {
		t.Fatalf("panic not logged once at error with its stack: %s", e.logs)
	}
	// The server keeps serving.
	e.ok(e.do("GET", HealthzPath, ""), http.StatusOK, nil)
}

func TestLoggingLevels(t *testing.T) {
	e := MustServer(t) // logger at info
	e.mustCreate()
	if strings.Contains(e.logs.String(), `"status":201`) {
		t.Fatalf("a successful request was logged above debug: %s", e.logs)
	}
	mustProblem(t, e.do("GET", "/v1/resources/nope", ""), http.StatusNotFound, "not-found")
	if !strings.Contains(e.logs.String(), `"status":404`) || !strings.Contains(e.logs.String(), `"route":"/v1/resources/:rid"`) {
		t.Fatalf("4xx not logged at info with its route: %s", e.logs)
	}
}

// The HoldLister's errors map by kind; internals do not leak.
type errLister struct{ err error }

func (l errLister) ListHolds(context.Context, persistence.HoldFilter) ([]booking.Hold, error) {
	return nil, l.err
}

func TestListHoldsErrors(t *testing.T) {
	tests := []struct {
		err    error
		status int
		slug   string
	}{
		{persistence.ErrUnavailable, 503, "unavailable"},
		{errors.Join(errors.New("query"), context.DeadlineExceeded), 503, "unavailable"},
		{booking.Errorf(booking.CodeInvalid, "bad filter"), 422, "invalid"},
		{errors.New("secret sql text"), 500, "internal"},
	}
	for _, tt := range tests {
		e := MustServer(t, func(c *Config) { c.Holds = errLister{tt.err} })
		rec := e.do("GET", "/v1/users/u-1/holds", "")
		p := mustProblem(t, rec, tt.status, tt.slug)
		if strings.Contains(p.Detail, "secret") {
			t.Fatalf("detail leaks the cause: %q", p.Detail)
		}
		if tt.status == 503 && rec.Header().Get("Retry-After") != "1" {
			t.Fatalf("503 without Retry-After: %v", rec.Header())
		}
	}
}
