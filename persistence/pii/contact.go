package pii

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
)

// Contact is a guest's contact on a hold: personal data. It is sealed before it is stored,
// and printing or logging it shows nothing of it.
type Contact struct {
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	Phone string `json:"phone,omitempty"`
}

// IsZero reports whether c holds nothing.
func (c Contact) IsZero() bool { return c == Contact{} }

// String redacts: a contact must not reach a log through %v.
func (c Contact) String() string { return "pii.Contact{redacted}" }

// GoString redacts too (%#v).
func (c Contact) GoString() string { return c.String() }

// LogValue redacts: a contact must not reach a log through slog.
func (c Contact) LogValue() slog.Value { return slog.StringValue("redacted") }

// Masked returns c with every field masked (MaskName, MaskEmail, MaskPhone).
func (c Contact) Masked() Contact {
	return Contact{Name: MaskName(c.Name), Email: MaskEmail(c.Email), Phone: MaskPhone(c.Phone)}
}

// For returns c as a caller may see it: whole when mayRead (an operator whose token has the
// pii:read scope, or the guest themself), masked otherwise.
func (c Contact) For(mayRead bool) Contact {
	if mayRead {
		return c
	}
	return c.Masked()
}

// ContactAD is the associated data that binds a sealed contact to the resource and the user of
// its hold: a ciphertext copied onto another user's hold, or onto a hold of another resource,
// does not open. It names the user rather than the hold because the edge seals the contact
// before the resource's actor chooses the hold's id; a hold's user never changes, and a copy
// onto another hold of the same user and resource tells nobody anything new.
func ContactAD(resourceID, userID string) []byte {
	const label = "allot/contact/v1"
	b := make([]byte, 0, len(label)+8+len(resourceID)+len(userID))
	b = append(b, label...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(resourceID)))
	b = append(b, resourceID...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(userID)))
	return append(b, userID...)
}

// SealContact seals c for a hold of user userID on resource resourceID.
func (r *Keyring) SealContact(c Contact, resourceID, userID string) ([]byte, error) {
	pt, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("pii: contact: %w", err)
	}
	defer clear(pt)
	return r.Seal(pt, ContactAD(resourceID, userID))
}

// OpenContact opens a contact sealed by SealContact for the same resource and user.
func (r *Keyring) OpenContact(sealed []byte, resourceID, userID string) (Contact, error) {
	pt, err := r.Open(sealed, ContactAD(resourceID, userID))
	if err != nil {
		return Contact{}, err
	}
	defer clear(pt)
	var c Contact
	if err := json.Unmarshal(pt, &c); err != nil {
		return Contact{}, fmt.Errorf("%w: contact does not decode", ErrMalformed)
	}
	return c, nil
}
