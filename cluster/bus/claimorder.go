package bus

import (
	"sort"

	"github.com/allot/allot/actors/events"
)

// inVersionOrder puts each resource's records of one claim in (version, index) order, each
// into the places the resource's records held, so the claim's order across resources is
// kept. A claim comes in log order (occurred time first), which is a resource's version
// order only while the clocks of the nodes that committed its events never stepped back:
// after a failover to a node whose clock is behind, or a wall clock set back, a later version
// can carry an earlier time and would be published before the version it follows.
// Every store's claims keep, per resource, a prefix of its unpublished events (no earlier one
// is left out: persistence.Outbox, PostgreSQL's claimPrefix, the one-node stores'
// persistence.PrefixClaim), so ordering within the claim is all the stream needs.
//
// Invariant: the records are a permutation of the input; per resource, the set of
// positions is unchanged and the records at them ascend by (version, index).
func inVersionOrder(recs []events.Record) {
	if len(recs) < 2 {
		return
	}
	byResource := map[string][]int{}
	sorted := true
	for i := range recs {
		id := recs[i].ResourceID
		if at := byResource[id]; len(at) > 0 && !recordBefore(&recs[at[len(at)-1]], &recs[i]) {
			sorted = false
		}
		byResource[id] = append(byResource[id], i)
	}
	if sorted {
		return // the common case: no clock stepped back
	}
	for _, at := range byResource {
		group := make([]events.Record, len(at))
		for j, i := range at {
			group[j] = recs[i]
		}
		sort.Slice(group, func(a, b int) bool { return recordBefore(&group[a], &group[b]) })
		for j, i := range at {
			recs[i] = group[j]
		}
	}
}

// recordBefore orders one resource's records by (version, index).
func recordBefore(a, b *events.Record) bool {
	if a.Version != b.Version {
		return a.Version < b.Version
	}
	return a.Index < b.Index
}
