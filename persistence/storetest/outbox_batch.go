package storetest

import (
	"fmt"
	"reflect"
	"time"

	"github.com/allot/allot/actors/events"
	"github.com/allot/allot/persistence"
)

// testOutboxClaimBatches: claims and marks of more events than one statement takes (the SQL
// stores claim and mark a batch with a few multi-row statements). Claimed and marked as the
// relay does, two resources' interleaved events are each claimed once, every claim in log
// order; a mark of more keys than one statement takes marks exactly those.
func testOutboxClaimBatches(f *fixture) {
	ob := f.outbox()
	rids := []string{f.id("ra"), f.id("rb")}
	const perBatch, commits = 50, 3
	// commitHolds commits commits batches of perBatch hold events from version from on.
	commitHolds := func(r int, from uint64) {
		rid := rids[r]
		for c := range commits {
			version := from + uint64(c)
			b := &persistence.Batch{ResourceID: rid, Epoch: 1, Version: version, Resource: f.resource(rid)}
			for i := range perBatch {
				// Times interleave the two resources' events in the log; some share a millisecond.
				ms := (int64(version)*perBatch+int64(i/2))*2 + int64(r)
				h := hold(rid, f.id(fmt.Sprintf("h%d-%d-%d", r, version, i)), f.id("u"), ms, 1, "a")
				b.Holds = append(b.Holds, h)
				b.Events = append(b.Events, holdEvent(events.HoldPlaced, h, version, i))
			}
			f.commit(b)
		}
	}
	for r, rid := range rids {
		f.createWithEvent(rid, 2*perBatch*commits)
		commitHolds(r, 2)
	}
	keyOf := map[string]persistence.EventKey{}
	// logged lists the resources' events, checking that rb has rbEvents.
	logged := func(rbEvents int) map[string][]string {
		f.Helper()
		out := map[string][]string{}
		for _, rid := range rids {
			for _, r := range f.listOf(rid) {
				out[rid] = append(out[rid], r.ID)
				keyOf[r.ID] = persistence.KeyOf(&r)
			}
		}
		if len(out[rids[0]]) != 1+perBatch*commits || len(out[rids[1]]) != rbEvents {
			f.Fatalf("the log has %d and %d events, want %d and %d", len(out[rids[0]]), len(out[rids[1]]), 1+perBatch*commits, rbEvents)
		}
		return out
	}
	want := logged(1 + perBatch*commits)
	now := time.Now().Add(time.Hour) // after every event; see testOutboxClaim
	// claim claims as the relay does: batches of limit, each marked (when mark) before the next.
	claim := func(at time.Time, limit int, mark bool) map[string][]string {
		f.Helper()
		got := map[string][]string{}
		for range 1000 {
			rs, err := ob.ClaimEvents(f.ctx(), at, time.Minute, limit)
			if err != nil {
				f.Fatalf("ClaimEvents: %v", err)
			}
			if len(rs) > limit {
				f.Fatalf("ClaimEvents(limit %d) returned %d", limit, len(rs))
			}
			var keys []persistence.EventKey
			for i := range rs {
				if i > 0 && !persistence.KeyOf(&rs[i-1]).Less(persistence.KeyOf(&rs[i])) {
					f.Fatalf("claim out of log order: %s then %s", rs[i-1].ID, rs[i].ID)
				}
				if _, ok := want[rs[i].ResourceID]; ok {
					got[rs[i].ResourceID] = append(got[rs[i].ResourceID], rs[i].ID)
					keys = append(keys, persistence.KeyOf(&rs[i]))
				}
			}
			if mark {
				if err := ob.MarkPublished(f.ctx(), keys, at); err != nil {
					f.Fatalf("MarkPublished of %d keys: %v", len(keys), err)
				}
			}
			if len(rs) < limit {
				return got
			}
		}
		f.Fatal("ClaimEvents: more than 1000 claims of unpublished events")
		return nil
	}
	if got := claim(now, 97, true); !reflect.DeepEqual(got, want) {
		f.Fatalf("claims of 97:\n got %v\nwant %v", got, want)
	}
	if got := claim(now.Add(2*time.Minute), 97, false); len(got) != 0 {
		f.Fatalf("published events claimed: %v", got)
	}
	// 150 more of rb in one claim; a mark of 140 of them and an unknown key marks those 140.
	commitHolds(1, 2+commits)
	rb := logged(1 + 2*perBatch*commits)[rids[1]][1+perBatch*commits:]
	if got := claim(now, 500, false); !reflect.DeepEqual(got, map[string][]string{rids[1]: rb}) {
		f.Fatalf("claim of 500:\n got %v\nwant %v", got, rb)
	}
	keys := []persistence.EventKey{{OccurredMS: 1, ResourceID: "gone", Version: 1}}
	for _, id := range rb[:140] {
		keys = append(keys, keyOf[id])
	}
	if err := ob.MarkPublished(f.ctx(), keys, now); err != nil {
		f.Fatalf("MarkPublished of %d keys: %v", len(keys), err)
	}
	if got := claim(now.Add(2*time.Minute), 500, true); !reflect.DeepEqual(got, map[string][]string{rids[1]: rb[140:]}) {
		f.Fatalf("claim after marking 140 of 150:\n got %v\nwant %v", got, rb[140:])
	}
}
