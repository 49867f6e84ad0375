package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/allot/allot/actors/events"
	"github.com/allot/allot/persistence"
)

var _ persistence.Outbox = (*Store)(nil)

// The outbox on PostgreSQL and CockroachDB. Commit queues the batch's events as one more
// statement of its pgx.Batch (queueOutbox), inside its SERIALIZABLE transaction, so a failed
// or fenced batch leaves none. The relay's claim is a short transaction of its own
// (outboxclaim.go).

const (
	outboxColumns = `resource_id, version, idx, event_type, subject, occurred_at_ms, data`
	outboxOrder   = ` ORDER BY occurred_at_ms, resource_id, version, idx`

	sqlInsertOutbox = `INSERT INTO outbox (occurred_at_ms, resource_id, version, idx, event_type, subject, data,
    published_at_ms, claimed_until_ms)
SELECT unnest($6::INT8[]), $1::TEXT, $2::INT8, unnest($3::INT8[]), unnest($4::TEXT[]), unnest($5::TEXT[]),
    unnest($7::TEXT[]), 0, 0`

	// Rows by key: $2..$5 are the keys' columns as arrays.
	sqlKeys = ` FROM unnest($2::INT8[], $3::TEXT[], $4::INT8[], $5::INT8[]) AS k (o, r, v, i)
WHERE outbox.occurred_at_ms = k.o AND outbox.resource_id = k.r AND outbox.version = k.v AND outbox.idx = k.i`
	sqlClaimRows   = `UPDATE outbox SET claimed_until_ms = $1` + sqlKeys
	sqlMarkRows    = `UPDATE outbox SET published_at_ms = $1` + sqlKeys + ` AND outbox.published_at_ms = 0`
	sqlPruneOutbox = `DELETE FROM outbox WHERE published_at_ms > 0 AND occurred_at_ms < $1`
	sqlPruneInbox  = `DELETE FROM event_inbox WHERE processed_at_ms < $1`
	sqlInsertInbox = `INSERT INTO event_inbox (consumer, event_id, processed_at_ms) VALUES ($1, $2, $3)
ON CONFLICT (consumer, event_id) DO NOTHING`
	sqlSelectInbox = `SELECT count(*) FROM event_inbox WHERE consumer = $1 AND event_id = $2`
)

// queueOutbox adds the batch's events to its statements.
//
// The rows are persistence.EncodeEvents' records (TestQueueOutboxWritesEncodeEvents), built
// in a: the events' JSON appended to one buffer, the columns in its arrays.
func queueOutbox(queue func(sql string, args ...any), b *persistence.Batch, a *commitArena) error {
	n := len(b.Events)
	if n == 0 {
		return nil
	}
	types, subjects, data := sized(a.outTypes, n), sized(a.outSubjects, n), sized(a.outData, n)
	idx, at := sized(a.outIdx, n), sized(a.outAt, n)
	a.outTypes, a.outSubjects, a.outData, a.outIdx, a.outAt = types, subjects, data, idx, at
	buf := a.outJSON[:0]
	for i := range b.Events {
		e := &b.Events[i]
		if e.ResourceID != b.ResourceID || e.Version != b.Version { // as persistence.EncodeEvents
			return fmt.Errorf("event %d of batch %s/%d is about %s/%d", i, b.ResourceID, b.Version, e.ResourceID, e.Version)
		}
		start := len(buf)
		var err error
		if buf, err = events.AppendData(buf, e); err != nil {
			return err
		}
		idx[i] = int64(start) // where its JSON starts, until the buffer has stopped moving
		types[i], subjects[i] = string(e.Type), e.Subject
		at[i] = e.OccurredAt.UnixMilli()
	}
	a.outJSON = buf
	for i := range data {
		end := len(buf)
		if i+1 < n {
			end = int(idx[i+1])
		}
		data[i] = buf[idx[i]:end:end]
	}
	for i := range idx {
		idx[i] = int64(b.Events[i].Index)
	}
	queue(sqlInsertOutbox, b.ResourceID, int64(b.Version), idx, types, subjects, at, data)
	return nil
}

// keyArrays are the columns of keys as the arrays sqlKeys takes, each one parameter sent
// without an allocation per key (arrays.go): a claim and a mark are one statement per batch.
func keyArrays(keys []persistence.EventKey) []any {
	o, r, v, i := make(int8Array, len(keys)), make(textArray, len(keys)), make(int8Array, len(keys)), make(int8Array, len(keys))
	for j, k := range keys {
		o[j], r[j], v[j], i[j] = k.OccurredMS, k.ResourceID, int64(k.Version), int64(k.Index)
	}
	return []any{o, r, v, i}
}

func collectRecords(rows pgx.Rows) ([]events.Record, error) {
	defer rows.Close()
	var out []events.Record
	for rows.Next() {
		var (
			r        events.Record
			v, i, at int64
			typ      string
			data     string
		)
		if err := rows.Scan(&r.ResourceID, &v, &i, &typ, &r.Subject, &at, &data); err != nil {
			return nil, err
		}
		r.Version, r.Index, r.Type, r.OccurredAt, r.Data = uint64(v), int(i), events.Type(typ), fromMS(at), []byte(data)
		r.ID = events.ID(r.ResourceID, r.Version, r.Index)
		out = append(out, r)
	}
	return out, rows.Err()
}

func (s *Store) usable(ctx context.Context, op string) error {
	if s.closed.Load() {
		return errClosed(op)
	}
	if err := ctx.Err(); err != nil {
		return wrap(op, err)
	}
	return nil
}

// MarkPublished marks the events published.
func (s *Store) MarkPublished(ctx context.Context, keys []persistence.EventKey, at time.Time) error {
	if err := s.usable(ctx, "mark published"); err != nil {
		return err
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	return wrap("mark published", s.retry(ctx, func(ctx context.Context) error {
		_, err := s.pool.Exec(ctx, sqlMarkRows, append([]any{max(at.UnixMilli(), 1)}, keyArrays(keys)...)...)
		return err
	}))
}

// PruneEvents deletes published events older than cutoff and inbox entries recorded before it.
func (s *Store) PruneEvents(ctx context.Context, cutoff time.Time) (int64, error) {
	if err := s.usable(ctx, "prune events"); err != nil {
		return 0, err
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	var n int64
	err := s.retry(ctx, func(ctx context.Context) error {
		tag, err := s.pool.Exec(ctx, sqlPruneOutbox, cutoff.UnixMilli())
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		_, err = s.pool.Exec(ctx, sqlPruneInbox, cutoff.UnixMilli())
		return err
	})
	if err != nil {
		return 0, wrap("prune events", err)
	}
	return n, nil
}

// ListEvents returns events in log order after f.After.
func (s *Store) ListEvents(ctx context.Context, f persistence.EventFilter) ([]events.Record, error) {
	if err := s.usable(ctx, "list events"); err != nil {
		return nil, err
	}
	if err := f.Normalize(); err != nil {
		return nil, err
	}
	q, args := listEventsQuery(f)
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	var out []events.Record
	err := s.retry(ctx, func(ctx context.Context) error {
		rows, err := s.pool.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		out, err = collectRecords(rows)
		return err
	})
	if err != nil {
		return nil, wrap("list events", err)
	}
	return out, nil
}

// listEventsQuery is ListEvents' statement for a normalized filter: a range of the outbox's
// primary key, the log order (TestHotPathIndexesHaveReaders).
func listEventsQuery(f persistence.EventFilter) (string, []any) {
	where, args := []string{"true"}, []any{}
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	if k := f.After; k != nil {
		where = append(where, fmt.Sprintf("(occurred_at_ms, resource_id, version, idx) > (%s::INT8, %s::TEXT, %s::INT8, %s::INT8)",
			arg(k.OccurredMS), arg(k.ResourceID), arg(int64(k.Version)), arg(int64(k.Index))))
	}
	if f.Type != "" {
		where = append(where, "event_type = "+arg(string(f.Type)))
	}
	if f.ResourceID != "" {
		where = append(where, "resource_id = "+arg(f.ResourceID))
	}
	q := `SELECT ` + outboxColumns + ` FROM outbox WHERE ` + strings.Join(where, " AND ") + outboxOrder + ` LIMIT ` + arg(f.Limit)
	return q, args // args read after arg's last append (the order of a return's operands is not)
}

// Processed reports whether consumer handled eventID.
func (s *Store) Processed(ctx context.Context, consumer, eventID string) (bool, error) {
	if err := s.usable(ctx, "inbox"); err != nil {
		return false, err
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	var n int64
	err := s.retry(ctx, func(ctx context.Context) error {
		return s.pool.QueryRow(ctx, sqlSelectInbox, consumer, eventID).Scan(&n)
	})
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return false, wrap("inbox", err)
	}
	return n > 0, nil
}

// MarkProcessed records that consumer handled eventID; a second record keeps the first.
func (s *Store) MarkProcessed(ctx context.Context, consumer, eventID string, at time.Time) error {
	if err := s.usable(ctx, "inbox"); err != nil {
		return err
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	return wrap("inbox", s.retry(ctx, func(ctx context.Context) error {
		_, err := s.pool.Exec(ctx, sqlInsertInbox, consumer, eventID, at.UnixMilli())
		return err
	}))
}

// UnpublishedEvents counts the outbox rows not yet published (the relay's backlog gauge); the
// unpublished-rows index answers it.
func (s *Store) UnpublishedEvents(ctx context.Context) (int64, error) {
	if err := s.usable(ctx, "count unpublished events"); err != nil {
		return 0, err
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	var n int64
	err := s.retry(ctx, func(ctx context.Context) error {
		return s.pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE published_at_ms = 0`).Scan(&n)
	})
	return n, wrap("count unpublished events", err)
}
