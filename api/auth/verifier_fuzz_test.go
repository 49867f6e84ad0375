package auth

import (
	"context"
	"strings"
	"testing"
	"time"
)

// FuzzVerify feeds arbitrary tokens to a verifier with a key in hand: it must never panic,
// and anything it accepts must say what the issuer signed (only "u-fuzz" tokens exist).
func FuzzVerify(f *testing.F) {
	clock := newTestClock()
	d, err := NewDevIssuer(devConfig(clock), DevKeyFile(f.TempDir()))
	if err != nil {
		f.Fatal(err)
	}
	v, err := NewDevVerifier(devConfig(clock), d)
	if err != nil {
		f.Fatal(err)
	}
	token, err := d.Mint(TokenSpec{Subject: "u-fuzz", Roles: []Role{RoleCustomer}, TTL: time.Hour})
	if err != nil {
		f.Fatal(err)
	}
	parts := strings.Split(token, ".")
	for _, seed := range []string{token, "", ".", "..", "a.b.c", parts[0] + ".." + parts[2], parts[0] + "." + parts[1] + ".",
		"eyJhbGciOiJub25lIn0." + parts[1] + ".", token + "." + parts[2], strings.ReplaceAll(token, "A", "B")} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		p, err := v.Verify(context.Background(), raw)
		if err == nil && (p == nil || p.Subject != "u-fuzz" || p.HasRole(RoleAdmin)) {
			t.Fatalf("accepted %q as %+v", raw, p)
		}
	})
}
