package resource

import (
	"context"
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

// TestLazyExpiry: once the clock passes the TTL, the next command expires the holds before it
// is decided, frees their capacity and persists the expiries.
func TestLazyExpiry(t *testing.T) {
	store := MustMemstore(t)
	h := newHarness(t, store)
	pid := h.spawn("room")
	mustOK(t, h.ask(pid, createCmd("room", time.Minute, map[string]int64{"a": 2})))
	a := mustOK(t, h.ask(pid, holdCmd("room", "", "u", 1, "a"))).GetHold().GetId()
	b := mustOK(t, h.ask(pid, holdCmd("room", "", "u", 1, "a"))).GetHold().GetId()
	mustCode(t, h.ask(pid, holdCmd("room", "", "u", 1, "a")), booking.CodeSoldOut)

	// A second before the deadline, not a millisecond: Advance fires the activation's idle
	// check (due at 10 s), which re-arms its wake-up for the hold deadline, and the fake clock
	// fires a timer in real time after its duration too (clock_test.go), moving the clock to the
	// deadline. A millisecond lost that race under load; a second is longer than these asks.
	h.clock.Advance(time.Minute - time.Second)
	mustCode(t, h.ask(pid, holdCmd("room", "", "u", 1, "a")), booking.CodeSoldOut)
	mustOK(t, h.ask(pid, confirmCmd("room", a))) // still in time

	h.clock.Advance(time.Second) // b's deadline: it expires now
	mustOK(t, h.ask(pid, holdCmd("room", "", "u", 1, "a")))
	mustCode(t, h.ask(pid, confirmCmd("room", b)), booking.CodeConflict)
	mustCode(t, h.ask(pid, holdCmd("room", "", "u", 1, "a")), booking.CodeSoldOut)

	stored := storedHolds(t, store, "room")
	if stored[a].Status != booking.StatusConfirmed || stored[b].Status != booking.StatusExpired {
		t.Fatalf("stored: a %s, b %s", stored[a].Status, stored[b].Status)
	}
	if !stored[b].UpdatedAt.Equal(base.Add(time.Minute)) {
		t.Fatalf("expired at %v", stored[b].UpdatedAt)
	}
	if v := counter(t, h.reg, "allot_expiries_total"); v != 1 {
		t.Fatalf("expiries_total = %v", v)
	}
	h.stop(pid)
	checkStoreConsistent(t, store, "room")
}

// TestExpiryTimer: the actor arms a timer for the next deadline; its tick expires due holds
// through a normal commit, without any command.
func TestExpiryTimer(t *testing.T) {
	store := MustMemstore(t)
	h := newHarness(t, store)
	pid := h.spawn("room")
	mustOK(t, h.ask(pid, createCmd("room", time.Minute, map[string]int64{"a": 1})))
	hold := mustOK(t, h.ask(pid, holdCmd("room", "", "u", 1, "a"))).GetHold()
	if p := h.probe(pid, true); p.expiryAt.UnixMilli() != hold.GetExpiresAtMs() {
		t.Fatalf("timer armed for %v, want the hold's deadline", p.expiryAt)
	}

	h.sys.Root.Send(pid, &expiryTick{}) // too early: nothing happens
	if p := h.probe(pid, true); p.version != 2 {
		t.Fatalf("version %d after an early tick, want 2", p.version)
	}
	h.clock.Advance(time.Minute)
	h.sys.Root.Send(pid, &expiryTick{})
	p := h.probe(pid, true)
	if p.version != 3 || !p.expiryAt.IsZero() {
		t.Fatalf("after the tick: version %d, timer %v; want 3 and disarmed", p.version, p.expiryAt)
	}
	if b := mustOK(t, h.ask(pid, getResourceCmd("room"))).GetResource().GetBuckets()["a"]; b.GetHeld() != 0 {
		t.Fatalf("bucket after expiry: %v", b)
	}
	got, err := store.GetHold(context.Background(), "room", hold.GetId())
	if err != nil || got.Status != booking.StatusExpired {
		t.Fatalf("stored hold %+v, %v", got, err)
	}
}

// TestExpiryTimerFires: the real timer, armed from the injected clock, wakes the actor (a
// one-second wait: the shortest TTL).
func TestExpiryTimerFires(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a one-second timer")
	}
	store := MustMemstore(t)
	h := newHarness(t, store)
	pid := h.spawn("room")
	mustOK(t, h.ask(pid, createCmd("room", booking.MinHoldTTL, map[string]int64{"a": 1})))
	expired := make(chan struct{})
	store.SetCommitHook(func(_ context.Context, b *persistence.Batch) error {
		for _, hd := range b.Holds {
			if hd.Status == booking.StatusExpired {
				close(expired)
			}
		}
		return nil
	})
	mustOK(t, h.ask(pid, holdCmd("room", "", "u", 1, "a")))
	h.clock.Advance(booking.MinHoldTTL) // due by the injected clock; the timer wakes the actor
	waitClosed(t, expired, "the expiry timer")
}

// TestIdempotencyPruned: keys older than the retention are forgotten, in memory as in the
// snapshot a new activation loads.
func TestIdempotencyPruned(t *testing.T) {
	h := newHarness(t, MustMemstore(t))
	pid := h.spawn("room")
	h.create(pid, "room", map[string]int64{"a": 5})
	first := mustOK(t, h.ask(pid, holdCmd("room", "k", "u", 1, "a"))).GetHold().GetId()
	h.clock.Advance(booking.IdempotencyRetention - time.Millisecond)
	if r := mustOK(t, h.ask(pid, holdCmd("room", "k", "u", 1, "a"))); r.GetHold().GetId() != first {
		t.Fatalf("replay within the retention = %v", r)
	}
	h.clock.Advance(pruneEvery + time.Millisecond)
	r := mustOK(t, h.ask(pid, holdCmd("room", "k", "u", 1, "a")))
	if r.GetReplayed() || r.GetHold().GetId() == first {
		t.Fatalf("after the retention: %v, want a new hold", r)
	}
}
