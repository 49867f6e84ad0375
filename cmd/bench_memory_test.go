package cmd

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allot/allot/cluster/clustertest"
)

// memPoint is the node's memory at one moment of the memory benchmark.
type memPoint struct {
	What        string
	Active      int   // resource actors active on the node
	RSS         int64 // VmRSS of the process
	HeapInuse   int64 // go_memstats_heap_inuse_bytes: spans in use, live objects and the free slots between them
	HeapAlloc   int64 // go_memstats_heap_alloc_bytes: live objects after a GC (and garbage before one)
	HeapObjects int64 // go_memstats_heap_objects
	// Mem is the rest of the account: /proc/PID/status's split of VmRSS and the Go runtime's
	// own (go_memstats_*) at the same moment (bench_memaccount_test.go).
	Mem memAccount
}

// memResult is the outcome of the memory benchmark.
type memResult struct {
	Resources, HoldsPer int
	IdleTimeout         time.Duration
	EventsOff           bool          // the node ran with --events off (no outbox, no embedded JetStream)
	Fill                time.Duration // creating the resources and placing their holds
	// FillCPU is the node's CPU time (user + system, /proc/PID/stat) over the fill: what a
	// GC setting (GOGC, GOMEMLIMIT in the node's environment) costs shows here.
	FillCPU time.Duration
	// Passivation is from the end of the fill until the node reported no activation.
	Passivation time.Duration
	Failed      int64 // creations or holds that failed
	Points      []memPoint
	Command     string
	// HeapTop and PassivatedTop are go tool pprof -top of the heap (after a GC) while every
	// resource is active, and once all passivated.
	HeapTop, PassivatedTop string
	// Retained is what the heap profile after passivation holds beyond the idle node's
	// (pprof -base), by owner; RetainedTop the top functions of that difference.
	Retained    []heapShare
	RetainedTop string
	// Rest is the sample at rest (bench_memrest_test.go): every resource still active, once the
	// fill's write rate has left the node's memory; the verdict is on it.
	Rest *restSample
	Err  error
}

// memory fills one node on the embedded store with cfg.Resources resources of one bucket,
// each with cfg.HoldsPer one-unit holds (a create and its holds in a row, 64 at a time), and
// reads the node's VmRSS and Go heap: idle after a forced GC, with every resource active, after
// a forced GC, at rest (every resource read once and still active, the write rate's memory
// gone: bench_memrest_test.go), once every resource has passivated (--idle-timeout), after
// another forced GC, and half a minute later for the runtime to return memory to the OS. The
// idle timeout must exceed the fill, or the first resources passivate before the measurement:
// the per-resource figures divide by the activations the node reports, and a fill longer than
// the timeout is a problem.
// eventsOff runs the node with --events off (no outbox and no embedded JetStream).
func (b *bench) memory(t *testing.T, eventsOff bool) memResult {
	res := memResult{Resources: b.cfg.Resources, HoldsPer: b.cfg.HoldsPer, IdleTimeout: b.cfg.IdleTimeout, EventsOff: eventsOff}
	name, extra := "memory-node", []string{}
	if eventsOff {
		name, extra = "memory-node-events-off", []string{"--events", "off"}
	}
	node := startBenchNode(t, b.bin, b.cfg.Artifacts, name, b.keyFile, append([]string{"--data-dir", filepath.Join(t.TempDir(), "data"),
		"--idle-timeout", b.cfg.IdleTimeout.String()}, extra...)...)
	res.Command = node.CommandLine()
	ctx := t.Context()
	point := func(what string) {
		p := memPoint{What: what, Active: -1}
		p.RSS, _ = vmRSS(node.PID())
		p.Mem.readStatus(node.PID())
		if m, err := scrapeMetrics(ctx, node.Admin+"/metrics", append([]string{"go_memstats_heap_inuse_bytes", "go_memstats_heap_objects",
			"go_memstats_heap_alloc_bytes"}, memAccountMetrics...)...); err == nil {
			p.HeapInuse, p.HeapObjects = int64(m["go_memstats_heap_inuse_bytes"]), int64(m["go_memstats_heap_objects"])
			p.HeapAlloc = int64(m["go_memstats_heap_alloc_bytes"])
			p.Mem.fromMetrics(m)
		}
		p.Active = activations(t, node)
		res.Points = append(res.Points, p)
		t.Logf("memory %s: %d active, RSS %d MiB (anon %d, file %d, shmem %d), heap in use %d MiB, idle %d, released %d, next GC %d, stacks %d, GC metadata %d",
			what, p.Active, p.RSS>>20, p.Mem.RSSAnon>>20, p.Mem.RSSFile>>20, p.Mem.RSSShmem>>20, p.HeapInuse>>20, p.Mem.HeapIdle>>20,
			p.Mem.HeapReleased>>20, p.Mem.NextGC>>20, p.Mem.StackInuse>>20, p.Mem.GCSys>>20)
	}
	gc := func(name string) string {
		// The heap profile with gc=1 runs a garbage collection in the node first.
		path := filepath.Join(b.cfg.Artifacts, strings.Replace(name, "memory-", map[bool]string{true: "memory-events-off-", false: "memory-"}[eventsOff], 1))
		if err := fetchTo(ctx, node.Admin+"/debug/pprof/heap?gc=1", path); err != nil {
			t.Logf("forced GC: %v", err)
			return ""
		}
		return path
	}
	idleProfile := gc("memory-heap-idle.pprof")
	point("idle node, before the fill, after a forced GC")

	c := clustertest.NewClient(10*time.Second, clustertest.DevIssuer(t, b.keyFile))
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	_, cpu0, _ := procStat(node.PID())
	start := time.Now()
	for range 64 {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(res.Resources) || ctx.Err() != nil {
					return
				}
				rid := fmt.Sprintf("mem-%s-%06d", b.stamp, i)
				if err := c.CreateResource(ctx, node.URL, rid, map[string]int64{"all": int64(res.HoldsPer) * 2}, "1h"); err != nil {
					failed.Add(1)
					continue
				}
				for h := range res.HoldsPer {
					if hold, p, err := c.PlaceHold(ctx, node.URL, rid, fmt.Sprintf("%s-%d", rid, h), fmt.Sprintf("u-%d", h), []string{"all"}, 1); err != nil || p != nil || hold == nil {
						failed.Add(1)
					}
				}
			}
		})
	}
	wg.Wait()
	res.Fill, res.Failed = time.Since(start), failed.Load()
	if _, cpu1, err := procStat(node.PID()); err == nil {
		res.FillCPU = cpu1 - cpu0
	}
	t.Logf("memory fill: %d resources x %d holds in %s, %d failed, node CPU %s", res.Resources, res.HoldsPer,
		res.Fill.Round(time.Second), res.Failed, res.FillCPU.Round(10*time.Millisecond))
	if res.Fill >= res.IdleTimeout {
		b.problem(t, "memory benchmark: the fill (%s) took longer than the idle timeout (%s): the first resources passivated before the measurement (raise ALLOT_BENCH_IDLE_TIMEOUT)",
			res.Fill.Round(time.Second), res.IdleTimeout)
	}
	point(fmt.Sprintf("%s resources active, %d holds each", num(float64(res.Resources)), res.HoldsPer))
	heapTop := func(path string) string {
		if path == "" {
			return ""
		}
		out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-sample_index=inuse_space", "-top", "-nodecount=15", b.bin, path).CombinedOutput()
		if err != nil {
			return ""
		}
		return trimPprofHeader(string(out))
	}
	activeProfile := gc("memory-heap-active.pprof")
	res.HeapTop = heapTop(activeProfile)
	point("still active, after a forced GC")
	touched := b.atRest(t, node, &res, c, start.Add(res.Fill), point, gc, heapTop, idleProfile, activeProfile)
	if b.cfg.MemoryActiveOnly {
		return res
	}

	// Wait for passivation: the last resource was read at the end of the at-rest half's reads.
	deadline := time.Now().Add(b.cfg.IdleTimeout + 3*time.Minute)
	for activations(t, node) > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(time.Second) // passivation poll: the node reports its activations only on request
	}
	res.Passivation = time.Since(touched)
	point("all passivated (idle timeout)")
	passivated := gc("memory-heap-passivated.pprof")
	point("all passivated, after a forced GC")
	res.PassivatedTop = heapTop(passivated)
	if idleProfile != "" && passivated != "" {
		res.Retained, res.RetainedTop = b.heapRetained(t, idleProfile, passivated)
	}
	_ = sleepCtx(ctx, 30*time.Second) // the runtime's background scavenger returns freed pages to the OS
	point("passivated, forced GC + 30s")
	return res
}

// activations is the number of activations the node reports for itself, -1 if unknown.
func activations(t *testing.T, node *benchProc) int {
	v, _, err := clustertest.NewClient(5*time.Second, clustertest.DevIssuer(t, node.KeyFile)).API(node.URL).Members(t.Context())
	if err != nil {
		return -1
	}
	for _, m := range v.Members {
		if m.Self {
			return m.Activations
		}
	}
	return -1
}
