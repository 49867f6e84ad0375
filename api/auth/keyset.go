package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/allot/allot/actors/booking"
)

// signingAlgs are the only algorithms a token may name: asymmetric ones, so that a key set of
// public keys can never be used as an HMAC secret, and never "none". A key must moreover offer
// the token's algorithm (keyOffers).
var signingAlgs = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
}

// maxKeySetBytes bounds a key set document; real ones are a few KiB.
const maxKeySetBytes = 1 << 20

// keySet holds the issuer's public keys and fetches them again from its JWKS URL when a token
// names a key id it does not know, so the issuer can rotate keys without a restart, and when
// they are older than maxAge, so a key the issuer withdrew stops being trusted.
//
// It replaces go-oidc's RemoteKeySet, which refetches after any failed signature check: there,
// every forged token costs one request to the issuer. Here a known key that fails to verify
// is a bad signature, an unknown key id refetches at most once per refetchEvery, and a key
// only verifies the algorithm it offers. Safe for concurrent use; a fetch does not block
// verifications with known keys.
type keySet struct {
	url          string // empty for a fixed key set (a DevIssuer in the same process)
	client       *http.Client
	now          func() time.Time
	refetchEvery time.Duration
	maxAge       time.Duration

	fetchMu   sync.Mutex // serializes fetches; guards fetchedAt
	fetchedAt time.Time  // when the last fetch finished, successful or not

	mu     sync.RWMutex // guards keys, keysAt
	keys   []jose.JSONWebKey
	keysAt time.Time // when keys were fetched
}

// verify checks jws's one signature and returns its payload. The error wraps ErrUnknownKey,
// ErrSignature or ErrAlgorithm (refused tokens), or is a CodeUnavailable booking error when the
// key set could not be fetched.
func (k *keySet) verify(ctx context.Context, jws *jose.JSONWebSignature) ([]byte, error) {
	h := jws.Signatures[0].Header
	alg := h.Algorithm
	if k.stale() {
		// Refresh without queueing behind a fetch in flight; on failure the keys in hand
		// keep serving.
		_ = k.refetch(ctx, false)
	}
	candidates := k.match(h.KeyID, alg)
	if len(candidates) == 0 {
		if err := k.refetch(ctx, true); err != nil {
			return nil, err
		}
		if candidates = k.match(h.KeyID, alg); len(candidates) == 0 {
			return nil, refuse(ErrUnknownKey)
		}
	}
	for i := range candidates {
		if !keyOffers(&candidates[i], alg) {
			continue
		}
		if payload, err := jws.Verify(&candidates[i]); err == nil {
			return payload, nil
		}
	}
	if h.KeyID != "" && !keyOffers(&candidates[0], alg) {
		return nil, refuse(ErrAlgorithm)
	}
	return nil, refuse(ErrSignature)
}

// match returns the keys a token's signature may be checked with: the one with its key id,
// or, for a token without a kid, every key that offers its algorithm.
func (k *keySet) match(kid, alg string) []jose.JSONWebKey {
	k.mu.RLock()
	defer k.mu.RUnlock()
	var out []jose.JSONWebKey
	for i := range k.keys {
		if kid != "" && k.keys[i].KeyID == kid {
			return []jose.JSONWebKey{k.keys[i]}
		}
		if kid == "" && keyOffers(&k.keys[i], alg) {
			out = append(out, k.keys[i])
		}
	}
	return out
}

// stale reports whether the keys are older than maxAge.
func (k *keySet) stale() bool {
	if k.url == "" {
		return false
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.now().Sub(k.keysAt) > k.maxAge
}

// refetch fetches the key set again unless that was done less than refetchEvery ago. With
// wait false it returns at once when another fetch is in flight.
func (k *keySet) refetch(ctx context.Context, wait bool) error {
	if k.url == "" {
		return nil
	}
	if wait {
		k.fetchMu.Lock()
	} else if !k.fetchMu.TryLock() {
		return nil
	}
	defer k.fetchMu.Unlock()
	if !k.fetchedAt.IsZero() && k.now().Sub(k.fetchedAt) < k.refetchEvery {
		return nil
	}
	keys, err := fetchKeys(ctx, k.client, k.url)
	if ctx.Err() != nil { // the caller gave up; the next caller tries again
		return booking.Errorf(booking.CodeUnavailable, "the identity provider's keys could not be fetched in time")
	}
	k.fetchedAt = k.now()
	if err != nil {
		return fmt.Errorf("fetch key set: %w", booking.Errorf(booking.CodeUnavailable, "the identity provider's keys could not be fetched: %v", err))
	}
	k.mu.Lock()
	k.keys, k.keysAt = keys, k.fetchedAt
	k.mu.Unlock()
	return nil
}

// fetchKeys GETs a JWKS document and returns its public signing keys; keys of unknown types,
// encryption keys and symmetric keys are skipped.
func fetchKeys(ctx context.Context, client *http.Client, url string) ([]jose.JSONWebKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxKeySetBytes))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return parseKeySet(body)
}

// parseKeySet decodes a JWKS document, keeping the public signing keys it can use.
func parseKeySet(body []byte) ([]jose.JSONWebKey, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("decode key set: %w", err)
	}
	var keys []jose.JSONWebKey
	for _, raw := range doc.Keys {
		var key jose.JSONWebKey
		if err := json.Unmarshal(raw, &key); err != nil {
			continue // an unsupported key type must not hide the others
		}
		if key.Use != "" && key.Use != "sig" {
			continue
		}
		pub := key.Public() // a published private key is used as its public half only
		if !pub.Valid() {
			continue
		}
		keys = append(keys, pub)
	}
	if len(keys) == 0 {
		return nil, errors.New("the key set holds no usable signing key")
	}
	return keys, nil
}

// keyOffers reports whether key may verify a signature made with alg: the key's own "alg"
// when it names one, otherwise the algorithms of its type and curve. Symmetric keys offer
// nothing.
func keyOffers(key *jose.JSONWebKey, alg string) bool {
	if key.Algorithm != "" {
		return key.Algorithm == alg
	}
	switch pub := key.Key.(type) {
	case *rsa.PublicKey:
		switch jose.SignatureAlgorithm(alg) {
		case jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512:
			return true
		}
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P256():
			return alg == string(jose.ES256)
		case elliptic.P384():
			return alg == string(jose.ES384)
		case elliptic.P521():
			return alg == string(jose.ES512)
		}
	case ed25519.PublicKey:
		return alg == string(jose.EdDSA)
	}
	return false
}
