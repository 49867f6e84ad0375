package cluster

import (
	"runtime"
	"strconv"
	"sync"
	"testing"
	"unsafe"

	"github.com/asynkron/protoactor-go/actor"
)

// The cache gives back its tables once a passivation wave emptied it: after 100,000
// activations were cached and all removed, the heap holds about what it held before the
// fill. Without the shards' rebuild the emptied maps keep their peak tables (about 6 MiB).
func TestPIDCacheFreesItsTablesWhenEmptied(t *testing.T) {
	const n = 100_000
	c := newPIDCache()
	before := heapAlloc()
	for i := range n {
		id := "room-" + strconv.Itoa(i)
		c.set(id, "resource", actor.NewPID("127.0.0.1:1", "partition-activator/"+id))
	}
	full := heapAlloc()
	for i := range n {
		id := "room-" + strconv.Itoa(i)
		pid, ok := c.get(id, "resource")
		if !ok {
			t.Fatalf("%s is not cached", id)
		}
		c.removeByValue(id, "resource", pid)
	}
	after := heapAlloc()
	if c.len() != 0 {
		t.Fatalf("%d entries left", c.len())
	}
	const slack = 1 << 20
	if after > before+slack {
		t.Fatalf("heap after emptying the cache %d KiB over before the fill (%d KiB over when full): the maps kept their tables",
			(after-before)>>10, (full-before)>>10)
	}
	runtime.KeepAlive(c)
}

func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// A rebuild keeps every entry still cached, and removeByValue leaves a newer activation's PID.
func TestPIDCacheShrinkKeepsTheRest(t *testing.T) {
	c := newPIDCache()
	const n = 20_000
	pids := make([]*actor.PID, n)
	for i := range n {
		pids[i] = actor.NewPID("127.0.0.1:1", "a"+strconv.Itoa(i))
		c.set(strconv.Itoa(i), "resource", pids[i])
	}
	// A newer activation of 0 replaced the first: removing the stale PID must keep it.
	newer := actor.NewPID("127.0.0.1:1", "a0-newer")
	c.set("0", "resource", newer)
	c.removeByValue("0", "resource", pids[0])
	for i := 1; i < n; i++ {
		if i%10 != 0 { // keep a tenth: every shard drops below a quarter of its peak
			c.removeByValue(strconv.Itoa(i), "resource", pids[i])
		}
	}
	rebuilt := 0
	for i := range c.shards {
		if k := c.shards[i].pids.of("resource"); k != nil && k.peak < n/pidCacheShards/2 {
			rebuilt++
		}
	}
	if rebuilt == 0 {
		t.Fatal("no shard was rebuilt")
	}
	if got, ok := c.get("0", "resource"); !ok || got != newer {
		t.Fatalf("0: got %v, %v; want the newer activation", got, ok)
	}
	for i := 10; i < n; i += 10 {
		if got, ok := c.get(strconv.Itoa(i), "resource"); !ok || got != pids[i] {
			t.Fatalf("%d: got %v, %v after the rebuild", i, got, ok)
		}
	}
	if got, want := c.len(), n/10; got != want {
		t.Fatalf("len %d, want %d", got, want)
	}
	if _, ok := c.get("0", "other-kind"); ok {
		t.Fatal("a kind that was never cached is found")
	}
}

func TestPIDCacheRemoveUnlessDropsMembersThatLeft(t *testing.T) {
	c := newPIDCache()
	for i := range 1000 {
		addr := "127.0.0.1:1"
		if i%2 == 1 {
			addr = "127.0.0.1:2"
		}
		c.set(strconv.Itoa(i), "resource", actor.NewPID(addr, "a"+strconv.Itoa(i)))
	}
	c.removeUnless(func(addr string) bool { return addr == "127.0.0.1:1" })
	if got := c.len(); got != 500 {
		t.Fatalf("len %d, want 500", got)
	}
	for i := range 1000 {
		_, ok := c.get(strconv.Itoa(i), "resource")
		if ok != (i%2 == 0) {
			t.Fatalf("%d cached: %v", i, ok)
		}
	}
}

// Concurrent lookups, inserts and removals (run with -race), with shards rebuilt under them.
func TestPIDCacheConcurrentUse(t *testing.T) {
	c := newPIDCache()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for round := range 5 {
				for i := range 2000 {
					id := strconv.Itoa(w*100_000 + i)
					pid := actor.NewPID("127.0.0.1:1", id+"$"+strconv.Itoa(round))
					c.set(id, "resource", pid)
					if got, ok := c.get(id, "resource"); !ok || got != pid {
						t.Errorf("%s: got %v, %v", id, got, ok)
						return
					}
				}
				for i := range 2000 {
					id := strconv.Itoa(w*100_000 + i)
					if pid, ok := c.get(id, "resource"); ok {
						c.removeByValue(id, "resource", pid)
					}
				}
			}
		})
	}
	wg.Wait()
	if got := c.len(); got != 0 {
		t.Fatalf("len %d after every worker removed its entries", got)
	}
}

// TestPIDCacheKeepsNoStringOfTheCaller: a cached key's identity is the part of the PID's Id
// that names it (or a copy when the Id does not), and its kind the shard's one copy, never
// the caller's strings, which may be slices of a request's buffer.
func TestPIDCacheKeepsNoStringOfTheCaller(t *testing.T) {
	within := func(s, of string) bool {
		p, b := uintptr(unsafe.Pointer(unsafe.StringData(s))), uintptr(unsafe.Pointer(unsafe.StringData(of)))
		return p >= b && p+uintptr(len(s)) <= b+uintptr(len(of))
	}
	c := newPIDCache()
	for _, tc := range []struct {
		request string // a buffer the caller's strings slice: the identity from 19, the kind at the end
		pid     *actor.PID
		named   bool // the PID's Id names the identity
	}{
		{"POST /v1/resources/r-1 resource", actor.NewPID("node-1", "partition-activator/r-1$7"), true},
		{"POST /v1/resources/r-2 resource", actor.NewPID("node-1", "$8"), false},
	} {
		identity, kind := tc.request[19:22], tc.request[23:]
		c.set(identity, kind, tc.pid)
		c.set(identity, kind, tc.pid) // again: an assignment to a present key rewrites the key
		if pid, ok := c.get(identity, kind); !ok || pid != tc.pid {
			t.Fatalf("get %s = %v, %v", identity, pid, ok)
		}
		for k, pid := range c.shard(identity).pids.all() {
			if pid != tc.pid {
				continue
			}
			if within(k.identity, tc.request) || within(k.kind, tc.request) {
				t.Fatalf("key %+v keeps the caller's strings", k)
			}
			if within(k.identity, tc.pid.Id) != tc.named {
				t.Fatalf("key %+v: identity within the PID's Id %v, want %v", k, !tc.named, tc.named)
			}
		}
	}
}
