package api

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

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/protos"
)

// funcDispatcher answers with a function and remembers the last command.
type funcDispatcher struct {
	mu   sync.Mutex
	last *protos.Command
	ctx  context.Context
	fn   func(ctx context.Context, cmd *protos.Command) (*protos.Reply, error)
}

func (d *funcDispatcher) Dispatch(ctx context.Context, cmd *protos.Command) (*protos.Reply, error) {
	d.mu.Lock()
	d.last, d.ctx = cmd, ctx
	d.mu.Unlock()
	return d.fn(ctx, cmd)
}

func TestAskOwnerSetsDeadline(t *testing.T) {
	d := &funcDispatcher{fn: func(context.Context, *protos.Command) (*protos.Reply, error) {
		return &protos.Reply{Resource: &protos.Resource{Id: "r1"}}, nil
	}}
	e := MustServer(t, func(c *Config) { c.Dispatcher = d; c.RequestTimeout = 3 * time.Second })
	e.ok(e.do("GET", "/v1/resources/r1", ""), http.StatusOK, nil)
	if want := e.clock.Now().Add(3 * time.Second).UnixMilli(); d.last.DeadlineUnixMs != want {
		t.Fatalf("deadline %d, want %d", d.last.DeadlineUnixMs, want)
	}
	dl, ok := d.ctx.Deadline()
	if !ok || time.Until(dl) > 3*time.Second {
		t.Fatalf("ctx deadline %v %v", dl, ok)
	}
	if d.last.ResourceId != "r1" || d.last.GetGetResource() == nil {
		t.Fatalf("command %v", d.last)
	}
}

func TestAskOwnerTransportErrors(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		detail string
	}{
		{"deadline", fmt.Errorf("request: %w", context.DeadlineExceeded), "in time"},
		{"unreachable", errors.New("connection refused to 10.0.0.7"), "could not be reached"},
		{"cancelled", context.Canceled, "could not be reached"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &funcDispatcher{fn: func(context.Context, *protos.Command) (*protos.Reply, error) { return nil, tt.err }}
			e := MustServer(t, func(c *Config) { c.Dispatcher = d })
			rec := e.do("POST", "/v1/resources/r1/holds/h1/confirm", "")
			p := mustProblem(t, rec, http.StatusServiceUnavailable, "unavailable")
			if rec.Header().Get("Retry-After") != "1" || !strings.Contains(p.Detail, tt.detail) || strings.Contains(p.Detail, "10.0.0.7") {
				t.Fatalf("problem %+v headers %v", p, rec.Header())
			}
		})
	}
}

// A Dispatcher that waits for its context: the request ends at RequestTimeout with 503.
func TestAskOwnerNeverHangs(t *testing.T) {
	d := &funcDispatcher{fn: func(ctx context.Context, _ *protos.Command) (*protos.Reply, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}}
	e := MustServer(t, func(c *Config) { c.Dispatcher = d; c.RequestTimeout = 20 * time.Millisecond })
	done := make(chan int, 1)
	go func() { done <- e.do("GET", "/v1/resources/r1", "").Code }()
	select {
	case code := <-done:
		if code != http.StatusServiceUnavailable {
			t.Fatalf("status %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the request hung past its timeout")
	}
}

func TestAskOwnerReplyErrors(t *testing.T) {
	tests := []struct {
		code       string
		retryMs    int64
		status     int
		slug       string
		retryAfter string
	}{
		{booking.CodeMalformed, 0, 400, "malformed", ""},
		{booking.CodeInvalid, 0, 422, "invalid", ""},
		{booking.CodeIdempotencyMismatch, 0, 422, "idempotency-mismatch", ""},
		{booking.CodeNotFound, 0, 404, "not-found", ""},
		{booking.CodeAlreadyExists, 0, 409, "already-exists", ""},
		{booking.CodeSoldOut, 0, 409, "sold-out", ""},
		{booking.CodeConflict, 0, 409, "conflict", ""},
		{booking.CodeBusy, 1500, 429, "busy", "2"},
		{booking.CodeBusy, 0, 429, "busy", "1"},
		{booking.CodeBusy, 1000, 429, "busy", "1"},
		{booking.CodeUnavailable, 2001, 503, "unavailable", "3"},
		{booking.CodeInternal, 0, 500, "internal", ""},
		{"from_a_newer_node", 0, 500, "internal", ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d", tt.code, tt.retryMs), func(t *testing.T) {
			d := &funcDispatcher{fn: func(context.Context, *protos.Command) (*protos.Reply, error) {
				return &protos.Reply{Owner: "node-9", Error: &protos.Error{Code: tt.code, Message: "secret-or-not", RetryAfterMs: tt.retryMs}}, nil
			}}
			e := MustServer(t, func(c *Config) { c.Dispatcher = d })
			rec := e.do("POST", "/v1/resources/r1/holds", `{"buckets":["all"],"quantity":1,"user_id":"u"}`)
			p := mustProblem(t, rec, tt.status, tt.slug)
			if got := rec.Header().Get("Retry-After"); got != tt.retryAfter {
				t.Fatalf("Retry-After %q, want %q", got, tt.retryAfter)
			}
			if rec.Header().Get(OwnerHeader) != "node-9" {
				t.Fatalf("owner header missing: %v", rec.Header())
			}
			if tt.status == 500 {
				if p.Code != booking.CodeInternal || p.Detail != "internal error" {
					t.Fatalf("internal problem %+v", p)
				}
			} else if p.Code != tt.code || p.Detail != "secret-or-not" {
				t.Fatalf("problem %+v", p)
			}
		})
	}
}

// A reply that is neither an error nor the payload the route needs is a 500, not a panic.
func TestAskOwnerBrokenReplies(t *testing.T) {
	tests := []struct {
		name         string
		reply        *protos.Reply
		method, path string
		body         string
	}{
		{"nil reply", nil, "GET", "/v1/resources/r1", ""},
		{"nil reply to a hold op", nil, "POST", "/v1/resources/r1/holds/h1/cancel", ""},
		{"resource for a hold op", &protos.Reply{Resource: &protos.Resource{Id: "r1"}}, "POST", "/v1/resources/r1/holds/h1/confirm", ""},
		{"hold for a resource op", &protos.Reply{Hold: &protos.Hold{Id: "h1"}}, "GET", "/v1/resources/r1/availability", ""},
		{"empty create", &protos.Reply{}, "POST", "/v1/resources", `{"id":"r1","name":"n","buckets":{"all":1}}`},
		{"empty update", &protos.Reply{}, "PATCH", "/v1/resources/r1", `{"name":"n"}`},
		{"empty place", &protos.Reply{}, "POST", "/v1/resources/r1/holds", `{"buckets":["all"],"quantity":1,"user_id":"u"}`},
		{"empty get hold", &protos.Reply{}, "GET", "/v1/resources/r1/holds/h1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &funcDispatcher{fn: func(context.Context, *protos.Command) (*protos.Reply, error) { return tt.reply, nil }}
			e := MustServer(t, func(c *Config) { c.Dispatcher = d })
			mustProblem(t, e.do(tt.method, tt.path, tt.body), http.StatusInternalServerError, "internal")
		})
	}
}

// A stale reply (answered from memory while the owner could not renew its lease) is marked
// with X-Allot-Stale, on a read and on a sold-out refusal alike; a current one is not.
func TestAskOwnerMarksStaleAnswers(t *testing.T) {
	for _, stale := range []bool{false, true} {
		d := &funcDispatcher{fn: func(_ context.Context, cmd *protos.Command) (*protos.Reply, error) {
			if cmd.GetPlaceHold() != nil {
				return &protos.Reply{Owner: "n", Stale: stale, Error: &protos.Error{Code: booking.CodeSoldOut, Message: "sold out"}}, nil
			}
			return &protos.Reply{Owner: "n", Stale: stale, Resource: &protos.Resource{Id: "r1", HoldTtlMs: 60000, Buckets: map[string]*protos.Bucket{"all": {Capacity: 1}}}}, nil
		}}
		e := MustServer(t, func(c *Config) { c.Dispatcher = d })
		want := ""
		if stale {
			want = "true"
		}
		read := e.do("GET", "/v1/resources/r1/availability", "")
		if read.Code != 200 || read.Header().Get(StaleHeader) != want {
			t.Fatalf("stale=%v: availability %d, %s %q", stale, read.Code, StaleHeader, read.Header().Get(StaleHeader))
		}
		// A stale answer may be wrong: caches must not keep it.
		if cc := read.Header().Get("Cache-Control"); (cc == "no-store") != stale {
			t.Fatalf("stale=%v: Cache-Control %q", stale, cc)
		}
		refused := e.do("POST", "/v1/resources/r1/holds", `{"buckets":["all"],"quantity":1,"user_id":"u"}`)
		mustProblem(t, refused, 409, "sold-out")
		if refused.Header().Get(StaleHeader) != want {
			t.Fatalf("stale=%v: sold-out %s %q", stale, StaleHeader, refused.Header().Get(StaleHeader))
		}
	}
}

// timedFuncDispatcher is a timedDispatcher: the edge must use DispatchWithin, never Dispatch.
type timedFuncDispatcher struct {
	t       testing.TB
	mu      sync.Mutex
	ctx     context.Context
	timeout time.Duration
	fn      func(ctx context.Context, timeout time.Duration) (*protos.Reply, error)
}

func (d *timedFuncDispatcher) Dispatch(context.Context, *protos.Command) (*protos.Reply, error) {
	d.t.Error("Dispatch called on a timedDispatcher")
	return nil, errors.New("Dispatch called")
}

func (d *timedFuncDispatcher) DispatchWithin(ctx context.Context, timeout time.Duration, _ *protos.Command) (*protos.Reply, error) {
	d.mu.Lock()
	d.ctx, d.timeout = ctx, timeout
	d.mu.Unlock()
	return d.fn(ctx, timeout)
}

// A Dispatcher that bounds a command itself gets RequestTimeout and the request's own ctx (no
// context.WithTimeout per request), through the edge's unknown-resource cache too; one that
// times out answers 503, one whose client goes away 499.
func TestAskOwnerTimedDispatcher(t *testing.T) {
	d := &timedFuncDispatcher{t: t, fn: func(context.Context, time.Duration) (*protos.Reply, error) {
		return &protos.Reply{Resource: &protos.Resource{Id: "r1"}}, nil
	}}
	e := MustServer(t, func(c *Config) { c.Dispatcher = d; c.RequestTimeout = 3 * time.Second })
	if _, ok := e.srv.cfg.Dispatcher.(*unknownResources); !ok {
		t.Fatalf("dispatcher %T: the test means to go through the unknown-resource cache", e.srv.cfg.Dispatcher)
	}
	e.ok(e.do("GET", "/v1/resources/r1", ""), http.StatusOK, nil)
	if _, has := d.ctx.Deadline(); has || d.timeout != 3*time.Second {
		t.Fatalf("ctx has a deadline %v, timeout %v", has, d.timeout)
	}

	d.fn = func(ctx context.Context, timeout time.Duration) (*protos.Reply, error) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(timeout):
			return nil, errors.New("request timed out")
		}
	}
	e = MustServer(t, func(c *Config) { c.Dispatcher = d; c.RequestTimeout = 20 * time.Millisecond })
	mustProblem(t, e.do("GET", "/v1/resources/r1", ""), http.StatusServiceUnavailable, "unavailable")

	ctx, disconnect := context.WithCancel(context.Background())
	defer disconnect()
	d.fn = func(ctx context.Context, _ time.Duration) (*protos.Reply, error) {
		disconnect()
		<-ctx.Done()
		return nil, fmt.Errorf("request: %w", ctx.Err())
	}
	e = MustServer(t, func(c *Config) { c.Dispatcher = d })
	req := httptest.NewRequestWithContext(ctx, "GET", "/v1/resources/r1", nil)
	req.Header.Set("Authorization", "Bearer "+e.tokens.token(t, asAdmin))
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	mustProblem(t, rec, StatusClientClosedRequest, "client-closed-request")
}
