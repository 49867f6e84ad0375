package cmd

import (
	"fmt"
	"strings"
	"time"
)

func (b *bench) writeSection3(w *strings.Builder) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("## 3. In-process ceilings (Go benchmarks)\n\n")
	p("No HTTP: the booking model alone (`actors/booking`), and the resource actor with 64 concurrent requesters each " +
		"waiting for its reply, on the in-memory store, SQLite (WAL, `synchronous=FULL`) and PostgreSQL " +
		"(`BenchmarkHotResourcePostgres`: the actor with group commit, then in the same run `baseline.ClassicHold` — one " +
		"READ COMMITTED transaction per hold: SELECT ... FOR UPDATE, INSERT, UPDATE — at 64 callers on the same server). " +
		"Every hold carries an Idempotency-Key in the PostgreSQL benchmark. The load generator here is goroutines in the " +
		"same process: still the same cores. `VerifyCached` and `VerifyUncached` (`api/auth`) are what checking one " +
		"bearer token costs the edge: a token seen before, and a new one (ES256 signature and claims).\n\n")
	p("| benchmark | metric | median | range | runs |\n|---|---|---:|---:|---:|\n")
	for _, g := range b.goBench {
		if g.Err != nil {
			p("| `%s` | **failed**: %s | | | |\n", g.Command, strings.ReplaceAll(firstLine(g.Err.Error()), "|", "/"))
			continue
		}
		for _, r := range g.Results {
			for _, u := range g.Spec.Units {
				vs := r.Values[u]
				if len(vs) == 0 {
					continue
				}
				s := statOf(vs)
				f := func(v float64) string {
					if v >= 100 {
						return num(v)
					}
					return fmt.Sprintf("%.2f", v)
				}
				p("| %s | %s | **%s** | %s | %d |\n", strings.TrimPrefix(r.Name, "Benchmark"), u, f(s.Med), rangeOf(s, f), s.N)
			}
		}
	}
	if r, ok := b.inProcessRatio(); ok {
		p("\nIn process, on PostgreSQL, the actor sustains **%.1f×** the classic transaction's holds/s (target ≥ %.0f×: %s).\n",
			r.Med, targetInProcessVsClassic, strings.Trim(yesNo(r.Med >= targetInProcessVsClassic), "*"))
	}
	if rate, self, db, ok := b.inProcessCPU(); ok {
		p("Its actor side cost **%.0f µs** of CPU per hold in the test process (`cpu-µs/hold`: the actor, the store's client and "+
			"the calling goroutines, from rusage) and %.0f µs in PostgreSQL's processes (`db-cpu-µs/hold`, from /proc, exited ones included; 0 when not "+
			"readable): %.2f of %d cores busy.\n", self, db, (self+db)*rate/1e6, b.machine.Cores)
	}
	p("\n")
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// ceiling is the holds/s a run's CPU cost per hold allows on all the machine's cores.
func ceiling(r benchRun, cores int) float64 {
	return float64(cores) * r.HoldsPerSec / max(r.ServerCores+r.DBCores+r.LoadgenCores, 0.01)
}

// diagnose names what limited one run, from the CPU accounting and the commit statistics.
func diagnose(r benchRun, cores int, allot bool) string {
	used := max(r.MachineCores, r.ServerCores+r.DBCores+r.LoadgenCores)
	other := max(r.MachineCores-r.ServerCores-r.DBCores-r.LoadgenCores, 0)
	inflight := 0.0
	if r.BatchMean > 0 {
		inflight = r.HoldsPerSec / r.BatchMean * r.CommitMs / 1000
	}
	cpu := fmt.Sprintf("the server used %.2f cores, the database %.2f, the load generator %.2f, other processes %.2f (%.2f of %d)",
		r.ServerCores, r.DBCores, r.LoadgenCores, other, used, cores)
	switch {
	case used >= targetBusyMachine*float64(cores):
		return fmt.Sprintf("**CPU-bound**: the machine's cores were saturated — %s. The load generator, the server and the "+
			"database compete for the same cores, so no side can go faster without taking CPU from another.", cpu)
	case allot && inflight >= 0.8:
		return fmt.Sprintf("**commit-bound**: %.2f batches were in flight on average (%.1f holds per commit, %.2f ms per "+
			"commit; a resource has one at the store, or a second one behind it when the store pipelines) while %s.",
			inflight, r.BatchMean, r.CommitMs, cpu)
	default:
		return fmt.Sprintf("**latency-bound**: neither the cores nor the commit path were saturated — %s; the clients "+
			"wait on round trips.", cpu)
	}
}

// writeEvidence explains the misses with the profiled runs and CPU cost per hold.
func (b *bench) writeEvidence(w *strings.Builder) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("## Where the time goes (profiles), and why targets are missed\n\n")
	p("CPU per answered hold, from the CPU accounting of the timed runs (medians; µs of CPU per hold). The last column "+
		"is the throughput this CPU cost allows if the benchmark had every one of the %d cores to itself: the ceiling of "+
		"this machine for the design, with this load generator on the same cores.\n\n", b.machine.Cores)
	p("| system | clients | server µs/hold | database µs/hold | load generator µs/hold | CPU ceiling, holds/s |\n|---|---:|---:|---:|---:|---:|\n")
	for _, c := range b.cfg.Clients {
		for _, s := range b.allSystems() {
			ser := b.seriesOf(s.Key, c)
			if ser == nil {
				continue
			}
			per := func(f func(benchRun) float64) string {
				return fmt.Sprintf("%.0f", ser.stat(func(r benchRun) float64 { return 1e6 * f(r) / max(r.HoldsPerSec, 1) }).Med)
			}
			ceil := ser.stat(func(r benchRun) float64 { return ceiling(r, b.machine.Cores) })
			p("| %s | %d | %s | %s | %s | %s |\n", s.Label, c, per(func(r benchRun) float64 { return r.ServerCores }),
				per(func(r benchRun) float64 { return r.DBCores }), per(func(r benchRun) float64 { return r.LoadgenCores }), num(ceil.Med))
		}
	}
	p("\n")
	b.writeMisses(w)
	for _, pr := range b.profiles {
		r := pr.Run
		p("### %s, %d clients (profiled run)\n\n", pr.Sys.Label, pr.Clients)
		if r.Err != nil {
			p("The profiled run failed: %v\n\n", r.Err)
			continue
		}
		p("An extra run with a %s CPU profile of the node (from its admin listener, `--admin-addr`), not counted in the tables: %s holds/s, p99 %s ms.\n\n",
			b.cfg.Duration-2*time.Second, num(r.HoldsPerSec), ms(float64(r.P99)/float64(time.Millisecond)))
		p("- %s\n", diagnose(r, b.machine.Cores, pr.Sys.Allot))
		if r.BatchMean > 0 {
			p("- Group commit: %.1f holds per commit on average, %.2f ms per commit, so %s commits/s.\n",
				r.BatchMean, r.CommitMs, num(r.HoldsPerSec/r.BatchMean))
		}
		if len(pr.Shares) > 0 {
			p("- The node's CPU (%s of samples in the profile) by kind of work: ", pr.Total.Round(10*time.Millisecond))
			var parts []string
			for _, s := range pr.Shares[:min(7, len(pr.Shares))] {
				parts = append(parts, fmt.Sprintf("%s %.0f%%", s.Category, 100*s.Share))
			}
			p("%s.\n", strings.Join(parts, ", "))
		}
		if pr.Top != "" {
			p("\n<details><summary>CPU: go tool pprof -top (profile in bin/bench/%s)</summary>\n\n```\n%s\n```\n</details>\n",
				strings.TrimPrefix(r.Profile, b.cfg.Artifacts+"/"), pr.Top)
		}
		if pr.AllocTop != "" {
			p("\n<details><summary>Allocations during the run, which the garbage collector pays for: go tool pprof "+
				"-sample_index=alloc_space -top -base (bin/bench/%s, %s)</summary>\n\n```\n%s\n```\n</details>\n",
				strings.TrimPrefix(r.AllocsBase, b.cfg.Artifacts+"/"), strings.TrimPrefix(r.Allocs, b.cfg.Artifacts+"/"), pr.AllocTop)
		}
		p("\n")
	}
}

// writeMisses states each missed HTTP target with what limited the runs involved.
func (b *bench) writeMisses(w *strings.Builder) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	median := func(s *benchSeries) benchRun {
		// The run whose throughput is the median stands for the series.
		runs := s.ok()
		if len(runs) == 0 {
			return benchRun{Err: fmt.Errorf("no run")}
		}
		med := s.holds().Med
		best := runs[0]
		for _, r := range runs {
			if abs(r.HoldsPerSec-med) < abs(best.HoldsPerSec-med) {
				best = r
			}
		}
		return best
	}
	var said bool
	say := func(format string, args ...any) {
		said = true
		p("- "+format+"\n", args...)
	}
	a, cl := b.seriesOf("allot-pg", targetClassicAt), b.seriesOf("classic", targetClassicAt)
	if a != nil && cl != nil && a.holds().Med < targetVsClassic*cl.holds().Med {
		am, cm := median(a), median(cl)
		ceil := ceiling(am, b.machine.Cores)
		reach := fmt.Sprintf("Allot's CPU cost per hold (node and load generator together) would allow about %s holds/s "+
			"on all %d cores, %.1f× the classic baseline", num(ceil), b.machine.Cores, ceil/max(cl.holds().Med, 1))
		if ceil < targetVsClassic*cl.holds().Med {
			reach += ": over HTTP, with the load generator on the same cores, the target is out of reach on this machine " +
				"whatever the commit path does (section 3 gives the ratio without HTTP)."
		} else {
			reach += ": the cores would allow the target; the runs did not use them (see the diagnosis)."
		}
		say("**(a) ≥ %.0f× (b) at %d clients is missed** (%.1f×). Allot: %s The classic baseline is bound by its row lock, "+
			"one commit at a time (%s holds/s with %.2f server cores and %.2f database cores): the faster the commits of "+
			"this machine, the smaller the gap. %s", targetVsClassic, targetClassicAt, a.holds().Med/max(cl.holds().Med, 1),
			diagnose(am, b.machine.Cores, true)+b.profileNote("allot-pg", targetClassicAt), num(cl.holds().Med), cm.ServerCores, cm.DBCores, reach)
	}
	for _, c := range b.cfg.Clients {
		a, r := b.seriesOf("allot-pg", c), b.seriesOf("redis", c)
		if a != nil && r != nil && a.holds().Med < r.holds().Med {
			say("**(a) ≥ (c) at %d clients is missed** (%s vs %s holds/s). Allot: %s Redis: %s", c, num(a.holds().Med),
				num(r.holds().Med), diagnose(median(a), b.machine.Cores, true)+b.profileNote("allot-pg", c), diagnose(median(r), b.machine.Cores, false))
		}
	}
	for _, c := range b.cfg.Clients {
		e := b.seriesOf("empty", c)
		if e == nil || e.holds().Med == 0 {
			continue
		}
		for _, key := range []string{"allot-pg", "allot-embedded"} {
			if a := b.seriesOf(key, c); a != nil && a.holds().Med < targetVsEmpty*e.holds().Med {
				say("**%s ≥ %.0f%% of the empty handler at %d clients is missed** (%.0f%%). %s The empty handler: %s",
					a.Sys.Label, 100*targetVsEmpty, c, 100*a.holds().Med/e.holds().Med,
					diagnose(median(a), b.machine.Cores, true)+b.profileNote(key, c), diagnose(median(e), b.machine.Cores, false))
			}
		}
	}
	if a := b.seriesOf("allot-pg", targetP99Clients); a != nil && a.p99().Med >= float64(targetP99.Milliseconds()) {
		say("**p99 < %d ms at %d clients is missed** (%s ms). %s A hold waits for the batch in flight and then for its "+
			"own (p50 %s ms here), so p99 follows the commit latency under CPU contention.", targetP99.Milliseconds(), targetP99Clients, ms(a.p99().Med),
			diagnose(median(a), b.machine.Cores, true)+b.profileNote("allot-pg", targetP99Clients),
			ms(a.stat(func(r benchRun) float64 { return float64(r.P50) / float64(time.Millisecond) }).Med))
	}
	if ok, detail := b.zeroOversell(); !ok {
		say("**zero oversell is not shown**: %s. See the audit columns and the problems below.", detail)
	}
	if !said {
		p("Every target of the HTTP sections is met in this run.\n")
	}
	p("\n")
}

func abs(v float64) float64 { return max(v, -v) }

// profileNote summarises where the node's CPU went in the profiled run of key at clients
// ("" without one).
func (b *bench) profileNote(key string, clients int) string {
	for _, pr := range b.profiles {
		if pr.Sys.Key != key || pr.Clients != clients || len(pr.Shares) == 0 {
			continue
		}
		var parts []string
		for _, s := range pr.Shares[:min(4, len(pr.Shares))] {
			parts = append(parts, fmt.Sprintf("%s %.0f%%", s.Category, 100*s.Share))
		}
		return fmt.Sprintf(" In the profiled run of this configuration the node's CPU went to %s (see below).", strings.Join(parts, ", "))
	}
	return ""
}

// writeAuthCost says that the Allot rows ran with authentication on and what verification
// costs per hold: a hold request verifies one bearer token, which after the client's first
// request is a cache hit (BenchmarkVerifyCached), set against the server CPU one hold took in
// the run (server cores / holds per second).
func (b *bench) writeAuthCost(w *strings.Builder) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("\n**Authentication is on** for every Allot row (dev mode, ES256 tokens): each simulated client is a user of its " +
		"own with its own bearer token, and the node verifies the token of every request. The baselines check no tokens.")
	cached, uncached := b.goBenchMedian("BenchmarkVerifyCached", "ns/op"), b.goBenchMedian("BenchmarkVerifyUncached", "ns/op")
	var a *benchSeries
	if len(b.cfg.Clients) > 0 {
		a = b.seriesOf("allot-pg", b.cfg.Clients[0])
	}
	if cached <= 0 || a == nil || len(a.ok()) == 0 {
		p(" (Section 3 measures verification; it did not run here.)\n")
		return
	}
	cores := a.stat(func(r benchRun) float64 { return r.ServerCores }).Med
	perHold := cores / max(a.holds().Med, 1) * 1e9 // server CPU ns per hold
	p(" Verification per hold is a cache hit after a client's first request: %.0f ns (`BenchmarkVerifyCached`, section 3; "+
		"uncached %s µs), against %s µs of server CPU per hold in (a) at %d clients: **%.2f%%** of a hold's cost.\n",
		cached, fmt.Sprintf("%.0f", uncached/1000), fmt.Sprintf("%.0f", perHold/1000), b.cfg.Clients[0], 100*cached/max(perHold, 1))
}

// goBenchMedian is the median of a Go benchmark's metric, or 0 when it did not run.
func (b *bench) goBenchMedian(name, unit string) float64 {
	for _, g := range b.goBench {
		for _, r := range g.Results {
			if r.Name == name && len(r.Values[unit]) > 0 {
				return statOf(r.Values[unit]).Med
			}
		}
	}
	return 0
}
