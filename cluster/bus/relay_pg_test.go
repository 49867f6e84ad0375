package bus

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/allot/allot/persistence/pgtest"
	"github.com/allot/allot/persistence/postgres"
)

// TestRelaysShareThePostgresOutbox runs two relays, as two nodes would, on one PostgreSQL
// outbox: their claims (FOR UPDATE SKIP LOCKED and a claim lease) never overlap, so every
// event is published exactly once between them, and each resource's events reach the stream
// in version order.
func TestRelaysShareThePostgresOutbox(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL")
	}
	url := pgtest.MustServer(t).MustDatabase(t)
	open := func() *postgres.Store {
		cfg := postgres.DefaultConfig()
		cfg.URL, cfg.MaxConns = url, 4
		s, err := postgres.Open(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	writer := open()
	const resources, holds = 6, 40
	want := map[string]bool{}
	for r := range resources {
		for _, id := range commitHolds(t, writer, fmt.Sprintf("pg-%d", r), holds) {
			want[id] = true
		}
	}
	if n, err := writer.UnpublishedEvents(context.Background()); err != nil || n != int64(len(want)) {
		t.Fatalf("backlog before the relays: %d, %v; want %d", n, err, len(want))
	}
	b := openBus(t)
	next := collect(t, b, ConsumerConfig{})
	var relays []*Relay
	for range 2 {
		cfg := DefaultRelayConfig()
		cfg.Store, cfg.Publisher, cfg.Batch, cfg.Poll = open(), b, 16, 10*time.Millisecond
		r, err := NewRelay(cfg)
		if err != nil {
			t.Fatal(err)
		}
		relays = append(relays, r)
	}
	got := next(len(want))
	seen := map[string]bool{}
	last := map[string]uint64{}
	for _, rec := range got {
		if !want[rec.ID] || seen[rec.ID] {
			t.Fatalf("event %s unexpected or twice", rec.ID)
		}
		seen[rec.ID] = true
		// Per resource in version order, whichever relay published: neither publishes a
		// resource's event while the other holds an earlier one.
		if rec.Version <= last[rec.ResourceID] {
			t.Fatalf("%s: version %d after %d on the stream", rec.ResourceID, rec.Version, last[rec.ResourceID])
		}
		last[rec.ResourceID] = rec.Version
	}
	var wg sync.WaitGroup
	var published, dups int64
	var mu sync.Mutex
	for _, r := range relays {
		wg.Go(func() {
			r.Close(context.Background())
			p, d, _ := r.Stats()
			mu.Lock()
			published, dups = published+p, dups+d
			mu.Unlock()
		})
	}
	wg.Wait()
	if published != int64(len(want)) || dups != 0 {
		t.Fatalf("relays published %d (%d duplicates), want each of %d events once", published, dups, len(want))
	}
	if n := streamMsgs(t, b); n != uint64(len(want)) {
		t.Fatalf("stream holds %d, want %d", n, len(want))
	}
	if n, err := writer.UnpublishedEvents(context.Background()); err != nil || n != 0 {
		t.Fatalf("backlog after the relays: %d, %v; want 0", n, err)
	}
}
