package sqlbind

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"

	_ "modernc.org/sqlite"
)

type sqlStateErr string

func (e sqlStateErr) Error() string    { return "sqlstate " + string(e) }
func (e sqlStateErr) SQLState() string { return string(e) }

// TestInTxRunsAgainOnSerializationFailure: a run that fails with 40001 (wrapped or not) is
// rolled back and run again in a fresh transaction until it commits; any other error ends
// the call at once; a run that keeps failing stops after TxAttempts.
func TestInTxRunsAgainOnSerializationFailure(t *testing.T) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.Exec(`CREATE TABLE t (n INTEGER)`); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	count := func() (n int) {
		if err := db.QueryRow(`SELECT COUNT(*) FROM t`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	runs := 0
	err = InTx(ctx, db, nil, func(tx *sql.Tx) error {
		runs++
		if _, err := tx.Exec(`INSERT INTO t (n) VALUES (?)`, runs); err != nil {
			return err
		}
		if runs < 3 {
			return fmt.Errorf("apply: %w", sqlStateErr("40001"))
		}
		return nil
	})
	if err != nil || runs != 3 || count() != 1 {
		t.Fatalf("err %v, runs %d, rows %d: want nil, 3 runs, 1 row (the failed runs rolled back)", err, runs, count())
	}

	runs = 0
	other := sqlStateErr("23505")
	if err := InTx(ctx, db, nil, func(*sql.Tx) error { runs++; return other }); !errors.Is(err, other) || runs != 1 {
		t.Fatalf("another error: %v after %d runs, want it after 1", err, runs)
	}

	runs = 0
	if err := InTx(ctx, db, nil, func(*sql.Tx) error { runs++; return sqlStateErr("40001") }); !Retryable(err) || runs != TxAttempts {
		t.Fatalf("always failing: %v after %d runs, want a 40001 after %d", err, runs, TxAttempts)
	}

	cctx, cancel := context.WithCancel(ctx)
	runs = 0
	err = InTx(cctx, db, nil, func(*sql.Tx) error { runs++; cancel(); return sqlStateErr("40001") })
	if !errors.Is(err, context.Canceled) || runs != 1 {
		t.Fatalf("cancelled: %v after %d runs, want context.Canceled after 1", err, runs)
	}
}
