package resource

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/persistence/memstore"
	"github.com/allot/allot/protos"
)

var errInjected = fmt.Errorf("injected: %w", persistence.ErrUnavailable)

// TestCommitFailure: a batch fails at the store. Exactly its commands are answered
// unavailable; the pending ones are decided again after a reload and succeed; memory equals
// the store; nothing is oversold.
func TestCommitFailure(t *testing.T) {
	for _, tc := range []struct {
		name  string
		block bool // the failing commit blocks first, so that commands pile up behind it
	}{
		{"fails at once", false},
		{"blocks then fails", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := MustMemstore(t)
			h := newHarness(t, store)
			pid := h.spawn("room")
			h.create(pid, "room", map[string]int64{"a": 4})
			epoch := h.probe(pid, false).epoch

			var failedHolds atomic.Int64
			g := newGate()
			store.SetCommitHook(func(ctx context.Context, b *persistence.Batch) error {
				if err := g.hit(ctx); err != nil {
					failedHolds.Add(int64(len(b.Holds)))
					return err
				}
				return nil
			})
			if !tc.block {
				g.release <- errInjected // the first caught call fails without waiting
			}
			g.arm(1)
			futures := []*actor.Future{h.send(pid, holdCmd("room", "k0", "u0", 1, "a"))}
			if tc.block {
				g.waitEntered(t)
			}
			for i := 1; i < 6; i++ { // six holds on capacity 4
				futures = append(futures, h.send(pid, holdCmd("room", fmt.Sprintf("k%d", i), fmt.Sprintf("u%d", i), 1, "a")))
			}
			if tc.block {
				if p := h.probe(pid, false); p.inflight != 1 || p.pending != 5 {
					t.Fatalf("inflight %d pending %d, want 1 and 5", p.inflight, p.pending)
				}
				g.release <- errInjected
			}
			var ok, unavailable, soldOut int
			for _, f := range futures {
				switch rep := h.await(f); code(rep) {
				case "":
					ok++
				case booking.CodeUnavailable:
					unavailable++
					if rep.GetError().GetRetryAfterMs() != time.Second.Milliseconds() {
						t.Errorf("retry_after_ms = %d", rep.GetError().GetRetryAfterMs())
					}
				case booking.CodeSoldOut:
					soldOut++
				default:
					t.Fatalf("unexpected reply %v", rep)
				}
			}
			if int64(unavailable) != failedHolds.Load() || unavailable == 0 {
				t.Fatalf("%d unavailable replies, %d holds in the failed batch", unavailable, failedHolds.Load())
			}
			if ok != min(4, 6-unavailable) || ok+soldOut+unavailable != 6 {
				t.Fatalf("ok %d, sold out %d, unavailable %d", ok, soldOut, unavailable)
			}
			p := h.probe(pid, true)
			if p.epoch <= epoch || p.uncertain {
				t.Fatalf("after the reload: epoch %d (was %d), uncertain %v", p.epoch, epoch, p.uncertain)
			}
			checkMemoryMatchesStore(t, store, "room", p.committed)

			// Later commands succeed, and a retry of a failed one is decided afresh.
			mustOK(t, h.ask(pid, cancelCmd("room", anyHeld(t, store, "room"))))
			mustOK(t, h.ask(pid, holdCmd("room", "k0", "u0", 1, "a")))
			h.stop(pid)
			checkStoreConsistent(t, store, "room")
		})
	}
}

// TestCommitFailureAfterWrite: the store wrote the batch but reported a failure (a lost
// acknowledgement). The client gets unavailable; after the reload the actor knows the hold,
// and a retry with the same key is a replay of it.
func TestCommitFailureAfterWrite(t *testing.T) {
	mem := MustMemstore(t)
	lossy := &lossyStore{Store: mem}
	h := newHarness(t, lossy)
	pid := h.spawn("room")
	h.create(pid, "room", map[string]int64{"a": 1})
	g := newGate()
	mem.SetActivateHook(func(ctx context.Context, _ string) error { return g.hit(ctx) })
	g.arm(1)
	lossy.loseNext.Store(true)
	mustCode(t, h.ask(pid, holdCmd("room", "k", "u", 1, "a")), booking.CodeUnavailable)
	g.waitEntered(t) // the reload that follows the failure is held at the store
	stored := storedHolds(t, mem, "room")
	if len(stored) != 1 {
		t.Fatalf("store has %d holds, want the one whose ack was lost", len(stored))
	}
	var id string
	for id = range stored {
	}
	// Before the reload, memory does not know the hold; the store lookup finds it active.
	mustCode(t, h.ask(pid, getHoldCmd("room", id)), booking.CodeUnavailable)
	g.release <- nil
	h.probe(pid, true) // the reload is done
	if got := mustOK(t, h.ask(pid, getHoldCmd("room", id))).GetHold(); got.GetStatus() != "held" {
		t.Fatalf("after the reload: %v", got)
	}
	rep := mustOK(t, h.ask(pid, holdCmd("room", "k", "u", 1, "a")))
	if _, ok := stored[rep.GetHold().GetId()]; !ok || !rep.GetReplayed() {
		t.Fatalf("retry = %v, want a replay of the stored hold", rep)
	}
	mustCode(t, h.ask(pid, holdCmd("room", "k2", "u", 1, "a")), booking.CodeSoldOut)
	h.stop(pid)
	checkStoreConsistent(t, mem, "room")
}

// lossyStore writes a batch and then, when told, reports it failed.
type lossyStore struct {
	*memstore.Store
	loseNext atomic.Bool
}

// Enqueue pipelines the commits through Commit above, in the resource's order.
func (s *lossyStore) Enqueue(ctx context.Context, b *persistence.Batch) func() error {
	return s.Store.EnqueueFunc(ctx, b.ResourceID, func() error { return s.Commit(ctx, b) })
}

func (s *lossyStore) Commit(ctx context.Context, b *persistence.Batch) error {
	if err := s.Store.Commit(ctx, b); err != nil {
		return err
	}
	if s.loseNext.CompareAndSwap(true, false) {
		return errInjected
	}
	return nil
}

// TestStoreDown: while the store is down, reads and sold-out answers keep coming from memory;
// writes fail after one commit attempt and a failed reload, then at once while backing off,
// without touching the store.
func TestStoreDown(t *testing.T) {
	store := MustMemstore(t)
	h := newHarness(t, store)
	h.cfg.MinReloadBackoff, h.cfg.MaxReloadBackoff = time.Hour, time.Hour
	pid := h.spawn("room")
	h.create(pid, "room", map[string]int64{"full": 1, "free": 5})
	hold := mustOK(t, h.ask(pid, holdCmd("room", "", "u", 1, "full"))).GetHold().GetId()

	var commits, activations atomic.Int64
	store.SetCommitHook(func(context.Context, *persistence.Batch) error { commits.Add(1); return errInjected })
	store.SetActivateHook(func(context.Context, string) error { activations.Add(1); return errInjected })

	mustCode(t, h.ask(pid, holdCmd("room", "", "u", 1, "full")), booking.CodeSoldOut)
	mustOK(t, h.ask(pid, getResourceCmd("room")))
	mustOK(t, h.ask(pid, getHoldCmd("room", hold)))
	if commits.Load() != 0 {
		t.Fatalf("%d commits for reads and a sold-out answer", commits.Load())
	}
	mustCode(t, h.ask(pid, holdCmd("room", "", "u", 1, "free")), booking.CodeUnavailable)
	if p := h.probe(pid, true); !p.backingOff || commits.Load() != 1 || activations.Load() != 1 {
		t.Fatalf("backing off %v after %d commits and %d activations, want true, 1, 1", p.backingOff, commits.Load(), activations.Load())
	}
	for range 5 {
		mustCode(t, h.ask(pid, holdCmd("room", "", "u", 1, "free")), booking.CodeUnavailable)
		mustCode(t, h.ask(pid, confirmCmd("room", hold)), booking.CodeUnavailable)
		mustCode(t, h.ask(pid, holdCmd("room", "", "u", 1, "full")), booking.CodeSoldOut)
		mustOK(t, h.ask(pid, getHoldCmd("room", hold)))
	}
	if commits.Load() != 1 || activations.Load() != 1 {
		t.Fatalf("store touched while backing off: %d commits, %d activations", commits.Load(), activations.Load())
	}
}

// TestStoreRecovers: after the store comes back, writes succeed again once the backoff ends.
func TestStoreRecovers(t *testing.T) {
	store := MustMemstore(t)
	h := newHarness(t, store)
	h.cfg.MinReloadBackoff, h.cfg.MaxReloadBackoff = time.Millisecond, 4*time.Millisecond
	pid := h.spawn("room")
	h.create(pid, "room", map[string]int64{"a": 3})
	store.SetCommitHook(func(context.Context, *persistence.Batch) error { return errInjected })
	store.SetActivateHook(func(context.Context, string) error { return errInjected })
	for range 3 {
		mustCode(t, h.ask(pid, holdCmd("room", "", "u", 1, "a")), booking.CodeUnavailable)
	}
	store.SetCommitHook(nil)
	store.SetActivateHook(nil)
	var placed []string
	deadline := time.Now().Add(askTimeout)
	for len(placed) < 3 && time.Now().Before(deadline) {
		rep := h.ask(pid, holdCmd("room", "", "u", 1, "a"))
		switch code(rep) {
		case "":
			placed = append(placed, rep.GetHold().GetId())
		case booking.CodeUnavailable: // still backing off: retry, as a client would
		default:
			t.Fatalf("unexpected reply %v", rep)
		}
	}
	mustCode(t, h.ask(pid, holdCmd("room", "", "u", 1, "a")), booking.CodeSoldOut)
	h.stop(pid)
	if got := len(storedHolds(t, store, "room")); got != 3 {
		t.Fatalf("store has %d holds, want 3", got)
	}
	checkStoreConsistent(t, store, "room")
}

// TestActivateFails: commands that arrive while the first Activate fails are answered
// unavailable and the actor stops; the next activation serves them.
func TestActivateFails(t *testing.T) {
	store := MustMemstore(t)
	h := newHarness(t, store)
	pid := h.spawn("room")
	h.create(pid, "room", map[string]int64{"a": 3})
	h.stop(pid)

	g := newGate()
	store.SetActivateHook(func(ctx context.Context, _ string) error { return g.hit(ctx) })
	g.arm(1)
	pid = h.spawn("room")
	stopped := h.watch(pid)
	g.waitEntered(t)
	fs := []*actor.Future{h.send(pid, getResourceCmd("room")), h.send(pid, holdCmd("room", "", "u", 1, "a"))}
	g.release <- errInjected
	for _, f := range fs {
		res, err := f.Result()
		if err != nil && !errors.Is(err, actor.ErrDeadLetter) {
			t.Fatal(err)
		}
		if err == nil {
			mustCode(t, res.(*protos.Reply), booking.CodeUnavailable)
		}
	}
	waitClosed(t, stopped, "the actor to stop")
	pid = h.spawn("room")
	mustOK(t, h.ask(pid, holdCmd("room", "", "u", 1, "a")))
}

func anyHeld(t *testing.T, s persistence.Store, id string) string {
	t.Helper()
	for _, h := range storedHolds(t, s, id) {
		if h.Status == booking.StatusHeld {
			return h.ID
		}
	}
	t.Fatal("no held hold")
	return ""
}

// TestStoreHangs: while a commit hangs at the store, sold-out answers and reads do not wait
// for it.
func TestStoreHangs(t *testing.T) {
	store := MustMemstore(t)
	h := newHarness(t, store)
	pid := h.spawn("room")
	h.create(pid, "room", map[string]int64{"full": 1, "free": 5})
	hold := mustOK(t, h.ask(pid, holdCmd("room", "", "u", 1, "full"))).GetHold().GetId()

	g := newGate()
	store.SetCommitHook(g.commitHook)
	g.arm(1)
	stuck := h.send(pid, holdCmd("room", "", "u", 1, "free"))
	g.waitEntered(t)
	for range 10 {
		mustCode(t, h.ask(pid, holdCmd("room", "", "u", 1, "full")), booking.CodeSoldOut)
		if b := mustOK(t, h.ask(pid, getResourceCmd("room"))).GetResource().GetBuckets()["free"]; b.GetHeld() != 0 {
			t.Fatalf("a read saw an uncommitted hold: %v", b)
		}
		mustOK(t, h.ask(pid, getHoldCmd("room", hold)))
	}
	g.release <- errInjected
	mustCode(t, h.await(stuck), booking.CodeUnavailable)
}
