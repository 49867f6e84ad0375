package auth

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
)

func devConfig(clock *testClock) Config {
	cfg := DefaultConfig()
	cfg.Now = clock.Now
	return cfg
}

func TestDevIssuerKeepsItsKeyAcrossRestarts(t *testing.T) {
	clock := newTestClock()
	file := DevKeyFile(filepath.Join(t.TempDir(), "data"))
	first, err := NewDevIssuer(devConfig(clock), file)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %#o, want 0600", st.Mode().Perm())
	}
	token, err := first.Mint(TokenSpec{Subject: "u-1", Roles: []Role{RoleOperator}, MFA: true, Email: "u1@example.com", Scopes: []string{ScopePIIRead}, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	// "Restart": a new issuer and verifier from the same file accept the old token.
	second, err := NewDevIssuer(devConfig(clock), file)
	if err != nil {
		t.Fatal(err)
	}
	if second.KeyID() != first.KeyID() {
		t.Fatalf("key id changed across restarts: %s -> %s", first.KeyID(), second.KeyID())
	}
	v, err := NewDevVerifier(devConfig(clock), second)
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.Verify(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	if p.Subject != "u-1" || !p.HasRole(RoleOperator) || !p.MFA || p.Email != "u1@example.com" || !p.HasScope(ScopePIIRead) {
		t.Fatalf("%+v", p)
	}
	// Another data dir is another issuer: its verifier refuses the token.
	other, err := NewDevIssuer(devConfig(clock), DevKeyFile(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	ov, err := NewDevVerifier(devConfig(clock), other)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ov.Verify(context.Background(), token)
	wantRefused(t, err, ErrUnknownKey, booking.CodeUnauthenticated)
}

func TestDevIssuerRefusesAKeyOthersCanRead(t *testing.T) {
	clock := newTestClock()
	file := DevKeyFile(t.TempDir())
	if _, err := NewDevIssuer(devConfig(clock), file); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(file, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NewDevIssuer(devConfig(clock), file); err == nil {
		t.Fatal("a world-readable key was used")
	}
	if err := os.WriteFile(file, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(file, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewDevIssuer(devConfig(clock), file); err == nil {
		t.Fatal("garbage accepted as a key")
	}
}

func TestDevIssuerSharedKeyFileCreatedOnce(t *testing.T) {
	clock := newTestClock()
	file := filepath.Join(t.TempDir(), "shared", "cluster-dev.key")
	const nodes = 4
	ids := make([]string, nodes)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := NewDevIssuer(devConfig(clock), file)
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = d.KeyID()
		}()
	}
	wg.Wait()
	for _, id := range ids[1:] {
		if id != ids[0] {
			t.Fatalf("nodes starting together got different keys: %v", ids)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(file))
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
}

func TestDevIssuerMintChecksItsInput(t *testing.T) {
	clock := newTestClock()
	d, err := NewDevIssuer(devConfig(clock), DevKeyFile(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	for _, spec := range []TokenSpec{{TTL: time.Hour}, {Subject: "u-1"}, {Subject: "u-1", TTL: -time.Second}, {Subject: "u-1", TTL: MaxDevTokenTTL + time.Second}} {
		if _, err := d.Mint(spec); err == nil {
			t.Errorf("minted %+v", spec)
		}
	}
	v, err := NewDevVerifier(devConfig(clock), d)
	if err != nil {
		t.Fatal(err)
	}
	token, err := d.Mint(TokenSpec{Subject: "u-1", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute + DefaultClockSkew + time.Second)
	_, err = v.Verify(context.Background(), token)
	wantRefused(t, err, ErrExpired, booking.CodeUnauthenticated)

	cfg := devConfig(clock)
	cfg.Audience = "elsewhere"
	if _, err := NewDevVerifier(cfg, d); !errors.Is(err, ErrConfig) {
		t.Fatalf("verifier for another audience: %v", err)
	}
}

// The dev issuer is a standard OIDC issuer: a verifier that knows only its URL discovers it
// through its own handler over a real listener, and accepts its tokens, dotted roles claim
// included.
func TestDevIssuerThroughDiscovery(t *testing.T) {
	for _, path := range []string{"", "/auth"} {
		t.Run("path="+path, func(t *testing.T) {
			clock := newTestClock()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			cfg := devConfig(clock)
			cfg.Issuer = "http://" + ln.Addr().String() + path
			cfg.RolesClaim = "realm_access.roles"
			d, err := NewDevIssuer(cfg, DevKeyFile(t.TempDir()))
			if err != nil {
				t.Fatal(err)
			}
			srv := &http.Server{Handler: d.Handler(), ReadHeaderTimeout: 5 * time.Second}
			done := make(chan error, 1)
			go func() { done <- srv.Serve(ln) }()
			t.Cleanup(func() {
				_ = srv.Close()
				if err := <-done; !errors.Is(err, http.ErrServerClosed) {
					t.Error(err)
				}
			})

			cfg.Mode = ModeOIDC
			v, err := NewVerifier(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			token, err := d.Mint(TokenSpec{Subject: "a-1", Roles: []Role{RoleAdmin}, MFA: true, TTL: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			p, err := v.Verify(context.Background(), token)
			if err != nil {
				t.Fatal(err)
			}
			if p.Subject != "a-1" || !p.HasRole(RoleAdmin) || !p.MFA {
				t.Fatalf("%+v", p)
			}
			resp, err := http.Get("http://" + ln.Addr().String() + path + "/elsewhere")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Fatalf("unknown path: %d", resp.StatusCode)
			}
			resp, err = http.Post(cfg.Issuer+JWKSPath, "application/json", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusMethodNotAllowed {
				t.Fatalf("POST to the key set: %d", resp.StatusCode)
			}
		})
	}
}

func TestDevTokenSourceReusesThenRenews(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	cfg := DefaultConfig()
	cfg.Now = func() time.Time { return now }
	d, err := NewDevIssuer(cfg, DevKeyFile(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewDevVerifier(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	ts := d.TokenSource(TokenSpec{Subject: "u-1"})
	a, err := ts.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(29 * time.Minute)
	if b, _ := ts.Token(t.Context()); b != a {
		t.Fatal("a token with more than half its life left was not reused")
	}
	now = now.Add(2 * time.Minute)
	b, _ := ts.Token(t.Context())
	if b == a {
		t.Fatal("a token past half its life was reused")
	}
	if p, err := v.Verify(t.Context(), b); err != nil || p.Subject != "u-1" {
		t.Fatalf("minted token: %v %+v", err, p)
	}
}
