package resource

import (
	"fmt"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
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
	const id = "r-1"
	var a *resourceActor
	q := &mailboxCounter{metrics: h.cfg.Metrics}
	props := actor.PropsFromProducer(func() actor.Actor {
		a = newActor(h.cfg, id, q)
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
	if a.core != nil || a.calls != nil {
		t.Fatalf("stopped actor still holds state: core %v, store calls %d", a.core != nil, len(a.calls))
	}
}
