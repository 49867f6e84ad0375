package ratelimit

import "sync/atomic"

// fieldCache keeps the RateLimit items built lately, so that a response whose budget is in a
// state seen before shares the item's string instead of building it again: rateLimitField's
// string was two allocations per hold (one per budget, the caller's and the holds'; issue 17,
// round 13). A budget's items take few values at once — r is at most the burst, t at most
// the window's seconds, and a caller well within its budget sees r = burst-1, t = 1 on every
// request — so a small table holds the common ones.
//
// Safe for concurrent use without a lock: a slot holds a pointer to an immutable entry,
// replaced whole. Invariant: an entry's item is rateLimitField(name, r, t) of its own fields,
// so a hit returns exactly the string a miss would build (TestFieldCacheMatchesFresh).
type fieldCache struct {
	slots [fieldCacheSlots]atomic.Pointer[fieldEntry]
}

// fieldCacheSlots is a power of two: a budget with a burst of up to ~64 and a window of a few
// seconds fits with few collisions; a collision only costs the item's allocation, as before.
const fieldCacheSlots = 256

type fieldEntry struct {
	name      string
	remaining int
	reset     int64 // whole seconds, as in the item
	item      string
}

// item returns the RateLimit item for a decision d under the budget named name.
func (fc *fieldCache) item(name string, d Decision) string {
	t := ceilSeconds(d.Reset, 0)
	h := uint64(d.Remaining)*0x9E3779B97F4A7C15 ^ uint64(t)*0xC2B2AE3D27D4EB4F ^ uint64(len(name))*0x165667B19E3779F9
	slot := &fc.slots[(h>>32)&(fieldCacheSlots-1)]
	if e := slot.Load(); e != nil && e.remaining == d.Remaining && e.reset == t && e.name == name {
		return e.item
	}
	s := rateLimitField(name, d)
	slot.Store(&fieldEntry{name: name, remaining: d.Remaining, reset: t, item: s})
	return s
}
