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
