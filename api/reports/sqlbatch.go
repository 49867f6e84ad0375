package reports

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/allot/allot/api/feed"
	"github.com/allot/allot/persistence/sqlbind"
)

// ApplyBatch implements Store: one transaction for the whole batch, each event applied as
// Apply would (in order, once by id, a duplicate within the batch included), its statements
// prepared once per batch. The cost of a commit (on SQLite, the file's single writer lock and
// a WAL sync) is paid once per batch instead of once per event.
func (s *SQLStore) ApplyBatch(ctx context.Context, evs []feed.Event) ([]bool, error) {
	if len(evs) == 0 {
		return []bool{}, nil
	}
	var applied []bool
	var bad []error
	err := sqlbind.InTx(ctx, s.db, nil, func(tx *sql.Tx) error {
		applied, bad = make([]bool, len(evs)), nil // a run again after a serialization failure starts over
		st := s.stmts(tx)
		defer st.close()
		for i, ev := range evs {
			if ev.ResourceID == "" || ev.ID == "" {
				bad = append(bad, fmt.Errorf("%w: %s %s: no resource id or event id", ErrBadEvent, ev.Type, ev.ID))
				continue
			}
			ok, err := s.applyIn(ctx, st, ev)
			if errors.Is(err, ErrBadEvent) {
				bad = append(bad, err)
				continue
			}
			if err != nil {
				return err
			}
			applied[i] = ok
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reports: apply batch: %w", err)
	}
	return applied, errors.Join(bad...)
}

// txStmts prepares each statement of a transaction once, on its first use (a batch runs
// the same few statements per event). Not safe for concurrent use, like the transaction.
type txStmts struct {
	s     *SQLStore
	tx    *sql.Tx
	cache map[string]*sql.Stmt
}

func (s *SQLStore) stmts(tx *sql.Tx) *txStmts {
	return &txStmts{s: s, tx: tx, cache: map[string]*sql.Stmt{}}
}

func (t *txStmts) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := t.cache[query]; ok {
		return st, nil
	}
	st, err := t.tx.PrepareContext(ctx, t.s.q(query))
	if err != nil {
		return nil, err
	}
	t.cache[query] = st
	return st, nil
}

func (t *txStmts) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := t.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// queryRow is QueryRowContext on the prepared statement; a prepare error comes out of Scan.
func (t *txStmts) queryRow(ctx context.Context, query string, args ...any) rowScanner {
	st, err := t.stmt(ctx, query)
	if err != nil {
		return errRow{err}
	}
	return st.QueryRowContext(ctx, args...)
}

type rowScanner interface{ Scan(dest ...any) error }

type errRow struct{ err error }

func (e errRow) Scan(...any) error { return e.err }

// close closes the prepared statements (the transaction's end closes them too; this frees
// them at once).
func (t *txStmts) close() {
	for _, st := range t.cache {
		_ = st.Close()
	}
}
