package loadgen

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/allot/allot/api/auth"
)

func TestTokensFromAKeyFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := newTokens(&Config{DataDir: dir}); err == nil || !strings.Contains(err.Error(), "start the node first") {
		t.Fatalf("a missing key: %v (the load generator must not create one)", err)
	}
	if _, err := os.Stat(auth.DevKeyFile(dir)); err == nil {
		t.Fatal("a key was created")
	}
	d, err := auth.NewDevIssuer(auth.DefaultConfig(), auth.DevKeyFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewDevVerifier(auth.DefaultConfig(), d)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := newTokens(&Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	a, b := tk.userName("run", 1), tk.userName("run", 2)
	if a == b {
		t.Fatalf("clients 1 and 2 are both %q", a)
	}
	for _, tc := range []struct {
		name  string
		token func() (string, error)
		sub   string
		op    bool
	}{
		{"user", func() (string, error) { return tk.user(a).Token(t.Context()) }, a, false},
		{"operator", func() (string, error) { return tk.operator().Token(t.Context()) }, operatorSubject, true},
	} {
		raw, err := tc.token()
		if err != nil {
			t.Fatal(err)
		}
		p, err := v.Verify(t.Context(), raw)
		if err != nil || p.Subject != tc.sub || (auth.Authorize(auth.Operator, p) == nil) != tc.op {
			t.Fatalf("%s token: %v %+v", tc.name, err, p)
		}
	}
}

func TestTokensFromATokenFile(t *testing.T) {
	d, err := auth.NewDevIssuer(auth.DefaultConfig(), filepath.Join(t.TempDir(), "k.pem"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := d.Mint(auth.TokenSpec{Subject: "o-9", Roles: []auth.Role{auth.RoleOperator}, MFA: true, TTL: auth.DefaultDevTokenTTL})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte(raw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tk, err := newTokens(&Config{TokenFile: path})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := tk.user("anyone").Token(t.Context()); got != raw || tk.userName("run", 3) != "o-9" {
		t.Fatalf("token file: %q, user %q", got, tk.userName("run", 3))
	}
	if err := os.WriteFile(path, []byte("not a token"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := newTokens(&Config{TokenFile: path}); err == nil {
		t.Fatal("a token file without a JWT was accepted")
	}
	if tk, err := newTokens(&Config{}); err != nil || tk.operator() != nil || tk.user("u") != nil {
		t.Fatalf("no key, no token file: %v", err)
	}
	cfg := DefaultConfig()
	cfg.TokenFile, cfg.KeyFile = path, "k.pem"
	if err := cfg.validate(); err == nil {
		t.Fatal("--token-file with --key-file accepted")
	}
}
