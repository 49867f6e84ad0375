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

// pidShrinkMin is the peak below which a shard's map is not rebuilt: its table is small
// (32 shards of 64 entries: about 130 KiB in all).
const pidShrinkMin = 64

type pidCacheShard struct {
	mu   sync.RWMutex
	pids map[identityKey]*actor.PID
	peak int // most entries since pids was last made
	// kinds are copies of the kinds of the keys set, which share them: a node has a few.
	kinds []string
}

// maxKinds bounds pidCacheShard.kinds; a kind past them is copied per key.
const maxKinds = 8

// kind returns the shard's copy of kind. The caller holds the lock.
func (s *pidCacheShard) kind(kind string) string {
	for _, k := range s.kinds {
		if k == kind {
			return k
		}
	}
	k := strings.Clone(kind)
	if len(s.kinds) < maxKinds {
		s.kinds = append(s.kinds, k)
	}
	return k
}

func newPIDCache() *pidCache {
	c := &pidCache{}
	for i := range c.shards {
		c.shards[i].pids = map[identityKey]*actor.PID{}
	}
	return c
}

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
	pid, ok := s.pids[identityKey{kind: kind, identity: identity}]
	s.mu.RUnlock()
	return pid, ok
}

// set caches pid for (identity, kind). The key's strings are not the caller's, which may be
// slices of a larger buffer (a request's) that the cache must not keep alive: the identity is
// the part of pid's Id that names it (the placement actor names an activation after its
// identity), or a copy, and the kind one copy per shard.
func (c *pidCache) set(identity, kind string, pid *actor.PID) {
	s := c.shard(identity)
	s.mu.Lock()
	k := identityKey{kind: kind, identity: identity}
	if _, ok := s.pids[k]; !ok {
		k = identityKey{kind: s.kind(kind), identity: strings.Clone(identity)}
		if i := strings.Index(pid.Id, identity); i >= 0 && identity != "" {
			k.identity = pid.Id[i : i+len(identity)]
		}
	}
	s.pids[k] = pid
	s.peak = max(s.peak, len(s.pids))
	s.mu.Unlock()
}

// removeByValue forgets (identity, kind) if it is still cached as pid (a newer activation's
// PID, cached since, stays).
func (c *pidCache) removeByValue(identity, kind string, pid *actor.PID) {
	s := c.shard(identity)
	k := identityKey{kind: kind, identity: identity}
	s.mu.Lock()
	if cur, ok := s.pids[k]; ok && cur.Equal(pid) {
		delete(s.pids, k)
		s.shrink()
	}
	s.mu.Unlock()
}

// removeUnless forgets every cached PID whose address keep rejects (the members that left).
func (c *pidCache) removeUnless(keep func(addr string) bool) {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for k, pid := range s.pids {
			if !keep(pid.Address) {
				delete(s.pids, k)
			}
		}
		s.shrink()
		s.mu.Unlock()
	}
}

// len returns the number of cached PIDs.
func (c *pidCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.pids)
		s.mu.RUnlock()
	}
	return n
}

// shrink rebuilds the shard's map, freeing the old table, once it holds less than a quarter
// of its peak. s.mu must be held for writing.
func (s *pidCacheShard) shrink() {
	if s.peak < pidShrinkMin || len(s.pids)*4 >= s.peak {
		return
	}
	m := make(map[identityKey]*actor.PID, len(s.pids))
	for k, v := range s.pids {
		m[k] = v
	}
	s.pids, s.peak = m, len(m)
}
