package sqlite

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

// BenchmarkCommit: sequential commits of n new holds to one resource on a temp file
// (WAL, synchronous=FULL: one fsync per commit).
func BenchmarkCommit(b *testing.B) {
	for _, n := range []int{1, 500} {
		b.Run(fmt.Sprintf("holds=%d", n), func(b *testing.B) {
			s := MustOpen(b, Config{})
			mustCommit(b, s, createBatch("r"))
			batch := &persistence.Batch{ResourceID: "r", Epoch: 1, Version: 1, Resource: res("r"), Holds: make([]booking.Hold, n)}
			seq := 0
			b.ReportAllocs()
			for b.Loop() {
				for i := range batch.Holds {
					seq++
					batch.Holds[i] = newHold("r", fmt.Sprintf("h%d", seq))
				}
				batch.Version++
				batch.Buckets = []booking.Bucket{{Key: "a", Capacity: booking.MaxCapacity, Held: int64(seq)}}
				mustCommit(b, s, batch)
			}
			b.ReportMetric(float64(seq)/b.Elapsed().Seconds(), "holds/s")
		})
	}
}

// BenchmarkCommitConcurrent: 64 resources, each with one committer (as 64 actors would be),
// committing 1-hold batches; group=1 runs one transaction (one fsync) per commit, group=256
// folds the waiting commits into one transaction.
func BenchmarkCommitConcurrent(b *testing.B) {
	const writers = 64
	for _, group := range []int{1, 256} {
		b.Run(fmt.Sprintf("group=%d", group), func(b *testing.B) {
			s := MustOpen(b, Config{MaxGroup: group})
			for w := range writers {
				mustCommit(b, s, createBatch(fmt.Sprintf("r%d", w)))
			}
			g0, o0 := s.stats.groups.Load(), s.stats.ops.Load()
			b.ResetTimer()
			var wg sync.WaitGroup
			per := b.N/writers + 1
			for w := range writers {
				wg.Go(func() {
					id := fmt.Sprintf("r%d", w)
					for v := range per {
						err := s.Commit(context.Background(), &persistence.Batch{
							ResourceID: id, Epoch: 1, Version: uint64(v + 2), Resource: res(id),
							Buckets: []booking.Bucket{{Key: "a", Capacity: booking.MaxCapacity, Held: int64(v + 1)}},
							Holds:   []booking.Hold{newHold(id, fmt.Sprintf("%s-%d", id, v))},
						})
						if err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			groups, ops := s.stats.groups.Load()-g0, s.stats.ops.Load()-o0
			b.ReportMetric(float64(per*writers)/b.Elapsed().Seconds(), "commits/s")
			b.ReportMetric(float64(ops)/float64(max(groups, 1)), "ops/txn")
		})
	}
}
