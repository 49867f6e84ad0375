package storetest

import (
	"fmt"
	"slices"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/actors/events"
	"github.com/allot/allot/persistence"
)

// testOutboxClaimOrder: a claim holds, per resource, a prefix of the resource's unpublished
// events in (version, index) order, also when the resource's events are not in that order in
// the log (a clock that stepped back between two commits, or within one: events carry their
// decisions' own times). The relay publishes claim after claim, each claim's events of one
// resource in version order, so this is what keeps a resource's events in version order in
// the stream (docs/EVENTS.md, Ordering). A claim that is a plain limit in log order takes a
// later event and leaves an earlier one of the same resource to the next claim.
//
// Resource r: v1 at 0 ms, v2 at 300, v3 at 100, v4 with index 0 at 400 and index 1 at 50, v5
// at 500; resource q: v1 at 0, v2..v6 at 150, 175, 200, 225, 250; resource s: v1 at 600, v2
// at 650, v3..v7 at -50, -40, -30, -20, -10 (a clock set back by more than a claim's worth of
// s's events: s's later versions come first in the log). In the log: s3 s4 s5 s6 s7 r1 q1 r4/1
// r3 q2 q3 q4 q5 q6 r2 r4/0 r5 s1 s2. The times are before every other subtest's (an hour
// before base), so these events come first in the log of a shared database. Claimed as the
// relay does (each claim marked before the next) with limits from 1 up. A claim must also
// make progress: while any of these events is unpublished and no other claim holds one, a
// claim that takes none of them would be taken again and again, and the relay would stall
// with acknowledged events never delivered (a claim rule that drops a resource's later events
// instead of bringing its earlier ones in did, on PostgreSQL, at every limit here but 100).
func testOutboxClaimOrder(f *fixture) {
	ob := f.outbox()
	t0 := base.Add(-time.Hour)
	tm := func(ms int64) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	now := time.Now().Add(time.Hour) // after every event; see testOutboxClaim
	for _, limit := range []int{1, 2, 3, 4, 7, 100} {
		r, q, sr := f.id(fmt.Sprintf("o%d-r", limit)), f.id(fmt.Sprintf("o%d-q", limit)), f.id(fmt.Sprintf("o%d-s", limit))
		// unpublished lists each resource's events the test has not marked, in version order.
		unpublished := map[string][]string{}
		commitAt := func(rid string, version uint64, times ...int64) {
			f.Helper()
			b := &persistence.Batch{ResourceID: rid, Epoch: 1, Version: version, Resource: f.resource(rid)}
			if version == 1 {
				res := f.resource(rid)
				b.Create, b.Epoch, b.Buckets = true, 0, []booking.Bucket{{Key: "a", Capacity: 100}}
				b.Events = []events.Event{{Type: events.ResourceCreated, ResourceID: rid, Version: 1, OccurredAt: tm(times[0]),
					Resource: &res, Buckets: b.Buckets}}
			} else {
				for i, ms := range times {
					h := hold(rid, fmt.Sprintf("%s-h%d-%d", rid, version, i), f.id("u"), 0, 1, "a")
					e := holdEvent(events.HoldPlaced, h, version, i)
					e.OccurredAt = tm(ms)
					b.Holds, b.Events = append(b.Holds, h), append(b.Events, e)
				}
			}
			f.commit(b)
			for i := range b.Events {
				unpublished[rid] = append(unpublished[rid], events.ID(rid, version, i))
			}
		}
		commitAt(sr, 1, 600)
		commitAt(sr, 2, 650)
		for v, ms := range []int64{-50, -40, -30, -20, -10} {
			commitAt(sr, uint64(3+v), ms)
		}
		commitAt(r, 1, 0)
		commitAt(q, 1, 0)
		commitAt(r, 2, 300)
		commitAt(r, 3, 100)
		commitAt(r, 4, 400, 50)
		commitAt(r, 5, 500)
		for v, ms := range []int64{150, 175, 200, 225, 250} {
			commitAt(q, uint64(2+v), ms)
		}
		mine := map[string]bool{r: true, q: true, sr: true}
		for claims := 0; len(unpublished[r])+len(unpublished[q])+len(unpublished[sr]) > 0; claims++ {
			if claims == 50 {
				f.Fatalf("limit %d: after 50 claims, %v are still unpublished", limit, unpublished)
			}
			rs, err := ob.ClaimEvents(f.ctx(), now, time.Minute, limit)
			if err != nil {
				f.Fatalf("ClaimEvents: %v", err)
			}
			if len(rs) > limit {
				f.Fatalf("ClaimEvents(limit %d) returned %d", limit, len(rs))
			}
			got := map[string][]events.Record{}
			var keys []persistence.EventKey
			for i := range rs {
				if i > 0 && !persistence.KeyOf(&rs[i-1]).Less(persistence.KeyOf(&rs[i])) {
					f.Fatalf("claim out of log order: %s then %s", rs[i-1].ID, rs[i].ID)
				}
				if mine[rs[i].ResourceID] { // other rows (earlier runs' on a shared database) stay claimed
					got[rs[i].ResourceID] = append(got[rs[i].ResourceID], rs[i])
					keys = append(keys, persistence.KeyOf(&rs[i]))
				}
			}
			for rid, recs := range got {
				slices.SortFunc(recs, func(a, b events.Record) int {
					if a.Version != b.Version {
						return int(a.Version) - int(b.Version)
					}
					return a.Index - b.Index
				})
				var ids []string
				for _, rec := range recs {
					ids = append(ids, rec.ID)
				}
				want := unpublished[rid][:min(len(ids), len(unpublished[rid]))]
				if !slices.Equal(ids, want) {
					f.Fatalf("limit %d, claim %d: %s's events %v, not the first of its unpublished %v (published in this order, "+
						"the stream would carry them out of version order)", limit, claims, rid, ids, unpublished[rid])
				}
				unpublished[rid] = unpublished[rid][len(ids):]
			}
			if len(keys) == 0 {
				// Nothing else holds these events: the next claim would be the same.
				f.Fatalf("limit %d, claim %d: none of the unpublished %v (%d other rows): the relay would stall",
					limit, claims, unpublished, len(rs))
			}
			if err := ob.MarkPublished(f.ctx(), keys, now); err != nil {
				f.Fatalf("MarkPublished: %v", err)
			}
		}
	}
}
