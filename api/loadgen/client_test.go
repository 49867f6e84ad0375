package loadgen

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

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

func busy(retryAfter string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		problem(w, 429, "busy")
	}
}

func created(w http.ResponseWriter) { answer(w, 201, map[string]string{"id": "h-1"}) }

// mustScriptClient returns a client of a scriptServer whose waits are recorded, not slept.
func mustScriptClient(t *testing.T, maxRetries int, maxWait time.Duration, script ...func(http.ResponseWriter)) (*client, *scriptServer, *[]time.Duration) {
	t.Helper()
	s := &scriptServer{script: script}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	cfg := DefaultConfig()
	cfg.Targets = []string{srv.URL}
	cfg.Clients = 1
	cfg.MaxRetries = maxRetries
	cfg.MaxRetryWait = maxWait
	cfg.Timeout = 5 * time.Second
	c := newClient(&cfg)
	t.Cleanup(c.close)
	var waits []time.Duration
	c.sleep = func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		return ctx.Err()
	}
	return c, s, &waits
}

func TestRetryHonoursRetryAfter(t *testing.T) {
	c, s, waits := mustScriptClient(t, 3, 5*time.Second, busy("1"), created)
	var statuses []int
	c.observe = func(code int) { statuses = append(statuses, code) }
	res := c.do(t.Context(), http.MethodPost, "/v1/resources/r/holds", "key-1", holdRequest{Buckets: []string{"all"}, Quantity: 1, UserID: "u"})
	if res.Status != 201 || res.Retries != 1 || res.outcome() != outcomeOK {
		t.Fatalf("result %+v, want 201 after 1 retry", res)
	}
	if len(*waits) != 1 || (*waits)[0] != time.Second {
		t.Fatalf("waits %v, want [1s] from Retry-After", *waits)
	}
	if keys := s.seen(); len(keys) != 2 || keys[0] != "key-1" || keys[1] != "key-1" {
		t.Fatalf("Idempotency-Keys %q, want the same key on the retry", keys)
	}
	if len(statuses) != 2 || statuses[0] != 429 || statuses[1] != 201 {
		t.Fatalf("observed statuses %v, want [429 201]", statuses)
	}
}

func TestRetryAfterIsCapped(t *testing.T) {
	c, _, waits := mustScriptClient(t, 2, 250*time.Millisecond, busy("120"), busy("120"), created)
	res := c.do(t.Context(), http.MethodPost, "/x", "k", nil)
	if res.Status != 201 || res.Retries != 2 {
		t.Fatalf("result %+v, want 201 after 2 retries", res)
	}
	for _, w := range *waits {
		if w != 250*time.Millisecond {
			t.Fatalf("waits %v, want each capped at 250ms", *waits)
		}
	}
}

func TestRetriesAreBounded(t *testing.T) {
	c, s, waits := mustScriptClient(t, 2, time.Second, busy(""))
	res := c.do(t.Context(), http.MethodPost, "/x", "k", nil)
	if res.Status != 429 || res.Code != "busy" || res.Retries != 2 || res.outcome() != outcomeRejected {
		t.Fatalf("result %+v, want 429 busy after 2 retries", res)
	}
	if n := len(s.seen()); n != 3 {
		t.Fatalf("%d attempts, want 3", n)
	}
	for _, w := range *waits { // no Retry-After: jittered backoff within the cap
		if w <= 0 || w > time.Second {
			t.Fatalf("waits %v, want backoff in (0, 1s]", *waits)
		}
	}
}

func TestNoRetryOnDefiniteAnswers(t *testing.T) {
	soldOut := func(w http.ResponseWriter) { problem(w, 409, "sold_out") }
	c, s, _ := mustScriptClient(t, 5, time.Second, soldOut, created)
	res := c.do(t.Context(), http.MethodPost, "/x", "k", nil)
	if res.Status != 409 || res.Code != "sold_out" || res.Retries != 0 || len(s.seen()) != 1 {
		t.Fatalf("result %+v after %d attempts, want one 409 sold_out", res, len(s.seen()))
	}
}

func TestUnavailableIsRetriedAndAmbiguous(t *testing.T) {
	unavailable := func(w http.ResponseWriter) { w.Header().Set("Retry-After", "2"); problem(w, 503, "unavailable") }
	c, _, waits := mustScriptClient(t, 1, 5*time.Second, unavailable)
	res := c.do(t.Context(), http.MethodPost, "/x", "k", nil)
	if res.Status != 503 || res.Retries != 1 || res.outcome() != outcomeAmbiguous {
		t.Fatalf("result %+v, want 503 (ambiguous) after 1 retry", res)
	}
	if len(*waits) != 1 || (*waits)[0] != 2*time.Second {
		t.Fatalf("waits %v, want [2s]", *waits)
	}
}

func TestTransportErrorIsRetried(t *testing.T) {
	cfg := DefaultConfig()
	srv := httptest.NewServer(http.NotFoundHandler())
	cfg.Targets = []string{srv.URL}
	srv.Close() // connection refused from now on
	cfg.MaxRetries = 2
	c := newClient(&cfg)
	defer c.close()
	c.sleep = func(context.Context, time.Duration) error { return nil }
	var statuses []int
	c.observe = func(code int) { statuses = append(statuses, code) }
	res := c.do(t.Context(), http.MethodGet, "/x", "", nil)
	if res.Err == nil || res.Retries != 2 || res.outcome() != outcomeAmbiguous {
		t.Fatalf("result %+v, want a transport error after 2 retries", res)
	}
	if len(statuses) != 3 || statuses[0] != 0 {
		t.Fatalf("observed %v, want three transport errors (0)", statuses)
	}
}

func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2026, 12, 24, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want time.Duration
	}{
		{"", -1},
		{"3", 3 * time.Second},
		{" 0 ", 0},
		{"-1", -1},
		{"soon", -1},
		{"Thu, 24 Dec 2026 10:00:05 GMT", 5 * time.Second},
		{"Thu, 24 Dec 2026 09:00:00 GMT", 0},
	} {
		if got := retryAfter(c.in, now); got != c.want {
			t.Errorf("retryAfter(%q) = %v, want %v", c.in, got, c.want)
		}
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
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	cfg := DefaultConfig()
	cfg.Targets = []string{mk("a"), mk("b") + "/"}
	c := newClient(&cfg)
	defer c.close()
	for range 6 {
		if res := c.do(t.Context(), http.MethodGet, "/x", "", nil); res.Status != 200 {
			t.Fatalf("result %+v", res)
		}
	}
	if hits["a"] != 3 || hits["b"] != 3 {
		t.Fatalf("hits %v, want 3 each", hits)
	}
}
