package cmd

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/allot/allot/api/loadgen"
)

// The stress section: `allot loadgen --scenario stress` against one node per store, the
// curve as an SVG next to the document, and a projection on paper from what it measured.

// Ramp of the stress section: 8, 16, ... 512 clients on one hot resource, 7 steps of
// stressStep (or ALLOT_BENCH_DURATION when shorter): about 45 s per store.
const (
	stressStart      = 8
	stressMaxClients = 512
	stressStep       = 6 * time.Second
)

// stressResult is the stress scenario against one system.
type stressResult struct {
	Sys *benchSystem
	Rep *loadgen.StressReport
	// DBCPUPerCommit is the database's CPU time per store commit over the whole ramp
	// (PostgreSQL's processes; 0 for the embedded store, whose cost is in the node's CPU).
	DBCPUPerCommit time.Duration
	SVG            string // path of the plot, relative to the document
	Command        string
	Err            error
}

// stressSection runs the stress scenario against a fresh embedded node and a fresh node on
// PostgreSQL (the HTTP sections' server, or one of its own when they did not run).
func (b *bench) stressSection(t *testing.T) {
	b.postgres(t)
	art := b.cfg.Artifacts
	idle := "--idle-timeout=15s"
	systems := []*benchSystem{{Key: "stress-embedded", Label: "Allot, 1 node, embedded SQLite", Allot: true, DBName: "(in the node)", KeyFile: b.keyFile,
		Procs: []*benchProc{startBenchNode(t, b.bin, art, "stress-embedded", b.keyFile, "--data-dir", filepath.Join(t.TempDir(), "data"), idle)}}}
	{
		url := b.pg.MustDatabase(t)
		sys := &benchSystem{Key: "stress-pg", Label: "Allot, 1 node, PostgreSQL", Allot: true, DBName: "PostgreSQL", DBURL: url, KeyFile: b.keyFile,
			Procs: []*benchProc{startBenchNode(t, b.bin, art, "stress-pg", b.keyFile, "--db-url", url, idle)}}
		if pid, err := postmasterPID(b.pg.LogPath()); err == nil {
			sys.DBPids, sys.DBParents = []int{pid}, []int{pid}
		}
		systems = append(systems, sys)
	}
	for _, sys := range systems {
		res := b.stressRun(t, sys)
		if res.Err != nil {
			b.problem(t, "stress %s: %v", sys.Label, res.Err)
		} else if !res.Rep.AuditOK() {
			b.problem(t, "stress %s: a step's audit failed", sys.Label)
		}
		b.stress = append(b.stress, res)
		for _, p := range sys.Procs {
			p.stop()
		}
	}
}

// stressConfig is the stress scenario of the section against sys.
func (b *bench) stressConfig(sys *benchSystem) loadgen.Config {
	cfg := loadgen.DefaultConfig()
	cfg.Targets = sys.targets()
	cfg.Scenario = loadgen.ScenarioStress
	cfg.StressStartClients, cfg.StressStepClients, cfg.StressGrowth, cfg.StressMaxClients = stressStart, stressStart, 2, stressMaxClients
	cfg.StressStepDuration = min(stressStep, b.cfg.Duration)
	cfg.MetricsURLs = []string{sys.Procs[0].Admin + "/metrics"}
	cfg.KeyFile = sys.KeyFile
	cfg.DBURL = sys.DBURL
	cfg.RunID = sys.Key + "-" + b.stamp
	cfg.Progress = true // each step in the test log
	return cfg
}

func (b *bench) stressRun(t *testing.T, sys *benchSystem) stressResult {
	cfg := b.stressConfig(sys)
	res := stressResult{Sys: sys, Command: fmt.Sprintf("allot loadgen --target %s --scenario stress --stress-start %d --stress-step %d --stress-growth 2 "+
		"--stress-max-clients %d --stress-step-duration %s --metrics %s --key-file KEY --progress",
		cfg.Targets[0], cfg.StressStartClients, cfg.StressStepClients, cfg.StressMaxClients, cfg.StressStepDuration, cfg.MetricsURLs[0])}
	// The database's CPU per commit is over the whole ramp (warm-up, setups and audits too),
	// divided by every commit the node made in it.
	commits := func() float64 {
		m, err := scrapeMetrics(t.Context(), sys.Procs[0].Admin+"/metrics", "allot_commit_seconds_count")
		if err != nil {
			return math.NaN()
		}
		return m["allot_commit_seconds_count"]
	}
	db0, c0 := cpuOf(sys.DBPids, sys.DBParents), commits()
	rep, err := loadgen.RunStress(t.Context(), cfg, testLogWriter{t})
	db1, c1 := cpuOf(sys.DBPids, sys.DBParents), commits()
	res.Rep, res.Err = rep, err
	if rep == nil || len(rep.Steps) == 0 {
		if res.Err == nil {
			res.Err = fmt.Errorf("no step ran")
		}
		return res
	}
	if n := c1 - c0; len(sys.DBPids) > 0 && n > 0 {
		res.DBCPUPerCommit = time.Duration(float64(db1-db0) / n)
	}
	t.Logf("stress %s: %s", sys.Key, rep.Summary())
	name := sys.Key + ".svg"
	dir := filepath.Join(filepath.Dir(b.cfg.Out), "img")
	if err := os.MkdirAll(dir, 0o755); err == nil {
		err = os.WriteFile(filepath.Join(dir, name), []byte(stressSVG(sys.Label, rep)), 0o644)
		if err == nil {
			res.SVG = "img/" + name
		} else {
			b.problem(t, "stress plot: %v", err)
		}
	} else {
		b.problem(t, "stress plot: %v", err)
	}
	if raw, err := os.Create(filepath.Join(b.cfg.Artifacts, sys.Key+".json")); err == nil {
		raw.Close()
		_ = rep.WriteJSONFile(raw.Name())
	}
	return res
}

// testLogWriter writes the stress progress lines to the test log.
type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
