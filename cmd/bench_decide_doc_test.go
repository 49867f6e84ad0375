package cmd

import (
	"fmt"
	"strings"
)

// Issue 17's target for the booking model alone: deciding a hold.
const (
	targetDecideNS     = 300.0
	targetDecideAllocs = 2.0
)

// goBenchStat is the median and range of one unit of one Go benchmark (name without the
// -GOMAXPROCS suffix), over the runs of every spec that ran it.
func (b *bench) goBenchStat(name, unit string) (stat, bool) {
	for _, g := range b.goBench {
		for _, r := range g.Results {
			if r.Name == name && len(r.Values[unit]) > 0 {
				return statOf(r.Values[unit]), true
			}
		}
	}
	return stat{}, false
}

// writeDecideTarget writes the row of the booking model's decision: BenchmarkDecidePlaceHoldOnly
// (the decision, against a resource with 1,000 holds) decides the verdict; the decision with
// its Apply (BenchmarkDecidePlaceHold, what the actor runs per hold) is shown beside it.
func (b *bench) writeDecideTarget(w *strings.Builder) {
	ns, ok := b.goBenchStat("BenchmarkDecidePlaceHoldOnly", "ns/op")
	allocs, ok2 := b.goBenchStat("BenchmarkDecidePlaceHoldOnly", "allocs/op")
	if !ok || !ok2 {
		return
	}
	with := ""
	if a, ok := b.goBenchStat("BenchmarkDecidePlaceHold/idempotency-key=false", "ns/op"); ok {
		with = fmt.Sprintf("; with its Apply %s ns", num(a.Med))
	}
	fmt.Fprintf(w, "| booking model: decide a 3-night hold ≤ %.0f ns and ≤ %.0f allocations (Go benchmark, in process) | %s ns (runs %s), %.0f allocations%s | %s |\n",
		targetDecideNS, targetDecideAllocs, num(ns.Med), rangeOf(ns, num), allocs.Med, with,
		yesNo(ns.Med <= targetDecideNS && allocs.Med <= targetDecideAllocs))
}

// decideMissRows: the decision is the model's own work in one goroutine, which no bound of
// the machine explains.
func (b *bench) decideMissRows() []missRow {
	ns, ok := b.goBenchStat("BenchmarkDecidePlaceHoldOnly", "ns/op")
	allocs, ok2 := b.goBenchStat("BenchmarkDecidePlaceHoldOnly", "allocs/op")
	if !ok || !ok2 || ns.Med <= targetDecideNS && allocs.Med <= targetDecideAllocs {
		return nil
	}
	return []missRow{{Target: fmt.Sprintf("booking model: decide a hold ≤ %.0f ns, ≤ %.0f allocations", targetDecideNS, targetDecideAllocs),
		Measured: fmt.Sprintf("%s ns, %.0f allocations", num(ns.Med), allocs.Med),
		Bound: "the model's own work on one core (the event boxed with a copy of the 256-byte hold, four map lookups, validation; " +
			"docs/PERFORMANCE.md) — **not explained by a machine bound**"}}
}
