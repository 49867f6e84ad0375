package postgres

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence/pgtest"
)

// TestClassicHoldNoOversell: 16 goroutines race for 10 units with ClassicHold; exactly 10
// holds land, the rest are sold out, and counters match the holds. At both isolation levels.
func TestClassicHoldNoOversell(t *testing.T) {
	url := pgtest.MustServer(t).MustDatabase(t)
	s := mustOpen(t, testConfig(url))
	ctx := context.Background()
	for _, iso := range []pgx.TxIsoLevel{pgx.Serializable, pgx.ReadCommitted} {
		id := "classic-" + string(iso[:4])
		mustCreate(t, s, id, booking.Bucket{Key: "a", Capacity: 10}, booking.Bucket{Key: "b", Capacity: 12})
		const n = 16
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				h := testHold(id, fmt.Sprintf("%s-h%d", id, i), int64(i), 1, "b", "a")
				_, errs[i] = ClassicHold(ctx, s.pool, iso, h)
			})
		}
		wg.Wait()
		ok, sold := 0, 0
		for _, err := range errs {
			switch booking.ErrorCode(err) {
			case "":
				ok++
			case booking.CodeSoldOut:
				sold++
			default:
				t.Errorf("%s: %v", iso, err)
			}
		}
		snap, err := s.Activate(ctx, id, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if ok != 10 || sold != n-10 || len(snap.Holds) != 10 ||
			snap.Buckets[0].Held != 10 || snap.Buckets[1].Held != 10 {
			t.Errorf("%s: %d placed, %d sold out, %d stored, buckets %+v; want 10, 6, 10, held 10/10",
				iso, ok, sold, len(snap.Holds), snap.Buckets)
		}
	}
}

func TestClassicHoldIdempotencyAndValidation(t *testing.T) {
	url := pgtest.MustServer(t).MustDatabase(t)
	s := mustOpen(t, testConfig(url))
	ctx := context.Background()
	mustCreate(t, s, "r", booking.Bucket{Key: "a", Capacity: 10})
	h := testHold("r", "first", 1, 2, "a")
	h.IdempotencyKey = "k"
	if got, err := ClassicHold(ctx, s.pool, pgx.Serializable, h); err != nil || got != "first" {
		t.Fatalf("first: %q %v", got, err)
	}
	replay := h
	replay.ID = "second"
	if got, err := ClassicHold(ctx, s.pool, pgx.Serializable, replay); err != nil || got != "first" {
		t.Fatalf("replay: %q %v, want the first hold's id", got, err)
	}
	replay.Quantity = 3
	if _, err := ClassicHold(ctx, s.pool, pgx.Serializable, replay); booking.ErrorCode(err) != booking.CodeIdempotencyMismatch {
		t.Fatalf("changed request: %v", err)
	}
	for name, bad := range map[string]booking.Hold{
		"unknown bucket": testHold("r", "x1", 1, 1, "nope"),
		"zero quantity":  testHold("r", "x2", 1, 0, "a"),
		"twice":          testHold("r", "x3", 1, 1, "a", "a"),
	} {
		if _, err := ClassicHold(ctx, s.pool, pgx.Serializable, bad); booking.ErrorCode(err) != booking.CodeInvalid {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
	snap, err := s.Activate(ctx, "r", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Holds) != 1 || snap.Buckets[0].Held != 2 || len(snap.Idempotency) != 1 {
		t.Fatalf("state %+v", snap)
	}
}
