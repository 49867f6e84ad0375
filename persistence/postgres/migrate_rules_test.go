package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/persistence/pgtest"
)

// TestMigrateRulesOnExistingData: rows written before schema step 3 read as the rules were
// then (two renewals, no allowance, no limit, UTC, one-hour offers), step 1's bucket CHECK
// still holds, and the migrated resource can be overbooked within an allowance.
func TestMigrateRulesOnExistingData(t *testing.T) {
	url := pgtest.MustServer(t).MustDatabase(t)
	steps, err := persistence.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	old := unmigratedStore(t, url)
	if err := old.migrate(ctx, steps[:2]); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO resources (id, name, price_amount, price_currency, hold_ttl_ms, epoch, version, created_at_ms, updated_at_ms)
VALUES ('r', 'r', NULL, NULL, 60000, 1, 2, 1000, 1000)`,
		`INSERT INTO buckets (resource_id, bucket_key, capacity, held, confirmed) VALUES ('r', 'a', 2, 1, 1)`,
		`INSERT INTO holds (id, resource_id, user_id, status, quantity, buckets, idempotency_key, created_at_ms, expires_at_ms, updated_at_ms)
VALUES ('h', 'r', 'u', 'confirmed', 1, '["a"]', '', 1000, 61000, 1000)`,
	} {
		if _, err := old.pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := old.migrate(ctx, steps); err != nil {
		t.Fatal(err)
	}
	s := mustOpen(t, testConfig(url))
	snap, err := s.Activate(ctx, "r", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	r := snap.Resource
	if r.MaxExtensions != booking.DefaultMaxExtensions || r.WaitlistOfferTTL != booking.DefaultWaitlistOfferTTL ||
		r.Allowance != (booking.Allowance{}) || r.MaxPerUser != 0 || r.Timezone != "" || r.SlotEvery != 0 {
		t.Fatalf("migrated resource %+v", r)
	}
	if len(snap.Buckets) != 1 || snap.Buckets[0] != (booking.Bucket{Key: "a", Capacity: 2, Held: 1, Confirmed: 1}) {
		t.Fatalf("migrated buckets %+v", snap.Buckets)
	}
	if len(snap.Holds) != 1 || snap.Holds[0].Extensions != 0 || snap.Holds[0].WaitlistEntryID != "" || len(snap.Waitlist) != 0 {
		t.Fatalf("migrated holds %+v, waitlist %+v", snap.Holds, snap.Waitlist)
	}
	// Step 1's CHECK still refuses an oversold row written the old way.
	if _, err := s.pool.Exec(ctx, `UPDATE buckets SET held = 2 WHERE resource_id = 'r'`); err == nil {
		t.Fatal("an oversold bucket row was accepted")
	}
	// With an allowance of one unit the bucket takes a third unit.
	r.Allowance = booking.Allowance{Units: 1}
	b := &persistence.Batch{ResourceID: "r", Epoch: snap.Epoch, Version: 3, Resource: r,
		Buckets: []booking.Bucket{{Key: "a", Capacity: 2, Allowance: 1, Held: 2, Confirmed: 1}}}
	if err := s.Commit(ctx, b); err != nil {
		t.Fatal(err)
	}
	var capacity, allowance int64
	if err := s.pool.QueryRow(ctx, `SELECT capacity, allowance FROM buckets WHERE resource_id = 'r'`).Scan(&capacity, &allowance); err != nil || capacity != 3 || allowance != 1 {
		t.Fatalf("stored capacity %d allowance %d (%v), want 3 (sellable) and 1", capacity, allowance, err)
	}
}
