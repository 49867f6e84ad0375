package cmd

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/allot/allot/api"
)

// adminServer is the admin listener (--admin-addr): Prometheus metrics and net/http/pprof,
// never reachable through the public HTTP edge. It has no authentication of its own: it binds
// loopback by default, and in a cluster only the pod network (Prometheus) should reach it.
type adminServer struct {
	ln   net.Listener
	srv  *http.Server
	done chan struct{}
}

// startAdmin listens on addr and serves metrics (from the edge's AdminHandler) and
// /debug/pprof/ there until close. Its handlers are on a mux of its own (not
// http.DefaultServeMux).
func startAdmin(addr string, metrics http.Handler, logger *slog.Logger) (*adminServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--admin-addr %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle(api.MetricsPath, metrics)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	a := &adminServer{ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, done: make(chan struct{})}
	go func() {
		defer close(a.done)
		if err := a.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("admin serve", "err", err)
		}
	}()
	logger.Info("admin listener serving", "addr", ln.Addr().String())
	return a, nil
}

// close stops the listener and ends its connections at once: a profile being taken (it may
// run for many seconds) must not hold up the node's shutdown. Safe to call twice.
func (a *adminServer) close() error {
	err := a.srv.Close()
	<-a.done
	if err != nil {
		return fmt.Errorf("admin close: %w", err)
	}
	return nil
}

// AdminURL is the base URL of the admin listener ("http://host:port"), valid after Run; ""
// when Config.AdminAddr is empty.
func (m *Main) AdminURL() string {
	if m.admin == nil {
		return ""
	}
	return "http://" + m.admin.ln.Addr().String()
}
