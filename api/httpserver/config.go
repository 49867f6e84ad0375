package httpserver

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ErrConfig is wrapped by every error returned for an unusable Config.
var ErrConfig = errors.New("httpserver: invalid config")

// Config bounds what one client can make the edge hold. Zero values are not defaults: start
// from DefaultConfig.
type Config struct {
	// ReadHeaderTimeout bounds reading a request's headers, from the first byte (or, on a
	// kept-alive connection, from the end of the previous answer).
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, headers and body. Bodies are at most
	// api.Config.MaxBodyBytes (64 KiB); 15 s lets a very slow mobile link (5 KB/s) send one.
	ReadTimeout time.Duration
	// WriteTimeout bounds handling a request and writing its answer, counted from the end of
	// its headers (HTTP/1.1; per stream on HTTP/2). It must exceed api.Config.RequestTimeout
	// (5 s) plus the time to send the largest answer (a hold list of a few hundred KB).
	WriteTimeout time.Duration
	// IdleTimeout closes a kept-alive connection that sends no new request.
	IdleTimeout time.Duration
	// MaxHeaderBytes caps request headers (a bearer token is at most 16 KiB).
	MaxHeaderBytes int
	// MaxConnsPerIP caps the open connections of one client address (IPv6: one
	// /IPv6PrefixLen); connections over it are closed at once. Generous, because a carrier's
	// NAT puts many users behind one address, but far below the file-descriptor limit. 0
	// means no cap.
	MaxConnsPerIP int
	// IPv6PrefixLen is how many leading bits of an IPv6 peer form its address for the cap.
	IPv6PrefixLen int
	// ExemptPeers are not capped: the trusted proxies (`--trusted-proxies`), whose
	// connections carry many clients.
	ExemptPeers []netip.Prefix
	// Registerer, if set, receives allot_http_connections_refused_total and
	// allot_http_connections_open.
	Registerer prometheus.Registerer
	// Logger receives net/http's own errors (TLS handshake failures, accept errors) at debug
	// level: scanners make them common and they say nothing about the node. nil discards.
	Logger *slog.Logger
}

// Defaults; see the fields for why.
const (
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 15 * time.Second
	DefaultWriteTimeout      = 20 * time.Second
	DefaultIdleTimeout       = 60 * time.Second
	DefaultMaxHeaderBytes    = 32 << 10
	DefaultMaxConnsPerIP     = 256
	DefaultIPv6PrefixLen     = 64
)

// DefaultConfig returns the defaults above.
func DefaultConfig() Config {
	return Config{
		ReadHeaderTimeout: DefaultReadHeaderTimeout,
		ReadTimeout:       DefaultReadTimeout,
		WriteTimeout:      DefaultWriteTimeout,
		IdleTimeout:       DefaultIdleTimeout,
		MaxHeaderBytes:    DefaultMaxHeaderBytes,
		MaxConnsPerIP:     DefaultMaxConnsPerIP,
		IPv6PrefixLen:     DefaultIPv6PrefixLen,
	}
}

// validate reports the first unusable field, wrapping ErrConfig. Every timeout is required:
// a zero timeout in net/http means none, which is what this package exists to prevent.
func (c *Config) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
	}
	switch {
	case c.ReadHeaderTimeout <= 0 || c.ReadTimeout <= 0 || c.WriteTimeout <= 0 || c.IdleTimeout <= 0:
		return bad("every timeout must be positive (read-header %v, read %v, write %v, idle %v)",
			c.ReadHeaderTimeout, c.ReadTimeout, c.WriteTimeout, c.IdleTimeout)
	case c.ReadHeaderTimeout > c.ReadTimeout:
		return bad("read-header timeout %v exceeds the read timeout %v", c.ReadHeaderTimeout, c.ReadTimeout)
	case c.MaxHeaderBytes < 4<<10:
		return bad("max header bytes %d: want at least 4096", c.MaxHeaderBytes)
	case c.MaxConnsPerIP < 0:
		return bad("max connections per IP must not be negative")
	case c.IPv6PrefixLen < 32 || c.IPv6PrefixLen > 128:
		return bad("IPv6 prefix length %d: want 32 to 128", c.IPv6PrefixLen)
	}
	for _, p := range c.ExemptPeers {
		if !p.IsValid() {
			return bad("exempt peer %v is not a valid prefix", p)
		}
	}
	return nil
}
