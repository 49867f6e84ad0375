package cmd

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// The harness's side of the commit loop's turnaround (bench_sched_test.go): when the profiled
// run of a one-node PostgreSQL system traces its node, what it measures around the trace (the
// threads' schedstat, the trace's cost in committed holds/s), and the verdict its row prints.

// defaultTrace is how long the profiled runs trace the node when ALLOT_BENCH_TRACE is not set:
// one second in the middle of an extra run that the tables do not count, so that "Why the
// misses" can tell the run queue from the design in every make bench.
const defaultTrace = time.Second

// traceLength is ALLOT_BENCH_TRACE's duration (v); when unset, defaultTrace for a node whose
// commit loop "Why the misses" judges (judged: one node on PostgreSQL), none for the others;
// 0 (off) when "0" or not a duration.
func traceLength(v string, judged bool) time.Duration {
	if v == "" {
		if !judged {
			return 0
		}
		return defaultTrace
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0
	}
	return d
}

// traceWindow is what the profiled run measured around its trace: the node's threads'
// schedstat at both ends, and its committed holds per second during the trace and in as
// long a window just before it (the trace's cost).
type traceWindow struct {
	ok             bool
	waits          threadWait
	before, during float64
	seconds        time.Duration
}

// committedHolds is the node's allot_batch_size_sum: the holds (commands) it committed so far.
func committedHolds(ctx context.Context, sys *benchSystem) (float64, bool) {
	m, err := scrapeMetrics(ctx, sys.Procs[0].Admin+"/metrics", "allot_batch_size_sum")
	if err != nil {
		return 0, false
	}
	return m["allot_batch_size_sum"], true
}

// traceNode fetches an execution trace of sys's node, d long, centred in the run (not before
// 2 s into it: the window before it is the untraced comparison), to path.
func (b *bench) traceNode(ctx context.Context, t *testing.T, sys *benchSystem, d time.Duration, path string) traceWindow {
	var w traceWindow
	start := max(b.cfg.Duration/2-d/2, time.Second+d)
	if sleepCtx(ctx, start-d) != nil {
		return w
	}
	h0, ok0 := committedHolds(ctx, sys)
	t0 := time.Now()
	if sleepCtx(ctx, d) != nil {
		return w
	}
	h1, ok1 := committedHolds(ctx, sys)
	t1 := time.Now()
	pid := sys.Procs[0].PID()
	ss0 := threadSchedstat(pid)
	if err := fetchTo(ctx, fmt.Sprintf("%strace?seconds=%g", sys.Procs[0].Admin+"/debug/pprof/", d.Seconds()), path); err != nil {
		t.Logf("trace %s: %v", sys.Key, err)
		return w
	}
	ss1 := threadSchedstat(pid)
	h2, ok2 := committedHolds(ctx, sys)
	t2 := time.Now()
	w.ok, w.waits, w.seconds = true, waitsBetween(ss0, ss1), d
	if ok0 && ok1 && ok2 {
		w.before = (h1 - h0) / t1.Sub(t0).Seconds()
		w.during = (h2 - h1) / t2.Sub(t1).Seconds()
	}
	return w
}

// turnaroundOf measures the commit loop's turnaround from run's trace, nil when it cannot.
func (b *bench) turnaroundOf(t *testing.T, run benchRun) *turnaround {
	ta, err := analyseTrace(t.Context(), run.Trace, run.traceAt.waits)
	if err != nil {
		t.Logf("trace %s: %v", run.Trace, err)
		return nil
	}
	ta.HoldsBefore, ta.HoldsDuring, ta.Traced = run.traceAt.before, run.traceAt.during, run.traceAt.seconds
	t.Logf("trace %s: %+v", run.Trace, ta)
	if run.Backend != nil {
		v, rq := ta.verdict(run.Backend.Waiting)
		t.Logf("trace %s: run queue %v: %s", run.Trace, rq, v)
	}
	return &ta
}

// traceVerdict is turnaround.verdict for the profiled run of a's system and clients, against
// that run's own backend wait for the node (or the series' median when it sampled none).
func (b *bench) traceVerdict(a *benchSeries) (string, bool, bool) {
	for _, p := range b.profiles {
		if p.Sys == nil || p.Sys.Key != a.Sys.Key || p.Clients != a.Clients || p.Run.Turnaround == nil {
			continue
		}
		wait := -1.0
		if p.Run.Backend != nil {
			wait = p.Run.Backend.Waiting
		} else {
			var xs []float64
			for _, r := range a.ok() {
				if r.Backend != nil {
					xs = append(xs, r.Backend.Waiting)
				}
			}
			if st := statOf(xs); st.N > 0 {
				wait = st.Med
			}
		}
		if wait < 0 {
			return "", false, false
		}
		s, ok := p.Run.Turnaround.verdict(wait)
		return s, ok, true
	}
	return "", false, false
}
