package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

// TestOpenMigratesRulesOnExistingData: rows written before schema step 3 read as the rules were
// then, step 1's bucket CHECK still holds, and an allowance lets the bucket be overbooked.
func TestOpenMigratesRulesOnExistingData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "allot.db")
	steps, err := persistence.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	func() { // what a version-2 store left
		db, err := sql.Open("sqlite", DefaultConfig(path).dsn(path, true))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.ExecContext(ctx, `CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, applied_at_ms BIGINT NOT NULL)`); err != nil {
			t.Fatal(err)
		}
		for _, m := range steps[:2] {
			if err := migrateStep(ctx, c, m); err != nil {
				t.Fatal(err)
			}
		}
		for _, q := range []string{
			`INSERT INTO resources (id, name, price_amount, price_currency, hold_ttl_ms, epoch, version, created_at_ms, updated_at_ms)
VALUES ('r', 'r', NULL, NULL, 60000, 1, 2, 1000, 1000)`,
			`INSERT INTO buckets (resource_id, bucket_key, capacity, held, confirmed) VALUES ('r', 'a', 2, 1, 1)`,
			`INSERT INTO holds (id, resource_id, user_id, status, quantity, buckets, idempotency_key, created_at_ms, expires_at_ms, updated_at_ms)
VALUES ('h', 'r', 'u', 'confirmed', 1, '["a"]', '', 1000, 61000, 1000)`,
		} {
			if _, err := c.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
	}()
	s := MustOpen(t, DefaultConfig(path))
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
	over := &persistence.Batch{ResourceID: "r", Epoch: snap.Epoch, Version: 3, Resource: r,
		Buckets: []booking.Bucket{{Key: "a", Capacity: 2, Held: 2, Confirmed: 1}}}
	if err := s.Commit(ctx, over); err == nil {
		t.Fatal("an oversold bucket without allowance was committed")
	}
	r.Allowance = booking.Allowance{Units: 1}
	over.Resource, over.Buckets[0].Allowance = r, 1
	if err := s.Commit(ctx, over); err != nil {
		t.Fatal(err)
	}
	if snap, err = s.Activate(ctx, "r", time.Time{}); err != nil || snap.Buckets[0] != over.Buckets[0] || snap.Resource.Allowance != r.Allowance {
		t.Fatalf("after overbooking: %+v %v", snap, err)
	}
}
