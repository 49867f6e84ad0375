package loadgen

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/allot/allot/api/wire"
)

// The retry mechanics themselves are api/client's (and tested there); these tests check that
// a run's client is configured as its Config says and that outcomes are classified right.

// scriptServer answers the n-th request with script[n] (the last one repeats) and records
// the Idempotency-Key of each request.
type scriptServer struct {
	mu     sync.Mutex
	script []func(w http.ResponseWriter)
	keys   []string
}

func (s *scriptServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	n := len(s.keys)
	s.keys = append(s.keys, r.Header.Get("Idempotency-Key"))
	s.mu.Unlock()
	s.script[min(n, len(s.script)-1)](w)
}

func (s *scriptServer) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.keys...)
}

// busy answers 429 with Retry-After 0, so that tests do not wait.
func busy(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "0")
	problem(w, 429, "busy")
}

func created(w http.ResponseWriter) { answer(w, 201, map[string]string{"id": "h-1"}) }

// mustScriptRun returns a client of a scriptServer configured by cfg's retry knobs, and the
// statuses it observes.
func mustScriptRun(t *testing.T, maxRetries int, script ...func(http.ResponseWriter)) (*runner, *scriptServer, *[]int) {
	t.Helper()
	s := &scriptServer{script: script}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	cfg := DefaultConfig()
	cfg.Targets = []string{srv.URL}
	cfg.Clients = 1
	cfg.MaxRetries = maxRetries
	cfg.MaxRetryWait = time.Millisecond
	var mu sync.Mutex
	var statuses []int
	c, err := newClient(&cfg, func(code int) { mu.Lock(); statuses = append(statuses, code); mu.Unlock() }, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return &runner{cfg: cfg, c: c}, s, &statuses
}

func (r *runner) hold(t *testing.T, key string) result {
	_, info, err := r.c.PlaceHold(t.Context(), "r", key, wire.PlaceHold{Buckets: []string{"all"}, Quantity: 1, UserID: "u"})
	return resultOf(info, err)
}

func TestRetriesAsConfigured(t *testing.T) {
	r, s, statuses := mustScriptRun(t, 3, busy, created)
	res := r.hold(t, "key-1")
	if res.Status != 201 || res.Retries != 1 || res.outcome() != outcomeOK {
		t.Fatalf("result %+v, want 201 after 1 retry", res)
	}
	if keys := s.seen(); len(keys) != 2 || keys[0] != "key-1" || keys[1] != "key-1" {
		t.Fatalf("Idempotency-Keys %q, want the same key on the retry", keys)
	}
	if len(*statuses) != 2 || (*statuses)[0] != 429 || (*statuses)[1] != 201 {
		t.Fatalf("observed statuses %v, want [429 201]", *statuses)
	}
}

func TestRetriesAreBounded(t *testing.T) {
	r, s, _ := mustScriptRun(t, 2, busy)
	res := r.hold(t, "k")
	if res.Status != 429 || res.Code != "busy" || res.Retries != 2 || res.outcome() != outcomeRejected {
		t.Fatalf("result %+v, want 429 busy after 2 retries", res)
	}
	if n := len(s.seen()); n != 3 {
		t.Fatalf("%d attempts, want 3", n)
	}
}

func TestNoRetryOnDefiniteAnswers(t *testing.T) {
	soldOut := func(w http.ResponseWriter) { problem(w, 409, "sold_out") }
	r, s, _ := mustScriptRun(t, 5, soldOut, created)
	res := r.hold(t, "k")
	if res.Status != 409 || res.Code != "sold_out" || res.Retries != 0 || len(s.seen()) != 1 || res.outcome() != outcomeRejected {
		t.Fatalf("result %+v after %d attempts, want one 409 sold_out", res, len(s.seen()))
	}
}

func TestUnavailableIsRetriedAndAmbiguous(t *testing.T) {
	unavailable := func(w http.ResponseWriter) { w.Header().Set("Retry-After", "0"); problem(w, 503, "unavailable") }
	r, _, _ := mustScriptRun(t, 1, unavailable)
	res := r.hold(t, "k")
	if res.Status != 503 || res.Retries != 1 || res.outcome() != outcomeAmbiguous {
		t.Fatalf("result %+v, want 503 (ambiguous) after 1 retry", res)
	}
}

func TestTransportErrorIsRetriedAndAmbiguous(t *testing.T) {
	cfg := DefaultConfig()
	srv := httptest.NewServer(http.NotFoundHandler())
	cfg.Targets = []string{srv.URL}
	srv.Close() // connection refused from now on
	cfg.MaxRetries = 2
	cfg.MaxRetryWait = time.Millisecond
	var statuses []int
	c, err := newClient(&cfg, func(code int) { statuses = append(statuses, code) }, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, info, err := c.GetHold(t.Context(), "r", "h")
	res := resultOf(info, err)
	if res.Err == nil || res.Status != 0 || res.Retries != 2 || res.outcome() != outcomeAmbiguous {
		t.Fatalf("result %+v, want a transport error after 2 retries", res)
	}
	if len(statuses) != 3 || statuses[0] != 0 {
		t.Fatalf("observed %v, want three transport errors (0)", statuses)
	}
}

func TestTargetsRoundRobin(t *testing.T) {
	var mu sync.Mutex
	hits := map[string]int{}
	mk := func(name string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			hits[name]++
			mu.Unlock()
			answer(w, 200, wire.Availability{ResourceID: "x"})
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	cfg := DefaultConfig()
	cfg.Targets = []string{mk("a"), mk("b") + "/"}
	c, err := newClient(&cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseIdleConnections()
	for range 6 {
		if _, info, err := c.Availability(t.Context(), "x"); err != nil || info.Status != 200 {
			t.Fatalf("%+v %v", info, err)
		}
	}
	if hits["a"] != 3 || hits["b"] != 3 {
		t.Fatalf("hits %v, want 3 each", hits)
	}
}

// TestNotAnAllotTarget: a target that answers a plain 404 is named as the likely mistake.
func TestNotAnAllotTarget(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	cfg := DefaultConfig()
	cfg.Targets = []string{srv.URL}
	cfg.Quiet = true
	_, err := Run(t.Context(), cfg, nil)
	want := "target " + srv.URL + " answered 404 to POST /v1/resources: is it an Allot node?"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Run: %v\nwant an error containing %q", err, want)
	}
}
