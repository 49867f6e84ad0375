package cmd

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// goBenchSpec is one `go test -bench` invocation of the in-process section.
type goBenchSpec struct {
	Pkg, Bench, Benchtime string
	// Units are the metrics shown, in order; the first one is the headline.
	Units []string
}

// goBenchResult is one benchmark's metrics over its -count runs.
type goBenchResult struct {
	Name   string               // without the -GOMAXPROCS suffix
	Values map[string][]float64 // by unit
}

// goBenchRun is the outcome of one spec.
type goBenchRun struct {
	Spec    goBenchSpec
	Command string
	Results []*goBenchResult
	Err     error
}

func (s goBenchSpec) args(count int) []string {
	return []string{"test", "-run", "^$", "-bench", s.Bench, "-benchtime", s.Benchtime, "-count", strconv.Itoa(count), s.Pkg}
}

// goBenchSpecs are the in-process ceilings: the booking model alone, the resource actor on
// memstore, SQLite and PostgreSQL, and the classic transaction beside it; and what verifying a
// bearer token costs, cached (every request after a client's first) and not.
var goBenchSpecs = []goBenchSpec{
	{Pkg: "./actors/booking", Bench: "^BenchmarkDecidePlaceHold", Benchtime: "200000x", Units: []string{"cmds/s", "ns/op", "allocs/op"}},
	{Pkg: "./actors/resource", Bench: "^(BenchmarkHotResource|BenchmarkSoldOut)$", Benchtime: "20000x", Units: []string{"holds/s", "ns/op", "median-batch"}},
	{Pkg: "./actors/resource", Bench: "^BenchmarkHotResourcePostgres$", Benchtime: "20000x",
		Units: []string{"actor-holds/s", "classic-holds/s", "actor/classic", "median-batch", "mean-batch", "commit-µs", "store-busy",
			"cpu-µs/hold", "db-cpu-µs/hold"}},
	{Pkg: "./api/auth", Bench: "^BenchmarkVerify(Cached|Uncached)$", Benchtime: "20000x", Units: []string{"ns/op", "allocs/op"}},
}

// runGoBench runs spec count times from the module root, keeps the output under the
// artifacts and parses it.
func (b *bench) runGoBench(t *testing.T, spec goBenchSpec) goBenchRun {
	args := spec.args(b.cfg.Runs)
	run := goBenchRun{Spec: spec, Command: "go " + strings.Join(args, " ")}
	t.Logf("%s", run.Command)
	cmd := exec.CommandContext(t.Context(), "go", args...)
	cmd.Dir = b.root
	out, err := cmd.CombinedOutput()
	name := strings.NewReplacer("./", "", "/", "-").Replace(spec.Pkg) + "-" + regexp.MustCompile(`\W+`).ReplaceAllString(spec.Bench, "")
	_ = os.WriteFile(filepath.Join(b.cfg.Artifacts, "gobench-"+name+".txt"), out, 0o644)
	if err != nil {
		run.Err = fmt.Errorf("%v: %s", err, lastLines(string(out), 15))
		return run
	}
	run.Results = parseGoBench(string(out))
	if len(run.Results) == 0 {
		run.Err = fmt.Errorf("no benchmark results in: %s", lastLines(string(out), 15))
	}
	return run
}

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(-\d+)?\s+(\d+)\s+(.+)$`)

// parseGoBench parses `go test -bench` output: "BenchmarkX-2  N  v unit  v unit ...".
func parseGoBench(out string) []*goBenchResult {
	var order []*goBenchResult
	byName := map[string]*goBenchResult{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		r := byName[m[1]]
		if r == nil {
			r = &goBenchResult{Name: m[1], Values: map[string][]float64{}}
			byName[m[1]] = r
			order = append(order, r)
		}
		f := strings.Fields(m[4])
		for i := 0; i+1 < len(f); i += 2 {
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				r.Values[f[i+1]] = append(r.Values[f[i+1]], v)
			}
		}
	}
	return order
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func TestParseGoBench(t *testing.T) {
	out := `goos: linux
BenchmarkHotResourcePostgres-2   	   20000	     62498 ns/op	     16001 actor-holds/s	        32.09 actor/classic
BenchmarkHotResource/memstore-2  	   20000	     12557 ns/op	     79635 holds/s	         1.683 mean-batch
BenchmarkHotResourcePostgres-2   	   20000	     60000 ns/op	     17000 actor-holds/s	        30.00 actor/classic
PASS`
	rs := parseGoBench(out)
	if len(rs) != 2 || rs[0].Name != "BenchmarkHotResourcePostgres" || rs[1].Name != "BenchmarkHotResource/memstore" {
		t.Fatalf("results %+v", rs)
	}
	if v := rs[0].Values["actor/classic"]; len(v) != 2 || v[0] != 32.09 || v[1] != 30 {
		t.Fatalf("actor/classic %v", v)
	}
	if v := rs[1].Values["ns/op"]; len(v) != 1 || v[0] != 12557 {
		t.Fatalf("ns/op %v", v)
	}
}

func TestInProcessBound(t *testing.T) {
	b := &bench{machine: machineInfo{Cores: 2}}
	if s, ok := b.inProcessBound(13); ok || !strings.Contains(s, "no CPU accounting") {
		t.Fatalf("without accounting: %q %v", s, ok)
	}
	res := func(rate, self, db float64) []*goBenchResult {
		return []*goBenchResult{{Name: "BenchmarkHotResourcePostgres", Values: map[string][]float64{
			"actor-holds/s": {rate}, "cpu-µs/hold": {self}, "db-cpu-µs/hold": {db}}}}
	}
	// 150 µs per hold allows 13,333/s on 2 cores; 13× at 10,000/s needs 23,077/s.
	b.goBench = []goBenchRun{{Results: res(10000, 100, 50)}}
	if s, ok := b.inProcessBound(13); !ok || !strings.Contains(s, "**CPU-bound on 2 cores**") || !strings.Contains(s, "13,333") {
		t.Fatalf("CPU-bound: %q %v", s, ok)
	}
	// 30 µs per hold at 3,000/s: 0.09 cores busy, the ceiling far above what is needed.
	b.goBench = []goBenchRun{{Results: res(3000, 20, 10)}}
	if s, ok := b.inProcessBound(13); ok || !strings.Contains(s, "not saturated") || !strings.Contains(s, "waits on its commits") {
		t.Fatalf("waiting: %q %v", s, ok)
	}
	// 50 µs per hold in PostgreSQL: its one backend allows 20,000/s, and 20× at 10,000/s
	// needs 25,000/s (2 cores would allow 36,363/s).
	b.goBench = []goBenchRun{{Results: res(10000, 5, 50)}}
	if s, ok := b.inProcessBound(20); !ok || !strings.Contains(s, "**bound by one backend's core**") || !strings.Contains(s, "20,000") {
		t.Fatalf("backend-bound: %q %v", s, ok)
	}
	// The commit path of the measured run (BENCHMARKS.md of 22:56: 16,274/s at 30.6×), before
	// PostgreSQL pipelined: 32 holds a commit, 1,700 µs a commit, 85% of the time at the store.
	r := res(16274, 32, 36)
	r[0].Values["mean-batch"], r[0].Values["commit-µs"], r[0].Values["store-busy"] = []float64{32}, []float64{1700}, []float64{0.85}
	b.goBench = []goBenchRun{{Results: r}}
	s, ok := b.inProcessBound(30.6)
	t.Logf("%s", s)
	if ok || !strings.Contains(s, "waits on its commits") || !strings.Contains(s, "1,700 µs") ||
		!strings.Contains(s, "at store 85%") && !strings.Contains(s, "at the store 85%") || !strings.Contains(s, "(96% of its core at the target)") {
		t.Fatalf("commit-bound: %q %v", s, ok)
	}
	// Pipelined: a commit at the store 99% of the time, so the one backend never waited for
	// the actor; 24,000/s at 40× needs 30,000/s.
	r = res(24000, 24, 30)
	r[0].Values["mean-batch"], r[0].Values["commit-µs"], r[0].Values["store-busy"] = []float64{21}, []float64{1700}, []float64{0.99}
	b.goBench = []goBenchRun{{Results: r}}
	b.bounds = &machineBounds{PGCommitP50: 220 * time.Microsecond}
	s, ok = b.inProcessBound(40)
	t.Logf("%s", s)
	if !ok || !strings.Contains(s, "**bound by one backend (its core and the WAL flush)**") || !strings.Contains(s, "99% of the time") ||
		!strings.Contains(s, "41.7 µs of the backend's time per hold") || !strings.Contains(s, "0.22 ms") || !strings.Contains(s, "24,242 holds/s") {
		t.Fatalf("backend-saturated: %q %v", s, ok)
	}
	// The same store time per hold with half of it unaccounted for (CPU 12 µs + 10.5 µs of
	// flush of 41.7): the backend waited on something else, so it is not its bound.
	r[0].Values["db-cpu-µs/hold"] = []float64{12}
	if s, ok := b.inProcessBound(40); ok || strings.Contains(s, "bound by one backend") {
		t.Fatalf("saturated but unaccounted: %q %v", s, ok)
	}
}
