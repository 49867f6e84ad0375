package pii

import (
	"crypto/rand"
	"errors"
	"fmt"
)

// Ciphertext layout, version 1:
//
//	[0]        version (1)
//	[1]        n, the key id's length (1..32)
//	[2:2+n]    key id
//	[2+n:14+n] nonce, 12 random bytes
//	[14+n:]    AES-256-GCM ciphertext and 16-byte tag
//
// The header (version, length, id) is authenticated along with the caller's associated data,
// so neither can be altered. Random nonces are safe for 2^32 seals per key; rotate keys long
// before (a booking system seals one contact per hold).
const (
	version1  = 1
	nonceSize = 12
	tagSize   = 16
)

// Errors of Open and Rekey. None of them carries plaintext.
var (
	// ErrMalformed: not a ciphertext of a version this package knows.
	ErrMalformed = errors.New("pii: malformed ciphertext")
	// ErrUnknownKey: the ciphertext names a key id the ring does not hold.
	ErrUnknownKey = errors.New("pii: ciphertext sealed under a key not in the ring")
	// ErrDecrypt: the key or the associated data is wrong, or the ciphertext was altered.
	ErrDecrypt = errors.New("pii: ciphertext does not authenticate")
)

// Seal encrypts plaintext under the primary key, bound to associatedData: Open must be given
// the same associated data (for a contact, the hold it belongs to).
func (r *Keyring) Seal(plaintext, associatedData []byte) ([]byte, error) {
	k := r.primary
	hdr := 2 + len(k.id)
	out := make([]byte, hdr+nonceSize, hdr+nonceSize+len(plaintext)+tagSize)
	out[0], out[1] = version1, byte(len(k.id))
	copy(out[2:], k.id)
	if _, err := rand.Read(out[hdr:]); err != nil {
		return nil, fmt.Errorf("pii: nonce: %w", err)
	}
	return k.aead.Seal(out, out[hdr:], plaintext, aad(out[:hdr], associatedData)), nil
}

// Open decrypts a ciphertext from Seal under whichever key of the ring it names.
func (r *Keyring) Open(ciphertext, associatedData []byte) ([]byte, error) {
	id, hdr, err := parseHeader(ciphertext)
	if err != nil {
		return nil, err
	}
	k, ok := r.byID[id]
	if !ok {
		return nil, fmt.Errorf("%w: key id %q", ErrUnknownKey, id)
	}
	if len(ciphertext) < hdr+nonceSize+tagSize {
		return nil, ErrMalformed
	}
	nonce := ciphertext[hdr : hdr+nonceSize]
	pt, err := k.aead.Open(nil, nonce, ciphertext[hdr+nonceSize:], aad(ciphertext[:hdr], associatedData))
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

// KeyID returns the id of the key a ciphertext was sealed under.
func KeyID(ciphertext []byte) (string, error) {
	id, _, err := parseHeader(ciphertext)
	return id, err
}

// Rekey returns ciphertext sealed under the primary key, for `allot rekey`: unchanged (and
// changed false) when it already is, else opened with its own key and sealed again with the
// same associated data. A ciphertext already under the primary is returned without being
// opened: Rekey moves ciphertexts between keys, it does not verify them.
func (r *Keyring) Rekey(ciphertext, associatedData []byte) (out []byte, changed bool, err error) {
	id, _, err := parseHeader(ciphertext)
	if err != nil {
		return nil, false, err
	}
	if id == r.primary.id {
		return ciphertext, false, nil
	}
	pt, err := r.Open(ciphertext, associatedData)
	if err != nil {
		return nil, false, err
	}
	defer clear(pt)
	out, err = r.Seal(pt, associatedData)
	if err != nil {
		return nil, false, err
	}
	return out, true, nil
}

// parseHeader returns the key id and the header's length.
func parseHeader(c []byte) (string, int, error) {
	if len(c) < 2 || c[0] != version1 {
		return "", 0, ErrMalformed
	}
	n := int(c[1])
	if n == 0 || n > maxIDLen || len(c) < 2+n {
		return "", 0, ErrMalformed
	}
	id := string(c[2 : 2+n])
	if !validID(id) {
		return "", 0, ErrMalformed
	}
	return id, 2 + n, nil
}

// aad is what GCM authenticates besides the ciphertext: the header, then the caller's data.
func aad(header, associatedData []byte) []byte {
	a := make([]byte, 0, len(header)+len(associatedData))
	return append(append(a, header...), associatedData...)
}
