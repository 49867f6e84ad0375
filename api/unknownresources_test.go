package api

import (
	"context"
	"fmt"
	"math/rand/v2"
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

// TestUnknownResourcesAgainstModel: random remembers, forgets and lookups over a few ids and a
// moving clock (fixed seed), against a map of when each id expires. lookup must answer as the
// model does, and held (read by lookup without the lock) must always be len(until): a count
// that stayed 0 after a remember would hide every unknown resource, one that stayed above 0
// would only cost the lock.
func TestUnknownResourcesAgainstModel(t *testing.T) {
	now := time.Unix(1_900_000_000, 0)
	const ttl = 3 * time.Second
	u := newUnknownResources(nil, ttl, 4, func() time.Time { return now })
	model := map[string]time.Time{}
	rng := rand.New(rand.NewPCG(17, 3))
	for step := range 20_000 {
		rid := fmt.Sprintf("r-%d", rng.IntN(6))
		switch op := rng.IntN(10); {
		case op < 3:
			u.remember(rid, "node-1")
			if _, ok := model[rid]; !ok && len(model) >= 4 {
				model = map[string]time.Time{} // evictions are arbitrary: resync from u below
				for id, e := range u.until {
					model[id] = e.until
				}
			}
			model[rid] = now.Add(ttl)
		case op < 4:
			u.forget(rid)
			delete(model, rid)
		case op < 5:
			now = now.Add(time.Duration(rng.IntN(1500)) * time.Millisecond)
		default:
			_, got := u.lookup(rid)
			until, known := model[rid]
			want := known && now.Before(until)
			if known && !want {
				delete(model, rid)
			}
			if got != want {
				t.Fatalf("step %d: lookup(%s) = %v, want %v", step, rid, got, want)
			}
		}
		if held := u.held.Load(); held != int64(len(u.until)) {
			t.Fatalf("step %d: held %d, %d ids remembered", step, held, len(u.until))
		}
	}
}
