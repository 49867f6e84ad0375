package api

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/allot/allot/api/auth"
)

// Callers of the matrix and ownership tests, by what their token says.
var (
	// asAdmin is testEnv.do's default caller: admin and operator with a second factor, so
	// that tests about other things than access reach every route.
	asAdmin       = auth.TokenSpec{Subject: "admin-1", Roles: []auth.Role{auth.RoleOperator, auth.RoleAdmin}, MFA: true}
	asOperator    = auth.TokenSpec{Subject: "op-1", Roles: []auth.Role{auth.RoleOperator}, MFA: true}
	asOperatorNoM = auth.TokenSpec{Subject: "op-2", Roles: []auth.Role{auth.RoleOperator}}
	asCustomer    = auth.TokenSpec{Subject: "u-1"}
	asOther       = auth.TokenSpec{Subject: "u-2"}
)

// testTokens mints dev tokens for a testEnv, at its injected clock, reusing a token while it
// has more than a day to live (tests advance the clock by hours and days).
type testTokens struct {
	issuer *auth.DevIssuer
	now    func() time.Time

	mu     sync.Mutex
	minted map[string]mintedToken
}

type mintedToken struct {
	raw string
	at  time.Time
}

// newTestAuth returns a dev issuer and its verifier on clock now, with the key in a temp dir.
func newTestAuth(tb testing.TB, now func() time.Time) (*testTokens, *auth.Verifier) {
	tb.Helper()
	cfg := auth.DefaultConfig()
	cfg.Now = now
	d, err := auth.NewDevIssuer(cfg, auth.DevKeyFile(tb.TempDir()))
	if err != nil {
		tb.Fatal(err)
	}
	v, err := auth.NewDevVerifier(cfg, d)
	if err != nil {
		tb.Fatal(err)
	}
	return &testTokens{issuer: d, now: now, minted: map[string]mintedToken{}}, v
}

// token returns a bearer token for spec (TTL is set here).
func (t *testTokens) token(tb testing.TB, spec auth.TokenSpec) string {
	tb.Helper()
	spec.TTL = auth.MaxDevTokenTTL
	key := spec.Subject + "|" + string(joinRoles(spec.Roles)) + "|" + boolString(spec.MFA)
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if m, ok := t.minted[key]; ok && now.Sub(m.at) < auth.MaxDevTokenTTL-24*time.Hour && !now.Before(m.at) {
		return m.raw
	}
	raw, err := t.issuer.Mint(spec)
	if err != nil {
		tb.Fatal(err)
	}
	t.minted[key] = mintedToken{raw: raw, at: now}
	return raw
}

// bearer returns the Authorization header pair for testEnv.do.
func (e *testEnv) bearer(spec auth.TokenSpec) []string {
	return []string{"Authorization", "Bearer " + e.tokens.token(e.tb, spec)}
}

// anonymous, as testEnv.do's headers, sends no Authorization header.
var anonymous = []string{"Authorization", ""}

func hasHeader(hdr []string, name string) bool {
	for i := 0; i+1 < len(hdr); i += 2 {
		if http.CanonicalHeaderKey(hdr[i]) == http.CanonicalHeaderKey(name) {
			return true
		}
	}
	return false
}

func joinRoles(rs []auth.Role) string {
	var b strings.Builder
	for _, r := range rs {
		b.WriteString(string(r) + ",")
	}
	return b.String()
}

func boolString(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// as returns the Authorization header pair of a customer whose token's subject is user: how
// the booking rules tests act for each of their users.
func (e *testEnv) as(user string) []string {
	return e.bearer(auth.TokenSpec{Subject: user})
}
