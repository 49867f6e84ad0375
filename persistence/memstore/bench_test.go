package memstore

import (
	"context"
	"fmt"
	"testing"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

// BenchmarkCommit measures the in-process ceiling: one resource, batches of n new holds.
func BenchmarkCommit(b *testing.B) {
	for _, n := range []int{1, 500} {
		b.Run(fmt.Sprintf("holds=%d", n), func(b *testing.B) {
			s := New()
			ctx := context.Background()
			if err := s.Commit(ctx, &persistence.Batch{ResourceID: "r", Version: 1, Create: true, Resource: res("r"),
				Buckets: []booking.Bucket{{Key: "a", Capacity: booking.MaxCapacity}}}); err != nil {
				b.Fatal(err)
			}
			batch := &persistence.Batch{ResourceID: "r", Epoch: 1, Resource: res("r"), Holds: make([]booking.Hold, n)}
			seq := 0
			b.ReportAllocs()
			for b.Loop() {
				for i := range batch.Holds {
					seq++
					batch.Holds[i] = newHold("r", fmt.Sprintf("h%d", seq))
				}
				batch.Version++
				batch.Buckets = []booking.Bucket{{Key: "a", Capacity: booking.MaxCapacity, Held: int64(seq)}}
				if err := s.Commit(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(seq)/b.Elapsed().Seconds(), "holds/s")
		})
	}
}
