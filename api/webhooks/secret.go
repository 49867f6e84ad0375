package webhooks

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// secretPrefix starts a Standard Webhooks signing secret; base64 of 32 random bytes follows.
const secretPrefix = "whsec_"

// sealedPrefix starts a secret sealed by the node's SecretSealer; base64 of its ciphertext
// follows.
const sealedPrefix = "sealed1:"

// SecretSealer seals signing secrets at rest, so that a copy of the database does not let
// anyone sign webhooks. *pii.Keyring (persistence/pii, the node's --data-key-file ring)
// implements it: the first key seals, every key opens, so keys rotate without re-registering
// endpoints. Safe for concurrent use.
type SecretSealer interface {
	Seal(plaintext, associatedData []byte) ([]byte, error)
	Open(ciphertext, associatedData []byte) ([]byte, error)
}

// newSecret returns a fresh signing secret from crypto/rand.
func newSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return secretPrefix + base64.StdEncoding.EncodeToString(b)
}

// secretAD binds a sealed secret to its endpoint: copied to another endpoint, it does not open.
func secretAD(endpointID string) []byte { return []byte("allot webhook secret " + endpointID) }

// sealSecret returns the stored form of secret: sealed when there is a sealer, else as is
// (the database's own protection is then all there is).
func sealSecret(s SecretSealer, endpointID, secret string) (string, error) {
	if s == nil {
		return secret, nil
	}
	c, err := s.Seal([]byte(secret), secretAD(endpointID))
	if err != nil {
		return "", fmt.Errorf("seal secret: %w", err)
	}
	return sealedPrefix + base64.RawURLEncoding.EncodeToString(c), nil
}

// openSecret returns the secret from its stored form. The error never carries the secret.
func openSecret(s SecretSealer, endpointID, stored string) (string, error) {
	rest, sealed := strings.CutPrefix(stored, sealedPrefix)
	if !sealed {
		return stored, nil
	}
	if s == nil {
		return "", errors.New("the signing secret is sealed and this node has no data key")
	}
	c, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return "", errors.New("the sealed signing secret is malformed")
	}
	p, err := s.Open(c, secretAD(endpointID))
	if err != nil {
		return "", fmt.Errorf("open signing secret: %w", err)
	}
	return string(p), nil
}
