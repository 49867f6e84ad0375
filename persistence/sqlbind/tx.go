package sqlbind

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// TxAttempts bounds the runs of one InTx call.
const TxAttempts = 8

// InTx runs fn in a transaction of db begun with opts and commits it; when the engine reports
// a serialization failure (SQLSTATE 40001: CockroachDB's "restart transaction", PostgreSQL
// SERIALIZABLE conflicts between nodes writing the same rows) it runs fn again in a fresh
// transaction, after a short growing pause, up to TxAttempts runs in all.
//
// fn must be safe to run more than once: whatever it computed in a failed run is stale, so it
// must reset its results at its start. The last error is returned (fn's, or Commit's).
func InTx(ctx context.Context, db *sql.DB, opts *sql.TxOptions, fn func(tx *sql.Tx) error) error {
	var err error
	for attempt := range TxAttempts {
		if attempt > 0 {
			t := time.NewTimer(time.Duration(attempt) * 5 * time.Millisecond)
			select {
			case <-ctx.Done():
				t.Stop()
				return errors.Join(err, ctx.Err())
			case <-t.C:
			}
		}
		if err = tryTx(ctx, db, opts, fn); !Retryable(err) {
			return err
		}
	}
	return err
}

func tryTx(ctx context.Context, db *sql.DB, opts *sql.TxOptions, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// Retryable reports a serialization failure: an error carrying SQLSTATE 40001 (pgconn.PgError
// and CockroachDB's errors implement SQLState).
func Retryable(err error) bool {
	var st interface{ SQLState() string }
	return errors.As(err, &st) && st.SQLState() == "40001"
}

// Querier runs a transaction's statements: a *sql.Tx, or the connection of a writer that
// holds a transaction open on it (GroupWriter). Not safe for concurrent use.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

var _, _ Querier = (*sql.Tx)(nil), (*sql.Conn)(nil)

// GroupWriter runs fn's statements inside a write transaction that it shares with other
// writers (persistence/sqlite's group commits: (*sqlite.Store).InGroup), so that a side
// store's write joins the booking writer's next commit instead of taking SQLite's write lock
// in a transaction of its own. It returns nil once the shared transaction committed with fn's
// writes, and an error when they were undone (fn's error, or the shared transaction's).
//
// fn runs at most once per call, on the writer's goroutine, with the writer's ctx: it must
// only run statements on q (closing every row set it opens), never wait for another write,
// and reset its results at its start as for InTx. Safe for concurrent use.
type GroupWriter func(ctx context.Context, fn func(ctx context.Context, q Querier) error) error
