package cmd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/allot/allot/persistence/postgres"
)

// What bounds the wrk section's durable PostgreSQL row (issue 17, round 18). One hot resource's
// commits are applied by one PostgreSQL backend, one transaction after another (the pipe of
// persistence/postgres keeps at most the store's pipeline depth of them there, the next one
// already in the backend's socket). Either that backend is busy all the time (on its core,
// waiting for a core, or flushing the WAL: the machine's bound, as for the in-process row), or
// it waits for the node's next commit (the commit loop's turnaround through the node: the
// design's). Around every run of a durable PostgreSQL row the harness measures which:
//
//   - pg_stat_activity of the node's database, sampled every wrkBackendEvery from a connection
//     of its own: per sample, whether a backend of the node executes (active, or between two
//     transactions on its CPU), waits for a WAL write or flush, waits for something else, or
//     every one of them waits for the node (ClientRead: the pool's idle connections always do,
//     and the pipe's when nothing of the resource is in its socket);
//   - /proc/PID/schedstat of those backends at both ends, summed (the resource's pipe moves
//     between pooled connections): time on a core and runnable without one (waiting for a
//     core);
//   - the node's threads' time runnable without a core (/proc/PID/task/*/schedstat);
//   - the node's mean commits at the store (Little's law on allot_commit_seconds: the sum of
//     the commits' latencies over the run's duration) against the pipeline's depth.

// wrkBackendEvery is the sampling period of pg_stat_activity: 500 samples in a 10 s run, for
// about 50 queries a second of a backend of its own (well under 1% of a core).
const wrkBackendEvery = 20 * time.Millisecond

// wrkBackend is what a durable PostgreSQL run measured of its commit loop.
type wrkBackend struct {
	Samples int
	// Shares of the samples: a backend of the node executing, waiting for the WAL, waiting
	// for something else, woken by its next commit but not yet on a core, and all of them
	// waiting for the node (Waiting).
	Executing, WAL, Other, Woken, Waiting float64
	// The node's backends' time on a core (OnCPU) and runnable without one (RunQueue) per
	// second of the run; NodeRunQueue is the node's threads' runnable time without a core per second
	// (threads waiting on average).
	OnCPU, RunQueue, NodeRunQueue float64
}

// busy is the share of the samples with the resource's backend not waiting for the node.
func (w wrkBackend) busy() float64 { return 1 - w.Waiting }

// pgPipelineDepth is how many commits of one resource the PostgreSQL store takes at once.
func pgPipelineDepth() int {
	var s *postgres.Store
	depth, _ := s.PipelineShape()
	return depth
}

// backendSample is one row of pg_stat_activity, with the process's state from /proc read
// right after the query (R: running or runnable).
type backendSample struct {
	pid             int
	state, waitType string
	waitEvent       string
	runnable        bool
}

// sampleKind classifies one sample of the node's backends: "exec" when one executes (active
// without a wait event, or idle on its CPU between two transactions: an idle backend of the
// pool waits in ClientRead), "wal" when one waits for a WAL write or flush, "other" when one
// waits for anything else (a lock, a data file), "woken" when one still shows ClientRead but
// is runnable (its next commit arrived; it waits for a core, which clears the wait event only
// once it runs), "waiting" when every one waits for the node.
func sampleKind(rows []backendSample) string {
	kind := "waiting"
	rank := map[string]int{"waiting": 0, "woken": 1, "other": 2, "wal": 3}
	for _, r := range rows {
		k := "waiting"
		switch {
		case r.waitEvent == "":
			return "exec"
		case strings.HasPrefix(r.waitEvent, "WAL"):
			k = "wal"
		case r.waitEvent != "ClientRead":
			k = "other"
		case r.runnable:
			k = "woken"
		}
		if rank[k] > rank[kind] {
			kind = k
		}
	}
	return kind
}

// procRunnable reports whether pid is running or runnable (state R in /proc/PID/stat).
func procRunnable(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'R'
}

// schedstat reads /proc/PID/schedstat, or the sum over PID's threads when threads: time on a
// core and time runnable without one.
func schedstat(pid int, threads bool) (onCPU, runQueue time.Duration, ok bool) {
	files := []string{fmt.Sprintf("/proc/%d/schedstat", pid)}
	if threads {
		files, _ = filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		v := strings.Fields(string(b))
		if len(v) < 2 {
			continue
		}
		run, err1 := strconv.ParseInt(v[0], 10, 64)
		wait, err2 := strconv.ParseInt(v[1], 10, 64)
		if err1 == nil && err2 == nil {
			onCPU, runQueue, ok = onCPU+time.Duration(run), runQueue+time.Duration(wait), true
		}
	}
	return onCPU, runQueue, ok
}

// backendWatch samples the backends of one database while a run lasts; its zero value
// (no database) measures nothing.
type backendWatch struct {
	cancel  context.CancelFunc
	done    chan struct{}
	nodePID int
	start   time.Time
	node0   time.Duration
	mu      sync.Mutex
	kinds   map[string]int
	first   map[int][2]time.Duration // schedstat of each backend when first seen
	err     error
	// self is the sampling connection's backend and its time on a core at the start: what
	// the sampling cost PostgreSQL, taken out of the run's database CPU.
	self     int
	selfCPU0 time.Duration
}

// watchBackends starts sampling the backends of the database at url (the node's) and reads
// the node's threads' schedstat; stop returns what it measured.
func watchBackends(ctx context.Context, url string, nodePID int) *backendWatch {
	w := &backendWatch{done: make(chan struct{}), nodePID: nodePID, kinds: map[string]int{}, first: map[int][2]time.Duration{}}
	if url == "" {
		close(w.done)
		return w
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		w.err = err
		close(w.done)
		return w
	}
	var self int32
	if err := conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&self); err == nil {
		w.self = int(self)
		w.selfCPU0, _, _ = schedstat(w.self, false)
	}
	ctx, w.cancel = context.WithCancel(ctx)
	_, w.node0, _ = schedstat(nodePID, true)
	w.start = time.Now()
	go func() {
		defer close(w.done)
		defer conn.Close(context.Background())
		tick := time.NewTicker(wrkBackendEvery)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			rows, err := w.sample(ctx, conn)
			if err != nil {
				if ctx.Err() == nil {
					w.mu.Lock()
					w.err = err
					w.mu.Unlock()
				}
				return
			}
			w.mu.Lock()
			w.kinds[sampleKind(rows)]++
			for _, r := range rows {
				if _, seen := w.first[r.pid]; !seen {
					if run, wait, ok := schedstat(r.pid, false); ok {
						w.first[r.pid] = [2]time.Duration{run, wait}
					}
				}
			}
			w.mu.Unlock()
		}
	}()
	return w
}

func (w *backendWatch) sample(ctx context.Context, conn *pgx.Conn) ([]backendSample, error) {
	rows, err := conn.Query(ctx, `SELECT pid, coalesce(state, ''), coalesce(wait_event_type, ''), coalesce(wait_event, '')
		FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()`)
	if err != nil {
		return nil, err
	}
	var out []backendSample
	for rows.Next() {
		var s backendSample
		var pid int32
		if err := rows.Scan(&pid, &s.state, &s.waitType, &s.waitEvent); err != nil {
			return nil, err
		}
		s.pid = int(pid)
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		out[i].runnable = procRunnable(out[i].pid)
	}
	return out, nil
}

// cost is the CPU the sampling connection's backend used so far (call before stop closes it).
func (w *backendWatch) cost() time.Duration {
	if w.self == 0 {
		return 0
	}
	run, _, ok := schedstat(w.self, false)
	if !ok {
		return 0
	}
	return run - w.selfCPU0
}

// stop ends the sampling and returns the run's measurement; ok false when nothing was
// sampled.
func (w *backendWatch) stop() (m wrkBackend, ok bool, err error) {
	if w.cancel != nil {
		w.cancel()
	}
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, n := range w.kinds {
		m.Samples += n
	}
	if m.Samples == 0 {
		return m, false, w.err
	}
	share := func(k string) float64 { return float64(w.kinds[k]) / float64(m.Samples) }
	m.Executing, m.WAL, m.Other, m.Woken, m.Waiting = share("exec"), share("wal"), share("other"), share("woken"), share("waiting")
	// Summed over the node's backends: the resource's pipe takes a pooled connection while
	// it has batches and gives it back when its queue drains, so its commits move between
	// connections, one at a time; the idle ones add next to nothing.
	wall := time.Since(w.start)
	for pid, s0 := range w.first {
		if run, wait, ok := schedstat(pid, false); ok {
			m.OnCPU += (run - s0[0]).Seconds() / wall.Seconds()
			m.RunQueue += (wait - s0[1]).Seconds() / wall.Seconds()
		}
	}
	if _, node1, ok := schedstat(w.nodePID, true); ok && w.node0 > 0 {
		m.NodeRunQueue = (node1 - w.node0).Seconds() / wall.Seconds()
	}
	return m, true, w.err
}

// wrkBackendStat is the median of f over the runs of key that measured their backend.
func (r *wrkResult) backendStat(key string, f func(wrkBackend) float64) stat {
	var xs []float64
	for _, run := range r.Runs[key] {
		if run.Err == nil && run.Backend != nil {
			xs = append(xs, f(*run.Backend))
		}
	}
	return statOf(xs)
}

// backendBound says what the commit loop of a durable PostgreSQL row measured (medians over
// its runs): explained (a machine bound) when the backend that applies the resource's commits
// was busy in at least backendSaturated of the samples (executing, on a core or waiting for
// one, or flushing the WAL): then the resource goes as fast as one backend applies its
// transactions one after another on this machine's cores and disk; a second connection would
// be fenced, and the next transaction cannot overlap the flush on the same one. Otherwise the
// backend waited for the node's next commit: the commit loop's turnaround, the design's.
func (r *wrkResult) backendBound(key string) (string, bool, bool) {
	n := r.backendStat(key, func(b wrkBackend) float64 { return float64(b.Samples) })
	if n.N == 0 {
		return "", false, false
	}
	med := func(f func(wrkBackend) float64) float64 { return r.backendStat(key, f).Med }
	waiting := med(func(b wrkBackend) float64 { return b.Waiting })
	inFlight := r.stat(key, func(w wrkRun) float64 { return w.CommitsInFlight }).Med
	s := fmt.Sprintf("the resource's commits: %.2f of at most %d at the store on average (Little's law on the commit latency); "+
		"the PostgreSQL backend applying them (pg_stat_activity every %s, %.0f samples a run) executed %.0f%% of the time, "+
		"waited for the WAL %.0f%%, for something else %.0f%%, for a core with its next commit arrived %.0f%%, and for the node's next commit %.0f%%; "+
		"the node's backends ran on a core %.0f%% of the run and waited for one %.0f%% (schedstat); the node's threads waited for a core %.2f s per s",
		inFlight, pgPipelineDepth(), wrkBackendEvery, n.Med,
		100*med(func(b wrkBackend) float64 { return b.Executing }), 100*med(func(b wrkBackend) float64 { return b.WAL }),
		100*med(func(b wrkBackend) float64 { return b.Other }), 100*med(func(b wrkBackend) float64 { return b.Woken }), 100*waiting,
		100*med(func(b wrkBackend) float64 { return b.OnCPU }), 100*med(func(b wrkBackend) float64 { return b.RunQueue }),
		med(func(b wrkBackend) float64 { return b.NodeRunQueue }))
	if 1-waiting >= backendSaturated {
		return s + ": the backend never waited for the node, so the resource went as fast as one backend applies its " +
			"transactions one after another on this machine (its share of a core, the waits for one, the WAL flush; " +
			"a second connection would be fenced): **bound by one backend (its core and the WAL flush)**", true, true
	}
	return s + fmt.Sprintf(": the backend waited %.0f%% of the time for the node's next commit, so it is not the bound", 100*waiting) +
		designTail, false, true
}

// designTail ends backendBound's sentence when the backend waited for the node and no trace
// measured the turnaround (with one, turnaround.verdict says whose it is).
const designTail = "; the commit loop's turnaround through the node (the answer back to the actor, the next batch sealed and " +
	"sent, with the pipeline not full) is the design's"

func TestSampleKind(t *testing.T) {
	idle := backendSample{pid: 1, state: "idle", waitType: "Client", waitEvent: "ClientRead"}
	for _, c := range []struct {
		rows []backendSample
		want string
	}{
		{nil, "waiting"},
		{[]backendSample{idle, idle}, "waiting"},
		{[]backendSample{idle, {state: "idle", waitType: "Client", waitEvent: "ClientRead", runnable: true}}, "woken"},
		{[]backendSample{idle, {state: "active", waitType: "IO", waitEvent: "WALSync"}}, "wal"},
		{[]backendSample{idle, {state: "active", waitType: "IO", waitEvent: "DataFileExtend"}}, "other"},
		{[]backendSample{{state: "active", waitType: "IO", waitEvent: "DataFileExtend"}, {state: "active", waitEvent: "WALWrite"}}, "wal"},
		{[]backendSample{idle, {state: "active"}}, "exec"},
		{[]backendSample{idle, {state: "idle"}}, "exec"}, // on its CPU between two transactions
	} {
		if got := sampleKind(c.rows); got != c.want {
			t.Errorf("sampleKind(%+v) = %s, want %s", c.rows, got, c.want)
		}
	}
}

func TestWrkBackendBound(t *testing.T) {
	run := func(waiting float64) wrkRun {
		return wrkRun{ReqPerSec: 10000, CommitsInFlight: 1.6,
			Backend: &wrkBackend{Samples: 500, Executing: 0.5, WAL: 0.5 - waiting, Waiting: waiting, OnCPU: 0.4, RunQueue: 0.3}}
	}
	r := &wrkResult{Runs: map[string][]wrkRun{"pg": {run(0.26), run(0.2), run(0.3)}, "sqlite": {{ReqPerSec: 5000}}}}
	if s, ok, measured := r.backendBound("pg"); !measured || ok || !strings.Contains(s, "for the node's next commit 26%") ||
		!strings.Contains(s, "so it is not the bound") {
		t.Fatalf("backend waiting for the node: explained %v, measured %v: %s", ok, measured, s)
	}
	r.Runs["pg"] = []wrkRun{run(0.02), run(0.04), run(0.1)}
	if s, ok, _ := r.backendBound("pg"); !ok || !strings.Contains(s, "bound by one backend") {
		t.Fatalf("backend busy 96%% of the time: explained %v: %s", ok, s)
	}
	if _, _, measured := r.backendBound("sqlite"); measured {
		t.Fatal("a row without backend samples has no commit-loop measurement")
	}
}
