package ratelimit

import (
	"net/http"
	"net/netip"
	"strings"
)

// ClientIP finds the address of the client behind a request. It is immutable and safe for
// concurrent use.
type ClientIP struct {
	trusted []netip.Prefix
}

// NewClientIP returns a ClientIP that believes X-Forwarded-For from peers in trusted.
func NewClientIP(trusted []netip.Prefix) *ClientIP {
	t := make([]netip.Prefix, len(trusted))
	for i, p := range trusted {
		t[i] = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()).Masked()
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			t[i] = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96).Masked()
		}
	}
	return &ClientIP{trusted: t}
}

// Trusted reports whether a is one of the trusted proxies.
func (c *ClientIP) Trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range c.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Of returns the client's address. It is the TCP peer unless the peer is a trusted proxy;
// then X-Forwarded-For is read from the right (the entry the nearest proxy appended) to the
// left, skipping trusted proxies, and the first untrusted entry is the client: entries left
// of it were written by the client itself and prove nothing. An entry that does not parse
// stops the walk at the last trusted hop; if every entry is trusted the leftmost is the
// client. The zero Addr means the peer address itself did not parse (not a TCP peer).
func (c *ClientIP) Of(r *http.Request) netip.Addr {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	hop := peer.Addr().Unmap()
	if !c.Trusted(hop) {
		return hop
	}
	values := r.Header.Values("X-Forwarded-For")
	for i := len(values) - 1; i >= 0; i-- {
		v := values[i]
		for v != "" {
			entry := v
			if j := strings.LastIndexByte(v, ','); j >= 0 {
				entry, v = v[j+1:], v[:j]
			} else {
				v = ""
			}
			entry = strings.TrimSpace(entry)
			if entry == "" {
				continue
			}
			a, ok := parseForwarded(entry)
			if !ok {
				return hop
			}
			hop = a
			if !c.Trusted(a) {
				return a
			}
		}
	}
	return hop
}

// parseForwarded reads one X-Forwarded-For entry: an address, optionally with a port
// ("203.0.113.7:4711", "[2001:db8::1]:443"); zones are dropped.
func parseForwarded(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, err2 := netip.ParseAddrPort(s)
		if err2 != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	}
	return a.Unmap().WithZone(""), true
}
