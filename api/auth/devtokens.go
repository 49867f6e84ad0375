package auth

import (
	"context"
	"sync"
	"time"
)

// DevTokenSource mints tokens of one spec from a DevIssuer and reuses each until half its
// lifetime is gone, so that test and load clients carry fresh tokens without paying a
// signature per request (and the node's verifier cache sees the same token again). It has the
// method set of api/client.TokenSource. Safe for concurrent use.
type DevTokenSource struct {
	issuer *DevIssuer
	spec   TokenSpec

	mu      sync.Mutex
	token   string
	renewAt time.Time
}

// DefaultDevTokenTTL is the lifetime of a DevTokenSource's tokens when the spec sets none.
const DefaultDevTokenTTL = time.Hour

// TokenSource returns a DevTokenSource for spec (TTL 0 means DefaultDevTokenTTL).
func (d *DevIssuer) TokenSource(spec TokenSpec) *DevTokenSource {
	if spec.TTL == 0 {
		spec.TTL = DefaultDevTokenTTL
	}
	return &DevTokenSource{issuer: d, spec: spec}
}

// Token returns a token for the source's spec, minting a new one when the last is past half
// its lifetime (by the issuer's clock).
func (s *DevTokenSource) Token(context.Context) (string, error) {
	now := s.issuer.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token != "" && now.Before(s.renewAt) {
		return s.token, nil
	}
	t, err := s.issuer.Mint(s.spec)
	if err != nil {
		return "", err
	}
	s.token, s.renewAt = t, now.Add(s.spec.TTL/2)
	return t, nil
}
