package bus

import (
	"context"
	"testing"

	"github.com/allot/allot/actors/events"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/persistence/memstore"
)

// holdEvents returns the events of n holds on resource rid, in log order.
func holdEvents(t *testing.T, rid string, n int) []events.Record {
	t.Helper()
	ms := memstore.New()
	commitHolds(t, ms, rid, n)
	recs, err := ms.ListEvents(context.Background(), persistence.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// TestPublishBatchStoresAPrefix checks BatchPublisher's contract against a real server: a
// run is stored in order, and once one event of it is refused (here a broken chain: its
// predecessor was a duplicate, so not the stream's last message) nothing after it is stored,
// so that the relay can publish the rest again in order.
func TestPublishBatchStoresAPrefix(t *testing.T) {
	b := openBus(t)
	ctx := context.Background()
	recs := holdEvents(t, "hotel.1", 8) // resource.created + 8 hold.placed
	if len(recs) != 9 {
		t.Fatalf("%d events", len(recs))
	}
	next := collect(t, b, ConsumerConfig{ResourceID: "hotel.1"})
	dup := make([]bool, len(recs))

	n, err := b.PublishBatch(ctx, recs[:5], dup)
	if err != nil || n != 5 {
		t.Fatalf("PublishBatch = %d, %v; want 5, nil", n, err)
	}
	for i, rec := range next(5) {
		if rec.ID != recs[i].ID || dup[i] {
			t.Fatalf("event %d is %s (duplicate %v), want %s", i, rec.ID, dup[i], recs[i].ID)
		}
	}

	// recs[6] is already in the stream, after recs[4]: in the run 5..8 it is a duplicate,
	// recs[5] is then the stream's last message, and recs[7], expecting recs[6], is refused.
	if _, err := b.Publish(ctx, &recs[6]); err != nil {
		t.Fatal(err)
	}
	n, err = b.PublishBatch(ctx, recs[5:], dup)
	if err == nil || n != 2 || dup[0] || !dup[1] {
		t.Fatalf("PublishBatch = %d, %v, duplicates %v; want 2 (the second a duplicate) and an error", n, err, dup[:2])
	}
	if got := streamMsgs(t, b); got != 7 {
		t.Fatalf("stream holds %d messages, want 7: nothing after the refused event", got)
	}
	n, err = b.PublishBatch(ctx, recs[7:], dup)
	if err != nil || n != 2 {
		t.Fatalf("the rest: PublishBatch = %d, %v; want 2, nil", n, err)
	}
	want := []string{recs[6].ID, recs[5].ID, recs[7].ID, recs[8].ID}
	for i, rec := range next(4) {
		if rec.ID != want[i] {
			t.Fatalf("after the refusal, event %d is %s, want %s", i, rec.ID, want[i])
		}
	}
	if _, err := b.PublishBatch(ctx, recs, dup[:1]); err == nil {
		t.Fatal("PublishBatch with a short dup: no error")
	}
}
