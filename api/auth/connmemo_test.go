package auth

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// TestConnMemoAnswersAsTheSharedCache: a verifier used through connections' memos answers
// every request exactly as one without memos: random requests (fixed seed) on two
// connections with three tokens of short lives (20 s to 2 min, made again now and then, so
// that many expire while a memo holds them), a token signed by an unknown key and a garbled
// one, and a clock that moves, against a twin verifier with no connection context. Both
// have a small shared cache, so that tokens are evicted from it while a memo still holds them.
func TestConnMemoAnswersAsTheSharedCache(t *testing.T) {
	clock := newTestClock()
	ti := newTestIssuer(t, clock)
	small := func(c *Config) { c.CacheSize = 2 }
	memoed, twin := newTestVerifier(t, ti, small), newTestVerifier(t, ti, small)
	rng := rand.New(rand.NewPCG(17, 7))
	minted := 0
	mint := func() string {
		minted++
		c := ti.claims(fmt.Sprintf("u-%d", minted))
		c["exp"] = clock.Now().Add(time.Duration(20+rng.IntN(100)) * time.Second).Unix()
		return ti.sign(ti.key("k1"), c)
	}
	live := []string{mint(), mint(), mint()}
	bad := []string{ti.sign(newSigningKey(t, "k9", jose.ES256), ti.claims("u-forged")), live[0][:len(live[0])-4] + "AAAA"}
	conns := []context.Context{ConnContext(context.Background(), nil), ConnContext(context.Background(), nil)}
	accepted, expired := 0, 0
	for step := range 5000 {
		if rng.IntN(5) == 0 {
			clock.Advance(time.Duration(rng.IntN(10)) * time.Second)
		}
		if rng.IntN(60) == 0 {
			live[rng.IntN(len(live))] = mint()
		}
		tok := live[rng.IntN(len(live))]
		if rng.IntN(10) == 0 {
			tok = bad[rng.IntN(len(bad))]
		}
		got, gotErr := memoed.Verify(conns[rng.IntN(len(conns))], tok)
		want, wantErr := twin.Verify(context.Background(), tok)
		if (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("step %d: memo %v, twin %v", step, gotErr, wantErr)
		}
		for _, r := range reasons {
			if errors.Is(gotErr, r) != errors.Is(wantErr, r) {
				t.Fatalf("step %d: memo %v, twin %v", step, gotErr, wantErr)
			}
		}
		if gotErr == nil && (got.Subject != want.Subject || !got.Expiry.Equal(want.Expiry)) {
			t.Fatalf("step %d: memo %s until %v, twin %s until %v", step, got.Subject, got.Expiry, want.Subject, want.Expiry)
		}
		if gotErr == nil {
			accepted++
		} else if errors.Is(gotErr, ErrExpired) {
			expired++
		}
	}
	if accepted < 1000 || expired < 200 {
		t.Fatalf("%d accepted and %d expired: the walk should have many of both", accepted, expired)
	}
}

// TestConnMemoSkipsTheSharedCache: a connection's token answers from its memo (the principal
// the first request got) after the shared cache evicted it; a refused token in between does
// not displace it; without a cache (CacheSize 0) there is no memo either.
func TestConnMemoSkipsTheSharedCache(t *testing.T) {
	clock := newTestClock()
	ti := newTestIssuer(t, clock)
	v := newTestVerifier(t, ti, func(c *Config) { c.CacheSize = 1 })
	conn := ConnContext(context.Background(), nil)
	a, b := ti.token("u-a"), ti.token("u-b")
	first, err := v.Verify(conn, a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), b); err != nil { // evicts a from the shared cache
		t.Fatal(err)
	}
	if _, err := v.Verify(conn, a[:len(a)-4]+"AAAA"); !errors.Is(err, ErrSignature) {
		t.Fatalf("garbled token: %v", err)
	}
	again, err := v.Verify(conn, a)
	if err != nil || again != first {
		t.Fatalf("the connection's token: %v, from the memo %v", err, again == first)
	}

	off := newTestVerifier(t, ti, func(c *Config) { c.CacheSize = 0 })
	x, err1 := off.Verify(conn, a)
	y, err2 := off.Verify(conn, a)
	if err1 != nil || err2 != nil || x == y {
		t.Fatalf("without a cache each verification builds its principal: %v %v %v", err1, err2, x == y)
	}
}

// TestConnMemoConcurrently: requests of one connection (HTTP/2 serves them at once) with
// alternating tokens each get their own token's principal; the race detector watches the memo.
func TestConnMemoConcurrently(t *testing.T) {
	clock := newTestClock()
	ti := newTestIssuer(t, clock)
	v := newTestVerifier(t, ti, nil)
	conn := ConnContext(context.Background(), nil)
	subjects := []string{"u-a", "u-b", "u-c"}
	var tokens []string
	for _, s := range subjects {
		tokens = append(tokens, ti.token(s))
	}
	errs := make(chan error, 4)
	for g := range 4 {
		go func() {
			for i := range 300 {
				k := (i + g) % len(tokens)
				p, err := v.Verify(conn, tokens[k])
				if err == nil && p.Subject != subjects[k] {
					err = fmt.Errorf("token of %s answered as %s", subjects[k], p.Subject)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
