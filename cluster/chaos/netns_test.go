package chaos

import (
	"net/netip"
	"testing"
)

func TestOverlapsIgnoresDefaultRoutes(t *testing.T) {
	p := netip.MustParsePrefix("10.213.7.0/24")
	for _, tc := range []struct {
		used string
		want bool
	}{
		{"0.0.0.0/0", false},
		{"10.0.0.0/8", true},
		{"10.213.7.1/32", true},
		{"10.213.8.0/24", false},
		{"192.0.2.0/24", false},
	} {
		if got := overlapsAny(p, []netip.Prefix{netip.MustParsePrefix(tc.used)}); got != tc.want {
			t.Errorf("overlaps %s: %v, want %v", tc.used, got, tc.want)
		}
	}
	if a := nodeAddr(p, 2); a.String() != "10.213.7.13" {
		t.Errorf("node 3 address %s", a)
	}
}
