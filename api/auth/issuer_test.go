package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// testClock is the one clock of a component under test; it moves only when told.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock {
	return &testClock{now: time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// signingKey is one key of the test issuer.
type signingKey struct {
	kid  string
	alg  jose.SignatureAlgorithm
	priv any
	pub  jose.JSONWebKey
}

func newSigningKey(t testing.TB, kid string, alg jose.SignatureAlgorithm) signingKey {
	t.Helper()
	var priv, pub any
	switch alg {
	case jose.RS256:
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		priv, pub = k, &k.PublicKey
	case jose.ES256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		priv, pub = k, &k.PublicKey
	default:
		t.Fatalf("no test key for %s", alg)
	}
	return signingKey{kid: kid, alg: alg, priv: priv, pub: jose.JSONWebKey{Key: pub, KeyID: kid, Algorithm: string(alg), Use: "sig"}}
}

// testIssuer is a real OpenID Connect issuer on a local listener: it serves discovery and a
// JWKS that tests can change (key rotation), counts key set fetches, and signs with go-jose.
type testIssuer struct {
	t     testing.TB
	srv   *httptest.Server
	clock *testClock

	mu        sync.Mutex
	published []signingKey

	jwksFetches atomic.Int64
}

const testAudience = "allot-api"

func newTestIssuer(t testing.TB, clock *testClock) *testIssuer {
	ti := &testIssuer{t: t, clock: clock}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+DiscoveryPath, func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                ti.srv.URL,
			"jwks_uri":                              ti.srv.URL + "/keys",
			"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
		})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		ti.jwksFetches.Add(1)
		ti.mu.Lock()
		set := jose.JSONWebKeySet{}
		for _, k := range ti.published {
			set.Keys = append(set.Keys, k.pub)
		}
		ti.mu.Unlock()
		_ = json.NewEncoder(w).Encode(set)
	})
	ti.srv = httptest.NewServer(mux)
	t.Cleanup(ti.srv.Close)
	ti.publish(newSigningKey(t, "k1", jose.ES256))
	return ti
}

// publish adds k to the key set the issuer serves.
func (ti *testIssuer) publish(k signingKey) signingKey {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	ti.published = append(ti.published, k)
	return k
}

// withdraw removes the key kid from the key set.
func (ti *testIssuer) withdraw(kid string) {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	for i, k := range ti.published {
		if k.kid == kid {
			ti.published = append(ti.published[:i], ti.published[i+1:]...)
			return
		}
	}
}

func (ti *testIssuer) key(kid string) signingKey {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	for _, k := range ti.published {
		if k.kid == kid {
			return k
		}
	}
	ti.t.Fatalf("no key %s", kid)
	return signingKey{}
}

// config returns a verifier configuration for this issuer, on clock.
func (ti *testIssuer) config() Config {
	cfg := DefaultConfig()
	cfg.Mode = ModeOIDC
	cfg.Issuer = ti.srv.URL
	cfg.Audience = testAudience
	cfg.Now = ti.clock.Now
	return cfg
}

// claims returns valid claims for subject sub, issued now for an hour.
func (ti *testIssuer) claims(sub string) map[string]any {
	now := ti.clock.Now()
	return map[string]any{
		"iss": ti.srv.URL, "aud": []string{testAudience, "other"}, "sub": sub,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

// sign signs claims with k, naming its kid.
func (ti *testIssuer) sign(k signingKey, claims map[string]any) string {
	ti.t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: k.priv},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), k.kid))
	if err != nil {
		ti.t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		ti.t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		ti.t.Fatal(err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		ti.t.Fatal(err)
	}
	return raw
}

// token signs valid claims for sub with the first published key.
func (ti *testIssuer) token(sub string) string {
	return ti.sign(ti.key("k1"), ti.claims(sub))
}

// handMade builds a compact JWS by hand, for what go-jose refuses to produce: "alg": "none",
// and HS256 keyed with the issuer's public key (the algorithm-confusion attack).
func handMade(header, claims map[string]any, sign func(signingInput []byte) []byte) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	return input + "." + base64.RawURLEncoding.EncodeToString(sign([]byte(input)))
}

// hs256WithPublicKey signs with HMAC-SHA256 keyed by the DER of k's public key.
func hs256WithPublicKey(t testing.TB, k signingKey) func([]byte) []byte {
	der, err := x509.MarshalPKIXPublicKey(k.pub.Key)
	if err != nil {
		t.Fatal(err)
	}
	return func(in []byte) []byte {
		m := hmac.New(sha256.New, der)
		m.Write(in)
		return m.Sum(nil)
	}
}

func (ti *testIssuer) String() string { return fmt.Sprintf("issuer %s", ti.srv.URL) }
