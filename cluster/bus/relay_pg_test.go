package bus

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/actors/events"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/persistence/pgtest"
	"github.com/allot/allot/persistence/postgres"
)

// TestRelaysShareThePostgresOutbox runs two relays, as two nodes would, on one PostgreSQL
// outbox: their claims (FOR UPDATE SKIP LOCKED and a claim lease) never overlap, so every
// event is published exactly once between them, and each resource's events reach the stream
// in version order.
func TestRelaysShareThePostgresOutbox(t *testing.T) {
	open := openPostgres(t)
	writer := open()
	const resources, holds = 6, 40
	want := map[string]bool{}
	for r := range resources {
		for _, id := range commitHolds(t, writer, fmt.Sprintf("pg-%d", r), holds) {
			want[id] = true
		}
	}
	relayPostgresBacklog(t, open, writer, want, 2)
}

// TestRelaysPublishAPostgresBacklogWhoseClockSteppedBack: a resource's later versions come
// first in the log (a clock set back, or a failover to a node whose clock is behind, by more
// than a claim's worth of its events), before its first two versions. A claim rule that drops
// a resource's later events when an earlier one is not in the claim returned nothing, claim
// after claim, and the relays stalled with the events never delivered; the claims bring the
// earlier events in, so every event is published once and in version order.
func TestRelaysPublishAPostgresBacklogWhoseClockSteppedBack(t *testing.T) {
	open := openPostgres(t)
	writer := open()
	at := time.UnixMilli(1_900_000_000_000).UTC()
	want := map[string]bool{}
	for _, id := range commitHolds(t, writer, "plain", 10) { // all at `at`
		want[id] = true
	}
	const rid, later = "stepped", 40 // later > two claims (Batch 16) of the stepped-back versions
	res := booking.Resource{ID: rid, Name: rid, HoldTTL: time.Hour, CreatedAt: at, UpdatedAt: at}
	buckets := []booking.Bucket{{Key: "a", Capacity: later + 1}}
	ctx := context.Background()
	for v := uint64(1); v <= 2+later; v++ {
		occurred := at.Add(time.Second + time.Duration(v)*time.Millisecond) // v1, v2: after the rest
		if v > 2 {
			occurred = at.Add(-time.Duration(2+later+1-v) * time.Millisecond) // v3..: before everything
		}
		b := &persistence.Batch{ResourceID: rid, Epoch: 1, Version: v, Resource: res}
		if v == 1 {
			b.Create, b.Epoch, b.Buckets = true, 0, buckets
			b.Events = []events.Event{{Type: events.ResourceCreated, ResourceID: rid, Version: 1, OccurredAt: occurred, Resource: &res, Buckets: buckets}}
		} else {
			h := booking.Hold{ID: fmt.Sprintf("%s-v%d", rid, v), ResourceID: rid, UserID: "u", Buckets: []string{"a"}, Quantity: 1,
				Status: booking.StatusHeld, CreatedAt: at, ExpiresAt: at.Add(time.Hour), UpdatedAt: at}
			b.Holds = []booking.Hold{h}
			b.Events = []events.Event{{Type: events.HoldPlaced, ResourceID: rid, Version: v, OccurredAt: occurred, Subject: "u", Hold: &h}}
		}
		if err := writer.Commit(ctx, b); err != nil {
			t.Fatal(err)
		}
		want[events.ID(rid, v, 0)] = true
	}
	// One relay: with two, one relay's claim can skip the rows the other has locked and reach
	// the resource's first versions by luck.
	relayPostgresBacklog(t, open, writer, want, 1)
}

// openPostgres starts (or reuses) the test server and returns a function that opens a store
// on a fresh database of it, closed when t ends.
func openPostgres(t *testing.T) func() *postgres.Store {
	t.Helper()
	if testing.Short() {
		t.Skip("starts PostgreSQL")
	}
	url := pgtest.MustServer(t).MustDatabase(t)
	return func() *postgres.Store {
		cfg := postgres.DefaultConfig()
		cfg.URL, cfg.MaxConns = url, 4
		s, err := postgres.Open(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
}

// relayPostgresBacklog runs n relays (Batch 16), as n nodes would, on the outbox that holds
// want's events and checks that they publish each once, each resource's in version order,
// and leave no backlog.
func relayPostgresBacklog(t *testing.T, open func() *postgres.Store, writer *postgres.Store, want map[string]bool, n int) {
	t.Helper()
	if n, err := writer.UnpublishedEvents(context.Background()); err != nil || n != int64(len(want)) {
		t.Fatalf("backlog before the relays: %d, %v; want %d", n, err, len(want))
	}
	b := openBus(t)
	next := collect(t, b, ConsumerConfig{})
	var relays []*Relay
	for range n {
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
