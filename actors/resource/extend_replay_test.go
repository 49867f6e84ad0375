package resource

import (
	"testing"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/protos"
)

func extendCmd(id, holdID, user, key string) *protos.Command {
	return &protos.Command{ResourceId: id, Op: &protos.Command_ExtendHold{ExtendHold: &protos.ExtendHold{HoldId: holdID, UserId: user, IdempotencyKey: key}}}
}

// TestRenewalReplayAfterARestart: a renewal's key is committed with the renewal, so a retry
// after the activation restarted from the store replays instead of renewing again, while the
// hold is live and once it ended (a terminal hold the next activation looks up).
func TestRenewalReplayAfterARestart(t *testing.T) {
	store := MustSQLite(t)
	h := newHarness(t, store)
	pid := h.spawn("gig")
	h.create(pid, "gig", map[string]int64{"all": 2})
	held := mustOK(t, h.ask(pid, holdCmd("gig", "", "u-1", 1, "all"))).GetHold()
	other := mustOK(t, h.ask(pid, holdCmd("gig", "", "u-1", 1, "all"))).GetHold()
	first := mustOK(t, h.ask(pid, extendCmd("gig", held.GetId(), "u-1", "e1")))
	if first.GetReplayed() || first.GetHold().GetExtensions() != 1 {
		t.Fatalf("first renewal %v", first)
	}
	h.stop(pid)

	pid = h.spawn("gig")
	r := mustOK(t, h.ask(pid, extendCmd("gig", held.GetId(), "u-1", "e1")))
	if !r.GetReplayed() || r.GetHold().GetExtensions() != 1 || r.GetHold().GetExpiresAtMs() != first.GetHold().GetExpiresAtMs() {
		t.Fatalf("retry after a restart: %v, want %v replayed", r, first.GetHold())
	}
	mustCode(t, h.ask(pid, extendCmd("gig", other.GetId(), "u-1", "e1")), booking.CodeIdempotencyMismatch)
	if got := storedHolds(t, store, "gig")[held.GetId()]; got.Extensions != 1 {
		t.Fatalf("stored hold after the retry %+v", got)
	}

	mustOK(t, h.ask(pid, cancelCmd("gig", held.GetId())))
	h.stop(pid)
	pid = h.spawn("gig")
	r = mustOK(t, h.ask(pid, extendCmd("gig", held.GetId(), "u-1", "e1")))
	if !r.GetReplayed() || r.GetHold().GetStatus() != string(booking.StatusCancelled) || r.GetHold().GetExtensions() != 1 {
		t.Fatalf("retry of an ended hold's renewal after a restart: %v", r)
	}
	// Without its key, the retry is decided afresh: a cancelled hold cannot be renewed.
	mustCode(t, h.ask(pid, extendCmd("gig", held.GetId(), "u-1", "")), booking.CodeConflict)
}
