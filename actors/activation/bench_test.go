package activation

import (
	"fmt"
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
)

// BenchmarkCoreHold measures the core's part of one accepted hold on a one-bucket resource:
// the command decided into a group commit of its own, and the commit's result answered. The
// core is replaced every 1,000 holds (outside the timer). Every commit empties the pipeline:
// up to shareSpecMaxHolds holds the next decision copies the state again; past it, spec keeps
// its own copy (it was copied once per commit, which made the cost per hold grow with the
// holds in memory: 300 µs at 1,000).
//
//	go test -run '^$' -bench BenchmarkCoreHold -benchtime 20000x ./actors/activation
func BenchmarkCoreHold(b *testing.B) {
	for _, withKey := range []bool{false, true} {
		b.Run(fmt.Sprintf("idempotency-key=%v", withKey), func(b *testing.B) {
			const block = 1_000
			cfg := Config{ResourceID: "r", MaxPending: 50, MaxBatch: 64, IdleTimeout: time.Hour, CommitTimeout: 5 * time.Second,
				MinReloadBackoff: 10 * time.Millisecond, MaxReloadBackoff: 80 * time.Millisecond, Lease: 4 * time.Second,
				MaxClockOffset: 500 * time.Millisecond}
			now := time.UnixMilli(1_900_000_000_000).UTC()
			ids, keys := make([]string, block), make([]string, block)
			for i := range ids {
				ids[i] = fmt.Sprintf("h%08d", i)
				if withKey {
					keys[i] = fmt.Sprintf("key-%08d", i)
				}
			}
			fresh := func() *Core {
				c, err := New(cfg)
				if err != nil {
					b.Fatal(err)
				}
				rd := c.Step(now, Start{})
				res := booking.Resource{ID: "r", Name: "R", HoldTTL: time.Hour, CreatedAt: now, UpdatedAt: now}
				c.Step(now, LoadResult{ID: rd.Load.ID, Exists: true, Epoch: 1, Version: 1, Resource: res,
					Buckets: []booking.Bucket{{Key: "all", Capacity: booking.MaxCapacity}}})
				return c
			}
			c := fresh()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				j := i % block
				if j == 0 && i > 0 {
					b.StopTimer()
					c = fresh()
					b.StartTimer()
				}
				now = now.Add(time.Millisecond)
				cmd := &Command{Op: booking.PlaceHold{HoldID: ids[j], IdempotencyKey: keys[j], UserID: "u", Quantity: 1, Buckets: []string{"all"}}, To: j}
				rd := c.Step(now, cmd)
				if len(rd.Commits) != 1 {
					b.Fatalf("hold %d: %d commits, replies %+v", i, len(rd.Commits), rd.Replies)
				}
				rd = c.Step(now, CommitResult{ID: rd.Commits[0].ID, Outcome: Committed})
				if len(rd.Replies) != 1 || rd.Replies[0].Answer.Err != nil {
					b.Fatalf("hold %d: replies %+v", i, rd.Replies)
				}
			}
		})
	}
}

// BenchmarkQuietRead measures what a resource asked less often than QuietAfter pays per
// request (round 15, the trade-off of --quiet-after): its idle check packs the state (3 holds
// with the node's hold ids and scoped idempotency keys), and its next request, a read, unpacks
// it first. quiet=false is the same two steps with QuietAfter 0 (never packed): the
// difference is the pack and the unpack.
//
//	go test -run '^$' -bench BenchmarkQuietRead -benchtime 20000x -benchmem ./actors/activation
func BenchmarkQuietRead(b *testing.B) {
	for _, quiet := range []bool{false, true} {
		b.Run(fmt.Sprintf("quiet=%v", quiet), func(b *testing.B) {
			// Every iteration is 2 s later: the lease, the holds and the idle timeout outlast
			// a million of them, so every read is answered from memory and nothing expires.
			const long = 1000 * time.Hour
			cfg := Config{ResourceID: "mem-20261207-000001", MaxPending: 50, MaxBatch: 64, IdleTimeout: long, CommitTimeout: 5 * time.Second,
				MinReloadBackoff: 10 * time.Millisecond, MaxReloadBackoff: 80 * time.Millisecond, Lease: long,
				MaxClockOffset: 500 * time.Millisecond}
			if quiet {
				cfg.QuietAfter = time.Second
			}
			now := time.UnixMilli(1_900_000_000_000).UTC()
			c, err := New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			rd := c.Step(now, Start{})
			res := booking.Resource{ID: cfg.ResourceID, Name: cfg.ResourceID, HoldTTL: long, CreatedAt: now, UpdatedAt: now}
			c.Step(now, LoadResult{ID: rd.Load.ID, Exists: true, Epoch: 1, Version: 1, Resource: res,
				Buckets: []booking.Bucket{{Key: "all", Capacity: 6}}})
			for i := range 3 {
				key := fmt.Sprintf("s1.%043d", i) // the edge's scoped key: "s1." and 43 base64url characters
				cmd := &Command{Op: booking.PlaceHold{HoldID: fmt.Sprintf("h_2a3bqk7cdx4mzt6wexyvpf3ghsnla%03d", i), IdempotencyKey: key,
					UserID: fmt.Sprintf("u-%d", i), Quantity: 1, Buckets: []string{"all"}}, To: i}
				rd := c.Step(now, cmd)
				c.Step(now, CommitResult{ID: rd.Commits[0].ID, Outcome: Committed})
			}
			b.ReportAllocs()
			for b.Loop() {
				now = now.Add(2 * time.Second)
				c.Step(now, Tick{})
				if c.Quiet() != quiet {
					b.Fatalf("quiet %v after the idle check, want %v", c.Quiet(), quiet)
				}
				rd := c.Step(now, &Command{Op: GetResource{}, To: 0})
				if len(rd.Replies) != 1 || rd.Replies[0].Answer.Err != nil {
					b.Fatalf("replies %+v", rd.Replies)
				}
			}
		})
	}
}
