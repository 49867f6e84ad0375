package cmd

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allot/allot/cluster/clustertest"
)

// The memory benchmark's sample at rest (round 17, docs/PERFORMANCE.md).
//
// Right after the fill, the node's RSS holds two kinds of memory: what the active resources
// hold (their actors and states, protoactor's registry, the stream's per-subject index, SQLite's
// page cache), which grows with the resource count; and what the fill's write rate left
// (JetStream's duplicate window, its message block buffers and the recent blocks' subject
// indexes, and the garbage of the last GC cycle), which grows with how fast the machine filled
// and with where the GC's cycle was when the harness looked. The second kind made the per-resource
// verdict depend on the machine's pace. So the harness keeps every resource active and samples
// again once the write rate's memory is gone by the rules that drop it:
//
//   - a read of every resource (GET /v1/resources/:rid: its bucket has HoldsPer units held) right
//     after the fill, so that none reaches the idle timeout before the sample (a read is a
//     command: it renews the activation's last use, actors/activation), none of them writes (no
//     event), and none is noted as a view (only the availability route is, reports.Views: a
//     (resource, viewer) entry per day, ~66 B per resource, that the reads would add);
//   - restAfterStream after the relay published its last event: nats-server drops a duplicate
//     id after the window (20 s, cluster/bus), a block's buffer 10 s after its last use
//     (CacheExpire) and a block's subject index 2 min after it (SubjectStateExpire), so by then
//     only the last block's index is left, which the bus's quiet read expires later (~1 B per
//     resource);
//   - two forced GCs (a sync.Pool, where nats-server returns block buffers, empties over two), as
//     the runtime itself does at least every 2 minutes (forcegcperiod);
//   - the runtime's own background scavenger, which after two GCs of the same goal returns the
//     free pages beyond 10% over the heap in use (runtime/mgcscavenge.go, retainExtraPercent),
//     until RssAnon stops falling: nothing the node would not do by itself, no FreeOSMemory.
//
// The verdict is then on what a node keeps per resource that is active with its holds, with
// the figure right after the fill shown beside it; it counts only if every resource is still
// active and every hold still held at the sample (memRest.complete).

// restAfterStream is how long after the stream's last write the sample at rest waits.
const restAfterStream = 2*time.Minute + 15*time.Second

// The wait for the runtime's scavenger after the GCs at rest: RssAnon polled every
// restScavengePoll, done when it fell less than restScavengeStill over two polls.
const (
	restScavengeMin   = 20 * time.Second
	restScavengeMax   = 90 * time.Second
	restScavengePoll  = 5 * time.Second
	restScavengeStill = 1 << 20
	restStreamMax     = 3 * time.Minute // for the relay to publish the fill's events
)

// restSample is the at-rest half of the memory benchmark.
type restSample struct {
	// KeepAlive is the read of every resource after the fill; KeepAliveBad the reads that failed
	// or found other than HoldsPer units held.
	KeepAlive    time.Duration
	KeepAliveBad int64
	// StreamQuiet is from the end of the fill until the relay had published every event (the
	// node's allot_events_published_total stopped, backlog and held 0); zero with events off.
	StreamQuiet time.Duration
	// Wait is from the end of the fill to the sample at rest; Scavenge from the second GC to it.
	Wait, Scavenge time.Duration
	// Holds placed and not confirmed, cancelled or expired at the sample (the node's counters),
	// -1 if unknown.
	HoldsHeld int64
	// FillShares and Shares are the live heap beyond the idle node's by owner, after a GC right
	// after the fill and at rest (heap profiles, pprof -base the idle one; sampled); Top is the
	// at-rest profile's top.
	FillShares, Shares []heapShare
	Top                string
}

// restComplete says whether the sample at rest measured what the target is about: every resource
// the fill made still active (none passivated before its read, none since) and every hold held.
func (m *memResult) restComplete() (ok bool, why string) {
	if len(m.Points) <= memRest || m.Rest == nil {
		return false, "no sample at rest"
	}
	r, act := m.Rest, m.Points[memRest].Active
	switch {
	case m.Points[memActive].Active != m.Resources:
		// The reads activated them again, from the store: active, with their holds, but not
		// the activations the fill made, and the run's fill is a problem already.
		return false, fmt.Sprintf("the fill outlasted the idle timeout (%s of the %s resources active right after it)",
			num(float64(m.Points[memActive].Active)), num(float64(m.Resources)))
	case act != m.Resources:
		return false, fmt.Sprintf("%s of the %s resources active at rest", num(float64(act)), num(float64(m.Resources)))
	case r.HoldsHeld != int64(m.Resources*m.HoldsPer):
		return false, fmt.Sprintf("%s holds held at rest, not %s", num(float64(r.HoldsHeld)), num(float64(m.Resources*m.HoldsPer)))
	case r.KeepAliveBad > 0:
		return false, fmt.Sprintf("%s resources read after the fill failed or had other than %d units held", num(float64(r.KeepAliveBad)), m.HoldsPer)
	}
	return true, ""
}

// perActiveAtRest is the growth of RssAnon from the idle node to the sample at rest over the
// activations the node reported then.
func (m *memResult) perActiveAtRest() (float64, bool) {
	if len(m.Points) <= memRest || m.Points[memRest].Active <= 0 {
		return 0, false
	}
	idle, rest := m.Points[memIdle], m.Points[memRest]
	if idle.Mem.RSSAnon > 0 && rest.Mem.RSSAnon > 0 {
		return float64(rest.Mem.RSSAnon-idle.Mem.RSSAnon) / float64(rest.Active), true
	}
	return float64(rest.RSS-idle.RSS) / float64(rest.Active), true
}

// keepAlive reads every resource of the fill once (64 at a time, in the fill's order, so that
// the oldest are renewed first) and counts the reads that failed or did not find holdsPer
// units held in the bucket "all". A resource that passivated before its read (a fill longer
// than the idle timeout, reported as a problem already) is activated again by it.
func keepAlive(ctx context.Context, c *clustertest.Client, url, stamp string, resources, holdsPer int) (bad int64) {
	api := c.API(url)
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(resources) || ctx.Err() != nil {
					return
				}
				r, _, err := api.GetResource(ctx, fmt.Sprintf("mem-%s-%06d", stamp, i))
				if err != nil || r.Buckets["all"].Held != int64(holdsPer) {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return failed.Load()
}

// The node's counters the sample at rest reads.
var restMetrics = []string{"allot_events_published_total", "allot_event_outbox_backlog", "allot_event_relay_held",
	"allot_holds_total", "allot_confirms_total", "allot_cancels_total", "allot_expiries_total"}

// waitStreamQuiet waits until the node's relay has published every event (the published count
// unchanged over a poll, nothing in the outbox or held) and returns when it last saw the count
// move; ok is false with events off (no relay metrics) or if it did not settle within max.
func waitStreamQuiet(ctx context.Context, admin string, max time.Duration) (last time.Time, ok bool) {
	deadline, prev := time.Now().Add(max), -1.0
	last = time.Now()
	for time.Now().Before(deadline) && ctx.Err() == nil {
		m, err := scrapeMetrics(ctx, admin+"/metrics", restMetrics...)
		pub, has := m["allot_events_published_total"]
		if err != nil || !has {
			return last, false
		}
		if pub != prev {
			prev, last = pub, time.Now()
		} else if m["allot_event_outbox_backlog"] == 0 && m["allot_event_relay_held"] == 0 {
			return last, true
		}
		_ = sleepCtx(ctx, 2*time.Second)
	}
	return last, false
}

// holdsHeld is the node's holds placed minus those confirmed, cancelled or expired; -1 if
// unknown.
func holdsHeld(ctx context.Context, admin string) int64 {
	m, err := scrapeMetrics(ctx, admin+"/metrics", restMetrics...)
	if _, ok := m["allot_holds_total"]; err != nil || !ok {
		return -1
	}
	return int64(m["allot_holds_total"] - m["allot_confirms_total"] - m["allot_cancels_total"] - m["allot_expiries_total"])
}

// waitScavenged polls the node's RssAnon until it fell less than restScavengeStill over the
// last two polls (at least restScavengeMin, at most restScavengeMax).
func waitScavenged(ctx context.Context, pid int) {
	start := time.Now()
	var seen []int64
	for ctx.Err() == nil {
		var a memAccount
		a.readStatus(pid)
		seen = append(seen, a.RSSAnon)
		if n := len(seen); time.Since(start) >= restScavengeMin && n >= 3 && seen[n-3]-seen[n-1] < restScavengeStill {
			return
		}
		if time.Since(start) >= restScavengeMax {
			return
		}
		_ = sleepCtx(ctx, restScavengePoll)
	}
}

// atRest runs the at-rest half: called right after the at-fill samples with the node, the
// fill's end and its client; point and gc are memory()'s. It records the sample as
// Points[memRest] and returns when the last resource was read (for the passivation wait).
func (b *bench) atRest(t *testing.T, node *benchProc, res *memResult, c *clustertest.Client, fillEnd time.Time,
	point func(string), gc func(string) string, heapTop func(string) string, idleProfile, activeProfile string) time.Time {
	ctx := t.Context()
	r := &restSample{HoldsHeld: -1}
	res.Rest = r
	t0 := time.Now()
	r.KeepAliveBad = keepAlive(ctx, c, node.URL, b.stamp, res.Resources, res.HoldsPer)
	touched := time.Now()
	r.KeepAlive = touched.Sub(t0)
	t.Logf("memory at rest: read every resource in %s, %d bad", r.KeepAlive.Round(time.Second), r.KeepAliveBad)
	if last, ok := waitStreamQuiet(ctx, node.Admin, restStreamMax); ok {
		r.StreamQuiet = last.Sub(fillEnd)
		_ = sleepCtx(ctx, time.Until(last.Add(restAfterStream)))
	} else if !res.EventsOff {
		b.problem(t, "memory benchmark: the relay had not published the fill's events %s after it", restStreamMax)
	}
	if err := fetchTo(ctx, node.Admin+"/debug/pprof/heap?gc=1", "/dev/null"); err != nil {
		t.Logf("forced GC: %v", err)
	}
	restProfile := gc("memory-heap-rest.pprof") // the second GC
	gced := time.Now()
	waitScavenged(ctx, node.PID())
	r.Scavenge, r.Wait = time.Since(gced), time.Since(fillEnd)
	r.HoldsHeld = holdsHeld(ctx, node.Admin)
	point(fmt.Sprintf("at rest: still active, %s after the fill, two forced GCs, the scavenger's %s", r.Wait.Round(time.Second),
		r.Scavenge.Round(time.Second)))
	if ok, why := res.restComplete(); !ok {
		b.problem(t, "memory benchmark: the sample at rest does not count: %s", why)
	}
	if idleProfile != "" && restProfile != "" {
		r.Shares, _ = b.heapRetained(t, idleProfile, restProfile)
		r.Top = heapTop(restProfile)
	}
	if idleProfile != "" && activeProfile != "" {
		r.FillShares, _ = b.heapRetained(t, idleProfile, activeProfile)
	}
	return touched
}
