// Package certreload serves a TLS certificate from a pair of PEM files and picks up new
// files without a restart: cert-manager, a Kubernetes Secret update or an operator's `mv`
// replaces the files, and the next TLS handshake after the next check uses the new pair.
// Established connections keep the certificate they were made with and are not dropped.
//
// The files are checked on the handshake path, at most once per Options.Interval (1 s): a
// stat of each, and a read and parse only when one changed (inode, size or modification
// time). A pair that does not load, typically a rotation caught between writing the
// certificate and the key, is logged and the previous pair kept, and the next check tries
// again. No goroutine and no file watcher: nothing to stop.
//
// # Wiring (done by the node, not by this package)
//
// Edge (`--tls-cert`, `--tls-key`; both or neither):
//
//	certs, err := certreload.New(certFile, keyFile, certreload.Options{Logger: log})
//	srv.TLSConfig = certs.ServerConfig() // srv from httpserver.New
//	srv.ServeTLS(limitedListener, "", "")
//
// Peers: cluster.LoadPeerTLS uses a Source for the node's own certificate (see
// cluster/peer_security.go).
package certreload

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Options tunes a Source. The zero value is usable.
type Options struct {
	// Interval is the least time between two checks of the files; default DefaultInterval.
	Interval time.Duration
	// Now is the component's one clock; default time.Now.
	Now func() time.Time
	// Logger receives reloads (info) and pairs that failed to load (warn); nil discards.
	Logger *slog.Logger
}

// DefaultInterval is how often, at most, the files are checked.
const DefaultInterval = time.Second

// Source is a certificate and key loaded from files and reloaded when they change. Safe for
// concurrent use.
type Source struct {
	certFile, keyFile string
	interval          time.Duration
	now               func() time.Time
	log               *slog.Logger

	mu       sync.Mutex
	cert     *tls.Certificate
	certInfo os.FileInfo
	keyInfo  os.FileInfo
	certPEM  []byte
	keyPEM   []byte
	checked  time.Time
}

// New loads the pair once; an unreadable or mismatched pair is an error.
func New(certFile, keyFile string, opts Options) (*Source, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("certreload: both a certificate file and a key file are required")
	}
	if opts.Interval == 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Interval < 0 {
		return nil, errors.New("certreload: negative interval")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Source{certFile: certFile, keyFile: keyFile, interval: opts.Interval, now: opts.Now,
		log: opts.Logger.With("component", "tls", "cert_file", certFile)}
	if err := s.load(); err != nil {
		return nil, err
	}
	s.checked = s.now()
	return s, nil
}

// Certificate returns the current pair, first checking the files if the last check is at
// least Interval old.
func (s *Source) Certificate() *tls.Certificate {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now := s.now(); now.Sub(s.checked) >= s.interval {
		s.checked = now
		if s.changed() {
			if err := s.load(); err != nil {
				s.log.Warn("new certificate files do not load; keeping the previous pair", "err", err)
			} else {
				s.log.Info("certificate reloaded", "not_after", s.cert.Leaf.NotAfter)
			}
		}
	}
	return s.cert
}

// GetCertificate is for tls.Config.GetCertificate (servers).
func (s *Source) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return s.Certificate(), nil
}

// GetClientCertificate is for tls.Config.GetClientCertificate (clients of mutual TLS).
func (s *Source) GetClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return s.Certificate(), nil
}

// ServerConfig returns the edge's TLS configuration: TLS 1.2 or newer, HTTP/2 preferred
// over HTTP/1.1, certificates from s.
func (s *Source) ServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{"h2", "http/1.1"},
		GetCertificate: s.GetCertificate,
	}
}

// changed reports whether either file looks different from the loaded pair. A file that
// cannot be stat'ed counts as changed, so that the load reports why. The caller holds s.mu.
func (s *Source) changed() bool {
	ci, err1 := os.Stat(s.certFile)
	ki, err2 := os.Stat(s.keyFile)
	if err1 != nil || err2 != nil {
		return true
	}
	return !same(ci, s.certInfo) || !same(ki, s.keyInfo)
}

func same(a, b os.FileInfo) bool {
	return b != nil && os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// load reads and parses the pair and makes it current if it differs from the current one.
// The caller holds s.mu (or is New).
func (s *Source) load() error {
	ci, err := os.Stat(s.certFile)
	if err != nil {
		return fmt.Errorf("certreload: %w", err)
	}
	ki, err := os.Stat(s.keyFile)
	if err != nil {
		return fmt.Errorf("certreload: %w", err)
	}
	certPEM, err := os.ReadFile(s.certFile)
	if err != nil {
		return fmt.Errorf("certreload: %w", err)
	}
	keyPEM, err := os.ReadFile(s.keyFile)
	if err != nil {
		return fmt.Errorf("certreload: %w", err)
	}
	if s.cert != nil && bytes.Equal(certPEM, s.certPEM) && bytes.Equal(keyPEM, s.keyPEM) {
		s.certInfo, s.keyInfo = ci, ki // touched, not changed
		return nil
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("certreload: %s and %s: %w", s.certFile, s.keyFile, err)
	}
	s.cert, s.certPEM, s.keyPEM, s.certInfo, s.keyInfo = &cert, certPEM, keyPEM, ci, ki
	return nil
}
