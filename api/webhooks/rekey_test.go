package webhooks

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/allot/allot/persistence/pii"
	"github.com/allot/allot/persistence/sidedbtest"
)

// TestRekeySecrets: after a data key rotation every sealed signing secret is re-sealed under
// the new key and opens with it alone, to the same secret; secrets in clear and those under a
// key the ring lacks are left as they are and counted; a second run has nothing to do.
func TestRekeySecrets(t *testing.T) {
	ctx := context.Background()
	db := sidedbtest.SQLite(t, "") // the main store applies the migrations
	s, err := NewSQLStore(db, SQLite)
	if err != nil {
		t.Fatal(err)
	}

	key := func(b byte) []byte { return bytes.Repeat([]byte{b}, pii.KeySize) }
	ring := func(ids []string, keys ...[]byte) *pii.Keyring {
		r, err := pii.NewKeyring(ids, keys)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	old, rotated := ring([]string{"k1"}, key(1)), ring([]string{"k2", "k1"}, key(2), key(1))
	stranger, newOnly := ring([]string{"k9"}, key(9)), ring([]string{"k2"}, key(2))
	now := time.UnixMilli(1_900_000_000_000).UTC()
	secrets := map[string]string{}
	for _, tc := range []struct {
		id     string
		sealer SecretSealer
	}{{"we_a", old}, {"we_b", old}, {"we_c", rotated}, {"we_d", stranger}, {"we_e", nil}} {
		secret := newSecret()
		secrets[tc.id] = secret
		e := Endpoint{ID: tc.id, URL: "https://example.com/hook", EventTypes: []string{"hold.placed"}, CreatedAt: now, UpdatedAt: now}
		if tc.sealer != nil {
			if e.Secret, err = sealSecret(tc.sealer, tc.id, secret); err != nil {
				t.Fatal(err)
			}
		} else {
			e.Secret = secret
		}
		if err := s.CreateEndpoint(ctx, e); err != nil {
			t.Fatal(err)
		}
	}

	rep, err := s.RekeySecrets(ctx, rotated)
	if err != nil {
		t.Fatal(err)
	}
	if rep != (RekeyReport{Resealed: 2, Current: 1, Unsealed: 1, Failed: 1}) {
		t.Fatalf("first run: %+v", rep)
	}
	if rep, err = s.RekeySecrets(ctx, rotated); err != nil || rep != (RekeyReport{Current: 3, Unsealed: 1, Failed: 1}) {
		t.Fatalf("second run: %+v, %v", rep, err)
	}
	for _, id := range []string{"we_a", "we_b", "we_c"} {
		e, err := s.GetEndpoint(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := openSecret(newOnly, id, e.Secret); err != nil || got != secrets[id] {
			t.Fatalf("%s with k2 alone: %v", id, err)
		}
	}
	if e, _ := s.GetEndpoint(ctx, "we_e"); e.Secret != secrets["we_e"] {
		t.Fatal("a secret in clear changed")
	}
}
