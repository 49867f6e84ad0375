package resource

import (
	"errors"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/protos"
)

// TestGracefulStopFlushes: a stop while a batch is in flight and more are pending answers
// every command from a commit; a new activation on the same store sees them all.
func TestGracefulStopFlushes(t *testing.T) {
	store := MustMemstore(t)
	h := newHarness(t, store)
	h.cfg.MaxBatch = 2 // the pending commands take two more commits
	pid := h.spawn("room")
	h.create(pid, "room", map[string]int64{"a": 10})
	g := newGate()
	store.SetCommitHook(g.commitHook)
	g.arm(1)
	fs := []*actor.Future{h.send(pid, holdCmd("room", "", "u", 1, "a"))}
	g.waitEntered(t)
	for range 4 {
		fs = append(fs, h.send(pid, holdCmd("room", "", "u", 1, "a")))
	}
	stopped := h.sys.Root.PoisonFuture(pid)
	g.release <- nil // commitDone now queues behind the poison pill: Stopping must wait itself
	var ids []string
	for _, f := range fs {
		ids = append(ids, mustOK(t, h.await(f)).GetHold().GetId())
	}
	if err := stopped.Wait(); err != nil {
		t.Fatal(err)
	}

	pid = h.spawn("room")
	for _, id := range ids {
		if got := mustOK(t, h.ask(pid, getHoldCmd("room", id))).GetHold(); got.GetStatus() != "held" {
			t.Fatalf("hold %s after re-activation: %v", id, got)
		}
	}
	if b := mustOK(t, h.ask(pid, getResourceCmd("room"))).GetResource().GetBuckets()["a"]; b.GetHeld() != 5 {
		t.Fatalf("bucket after re-activation: %v", b)
	}
}

// TestPassivation: the idle timeout stops an actor with nothing to do, never one with work
// in flight.
func TestPassivation(t *testing.T) {
	store := MustMemstore(t)
	h := newHarness(t, store)
	pid := h.spawn("room")
	h.create(pid, "room", map[string]int64{"a": 10})
	stopped := h.watch(pid)
	g := newGate()
	store.SetCommitHook(g.commitHook)
	g.arm(1)
	f := h.send(pid, holdCmd("room", "", "u", 1, "a"))
	g.waitEntered(t)
	h.sys.Root.Send(pid, &actor.ReceiveTimeout{}) // as if idle: but a batch is in flight
	if p := h.probe(pid, false); p.inflight != 1 {
		t.Fatalf("inflight %d", p.inflight)
	}
	g.release <- nil
	id := mustOK(t, h.await(f)).GetHold().GetId()
	h.sys.Root.Send(pid, &actor.ReceiveTimeout{})
	waitClosed(t, stopped, "passivation")

	pid = h.spawn("room")
	mustOK(t, h.ask(pid, getHoldCmd("room", id)))
}

// TestIdleTimeout: the real idle timer passivates.
func TestIdleTimeout(t *testing.T) {
	h := newHarness(t, MustMemstore(t))
	h.cfg.IdleTimeout = 20 * time.Millisecond
	pid := h.spawn("room")
	stopped := h.watch(pid)
	h.create(pid, "room", map[string]int64{"a": 10})
	waitClosed(t, stopped, "passivation")
}

// TestCommandsBehindStopAnswered: commands that queue behind a stop are answered unavailable
// (or dead-lettered), not left to time out.
func TestCommandsBehindStopAnswered(t *testing.T) {
	store := MustMemstore(t)
	h := newHarness(t, store)
	pid := h.spawn("room")
	h.create(pid, "room", map[string]int64{"a": 10})
	g := newGate()
	store.SetCommitHook(g.commitHook)
	g.arm(1)
	first := h.send(pid, holdCmd("room", "", "u", 1, "a"))
	g.waitEntered(t)
	stopped := h.sys.Root.PoisonFuture(pid)
	var late []*actor.Future
	for range 5 {
		late = append(late, h.sys.Root.RequestFuture(pid, holdCmd("room", "", "u", 1, "a"), 5*time.Second))
	}
	g.release <- nil
	mustOK(t, h.await(first))
	if err := stopped.Wait(); err != nil {
		t.Fatal(err)
	}
	for _, f := range late {
		res, err := f.Result()
		switch {
		case errors.Is(err, actor.ErrDeadLetter):
		case err != nil:
			t.Fatalf("late command: %v", err)
		default:
			mustCode(t, res.(*protos.Reply), booking.CodeUnavailable)
		}
	}
	if got := len(storedHolds(t, store, "room")); got != 1 {
		t.Fatalf("store has %d holds, want 1", got)
	}
}

// TestFlushNotStarvedByReads: a pending write is committed after at most MaxBatch commands
// even while more commands keep the mailbox non-empty.
func TestFlushNotStarvedByReads(t *testing.T) {
	store := MustMemstore(t)
	h := newHarness(t, store)
	h.cfg.MaxBatch = 8
	pid := h.spawn("room")
	h.create(pid, "room", map[string]int64{"a": 10})
	g := newGate()
	store.SetCommitHook(g.commitHook)
	g.arm(1)

	// Stall the actor (a probe answered on an unbuffered channel) while a write and many
	// reads queue behind it, with a second stall halfway through the reads.
	stall := &probe{reply: make(chan probeResult)}
	halfway := &probe{reply: make(chan probeResult)}
	h.sys.Root.Send(pid, stall)
	write := h.send(pid, holdCmd("room", "", "u", 1, "a"))
	var reads []*actor.Future
	for i := range 100 {
		if i == 50 {
			h.sys.Root.Send(pid, halfway)
		}
		reads = append(reads, h.send(pid, getResourceCmd("room")))
	}
	<-stall.reply
	// The write's commit must reach the store before the actor reaches the halfway stall.
	g.waitEntered(t)
	<-halfway.reply
	g.release <- nil
	mustOK(t, h.await(write))
	for _, f := range reads {
		mustOK(t, h.await(f))
	}
}
