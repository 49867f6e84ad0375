package resource

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

// leaseHarness is a harness with 4s leases whose waits for a lease are announced by the clock.
func leaseHarness(t *testing.T, store persistence.Store) (*harness, *fakeClock) {
	h := newHarness(t, store)
	h.cfg.Lease, h.cfg.MaxClockOffset = 4*time.Second, 500*time.Millisecond
	h.clock.signal = h.cfg.Lease // a wait for a lease is never longer
	return h, h.clock
}

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

func (l *leaseLog) renewals() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.renews
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
// still answers from memory, which is safe because nobody else can write yet. Once its lease
// lapsed, the first must renew before answering, finds itself fenced, and stops.
//
// The store here hides the hand-over (TestLeaseHandedOver has it): the first, fenced at its
// renewal below, cannot hand its lease over, so the second waits for the stored end.
func TestLeaseSuccessorWaits(t *testing.T) {
	store := MustMemstore(t)
	log := &leaseLog{}
	store.SetCommitHook(log.commit)
	h, clock := leaseHarness(t, struct{ persistence.Store }{store})

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
	clock.awaitWaiter(t, "the second activation waits for the first's lease")
	if p := h.probe(second, false); p.loaded {
		t.Fatal("second loaded before the first's lease ended")
	}
	// The first is still leased: its sold-out refusal comes from memory, without the store.
	clock.Advance(3 * time.Second)
	mustCode(t, h.ask(first, holdCmd("room", "k2", "u2", 1, "a")), booking.CodeSoldOut)
	if p := h.probe(second, false); p.loaded {
		t.Fatal("second loaded before the first's lease ended")
	}

	clock.Advance(time.Second) // the first's stored lease end
	rep := mustOK(t, h.await(answer))
	if now := clock.Now(); now.Before(end) {
		t.Fatalf("second answered at %v, before the first's stored lease end %v", now, end)
	}
	if b := rep.GetResource().GetBuckets()["a"]; b.GetHeld() != 1 {
		t.Fatalf("second reads %v", b)
	}
	if n, sum, _ := histogram(t, h.reg, "allot_lease_wait_seconds"); n != 1 || sum != 4 {
		t.Fatalf("lease waits observed: %d, %vs in all; want one of 4s", n, sum)
	}

	// The sold-out answer above, with the first's lease half gone, renewed it ahead of time;
	// the renewal was fenced and the first stopped, answering nothing more from memory.
	waitClosed(t, stopped, "the fenced first activation to stop")
	if v := counter(t, h.reg, "allot_fenced_total"); v != 1 {
		t.Fatalf("fenced_total = %v", v)
	}
}

// TestReloadWaitsForSuccessorLease is the regression test of the hole in the first version
// of leases (docs/RELIABILITY.md, finding 1): an activation whose write failed without a
// known outcome reloads, fencing whoever took over meanwhile; it must wait for that
// successor's lease even when the lease end it had asked for with the failed write is later
// than the successor's. Only lease ends of writes known to have applied are its own.
func TestReloadWaitsForSuccessorLease(t *testing.T) {
	store := MustMemstore(t)
	h, clock := leaseHarness(t, store)
	first := h.spawn("room")
	h.create(first, "room", map[string]int64{"a": 5}) // lease end base+4s, the first's own

	// A successor takes over: it waits for the first's lease, then renews its own to
	// base+8s by answering a read.
	second := h.spawn("room")
	read := h.send(second, getResourceCmd("room"))
	clock.awaitWaiter(t, "the second activation waits for the first's lease")
	clock.Advance(4 * time.Second)
	mustOK(t, h.await(read))
	if !h.probe(second, false).leased {
		t.Fatal("second is not leased after its renewal")
	}

	// The first, unaware, writes with lease end base+8.5s; the write fails with an unknown
	// outcome (it never applied), so the first reloads.
	clock.Advance(500 * time.Millisecond)
	store.SetCommitHook(func(context.Context, *persistence.Batch) error { return errInjected })
	mustCode(t, h.ask(first, holdCmd("room", "k1", "u1", 1, "a")), booking.CodeUnavailable)
	store.SetCommitHook(nil)
	clock.awaitWaiter(t, "the reloading first activation waits for the second's lease")
	// While the first waits, the second is still leased and answers from memory.
	mustOK(t, h.ask(second, getResourceCmd("room")))
	if p := h.probe(first, false); p.epoch != 1 {
		t.Fatalf("first installed epoch %d before the second's lease ended", p.epoch)
	}
	clock.Advance(4 * time.Second)
	if p := h.probe(first, true); p.epoch != 3 || p.uncertain {
		t.Fatalf("first after its reload: epoch %d uncertain %v, want epoch 3", p.epoch, p.uncertain)
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
	h, clock := leaseHarness(t, store)
	pid := h.spawn("room")
	h.create(pid, "room", map[string]int64{"a": 1})
	mustOK(t, h.ask(pid, holdCmd("room", "k1", "u1", 1, "a")))

	clock.Advance(h.cfg.Lease)
	if h.probe(pid, false).leased {
		t.Fatal("still leased after the lease ran out")
	}
	mustCode(t, h.ask(pid, holdCmd("room", "k2", "u2", 1, "a")), booking.CodeSoldOut)
	if n := log.renewals(); n != 1 {
		t.Fatalf("renewals %d, want 1", n)
	}
	if !h.probe(pid, false).leased {
		t.Fatal("not leased after the renewal")
	}
	// A replay of an acknowledged hold is an acknowledgement too: under the lease only.
	rep := mustOK(t, h.ask(pid, holdCmd("room", "k1", "u1", 1, "a")))
	if !rep.GetReplayed() || rep.GetStale() {
		t.Fatalf("replay %v", rep)
	}
	// Reads every second for three leases: renewed ahead of time, never lapsed.
	for range 12 {
		clock.Advance(time.Second)
		if !h.probe(pid, true).leased {
			t.Fatal("the lease lapsed under a stream of reads")
		}
		mustOK(t, h.ask(pid, getResourceCmd("room")))
	}
	if n := log.renewals(); n < 5 {
		t.Fatalf("renewals %d after reads for three leases, want ahead-of-time renewals", n)
	}
	h.probe(pid, true)
	if v := counter(t, h.reg, "allot_lease_renewals_total"); v != float64(log.renewals()) {
		t.Fatalf("renewals metric %v, store saw %d", v, log.renewals())
	}
}

// TestStaleAnswersWhileStoreDown: with the lease lapsed and the store failing, reads and
// sold-out refusals are still served from memory but marked stale; a replayed hold or a
// repeated confirm, which a client acts on, is unavailable instead.
func TestStaleAnswersWhileStoreDown(t *testing.T) {
	store := MustMemstore(t)
	h, clock := leaseHarness(t, store)
	h.cfg.MinReloadBackoff, h.cfg.MaxReloadBackoff = time.Millisecond, 2*time.Millisecond
	pid := h.spawn("room")
	h.create(pid, "room", map[string]int64{"a": 1})
	id := mustOK(t, h.ask(pid, holdCmd("room", "k1", "u1", 1, "a"))).GetHold().GetId()
	mustOK(t, h.ask(pid, confirmCmd("room", id)))

	down := func(context.Context, string, uint64, time.Time) error { return errInjected }
	store.SetRenewHook(down)
	store.SetCommitHook(func(context.Context, *persistence.Batch) error { return errInjected })
	clock.Advance(h.cfg.Lease)

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
	// After the failures the actor backs off on real time, for MaxReloadBackoff (2ms) at most.
	for range 1000 {
		rep := h.ask(pid, getResourceCmd("room"))
		if last = rep.GetStale(); !last {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if last {
		t.Fatal("answers still stale after the store came back")
	}
	if rep := mustOK(t, h.ask(pid, confirmCmd("room", id))); rep.GetStale() {
		t.Fatalf("repeated confirm %v", rep)
	}
}

// TestLeaseHandedOver: a second activation fences the first and waits for its lease; the
// first, still leased, learns it was fenced at its next write, stops answering from memory
// and hands its lease over, and the second, reading the stored lease while it waits, answers
// long before the first's stored lease end (activation/handover.go).
func TestLeaseHandedOver(t *testing.T) {
	store := MustMemstore(t)
	log := &leaseLog{}
	store.SetCommitHook(log.commit)
	h, clock := leaseHarness(t, store)

	first := h.spawn("room")
	h.create(first, "room", map[string]int64{"a": 5})
	mustOK(t, h.ask(first, holdCmd("room", "k1", "u1", 1, "a")))
	end := log.last()
	stopped := h.watch(first)

	second := h.spawn("room")
	answer := h.send(second, getResourceCmd("room"))
	clock.awaitWaiter(t, "the second activation waits for the first's lease")
	clock.Advance(500 * time.Millisecond)
	if p := h.probe(second, false); p.loaded {
		t.Fatal("second loaded while the first still held its lease")
	}

	// The first's next hold is fenced: it is answered unavailable, and the first hands over.
	mustCode(t, h.ask(first, holdCmd("room", "k2", "u2", 1, "a")), booking.CodeUnavailable)
	waitClosed(t, stopped, "the fenced first activation to stop")
	// (The stored lease is now none, or already the second's: a read of the second's may have
	// seen the hand-over at once, and its renewal for the read stores its own.)

	// The second's next read of the lease (its reads come at 100 ms, then 200, 400, ... later)
	// finds it ended and installs.
	for i := 0; i < 20 && !h.probe(second, false).loaded; i++ {
		clock.Advance(100 * time.Millisecond)
		time.Sleep(5 * time.Millisecond)
	}
	rep := mustOK(t, h.await(answer))
	if now := clock.Now(); !now.Before(end) {
		t.Fatalf("second answered at %v, not before the first's stored lease end %v", now, end)
	}
	if b := rep.GetResource().GetBuckets()["a"]; b.GetHeld() != 1 {
		t.Fatalf("second reads %v", b)
	}
	if n, sum, _ := histogram(t, h.reg, "allot_lease_wait_seconds"); n != 1 || sum >= 4 {
		t.Fatalf("lease waits observed: %d, %vs in all; want one under 4s", n, sum)
	}
}
