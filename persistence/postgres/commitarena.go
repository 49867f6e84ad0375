package postgres

import (
	"github.com/allot/allot/actors/booking"
)

// commitArena is the memory a Commit's statements are built in: the commitBatch, the column
// arrays of its holds, idempotency keys and events, the events' JSON and the maps that find
// repeated keys. A Store lends one per Commit and takes it back when the Commit returns
// (issue 17, CPU per hold: these were a tenth of a durable hold's bytes allocated on the
// node, and allocation and garbage collection a quarter of its CPU).
//
// Invariant: nothing built in an arena is used after the Commit that borrowed it returns.
// The statements' arguments are encoded into the connection's buffers within sendCommit,
// which keeps none of them; a Config.Tracer could (it sees the arguments), so a Store with a
// tracer does not reuse arenas.
type commitArena struct {
	batch commitBatch
	holds holdArrays
	// idempotency keys
	idemKeys, idemFingerprints, idemHolds textArray
	idemCreated                           int8Array
	// outbox rows; outData's elements are slices of outJSON
	outTypes, outSubjects textArray
	outData               bytesTextArray
	outIdx, outAt         int8Array
	outJSON               []byte
	// seen finds a repeated key (lastByKey, the idempotency keys); cleared before each use.
	seen map[string]int
	// holdAt finds a batch's hold by id, for the entry it carries (holdIndex).
	holdAt map[string]int
}

// arenaMaxRows and arenaMaxBytes bound what an arena keeps for the next Commit: one that
// served a batch bigger than the usual group commit (a recovery's, a bulk change's) is left
// to the garbage collector instead of pinning its arrays.
const (
	arenaMaxRows  = 4096
	arenaMaxBytes = 1 << 20
)

func (c *commitBufs) arena() *commitArena {
	if a, _ := c.arenas.Get().(*commitArena); a != nil {
		return a
	}
	return new(commitArena)
}

// putArena takes a back for another Commit, unless it grew past the bounds above.
func (c *commitBufs) putArena(a *commitArena) {
	if cap(a.holds.id) > arenaMaxRows || cap(a.outData) > arenaMaxRows || cap(a.idemKeys) > arenaMaxRows ||
		len(a.seen) > arenaMaxRows || len(a.holdAt) > arenaMaxRows || cap(a.outJSON) > arenaMaxBytes || cap(a.batch.queries) > 64 {
		return
	}
	clear(a.batch.queries[:cap(a.batch.queries)]) // the arguments point into the batch's holds
	a.batch.queries = a.batch.queries[:0]
	c.arenas.Put(a)
}

// sized returns s with length n, reusing its array when it is big enough. Every element is
// set by the caller before use. S keeps its type (an int8Array stays one: a plain []int64
// would be encoded by pgx with an allocation per element, see arrays.go).
func sized[S ~[]E, E any](s S, n int) S {
	if cap(s) < n {
		return make(S, n, n+n/4)
	}
	return s[:n]
}

// seenMap returns the arena's map for finding repeated keys, empty.
func (a *commitArena) seenMap() map[string]int {
	if a.seen == nil {
		a.seen = make(map[string]int)
	}
	clear(a.seen)
	return a.seen
}

// holdIndex returns the arena's map from the id of each of hs to its place, for the holds
// that have an idempotency key (only those can carry an entry).
func (a *commitArena) holdIndex(hs []booking.Hold) map[string]int {
	if a.holdAt == nil {
		a.holdAt = make(map[string]int, len(hs))
	}
	clear(a.holdAt)
	for i := range hs {
		if hs[i].IdempotencyKey != "" {
			a.holdAt[hs[i].ID] = i
		}
	}
	return a.holdAt
}

// holdArrays is newHoldArrays into the arena's arrays.
func (a *commitArena) holdArrays(hs []booking.Hold) (holdArrays, error) {
	n := len(hs)
	h := &a.holds
	h.id, h.user, h.status, h.buckets, h.idem = sized(h.id, n), sized(h.user, n), sized(h.status, n), sized(h.buckets, n), sized(h.idem, n)
	h.quantity, h.created, h.expires, h.upd = sized(h.quantity, n), sized(h.created, n), sized(h.expires, n), sized(h.upd, n)
	h.entry, h.extensions, h.contact = sized(h.entry, n), sized(h.extensions, n), sized(h.contact, n)
	h.payment, h.paymentOpen, h.idemEntry = sized(h.payment, n), sized(h.paymentOpen, n), sized(h.idemEntry, n)
	if err := fillHoldArrays(h, hs); err != nil {
		return holdArrays{}, err
	}
	return *h, nil
}
