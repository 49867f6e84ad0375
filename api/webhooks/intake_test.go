package webhooks

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/allot/allot/api/feed"
)

// countingStore counts AddDeliveries calls and what they added.
type countingStore struct {
	Store
	mu           sync.Mutex
	calls, added int
}

func (c *countingStore) AddDeliveries(ctx context.Context, ds []Delivery) (int, error) {
	n, err := c.Store.AddDeliveries(ctx, ds)
	c.mu.Lock()
	c.calls, c.added = c.calls+1, c.added+n
	c.mu.Unlock()
	return n, err
}

// TestHandleBatchStoresOnceAndPerEventErrors: a batch's deliveries are stored in one call;
// an event whose payload does not encode fails alone; a redelivered batch adds nothing; a
// store failure fails the whole batch.
func TestHandleBatchStoresOnceAndPerEventErrors(t *testing.T) {
	cs := &countingStore{Store: NewMemStore()}
	h := newHarness(t, func(c *Config) { c.Store = cs })
	h.register(t, "http://127.0.0.1:9/", "hold.placed")
	ctx := context.Background()
	bad := event("hotel-1/9/0", "hold.placed", h.clock.Now())
	bad.Data = json.RawMessage(`{"id":`)
	evs := []feed.Event{event("hotel-1/7/0", "hold.placed", h.clock.Now()), event("hotel-1/8/0", "bucket.sold_out", h.clock.Now()),
		bad, event("hotel-1/10/0", "hold.placed", h.clock.Now())}
	errs, err := h.d.HandleBatch(ctx, evs)
	if err != nil || len(errs) != 4 || errs[0] != nil || errs[1] != nil || errs[2] == nil || errs[3] != nil {
		t.Fatalf("HandleBatch = %v, %v; want only the third event failed", errs, err)
	}
	if _, err := h.d.HandleBatch(ctx, evs); err != nil {
		t.Fatal(err)
	}
	cs.mu.Lock()
	calls, added := cs.calls, cs.added
	cs.mu.Unlock()
	if calls != 2 || added != 2 {
		t.Fatalf("AddDeliveries: %d calls adding %d, want 2 calls (one per batch) adding 2", calls, added)
	}
	f := newHarness(t, func(c *Config) { c.Store = failingStore{NewMemStore()} })
	f.register(t, "http://127.0.0.1:9/", "hold.placed")
	if _, err := f.d.HandleBatch(ctx, evs[:1]); err == nil {
		t.Fatal("HandleBatch acknowledged a batch whose deliveries were not stored")
	}
}
