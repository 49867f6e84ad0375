package resource

import (
	"testing"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/protos"
)

func joinCmd(id, user string, qty int64, buckets ...string) *protos.Command {
	return &protos.Command{ResourceId: id, Op: &protos.Command_JoinWaitlist{JoinWaitlist: &protos.JoinWaitlist{
		Buckets: buckets, Quantity: qty, UserId: user}}}
}

// TestWaitlistSurvivesReactivation: waiting entries are durable: after the activation stops
// (as on a move to another node) a new one loads them in line order, a cancellation offers the
// seat to the first of them, and the store agrees with memory. The node's waitlist gauge
// follows the active resources' entries.
func TestWaitlistSurvivesReactivation(t *testing.T) {
	store := MustSQLite(t)
	h := newHarness(t, store)
	pid := h.spawn("gig")
	h.create(pid, "gig", map[string]int64{"all": 1})
	held := mustOK(t, h.ask(pid, holdCmd("gig", "", "u-1", 1, "all"))).GetHold()
	w2 := mustOK(t, h.ask(pid, joinCmd("gig", "u-2", 1, "all"))).GetWaitlistEntry()
	w3 := mustOK(t, h.ask(pid, joinCmd("gig", "u-3", 1, "all"))).GetWaitlistEntry()
	if w2.GetPosition() != 1 || w3.GetPosition() != 2 || w2.GetOfferHoldId() == "" || w2.GetId() == w2.GetOfferHoldId() {
		t.Fatalf("entries %v %v", w2, w3)
	}
	mustCode(t, h.ask(pid, joinCmd("gig", "u-2", 1, "all")), booking.CodeConflict)
	waiting := func(want float64) {
		t.Helper()
		if got := counter(t, h.reg, "allot_waitlist_entries"); got != want {
			t.Fatalf("allot_waitlist_entries = %v, want %v", got, want)
		}
	}
	waiting(2)
	h.stop(pid)
	waiting(0) // the entries wait in the store, not on this node

	pid = h.spawn("gig")
	mustOK(t, h.ask(pid, cancelCmd("gig", held.GetId())))
	waiting(1) // loaded two, offered the seat to the first
	offer := mustOK(t, h.ask(pid, getHoldCmd("gig", w2.GetOfferHoldId()))).GetHold()
	if offer.GetStatus() != "held" || offer.GetUserId() != "u-2" || offer.GetWaitlistEntryId() != w2.GetId() {
		t.Fatalf("offer %v", offer)
	}
	mustCode(t, h.ask(pid, getHoldCmd("gig", w3.GetOfferHoldId())), booking.CodeNotFound)
	left := mustOK(t, h.ask(pid, &protos.Command{ResourceId: "gig", Op: &protos.Command_LeaveWaitlist{
		LeaveWaitlist: &protos.LeaveWaitlist{EntryId: w3.GetId(), UserId: "u-3"}}})).GetWaitlistEntry()
	if left.GetId() != w3.GetId() || left.GetPosition() != 0 {
		t.Fatalf("left %v", left)
	}
	waiting(0)
	snap := checkStoreConsistent(t, store, "gig")
	if len(snap.Waitlist) != 0 {
		t.Fatalf("store still has entries %+v", snap.Waitlist)
	}
}

func joinKeyCmd(id, key, user string, qty int64, buckets ...string) *protos.Command {
	cmd := joinCmd(id, user, qty, buckets...)
	cmd.GetJoinWaitlist().IdempotencyKey = key
	return cmd
}

// TestJoinIdempotentReplay: a join's Idempotency-Key is stored with the join; its retry,
// also after a restart on the same store, answers the entry it created (waiting, or offered
// as its hold, also once that hold ended before the restart), or conflict once it left; a
// reuse with another request is refused. Replays never add an entry.
func TestJoinIdempotentReplay(t *testing.T) {
	store := MustSQLite(t)
	h := newHarness(t, store)
	pid := h.spawn("gig")
	h.create(pid, "gig", map[string]int64{"all": 1})
	held := mustOK(t, h.ask(pid, holdCmd("gig", "", "u-1", 1, "all"))).GetHold()
	first := mustOK(t, h.ask(pid, joinKeyCmd("gig", "k2", "u-2", 1, "all")))
	w2 := first.GetWaitlistEntry()
	if first.GetReplayed() || w2.GetPosition() != 1 {
		t.Fatalf("first join %v", first)
	}
	replay := func(what, key, user string, wantPos int64) *protos.WaitlistEntry {
		t.Helper()
		r := mustOK(t, h.ask(pid, joinKeyCmd("gig", key, user, 1, "all")))
		e := r.GetWaitlistEntry()
		if !r.GetReplayed() || e.GetPosition() != wantPos {
			t.Fatalf("%s: %v, want a replay at position %d", what, r, wantPos)
		}
		return e
	}
	if e := replay("waiting", "k2", "u-2", 1); e.GetId() != w2.GetId() || e.GetOfferHoldId() != w2.GetOfferHoldId() {
		t.Fatalf("replay %v of %v", e, w2)
	}
	mustCode(t, h.ask(pid, joinKeyCmd("gig", "k2", "u-2", 2, "all")), booking.CodeIdempotencyMismatch)
	mustCode(t, h.ask(pid, holdCmd("gig", "k2", "u-2", 1, "all")), booking.CodeIdempotencyMismatch)
	w3 := mustOK(t, h.ask(pid, joinKeyCmd("gig", "k3", "u-3", 1, "all"))).GetWaitlistEntry()

	h.stop(pid)
	pid = h.spawn("gig")
	replay("waiting, after a restart", "k2", "u-2", 1)
	mustOK(t, h.ask(pid, cancelCmd("gig", held.GetId()))) // the seat goes to u-2
	if e := replay("offered", "k2", "u-2", 0); e.GetId() != w2.GetId() || e.GetOfferHoldId() != w2.GetOfferHoldId() ||
		e.GetCreatedAtMs() != w2.GetCreatedAtMs() {
		t.Fatalf("replay of the offered entry %v, want %v", e, w2)
	}
	mustOK(t, h.ask(pid, cancelCmd("gig", w2.GetOfferHoldId()))) // and on to u-3
	mustOK(t, h.ask(pid, cancelCmd("gig", w3.GetOfferHoldId())))
	mustOK(t, h.ask(pid, holdCmd("gig", "", "u-1", 1, "all"))) // sold out again
	w5 := mustOK(t, h.ask(pid, joinKeyCmd("gig", "k5", "u-5", 1, "all"))).GetWaitlistEntry()
	mustOK(t, h.ask(pid, &protos.Command{ResourceId: "gig", Op: &protos.Command_LeaveWaitlist{
		LeaveWaitlist: &protos.LeaveWaitlist{EntryId: w5.GetId(), UserId: "u-5"}}}))
	mustCode(t, h.ask(pid, joinKeyCmd("gig", "k5", "u-5", 1, "all")), booking.CodeConflict)

	// After a restart the offers are terminal holds memory does not load: the replay looks
	// the offer hold up in the store; the entry that left has none.
	h.stop(pid)
	pid = h.spawn("gig")
	if e := replay("offer ended, after a restart", "k2", "u-2", 0); e.GetId() != w2.GetId() || e.GetOfferHoldId() != w2.GetOfferHoldId() ||
		e.GetCreatedAtMs() != w2.GetCreatedAtMs() || e.GetQuantity() != 1 || len(e.GetBuckets()) != 1 {
		t.Fatalf("replay of the offered entry %v, want %v", e, w2)
	}
	replay("offer ended, after a restart", "k3", "u-3", 0)
	mustCode(t, h.ask(pid, joinKeyCmd("gig", "k5", "u-5", 1, "all")), booking.CodeConflict)
	snap := checkStoreConsistent(t, store, "gig")
	if len(snap.Waitlist) != 0 {
		t.Fatalf("store has entries %+v: a replay joined", snap.Waitlist)
	}
	keys := 0
	for _, e := range snap.Idempotency {
		if e.HoldID == w2.GetOfferHoldId() || e.HoldID == w3.GetOfferHoldId() || e.HoldID == w5.GetOfferHoldId() {
			keys++
		}
	}
	if keys != 3 {
		t.Fatalf("store has %d of the joins' 3 keys: %+v", keys, snap.Idempotency)
	}
}
