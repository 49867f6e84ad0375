package pii

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
)

// KeySize is the length of a data key: AES-256.
const KeySize = 32

// maxIDLen bounds a key id (it is stored in every ciphertext).
const maxIDLen = 32

// ErrKeyFile is wrapped by every error about the content of a key file.
var ErrKeyFile = errors.New("pii: bad data key file")

// key is one named AES-256-GCM key. Only the expanded cipher is kept.
type key struct {
	id   string
	aead cipher.AEAD
}

// Keyring holds the data keys. The primary seals; every key opens. Immutable after creation
// and safe for concurrent use. Printing or logging a Keyring shows its key ids only.
type Keyring struct {
	primary *key
	byID    map[string]*key
	ids     []string // file order; ids[0] is the primary
}

// NewKeyring builds a ring from ids and raw keys, in order; the first is the primary.
func NewKeyring(ids []string, keys [][]byte) (*Keyring, error) {
	if len(ids) != len(keys) || len(ids) == 0 {
		return nil, fmt.Errorf("%w: want at least one key and an id for each", ErrKeyFile)
	}
	r := &Keyring{byID: make(map[string]*key, len(ids))}
	for i, id := range ids {
		if !validID(id) {
			return nil, fmt.Errorf("%w: key id %q: want 1-%d characters of A-Z a-z 0-9 . _ -", ErrKeyFile, id, maxIDLen)
		}
		if _, dup := r.byID[id]; dup {
			return nil, fmt.Errorf("%w: key id %q appears twice", ErrKeyFile, id)
		}
		if len(keys[i]) != KeySize {
			return nil, fmt.Errorf("%w: key %q has %d bytes, want %d", ErrKeyFile, id, len(keys[i]), KeySize)
		}
		for j := range i {
			if bytes.Equal(keys[i], keys[j]) {
				return nil, fmt.Errorf("%w: keys %q and %q are the same key", ErrKeyFile, ids[j], id)
			}
		}
		block, err := aes.NewCipher(keys[i])
		if err != nil {
			return nil, fmt.Errorf("pii: key %q: %w", id, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("pii: key %q: %w", id, err)
		}
		k := &key{id: id, aead: aead}
		r.byID[id] = k
		r.ids = append(r.ids, id)
		if i == 0 {
			r.primary = k
		}
	}
	return r, nil
}

// ParseKeyring reads a key file's content (see the package documentation). Errors name the
// line, never its key.
func ParseKeyring(data []byte) (*Keyring, error) {
	var ids []string
	var keys [][]byte
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, b64, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("%w: line %d: want id:base64key", ErrKeyFile, n+1)
		}
		id, b64 = strings.TrimSpace(id), strings.TrimSpace(b64)
		k, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			k, err = base64.RawStdEncoding.DecodeString(b64)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: line %d (key %q): the key is not standard base64", ErrKeyFile, n+1, id)
		}
		ids, keys = append(ids, id), append(keys, k)
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("%w: no key", ErrKeyFile)
	}
	r, err := NewKeyring(ids, keys)
	for _, k := range keys {
		clear(k)
	}
	return r, err
}

// LoadKeyring reads the key file at path (`--data-key-file`). It refuses a file that group or
// others may read: whoever reads it reads every guest's contact.
func LoadKeyring(path string) (*Keyring, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("pii: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("pii: %s: mode %#o lets others read the data keys; chmod 600 it (Kubernetes: defaultMode 0400)", path, st.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pii: %w", err)
	}
	defer clear(data)
	r, err := ParseKeyring(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// NewKeyLine returns a fresh key file line, `id:base64key`, with 32 bytes from crypto/rand.
func NewKeyLine(id string) (string, error) {
	if !validID(id) {
		return "", fmt.Errorf("%w: key id %q", ErrKeyFile, id)
	}
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return "", fmt.Errorf("pii: %w", err)
	}
	defer clear(k)
	return id + ":" + base64.StdEncoding.EncodeToString(k), nil
}

// PrimaryID is the id of the key that seals.
func (r *Keyring) PrimaryID() string { return r.primary.id }

// IDs returns the key ids, primary first.
func (r *Keyring) IDs() []string { return append([]string(nil), r.ids...) }

// Has reports whether the ring holds a key named id.
func (r *Keyring) Has(id string) bool { _, ok := r.byID[id]; return ok }

// String shows the key ids only.
func (r *Keyring) String() string {
	return "pii.Keyring{primary: " + r.primary.id + ", keys: [" + strings.Join(r.ids, " ") + "]}"
}

// GoString is String, so that %#v does not reach the ciphers either.
func (r *Keyring) GoString() string { return r.String() }

// LogValue shows the key ids only.
func (r *Keyring) LogValue() slog.Value {
	return slog.GroupValue(slog.String("primary", r.primary.id), slog.Any("keys", r.ids))
}

func validID(id string) bool {
	if id == "" || len(id) > maxIDLen {
		return false
	}
	for _, c := range []byte(id) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}
