// Package persistence defines the store a resource actor needs, the data it exchanges with
// it, and the schema every implementation shares (see migrations/ and docs/STORAGE.md).
package persistence

import (
	"context"
	"errors"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/actors/events"
)

// Errors returned by every Store. Implementations wrap driver errors with a short prefix but
// keep these sentinels reachable through errors.Is.
var (
	// ErrFenced is returned by Commit when the batch's epoch is no longer the resource's
	// current epoch (another activation took over), or when a creation finds the resource
	// already created. Nothing of the batch was written. The caller must stop using its state.
	ErrFenced = errors.New("fenced: another activation owns this resource")
	// ErrNotFound is returned by GetHold for an unknown hold.
	ErrNotFound = errors.New("not found")
	// ErrUnavailable wraps failures to reach the database (connection refused, timeouts).
	// Whether a failed Commit was applied is unknown: the caller must reload before writing.
	ErrUnavailable = errors.New("store unavailable")
)

// IdempotencyPruneLimit bounds the expired idempotency keys one Activate deletes, so that a
// resource with a large backlog (a store that never pruned, or a resource active for days)
// is cleaned over several activations rather than making one of them slow. Keys are pruned
// there, not on the commit path: every hold writes a key, and an index on the keys' age, the
// only way to find expired keys without reading a resource's keys, cost every hold a B-tree
// insert (docs/PERFORMANCE.md, round 10).
const IdempotencyPruneLimit = 10_000

// Store persists resources, their buckets, holds and idempotency keys.
//
// All methods are safe for concurrent use by many actors. One actor calls Commit for its
// resource at most once at a time; a store that also has an Enqueue method (sqlite, memstore,
// postgres; see actors/resource, pipeliner) may have several of its batches queued, applied in
// order, and refuses a batch behind one that was not applied (its Version; a store may also
// fail it without sending it). Every method honours ctx cancellation and deadlines; a ctx
// that ends before a write began returns an error wrapping the ctx error and writes nothing.
//
// Contract details every implementation keeps (persistence/storetest checks them):
//   - Snapshot.Buckets are sorted by key; Snapshot.Holds by CreatedAt then ID;
//     Snapshot.Waitlist by Seq.
//   - Hold ids are unique across resources (the holds table is keyed by id); a batch that
//     names another resource's hold fails as a whole.
//   - An idempotency key is kept for booking.IdempotencyRetention: a later entry for the
//     same key is ignored unless it is created at least that much later, when it replaces
//     the old one (the actor forgot the key and a client reused it). "Later" is write order,
//     or creation time for an entry its hold carries (PostgreSQL and SQLite, holdkeys.go of each): the
//     actor never writes a key again before the retention has passed, so both orders agree
//     for it. An entry created before the highest idemSince an Activate of the resource
//     passed may stay unread even if written after that Activate (the prune of a hold's entry
//     is a floor); the actor writes none (its idemSince is now - the retention).
//   - A batch that would store an oversold bucket (held + confirmed > Capacity + Allowance,
//     a negative counter, capacity or allowance) fails with an error that is neither
//     ErrFenced nor ErrUnavailable, writes nothing, and leaves the activation usable.
//   - Waitlist entry ids, like hold ids, are unique across resources: a batch that names
//     another resource's entry fails as a whole.
//   - Times are stored at millisecond precision.
type Store interface {
	// Activate starts a new activation of a resource. For an existing resource it atomically
	// increments the resource's epoch (fencing every earlier activation) and returns the
	// resource with its buckets, its held and confirmed holds, its idempotency keys created
	// at or after idemSince, and the end of the previous activation's lease (LeaseUntil). It
	// leaves the stored lease as it is: the new activation holds none until it renews. In the
	// same transaction it deletes up to IdempotencyPruneLimit of the resource's keys created
	// before idemSince (the caller passes now - booking.IdempotencyRetention: keys it will not
	// load again), so that the table does not grow forever and an activation does not read a
	// resource's whole history. For a resource that does not exist it returns a Snapshot with
	// Exists false and Epoch 0, and writes nothing.
	Activate(ctx context.Context, resourceID string, idemSince time.Time) (*Snapshot, error)

	// Commit writes a batch atomically, conditional on b.Epoch being the resource's current
	// epoch and b.Version being its stored version + 1 (for a creation: on the resource not
	// existing; it is then created with epoch 1). It returns ErrFenced, and writes nothing,
	// when the condition fails: a batch repeated, out of order, or behind one that did not
	// apply is refused (an actor may pipeline its commits, see actors/activation). A non-zero
	// b.LeaseUntil is stored as the lease's end in the same transaction.
	Commit(ctx context.Context, b *Batch) error

	// Renew stores until as the end of the lease of the activation at epoch, conditional on
	// epoch being the resource's current epoch; a zero until ends the lease (a successor need
	// not wait). It returns ErrFenced, and writes nothing, when the condition fails or the
	// resource does not exist. It changes nothing else (not the version).
	Renew(ctx context.Context, resourceID string, epoch uint64, until time.Time) error

	// GetHold returns one hold whatever its status, or ErrNotFound.
	GetHold(ctx context.Context, resourceID, holdID string) (booking.Hold, error)

	// ListHolds returns holds matching f, ordered by CreatedAt then ID, at most f.Limit.
	ListHolds(ctx context.Context, f HoldFilter) ([]booking.Hold, error)

	// Ping checks that the store can serve requests.
	Ping(ctx context.Context) error

	// Close releases the store's resources. It is safe to call twice.
	Close() error
}

// Snapshot is what Activate loads.
type Snapshot struct {
	Exists      bool
	Epoch       uint64 // the new activation's epoch; 0 when !Exists
	Version     uint64 // number of batches committed so far
	Resource    booking.Resource
	Buckets     []booking.Bucket // capacities and stored counters, by key
	Holds       []booking.Hold   // status held or confirmed
	Idempotency []booking.IdempotencyEntry
	// Waitlist are the resource's waiting entries, by Seq.
	Waitlist []booking.WaitlistEntry
	// LeaseUntil is the stored end of the lease of the activation before this one, by the
	// wall clock of the node that renewed it; zero when there was none or it was ended. Until
	// then the previous activation may still answer from memory: the new one must not answer
	// anything before LeaseUntil has passed (see docs/ARCHITECTURE.md, Leases).
	LeaseUntil time.Time
}

// Batch is one group commit: the after-images of everything a run of commands changed.
type Batch struct {
	ResourceID string
	// Epoch is the activation's epoch. For a creation it is ignored: Create must be set, the
	// resource must not exist, and it is inserted with epoch 1.
	Epoch uint64
	// Version is the resource's version after this batch: the stored version + 1, or the
	// batch is refused (ErrFenced).
	Version uint64
	// Create is set when the batch creates the resource.
	Create bool
	// Resource is the resource's metadata after the batch; always set.
	Resource booking.Resource
	// Buckets are after-images of changed buckets (upserted by key), counters included.
	Buckets []booking.Bucket
	// Holds are after-images of new or changed holds (upserted by id).
	Holds []booking.Hold
	// NewHolds says that Holds[:NewHolds] are holds this batch creates: no earlier batch
	// stored them (0: none is known to be new). A store may insert them without looking
	// for a stored row (PostgreSQL: a plain INSERT, cheaper than an upsert); it must still
	// refuse the batch if one is stored after all (another resource's hold), as for any hold.
	NewHolds int
	// Idempotency are new keys (inserted; a key is never rewritten).
	Idempotency []booking.IdempotencyEntry
	// Waitlist are after-images of new waiting entries (upserted by id); WaitlistRemoved are
	// the ids of entries that stopped waiting (offered or left), deleted after the upserts, so
	// an entry that joined and was offered within one batch ends deleted. Removing an id that
	// is not stored is not an error.
	Waitlist        []booking.WaitlistEntry
	WaitlistRemoved []string
	// LeaseUntil, when not zero, is stored as the end of the activation's lease (see
	// Store.Renew); a creation stores it too. Zero leaves the stored lease unchanged.
	LeaseUntil time.Time
	// Events are the batch's events (actors/events), inserted into the outbox in the same
	// transaction, in order; all of them name ResourceID and Version.
	Events []events.Event
}

// Saved returns what booking.RestoreSaved rebuilds the resource's state from.
func (s *Snapshot) Saved() booking.Saved {
	return booking.Saved{Resource: s.Resource, Buckets: s.Buckets, Holds: s.Holds, Idempotency: s.Idempotency, Waitlist: s.Waitlist}
}

// HoldFilter selects holds for ListHolds. Empty fields match everything, but at least one of
// ResourceID and UserID must be set.
type HoldFilter struct {
	ResourceID string
	UserID     string
	Status     booking.Status
	Limit      int // 0 means 100; at most 1000
}

// Normalize applies the default limit and checks the filter.
func (f *HoldFilter) Normalize() error {
	if f.ResourceID == "" && f.UserID == "" {
		return booking.Errorf(booking.CodeInvalid, "a hold query needs a resource or a user")
	}
	if f.Status != "" && !f.Status.Valid() {
		return booking.Errorf(booking.CodeInvalid, "unknown status %q", f.Status)
	}
	switch {
	case f.Limit == 0:
		f.Limit = 100
	case f.Limit < 0 || f.Limit > 1000:
		return booking.Errorf(booking.CodeInvalid, "limit must be between 1 and 1000")
	}
	return nil
}
