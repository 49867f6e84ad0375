package cluster

import (
	"strconv"

	"github.com/asynkron/protoactor-go/actor"
	cmap "github.com/orcaman/concurrent-map"
)

// protoactor-go's process registry (every local PID: each activation, future and system actor)
// is 1,024 concurrent maps of 32 shards, each shard a Go map, all made empty when the actor
// system is made. A Go map allocates its first table (a group of 8 slots, 288 bytes for the
// registry's string keys and interface values) at its first insert and keeps it when emptied,
// so the registry reaches about 9 MiB, the 32,768 first tables, once a few tens of thousands of
// activations went through it, and stays there: bounded by the shard count, not by the number
// of resources. Made lazily, those tables are allocated one at a time between the first
// activations' own objects of the same size class, and once the activations passivate each
// table keeps the span (8 KiB) it shares with freed objects from being reused or returned to
// the OS: the Go heap does not compact. prewarmRegistry makes them all when the node starts,
// side by side, so that they pin nothing else (measured in docs/ARCHITECTURE.md, "Memory per
// resource": heap in use after a passivation wave, and the idle node's heap, which includes
// them from the start).

// prewarmRegistry allocates the first table of every shard of sys's process registry, by
// registering and removing a key in each shard. It must run before sys spawns anything: the
// keys are never visible to a lookup then. Shards are chosen by the keys' hashes (protoactor
// picks a concurrent map by murmur3, cmap a shard by FNV-1a); a key per shard is found by
// asking the first map which shard it lands in, and every map uses the same shard function.
func prewarmRegistry(sys *actor.ActorSystem) {
	maps := sys.ProcessRegistry.LocalPIDs.LocalPIDs
	if len(maps) == 0 {
		return
	}
	keys := make(map[*cmap.ConcurrentMapShared]string, len(maps[0]))
	for i := 0; len(keys) < len(maps[0]); i++ { // 32 shards: about 130 tries
		k := "$prewarm-" + strconv.Itoa(i)
		if s := maps[0].GetShard(k); keys[s] == "" {
			keys[s] = k
		}
	}
	for _, m := range maps {
		for _, k := range keys {
			m.Set(k, struct{}{})
			m.Remove(k)
		}
	}
}
