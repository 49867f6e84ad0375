package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/persistence/pgtest"
)

var t0 = time.UnixMilli(1_900_000_000_000).UTC()

func testResource(id string) booking.Resource {
	return booking.Resource{ID: id, Name: "Room " + id, HoldTTL: 10 * time.Minute, CreatedAt: t0, UpdatedAt: t0}
}

func testHold(res, id string, ms int64, qty int64, buckets ...string) booking.Hold {
	return booking.Hold{
		ID: id, ResourceID: res, UserID: "u", Buckets: buckets, Quantity: qty, Status: booking.StatusHeld,
		CreatedAt: t0.Add(time.Duration(ms) * time.Millisecond), ExpiresAt: t0.Add(time.Hour), UpdatedAt: t0,
	}
}

func mustCreate(tb testing.TB, s *Store, id string, buckets ...booking.Bucket) {
	tb.Helper()
	err := s.Commit(context.Background(), &persistence.Batch{ResourceID: id, Version: 1, Create: true, Resource: testResource(id), Buckets: buckets})
	if err != nil {
		tb.Fatalf("create %s: %v", id, err)
	}
}

// TestRetriesConverge: many goroutines, each with its own pool, activate one resource and
// commit with the epoch they got, while others race to create new resources. Transactions
// collide (PostgreSQL answers 40001 and cockroach-go re-runs them; the tracer counts it), and
// the outcome is still exact: every activation got a distinct epoch, exactly the
// acknowledged holds are stored, each creation race has one winner whose batch is what is
// stored.
func TestRetriesConverge(t *testing.T) {
	url := pgtest.MustServer(t).MustDatabase(t)
	var retries retryCounter
	const workers, rounds = 8, 6
	stores := make([]*Store, workers)
	for i := range stores {
		cfg := testConfig(url)
		cfg.MaxConns = 2
		cfg.Tracer = &retries
		stores[i] = mustOpen(t, cfg)
	}
	ctx := context.Background()
	const hot = "hot"
	mustCreate(t, stores[0], hot, booking.Bucket{Key: "a", Capacity: 1 << 30})

	type outcome struct {
		epochs   []uint64
		acked    []string
		fenced   []string
		created  []string // resources this worker won
		creation []error
	}
	out := make([]outcome, workers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			s, o := stores[w], &out[w]
			<-start
			for r := range rounds {
				// Every worker races to create resource c<r> with its own bucket capacity.
				cid := fmt.Sprintf("c%d", r)
				err := s.Commit(ctx, &persistence.Batch{ResourceID: cid, Version: 1, Create: true, Resource: testResource(cid),
					Buckets: []booking.Bucket{{Key: "a", Capacity: int64(100 + w)}}})
				switch {
				case err == nil:
					o.created = append(o.created, cid)
				case !errors.Is(err, persistence.ErrFenced):
					o.creation = append(o.creation, err)
				}

				snap, err := s.Activate(ctx, hot, time.Time{})
				if err != nil {
					o.creation = append(o.creation, fmt.Errorf("activate: %w", err))
					continue
				}
				o.epochs = append(o.epochs, snap.Epoch)
				hid := fmt.Sprintf("h-%d-%d", w, r)
				err = s.Commit(ctx, &persistence.Batch{ResourceID: hot, Epoch: snap.Epoch, Version: snap.Version + 1,
					Resource: testResource(hot), Holds: []booking.Hold{testHold(hot, hid, int64(w*100+r), 1, "a")}})
				switch {
				case err == nil:
					o.acked = append(o.acked, hid)
				case errors.Is(err, persistence.ErrFenced):
					o.fenced = append(o.fenced, hid)
				default:
					o.creation = append(o.creation, fmt.Errorf("commit: %w", err))
				}
			}
		})
	}
	close(start)
	wg.Wait()

	seen := map[uint64]bool{}
	winners := map[string]int{}
	acked, fenced := 0, 0
	for w, o := range out {
		for _, err := range o.creation {
			t.Errorf("worker %d: %v", w, err)
		}
		for _, e := range o.epochs {
			if seen[e] {
				t.Errorf("epoch %d handed out twice", e)
			}
			seen[e] = true
		}
		for _, c := range o.created {
			winners[c]++
		}
		for _, h := range o.acked {
			if _, err := stores[0].GetHold(ctx, hot, h); err != nil {
				t.Errorf("acknowledged hold %s: %v", h, err)
			}
		}
		for _, h := range o.fenced {
			if _, err := stores[0].GetHold(ctx, hot, h); !errors.Is(err, persistence.ErrNotFound) {
				t.Errorf("fenced hold %s: err = %v, want ErrNotFound", h, err)
			}
		}
		acked += len(o.acked)
		fenced += len(o.fenced)
	}
	snap, err := stores[0].Activate(ctx, hot, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	// Epoch 1 was the creator's; each successful Activate bumped it exactly once, retries
	// included.
	if want := uint64(1 + len(seen) + 1); snap.Epoch != want {
		t.Errorf("final epoch %d, want %d (1 + %d activations + this one)", snap.Epoch, want, len(seen))
	}
	if len(snap.Holds) != acked {
		t.Errorf("%d holds stored, %d acknowledged", len(snap.Holds), acked)
	}
	for r := range rounds {
		cid := fmt.Sprintf("c%d", r)
		if winners[cid] != 1 {
			t.Errorf("%s created by %d workers, want 1", cid, winners[cid])
			continue
		}
		var winner int
		for w, o := range out {
			for _, c := range o.created {
				if c == cid {
					winner = w
				}
			}
		}
		cs, err := stores[0].Activate(ctx, cid, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if len(cs.Buckets) != 1 || cs.Buckets[0].Capacity != int64(100+winner) || cs.Epoch != 2 {
			t.Errorf("%s: epoch %d buckets %+v, want the winner's (worker %d) capacity %d at epoch 2", cid, cs.Epoch, cs.Buckets, winner, 100+winner)
		}
	}
	n := retries.n.Load()
	t.Logf("%d activations, %d acknowledged, %d fenced commits; %d serialization failures retried", len(seen), acked, fenced, n)
	if n == 0 {
		t.Error("no SQLSTATE 40001 seen: the test did not exercise the retry path")
	}
	if acked == 0 {
		t.Error("no commit succeeded")
	}
}
