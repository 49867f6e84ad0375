package cmd

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// memAccount splits a process's resident memory into what a container is charged for and
// where the Go runtime has it, so that "RSS per resource" can be told apart from "live bytes
// per resource":
//
//   - VmRSS = RssAnon + RssFile + RssShmem (/proc/PID/status). RssFile is the binary's text and
//     data and the files the process maps (reclaimable page cache, shared with other
//     processes); RssAnon is the process's own memory, what it costs in a container that
//     runs nothing else. The per-resource figure uses RssAnon.
//   - The Go runtime's resident memory is its heap spans in use, the free spans it has not yet
//     returned to the OS (HeapIdle − HeapReleased: retained by the scavenger up to about 10%
//     over the GC's goal), goroutine stacks and its own metadata (GC bitmaps, span structs,
//     ...). What RssAnon holds beyond that is memory the Go runtime does not allocate: here
//     the embedded SQLite's page caches (modernc.org/libc maps its own memory).
type memAccount struct {
	RSSAnon, RSSFile, RSSShmem int64 // /proc/PID/status
	HeapIdle, HeapReleased     int64 // go_memstats_heap_idle_bytes, go_memstats_heap_released_bytes
	NextGC                     int64 // go_memstats_next_gc_bytes: the heap size at which the next GC starts (GOGC, GOMEMLIMIT)
	StackInuse                 int64 // go_memstats_stack_inuse_bytes
	// GCSys is the runtime's metadata: GC (go_memstats_gc_sys_bytes), spans and caches
	// (mspan_sys, mcache_sys), profiling buckets and other (buck_hash_sys, other_sys).
	GCSys      int64
	Goroutines int64 // go_goroutines
}

// memAccountMetrics are the metrics memAccount.fromMetrics reads.
var memAccountMetrics = []string{"go_memstats_heap_idle_bytes", "go_memstats_heap_released_bytes", "go_memstats_next_gc_bytes",
	"go_memstats_stack_inuse_bytes", "go_memstats_gc_sys_bytes", "go_memstats_mspan_sys_bytes", "go_memstats_mcache_sys_bytes",
	"go_memstats_buck_hash_sys_bytes", "go_memstats_other_sys_bytes", "go_goroutines"}

func (a *memAccount) fromMetrics(m map[string]float64) {
	a.HeapIdle, a.HeapReleased = int64(m["go_memstats_heap_idle_bytes"]), int64(m["go_memstats_heap_released_bytes"])
	a.NextGC, a.StackInuse = int64(m["go_memstats_next_gc_bytes"]), int64(m["go_memstats_stack_inuse_bytes"])
	a.GCSys = int64(m["go_memstats_gc_sys_bytes"] + m["go_memstats_mspan_sys_bytes"] + m["go_memstats_mcache_sys_bytes"] +
		m["go_memstats_buck_hash_sys_bytes"] + m["go_memstats_other_sys_bytes"])
	a.Goroutines = int64(m["go_goroutines"])
}

// readStatus reads RssAnon, RssFile and RssShmem; it leaves them 0 when not readable.
func (a *memAccount) readStatus(pid int) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		if err != nil {
			continue
		}
		switch name {
		case "RssAnon":
			a.RSSAnon = kb << 10
		case "RssFile":
			a.RSSFile = kb << 10
		case "RssShmem":
			a.RSSShmem = kb << 10
		}
	}
}

// goResident is what the Go runtime holds resident (an upper bound: metadata is counted as
// mapped, and stacks and retained spans as touched).
func (p memPoint) goResident() int64 {
	return p.HeapInuse + p.Mem.HeapIdle - p.Mem.HeapReleased + p.Mem.StackInuse + p.Mem.GCSys
}

// memAccountRow is one line of the account of the growth from idle to active.
type memAccountRow struct {
	What  string
	Bytes int64
}

// account splits the growth of VmRSS from the idle node to the active one (before a GC) into
// its parts; live is the live heap's growth (after a GC, from gced). The rows sum to the
// growth of VmRSS.
func account(idle, active, gced memPoint) []memAccountRow {
	d := func(f func(memPoint) int64) int64 { return f(active) - f(idle) }
	live := gced.HeapAlloc - idle.HeapAlloc
	inuse := d(func(p memPoint) int64 { return p.HeapInuse })
	retained := d(func(p memPoint) int64 { return p.Mem.HeapIdle - p.Mem.HeapReleased })
	stacks := d(func(p memPoint) int64 { return p.Mem.StackInuse })
	meta := d(func(p memPoint) int64 { return p.Mem.GCSys })
	nonGo := d(func(p memPoint) int64 { return p.Mem.RSSAnon - p.goResident() })
	file := d(func(p memPoint) int64 { return p.Mem.RSSFile + p.Mem.RSSShmem })
	return []memAccountRow{
		{"live heap (reachable objects, after a forced GC)", live},
		{"heap in use beyond the live heap (garbage not yet collected, free slots in spans in use)", inuse - live},
		{"free heap spans not yet returned to the OS (HeapIdle − HeapReleased)", retained},
		{"goroutine stacks", stacks},
		{"Go runtime metadata (GC bitmaps, span structs, other)", meta},
		{"anonymous memory outside the Go runtime (the residual: the embedded SQLite's page caches; metadata counted as mapped)", nonGo},
		{"file-backed and shared pages (the binary's text, mapped files: page cache, not the process's own)", file},
	}
}

// TestMemoryAccountSumsToVmRSSAndPerActiveUsesRssAnon: the account's rows add up to the growth
// of VmRSS whatever the figures, and the per-resource figure is anonymous RSS when it was read.
func TestMemoryAccountSumsToVmRSSAndPerActiveUsesRssAnon(t *testing.T) {
	pt := func(anon, file, inuse, alloc, idle, rel, stack, meta int64, active int) memPoint {
		return memPoint{Active: active, RSS: anon + file, HeapInuse: inuse, HeapAlloc: alloc,
			Mem: memAccount{RSSAnon: anon, RSSFile: file, HeapIdle: idle, HeapReleased: rel, StackInuse: stack, GCSys: meta}}
	}
	idle := pt(23<<20, 60<<20, 19<<20, 17<<20, 3<<20, 3<<20, 1<<19, 5<<20, 0)
	active := pt(308<<20, 61<<20, 263<<20, 230<<20, 30<<20, 9<<20, 5<<20, 14<<20, 1000)
	gced := pt(272<<20, 61<<20, 192<<20, 150<<20, 104<<20, 45<<20, 3<<20, 14<<20, 1000)
	var sum int64
	for _, r := range account(idle, active, gced) {
		sum += r.Bytes
	}
	if want := active.RSS - idle.RSS; sum != want {
		t.Fatalf("account sums to %d, VmRSS grew by %d", sum, want)
	}
	m := &memResult{Points: []memPoint{idle, active, gced}}
	if per, ok := m.perActive(); !ok || per != float64((308-23)<<20)/1000 {
		t.Fatalf("per active = %v, %v; want the growth of RssAnon over 1000", per, ok)
	}
	if per := m.perActiveVmRSS(); per != float64((369-83)<<20)/1000 {
		t.Fatalf("per active VmRSS = %v", per)
	}
	var w strings.Builder
	(&bench{}).writeSection4(&w, m)
	if !strings.Contains(w.String(), "bytes of anonymous RSS") || !strings.Contains(w.String(), "| **VmRSS** | **286 MiB** |") {
		t.Fatalf("section 4:\n%s", w.String())
	}
}
