package auth

import (
	"context"
	"testing"
)

// BenchmarkVerifyCached is the hot path: a token seen before costs a hash and a lookup.
func BenchmarkVerifyCached(b *testing.B) {
	benchmarkVerify(b, DefaultCacheSize)
}

// BenchmarkVerifyUncached pays the full check every time: parse, ECDSA P-256 signature,
// claims.
func BenchmarkVerifyUncached(b *testing.B) {
	benchmarkVerify(b, 0)
}

// BenchmarkVerifyConnMemo is the hot path on a connection that sent the token before
// (ConnContext): a hash, the memo's lock and one comparison, no shared cache.
func BenchmarkVerifyConnMemo(b *testing.B) {
	benchmarkVerifyCtx(b, DefaultCacheSize, ConnContext(context.Background(), nil))
}

func benchmarkVerify(b *testing.B, cacheSize int) {
	benchmarkVerifyCtx(b, cacheSize, context.Background())
}

func benchmarkVerifyCtx(b *testing.B, cacheSize int, ctx context.Context) {
	clock := newTestClock()
	ti := newTestIssuer(b, clock)
	v := newTestVerifier(b, ti, func(c *Config) { c.CacheSize = cacheSize })
	c := ti.claims("u-1")
	c["roles"] = []string{"operator"}
	c["amr"] = []string{"pwd", "otp"}
	c["email"] = "u1@example.com"
	token := ti.sign(ti.key("k1"), c)
	if _, err := v.Verify(ctx, token); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := v.Verify(ctx, token); err != nil {
			b.Fatal(err)
		}
	}
}
