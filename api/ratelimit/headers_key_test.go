package ratelimit

import (
	"hash/maphash"
	"net/netip"
	"net/textproto"
	"testing"
)

// TestFieldKeysAreCanonical: addField writes keyPolicy and keyRateLimit into the header map
// as they are, so they must be the keys Header.Get looks the field names up under.
func TestFieldKeysAreCanonical(t *testing.T) {
	for name, key := range map[string]string{headerPolicy: keyPolicy, headerRateLimit: keyRateLimit} {
		if c := textproto.CanonicalMIMEHeaderKey(name); c != key {
			t.Errorf("%s is stored under %q, not %q", name, c, key)
		}
	}
	if got, want := rateLimitField("holds", Decision{Remaining: 12, Reset: 1500e6}), `"holds";r=12;t=2`; got != want {
		t.Errorf("rateLimitField = %s, want %s", got, want)
	}
}

// TestAppendIPKeyIsString: the middleware's stack-built key of an address is the string
// ipKey made before it built one (the address's String, IPv6 by its prefix).
func TestAppendIPKeyIsString(t *testing.T) {
	l := &Limits{cfg: Config{IPv6PrefixLen: 64}}
	for _, s := range []string{"127.0.0.1", "::ffff:10.1.2.3", "2001:db8:1:2:3:4:5:6", "::1", ""} {
		var a netip.Addr
		if s != "" {
			a = netip.MustParseAddr(s)
		}
		want := a.Unmap().String()
		if a.Is6() && !a.Is4In6() {
			want = netip.PrefixFrom(a, 64).Masked().Addr().String()
		}
		if got := l.ipKey(a); got != want {
			t.Errorf("ipKey(%q) = %q, want %q", s, got, want)
		}
		seed := maphash.MakeSeed()
		if h1, h2 := maphash.Bytes(seed, l.appendIPKey(nil, a)), maphash.String(seed, want); h1 != h2 {
			t.Errorf("%q: bytes and string keys hash apart", s)
		}
	}
}
