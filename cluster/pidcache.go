package cluster

import (
	"strings"
	"sync"

	"github.com/asynkron/protoactor-go/actor"
)

// pidCache maps a cluster identity to the PID of its activation, for the request path: the
// replacement of protoactor's cluster.PidCache, which is a concurrent map of 32 Go maps that
// never shrink. A Go map keeps its largest table after its entries are deleted, so after a
// peak of N cached activations protoactor's cache held N slots (about 64 bytes each, 6 MiB
// at 100,000) for the process's life once every resource had passivated. Each shard here
// instead rebuilds its map when it has emptied to a quarter of its peak, on the goroutine
// that deletes (under the shard's lock): a rebuild copies at most a quarter of the entries
// the peak held and follows at least three quarters of them being removed, so its cost is
// amortized O(1) per removal, and lookups never pay it.
//
// Thread safety: every method may be called from any goroutine concurrently.
type pidCache struct {
	shards [pidCacheShards]pidCacheShard
}

// pidCacheShards spreads the request path's lookups (read locks) and the activations'
// inserts and removals (write locks) over this many locks.
const pidCacheShards = 32

// pidShrinkMin is the peak below which a shard's map of a kind is not rebuilt: its table is
// small (32 shards of 64 entries: about 80 KiB in all).
const pidShrinkMin = 64

type pidCacheShard struct {
	mu   sync.RWMutex
	pids kindMaps // a map per kind, keyed by identity (kindmap.go)
}

func newPIDCache() *pidCache { return &pidCache{} }

// shard picks a shard by FNV-1a of the identity (the kind is one of a few names).
func (c *pidCache) shard(identity string) *pidCacheShard {
	h := uint32(2166136261)
	for i := 0; i < len(identity); i++ {
		h ^= uint32(identity[i])
		h *= 16777619
	}
	return &c.shards[h%pidCacheShards]
}

func (c *pidCache) get(identity, kind string) (*actor.PID, bool) {
	s := c.shard(identity)
	s.mu.RLock()
	pid, ok := s.pids.get(kind, identity)
	s.mu.RUnlock()
	return pid, ok
}

// set caches pid for (identity, kind). The key's strings are not the caller's, which may be
// slices of a larger buffer (a request's) that the cache must not keep alive: the identity is
// the part of pid's Id that names it (the placement actor names an activation after its
// identity), or a copy, and the kind one copy per shard.
func (c *pidCache) set(identity, kind string, pid *actor.PID) {
	own := strings.Clone(identity)
	if i := strings.Index(pid.Id, identity); i >= 0 && identity != "" {
		own = pid.Id[i : i+len(identity)]
	}
	s := c.shard(identity)
	s.mu.Lock()
	s.pids.set(kind, own, pid)
	s.mu.Unlock()
}

// removeByValue forgets (identity, kind) if it is still cached as pid (a newer activation's
// PID, cached since, stays).
func (c *pidCache) removeByValue(identity, kind string, pid *actor.PID) {
	s := c.shard(identity)
	s.mu.Lock()
	if cur, ok := s.pids.get(kind, identity); ok && cur.Equal(pid) {
		s.pids.delete(kind, identity, pidShrinkMin)
	}
	s.mu.Unlock()
}

// removeUnless forgets every cached PID whose address keep rejects (the members that left).
func (c *pidCache) removeUnless(keep func(addr string) bool) {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for k, pid := range s.pids.all() {
			if !keep(pid.Address) {
				s.pids.of(k.kind).remove(k.identity)
			}
		}
		s.pids.shrinkAll(pidShrinkMin)
		s.mu.Unlock()
	}
}

// len returns the number of cached PIDs.
func (c *pidCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += s.pids.len()
		s.mu.RUnlock()
	}
	return n
}
