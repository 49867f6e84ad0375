package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/allot/allot/api/client"
	"github.com/allot/allot/api/wire"
)

// Retries need answers a healthy node does not give on demand (429, 503, a dead port), so
// these tests script them.

// scriptServer answers the n-th request with script[n] (the last one repeats) and records
// the Idempotency-Key and Authorization of each request.
type scriptServer struct {
	*httptest.Server
	mu     sync.Mutex
	script []func(w http.ResponseWriter)
	keys   []string
	auths  []string
}

func mustScript(t *testing.T, script ...func(http.ResponseWriter)) *scriptServer {
	t.Helper()
	s := &scriptServer{script: script}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		n := len(s.keys)
		s.keys = append(s.keys, r.Header.Get(wire.IdempotencyKeyHeader))
		s.auths = append(s.auths, r.Header.Get("Authorization"))
		s.mu.Unlock()
		s.script[min(n, len(s.script)-1)](w)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *scriptServer) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.keys...)
}

func (s *scriptServer) auth() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.auths...)
}

func problem(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", wire.ProblemContentType)
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"type":%q,"title":%q,"status":%d,"code":%q}`+"\n", wire.ProblemTypeBase+code, code, status, code)
}

func busy(retryAfter string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		problem(w, http.StatusTooManyRequests, "busy")
	}
}

func ok(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintln(w, `{"status":"ok"}`)
}

func created(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	fmt.Fprintln(w, `{"id":"h-1","status":"held"}`)
}

type tokenFunc func() (string, error)

func (f tokenFunc) Token(context.Context) (string, error) { return f() }

func noSleep(ctx context.Context, _ time.Duration) error { return ctx.Err() }

func mustClient(t *testing.T, bases []string, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(bases, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// recorder records the waits and attempts of a Retry.
type recorder struct {
	waits    []time.Duration
	statuses []int
}

func (r *recorder) retry(maxAttempts int, maxWait time.Duration) client.Retry {
	return client.Retry{
		MaxAttempts: maxAttempts,
		MaxWait:     maxWait,
		Sleep: func(ctx context.Context, d time.Duration) error {
			r.waits = append(r.waits, d)
			return ctx.Err()
		},
		OnAttempt: func(a client.Attempt) { r.statuses = append(r.statuses, a.Status) },
	}
}

var stay = wire.PlaceHold{Buckets: []string{"all"}, Quantity: 1, UserID: "u"}

func TestRetryHonoursRetryAfter(t *testing.T) {
	s := mustScript(t, busy("1"), created)
	var rec recorder
	c := mustClient(t, []string{s.URL}, client.WithRetry(rec.retry(4, 5*time.Second)))
	h, info, err := c.PlaceHold(t.Context(), "r", "key-1", stay)
	if err != nil || h.ID != "h-1" || info.Status != 201 || info.Attempts != 2 {
		t.Fatalf("%+v %+v %v, want 201 after 1 retry", h, info, err)
	}
	if len(rec.waits) != 1 || rec.waits[0] != time.Second {
		t.Fatalf("waits %v, want [1s] from Retry-After", rec.waits)
	}
	if keys := s.seen(); len(keys) != 2 || keys[0] != "key-1" || keys[1] != "key-1" {
		t.Fatalf("Idempotency-Keys %q, want the same key on the retry", keys)
	}
	if len(rec.statuses) != 2 || rec.statuses[0] != 429 || rec.statuses[1] != 201 {
		t.Fatalf("observed statuses %v, want [429 201]", rec.statuses)
	}
}

func TestRetryAfterIsCapped(t *testing.T) {
	s := mustScript(t, busy("120"), busy("120"), created)
	var rec recorder
	c := mustClient(t, []string{s.URL}, client.WithRetry(rec.retry(3, 250*time.Millisecond)))
	if _, info, err := c.PlaceHold(t.Context(), "r", "k", stay); err != nil || info.Attempts != 3 {
		t.Fatalf("%+v %v, want 201 after 2 retries", info, err)
	}
	for _, w := range rec.waits {
		if w != 250*time.Millisecond {
			t.Fatalf("waits %v, want each capped at 250ms", rec.waits)
		}
	}
}

func TestRetriesAreBounded(t *testing.T) {
	s := mustScript(t, busy(""))
	var rec recorder
	c := mustClient(t, []string{s.URL}, client.WithRetry(rec.retry(3, time.Second)))
	_, info, err := c.PlaceHold(t.Context(), "r", "k", stay)
	if client.ErrorCode(err) != "busy" || client.StatusOf(err) != 429 || info.Attempts != 3 {
		t.Fatalf("%+v %v, want 429 busy after 2 retries", info, err)
	}
	if n := len(s.seen()); n != 3 {
		t.Fatalf("%d attempts, want 3", n)
	}
	for _, w := range rec.waits { // no Retry-After: jittered backoff within the cap
		if w <= 0 || w > time.Second {
			t.Fatalf("waits %v, want backoff in (0, 1s]", rec.waits)
		}
	}
}

func TestNoRetryOnDefiniteAnswers(t *testing.T) {
	s := mustScript(t, func(w http.ResponseWriter) { problem(w, 409, "sold_out") }, created)
	c := mustClient(t, []string{s.URL}, client.WithRetry(client.Retry{MaxAttempts: 6, Sleep: noSleep}))
	_, info, err := c.PlaceHold(t.Context(), "r", "k", stay)
	if client.ErrorCode(err) != "sold_out" || info.Attempts != 1 || len(s.seen()) != 1 {
		t.Fatalf("%+v %v after %d attempts, want one 409 sold_out", info, err, len(s.seen()))
	}
}

func TestUnavailableIsRetried(t *testing.T) {
	s := mustScript(t, func(w http.ResponseWriter) { w.Header().Set("Retry-After", "2"); problem(w, 503, "unavailable") })
	var rec recorder
	c := mustClient(t, []string{s.URL}, client.WithRetry(rec.retry(2, 5*time.Second)))
	_, info, err := c.PlaceHold(t.Context(), "r", "k", stay)
	var e *client.Error
	if client.StatusOf(err) != 503 || info.Attempts != 2 || !errors.As(err, &e) || e.RetryAfter != 2*time.Second {
		t.Fatalf("%+v %v, want 503 after 1 retry", info, err)
	}
	if len(rec.waits) != 1 || rec.waits[0] != 2*time.Second {
		t.Fatalf("waits %v, want [2s]", rec.waits)
	}
}

func TestTransportErrorIsRetried(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // connection refused from now on
	var rec recorder
	c := mustClient(t, []string{url}, client.WithRetry(rec.retry(3, time.Second)))
	_, info, err := c.GetHold(t.Context(), "r", "h")
	if err == nil || client.StatusOf(err) != 0 || info.Attempts != 3 || info.Status != 0 {
		t.Fatalf("%+v %v, want a transport error after 2 retries", info, err)
	}
	if len(rec.statuses) != 3 || rec.statuses[0] != 0 {
		t.Fatalf("observed %v, want three transport errors (0)", rec.statuses)
	}
}

func TestBudgetEndsRetries(t *testing.T) {
	s := mustScript(t, busy(""))
	c := mustClient(t, []string{s.URL}, client.WithRetry(client.Retry{Budget: 200 * time.Millisecond, MaxWait: 20 * time.Millisecond}))
	start := time.Now()
	_, info, err := c.GetHold(t.Context(), "r", "h")
	if client.ErrorCode(err) != "busy" || info.Attempts < 2 {
		t.Fatalf("%+v %v, want busy after several attempts", info, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %v with a 200ms budget", d)
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
		if got := client.ParseRetryAfter(c.in, now); got != c.want {
			t.Errorf("ParseRetryAfter(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestBaseURLsRoundRobinAndPicker(t *testing.T) {
	var mu sync.Mutex
	hits := map[string]int{}
	mk := func(name string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			hits[name]++
			mu.Unlock()
			ok(w)
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	c := mustClient(t, []string{mk("a"), mk("b") + "/"})
	for range 6 {
		if info, err := c.Health(t.Context()); err != nil || info.Status != 200 {
			t.Fatalf("%+v %v", info, err)
		}
	}
	if hits["a"] != 3 || hits["b"] != 3 {
		t.Fatalf("hits %v, want 3 each", hits)
	}
	last := c.With(client.WithPicker(func(n int) int { return n - 1 }))
	for range 4 {
		if info, err := last.Health(t.Context()); err != nil || info.Base != c.BaseURLs()[1] {
			t.Fatalf("%+v %v", info, err)
		}
	}
	if hits["b"] != 7 {
		t.Fatalf("hits %v, want every picked call on b", hits)
	}
}

// TestCancelBetweenAttemptsSaysCancelled: a call the caller stops while it waits to retry a
// transport error ends with an error that is context.Canceled (the caller's doing, not a
// failure of the server) and still names what the last attempt got.
func TestCancelBetweenAttemptsSaysCancelled(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // connection refused from now on
	ctx, cancel := context.WithCancel(t.Context())
	c := mustClient(t, []string{url}, client.WithRetry(client.Retry{MaxAttempts: 10,
		Sleep: func(ctx context.Context, d time.Duration) error { cancel(); return ctx.Err() }}))
	_, info, err := c.GetHold(ctx, "r", "h")
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "refused") || info.Attempts != 1 {
		t.Fatalf("%+v %v, want context.Canceled after the first attempt's refusal", info, err)
	}
}
