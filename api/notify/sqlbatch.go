package notify

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/allot/allot/persistence/sqlbind"
)

// The consumer's batch write (ApplyEvents) and the statements it shares with Apply. One
// transaction per fetch of the durable consumer instead of one per event, with the inbox
// rows in it: on SQLite every write transaction takes the file's single write lock, which
// the booking writer needs for its group commits, and one per event capped the intake at a
// few hundred events a second (docs/EVENTS.md, Cost; docs/PERFORMANCE.md, round 18).

// stmts runs one transaction's statements, each prepared once on its first use when batch is
// set (a batch runs the same few statements for every event), else executed directly (one
// event: a prepare would be an extra round trip on PostgreSQL). Not safe for concurrent use,
// like the transaction.
type stmts struct {
	s     *SQLStore
	q     sqlbind.Querier
	batch bool
	cache map[string]*sql.Stmt
}

// exec runs query (with ? placeholders) and returns the rows it affected.
func (p *stmts) exec(ctx context.Context, query string, args ...any) (int64, error) {
	var res sql.Result
	var err error
	if p.batch {
		st, perr := p.stmt(ctx, query)
		if perr != nil {
			return 0, perr
		}
		res, err = st.ExecContext(ctx, args...)
	} else {
		res, err = p.q.ExecContext(ctx, p.s.q(query), args...)
	}
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (p *stmts) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := p.cache[query]; ok {
		return st, nil
	}
	st, err := p.q.PrepareContext(ctx, p.s.q(query))
	if err != nil {
		return nil, err
	}
	if p.cache == nil {
		p.cache = map[string]*sql.Stmt{}
	}
	p.cache[query] = st
	return st, nil
}

func (p *stmts) close() {
	for _, st := range p.cache {
		_ = st.Close()
	}
}

// inboxChunk bounds the rows of one multi-row inbox insert (3 parameters a row).
const inboxChunk = 64

// WriteThrough makes the consumer's batches (ApplyEvents), the claims of due notifications
// (ClaimNotifications) and the recorded outcomes (FinishAll) run through w, the node's booking
// writer on SQLite ((*sqlite.Store).InGroup), so that they join its group commits instead of
// taking the file's write lock between them, where a side pool's transaction waits in
// SQLite's busy handler. Each call still commits whole or not at all (w's contract). Call it
// before the store is used; w must write to the database db reads.
func (s *SQLStore) WriteThrough(w sqlbind.GroupWriter) { s.group = w }

// inWrite runs fn in one write transaction: through the group writer when one is set, else a
// READ COMMITTED transaction of db (inTx). batch says whether fn's statements are prepared
// once for many uses (stmts).
func (s *SQLStore) inWrite(ctx context.Context, batch bool, fn func(ctx context.Context, p *stmts) error) error {
	if s.group != nil {
		return s.group(ctx, func(ctx context.Context, q sqlbind.Querier) error {
			p := &stmts{s: s, q: q, batch: batch}
			defer p.close()
			return fn(ctx, p)
		})
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		p := &stmts{s: s, q: tx, batch: batch}
		defer p.close()
		return fn(ctx, p)
	})
}

func (s *SQLStore) ApplyEvents(ctx context.Context, consumer string, at time.Time, evs []Consumed) (int, error) {
	if len(evs) == 0 {
		return 0, nil
	}
	// Lock order: the inbox rows by event id, then the records by hold id (stable: a hold's
	// events keep their order). Two nodes applying overlapping batches on PostgreSQL then take
	// their row locks in one order and wait for each other instead of deadlocking; the order
	// across holds does not matter, each hold's state depends only on its own events.
	ids := make([]string, 0, len(evs))
	order := make([]int, 0, len(evs)) // the first of each event id
	seen := make(map[string]bool, len(evs))
	for i, ev := range evs {
		if !seen[ev.EventID] {
			seen[ev.EventID] = true
			ids, order = append(ids, ev.EventID), append(order, i)
		}
	}
	slices.Sort(ids)
	slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(holdOf(evs[a].Record), holdOf(evs[b].Record)) })

	added := 0
	err := s.inWrite(ctx, true, func(ctx context.Context, p *stmts) error {
		added = 0 // a retried transaction starts again
		fresh, err := p.insertInbox(ctx, consumer, at, ids)
		if err != nil {
			return fmt.Errorf("inbox: %w", err)
		}
		for _, i := range order {
			ev := evs[i]
			if !fresh[ev.EventID] {
				continue // stored before: a redelivery
			}
			n, err := s.applyRecord(ctx, p, ev.Record)
			if err != nil {
				return err
			}
			added += n
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("notify apply events: %w", err)
	}
	return added, nil
}

func holdOf(r Record) string {
	if r.Hold == nil {
		return ""
	}
	return r.Hold.HoldID
}

// insertInbox inserts the inbox rows of ids (distinct) unless stored and returns the set of
// those it inserted: a multi-row INSERT … ON CONFLICT DO NOTHING RETURNING per inboxChunk ids.
func (p *stmts) insertInbox(ctx context.Context, consumer string, at time.Time, ids []string) (map[string]bool, error) {
	fresh := make(map[string]bool, len(ids))
	for from := 0; from < len(ids); from += inboxChunk {
		to := min(len(ids), from+inboxChunk)
		query := `INSERT INTO event_inbox (consumer, event_id, processed_at_ms) VALUES (?, ?, ?)` +
			strings.Repeat(", (?, ?, ?)", to-from-1) + ` ON CONFLICT (consumer, event_id) DO NOTHING RETURNING event_id`
		st, err := p.stmt(ctx, query)
		if err != nil {
			return nil, err
		}
		args := make([]any, 0, 3*(to-from))
		for _, id := range ids[from:to] {
			args = append(args, consumer, id, toMS(at))
		}
		rows, err := st.QueryContext(ctx, args...)
		if err != nil {
			return nil, err
		}
		if err := sqlbind.AddStrings(rows, fresh); err != nil {
			return nil, err
		}
	}
	return fresh, nil
}
