package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/allot/allot/api/baseline"
	"github.com/allot/allot/cluster/clustertest"
	"github.com/allot/allot/persistence/pgtest"
)

// benchConfig is what `make bench` can tune through the environment (ALLOT_BENCH_*).
type benchConfig struct {
	Bin string // ALLOT_BENCH_BIN: the allot binary; default: built by the test
	// BaselineBin is ALLOT_BENCH_BASELINE_BIN: the allot-bench binary that serves the
	// competitors (cmd/allot-bench; allot does not link them); default: built by the test.
	BaselineBin string
	Out         string        // ALLOT_BENCH_OUT: the document written; default docs/BENCHMARKS.md
	Artifacts   string        // ALLOT_BENCH_ARTIFACTS: logs, profiles, raw results; default bin/bench
	Duration    time.Duration // ALLOT_BENCH_DURATION: one timed HTTP run; default 10s
	Runs        int           // ALLOT_BENCH_RUNS: runs per configuration (and -count); default 3
	Clients     []int         // ALLOT_BENCH_CLIENTS: default 64,256
	// Resources, HoldsPer and IdleTimeout shape the memory benchmark
	// (ALLOT_BENCH_RESOURCES, default 100000; 3 holds each; ALLOT_BENCH_IDLE_TIMEOUT, 7m: more
	// than the fill of 100,000 resources takes, 2 to 5.6 minutes on the 2-core machines measured
	// so far, so that all are active when measured; a fill over it makes the sample at rest
	// not count).
	Resources   int
	HoldsPer    int
	IdleTimeout time.Duration
	// MemoryActiveOnly (ALLOT_BENCH_MEMORY_ACTIVE_ONLY=1) ends the memory benchmark after the
	// sample at rest (no wait for passivation): for comparing the RSS per active resource of
	// builds or GC settings side by side in less time.
	MemoryActiveOnly bool
	// Sections run (ALLOT_BENCH_SECTIONS): http, cluster, go, memory, events, notify, stress,
	// wrk (bench_wrk_test.go); default all; events-pg (the events section on PostgreSQL) and
	// memory-events-off (the memory section with --events off) only when named. The machine's bounds (bench_bounds_test.go) are measured with http or wrk.
	Sections map[string]bool
}

func benchConfigFromEnv(t *testing.T, root string) benchConfig {
	c := benchConfig{
		Bin:         os.Getenv("ALLOT_BENCH_BIN"),
		BaselineBin: os.Getenv("ALLOT_BENCH_BASELINE_BIN"),
		Out:         envOr("ALLOT_BENCH_OUT", filepath.Join(root, "docs", "BENCHMARKS.md")),
		Artifacts:   envOr("ALLOT_BENCH_ARTIFACTS", filepath.Join(root, "bin", "bench")),
		Duration:    10 * time.Second,
		Runs:        3,
		Clients:     []int{64, 256},
		Resources:   100_000,
		HoldsPer:    3,
		IdleTimeout: 7 * time.Minute,
		Sections:    map[string]bool{"http": true, "cluster": true, "go": true, "memory": true, "events": true, "notify": true, "stress": true, "wrk": true},
	}
	var err error
	if v := os.Getenv("ALLOT_BENCH_DURATION"); v != "" {
		if c.Duration, err = time.ParseDuration(v); err != nil || c.Duration < 3*time.Second {
			t.Fatalf("ALLOT_BENCH_DURATION %q: want a duration of at least 3s", v)
		}
	}
	c.MemoryActiveOnly = os.Getenv("ALLOT_BENCH_MEMORY_ACTIVE_ONLY") == "1"
	if v := os.Getenv("ALLOT_BENCH_IDLE_TIMEOUT"); v != "" {
		if c.IdleTimeout, err = time.ParseDuration(v); err != nil || c.IdleTimeout <= 0 {
			t.Fatalf("ALLOT_BENCH_IDLE_TIMEOUT %q: want a positive duration", v)
		}
	}
	for name, dst := range map[string]*int{"ALLOT_BENCH_RUNS": &c.Runs, "ALLOT_BENCH_RESOURCES": &c.Resources} {
		if v := os.Getenv(name); v != "" {
			if *dst, err = strconv.Atoi(v); err != nil || *dst < 1 {
				t.Fatalf("%s %q: want a positive integer", name, v)
			}
		}
	}
	if v := os.Getenv("ALLOT_BENCH_CLIENTS"); v != "" {
		c.Clients = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				t.Fatalf("ALLOT_BENCH_CLIENTS %q: want comma-separated positive integers", v)
			}
			c.Clients = append(c.Clients, n)
		}
	}
	if v := os.Getenv("ALLOT_BENCH_SECTIONS"); v != "" {
		c.Sections = map[string]bool{}
		for _, f := range strings.Split(v, ",") {
			c.Sections[strings.TrimSpace(f)] = true
		}
	}
	return c
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// bench is one `make bench`: its configuration, the systems it started and what it measured.
type bench struct {
	cfg      benchConfig
	bin      string // allot
	benchBin string // allot-bench: the baselines
	root     string // the module root
	stamp    string // makes this run's resource ids unique
	started  time.Time
	elapsed  time.Duration
	machine  machineInfo

	keyFile string // the dev signing key of every Allot node (auth on)

	systems  []*benchSystem // section 1 and the empty handler, in table order
	cluster  *benchSystem   // section 2
	series   []*benchSeries
	sellOuts map[string]sellOut
	profiles []profiled
	goBench  []goBenchRun
	mem      *memResult
	memOff   *memResult      // the memory section with --events off (section memory-events-off)
	events   []*eventsResult // bench_events_test.go, one per store
	notify   *notifyResult   // bench_notify_test.go
	pg       *pgtest.Server  // the HTTP sections' PostgreSQL, nil when they did not run
	walWarm  string          // how the PostgreSQL's WAL was warmed (bench_walwarm_test.go), "" when it was not started
	stress   []stressResult  // the stress section
	wrk      *wrkResult      // bench_wrk_test.go
	bounds   *machineBounds  // bench_bounds_test.go
	problems []string        // what went wrong, for the document and the test's verdict
}

// profiled is an extra run with a CPU profile of the node (not counted in the tables).
type profiled struct {
	Sys     *benchSystem
	Clients int
	Run     benchRun
	Top     string        // go tool pprof -top
	Shares  []cpuShare    // flat CPU by category
	Total   time.Duration // samples in the profile
	// AllocTop is go tool pprof -top of the bytes allocated during the run, by function.
	AllocTop string
}

// series returns the series of system key at clients, or nil.
func (b *bench) seriesOf(key string, clients int) *benchSeries {
	for _, s := range b.series {
		if s.Sys.Key == key && s.Clients == clients {
			return s
		}
	}
	return nil
}

func (b *bench) problem(t *testing.T, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	t.Log("PROBLEM: " + msg)
	b.problems = append(b.problems, msg)
}

// TestBenchmarks is `make bench`: it regenerates docs/BENCHMARKS.md. It runs only with
// ALLOT_BENCH=1 (it takes about 12 minutes and the whole machine); see docs/BENCHMARKS.md.
func TestBenchmarks(t *testing.T) {
	if os.Getenv("ALLOT_BENCH") != "1" {
		t.Skip("set ALLOT_BENCH=1 (make bench) to run the benchmarks and rewrite docs/BENCHMARKS.md")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	b := &bench{cfg: benchConfigFromEnv(t, root), root: root, started: time.Now(), sellOuts: map[string]sellOut{}}
	// Authentication is on, as in production: every Allot node of the benchmark shares this
	// dev signing key, and the load generator gives each simulated client a token of its own.
	b.keyFile = clustertest.KeyFile(t)
	b.stamp = strconv.FormatInt(b.started.Unix(), 36)
	if err := os.MkdirAll(b.cfg.Artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	b.bin = b.cfg.Bin
	if b.bin == "" {
		b.bin = clustertest.MustBinary(t)
	}
	b.benchBin = b.cfg.BaselineBin
	if b.benchBin == "" && b.cfg.Sections["http"] {
		b.benchBin = mustBuild(t, root, "./cmd/allot-bench")
	}
	b.machine = readMachine()

	if b.cfg.Sections["http"] || b.cfg.Sections["cluster"] {
		b.httpSections(t)
	}
	if b.cfg.Sections["wrk"] {
		b.wrkSection(t) // bench_wrk_test.go
	}
	if b.cfg.Sections["http"] || b.cfg.Sections["wrk"] || b.cfg.Sections["bounds"] {
		b.measureBounds(t) // bench_bounds_test.go
	}
	if b.cfg.Sections["events"] {
		b.eventsSection(t, false) // bench_events_test.go
	}
	if b.cfg.Sections["events-pg"] { // not by default: it would add two minutes
		b.eventsSection(t, true)
	}
	if b.cfg.Sections["go"] {
		for _, spec := range goBenchSpecs {
			run := b.runGoBench(t, spec)
			if run.Err != nil {
				b.problem(t, "%s: %v", run.Command, run.Err)
			}
			b.goBench = append(b.goBench, run)
		}
	}
	if b.cfg.Sections["memory"] {
		m := b.memory(t, false)
		if m.Failed > 0 {
			b.problem(t, "memory benchmark: %d creations or holds failed", m.Failed)
		}
		b.mem = &m
	}
	if b.cfg.Sections["memory-events-off"] { // not by default: the same fill again, with --events off
		m := b.memory(t, true)
		if m.Failed > 0 {
			b.problem(t, "memory benchmark, --events off: %d creations or holds failed", m.Failed)
		}
		b.memOff = &m
	}
	if b.cfg.Sections["notify"] {
		b.runNotify(t) // cmd/bench_notify_test.go
	}
	if b.cfg.Sections["stress"] {
		b.stressSection(t)
	}
	b.machine.LoadEnd = loadavg()
	b.elapsed = time.Since(b.started)

	if raw, err := json.MarshalIndent(b.rawResults(), "", "  "); err == nil {
		_ = os.WriteFile(filepath.Join(b.cfg.Artifacts, "results.json"), raw, 0o644)
	}
	doc := b.document()
	if err := os.WriteFile(b.cfg.Out, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%s); artifacts in %s", b.cfg.Out, b.elapsed.Round(time.Second), b.cfg.Artifacts)
	for _, p := range b.problems {
		t.Error(p)
	}
}

// httpSections starts PostgreSQL, Redis and every server, runs the timed rounds, the sell-out
// checks and the profiled runs, and stops the servers again.
func (b *bench) httpSections(t *testing.T) {
	pg := b.postgres(t)
	var pgPids []int
	if pid, err := postmasterPID(pg.LogPath()); err == nil {
		pgPids = []int{pid}
	} else {
		t.Logf("PostgreSQL CPU will not be counted: %v", err)
	}
	b.machine.Postgres = postgresVersion(t.Context(), pg.URL("postgres"))
	art := b.cfg.Artifacts
	idle := "--idle-timeout=15s" // a finished run's hot resource passivates before the next run on it
	pgSys := func(key, label, url string, procs ...*benchProc) *benchSystem {
		return &benchSystem{Key: key, Label: label, Procs: procs, DBURL: url, DBPids: pgPids, DBParents: pgPids, DBName: "PostgreSQL", KeyFile: procs[0].KeyFile}
	}
	if b.cfg.Sections["http"] {
		url := pg.MustDatabase(t)
		a := pgSys("allot-pg", "(a) Allot, 1 node, PostgreSQL", url, startBenchNode(t, b.bin, art, "allot-pg", b.keyFile, "--db-url", url, idle))
		a.Allot = true
		url = pg.MustDatabase(t)
		classic := pgSys("classic", "(b) classic SELECT FOR UPDATE, PostgreSQL", url, startBenchBaseline(t, b.benchBin, art, "classic", "--db-url", url))
		rs := baseline.MustRedis(t)
		b.machine.Redis = redisVersion()
		redis := &benchSystem{Key: "redis", Label: "(c) Redis + Lua, appendfsync always", DBName: "Redis",
			Procs: []*benchProc{startBenchBaseline(t, b.benchBin, art, "redis", "--redis-addr", rs.Addr)}}
		if pid, err := redisPID(rs.Addr); err == nil {
			redis.DBPids = []int{pid}
		} else {
			t.Logf("Redis CPU will not be counted: %v", err)
		}
		embedded := &benchSystem{Key: "allot-embedded", Label: "(d) Allot, 1 node, embedded SQLite", Allot: true, DBName: "(in the node)", KeyFile: b.keyFile,
			Procs: []*benchProc{startBenchNode(t, b.bin, art, "allot-embedded", b.keyFile, "--data-dir", filepath.Join(t.TempDir(), "data"), idle)}}
		// The same embedded node without the pipelined group commit (one commit of the
		// resource at the store at a time), interleaved with (d) in every round.
		serial := &benchSystem{Key: "allot-embedded-1", Label: "(d1) Allot, 1 node, embedded SQLite, 1 commit in flight", Allot: true, DBName: "(in the node)", KeyFile: b.keyFile,
			Procs: []*benchProc{startBenchNode(t, b.bin, art, "allot-embedded-1", b.keyFile, "--data-dir", filepath.Join(t.TempDir(), "data"), idle, "--max-commits-in-flight", "1")}}
		empty := &benchSystem{Key: "empty", Label: "(e) empty gin handler (HTTP ceiling)", NoAudit: true, DBName: "none",
			Procs: []*benchProc{startBenchBaseline(t, b.benchBin, art, "empty")}}
		b.systems = []*benchSystem{a, classic, redis, embedded, serial, empty}
		// A second build as (a)'s twin on its own database, interleaved with it in every
		// round: before and after a change in one run (docs/PERFORMANCE.md).
		if bin := os.Getenv("ALLOT_BENCH_HTTP_BEFORE_BIN"); bin != "" {
			url := pg.MustDatabase(t)
			before := pgSys("allot-pg-before", "(a) Allot, 1 node, PostgreSQL, build "+filepath.Base(bin), url, startBenchNode(t, bin, art, "allot-pg-before", b.keyFile, "--db-url", url, idle))
			before.Allot = true
			b.systems = append(b.systems, before)
		}
		b.systems = httpOnly(b.systems, os.Getenv("ALLOT_BENCH_HTTP_ONLY"))
	}
	all := append([]*benchSystem(nil), b.systems...)
	if b.cfg.Sections["cluster"] {
		url := pg.MustDatabase(t)
		n1 := startBenchNode(t, b.bin, art, "cluster-1", b.keyFile, "--db-url", url, idle)
		n2 := startBenchNode(t, b.bin, art, "cluster-2", b.keyFile, "--db-url", url, idle, "--join", n1.Gossip)
		n3 := startBenchNode(t, b.bin, art, "cluster-3", b.keyFile, "--db-url", url, idle, "--join", n1.Gossip)
		b.cluster = pgSys("allot-pg-3", "Allot, 3 nodes, shared PostgreSQL", url, n1, n2, n3)
		b.cluster.Allot = true
		waitMembers(t, b.cluster, 3)
		all = append(all, b.cluster)
	}

	for _, sys := range all {
		for _, c := range b.cfg.Clients {
			b.series = append(b.series, &benchSeries{Sys: sys, Clients: c})
		}
	}
	// Rounds interleave the systems, so that a change in the machine's background load over
	// the minutes hits every system alike.
	for round := 1; round <= b.cfg.Runs; round++ {
		for _, c := range b.cfg.Clients {
			for _, sys := range httpRoundOrder(all, round) { // (a)'s twin beside it, alternating
				run := b.measure(t, sys, c, round, false)
				s := b.seriesOf(sys.Key, c)
				s.Runs = append(s.Runs, run)
				if run.Err != nil {
					b.problem(t, "%s, %d clients, run %d: %v", sys.Label, c, round, run.Err)
				}
			}
		}
	}
	for _, sys := range all {
		if sys.NoAudit {
			continue
		}
		s := b.sellOutCheck(t, sys)
		b.sellOuts[sys.Key] = s
		if !s.Exact() {
			b.problem(t, "%s sell-out check: sold %d of %d, %d clients turned away, audit ok %v (%s) %v", sys.Label, s.Sold, s.Stock, s.SoldOut, s.AuditOK, s.Note, s.Err)
		}
	}
	// Profiled runs: one extra run per profiled configuration, not counted in the tables.
	for _, sys := range all {
		if !sys.Allot || len(sys.Procs) != 1 {
			continue
		}
		for _, c := range b.cfg.Clients {
			run := b.measure(t, sys, c, 0, true)
			p := profiled{Sys: sys, Clients: c, Run: run}
			if run.Profile != "" {
				p.Top, p.Shares, p.Total = b.analyseProfile(t, run.Profile)
			}
			if run.AllocsBase != "" && run.Allocs != "" {
				p.AllocTop = b.allocTop(t, run.AllocsBase, run.Allocs)
			}
			if run.Trace != "" && run.traceAt.ok {
				p.Run.Turnaround = b.turnaroundOf(t, run)
			}
			b.profiles = append(b.profiles, p)
		}
	}
	for _, sys := range all {
		for _, p := range sys.Procs {
			p.stop() // free the cores for the sections that follow
		}
	}
}

// machineInfo describes where the numbers were taken.
type machineInfo struct {
	CPU, Kernel, Go, Postgres, Redis string
	Cores                            int
	MemTotal                         string
	LoadStart, LoadEnd               string
}

func readMachine() machineInfo {
	m := machineInfo{Cores: runtime.NumCPU(), Go: runtime.Version(), LoadStart: loadavg()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				m.CPU = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		first, _, _ := strings.Cut(string(b), "\n")
		if kb, err := strconv.ParseInt(strings.Fields(first + " 0 0")[1], 10, 64); err == nil {
			m.MemTotal = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
		}
	}
	return m
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func postgresVersion(ctx context.Context, url string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return "?"
	}
	defer conn.Close(context.Background())
	var v string
	if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&v); err != nil {
		return "?"
	}
	return "PostgreSQL " + strings.Fields(v + " ")[0]
}

func redisVersion() string {
	out, err := exec.Command("redis-server", "--version").Output()
	if err != nil {
		return "?"
	}
	for _, f := range strings.Fields(string(out)) {
		if v, ok := strings.CutPrefix(f, "v="); ok {
			return "Redis " + v
		}
	}
	return strings.TrimSpace(string(out))
}

// rawResults is everything measured, for bin/bench/results.json.
func (b *bench) rawResults() any {
	type series struct {
		System  string
		Clients int
		Runs    []benchRun
	}
	out := struct {
		Machine         machineInfo
		Config          benchConfig
		Series          []series
		SellOuts        map[string]sellOut
		GoBench         []goBenchRun
		Memory          *memResult
		MemoryEventsOff *memResult
		Events          []*eventsResult
		Wrk             *wrkResult
		Bounds          *machineBounds
		Problems        []string
	}{Machine: b.machine, Config: b.cfg, SellOuts: b.sellOuts, GoBench: b.goBench, Memory: b.mem, MemoryEventsOff: b.memOff, Events: b.events, Wrk: b.wrk, Bounds: b.bounds, Problems: b.problems}
	for _, s := range b.series {
		out.Series = append(out.Series, series{System: s.Sys.Key, Clients: s.Clients, Runs: s.Runs})
	}
	return out
}
