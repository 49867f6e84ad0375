package cmd

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// writeAtRest writes section 4's sample at rest (bench_memrest_test.go): the figure the
// per-resource target is judged on, the account beside the one right after the fill, and the
// live heap by owner at both moments.
func (b *bench) writeAtRest(w *strings.Builder, m *memResult) {
	r := m.Rest
	if r == nil || len(m.Points) <= memRest {
		return
	}
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	idle, active, gced, rest := m.Points[memIdle], m.Points[memActive], m.Points[memActiveGC], m.Points[memRest]
	per, ok := m.perActiveAtRest()
	if !ok {
		return
	}
	complete, why := m.restComplete()
	verdict := strings.Trim(yesNo(complete && per <= targetBytesPerResource), "*")
	if !complete {
		verdict += ": the sample does not count, " + why
	}
	stream := "with `--events off` there is no stream to wait for"
	if !m.EventsOff {
		stream = fmt.Sprintf("the relay had published the fill's last event %s after its end, and the sample waited %s more "+
			"(JetStream drops a duplicate id after the window, 20 s; a message block's buffer 10 s and its subject index 2 min "+
			"after the block's last use)", r.StreamQuiet.Round(time.Second), restAfterStream)
	}
	p("\n**At rest.** The figure above holds the fill's write rate as well as the resources: JetStream's duplicate window, "+
		"its block buffers and the recent blocks' subject indexes, and the garbage of whatever GC cycle the sample fell in, "+
		"all of which grow with how fast the machine filled. So every resource was then read once (`GET /v1/resources/:rid`, its bucket with %d units "+
		"held: %s, %s bad), which keeps it active and writes nothing; %s; then two forced GCs (the runtime runs one at least "+
		"every 2 minutes) and the runtime's own scavenger for %s (it returns free pages beyond 10%% over the heap in use; "+
		"no `FreeOSMemory`). %s after the fill, with %s of %s resources active and %s holds held: **%s bytes of anonymous "+
		"RSS per active resource at rest** (target ≤ %s bytes: %s), %s bytes of live heap. A node under load holds more "+
		"on top, its write rate's memory and the GC's headroom (at rest the GC's goal was %s, %s bytes per resource over "+
		"the idle node's): right after the fill, %s bytes.\n\n",
		m.HoldsPer, r.KeepAlive.Round(time.Second), num(float64(r.KeepAliveBad)), stream, r.Scavenge.Round(time.Second),
		r.Wait.Round(time.Second), num(float64(rest.Active)), num(float64(m.Resources)), num(float64(r.HoldsHeld)), num(per),
		num(targetBytesPerResource), verdict, num(float64(rest.HeapAlloc-idle.HeapAlloc)/float64(max(rest.Active, 1))),
		mib(rest.Mem.NextGC), num(float64(rest.Mem.NextGC-idle.Mem.NextGC)/float64(max(rest.Active, 1))), num(m.fillPerActive()))
	if active.Mem.RSSAnon > 0 && rest.Mem.RSSAnon > 0 {
		fill, still := account(idle, active, gced), account(idle, rest, rest)
		p("| part (growth over the idle node, bytes per active resource) | right after the fill | at rest |\n|---|---:|---:|\n")
		var sf, sr int64
		for i := range fill {
			sf, sr = sf+fill[i].Bytes, sr+still[i].Bytes
			p("| %s | %s | %s |\n", fill[i].What, num(float64(fill[i].Bytes)/float64(max(active.Active, 1))),
				num(float64(still[i].Bytes)/float64(max(rest.Active, 1))))
		}
		p("| **VmRSS** | **%s** | **%s** |\n\n", num(float64(sf)/float64(max(active.Active, 1))), num(float64(sr)/float64(max(rest.Active, 1))))
	}
	if len(r.Shares) > 0 {
		p("The live heap beyond the idle node's by owner, after a GC right after the fill and at rest (heap profiles, " +
			"`pprof -base` of the idle node's; sampled every 512 KiB), bytes per active resource:\n\n" +
			"| owner | right after the fill | at rest |\n|---|---:|---:|\n")
		for _, o := range shareRows(r.FillShares, r.Shares) {
			p("| %s | %s | %s |\n", o.Owner, num(float64(o.fill)/float64(max(gced.Active, 1))), num(float64(o.rest)/float64(max(rest.Active, 1))))
		}
		p("\n")
	}
	if r.Top != "" {
		p("<details><summary>Where the heap is at rest (go tool pprof -sample_index=inuse_space -top, bin/bench/%sheap-rest.pprof)</summary>\n\n```\n%s\n```\n</details>\n\n",
			map[bool]string{true: "memory-events-off-", false: "memory-"}[m.EventsOff], r.Top)
	}
}

// fillPerActive is perActive's figure, 0 if there is none.
func (m *memResult) fillPerActive() float64 {
	per, _ := m.perActive()
	return per
}

// shareRow is one owner's live heap at the two moments.
type shareRow struct {
	Owner      string
	fill, rest int64
}

// shareRows joins two owner lists, in the order of the first (then the owners only in the
// second), leaving out owners with nothing positive at either moment.
func shareRows(fill, rest []heapShare) []shareRow {
	var rows []shareRow
	at := map[string]int{}
	add := func(owner string) int {
		if i, ok := at[owner]; ok {
			return i
		}
		at[owner] = len(rows)
		rows = append(rows, shareRow{Owner: owner})
		return len(rows) - 1
	}
	for _, s := range fill {
		rows[add(s.Owner)].fill = s.Bytes
	}
	for _, s := range rest {
		rows[add(s.Owner)].rest = s.Bytes
	}
	out := rows[:0]
	for _, r := range rows {
		if r.fill > 0 || r.rest > 0 {
			out = append(out, r)
		}
	}
	return out
}

// TestMemoryVerdictIsAtRestAndNeedsEveryResourceActive: with a sample at rest the target row
// and the miss rows judge it, show the figure right after the fill beside it, and refuse it
// when a resource was not active or a hold not held at the sample.
func TestMemoryVerdictIsAtRestAndNeedsEveryResourceActive(t *testing.T) {
	mk := func(restActive int, held int64) *memResult {
		return &memResult{Resources: 1000, HoldsPer: 3, Points: []memPoint{
			{What: "idle", Active: 0, RSS: 100 << 20, Mem: memAccount{RSSAnon: 20 << 20}},
			{What: "active", Active: 1000, RSS: 100<<20 + 5000*1000, Mem: memAccount{RSSAnon: 20<<20 + 5000*1000}},
			{What: "active gc", Active: 1000, RSS: 100 << 20},
			{What: "at rest", Active: restActive, RSS: 100<<20 + 3000*1000, Mem: memAccount{RSSAnon: 20<<20 + 3000*int64(restActive)}},
		}, Rest: &restSample{HoldsHeld: held, KeepAlive: 3 * time.Second, Wait: 3 * time.Minute,
			FillShares: []heapShare{{"NATS JetStream duplicate window", 200_000}, {"Allot resource actors and booking state", 900_000}},
			Shares:     []heapShare{{"Allot resource actors and booking state", 800_000}, {"SQLite", 10_000}}}}
	}
	passivatedInFill := func() *memResult { m := mk(1000, 3000); m.Points[memActive].Active = 990; return m }
	m := mk(1000, 3000)
	if per, atRest, met, ok, why := m.verdictPerActive(); !ok || !atRest || !met || per != 3000 || why != "" {
		t.Fatalf("verdict: %v %v %v %v %q", per, atRest, met, ok, why)
	}
	b := &bench{mem: m}
	var w strings.Builder
	b.writeMemoryTargets(&w)
	if !strings.Contains(w.String(), "at rest | 3,000 bytes at rest (1,000 active); 5,000 right after the fill | **met** |") {
		t.Fatalf("targets:\n%s", w.String())
	}
	if rows := b.memoryMissRows(); len(rows) != 0 {
		t.Fatalf("miss rows: %+v", rows)
	}
	w.Reset()
	b.writeSection4(&w, m)
	for _, want := range []string{"**3,000 bytes of anonymous RSS per active resource at rest** (target ≤ 4,096 bytes: met)",
		"the verdict is on the sample at rest, below", "| NATS JetStream duplicate window | 200 | 0 |",
		"| Allot resource actors and booking state | 900 | 800 |", "| SQLite | 0 | 10 |", "| right after the fill | at rest |"} {
		if !strings.Contains(w.String(), want) {
			t.Fatalf("section 4 lacks %q:\n%s", want, w.String())
		}
	}
	for _, c := range []struct {
		m    *memResult
		want string
	}{{mk(999, 3000), "999 of the 1,000 resources active at rest"}, {mk(1000, 2999), "2,999 holds held at rest, not 3,000"},
		{passivatedInFill(), "the fill outlasted the idle timeout (990 of the 1,000 resources active right after it)"}} {
		b := &bench{mem: c.m}
		var w strings.Builder
		b.writeMemoryTargets(&w)
		if !strings.Contains(w.String(), c.want) || !strings.Contains(w.String(), "| **missed** |") {
			t.Fatalf("targets:\n%s", w.String())
		}
		if rows := b.memoryMissRows(); len(rows) != 1 || !strings.Contains(rows[0].Bound, c.want) {
			t.Fatalf("miss rows: %+v", rows)
		}
	}
}
