package cluster

import (
	"runtime"
	"strconv"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	cmap "github.com/orcaman/concurrent-map"
)

// TestPrewarmRegistryAllocatesEveryShardOnce: after prewarmRegistry, registering a name in any
// shard of the process registry allocates no table (the first insert into every shard already
// happened), and the registry holds no name it did not hold before. Without it, the same inserts allocate a table per
// shard: the test's measure can tell the two apart.
func TestPrewarmRegistryAllocatesEveryShardOnce(t *testing.T) {
	insertEverywhere := func(sys *actor.ActorSystem) uint64 {
		maps := sys.ProcessRegistry.LocalPIDs.LocalPIDs
		keys := map[*cmap.ConcurrentMapShared]string{}
		for i := 0; len(keys) < len(maps[0]); i++ {
			k := "probe-" + strconv.Itoa(i)
			if s := maps[0].GetShard(k); keys[s] == "" {
				keys[s] = k
			}
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for _, m := range maps {
			for _, k := range keys {
				m.Set(k, struct{}{})
				m.Remove(k)
			}
		}
		runtime.ReadMemStats(&after)
		return after.Mallocs - before.Mallocs
	}
	shards := uint64(len(actor.NewActorSystem().ProcessRegistry.LocalPIDs.LocalPIDs) * cmap.SHARD_COUNT)

	cold := actor.NewActorSystem()
	if n := insertEverywhere(cold); n < shards/2 { // a few shards hold the system's own actors
		t.Fatalf("without prewarming, %d allocations for a first insert into %d shards: the measure cannot tell", n, shards)
	}
	warm := actor.NewActorSystem()
	count := func() (n int) {
		for _, m := range warm.ProcessRegistry.LocalPIDs.LocalPIDs {
			n += m.Count()
		}
		return n
	}
	names := count() // the system's own actors
	prewarmRegistry(warm)
	if n := count(); n != names {
		t.Fatalf("the registry held %d names before prewarming, %d after", names, n)
	}
	if n := insertEverywhere(warm); n > shards/32 { // other goroutines may allocate meanwhile
		t.Fatalf("after prewarming, %d allocations for an insert into each of %d shards", n, shards)
	}
}
