package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"
)

// rawExec runs the writer's statements that return no rows on the driver's own connection
// (sql.Conn.Raw) with one argument slice reused across executions.
//
// Why not database/sql: every Stmt.ExecContext converts its arguments into a new
// []driver.NamedValue (40 bytes per argument, so ~900 bytes for a resource's UPDATE and as
// much again for a batch's hold rows) and wraps the result; over the memory section's fill that
// was 1.1 GB of the 12.3 GB the node allocated, garbage that a concurrent mark finds live and
// that raises the GC's goal, hence RSS (docs/PERFORMANCE.md, Rounds 12 and 13). The arguments
// are converted as database/sql converts them for this driver (it implements neither
// NamedValueChecker nor ColumnConverter): driver.DefaultParameterConverter, with a fast path
// for the values that already are driver.Values.
//
// Owned by the writer goroutine (and Open before it starts), like Store.stmts; call holds the
// arguments of the execution under way so that run, bound once, allocates no closure.
type rawExec struct {
	stmts map[stmtKey]driver.Stmt
	args  []driver.NamedValue
	run   func(dc any) error // (*rawExec).exec bound to this rawExec, made once

	// The execution under way (set by Store.rawExec, cleared after it).
	ctx  context.Context
	key  stmtKey
	in   []any
	res  driver.Result
	prep func(key stmtKey) (string, error) // the statement text of key
}

func newRawExec(prep func(key stmtKey) (string, error)) *rawExec {
	r := &rawExec{stmts: make(map[stmtKey]driver.Stmt), prep: prep}
	r.run = r.exec
	return r
}

// exec runs r.key with r.in on dc, the driver connection sql.Conn.Raw lends.
func (r *rawExec) exec(dc any) error {
	st, ok := r.stmts[r.key]
	if !ok {
		text, err := r.prep(r.key)
		if err != nil {
			return err
		}
		p, ok := dc.(driver.ConnPrepareContext)
		if !ok {
			return errors.New("sqlite: the driver's connection cannot prepare with a context")
		}
		if st, err = p.PrepareContext(r.ctx, text); err != nil {
			return mapErr("prepare", err)
		}
		if _, ok := st.(driver.StmtExecContext); !ok {
			_ = st.Close()
			return errors.New("sqlite: the driver's statement cannot execute with a context")
		}
		r.stmts[r.key] = st
	}
	if n := st.NumInput(); n >= 0 && n != len(r.in) {
		return fmt.Errorf("sql: expected %d arguments, got %d", n, len(r.in))
	}
	if cap(r.args) < len(r.in) {
		r.args = make([]driver.NamedValue, len(r.in))
	}
	args := r.args[:len(r.in)]
	for i, v := range r.in {
		switch v.(type) {
		case nil, int64, float64, bool, []byte, string, time.Time:
		default:
			cv, err := driver.DefaultParameterConverter.ConvertValue(v)
			if err != nil {
				return fmt.Errorf("sql: converting argument $%d type: %w", i+1, err)
			}
			v = cv
		}
		args[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	res, err := st.(driver.StmtExecContext).ExecContext(r.ctx, args)
	clear(args) // keep no caller's values reachable from the writer between executions
	r.res = res
	return err
}

// close closes the prepared statements on dc.
func (r *rawExec) close(dc any) error {
	var errs []error
	for k, st := range r.stmts {
		errs = append(errs, st.Close())
		delete(r.stmts, k)
	}
	return errors.Join(errs...)
}

// rawExec executes the statement of key with args on the writer connection without
// database/sql's per-execution allocations (see rawExec). Writer goroutine only.
func (s *Store) rawExec(ctx context.Context, key stmtKey, args []any) (driver.Result, error) {
	s.stats.stmts.Add(1)
	r := s.raw
	r.ctx, r.key, r.in = ctx, key, args
	err := s.wc.Raw(r.run)
	res := r.res
	r.ctx, r.in, r.res = nil, nil, nil
	if err != nil {
		return nil, err
	}
	return res, nil
}

// statementText is the text of the statement key names: a table's multi-row upsert of
// key.rows rows, or (rows 0) the fixed statement key.table.
func statementText(key stmtKey) (string, error) {
	if key.rows == 0 {
		return key.table, nil
	}
	t, ok := tables[key.table]
	if !ok {
		return "", fmt.Errorf("no statement for table %q", key.table)
	}
	return t.insert(key.rows), nil
}
