package persistence

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/allot/allot/actors/events"
)

// TestPrefixClaimRandomized claims random outboxes as the relay does (claim, then mark what
// it claimed; rows other claims held are released when nothing else is left) and checks every claim:
// at most limit events, in log order, per resource a prefix of its unpublished events with no
// held one before them, and never empty while a resource's first unpublished event is free.
// The resources' times step back at random, within and between versions. Fixed seeds.
func TestPrefixClaimRandomized(t *testing.T) {
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 17))
		t0 := time.UnixMilli(1_900_000_000_000)
		type row struct {
			rec  events.Record
			held bool
			done bool
		}
		var rows []*row
		for r := range 1 + rng.IntN(4) {
			rid := fmt.Sprintf("r%d", r)
			ms := int64(rng.IntN(50))
			for v := uint64(1); v <= uint64(1+rng.IntN(8)); v++ {
				for i := range 1 + rng.IntN(3) {
					ms += int64(rng.IntN(40)) - 12 // steps back now and then
					rec := events.Record{ResourceID: rid, Version: v, Index: i, OccurredAt: t0.Add(time.Duration(ms) * time.Millisecond)}
					rows = append(rows, &row{rec: rec, held: rng.IntN(12) == 0})
				}
			}
		}
		limit := 1 + rng.IntN(6)
		for claims := 0; ; claims++ {
			if claims > 200 {
				t.Fatalf("seed %d: no end after 200 claims", seed)
			}
			var cands []events.Record
			byResource := map[string][]Unpublished{}
			for _, r := range rows {
				if r.done {
					continue
				}
				if !r.held {
					cands = append(cands, r.rec)
				}
				byResource[r.rec.ResourceID] = append(byResource[r.rec.ResourceID], Unpublished{Rec: r.rec, Held: r.held})
			}
			slices.SortFunc(cands, func(a, b events.Record) int { return cmpKey(KeyOf(&a), KeyOf(&b)) })
			if len(cands) == 0 {
				break
			}
			got := PrefixClaim(cands, limit, byResource)
			if len(got) > limit {
				t.Fatalf("seed %d: %d events for a limit of %d", seed, len(got), limit)
			}
			for i := 1; i < len(got); i++ {
				if !KeyOf(&got[i-1]).Less(KeyOf(&got[i])) {
					t.Fatalf("seed %d: claim out of log order: %s then %s", seed, got[i-1].ID, got[i].ID)
				}
			}
			taken := map[EventKey]bool{}
			for i := range got {
				taken[KeyOf(&got[i])] = true
			}
			for rid, us := range byResource {
				// byResource rows are in insertion order, which is version order here.
				end := 0
				for end < len(us) && taken[KeyOf(&us[end].Rec)] {
					end++
				}
				for _, u := range us[end:] {
					if taken[KeyOf(&u.Rec)] {
						t.Fatalf("seed %d: %s's claim is not a prefix of its unpublished events", seed, rid)
					}
				}
			}
			first := byResource[cands[0].ResourceID][0]
			if len(got) == 0 && !first.Held {
				t.Fatalf("seed %d: an empty claim while %s/%d/%d is free", seed, first.Rec.ResourceID, first.Rec.Version, first.Rec.Index)
			}
			if len(got) == 0 {
				for _, r := range rows { // the other claims end: their rows are published
					if r.held {
						r.held, r.done = false, true
					}
				}
				continue
			}
			for _, r := range rows {
				if taken[KeyOf(&r.rec)] {
					r.done = true
				}
			}
		}
	}
}

func cmpKey(a, b EventKey) int {
	switch {
	case a.Less(b):
		return -1
	case b.Less(a):
		return 1
	}
	return 0
}
