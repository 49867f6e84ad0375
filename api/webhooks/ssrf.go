package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// ErrForbiddenTarget is wrapped by every refusal of a target address (SSRF guard).
var ErrForbiddenTarget = errors.New("webhooks: target address not allowed")

// Resolver looks up a host's addresses. *net.Resolver implements it; tests give one that
// answers what they need. Safe for concurrent use.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// nonPublic are ranges a webhook must not reach besides those netip.Addr's predicates name
// (loopback, private, link-local, unspecified, multicast): shared address space (carrier-grade
// NAT), "this network", IETF protocol assignments, benchmarking, reserved and broadcast, and
// the IPv6 translation prefixes that embed an IPv4 address (which could be private).
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("2002::/16"),
}

// checkAddr refuses an address a webhook must not reach: loopback, private (RFC 1918, fc00::/7),
// link-local (169.254/16 with the cloud metadata services, fe80::/10), unspecified, multicast,
// and the ranges in nonPublic. IPv4-mapped IPv6 addresses are judged as IPv4.
func checkAddr(a netip.Addr) error {
	a = a.Unmap()
	var why string
	switch {
	case !a.IsValid():
		why = "invalid"
	case a.IsLoopback():
		why = "loopback"
	case a.IsPrivate():
		why = "private"
	case a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast():
		why = "link-local"
	case a.IsUnspecified():
		why = "unspecified"
	case a.IsMulticast(), a.IsInterfaceLocalMulticast():
		why = "multicast"
	default:
		for _, p := range nonPublic {
			if p.Contains(a) {
				why = "reserved"
				break
			}
		}
	}
	if why != "" {
		return fmt.Errorf("%w: %s is %s", ErrForbiddenTarget, a, why)
	}
	return nil
}

// guard checks target URLs and dials only allowed addresses.
type guard struct {
	allowPrivate bool
	resolver     Resolver
	dialer       net.Dialer
}

func newGuard(allowPrivate bool, r Resolver, dialTimeout time.Duration) *guard {
	g := &guard{allowPrivate: allowPrivate, resolver: r}
	g.dialer = net.Dialer{Timeout: dialTimeout, Control: g.control}
	return g
}

// checkURL validates a target URL at registration: http or https, a host, no user info, and,
// unless private targets are allowed, every address the host resolves to public.
func (g *guard) checkURL(ctx context.Context, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return nil, errors.New("url must be an absolute http or https URL")
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return nil, errors.New("url scheme must be http or https")
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, errors.New("url has no host")
	}
	if u.User != nil {
		return nil, errors.New("url must not carry credentials")
	}
	if u.Fragment != "" {
		return nil, errors.New("url must not have a fragment")
	}
	if g.allowPrivate {
		return u, nil
	}
	if _, err := g.resolve(ctx, u.Hostname()); err != nil {
		return nil, err
	}
	return u, nil
}

// resolve returns host's addresses, refusing the host if any of them is not allowed (a host
// with one private address among public ones is refused: the dial could pick it).
func (g *guard) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		if err := g.allowed(a); err != nil {
			return nil, err
		}
		return []netip.Addr{a}, nil
	}
	addrs, err := g.resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", host, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("resolve %s: no addresses", host)
	}
	for _, a := range addrs {
		if err := g.allowed(a); err != nil {
			return nil, fmt.Errorf("%s: %w", host, err)
		}
	}
	return addrs, nil
}

func (g *guard) allowed(a netip.Addr) error {
	if g.allowPrivate {
		return nil
	}
	return checkAddr(a)
}

// dialContext is the delivery transport's DialContext: it resolves the host itself, checks
// every address, and dials the checked addresses in turn. The dialer's Control hook checks
// again the address actually connected to, so nothing but an allowed address is reached
// whatever the resolver answers between the check and the dial (DNS rebinding).
func (g *guard) dialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	addrs, err := g.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	var firstErr error
	for _, a := range addrs {
		c, err := g.dialer.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
		if err == nil {
			return c, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, firstErr
}

// control runs just before each connect(2), with the numeric address.
func (g *guard) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrForbiddenTarget, address, err)
	}
	return g.allowed(ap.Addr())
}
