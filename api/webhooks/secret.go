package webhooks

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// secretPrefix starts a Standard Webhooks signing secret; base64 of 32 random bytes follows.
const secretPrefix = "whsec_"

// sealedPrefix starts a secret sealed with the node's key.
const sealedPrefix = "sealed1:"

// newSecret returns a fresh signing secret from crypto/rand.
func newSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return secretPrefix + base64.StdEncoding.EncodeToString(b)
}

// sealer seals signing secrets at rest with AES-256-GCM under the node's secret key, so that
// a copy of the database does not let anyone sign webhooks. Without a key, secrets are kept
// as they are (the database's own protection is then all there is), and a sealed secret
// cannot be opened.
type sealer struct {
	aead cipher.AEAD // nil: no key
}

func newSealer(key []byte) (*sealer, error) {
	if len(key) == 0 {
		return &sealer{}, nil
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("secret key must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

// seal returns the stored form of secret; the endpoint id is bound as additional data, so a
// sealed secret copied to another endpoint does not open.
func (s *sealer) seal(endpointID, secret string) string {
	if s.aead == nil {
		return secret
	}
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	out := s.aead.Seal(nonce, nonce, []byte(secret), []byte(endpointID))
	return sealedPrefix + base64.RawURLEncoding.EncodeToString(out)
}

// open returns the secret from its stored form.
func (s *sealer) open(endpointID, stored string) (string, error) {
	rest, sealed := strings.CutPrefix(stored, sealedPrefix)
	if !sealed {
		return stored, nil
	}
	if s.aead == nil {
		return "", errors.New("secret is sealed and this node has no secret key")
	}
	raw, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil || len(raw) < s.aead.NonceSize() {
		return "", errors.New("sealed secret is malformed")
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, raw[:n], raw[n:], []byte(endpointID))
	if err != nil {
		return "", errors.New("sealed secret does not open with this node's key")
	}
	return string(plain), nil
}
