package persistence

import (
	"context"
	"time"
)

// LeaseMS is how a store keeps a lease end (lease_until_ms): Unix milliseconds rounded up, so
// that a successor never sees a lease end earlier than its holder asked for; 0 for the zero
// time (no lease).
func LeaseMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	v := t.UnixMilli() // rounds toward the past: nanoseconds within a second are never negative
	if t.Nanosecond()%int(time.Millisecond) != 0 {
		v++
	}
	return v
}

// LeaseFromMS reads a stored lease end back: 0 is the zero time, anything else UTC.
func LeaseFromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// LeaseHandover is what a store offers for a change of hands from a live activation without
// a lease wait (docs/ARCHITECTURE.md, Leases: the hand-over). Every store of the project
// implements it (memstore, sqlite, postgres; persistence/storetest checks them); a caller
// that needs it defines its own interface, as actors/resource does. Safe for concurrent use;
// ctx and errors as in Store.
//
// The protocol. A new activation's Activate fences the old one (the epoch), which can no
// longer write but may answer from memory until the lease it stored ends. When the old one
// learns it was fenced (a refused write), it stops answering from memory for good and then
// calls HandOver with its epoch and the lease end of its last write known to have applied:
// that ends the stored lease, but only if its one successor (epoch + 1) is still the current
// activation and the stored end is still that value, so it can never end a lease the
// successor stored, nor one of another activation. The successor, waiting for the stored end
// it loaded, polls LeaseOf and answers as soon as, at its own epoch, the lease is ended.
//
// Why it is safe: at the successor's epoch only two writers can touch the lease row, the
// successor itself (which writes nothing while it waits) and the HandOver of the activation
// one epoch below it, which is called only once that one stopped answering. So an ended
// lease read at the successor's epoch proves the old activation stopped before the successor
// answers anything; and no activation before the old one was leased by then (the old one
// stored a lease, so it had waited for theirs, or been handed it, before its first write).
// A stored end the successor wrote itself is never ended by a late HandOver: the successor
// wrote it after the handed-over end passed by its own clock (a whole lease after that end
// was stored), or after the HandOver had already applied, and a HandOver applies at most once.
type LeaseHandover interface {
	// HandOver ends the stored lease (stores no lease end) if the resource's current epoch is
	// epoch + 1 and its stored lease end is until (as LeaseMS rounds it; until is not zero),
	// and returns an error wrapping ErrFenced, having written nothing, if not or if the
	// resource does not exist (or epoch is 0: no activation comes before the creator's 1). It
	// changes nothing else.
	HandOver(ctx context.Context, resourceID string, epoch uint64, until time.Time) error
	// LeaseOf returns the resource's current epoch and stored lease end (zero: none), or an
	// error wrapping ErrNotFound for a resource that does not exist. It writes nothing; a
	// store may answer from a slightly older snapshot (a read replica, a WAL reader), never
	// from one older than a write the caller saw applied.
	LeaseOf(ctx context.Context, resourceID string) (epoch uint64, until time.Time, err error)
}
