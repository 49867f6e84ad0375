package cmd

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// A synthetic `go tool trace -d=parsed` of one commit loop's turnaround: the pipe's reader
// (g10) woken by the network at 1,000 ns (the reply), the goroutine waiting for the result
// (g20), the actor (g30) and the pipe's sender (g40), which writes the next batch at 20,500.
// laterRequest makes the actor's wake come from a hold's request (g50) that the network woke
// at 12,000, after the reply: the batch was not sealed yet. Without it, the sender is
// preempted once on its way.
func syntheticTrace(laterRequest bool) string {
	var b strings.Builder
	ev := func(m, by int, t int64, g int, states string, stack ...string) {
		fmt.Fprintf(&b, "M=%d P=0 G=%d StateTransition Time=%d GoID=%d %s Reason=\"\"\n", m, by, t, g, states)
		if len(stack) > 0 {
			b.WriteString("TransitionStack=\n")
			for _, f := range stack {
				fmt.Fprintf(&b, "\t%s @ 0x1\n\t\t/x.go:1\n", f)
			}
		}
		b.WriteString("Stack=\n\tsome.emitter @ 0x2\n\t\t/y.go:2\n\n")
	}
	read := []string{"internal/poll.(*FD).Read", "github.com/allot/allot/persistence/postgres.readBatch", "github.com/allot/allot/persistence/postgres.(*Store).readPipe"}
	ev(1, 10, 0, 10, "Running->Waiting", read...)
	ev(1, -1, 1000, 10, "Waiting->Runnable")
	ev(1, -1, 5000, 10, "Runnable->Running")
	ev(1, 10, 6000, 20, "Waiting->Runnable")
	ev(1, 10, 6500, 10, "Running->Waiting", "sync.(*Cond).Wait", "github.com/allot/allot/persistence/postgres.(*Store).readPipe")
	ev(1, -1, 9000, 20, "Runnable->Running")
	if laterRequest {
		ev(1, 20, 9500, 20, "Running->Waiting")
		ev(2, -1, 12000, 50, "Waiting->Runnable")
		ev(2, -1, 12100, 50, "Runnable->Running")
		ev(2, 50, 14000, 30, "Waiting->Runnable")
	} else {
		ev(1, 20, 9500, 30, "Waiting->Runnable")
	}
	ev(2, -1, 15000, 30, "Runnable->Running")
	ev(2, 30, 16000, 40, "Waiting->Runnable")
	if !laterRequest {
		// The sender runs 1,000 ns, is preempted, and waits 2,000 for a P again.
		ev(1, -1, 17000, 40, "Runnable->Running")
		ev(1, 40, 18000, 40, "Running->Runnable")
	}
	ev(1, -1, 20000, 40, "Runnable->Running")
	ev(1, 40, 20500, 40, "Running->Syscall", "syscall.write", "github.com/jackc/pgx/v5/pgproto3.(*Frontend).Flush", "github.com/allot/allot/persistence/postgres.(*Store).send")
	ev(1, 40, 20600, 40, "Syscall->Running")
	return b.String()
}

func TestTurnaroundFromTrace(t *testing.T) {
	for _, c := range []struct {
		later                                     bool
		runnable, running, osWait, blocked, other time.Duration
	}{
		// Reader runnable 4,000 + running 1,000; g20 3,000 + 500; the actor 5,500 + 1,000;
		// the sender 1,000 + 1,000, preempted, 2,000 + 500 (thread 1: half of its time off a
		// core, thread 2: none).
		{false, 15500, 4000, 1500, 0, 0},
		// The actor woke from g50's request (the network at 12,000): 11,000 blocked.
		{true, 5100, 3400, 250, 11000, 0},
	} {
		byG, first, last, err := parseTransitions(strings.NewReader(syntheticTrace(c.later)))
		if err != nil {
			t.Fatal(err)
		}
		got := analyseTransitions(byG, first, last, threadWait{1: 0.5})
		want := turnaround{Window: 20600, Commits: 1, Idle: 1, Total: 19500, Runnable: c.runnable, Running: c.running,
			OSWait: c.osWait, Blocked: c.blocked, Other: c.other}
		if got != want {
			t.Errorf("later request %v:\n got %+v\nwant %+v", c.later, got, want)
		}
	}
}

// A one-node PostgreSQL miss that neither the cores nor the commit floor explain, whose
// backend waited for the node 20% of the time: the profiled run's trace decides.
func turnaroundBench(ta *turnaround) *bench {
	empty := &benchSystem{Key: "empty", Label: "(e) empty", NoAudit: true}
	pg := &benchSystem{Key: "allot-pg", Label: "(a) Allot", Allot: true}
	b := &bench{cfg: benchConfig{Clients: []int{256}}, machine: machineInfo{Cores: 2},
		bounds: &machineBounds{FsyncP50: time.Millisecond, PGCommitP50: 400 * time.Microsecond, PGCommitN: 100, FsyncN: 100}}
	// 167 µs per request: 10,000/s needed take 1.67 cores, under the 1.70 of the threshold.
	run := benchRun{HoldsPerSec: 9000, ServerCores: 0.9, DBCores: 0.3, LoadgenCores: 0.3, MachineCores: 1.6, BatchMean: 100, CommitMs: 10,
		AuditOK: true, CommitsInFlight: 1.3, Backend: &wrkBackend{Samples: 150, Executing: 0.5, WAL: 0.3, Waiting: 0.2}}
	b.series = []*benchSeries{
		{Sys: empty, Clients: 256, Runs: []benchRun{{HoldsPerSec: 20000, ServerCores: 0.8, LoadgenCores: 0.5, MachineCores: 1.4}}},
		{Sys: pg, Clients: 256, Runs: []benchRun{run, run, run}},
	}
	prof := run
	prof.Turnaround = ta
	b.profiles = []profiled{{Sys: pg, Clients: 256, Run: prof}}
	return b
}

func TestWhyMissesNamesTheRunQueueOnlyWhenItAccountsForTheWait(t *testing.T) {
	ta := &turnaround{Window: time.Second, Traced: time.Second, Commits: 900, Idle: 200, Total: 180 * time.Millisecond,
		Runnable: 80 * time.Millisecond, Running: 60 * time.Millisecond, OSWait: 20 * time.Millisecond, Blocked: 40 * time.Millisecond}
	// Waits for a core: 80 + 20 ms a second = 10%, half the backend's 20%: the run queue.
	rows := turnaroundBench(ta).missRows()
	if len(rows) != 1 || !rows[0].Explained || !strings.Contains(rows[0].Bound, "bound by the machine's run queue") ||
		!strings.Contains(rows[0].Bound, "= 50% of the backend's wait for the node") || strings.Contains(rows[0].Bound, designTail) {
		t.Fatalf("run queue: %+v", rows)
	}
	// A trace that cost the node more than 15% of its holds/s does not judge.
	ta.HoldsBefore, ta.HoldsDuring = 10000, 8400
	rows = turnaroundBench(ta).missRows()
	if len(rows) != 1 || rows[0].Explained || !strings.Contains(rows[0].Bound, "measured its own cost") ||
		!strings.Contains(rows[0].Bound, designTail) {
		t.Fatalf("costly trace: %+v", rows)
	}
	ta.HoldsDuring = 8600
	if rows = turnaroundBench(ta).missRows(); len(rows) != 1 || !rows[0].Explained {
		t.Fatalf("trace within its slack: %+v", rows)
	}
	// 1 ms less: short of half the backend's wait: the design's.
	ta.OSWait -= time.Millisecond
	rows = turnaroundBench(ta).missRows()
	if len(rows) != 1 || rows[0].Explained || !strings.Contains(rows[0].Bound, "the commit loop's turnaround is the design's") ||
		!strings.Contains(rows[0].Bound, "not explained by a machine bound") {
		t.Fatalf("design: %+v", rows)
	}
	// Without a trace the row keeps round 19's sentence.
	rows = turnaroundBench(nil).missRows()
	if len(rows) != 1 || rows[0].Explained || !strings.Contains(rows[0].Bound, designTail) {
		t.Fatalf("no trace: %+v", rows)
	}
}

func TestWhyMissesCountsTheSaturationThresholdAsCPUBound(t *testing.T) {
	ta := &turnaround{Window: time.Second, Traced: time.Second, Commits: 900, Idle: 200, Total: 180 * time.Millisecond,
		Runnable: 10 * time.Millisecond, Running: 150 * time.Millisecond, Blocked: 20 * time.Millisecond}
	for _, c := range []struct {
		server    float64 // the run's server cores: 9,000 holds/s
		explained bool
	}{
		{0.94, true},  // 1.54 cores: 171 µs a hold; 10,000/s need 1.71 cores > 1.70
		{0.92, false}, // 1.52 cores: 169 µs a hold; 10,000/s need 1.69 cores < 1.70
	} {
		b := turnaroundBench(ta)
		for i := range b.series[1].Runs {
			b.series[1].Runs[i].ServerCores = c.server
		}
		rows := b.missRows()
		if len(rows) != 1 || rows[0].Explained != c.explained ||
			strings.Contains(rows[0].Bound, "saturation threshold") != c.explained ||
			!strings.Contains(rows[0].Bound, "the commit loop's turnaround is the design's") {
			t.Errorf("server %.2f cores: %+v", c.server, rows)
		}
	}
	// The ceiling itself below the need: CPU-bound as before, the commit loop not consulted.
	b := turnaroundBench(ta)
	for i := range b.series[1].Runs {
		b.series[1].Runs[i].ServerCores = 1.5
	}
	if rows := b.missRows(); len(rows) != 1 || !rows[0].Explained || strings.Contains(rows[0].Bound, "threshold") ||
		strings.Contains(rows[0].Bound, "backend") {
		t.Errorf("ceiling: %+v", rows)
	}
	// The wrk row: the same rule on its CPU per request.
	wrk := func(nodeMs int64) *wrkResult {
		run := func(req float64, node time.Duration) wrkRun {
			return wrkRun{Requests: int64(req * 8), Seconds: 8, ReqPerSec: req, NodeCPU: node, MachineCPU: 13 * time.Second}
		}
		pg := run(9000, time.Duration(nodeMs)*time.Millisecond)
		pg.CommitsInFlight, pg.Backend = 1.5, &wrkBackend{Samples: 400, Executing: 0.5, WAL: 0.3, Waiting: 0.2}
		return &wrkResult{Runs: map[string][]wrkRun{"empty": {run(20000, 9600*time.Millisecond)}, "pg": {pg}}}
	}
	for _, c := range []struct {
		nodeMs    int64 // over 72,000 requests: 171 µs and 169 µs each
		explained bool
	}{{12312, true}, {12168, false}} {
		b.wrk = wrk(c.nodeMs)
		rows := b.wrkMissRows()
		if len(rows) != 1 || rows[0].Explained != c.explained || strings.Contains(rows[0].Bound, "saturation threshold") != c.explained ||
			!strings.Contains(rows[0].Bound, "for the node's next commit 20%") {
			t.Errorf("wrk, node %d ms: %+v", c.nodeMs, rows)
		}
	}
}

func TestTraceLength(t *testing.T) {
	for v, want := range map[string]time.Duration{"": defaultTrace, "0": 0, "2s": 2 * time.Second, "soon": 0} {
		if got := traceLength(v, true); got != want {
			t.Errorf("traceLength(%q) = %v, want %v", v, got, want)
		}
	}
	if got := traceLength("", false); got != 0 {
		t.Errorf("a node whose commit loop is not judged is traced by default: %v", got)
	}
	if got := traceLength("2s", false); got != 2*time.Second {
		t.Errorf("an asked-for trace of any node: %v", got)
	}
}
