package resource

import (
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/protos"
)

// TestBusy: with the store stalled and MaxPending small, excess commands are answered busy
// while the commit is still stalled.
func TestBusy(t *testing.T) {
	const maxPending, extra = 4, 20
	store := MustMemstore(t)
	h := newHarness(t, store)
	h.cfg.MaxPending = maxPending
	pid := h.spawn("room")
	h.create(pid, "room", map[string]int64{"a": 100})
	g := newGate()
	store.SetCommitHook(g.commitHook)
	g.arm(1)
	first := h.send(pid, holdCmd("room", "", "u", 1, "a"))
	g.waitEntered(t)

	replies := make(chan *protos.Reply, extra)
	futures := make([]*actor.Future, extra)
	for i := range futures {
		futures[i] = h.send(pid, holdCmd("room", "", "u", 1, "a"))
		go func(f *actor.Future) {
			if res, err := f.Result(); err == nil {
				replies <- res.(*protos.Reply)
			}
		}(futures[i])
	}
	// At most maxPending-1 more can wait behind the stalled commit; the rest are busy now.
	for range extra - (maxPending - 1) {
		select {
		case rep := <-replies:
			mustCode(t, rep, booking.CodeBusy)
			if rep.GetError().GetRetryAfterMs() != time.Second.Milliseconds() {
				t.Fatalf("busy without retry_after: %v", rep)
			}
		case <-time.After(askTimeout):
			t.Fatal("no busy answer while the store is stalled")
		}
	}
	if p := h.probe(pid, false); p.parked > maxPending || p.inflight != 1 {
		t.Fatalf("parked %d, inflight %d", p.parked, p.inflight)
	}
	g.release <- nil
	mustOK(t, h.await(first))
	busy := extra - (maxPending - 1)
	for range maxPending - 1 {
		if rep := <-replies; code(rep) == booking.CodeBusy {
			busy++
		} else {
			mustOK(t, rep)
		}
	}
	if got := len(storedHolds(t, store, "room")); got != 1+extra-busy {
		t.Fatalf("store has %d holds, %d were acknowledged", got, 1+extra-busy)
	}
	// With the store free again, nothing is busy.
	mustOK(t, h.ask(pid, holdCmd("room", "", "u", 1, "a")))
}
