package webhooks

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
)

// mapResolver answers from a map; rebind, when set, answers instead from the second lookup of
// a host on (DNS rebinding).
type mapResolver struct {
	addrs  map[string][]netip.Addr
	rebind map[string][]netip.Addr
	calls  atomic.Int32
}

func (r *mapResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if r.calls.Add(1) > 1 && r.rebind[host] != nil {
		return r.rebind[host], nil
	}
	if a, ok := r.addrs[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func addrs(s ...string) []netip.Addr {
	var out []netip.Addr
	for _, x := range s {
		out = append(out, netip.MustParseAddr(x))
	}
	return out
}

func TestRegistrationRefusesNonPublicTargets(t *testing.T) {
	res := &mapResolver{addrs: map[string][]netip.Addr{
		"loopback.test":   addrs("127.0.0.1"),
		"mixed.test":      addrs("203.0.113.7", "10.0.0.8"),
		"public.test":     addrs("203.0.113.7", "2001:db8::1"),
		"metadata.test":   addrs("169.254.169.254"),
		"v6private.test":  addrs("fd00::1"),
		"mapped.test":     addrs("::ffff:192.168.1.1"),
		"carriernat.test": addrs("100.64.0.1"),
	}}
	h := newHarness(t, func(c *Config) { c.AllowPrivate = false; c.Resolver = res })
	ctx := context.Background()
	for _, u := range []string{
		"http://127.0.0.1/hook", "http://127.1.2.3:8080/", "http://10.1.2.3/", "http://172.16.0.1/", "http://192.168.0.1/",
		"http://169.254.169.254/latest/meta-data", "http://[::1]/", "http://[fe80::1]/", "http://0.0.0.0/",
		"http://[::]/", "http://[::ffff:127.0.0.1]/", "http://loopback.test/", "http://mixed.test/",
		"http://metadata.test/", "http://v6private.test/", "http://mapped.test/", "http://carriernat.test/",
		"http://224.0.0.1/", "http://unknown.test/",
		"ftp://public.test/", "/relative", "http://user:pw@public.test/", "http:///nohost",
	} {
		if _, _, err := h.d.CreateEndpoint(ctx, CreateRequest{URL: u, EventTypes: []string{"hold.placed"}}); err == nil {
			t.Errorf("%s was registered", u)
		}
	}
	if _, _, err := h.d.CreateEndpoint(ctx, CreateRequest{URL: "https://public.test/hooks", EventTypes: []string{"hold.placed"}}); err != nil {
		t.Fatalf("a public target was refused: %v", err)
	}
	if _, _, err := h.d.CreateEndpoint(ctx, CreateRequest{URL: "https://203.0.113.9/", EventTypes: []string{"hold.placed"}}); err != nil {
		t.Fatalf("a public address was refused: %v", err)
	}
}

func TestAllowPrivateAcceptsLoopback(t *testing.T) {
	h := newHarness(t, nil) // AllowPrivate
	if _, _, err := h.d.CreateEndpoint(context.Background(), CreateRequest{URL: "http://127.0.0.1:9/", EventTypes: []string{"hold.placed"}}); err != nil {
		t.Fatal(err)
	}
}

// TestDialRefusesRebindingToLoopback: the host resolved to a public address at registration
// and to the receiver's loopback address afterwards. The delivery is refused at dial time and
// the receiver sees nothing.
func TestDialRefusesRebindingToLoopback(t *testing.T) {
	rcv := newReceiver(t, nil)
	var conns atomic.Int32
	rcv.srv.Config.ConnState = func(net.Conn, http.ConnState) { conns.Add(1) }
	_, port, _ := net.SplitHostPort(rcv.srv.Listener.Addr().String())
	res := &mapResolver{addrs: map[string][]netip.Addr{"rebind.test": addrs("203.0.113.7")},
		rebind: map[string][]netip.Addr{"rebind.test": addrs("127.0.0.1")}}
	h := newHarness(t, func(c *Config) { c.AllowPrivate = false; c.Resolver = res })
	h.register(t, "http://rebind.test:"+port+"/hooks", "hold.placed")
	if err := h.d.Handle(context.Background(), event("hotel-1/7/0", "hold.placed", h.clock.Now())); err != nil {
		t.Fatal(err)
	}
	r := h.nextAttempt(t)
	if r.a.StatusCode != 0 || !strings.Contains(r.a.Error, "refused") || !strings.Contains(r.a.Error, "loopback") {
		t.Fatalf("attempt = %+v; want refused as loopback", r.a)
	}
	if n := conns.Load(); n != 0 {
		t.Fatalf("the receiver saw %d connections", n)
	}
}

// TestDialerControlRefusesWhatever: the last line of defence, the dialer's Control hook,
// refuses a non-public address however the dial was reached.
func TestDialerControlRefusesNonPublic(t *testing.T) {
	rcv := newReceiver(t, nil)
	g := newGuard(false, net.DefaultResolver, 0)
	_, err := g.dialer.DialContext(context.Background(), "tcp", rcv.srv.Listener.Addr().String())
	if !errors.Is(err, ErrForbiddenTarget) {
		t.Fatalf("dial 127.0.0.1: %v, want ErrForbiddenTarget", err)
	}
	// localhost resolves (from /etc/hosts) to loopback: refused before any dial.
	if _, err := g.dialContext(context.Background(), "tcp", "localhost:80"); !errors.Is(err, ErrForbiddenTarget) {
		t.Fatalf("dial localhost: %v, want ErrForbiddenTarget", err)
	}
	open := newGuard(true, net.DefaultResolver, 0)
	c, err := open.dialContext(context.Background(), "tcp", rcv.srv.Listener.Addr().String())
	if err != nil {
		t.Fatalf("allow-private dial: %v", err)
	}
	_ = c.Close()
}

func TestCheckAddr(t *testing.T) {
	for s, ok := range map[string]bool{
		"127.0.0.1": false, "10.0.0.1": false, "172.31.255.255": false, "192.168.1.1": false, "169.254.169.254": false,
		"0.0.0.0": false, "100.64.1.1": false, "255.255.255.255": false, "::1": false, "::": false, "fe80::1": false,
		"fc00::1": false, "ff02::1": false, "::ffff:10.0.0.1": false, "64:ff9b::a00:1": false,
		"8.8.8.8": true, "203.0.113.7": true, "2606:4700::1111": true, "172.32.0.1": true,
	} {
		if err := checkAddr(netip.MustParseAddr(s)); (err == nil) != ok {
			t.Errorf("checkAddr(%s) = %v, want allowed=%v", s, err, ok)
		}
	}
}
