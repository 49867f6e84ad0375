package postgres

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/persistence/pgtest"
)

// benchHold is hold number i of resource res: one unit of bucket "a", with an
// Idempotency-Key, as a mobile client would send it.
func benchHold(res string, i int64) booking.Hold {
	h := testHold(res, fmt.Sprintf("h%09d", i), i, 1, "a")
	h.IdempotencyKey = fmt.Sprintf("k%09d", i)
	return h
}

// BenchmarkCommit: one activation commits batches of 1, 64 and 512 one-unit holds (each with
// its idempotency key and the bucket's after-image) to one hot resource, one batch at a time
// as the resource actor does. Reports holds/s.
func BenchmarkCommit(b *testing.B) {
	for _, size := range []int{1, 64, 512} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			url := pgtest.MustServer(b).MustDatabase(b)
			cfg := testConfig(url)
			cfg.MaxConns = 4
			s := mustOpen(b, cfg)
			const id = "hot"
			mustCreate(b, s, id, booking.Bucket{Key: "a", Capacity: booking.MaxCapacity})
			ctx := context.Background()
			snap, err := s.Activate(ctx, id, time.Time{})
			if err != nil {
				b.Fatal(err)
			}
			version, held, seq := snap.Version, int64(0), int64(0)
			b.ResetTimer()
			for b.Loop() {
				batch := &persistence.Batch{ResourceID: id, Epoch: snap.Epoch, Version: version + 1, Resource: testResource(id)}
				for range size {
					seq++
					h := benchHold(id, seq)
					batch.Holds = append(batch.Holds, h)
					batch.Idempotency = append(batch.Idempotency, booking.IdempotencyEntry{
						Key: h.IdempotencyKey, Fingerprint: booking.Fingerprint(h.Buckets, h.Quantity, h.UserID), HoldID: h.ID, CreatedAt: h.CreatedAt,
					})
				}
				batch.NewHolds = size // as the actor says of the holds it places
				held += int64(size)
				batch.Buckets = []booking.Bucket{{Key: "a", Capacity: booking.MaxCapacity, Held: held}}
				if err := s.Commit(ctx, batch); err != nil {
					b.Fatal(err)
				}
				version++
			}
			b.ReportMetric(float64(int64(b.N)*int64(size))/b.Elapsed().Seconds(), "holds/s")
		})
	}
}
