package persistence

import (
	"slices"

	"github.com/allot/allot/actors/events"
)

// Unpublished is one unpublished outbox row as a one-node store's claim sees it: the record
// (for a held row only its key fields need be set) and whether an unexpired claim holds it.
type Unpublished struct {
	Rec  events.Record
	Held bool
}

// PrefixClaim chooses a claim of at most limit events, so that per resource the claim is a
// prefix of the resource's unpublished events in (version, index) order (docs/EVENTS.md,
// Ordering): for SQLite and memstore, whose claims are made in one process, and for
// PostgreSQL/CockroachDB, which then lock the rows it chose that were not candidates and cut a
// resource at one another relay holds. cands are the unpublished events no claim holds, in log order
// (the order the claim follows); byResource holds, for each resource of cands, its
// unpublished events in (version, index) order, held or not, at least up to its last
// candidate.
//
// Log order is time first, and a resource's events carry their decisions' own times: when a
// clock stepped back, a later event of a resource comes before an earlier one in the log. A
// plain limit in log order can then take the later one and leave the earlier one to the next
// claim, and the relay publishes them out of order. Here a candidate brings the resource's
// earlier unpublished events with it (a claim may hold rows that come after its last
// candidate in the log), and a resource one of whose earlier events another claim holds gives
// nothing more: its events wait for that one. The first candidate of a claim always brings at
// least one event (the first unpublished one of its resource), so a non-empty cands never
// gives an empty claim unless every candidate's resource is held back by another claim.
//
// The result is in log order; the relay publishes each resource's events of one claim in
// version order (cluster/bus, inVersionOrder). Pure: no I/O, cands and byResource unchanged.
func PrefixClaim(cands []events.Record, limit int, byResource map[string][]Unpublished) []events.Record {
	if limit <= 0 || len(cands) == 0 {
		return nil
	}
	next := map[string]int{}     // per resource, how many of byResource's rows the claim took
	blocked := map[string]bool{} // per resource, another claim holds an earlier row
	var out []events.Record
cands:
	for i := range cands {
		c := &cands[i]
		rid := c.ResourceID
		if blocked[rid] {
			continue
		}
		rows := byResource[rid]
		for j := next[rid]; j < len(rows) && !versionAfter(&rows[j].Rec, c); j++ {
			if rows[j].Held {
				blocked[rid] = true
				continue cands
			}
			if len(out) == limit {
				break cands
			}
			out = append(out, rows[j].Rec)
			next[rid] = j + 1
		}
	}
	slices.SortFunc(out, func(a, b events.Record) int {
		ka, kb := KeyOf(&a), KeyOf(&b)
		switch {
		case ka.Less(kb):
			return -1
		case kb.Less(ka):
			return 1
		}
		return 0
	})
	return out
}

// versionAfter reports whether a comes after b in their resource's (version, index) order.
func versionAfter(a, b *events.Record) bool {
	if a.Version != b.Version {
		return a.Version > b.Version
	}
	return a.Index > b.Index
}
