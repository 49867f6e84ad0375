package cmd

import (
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/allot/allot/api"
	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/certreload"
	"github.com/allot/allot/api/httpserver"
)

// startEdge serves handler on Config.HTTPAddr through api/httpserver: the per-client-IP
// connection cap directly on the TCP listener (an over-cap connection is closed before a TLS
// handshake is spent on it), the server's timeouts and header cap, and, with --tls-cert and
// --tls-key, TLS from files that are reloaded when they change (api/certreload; TLS 1.2+,
// HTTP/2). Without TLS, hold requests are served on httpserver.Lean's fast path (unless
// --http-fast-path=false). It sets m.ln, m.srv and m.serveDone; Close shuts the server down.
func (m *Main) startEdge(handler http.Handler) error {
	tc := &m.Config.Transport
	hcfg := tc.httpServerConfig()
	hcfg.Registerer, hcfg.Logger = m.registry, m.Logger
	srv, err := httpserver.New(handler, hcfg)
	if err != nil {
		return fmt.Errorf("edge: %w", err)
	}
	// Each connection remembers the last bearer token verified on it (api/auth/connmemo.go):
	// a client's next request with the same token skips the verifier's shared cache.
	srv.ConnContext = auth.ConnContext
	if tc.edgeTLS() {
		certs, err := certreload.New(tc.TLSCert, tc.TLSKey, certreload.Options{Logger: m.Logger})
		if err != nil {
			return fmt.Errorf("edge TLS: %w", err)
		}
		srv.TLSConfig = certs.ServerConfig()
	}
	tcp, err := net.Listen("tcp", m.Config.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", m.Config.HTTPAddr, err)
	}
	ln, err := httpserver.Listen(tcp, hcfg)
	if err != nil {
		tcp.Close()
		return fmt.Errorf("edge: %w", err)
	}
	// Plain HTTP: the hold route on the fast path, the rest handed to srv (httpserver.Lean).
	var lean *httpserver.Lean
	if !tc.edgeTLS() && tc.EdgeFastPath {
		if lean, err = httpserver.NewLean(srv, hcfg, api.IsHotRoute); err != nil {
			tcp.Close()
			return fmt.Errorf("edge: %w", err)
		}
	}
	m.ln, m.srv, m.edgeLean, m.serveDone = tcp, srv, lean, make(chan struct{})
	go func() {
		defer close(m.serveDone)
		var err error
		switch {
		case tc.edgeTLS():
			err = srv.ServeTLS(ln, "", "") // certificates come from srv.TLSConfig
		case lean != nil:
			err = lean.Serve(ln) // returns once srv's Serve has and its own connections closed
		default:
			err = srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.Logger.Error("http serve", "err", err)
		}
	}()
	return nil
}

// edgeScheme is the edge's URL scheme.
func (m *Main) edgeScheme() string {
	if m.Config.Transport.edgeTLS() {
		return "https"
	}
	return "http"
}
