package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

var _ persistence.ContactStore = (*Store)(nil)

const (
	sqlContacts = `SELECT id, resource_id, user_id, contact FROM holds WHERE contact IS NOT NULL AND id > $1 ORDER BY id LIMIT $2`
	// The compare-and-set is one statement: no transaction, no lock held across a round trip.
	sqlReplaceContact = `UPDATE holds SET contact = $2 WHERE id = $1 AND contact = $3`
)

// Contacts returns a page of stored contacts (see persistence.ContactStore).
func (s *Store) Contacts(ctx context.Context, afterID string, limit int) ([]persistence.StoredContact, error) {
	if err := persistence.CheckContactsPage(limit); err != nil {
		return nil, err
	}
	if err := s.usable(ctx, "contacts"); err != nil {
		return nil, err
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	var out []persistence.StoredContact
	err := s.retry(ctx, func(ctx context.Context) error {
		rows, err := s.pool.Query(ctx, sqlContacts, afterID, limit)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (persistence.StoredContact, error) {
			var c persistence.StoredContact
			var sealed []byte
			err := row.Scan(&c.HoldID, &c.ResourceID, &c.UserID, &sealed)
			c.Contact = sealed
			return c, err
		})
		return err
	})
	if err != nil {
		return nil, wrap("contacts", err)
	}
	return out, nil
}

// ReplaceContact compares and sets one hold's contact (see persistence.ContactStore).
func (s *Store) ReplaceContact(ctx context.Context, holdID string, prev, next booking.SealedContact) (bool, error) {
	if err := s.usable(ctx, "replace contact"); err != nil {
		return false, err
	}
	if len(prev) == 0 {
		return false, nil // no stored contact equals none
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	var n int64
	err := s.retry(ctx, func(ctx context.Context) error {
		tag, err := s.pool.Exec(ctx, sqlReplaceContact, holdID, persistence.ContactArg(next), []byte(prev))
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return false, wrap("replace contact", err)
	}
	return n == 1, nil
}
