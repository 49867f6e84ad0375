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

	"github.com/allot/allot/api/audit"
	"github.com/allot/allot/protos"
)

// stepDispatcher is a timedDispatcher that answers each command with step and records what
// the edge gave it: the timeout and the command's deadline, in order.
type stepDispatcher struct {
	mu    sync.Mutex
	calls []stepCall
	step  func(ctx context.Context, cmd *protos.Command) (*protos.Reply, error)
}

type stepCall struct {
	op         string // the command's op, as protobuf names it
	timeout    time.Duration
	deadlineMs int64
}

func (d *stepDispatcher) Dispatch(ctx context.Context, cmd *protos.Command) (*protos.Reply, error) {
	return nil, errors.New("the edge must use DispatchWithin")
}

func (d *stepDispatcher) DispatchWithin(ctx context.Context, timeout time.Duration, cmd *protos.Command) (*protos.Reply, error) {
	d.mu.Lock()
	d.calls = append(d.calls, stepCall{op: fmt.Sprintf("%T", cmd.Op), timeout: timeout, deadlineMs: cmd.DeadlineUnixMs})
	d.mu.Unlock()
	return d.step(ctx, cmd)
}

func (d *stepDispatcher) recorded() []stepCall {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]stepCall(nil), d.calls...)
}

// customerHold is the hold of asCustomer that stepDispatcher's steps answer with.
func customerHold() *protos.Hold {
	return &protos.Hold{Id: "h1", ResourceId: "r1", UserId: asCustomer.Subject, Status: "held", Quantity: 1}
}

// TestOneDeadlinePerRequest: a customer's confirm reads the hold (ownership), then sends the
// command; both asks share the request's one deadline, so a read that took 3 s of a 5 s
// deadline leaves the command 2 s, with the same DeadlineUnixMs. On main each ask had its own
// 5 s: a confirm behind a stalled owner took two deadlines. A read that used up the deadline
// sends no command and answers 503 unavailable ("in time").
func TestOneDeadlinePerRequest(t *testing.T) {
	for _, tt := range []struct {
		name     string
		readTook time.Duration
	}{{"read took 3s", 3 * time.Second}, {"read took the whole deadline", 5 * time.Second}} {
		t.Run(tt.name, func(t *testing.T) {
			var e *testEnv
			d := &stepDispatcher{}
			d.step = func(_ context.Context, cmd *protos.Command) (*protos.Reply, error) {
				if cmd.GetGetHold() != nil {
					e.clock.Advance(tt.readTook) // the owner took this long to answer the read
				}
				return &protos.Reply{Hold: customerHold()}, nil
			}
			e = MustServer(t, func(c *Config) { c.Dispatcher = d; c.RequestTimeout = 5 * time.Second })
			start := e.clock.Now()
			rec := e.do("POST", "/v1/resources/r1/holds/h1/confirm", "", e.bearer(asCustomer)...)
			calls := d.recorded()
			if len(calls) == 0 || !strings.Contains(calls[0].op, "GetHold") || calls[0].timeout != 5*time.Second {
				t.Fatalf("first ask %+v, want the read with the whole 5s", calls)
			}
			want := start.Add(5 * time.Second).UnixMilli()
			left := 5*time.Second - tt.readTook
			if left <= 0 {
				if len(calls) != 1 {
					t.Fatalf("asks %+v: a command was sent after the request's deadline", calls)
				}
				p := mustProblem(t, rec, http.StatusServiceUnavailable, "unavailable")
				if !strings.Contains(p.Detail, "in time") || rec.Header().Get("Retry-After") == "" {
					t.Fatalf("problem %+v, Retry-After %q", p, rec.Header().Get("Retry-After"))
				}
				return
			}
			e.ok(rec, http.StatusOK, nil)
			if len(calls) != 2 || !strings.Contains(calls[1].op, "ConfirmHold") {
				t.Fatalf("asks %+v, want the read then the confirm", calls)
			}
			if calls[1].timeout != left || calls[1].deadlineMs != want || calls[0].deadlineMs != want {
				t.Fatalf("asks %+v: want both with the deadline %d, the confirm with %v left", calls, want, left)
			}
		})
	}
}

// stallAudit is an audit store that records how long its Append may wait (its ctx's
// deadline, read against the real clock) and whether that ctx was done already.
type stallAudit struct {
	*audit.MemStore
	mu    sync.Mutex
	waits []time.Duration
	errs  []error
}

func (s *stallAudit) Append(ctx context.Context, e audit.Entry) error {
	dl, ok := ctx.Deadline()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !ok {
		s.waits = append(s.waits, -1)
	} else {
		s.waits = append(s.waits, time.Until(dl))
	}
	s.errs = append(s.errs, ctx.Err())
	return s.MemStore.Append(ctx, e)
}

// TestAuditEntryHasATimeoutOfItsOwn: an operator's action is audited after the handler,
// before the answer leaves; the entry gets a RequestTimeout of its own, not what is left of
// the request's deadline, and is not cancelled when the client leaves. Round 17 tried the
// remainder: during a partition from the database (cluster/chaos) it dropped entries that a
// full timeout stored once the partition healed. The trail is worth an operator's latency.
func TestAuditEntryHasATimeoutOfItsOwn(t *testing.T) {
	for _, tt := range []struct {
		name string
		took time.Duration // the owner's answer took this long (injected clock)
		gone bool          // the client goes away while the owner works
	}{
		{"owner took 4s of 5s", 4 * time.Second, false},
		{"owner took the whole deadline", 5 * time.Second, false},
		{"client gone after 3s", 3 * time.Second, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			store := &stallAudit{MemStore: audit.NewMemStore()}
			var e *testEnv
			ctx, leave := context.WithCancel(context.Background())
			defer leave()
			d := &stepDispatcher{step: func(rctx context.Context, cmd *protos.Command) (*protos.Reply, error) {
				e.clock.Advance(tt.took)
				if tt.gone {
					leave()
					<-rctx.Done()
					return nil, fmt.Errorf("request: %w", rctx.Err())
				}
				return &protos.Reply{Hold: customerHold()}, nil
			}}
			e = MustServer(t, func(c *Config) { c.Dispatcher = d; c.Audit = store; c.RequestTimeout = 5 * time.Second })
			req := httptest.NewRequestWithContext(ctx, "POST", "/v1/resources/r1/holds/h1/cancel", nil)
			req.Header.Set("Authorization", "Bearer "+e.tokens.token(t, asOperator))
			rec := httptest.NewRecorder()
			e.h.ServeHTTP(rec, req)
			if tt.gone {
				mustProblem(t, rec, StatusClientClosedRequest, "client-closed-request")
			} else {
				e.ok(rec, http.StatusOK, nil)
			}
			store.mu.Lock()
			defer store.mu.Unlock()
			if len(store.waits) != 1 {
				t.Fatalf("%d audit entries, want 1", len(store.waits))
			}
			// The waits are read against the real clock, a little after the ctx was made.
			if w := store.waits[0]; w <= 4*time.Second || w > 5*time.Second {
				t.Fatalf("the audit entry may wait %v, want a RequestTimeout (5s) of its own", w)
			}
			if store.errs[0] != nil {
				t.Fatalf("the audit entry's ctx is done already (%v): the entry of a request whose client left is stored anyway", store.errs[0])
			}
		})
	}
}
