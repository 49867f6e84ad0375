package persistence

import (
	"context"

	"github.com/allot/allot/actors/booking"
)

// Guests' contacts at rest (docs/SECURITY.md, Personal data). A hold's contact is stored as the
// edge sealed it (booking.SealedContact, persistence/pii): the stores never see a key or a
// plaintext. Every store keeps these rules, which persistence/storetest checks:
//   - A hold's contact is written when the hold is first stored. A later after-image of the
//     hold (confirm, cancel, expiry, renewal) leaves the stored contact as it is, whatever the
//     batch carries: the actor's copy may be one `allot rekey` re-sealed since.
//   - An empty contact is stored as none (NULL) and read back as nil.

// StoredContact is one hold's stored contact, with what its sealing is bound to.
type StoredContact struct {
	HoldID     string
	ResourceID string
	UserID     string
	Contact    booking.SealedContact
}

// ContactStore is what `allot rekey` needs to re-seal stored contacts under the newest key
// while nodes keep running. Every Store of this module implements it.
//
// Thread-safety: safe for concurrent use with each other and with every Store method.
//
// Errors: as Store's (ErrUnavailable, ctx errors, wrapped with a short prefix).
type ContactStore interface {
	// Contacts returns up to limit (1..1000) holds that carry a contact, with ids greater than
	// afterID, in id order: a scan resumes from the last id it saw.
	Contacts(ctx context.Context, afterID string, limit int) ([]StoredContact, error)
	// ReplaceContact stores next as hold holdID's contact if its stored contact is still prev,
	// and reports whether it did. A false answer (the hold is gone, or its contact changed)
	// writes nothing.
	ReplaceContact(ctx context.Context, holdID string, prev, next booking.SealedContact) (bool, error)
}

// MaxContactsPage bounds ContactStore.Contacts' limit.
const MaxContactsPage = 1000

// ContactArg is a contact as an SQL argument: nil (NULL) for none, else its bytes.
func ContactArg(c booking.SealedContact) any {
	if len(c) == 0 {
		return nil
	}
	return []byte(c)
}

// CheckContactsPage refuses a Contacts limit outside 1..MaxContactsPage.
func CheckContactsPage(limit int) error {
	if limit < 1 || limit > MaxContactsPage {
		return booking.Errorf(booking.CodeInvalid, "contacts page limit must be between 1 and %d", MaxContactsPage)
	}
	return nil
}
