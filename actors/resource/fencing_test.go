package resource

import (
	"context"
	"testing"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/protos"
)

// TestFencing: two activations of one resource on one store. The first one's write after the
// second activated is refused; its in-flight and pending commands get unavailable; it stops;
// the store shows only what the second wrote since.
func TestFencing(t *testing.T) {
	store := MustMemstore(t)
	h := newHarness(t, store)
	g := newGate()
	store.SetCommitHook(g.commitHook)

	first := h.spawn("room")
	h.create(first, "room", map[string]int64{"a": 10})
	before := mustOK(t, h.ask(first, holdCmd("room", "", "u0", 1, "a"))).GetHold().GetId()
	stopped := h.watch(first)

	// The first activation's next batch is held at the store while two more commands queue.
	g.arm(1)
	inflight := h.send(first, holdCmd("room", "", "u1", 1, "a"))
	g.waitEntered(t)
	pending := []*actor.Future{
		h.send(first, holdCmd("room", "", "u2", 1, "a")),
		h.send(first, holdCmd("room", "k", "u3", 1, "a")),
	}
	if p := h.probe(first, false); p.inflight != 1 || p.pending != 2 {
		t.Fatalf("first: inflight %d pending %d, want 1 and 2", p.inflight, p.pending)
	}

	second := h.spawn("room")
	if b := mustOK(t, h.ask(second, getResourceCmd("room"))).GetResource().GetBuckets()["a"]; b.GetHeld() != 1 {
		t.Fatalf("second sees %v, want the hold acknowledged before it", b)
	}
	g.release <- nil // the store now checks the first one's stale epoch
	mustCode(t, h.await(inflight), booking.CodeUnavailable)
	for _, p := range pending {
		mustCode(t, h.await(p), booking.CodeUnavailable)
	}
	waitClosed(t, stopped, "the fenced actor to stop")
	if v := counter(t, h.reg, "allot_fenced_total"); v != 1 {
		t.Fatalf("fenced_total = %v", v)
	}

	after := mustOK(t, h.ask(second, holdCmd("room", "k", "u3", 1, "a"))).GetHold().GetId()
	stored := storedHolds(t, store, "room")
	if len(stored) != 2 || stored[before].ID == "" || stored[after].ID == "" {
		t.Fatalf("store holds = %v, want only %s and %s", stored, before, after)
	}
	if b := mustOK(t, h.ask(second, getResourceCmd("room"))).GetResource().GetBuckets()["a"]; b.GetHeld() != 2 {
		t.Fatalf("second: bucket %v", b)
	}
	if _, err := store.GetHold(context.Background(), "room", after); err != nil {
		t.Fatal(err)
	}
	h.stop(second)
	checkStoreConsistent(t, store, "room")
}

// TestFencedCreation: two activations both see no resource and both create it; the loser is
// fenced.
func TestFencedCreation(t *testing.T) {
	store := MustMemstore(t)
	h := newHarness(t, store)
	first, second := h.spawn("room"), h.spawn("room")
	mustCode(t, h.ask(first, getResourceCmd("room")), booking.CodeNotFound)
	mustCode(t, h.ask(second, getResourceCmd("room")), booking.CodeNotFound)
	stopped := h.watch(second)
	h.create(first, "room", map[string]int64{"a": 1})
	mustCode(t, h.ask(second, createCmd("room", 0, map[string]int64{"a": 5})), booking.CodeUnavailable)
	waitClosed(t, stopped, "the fenced actor to stop")
	snap, err := store.Activate(context.Background(), "room", base)
	if err != nil || snap.Buckets[0].Capacity != 1 {
		t.Fatalf("store: %+v %v", snap, err)
	}
}

// TestStaleActivationCatchesUp: a stale activation that has nothing to commit must not answer
// "retry" forever for a hold written by a newer activation. The first confirm reaches it and
// finds the store ahead (503); it reloads by itself (fencing the newer one), and the retry
// succeeds against what the store holds.
func TestStaleActivationCatchesUp(t *testing.T) {
	store := MustMemstore(t)
	h := newHarness(t, store)
	stale := h.spawn("room")
	h.create(stale, "room", map[string]int64{"a": 10})
	mustOK(t, h.ask(stale, getResourceCmd("room")))

	fresh := h.spawn("room")
	id := mustOK(t, h.ask(fresh, holdCmd("room", "k1", "u1", 2, "a"))).GetHold().GetId()

	mustCode(t, h.ask(stale, confirmCmd("room", id)), booking.CodeUnavailable)
	var rep *protos.Reply
	for i := 0; i < 100; i++ { // the reload is asynchronous; a client retries
		if rep = h.ask(stale, confirmCmd("room", id)); code(rep) != booking.CodeUnavailable {
			break
		}
		h.probe(stale, true)
	}
	if got := mustOK(t, rep).GetHold().GetStatus(); got != string(booking.StatusConfirmed) {
		t.Fatalf("status after catching up = %q", got)
	}
	if b := mustOK(t, h.ask(stale, getResourceCmd("room"))).GetResource().GetBuckets()["a"]; b.GetConfirmed() != 2 || b.GetHeld() != 0 {
		t.Fatalf("bucket after catching up = %v", b)
	}
	checkStoreConsistent(t, store, "room")
}
