package sqlite

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/actors/events"
	"github.com/allot/allot/persistence"
)

const backlogResources, backlogEvents = 100, 10

// commitBacklog commits, for each of the backlog's resources, version op+2 with 10 events:
// event i of resource r at op*1,000 s + i s + r ms, so a claim in log order takes one event
// of many resources; stepped, the version's events 0 and 1 come half a second after every
// other event of the op (a clock set back within the commit), so a claim's candidates are
// the resources' later events and its earlier ones are past the claim's read in the log.
func commitBacklog(tb testing.TB, s *Store, op int, stepped bool) {
	tb.Helper()
	base := t0.Add(time.Duration(op) * 1000 * time.Second)
	for r := range backlogResources {
		rid := fmt.Sprintf("res-%03d", r)
		if op == 0 {
			mustCommit(tb, s, createBatch(rid))
		}
		b := &persistence.Batch{ResourceID: rid, Epoch: 1, Version: uint64(op + 2), Resource: res(rid)}
		for i := range backlogEvents {
			h := newHold(rid, fmt.Sprintf("%s-%d-%d", rid, op, i))
			at := base.Add(time.Duration(i)*time.Second + time.Duration(r)*time.Millisecond)
			if stepped && i < 2 {
				at = at.Add(500 * time.Second)
			}
			b.Holds = append(b.Holds, h)
			b.Events = append(b.Events, events.Event{Type: events.HoldPlaced, ResourceID: rid, Version: b.Version, Index: i,
				OccurredAt: at, Subject: "u", Hold: &b.Holds[len(b.Holds)-1]})
		}
		b.Buckets = []booking.Bucket{{Key: "a", Capacity: booking.MaxCapacity, Held: int64((op + 1) * backlogEvents)}}
		mustCommit(tb, s, b)
	}
}

// TestClaimsOfABacklogOverManyResources: claims of 16 from a backlog of 1,000 events over 100
// resources (each claim's read one event of 16 resources, the counts one statement for all of
// them), in log order and with each version's first events after its later ones in the log:
// every claim holds, per resource, the first of its unpublished events, and the claims
// publish every event once.
func TestClaimsOfABacklogOverManyResources(t *testing.T) {
	for _, stepped := range []bool{false, true} {
		t.Run(fmt.Sprintf("stepped=%v", stepped), func(t *testing.T) {
			s := MustOpen(t, Config{})
			commitBacklog(t, s, 0, stepped)
			ctx := context.Background()
			next := map[string]int{} // per resource, its first unpublished index
			now := time.Now()
			for claims, left := 0, backlogResources*backlogEvents; left > 0; claims++ {
				recs, err := s.ClaimEvents(ctx, now, time.Minute, 16)
				if err != nil {
					t.Fatal(err)
				}
				if len(recs) == 0 || len(recs) > 16 {
					t.Fatalf("claim %d: %d events with %d unpublished", claims, len(recs), left)
				}
				byResource := map[string][]int{}
				keys := make([]persistence.EventKey, len(recs))
				for i := range recs {
					byResource[recs[i].ResourceID] = append(byResource[recs[i].ResourceID], recs[i].Index)
					keys[i] = persistence.KeyOf(&recs[i])
				}
				for rid, idx := range byResource {
					slices.Sort(idx)
					for j, i := range idx {
						if i != next[rid]+j {
							t.Fatalf("claim %d: %s's events %v, its first unpublished is %d", claims, rid, idx, next[rid])
						}
					}
					next[rid] += len(idx)
				}
				if err := s.MarkPublished(ctx, keys, now); err != nil {
					t.Fatal(err)
				}
				left -= len(recs)
			}
			if n, err := s.UnpublishedEvents(ctx); err != nil || n != 0 {
				t.Fatalf("unpublished after the claims: %d, %v", n, err)
			}
		})
	}
}

// BenchmarkOutboxClaimBacklog: the relay's claims (64 events) and marks of a backlog of
// 1,000 events over 100 resources (commitBacklog, committed outside the timer), until none is
// left; one op is the whole backlog. Each claim's read holds one event of 64 resources, whose
// counts (persistence.PrefixClaim's check) are what the backlog costs a claim. Reports
// ns/event.
func BenchmarkOutboxClaimBacklog(b *testing.B) {
	for _, stepped := range []bool{false, true} {
		b.Run(fmt.Sprintf("stepped=%v", stepped), func(b *testing.B) {
			s := MustOpen(b, Config{})
			ctx := context.Background()
			now := time.Now()
			op := 0
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				commitBacklog(b, s, op, stepped)
				op++
				b.StartTimer()
				for left := backlogResources * backlogEvents; left > 0; {
					recs, err := s.ClaimEvents(ctx, now, time.Minute, 64)
					if err != nil {
						b.Fatal(err)
					}
					if len(recs) == 0 {
						b.Fatalf("empty claim with %d unpublished", left)
					}
					keys := make([]persistence.EventKey, len(recs))
					for i := range recs {
						keys[i] = persistence.KeyOf(&recs[i])
					}
					if err := s.MarkPublished(ctx, keys, now); err != nil {
						b.Fatal(err)
					}
					left -= len(recs)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*backlogResources*backlogEvents), "ns/event")
		})
	}
}
