package postgres

import "sync"

// outboxKey is a resource's event position: (version, index).
type outboxKey struct {
	v uint64
	i int
}

func (a outboxKey) less(b outboxKey) bool { return a.v < b.v || a.v == b.v && a.i < b.i }

// maxOutboxFloors bounds the floors remembered: past it the map starts over (a resource
// without a floor is checked from its first row, which is correct, only slower once).
const maxOutboxFloors = 1 << 16

// outboxFloors remembers, per resource, a floor below which every outbox row of the resource
// is published: the lowest unpublished row a committed claim's prefix check saw. It stays
// true forever: a resource's rows are written in version order (one batch at a time, the
// epoch fences the others), no row is ever written below a committed one, and a published
// row is never unpublished. So the next check of the resource reads from the floor up, not
// every row of the resource since the last vacuum (the partial index keeps the entries of
// published rows until then). Safe for concurrent use; the zero value is empty.
type outboxFloors struct {
	mu sync.Mutex
	m  map[string]outboxKey
}

// get returns the floor of rid, or ok false when none is known.
func (f *outboxFloors) get(rid string) (outboxKey, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k, ok := f.m[rid]
	return k, ok
}

// raise records floors seen by a committed claim, keeping the higher of old and new.
func (f *outboxFloors) raise(seen map[string]outboxKey) {
	if len(seen) == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil || len(f.m)+len(seen) > maxOutboxFloors {
		f.m = make(map[string]outboxKey, len(seen))
	}
	for rid, k := range seen {
		if old, ok := f.m[rid]; !ok || old.less(k) {
			f.m[rid] = k
		}
	}
}
