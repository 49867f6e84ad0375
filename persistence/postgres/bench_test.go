package postgres

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

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

// callers is how many goroutines place holds at once in BenchmarkClassicHold.
const callers = 64

// BenchmarkClassicHold: 64 concurrent callers place one-unit holds on one hot resource with
// ClassicHold, one transaction per hold. Reports holds/s, and 40001s and failures per hold.
func BenchmarkClassicHold(b *testing.B) {
	for _, iso := range []pgx.TxIsoLevel{pgx.Serializable, pgx.ReadCommitted} {
		b.Run(string(iso), func(b *testing.B) {
			url := pgtest.MustServer(b).MustDatabase(b)
			var retries retryCounter
			cfg := testConfig(url)
			cfg.MaxConns = 64
			cfg.Tracer = &retries
			s := mustOpen(b, cfg)
			const id = "hot"
			mustCreate(b, s, id, booking.Bucket{Key: "a", Capacity: booking.MaxCapacity})
			ctx := context.Background()
			var seq, failed atomic.Int64
			procs := runtime.GOMAXPROCS(0)
			b.SetParallelism((callers + procs - 1) / procs) // RunParallel runs parallelism × GOMAXPROCS goroutines
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := ClassicHold(ctx, s.pool, iso, benchHold(id, seq.Add(1))); err != nil {
						failed.Add(1)
					}
				}
			})
			elapsed := b.Elapsed()
			ok := float64(int64(b.N) - failed.Load())
			b.ReportMetric(ok/elapsed.Seconds(), "holds/s")
			b.ReportMetric(float64(retries.n.Load())/float64(b.N), "40001/op")
			b.ReportMetric(float64(failed.Load())/float64(b.N), "failed/op")
		})
	}
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
