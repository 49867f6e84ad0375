package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/allot/allot/persistence/sqlbind"
)

// Dialect is the SQL engine behind an SQLStore: only the placeholders differ.
type Dialect int

const (
	SQLite   Dialect = iota + 1 // ? placeholders
	Postgres                    // $n placeholders; CockroachDB too
)

// SQLStore is the Store on the audit_log table of migration 0010 (persistence/migrations),
// over a database/sql handle the caller owns and has migrated (opening the node's main store
// does it). Create it with NewSQLStore.
type SQLStore struct {
	db *sql.DB
	d  Dialect
}

var _ Store = (*SQLStore)(nil)

// NewSQLStore returns the Store on db in dialect d.
func NewSQLStore(db *sql.DB, d Dialect) (*SQLStore, error) {
	if db == nil || (d != SQLite && d != Postgres) {
		return nil, errors.New("audit: NewSQLStore needs a db and a known dialect")
	}
	return &SQLStore{db: db, d: d}, nil
}

// q rewrites ? placeholders to $n for PostgreSQL. Statements here have no ? in literals.
func (s *SQLStore) q(stmt string) string {
	if s.d != Postgres {
		return stmt
	}
	return sqlbind.Dollar(stmt)
}

const cols = `id, at_ms, subject, action, method, route, target, request_id, status, outcome, client_ip`

// Append inserts e; an id stored already is left as it is (a retried append).
func (s *SQLStore) Append(ctx context.Context, e Entry) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO audit_log (`+cols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO NOTHING`),
		e.ID, e.At.UnixMilli(), e.Subject, e.Action, e.Method, e.Route, e.Target, e.RequestID, int64(e.Status), e.Outcome, e.ClientIP)
	if err != nil {
		return fmt.Errorf("audit: append: %w", err)
	}
	return nil
}

// List selects a page, newest first, asking for one entry more than the limit to know
// whether there is a next page.
func (s *SQLStore) List(ctx context.Context, f Filter) (Page, error) {
	var where []string
	var args []any
	if !f.From.IsZero() {
		where, args = append(where, "at_ms >= ?"), append(args, f.From.UnixMilli())
	}
	if !f.To.IsZero() {
		where, args = append(where, "at_ms < ?"), append(args, f.To.UnixMilli())
	}
	if f.Subject != "" {
		where, args = append(where, "subject = ?"), append(args, f.Subject)
	}
	if f.Action != "" {
		where, args = append(where, "action = ?"), append(args, f.Action)
	}
	if !f.After.IsZero() {
		ms := f.After.At.UnixMilli()
		where, args = append(where, "(at_ms < ? OR (at_ms = ? AND id < ?))"), append(args, ms, ms, f.After.ID)
	}
	stmt := `SELECT ` + cols + ` FROM audit_log`
	if len(where) > 0 {
		stmt += ` WHERE ` + strings.Join(where, " AND ")
	}
	stmt += ` ORDER BY at_ms DESC, id DESC LIMIT ?`
	args = append(args, f.Limit+1)
	rows, err := s.db.QueryContext(ctx, s.q(stmt), args...)
	if err != nil {
		return Page{}, fmt.Errorf("audit: list: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var e Entry
		var at, status int64
		if err := rows.Scan(&e.ID, &at, &e.Subject, &e.Action, &e.Method, &e.Route, &e.Target, &e.RequestID, &status, &e.Outcome, &e.ClientIP); err != nil {
			return Page{}, fmt.Errorf("audit: list: %w", err)
		}
		e.At, e.Status = time.UnixMilli(at).UTC(), int(status)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return Page{}, fmt.Errorf("audit: list: %w", err)
	}
	return pageOf(out, f.Limit), nil
}

// pruneBatch bounds one DELETE of Prune: a long transaction would hold locks (and, on
// CockroachDB, grow one transaction's intents) for the whole backlog of a first run.
const pruneBatch = 1000

// Prune deletes the entries older than before, pruneBatch at a time, oldest first.
func (s *SQLStore) Prune(ctx context.Context, before time.Time) (int64, error) {
	stmt := s.q(`DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE at_ms < ? ORDER BY at_ms LIMIT ?)`)
	var total int64
	for {
		res, err := s.db.ExecContext(ctx, stmt, before.UnixMilli(), pruneBatch)
		if err != nil {
			return total, fmt.Errorf("audit: prune: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("audit: prune: %w", err)
		}
		total += n
		if n < pruneBatch {
			return total, nil
		}
	}
}
