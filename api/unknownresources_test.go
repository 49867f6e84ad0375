package api

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allot/allot/protos"
)

// countingDispatcher counts the commands that reach the owner.
type countingDispatcher struct {
	next Dispatcher
	n    atomic.Int64
}

func (d *countingDispatcher) Dispatch(ctx context.Context, cmd *protos.Command) (*protos.Reply, error) {
	d.n.Add(1)
	return d.next.Dispatch(ctx, cmd)
}

// TestUnknownResourceNotDispatchedAgain: once the owner said a resource does not exist, the
// edge answers 404 itself until the TTL passed, for reads and hold placements alike; creating
// the resource through this edge makes it visible at once.
func TestUnknownResourceNotDispatchedAgain(t *testing.T) {
	var counter *countingDispatcher
	e := MustServer(t, func(c *Config) {
		counter = &countingDispatcher{next: c.Dispatcher}
		c.Dispatcher = counter
		c.UnknownResourceTTL = 2 * time.Second
	})
	mustProblem(t, e.do("GET", "/v1/resources/hotel-1", ""), http.StatusNotFound, "not-found")
	if got := counter.n.Load(); got != 1 {
		t.Fatalf("%d commands dispatched, want 1", got)
	}
	for range 5 {
		mustProblem(t, e.do("GET", "/v1/resources/hotel-1/availability", ""), http.StatusNotFound, "not-found")
		mustProblem(t, e.do("POST", "/v1/resources/hotel-1/holds", `{"user_id":"u-1","quantity":1,"buckets":["2026-12-24"]}`), http.StatusNotFound, "not-found")
	}
	if got := counter.n.Load(); got != 1 {
		t.Fatalf("%d commands dispatched for a remembered unknown resource, want 1", got)
	}
	e.clock.Advance(2 * time.Second)
	mustProblem(t, e.do("GET", "/v1/resources/hotel-1", ""), http.StatusNotFound, "not-found")
	if got := counter.n.Load(); got != 2 {
		t.Fatalf("%d commands dispatched after the TTL, want 2", got)
	}
	e.mustCreate()
	e.ok(e.do("GET", "/v1/resources/hotel-1", ""), http.StatusOK, nil)
}

// TestUnknownResourceHoldNotFoundIsNotRemembered: a hold that does not exist on an existing
// resource does not make the resource unknown.
func TestUnknownResourceHoldNotFoundIsNotRemembered(t *testing.T) {
	e := MustServer(t)
	e.mustCreate()
	mustProblem(t, e.do("GET", "/v1/resources/hotel-1/holds/h_nope", ""), http.StatusNotFound, "not-found")
	mustProblem(t, e.do("POST", "/v1/resources/hotel-1/holds/h_nope/confirm", ""), http.StatusNotFound, "not-found")
	e.ok(e.do("GET", "/v1/resources/hotel-1", ""), http.StatusOK, nil)
}

// TestUnknownResourcesBounded: a flood of distinct unknown ids keeps at most max of them.
func TestUnknownResourcesBounded(t *testing.T) {
	now := time.Unix(1_900_000_000, 0)
	notFound := dispatchFunc(func(_ context.Context, cmd *protos.Command) (*protos.Reply, error) {
		return &protos.Reply{Error: &protos.Error{Code: "not_found", Message: "resource not found"}}, nil
	})
	u := newUnknownResources(notFound, time.Minute, 64, func() time.Time { return now })
	for i := range 10_000 {
		cmd := &protos.Command{ResourceId: fmt.Sprintf("r-%d", i), Op: &protos.Command_GetResource{GetResource: &protos.GetResource{}}}
		if _, err := u.Dispatch(context.Background(), cmd); err != nil {
			t.Fatal(err)
		}
		if n := u.len(); n > 64 {
			t.Fatalf("after %d ids: %d remembered, want at most 64", i+1, n)
		}
	}
	if _, ok := u.lookup("r-9999"); !ok {
		t.Fatal("the latest unknown id is not remembered")
	}
}

type dispatchFunc func(context.Context, *protos.Command) (*protos.Reply, error)

func (f dispatchFunc) Dispatch(ctx context.Context, cmd *protos.Command) (*protos.Reply, error) {
	return f(ctx, cmd)
}
