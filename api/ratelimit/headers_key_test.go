package ratelimit

import (
	"hash/maphash"
	"net/http"
	"net/netip"
	"net/textproto"
	"slices"
	"testing"
	"time"
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

// TestAddFieldsSharesOneArrayAndKeepsTheFieldsApart: a response's first budget puts both
// fields' values in one allocation; a second budget appends to each field without writing
// into the other's values, and a third (more than fieldsPerKey) still keeps them apart.
func TestAddFieldsSharesOneArrayAndKeepsTheFieldsApart(t *testing.T) {
	h := http.Header{}
	if allocs := testing.AllocsPerRun(100, func() {
		clear(h)
		addFields(h, "p1", "r1")
	}); allocs != 1 {
		t.Fatalf("first budget: %.0f allocations, want 1", allocs)
	}
	for i, want := range [][2][]string{
		{{"p1", "p2"}, {"r1", "r2"}},
		{{"p1", "p2", "p3"}, {"r1", "r2", "r3"}},
	} {
		addFields(h, want[0][len(want[0])-1], want[1][len(want[1])-1])
		if !slices.Equal(h.Values(headerPolicy), want[0]) || !slices.Equal(h.Values(headerRateLimit), want[1]) {
			t.Fatalf("budget %d: %s %v, %s %v; want %v", i+2, headerPolicy, h.Values(headerPolicy), headerRateLimit, h.Values(headerRateLimit), want)
		}
	}
	h = http.Header{keyRateLimit: {"r0"}}
	addFields(h, "p1", "r1")
	if !slices.Equal(h.Values(headerPolicy), []string{"p1"}) || !slices.Equal(h.Values(headerRateLimit), []string{"r0", "r1"}) {
		t.Fatalf("with one field set: %v", h)
	}
}

// TestBudgetKeysAreTheStringKeys: the middleware's stack-built limiter keys are the strings
// it used to build ("s:"+subject, "i:"+address for the holds budget; the subject or the
// address otherwise), and allowBytes spends the same budget as Allow of that string.
func TestBudgetKeysAreTheStringKeys(t *testing.T) {
	l := &Limits{cfg: Config{IPv6PrefixLen: 64}}
	ip := netip.MustParseAddr("10.0.0.7")
	long := string(make([]byte, 300)) // past the middleware's stack buffer
	for _, tc := range []struct {
		class Class
		k     Key
		want  string
	}{
		{ClassHolds, Key{Subject: "user-1", IP: ip}, "s:user-1"},
		{ClassHolds, Key{IP: ip}, "i:10.0.0.7"},
		{ClassHolds, Key{Subject: long}, "s:" + long},
		{ClassRequests, Key{Subject: "user-1", IP: ip}, "user-1"},
		{ClassRequests, Key{IP: ip}, "10.0.0.7"},
	} {
		var buf [128]byte
		if _, _, _, got := l.budget(buf[:0], tc.class, tc.k); string(got) != tc.want {
			t.Errorf("%v %+v: key %q, want %q", tc.class, tc.k, got, tc.want)
		}
	}
	clk := newFakeClock()
	lim := mustLimiter(t, Limit{Count: 1, Period: time.Hour, Burst: 3}, 100, clk.Now)
	for i, d := range []Decision{lim.Allow("s:u"), lim.allowBytes([]byte("s:u")), lim.Allow("s:u"), lim.allowBytes([]byte("s:u"))} {
		if want := i < 3; d.Allowed != want || (want && d.Remaining != 2-i) {
			t.Fatalf("spend %d: %+v", i, d)
		}
	}
}
