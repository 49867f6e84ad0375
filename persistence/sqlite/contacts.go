package sqlite

import (
	"bytes"
	"context"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

var _ persistence.ContactStore = (*Store)(nil)

const (
	selectContacts = `SELECT id, resource_id, user_id, contact FROM holds WHERE contact IS NOT NULL AND id > ? ORDER BY id LIMIT ?`
	selectContact  = `SELECT contact FROM holds WHERE id = ?`
	updateContact  = `UPDATE holds SET contact = ? WHERE id = ?`
)

// Contacts reads a page of stored contacts from the read pool (see persistence.ContactStore).
func (s *Store) Contacts(ctx context.Context, afterID string, limit int) ([]persistence.StoredContact, error) {
	if err := persistence.CheckContactsPage(limit); err != nil {
		return nil, err
	}
	if err := s.readable(ctx, "contacts"); err != nil {
		return nil, err
	}
	rows, err := s.rdb.QueryContext(ctx, selectContacts, afterID, limit)
	if err != nil {
		return nil, s.readErr("contacts", err)
	}
	defer rows.Close()
	var out []persistence.StoredContact
	for rows.Next() {
		var c persistence.StoredContact
		var sealed []byte
		if err := rows.Scan(&c.HoldID, &c.ResourceID, &c.UserID, &sealed); err != nil {
			return nil, s.readErr("contacts", err)
		}
		c.Contact = sealed
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, s.readErr("contacts", err)
	}
	return out, nil
}

// ReplaceContact compares and sets one hold's contact through the writer, in its own
// savepoint (see persistence.ContactStore).
func (s *Store) ReplaceContact(ctx context.Context, holdID string, prev, next booking.SealedContact) (bool, error) {
	var done bool
	err := s.write(ctx, "replace contact", func(ctx context.Context) error {
		done = false // a retried group runs fn again
		var cur []byte
		rows, err := s.query(ctx, selectContact, holdID)
		if err != nil {
			return mapErr("read contact", err)
		}
		found := rows.Next()
		if found {
			err = rows.Scan(&cur)
		}
		if cerr := closeRows(rows); err == nil {
			err = cerr
		}
		if err != nil {
			return mapErr("read contact", err)
		}
		if !found || len(cur) == 0 || !bytes.Equal(cur, prev) {
			return nil
		}
		if _, err := s.exec(ctx, updateContact, persistence.ContactArg(next), holdID); err != nil {
			return mapErr("replace contact", err)
		}
		done = true
		return nil
	})
	return done, err
}
