package resource

import (
	"context"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/cluster"

	"github.com/allot/allot/actors/booking"
)

func TestLifecycleOfAHold(t *testing.T) {
	h := newHarness(t, MustMemstore(t))
	pid := h.spawn("room")
	mustCode(t, h.ask(pid, getResourceCmd("room")), booking.CodeNotFound)
	mustCode(t, h.ask(pid, holdCmd("room", "", "u1", 1, "a")), booking.CodeNotFound)

	created := mustOK(t, h.ask(pid, createCmd("room", time.Minute, map[string]int64{"a": 2, "b": 2})))
	if r := created.GetResource(); r.GetVersion() != 1 || r.GetBuckets()["a"].GetCapacity() != 2 || r.GetHoldTtlMs() != 60_000 {
		t.Fatalf("create reply = %v", created)
	}
	if created.GetOwner() != "test-node" {
		t.Fatalf("owner = %q", created.GetOwner())
	}
	mustCode(t, h.ask(pid, createCmd("room", 0, map[string]int64{"a": 1})), booking.CodeAlreadyExists)

	placed := mustOK(t, h.ask(pid, holdCmd("room", "", "u1", 2, "a", "b"))).GetHold()
	if placed.GetStatus() != "held" || placed.GetExpiresAtMs() != base.UnixMilli()+60_000 || placed.GetResourceId() != "room" {
		t.Fatalf("placed = %v", placed)
	}
	mustCode(t, h.ask(pid, holdCmd("room", "", "u2", 1, "a")), booking.CodeSoldOut)

	res := mustOK(t, h.ask(pid, getResourceCmd("room"))).GetResource()
	if res.GetVersion() != 2 || res.GetBuckets()["a"].GetHeld() != 2 || res.GetBuckets()["b"].GetHeld() != 2 {
		t.Fatalf("resource after hold = %v", res)
	}
	if got := mustOK(t, h.ask(pid, getHoldCmd("room", placed.GetId()))).GetHold(); got.GetStatus() != "held" {
		t.Fatalf("get hold = %v", got)
	}
	if got := mustOK(t, h.ask(pid, confirmCmd("room", placed.GetId()))).GetHold(); got.GetStatus() != "confirmed" {
		t.Fatalf("confirm = %v", got)
	}
	if got := mustOK(t, h.ask(pid, confirmCmd("room", placed.GetId()))).GetHold(); got.GetStatus() != "confirmed" {
		t.Fatalf("confirm again = %v", got)
	}
	if got := mustOK(t, h.ask(pid, cancelCmd("room", placed.GetId()))).GetHold(); got.GetStatus() != "cancelled" {
		t.Fatalf("cancel = %v", got)
	}
	mustCode(t, h.ask(pid, confirmCmd("room", placed.GetId())), booking.CodeConflict)
	mustCode(t, h.ask(pid, getHoldCmd("room", "h_unknown")), booking.CodeNotFound)
	mustCode(t, h.ask(pid, cancelCmd("room", "h_unknown")), booking.CodeNotFound)
	mustCode(t, h.ask(pid, getHoldCmd("room", "bad/id")), booking.CodeNotFound)
	mustCode(t, h.ask(pid, getResourceCmd("other")), booking.CodeMalformed)

	stored, err := h.store.GetHold(context.Background(), "room", placed.GetId())
	if err != nil || stored.Status != booking.StatusCancelled {
		t.Fatalf("stored hold = %+v, %v", stored, err)
	}
	h.stop(pid)
	snap := checkStoreConsistent(t, h.store, "room")
	if snap.Version != 4 {
		t.Fatalf("store version = %d, want 4 (create, hold, confirm, cancel)", snap.Version)
	}
	if v := counter(t, h.reg, "allot_holds_total"); v != 1 {
		t.Fatalf("holds_total = %v", v)
	}
	if v := counter(t, h.reg, "allot_rejections_total"); v != 9 {
		t.Fatalf("rejections_total = %v, want 9", v)
	}
}

// TestTerminalHoldFromStore: holds that ended before this activation are not in memory; the
// actor asks the store and answers as the model would.
func TestTerminalHoldFromStore(t *testing.T) {
	h := newHarness(t, MustMemstore(t))
	pid := h.spawn("room")
	h.create(pid, "room", map[string]int64{"a": 5})
	cancelled := mustOK(t, h.ask(pid, holdCmd("room", "", "u", 1, "a"))).GetHold().GetId()
	mustOK(t, h.ask(pid, cancelCmd("room", cancelled)))
	expired := mustOK(t, h.ask(pid, holdCmd("room", "", "u", 1, "a"))).GetHold().GetId()
	h.clock.Advance(booking.DefaultHoldTTL)
	mustOK(t, h.ask(pid, holdCmd("room", "", "u", 1, "a"))) // expires the second on the way
	h.stop(pid)

	pid = h.spawn("room")
	if got := mustOK(t, h.ask(pid, getHoldCmd("room", cancelled))).GetHold(); got.GetStatus() != "cancelled" {
		t.Fatalf("get cancelled = %v", got)
	}
	if got := mustOK(t, h.ask(pid, cancelCmd("room", cancelled))).GetHold(); got.GetStatus() != "cancelled" {
		t.Fatalf("cancel cancelled = %v", got)
	}
	mustCode(t, h.ask(pid, confirmCmd("room", cancelled)), booking.CodeConflict)
	if got := mustOK(t, h.ask(pid, getHoldCmd("room", expired))).GetHold(); got.GetStatus() != "expired" {
		t.Fatalf("get expired = %v", got)
	}
	mustCode(t, h.ask(pid, confirmCmd("room", expired)), booking.CodeConflict)
	mustCode(t, h.ask(pid, cancelCmd("room", expired)), booking.CodeConflict)
}

func TestDeadlinePassed(t *testing.T) {
	h := newHarness(t, MustMemstore(t))
	pid := h.spawn("room")
	h.create(pid, "room", map[string]int64{"a": 5})
	cmd := holdCmd("room", "", "u", 1, "a")
	cmd.DeadlineUnixMs = base.UnixMilli() - 1
	mustCode(t, h.ask(pid, cmd), booking.CodeUnavailable)
	cmd.DeadlineUnixMs = base.UnixMilli() + 1000
	mustOK(t, h.ask(pid, cmd))
	if got := len(storedHolds(t, h.store, "room")); got != 1 {
		t.Fatalf("%d holds stored, want 1", got)
	}
}

// TestClusterIdentity: a cluster-spawned actor learns its resource id from its identity.
func TestClusterIdentity(t *testing.T) {
	h := newHarness(t, MustMemstore(t))
	if k := Kind(h.cfg); k.Kind != KindName {
		t.Fatalf("kind = %q", k.Kind)
	}
	props := cluster.WithClusterIdentity(Props(h.cfg), cluster.NewClusterIdentity("room-7", KindName))
	pid := h.sys.Root.Spawn(props)
	t.Cleanup(func() { _ = h.sys.Root.PoisonFuture(pid).Wait() })
	mustOK(t, h.ask(pid, createCmd("room-7", 0, map[string]int64{"a": 1})))
	if got := mustOK(t, h.ask(pid, getResourceCmd("room-7"))).GetResource().GetId(); got != "room-7" {
		t.Fatalf("resource id = %q", got)
	}
}

// TestNoIdentity: an actor without a resource id answers unavailable and stops.
func TestNoIdentity(t *testing.T) {
	h := newHarness(t, MustMemstore(t))
	pid := h.sys.Root.Spawn(Props(h.cfg))
	done := h.watch(pid)
	rep, err := h.tryAsk(pid, getResourceCmd("x"))
	if err == nil {
		mustCode(t, rep, booking.CodeUnavailable)
	}
	waitClosed(t, done, "the actor to stop")
}
