package loadgen

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/client"
)

// operatorSubject is the subject of the run's own calls (creating its resources, the audit's
// reads): an operator and admin with a second factor.
const operatorSubject = "loadgen-operator"

// tokens are the bearer tokens of a run. With a dev signing key (KeyFile, or DataDir's) every
// simulated client is its own user with its own token, so that per-user rules and rate limits
// see many users, and the run's own calls are an operator's. With a token file every call
// carries that one token (every client is its subject; it must be an operator's to create the
// run's resources). With neither, requests carry no token (a baseline, or a node without
// authentication). Safe for concurrent use.
type tokens struct {
	issuer *auth.DevIssuer    // nil unless a key is used
	static client.TokenSource // the token file's token, or nil
	sub    string             // the token file's subject

	mu    sync.Mutex
	users map[string]*auth.DevTokenSource
}

func newTokens(cfg *Config) (*tokens, error) {
	t := &tokens{users: map[string]*auth.DevTokenSource{}}
	keyFile := cfg.KeyFile
	if keyFile == "" && cfg.DataDir != "" {
		keyFile = auth.DevKeyFile(cfg.DataDir)
	}
	switch {
	case cfg.TokenFile != "":
		b, err := os.ReadFile(cfg.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("--token-file: %w", err)
		}
		raw := strings.TrimSpace(string(b))
		if t.sub, err = unverifiedSubject(raw); err != nil {
			return nil, fmt.Errorf("--token-file: %w", err)
		}
		t.static = client.StaticToken(raw)
	case keyFile != "":
		if _, err := os.Stat(keyFile); err != nil {
			// Never create a key here: a key the node does not have makes every token useless.
			return nil, fmt.Errorf("dev signing key: %w (start the node first, or pass its --key-file)", err)
		}
		acfg := auth.DefaultConfig()
		if cfg.Issuer != "" {
			acfg.Issuer = cfg.Issuer
		}
		if cfg.Audience != "" {
			acfg.Audience = cfg.Audience
		}
		d, err := auth.NewDevIssuer(acfg, keyFile)
		if err != nil {
			return nil, err
		}
		t.issuer = d
	}
	return t, nil
}

// operator returns the token source of the run's own calls; nil sends no token.
func (t *tokens) operator() client.TokenSource {
	switch {
	case t.static != nil:
		return t.static
	case t.issuer != nil:
		return t.source(auth.TokenSpec{Subject: operatorSubject, Roles: []auth.Role{auth.RoleOperator, auth.RoleAdmin}, MFA: true})
	}
	return nil
}

// user returns the token source of the simulated user; nil sends no token.
func (t *tokens) user(name string) client.TokenSource {
	switch {
	case t.static != nil:
		return t.static
	case t.issuer != nil:
		return t.source(auth.TokenSpec{Subject: name})
	}
	return nil
}

// userName is the user id of simulated client n: its own, or the token file's subject.
func (t *tokens) userName(runID string, n int) string {
	if t.static != nil {
		return t.sub
	}
	return fmt.Sprintf("u-%s-%d", runID, n)
}

func (t *tokens) source(spec auth.TokenSpec) client.TokenSource {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s, ok := t.users[spec.Subject]; ok {
		return s
	}
	s := t.issuer.TokenSource(spec)
	t.users[spec.Subject] = s
	return s
}

// unverifiedSubject reads the "sub" of a JWT without verifying it: the node verifies it; the
// load generator only needs to name the user its holds belong to.
func unverifiedSubject(raw string) (string, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return "", errors.New("not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", errors.New("not a JWT")
	}
	var c struct {
		Sub string `json:"sub"`
	}
	if err := json.Unmarshal(payload, &c); err != nil || c.Sub == "" {
		return "", errors.New("the token names no subject")
	}
	return c.Sub, nil
}
