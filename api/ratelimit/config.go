package ratelimit

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ErrConfig is wrapped by every error returned for an unusable Config.
var ErrConfig = errors.New("ratelimit: invalid config")

// Config configures the edge's rate limits. Zero values are not defaults: start from
// DefaultConfig and change what differs.
type Config struct {
	// Off disables every limit (`--rate-limits=off`), for trusted load tests only: the
	// middleware then passes every request and sets no headers.
	Off bool
	// Subject is the budget of each signed-in user (the token's subject), for all requests:
	// users behind one carrier NAT do not share it.
	Subject Limit
	// Anonymous is the budget of each client IP (IPv6: each /IPv6PrefixLen) for requests
	// without a token. Generous, because a carrier's NAT puts many browsing users behind one
	// address.
	Anonymous Limit
	// Holds is the extra, stricter budget for creating holds, per subject (per client IP for
	// a caller without a token, should the route ever allow one). A hold creation also spends
	// from Subject or Anonymous.
	Holds Limit
	// AuthFailures is the budget of refused tokens (401 answers to requests that sent one)
	// per client IP. A forged or expired token costs a signature check (about 100 µs) before
	// any other budget can apply, so an address whose tokens keep failing is refused with 429
	// before its tokens are checked, until it has earned a unit back.
	AuthFailures Limit
	// MaxKeys bounds the keys each of the four budgets remembers (about 40 bytes each);
	// beyond it idle keys are swept first, then arbitrary ones (see Limiter).
	MaxKeys int
	// TrustedProxies are the peers whose X-Forwarded-For is believed (`--trusted-proxies`):
	// the load balancers or ingress controllers in front of the node. Empty: the client IP
	// is always the TCP peer.
	TrustedProxies []netip.Prefix
	// IPv6PrefixLen is how many leading bits of an IPv6 client address form its key: one
	// subscriber usually gets a whole /64, so counting single addresses would let one client
	// rotate through 2^64 budgets.
	IPv6PrefixLen int
	// Registerer, if set, receives allot_ratelimit_refused_total{policy} and
	// allot_ratelimit_evicted_active_total{policy}.
	Registerer prometheus.Registerer
	// Now is the component's one clock.
	Now func() time.Time
}

// Defaults. A signed-in app makes a handful of requests per screen; 20 per second with a
// burst of 40 never stops a person and stops a script after a few seconds. Hold creation is
// what scalping bots hammer: 2 per second, 5 at once, per user.
var (
	DefaultSubject   = Limit{Count: 20, Period: time.Second, Burst: 40}
	DefaultAnonymous = Limit{Count: 50, Period: time.Second, Burst: 100}
	DefaultHolds     = Limit{Count: 2, Period: time.Second, Burst: 5}
	// A client with a stale token fails once, refreshes and retries; 5 failures a second
	// with 20 at once leaves room for many such clients behind one NAT.
	DefaultAuthFailures = Limit{Count: 5, Period: time.Second, Burst: 20}
)

const (
	DefaultMaxKeys       = 200_000
	DefaultIPv6PrefixLen = 64
)

// DefaultConfig returns limits on, with the defaults above and no trusted proxy.
func DefaultConfig() Config {
	return Config{
		Subject:       DefaultSubject,
		Anonymous:     DefaultAnonymous,
		Holds:         DefaultHolds,
		AuthFailures:  DefaultAuthFailures,
		MaxKeys:       DefaultMaxKeys,
		IPv6PrefixLen: DefaultIPv6PrefixLen,
		Now:           time.Now,
	}
}

// validate reports the first unusable field, wrapping ErrConfig. Budgets are checked even
// when Off, so that turning limits on later cannot fail.
func (c *Config) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
	}
	for _, b := range []struct {
		name string
		l    Limit
	}{{"subject", c.Subject}, {"anonymous", c.Anonymous}, {"holds", c.Holds}, {"auth failures", c.AuthFailures}} {
		if err := b.l.validate(); err != nil {
			return bad("%s limit: %v", b.name, err)
		}
	}
	switch {
	case c.MaxKeys < numShards:
		return bad("max keys %d: want at least %d", c.MaxKeys, numShards)
	case c.IPv6PrefixLen < 32 || c.IPv6PrefixLen > 128:
		return bad("IPv6 prefix length %d: want 32 to 128", c.IPv6PrefixLen)
	case c.Now == nil:
		return bad("a clock is required")
	}
	for _, p := range c.TrustedProxies {
		if !p.IsValid() {
			return bad("trusted proxy %v is not a valid prefix", p)
		}
	}
	return nil
}

// ParsePrefixes reads a `--trusted-proxies` value: comma-separated CIDR prefixes or single
// addresses ("10.0.0.0/8,192.168.1.7,fd00::/8"). Empty gives none.
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if strings.Contains(f, "/") {
			p, err := netip.ParsePrefix(f)
			if err != nil {
				return nil, fmt.Errorf("trusted proxies: %w", err)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("trusted proxies: %w", err)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
