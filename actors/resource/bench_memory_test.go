package resource

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/protos"
)

// TestStoppedActorDropsItsState: a passivated actor keeps none of its resource's state. In a
// cluster every activation is a child of disthash's placement actor, and protoactor's PIDSet
// of children does not clear the slot of a removed child while a PID caches its process: the
// stopped actor stays reachable until the slot is reused. Holding its state would keep up to the
// peak number of activations in memory after they passivated (found by the memory benchmark
// of `make bench`).
func TestStoppedActorDropsItsState(t *testing.T) {
	h := newHarness(t, MustSQLite(t))
	// Idle means no command for a second of real time: the holds below must not look idle on
	// the harness's fake clock, which only moves when told to, and a loaded machine may take
	// tens of milliseconds between two of them (50 ms passivated mid-loop under load).
	h.cfg.IdleTimeout = time.Second
	h.cfg.Now, h.cfg.AfterFunc = time.Now, realAfterFunc
	h.cfg.wakes = newWakeups(h.cfg.Now, h.cfg.AfterFunc) // what props gives its actors
	const id = "r-1"
	var a *resourceActor
	q := &mailboxCounter{shared: newMailboxShared(nil, h.cfg.Metrics)}
	props := actor.PropsFromProducer(func() actor.Actor {
		a = newActor(&h.cfg, id, q)
		return a
	}, actor.WithMailbox(actor.Unbounded(q)))
	// A parent spawns the activation, as the placement actor does.
	spawned := make(chan *actor.PID, 1)
	h.sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		if _, ok := ctx.Message().(*actor.Started); ok {
			spawned <- ctx.Spawn(props)
		}
	}))
	pid := <-spawned
	stopped := h.watch(pid)
	h.create(pid, id, map[string]int64{"all": 100})
	for i := range 20 {
		mustOK(t, h.ask(pid, holdCmd(id, fmt.Sprintf("k-%d", i), "u", 1, "all")))
	}
	waitClosed(t, stopped, "passivation")
	// The actor goroutine is done with a: Terminated follows Stopped.
	if a.core != nil || a.io != nil {
		t.Fatalf("stopped actor still holds state: core %v, store calls %d", a.core != nil, len(a.calls()))
	}
}

// nullStore keeps nothing: the memory benchmark measures the actors, not a store. Every
// resource starts missing, every commit and renewal succeeds.
type nullStore struct{}

func (nullStore) Activate(context.Context, string, time.Time) (*persistence.Snapshot, error) {
	return &persistence.Snapshot{}, nil
}
func (nullStore) Commit(context.Context, *persistence.Batch) error       { return nil }
func (nullStore) Renew(context.Context, string, uint64, time.Time) error { return nil }
func (nullStore) Ping(context.Context) error                             { return nil }
func (nullStore) Close() error                                           { return nil }
func (nullStore) ListHolds(context.Context, persistence.HoldFilter) ([]booking.Hold, error) {
	return nil, nil
}
func (nullStore) GetHold(context.Context, string, string) (booking.Hold, error) {
	return booking.Hold{}, persistence.ErrNotFound
}

// memFleet is n activations spawned by one actor from the root context, as the cluster's
// placement actor (cluster/placement.go) spawns a node's activations.
type memFleet struct {
	sys    *actor.ActorSystem
	parent *actor.PID
	gone   chan struct{}
}

type (
	spawnChild struct {
		id  string
		pid chan *actor.PID
	}
	stopAll struct{}
)

func newMemFleet(sys *actor.ActorSystem, cfg Config) *memFleet {
	f := &memFleet{sys: sys, gone: make(chan struct{}, 64)}
	children := map[string]*actor.PID{} // as the placement actor's map of activations
	// One kind's props, as a node's, with the identity handed to the actor by an init as the
	// placement actor does (cluster/placement.go: identified; the actor is an IdentifiedActor,
	// so its context gets no extensions): the props are shared by every activation.
	var spawning *cluster.ClusterIdentity
	kind := Props(cfg).Clone(actor.WithOnInit(func(ctx actor.Context) {
		ctx.Actor().(interface {
			ClusterIdentified(*cluster.ClusterIdentity)
		}).ClusterIdentified(spawning)
	}))
	f.parent = sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		switch m := ctx.Message().(type) {
		case *spawnChild:
			spawning = &cluster.ClusterIdentity{Identity: m.id, Kind: KindName}
			pid := ctx.ActorSystem().Root.SpawnPrefix(kind, m.id)
			spawning = nil
			children[pid.Id] = pid
			m.pid <- pid
		case *stopAll:
			for _, pid := range children {
				stopped := ctx.PoisonFuture(pid)
				go func() {
					_ = stopped.Wait()
					f.gone <- struct{}{}
				}()
			}
			clear(children)
		}
	}))
	return f
}

// heapInUse is the live heap after two collections (the second frees what finalizers kept).
func heapInUse() int64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// writeHeapProfile writes the heap profile into $ALLOT_HEAP_PROFILE_DIR, if set (read it with
// go tool pprof -sample_index=inuse_space; -test.memprofilerate 512 makes it finer).
func writeHeapProfile(tb testing.TB, name string) {
	dir := os.Getenv("ALLOT_HEAP_PROFILE_DIR")
	if dir == "" {
		return
	}
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		tb.Fatalf("heap profile: %v", err)
	}
	defer f.Close()
	if err := pprof.WriteHeapProfile(f); err != nil {
		tb.Fatalf("heap profile: %v", err)
	}
}

// memoryPerResource activates n resources with holds one-unit holds each, and returns the
// live heap per active resource at the end of the fill, per active resource once every
// activation has been quiet for quietAfter (Config.QuietAfter; 0: never packed, quiet is
// then active again, measured a second time), and per resource once every activation has
// stopped.
func memoryPerResource(tb testing.TB, n, holds int, quietAfter time.Duration) (active, quiet, pinned float64) {
	tb.Helper()
	sys := MustSystem(tb)
	cfg := DefaultConfig()
	cfg.Store = nullStore{}
	cfg.Metrics = NewMetrics(prometheus.NewRegistry())
	cfg.Owner = "bench-node"
	cfg.Now, cfg.AfterFunc = time.Now, realAfterFunc
	cfg.IdleTimeout = time.Hour // the benchmark stops them itself
	cfg.QuietAfter = quietAfter
	f := newMemFleet(sys, cfg)
	ask := func(pid *actor.PID, cmd *protos.Command) {
		res, err := sys.Root.RequestFuture(pid, cmd, askTimeout).Result()
		if err != nil {
			tb.Fatalf("ask: %v", err)
		}
		if rep := res.(*protos.Reply); rep.GetError() != nil {
			tb.Fatalf("reply: %v", rep.GetError())
		}
	}
	goroutines := runtime.NumGoroutine()
	before := heapInUse()
	var wg sync.WaitGroup
	var next atomic.Int64
	for range 16 {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				id := fmt.Sprintf("mem-%06d", i)
				spawned := make(chan *actor.PID, 1)
				sys.Root.Send(f.parent, &spawnChild{id: id, pid: spawned})
				pid := <-spawned
				ask(pid, createCmd(id, time.Hour, map[string]int64{"all": int64(holds) * 2}))
				for h := range holds {
					ask(pid, holdCmd(id, fmt.Sprintf("%s-%d", id, h), fmt.Sprintf("u-%d", h), 1, "all"))
				}
			}
		})
	}
	wg.Wait()
	during := heapInUse()
	writeHeapProfile(tb, "memory-active.pprof")
	// Every activation's idle check comes within quietAfter of its last command (the kind's
	// one timer on the real clock); twice that, and a second more for a loaded machine.
	time.Sleep(2*quietAfter + time.Second)
	quieted := heapInUse()
	writeHeapProfile(tb, "memory-quiet.pprof")
	sys.Root.Send(f.parent, &stopAll{})
	for range n {
		select {
		case <-f.gone:
		case <-time.After(askTimeout):
			tb.Fatalf("activations did not stop")
		}
	}
	// Goroutines of the mailbox dispatcher outlive the last run they made by warmIdle, and
	// keep its mailbox reachable until they exit.
	for deadline := time.Now().Add(askTimeout); runtime.NumGoroutine() > goroutines && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond) // poll: the runtime has no event for a goroutine's exit
	}
	after := heapInUse()
	writeHeapProfile(tb, "memory-stopped.pprof")
	return float64(during-before) / float64(n), float64(quieted-before) / float64(n), float64(after-before) / float64(n)
}

// BenchmarkMemoryPerResource reports the Go heap (after a GC) per active resource with 3 holds
// at the end of the fill and once every activation is quiet (its state packed, QuietAfter 3 s
// or $ALLOT_MEM_QUIET_AFTER; 0: never), and per resource once every activation stopped (what
// stays pinned): 10,000 resources, or $ALLOT_MEM_RESOURCES. Run it once:
//
//	go test -run '^$' -bench BenchmarkMemoryPerResource -benchtime 1x ./actors/resource
func BenchmarkMemoryPerResource(b *testing.B) {
	for b.Loop() {
		n := 10_000
		if v, err := strconv.Atoi(os.Getenv("ALLOT_MEM_RESOURCES")); err == nil && v > 0 {
			n = v
		}
		quietAfter := 3 * time.Second
		if v, err := time.ParseDuration(os.Getenv("ALLOT_MEM_QUIET_AFTER")); err == nil && v >= 0 {
			quietAfter = v
		}
		active, quiet, pinned := memoryPerResource(b, n, 3, quietAfter)
		b.ReportMetric(active, "heap-B/active-resource")
		b.ReportMetric(quiet, "heap-B/quiet-resource")
		b.ReportMetric(pinned, "heap-B/passivated-resource")
	}
}

// TestStoppedActorReleasesItsProcess: once an activation has stopped, nothing of it stays
// reachable through the PID its parent's PIDSet keeps in a vacated slot (protoactor-go's
// PIDSet.Remove does not clear it): the actor's own send to its dead PID (resourceActor.uncache)
// made the PID forget its process, and with it the context, mailbox and actor.
func TestStoppedActorReleasesItsProcess(t *testing.T) {
	h := newHarness(t, MustSQLite(t))
	const id = "r-1"
	collected := make(chan struct{})
	produce := func(cfg *Config, id string, q *mailboxCounter) actor.Actor {
		a := newActor(cfg, id, q)
		runtime.AddCleanup(a, func(ch chan struct{}) { close(ch) }, collected)
		return a
	}
	spawned := make(chan *actor.PID, 1)
	parent := h.sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		if _, ok := ctx.Message().(*actor.Started); ok {
			spawned <- ctx.Spawn(props(h.cfg, id, produce))
		}
	}))
	t.Cleanup(func() { _ = h.sys.Root.PoisonFuture(parent).Wait() })
	pid := <-spawned
	stopped := h.watch(pid)
	h.create(pid, id, map[string]int64{"all": 10})
	mustOK(t, h.ask(pid, holdCmd(id, "k-1", "u", 1, "all")))
	if err := h.sys.Root.PoisonFuture(pid).Wait(); err != nil {
		t.Fatalf("poison: %v", err)
	}
	waitClosed(t, stopped, "stop")
	// The dispatcher's goroutine keeps its last mailbox run for warmIdle after it: collect
	// until the actor is gone, for at most askTimeout.
	deadline := time.Now().Add(askTimeout)
	for {
		runtime.GC()
		select {
		case <-collected:
			return
		case <-time.After(50 * time.Millisecond): // cleanups run on their own goroutine after a GC
		}
		if time.Now().After(deadline) {
			t.Fatal("the stopped actor is still reachable")
		}
	}
}
