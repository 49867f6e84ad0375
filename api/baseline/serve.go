package baseline

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// Server runs a handler on an address until Close.
type Server struct {
	srv       *http.Server
	ln        net.Listener
	done      chan struct{}
	serveErr  error
	closeOnce sync.Once
	closeErr  error
}

// shutdownTimeout bounds the graceful part of Close.
const shutdownTimeout = 5 * time.Second

// Serve listens on addr (host:port; port 0 picks a free one) and serves h there in the
// background until Close.
func Serve(addr string, h http.Handler) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("baseline: listen: %w", err)
	}
	s := &Server{
		srv:  &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute},
		ln:   ln,
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.serveErr = err
		}
	}()
	return s, nil
}

// Addr is the address the server listens on (host:port).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the server's base URL, "http://" + Addr().
func (s *Server) URL() string { return "http://" + s.Addr() }

// Close stops accepting connections, waits up to 5s for requests in flight, then closes the
// rest. It is safe to call twice.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		err := s.srv.Shutdown(ctx)
		if err != nil {
			err = errors.Join(err, s.srv.Close())
		}
		<-s.done
		s.closeErr = errors.Join(err, s.serveErr)
	})
	return s.closeErr
}
