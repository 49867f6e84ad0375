package memstore

import (
	"context"
	"fmt"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

// Commit writes b atomically if b.Epoch is the resource's current epoch and b.Version follows
// its version (for a creation: if the resource does not exist), a non-zero b.LeaseUntil included. See persistence.Store.
//
// Checks, in order, all before anything is written: ctx, the commit hook, the store being
// open, fencing (persistence.ErrFenced), then the batch itself (a validation error, neither
// ErrFenced nor ErrUnavailable): every row names b.ResourceID, no hold or waitlist entry id
// belongs to another resource, and every bucket after-image satisfies the schema CHECK
// 0 <= held, 0 <= confirmed, 0 <= capacity, 0 <= allowance, held + confirmed <= capacity +
// allowance. Waitlist entries are upserted, then WaitlistRemoved deleted.
func (s *Store) Commit(ctx context.Context, b *persistence.Batch) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if b == nil {
		return fmt.Errorf("commit: nil batch")
	}
	s.mu.Lock()
	hook := s.commitHook
	s.mu.Unlock()
	if hook != nil {
		if err := hook(ctx, b); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
	}
	if err := validate(b); err != nil {
		return fmt.Errorf("commit %s: %w", b.ResourceID, err)
	}
	recs, err := persistence.EncodeEvents(b)
	if err != nil {
		return fmt.Errorf("commit %s: %w", b.ResourceID, err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkOpen("commit"); err != nil {
		return err
	}
	r, ok := s.resources[b.ResourceID]
	switch {
	case b.Create && ok:
		return fmt.Errorf("commit %s: create: %w", b.ResourceID, persistence.ErrFenced)
	case !b.Create && (!ok || r.epoch != b.Epoch):
		return fmt.Errorf("commit %s: epoch %d: %w", b.ResourceID, b.Epoch, persistence.ErrFenced)
	case !b.Create && r.version+1 != b.Version:
		return fmt.Errorf("commit %s: version %d after %d: %w", b.ResourceID, b.Version, r.version, persistence.ErrFenced)
	}
	for i := range b.Holds {
		if owner, ok := s.owners[b.Holds[i].ID]; ok && owner != b.ResourceID {
			return fmt.Errorf("commit %s: hold %q belongs to resource %q", b.ResourceID, b.Holds[i].ID, owner)
		}
	}
	for i := range b.Waitlist {
		if owner, ok := s.waitOwners[b.Waitlist[i].ID]; ok && owner != b.ResourceID {
			return fmt.Errorf("commit %s: waitlist entry %q belongs to resource %q", b.ResourceID, b.Waitlist[i].ID, owner)
		}
	}
	if err := s.outbox.add(recs); err != nil {
		return fmt.Errorf("commit %s: %w", b.ResourceID, err)
	}

	if b.Create {
		r = &resource{
			epoch:   1,
			buckets: make(map[string]booking.Bucket, len(b.Buckets)),
			holds:   make(map[string]*booking.Hold, len(b.Holds)),
			idem:    make(map[string]booking.IdempotencyEntry, len(b.Idempotency)),
			waiting: make(map[string]*booking.WaitlistEntry, len(b.Waitlist)),
		}
		s.resources[b.ResourceID] = r
	}
	r.version = b.Version
	r.res = copyResource(b.Resource)
	if !b.LeaseUntil.IsZero() {
		r.lease = leaseMS(b.LeaseUntil)
	}
	for _, x := range b.Buckets {
		r.buckets[x.Key] = x
	}
	for i := range b.Holds {
		h := copyHold(&b.Holds[i])
		keepContact(r.holds[h.ID], h)
		r.holds[h.ID] = h
		s.owners[h.ID] = b.ResourceID
	}
	for _, e := range b.Idempotency {
		// Kept for the retention; only an entry that much younger replaces it.
		if old, dup := r.idem[e.Key]; !dup || !old.CreatedAt.After(e.CreatedAt.Add(-booking.IdempotencyRetention)) {
			r.idem[e.Key] = copyIdem(e)
		}
	}
	for i := range b.Waitlist {
		e := copyEntry(&b.Waitlist[i])
		r.waiting[e.ID] = e
		s.waitOwners[e.ID] = b.ResourceID
	}
	for _, id := range b.WaitlistRemoved {
		if _, ok := r.waiting[id]; ok { // another resource's entry of that id is not ours to delete
			delete(r.waiting, id)
			delete(s.waitOwners, id)
		}
	}
	return nil
}

// validate checks what a batch says about itself: the checks a database's constraints and
// the SQL stores' statements make.
func validate(b *persistence.Batch) error {
	if b.ResourceID == "" {
		return fmt.Errorf("batch has no resource id")
	}
	if b.Resource.ID != b.ResourceID {
		return fmt.Errorf("resource after-image is of %q", b.Resource.ID)
	}
	for i := range b.Holds {
		if h := &b.Holds[i]; h.ResourceID != b.ResourceID {
			return fmt.Errorf("hold %q is of resource %q", h.ID, h.ResourceID)
		}
	}
	for i := range b.Waitlist {
		if e := &b.Waitlist[i]; e.ResourceID != b.ResourceID {
			return fmt.Errorf("waitlist entry %q is of resource %q", e.ID, e.ResourceID)
		}
	}
	for _, x := range b.Buckets {
		if !bucketOK(x) {
			return fmt.Errorf("bucket %q: capacity %d, allowance %d, held %d, confirmed %d violates the bucket CHECK",
				x.Key, x.Capacity, x.Allowance, x.Held, x.Confirmed)
		}
	}
	return nil
}

// bucketOK is the buckets table's CHECKs (migrations 0001 and 0003, where the stored capacity
// is Capacity + Allowance): nothing negative, and held + confirmed <= capacity + allowance.
func bucketOK(b booking.Bucket) bool {
	return b.Held >= 0 && b.Confirmed >= 0 && b.Capacity >= 0 && b.Allowance >= 0 &&
		b.Held+b.Confirmed <= b.Capacity+b.Allowance
}
