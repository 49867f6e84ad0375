package cmd

import (
	"fmt"
	"strings"
	"time"

	"github.com/allot/allot/api/loadgen"
)

// projectionUtilisation is the CPU share the projection plans for: the curve shows p99
// climbing steeply as the cores saturate, so a plan that keeps the SLO leaves headroom.
const projectionUtilisation = 0.7

// projectionInput is what the projection starts from: one measured step of one system.
type projectionInput struct {
	CPUPerHold  time.Duration // the node's CPU per acknowledged hold (store included when embedded)
	PerResource float64       // holds/s one hot resource sustained within the SLO (the knee)
	Commit      time.Duration // mean store commit
	Batch       float64       // mean holds per commit on one hot resource
	// DBCPUPerCommit is the database's CPU per commit (PostgreSQL); 0 for the embedded store.
	DBCPUPerCommit time.Duration
	Embedded       bool
}

// projected is the projection for N nodes of M cores over K resources.
type projected struct {
	N, M, K               int
	CPU, Resources, Store float64 // the bounds, holds/s
	HoldsPerSec           float64 // the smallest
	Bound                 string  // which one
	NotApplicable         string  // why the row has no projection
	BatchUsed             float64
}

// project is the projection on paper. Its assumptions are the document's list: load spread
// evenly over K resources and N nodes with no forwarding; CPU per hold independent of the
// load's spread; one resource never faster than the measured knee; a commit carries the
// measured batch with one hot resource and one hold otherwise; the database (PostgreSQL) has
// M cores too; the embedded store serves one node and serializes its commits.
func project(in projectionInput, n, m, k int) projected {
	p := projected{N: n, M: m, K: k}
	if in.Embedded && n > 1 {
		p.NotApplicable = "the embedded store serves one node"
		return p
	}
	if in.CPUPerHold <= 0 || in.PerResource <= 0 {
		p.NotApplicable = "not measured"
		return p
	}
	p.BatchUsed = 1
	if k == 1 {
		p.BatchUsed = max(in.Batch, 1)
	}
	p.CPU = float64(n*m) * projectionUtilisation / in.CPUPerHold.Seconds()
	p.Resources = float64(k) * in.PerResource
	switch {
	case in.Embedded && in.Commit > 0:
		p.Store = p.BatchUsed / in.Commit.Seconds()
	case !in.Embedded && in.DBCPUPerCommit > 0:
		p.Store = float64(m) * projectionUtilisation * p.BatchUsed / in.DBCPUPerCommit.Seconds()
	default:
		p.Store = p.CPU // not measured: no bound of its own
	}
	p.HoldsPerSec, p.Bound = p.CPU, "node CPU"
	if p.Resources < p.HoldsPerSec {
		p.HoldsPerSec, p.Bound = p.Resources, "per-resource ceiling"
	}
	if p.Store < p.HoldsPerSec {
		p.HoldsPerSec, p.Bound = p.Store, "store commits"
	}
	return p
}

// projectionRows are the (N nodes, M cores, K resources) projected; the first is this machine.
func (b *bench) projectionRows() [][3]int {
	return [][3]int{{1, b.machine.Cores, 1}, {1, 8, 1}, {1, 8, 1000}, {3, 8, 10_000}, {10, 16, 100_000}}
}

// projectionFrom takes the inputs from the knee of r (the first step when none).
func projectionFrom(r stressResult) (projectionInput, *loadgen.StressStep) {
	s := r.Rep.KneeStep()
	if s == nil {
		s = &r.Rep.Steps[0]
	}
	in := projectionInput{CPUPerHold: s.CPUPerHold(), PerResource: s.Throughput, DBCPUPerCommit: r.DBCPUPerCommit, Embedded: r.Sys.DBURL == ""}
	if s.Node != nil {
		in.Commit, in.Batch = s.Node.CommitMean(), s.Node.BatchMean()
	}
	return in, s
}

// writeStress writes the stress section.
func (b *bench) writeStress(w *strings.Builder) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("## 8. The breaking point (stress)\n\n")
	p("`allot loadgen --scenario stress` ramps closed-loop clients without think time on one hot resource (hold-only, a stock that never sells out), "+
		"%d, %d, %d, ... up to %d, each step on resources of its own and audited, until a step's hold p99 passes the SLO (%s) or more than "+
		"1%% of its requests fail. Around each step it reads the node's `/metrics` (admin listener): process CPU, `allot_commit_seconds`, "+
		"`allot_batch_size`, busy rejections (a full mailbox), rate-limit refusals, refused connections; the first of these limits crossed "+
		"(CPU at %.0f%% of the cores, mean commit at a quarter of the SLO or commit p99 at half of it, any refusal) is named. The node runs with the load rate-limit budgets "+
		"(`clustertest.LoadRateLimitArgs`), as every node of this document; by hand, run it with `--rate-limits off` or such budgets, or the "+
		"curve measures the rate limits. The load generator shares the machine's cores with the node: the CPU column is the node's alone.\n\n",
		stressStart, 2*stressStart, 4*stressStart, stressMaxClients, "100 ms", 85.0)
	for _, r := range b.stress {
		p("### %s\n\n", r.Sys.Label)
		if r.Rep == nil || len(r.Rep.Steps) == 0 {
			p("Not measured: %v\n\n", r.Err)
			continue
		}
		p("```sh\n%s\n```\n\n", r.Command)
		if r.SVG != "" {
			p("![stress curve, %s](%s)\n\n_Plot: `%s` (throughput and p99 against the offered clients; written by the harness)._\n\n", r.Sys.Label, r.SVG, r.SVG)
		}
		p("| clients | holds/s | p50 ms | p99 ms | errors | 429 | node CPU | CPU/hold | commit ms | commit p99 ms | batch | SLO | limits crossed |\n")
		p("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n")
		for _, s := range r.Rep.Steps {
			cpu, perHold, commit, commitP99, batch := "?", "?", "?", "?", "?"
			if n := s.Node; n != nil {
				cpu = fmt.Sprintf("%.0f%%", 100*n.Utilisation())
				perHold = fmt.Sprintf("%.0f µs", float64(s.CPUPerHold())/float64(time.Microsecond))
				commit, batch = ms(float64(n.CommitMean())/float64(time.Millisecond)), fmt.Sprintf("%.1f", n.BatchMean())
				commitP99 = ms(float64(n.CommitP99) / float64(time.Millisecond))
			}
			ok := "kept"
			if !s.WithinSLO {
				ok = "**broken**"
			}
			limits := make([]string, len(s.Limits))
			for i, l := range s.Limits {
				limits[i] = string(l)
			}
			p("| %d | %s | %s | %s | %.2f%% | %d | %s | %s | %s | %s | %s | %s | %s |\n", s.Clients, num(s.Throughput),
				ms(float64(s.P50)/float64(time.Millisecond)), ms(float64(s.P99)/float64(time.Millisecond)), 100*s.ErrorRate, s.Busy,
				cpu, perHold, commit, commitP99, batch, ok, strings.Join(limits, ", "))
		}
		p("\n**%s.**\n\n", r.Rep.Summary())
		if !r.Rep.AuditOK() {
			p("**A step's audit failed**: see the problems below.\n\n")
		}
		b.writeProjection(w, r)
	}
}

// writeProjection writes the projection on paper from r's knee.
func (b *bench) writeProjection(w *strings.Builder, r stressResult) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	in, s := projectionFrom(r)
	within := "within the SLO (the knee)"
	if r.Rep.KneeStep() == nil {
		within = "although this first step already broke the SLO"
	}
	p("**Projection on paper** for N nodes of M cores over K resources, from the step at %d clients: %s µs of node CPU per hold, "+
		"one hot resource at %s holds/s %s, a mean commit of %s ms carrying %.1f holds",
		s.Clients, fmt.Sprintf("%.0f", float64(in.CPUPerHold)/float64(time.Microsecond)), num(in.PerResource), within,
		ms(float64(in.Commit)/float64(time.Millisecond)), in.Batch)
	if !in.Embedded {
		p(", %s µs of PostgreSQL CPU per commit (its processes over the whole ramp, divided by the commits)", fmt.Sprintf("%.0f", float64(in.DBCPUPerCommit)/float64(time.Microsecond)))
	}
	p(".\n\n| N nodes | M cores | K resources | node CPU bound | per-resource bound | store bound | projected holds/s | bound by |\n|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, row := range b.projectionRows() {
		pr := project(in, row[0], row[1], row[2])
		if pr.NotApplicable != "" {
			p("| %d | %d | %d | | | | n/a | %s |\n", pr.N, pr.M, pr.K, pr.NotApplicable)
			continue
		}
		p("| %d | %d | %s | %s | %s | %s | **%s** | %s |\n", pr.N, pr.M, num(float64(pr.K)), num(pr.CPU), num(pr.Resources), num(pr.Store), num(pr.HoldsPerSec), pr.Bound)
	}
	p("\nAssumptions: (1) the nodes plan for %.0f%% of their cores, since the curve shows p99 climbing as the cores saturate; the node CPU "+
		"bound is N × M × %.1f / (CPU per hold); (2) CPU per hold stays what it was on one hot resource, although spread load batches less and "+
		"pays more commits per hold; (3) a resource lives on one node and never goes faster than the measured knee: the per-resource bound is "+
		"K × that; the load is spread evenly over the K resources and lands on their owners (forwarding between nodes is not counted); "+
		"(4) a commit carries the measured batch with one hot resource and one hold otherwise; ", 100*projectionUtilisation, projectionUtilisation)
	if in.Embedded {
		p("the embedded store serializes one node's commits, so its bound is (holds per commit) / (mean commit); it serves one node only; ")
	} else {
		p("PostgreSQL has M cores too and scales to them, so its bound is M × %.1f × (holds per commit) / (its CPU per commit); that CPU was "+
			"measured with commits of %.0f holds (and includes its background work), so with one hold per commit the bound is pessimistic; its disk, "+
			"connections and lock contention are not modelled; ", projectionUtilisation, in.Batch)
	}
	p("(5) the first row is this machine, where the load generator took part of the cores, so it is the check of the model against the "+
		"measured knee rather than a forecast. The figures are from a shared %d-core machine and carry its noise.\n\n", b.machine.Cores)
}
