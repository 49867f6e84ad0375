package postgres

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/persistence/pgtest"
)

// TestHoldsCarryTheirIdempotencyEntries: an entry that is all its hold's is written as the
// hold's idem_entry flag, not as an idempotency_keys row; one that is not (another
// fingerprint, another hold, a renewal's) is a row. Activate returns both kinds; a later
// after-image of the hold (a status change, no entry) keeps the flag; an activation's
// idemSince is a floor for the carried entries, as its prune is for the rows. With
// Config.IdempotencyRows every entry is a row, as before schema step 18.
func TestHoldsCarryTheirIdempotencyEntries(t *testing.T) {
	for _, rowsOnly := range []bool{false, true} {
		t.Run(fmt.Sprintf("IdempotencyRows=%v", rowsOnly), func(t *testing.T) { testHoldsCarryEntries(t, rowsOnly) })
	}
}

func testHoldsCarryEntries(t *testing.T, rowsOnly bool) {
	url := pgtest.MustServer(t).MustDatabase(t)
	cfg := testConfig(url)
	cfg.IdempotencyRows = rowsOnly
	s := mustOpen(t, cfg)
	ctx := context.Background()
	mustCreate(t, s, "r1", booking.Bucket{Key: "a", Capacity: 10}, booking.Bucket{Key: "b", Capacity: 10})

	h1, h2, h3 := testHold("r1", "h1", 1, 1, "b", "a"), testHold("r1", "h2", 2, 2, "a"), testHold("r1", "h3", 3, 1, "a")
	h1.IdempotencyKey, h2.IdempotencyKey, h3.IdempotencyKey = "k1", "k2", "k3"
	entry := func(h booking.Hold) booking.IdempotencyEntry {
		return booking.IdempotencyEntry{Key: h.IdempotencyKey, Fingerprint: booking.Fingerprint([]string{"a", "b"}[:len(h.Buckets)], h.Quantity, h.UserID), HoldID: h.ID, CreatedAt: h.CreatedAt}
	}
	e1, e2 := entry(h1), entry(h2)
	e2.Fingerprint = booking.Fingerprint(h2.Buckets, h2.Quantity, h2.UserID)
	e3 := booking.IdempotencyEntry{Key: "k3", Fingerprint: "other", HoldID: h3.ID, CreatedAt: h3.CreatedAt} // not the hold's
	renewal := booking.IdempotencyEntry{Key: "k4", Fingerprint: "extend|h1|u", HoldID: h1.ID, CreatedAt: t0.Add(4 * time.Millisecond)}
	commit := func(v uint64, epoch uint64, holds []booking.Hold, newHolds int, idem ...booking.IdempotencyEntry) {
		t.Helper()
		if err := s.Commit(ctx, &persistence.Batch{ResourceID: "r1", Epoch: epoch, Version: v, Resource: testResource("r1"),
			Holds: holds, NewHolds: newHolds, Idempotency: idem}); err != nil {
			t.Fatal(err)
		}
	}
	commit(2, 1, []booking.Hold{h1, h2, h3}, 3, e1, e2, e3, renewal)

	var rows []string
	r, err := s.pool.Query(ctx, `SELECT idem_key FROM idempotency_keys WHERE resource_id = 'r1' ORDER BY idem_key`)
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
		var k string
		if err := r.Scan(&k); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, k)
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	want := []string{"k3", "k4"}
	if rowsOnly {
		want = []string{"k1", "k2", "k3", "k4"}
	}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("idempotency_keys rows %q, want %q (k1 and k2 carried by their holds)", rows, want)
	}
	all := []booking.IdempotencyEntry{e1, e2, e3, renewal}
	activate := func(epoch uint64, since time.Time, want []booking.IdempotencyEntry) {
		t.Helper()
		snap, err := s.Activate(ctx, "r1", since)
		if err != nil {
			t.Fatal(err)
		}
		if snap.Epoch != epoch {
			t.Fatalf("epoch %d, want %d", snap.Epoch, epoch)
		}
		if !reflect.DeepEqual(snap.Idempotency, want) {
			t.Fatalf("activation since %v: entries\n%+v\nwant\n%+v", since, snap.Idempotency, want)
		}
	}
	activate(2, time.Time{}, all)

	// A status change carries no entry: the flag stays (exact upserts too, on a retry).
	h1.Status, h1.UpdatedAt = booking.StatusConfirmed, t0.Add(time.Second)
	commit(3, 2, []booking.Hold{h1}, 0)
	activate(3, time.Time{}, all)

	// The prune of the entries created before since: rows deleted, carried ones under the floor.
	activate(4, t0.Add(2*time.Millisecond), all[1:])
	activate(5, time.Time{}, all[1:])
}
