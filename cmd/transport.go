package cmd

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/allot/allot/api/httpserver"
	"github.com/allot/allot/api/ratelimit"
)

// TransportConfig is the node's transport security and edge limits (issue 11): the HTTP
// server's timeouts and connection cap (api/httpserver), edge TLS (api/certreload), gossip
// encryption and the actor remote's mutual TLS (cluster/peer_security.go). A part of
// NodeConfig (field Transport) with its own defaults, flags and validate, so that the node's
// one place of defaults stays DefaultNodeConfig.
//
// Secrets come only from files named here (mounted Secrets), never from flag values or
// defaults; every key file must be mode 0600 or 0400.
type TransportConfig struct {
	// HTTPReadHeaderTimeout, HTTPReadTimeout, HTTPWriteTimeout and HTTPIdleTimeout are the
	// edge server's timeouts (httpserver.Config documents each). The write timeout is
	// counted from the end of a request's headers and cuts any answer still being written
	// after it, streams included: a streaming handler (Server-Sent Events) must extend its
	// own deadline before each write, with
	// http.NewResponseController(w).SetWriteDeadline(time.Now().Add(d)) (or clear it with a
	// zero time.Time while it sends heartbeats), so that this default does not cut streams.
	HTTPReadHeaderTimeout time.Duration
	HTTPReadTimeout       time.Duration
	HTTPWriteTimeout      time.Duration
	HTTPIdleTimeout       time.Duration
	// HTTPMaxHeaderBytes caps a request's headers.
	HTTPMaxHeaderBytes int
	// MaxConnsPerIP caps the open edge connections of one client address (0: no cap);
	// TrustedProxies are exempt.
	MaxConnsPerIP int
	// TrustedProxies are the reverse proxies and load balancers in front of the edge
	// (CIDRs or addresses): exempt from MaxConnsPerIP, and the only peers whose
	// X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// EdgeFastPath serves the hot routes of a plain-HTTP edge (api.IsHotRoute: the POSTs that
	// create, confirm, cancel and extend holds) on httpserver.Lean's fast path, every other
	// request and connection on net/http (issue 17, round 15). With TLS the edge is
	// net/http's whatever this says. On by default again since round 16: the chaos campaign's
	// slow runs, which had made it opt-in, happen with it off too (docs/PERFORMANCE.md).
	EdgeFastPath bool
	// TLSCert and TLSKey, both or neither, serve the edge over TLS (1.2+, HTTP/2), reloading
	// the pair when the files change.
	TLSCert, TLSKey string
	// GossipKeyFile holds the gossip encryption key ring: one base64 key (16, 24 or 32
	// bytes) a line, the first encrypts, all decrypt. It is re-read when it changes
	// (KeyReloadInterval), so keys rotate without a restart (docs/OPERATIONS.md).
	GossipKeyFile string
	// PeerCA, PeerCert and PeerKey, all three or none, put the actor remote between nodes on
	// mutual TLS 1.3: only certificates the CA issued (DNS name allot-peer, server and client
	// auth) are served and dialled. The certificate and key are reloaded when they change.
	PeerCA, PeerCert, PeerKey string
	// InsecurePeers lets a cluster member whose gossip or remote is reachable beyond
	// loopback run without gossip encryption or without peer mutual TLS. Without it such a
	// node refuses to start (on loopback it only warns).
	InsecurePeers bool
}

// DefaultKeyReloadInterval is how often a node checks --gossip-key-file for a change: a
// Kubernetes Secret update reaches the pod within about a minute, so this adds little.
const DefaultKeyReloadInterval = 10 * time.Second

// DefaultTransportConfig returns the edge limits of httpserver.DefaultConfig and no TLS.
func DefaultTransportConfig() TransportConfig {
	h := httpserver.DefaultConfig()
	return TransportConfig{
		HTTPReadHeaderTimeout: h.ReadHeaderTimeout,
		HTTPReadTimeout:       h.ReadTimeout,
		HTTPWriteTimeout:      h.WriteTimeout,
		HTTPIdleTimeout:       h.IdleTimeout,
		HTTPMaxHeaderBytes:    h.MaxHeaderBytes,
		MaxConnsPerIP:         h.MaxConnsPerIP,
		EdgeFastPath:          true,
	}
}

// prefixList is the --trusted-proxies flag.
type prefixList struct{ p *[]netip.Prefix }

func (l prefixList) String() string {
	if l.p == nil {
		return ""
	}
	var s []string
	for _, p := range *l.p {
		s = append(s, p.String())
	}
	return strings.Join(s, ",")
}

func (l prefixList) Set(s string) error {
	p, err := ratelimit.ParsePrefixes(s)
	if err != nil {
		return err
	}
	*l.p = p
	return nil
}

// registerFlags registers the transport flags on fs, with c's current values as defaults.
func (c *TransportConfig) registerFlags(fs *flag.FlagSet) {
	fs.DurationVar(&c.HTTPReadHeaderTimeout, "http-read-header-timeout", c.HTTPReadHeaderTimeout, "edge: time to read a request's headers")
	fs.DurationVar(&c.HTTPReadTimeout, "http-read-timeout", c.HTTPReadTimeout, "edge: time to read a whole request, body included")
	fs.DurationVar(&c.HTTPWriteTimeout, "http-write-timeout", c.HTTPWriteTimeout, "edge: time to handle a request and write its answer (streams extend their own deadline)")
	fs.DurationVar(&c.HTTPIdleTimeout, "http-idle-timeout", c.HTTPIdleTimeout, "edge: close a kept-alive connection idle this long")
	fs.IntVar(&c.HTTPMaxHeaderBytes, "http-max-header-bytes", c.HTTPMaxHeaderBytes, "edge: largest request header block in bytes")
	fs.IntVar(&c.MaxConnsPerIP, "max-conns-per-ip", c.MaxConnsPerIP, "edge: open connections per client IP (IPv6: per /64); 0: no cap")
	fs.Var(prefixList{&c.TrustedProxies}, "trusted-proxies", "comma-separated CIDRs of proxies in front of the edge: exempt from --max-conns-per-ip, their X-Forwarded-For believed")
	fs.BoolVar(&c.EdgeFastPath, "http-fast-path", c.EdgeFastPath, "edge: serve plain-HTTP hold requests on the lean HTTP/1.1 fast path (everything else, and TLS, on net/http)")
	fs.StringVar(&c.TLSCert, "tls-cert", c.TLSCert, "edge TLS certificate file (PEM, with --tls-key); reloaded when it changes")
	fs.StringVar(&c.TLSKey, "tls-key", c.TLSKey, "edge TLS private key file (PEM, mode 0600)")
	fs.StringVar(&c.GossipKeyFile, "gossip-key-file", c.GossipKeyFile, "gossip key ring file: base64 keys one a line, first encrypts, all decrypt; reloaded when it changes")
	fs.StringVar(&c.PeerCA, "peer-ca", c.PeerCA, "cluster CA certificate(s) (PEM) for mutual TLS between nodes (with --peer-cert, --peer-key)")
	fs.StringVar(&c.PeerCert, "peer-cert", c.PeerCert, "this node's peer certificate (PEM; DNS name allot-peer, server and client auth)")
	fs.StringVar(&c.PeerKey, "peer-key", c.PeerKey, "this node's peer private key (PEM, mode 0600)")
	fs.BoolVar(&c.InsecurePeers, "insecure-peers", c.InsecurePeers, "let a cluster member reachable beyond loopback run without gossip encryption or peer mTLS")
}

func (c *TransportConfig) validate() error {
	switch {
	case c.HTTPReadHeaderTimeout <= 0 || c.HTTPReadTimeout <= 0 || c.HTTPWriteTimeout <= 0 || c.HTTPIdleTimeout <= 0:
		return errors.New("--http-read-header-timeout, --http-read-timeout, --http-write-timeout and --http-idle-timeout must be positive")
	case c.HTTPReadHeaderTimeout > c.HTTPReadTimeout:
		return errors.New("--http-read-header-timeout must not exceed --http-read-timeout")
	case c.HTTPMaxHeaderBytes < 4<<10:
		return errors.New("--http-max-header-bytes must be at least 4096")
	case c.MaxConnsPerIP < 0:
		return errors.New("--max-conns-per-ip must not be negative")
	case (c.TLSCert == "") != (c.TLSKey == ""):
		return errors.New("--tls-cert and --tls-key go together")
	case !(c.PeerCA == "" && c.PeerCert == "" && c.PeerKey == "") && !(c.PeerCA != "" && c.PeerCert != "" && c.PeerKey != ""):
		return errors.New("--peer-ca, --peer-cert and --peer-key go together")
	}
	return nil
}

// httpServerConfig is the edge's httpserver.Config.
func (c *TransportConfig) httpServerConfig() httpserver.Config {
	h := httpserver.DefaultConfig()
	h.ReadHeaderTimeout, h.ReadTimeout = c.HTTPReadHeaderTimeout, c.HTTPReadTimeout
	h.WriteTimeout, h.IdleTimeout = c.HTTPWriteTimeout, c.HTTPIdleTimeout
	h.MaxHeaderBytes = c.HTTPMaxHeaderBytes
	h.MaxConnsPerIP = c.MaxConnsPerIP
	h.ExemptPeers = c.TrustedProxies
	return h
}

// edgeTLS reports whether the edge serves TLS.
func (c *TransportConfig) edgeTLS() bool { return c.TLSCert != "" }

// peerTLS reports whether the actor remote runs mutual TLS.
func (c *TransportConfig) peerTLS() bool { return c.PeerCA != "" }

// loopbackOnly reports whether every host given is a loopback address or name; an empty
// host (all interfaces) is not.
func loopbackOnly(hosts ...string) bool {
	for _, h := range hosts {
		if h == "localhost" {
			continue
		}
		if ip := net.ParseIP(h); ip == nil || !ip.IsLoopback() {
			return false
		}
	}
	return true
}

// errInsecurePeers explains the refusal of an exposed cluster member without peer security.
func errInsecurePeers(missing string, hosts []string) error {
	return fmt.Errorf("a cluster member reachable at %v needs %s (docs/OPERATIONS.md, \"Security between nodes\"), or --insecure-peers to run without", hosts, missing)
}
