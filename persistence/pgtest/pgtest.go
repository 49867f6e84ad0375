// Package pgtest starts throwaway PostgreSQL servers for tests.
//
// A test binary that uses MustServer calls Main from its TestMain, so that the shared server is
// stopped and its directory removed when the tests end:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestX(t *testing.T) {
//		url := pgtest.MustServer(t).MustDatabase(t)
//		...
//	}
//
// Binaries are looked up in /usr/lib/postgresql/*/bin (15 preferred) and then PATH. When none
// is installed, tests skip, unless the environment variable CI is set: then they fail. When
// ALLOT_TEST_DB_URL is set (for example a CockroachDB node,
// postgresql://root@127.0.0.1:26257/defaultdb?sslmode=disable), MustServer returns that server
// and MustDatabase creates databases on it; it cannot be stopped or started, so MustNewServer
// skips.
//
// Running as root, initdb and postgres run as the system user postgres, which must exist.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the environment variable that points the tests at an existing server.
const EnvURL = "ALLOT_TEST_DB_URL"

// shared is the one server per test binary behind MustServer. It is package state on purpose:
// that server is shared by every test of the binary, and Main stops it.
var shared struct {
	mu      sync.Mutex // held through start-up: later callers wait for the first
	started bool
	srv     *Server
	err     error
}

// MustServer returns the test binary's shared server, starting it on first use. Call Main from
// TestMain so that it is stopped when the tests end. It skips tb when no PostgreSQL is
// installed and CI is empty, and fails tb when the server cannot be started.
func MustServer(tb testing.TB) *Server {
	tb.Helper()
	shared.mu.Lock()
	if !shared.started {
		shared.started = true
		shared.srv, shared.err = newServer()
	}
	srv, err := shared.srv, shared.err
	shared.mu.Unlock()
	if err != nil {
		fail(tb, err)
	}
	return srv
}

// MustNewServer starts a dedicated local server, stopped and removed when tb ends. Tests that
// stop, crash or restart the database use it. It skips when ALLOT_TEST_DB_URL is set.
func MustNewServer(tb testing.TB) *Server {
	tb.Helper()
	return MustNewServerWith(tb, Options{})
}

// Options configure a dedicated server started by MustNewServerWith. The zero value is what
// MustNewServer uses.
type Options struct {
	// ListenAddr is an IP address the server listens on besides 127.0.0.1, for clients in
	// other network namespaces (for example the address of a bridge a test created). URL
	// then names this address. The address must exist when the server starts.
	ListenAddr string
	// TrustCIDR admits clients from this network without a password (pg_hba "trust"), as
	// initdb -A trust does for 127.0.0.1, e.g. "10.213.7.0/24". Required with ListenAddr.
	TrustCIDR string
}

func (o Options) validate() error {
	if o.ListenAddr == "" && o.TrustCIDR == "" {
		return nil
	}
	if ip := net.ParseIP(o.ListenAddr); ip == nil || ip.To4() == nil {
		return fmt.Errorf("pgtest: ListenAddr %q is not an IPv4 address", o.ListenAddr)
	}
	if _, _, err := net.ParseCIDR(o.TrustCIDR); err != nil {
		return fmt.Errorf("pgtest: TrustCIDR %q: %w", o.TrustCIDR, err)
	}
	return nil
}

// MustNewServerWith is MustNewServer with options.
func MustNewServerWith(tb testing.TB, opts Options) *Server {
	tb.Helper()
	if os.Getenv(EnvURL) != "" {
		tb.Skipf("pgtest: this test stops and starts its own PostgreSQL; %s points at an external server", EnvURL)
	}
	if err := opts.validate(); err != nil {
		tb.Fatal(err)
	}
	s, err := newLocalServerWith(opts)
	if err != nil {
		fail(tb, err)
	}
	tb.Cleanup(func() {
		if err := s.remove(); err != nil {
			tb.Errorf("pgtest: %v", err)
		}
	})
	return s
}

// Main runs the tests, then stops the shared server, removes its directory and exits with the
// tests' status.
func Main(m *testing.M) {
	code := m.Run()
	shared.mu.Lock()
	if shared.srv != nil {
		if err := shared.srv.remove(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
			if code == 0 {
				code = 1
			}
		}
		shared.srv = nil
	}
	shared.mu.Unlock()
	os.Exit(code)
}

func newServer() (*Server, error) {
	raw := os.Getenv(EnvURL)
	if raw == "" {
		return newLocalServer()
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, fmt.Errorf("pgtest: %s must be a postgresql:// URL", EnvURL)
	}
	s := &Server{external: raw}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("pgtest: connect to %s: %w", EnvURL, err)
	}
	_ = conn.Close(ctx)
	return s, nil
}

func fail(tb testing.TB, err error) {
	tb.Helper()
	if errors.Is(err, errNotInstalled) && os.Getenv("CI") == "" {
		tb.Skipf("pgtest: %v", err)
	}
	tb.Fatalf("pgtest: %v", err)
}
