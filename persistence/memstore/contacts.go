package memstore

import (
	"bytes"
	"context"
	"fmt"
	"sort"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

var _ persistence.ContactStore = (*Store)(nil)

// copyContact deep-copies a contact; an empty one is stored as none (NULL in SQL).
func copyContact(c booking.SealedContact) booking.SealedContact {
	if len(c) == 0 {
		return nil
	}
	return bytes.Clone(c)
}

// keepContact gives an after-image the contact its hold was first stored with, as the SQL
// stores' upserts do (persistence/contacts.go). old is nil for a new hold.
func keepContact(old, next *booking.Hold) {
	if old != nil {
		next.Contact = old.Contact
	}
}

// Contacts returns a page of stored contacts (see persistence.ContactStore).
func (s *Store) Contacts(ctx context.Context, afterID string, limit int) ([]persistence.StoredContact, error) {
	if err := persistence.CheckContactsPage(limit); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx, "contacts"); err != nil {
		return nil, err
	}
	var out []persistence.StoredContact
	for _, r := range s.resources {
		for _, h := range r.holds {
			if len(h.Contact) > 0 && h.ID > afterID {
				out = append(out, persistence.StoredContact{HoldID: h.ID, ResourceID: h.ResourceID, UserID: h.UserID, Contact: bytes.Clone(h.Contact)})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].HoldID < out[j].HoldID })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// ReplaceContact compares and sets one hold's contact (see persistence.ContactStore).
func (s *Store) ReplaceContact(ctx context.Context, holdID string, prev, next booking.SealedContact) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx, "replace contact"); err != nil {
		return false, err
	}
	r, ok := s.resources[s.owners[holdID]]
	if !ok {
		return false, nil
	}
	h := r.holds[holdID]
	if h == nil || len(h.Contact) == 0 || !bytes.Equal(h.Contact, prev) {
		return false, nil
	}
	h.Contact = copyContact(next)
	return true, nil
}

// usable refuses calls on a closed store or with an ended ctx. The caller holds s.mu.
func (s *Store) usable(ctx context.Context, op string) error {
	if err := s.checkOpen(op); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}
