package notify

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Sealer seals contacts at rest: the node's data key ring (*pii.Keyring from
// --data-key-file). Open must be given the associated data Seal was. Safe for concurrent use.
type Sealer interface {
	Seal(plaintext, associatedData []byte) ([]byte, error)
	Open(ciphertext, associatedData []byte) ([]byte, error)
}

// maxRemembered bounds the contacts a ContactBook remembers having stored; past it the
// memory is cleared (the next request of each user writes once more).
const maxRemembered = 100_000

// rememberFor is how long a ContactBook trusts that the row still holds what it wrote: a
// user's token may change the row through another node meanwhile, so after this the same
// contact is written again.
const rememberFor = 10 * time.Minute

type written struct {
	digest [32]byte
	at     time.Time
}

// ContactBook is the Contacts of a node: the e-mail address and phone number of each user,
// taken from the claims of the user's token (Remember) and kept in the notify_contacts table
// (migration 0012), sealed when the book has a Sealer. Safe for concurrent use.
type ContactBook struct {
	s      *SQLStore
	sealer Sealer
	now    func() time.Time

	mu sync.Mutex
	// stored maps a user to the digest of the contact this book last wrote for them, so
	// that a user's every request does not write.
	stored map[string]written
}

var _ Contacts = (*ContactBook)(nil)

// NewContactBook returns the book on s's database. sealer nil keeps contacts unsealed;
// now is the clock of updated_at (time.Now when nil).
func NewContactBook(s *SQLStore, sealer Sealer, now func() time.Time) *ContactBook {
	if now == nil {
		now = time.Now
	}
	return &ContactBook{s: s, sealer: sealer, now: now, stored: map[string]written{}}
}

func contactAD(userID string) []byte { return []byte("allot/notify-contact/v1\x00" + userID) }

func contactDigest(userID string, c Contact) [32]byte {
	return sha256.Sum256([]byte(userID + "\x00" + c.Email + "\x00" + c.Phone))
}

// Remember stores c as the user's contact unless this book stored that very contact in the
// last rememberFor.
// A zero c is ignored: a token without contact claims does not erase what another carried.
func (b *ContactBook) Remember(ctx context.Context, userID string, c Contact) error {
	if userID == "" || c == (Contact{}) {
		return nil
	}
	dg, now := contactDigest(userID, c), b.now()
	b.mu.Lock()
	w, ok := b.stored[userID]
	b.mu.Unlock()
	if ok && w.digest == dg && now.Sub(w.at) < rememberFor {
		return nil
	}
	pt, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("notify contact: %w", err)
	}
	defer clear(pt)
	sealed, body := 0, ""
	if b.sealer != nil {
		ct, err := b.sealer.Seal(pt, contactAD(userID))
		if err != nil {
			return fmt.Errorf("notify contact: %w", err)
		}
		sealed, body = 1, base64.StdEncoding.EncodeToString(ct)
	} else {
		body = string(pt)
	}
	if _, err := b.s.exec(ctx, b.s.q(`INSERT INTO notify_contacts (user_id, sealed, body, updated_at_ms) VALUES (?, ?, ?, ?)
 ON CONFLICT (user_id) DO UPDATE SET sealed = excluded.sealed, body = excluded.body, updated_at_ms = excluded.updated_at_ms`),
		userID, sealed, body, toMS(now)); err != nil {
		return fmt.Errorf("notify contact: %w", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.stored) >= maxRemembered {
		clear(b.stored)
	}
	b.stored[userID] = written{digest: dg, at: now}
	return nil
}

// Contact returns the user's contact; the zero Contact (the user cannot be reached) when
// none was ever stored. A sealed contact without the book's Sealer, or one that does not
// open, is an error: retried, and visible as the notification's last error.
func (b *ContactBook) Contact(ctx context.Context, userID string) (Contact, error) {
	var sealed int
	var body string
	err := b.s.db.QueryRowContext(ctx, b.s.q(`SELECT sealed, body FROM notify_contacts WHERE user_id = ?`), userID).Scan(&sealed, &body)
	if errors.Is(err, sql.ErrNoRows) {
		return Contact{}, nil
	}
	if err != nil {
		return Contact{}, fmt.Errorf("notify contact: %w", err)
	}
	pt := []byte(body)
	if sealed != 0 {
		if b.sealer == nil {
			return Contact{}, errors.New("notify contact: sealed, and the node has no --data-key-file")
		}
		ct, err := base64.StdEncoding.DecodeString(body)
		if err != nil {
			return Contact{}, fmt.Errorf("notify contact: %w", err)
		}
		if pt, err = b.sealer.Open(ct, contactAD(userID)); err != nil {
			return Contact{}, fmt.Errorf("notify contact: %w", err)
		}
	}
	defer clear(pt)
	var c Contact
	if err := json.Unmarshal(pt, &c); err != nil {
		return Contact{}, errors.New("notify contact: does not decode")
	}
	return c, nil
}
