package cmd

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/allot/allot/api/loadgen"
	"github.com/allot/allot/cluster/clustertest"
)

// benchSystem is one design under HTTP load: its server processes, and what the load
// generator and the CPU accounting need to know about it.
type benchSystem struct {
	Key   string // short id: "allot-pg"
	Label string // "(a) Allot, 1 node, PostgreSQL"
	Procs []*benchProc
	// DBURL is passed to the load generator so that its audit also checks the tables.
	DBURL string
	// NoAudit is set for the empty handler, which stores nothing.
	NoAudit bool
	// DB is the database's processes for the CPU accounting: pids, and parents whose
	// children count too (a PostgreSQL server's backends). DBName names it.
	DBPids, DBParents []int
	DBName            string
	// Allot is set for Allot nodes: their /metrics carry batch sizes and commit latencies.
	Allot bool
	// KeyFile is the Allot nodes' dev signing key: the load generator mints each client's
	// token with it (authentication is on). Empty for the baselines, which check no tokens.
	KeyFile string
}

func (s *benchSystem) targets() []string {
	out := make([]string, len(s.Procs))
	for i, p := range s.Procs {
		out[i] = p.URL
	}
	return out
}

func (s *benchSystem) serverPids() []int {
	out := make([]int, len(s.Procs))
	for i, p := range s.Procs {
		out[i] = p.PID()
	}
	return out
}

// benchRun is the outcome of one timed load run.
type benchRun struct {
	Round       int
	HoldsPerSec float64
	Holds       int64
	Errors      int64
	Retries     int64
	Busy        int64 // attempts answered 429
	P50, P99    time.Duration
	Max         time.Duration
	AuditOK     bool
	AuditNote   string // why the audit did not run, or its first problems
	Oversold    bool   // the audit found held+confirmed > capacity
	// Cores used during the load phase, measured from /proc between 1s after the start and
	// 1s before the end: the servers, the database, and this process (the load generator).
	ServerCores, DBCores, LoadgenCores float64
	// MachineCores is what the whole machine used over the window; what the three above do
	// not explain is other work on the machine.
	MachineCores float64
	// BatchMean and CommitMs are the mean group-commit size and commit latency on Allot
	// nodes over the same window (0 elsewhere).
	BatchMean, CommitMs float64
	// NodeWithin50 is the share of the run's hold requests the Allot node answered within
	// 50 ms by its own clock (allot_http_request_seconds); CommitP99Ms the commits' p99
	// (allot_commit_seconds): where the client-side p99 comes from (bench_tail_test.go).
	NodeWithin50, CommitP99Ms float64
	// CommitsInFlight is the node's mean commits of the hot resource at the store over the
	// window (Little's law on allot_commit_seconds); Backend what the PostgreSQL backend
	// applying them did meanwhile (bench_wrk_backend_test.go): measured on one-node Allot
	// systems on PostgreSQL only, nil elsewhere (bench_http_backend_test.go).
	CommitsInFlight float64
	Backend         *wrkBackend
	// WALSegments is how many WAL segments PostgreSQL created during an Allot run on it, each
	// zero-filled inside a commit (bench_walwarm_test.go); -1: not known (a checkpoint
	// completed during the run, or it was not measured), 0 elsewhere.
	WALSegments int
	// Profile is the path of a CPU profile of the first server taken during the run, if any;
	// AllocsBase and Allocs are its allocation profiles at the start and the end of the same
	// window (their difference is what the run allocated).
	Profile, AllocsBase, Allocs string
	// Trace is the path of an execution trace of the node taken during the run (profiled
	// runs, ALLOT_BENCH_TRACE), traceAt what was measured around it, and Turnaround the
	// commit loop's turnaround measured from it (bench_sched_test.go).
	Trace      string
	traceAt    traceWindow
	Turnaround *turnaround
	Err        error
}

// benchSeries is every run of one system at one client count.
type benchSeries struct {
	Sys     *benchSystem
	Clients int
	Runs    []benchRun
}

// bigStock is the flash-sale stock of the timed runs: never sold out, so that every run
// measures accepted durable holds for its whole duration.
const bigStock = 1_000_000_000

// loadConfig is the load of one timed run: the flash sale on one hot resource, hold-only (the
// workload every baseline serves), clients closed-loop without think time.
func (b *bench) loadConfig(sys *benchSystem, clients int, runID string) loadgen.Config {
	cfg := loadgen.DefaultConfig()
	cfg.Targets = sys.targets()
	cfg.Scenario = loadgen.ScenarioFlashSale
	cfg.Clients = clients
	cfg.Duration = b.cfg.Duration
	cfg.Stock = bigStock
	cfg.HoldOnly = true
	cfg.RunID = runID
	cfg.Quiet = true
	cfg.DBURL = sys.DBURL
	cfg.NoAudit = sys.NoAudit
	cfg.KeyFile = sys.KeyFile
	return cfg
}

// loadgenCommand is the `allot loadgen` command line equivalent to cfg.
func loadgenCommand(cfg loadgen.Config) string {
	args := []string{"allot loadgen", "--target", strings.Join(cfg.Targets, ","), "--scenario", cfg.Scenario,
		"--clients", fmt.Sprint(cfg.Clients), "--stock", fmt.Sprint(cfg.Stock)}
	if cfg.Duration > 0 {
		args = append(args, "--duration", cfg.Duration.String())
	}
	if cfg.HoldOnly {
		args = append(args, "--hold-only")
	}
	if cfg.DBURL != "" {
		args = append(args, "--db-url", "'"+cfg.DBURL+"'")
	}
	if cfg.NoAudit {
		args = append(args, "--no-audit")
	}
	if cfg.KeyFile != "" {
		args = append(args, "--key-file", "KEY")
	}
	return strings.Join(args, " ")
}

// cpuSnapshot is the CPU time of a system's servers, its database and this process.
type cpuSnapshot struct {
	at                        time.Time
	server, db, self, machine time.Duration
	batchSum, batchCount      float64
	commitSum, commitCnt      float64
	tail                      nodeTail
	metricsOK                 bool
}

func (b *bench) snapshot(ctx context.Context, sys *benchSystem) cpuSnapshot {
	s := cpuSnapshot{at: time.Now(), server: cpuOf(sys.serverPids(), nil), db: cpuOf(sys.DBPids, sys.DBParents), self: selfCPU(), machine: machineBusy()}
	if sys.Allot {
		s.metricsOK = true
		for _, p := range sys.Procs {
			m, err := scrapeMetrics(ctx, p.Admin+"/metrics", "allot_batch_size_sum", "allot_batch_size_count",
				"allot_commit_seconds_sum", "allot_commit_seconds_count")
			if err != nil {
				s.metricsOK = false
				continue
			}
			s.batchSum += m["allot_batch_size_sum"]
			s.batchCount += m["allot_batch_size_count"]
			s.commitSum += m["allot_commit_seconds_sum"]
			s.commitCnt += m["allot_commit_seconds_count"]
			if tail, err := scrapeTail(ctx, p.Admin+"/metrics"); err == nil {
				s.tail = s.tail.add(tail)
			}
		}
	}
	return s
}

// measure runs one timed load run of sys at clients, with CPU accounting over the load phase
// and, when profile is set, a CPU profile of the first server saved under the artifacts.
func (b *bench) measure(t *testing.T, sys *benchSystem, clients, round int, profile bool) benchRun {
	ctx := t.Context()
	runID := fmt.Sprintf("%s-c%d-r%d-%s", sys.Key, clients, round, b.stamp)
	cfg := b.loadConfig(sys, clients, runID)
	run := benchRun{Round: round}

	// The load phase starts when Run has created the resource (milliseconds): the window
	// [start+1s, start+duration-1s] is inside it.
	window := max(b.cfg.Duration-2*time.Second, time.Second)
	var wg sync.WaitGroup
	var before, after cpuSnapshot
	var backend *wrkBackend
	mctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Go(func() {
		if sleepCtx(mctx, time.Second) != nil {
			return
		}
		before = b.snapshot(mctx, sys)
		// The commit loop's backend over the same window (one-node PostgreSQL systems only).
		w := &backendWatch{done: make(chan struct{})}
		close(w.done)
		if sys.Allot && sys.DBURL != "" && len(sys.Procs) == 1 {
			w = watchBackends(mctx, sys.DBURL, sys.Procs[0].PID())
		}
		slept := sleepCtx(mctx, window)
		cost := w.cost()
		if slept == nil {
			after = b.snapshot(mctx, sys)
			after.db -= cost // the sampling's own backend is not the node's database work
		}
		if m, ok, err := w.stop(); ok {
			backend = &m
		} else if err != nil {
			t.Logf("%s %d clients round %d: sampling the backends: %v", sys.Key, clients, round, err)
		}
	})
	if profile && sys.Procs[0].Admin != "" {
		name := fmt.Sprintf("%s-%d", sys.Key, clients)
		run.Profile = filepath.Join(b.cfg.Artifacts, "cpu-"+name+".pprof")
		run.AllocsBase = filepath.Join(b.cfg.Artifacts, "allocs-"+name+"-start.pprof")
		run.Allocs = filepath.Join(b.cfg.Artifacts, "allocs-"+name+"-end.pprof")
		wg.Go(func() {
			if sleepCtx(mctx, time.Second) != nil {
				return
			}
			base := sys.Procs[0].Admin + "/debug/pprof/"
			if err := fetchTo(mctx, base+"allocs", run.AllocsBase); err != nil {
				t.Logf("allocs profile %s: %v", sys.Key, err)
				run.AllocsBase = ""
			}
			if err := fetchTo(mctx, fmt.Sprintf("%sprofile?seconds=%d", base, int(window.Seconds())), run.Profile); err != nil {
				t.Logf("profile %s: %v", sys.Key, err)
				run.Profile = ""
			}
			if err := fetchTo(mctx, base+"allocs", run.Allocs); err != nil {
				t.Logf("allocs profile %s: %v", sys.Key, err)
				run.Allocs = ""
			}
		})
		// ALLOT_BENCH_TRACE (1s by default): an execution trace of the node too, that long from the middle
		// of the profiled run (go tool trace; what makes the tail: GC, scheduling, commits),
		// with what the commit loop's turnaround needs (bench_sched_test.go).
		if d := traceLength(os.Getenv("ALLOT_BENCH_TRACE"), sys.DBURL != ""); d > 0 {
			run.Trace = filepath.Join(b.cfg.Artifacts, "trace-"+name+".out")
			wg.Go(func() {
				run.traceAt = b.traceNode(mctx, t, sys, d, run.Trace)
			})
		}
	}
	var wal0 walFiles
	if sys.Allot && sys.DBURL != "" {
		wal0 = walSnapshot(ctx, sys.DBURL)
	}
	rep, err := loadgen.Run(ctx, cfg, nil)
	wg.Wait()
	if sys.Allot && sys.DBURL != "" {
		run.WALSegments = wal0.created(walSnapshot(ctx, sys.DBURL))
	}
	if err != nil {
		run.Err = err
		t.Logf("%s %d clients round %d: %v", sys.Key, clients, round, err)
		return run
	}
	if !after.at.IsZero() && !before.at.IsZero() {
		d := after.at.Sub(before.at).Seconds()
		run.ServerCores = (after.server - before.server).Seconds() / d
		run.DBCores = (after.db - before.db).Seconds() / d
		run.LoadgenCores = (after.self - before.self).Seconds() / d
		run.MachineCores = (after.machine - before.machine).Seconds() / d
		if before.metricsOK && after.metricsOK {
			if n := after.batchCount - before.batchCount; n > 0 {
				run.BatchMean = (after.batchSum - before.batchSum) / n
			}
			if n := after.commitCnt - before.commitCnt; n > 0 {
				run.CommitMs = 1000 * (after.commitSum - before.commitSum) / n
			}
			run.CommitsInFlight = (after.commitSum - before.commitSum) / d
			run.NodeWithin50 = finite(within(before.tail.holds, after.tail.holds, 0.05))
			run.CommitP99Ms = finite(1000 * loadgen.QuantileBetween(before.tail.commits, after.tail.commits, 0.99))
		}
	}
	run.HoldsPerSec = rep.HoldsPerSec
	run.Holds = rep.Holds
	run.Errors = rep.Errors
	run.Retries = rep.Retries
	run.Busy = rep.StatusCodes[http.StatusTooManyRequests]
	l := rep.Latency[loadgen.OpHold]
	run.P50, run.P99, run.Max = l.P50, l.P99, l.Max
	a := rep.Audit
	run.AuditOK = a.OK
	switch {
	case a.Skipped != "":
		run.AuditNote = a.Skipped
	case !a.OK:
		run.AuditNote = fmt.Sprintf("%d problems: %s", a.ProblemCount, strings.Join(a.Problems[:min(3, len(a.Problems))], "; "))
	}
	for _, p := range a.Problems {
		if strings.HasPrefix(p, "OVERSOLD") {
			run.Oversold = true
		}
	}
	if rep.Errors > 0 {
		t.Logf("%s %d clients round %d: %d errors, e.g. %q", sys.Key, clients, round, rep.Errors, rep.ErrorSamples)
	}
	t.Logf("%s %d clients round %d: %.0f holds/s, p50 %s p99 %s, audit ok %v, cores server %.2f db %.2f loadgen %.2f machine %.2f, batch %.1f, commit %.2fms (p99 %.1fms), node within 50ms %.2f%%, WAL segments created %d",
		sys.Key, clients, round, run.HoldsPerSec, run.P50, run.P99, run.AuditOK, run.ServerCores, run.DBCores, run.LoadgenCores, run.MachineCores, run.BatchMean, run.CommitMs,
		run.CommitP99Ms, 100*run.NodeWithin50, run.WALSegments)
	if m := backend; m != nil && run.ServerCores > 0 {
		run.Backend = m
		t.Logf("%s %d clients round %d: %.2f commits at the store on average; backend: executing %.0f%%, WAL %.0f%%, other %.0f%%, woken %.0f%%, waiting for the node %.0f%% (%d samples); backends on a core %.0f%%, waiting for one %.0f%%; node threads waiting for a core %.2f",
			sys.Key, clients, round, run.CommitsInFlight, 100*m.Executing, 100*m.WAL, 100*m.Other, 100*m.Woken, 100*m.Waiting, m.Samples, 100*m.OnCPU, 100*m.RunQueue, m.NodeRunQueue)
	}
	return run
}

// sellOut is the outcome of the sell-out check of one system.
type sellOut struct {
	Stock, Sold, Holds, SoldOut, Errors int64
	Clients                             int
	Elapsed                             time.Duration
	AuditOK                             bool
	Note                                string
	Err                                 error
}

// Exact reports whether exactly the stock was sold, every client was turned away at the end,
// and the audit agrees (nothing oversold, nothing acknowledged lost).
func (s sellOut) Exact() bool {
	return s.Err == nil && s.AuditOK && s.Sold == s.Stock && s.SoldOut == int64(s.Clients)
}

// sellOutCheck sells a small stock to many clients until every one of them was turned away:
// the check that the design sells exactly its stock under contention (no oversell, nothing
// acknowledged lost), audited like the timed runs.
func (b *bench) sellOutCheck(t *testing.T, sys *benchSystem) sellOut {
	const stock, clients = 2000, 256
	cfg := b.loadConfig(sys, clients, fmt.Sprintf("%s-sellout-%s", sys.Key, b.stamp))
	cfg.Stock = stock
	cfg.Duration = 3 * time.Minute // a safety net: the run ends when the stock is gone
	rep, err := loadgen.Run(t.Context(), cfg, nil)
	s := sellOut{Stock: stock, Clients: clients, Err: err}
	if err != nil {
		return s
	}
	s.Sold, s.Holds, s.SoldOut, s.Errors, s.Elapsed, s.AuditOK = rep.Sold, rep.Holds, rep.SoldOut, rep.Errors, rep.Elapsed, rep.Audit.OK
	if !rep.Audit.OK {
		s.Note = strings.Join(rep.Audit.Problems[:min(3, len(rep.Audit.Problems))], "; ")
	}
	t.Logf("%s sell-out: sold %d of %d, %d holds, %d turned away, audit ok %v, %s", sys.Key, s.Sold, s.Stock, s.Holds, s.SoldOut, s.AuditOK, s.Elapsed)
	return s
}

// waitMembers waits until every node of sys sees n alive members.
func waitMembers(t *testing.T, sys *benchSystem, n int) {
	t.Helper()
	c := clustertest.NewClient(2*time.Second, clustertest.DevIssuer(t, sys.KeyFile))
	deadline := time.Now().Add(time.Minute)
	for _, p := range sys.Procs {
		for {
			if alive, err := c.AliveMembers(t.Context(), p.URL); err == nil && alive == n {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %s does not see %d alive members", sys.Key, p.Name, n)
			}
			time.Sleep(100 * time.Millisecond) // gossip convergence poll
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// twinKey is the key of (a)'s twin, a second build run beside it (ALLOT_BENCH_HTTP_BEFORE_BIN).
const twinKey = "allot-pg-before"

// httpRoundOrder is the order of the systems in round `round` (from 1): as listed, except
// that (a)'s twin runs right next to (a), first of the two in odd rounds and second in even
// ones, as the events section alternates its two nodes. With the twin always last (after the
// empty handler, whose run leaves the machine in another state than (a)'s) its position
// biased before/after comparisons; next to (a) in alternating order, each pair of runs sees
// the same minute of the machine and neither always goes first.
func httpRoundOrder(all []*benchSystem, round int) []*benchSystem {
	var twin *benchSystem
	hasA := false
	for _, s := range all {
		switch s.Key {
		case twinKey:
			twin = s
		case "allot-pg":
			hasA = true
		}
	}
	if twin == nil || !hasA {
		return all
	}
	out := make([]*benchSystem, 0, len(all))
	for _, s := range all {
		switch {
		case s == twin:
		case s.Key == "allot-pg" && round%2 == 1:
			out = append(out, twin, s)
		case s.Key == "allot-pg":
			out = append(out, s, twin)
		default:
			out = append(out, s)
		}
	}
	return out
}

// httpOnly keeps the systems whose keys are listed in only (comma-separated:
// ALLOT_BENCH_HTTP_ONLY, e.g. allot-pg,allot-pg-before,empty for a shorter A/B), and stops
// the others' processes; all of them when only is empty.
func httpOnly(systems []*benchSystem, only string) []*benchSystem {
	if only == "" {
		return systems
	}
	keep := map[string]bool{}
	for _, k := range strings.Split(only, ",") {
		keep[strings.TrimSpace(k)] = true
	}
	var out []*benchSystem
	for _, s := range systems {
		if keep[s.Key] {
			out = append(out, s)
			continue
		}
		for _, p := range s.Procs {
			p.stop()
		}
	}
	return out
}

func TestHTTPRoundOrderAlternatesTheTwin(t *testing.T) {
	sys := func(key string) *benchSystem { return &benchSystem{Key: key} }
	a, cl, e, tw := sys("allot-pg"), sys("classic"), sys("empty"), sys(twinKey)
	all := []*benchSystem{a, cl, e, tw}
	keys := func(ss []*benchSystem) string {
		var k []string
		for _, s := range ss {
			k = append(k, s.Key)
		}
		return strings.Join(k, ",")
	}
	for round, want := range map[int]string{
		1: twinKey + ",allot-pg,classic,empty",
		2: "allot-pg," + twinKey + ",classic,empty",
		3: twinKey + ",allot-pg,classic,empty",
	} {
		if got := keys(httpRoundOrder(all, round)); got != want {
			t.Errorf("round %d: %s, want %s", round, got, want)
		}
	}
	// Without a twin (or without (a)) the order is the list's.
	if got := keys(httpRoundOrder([]*benchSystem{a, cl, e}, 2)); got != "allot-pg,classic,empty" {
		t.Errorf("no twin: %s", got)
	}
	if got := keys(httpOnly([]*benchSystem{a, cl, e}, "allot-pg, empty")); got != "allot-pg,empty" {
		t.Errorf("only: %s", got)
	}
}
