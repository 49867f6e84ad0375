package resource

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

// leaseLog records the lease ends a store was asked to keep, by commits and renewals.
type leaseLog struct {
	mu     sync.Mutex
	ends   []time.Time
	renews int
}

func (l *leaseLog) commit(_ context.Context, b *persistence.Batch) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ends = append(l.ends, b.LeaseUntil)
	return nil
}

func (l *leaseLog) renew(_ context.Context, _ string, _ uint64, until time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ends = append(l.ends, until)
	l.renews++
	return nil
}

func (l *leaseLog) last() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	var t time.Time
	for _, e := range l.ends {
		if e.After(t) {
			t = e
		}
	}
	return t
}

// TestLeaseSuccessorWaits: a second activation fences the first at once (the first can no
// longer write) but answers nothing before the first's lease has ended; meanwhile the first
// still answers reads from memory, which is safe because nobody else can write yet. Once its
// lease lapsed, the first must renew before answering, finds itself fenced, and stops.
func TestLeaseSuccessorWaits(t *testing.T) {
	store := MustMemstore(t)
	log := &leaseLog{}
	store.SetCommitHook(log.commit)
	h := newHarness(t, store)

	first := h.spawn("room")
	h.create(first, "room", map[string]int64{"a": 1})
	mustOK(t, h.ask(first, holdCmd("room", "k1", "u1", 1, "a")))
	if !h.probe(first, false).leased {
		t.Fatal("first is not leased after a commit")
	}
	end := log.last()
	stopped := h.watch(first)

	second := h.spawn("room")
	answer := h.send(second, getResourceCmd("room"))
	// The second activation has taken the epoch (the probe waits for nothing: it is handled
	// after the Started message, while the load is in flight) but has not answered.
	if p := h.probe(second, false); p.loaded {
		t.Fatal("second loaded before the first's lease ended")
	}
	// The first is still leased: its sold-out refusal comes from memory, without the store.
	mustCode(t, h.ask(first, holdCmd("room", "k2", "u2", 1, "a")), booking.CodeSoldOut)

	rep := mustOK(t, h.await(answer))
	if now := time.Now(); now.Before(end) {
		t.Fatalf("second answered at %v, before the first's stored lease end %v", now, end)
	}
	if b := rep.GetResource().GetBuckets()["a"]; b.GetHeld() != 1 {
		t.Fatalf("second reads %v", b)
	}
	if n, _, _ := histogram(t, h.reg, "allot_lease_wait_seconds"); n != 1 {
		t.Fatalf("lease waits observed: %d, want 1", n)
	}

	// The first's lease has lapsed (the second waited for it): a read needs a renewal, which
	// is fenced.
	mustCode(t, h.ask(first, getResourceCmd("room")), booking.CodeUnavailable)
	waitClosed(t, stopped, "the fenced first activation to stop")
	if v := counter(t, h.reg, "allot_fenced_total"); v != 1 {
		t.Fatalf("fenced_total = %v", v)
	}
}

// TestLeaseReleasedOnStop: a graceful stop (passivation, rebalance, node leave) ends the
// lease, so the successor does not wait.
func TestLeaseReleasedOnStop(t *testing.T) {
	store := MustMemstore(t)
	h := newHarness(t, store)
	h.cfg.Lease = time.Hour // a wait would hang the test
	first := h.spawn("room")
	h.create(first, "room", map[string]int64{"a": 3})
	mustOK(t, h.ask(first, holdCmd("room", "k1", "u1", 1, "a")))
	h.stop(first)

	snap, err := store.Activate(context.Background(), "room", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if !snap.LeaseUntil.IsZero() {
		t.Fatalf("stored lease after a graceful stop: %v", snap.LeaseUntil)
	}
	second := h.spawn("room")
	if b := mustOK(t, h.ask(second, getResourceCmd("room"))).GetResource().GetBuckets()["a"]; b.GetHeld() != 1 {
		t.Fatalf("second reads %v", b)
	}
	if n, _, _ := histogram(t, h.reg, "allot_lease_wait_seconds"); n != 0 {
		t.Fatalf("lease waits observed: %d, want 0", n)
	}
}

// TestLeaseRenewedForReads: after its lease lapsed, an activation renews it (one store write,
// shared by the reads waiting for it) before answering from memory again; a stream of reads
// keeps it renewed ahead of time.
func TestLeaseRenewedForReads(t *testing.T) {
	store := MustMemstore(t)
	log := &leaseLog{}
	store.SetRenewHook(log.renew)
	h := newHarness(t, store)
	h.cfg.Lease, h.cfg.MaxClockOffset = 50*time.Millisecond, 10*time.Millisecond
	pid := h.spawn("room")
	h.create(pid, "room", map[string]int64{"a": 1})
	mustOK(t, h.ask(pid, holdCmd("room", "k1", "u1", 1, "a")))

	// The protocol runs on real time: let the 50ms lease lapse.
	time.Sleep(h.cfg.Lease)
	if h.probe(pid, false).leased {
		t.Fatal("still leased after the lease ran out")
	}
	mustCode(t, h.ask(pid, holdCmd("room", "k2", "u2", 1, "a")), booking.CodeSoldOut)
	if log.renews != 1 {
		t.Fatalf("renewals %d, want 1", log.renews)
	}
	if !h.probe(pid, false).leased {
		t.Fatal("not leased after the renewal")
	}
	// A replay of an acknowledged hold is an acknowledgement too: under the lease only.
	rep := mustOK(t, h.ask(pid, holdCmd("room", "k1", "u1", 1, "a")))
	if !rep.GetReplayed() || rep.GetStale() {
		t.Fatalf("replay %v", rep)
	}
	// Reads for twice the lease: renewed ahead of time, never lapsed in between.
	deadline := time.Now().Add(2 * h.cfg.Lease)
	for time.Now().Before(deadline) {
		mustOK(t, h.ask(pid, getResourceCmd("room")))
	}
	if log.renews < 2 {
		t.Fatalf("renewals %d after reads for twice the lease, want ahead-of-time renewals", log.renews)
	}
	if v := counter(t, h.reg, "allot_lease_renewals_total"); v != float64(log.renews) {
		t.Fatalf("renewals metric %v, store saw %d", v, log.renews)
	}
}

// TestStaleAnswersWhileStoreDown: with the lease lapsed and the store failing, reads and
// sold-out refusals are still served from memory but marked stale; a replayed hold or a
// repeated confirm, which a client acts on, is unavailable instead.
func TestStaleAnswersWhileStoreDown(t *testing.T) {
	store := MustMemstore(t)
	h := newHarness(t, store)
	h.cfg.Lease, h.cfg.MaxClockOffset = 50*time.Millisecond, 10*time.Millisecond
	pid := h.spawn("room")
	h.create(pid, "room", map[string]int64{"a": 1})
	id := mustOK(t, h.ask(pid, holdCmd("room", "k1", "u1", 1, "a"))).GetHold().GetId()
	mustOK(t, h.ask(pid, confirmCmd("room", id)))

	down := func(context.Context, string, uint64, time.Time) error { return errInjected }
	store.SetRenewHook(down)
	store.SetCommitHook(func(context.Context, *persistence.Batch) error { return errInjected })
	time.Sleep(h.cfg.Lease) // real time: let the lease lapse

	rep := mustOK(t, h.ask(pid, getResourceCmd("room")))
	if !rep.GetStale() || rep.GetResource().GetBuckets()["a"].GetConfirmed() != 1 {
		t.Fatalf("read while the store is down: %v", rep)
	}
	if rep := h.ask(pid, holdCmd("room", "k2", "u2", 1, "a")); code(rep) != booking.CodeSoldOut || !rep.GetStale() {
		t.Fatalf("refusal while the store is down: %v", rep)
	}
	if rep := h.ask(pid, getHoldCmd("room", id)); rep.GetHold().GetStatus() != string(booking.StatusConfirmed) || !rep.GetStale() {
		t.Fatalf("hold read while the store is down: %v", rep)
	}
	mustCode(t, h.ask(pid, confirmCmd("room", id)), booking.CodeUnavailable)
	mustCode(t, h.ask(pid, holdCmd("room", "k1", "u1", 1, "a")), booking.CodeUnavailable)
	if v := counter(t, h.reg, "allot_stale_answers_total"); v != 3 {
		t.Fatalf("stale answers %v, want 3", v)
	}

	// The store is back: the next answers are current again.
	store.SetRenewHook(nil)
	store.SetCommitHook(nil)
	var last bool
	for range 200 { // the actor backs off for at most MaxReloadBackoff after the failures
		rep := h.ask(pid, getResourceCmd("room"))
		if last = rep.GetStale(); !last {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if last {
		t.Fatal("answers still stale after the store came back")
	}
	if rep := mustOK(t, h.ask(pid, confirmCmd("room", id))); rep.GetStale() {
		t.Fatalf("repeated confirm %v", rep)
	}
}
