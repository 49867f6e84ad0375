package resource

import (
	"context"
	"testing"
	"time"

	"github.com/allot/allot/persistence"
)

// With DropEvents (a node run with --events off) the same changes are committed, but no
// outbox row is written and the relay is never woken; without it, every change has its events.
func TestDropEventsCommitsWithoutOutboxRows(t *testing.T) {
	for _, drop := range []bool{false, true} {
		store := MustMemstore(t)
		h := newHarness(t, store)
		h.cfg.DropEvents = drop
		nudged := make(chan struct{}, 16)
		h.cfg.EventsCommitted = func() {
			select {
			case nudged <- struct{}{}:
			default:
			}
		}
		pid := h.spawn("quiet")
		mustOK(t, h.ask(pid, createCmd("quiet", time.Minute, map[string]int64{"a": 2})))
		held := mustOK(t, h.ask(pid, holdCmd("quiet", "", "u1", 1, "a"))).GetHold()
		mustOK(t, h.ask(pid, confirmCmd("quiet", held.GetId())))
		if res := mustOK(t, h.ask(pid, getResourceCmd("quiet"))).GetResource(); res.GetVersion() != 3 || res.GetBuckets()["a"].GetConfirmed() != 1 {
			t.Fatalf("drop=%v: resource = %v", drop, res)
		}
		evs, err := store.ListEvents(context.Background(), persistence.EventFilter{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if drop && (len(evs) != 0 || len(nudged) != 0) {
			t.Fatalf("DropEvents: %d outbox rows, %d relay wake-ups; want none", len(evs), len(nudged))
		}
		if !drop && (len(evs) < 3 || len(nudged) == 0) {
			t.Fatalf("events on: %d outbox rows, %d wake-ups; want one per change at least", len(evs), len(nudged))
		}
	}
}
