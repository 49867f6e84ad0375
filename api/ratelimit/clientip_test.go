package ratelimit

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

func TestClientIP(t *testing.T) {
	trusted, err := ParsePrefixes("10.0.0.0/8, 192.168.1.7 ,fd00::/8")
	if err != nil {
		t.Fatal(err)
	}
	ips := NewClientIP(trusted)
	for _, tc := range []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"untrusted peer: its XFF is ignored", "203.0.113.9:4000", []string{"198.51.100.1"}, "203.0.113.9"},
		{"no XFF from a trusted proxy", "10.1.2.3:4000", nil, "10.1.2.3"},
		{"one proxy", "10.1.2.3:4000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"client-written entries left of the real one are ignored", "10.1.2.3:4000", []string{"1.1.1.1, 2.2.2.2, 198.51.100.1"}, "198.51.100.1"},
		{"trusted hops are skipped from the right", "10.1.2.3:4000", []string{"6.6.6.6, 198.51.100.1, 192.168.1.7, 10.9.9.9"}, "198.51.100.1"},
		{"several header lines form one list", "10.1.2.3:4000", []string{"6.6.6.6, 198.51.100.1", "10.9.9.9"}, "198.51.100.1"},
		{"ports and brackets", "[fd00::1]:443", []string{"[2001:db8::7]:5555"}, "2001:db8::7"},
		{"IPv4-mapped peer", "[::ffff:10.1.2.3]:80", []string{"198.51.100.1:80"}, "198.51.100.1"},
		{"all hops trusted: the leftmost", "10.1.2.3:4000", []string{"10.5.5.5, 10.6.6.6"}, "10.5.5.5"},
		{"garbage stops at the last trusted hop", "10.1.2.3:4000", []string{"198.51.100.1, not-an-ip, 10.6.6.6"}, "10.6.6.6"},
		{"empty entries are skipped", "10.1.2.3:4000", []string{"198.51.100.1, , "}, "198.51.100.1"},
		{"a single trusted address is not its neighbour", "192.168.1.8:80", []string{"198.51.100.1"}, "192.168.1.8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tc.peer, Header: http.Header{}}
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := ips.Of(r); got != netip.MustParseAddr(tc.want) {
				t.Fatalf("Of = %v, want %s", got, tc.want)
			}
		})
	}
	if got := ips.Of(&http.Request{RemoteAddr: "@"}); got.IsValid() {
		t.Fatalf("a peer that is no address gave %v", got)
	}
}

func TestParsePrefixesRefuses(t *testing.T) {
	for _, in := range []string{"10.0.0.0/33", "nope", "10.0.0.1/8/2"} {
		if _, err := ParsePrefixes(in); err == nil {
			t.Errorf("ParsePrefixes(%q) accepted", in)
		}
	}
	if p, err := ParsePrefixes(""); err != nil || len(p) != 0 {
		t.Fatalf(`ParsePrefixes("") = %v, %v`, p, err)
	}
}

func TestConfigValidate(t *testing.T) {
	for name, mutate := range map[string]func(*Config){
		"bad subject":   func(c *Config) { c.Subject.Burst = 0 },
		"bad anonymous": func(c *Config) { c.Anonymous.Count = 0 },
		"bad holds":     func(c *Config) { c.Holds.Period = 0 },
		"few keys":      func(c *Config) { c.MaxKeys = 1 },
		"v6 prefix":     func(c *Config) { c.IPv6PrefixLen = 129 },
		"no clock":      func(c *Config) { c.Now = nil },
		"bad proxy":     func(c *Config) { c.TrustedProxies = []netip.Prefix{{}} },
	} {
		cfg := DefaultConfig()
		mutate(&cfg)
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted the config", name)
		}
	}
	if _, err := New(DefaultConfig()); err != nil {
		t.Fatalf("default config: %v", err)
	}
}

// FuzzClientIP feeds arbitrary X-Forwarded-For values through a trusted proxy: the answer is
// always the peer or an address written in the header, and an untrusted peer's header is
// never read.
func FuzzClientIP(f *testing.F) {
	ips := NewClientIP([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	f.Add("198.51.100.1, 10.0.0.2")
	f.Add("[2001:db8::1]:80,,, ,garbage")
	f.Add("1.2.3.4%eth0")
	f.Add("::ffff:1.2.3.4")
	f.Fuzz(func(t *testing.T, xff string) {
		r := &http.Request{RemoteAddr: "10.0.0.1:1234", Header: http.Header{"X-Forwarded-For": {xff}}}
		got := ips.Of(r)
		if !got.IsValid() {
			t.Fatalf("no address for %q", xff)
		}
		if got != netip.MustParseAddr("10.0.0.1") && !containsAddr(xff, got) {
			t.Fatalf("Of(%q) = %v, which the header does not name", xff, got)
		}
		r.RemoteAddr = "203.0.113.5:1"
		if got := ips.Of(r); got != netip.MustParseAddr("203.0.113.5") {
			t.Fatalf("untrusted peer with %q: %v", xff, got)
		}
	})
}

func containsAddr(xff string, a netip.Addr) bool {
	for _, e := range strings.Split(xff, ",") {
		if p, ok := parseForwarded(strings.TrimSpace(e)); ok && p == a {
			return true
		}
	}
	return false
}
