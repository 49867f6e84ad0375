package pgtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ErrUnsupported is returned by Stop, Start and Crash of a server given by ALLOT_TEST_DB_URL.
var ErrUnsupported = errors.New("pgtest: an external server (ALLOT_TEST_DB_URL) cannot be stopped or started")

const (
	startTimeout = 60 * time.Second // initdb or a start, crash recovery included
	stopTimeout  = 60 * time.Second // before SIGKILL
	adminTimeout = 60 * time.Second // CREATE/DROP DATABASE
	readyLine    = "database system is ready to accept connections"
	tempPattern  = "allot-pgtest-"
	ownerFile    = "owner.pid"
)

// Server is a PostgreSQL server for tests: a local throwaway one in a temporary directory,
// or, when ALLOT_TEST_DB_URL is set, the server at that URL. Its methods are safe for
// concurrent use.
//
// A local server listens on 127.0.0.1 only (plus Options.ListenAddr when one was given), on a
// port picked when it was created, with its unix socket in its own directory. It runs with fsync on, default_transaction_isolation
// serializable, max_connections 200 and shared_buffers 32MB. It cannot outlive the test
// binary: postgres gets SIGQUIT when the binary dies (PR_SET_PDEATHSIG), postgres itself shuts
// down within a minute when its data directory disappears, and the next server started on
// the machine removes directories (and stops servers) whose test binary is gone.
type Server struct {
	external string // base URL of an external server; "" for a local one

	bins binaries
	cred *syscall.Credential
	dir  string // owner.pid, server.log, data/, the unix socket
	port int
	opts Options

	mu   sync.Mutex
	proc *process // nil when stopped

	dbSeq atomic.Int64
}

// process is one run of postgres.
type process struct {
	cmd    *exec.Cmd
	ready  chan struct{} // closed when postgres logged that it accepts connections
	done   chan struct{} // closed when postgres exited and its output was drained
	exited chan struct{} // closed when the postmaster exited
}

// newLocalServer runs initdb into a new temporary directory and starts postgres on it.
func newLocalServer() (*Server, error) { return newLocalServerWith(Options{}) }

// newLocalServerWith is newLocalServer with options (already validated).
func newLocalServerWith(opts Options) (*Server, error) {
	bins, err := findBinaries()
	if err != nil {
		return nil, err
	}
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	removeOrphans(os.TempDir())
	dir, err := os.MkdirTemp("", tempPattern)
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	s := &Server{bins: bins, cred: cred, dir: dir, opts: opts}
	if err := s.init(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if err := s.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

func (s *Server) init() error {
	if err := os.WriteFile(filepath.Join(s.dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	if s.cred != nil {
		if err := os.Chown(s.dir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			return fmt.Errorf("pgtest: hand %s to user postgres: %w", s.dir, err)
		}
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	s.port = port
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.bins.initdb, "-D", s.dataDir(), "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
	s.prepare(cmd)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pgtest: initdb: %w\n%s", err, out)
	}
	return s.trustNetwork()
}

// trustNetwork lets clients from Options.TrustCIDR in without a password, as initdb -A trust
// does for 127.0.0.1.
func (s *Server) trustNetwork() error {
	if s.opts.TrustCIDR == "" {
		return nil
	}
	f, err := os.OpenFile(filepath.Join(s.dataDir(), "pg_hba.conf"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	_, err = fmt.Fprintf(f, "host all all %s trust\n", s.opts.TrustCIDR)
	return errors.Join(err, f.Close())
}

// prepare sets the identity, directory and environment of initdb and postgres.
func (s *Server) prepare(cmd *exec.Cmd) {
	cmd.Dir = s.dir
	cmd.Env = []string{"LC_ALL=C", "LANG=C", "PATH=/usr/bin:/bin", "HOME=" + s.dir}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: s.cred,
		Setpgid:    true, // a ^C to the test binary must not reach postgres before Main stops it
	}
}

func (s *Server) dataDir() string { return filepath.Join(s.dir, "data") }

func (s *Server) listenAddresses() string {
	if s.opts.ListenAddr == "" {
		return "127.0.0.1"
	}
	return "127.0.0.1," + s.opts.ListenAddr
}

// host is the address URL names: Options.ListenAddr when given, else 127.0.0.1.
func (s *Server) host() string {
	if s.opts.ListenAddr == "" {
		return "127.0.0.1"
	}
	return s.opts.ListenAddr
}

// LogPath is the file postgres logs to (local servers only).
func (s *Server) LogPath() string { return filepath.Join(s.dir, "server.log") }

// Port is the TCP port of a local server (0 for an external one).
func (s *Server) Port() int { return s.port }

// External reports whether the server was given by ALLOT_TEST_DB_URL.
func (s *Server) External() bool { return s.external != "" }

// PostmasterPID is the pid of a local server's running postmaster; its backends are its
// children, which benchmarks read the CPU time of. ok is false for an external server or a
// stopped one.
func (s *Server) PostmasterPID() (pid int, ok bool) {
	if s.External() {
		return 0, false
	}
	return postmasterPID(s.dataDir())
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: pick a port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start starts a stopped local server on its port and data directory (after a crash, postgres
// replays its WAL first), and returns once it accepts connections. It fails if the server is
// running.
func (s *Server) Start() error {
	if s.External() {
		return ErrUnsupported
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		select {
		case <-s.proc.done:
			s.proc = nil // it died by itself
		default:
			return errors.New("pgtest: server is already running")
		}
	}
	logf, err := os.OpenFile(s.LogPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		logf.Close()
		return fmt.Errorf("pgtest: %w", err)
	}
	cmd := exec.Command(s.bins.postgres, "-D", s.dataDir(), "-p", strconv.Itoa(s.port),
		"-c", "listen_addresses="+s.listenAddresses(),
		"-c", "unix_socket_directories="+s.dir,
		"-c", "default_transaction_isolation=serializable",
		"-c", "fsync=on",
		"-c", "synchronous_commit=on",
		"-c", "full_page_writes=on",
		"-c", "max_connections=200",
		"-c", "shared_buffers=32MB",
		"-c", "lc_messages=C",
		"-c", "logging_collector=off",
		"-c", "log_min_messages=warning",
	)
	s.prepare(cmd)
	// postgres gets SIGQUIT (immediate shutdown) when the thread that started it dies; the
	// thread is pinned below until postgres has exited, so that is when the test binary dies.
	cmd.SysProcAttr.Pdeathsig = syscall.SIGQUIT
	cmd.Stdout = w
	cmd.Stderr = w
	p := &process{cmd: cmd, ready: make(chan struct{}), done: make(chan struct{}), exited: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Unlocked once postgres has exited, so that the thread lives on: a goroutine that
		// exits locked ends its thread, and Linux then sends the parent-death signal to
		// every child that thread ever started, also processes other code of the test
		// binary forked on it before it was locked here (e.g. cluster nodes).
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			close(p.exited)
			return
		}
		started <- nil
		_ = cmd.Wait()
		close(p.exited)
	}()
	err = <-started
	w.Close()
	go drain(r, logf, p)
	if err != nil {
		<-p.done
		return fmt.Errorf("pgtest: start postgres: %w", err)
	}
	select {
	case <-p.ready:
		s.proc = p
		return nil
	case <-p.done:
		return fmt.Errorf("pgtest: postgres exited during start-up; log %s:\n%s", s.LogPath(), s.logTail())
	case <-time.After(startTimeout):
		_ = cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("pgtest: postgres not ready after %s; log %s:\n%s", startTimeout, s.LogPath(), s.logTail())
	}
}

// drain copies postgres's output (which its children inherit) to the log, closes ready on the
// ready line, and closes done when the output ends and the postmaster has exited.
func drain(r *os.File, logf *os.File, p *process) {
	defer close(p.done)
	defer logf.Close()
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	isReady := false
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(logf, line)
		if !isReady && strings.Contains(line, readyLine) {
			isReady = true
			close(p.ready)
		}
	}
	<-p.exited
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(s.LogPath())
	const n = 4000
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// Stop shuts a local server down cleanly (fast shutdown: sessions are ended, a checkpoint is
// written). Stopping a stopped server does nothing.
func (s *Server) Stop() error { return s.shutdown(syscall.SIGINT) }

// Crash stops a local server the way a power cut would look to the database: immediate
// shutdown, no checkpoint; the next Start recovers from the WAL.
func (s *Server) Crash() error { return s.shutdown(syscall.SIGQUIT) }

func (s *Server) shutdown(sig syscall.Signal) error {
	if s.External() {
		return ErrUnsupported
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.proc
	if p == nil {
		return nil
	}
	s.proc = nil
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return nil
	case <-time.After(stopTimeout):
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
	return fmt.Errorf("pgtest: postgres did not stop within %s and was killed", stopTimeout)
}

// running reports whether a local server is up.
func (s *Server) running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return false
	}
	select {
	case <-s.proc.done:
		return false
	default:
		return true
	}
}

// remove stops a local server and deletes its directory.
func (s *Server) remove() error {
	if s.External() {
		return nil
	}
	err := s.Stop()
	return errors.Join(err, os.RemoveAll(s.dir))
}

// URL returns the postgresql:// URL of database db on this server.
func (s *Server) URL(db string) string {
	if s.External() {
		u, err := url.Parse(s.external)
		if err != nil {
			return s.external // validated when the server was set up
		}
		u.Path = "/" + db
		u.RawPath = ""
		return u.String()
	}
	return fmt.Sprintf("postgresql://postgres@%s/%s?sslmode=disable", net.JoinHostPort(s.host(), strconv.Itoa(s.port)), url.PathEscape(db))
}

func (s *Server) adminURL() string {
	if s.External() {
		return s.external
	}
	return s.URL("postgres")
}

// MustDatabase creates a database with a unique name and returns its URL. The database is
// dropped when tb ends (connections still open are ended first).
func (s *Server) MustDatabase(tb testing.TB) string {
	tb.Helper()
	name := fmt.Sprintf("allot_%s_%d_%d", sanitize(tb.Name()), os.Getpid(), s.dbSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	if err := s.exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		tb.Fatalf("pgtest: create database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		if err := s.dropDatabase(name); err != nil {
			tb.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return s.URL(name)
}

func (s *Server) dropDatabase(name string) error {
	if !s.External() && !s.running() {
		return nil // stopped on purpose by the test; its directory goes with the server
	}
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	id := pgx.Identifier{name}.Sanitize()
	if !s.External() {
		return s.exec(ctx, "DROP DATABASE IF EXISTS "+id+" WITH (FORCE)")
	}
	// CockroachDB spells it CASCADE; PostgreSQL 13+ spells it WITH (FORCE).
	err := s.exec(ctx, "DROP DATABASE IF EXISTS "+id+" CASCADE")
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42601" {
		err = s.exec(ctx, "DROP DATABASE IF EXISTS "+id+" WITH (FORCE)")
	}
	return err
}

func (s *Server) exec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, s.adminURL())
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// sanitize turns a test name into at most 24 characters of [a-z0-9_].
func sanitize(name string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(name) {
		if b.Len() >= 24 {
			break
		}
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}
