package cmd

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// cpuShare is the flat CPU time of one category of functions in a profile.
type cpuShare struct {
	Category string
	Time     time.Duration
	Share    float64 // of the profile's total
}

// cpuCategories sort a profile's functions (by the prefix of their name, first match wins)
// into what a reader can act on.
var cpuCategories = []struct {
	name     string
	prefixes []string
}{
	{"syscalls (loopback TCP send/recv, fsync)", []string{"internal/runtime/syscall", "syscall.", "runtime/internal/syscall"}},
	{"garbage collection and allocation", []string{"runtime.gc", "runtime.scan", "runtime.mallocgc", "runtime.(*mspan)", "runtime.(*mheap)",
		"runtime.(*mcache)", "runtime.(*mcentral)", "runtime.(*gcWork)", "runtime.(*gcBits)", "runtime.greyobject", "runtime.findObject",
		"runtime.heapBits", "runtime.memclrNoHeapPointers", "runtime.sweep", "runtime.(*sweep", "runtime.tryDeferToSpanScan",
		"runtime.typePointers", "runtime.nextFreeFast", "internal/runtime/gc", "runtime.bgsweep", "runtime.wbBuf", "runtime.bulkBarrier",
		"runtime.(*spanSet)", "runtime.markroot", "runtime.spanClass", "runtime.newobject", "runtime.makeslice", "runtime.growslice",
		"runtime.makemap", "runtime.(*pageAlloc)", "runtime.spanOf", "runtime.writeHeapBits", "runtime.(*gcControllerState)", "runtime.deductAssistCredit",
		"gcWriteBarrier", "runtime.(*stkframe)", "runtime.(*fixalloc)", "runtime.(*spanInlineMarkBits)", "runtime.(*spanScanOwnership)",
		"runtime.(*pallocBits)", "runtime.getMCache", "runtime.freeStackSpans", "runtime.(*gcCPULimiterState)", "runtime.bgscavenge", "runtime.(*scavenger", "runtime.heapSetType", "runtime.publicationBarrier", "runtime.mProf", "runtime.(*unwinder)"}},
	{"scheduler (futex, netpoll, goroutine hand-offs)", []string{"runtime.futex", "runtime.schedule", "runtime.findRunnable", "runtime.netpoll",
		"runtime.epoll", "runtime.usleep", "runtime.osyield", "runtime.park", "runtime.ready", "runtime.runq", "runtime.stealWork", "runtime.lock",
		"runtime.unlock", "runtime.notesleep", "runtime.notewakeup", "runtime.mcall", "runtime.gogo", "runtime.nanotime", "runtime.procyield",
		"runtime.casgstatus", "runtime.goready", "runtime.wakep", "runtime.startm", "runtime.stopm", "runtime.resetspinning", "runtime.checkTimers",
		"runtime.(*timer", "runtime.selectgo", "runtime.chansend", "runtime.chanrecv", "runtime.send", "runtime.recv", "runtime.gopark",
		"runtime.newproc", "runtime.goexit", "runtime.execute", "runtime.retake", "runtime.sysmon", "runtime.entersyscall", "runtime.exitsyscall",
		"runtime.reentersyscall", "runtime.(*waitq)", "runtime.(*randomEnum)", "runtime.runtimer", "runtime.semacquire", "runtime.semrelease",
		"runtime.(*semaRoot)", "runtime.cansemacquire", "runtime.acquireSudog", "runtime.releaseSudog", "runtime.lock2", "runtime.unlock2"}},
	{"maps (hashing, lookups)", []string{"internal/runtime/maps.", "runtime.mapaccess", "runtime.mapassign", "runtime.mapdelete",
		"runtime.mapiter", "aeshash", "runtime.memhash", "runtime.strhash", "runtime.efaceeq", "runtime.nilinterhash", "runtime.typehash"}},
	{"JSON", []string{"encoding/json.", "github.com/bytedance/sonic", "github.com/goccy/go-json"}},
	{"HTTP server (net/http, gin, net)", []string{"net/http.", "github.com/gin-gonic/", "net/textproto.", "bufio.", "net.", "internal/poll.", "net/url."}},
	{"gRPC remote between nodes", []string{"google.golang.org/grpc", "golang.org/x/net/http2"}},
	{"protobuf", []string{"google.golang.org/protobuf/"}},
	{"actor runtime (protoactor-go)", []string{"github.com/asynkron/", "github.com/orcaman/concurrent-map", "github.com/Workiva/", "github.com/lithammer/shortuuid"}},
	{"PostgreSQL driver (pgx, cockroach-go)", []string{"github.com/jackc/", "github.com/cockroachdb/"}},
	{"SQLite (modernc.org/sqlite)", []string{"modernc.org/"}},
	{"Allot booking model", []string{"github.com/allot/allot/actors/booking."}},
	{"Allot resource actor", []string{"github.com/allot/allot/actors/resource."}},
	{"Allot HTTP edge", []string{"github.com/allot/allot/api.", "github.com/allot/allot/cmd."}},
	{"Allot stores", []string{"github.com/allot/allot/persistence"}},
	{"Allot cluster, memberlist", []string{"github.com/allot/allot/cluster.", "github.com/hashicorp/"}},
	{"Prometheus metrics", []string{"github.com/prometheus/"}},
	{"logging", []string{"log/slog."}},
	{"crypto, hashing, ids", []string{"crypto/", "hash/", "github.com/google/uuid", "math/rand"}},
	{"other runtime and std (maps, strings, sync, time)", []string{"runtime.", "internal/", "sync.", "sync/", "aeshash", "memeqbody", "indexbyte",
		"strings.", "strconv.", "time.", "sort.", "slices.", "fmt.", "bytes.", "unicode/", "reflect.", "context.", "errors.", "io.", "os.", "maps.", "math."}},
}

// categorize returns the category of a function name, "other" when none matches.
func categorize(fn string) string {
	for _, c := range cpuCategories {
		for _, p := range c.prefixes {
			if strings.HasPrefix(fn, p) {
				return c.name
			}
		}
	}
	return "other"
}

// analyseProfile runs go tool pprof on a CPU profile of the allot binary: the top functions
// (flat), and the flat time summed by category.
func (b *bench) analyseProfile(t *testing.T, path string) (top string, shares []cpuShare, total time.Duration) {
	out, err := exec.CommandContext(t.Context(), "go", "tool", "pprof", "-top", "-nodecount=18", b.bin, path).CombinedOutput()
	if err != nil {
		t.Logf("pprof %s: %v\n%s", path, err, out)
		return "", nil, 0
	}
	top = trimPprofHeader(string(out))
	out, err = exec.CommandContext(t.Context(), "go", "tool", "pprof", "-top", "-nodecount=1000000", b.bin, path).CombinedOutput()
	if err != nil {
		return top, nil, 0
	}
	shares, total = pprofShares(string(out))
	return top, shares, total
}

// allocTop is the top allocation sites (alloc_space, flat) between two allocs profiles.
func (b *bench) allocTop(t *testing.T, base, end string) string {
	out, err := exec.CommandContext(t.Context(), "go", "tool", "pprof", "-sample_index=alloc_space", "-top", "-nodecount=15",
		"-base", base, b.bin, end).CombinedOutput()
	if err != nil {
		t.Logf("pprof allocs: %v\n%s", err, out)
		return ""
	}
	return trimPprofHeader(string(out))
}

// trimPprofHeader drops the lines that name the file, build, type and time of a profile.
func trimPprofHeader(s string) string {
	var keep []string
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		if strings.HasPrefix(l, "File:") || strings.HasPrefix(l, "Build ID:") || strings.HasPrefix(l, "Type:") || strings.HasPrefix(l, "Time:") {
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "\n")
}

// pprofTopRows returns, for each row of the table in `go tool pprof -top` output, its flat
// value (first column, unparsed) and its function name (the columns after cum%).
func pprofTopRows(out string) (flat, name []string) {
	inTable := false
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 5 && f[0] == "flat" && f[1] == "flat%" {
			inTable = true
			continue
		}
		if inTable && len(f) >= 6 {
			flat, name = append(flat, f[0]), append(name, strings.Join(f[5:], " "))
		}
	}
	return flat, name
}

// pprofShares sums the flat column of `go tool pprof -top` output by category.
func pprofShares(out string) ([]cpuShare, time.Duration) {
	byCat := map[string]time.Duration{}
	var total time.Duration
	flat, name := pprofTopRows(out)
	for i := range flat {
		d, err := time.ParseDuration(flat[i])
		if err != nil {
			continue
		}
		byCat[categorize(name[i])] += d
		total += d
	}
	var shares []cpuShare
	for c, d := range byCat {
		shares = append(shares, cpuShare{Category: c, Time: d, Share: float64(d) / float64(max(total, 1))})
	}
	slices.SortFunc(shares, func(a, b cpuShare) int {
		if a.Time != b.Time {
			return int(b.Time - a.Time)
		}
		return strings.Compare(a.Category, b.Category)
	})
	return shares, total
}

func TestPprofShares(t *testing.T) {
	out := `Duration: 8s, Total samples = 1.74s (21.75%)
Showing nodes accounting for 1.74s, 100% of 1.74s total
      flat  flat%   sum%        cum   cum%
     0.43s 24.71% 24.71%      0.43s 24.71%  internal/runtime/syscall/linux.Syscall6
     300ms 17.24% 41.95%      0.40s 22.99%  runtime.mallocgc
     0.01s  0.57% 42.52%      0.38s 21.84%  github.com/allot/allot/actors/resource.(*warmDispatcher).work
     0.02s  1.15% 43.67%      0.02s  1.15%  github.com/orcaman/concurrent-map.ConcurrentMap.GetShard (inline)
     0.98s 56.32%   100%      0.98s 56.32%  somethingElse
`
	shares, total := pprofShares(out)
	if total != 1740*time.Millisecond {
		t.Fatalf("total %s", total)
	}
	got := map[string]time.Duration{}
	for _, s := range shares {
		got[s.Category] = s.Time
	}
	want := map[string]time.Duration{
		"syscalls (loopback TCP send/recv, fsync)": 430 * time.Millisecond,
		"garbage collection and allocation":        300 * time.Millisecond,
		"Allot resource actor":                     10 * time.Millisecond,
		"actor runtime (protoactor-go)":            20 * time.Millisecond,
		"other":                                    980 * time.Millisecond,
	}
	for c, d := range want {
		if got[c] != d {
			t.Errorf("%s: %s, want %s (all %v)", c, got[c], d, got)
		}
	}
	if shares[0].Category != "other" || shares[1].Time != 430*time.Millisecond {
		t.Errorf("not sorted by time: %+v", shares)
	}
}
