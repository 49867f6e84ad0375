package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math/bits"
	"strings"
	"time"

	"github.com/allot/allot/actors/events"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/persistence/sqlbind"
)

var _ persistence.Outbox = (*Store)(nil)

// The outbox on SQLite. Rows are inserted by the commit's own savepoint (insertOutbox), so a
// failed or fenced batch leaves none. Claims, marks, prunes and inbox records are writes and
// go through the single writer (an op with fn set), which is what makes a claim exclusive on
// SQLite; reads use the read pool. Claims are held in memory (claims.go).

const (
	outboxCols  = `resource_id, version, idx, event_type, subject, occurred_at_ms, data`
	outboxOrder = ` ORDER BY occurred_at_ms, resource_id, version, idx`
	// markRows is followed by the keys of 1, 2, 4, ... markChunk rows (markTexts).
	markRows     = `UPDATE outbox SET published_at_ms = ? WHERE published_at_ms = 0 AND (occurred_at_ms, resource_id, version, idx) IN (VALUES `
	markChunk    = 1 << (markSizes - 1) // keys per mark statement: 4*128+1 parameters, under SQLite's classic 999
	markSizes    = 8
	pruneOutbox  = `DELETE FROM outbox WHERE published_at_ms > 0 AND occurred_at_ms < ?`
	pruneInbox   = `DELETE FROM event_inbox WHERE processed_at_ms < ?`
	insertInbox  = `INSERT INTO event_inbox (consumer, event_id, processed_at_ms) VALUES (?, ?, ?) ON CONFLICT (consumer, event_id) DO NOTHING`
	selectInbox  = `SELECT 1 FROM event_inbox WHERE consumer = ? AND event_id = ?`
	outboxWidth  = 9
	outboxInsert = "outbox"
)

// voidClaims drops the outbox claims an earlier build stored in the rows (claims are now in
// memory: claims.go). An SQLite file is one node's store
// (docs/ARCHITECTURE.md), so a claim found at Open belongs to a relay that died holding it;
// waiting out its lease would let later events of a resource be published before the
// claimed ones. Called by Open on the writer connection.
func voidClaims(ctx context.Context, c *sql.Conn) error {
	if _, err := c.ExecContext(ctx, `UPDATE outbox SET claimed_until_ms = 0 WHERE published_at_ms = 0 AND claimed_until_ms > 0`); err != nil {
		return mapErr("sqlite open: outbox claims", err)
	}
	return nil
}

// encodeOutbox turns a batch's events into outbox row arguments (outboxWidth per row).
func encodeOutbox(b *persistence.Batch) ([]any, error) {
	recs, err := persistence.EncodeEvents(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errInvalidBatch, err)
	}
	args := make([]any, 0, outboxWidth*len(recs))
	for _, r := range recs {
		args = append(args, r.OccurredAt.UnixMilli(), r.ResourceID, int64(r.Version), int64(r.Index), string(r.Type), r.Subject,
			string(r.Data), int64(0), int64(0))
	}
	return args, nil
}

// insertOutbox writes a batch's events inside its savepoint; an existing key fails the batch.
func (s *Store) insertOutbox(ctx context.Context, args []any) error {
	if len(args) == 0 {
		return nil
	}
	if _, err := s.execRows(ctx, outboxInsert, args); err != nil {
		if isConstraint(err) {
			return fmt.Errorf("%w: outbox: %w", errInvalidBatch, err)
		}
		return mapErr("outbox", err)
	}
	return nil
}

func scanRecords(rows *sql.Rows, err error) ([]events.Record, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []events.Record
	// The scan targets live outside the loop: Scan takes their addresses, which moves them to
	// the heap, once per call instead of once per row; data is scanned as bytes (one copy of
	// the driver's text, not a string and then a []byte).
	var (
		rid, subject, typ string
		v, i, at          int64
		data              []byte
	)
	for rows.Next() {
		data = nil // Scan into a non-nil slice would reuse it, and each record keeps its own
		if err := rows.Scan(&rid, &v, &i, &typ, &subject, &at, &data); err != nil {
			return nil, err
		}
		r := events.Record{ResourceID: rid, Subject: subject, Version: uint64(v), Index: int(i), Type: events.Type(typ),
			OccurredAt: fromMS(at), Data: data}
		r.ID = events.ID(r.ResourceID, r.Version, r.Index)
		out = append(out, r)
	}
	return out, rows.Err()
}

// write runs fn through the writer, in its own savepoint of a group transaction.
func (s *Store) write(ctx context.Context, name string, fn func(ctx context.Context) error) error {
	return s.writeOp(ctx, name, &op{ctx: ctx, fn: fn})
}

// writeLossy is write for a write that need not survive a power loss (see syncForGroup):
// the relay's claims, marks and prunes.
func (s *Store) writeLossy(ctx context.Context, name string, fn func(ctx context.Context) error) error {
	return s.writeOp(ctx, name, &op{ctx: ctx, fn: fn, lossy: true})
}

func (s *Store) writeOp(ctx context.Context, name string, o *op) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if r := s.submit(o); r.err != nil {
		return fmt.Errorf("%s: %w", name, r.err)
	}
	return nil
}

// MarkPublished marks the events published, up to markChunk keys per statement.
func (s *Store) MarkPublished(ctx context.Context, keys []persistence.EventKey, at time.Time) error {
	ms := max(at.UnixMilli(), 1)
	err := s.writeLossy(ctx, "mark published", func(ctx context.Context) error {
		args := make([]any, 0, 1+4*min(len(keys), markChunk))
		for rest := keys; len(rest) > 0; {
			chunk := rest[:min(len(rest), markChunk)]
			rest = rest[len(chunk):]
			rows := markRowsFor(len(chunk))
			args = append(args[:0], ms)
			for i := range rows {
				k := chunk[min(i, len(chunk)-1)] // the last key again up to rows: IN ignores repeats
				args = append(args, k.OccurredMS, k.ResourceID, int64(k.Version), int64(k.Index))
			}
			if _, err := s.exec(ctx, markTexts[bits.TrailingZeros(uint(rows))], args...); err != nil {
				return mapErr("mark", err)
			}
		}
		return nil
	})
	if err == nil {
		s.claims.release(keys)
	}
	return err
}

// markRowsFor rounds n keys up to a power of two, so that the writer prepares at most 8 mark
// statements (1, 2, 4, ... markChunk keys) instead of one per batch size.
func markRowsFor(n int) int {
	rows := 1
	for rows < n {
		rows *= 2
	}
	return min(rows, markChunk)
}

// markTexts are the mark statements for 1, 2, 4, ... markChunk keys.
var markTexts = func() (t [markSizes]string) {
	for i := range t {
		t[i] = markRows + strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?),", 1<<i), ",") + ")"
	}
	return t
}()

// PruneEvents deletes published events older than cutoff and inbox entries recorded before it.
func (s *Store) PruneEvents(ctx context.Context, cutoff time.Time) (int64, error) {
	var n int64
	err := s.writeLossy(ctx, "prune events", func(ctx context.Context) error {
		res, err := s.exec(ctx, pruneOutbox, cutoff.UnixMilli())
		if err != nil {
			return mapErr("prune", err)
		}
		if n, err = res.RowsAffected(); err != nil {
			return mapErr("prune", err)
		}
		if _, err := s.exec(ctx, pruneInbox, cutoff.UnixMilli()); err != nil {
			return mapErr("prune inbox", err)
		}
		return nil
	})
	return n, err
}

// ListEvents reads events in log order from the read pool.
func (s *Store) ListEvents(ctx context.Context, f persistence.EventFilter) ([]events.Record, error) {
	if err := s.readable(ctx, "list events"); err != nil {
		return nil, err
	}
	if err := f.Normalize(); err != nil {
		return nil, err
	}
	where, args := []string{"1 = 1"}, []any{}
	if k := f.After; k != nil {
		where = append(where, "(occurred_at_ms, resource_id, version, idx) > (?, ?, ?, ?)")
		args = append(args, k.OccurredMS, k.ResourceID, int64(k.Version), int64(k.Index))
	}
	if f.Type != "" {
		where, args = append(where, "event_type = ?"), append(args, string(f.Type))
	}
	if f.ResourceID != "" {
		where, args = append(where, "resource_id = ?"), append(args, f.ResourceID)
	}
	q := `SELECT ` + outboxCols + ` FROM outbox WHERE ` + strings.Join(where, " AND ") + outboxOrder + ` LIMIT ?`
	recs, err := scanRecords(s.rdb.QueryContext(ctx, q, append(args, f.Limit)...))
	if err != nil {
		return nil, s.readErr("list events", err)
	}
	return recs, nil
}

// Processed reads the inbox from the read pool: it sees every MarkProcessed that returned.
func (s *Store) Processed(ctx context.Context, consumer, eventID string) (bool, error) {
	if err := s.readable(ctx, "inbox"); err != nil {
		return false, err
	}
	var one int
	err := s.rdb.QueryRowContext(ctx, selectInbox, consumer, eventID).Scan(&one)
	switch {
	case err == sql.ErrNoRows:
		return false, nil
	case err != nil:
		return false, s.readErr("inbox", err)
	}
	return true, nil
}

// MarkProcessed records that consumer handled eventID; a second record keeps the first.
func (s *Store) MarkProcessed(ctx context.Context, consumer, eventID string, at time.Time) error {
	return s.write(ctx, "inbox", func(ctx context.Context) error {
		if _, err := s.exec(ctx, insertInbox, consumer, eventID, at.UnixMilli()); err != nil {
			return mapErr("inbox", err)
		}
		return nil
	})
}

// UnpublishedEvents counts the outbox rows not yet published (the relay's backlog gauge),
// from the read pool.
func (s *Store) UnpublishedEvents(ctx context.Context) (int64, error) {
	if err := s.readable(ctx, "count unpublished events"); err != nil {
		return 0, err
	}
	var n int64
	if err := s.rdb.QueryRowContext(ctx, `SELECT count(*) FROM outbox WHERE published_at_ms = 0`).Scan(&n); err != nil {
		return 0, s.readErr("count unpublished events", err)
	}
	return n, nil
}

var _ sqlbind.GroupWriter = (*Store)(nil).InGroup

// InGroup is a sqlbind.GroupWriter: fn runs on the writer's connection in its own savepoint
// of the next group commit, like the outbox's own writes, so that a side store's write (the
// webhook intake and attempt records, the reports consumer) shares the group's fsync instead
// of taking SQLite's write lock between two groups, where the booking writer's BEGIN
// IMMEDIATE waited for it in the busy handler's growing sleeps (docs/EVENTS.md, Cost). fn's
// writes commit with the group or not at all: an error from fn rolls back its savepoint alone
// (the rest of the group commits), a failed group fails fn's call with the others.
func (s *Store) InGroup(ctx context.Context, fn func(ctx context.Context, q sqlbind.Querier) error) error {
	return s.write(ctx, "group write", func(ctx context.Context) error { return fn(ctx, s.wc) })
}
