package resource

import (
	"fmt"
	"sync"
	"testing"

	"github.com/allot/allot/actors/booking"
)

// TestGroupCommitSQLite: 1,000 concurrent holds on one resource of capacity 300, on the real
// embedded SQLite store: exactly 300 succeed, 700 are sold out, the store agrees, and holds
// were committed in batches.
func TestGroupCommitSQLite(t *testing.T) {
	const requests, capacity = 1000, 300
	h := newHarness(t, MustSQLite(t))
	pid := h.spawn("concert")
	h.create(pid, "concert", map[string]int64{"all": capacity})

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		ok       = map[string]bool{}
		soldOut  int
		failures []string
	)
	for i := range requests {
		wg.Go(func() {
			rep, err := h.tryAsk(pid, holdCmd("concert", "", fmt.Sprintf("u%d", i), 1, "all"))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				failures = append(failures, err.Error())
			case code(rep) == "":
				ok[rep.GetHold().GetId()] = true
			case code(rep) == booking.CodeSoldOut:
				soldOut++
			default:
				failures = append(failures, rep.GetError().String())
			}
		})
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d unexpected replies, first: %s", len(failures), failures[0])
	}
	if len(ok) != capacity || soldOut != requests-capacity {
		t.Fatalf("%d succeeded, %d sold out; want %d and %d", len(ok), soldOut, capacity, requests-capacity)
	}

	res := mustOK(t, h.ask(pid, getResourceCmd("concert"))).GetResource()
	if b := res.GetBuckets()["all"]; b.GetHeld() != capacity {
		t.Fatalf("memory: bucket = %v", b)
	}
	stored := storedHolds(t, h.store, "concert")
	if len(stored) != capacity {
		t.Fatalf("store has %d holds, want %d", len(stored), capacity)
	}
	for id, hd := range stored {
		if !ok[id] || hd.Status != booking.StatusHeld {
			t.Fatalf("stored hold %s (%s) was not acknowledged", id, hd.Status)
		}
	}
	count, sum, _ := histogram(t, h.reg, "allot_batch_size")
	t.Logf("%d commits for %.0f commands (mean batch %.1f)", count, sum, sum/float64(count))
	// Every hold and the creation are in a commit; so are the sold-out answers that had to
	// wait for holds in flight.
	if sum < capacity+1 || sum > requests+1 || count >= uint64(sum) {
		t.Fatalf("batch_size: %d commits, %.0f commands; want %d..%d commands in batches larger than 1", count, sum, capacity+1, requests+1)
	}
	h.stop(pid)
	snap := checkStoreConsistent(t, h.store, "concert")
	if b := snap.Buckets[0]; b.Held != capacity || b.Capacity != capacity {
		t.Fatalf("stored bucket = %+v", b)
	}
}
