package httpserver

import (
	"fmt"
	"net"
	"net/netip"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Listener caps the concurrent connections of each client address. Accept closes an over-cap
// connection at once (with a reset, so the node keeps no TIME_WAIT state for it), counts it and
// waits for the next one; the cap counts a connection from Accept until its first Close. The
// client address is the TCP peer: behind a proxy it is the proxy's, which is why trusted
// proxies are exempt (Config.ExemptPeers). Safe for concurrent use.
type Listener struct {
	net.Listener
	max     int
	v6bits  int
	exempt  []netip.Prefix
	mu      sync.Mutex
	open    map[netip.Addr]int // capped key -> open connections
	refused prometheus.Counter
	gauge   prometheus.Gauge
}

// Listen wraps ln, the node's TCP listener, with cfg's per-IP cap and registers its metrics.
// It takes ownership of ln: closing the Listener closes ln.
func Listen(ln net.Listener, cfg Config) (*Listener, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	l := &Listener{
		Listener: ln,
		max:      cfg.MaxConnsPerIP,
		v6bits:   cfg.IPv6PrefixLen,
		open:     make(map[netip.Addr]int),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "allot_http_connections_refused_total",
			Help: "Edge connections closed on accept because their client address had MaxConnsPerIP open.",
		}),
		gauge: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "allot_http_connections_open",
			Help: "Edge connections open.",
		}),
	}
	for _, p := range cfg.ExemptPeers {
		l.exempt = append(l.exempt, netip.PrefixFrom(p.Addr().Unmap(), min(p.Bits(), p.Addr().Unmap().BitLen())).Masked())
	}
	if cfg.Registerer != nil {
		for _, c := range []prometheus.Collector{l.refused, l.gauge} {
			if err := cfg.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("httpserver: register metrics: %w", err)
			}
		}
	}
	return l, nil
}

// Accept returns the next connection within its address's cap. Errors are the inner
// listener's (net.ErrClosed after Close).
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key, capped := l.keyOf(c.RemoteAddr())
		if capped && !l.acquire(key) {
			// Counted before the close: whoever sees the connection refused sees it counted.
			l.refused.Inc()
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			_ = c.Close()
			continue
		}
		l.gauge.Inc()
		return &conn{Conn: c, l: l, key: key, capped: capped}, nil
	}
}

// Open returns how many connections are open for addr's key (for tests and debugging).
func (l *Listener) Open(addr netip.Addr) int {
	key, _ := l.keyOf(net.TCPAddrFromAddrPort(netip.AddrPortFrom(addr, 0)))
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open[key]
}

// keyOf is the capped key of a peer, and whether the cap applies to it.
func (l *Listener) keyOf(a net.Addr) (netip.Addr, bool) {
	ta, ok := a.(*net.TCPAddr)
	if !ok || l.max == 0 {
		return netip.Addr{}, false
	}
	ip := ta.AddrPort().Addr().Unmap()
	for _, p := range l.exempt {
		if p.Contains(ip) {
			return netip.Addr{}, false
		}
	}
	if ip.Is6() {
		if p, err := ip.Prefix(l.v6bits); err == nil {
			ip = p.Addr()
		}
	}
	return ip, true
}

func (l *Listener) acquire(key netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[key] >= l.max {
		return false
	}
	l.open[key]++
	return true
}

func (l *Listener) release(key netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := l.open[key] - 1; n > 0 {
		l.open[key] = n
	} else {
		delete(l.open, key) // the map holds only addresses with open connections
	}
}

// conn releases its place in the cap on its first Close.
type conn struct {
	net.Conn
	l      *Listener
	key    netip.Addr
	capped bool
	once   sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		if c.capped {
			c.l.release(c.key)
		}
		c.l.gauge.Dec()
	})
	return err
}
