package webhooks

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/allot/allot/persistence/sqlbind"
)

// Dialect is the SQL engine behind an SQLStore. The statements are shared; only placeholders
// and the row locking of a claim differ.
type Dialect int

const (
	// SQLite: ? placeholders; its single writer serializes claims.
	SQLite Dialect = iota + 1
	// Postgres (also CockroachDB): $n placeholders; claims skip rows another claim has locked.
	Postgres
)

// SQLStore is the Store on the tables of migration 0005 (persistence/migrations), over a
// database/sql handle: the sqlite driver (OpenSQLite) or PostgreSQL/CockroachDB through pgx's
// stdlib adapter. The schema must have been migrated (opening the node's main store does it).
// Create it with NewSQLStore; the caller owns db.
type SQLStore struct {
	db *sql.DB
	d  Dialect
	// group, when set (WriteThrough), runs the intake's and the attempt records' batches
	// (AddEvents, RecordAttempts) and the claims (ClaimDue) instead of a transaction of db.
	// Set before use.
	group sqlbind.GroupWriter
	// stmts are the batch statements prepared on the group writer's connection (sqlbatch.go).
	stmtsMu sync.Mutex
	stmts   *connStmts
}

var _ Store = (*SQLStore)(nil)

// WriteThrough makes the batch writes (AddEvents with its inbox rows, RecordAttempts) and the
// claims of due deliveries (ClaimDue) run through w, the node's booking writer on SQLite
// ((*sqlite.Store).InGroup), so that they join its group commits instead of taking the file's
// write lock between them (docs/EVENTS.md, Cost). Their atomicity is w's: each call commits
// whole or not at all. Call it before the store is used; w must write to the database db
// reads.
func (s *SQLStore) WriteThrough(w sqlbind.GroupWriter) { s.group = w }

// NewSQLStore returns the Store on db in dialect d.
func NewSQLStore(db *sql.DB, d Dialect) (*SQLStore, error) {
	if db == nil || (d != SQLite && d != Postgres) {
		return nil, errors.New("webhooks: NewSQLStore needs a db and a known dialect")
	}
	return &SQLStore{db: db, d: d}, nil
}

// q rewrites ? placeholders to $n for PostgreSQL. Statements here have no ? in literals.
func (s *SQLStore) q(stmt string) string {
	if s.d != Postgres {
		return stmt
	}
	return sqlbind.Dollar(stmt)
}

const endpointCols = `id, url, description, event_types, secret, disabled, disabled_reason, failing_since_ms, created_at_ms, updated_at_ms`

const deliveryCols = `id, endpoint_id, event_id, event_type, payload, status, attempts, next_attempt_at_ms,
 last_status_code, last_error, created_at_ms, updated_at_ms`

// toMS and fromMS convert times; the zero time is 0.
func toMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

type scanner interface{ Scan(dest ...any) error }

func scanEndpoint(r scanner) (Endpoint, error) {
	var e Endpoint
	var types string
	var disabled, failing, created, updated int64
	if err := r.Scan(&e.ID, &e.URL, &e.Description, &types, &e.Secret, &disabled, &e.DisabledReason,
		&failing, &created, &updated); err != nil {
		return Endpoint{}, err
	}
	if err := json.Unmarshal([]byte(types), &e.EventTypes); err != nil {
		return Endpoint{}, fmt.Errorf("endpoint %s: event types: %w", e.ID, err)
	}
	e.Disabled, e.FailingSince, e.CreatedAt, e.UpdatedAt = disabled != 0, fromMS(failing), fromMS(created), fromMS(updated)
	return e, nil
}

func scanDelivery(r scanner) (Delivery, error) {
	var d Delivery
	var payload string
	var attempts, next, code, created, updated int64
	if err := r.Scan(&d.ID, &d.EndpointID, &d.EventID, &d.EventType, &payload, &d.Status, &attempts, &next,
		&code, &d.LastError, &created, &updated); err != nil {
		return Delivery{}, err
	}
	d.Payload = json.RawMessage(payload)
	d.Attempts, d.LastStatusCode = int(attempts), int(code)
	d.NextAttemptAt, d.CreatedAt, d.UpdatedAt = fromMS(next), fromMS(created), fromMS(updated)
	return d, nil
}

func (s *SQLStore) CreateEndpoint(ctx context.Context, e Endpoint) error {
	types, err := json.Marshal(e.EventTypes)
	if err != nil {
		return fmt.Errorf("create endpoint: %w", err)
	}
	res, err := s.db.ExecContext(ctx, s.q(`INSERT INTO webhook_endpoints (`+endpointCols+`)
 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`),
		e.ID, e.URL, e.Description, string(types), e.Secret, boolInt(e.Disabled), e.DisabledReason,
		toMS(e.FailingSince), toMS(e.CreatedAt), toMS(e.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create endpoint: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("create endpoint: %w", err)
	} else if n == 0 {
		return fmt.Errorf("create endpoint %s: %w", e.ID, ErrExists)
	}
	return nil
}

func (s *SQLStore) GetEndpoint(ctx context.Context, id string) (Endpoint, error) {
	e, err := scanEndpoint(s.db.QueryRowContext(ctx, s.q(`SELECT `+endpointCols+` FROM webhook_endpoints WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return Endpoint{}, fmt.Errorf("get endpoint %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Endpoint{}, fmt.Errorf("get endpoint: %w", err)
	}
	return e, nil
}

func (s *SQLStore) ListEndpoints(ctx context.Context) ([]Endpoint, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+endpointCols+` FROM webhook_endpoints ORDER BY created_at_ms, id`)
	if err != nil {
		return nil, fmt.Errorf("list endpoints: %w", err)
	}
	defer rows.Close()
	var out []Endpoint
	for rows.Next() {
		e, err := scanEndpoint(rows)
		if err != nil {
			return nil, fmt.Errorf("list endpoints: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list endpoints: %w", err)
	}
	return out, nil
}

func (s *SQLStore) DeleteEndpoint(ctx context.Context, id string) error {
	return s.inTx(ctx, "delete endpoint", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM webhook_endpoints WHERE id = ?`), id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("%s: %w", id, ErrNotFound)
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM webhook_attempts WHERE delivery_id IN
 (SELECT id FROM webhook_deliveries WHERE endpoint_id = ?)`), id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.q(`DELETE FROM webhook_deliveries WHERE endpoint_id = ?`), id)
		return err
	})
}

func (s *SQLStore) SetEndpointState(ctx context.Context, id string, st EndpointState, now time.Time) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE webhook_endpoints SET disabled = ?, disabled_reason = ?,
 failing_since_ms = ?, updated_at_ms = ? WHERE id = ?`),
		boolInt(st.Disabled), st.DisabledReason, toMS(st.FailingSince), toMS(now), id)
	if err != nil {
		return fmt.Errorf("set endpoint state: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("set endpoint state: %w", err)
	} else if n == 0 {
		return fmt.Errorf("set endpoint state %s: %w", id, ErrNotFound)
	}
	return nil
}

func (s *SQLStore) AddDeliveries(ctx context.Context, ds []Delivery) (int, error) {
	if len(ds) == 0 {
		return 0, nil
	}
	added := 0
	err := s.inTx(ctx, "add deliveries", func(tx *sql.Tx) error {
		added = 0
		for _, d := range ds {
			// ON CONFLICT DO NOTHING without a target covers both the id and the
			// (endpoint_id, event_id) uniqueness; the id derives from the pair anyway.
			res, err := tx.ExecContext(ctx, s.q(`INSERT INTO webhook_deliveries (`+deliveryCols+`)
 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`),
				d.ID, d.EndpointID, d.EventID, d.EventType, string(d.Payload), d.Status, int64(d.Attempts),
				toMS(d.NextAttemptAt), int64(d.LastStatusCode), d.LastError, toMS(d.CreatedAt), toMS(d.UpdatedAt))
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			added += int(n)
		}
		return nil
	})
	return added, err
}

func (s *SQLStore) GetDelivery(ctx context.Context, endpointID, id string) (Delivery, error) {
	d, err := scanDelivery(s.db.QueryRowContext(ctx, s.q(`SELECT `+deliveryCols+` FROM webhook_deliveries
 WHERE id = ? AND endpoint_id = ?`), id, endpointID))
	if errors.Is(err, sql.ErrNoRows) {
		return Delivery{}, fmt.Errorf("get delivery %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Delivery{}, fmt.Errorf("get delivery: %w", err)
	}
	return d, nil
}

func (s *SQLStore) ListDeliveries(ctx context.Context, endpointID string, limit int, before string) ([]Delivery, error) {
	stmt := `SELECT ` + deliveryCols + ` FROM webhook_deliveries WHERE endpoint_id = ?`
	args := []any{endpointID}
	if before != "" {
		stmt += ` AND (created_at_ms, id) < (SELECT created_at_ms, id FROM webhook_deliveries WHERE id = ? AND endpoint_id = ?)`
		args = append(args, before, endpointID)
	}
	stmt += ` ORDER BY created_at_ms DESC, id DESC LIMIT ?`
	args = append(args, int64(limit))
	rows, err := s.db.QueryContext(ctx, s.q(stmt), args...)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	return collectDeliveries(rows, "list deliveries")
}

func collectDeliveries(rows *sql.Rows, op string) ([]Delivery, error) {
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return out, nil
}

func (s *SQLStore) ListAttempts(ctx context.Context, deliveryID string) ([]Attempt, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT n, at_ms, duration_ms, status_code, error FROM webhook_attempts
 WHERE delivery_id = ? ORDER BY n`), deliveryID)
	if err != nil {
		return nil, fmt.Errorf("list attempts: %w", err)
	}
	defer rows.Close()
	var out []Attempt
	for rows.Next() {
		var n, at, dur, code int64
		a := Attempt{DeliveryID: deliveryID}
		if err := rows.Scan(&n, &at, &dur, &code, &a.Error); err != nil {
			return nil, fmt.Errorf("list attempts: %w", err)
		}
		a.N, a.At, a.Duration, a.StatusCode = int(n), fromMS(at), time.Duration(dur)*time.Millisecond, int(code)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list attempts: %w", err)
	}
	return out, nil
}

// ClaimDue pushes the due rows' next attempt to leaseUntil and returns them, in one
// statement. The outer condition repeats the due test, so a row that a concurrent claim moved
// meanwhile (PostgreSQL re-checks a row after waiting for its lock) is not returned twice.
// On PostgreSQL and CockroachDB the due rows are picked in a CTE that locks them and skips
// rows a concurrent claim holds; a LIMIT inside IN (...) could be evaluated more than once
// there and claim more than limit rows. A serialization failure is retried.
func (s *SQLStore) ClaimDue(ctx context.Context, now, leaseUntil time.Time, limit int, exclude []string) ([]Delivery, error) {
	skip := ""
	var skipArgs []any
	if len(exclude) > 0 {
		skip = " AND endpoint_id NOT IN (?" + strings.Repeat(", ?", len(exclude)-1) + ")"
		for _, e := range exclude {
			skipArgs = append(skipArgs, e)
		}
	}
	// Nothing due is the common answer of a poll: find it out with a read, which on SQLite
	// does not take the write lock the booking writer needs (nor locks rows elsewhere).
	// Skipping endpoints, ask per endpoint (one seek each in
	// webhook_deliveries_pending_due_by_endpoint, migrations 0014 and 0022): the due index
	// would walk every due delivery of the skipped ones, a busy receiver's whole backlog, to
	// find nothing. Both due indexes hold pending deliveries only (0022): every statement
	// here says `status = 'pending'` literally, so that the engines may use them
	// (TestClaimDueUsesThePendingIndexes).
	pre := `SELECT 1 FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at_ms <= ? LIMIT 1`
	preArgs := []any{toMS(now)}
	if len(exclude) > 0 {
		pre = `SELECT 1 FROM webhook_endpoints e WHERE e.id NOT IN (?` + strings.Repeat(", ?", len(exclude)-1) + `)
 AND EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.endpoint_id = e.id AND d.status = 'pending' AND d.next_attempt_at_ms <= ?) LIMIT 1`
		preArgs = append(append([]any{}, skipArgs...), toMS(now))
	}
	var one int
	err := s.db.QueryRowContext(ctx, s.q(pre), preArgs...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	// The unary + keeps SQLite from answering the outer WHERE with the due index, which
	// walks every due delivery (the whole backlog, milliseconds per claim under load): the
	// primary key finds the few ids the subquery chose.
	stmt := `UPDATE webhook_deliveries SET next_attempt_at_ms = ?
 WHERE +status = 'pending' AND +next_attempt_at_ms <= ? AND id IN
 (SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at_ms <= ?` + skip + `
  ORDER BY next_attempt_at_ms, id LIMIT ?)
 RETURNING ` + deliveryCols
	args := append(append([]any{toMS(leaseUntil), toMS(now), toMS(now)}, skipArgs...), int64(limit))
	if s.d == Postgres {
		stmt = `WITH due AS (SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at_ms <= ?` + skip + `
  ORDER BY next_attempt_at_ms, id LIMIT ? FOR UPDATE SKIP LOCKED)
 UPDATE webhook_deliveries AS d SET next_attempt_at_ms = ? FROM due
 WHERE d.id = due.id AND d.status = 'pending' AND d.next_attempt_at_ms <= ?
 RETURNING ` + prefixed("d.", deliveryCols)
		args = append(append([]any{toMS(now)}, skipArgs...), int64(limit), toMS(leaseUntil), toMS(now))
	}
	// READ COMMITTED is the isolation SKIP LOCKED is made for: the re-check above keeps it
	// exact, and SERIALIZABLE would fail concurrent claims with 40001 where they can simply
	// take other rows. (CockroachDB without READ COMMITTED enabled runs it SERIALIZABLE, and
	// inTx retries.)
	var out []Delivery
	claim := func(ctx context.Context, q sqlbind.Querier) error {
		rows, err := q.QueryContext(ctx, s.q(stmt), args...)
		if err != nil {
			return err
		}
		out, err = collectDeliveries(rows, "query")
		return err
	}
	if s.group != nil { // one statement: it joins the booking writer's group (WriteThrough)
		err = s.group(ctx, claim)
	} else {
		err = s.inTxOpts(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted}, func(tx *sql.Tx) error { return claim(ctx, tx) })
	}
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	// RETURNING gives no order.
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// prefixed qualifies each column of a comma-separated list with p.
func prefixed(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = p + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

func (s *SQLStore) RecordAttempt(ctx context.Context, a Attempt, o Outcome) error {
	return s.inTx(ctx, "record attempt", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE webhook_deliveries SET attempts = ?, status = ?,
 next_attempt_at_ms = ?, last_status_code = ?, last_error = ?, updated_at_ms = ? WHERE id = ? AND attempts = ?`),
			int64(a.N), o.Status, toMS(o.NextAttemptAt), int64(o.LastStatusCode), o.LastError, toMS(a.At),
			a.DeliveryID, int64(a.N-1))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			var one int
			err := tx.QueryRowContext(ctx, s.q(`SELECT 1 FROM webhook_deliveries WHERE id = ?`), a.DeliveryID).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("%s: %w", a.DeliveryID, ErrNotFound)
			}
			if err != nil {
				return err
			}
			return fmt.Errorf("%s #%d: %w", a.DeliveryID, a.N, ErrStale)
		}
		_, err = tx.ExecContext(ctx, s.q(`INSERT INTO webhook_attempts (delivery_id, n, at_ms, duration_ms, status_code, error)
 VALUES (?, ?, ?, ?, ?, ?)`), a.DeliveryID, int64(a.N), toMS(a.At), a.Duration.Milliseconds(), int64(a.StatusCode), a.Error)
		return err
	})
}

func (s *SQLStore) Reschedule(ctx context.Context, endpointID, id string, at time.Time) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE webhook_deliveries SET status = 'pending', next_attempt_at_ms = ?,
 updated_at_ms = ? WHERE id = ? AND endpoint_id = ?`), toMS(at), toMS(at), id, endpointID)
	if err != nil {
		return fmt.Errorf("reschedule delivery: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("reschedule delivery: %w", err)
	} else if n == 0 {
		return fmt.Errorf("reschedule delivery %s: %w", id, ErrNotFound)
	}
	return nil
}

// inTx runs fn in a transaction, re-running it when the engine reports a serialization
// failure (sqlbind.InTx). fn's errors are wrapped with op.
func (s *SQLStore) inTx(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	if err := s.inTxOpts(ctx, nil, fn); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// inTxOpts is inTx with transaction options and without the prefix.
func (s *SQLStore) inTxOpts(ctx context.Context, opts *sql.TxOptions, fn func(tx *sql.Tx) error) error {
	if s.d == SQLite {
		opts = nil // one writer: SQLite transactions are serializable whatever is asked
	}
	return sqlbind.InTx(ctx, s.db, opts, fn)
}
