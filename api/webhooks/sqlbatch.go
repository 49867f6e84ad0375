package webhooks

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// The batch forms of the SQLStore's writes. On SQLite every write transaction takes the
// file's single write lock, which the node's booking writer needs for its group commits: a
// transaction per event or per attempt made the booking path wait behind the webhooks (docs/
// EVENTS.md, Cost). One transaction per batch, its statements prepared once, pays that price
// once per batch.

const insertInbox = `INSERT INTO event_inbox (consumer, event_id, processed_at_ms) VALUES (?, ?, ?)
 ON CONFLICT (consumer, event_id) DO NOTHING`

// insertDelivery: ON CONFLICT DO NOTHING without a target covers both the id and the
// (endpoint_id, event_id) uniqueness; the id derives from the pair anyway.
const insertDelivery = `INSERT INTO webhook_deliveries (` + deliveryCols + `)
 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`

const updateAttempted = `UPDATE webhook_deliveries SET attempts = ?, status = ?,
 next_attempt_at_ms = ?, last_status_code = ?, last_error = ?, updated_at_ms = ? WHERE id = ? AND attempts = ?`

const insertAttempt = `INSERT INTO webhook_attempts (delivery_id, n, at_ms, duration_ms, status_code, error)
 VALUES (?, ?, ?, ?, ?, ?)`

// prepared prepares each statement of a transaction once, on its first use. Not safe for
// concurrent use, like the transaction.
type prepared struct {
	s     *SQLStore
	tx    *sql.Tx
	cache map[string]*sql.Stmt
}

func (p *prepared) exec(ctx context.Context, query string, args ...any) (int64, error) {
	st, ok := p.cache[query]
	if !ok {
		var err error
		if st, err = p.tx.PrepareContext(ctx, p.s.q(query)); err != nil {
			return 0, err
		}
		p.cache[query] = st
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

// inBatchTx runs fn in one transaction with statements prepared once (see inTx).
func (s *SQLStore) inBatchTx(ctx context.Context, op string, fn func(p *prepared) error) error {
	return s.inTx(ctx, op, func(tx *sql.Tx) error {
		p := &prepared{s: s, tx: tx, cache: map[string]*sql.Stmt{}}
		defer p.close()
		return fn(p)
	})
}

func (s *SQLStore) AddEvents(ctx context.Context, consumer string, at time.Time, evs []EventDeliveries) ([]Delivery, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	var added []Delivery
	err := s.inBatchTx(ctx, "add events", func(p *prepared) error {
		added = added[:0] // a retried transaction starts again
		for _, ev := range evs {
			n, err := p.exec(ctx, insertInbox, consumer, ev.EventID, toMS(at))
			if err != nil {
				return err
			}
			if n == 0 {
				continue // recorded before: its deliveries were stored with it
			}
			for _, d := range ev.Deliveries {
				n, err := p.exec(ctx, insertDelivery, d.ID, d.EndpointID, d.EventID, d.EventType, string(d.Payload), d.Status,
					int64(d.Attempts), toMS(d.NextAttemptAt), int64(d.LastStatusCode), d.LastError, toMS(d.CreatedAt), toMS(d.UpdatedAt))
				if err != nil {
					return err
				}
				if n > 0 {
					added = append(added, d)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return added, nil
}

func (s *SQLStore) RecordAttempts(ctx context.Context, rs []AttemptRecord) ([]error, error) {
	errs := make([]error, len(rs))
	if len(rs) == 0 {
		return errs, nil
	}
	err := s.inBatchTx(ctx, "record attempts", func(p *prepared) error {
		clear(errs)
		for i, r := range rs {
			a, o := r.Attempt, r.Outcome
			n, err := p.exec(ctx, updateAttempted, int64(a.N), o.Status, toMS(o.NextAttemptAt), int64(o.LastStatusCode),
				o.LastError, toMS(a.At), a.DeliveryID, int64(a.N-1))
			if err != nil {
				return err
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
			if _, err := p.exec(ctx, insertAttempt, a.DeliveryID, int64(a.N), toMS(a.At), a.Duration.Milliseconds(),
				int64(a.StatusCode), a.Error); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return errs, nil
}
