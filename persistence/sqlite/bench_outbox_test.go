package sqlite

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/actors/events"
	"github.com/allot/allot/persistence"
)

// BenchmarkOutboxRelay: what the relay costs the single writer per event. Each op commits one
// batch of 32 holds with one hold.placed event each, then claims and marks them published as
// the relay does (batches of 64): the events' share of a hold's writer time is the difference
// to events=0.
func BenchmarkOutboxRelay(b *testing.B) {
	for _, withEvents := range []bool{false, true} {
		b.Run(fmt.Sprintf("events=%v", withEvents), func(b *testing.B) {
			s := MustOpen(b, Config{})
			mustCommit(b, s, createBatch("r"))
			ctx := context.Background()
			const holds = 32
			batch := &persistence.Batch{ResourceID: "r", Epoch: 1, Version: 1, Resource: res("r"), Holds: make([]booking.Hold, holds)}
			seq := 0
			now := time.UnixMilli(1_900_000_000_000)
			cpu0 := cpuTime()
			for b.Loop() {
				batch.Version++
				batch.Events = batch.Events[:0]
				for i := range batch.Holds {
					seq++
					batch.Holds[i] = newHold("r", fmt.Sprintf("h%d", seq))
					if withEvents {
						batch.Events = append(batch.Events, events.Event{Type: events.HoldPlaced, ResourceID: "r", Version: batch.Version,
							Index: i, OccurredAt: batch.Holds[i].UpdatedAt, Subject: "u", Hold: &batch.Holds[i]})
					}
				}
				batch.Buckets = []booking.Bucket{{Key: "a", Capacity: booking.MaxCapacity, Held: int64(seq)}}
				mustCommit(b, s, batch)
				for {
					recs, err := s.ClaimEvents(ctx, now, time.Minute, 64)
					if err != nil {
						b.Fatal(err)
					}
					if len(recs) == 0 {
						break
					}
					keys := make([]persistence.EventKey, len(recs))
					for i := range recs {
						keys[i] = persistence.KeyOf(&recs[i])
					}
					if err := s.MarkPublished(ctx, keys, now); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(seq)/b.Elapsed().Seconds(), "holds/s")
			// CPU, not fsync waits (the disk is shared and noisy): what the writer spends.
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(seq), "cpu-ns/hold")
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
