package cluster

import (
	"iter"
	"strings"

	"github.com/asynkron/protoactor-go/actor"
)

// kindMaps maps a cluster identity (kind, identity) to a PID, with a Go map per kind keyed by
// the identity alone. Both the placement actor (this member's activations) and the PID cache
// (the request path's) keep an entry per active resource: keyed by an identityKey, a slot was
// 40 bytes (two string headers and a pointer); keyed by the identity, it is 24, about 40% less
// of each map's table per resource (docs/PERFORMANCE.md, "Round 10"). A node has a kind or a
// few, so a lookup finds its kind's map by comparing the kind with each (usually the first).
// A kind's map is rebuilt when it has emptied to a quarter of its peak (Go maps keep their
// largest table), so that a passivation wave returns its memory: amortized O(1) per removal.
// A map that empties is dropped (nil) and made again at the next set: the last rebuild of a
// passivation wave is made while the wave frees the activations' objects, in the holes of
// their spans, and kept empty it would keep one of those spans from being freed per map (the
// Go heap does not compact; round 13, docs/PERFORMANCE.md). Invariant: a kind's map is nil
// or holds an entry.
//
// The identity set keeps is the caller's to give (never a slice of a request's buffer); the
// kind is copied once per kind.
//
// Thread safety: none; the placement actor uses it from its goroutine, the PID cache under a
// shard's lock.
type kindMaps struct {
	kinds []kindMap
}

type kindMap struct {
	kind string
	pids map[string]*actor.PID
	peak int // most entries since pids was last made
}

// of returns kind's map, nil if there is none.
func (m *kindMaps) of(kind string) *kindMap {
	for i := range m.kinds {
		if m.kinds[i].kind == kind {
			return &m.kinds[i]
		}
	}
	return nil
}

// get returns the PID of (kind, identity).
func (m *kindMaps) get(kind, identity string) (*actor.PID, bool) {
	k := m.of(kind)
	if k == nil {
		return nil, false
	}
	pid, ok := k.pids[identity]
	return pid, ok
}

// set maps (kind, identity) to pid. identity is kept (see kindMaps): an assignment to a key
// that is present rewrites the kept key with the one given (Go does for string keys), so it
// must be the caller's own in either case. The kind is copied once, with its map.
func (m *kindMaps) set(kind, identity string, pid *actor.PID) {
	k := m.of(kind)
	if k == nil {
		m.kinds = append(m.kinds, kindMap{kind: strings.Clone(kind)})
		k = &m.kinds[len(m.kinds)-1]
	}
	if k.pids == nil {
		k.pids = map[string]*actor.PID{}
	}
	k.pids[identity] = pid
	k.peak = max(k.peak, len(k.pids))
}

// delete removes (kind, identity), dropping the kind's map when it is empty and rebuilding
// it once it holds less than a quarter of its peak (when the peak reached shrinkMin).
func (m *kindMaps) delete(kind, identity string, shrinkMin int) {
	k := m.of(kind)
	if k == nil {
		return
	}
	delete(k.pids, identity)
	k.shrink(shrinkMin)
}

// remove deletes identity without a rebuild (a loop over the map may be under way).
func (k *kindMap) remove(identity string) { delete(k.pids, identity) }

func (k *kindMap) shrink(shrinkMin int) {
	if len(k.pids) == 0 {
		k.pids, k.peak = nil, 0
		return
	}
	if k.peak < shrinkMin || len(k.pids)*4 >= k.peak {
		return
	}
	k.pids, k.peak = rebuilt(k.pids), len(k.pids)
}

// len returns the number of entries.
func (m *kindMaps) len() int {
	n := 0
	for i := range m.kinds {
		n += len(m.kinds[i].pids)
	}
	return n
}

// all yields every entry; the loop's body may delete the entry it is given (and only it).
func (m *kindMaps) all() iter.Seq2[identityKey, *actor.PID] {
	return func(yield func(identityKey, *actor.PID) bool) {
		for i := range m.kinds {
			k := &m.kinds[i]
			for identity, pid := range k.pids {
				if !yield(identityKey{kind: k.kind, identity: identity}, pid) {
					return
				}
			}
		}
	}
}

// shrinkAll drops every empty kind's map and rebuilds every one that holds less than a
// quarter of its peak.
func (m *kindMaps) shrinkAll(shrinkMin int) {
	for i := range m.kinds {
		m.kinds[i].shrink(shrinkMin)
	}
}
