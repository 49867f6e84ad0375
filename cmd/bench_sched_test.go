package cmd

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The commit loop's turnaround through the node, from an execution trace (issue 17, round 20).
// The PostgreSQL backend that applies the hot resource's commits waits for the node's next
// commit 12-26% of the time (bench_wrk_backend_test.go) while the node's threads wait for a core
// 1.3-1.5 s per second. Either that wait is the machine's run queue (the goroutines that carry
// the reply to the actor and the next batch to the socket were runnable but had no core) or the
// design's (they ran, or waited for something else: the batch not sealed, holds not arrived).
// The profiled run of a one-node PostgreSQL system (an extra run, not counted in the tables)
// fetches an execution trace of the node (ALLOT_BENCH_TRACE) and this file measures which:
//
//   - the pipe's reader (persistence/postgres readPipe) blocks on its sync.Cond exactly when
//     every batch sent was answered: from then on the backend has nothing of the resource and
//     waits for the node. That idle period starts, seen from the node, when the reply that
//     emptied the pipe reached it (the reader's last wake from the network before it went
//     idle) and ends when the next batch's statement leaves (the pipe's sender enters the
//     write syscall in Store.send): the turnaround during which the backend waits;
//   - each turnaround is split by walking back from that write along who woke whom (the
//     trace's unblock events: the sender was woken by the actor's Enqueue, the actor by the
//     commit's result or a hold's request, ...) to the reply's arrival: time a goroutine on the
//     path was runnable without a P (the Go scheduler's latency, which includes waking an idle
//     thread that waits for a core), running (or in a syscall), or, when the path leads to
//     something the network woke after the reply (a hold's request: the batch was not sealed
//     yet), blocked on something else;
//   - the Go trace cannot see a running thread that the kernel took off its core: the running
//     time on each thread is split by that thread's share of runnable-without-a-core in
//     /proc/PID/task/TID/schedstat over the trace's window (an estimate: the thread's share
//     spread evenly over its running time).
//
// The row names the run queue only when the waits for a core (the scheduler's and the
// kernel's) on those turnarounds, per second of the trace, account for at least
// runQueueShare of the backend's measured wait for the node in the same run, and only when
// the trace did not slow the node by more than 1 - traceCostSlack (its committed holds/s in
// the traced second against the second before it, same run).

// traceCostSlack is the least share of the untraced window's committed holds per second the
// node must keep while traced for the trace's split to judge the row: tracing costs CPU, which
// on this machine's two cores is itself time other goroutines wait for a core, so a trace that
// slowed the node more than that would measure its own cost.
const traceCostSlack = 0.85

// runQueueShare is how much of the backend's wait for the node the turnarounds' waits for a
// core must account for to name the machine's run queue as the bound.
const runQueueShare = 0.5

// turnaround is what a trace of the node measured of the commit loop.
type turnaround struct {
	Window  time.Duration // the trace's span
	Commits int           // statements of the hot resource's batches written in it
	// Idle is how many times the pipe emptied; the sums are over those turnarounds (reply in
	// to next statement out), split as above: Runnable (the Go scheduler's latency), Running
	// (of which OSWait estimated off a core by the threads' schedstat), Blocked (the path
	// waited for a later event from the network), Unknown (the walk found no unblock event).
	Idle                                             int
	Total, Runnable, Running, OSWait, Blocked, Other time.Duration
	// Cost of tracing: the node's committed holds per second during the trace, and in as
	// long a window just before it, in the same run.
	HoldsBefore, HoldsDuring float64
	Traced                   time.Duration // how long the trace was asked for
}

// coreWait is the turnarounds' time waiting for a core: the Go scheduler's and the kernel's.
func (t turnaround) coreWait() time.Duration { return t.Runnable + t.OSWait }

// share is d per second of the trace.
func (t turnaround) share(d time.Duration) float64 {
	return d.Seconds() / max(t.Window.Seconds(), 1e-9)
}

// transition is one goroutine state transition of a trace (go tool trace -d=parsed).
type transition struct {
	t        int64 // ns, the trace's clock
	m        int64 // the thread that emitted it (the OS thread id)
	by       int64 // the goroutine that emitted it; -1 for the scheduler (netpoll, timers)
	from, to string
	role     string // what the stack says the goroutine blocks in or calls (roleOf)
}

// roleOf names the commit loop's points from a transition's stack: the pipe's reader waiting
// for the network or for a batch to be sent, and the pipe's sender writing a batch.
func roleOf(to string, frames []string) string {
	has := func(s string) bool {
		for _, f := range frames {
			if strings.Contains(f, s) {
				return true
			}
		}
		return false
	}
	switch {
	case to == "Syscall" && has("postgres.(*Store).send") && has("syscall.write"):
		return "send"
	case to == "Waiting" && has("postgres.(*Store).readPipe") && has("sync.(*Cond).Wait"):
		return "idle"
	case to == "Waiting" && has("postgres.(*Store).readPipe"):
		return "read"
	}
	return ""
}

// parseTransitions reads the goroutine transitions of go tool trace -d=parsed's output, per
// goroutine in time order, and the trace's first and last event times.
func parseTransitions(r io.Reader) (map[int64][]transition, int64, int64, error) {
	byG := map[int64][]transition{}
	var first, last int64
	seen := false
	var cur *transition
	var g int64
	var frames []string
	inTransitionStack := false
	flush := func() {
		if cur != nil {
			cur.role = roleOf(cur.to, frames)
			byG[g] = append(byG[g], *cur)
		}
		cur, frames, inTransitionStack = nil, frames[:0], false
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "M="):
			flush()
			f := fields(line)
			t, err := strconv.ParseInt(f["Time"], 10, 64)
			if err != nil {
				continue
			}
			if !seen {
				first, seen = t, true
			}
			last = t
			if !strings.Contains(line, " StateTransition ") || f["GoID"] == "" {
				continue
			}
			states := strings.SplitN(f["state"], "->", 2)
			if len(states) != 2 {
				continue
			}
			g, _ = strconv.ParseInt(f["GoID"], 10, 64)
			m, _ := strconv.ParseInt(f["M"], 10, 64)
			by, _ := strconv.ParseInt(f["G"], 10, 64)
			cur = &transition{t: t, m: m, by: by, from: states[0], to: states[1]}
		case line == "TransitionStack=":
			inTransitionStack = true
		case line == "Stack=":
			inTransitionStack = false
		case inTransitionStack && cur != nil && strings.HasPrefix(line, "\t") && !strings.HasPrefix(line, "\t\t"):
			fn, _, _ := strings.Cut(strings.TrimSpace(line), " @ ")
			frames = append(frames, fn)
		}
	}
	flush()
	return byG, first, last, sc.Err()
}

// fields splits a -d=parsed event line: key=value pairs, and the "From->To" state as "state".
func fields(line string) map[string]string {
	out := map[string]string{}
	for _, w := range strings.Fields(line) {
		if k, v, ok := strings.Cut(w, "="); ok {
			out[k] = v
		} else if strings.Contains(w, "->") {
			out["state"] = w
		}
	}
	return out
}

// span is a stretch of the walk: a goroutine running (on thread m) or runnable.
type span struct {
	d       time.Duration
	running bool
	m, g    int64
}

// walkBack splits [t0, t1] by walking back from goroutine g at t1 along who woke whom, until
// the reply's arrival at t0. It returns the spans found, and the time before them that the
// path waited for a later event (blocked) or could not be attributed (other).
func walkBack(byG map[int64][]transition, g, t1, t0 int64) (spans []span, blocked, other time.Duration) {
	cur := t1
	for step := 0; step < 64 && cur > t0; step++ {
		ts := byG[g]
		i := lastAtOrBefore(ts, cur)
		next := int64(-2)
		for ; i >= 0 && cur > t0; i-- {
			tr := ts[i]
			from := max(tr.t, t0)
			switch tr.to {
			case "Running", "Syscall":
				spans = append(spans, span{d: time.Duration(cur - from), running: true, m: tr.m, g: g})
				cur = from
				continue
			case "Runnable":
				spans = append(spans, span{d: time.Duration(cur - from), g: g})
				cur = from
				switch tr.from {
				case "Syscall", "Running":
					continue // in a syscall before, or preempted: keep walking it back
				case "Waiting", "NotExist":
					next = tr.by
				}
			}
			break
		}
		if cur <= t0 {
			break
		}
		if next == -1 {
			// Woken by the scheduler (the network, a timer) after the reply arrived: the path
			// waited for something else.
			return spans, time.Duration(cur - t0), 0
		}
		if next < 0 || next == g {
			return spans, 0, time.Duration(cur - t0)
		}
		g = next
	}
	if cur > t0 {
		other = time.Duration(cur - t0)
	}
	return spans, 0, other
}

// lastAtOrBefore is the index of the last transition at or before t, or -1.
func lastAtOrBefore(ts []transition, t int64) int {
	lo, hi := 0, len(ts)
	for lo < hi {
		mid := (lo + hi) / 2
		if ts[mid].t <= t {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo - 1
}

// threadWait is a thread's share of its schedstat time spent runnable without a core over
// the trace's window (run and wait deltas).
type threadWait map[int64]float64

// analyseTransitions measures the turnarounds of a parsed trace (see the file's comment).
func analyseTransitions(byG map[int64][]transition, first, last int64, waits threadWait) turnaround {
	out := turnaround{Window: time.Duration(last - first)}
	var sends []int64
	type idleAt struct{ g, t0, te int64 }
	var idles []idleAt
	for g, ts := range byG {
		lastReply := int64(-1)
		for i, tr := range ts {
			switch {
			case tr.role == "send":
				sends = append(sends, tr.t)
			case tr.to == "Runnable" && tr.from == "Waiting" && i > 0 && ts[i-1].role == "read":
				// The netpoller woke the reader (from the scheduler, or from a goroutine that
				// restarted the world): a reply reached the node.
				lastReply = tr.t
			case tr.role == "idle":
				if lastReply >= 0 {
					idles = append(idles, idleAt{g, lastReply, tr.t})
				}
				lastReply = -1
			}
		}
	}
	slices.Sort(sends)
	out.Commits = len(sends)
	for _, id := range idles {
		// The next statement out: the first write after the pipe went idle.
		j := firstAfter(sends, id.te)
		if j < 0 {
			continue
		}
		t1 := sends[j]
		sender := int64(-1)
		for g, ts := range byG {
			if k := lastAtOrBefore(ts, t1); k >= 0 && ts[k].t == t1 && ts[k].role == "send" {
				sender = g
				break
			}
		}
		if sender < 0 {
			continue
		}
		spans, blocked, other := walkBack(byG, sender, t1, id.t0)
		out.Idle++
		out.Total += time.Duration(t1 - id.t0)
		out.Blocked += blocked
		out.Other += other
		for _, s := range spans {
			if !s.running {
				out.Runnable += s.d
				continue
			}
			out.Running += s.d
			out.OSWait += time.Duration(float64(s.d) * waits[s.m])
		}
	}
	return out
}

// firstAfter is the index of the first element of sorted xs after t, or -1.
func firstAfter(xs []int64, t int64) int {
	i := sort.Search(len(xs), func(i int) bool { return xs[i] > t })
	if i >= len(xs) {
		return -1
	}
	return i
}

// schedstatFile reads one schedstat file: time on a core, and runnable without one.
func schedstatFile(path string) (onCPU, runQueue time.Duration, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, false
	}
	v := strings.Fields(string(b))
	if len(v) < 2 {
		return 0, 0, false
	}
	run, err1 := strconv.ParseInt(v[0], 10, 64)
	wait, err2 := strconv.ParseInt(v[1], 10, 64)
	return time.Duration(run), time.Duration(wait), err1 == nil && err2 == nil
}

// threadSchedstat is the schedstat (on a core, runnable without one) of each of pid's threads.
func threadSchedstat(pid int) map[int64][2]time.Duration {
	out := map[int64][2]time.Duration{}
	files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	for _, f := range files {
		tid, err := strconv.ParseInt(filepath.Base(filepath.Dir(f)), 10, 64)
		if err != nil {
			continue
		}
		if run, wait, ok := schedstatFile(f); ok {
			out[tid] = [2]time.Duration{run, wait}
		}
	}
	return out
}

// waitsBetween is each thread's share of runnable-without-a-core between two snapshots.
func waitsBetween(a, b map[int64][2]time.Duration) threadWait {
	out := threadWait{}
	for tid, s1 := range b {
		s0 := a[tid]
		run, wait := s1[0]-s0[0], s1[1]-s0[1]
		if run+wait > 0 {
			out[tid] = float64(wait) / float64(run+wait)
		}
	}
	return out
}

// analyseTrace parses the trace at path with go tool trace and measures its turnarounds.
func analyseTrace(ctx context.Context, path string, waits threadWait) (turnaround, error) {
	cmd := exec.CommandContext(ctx, "go", "tool", "trace", "-d=parsed", path)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return turnaround{}, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return turnaround{}, err
	}
	byG, first, last, perr := parseTransitions(stdout)
	_, _ = io.Copy(io.Discard, stdout)
	if err := cmd.Wait(); err != nil {
		return turnaround{}, fmt.Errorf("go tool trace: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	if perr != nil {
		return turnaround{}, perr
	}
	t := analyseTransitions(byG, first, last, waits)
	if t.Commits == 0 {
		// Nothing to judge (or -d=parsed's text changed): the row keeps its untraced sentence.
		return t, fmt.Errorf("no batch of the resource written in the trace (%d goroutines read)", len(byG))
	}
	return t, nil
}

// verdict says what the trace measured of the turnarounds, against the backend's measured
// wait for the node (backendWait, the share of pg_stat_activity's samples of the same run),
// and whether the machine's run queue is the bound: the waits for a core on the turnarounds,
// per second of the trace, at least runQueueShare of backendWait.
func (t turnaround) verdict(backendWait float64) (string, bool) {
	d := t.Traced
	if t.Idle == 0 || t.Total <= 0 {
		return fmt.Sprintf("an execution trace of the node (%s of its profiled run) saw %d commits and the pipe never emptied", d, t.Commits), false
	}
	pct := func(x time.Duration) float64 { return 100 * float64(x) / float64(t.Total) }
	avg := func(x time.Duration) float64 { return float64(x.Microseconds()) / float64(t.Idle) }
	s := fmt.Sprintf("an execution trace of the node (%s of its profiled run, an extra run not counted in the tables", d)
	if t.HoldsBefore > 0 && t.HoldsDuring > 0 {
		s += fmt.Sprintf("; the node committed %s holds/s while traced against %s/s in the %s before", num(t.HoldsDuring), num(t.HoldsBefore), d)
	}
	if t.HoldsBefore > 0 && t.HoldsDuring < traceCostSlack*t.HoldsBefore {
		return s + fmt.Sprintf(") slowed the node below %.0f%% of the holds/s before it: it measured its own cost, so its split "+
			"does not judge the row", 100*traceCostSlack) + designTail, false
	}
	wait := t.share(t.coreWait())
	s += fmt.Sprintf(") saw %d commits of the resource, and its pipe emptied %d times (the backend waiting for the node %.0f%% of the trace, "+
		"%.0f%% in pg_stat_activity of the same run); from the reply reaching the node to the next statement leaving it took %.0f µs "+
		"on average: %.0f%% runnable without a P (%.0f µs, the Go scheduler's latency), %.0f%% running (%.0f µs, of which ~%.0f µs off "+
		"a core by the threads' schedstat), %.0f%% waiting for a later request or event (%.0f µs: the batch not sealed yet), %.0f%% "+
		"not attributed; waiting for a core (scheduler + kernel) is %.1f%% of the trace's time = %.0f%% of the backend's wait for the node",
		t.Commits, t.Idle, 100*t.share(t.Total), 100*backendWait, avg(t.Total),
		pct(t.Runnable), avg(t.Runnable), pct(t.Running), avg(t.Running), avg(t.OSWait), pct(t.Blocked), avg(t.Blocked), pct(t.Other),
		100*wait, 100*wait/max(backendWait, 1e-9))
	if backendWait > 0 && wait >= runQueueShare*backendWait {
		return s + fmt.Sprintf(", at least %.0f%% of it: **bound by the machine's run queue** (the commit loop's goroutines had work and no core)", 100*runQueueShare), true
	}
	return s + fmt.Sprintf(", less than %.0f%% of it: the commit loop's turnaround is the design's (its goroutines ran or waited for "+
		"something else, not for a core)", 100*runQueueShare), false
}
