package cmd

import (
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Issue 17's memory targets.
const (
	targetBytesPerResource = 4096     // RSS per active resource with 3 holds
	targetHeapOverIdle     = 50 << 20 // heap after every resource passivated and a GC, over the idle node's
)

// The moments of memResult.Points, in the order memory() takes them.
const (
	memIdle = iota
	memActive
	memActiveGC
	memRest // every resource still active, the write rate's memory gone (bench_memrest_test.go)
	memPassivated
	memPassivatedGC
	memLater
)

// heapShare is the heap an owner (a group of packages) holds in a profile difference.
type heapShare struct {
	Owner string
	Bytes int64
}

// heapOwners group allocation sites by who owns the memory (first match wins).
var heapOwners = []struct{ name, prefix string }{
	// Every event is published with its id as Nats-Msg-Id: the stream keeps each id for its
	// duplicate window (cluster/bus DuplicateWindow, 20 s on the embedded server) and then purges it.
	{"NATS JetStream duplicate window (a Nats-Msg-Id per event, purged after the window)", "github.com/nats-io/nats-server/v2/server.(*stream).storeMsgIdLocked"},
	{"NATS JetStream duplicate window (a Nats-Msg-Id per event, purged after the window)", "github.com/nats-io/nats-server/v2/server.getMsgId"},
	{"NATS JetStream duplicate window (a Nats-Msg-Id per event, purged after the window)", "github.com/nats-io/nats-server/v2/server.(*stream).processJetStreamMsgWithBatch"},
	// The stream's index of subjects (one per event type and resource) lives as long as their
	// events are retained (--event-retention).
	{"NATS JetStream subject index (per event subject, as long as the events are retained)", "github.com/nats-io/nats-server/v2/server/stree."},
	{"NATS JetStream other (message block buffers, ...)", "github.com/nats-io/"},
	{"protoactor-go (process registry, PID cache, placement, PIDSet)", "github.com/asynkron/"},
	{"protoactor-go (process registry, PID cache, placement, PIDSet)", "github.com/orcaman/concurrent-map"},
	{"Allot resource actors and booking state", "github.com/allot/allot/actors/"},
	{"Allot HTTP edge", "github.com/allot/allot/api"},
	// The placement actor's maps of activations (rebuilt once a passivation wave empties them).
	{"Allot placement actor (activations by identity)", "github.com/allot/allot/cluster.(*placementActor)"},
	{"Allot events, outbox, reports", "github.com/allot/allot/cluster/"},
	{"Allot stores", "github.com/allot/allot/persistence"},
	{"Allot other", "github.com/allot/allot/"},
	{"SQLite", "modernc.org/"},
}

func heapOwner(fn string) string {
	for _, o := range heapOwners {
		if strings.HasPrefix(fn, o.prefix) {
			return o.name
		}
	}
	return "Go runtime and standard library"
}

// heapRetained is the in-use heap of the passivated profile beyond the idle one, by owner
// (flat, positive differences) and as pprof's top.
func (b *bench) heapRetained(t *testing.T, idle, passivated string) ([]heapShare, string) {
	args := []string{"tool", "pprof", "-sample_index=inuse_space", "-unit=B", "-top", "-nodecount=1000000", "-base", idle, b.bin, passivated}
	out, err := exec.CommandContext(t.Context(), "go", args...).CombinedOutput()
	if err != nil {
		t.Logf("pprof -base: %v\n%s", err, out)
		return nil, ""
	}
	shares := heapShares(string(out))
	top, err := exec.CommandContext(t.Context(), "go", "tool", "pprof", "-sample_index=inuse_space", "-top", "-nodecount=15", "-base", idle, b.bin, passivated).CombinedOutput()
	if err != nil {
		return shares, ""
	}
	return shares, trimPprofHeader(string(top))
}

// heapShares sums the flat column (in bytes, -unit=B) of pprof -top by owner.
func heapShares(out string) []heapShare {
	by := map[string]int64{}
	flat, name := pprofTopRows(out) // bench_profile_test.go
	for i := range flat {
		v, err := strconv.ParseInt(strings.TrimSuffix(flat[i], "B"), 10, 64)
		if err != nil {
			continue
		}
		by[heapOwner(name[i])] += v
	}
	var shares []heapShare
	for o, v := range by {
		shares = append(shares, heapShare{o, v})
	}
	slices.SortFunc(shares, func(a, b heapShare) int {
		if a.Bytes != b.Bytes {
			return int(b.Bytes - a.Bytes)
		}
		return strings.Compare(a.Owner, b.Owner)
	})
	return shares
}

// perActive is the RSS of one active resource: the growth from idle over the activations the
// node reported at that moment (not the resources created: some may have passivated).
func (m *memResult) perActive() (float64, bool) {
	if len(m.Points) <= memActiveGC || m.Points[memActive].Active <= 0 {
		return 0, false
	}
	idle, active := m.Points[memIdle], m.Points[memActive]
	if idle.Mem.RSSAnon > 0 && active.Mem.RSSAnon > 0 {
		return float64(active.Mem.RSSAnon-idle.Mem.RSSAnon) / float64(active.Active), true
	}
	return float64(active.RSS-idle.RSS) / float64(active.Active), true
}

// perActiveVmRSS is perActive with VmRSS (file-backed pages included), as measured before round 9.
func (m *memResult) perActiveVmRSS() float64 {
	idle, active := m.Points[memIdle], m.Points[memActive]
	return float64(active.RSS-idle.RSS) / float64(max(active.Active, 1))
}

// heapOverIdle is the heap in use after every resource passivated and a GC, over the idle
// node's (after a GC too).
func (m *memResult) heapOverIdle() (inuse, live int64, ok bool) {
	if len(m.Points) <= memPassivatedGC || m.Points[memPassivatedGC].Active != 0 {
		return 0, 0, false
	}
	idle, after := m.Points[memIdle], m.Points[memPassivatedGC]
	return after.HeapInuse - idle.HeapInuse, after.HeapAlloc - idle.HeapAlloc, true
}

// retainedSummary says what the heap in use after passivation holds beyond the idle node's:
// free slots in spans kept by survivors, and the largest owners of the live part.
func (m *memResult) retainedSummary() string {
	inuse, live, _ := m.heapOverIdle()
	out := fmt.Sprintf("%s of spans kept in use by surviving objects (the Go heap does not compact), %s live", mib(inuse-live), mib(live))
	var parts []string
	for _, s := range m.Retained[:min(3, len(m.Retained))] {
		if s.Bytes > 0 {
			parts = append(parts, fmt.Sprintf("%s %s", s.Owner, mib(s.Bytes)))
		}
	}
	if len(parts) > 0 {
		out += ": " + strings.Join(parts, ", ")
	}
	return out + " (section 4)"
}

func (m *memResult) label() string {
	if m.EventsOff {
		return "events off"
	}
	return "events on"
}

// verdictPerActive is the figure the per-resource target is judged on: the sample at rest when
// the run took one (bench_memrest_test.go), else right after the fill. met needs the sample at
// rest to be complete (every resource active, every hold held); why says what it lacked.
func (m *memResult) verdictPerActive() (per float64, atRest, met, ok bool, why string) {
	if m.Rest != nil {
		if per, ok = m.perActiveAtRest(); ok {
			complete, why := m.restComplete()
			return per, true, complete && per <= targetBytesPerResource, true, why
		}
	}
	per, ok = m.perActive()
	return per, false, ok && per <= targetBytesPerResource, ok, ""
}

// writeMemoryTargets adds the memory rows to the summary's table of targets.
func (b *bench) writeMemoryTargets(w *strings.Builder) {
	for _, m := range []*memResult{b.mem, b.memOff} {
		if m == nil {
			continue
		}
		if per, atRest, met, ok, why := m.verdictPerActive(); ok && atRest {
			fill, _ := m.perActive()
			measured := fmt.Sprintf("%s bytes at rest (%s active); %s right after the fill", num(per),
				num(float64(m.Points[memRest].Active)), num(fill))
			if why != "" {
				measured += " — the sample at rest does not count: " + why
			}
			fmt.Fprintf(w, "| ≤ %s bytes of RSS per active resource with %d holds (%s), at rest | %s | %s |\n",
				num(targetBytesPerResource), m.HoldsPer, m.label(), measured, yesNo(met))
		} else if ok {
			fmt.Fprintf(w, "| ≤ %s bytes of RSS per active resource with %d holds (%s) | %s bytes (%s active) | %s |\n",
				num(targetBytesPerResource), m.HoldsPer, m.label(), num(per), num(float64(m.Points[memActive].Active)), yesNo(met))
		}
		if inuse, live, ok := m.heapOverIdle(); ok {
			fmt.Fprintf(w, "| heap within %s of the idle node's after every resource passivated and a GC (%s) | +%s in use (+%s live) | %s |\n",
				mib(targetHeapOverIdle), m.label(), mib(inuse), mib(live), yesNo(inuse <= targetHeapOverIdle))
		}
	}
}

// memoryMissRows: memory is no machine bound (the machine has GiBs free).
func (b *bench) memoryMissRows() []missRow {
	var rows []missRow
	for _, m := range []*memResult{b.mem, b.memOff} {
		if m == nil {
			continue
		}
		if per, atRest, met, ok, why := m.verdictPerActive(); ok && !met {
			target, bound := fmt.Sprintf("≤ 4 KB RSS per active resource (%s)", m.label()), "bytes per resource are the design's (section 4) — **not explained by a machine bound**"
			if atRest {
				target = fmt.Sprintf("≤ 4 KB RSS per active resource at rest (%s)", m.label())
				if why != "" {
					bound = "the sample at rest does not count: " + why + " (section 4)"
				}
			}
			rows = append(rows, missRow{Target: target, Measured: num(per) + " bytes", Bound: bound})
		}
		if inuse, live, ok := m.heapOverIdle(); ok && inuse > targetHeapOverIdle {
			rows = append(rows, missRow{Target: fmt.Sprintf("heap within 50 MiB of idle after passivation (%s)", m.label()),
				Measured: "+" + mib(inuse) + " in use, +" + mib(live) + " live",
				Bound:    m.retainedSummary() + " — **not explained by a machine bound**"})
		}
	}
	return rows
}

// writeSection4 writes the memory section of one memory run.
func (b *bench) writeSection4(w *strings.Builder, m *memResult) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	title := ""
	if m.EventsOff {
		title = ", `--events off`"
	}
	p("## 4. Memory: %s resources, %d holds each%s\n\n", num(float64(m.Resources)), m.HoldsPer, title)
	p("One node on the embedded store (`--idle-timeout %s`%s). %s resources of one bucket are created over HTTP and each "+
		"gets %d holds (64 concurrent clients; %s, %d failed; the node used %s of CPU). VmRSS is read from `/proc/PID/status`, the Go heap from "+
		"the node's `/metrics` (`heap in use`: spans holding objects, with the free slots between them; `live`: the bytes "+
		"of reachable objects after a GC); a forced GC is the node's `/debug/pprof/heap?gc=1`. The active count is what "+
		"the node reports; per-resource figures divide by it.\n\n",
		m.IdleTimeout, map[bool]string{true: ", `--events off`", false: ", events on"}[m.EventsOff],
		num(float64(m.Resources)), m.HoldsPer, m.Fill.Round(time.Second), m.Failed, m.FillCPU.Round(100*time.Millisecond))
	p("| moment | active resources | VmRSS | Go heap in use | live heap | heap objects |\n|---|---:|---:|---:|---:|---:|\n")
	for _, pt := range m.Points {
		p("| %s | %s | %s | %s | %s | %s |\n", pt.What, num(float64(pt.Active)), mib(pt.RSS), mib(pt.HeapInuse), mib(pt.HeapAlloc), num(float64(pt.HeapObjects)))
	}
	if per, ok := m.perActive(); ok {
		idle, gced := m.Points[memIdle], m.Points[memActiveGC]
		act := m.Points[memActive].Active
		verdict := fmt.Sprintf("target ≤ %s bytes of RSS: %s", num(targetBytesPerResource), strings.Trim(yesNo(per <= targetBytesPerResource), "*"))
		if m.Rest != nil {
			verdict = "the verdict is on the sample at rest, below"
		}
		p("\nPer **active** resource with %d holds, right after the fill: **%s bytes of anonymous RSS** (`RssAnon`, what the process is charged in a "+
			"container of its own; (active − idle) / %s active; %s bytes of VmRSS, file-backed pages included), %s bytes of live "+
			"heap after a GC (%s).", m.HoldsPer, num(per), num(float64(act)), num(m.perActiveVmRSS()),
			num(float64(gced.HeapAlloc-idle.HeapAlloc)/float64(max(gced.Active, 1))), verdict)
		if act < m.Resources {
			p(" **Only %s of the %s resources were active when measured**: the fill (%s) outlasted the idle timeout (%s) for the first ones.",
				num(float64(act)), num(float64(m.Resources)), m.Fill.Round(time.Second), m.IdleTimeout)
		}
		p("\n")
		if active := m.Points[memActive]; active.Mem.RSSAnon > 0 {
			p("\nWhere the growth of VmRSS from the idle node to the active one is (the runtime's `go_memstats_*` and "+
				"`/proc/PID/status` at the two moments; the GC's goal with every resource active was %s, the live heap after a "+
				"GC %s; %s goroutines):\n\n| part | growth | bytes per active resource |\n|---|---:|---:|\n",
				mib(active.Mem.NextGC), mib(gced.HeapAlloc), num(float64(active.Mem.Goroutines)))
			var sum int64
			for _, r := range account(idle, active, gced) {
				sum += r.Bytes
				p("| %s | %s | %s |\n", r.What, mib(r.Bytes), num(float64(r.Bytes)/float64(max(act, 1))))
			}
			p("| **VmRSS** | **%s** | **%s** |\n", mib(sum), num(float64(sum)/float64(max(act, 1))))
		}
	}
	b.writeAtRest(w, m) // bench_memrest_doc_test.go
	if inuse, live, ok := m.heapOverIdle(); ok {
		after := m.Points[memPassivatedGC]
		p("\nAfter every resource passivated and a forced GC the heap in use is **%s over the idle node's** (%s live; target "+
			"≤ %s: %s). The %s between heap in use and live heap at that moment are spans that a few surviving objects each keep "+
			"from being freed (the Go heap does not compact). Half a minute later VmRSS is %s: the runtime returns freed pages to "+
			"the OS gradually.\n", mib(inuse), mib(live), mib(targetHeapOverIdle), strings.Trim(yesNo(inuse <= targetHeapOverIdle), "*"),
			mib(after.HeapInuse-after.HeapAlloc), mib(m.Points[len(m.Points)-1].RSS))
	}
	if len(m.Retained) > 0 {
		var total int64
		for _, s := range m.Retained {
			total += max(s.Bytes, 0)
		}
		peak := 0
		for _, pt := range m.Points {
			peak = max(peak, pt.Active)
		}
		p("\nWhat the live heap holds after passivation beyond the idle node's, by owner (heap profiles after a GC, "+
			"`pprof -base` of the idle node's; sampled), and per resource that was active (%s at the peak measured):\n\n"+
			"| owner | retained | bytes per resource | share |\n|---|---:|---:|---:|\n", num(float64(peak)))
		for _, s := range m.Retained {
			if s.Bytes <= 0 {
				continue
			}
			p("| %s | %s | %s | %.0f%% |\n", s.Owner, mib(s.Bytes), num(float64(s.Bytes)/float64(max(peak, 1))),
				100*float64(s.Bytes)/float64(max(total, 1)))
		}
		p("\n")
	}
	if m.Passivation > 0 {
		since := "the end of the fill"
		if m.Rest != nil {
			since = "the last read of the sample at rest"
		}
		p("Every activation had passivated %s after %s (idle timeout %s).\n", m.Passivation.Round(time.Second), since, m.IdleTimeout)
	}
	prefix := "memory-"
	if m.EventsOff {
		prefix = "memory-events-off-"
	}
	for _, d := range []struct{ what, file, top string }{
		{"Where the heap of the active resources is", prefix + "heap-active.pprof", m.HeapTop},
		{"What stays after passivation", prefix + "heap-passivated.pprof", m.PassivatedTop},
		{"What stays after passivation beyond the idle node (-base " + prefix + "heap-idle.pprof)", prefix + "heap-passivated.pprof", m.RetainedTop},
	} {
		if d.top != "" {
			p("\n<details><summary>%s (go tool pprof -sample_index=inuse_space -top, bin/bench/%s)</summary>\n\n```\n%s\n```\n</details>\n", d.what, d.file, d.top)
		}
	}
	p("\n")
}

func TestHeapShares(t *testing.T) {
	out := "Showing nodes accounting for 3000B, 100% of 3000B total\n" +
		"      flat  flat%   sum%        cum   cum%\n" +
		"    2000B 66.67% 66.67%     2000B 66.67%  github.com/nats-io/nats-server/v2/server.(*stream).storeMsgIdLocked\n" +
		"    1500B 50.00% 100.00%    1500B 50.00%  github.com/orcaman/concurrent-map.ConcurrentMap.SetIfAbsent\n" +
		"    -500B -16.67% 100.00%   -500B -16.67%  runtime.malg\n"
	got := heapShares(out)
	if len(got) != 3 || got[0].Bytes != 2000 || !strings.HasPrefix(got[0].Owner, "NATS") || got[1].Bytes != 1500 || got[2].Bytes != -500 {
		t.Fatalf("got %+v", got)
	}
}

func TestMemoryFiguresUseTheActiveCountAndTheIdleHeap(t *testing.T) {
	m := &memResult{Resources: 100, HoldsPer: 3, Points: []memPoint{
		{What: "idle", Active: 0, RSS: 100 << 20, HeapInuse: 10 << 20, HeapAlloc: 8 << 20},
		{What: "active", Active: 40, RSS: 100<<20 + 40*5000, HeapInuse: 30 << 20},
		{What: "active gc", Active: 40, RSS: 100 << 20},
		{What: "at rest", Active: 40, RSS: 100<<20 + 40*4500},
		{What: "passivated", Active: 0},
		{What: "passivated gc", Active: 0, HeapInuse: 70 << 20, HeapAlloc: 20 << 20},
		{What: "later", Active: 0},
	}, Retained: []heapShare{{"NATS JetStream duplicate window", 9 << 20}}}
	if per, ok := m.perActive(); !ok || per != 5000 {
		t.Fatalf("per active resource: %v %v, want 5000 (over the 40 active, not the 100 created)", per, ok)
	}
	if inuse, live, ok := m.heapOverIdle(); !ok || inuse != 60<<20 || live != 12<<20 {
		t.Fatalf("heap over idle: %d %d %v", inuse, live, ok)
	}
	b := &bench{mem: m}
	var w strings.Builder
	b.writeMemoryTargets(&w)
	if !strings.Contains(w.String(), "5,000 bytes (40 active) | **missed**") || !strings.Contains(w.String(), "+60 MiB in use (+12 MiB live) | **missed**") {
		t.Fatalf("targets:\n%s", w.String())
	}
	if rows := b.memoryMissRows(); len(rows) != 2 || !strings.Contains(rows[1].Bound, "48 MiB of spans") || !strings.Contains(rows[1].Bound, "duplicate window 9 MiB") {
		t.Fatalf("miss rows: %+v", rows)
	}
	w.Reset()
	b.writeSection4(&w, m)
	if !strings.Contains(w.String(), "| NATS JetStream duplicate window | 9 MiB | 235,930 | 100% |") {
		t.Fatalf("section 4:\n%s", w.String())
	}
}
