package postgres

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/persistence/pgtest"
)

// TestCommitsOfEverySizeOnOneConnection: on a pool of one connection, commits alternate
// between batches small enough for the connection's own write buffer and batches whose
// messages go through a lent one (commitpipe.go), so that every commit runs on a frontend the
// previous one left; each commit's holds, keys and bucket are stored as sent, and a fenced
// batch after a big one still writes nothing.
func TestCommitsOfEverySizeOnOneConnection(t *testing.T) {
	url := pgtest.MustServer(t).MustDatabase(t)
	cfg := testConfig(url)
	cfg.MaxConns = 1
	s := mustOpen(t, cfg)
	const id = "sizes"
	mustCreate(t, s, id, booking.Bucket{Key: "a", Capacity: booking.MaxCapacity})
	ctx := context.Background()
	snap, err := s.Activate(ctx, id, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	version, held, seq := snap.Version, int64(0), int64(0)
	for _, size := range []int{1, 40, 3, 300, 2, 700, 700, 1, 64} {
		batch := &persistence.Batch{ResourceID: id, Epoch: snap.Epoch, Version: version + 1, Resource: testResource(id)}
		for range size {
			seq++
			h := benchHold(id, seq)
			batch.Holds = append(batch.Holds, h)
			batch.Idempotency = append(batch.Idempotency, booking.IdempotencyEntry{
				Key: h.IdempotencyKey, Fingerprint: booking.Fingerprint(h.Buckets, h.Quantity, h.UserID), HoldID: h.ID, CreatedAt: h.CreatedAt,
			})
		}
		held += int64(size)
		batch.Buckets = []booking.Bucket{{Key: "a", Capacity: booking.MaxCapacity, Held: held}}
		if err := s.Commit(ctx, batch); err != nil {
			t.Fatalf("batch of %d: %v", size, err)
		}
		version++
		for _, h := range []booking.Hold{batch.Holds[0], batch.Holds[size-1]} {
			got, err := s.GetHold(ctx, id, h.ID)
			if err != nil {
				t.Fatalf("batch of %d, hold %s: %v", size, h.ID, err)
			}
			if got.IdempotencyKey != h.IdempotencyKey || got.Quantity != h.Quantity || got.UserID != h.UserID {
				t.Fatalf("batch of %d: stored %+v, sent %+v", size, got, h)
			}
		}
		if size > 100 {
			stale := staleBatch(id, snap.Epoch+7)
			if err := s.Commit(ctx, stale); !errors.Is(err, persistence.ErrFenced) {
				t.Fatalf("stale batch after a batch of %d: err = %v, want ErrFenced", size, err)
			}
		}
	}
	got, err := s.Activate(ctx, id, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Holds) != int(seq) || len(got.Idempotency) != int(seq) || got.Buckets[0].Held != held {
		t.Fatalf("stored %d holds, %d keys, held %d; want %d, %d, %d", len(got.Holds), len(got.Idempotency), got.Buckets[0].Held, seq, seq, held)
	}
}
