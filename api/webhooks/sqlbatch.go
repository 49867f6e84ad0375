package webhooks

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/allot/allot/persistence/sqlbind"
)

// The batch forms of the SQLStore's writes. On SQLite every write transaction takes the
// file's single write lock, which the node's booking writer needs for its group commits: a
// transaction per event or per attempt made the booking path wait behind the webhooks (docs/
// EVENTS.md, Cost). One transaction per batch, its statements prepared once, pays that price
// once per batch.

const updateAttempted = `UPDATE webhook_deliveries SET attempts = ?, status = ?,
 next_attempt_at_ms = ?, last_status_code = ?, last_error = ?, updated_at_ms = ? WHERE id = ? AND attempts = ?`

// prepared prepares each statement of a transaction once, on its first use. Not safe for
// concurrent use, like the transaction.
type prepared struct {
	s     *SQLStore
	tx    sqlbind.Querier
	cache map[string]*sql.Stmt
	// conn, when the statements run on the group writer's connection (WriteThrough), keeps
	// them prepared across calls: a statement prepared on a *sql.Conn lives as long as the
	// connection, and preparing the intake's multi-row inserts for every batch was a tenth
	// of its cost (docs/EVENTS.md, Cost).
	conn *connStmts
}

// connStmts are statements prepared on one long-lived connection, by query. Safe for
// concurrent use (a GroupWriter runs one fn at a time anyway).
type connStmts struct {
	mu    sync.Mutex
	conn  *sql.Conn
	stmts map[string]*sql.Stmt
}

// maxConnStmts bounds the statements kept per connection: the intake's and the records'
// texts are a few per chunk size (addChunk), so the bound is only a safeguard.
const maxConnStmts = 512

// stmt returns query prepared in the transaction, once.
func (p *prepared) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := p.cache[query]; ok {
		return st, nil
	}
	if p.conn != nil {
		return p.conn.stmt(ctx, p.s.q(query))
	}
	st, err := p.tx.PrepareContext(ctx, p.s.q(query))
	if err != nil {
		return nil, err
	}
	p.cache[query] = st
	return st, nil
}

func (c *connStmts) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.stmts[query]; ok {
		return st, nil
	}
	st, err := c.conn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if len(c.stmts) >= maxConnStmts {
		for q, old := range c.stmts { // any one: a safeguard, not a policy
			_ = old.Close()
			delete(c.stmts, q)
			break
		}
	}
	c.stmts[query] = st
	return st, nil
}

// connStmtsFor returns the statement cache of the group writer's connection q, or nil when q
// is not a connection (a transaction's statements end with it).
func (s *SQLStore) connStmtsFor(q sqlbind.Querier) *connStmts {
	conn, ok := q.(*sql.Conn)
	if !ok {
		return nil
	}
	s.stmtsMu.Lock()
	defer s.stmtsMu.Unlock()
	if s.stmts == nil || s.stmts.conn != conn { // a new connection: the old one's statements went with it
		s.stmts = &connStmts{conn: conn, stmts: map[string]*sql.Stmt{}}
	}
	return s.stmts
}

func (p *prepared) exec(ctx context.Context, query string, args ...any) (int64, error) {
	st, err := p.stmt(ctx, query)
	if err != nil {
		return 0, err
	}
	res, err := st.ExecContext(ctx, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (p *prepared) close() {
	for _, st := range p.cache {
		_ = st.Close()
	}
}

// inBatchTx runs fn in one transaction with statements prepared once (see inTx), or through
// the group writer (WriteThrough). fn uses the ctx it is given.
func (s *SQLStore) inBatchTx(ctx context.Context, op string, fn func(ctx context.Context, p *prepared) error) error {
	run := func(ctx context.Context, q sqlbind.Querier) error {
		p := &prepared{s: s, tx: q, cache: map[string]*sql.Stmt{}}
		defer p.close()
		return fn(ctx, p)
	}
	if s.group != nil {
		run = func(ctx context.Context, q sqlbind.Querier) error {
			return fn(ctx, &prepared{s: s, tx: q, conn: s.connStmtsFor(q)})
		}
		if err := s.group(ctx, run); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		return nil
	}
	return s.inTx(ctx, op, func(tx *sql.Tx) error { return run(ctx, tx) })
}

// AddEvents implements Store with multi-row inserts (addChunk rows each): the inbox rows
// first, whose RETURNING names the events not recorded before, then those events'
// deliveries, whose RETURNING names the ones added. A statement per chunk instead of two per
// event: on SQLite the transaction holds the file's write lock for less time.
func (s *SQLStore) AddEvents(ctx context.Context, consumer string, at time.Time, evs []EventDeliveries) ([]Delivery, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	var added []Delivery
	err := s.inBatchTx(ctx, "add events", func(ctx context.Context, p *prepared) error {
		added = added[:0] // a retried transaction starts again
		ids := make([]string, 0, len(evs))
		for _, ev := range evs {
			ids = append(ids, ev.EventID)
		}
		fresh, err := p.insertReturning(ctx, `INSERT INTO event_inbox (consumer, event_id, processed_at_ms) VALUES `,
			`(?, ?, ?)`, ` ON CONFLICT (consumer, event_id) DO NOTHING RETURNING event_id`, len(ids), func(i int) []any {
				return []any{consumer, ids[i], toMS(at)}
			})
		if err != nil {
			return err
		}
		var ds []Delivery
		for _, ev := range evs {
			if fresh[ev.EventID] {
				ds = append(ds, ev.Deliveries...)
				delete(fresh, ev.EventID) // a duplicate within the batch adds nothing more
			}
		}
		stored, err := p.insertReturning(ctx, `INSERT INTO webhook_deliveries (`+deliveryCols+`) VALUES `,
			`(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, ` ON CONFLICT DO NOTHING RETURNING id`, len(ds), func(i int) []any {
				d := ds[i]
				return []any{d.ID, d.EndpointID, d.EventID, d.EventType, string(d.Payload), d.Status,
					int64(d.Attempts), toMS(d.NextAttemptAt), int64(d.LastStatusCode), d.LastError, toMS(d.CreatedAt), toMS(d.UpdatedAt)}
			})
		if err != nil {
			return err
		}
		for _, d := range ds {
			if stored[d.ID] {
				added = append(added, d)
				delete(stored, d.ID)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return added, nil
}

// addChunk bounds the rows of one multi-row insert (12 parameters a delivery: well within
// SQLite's and PostgreSQL's limits).
const addChunk = 64

// insertRows inserts n rows (args(i) the values of row i) with head + row, row, ...,
// addChunk rows a statement.
func (p *prepared) insertRows(ctx context.Context, head, row string, n int, args func(i int) []any) error {
	for from := 0; from < n; from += addChunk {
		to := min(n, from+addChunk)
		st, err := p.stmt(ctx, head+row+strings.Repeat(", "+row, to-from-1))
		if err != nil {
			return err
		}
		var vals []any
		for i := from; i < to; i++ {
			vals = append(vals, args(i)...)
		}
		if _, err := st.ExecContext(ctx, vals...); err != nil {
			return err
		}
	}
	return nil
}

// insertReturning inserts n rows (args(i) the values of row i) with head + row, row, ... +
// tail, addChunk rows a statement, and returns the set of the first column tail's
// RETURNING gives.
func (p *prepared) insertReturning(ctx context.Context, head, row, tail string, n int, args func(i int) []any) (map[string]bool, error) {
	out := make(map[string]bool, n)
	for from := 0; from < n; from += addChunk {
		to := min(n, from+addChunk)
		st, err := p.stmt(ctx, head+row+strings.Repeat(", "+row, to-from-1)+tail)
		if err != nil {
			return nil, err
		}
		var vals []any
		for i := from; i < to; i++ {
			vals = append(vals, args(i)...)
		}
		rows, err := st.QueryContext(ctx, vals...)
		if err != nil {
			return nil, err
		}
		if err := sqlbind.AddStrings(rows, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *SQLStore) RecordAttempts(ctx context.Context, rs []AttemptRecord) ([]error, error) {
	errs := make([]error, len(rs))
	if len(rs) == 0 {
		return errs, nil
	}
	err := s.inBatchTx(ctx, "record attempts", func(ctx context.Context, p *prepared) error {
		clear(errs)
		var done []int // attempts whose delivery took them: their webhook_attempts rows
		var took []bool
		if s.d == SQLite {
			var err error
			if took, err = p.updateAttempted(ctx, rs); err != nil {
				return err
			}
		}
		for i, r := range rs {
			a, o := r.Attempt, r.Outcome
			var n int64
			if took != nil {
				if took[i] {
					n = 1
				}
			} else {
				var err error
				n, err = p.exec(ctx, updateAttempted, int64(a.N), o.Status, toMS(o.NextAttemptAt), int64(o.LastStatusCode),
					o.LastError, toMS(a.At), a.DeliveryID, int64(a.N-1))
				if err != nil {
					return err
				}
			}
			if n == 0 {
				var one int
				err := p.tx.QueryRowContext(ctx, s.q(`SELECT 1 FROM webhook_deliveries WHERE id = ?`), a.DeliveryID).Scan(&one)
				switch {
				case errors.Is(err, sql.ErrNoRows):
					errs[i] = fmt.Errorf("record attempt %s: %w", a.DeliveryID, ErrNotFound)
				case err != nil:
					return err
				default:
					errs[i] = fmt.Errorf("record attempt %s #%d: %w", a.DeliveryID, a.N, ErrStale)
				}
				continue
			}
			done = append(done, i)
		}
		return p.insertRows(ctx, `INSERT INTO webhook_attempts (delivery_id, n, at_ms, duration_ms, status_code, error) VALUES `,
			`(?, ?, ?, ?, ?, ?)`, len(done), func(j int) []any {
				a := rs[done[j]].Attempt
				return []any{a.DeliveryID, int64(a.N), toMS(a.At), a.Duration.Milliseconds(), int64(a.StatusCode), a.Error}
			})
	})
	if err != nil {
		return nil, err
	}
	return errs, nil
}

// updateAttemptedRows is the SQLite form of updateAttempted for many attempts at once, one
// statement per chunk (a row of ? per attempt follows it, then updateAttemptedTail): per
// attempt a statement's round trip through database/sql and the driver was most of the
// records' cost on the booking writer (docs/EVENTS.md, Cost).
const (
	updateAttemptedRows = `WITH v(id, n, prev, status, next_ms, code, err, at_ms) AS (VALUES `
	updateAttemptedRow  = `(?, ?, ?, ?, ?, ?, ?, ?)`
	updateAttemptedTail = `) UPDATE webhook_deliveries SET attempts = v.n, status = v.status, next_attempt_at_ms = v.next_ms,
 last_status_code = v.code, last_error = v.err, updated_at_ms = v.at_ms
 FROM v WHERE webhook_deliveries.id = v.id AND webhook_deliveries.attempts = v.prev
 RETURNING webhook_deliveries.id`
)

// updateAttempted applies each attempt of rs to its delivery as updateAttempted would, one
// after the other, in statements of up to addChunk attempts, and says of each whether its
// delivery took it (its attempts count was the attempt's number - 1). A chunk holds a
// delivery at most once, so that the updated ids it returns name its attempts, and a
// delivery's later attempt in rs sees what an earlier one did, as with a statement each.
func (p *prepared) updateAttempted(ctx context.Context, rs []AttemptRecord) ([]bool, error) {
	took := make([]bool, len(rs))
	in := make(map[string]int, addChunk) // delivery id -> index in rs, of the chunk's attempts
	updated := make(map[string]bool, addChunk)
	var vals []any
	flush := func() error {
		if len(in) == 0 {
			return nil
		}
		st, err := p.stmt(ctx, updateAttemptedRows+updateAttemptedRow+strings.Repeat(", "+updateAttemptedRow, len(in)-1)+updateAttemptedTail)
		if err != nil {
			return err
		}
		rows, err := st.QueryContext(ctx, vals...)
		if err != nil {
			return err
		}
		if err := sqlbind.AddStrings(rows, updated); err != nil {
			return err
		}
		for id := range updated {
			i, ok := in[id]
			if !ok {
				return fmt.Errorf("record attempts: updated %s, which no attempt named", id)
			}
			took[i] = true
		}
		clear(in)
		clear(updated)
		vals = vals[:0]
		return nil
	}
	for i, r := range rs {
		a, o := r.Attempt, r.Outcome
		if _, dup := in[a.DeliveryID]; dup || len(in) == addChunk {
			if err := flush(); err != nil {
				return nil, err
			}
		}
		in[a.DeliveryID] = i
		vals = append(vals, a.DeliveryID, int64(a.N), int64(a.N-1), o.Status, toMS(o.NextAttemptAt), int64(o.LastStatusCode),
			o.LastError, toMS(a.At))
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return took, nil
}
