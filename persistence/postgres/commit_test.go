package postgres

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/actors/events"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/persistence/pgtest"
)

// TestCommitRefusalsRollBack: a Commit goes to the server as one batch, BEGIN to COMMIT, so
// each refusal must stop the batch in the database before its COMMIT. On a pool of one
// connection (every call reuses the connection the refused batch left), a fenced batch, a
// batch with a hold id or a waitlist entry id another resource owns, and an oversold bucket
// each fail with their error and leave no trace (rows, outbox events, version), the
// connection is rolled back and kept (not dropped by the pool), and the next good batch
// commits.
func TestCommitRefusalsRollBack(t *testing.T) {
	url := pgtest.MustServer(t).MustDatabase(t)
	cfg := testConfig(url)
	cfg.MaxConns = 1
	s := mustOpen(t, cfg)
	ctx := context.Background()
	mustCreate(t, s, "r1", booking.Bucket{Key: "a", Capacity: 10})
	mustCreate(t, s, "r2", booking.Bucket{Key: "a", Capacity: 10})
	snap, err := s.Activate(ctx, "r2", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	theirs := testHold("r1", "theirs", 1, 1, "a")
	entry := booking.WaitlistEntry{ID: "w-theirs", ResourceID: "r1", UserID: "u", OfferHoldID: "h-offer", Buckets: []string{"a"}, Quantity: 1, Seq: 1, CreatedAt: t0}
	if err := s.Commit(ctx, &persistence.Batch{ResourceID: "r1", Epoch: 1, Version: 2, Resource: testResource("r1"),
		Buckets: []booking.Bucket{{Key: "a", Capacity: 10, Held: 1}}, Holds: []booking.Hold{theirs}, Waitlist: []booking.WaitlistEntry{entry}}); err != nil {
		t.Fatalf("r1's batch: %v", err)
	}

	// batch is r2's next batch (version 2 at the current epoch): one hold and its event.
	batch := func(id string) *persistence.Batch {
		h := testHold("r2", id, 2, 1, "a")
		return &persistence.Batch{ResourceID: "r2", Epoch: snap.Epoch, Version: 2, Resource: testResource("r2"),
			Buckets: []booking.Bucket{{Key: "a", Capacity: 10, Held: 1}}, Holds: []booking.Hold{h},
			Events: []events.Event{{Type: events.HoldPlaced, ResourceID: "r2", Version: 2, OccurredAt: t0, Hold: &h}}}
	}
	fenced := batch("fenced")
	fenced.Epoch = snap.Epoch - 1
	stolenHold := batch("mine")
	stolenHold.Holds = append(stolenHold.Holds, func() booking.Hold { h := theirs; h.ResourceID = "r2"; return h }())
	stolenEntry := batch("mine")
	stolenEntry.Waitlist = []booking.WaitlistEntry{{ID: "w-mine", ResourceID: "r2", UserID: "u", Buckets: []string{"a"}, Quantity: 1, Seq: 1, CreatedAt: t0},
		func() booking.WaitlistEntry { e := entry; e.ResourceID = "r2"; return e }()}
	oversold := batch("mine")
	oversold.Buckets[0].Held = 11
	pid := func() (n uint32) {
		if err := s.pool.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := pid()
	for _, c := range []struct {
		name string
		b    *persistence.Batch
		want error // nil: any error but ErrFenced and ErrUnavailable
	}{
		{"fenced", fenced, persistence.ErrFenced},
		{"hold id of another resource", stolenHold, errHoldOfOtherResource},
		{"entry id of another resource", stolenEntry, errEntryOfOtherResource},
		{"oversold bucket", oversold, nil},
	} {
		err := s.Commit(ctx, c.b)
		switch {
		case err == nil:
			t.Errorf("%s: committed", c.name)
		case c.want != nil && !errors.Is(err, c.want):
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		case c.want == nil && (errors.Is(err, persistence.ErrFenced) || errors.Is(err, persistence.ErrUnavailable)):
			t.Errorf("%s: err = %v, want a plain error", c.name, err)
		}
	}
	var holds, entries, outbox int
	if err := s.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM holds WHERE resource_id = 'r2'),
    (SELECT count(*) FROM waitlist WHERE resource_id = 'r2'), (SELECT count(*) FROM outbox WHERE resource_id = 'r2')`).Scan(&holds, &entries, &outbox); err != nil {
		t.Fatal(err)
	}
	if holds+entries+outbox != 0 {
		t.Errorf("refused batches left %d holds, %d waitlist entries, %d outbox rows", holds, entries, outbox)
	}
	if after := pid(); after != before {
		t.Errorf("the refusals cost the connection (backend %d, then %d): a refused batch must be rolled back, not dropped", before, after)
	}
	if h, err := s.GetHold(ctx, "r1", "theirs"); err != nil || h.ResourceID != "r1" {
		t.Errorf("r1's hold: %+v, %v", h, err)
	}

	if err := s.Commit(ctx, batch("good")); err != nil {
		t.Fatalf("the next batch on the same connection: %v", err)
	}
	got, err := s.Activate(ctx, "r2", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 2 || len(got.Holds) != 1 || got.Holds[0].ID != "good" || got.Buckets[0].Held != 1 {
		t.Errorf("after the good batch: version %d, holds %+v, buckets %+v", got.Version, got.Holds, got.Buckets)
	}
}
