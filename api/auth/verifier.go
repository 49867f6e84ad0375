package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
)

// Verifier turns a bearer token into a Principal: it checks the signature against the
// issuer's key set and the iss, aud, exp and nbf claims (with Config.ClockSkew), and remembers
// verified tokens until they expire. It starts no goroutines and needs no Close. Safe for
// concurrent use.
type Verifier struct {
	cfg   Config
	keys  *keySet
	cache *tokenCache
	// memoSeeds key the digests of connection memos (memoKey); random per Verifier.
	memoSeeds [2]maphash.Seed
}

// NewVerifier (ModeOIDC) discovers the issuer with go-oidc (its
// /.well-known/openid-configuration must name cfg.Issuer and a jwks_uri) and fetches its key
// set. An issuer that cannot be reached is an error, so a wrong URL shows at start; a key set
// that cannot be fetched is not: it is fetched again when the first token arrives.
func NewVerifier(ctx context.Context, cfg Config) (*Verifier, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Mode != ModeOIDC {
		return nil, fmt.Errorf("%w: NewVerifier is for mode %q; dev mode uses NewDevVerifier", ErrConfig, ModeOIDC)
	}
	client := &http.Client{Timeout: cfg.HTTPTimeout}
	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, client), cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("auth: discover %s: %w", cfg.Issuer, err)
	}
	var meta struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := provider.Claims(&meta); err != nil {
		return nil, fmt.Errorf("auth: discover %s: %w", cfg.Issuer, err)
	}
	if err := validIssuer(meta.JWKSURI); err != nil {
		return nil, fmt.Errorf("auth: discover %s: jwks_uri: %w", cfg.Issuer, err)
	}
	v := newVerifier(cfg, &keySet{url: meta.JWKSURI, client: client, now: cfg.Now, refetchEvery: cfg.KeyRefetchInterval, maxAge: cfg.KeySetMaxAge})
	_ = v.keys.refetch(ctx, true) // best effort: a failure is retried by the first token
	return v, nil
}

// NewDevVerifier verifies the tokens of a DevIssuer in the same process (ModeDev), with its
// keys in hand rather than fetched. cfg.Issuer and cfg.Audience must be the issuer's.
func NewDevVerifier(cfg Config, d *DevIssuer) (*Verifier, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Mode != ModeDev {
		return nil, fmt.Errorf("%w: NewDevVerifier is for mode %q", ErrConfig, ModeDev)
	}
	if cfg.Issuer != d.cfg.Issuer || cfg.Audience != d.cfg.Audience {
		return nil, fmt.Errorf("%w: the dev issuer is %s for %s, not %s for %s", ErrConfig, d.cfg.Issuer, d.cfg.Audience, cfg.Issuer, cfg.Audience)
	}
	return newVerifier(cfg, &keySet{now: cfg.Now, keys: d.PublicKeys()}), nil
}

func newVerifier(cfg Config, keys *keySet) *Verifier {
	return &Verifier{cfg: cfg, keys: keys, cache: newTokenCache(cfg.CacheSize, cfg.CacheIdle), memoSeeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}}
}

// Verify returns the principal of a bearer token. A refused token gives an error matching one
// of ErrNoToken, ErrMalformed, ErrAlgorithm, ErrUnknownKey, ErrSignature, ErrIssuer,
// ErrAudience, ErrExpired, ErrNotYetValid or ErrNoSubject, with booking code
// CodeUnauthenticated; a key set that cannot be fetched gives CodeUnavailable.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Principal, error) {
	if raw == "" {
		return nil, refuse(ErrNoToken)
	}
	if len(raw) > v.cfg.MaxTokenBytes {
		return nil, refuse(ErrMalformed)
	}
	now := v.cfg.Now()
	var memo *connMemo // the connection's last token (connmemo.go), only with a cache
	var mk memoKey
	if v.cache != nil {
		if memo = memoOf(ctx); memo != nil {
			mk = v.memoKey(raw)
		}
	}
	if p := memo.get(mk, now); p != nil {
		return p, nil
	}
	// The token's bytes are hashed in place: []byte(raw) copied every token to the heap (one
	// allocation of its size per request, a cache hit included); Sum256 only reads them.
	key := tokenKey(sha256.Sum256(unsafe.Slice(unsafe.StringData(raw), len(raw))))
	if e, expired := v.cache.get(key, now); e != nil {
		memo.put(mk, e)
		return &e.principal, nil
	} else if expired {
		return nil, refuse(ErrExpired)
	}
	p, err := v.verify(ctx, raw, now)
	if err != nil {
		return nil, err
	}
	// The cache's compact copy is the principal handed out (and the memo's), so that p and the
	// claims' strings it shares are garbage at once (cache.go).
	if e := v.cache.put(key, p, now); e != nil {
		p = &e.principal
		memo.put(mk, e)
	}
	return p, nil
}

// memoKey is raw's digest for a connection's memo: raw hashed with each of the verifier's two
// random seeds (see connmemo.go for why not its SHA-256).
func (v *Verifier) memoKey(raw string) memoKey {
	return memoKey{maphash.String(v.memoSeeds[0], raw), maphash.String(v.memoSeeds[1], raw)}
}

// verify checks a token that is not cached.
func (v *Verifier) verify(ctx context.Context, raw string, now time.Time) (*Principal, error) {
	if err := checkHeader(raw); err != nil {
		return nil, err
	}
	jws, err := jose.ParseSignedCompact(raw, signingAlgs)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, refuse(ErrMalformed)
	}
	payload, err := v.keys.verify(ctx, jws)
	if err != nil {
		return nil, err
	}
	claims := map[string]any{}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil {
		return nil, refuse(ErrMalformed)
	}
	if iss, _ := claims["iss"].(string); iss != v.cfg.Issuer {
		return nil, refuse(ErrIssuer)
	}
	if !slices.Contains(stringsOrOne(claims["aud"]), v.cfg.Audience) {
		return nil, refuse(ErrAudience)
	}
	skew := v.cfg.ClockSkew
	exp, ok := numericDate(claims["exp"])
	if !ok {
		return nil, refuse(ErrMalformed) // a token that never expires is not accepted
	}
	if now.After(exp.Add(skew)) {
		return nil, refuse(ErrExpired)
	}
	for _, name := range []string{"nbf", "iat"} {
		if t, ok := numericDate(claims[name]); ok && now.Add(skew).Before(t) {
			return nil, refuse(ErrNotYetValid)
		} else if !ok && claims[name] != nil {
			return nil, refuse(ErrMalformed)
		}
	}
	return principalFromClaims(claims, &v.cfg, exp.Add(skew))
}

// checkHeader reads the protected header before any parsing so that a token naming "none", an
// HMAC or any algorithm outside signingAlgs is refused as such (ErrAlgorithm) rather than as
// malformed.
func checkHeader(raw string) error {
	head, _, ok := strings.Cut(raw, ".")
	if !ok {
		return refuse(ErrMalformed)
	}
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return refuse(ErrMalformed)
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(b, &h); err != nil {
		return refuse(ErrMalformed)
	}
	if !slices.Contains(signingAlgs, jose.SignatureAlgorithm(h.Alg)) {
		return refuse(ErrAlgorithm)
	}
	return nil
}

// stringsOrOne reads "aud": one string or an array of strings.
func stringsOrOne(v any) []string {
	if s, ok := v.(string); ok {
		return []string{s}
	}
	return stringsOf(v)
}

// numericDate reads a JWT NumericDate (seconds since the epoch, possibly fractional).
func numericDate(v any) (time.Time, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || f < 0 || f > 1<<40 {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}
