package api

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/wire"
	"github.com/allot/allot/persistence/pii"
)

// A hold's contact at the edge (docs/SECURITY.md, Personal data): a hold request's contact is
// checked here, sealed with the node's data key ring before the command leaves the edge, and
// opened again only here, for an answer, whole or masked by who asks. Nothing else (the actor,
// the model, the stores, the events, the logs) ever sees it in clear. Refusals never quote the
// value they refuse: problem details reach the request log.

// ContactSealer seals and opens a hold's contact, bound to the hold's resource and user.
// *pii.Keyring (the node's --data-key-file ring) implements it.
//
// Thread-safety: both methods are called concurrently by every request in flight.
//
// Errors: OpenContact fails (pii.ErrUnknownKey, pii.ErrDecrypt, pii.ErrMalformed) for a
// ciphertext that is not a contact of this resource and user under a key of the ring; no
// error carries plaintext.
type ContactSealer interface {
	SealContact(c pii.Contact, resourceID, userID string) ([]byte, error)
	OpenContact(sealed []byte, resourceID, userID string) (pii.Contact, error)
}

// Bounds of a contact's fields.
const (
	maxContactName  = 200 // characters
	maxContactEmail = 254 // bytes (RFC 5321 path limit)
	maxContactPhone = 32  // bytes, separators included
	minPhoneDigits  = 6
	maxPhoneDigits  = 15 // E.164
)

// contactBody is a hold request's "contact" member as decoded.
type contactBody struct {
	Name  *string `json:"name"`
	Email *string `json:"email"`
	Phone *string `json:"phone"`
}

// contactMember reports whether name is a member of a "contact" object.
func contactMember(name string) bool { return oneOf(name, "name", "email", "phone") }

// decodeContact checks a request's contact; nil gives the zero Contact (none).
func decodeContact(b *contactBody) (pii.Contact, error) {
	if b == nil {
		return pii.Contact{}, nil
	}
	var c pii.Contact
	if b.Name != nil {
		c.Name = strings.TrimSpace(*b.Name)
		if err := checkContactName(c.Name); err != nil {
			return pii.Contact{}, err
		}
	}
	if b.Email != nil {
		c.Email = strings.TrimSpace(*b.Email)
		if err := checkContactEmail(c.Email); err != nil {
			return pii.Contact{}, err
		}
	}
	if b.Phone != nil {
		c.Phone = strings.TrimSpace(*b.Phone)
		if err := checkContactPhone(c.Phone); err != nil {
			return pii.Contact{}, err
		}
	}
	if c.IsZero() {
		return pii.Contact{}, invalid("contact needs at least one of name, email and phone")
	}
	return c, nil
}

func checkContactName(s string) error {
	if s == "" || utf8.RuneCountInString(s) > maxContactName {
		return invalid("contact.name must have 1 to %d characters", maxContactName)
	}
	for _, r := range s {
		// Printable only: no controls, no bidi overrides or other format characters that
		// would make a name display as something else (U+202E), no U+FFFD from bad input.
		if !unicode.IsPrint(r) && r != ' ' || unicode.Is(unicode.Cf, r) || r == utf8.RuneError {
			return invalid("contact.name has a character that is not printable")
		}
	}
	return nil
}

func checkContactEmail(s string) error {
	if s == "" || len(s) > maxContactEmail {
		return invalid("contact.email must have 3 to %d characters", maxContactEmail)
	}
	a, err := mail.ParseAddress(s)
	local, domain, ok := strings.Cut(s, "@")
	if err != nil || a.Name != "" || a.Address != s || !ok || local == "" || len(local) > 64 ||
		!strings.Contains(domain, ".") || strings.ContainsAny(s, " \t\r\n<>()[],;:\\\"") {
		return invalid("contact.email is not an e-mail address (local@domain.example)")
	}
	return nil
}

func checkContactPhone(s string) error {
	if s == "" || len(s) > maxContactPhone {
		return invalid("contact.phone must have 1 to %d characters", maxContactPhone)
	}
	digits := 0
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+' && i == 0:
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return invalid("contact.phone may hold digits, a leading + and the separators space - . ( )")
		}
	}
	if digits < minPhoneDigits || digits > maxPhoneDigits {
		return invalid("contact.phone must have %d to %d digits", minPhoneDigits, maxPhoneDigits)
	}
	return nil
}

// holdContact is a hold request's contact as decoded: the fields it names, and whether the
// caller asked to fill the others from their token's claims (contact_from_token).
type holdContact struct {
	fields    pii.Contact
	fromToken bool
}

// resolve returns the contact to store for a hold of userID placed by p: the body's fields,
// with e-mail and phone the body leaves out taken from p's token claims when asked. Only the
// caller's own claims, for their own hold: an operator booking for a guest names the guest's.
func (h holdContact) resolve(p *auth.Principal, userID string) (pii.Contact, error) {
	c := h.fields
	if !h.fromToken {
		return c, nil
	}
	if p == nil || p.Subject != userID {
		return pii.Contact{}, invalid("contact_from_token takes the caller's own e-mail and phone claims: only for a hold of the token's user")
	}
	if c.Email == "" && p.Email != "" {
		if checkContactEmail(p.Email) != nil {
			return pii.Contact{}, invalid("the token's email claim is not an e-mail address the contact accepts; send contact.email")
		}
		c.Email = p.Email
	}
	if c.Phone == "" && p.Phone != "" {
		if checkContactPhone(p.Phone) != nil {
			return pii.Contact{}, invalid("the token's phone_number claim is not a phone number the contact accepts; send contact.phone")
		}
		c.Phone = p.Phone
	}
	if c.IsZero() {
		return pii.Contact{}, invalid("contact_from_token: the token has no email or phone_number claim")
	}
	return c, nil
}

// sealContact seals c for a hold of userID on resourceID; none gives nil. A node without a
// data key ring refuses a contact rather than drop it.
func (s *Server) sealContact(c pii.Contact, resourceID, userID string) ([]byte, error) {
	if c.IsZero() {
		return nil, nil
	}
	if s.cfg.Contacts == nil {
		return nil, invalid("this node does not store contacts (it runs without a data key, --data-key-file); place the hold without one")
	}
	sealed, err := s.cfg.Contacts.SealContact(c, resourceID, userID)
	if err != nil {
		return nil, booking.Errorf(booking.CodeInternal, "seal contact: %v", err)
	}
	if len(sealed) > booking.MaxSealedContactLen {
		return nil, booking.Errorf(booking.CodeInternal, "sealed contact of %d bytes exceeds %d", len(sealed), booking.MaxSealedContactLen)
	}
	return sealed, nil
}

// mayReadContact reports whether p sees the contacts of userID's holds whole: the user
// themself, or a caller whose token proves a second factor and has the admin role or the
// pii:read scope.
func mayReadContact(p *auth.Principal, userID string) bool {
	if p == nil {
		return false
	}
	if p.Subject == userID {
		return true
	}
	return p.MFA && (p.HasRole(auth.RoleAdmin) || p.HasScope(auth.ScopePIIRead))
}

// withContact opens a hold's sealed contact into h for p, whole or masked. A contact that does
// not open (a key removed from the ring too early, a node without the ring) is left out of
// the answer and logged without its content: the rest of the hold is still right.
func (s *Server) withContact(p *auth.Principal, h wire.Hold, sealed []byte) wire.Hold {
	if len(sealed) == 0 {
		return h
	}
	if s.cfg.Contacts == nil {
		s.log.Warn("a hold carries a contact and this node has no data key ring to open it", "hold", h.ID)
		return h
	}
	c, err := s.cfg.Contacts.OpenContact(sealed, h.ResourceID, h.UserID)
	if err != nil {
		s.log.Warn("a hold's contact does not open", "hold", h.ID, "err", err)
		return h
	}
	whole := mayReadContact(p, h.UserID)
	c = c.For(whole)
	h.Contact = &wire.Contact{Name: c.Name, Email: c.Email, Phone: c.Phone}
	h.ContactMasked = !whole
	return h
}
