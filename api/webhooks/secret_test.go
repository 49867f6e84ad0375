package webhooks

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/allot/allot/persistence/pii"
)

func mustRing(t *testing.T, ids ...string) *pii.Keyring {
	t.Helper()
	var keys [][]byte
	for i := range ids {
		keys = append(keys, bytes.Repeat([]byte{byte(7 + i)}, 32))
	}
	r, err := pii.NewKeyring(ids, keys)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSecretSealed(t *testing.T) {
	ring := mustRing(t, "k1")
	secret := newSecret()
	if !strings.HasPrefix(secret, secretPrefix) || newSecret() == secret {
		t.Fatalf("secret %q", secret)
	}
	sealed, err := sealSecret(ring, "we_a", secret)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sealed, sealedPrefix) || strings.Contains(sealed, secret[6:]) {
		t.Fatalf("sealed = %q", sealed)
	}
	if got, err := openSecret(ring, "we_a", sealed); err != nil || got != secret {
		t.Fatalf("open = %q, %v", got, err)
	}
	if _, err := openSecret(ring, "we_b", sealed); err == nil {
		t.Fatal("a secret opened under another endpoint's id")
	}
	if _, err := openSecret(mustRing(t, "k2"), "we_a", sealed); err == nil {
		t.Fatal("a secret opened with another ring")
	}
	if _, err := openSecret(nil, "we_a", sealed); err == nil {
		t.Fatal("a sealed secret opened without a ring")
	}
	// After rotation (a new primary, the old key still in the ring) old secrets open.
	rotated, err := pii.NewKeyring([]string{"k9", "k1"}, [][]byte{bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{7}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := openSecret(rotated, "we_a", sealed); err != nil || got != secret {
		t.Fatalf("open after rotation = %q, %v", got, err)
	}
	// Without a ring, secrets are kept as they are.
	if s, _ := sealSecret(nil, "we_a", secret); s != secret {
		t.Fatal("without a ring the secret changed")
	}
}

// TestSealedSecretSignsDeliveries: with a ring, the store holds only the sealed secret and
// deliveries are still signed with the secret the admin was given.
func TestSealedSecretSignsDeliveries(t *testing.T) {
	rcv := newReceiver(t, nil)
	h := newHarness(t, func(c *Config) { c.Sealer = mustRing(t, "k1") })
	ep, secret := h.register(t, rcv.srv.URL, "hold.placed")
	stored, err := h.store.GetEndpoint(context.Background(), ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stored.Secret, sealedPrefix) {
		t.Fatalf("stored secret is not sealed")
	}
	if err := h.d.Handle(context.Background(), event("hotel-1/7/0", "hold.placed", h.clock.Now())); err != nil {
		t.Fatal(err)
	}
	if err := verify(secret, rcv.next(t)); err != nil {
		t.Fatal(err)
	}
}
