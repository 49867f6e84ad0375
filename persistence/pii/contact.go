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

// ContactAD is the associated data that binds a sealed contact to its hold: a ciphertext
// copied onto another hold, or another resource's hold of the same id, does not open.
func ContactAD(resourceID, holdID string) []byte {
	const label = "allot/contact/v1"
	b := make([]byte, 0, len(label)+8+len(resourceID)+len(holdID))
	b = append(b, label...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(resourceID)))
	b = append(b, resourceID...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(holdID)))
	return append(b, holdID...)
}

// SealContact seals c for the hold holdID of resource resourceID.
func (r *Keyring) SealContact(c Contact, resourceID, holdID string) ([]byte, error) {
	pt, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("pii: contact: %w", err)
	}
	defer clear(pt)
	return r.Seal(pt, ContactAD(resourceID, holdID))
}

// OpenContact opens a contact sealed by SealContact for the same hold.
func (r *Keyring) OpenContact(sealed []byte, resourceID, holdID string) (Contact, error) {
	pt, err := r.Open(sealed, ContactAD(resourceID, holdID))
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
