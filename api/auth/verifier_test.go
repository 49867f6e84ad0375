package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/allot/allot/actors/booking"
)

// reasons lists every refusal reason, to check that an error matches exactly the one expected.
var reasons = []error{ErrNoToken, ErrMalformed, ErrAlgorithm, ErrUnknownKey, ErrSignature, ErrIssuer,
	ErrAudience, ErrExpired, ErrNotYetValid, ErrNoSubject, ErrForbidden, ErrMFARequired}

// wantRefused fails unless err matches want and no other reason, with the code want maps to.
func wantRefused(t *testing.T, err, want error, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted; want %v", want)
	}
	for _, r := range reasons {
		if got := errors.Is(err, r); got != (r == want) {
			t.Errorf("errors.Is(%v, %v) = %v", err, r, got)
		}
	}
	if got := booking.ErrorCode(err); got != code {
		t.Errorf("code %q, want %q", got, code)
	}
}

func newTestVerifier(t testing.TB, ti *testIssuer, edit func(*Config)) *Verifier {
	t.Helper()
	cfg := ti.config()
	if edit != nil {
		edit(&cfg)
	}
	v, err := NewVerifier(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVerifyAcceptsAValidToken(t *testing.T) {
	clock := newTestClock()
	ti := newTestIssuer(t, clock)
	v := newTestVerifier(t, ti, nil)
	p, err := v.Verify(context.Background(), ti.token("u-1"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Subject != "u-1" || len(p.Roles) != 1 || p.Roles[0] != RoleCustomer || p.MFA || p.Email != "" {
		t.Fatalf("principal %+v", p)
	}
	if want := clock.Now().Add(time.Hour + DefaultClockSkew); !p.Expiry.Equal(want) {
		t.Fatalf("expiry %v, want %v", p.Expiry, want)
	}
}

func TestVerifyRefuses(t *testing.T) {
	clock := newTestClock()
	ti := newTestIssuer(t, clock)
	k1 := ti.key("k1")
	now := clock.Now()
	skew := DefaultClockSkew
	with := func(edit func(map[string]any)) string {
		c := ti.claims("u-1")
		edit(c)
		return ti.sign(k1, c)
	}
	valid := ti.token("u-1")
	parts := strings.Split(valid, ".")
	stranger := newSigningKey(t, "k-stranger", jose.ES256)

	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"empty", "", ErrNoToken},
		{"not a JWT", "not-a-token", ErrMalformed},
		{"header not base64", "!!!." + parts[1] + "." + parts[2], ErrMalformed},
		{"too long", valid + strings.Repeat("A", DefaultMaxTokenBytes), ErrMalformed},
		{"JSON serialization", `{"payload":"` + parts[1] + `","protected":"` + parts[0] + `","signature":"` + parts[2] + `"}`, ErrMalformed},
		{"expired beyond the skew", with(func(c map[string]any) {
			c["iat"], c["nbf"], c["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-2*time.Hour).Unix(), now.Add(-skew-time.Second).Unix()
		}), ErrExpired},
		{"not valid before, beyond the skew", with(func(c map[string]any) { c["nbf"] = now.Add(skew + time.Second).Unix() }), ErrNotYetValid},
		{"issued in the future, beyond the skew", with(func(c map[string]any) { c["iat"] = now.Add(skew + time.Second).Unix() }), ErrNotYetValid},
		{"no expiry", with(func(c map[string]any) { delete(c, "exp") }), ErrMalformed},
		{"expiry not a number", with(func(c map[string]any) { c["exp"] = "tomorrow" }), ErrMalformed},
		{"wrong issuer", with(func(c map[string]any) { c["iss"] = "https://evil.example" }), ErrIssuer},
		{"no issuer", with(func(c map[string]any) { delete(c, "iss") }), ErrIssuer},
		{"wrong audience", with(func(c map[string]any) { c["aud"] = "another-api" }), ErrAudience},
		{"no audience", with(func(c map[string]any) { delete(c, "aud") }), ErrAudience},
		{"no subject", with(func(c map[string]any) { delete(c, "sub") }), ErrNoSubject},
		{"alg none", handMade(map[string]any{"alg": "none", "kid": "k1"}, ti.claims("u-1"), func([]byte) []byte { return nil }), ErrAlgorithm},
		{"alg none, no signature part", strings.TrimSuffix(handMade(map[string]any{"alg": "none"}, ti.claims("u-1"), func([]byte) []byte { return nil }), "."), ErrAlgorithm},
		{"HS256 keyed with the public key", handMade(map[string]any{"alg": "HS256", "kid": "k1", "typ": "JWT"}, ti.claims("u-1"), hs256WithPublicKey(t, k1)), ErrAlgorithm},
		{"HS256 without kid", handMade(map[string]any{"alg": "HS256"}, ti.claims("u-1"), hs256WithPublicKey(t, k1)), ErrAlgorithm},
		{"algorithm the key does not offer", handMade(map[string]any{"alg": "ES384", "kid": "k1"}, ti.claims("u-1"), func([]byte) []byte { return make([]byte, 96) }), ErrAlgorithm},
		{"tampered payload", parts[0] + "." + strings.Split(with(func(c map[string]any) { c["roles"] = []string{"admin"} }), ".")[1] + "." + parts[2], ErrSignature},
		{"tampered signature", parts[0] + "." + parts[1] + "." + strings.Split(ti.token("u-1"), ".")[2][:10] + parts[2][10:], ErrSignature},
		{"unknown kid not in the key set", ti.sign(stranger, ti.claims("u-1")), ErrUnknownKey},
		{"known kid, signed by another key", ti.sign(signingKey{kid: "k1", alg: jose.ES256, priv: stranger.priv}, ti.claims("u-1")), ErrSignature},
	}
	v := newTestVerifier(t, ti, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := v.Verify(context.Background(), tt.token)
			if p != nil {
				t.Fatalf("principal %+v for a refused token", p)
			}
			wantRefused(t, err, tt.want, booking.CodeUnauthenticated)
		})
	}
	if n := v.cache.len(); n != 0 {
		t.Fatalf("%d refused tokens cached", n)
	}
}

func TestVerifyToleratesTheClockSkew(t *testing.T) {
	clock := newTestClock()
	ti := newTestIssuer(t, clock)
	v := newTestVerifier(t, ti, nil)
	now, skew := clock.Now(), DefaultClockSkew
	for name, edit := range map[string]func(map[string]any){
		"expired within the skew":     func(c map[string]any) { c["exp"] = now.Add(-skew + time.Second).Unix() },
		"not before, within the skew": func(c map[string]any) { c["nbf"] = now.Add(skew - time.Second).Unix() },
		"issued ahead, within skew":   func(c map[string]any) { c["iat"] = now.Add(skew).Unix() },
		"fractional dates":            func(c map[string]any) { c["exp"] = float64(now.Add(time.Minute).UnixMilli()) / 1000 },
		"no nbf and no iat":           func(c map[string]any) { delete(c, "nbf"); delete(c, "iat") },
		"audience as one string":      func(c map[string]any) { c["aud"] = testAudience },
	} {
		c := ti.claims("u-1")
		edit(c)
		if _, err := v.Verify(context.Background(), ti.sign(ti.key("k1"), c)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestKeyRotationWithoutRestart(t *testing.T) {
	clock := newTestClock()
	ti := newTestIssuer(t, clock)
	v := newTestVerifier(t, ti, nil)
	ctx := context.Background()
	if _, err := v.Verify(ctx, ti.token("u-1")); err != nil {
		t.Fatal(err)
	}
	fetches := ti.jwksFetches.Load()

	// The issuer rotates: it publishes k2 and signs with it.
	k2 := ti.publish(newSigningKey(t, "k2", jose.RS256))
	clock.Advance(DefaultKeyRefetchInterval)
	p, err := v.Verify(ctx, ti.sign(k2, ti.claims("u-2")))
	if err != nil || p.Subject != "u-2" {
		t.Fatalf("token of the new key: %v, %+v", err, p)
	}
	if got := ti.jwksFetches.Load(); got != fetches+1 {
		t.Fatalf("%d key set fetches for one new kid, want 1", got-fetches)
	}
	// Tokens of the old key still verify while it is published.
	if _, err := v.Verify(ctx, ti.sign(ti.key("k1"), ti.claims("u-3"))); err != nil {
		t.Fatal(err)
	}
	// Withdrawn: once the key set is older than its max age it is fetched again, and a new
	// token of the old key is refused.
	k1 := ti.key("k1")
	ti.withdraw("k1")
	clock.Advance(DefaultKeySetMaxAge + time.Second)
	_, err = v.Verify(ctx, ti.sign(k1, ti.claims("u-4")))
	wantRefused(t, err, ErrUnknownKey, booking.CodeUnauthenticated)
	if _, err := v.Verify(ctx, ti.sign(k2, ti.claims("u-5"))); err != nil {
		t.Fatal(err)
	}
}

func TestUnknownKidsFetchTheKeySetAtMostOncePerInterval(t *testing.T) {
	clock := newTestClock()
	ti := newTestIssuer(t, clock)
	v := newTestVerifier(t, ti, nil)
	ctx := context.Background()
	start := ti.jwksFetches.Load()
	clock.Advance(DefaultKeyRefetchInterval)
	for i := range 20 {
		forged := ti.sign(newSigningKey(t, "forged-"+string(rune('a'+i)), jose.ES256), ti.claims("u-1"))
		_, err := v.Verify(ctx, forged)
		wantRefused(t, err, ErrUnknownKey, booking.CodeUnauthenticated)
	}
	if got := ti.jwksFetches.Load() - start; got != 1 {
		t.Fatalf("%d key set fetches for 20 unknown kids within one interval, want 1", got)
	}
	// A bad signature under a known kid never fetches.
	tampered := ti.token("u-1")
	tampered = tampered[:len(tampered)-4] + "AAAA"
	clock.Advance(DefaultKeyRefetchInterval)
	_, err := v.Verify(ctx, tampered)
	wantRefused(t, err, ErrSignature, booking.CodeUnauthenticated)
	if got := ti.jwksFetches.Load() - start; got != 1 {
		t.Fatalf("a bad signature fetched the key set")
	}
}

func TestKeySetUnreachable(t *testing.T) {
	clock := newTestClock()
	ti := newTestIssuer(t, clock)
	v := newTestVerifier(t, ti, nil)
	ti.srv.Close()
	clock.Advance(DefaultKeyRefetchInterval)
	k2 := newSigningKey(t, "k2", jose.ES256)
	_, err := v.Verify(context.Background(), ti.sign(k2, ti.claims("u-1")))
	if booking.ErrorCode(err) != booking.CodeUnavailable {
		t.Fatalf("unknown kid with the issuer down: %v, want unavailable", err)
	}
	// Known keys keep working.
	if _, err := v.Verify(context.Background(), ti.token("u-1")); err != nil {
		t.Fatal(err)
	}
}

func TestDiscovery(t *testing.T) {
	clock := newTestClock()
	ti := newTestIssuer(t, clock)
	cfg := ti.config()
	cfg.Issuer = ti.srv.URL + "/"
	if _, err := NewVerifier(context.Background(), cfg); err == nil {
		t.Error("discovery naming another issuer accepted")
	}
	cfg.Issuer = "http://127.0.0.1:1"
	if _, err := NewVerifier(context.Background(), cfg); err == nil {
		t.Error("unreachable issuer accepted")
	}
	cfg.Issuer = "http://issuer.example"
	if _, err := NewVerifier(context.Background(), cfg); !errors.Is(err, ErrConfig) {
		t.Errorf("plain http issuer: %v", err)
	}
}

func TestVerifyCachesUntilExpiry(t *testing.T) {
	clock := newTestClock()
	ti := newTestIssuer(t, clock)
	v := newTestVerifier(t, ti, nil)
	ctx := context.Background()
	c := ti.claims("u-1")
	c["exp"] = clock.Now().Add(time.Minute).Unix()
	token := ti.sign(ti.key("k1"), c)
	first, err := v.Verify(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	fetches := ti.jwksFetches.Load()
	// The issuer goes away: a cached token needs neither it nor a signature check.
	ti.srv.Close()
	second, err := v.Verify(ctx, token)
	if err != nil || second != first {
		t.Fatalf("second verification: %v, same principal %v", err, second == first)
	}
	if ti.jwksFetches.Load() != fetches {
		t.Fatal("the cached token fetched the key set")
	}
	clock.Advance(time.Minute + DefaultClockSkew + time.Second)
	_, err = v.Verify(ctx, token)
	wantRefused(t, err, ErrExpired, booking.CodeUnauthenticated)
	if v.cache.len() != 0 {
		t.Fatal("the expired token stays cached")
	}
}

func TestCacheOff(t *testing.T) {
	clock := newTestClock()
	ti := newTestIssuer(t, clock)
	v := newTestVerifier(t, ti, func(c *Config) { c.CacheSize = 0 })
	token := ti.token("u-1")
	a, err1 := v.Verify(context.Background(), token)
	b, err2 := v.Verify(context.Background(), token)
	if err1 != nil || err2 != nil || a == b {
		t.Fatalf("without a cache each verification builds its principal: %v %v %v", err1, err2, a == b)
	}
}

func TestVerifierModes(t *testing.T) {
	clock := newTestClock()
	ti := newTestIssuer(t, clock)
	cfg := ti.config()
	cfg.Mode = ModeDev
	if _, err := NewVerifier(context.Background(), cfg); !errors.Is(err, ErrConfig) {
		t.Errorf("NewVerifier in dev mode: %v", err)
	}
	d, err := NewDevIssuer(devConfig(clock), DevKeyFile(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	dev := devConfig(clock)
	dev.Mode = ModeOIDC
	if _, err := NewDevVerifier(dev, d); !errors.Is(err, ErrConfig) {
		t.Errorf("NewDevVerifier in oidc mode: %v", err)
	}
}

// Many requests verify while the issuer rotates and the cache is small enough to evict:
// the race detector watches the cache and the key set.
func TestVerifyConcurrently(t *testing.T) {
	clock := newTestClock()
	ti := newTestIssuer(t, clock)
	v := newTestVerifier(t, ti, func(c *Config) { c.CacheSize = 8 })
	k2 := ti.publish(newSigningKey(t, "k2", jose.ES256))
	clock.Advance(DefaultKeyRefetchInterval)
	var tokens []string
	for i := range 16 {
		k := ti.key("k1")
		if i%2 == 1 {
			k = k2
		}
		tokens = append(tokens, ti.sign(k, ti.claims("u-"+string(rune('a'+i)))))
	}
	errs := make(chan error, 4)
	for g := range 4 {
		go func() {
			var err error
			for i := range 200 {
				tok := tokens[(i*(g+1))%len(tokens)]
				if _, e := v.Verify(context.Background(), tok); e != nil && err == nil {
					err = e
				}
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := v.cache.len(); n > 8 {
		t.Fatalf("cache holds %d tokens, bound 8", n)
	}
}
