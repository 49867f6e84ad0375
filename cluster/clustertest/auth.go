package clustertest

import (
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/allot/allot/api/auth"
)

// KeyFile returns the path of a new dev signing key file in a temp dir of tb, for the nodes
// of one test cluster (NodeOptions.KeyFile) and its clients (DevIssuer). The first of them to
// start creates the key.
func KeyFile(tb testing.TB) string {
	tb.Helper()
	return filepath.Join(tb.TempDir(), "dev-signing-key.pem")
}

// DevIssuer returns a dev issuer over keyFile with the node's default issuer and audience,
// creating the key if no node has yet. Its tokens are accepted by nodes in dev auth mode with
// that key file (or that data dir's key, auth.DevKeyFile).
func DevIssuer(tb testing.TB, keyFile string) *auth.DevIssuer {
	tb.Helper()
	d, err := auth.NewDevIssuer(auth.DefaultConfig(), keyFile)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// AdminSubject is the subject of the harness's own calls: admin and operator with a second
// factor, so that it may create resources, read the member list and act on any hold.
const AdminSubject = "clustertest-admin"

// tokens hands out one DevTokenSource per subject, minting from an issuer: the harness acts
// as each simulated user for their holds and as AdminSubject for everything else.
type tokens struct {
	issuer *auth.DevIssuer

	mu   sync.Mutex
	subs map[string]*auth.DevTokenSource
}

// forUser returns the token source of a customer named user.
func (t *tokens) forUser(user string) *auth.DevTokenSource {
	return t.source(auth.TokenSpec{Subject: user, TTL: 12 * time.Hour})
}

// admin returns the token source of AdminSubject.
func (t *tokens) admin() *auth.DevTokenSource {
	return t.source(auth.TokenSpec{Subject: AdminSubject, Roles: []auth.Role{auth.RoleOperator, auth.RoleAdmin}, MFA: true, TTL: 12 * time.Hour})
}

func (t *tokens) source(spec auth.TokenSpec) *auth.DevTokenSource {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s, ok := t.subs[spec.Subject]; ok {
		return s
	}
	s := t.issuer.TokenSource(spec)
	t.subs[spec.Subject] = s
	return s
}
