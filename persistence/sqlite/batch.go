package sqlite

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

// tables are the multi-row upserts a commit runs. Buckets and holds are after-images
// (upserted); idempotency keys are insert-once. A hold row is only ever updated by its own
// resource: the WHERE makes a conflicting id of another resource a skipped row, which
// applyCommit detects from the row count.
var tables = map[string]table{
	"buckets": {
		name:   "buckets",
		cols:   []string{"resource_id", "bucket_key", "capacity", "allowance", "held", "confirmed"},
		suffix: "ON CONFLICT (resource_id, bucket_key) DO UPDATE SET capacity = excluded.capacity, allowance = excluded.allowance, held = excluded.held, confirmed = excluded.confirmed",
		chunk:  200,
	},
	"holds": {
		name: "holds",
		cols: []string{"id", "resource_id", "user_id", "status", "quantity", "buckets", "idempotency_key", "created_at_ms", "expires_at_ms", "updated_at_ms",
			"extensions", "waitlist_entry_id", "payment", "payment_open", "contact", "idem_entry"},
		// contact is written once, by the insert: a later after-image of the hold carries
		// the contact the actor loaded, which `allot rekey` may have re-sealed meanwhile.
		// idem_entry, once set, stays (holdkeys.go): a later after-image of the hold (a
		// status change) carries no entry.
		suffix: "ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, status = excluded.status, quantity = excluded.quantity, " +
			"buckets = excluded.buckets, idempotency_key = excluded.idempotency_key, created_at_ms = excluded.created_at_ms, " +
			"expires_at_ms = excluded.expires_at_ms, updated_at_ms = excluded.updated_at_ms, extensions = excluded.extensions, " +
			"waitlist_entry_id = excluded.waitlist_entry_id, payment = excluded.payment, payment_open = excluded.payment_open, " +
			"idem_entry = holds.idem_entry OR excluded.idem_entry " +
			"WHERE holds.resource_id = excluded.resource_id",
		chunk: 62, // 16 columns: 992 parameters, under SQLite's classic limit of 999
	},
	// Like holds, an entry id of another resource is a skipped row.
	"waitlist": {
		name: "waitlist",
		cols: []string{"id", "resource_id", "user_id", "offer_hold_id", "buckets", "quantity", "seq", "created_at_ms"},
		suffix: "ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, offer_hold_id = excluded.offer_hold_id, buckets = excluded.buckets, " +
			"quantity = excluded.quantity, seq = excluded.seq, created_at_ms = excluded.created_at_ms WHERE waitlist.resource_id = excluded.resource_id",
		chunk: 100,
	},
	"idempotency_keys": {
		name: "idempotency_keys",
		cols: []string{"resource_id", "idem_key", "fingerprint", "hold_id", "created_at_ms"},
		// A key is kept for IdempotencyRetention; only an entry created that long after it
		// replaces it (the actor forgot the old one and the client reused the key).
		suffix: "ON CONFLICT (resource_id, idem_key) DO UPDATE SET fingerprint = excluded.fingerprint, hold_id = excluded.hold_id, " +
			"created_at_ms = excluded.created_at_ms WHERE idempotency_keys.created_at_ms <= excluded.created_at_ms - 86400000",
		chunk: 200,
	},
	outboxInsert: {
		name:  "outbox",
		cols:  []string{"occurred_at_ms", "resource_id", "version", "idx", "event_type", "subject", "data", "published_at_ms", "claimed_until_ms"},
		chunk: 200,
	},
}

const (
	createResource = `INSERT INTO resources (id, name, price_amount, price_currency, hold_ttl_ms, epoch, version, created_at_ms, updated_at_ms,
lease_until_ms, ` + ruleCols + `) VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`
	// A NULL lease (the batch's LeaseUntil is zero) leaves the stored one.
	updateResource = `UPDATE resources SET name = ?, price_amount = ?, price_currency = ?, hold_ttl_ms = ?, version = ?,
created_at_ms = ?, updated_at_ms = ?, lease_until_ms = COALESCE(?, lease_until_ms), max_extensions = ?, allowance_units = ?,
allowance_percent = ?, max_per_user = ?, timezone = ?, slot_every_ms = ?, waitlist_offer_ttl_ms = ?, tags = ?, location = ?,
archived_at_ms = ?, refund_policy = ? WHERE id = ? AND epoch = ? AND version = ?`
	deleteWaiting = `DELETE FROM waitlist WHERE resource_id = ? AND id = ?`
)

// ruleCols are the resource columns of the booking rules (migration 0003) and of browsing
// (0004) and the cancellation policy (0015), in ruleArgs order.
const ruleCols = `max_extensions, allowance_units, allowance_percent, max_per_user, timezone, slot_every_ms, waitlist_offer_ttl_ms,
tags, location, archived_at_ms, refund_policy`

func appendRuleArgs(dst []any, r booking.Resource) []any {
	return append(dst, int64(r.MaxExtensions), r.Allowance.Units, r.Allowance.Percent, r.MaxPerUser, r.Timezone,
		r.SlotEvery.Milliseconds(), r.WaitlistOfferTTL.Milliseconds(), persistence.TagsJSON(r.Tags), r.Location,
		persistence.TimeMS(r.ArchivedAt), persistence.RefundsJSON(r.Refunds))
}

// resourceArgs is the most arguments of createResource and updateResource: one slice of
// that size instead of three appended into each other.
const resourceArgs = 22

// errInvalidBatch marks a batch refused before or by the database for what it says, not for
// fencing or availability.
var errInvalidBatch = errors.New("invalid batch")

// encodedBatch is a Batch turned into statement arguments by the caller's goroutine, so that
// the writer never reads the caller's Batch (which the caller may reuse once Commit returns,
// even early on a ctx deadline) and so that encoding runs in parallel across callers.
type encodedBatch struct {
	resourceID string
	epoch      int64
	create     bool
	resource   []any // createResource or updateResource arguments, without the WHERE ones
	buckets    []any
	holds      []any
	idem       []any
	waiting    []any
	removed    []string
	events     []any // outbox rows (outbox.go)
}

// commitOp is a commit's op and its encoded batch in one allocation (op.commit points into
// it): one object per commit instead of two, and not a 208-byte encodedBatch, the size class
// of JetStream's subject index nodes, which outlive the requests (docs/PERFORMANCE.md, Round 8).
type commitOp struct {
	op
	batch encodedBatch
}

// newCommitOp validates b and encodes it into a commit op for ctx.
func newCommitOp(ctx context.Context, b *persistence.Batch, carry bool) (*commitOp, error) {
	c := &commitOp{}
	if err := encode(b, &c.batch, carry); err != nil {
		return nil, err
	}
	c.op = op{ctx: ctx, commit: &c.batch}
	return c, nil
}

// encode validates b and encodes it into e. With carry, an idempotency entry that is all its
// hold's is the hold row's idem_entry flag instead of a row (encodeIdem).
func encode(b *persistence.Batch, e *encodedBatch, carry bool) error {
	switch {
	case b == nil:
		return fmt.Errorf("%w: nil batch", errInvalidBatch)
	case b.ResourceID == "":
		return fmt.Errorf("%w: no resource id", errInvalidBatch)
	case b.Resource.ID != b.ResourceID:
		return fmt.Errorf("%w: resource after-image is of %q", errInvalidBatch, b.Resource.ID)
	case b.Epoch > math.MaxInt64 || b.Version > math.MaxInt64:
		return fmt.Errorf("%w: epoch or version out of range", errInvalidBatch)
	}
	r := b.Resource
	var amount, currency any
	if r.Price != nil {
		amount, currency = r.Price.Amount, r.Price.Currency
	}
	*e = encodedBatch{
		resourceID: b.ResourceID,
		epoch:      int64(b.Epoch),
		create:     b.Create,
	}
	if b.Create {
		e.resource = appendRuleArgs(append(make([]any, 0, resourceArgs), r.ID, r.Name, amount, currency, r.HoldTTL.Milliseconds(), int64(b.Version),
			r.CreatedAt.UnixMilli(), r.UpdatedAt.UnixMilli(), persistence.LeaseMS(b.LeaseUntil)), r)
	} else {
		var lease any // NULL: unchanged
		if !b.LeaseUntil.IsZero() {
			lease = persistence.LeaseMS(b.LeaseUntil)
		}
		e.resource = append(appendRuleArgs(append(make([]any, 0, resourceArgs), r.Name, amount, currency, r.HoldTTL.Milliseconds(), int64(b.Version),
			r.CreatedAt.UnixMilli(), r.UpdatedAt.UnixMilli(), lease), r), r.ID, int64(b.Epoch), int64(b.Version)-1)
	}
	// The stored capacity is what may be sold: the physical capacity plus the allowance (see
	// migrations/0003_rules.sql), so that step 1's CHECK guards the allowance too.
	e.buckets = make([]any, 0, 6*len(b.Buckets))
	for _, x := range b.Buckets {
		e.buckets = append(e.buckets, b.ResourceID, x.Key, x.Capacity+x.Allowance, x.Allowance, x.Held, x.Confirmed)
	}
	e.holds = make([]any, 0, holdWidth*len(b.Holds))
	for i := range b.Holds {
		h := &b.Holds[i]
		if h.ResourceID != b.ResourceID {
			return fmt.Errorf("%w: hold %q is of resource %q", errInvalidBatch, h.ID, h.ResourceID)
		}
		if !h.Status.Valid() { // selectHoldIdem names every valid status
			return fmt.Errorf("%w: hold %q has unknown status %q", errInvalidBatch, h.ID, h.Status)
		}
		js, err := keysJSON(h.Buckets)
		if err != nil {
			return fmt.Errorf("%w: hold %q buckets: %w", errInvalidBatch, h.ID, err)
		}
		e.holds = append(e.holds, h.ID, h.ResourceID, h.UserID, string(h.Status), h.Quantity, js,
			h.IdempotencyKey, h.CreatedAt.UnixMilli(), h.ExpiresAt.UnixMilli(), h.UpdatedAt.UnixMilli(), int64(h.Extensions), h.WaitlistEntryID,
			h.Payment, h.PaymentOpen, persistence.ContactArg(h.Contact), false)
	}
	e.waiting = make([]any, 0, 8*len(b.Waitlist))
	for i := range b.Waitlist {
		w := &b.Waitlist[i]
		if w.ResourceID != b.ResourceID {
			return fmt.Errorf("%w: waitlist entry %q is of resource %q", errInvalidBatch, w.ID, w.ResourceID)
		}
		if w.Seq > math.MaxInt64 {
			return fmt.Errorf("%w: waitlist entry %q: seq out of range", errInvalidBatch, w.ID)
		}
		js, err := keysJSON(w.Buckets)
		if err != nil {
			return fmt.Errorf("%w: waitlist entry %q buckets: %w", errInvalidBatch, w.ID, err)
		}
		e.waiting = append(e.waiting, w.ID, w.ResourceID, w.UserID, w.OfferHoldID, js, w.Quantity, int64(w.Seq), w.CreatedAt.UnixMilli())
	}
	e.removed = append([]string(nil), b.WaitlistRemoved...)
	events, err := encodeOutbox(b)
	if err != nil {
		return err
	}
	e.events = events
	e.idem = encodeIdem(b, e.holds, carry, e.idem)
	return nil
}

// holdWidth is the arguments of a hold row; the last is its idem_entry flag.
const holdWidth = 16

// encodeIdem appends b's idempotency entries as idempotency_keys rows to dst and returns it,
// but for an entry that b's last image of its hold stores all of (persistence.CarriesEntry), when carry:
// that one sets the hold's idem_entry flag in holds (b's hold rows, encoded) instead
// (holdkeys.go). A key repeated within b is written once, the first (a key is insert-once).
func encodeIdem(b *persistence.Batch, holds []any, carry bool, dst []any) []any {
	if len(b.Idempotency) == 0 {
		return dst
	}
	if dst == nil {
		dst = make([]any, 0, 5*len(b.Idempotency))
	}
	var last map[string]int // hold id -> its last place in b.Holds
	if carry && len(b.Holds) > 0 {
		last = make(map[string]int, len(b.Holds))
		for i := range b.Holds {
			last[b.Holds[i].ID] = i
		}
	}
	var seen map[string]struct{}
	if len(b.Idempotency) > 1 {
		seen = make(map[string]struct{}, len(b.Idempotency))
	}
	for i := range b.Idempotency {
		x := &b.Idempotency[i]
		if seen != nil {
			if _, ok := seen[x.Key]; ok {
				continue
			}
			seen[x.Key] = struct{}{}
		}
		if j, ok := last[x.HoldID]; ok && persistence.CarriesEntry(&b.Holds[j], x) {
			holds[(j+1)*holdWidth-1] = true
			continue
		}
		dst = append(dst, b.ResourceID, x.Key, x.Fingerprint, x.HoldID, x.CreatedAt.UnixMilli())
	}
	return dst
}

// Commit writes b in one transaction (shared with concurrent calls, see writer.go): the
// conditional resource row first — an INSERT that does nothing when the resource exists for a
// creation, an UPDATE ... WHERE epoch = b.Epoch AND version = b.Version - 1 otherwise (a batch
// out of order, repeated or behind one that failed is refused), which also stores a non-zero
// b.LeaseUntil; no row means persistence.ErrFenced — then the bucket, hold and idempotency
// upserts. A CHECK violation, a hold or resource of another resource, or a hold id owned by
// another resource fails the batch alone with an error that is neither ErrFenced nor
// ErrUnavailable. Nothing of a failed batch is written.
func (s *Store) Commit(ctx context.Context, b *persistence.Batch) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	c, err := newCommitOp(ctx, b, !s.cfg.IdempotencyRows)
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	r := s.submit(&c.op)
	if r.err != nil {
		return fmt.Errorf("commit %s: %w", c.batch.resourceID, r.err)
	}
	return nil
}

// Enqueue is Commit in two halves, for an actor that pipelines its commits: it places b in
// the writer's queue and returns at once; wait returns what Commit would have. The writer
// takes batches in the order they were placed, so the batches of one resource enqueued in
// order apply in order (several of them may share one transaction and its fsync), and a
// batch behind one that failed or was abandoned is refused by its version (ErrFenced).
// ctx bounds both halves and must not end before wait returned; wait is called once.
func (s *Store) Enqueue(ctx context.Context, b *persistence.Batch) (wait func() error) {
	c, err := newCommitOp(ctx, b, !s.cfg.IdempotencyRows)
	if err != nil {
		return func() error { return fmt.Errorf("commit: %w", err) }
	}
	if err := s.place(&c.op); err != nil {
		return func() error { return fmt.Errorf("commit %s: %w", c.batch.resourceID, err) }
	}
	// The closure holds s and c alone (24 bytes, not the 32 of the size class of JetStream's
	// subject index leaves: docs/PERFORMANCE.md, Round 8).
	return func() error {
		if r := s.await(&c.op); r.err != nil {
			return fmt.Errorf("commit %s: %w", c.batch.resourceID, r.err)
		}
		return nil
	}
}

// applyCommit runs one encoded batch inside the writer's current savepoint.
func (s *Store) applyCommit(ctx context.Context, e *encodedBatch) error {
	q, args := updateResource, e.resource
	if e.create {
		q = createResource
	}
	res, err := s.exec(ctx, q, args...)
	if err != nil {
		return mapErr("resource", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return mapErr("resource", err)
	} else if n == 0 {
		if e.create {
			return fmt.Errorf("create: %w", persistence.ErrFenced)
		}
		return fmt.Errorf("epoch %d, version %d: %w", e.epoch, e.resource[len(e.resource)-1].(int64)+1, persistence.ErrFenced)
	}
	if _, err := s.execRows(ctx, "buckets", e.buckets); err != nil {
		if isConstraint(err) {
			return fmt.Errorf("%w: buckets: %w", errInvalidBatch, err)
		}
		return mapErr("buckets", err)
	}
	n, err := s.execRows(ctx, "holds", e.holds)
	if err != nil {
		return mapErr("holds", err)
	}
	if want := int64(len(e.holds) / holdWidth); n != want {
		return fmt.Errorf("%w: %d of %d hold ids belong to another resource", errInvalidBatch, want-n, want)
	}
	if _, err := s.execRows(ctx, "idempotency_keys", e.idem); err != nil {
		return mapErr("idempotency keys", err)
	}
	n, err = s.execRows(ctx, "waitlist", e.waiting)
	if err != nil {
		return mapErr("waitlist", err)
	}
	if want := int64(len(e.waiting) / len(tables["waitlist"].cols)); n != want {
		return fmt.Errorf("%w: %d of %d waitlist entry ids belong to another resource", errInvalidBatch, want-n, want)
	}
	for _, id := range e.removed {
		if _, err := s.exec(ctx, deleteWaiting, e.resourceID, id); err != nil {
			return mapErr("waitlist", err)
		}
	}
	return s.insertOutbox(ctx, e.events)
}
