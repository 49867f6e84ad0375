package resource

import (
	"testing"

	"github.com/allot/allot/actors/booking"
)

func TestIdempotentReplay(t *testing.T) {
	store := MustMemstore(t)
	h := newHarness(t, store)
	pid := h.spawn("room")
	h.create(pid, "room", map[string]int64{"a": 5, "b": 5})

	first := mustOK(t, h.ask(pid, holdCmd("room", "key-1", "u", 2, "a", "b")))
	if first.GetReplayed() {
		t.Fatal("first placement marked replayed")
	}
	again := mustOK(t, h.ask(pid, holdCmd("room", "key-1", "u", 2, "b", "a"))) // same request, other order
	if again.GetHold().GetId() != first.GetHold().GetId() || !again.GetReplayed() {
		t.Fatalf("replay = %v, want hold %s replayed", again, first.GetHold().GetId())
	}
	mustCode(t, h.ask(pid, holdCmd("room", "key-1", "u", 3, "a", "b")), booking.CodeIdempotencyMismatch)
	mustCode(t, h.ask(pid, holdCmd("room", "key-1", "other", 2, "a", "b")), booking.CodeIdempotencyMismatch)
	if b := mustOK(t, h.ask(pid, getResourceCmd("room"))).GetResource().GetBuckets()["a"]; b.GetHeld() != 2 {
		t.Fatalf("replays changed capacity: %v", b)
	}

	// Across a restart on the same store, also after the hold moved on.
	mustOK(t, h.ask(pid, confirmCmd("room", first.GetHold().GetId())))
	h.stop(pid)
	pid = h.spawn("room")
	after := mustOK(t, h.ask(pid, holdCmd("room", "key-1", "u", 2, "a", "b")))
	if after.GetHold().GetId() != first.GetHold().GetId() || !after.GetReplayed() || after.GetHold().GetStatus() != "confirmed" {
		t.Fatalf("replay after restart = %v", after)
	}
	mustCode(t, h.ask(pid, holdCmd("room", "key-1", "u", 1, "a")), booking.CodeIdempotencyMismatch)
	if got := len(storedHolds(t, store, "room")); got != 1 {
		t.Fatalf("store has %d holds, want 1", got)
	}
}

// TestReplayWaitsForCommit: a replay of a key whose hold is still in flight is answered only
// once that hold is durable.
func TestReplayWaitsForCommit(t *testing.T) {
	store := MustMemstore(t)
	h := newHarness(t, store)
	pid := h.spawn("room")
	h.create(pid, "room", map[string]int64{"a": 5})
	g := newGate()
	store.SetCommitHook(g.commitHook)

	g.arm(1)
	orig := h.send(pid, holdCmd("room", "k", "u", 1, "a"))
	g.waitEntered(t)
	replay := h.send(pid, holdCmd("room", "k", "u", 1, "a"))
	// A reuse with another request is refused only once the key is durable, too.
	mismatch := h.send(pid, holdCmd("room", "k", "u", 2, "a"))
	if p := h.probe(pid, false); p.inflight != 1 || p.parked != 3 || p.pending != 2 {
		t.Fatalf("inflight %d, parked %d, pending %d: the replay and the mismatch did not wait", p.inflight, p.parked, p.pending)
	}
	g.release <- nil
	o, r := mustOK(t, h.await(orig)), mustOK(t, h.await(replay))
	if o.GetHold().GetId() != r.GetHold().GetId() || o.GetReplayed() || !r.GetReplayed() {
		t.Fatalf("original %v, replay %v", o, r)
	}
	mustCode(t, h.await(mismatch), booking.CodeIdempotencyMismatch)
	if n, _, _ := histogram(t, h.reg, "allot_batch_size"); n != 2 {
		t.Fatalf("%d commits, want 2: the waiting answers need no commit of their own", n)
	}
}

// TestReplayOfFailedPlacement: when the placement's batch fails, a replay queued behind it is
// decided again and places the hold itself.
func TestReplayOfFailedPlacement(t *testing.T) {
	store := MustMemstore(t)
	h := newHarness(t, store)
	pid := h.spawn("room")
	h.create(pid, "room", map[string]int64{"a": 5})
	g := newGate()
	store.SetCommitHook(g.commitHook)
	g.arm(1)
	orig := h.send(pid, holdCmd("room", "k", "u", 1, "a"))
	g.waitEntered(t)
	replay := h.send(pid, holdCmd("room", "k", "u", 1, "a"))
	h.probe(pid, false)
	g.release <- errInjected
	mustCode(t, h.await(orig), booking.CodeUnavailable)
	r := mustOK(t, h.await(replay))
	if r.GetReplayed() {
		t.Fatalf("replay of a failed placement = %v, want a fresh placement", r)
	}
	stored := storedHolds(t, store, "room")
	if _, ok := stored[r.GetHold().GetId()]; !ok || len(stored) != 1 {
		t.Fatalf("store holds %v", stored)
	}
}

// TestReplayOfAnEndedHoldAfterARestart: a hold placed with a key, then cancelled (or
// expired), is a terminal hold the next activation does not load; a retry with the key
// looks it up in the store and answers it, replayed, instead of failing with "vanished".
func TestReplayOfAnEndedHoldAfterARestart(t *testing.T) {
	store := MustSQLite(t)
	h := newHarness(t, store)
	pid := h.spawn("gig")
	h.create(pid, "gig", map[string]int64{"all": 2})
	first := mustOK(t, h.ask(pid, holdCmd("gig", "k1", "u-1", 1, "all"))).GetHold()
	mustOK(t, h.ask(pid, cancelCmd("gig", first.GetId())))
	h.stop(pid)
	pid = h.spawn("gig")
	r := mustOK(t, h.ask(pid, holdCmd("gig", "k1", "u-1", 1, "all")))
	if !r.GetReplayed() || r.GetHold().GetId() != first.GetId() || r.GetHold().GetStatus() != string(booking.StatusCancelled) {
		t.Fatalf("replay after a restart: %v, want hold %s cancelled, replayed", r, first.GetId())
	}
	mustCode(t, h.ask(pid, holdCmd("gig", "k1", "u-1", 2, "all")), booking.CodeIdempotencyMismatch)
	// The replay placed nothing: both units are still free.
	mustOK(t, h.ask(pid, holdCmd("gig", "k2", "u-2", 2, "all")))
}
