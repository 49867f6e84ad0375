package webhooks

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestSecretSealed(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	s, err := newSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	secret := newSecret()
	sealed := s.seal("we_a", secret)
	if !strings.HasPrefix(sealed, sealedPrefix) || strings.Contains(sealed, secret[6:]) {
		t.Fatalf("sealed = %q", sealed)
	}
	if got, err := s.open("we_a", sealed); err != nil || got != secret {
		t.Fatalf("open = %q, %v", got, err)
	}
	if _, err := s.open("we_b", sealed); err == nil {
		t.Fatal("a secret opened under another endpoint's id")
	}
	other, _ := newSealer(bytes.Repeat([]byte{8}, 32))
	if _, err := other.open("we_a", sealed); err == nil {
		t.Fatal("a secret opened with another key")
	}
	none, _ := newSealer(nil)
	if _, err := none.open("we_a", sealed); err == nil {
		t.Fatal("a sealed secret opened without a key")
	}
	if newSecret() == secret {
		t.Fatal("two secrets are equal")
	}
}

// TestSealedSecretSignsDeliveries: with a key, the store holds only the sealed secret and
// deliveries are still signed with the secret the admin was given.
func TestSealedSecretSignsDeliveries(t *testing.T) {
	rcv := newReceiver(t, nil)
	h := newHarness(t, func(c *Config) { c.SecretKey = bytes.Repeat([]byte{9}, 32) })
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
	got := rcv.next(t)
	if err := verify(secret, got); err != nil {
		t.Fatal(err)
	}
}
