package cmd

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/allot/allot/api/auth"
)

// devVerifier verifies like a node in dev mode whose dev signing key is keyFile.
func devVerifier(t *testing.T, keyFile string, now time.Time) *auth.Verifier {
	t.Helper()
	cfg := auth.DefaultConfig()
	cfg.Now = func() time.Time { return now }
	d, err := auth.NewDevIssuer(cfg, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewDevVerifier(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func runTokenCmd(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Execute(append([]string{"token"}, args...), &out, &errOut)
	return strings.TrimSpace(out.String()), errOut.String(), code
}

func TestTokenCommandMintsWhatTheDataDirsIssuerAccepts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	token, stderr, code := runTokenCmd(t, "--sub", "u-1", "--role", "operator", "--mfa", "--email", "u1@example.com",
		"--scope", auth.ScopePIIRead, "--ttl", "2h", "--data-dir", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	p, err := devVerifier(t, auth.DevKeyFile(dir), time.Now()).Verify(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	if p.Subject != "u-1" || !p.HasRole(auth.RoleOperator) || !p.MFA || p.Email != "u1@example.com" || !p.HasScope(auth.ScopePIIRead) {
		t.Fatalf("%+v", p)
	}
	if d := time.Until(p.Expiry); d < 2*time.Hour-time.Minute || d > 2*time.Hour+time.Minute {
		t.Fatalf("expires in %v, want about 2h", d)
	}
	// A second token from the same data dir reuses the key; the default role is customer.
	token2, _, code := runTokenCmd(t, "--sub", "u-2", "--data-dir", dir)
	if code != 0 {
		t.Fatal("second token failed")
	}
	p2, err := devVerifier(t, auth.DevKeyFile(dir), time.Now()).Verify(context.Background(), token2)
	if err != nil || p2.Subject != "u-2" || p2.HasRole(auth.RoleOperator) || p2.MFA {
		t.Fatalf("%v %+v", err, p2)
	}
	// After its TTL the token is refused.
	_, err = devVerifier(t, auth.DevKeyFile(dir), time.Now().Add(3*time.Hour)).Verify(context.Background(), token)
	if err == nil {
		t.Fatal("token accepted after its TTL")
	}
}

func TestTokenCommandSharedKeyFileAndEnv(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "cluster-dev.key")
	t.Setenv("ALLOT_KEY_FILE", keyFile)
	token, stderr, code := runTokenCmd(t, "--sub", "a-1", "--role", "admin, operator", "--mfa", "--data-dir", t.TempDir())
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	p, err := devVerifier(t, keyFile, time.Now()).Verify(context.Background(), token)
	if err != nil || !p.HasRole(auth.RoleAdmin) || !p.HasRole(auth.RoleOperator) {
		t.Fatalf("%v %+v", err, p)
	}
}

func TestTokenCommandRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	for name, args := range map[string][]string{
		"no subject":    {"--data-dir", dir},
		"unknown role":  {"--sub", "u-1", "--role", "root", "--data-dir", dir},
		"zero ttl":      {"--sub", "u-1", "--ttl", "0s", "--data-dir", dir},
		"ttl too long":  {"--sub", "u-1", "--ttl", "8760h", "--data-dir", dir},
		"http issuer":   {"--sub", "u-1", "--oidc-issuer", "http://idp.example", "--data-dir", dir},
		"stray operand": {"--sub", "u-1", "--data-dir", dir, "extra"},
	} {
		out, _, code := runTokenCmd(t, args...)
		if code == 0 || out != "" {
			t.Errorf("%s: exit %d, printed %q", name, code, out)
		}
	}
}
