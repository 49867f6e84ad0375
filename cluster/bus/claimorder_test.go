package bus

import (
	"context"
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/actors/events"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/persistence/memstore"
)

// A resource whose clock stepped back between two commits (a failover to a node whose clock
// is behind) has a later version earlier in the log: the relay still publishes its events in
// version order, and leaves the other resource's where they were.
func TestRelayPublishesInVersionOrderWhenTheClockSteppedBack(t *testing.T) {
	b := openBus(t)
	ms := memstore.New()
	base := time.UnixMilli(1_900_000_000_000).UTC()
	commitAt := func(rid string, v uint64, at time.Time) {
		t.Helper()
		res := booking.Resource{ID: rid, Name: rid, HoldTTL: time.Hour, CreatedAt: base, UpdatedAt: at}
		h := booking.Hold{ID: fmt.Sprintf("%s-v%d", rid, v), ResourceID: rid, UserID: "u", Buckets: []string{"a"}, Quantity: 1,
			Status: booking.StatusHeld, CreatedAt: at, ExpiresAt: at.Add(time.Hour), UpdatedAt: at}
		batch := &persistence.Batch{ResourceID: rid, Epoch: 1, Version: v, Resource: res, Holds: []booking.Hold{h},
			Events: []events.Event{{Type: events.HoldPlaced, ResourceID: rid, Version: v, OccurredAt: at, Subject: "u", Hold: &h}}}
		if v == 1 { // the creation, with one bucket
			batch.Epoch, batch.Create, batch.Holds = 0, true, nil
			batch.Buckets = []booking.Bucket{{Key: "a", Capacity: 10}}
			batch.Events = []events.Event{{Type: events.ResourceCreated, ResourceID: rid, Version: 1, OccurredAt: at, Resource: &res, Buckets: batch.Buckets}}
		}
		if err := ms.Commit(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
	}
	// Log order (time first): a v3, b v1, a v1, a v2, b v2.
	commitAt("a", 1, base.Add(20*time.Millisecond))
	commitAt("a", 2, base.Add(30*time.Millisecond))
	commitAt("a", 3, base.Add(5*time.Millisecond)) // the new owner's clock is behind
	commitAt("b", 1, base.Add(10*time.Millisecond))
	commitAt("b", 2, base.Add(40*time.Millisecond))

	clk := newClock()
	cfg := DefaultRelayConfig()
	cfg.Store, cfg.Publisher, cfg.Now, cfg.After = ms, b, clk.Now, clk.After
	r, err := NewRelay(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())
	for rid, want := range map[string][]uint64{"a": {1, 2, 3}, "b": {1, 2}} {
		got := collect(t, b, ConsumerConfig{ResourceID: rid})(len(want))
		for i, rec := range got {
			if rec.Version != want[i] {
				t.Fatalf("resource %s: event %d is version %d, want %d (version order)", rid, i, rec.Version, want[i])
			}
		}
	}
}

// inVersionOrder, against a model: per resource, the same positions, the same records, in
// (version, index) order; any claim already in that order is left as it was.
func TestInVersionOrderRandomized(t *testing.T) {
	rng := rand.New(rand.NewSource(17))
	for round := 0; round < 2000; round++ {
		n := rng.Intn(12)
		recs := make([]events.Record, n)
		next := map[string]uint64{}
		for i := range recs {
			rid := string(rune('a' + rng.Intn(3)))
			next[rid]++
			recs[i] = events.Record{ResourceID: rid, Version: next[rid], Index: rng.Intn(2)}
		}
		ordered := append([]events.Record(nil), recs...)
		inVersionOrder(ordered)
		for i := range recs {
			if keyOf(ordered[i]) != keyOf(recs[i]) {
				t.Fatalf("round %d: an ordered claim changed at %d: %+v", round, i, ordered)
			}
		}
		// Shuffle each resource's records among its own positions.
		shuffled := append([]events.Record(nil), recs...)
		rng.Shuffle(n, func(i, j int) {
			if shuffled[i].ResourceID == shuffled[j].ResourceID {
				shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
			}
		})
		inVersionOrder(shuffled)
		for i := range recs {
			if shuffled[i].ResourceID != recs[i].ResourceID {
				t.Fatalf("round %d: position %d moved to another resource", round, i)
			}
		}
		last := map[string]events.Record{}
		count := map[recordKey]int{}
		for i := range shuffled {
			r := shuffled[i]
			if p, ok := last[r.ResourceID]; ok && recordBefore(&r, &p) {
				t.Fatalf("round %d: %+v after %+v", round, r, p)
			}
			last[r.ResourceID] = r
			count[keyOf(r)]++
			count[keyOf(recs[i])]--
		}
		for r, c := range count {
			if c != 0 {
				t.Fatalf("round %d: record %+v count off by %d", round, r, c)
			}
		}
	}
}

type recordKey struct {
	rid string
	v   uint64
	i   int
}

func keyOf(r events.Record) recordKey { return recordKey{r.ResourceID, r.Version, r.Index} }
