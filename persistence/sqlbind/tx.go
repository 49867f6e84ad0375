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
