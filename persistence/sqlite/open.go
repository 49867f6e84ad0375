// Package sqlite is the persistence.Store on one SQLite file (modernc.org/sqlite, pure Go).
//
// Durability: the file runs in WAL mode with synchronous=FULL, and Commit returns only after
// SQLite's COMMIT returned, so an acknowledged batch survives kill -9 of the process (and,
// as far as the disk honours fsync, power loss).
//
// Concurrency: SQLite has one writer. Every Activate, Commit and Renew is queued to one
// writer goroutine that owns the only writer connection and folds the calls waiting at that
// moment into one transaction with a SAVEPOINT per call (group commit, see writer.go):
// callers never contend for the write lock, and concurrent callers share one fsync. GetHold,
// ListHolds and Ping use a separate pool of read-only connections, which WAL lets run beside
// the writer.
// Several Stores, in one process or several, may open the same file: they take turns on
// SQLite's write lock (waiting up to Config.BusyTimeout), and Open applies migrations once.
//
// All methods are safe for concurrent use.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/allot/allot/persistence"
)

// Store is a persistence.Store on one SQLite file. Create it with Open; Close it.
type Store struct {
	cfg  Config
	wdb  *sql.DB   // the writer pool: one connection, held as wc
	wc   *sql.Conn // used only by the writer goroutine (and by Open before it starts)
	rdb  *sql.DB   // read-only pool
	cdb  *sql.DB   // the checkpointer's connection (checkpoint.go); nil without one
	q    *queue
	stop chan struct{}
	wg   sync.WaitGroup

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error

	stmts       map[stmtKey]*sql.Stmt // the writer's queries; owned by the writer goroutine
	raw         *rawExec              // the writer's other statements (rawexec.go); writer only
	claims      outboxClaims          // the relay's claims (claims.go)
	stats       writerStats
	syncNormal  bool          // the writer connection runs synchronous=NORMAL (syncForGroup); writer only
	lastBooking bool          // the last group held a booking op (awaitBooking); writer only
	sinceCkpt   int64         // groups committed since the checkpointer was last woken; writer only
	ckptEvery   atomic.Int64  // groups between checkpoints, set by the checkpointer (checkpoint.go)
	ckptWake    chan struct{} // capacity 1: "checkpoint"
	ckpt        ckptStats
	ckptHook    atomic.Pointer[func(copied int64)] // test hook: runs after each checkpoint (-1: failed)
	groupHook   atomic.Pointer[func(n int)]        // test hook: runs before each group
}

var _ persistence.Store = (*Store)(nil)

// Open opens (creating if needed) the database at cfg.Path, applies persistence.Migrations()
// and starts the writer goroutine. ctx bounds Open only.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("sqlite open: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return nil, fmt.Errorf("sqlite open: create directory: %w", err)
	}
	// Opening a new file from several processes at once can meet SQLITE_BUSY without the
	// busy handler being consulted (the switch to WAL mode, and lock upgrades SQLite refuses
	// to wait for to avoid deadlock), so the whole open is retried for up to BusyTimeout.
	deadline := time.Now().Add(cfg.BusyTimeout)
	var s *Store
	for backoff := 5 * time.Millisecond; ; backoff = min(2*backoff, 200*time.Millisecond) {
		s = &Store{cfg: cfg, q: newQueue(), stop: make(chan struct{}), stmts: make(map[stmtKey]*sql.Stmt), raw: newRawExec(statementText)}
		err := s.open(ctx, abs)
		if err == nil {
			break
		}
		_ = s.release()
		if !isBusy(err) || time.Now().Add(backoff).After(deadline) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(backoff):
		}
	}
	s.wg.Add(1)
	go s.runWriter()
	if s.cdb != nil {
		s.wg.Add(1)
		go s.runCheckpointer()
	}
	return s, nil
}

func (s *Store) open(ctx context.Context, abs string) error {
	var err error
	if s.wdb, err = sql.Open("sqlite", s.cfg.dsn(abs, true)); err != nil {
		return fmt.Errorf("sqlite open: %w", err)
	}
	s.wdb.SetMaxOpenConns(1)
	s.wdb.SetMaxIdleConns(1)
	s.wdb.SetConnMaxLifetime(0)
	s.wdb.SetConnMaxIdleTime(0)
	if s.wc, err = s.wdb.Conn(ctx); err != nil {
		return mapErr("sqlite open", err)
	}
	var mode string
	if err := s.wc.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return mapErr("sqlite open: journal mode", err)
	}
	if mode != "wal" {
		return fmt.Errorf("sqlite open: journal_mode is %q, want wal", mode)
	}
	var sync int
	if err := s.wc.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
		return mapErr("sqlite open: synchronous", err)
	}
	if sync != 2 { // FULL: the WAL is fsynced at every COMMIT
		return fmt.Errorf("sqlite open: synchronous is %d, want 2 (FULL)", sync)
	}
	if err := migrate(ctx, s.wc); err != nil {
		return err
	}
	if !s.cfg.Secondary { // beside a running node, its claims are live
		if err := voidClaims(ctx, s.wc); err != nil {
			return err
		}
	}
	if s.rdb, err = sql.Open("sqlite", s.cfg.dsn(abs, false)); err != nil {
		return fmt.Errorf("sqlite open: read pool: %w", err)
	}
	s.rdb.SetMaxOpenConns(s.cfg.ReadConns)
	s.rdb.SetMaxIdleConns(s.cfg.ReadConns)
	if err := s.rdb.PingContext(ctx); err != nil {
		return mapErr("sqlite open: read pool", err)
	}
	return s.openCheckpointer(abs)
}

// migrate applies the migrations not yet recorded in schema_migrations, each in its own
// transaction that takes the write lock (BEGIN IMMEDIATE) before reading the version, so
// that concurrent Opens of one file apply every step exactly once.
func migrate(ctx context.Context, c *sql.Conn) error {
	steps, err := persistence.Migrations()
	if err != nil {
		return err
	}
	if _, err := c.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
version BIGINT PRIMARY KEY, applied_at_ms BIGINT NOT NULL)`); err != nil {
		return mapErr("migrate: schema_migrations", err)
	}
	for _, m := range steps {
		if err := migrateStep(ctx, c, m); err != nil {
			return err
		}
	}
	return nil
}

func migrateStep(ctx context.Context, c *sql.Conn, m persistence.Migration) (err error) {
	prefix := fmt.Sprintf("migrate %04d_%s", m.Version, m.Name)
	if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return mapErr(prefix, err)
	}
	defer func() {
		if err != nil {
			_, _ = c.ExecContext(context.Background(), "ROLLBACK")
		}
	}()
	var applied int
	if err := c.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, m.Version).Scan(&applied); err != nil {
		return mapErr(prefix, err)
	}
	if applied == 0 {
		for _, stmt := range sqliteStatements(m) {
			if stmt = sqliteDialect(stmt); stmt == "" {
				continue
			}
			if _, err := c.ExecContext(ctx, stmt); err != nil {
				return mapErr(prefix, err)
			}
		}
		if _, err := c.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at_ms) VALUES (?, ?)`,
			m.Version, time.Now().UnixMilli()); err != nil {
			return mapErr(prefix, err)
		}
	}
	if _, err := c.ExecContext(ctx, "COMMIT"); err != nil {
		return mapErr(prefix, err)
	}
	return nil
}

// sqliteOnly marks the lines of a migration that SQLite alone runs: "-- sqlite: <SQL>". To
// every other runner (PostgreSQL's, CockroachDB's: persistence.Migration.Statements) such a
// line is a comment, so a step made of them alone is recorded there with nothing done. For
// what the shared schema keeps but SQLite's queries serve better otherwise (0021).
const sqliteOnly = "-- sqlite:"

// sqliteStatements returns m's statements as SQLite runs them: its sqliteOnly lines included.
func sqliteStatements(m persistence.Migration) []string {
	if !strings.Contains(m.SQL, sqliteOnly) {
		return m.Statements()
	}
	lines := strings.Split(m.SQL, "\n")
	for i, line := range lines {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), sqliteOnly); ok {
			lines[i] = rest
		}
	}
	m.SQL = strings.Join(lines, "\n")
	return m.Statements()
}

// sqliteDialect adapts a shared migration statement to SQLite: SQLite has no ADD COLUMN IF
// NOT EXISTS, which the shared steps use for CockroachDB's sake (see 0002_leases.sql); here a
// step runs under BEGIN IMMEDIATE, so no other process can have added the column meanwhile.
// (It used to skip the index of 0017, which SQLite's claims did not read before they kept each
// resource's events a prefix: step 19 makes it on files that skipped it.)
func sqliteDialect(stmt string) string {
	return strings.ReplaceAll(stmt, "ADD COLUMN IF NOT EXISTS", "ADD COLUMN")
}

// Ping checks that the store is open and the file readable.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.readable(ctx, "ping"); err != nil {
		return err
	}
	var one int
	if err := s.rdb.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return s.readErr("ping", err)
	}
	return nil
}

// Close refuses new calls (persistence.ErrUnavailable), lets the writer answer every call
// already queued — each either runs as usual or fails with ErrUnavailable without being
// written — then closes the connections. It is safe to call twice; the second call returns
// nil.
func (s *Store) Close() error {
	first := false
	s.closeOnce.Do(func() {
		first = true
		s.closed.Store(true)
		s.q.close()
		close(s.stop)
		s.wg.Wait()
		s.closeErr = s.release()
	})
	if !first {
		return nil
	}
	return s.closeErr
}

// release closes statements and connections; it tolerates a half-opened store.
func (s *Store) release() error {
	var errs []error
	for _, st := range s.stmts {
		errs = append(errs, st.Close())
	}
	if s.wc != nil && s.raw != nil && len(s.raw.stmts) > 0 {
		errs = append(errs, s.wc.Raw(s.raw.close))
	}
	if s.wc != nil {
		errs = append(errs, s.wc.Close())
	}
	if s.wdb != nil {
		errs = append(errs, s.wdb.Close())
	}
	if s.rdb != nil {
		errs = append(errs, s.rdb.Close())
	}
	if s.cdb != nil {
		errs = append(errs, s.cdb.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlite close: %w", err)
	}
	return nil
}

// isBusy reports whether err is SQLite's "database is locked" (SQLITE_BUSY).
func isBusy(err error) bool {
	m := err.Error()
	return strings.Contains(m, "SQLITE_BUSY") || strings.Contains(m, "database is locked")
}
