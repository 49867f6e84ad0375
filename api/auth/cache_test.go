package auth

import (
	"crypto/sha256"
	"testing"
	"time"
)

func TestTokenCacheDropsTheLeastRecentlyUsed(t *testing.T) {
	now := time.Unix(1000, 0)
	c := newTokenCache(2)
	key := func(s string) tokenKey { return sha256.Sum256([]byte(s)) }
	p := func(sub string) *Principal { return &Principal{Subject: sub, Expiry: now.Add(time.Minute)} }
	c.put(key("a"), p("a"))
	c.put(key("b"), p("b"))
	if got, _ := c.get(key("a"), now); got == nil { // a is now the most recently used
		t.Fatal("a missing")
	}
	c.put(key("c"), p("c"))
	if got, _ := c.get(key("b"), now); got != nil {
		t.Fatal("b should have been dropped")
	}
	for _, s := range []string{"a", "c"} {
		if got, _ := c.get(key(s), now); got == nil || got.Subject != s {
			t.Fatalf("%s: %+v", s, got)
		}
	}
	c.put(key("c"), p("c2")) // replacing does not grow
	if c.len() != 2 {
		t.Fatalf("len %d", c.len())
	}
	if got, expired := c.get(key("a"), now.Add(time.Minute+time.Nanosecond)); got != nil || !expired {
		t.Fatal("expired entry served")
	}
	if c.len() != 1 {
		t.Fatalf("expired entry kept: len %d", c.len())
	}
	var off *tokenCache = newTokenCache(0)
	off.put(key("a"), p("a"))
	if got, _ := off.get(key("a"), now); got != nil || off.len() != 0 {
		t.Fatal("a disabled cache caches")
	}
}
