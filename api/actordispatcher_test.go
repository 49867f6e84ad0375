package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/actors/resource"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/persistence/memstore"
	"github.com/allot/allot/protos"
)

// testOwner is the owner the test actors report in every reply (resource.Config.Owner).
const testOwner = "node-1:8090"

// askLimit bounds a command without a ctx deadline; it is a failure detector, never a wait.
const askLimit = 20 * time.Second

// actorDispatcher delivers the edge's commands to the real resource actors (actors/resource)
// in this process, over an in-memory store (persistence/memstore), built from resource's
// public API the way cmd builds a node (resource.DefaultConfig, then the store, clock and
// owner), minus the cluster: one plain actor per resource id (resource.PropsFor), spawned on
// first use as the cluster activates one per identity. So the edge's tests see what the
// actor decodes, decides, commits and answers. The store is also the HoldLister, as in a node.
//
// Thread-safety: Dispatch and ListHolds may be called concurrently.
type actorDispatcher struct {
	sys   *actor.ActorSystem
	cfg   resource.Config
	store *memstore.Store

	calls     atomic.Int64 // Dispatch calls
	listCalls atomic.Int64 // ListHolds calls

	mu   sync.Mutex
	pids map[string]*actor.PID // resource id -> its activation
}

// mustActorDispatcher starts an actor system over a fresh memstore, with now as the actors'
// clock; both are stopped when the test ends.
func mustActorDispatcher(tb testing.TB, now func() time.Time) *actorDispatcher {
	tb.Helper()
	store := memstore.New()
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
	var holds atomic.Int64
	cfg := resource.DefaultConfig()
	cfg.Store = store
	cfg.Now = now
	cfg.Owner = testOwner
	// Readable, deterministic hold ids (the production ones are random).
	cfg.NewHoldID = func(time.Time) string { return fmt.Sprintf("h-%d", holds.Add(1)) }
	// Tests advance the injected clock by hours; an actor must not passivate under them in
	// real time either (a passivated actor's pid would be stale in d.pids).
	cfg.IdleTimeout = time.Hour
	d := &actorDispatcher{sys: sys, cfg: cfg, store: store, pids: map[string]*actor.PID{}}
	tb.Cleanup(func() {
		d.mu.Lock()
		pids := d.pids
		d.pids = nil
		d.mu.Unlock()
		for _, pid := range pids {
			_ = sys.Root.PoisonFuture(pid).Wait() // graceful: flushes what is pending
		}
		sys.Shutdown()
		_ = store.Close()
	})
	return d
}

// pid returns the activation of resource id, spawning it on first use.
func (d *actorDispatcher) pid(id string) (*actor.PID, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.pids == nil {
		return nil, errors.New("actor dispatcher is stopped")
	}
	pid, ok := d.pids[id]
	if !ok {
		pid = d.sys.Root.Spawn(resource.PropsFor(d.cfg, id))
		d.pids[id] = pid
	}
	return pid, nil
}

// Dispatch implements Dispatcher: it asks the resource's actor and waits for its reply until
// ctx's deadline.
func (d *actorDispatcher) Dispatch(ctx context.Context, cmd *protos.Command) (*protos.Reply, error) {
	d.calls.Add(1)
	return d.ask(ctx, cmd)
}

func (d *actorDispatcher) ask(ctx context.Context, cmd *protos.Command) (*protos.Reply, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	timeout := askLimit
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	pid, err := d.pid(cmd.ResourceId)
	if err != nil {
		return nil, err
	}
	res, err := d.sys.Root.RequestFuture(pid, cmd, timeout).Result()
	if err != nil {
		return nil, fmt.Errorf("ask %s: %w", cmd.ResourceId, err)
	}
	reply, ok := res.(*protos.Reply)
	if !ok {
		return nil, fmt.Errorf("ask %s: unexpected answer %T", cmd.ResourceId, res)
	}
	return reply, nil
}

// ListHolds implements HoldLister with the store, as a node does.
func (d *actorDispatcher) ListHolds(ctx context.Context, f persistence.HoldFilter) ([]booking.Hold, error) {
	d.listCalls.Add(1)
	return d.store.ListHolds(ctx, f)
}

// ListWaitlist implements WaitlistLister with the store, as a node does.
func (d *actorDispatcher) ListWaitlist(ctx context.Context, f persistence.WaitlistFilter) ([]persistence.WaitlistPosition, error) {
	return d.store.ListWaitlist(ctx, f)
}

// ListResources implements ResourceLister with the store, as a node does.
func (d *actorDispatcher) ListResources(ctx context.Context, f persistence.ResourceFilter) ([]booking.Resource, error) {
	return d.store.ListResources(ctx, f)
}

// snapshot returns a comparable picture of every resource an actor was started for — as its
// actor answers it (name, TTL, version, buckets) and as the store lists its holds — to prove
// that refused requests changed nothing. It counts as neither a Dispatch nor a ListHolds.
func (d *actorDispatcher) snapshot(tb testing.TB) string {
	tb.Helper()
	d.mu.Lock()
	ids := make([]string, 0, len(d.pids))
	for id := range d.pids {
		ids = append(ids, id)
	}
	d.mu.Unlock()
	sort.Strings(ids)
	var b strings.Builder
	ctx := context.Background()
	for _, id := range ids {
		reply, err := d.ask(ctx, &protos.Command{ResourceId: id, Op: &protos.Command_GetResource{GetResource: &protos.GetResource{}}})
		if err != nil {
			tb.Fatalf("snapshot %s: %v", id, err)
		}
		if e := reply.GetError(); e != nil {
			fmt.Fprintf(&b, "%s: %s;\n", id, e.Code)
			continue
		}
		r := reply.Resource
		keys := make([]string, 0, len(r.Buckets))
		for k := range r.Buckets {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintf(&b, "%s v%d %q ttl=%d price=%v", id, r.Version, r.Name, r.HoldTtlMs, r.Price)
		for _, k := range keys {
			bk := r.Buckets[k]
			fmt.Fprintf(&b, " %s=%d/%d/%d", k, bk.Capacity, bk.Held, bk.Confirmed)
		}
		holds, err := d.store.ListHolds(ctx, persistence.HoldFilter{ResourceID: id, Limit: 1000})
		if err != nil {
			tb.Fatalf("snapshot %s holds: %v", id, err)
		}
		for _, h := range holds {
			fmt.Fprintf(&b, "\n  %s %s %v x%d %s upd=%d", h.ID, h.Status, h.Buckets, h.Quantity, h.UserID, h.UpdatedAt.UnixMilli())
		}
		b.WriteString(";\n")
	}
	return b.String()
}

// fakeClock is an injected clock that tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
