// Package httpserver builds the edge's *http.Server with timeouts and header limits, and a
// net.Listener that caps concurrent connections per client IP, so that slow or idle clients
// cannot pin a node (issue 11, hardening: slow-body, never-reading and connection-flood
// clients held file descriptors until /healthz stopped answering).
//
// # Wiring (done by the node, not by this package)
//
// In cmd's Main, replacing the hand-built http.Server:
//
//	hcfg := httpserver.DefaultConfig()
//	hcfg.MaxConnsPerIP = flagMaxConnsPerIP        // --max-conns-per-ip (default 256)
//	hcfg.ExemptPeers = rateLimitCfg.TrustedProxies // --trusted-proxies: a proxy's many
//	                                               // clients share its address
//	hcfg.Registerer, hcfg.Logger = reg, log
//	ln, err := net.Listen("tcp", cfg.HTTPAddr)
//	lln, err := httpserver.Listen(ln, hcfg)        // cap per client IP, before any TLS
//	srv, err := httpserver.New(handler, hcfg)
//	if tlsOn {                                     // --tls-cert, --tls-key
//	    certs, err := certreload.New(certFile, keyFile, certreload.Options{})
//	    srv.TLSConfig = certs.ServerConfig()       // TLS 1.2+, h2 and http/1.1
//	    go srv.ServeTLS(lln, "", "")
//	} else {
//	    go srv.Serve(lln)
//	}
//
// The node does this in cmd/edge.go, from the flags of cmd.TransportConfig. Without TLS it
// serves lln through Lean instead of srv.Serve (--http-fast-path, default on): the hold
// routes' requests of one strict HTTP/1.1 form on a lean fast path, every other request and
// connection handed to srv unread (lean.go documents the form, the limits and what differs).
// The package's tests run twice, the second time through Lean, and TestLeanParity compares
// the two servers' answers byte for byte on smuggling and malformed requests.
//
// # Streams (Server-Sent Events)
//
// WriteTimeout is a deadline on the connection (per stream on HTTP/2), set when a request's
// headers have been read: it cuts any answer still being written after it, however healthy.
// A streaming handler must therefore manage its own deadline, before the first write and
// then before each event or heartbeat:
//
//	rc := http.NewResponseController(w)
//	_ = rc.SetWriteDeadline(time.Now().Add(heartbeat + WriteTimeout)) // per write
//	... write the event, rc.Flush() ...
//
// (a zero time.Time clears the deadline; prefer a rolling one, so that a client that stops
// reading is still cut). The server default then keeps protecting every other route.
//
// The limit listener must be the innermost wrapper (directly on the TCP listener) so that an
// over-cap connection is closed before a TLS handshake is spent on it. Shut down with
// srv.Shutdown, which closes the listener.
package httpserver
