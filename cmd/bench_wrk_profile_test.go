package cmd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/allot/allot/persistence/pgtest"
)

// What the wrk section keeps for finding where a node's CPU per request goes (issue 17), and
// the knobs for comparing two builds side by side in one run:
//
//   - The first run of every target served by an Allot node is profiled: a CPU profile of the
//     node over the middle of the run (cpu-wrk-<key>.pprof) and its allocs profile at both ends
//     (allocs-wrk-<key>-start.pprof, -end.pprof, for `go tool pprof -base`), in the artifacts
//     directory, with the CPU by category in µs per request in wrk-profile-<key>.txt and the
//     test log. The profile costs the node well under 1% of its CPU.
//   - Every run of such a target reads the node's Go allocation counters before and after
//     (go_memstats_mallocs_total, go_memstats_alloc_bytes_total, GC cycles from /metrics):
//     allocations and bytes per request, the test log.
//   - ALLOT_BENCH_WRK_BEFORE_BIN names a second allot binary (say, main's): it serves the
//     durable PostgreSQL row again as target pg-before on the same PostgreSQL, and the
//     embedded SQLite row as target sqlite-before on a node and file of its own, each right
//     after its row, so that before and after are measured in the same run.
//   - ALLOT_BENCH_WRK_ONLY (comma-separated keys: empty, get, soldout, pg, pg-before, sqlite,
//     sqlite-before)
//     runs only those targets.

// wrkAllocCounters are the node's Go allocation counters read around a run.
var wrkAllocCounters = []string{"go_memstats_mallocs_total", "go_memstats_alloc_bytes_total", "go_gc_duration_seconds_count"}

// wrkAllocs is a run's allocation counters: the node's allocations, bytes and GC cycles.
type wrkAllocs struct {
	Mallocs, Bytes, GCs float64
}

// readWrkAllocs reads the counters of a node; ok false when it has no admin listener or the
// scrape failed.
func readWrkAllocs(ctx context.Context, p *benchProc) (a wrkAllocs, ok bool) {
	if p.Admin == "" {
		return a, false
	}
	m, err := scrapeMetrics(ctx, p.Admin+"/metrics", wrkAllocCounters...)
	if err != nil || len(m) != len(wrkAllocCounters) {
		return a, false
	}
	return wrkAllocs{Mallocs: m[wrkAllocCounters[0]], Bytes: m[wrkAllocCounters[1]], GCs: m[wrkAllocCounters[2]]}, true
}

// wrkExtraTargets adds the pg-before and sqlite-before targets when ALLOT_BENCH_WRK_BEFORE_BIN
// is set (nodes of that binary, put right after the pg and sqlite targets) and keeps only the targets named by
// ALLOT_BENCH_WRK_ONLY when it is set. Started nodes are added to procs (stopped by the caller).
func (b *bench) wrkExtraTargets(t *testing.T, targets []*wrkTarget, procs *[]*benchProc, pg *pgtest.Server, pgPids []int,
	setup func(node *benchProc, key string, stock int64) func(*testing.T, int) error, rid func(string) func(int) string) []*wrkTarget {
	if bin := os.Getenv("ALLOT_BENCH_WRK_BEFORE_BIN"); bin != "" {
		url := pg.MustDatabase(t)
		node := startBenchNode(t, bin, b.cfg.Artifacts, "wrk-allot-pg-before", b.keyFile, "--db-url", url, "--idle-timeout=15s")
		*procs = append(*procs, node)
		before := &wrkTarget{Key: "pg-before", Label: "Allot durable hold, PostgreSQL, before (`" + filepath.Base(filepath.Dir(bin)) + "/" + filepath.Base(bin) + "`)",
			Proc: node, Method: "POST", Expect: 201, Durable: true, Stock: bigStock, DBPids: pgPids, DBParents: pgPids, DBURL: url,
			rid: rid("pg-before"), setup: setup(node, "pg-before", bigStock)}
		i := slices.IndexFunc(targets, func(tg *wrkTarget) bool { return tg.Key == "pg" })
		targets = slices.Insert(targets, i+1, before)
		// The embedded SQLite row again, on a node of its own with its own file.
		sqNode := startBenchNode(t, bin, b.cfg.Artifacts, "wrk-allot-embedded-before", b.keyFile,
			"--data-dir", filepath.Join(t.TempDir(), "data-before"), "--idle-timeout=15s")
		*procs = append(*procs, sqNode)
		sqBefore := &wrkTarget{Key: "sqlite-before", Label: "Allot durable hold, embedded SQLite, before (`" + filepath.Base(filepath.Dir(bin)) + "/" + filepath.Base(bin) + "`)",
			Proc: sqNode, Method: "POST", Expect: 201, Durable: true, Stock: bigStock, rid: rid("sqlite-before"), setup: setup(sqNode, "sqlite-before", bigStock)}
		if i := slices.IndexFunc(targets, func(tg *wrkTarget) bool { return tg.Key == "sqlite" }); i >= 0 {
			targets = slices.Insert(targets, i+1, sqBefore)
		} else {
			targets = append(targets, sqBefore)
		}
	}
	if only := os.Getenv("ALLOT_BENCH_WRK_ONLY"); only != "" {
		keep := strings.Split(only, ",")
		targets = slices.DeleteFunc(targets, func(tg *wrkTarget) bool { return !slices.Contains(keep, tg.Key) })
	}
	return targets
}

// wrkProfiler takes the profiles of one run of a target (see above); its zero value profiles
// nothing.
type wrkProfiler struct {
	wg     sync.WaitGroup
	cancel context.CancelFunc
	cpu    string
	allocs [2]string // start, end
	errs   []string
}

// startWrkProfile starts profiling tg's node for the first run of tg, over the window from
// one second into the run to one second before its end.
func (b *bench) startWrkProfile(t *testing.T, tg *wrkTarget, round int) *wrkProfiler {
	p := &wrkProfiler{}
	if round != 1 || tg.Proc.Admin == "" {
		return p
	}
	window := max(b.cfg.Duration-2*time.Second, time.Second)
	ctx, cancel := context.WithCancel(t.Context())
	p.cancel = cancel
	name := "wrk-" + tg.Key
	p.cpu = filepath.Join(b.cfg.Artifacts, "cpu-"+name+".pprof")
	p.allocs = [2]string{filepath.Join(b.cfg.Artifacts, "allocs-"+name+"-start.pprof"), filepath.Join(b.cfg.Artifacts, "allocs-"+name+"-end.pprof")}
	base := tg.Proc.Admin + "/debug/pprof/"
	p.wg.Go(func() {
		if sleepCtx(ctx, time.Second) != nil {
			return
		}
		for i, step := range []struct{ url, path string }{
			{base + "allocs", p.allocs[0]},
			{fmt.Sprintf("%sprofile?seconds=%d", base, int(window.Seconds())), p.cpu},
			{base + "allocs", p.allocs[1]},
		} {
			if err := fetchTo(ctx, step.url, step.path); err != nil {
				p.errs = append(p.errs, fmt.Sprintf("step %d: %v", i, err))
				return
			}
		}
	})
	return p
}

// finish waits for the profiles and writes the CPU by category in µs per request of run.
func (p *wrkProfiler) finish(t *testing.T, b *bench, tg *wrkTarget, run wrkRun) {
	if p.cancel == nil {
		return
	}
	p.wg.Wait()
	p.cancel()
	if len(p.errs) > 0 {
		t.Logf("wrk %s: profiles: %s", tg.Key, strings.Join(p.errs, "; "))
		return
	}
	_, shares, _ := b.analyseProfile(t, p.cpu)
	us := run.perReq(run.NodeCPU)
	var s strings.Builder
	fmt.Fprintf(&s, "wrk %s, round %d: node %.0f µs of CPU per request (%d requests); CPU profile %s by category:\n",
		tg.Key, run.Round, us, run.Requests, filepath.Base(p.cpu))
	for _, c := range shares {
		fmt.Fprintf(&s, "  %6.1f µs/req  %5.1f%%  %s\n", c.Share*us, 100*c.Share, c.Category)
	}
	if top := b.allocTop(t, p.allocs[0], p.allocs[1]); top != "" {
		fmt.Fprintf(&s, "allocations (alloc_space, between %s and %s):\n%s\n", filepath.Base(p.allocs[0]), filepath.Base(p.allocs[1]), top)
	}
	t.Log(s.String())
	if err := os.WriteFile(filepath.Join(b.cfg.Artifacts, "wrk-profile-"+tg.Key+".txt"), []byte(s.String()), 0o644); err != nil {
		t.Log(err)
	}
}
