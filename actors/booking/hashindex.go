package booking

import (
	"hash/maphash"
	"maps"
)

// hashIndex maps strings (hold ids, idempotency keys) to positions by a 64-bit hash of the
// string: the owner keeps the strings (its list or log has each at its position), so the index
// need not. On a hot resource the hold and key indexes hold hundreds of thousands of entries:
// a map of string keys hashes every key again whenever one of its tables splits, reading each
// key's bytes from wherever they lie in the heap (a cache miss a key), and its slots are 24
// bytes; with the hash as key a split reads only the table, and slots are 16 bytes (issue 17,
// docs/PERFORMANCE.md, Round 11).
//
// Invariant: a key is in at most one of m (under its hash) and over. m[h] is the position of a
// key whose hash is h; a key whose hash is taken in m by another key is in over instead
// (collisions: a 64-bit hash with a seed of its own per index makes them rare, but they are
// handled, and tested with a narrowed hash). Lookups therefore check that m's candidate has
// the key (the owner reads it at the position) and else look in over.
//
// Not safe for concurrent use; the State that owns it serializes all calls.
type hashIndex struct {
	m    map[uint64]uint64
	over map[string]uint64 // nil while no collision
	seed maphash.Seed
	// mask narrows hashes: all ones but in tests, which force collisions with a small one.
	mask uint64
}

// newHashIndex returns an empty index with room for n keys.
func newHashIndex(n int) *hashIndex {
	return &hashIndex{m: make(map[uint64]uint64, n), seed: maphash.MakeSeed(), mask: ^uint64(0)}
}

func (x *hashIndex) hash(key string) uint64 { return maphash.String(x.seed, key) & x.mask }

// candidate returns the position under key's hash in m, which is key's if the owner's key
// there is key (see get).
func (x *hashIndex) candidate(key string) (pos uint64, ok bool) {
	pos, ok = x.m[x.hash(key)]
	return pos, ok
}

// get returns key's position; keyAt returns the key at a position of the index.
func (x *hashIndex) get(key string, keyAt func(uint64) string) (uint64, bool) {
	if pos, ok := x.candidate(key); ok && keyAt(pos) == key {
		return pos, true
	}
	if x.over != nil {
		pos, ok := x.over[key]
		return pos, ok
	}
	return 0, false
}

// set makes pos key's position, replacing its old one if it has one. keyAt is get's; the
// owner's key at pos may already be key (it is read only at positions the index had before).
func (x *hashIndex) set(key string, pos uint64, keyAt func(uint64) string) {
	if x.over != nil {
		if _, ok := x.over[key]; ok {
			x.over[key] = pos
			return
		}
	}
	h := x.hash(key)
	if old, ok := x.m[h]; ok && keyAt(old) != key {
		if x.over == nil {
			x.over = make(map[string]uint64)
		}
		x.over[key] = pos
		return
	}
	x.m[h] = pos
}

// remove forgets key (while the owner still has it at its position).
func (x *hashIndex) remove(key string, keyAt func(uint64) string) {
	if x.over != nil {
		if _, ok := x.over[key]; ok {
			delete(x.over, key)
			return
		}
	}
	h := x.hash(key)
	if old, ok := x.m[h]; ok && keyAt(old) == key {
		delete(x.m, h)
	}
}

// len returns the number of keys.
func (x *hashIndex) len() int { return len(x.m) + len(x.over) }

// clone returns a copy with the same seed (positions and hashes stay valid in a clone).
func (x *hashIndex) clone() *hashIndex {
	c := &hashIndex{m: maps.Clone(x.m), seed: x.seed, mask: x.mask}
	if len(x.over) > 0 {
		c.over = maps.Clone(x.over)
	}
	return c
}
