package chaos

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/allot/allot/cluster/clustertest"
)

// FaultStats counts, for one fault kind, how often it was injected, how many checked
// operations overlapped it (invocation to completion against injection to convergence), how
// many of those had an unknown outcome, and the anomalies whose culprit overlapped it.
type FaultStats struct {
	Injected  int
	Ops       int
	Unknown   int
	Anomalies map[string]int // by class
}

func (s *FaultStats) add(o *FaultStats) {
	s.Injected += o.Injected
	s.Ops += o.Ops
	s.Unknown += o.Unknown
	for k, v := range o.Anomalies {
		if s.Anomalies == nil {
			s.Anomalies = map[string]int{}
		}
		s.Anomalies[k] += v
	}
}

// Report is the outcome of one round.
type Report struct {
	Seed      int64
	Mode      string
	Notes     []string
	Kinds     []FaultKind
	Phase     time.Duration // fault phase as it ran
	Events    []FaultEvent
	Ops       int // recorded
	Checked   int // given to the checker
	ByKind    map[Kind]map[Result]int
	Internal  int // operations that met a 500 on some attempt
	Faults    map[FaultKind]*FaultStats
	Verdict   *Verdict
	Audit     *clustertest.AuditReport
	Stream    string         // the event stream check's summary; empty when the round ran no NATS
	Topology  map[string]int // allot_cluster_members per node after healing
	Failures  []string       // fail the test
	Findings  []string       // reported, do not fail the test (e.g. no convergence in time)
	Replay    string
	Artifacts string

	// Renewals with an Idempotency-Key: distinct keys, ops re-sent with a key (after an
	// unknown outcome, or after an ok), renewals answered Idempotent-Replayed, and renewals
	// of another hold with a key already used (answered idempotency_mismatch, by ByKind).
	KeyedRenewals, ResentRenewals, ReplayedRenewals, ReusedRenewalKeys int

	specs []*ResourceSpec
}

// attribute sets every op's Faults and fills r.Faults.
func (r *Report) attribute(ops []*Op, checked map[*Op]bool) {
	r.Faults = map[FaultKind]*FaultStats{}
	stat := func(k FaultKind) *FaultStats {
		s := r.Faults[k]
		if s == nil {
			s = &FaultStats{Anomalies: map[string]int{}}
			r.Faults[k] = s
		}
		return s
	}
	for _, e := range r.Events {
		stat(e.Kind).Injected++
	}
	for _, op := range ops {
		op.Faults = nil
		seen := map[FaultKind]bool{}
		for _, e := range r.Events {
			if op.Call <= e.Settled && op.Return >= e.Start && !seen[e.Kind] {
				seen[e.Kind] = true
				op.Faults = append(op.Faults, string(e.Kind))
			}
		}
		if !checked[op] {
			continue
		}
		kinds := op.Faults
		if len(kinds) == 0 {
			kinds = []string{string(FaultNone)}
		}
		for _, k := range kinds {
			s := stat(FaultKind(k))
			s.Ops++
			if op.Result == ResultUnknown {
				s.Unknown++
			}
		}
	}
	if r.Verdict == nil {
		return
	}
	for _, rc := range r.Verdict.Resources {
		if !rc.Anomalous() {
			continue
		}
		kinds := []string{"unattributed"}
		if rc.Culprit != nil {
			kinds = rc.Culprit.Faults
			if len(kinds) == 0 {
				kinds = []string{string(FaultNone)}
			}
		}
		for _, k := range kinds {
			stat(FaultKind(k)).Anomalies[rc.Class]++
		}
	}
}

// Failed reports whether the round failed.
func (r *Report) Failed() bool { return len(r.Failures) > 0 }

func (r *Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "chaos round seed %d: %s\n", r.Seed, r.Mode)
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "  note: %s\n", n)
	}
	fmt.Fprintf(&b, "  faults enabled: %v; fault phase %s, %d faults injected\n", r.Kinds, r.Phase.Round(time.Millisecond), len(r.Events))
	for _, e := range r.Events {
		fmt.Fprintf(&b, "    %s\n", e)
	}
	fmt.Fprintf(&b, "  operations: %d recorded, %d checked; %d met a 500 on some attempt\n", r.Ops, r.Checked, r.Internal)
	kinds := make([]string, 0, len(r.ByKind))
	for k := range r.ByKind {
		kinds = append(kinds, string(k))
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(&b, "    %-8s %s\n", k, countsString(r.ByKind[Kind(k)]))
	}
	fmt.Fprintf(&b, "  keyed renewals: %d keys, %d re-sent with their key, %d answered as replays, %d keys reused for another hold (%d answered idempotency_mismatch)\n",
		r.KeyedRenewals, r.ResentRenewals, r.ReplayedRenewals, r.ReusedRenewalKeys, r.ByKind[KindExtend][ResultMismatch])
	if v := r.Verdict; v != nil {
		fmt.Fprintf(&b, "  linearizability (porcupine, per resource): %s in %s\n", v.Result, v.Duration.Round(time.Millisecond))
		for _, rc := range v.Resources {
			fmt.Fprintf(&b, "    %s: %d ops (%d unknown) %s", rc.Resource, rc.Ops, rc.Unknown, rc.Result)
			if rc.Class != "" {
				fmt.Fprintf(&b, " [%s", rc.Class)
				if rc.Explained {
					b.WriteString(", explained by superseded activations")
				}
				b.WriteString("]")
			}
			b.WriteString("\n")
			if rc.Context != "" {
				for _, l := range strings.Split(strings.TrimRight(rc.Context, "\n"), "\n") {
					fmt.Fprintf(&b, "      %s\n", l)
				}
			}
		}
	}
	if r.Audit != nil {
		fmt.Fprintf(&b, "  %s\n", strings.ReplaceAll(r.Audit.String(), "\n", "\n  "))
	}
	if r.Stream != "" {
		fmt.Fprintf(&b, "  events: %s\n", r.Stream)
	}
	b.WriteString(FaultTable(r.Faults))
	for _, f := range r.Findings {
		fmt.Fprintf(&b, "  FINDING: %s\n", f)
	}
	for _, f := range r.Failures {
		fmt.Fprintf(&b, "  FAILURE: %s\n", f)
	}
	if r.Artifacts != "" {
		fmt.Fprintf(&b, "  artifacts: %s\n", r.Artifacts)
	}
	fmt.Fprintf(&b, "  replay: %s\n", r.Replay)
	return b.String()
}

func countsString(m map[Result]int) string {
	keys := make([]string, 0, len(m))
	total := 0
	for k, v := range m {
		keys = append(keys, string(k))
		total += v
	}
	sort.Strings(keys)
	parts := []string{fmt.Sprintf("%5d:", total)}
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[Result(k)]))
	}
	return strings.Join(parts, " ")
}

// FaultTable renders per-fault statistics.
func FaultTable(stats map[FaultKind]*FaultStats) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  %-18s %8s %12s %8s  %s\n", "fault", "injected", "ops checked", "unknown", "anomalies")
	var order []FaultKind
	for _, k := range append(append([]FaultKind(nil), AllFaults...), FaultNone, "unattributed") {
		if stats[k] != nil {
			order = append(order, k)
		}
	}
	for _, k := range order {
		s := stats[k]
		an := "0"
		if len(s.Anomalies) > 0 {
			var parts []string
			n := 0
			for c, v := range s.Anomalies {
				parts = append(parts, fmt.Sprintf("%s=%d", c, v))
				n += v
			}
			sort.Strings(parts)
			an = fmt.Sprintf("%d (%s)", n, strings.Join(parts, " "))
		}
		inj := fmt.Sprint(s.Injected)
		if k == FaultNone || k == "unattributed" {
			inj = "-"
		}
		fmt.Fprintf(&b, "  %-18s %8s %12d %8d  %s\n", k, inj, s.Ops, s.Unknown, an)
	}
	return b.String()
}

// Summary merges the reports of a campaign.
func Summary(reps []*Report) string {
	total := map[FaultKind]*FaultStats{}
	ops, checked, failed := 0, 0, 0
	var seeds []string
	for _, r := range reps {
		ops += r.Ops
		checked += r.Checked
		if r.Failed() {
			failed++
		}
		seeds = append(seeds, fmt.Sprint(r.Seed))
		for k, s := range r.Faults {
			if total[k] == nil {
				total[k] = &FaultStats{}
			}
			total[k].add(s)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "chaos campaign: %d rounds (seeds %s), %d operations recorded, %d checked, %d rounds failed\n",
		len(reps), strings.Join(seeds, ","), ops, checked, failed)
	b.WriteString(FaultTable(total))
	return b.String()
}
