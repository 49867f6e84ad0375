package cmd

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// pprofServer serves net/http/pprof on its own listener (--pprof-addr), so that profiling is
// never reachable through the public HTTP edge. It is off by default; `make bench` turns it on
// to profile a node under load.
type pprofServer struct {
	ln   net.Listener
	srv  *http.Server
	done chan struct{}
}

// startPprof listens on addr and serves /debug/pprof/ there until close. Its handlers are
// registered on a mux of its own (not http.DefaultServeMux).
func startPprof(addr string, logger *slog.Logger) (*pprofServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--pprof-addr %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	p := &pprofServer{ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		if err := p.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("pprof serve", "err", err)
		}
	}()
	logger.Info("pprof serving", "addr", ln.Addr().String())
	return p, nil
}

// close stops the listener and ends its connections at once: a profile being taken (it may
// run for many seconds) must not hold up the node's shutdown.
func (p *pprofServer) close() error {
	err := p.srv.Close()
	<-p.done
	if err != nil {
		return fmt.Errorf("pprof close: %w", err)
	}
	return nil
}

// PprofURL is the base URL of the pprof listener ("http://host:port"), valid after Run; ""
// when Config.PprofAddr is empty.
func (m *Main) PprofURL() string {
	if m.pprof == nil {
		return ""
	}
	return "http://" + m.pprof.ln.Addr().String()
}
