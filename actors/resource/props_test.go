package resource

import (
	"testing"
	"unsafe"

	"github.com/asynkron/protoactor-go/actor"
)

// crashOnce is a resource actor that panics on a *crash, as a bug would.
type crashOnce struct{ *resourceActor }

type crash struct{}

func (c crashOnce) Receive(ctx actor.Context) {
	if _, ok := ctx.Message().(*crash); ok {
		panic("crash")
	}
	c.resourceActor.Receive(ctx)
}

// TestRestartedActorFindsItsMailboxCounter: props are shared by every activation, so an
// actor takes its mailbox counter from its context when it starts (props.go); the fresh
// instance protoactor makes after a panic must find the same one (the mailbox keeps
// counting into it) and keep answering.
func TestRestartedActorFindsItsMailboxCounter(t *testing.T) {
	h := newHarness(t, MustSQLite(t))
	const id = "r-1"
	instances := make(chan *resourceActor, 2)
	pid := h.sys.Root.Spawn(props(h.cfg, id, func(cfg *Config, id string, q *mailboxCounter) actor.Actor {
		a := newActor(cfg, id, q)
		instances <- a
		return crashOnce{a}
	}))
	t.Cleanup(func() { _ = h.sys.Root.PoisonFuture(pid).Wait() })
	h.create(pid, id, map[string]int64{"all": 10})
	first := <-instances
	h.sys.Root.Send(pid, &crash{})
	mustOK(t, h.ask(pid, holdCmd(id, "k-1", "u", 1, "all")))
	second := <-instances
	if first.queue == nil || second.queue != first.queue {
		t.Fatalf("mailbox counters: first %p, after the restart %p; want the same, not nil", first.queue, second.queue)
	}
	if n := second.queue.n.Load(); n != 0 {
		t.Fatalf("mailbox counter reads %d commands with none queued", n)
	}
}

// TestActorKeepsItsSizeClass: one resourceActor lives per active resource. It fits the
// runtime's 112-byte allocation class (the store calls, their goroutines and the lookup
// context behind one pointer that a quiet actor drops, its entry in the kind's active set
// inline, the wake-up an index into the kind's heap and its time in Unix nanoseconds, logger
// and metrics read from the shared Config); a
// field more moves every actor to the 128-byte class, which should be a decision, not an
// accident.
func TestActorKeepsItsSizeClass(t *testing.T) {
	if size := unsafe.Sizeof(resourceActor{}); size > 112 {
		t.Fatalf("resourceActor is %d bytes, over the 112-byte allocation class", size)
	}
}
