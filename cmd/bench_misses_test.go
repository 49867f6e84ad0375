package cmd

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// "Why the misses": every missed target of the summary set against a bound of this machine
// measured in the same run — the cores (CPU cost per hold × holds/s against runtime.NumCPU),
// the disk's fsync and PostgreSQL's commit floor (bench_bounds_test.go), and Little's law for
// latency. A row says "not explained by a machine bound" when the numbers show none: then the
// miss is the design's, not the machine's.

// diskBoundSlack is how close to the floor a commit must be to count as bound by it.
const diskBoundSlack = 1.5

// missRow is one missed target and the bound that does (or does not) explain it.
type missRow struct {
	Target, Measured, Bound string
	Explained               bool
}

// medianRun is the run whose throughput is the series' median.
func (s *benchSeries) medianRun() (benchRun, bool) {
	runs := s.ok()
	if len(runs) == 0 {
		return benchRun{}, false
	}
	med, best := s.holds().Med, runs[0]
	for _, r := range runs {
		if abs(r.HoldsPerSec-med) < abs(best.HoldsPerSec-med) {
			best = r
		}
	}
	return best, true
}

// cpuCheck is what the cores allow one design: used is the machine's busy cores during the
// run, perReq the µs of CPU one request took on this machine (server + database + load
// generator), ceiling the req/s that cost allows on every core.
type cpuCheck struct {
	used, other, perReq, ceiling float64
	cores                        int
}

func (c cpuCheck) saturated() bool { return c.used >= targetBusyMachine*float64(c.cores) }

// starved notes a run whose cores other processes took a quarter or more of: its absolute
// numbers are this machine's at that moment, not the design's (a note, not an explanation:
// the baselines ran under the same load).
func (c cpuCheck) starved() string {
	if c.other < 0.25*float64(c.cores) {
		return ""
	}
	return fmt.Sprintf("; the run was **starved by processes outside the benchmark** (%.2f cores): rerun on a quiet machine", c.other)
}

// thresholdBound explains a target that needs more of the cores, at the run's measured CPU
// per request (server + database + load generator), than the share at which this harness
// counts a run as CPU-saturated (targetBusyMachine): it cannot be reached without the cores
// busier than the harness itself calls saturated, where every process waits for a core
// (docs/PERFORMANCE.md, round 20). The same measured cost as the ceiling's, with the threshold
// in place of every core.
func (c cpuCheck) thresholdBound(need float64) (string, bool) {
	cores, limit := need*c.perReq/1e6, targetBusyMachine*float64(c.cores)
	if c.perReq <= 0 || cores <= limit {
		return "", false
	}
	return fmt.Sprintf("the %s/s needed × %.0f µs = %.2f cores busy, more than the %.2f (%.0f%% of %d) at which this harness counts a "+
		"run as CPU-saturated: **CPU-bound at the saturation threshold** (at this cost per hold the target needs the cores busier "+
		"than saturated)", num(need), c.perReq, cores, limit, 100*targetBusyMachine, c.cores), true
}

func (c cpuCheck) String() string {
	return fmt.Sprintf("%.2f of %d cores busy (%.2f by processes outside the benchmark); %.0f µs of CPU per request (server + database + load generator) allows at most %s/s on %d cores",
		c.used, c.cores, c.other, c.perReq, num(c.ceiling), c.cores)
}

func (b *bench) cpuOfRun(r benchRun) cpuCheck {
	spent := r.ServerCores + r.DBCores + r.LoadgenCores
	c := cpuCheck{used: max(r.MachineCores, spent), other: max(r.MachineCores-spent, 0), cores: b.machine.Cores, perReq: 1e6 * spent / max(r.HoldsPerSec, 1)}
	c.ceiling = ceiling(r, b.machine.Cores)
	return c
}

// commitFloor is the floor under one commit of a store: PostgreSQL's measured commit, or the
// disk's fsync for the embedded store (SQLite in WAL mode with synchronous=FULL syncs its WAL
// once per commit).
func (b *bench) commitFloor(embedded bool) (time.Duration, string) {
	mb := b.bounds
	switch {
	case mb == nil:
		return 0, ""
	case embedded && mb.FsyncP50 > 0:
		return mb.FsyncP50, "the disk's fsync"
	case !embedded && mb.PGCommitP50 > 0:
		return mb.PGCommitP50, "PostgreSQL's one-row commit"
	}
	return 0, ""
}

// throughputBound explains a throughput target missed by run r (of an Allot system when allot)
// that needed `need` holds/s: the cores, or the commit floor.
func (b *bench) throughputBound(r benchRun, need float64, allot, embedded bool) (string, bool) {
	c := b.cpuOfRun(r)
	parts := []string{c.String()}
	explained := false
	if c.ceiling < need {
		parts = append(parts, fmt.Sprintf("below the %s/s needed: **CPU-bound on %d cores** at this cost per hold", num(need), c.cores))
		explained = true
	} else if s, ok := c.thresholdBound(need); ok {
		parts = append(parts, s)
		explained = true
	} else if c.saturated() {
		parts = append(parts, fmt.Sprintf("the cores were saturated, but at this cost they would allow the %s/s needed if the load generator, database and other work took less", num(need)))
	}
	if allot && r.CommitMs > 0 {
		if floor, what := b.commitFloor(embedded); floor > 0 {
			f := float64(floor) / float64(time.Millisecond)
			k := r.CommitMs / f
			parts = append(parts, fmt.Sprintf("a commit took %s ms = %.1f× %s (%s ms)", ms(r.CommitMs), k, what, ms(f)))
			if k <= diskBoundSlack && !explained {
				parts = append(parts, "**bound by the commit floor** (a batch cannot commit faster)")
				explained = true
			}
		}
	}
	return strings.Join(parts, "; ") + c.starved(), explained
}

// missRows lists the missed targets of this run with their bounds.
func (b *bench) missRows() []missRow {
	var rows []missRow
	add := func(target, measured string, bound string, ok bool) {
		if !ok {
			bound += " — **not explained by a machine bound**"
		}
		rows = append(rows, missRow{Target: target, Measured: measured, Bound: bound, Explained: ok})
	}
	// commitLoop adds what the commit loop of a one-node PostgreSQL series measured to a bound
	// the cores and the commit floor did not explain (bench_http_backend_test.go), and its
	// verdict: one backend applying the resource's commits back to back is a machine bound.
	// It is consulted too when only the saturation threshold explained the miss (the rows say
	// what the commit loop measured either way), not when the ceiling or the commit floor did.
	commitLoop := func(a *benchSeries, need float64, bound string, ok bool) (string, bool) {
		r, _ := a.medianRun()
		c := b.cpuOfRun(r)
		if _, threshold := c.thresholdBound(need); ok && (c.ceiling < need || !threshold || strings.Contains(bound, "commit floor")) {
			return bound, ok
		}
		if s, lok, measured := a.commitLoopBound(); measured {
			if v, rq, traced := b.traceVerdict(a); traced && !lok {
				s, lok = strings.TrimSuffix(s, designTail)+"; "+v, rq
			}
			// Before the note of a starved run, which ends the bound.
			starved := c.starved()
			return strings.TrimSuffix(bound, starved) + "; " + s + starved, ok || lok
		}
		return bound, ok
	}
	a, cl := b.seriesOf("allot-pg", targetClassicAt), b.seriesOf("classic", targetClassicAt)
	if a != nil && cl != nil && a.holds().Med < targetVsClassic*cl.holds().Med {
		r, _ := a.medianRun()
		bound, ok := b.throughputBound(r, targetVsClassic*cl.holds().Med, true, false)
		bound, ok = commitLoop(a, targetVsClassic*cl.holds().Med, bound, ok)
		if mb := b.bounds; mb != nil && mb.PGCommitP50 > 0 {
			bound += fmt.Sprintf("; the classic transaction commits one hold at a time behind its row lock: %s holds/s against %s/s for back-to-back one-row commits",
				num(cl.holds().Med), num(float64(time.Second)/float64(mb.PGCommitP50)))
		}
		add(fmt.Sprintf("(a) ≥ %.0f× (b), %d clients", targetVsClassic, targetClassicAt), fmt.Sprintf("%.1f×", a.holds().Med/max(cl.holds().Med, 1)), bound, ok)
	}
	for _, c := range b.cfg.Clients {
		a, rd := b.seriesOf("allot-pg", c), b.seriesOf("redis", c)
		if a == nil || rd == nil || a.holds().Med >= rd.holds().Med {
			continue
		}
		r, _ := a.medianRun()
		bound, ok := b.throughputBound(r, rd.holds().Med, true, false)
		bound, ok = commitLoop(a, rd.holds().Med, bound, ok)
		add(fmt.Sprintf("(a) ≥ (c) Redis, %d clients", c), fmt.Sprintf("%.2f×", a.holds().Med/max(rd.holds().Med, 1)), bound, ok)
	}
	for _, c := range b.cfg.Clients {
		e := b.seriesOf("empty", c)
		if e == nil || e.holds().Med == 0 {
			continue
		}
		for _, key := range []string{"allot-pg", "allot-embedded"} {
			a := b.seriesOf(key, c)
			if a == nil || a.holds().Med >= targetVsEmpty*e.holds().Med {
				continue
			}
			r, _ := a.medianRun()
			bound, ok := b.throughputBound(r, targetVsEmpty*e.holds().Med, true, key == "allot-embedded")
			if key == "allot-pg" {
				bound, ok = commitLoop(a, targetVsEmpty*e.holds().Med, bound, ok)
			}
			if er, okE := e.medianRun(); okE && er.LoadgenCores > er.ServerCores {
				bound += fmt.Sprintf("; the empty handler's own rate is held down by the load generator (%.2f cores against the handler's %.2f)", er.LoadgenCores, er.ServerCores)
			}
			add(fmt.Sprintf("%s ≥ %.0f%% of the empty handler, %d clients", a.Sys.Label, 100*targetVsEmpty, c),
				fmt.Sprintf("%.0f%%", 100*a.holds().Med/e.holds().Med), bound, ok)
		}
	}
	for _, ev := range b.events {
		if ev.Off.holds().N == 0 || ev.On.holds().N == 0 || ev.ratio() >= targetEventsRatio {
			continue
		}
		r, _ := ev.On.medianRun()
		bound, ok := b.throughputBound(r, targetEventsRatio*ev.Off.holds().Med, true, ev.Store != "PostgreSQL")
		add(fmt.Sprintf("events on ≥ %.0f%% of events off (%s)", 100*targetEventsRatio, ev.Store), fmt.Sprintf("%.2f×", ev.ratio()), bound, ok)
	}
	if a := b.seriesOf("allot-pg", targetP99Clients); a != nil && a.p99().Med >= float64(targetP99.Milliseconds()) {
		r, _ := a.medianRun()
		c := b.cpuOfRun(r)
		// Little's law: closed-loop clients without think time wait clients/throughput on
		// average, and p99 is at least the mean.
		floor := float64(targetP99Clients) / max(c.ceiling, 1) * 1000
		bound := fmt.Sprintf("Little's law: %d clients at the CPU ceiling of %s holds/s (%s) wait at least %s ms on average, and p99 ≥ the mean",
			targetP99Clients, num(c.ceiling), c, ms(floor))
		ok := floor >= float64(targetP99.Milliseconds())
		if tail, outside := b.tailOutsideNode(a, c); !ok && outside {
			bound, ok = bound+tail, true
		}
		add(fmt.Sprintf("(a) p99 < %d ms at %d clients", targetP99.Milliseconds(), targetP99Clients), ms(a.p99().Med)+" ms", bound+c.starved(), ok)
	}
	if r, ok := b.inProcessRatio(); ok && r.Med < targetInProcessVsClassic {
		bound, ok := b.inProcessBound(r.Med)
		add(fmt.Sprintf("actor ≥ %.0f× classic in process", targetInProcessVsClassic), fmt.Sprintf("%.1f×", r.Med), bound, ok)
	}
	rows = append(rows, b.wrkMissRows()...)
	rows = append(rows, b.decideMissRows()...) // bench_decide_doc_test.go
	rows = append(rows, b.memoryMissRows()...)
	return rows
}

// inProcessBound explains the in-process miss (actor/classic = ratio) from the Go
// benchmark's CPU accounting and its commit path: CPU-bound when what a hold costs the test
// process and PostgreSQL allows fewer holds/s on every core than the target needs, or when the
// cores were saturated, or when the one PostgreSQL backend that applies the resource's commits
// (in order, one after another: the fence) would need more than its core at the target.
// Otherwise the commit path says what the actor waits on. PostgreSQL pipelines a resource's
// commits (Store.Enqueue: up to two in flight on one connection, the next one already in the
// backend's socket while the previous one commits), so with a commit at the store nearly all
// the time (store-busy ≥ backendSaturated) the resource's one backend never waits for the
// actor: the rate is what that backend does one transaction after another, its CPU per hold
// plus each commit's WAL flush, which the next transaction cannot overlap on the same backend
// (and a second connection would be fenced). That is one core's and one disk's speed: a bound
// of the machine. Below that, the actor waits on its commits: the design's bound.
func (b *bench) inProcessBound(ratio float64) (string, bool) {
	rate, self, db, ok := b.inProcessCPU()
	if !ok || rate <= 0 || self+db <= 0 {
		return "the Go benchmark records no CPU accounting", false
	}
	cores := b.machine.Cores
	used := (self + db) * rate / 1e6
	ceil := float64(cores) * 1e6 / (self + db)
	need := rate * targetInProcessVsClassic / max(ratio, 1e-9)
	s := fmt.Sprintf("the actor side cost %.0f µs of CPU per hold in the test process (actor, store client and the %d calling goroutines) "+
		"and %.0f µs in PostgreSQL: %.2f of %d cores busy at %s holds/s; at that cost %d cores allow at most %s holds/s",
		self, pgCallers, db, used, cores, num(rate), cores, num(ceil))
	switch {
	case ceil < need:
		return s + fmt.Sprintf(", below the %s/s needed: **CPU-bound on %d cores**", num(need), cores), true
	case used >= targetBusyMachine*float64(cores):
		return s + fmt.Sprintf("; the cores were saturated: **CPU-bound on %d cores**", cores), true
	}
	s += fmt.Sprintf(" (%s/s needed), and the cores were not saturated", num(need))
	if db > 0 {
		// The resource's commits apply one after another in one backend: its core bounds them.
		backend := 1e6 / db
		if backend < need {
			return s + fmt.Sprintf("; the resource's commits run one after another in one PostgreSQL backend, whose core allows at most "+
				"%s holds/s at %.0f µs per hold, below the %s/s needed: **bound by one backend's core**", num(backend), db, num(need)), true
		}
		s += fmt.Sprintf("; the one PostgreSQL backend that applies the resource's commits in order would allow %s holds/s at %.0f µs "+
			"per hold (%.0f%% of its core at the target)", num(backend), db, 100*need/backend)
	}
	batch, commitUs, busy, ok := b.inProcessCommits()
	if !ok || batch <= 0 || commitUs <= 0 {
		return s + ": the actor waits on its commits", false
	}
	perHold := 1e6 / rate // µs of the store's time per hold, with a commit there all the time
	flushUs := 0.0        // one WAL flush per commit, as the machine's one-row commit takes it
	if mb := b.bounds; mb != nil && mb.PGCommitP50 > 0 {
		flushUs = float64(mb.PGCommitP50.Microseconds())
	}
	// The backend saturated: a commit always there, and its CPU and one flush per commit make up
	// most of the time each hold took (the rest would be waiting on something else).
	if busy >= backendSaturated && flushUs > 0 && db+flushUs/batch >= backendAccounted*perHold {
		return s + fmt.Sprintf(": a commit of the resource was at the store %.0f%% of the time (PostgreSQL pipelines them: the next "+
			"transaction waits in the backend's socket while the previous one commits), so its one backend applied the resource's "+
			"transactions back to back: %.1f holds a commit, %.1f µs of the backend's time per hold: %.0f µs of CPU, %.1f µs for the "+
			"commit's WAL flush (%.2f ms a commit on this machine, one per %.1f holds) and %.1f µs else. The next transaction cannot "+
			"overlap that flush on the same backend, and on a second connection its snapshot would predate the COMMIT, so the fence "+
			"refuses it: at that cost one backend allows at most %s holds/s, below the %s/s needed: **bound by one backend (its "+
			"core and the WAL flush)**",
			100*busy, batch, perHold, db, flushUs/batch, flushUs/1000, batch, max(perHold-db-flushUs/batch, 0), num(rate/busy), num(need)), true
	}
	// The store was idle part of the time: the backend waited for the actor's next commit.
	return s + fmt.Sprintf(": the actor waits on its commits: a commit carried %.1f holds and took %s µs (the wait behind a "+
		"commit ahead included), and one was at the store %.0f%% of the time; the backend waited for the actor the rest of it, "+
		"and at %.1f µs of the store's time per hold the target needs %.1f: the design's bound (the actor's commit path), not the machine's",
		batch, num(commitUs), 100*busy, perHold*busy, 1e6/need), false
}

// backendSaturated is the share of the in-process run with a commit of the hot resource at
// the store above which its one PostgreSQL backend counts as never waiting for the actor.
const backendSaturated = 0.95

// backendAccounted is the share of the store's time per hold that the backend's CPU and its
// WAL flushes must explain for the in-process miss to count as bound by that backend.
const backendAccounted = 0.8

// pgCallers is how many goroutines place holds at once in BenchmarkHotResourcePostgres
// (actors/resource/bench_pg_test.go).
const pgCallers = 64

// wrkMissRows are the wrk section's missed targets.
func (b *bench) wrkMissRows() []missRow {
	r := b.wrk
	if r == nil {
		return nil
	}
	var rows []missRow
	e, pg, sq := r.reqs("empty"), r.reqs("pg"), r.reqs("sqlite")
	cpu := func(key string) cpuCheck {
		c := cpuCheck{cores: b.machine.Cores}
		c.used = r.stat(key, func(w wrkRun) float64 { return w.MachineCPU.Seconds() / max(w.Seconds, 1e-9) }).Med
		c.perReq = r.stat(key, func(w wrkRun) float64 { return w.perReq(w.NodeCPU + w.DBCPU + w.WrkCPU) }).Med
		c.other = r.stat(key, func(w wrkRun) float64 {
			return max(w.MachineCPU-w.NodeCPU-w.DBCPU-w.WrkCPU, 0).Seconds() / max(w.Seconds, 1e-9)
		}).Med
		c.ceiling = float64(c.cores) * 1e6 / max(c.perReq, 1)
		return c
	}
	explain := func(key string, c cpuCheck, need float64) (string, bool) {
		s := c.String()
		if c.ceiling < need {
			return s + fmt.Sprintf(", below the %s/s needed: **CPU-bound on %d cores**", num(need), c.cores) + c.starved(), true
		}
		// Past the saturation threshold the row still says what its commits measured.
		thr, cpuOK := c.thresholdBound(need)
		if cpuOK {
			s += "; " + thr
		}
		commit := r.stat(key, func(w wrkRun) float64 { return w.CommitMs })
		if floor, what := b.commitFloor(key == "sqlite"); floor > 0 && commit.N > 0 && commit.Med > 0 {
			f := float64(floor) / float64(time.Millisecond)
			s += fmt.Sprintf("; a commit took %s ms (%.1f holds per commit) = %.1f× %s (%s ms)", ms(commit.Med),
				r.stat(key, func(w wrkRun) float64 { return w.BatchMean }).Med, commit.Med/f, what, ms(f))
			if commit.Med/f <= diskBoundSlack && !cpuOK {
				return s + ": **bound by the commit floor**" + c.starved(), true
			}
		}
		// The PostgreSQL row: what its commit loop measured (bench_wrk_backend_test.go).
		if bound, ok, measured := r.backendBound(key); measured {
			return s + "; " + bound + c.starved(), ok || cpuOK
		}
		return s + c.starved(), cpuOK
	}
	row := func(target, measured, bound string, ok bool) {
		if !ok {
			bound += " — **not explained by a machine bound**"
		}
		rows = append(rows, missRow{target, measured, bound, ok})
	}
	if e.N > 0 && pg.N > 0 && pg.Med < targetVsEmpty*e.Med {
		bound, ok := explain("pg", cpu("pg"), targetVsEmpty*e.Med)
		row("wrk: durable hold on PostgreSQL ≥ 50% of the empty handler", fmt.Sprintf("%.0f%%", 100*pg.Med/e.Med), bound, ok)
	}
	if sq.N > 0 && pg.N > 0 && sq.Med < pg.Med {
		bound, ok := explain("sqlite", cpu("sqlite"), pg.Med)
		row("wrk: embedded SQLite ≥ PostgreSQL", fmt.Sprintf("%.2f×", sq.Med/pg.Med), bound, ok)
	}
	if ec, pc := r.nodeUs("empty"), r.nodeUs("pg"); ec.N > 0 && pc.N > 0 && pc.Med > targetCPUVsEmpty*ec.Med {
		row("wrk: node CPU per durable hold ≤ 3× the empty handler's", fmt.Sprintf("%.1f×", pc.Med/ec.Med),
			"CPU per request is the design's cost, not a limit of the machine", false)
	}
	return rows
}

func durMsNum(d time.Duration) string { return ms(float64(d) / float64(time.Millisecond)) }

// writeWhyMisses writes the measured bounds and the table of missed targets against them.
func (b *bench) writeWhyMisses(w *strings.Builder) {
	rows := b.missRows()
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("### Why the misses\n\n")
	if mb := b.bounds; mb != nil {
		p("Bounds of this machine, measured in this run after the HTTP and wrk sections, with no other part of the benchmark running: ")
		var parts []string
		parts = append(parts, fmt.Sprintf("%d cores", b.machine.Cores))
		if mb.FsyncN > 0 {
			parts = append(parts, fmt.Sprintf("an 8 KiB overwrite + fdatasync takes %s ms (p99 %s ms, %d syncs, next to PostgreSQL's data)",
				durMsNum(mb.FsyncP50), durMsNum(mb.FsyncP99), mb.FsyncN))
		}
		if mb.PgTestFsyncUs > 0 {
			parts = append(parts, fmt.Sprintf("`pg_test_fsync` fdatasync %.0f µs per op", mb.PgTestFsyncUs))
		}
		if mb.PGCommitN > 0 {
			parts = append(parts, fmt.Sprintf("PostgreSQL commits a one-row INSERT in %s ms (p99 %s ms, one connection, %d commits), at most %s commits/s back to back",
				durMsNum(mb.PGCommitP50), durMsNum(mb.PGCommitP99), mb.PGCommitN, num(float64(time.Second)/float64(mb.PGCommitP50))))
		}
		p("%s.\n\n", strings.Join(parts, "; "))
	}
	if len(rows) == 0 {
		p("No target is missed in this run.\n\n")
		return
	}
	p("| missed target | measured | bound of this machine, from this run's numbers |\n|---|---|---|\n")
	explained := 0
	for _, r := range rows {
		if r.Explained {
			explained++
		}
		p("| %s | %s | %s |\n", r.Target, r.Measured, strings.ReplaceAll(r.Bound, "|", "/"))
	}
	p("\n%d of %d misses are explained by a measured bound of this machine.\n\n", explained, len(rows))
}

func TestWhyMissesExplainsOnlyWhatTheNumbersShow(t *testing.T) {
	run := func(holds, server, db, loadgen, machine, batch, commit float64) benchRun {
		return benchRun{HoldsPerSec: holds, ServerCores: server, DBCores: db, LoadgenCores: loadgen, MachineCores: machine, BatchMean: batch, CommitMs: commit, AuditOK: true}
	}
	empty := &benchSystem{Key: "empty", Label: "(e) empty", NoAudit: true}
	pg := &benchSystem{Key: "allot-pg", Label: "(a) Allot", Allot: true}
	b := &bench{cfg: benchConfig{Clients: []int{64}}, machine: machineInfo{Cores: 2},
		bounds: &machineBounds{FsyncP50: time.Millisecond, PGCommitP50: 2 * time.Millisecond, PGCommitN: 100, FsyncN: 100}}
	// CPU-bound: 2 cores busy, 200 µs of CPU per hold allows 10,000/s < the 15,000 needed.
	b.series = []*benchSeries{
		{Sys: empty, Clients: 64, Runs: []benchRun{run(30000, 0.8, 0, 1.0, 1.9, 0, 0)}},
		{Sys: pg, Clients: 64, Runs: []benchRun{run(5000, 0.6, 0.2, 0.2, 1.95, 20, 10)}},
	}
	rows := b.missRows()
	if len(rows) != 1 || !rows[0].Explained || !strings.Contains(rows[0].Bound, "CPU-bound") {
		t.Fatalf("CPU-bound miss: %+v", rows)
	}
	// Idle cores and commits far above the floor: no machine bound explains the miss.
	b.series[1].Runs = []benchRun{run(5000, 0.3, 0.1, 0.1, 0.6, 20, 10)}
	rows = b.missRows()
	if len(rows) != 1 || rows[0].Explained || !strings.Contains(rows[0].Bound, "not explained by a machine bound") {
		t.Fatalf("unexplained miss: %+v", rows)
	}
	// The same idle cores with commits at the floor: bound by the commit floor.
	b.series[1].Runs = []benchRun{run(5000, 0.3, 0.1, 0.1, 0.6, 20, 2.5)}
	if rows = b.missRows(); len(rows) != 1 || !rows[0].Explained || !strings.Contains(rows[0].Bound, "commit floor") {
		t.Fatalf("commit-bound miss: %+v", rows)
	}
	var w strings.Builder
	b.writeWhyMisses(&w)
	if !strings.Contains(w.String(), "1 of 1 misses are explained") {
		t.Fatalf("section:\n%s", w.String())
	}
}

func TestWhyMissesNamesTheBackendOnlyWhenSaturated(t *testing.T) {
	empty := &benchSystem{Key: "empty", Label: "(e) empty", NoAudit: true}
	pg := &benchSystem{Key: "allot-pg", Label: "(a) Allot", Allot: true}
	b := &bench{cfg: benchConfig{Clients: []int{256}}, machine: machineInfo{Cores: 2},
		bounds: &machineBounds{FsyncP50: time.Millisecond, PGCommitP50: 400 * time.Microsecond, PGCommitN: 100, FsyncN: 100}}
	// 167 µs per request allows 11,976/s > the 10,000 needed, cores not saturated, commits far
	// above the floor: only the commit loop can explain the miss.
	run := func(waiting float64) benchRun {
		return benchRun{HoldsPerSec: 9000, ServerCores: 0.9, DBCores: 0.3, LoadgenCores: 0.3, MachineCores: 1.6, BatchMean: 100, CommitMs: 10, AuditOK: true,
			CommitsInFlight: 0.98, Backend: &wrkBackend{Samples: 150, Executing: 0.6, WAL: 0.4 - waiting, Waiting: waiting}}
	}
	b.series = []*benchSeries{
		{Sys: empty, Clients: 256, Runs: []benchRun{{HoldsPerSec: 20000, ServerCores: 0.8, LoadgenCores: 0.5, MachineCores: 1.4}}},
		{Sys: pg, Clients: 256, Runs: []benchRun{run(0.3), run(0.2), run(0.25)}},
	}
	rows := b.missRows()
	if len(rows) != 1 || rows[0].Explained || !strings.Contains(rows[0].Bound, "waited 25% of the time for the node's next commit") ||
		!strings.Contains(rows[0].Bound, "not explained by a machine bound") {
		t.Fatalf("backend waiting for the node: %+v", rows)
	}
	// A starved run's note stays last, after the commit loop's numbers.
	for i := range b.series[1].Runs {
		b.series[1].Runs[i].MachineCores = 2
	}
	if rows = b.missRows(); len(rows) != 1 || rows[0].Explained ||
		strings.Index(rows[0].Bound, "starved") < strings.Index(rows[0].Bound, "for the node's next commit") {
		t.Fatalf("starved run: %+v", rows)
	}
	b.series[1].Runs = []benchRun{run(0.02), run(0.03), run(0.01)}
	if rows = b.missRows(); len(rows) != 1 || !rows[0].Explained || !strings.Contains(rows[0].Bound, "bound by one backend") {
		t.Fatalf("backend saturated: %+v", rows)
	}
	// CPU-bound runs keep their verdict; the commit loop is not consulted.
	for i := range b.series[1].Runs {
		b.series[1].Runs[i].ServerCores = 1.4
	}
	if rows = b.missRows(); len(rows) != 1 || !rows[0].Explained || strings.Contains(rows[0].Bound, "backend") {
		t.Fatalf("CPU-bound: %+v", rows)
	}
}
