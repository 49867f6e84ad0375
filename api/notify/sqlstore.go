package notify

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/allot/allot/persistence/sqlbind"
)

// Dialect is the SQL engine behind an SQLStore: only placeholders and row locking differ.
type Dialect int

const (
	// SQLite: ? placeholders; its single writer serializes claims.
	SQLite Dialect = iota + 1
	// Postgres (also CockroachDB): $n placeholders; claims skip rows another claim locked.
	Postgres
)

// SQLStore is the Store on the tables of migration 0007 (persistence/migrations), over a
// database/sql handle: OpenSQLite's, or PostgreSQL/CockroachDB through pgx's stdlib adapter.
// The schema must be migrated (opening the node's main store does it). The caller owns db.
type SQLStore struct {
	db *sql.DB
	d  Dialect
	// group, when set (WriteThrough), runs ApplyEvents, ClaimNotifications and FinishAll
	// instead of a transaction of db. Set before use.
	group sqlbind.GroupWriter
}

var _ Store = (*SQLStore)(nil)

// NewSQLStore returns the Store on db in dialect d.
func NewSQLStore(db *sql.DB, d Dialect) (*SQLStore, error) {
	if db == nil || (d != SQLite && d != Postgres) {
		return nil, errors.New("notify: NewSQLStore needs a db and a known dialect")
	}
	return &SQLStore{db: db, d: d}, nil
}

// NotificationID is the outbox id of (event, channel): stable, so a redelivery maps to the
// same row.
func NotificationID(eventID string, ch Channel) string {
	sum := sha256.Sum256([]byte(eventID + "\x00" + string(ch)))
	return "nt_" + hex.EncodeToString(sum[:12])
}

// q rewrites ? placeholders to $n for PostgreSQL. Statements here have no ? in literals.
func (s *SQLStore) q(stmt string) string {
	if s.d != Postgres {
		return stmt
	}
	return sqlbind.Dollar(stmt)
}

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

type scanner interface{ Scan(dest ...any) error }

const holdCols = `hold_id, resource_id, user_id, status, buckets, quantity, expires_at_ms, version, invited, updated_at_ms`

func scanHold(r scanner) (HoldState, error) {
	var h HoldState
	var buckets string
	var exp, ver, inv, upd int64
	if err := r.Scan(&h.HoldID, &h.ResourceID, &h.UserID, &h.Status, &buckets, &h.Quantity, &exp, &ver, &inv, &upd); err != nil {
		return HoldState{}, err
	}
	if err := json.Unmarshal([]byte(buckets), &h.Buckets); err != nil {
		return HoldState{}, fmt.Errorf("hold %s: buckets: %w", h.HoldID, err)
	}
	h.ExpiresAt, h.Version, h.Invited, h.UpdatedAt = fromMS(exp), uint64(ver), inv != 0, fromMS(upd)
	return h, nil
}

const notificationCols = `id, event_id, channel, kind, hold_id, user_id, status, attempts, next_attempt_at_ms, last_error,
 created_at_ms, updated_at_ms`

func scanNotification(r scanner) (Notification, error) {
	var n Notification
	var ch, kind string
	var att, next, cre, upd int64
	if err := r.Scan(&n.ID, &n.EventID, &ch, &kind, &n.HoldID, &n.UserID, &n.Status, &att, &next, &n.LastError, &cre, &upd); err != nil {
		return Notification{}, err
	}
	n.Channel, n.Kind, n.Attempts = Channel(ch), Kind(kind), int(att)
	n.NextAttemptAt, n.CreatedAt, n.UpdatedAt = fromMS(next), fromMS(cre), fromMS(upd)
	return n, nil
}

func (s *SQLStore) Apply(ctx context.Context, r Record) (int, error) {
	added := 0
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		added, err = s.applyRecord(ctx, &stmts{s: s, q: tx}, r)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("notify apply: %w", err)
	}
	return added, nil
}

// applyRecord runs r's statements on p: the hold (only if newer), the notifications (unless
// stored), the timers cancelled, the timers set.
func (s *SQLStore) applyRecord(ctx context.Context, p *stmts, r Record) (int, error) {
	if h := r.Hold; h != nil {
		buckets, err := json.Marshal(h.Buckets)
		if err != nil {
			return 0, err
		}
		inv := int64(0)
		if h.Invited {
			inv = 1
		}
		if _, err := p.exec(ctx, `INSERT INTO notify_holds (`+holdCols+`)
 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
 ON CONFLICT (hold_id) DO UPDATE SET resource_id = excluded.resource_id, user_id = excluded.user_id,
 status = excluded.status, buckets = excluded.buckets, quantity = excluded.quantity,
 expires_at_ms = excluded.expires_at_ms, version = excluded.version, invited = excluded.invited,
 updated_at_ms = excluded.updated_at_ms
 WHERE notify_holds.version < excluded.version`,
			h.HoldID, h.ResourceID, h.UserID, h.Status, string(buckets), h.Quantity, toMS(h.ExpiresAt),
			int64(h.Version), inv, toMS(h.UpdatedAt)); err != nil {
			return 0, fmt.Errorf("hold: %w", err)
		}
	}
	added, err := s.addNotifications(ctx, p, r.Notifications)
	if err != nil {
		return 0, err
	}
	for _, id := range r.CancelTimers {
		if _, err := p.exec(ctx, `DELETE FROM notify_timers WHERE id = ?`, id); err != nil {
			return 0, fmt.Errorf("cancel timer: %w", err)
		}
	}
	for _, t := range r.SetTimers {
		if _, err := p.exec(ctx, `INSERT INTO notify_timers (id, kind, hold_id, due_at_ms, lease_until_ms, status)
 VALUES (?, ?, ?, ?, 0, 'pending')
 ON CONFLICT (id) DO UPDATE SET due_at_ms = excluded.due_at_ms, lease_until_ms = 0, status = 'pending'`,
			t.ID, string(t.Kind), t.HoldID, toMS(t.DueAt)); err != nil {
			return 0, fmt.Errorf("set timer: %w", err)
		}
	}
	return added, nil
}

func (s *SQLStore) addNotifications(ctx context.Context, p *stmts, ns []Notification) (int, error) {
	added := 0
	for _, n := range ns {
		k, err := p.exec(ctx, `INSERT INTO notify_outbox (`+notificationCols+`)
 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			n.ID, n.EventID, string(n.Channel), string(n.Kind), n.HoldID, n.UserID, n.Status, int64(n.Attempts),
			toMS(n.NextAttemptAt), n.LastError, toMS(n.CreatedAt), toMS(n.UpdatedAt))
		if err != nil {
			return 0, fmt.Errorf("add notification: %w", err)
		}
		added += int(k)
	}
	return added, nil
}

func (s *SQLStore) Hold(ctx context.Context, holdID string) (HoldState, error) {
	h, err := scanHold(s.db.QueryRowContext(ctx, s.q(`SELECT `+holdCols+` FROM notify_holds WHERE hold_id = ?`), holdID))
	if errors.Is(err, sql.ErrNoRows) {
		return HoldState{}, fmt.Errorf("hold %s: %w", holdID, ErrNotFound)
	}
	if err != nil {
		return HoldState{}, fmt.Errorf("notify hold: %w", err)
	}
	return h, nil
}

func (s *SQLStore) HoldsOfUser(ctx context.Context, userID, status string, limit int) ([]HoldState, error) {
	return s.holds(ctx, "user_id", userID, status, limit)
}

func (s *SQLStore) HoldsOfResource(ctx context.Context, resourceID, status string, limit int) ([]HoldState, error) {
	return s.holds(ctx, "resource_id", resourceID, status, limit)
}

// holds lists by one of two fixed columns (never caller input).
func (s *SQLStore) holds(ctx context.Context, col, v, status string, limit int) ([]HoldState, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+holdCols+` FROM notify_holds WHERE `+col+` = ? AND status = ?
 ORDER BY hold_id LIMIT ?`), v, status, int64(limit))
	if err != nil {
		return nil, fmt.Errorf("notify holds: %w", err)
	}
	defer rows.Close()
	var out []HoldState
	for rows.Next() {
		h, err := scanHold(rows)
		if err != nil {
			return nil, fmt.Errorf("notify holds: %w", err)
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("notify holds: %w", err)
	}
	return out, nil
}

func (s *SQLStore) ClaimNotifications(ctx context.Context, now, leaseUntil time.Time, limit int) ([]Notification, error) {
	stmt := `UPDATE notify_outbox SET next_attempt_at_ms = ?, attempts = attempts + 1
 WHERE status = 'pending' AND next_attempt_at_ms <= ? AND id IN
 (SELECT id FROM notify_outbox WHERE status = 'pending' AND next_attempt_at_ms <= ? ORDER BY next_attempt_at_ms, id LIMIT ?)
 RETURNING ` + notificationCols
	args := []any{toMS(leaseUntil), toMS(now), toMS(now), int64(limit)}
	if s.d == Postgres {
		stmt = `WITH due AS (SELECT id FROM notify_outbox WHERE status = 'pending' AND next_attempt_at_ms <= ?
  ORDER BY next_attempt_at_ms, id LIMIT ? FOR UPDATE SKIP LOCKED)
 UPDATE notify_outbox AS o SET next_attempt_at_ms = ?, attempts = o.attempts + 1 FROM due
 WHERE o.id = due.id AND o.status = 'pending' AND o.next_attempt_at_ms <= ?
 RETURNING ` + prefixed("o.", notificationCols)
		args = []any{toMS(now), int64(limit), toMS(leaseUntil), toMS(now)}
	}
	var out []Notification
	err := s.inWrite(ctx, false, func(ctx context.Context, p *stmts) error {
		out = nil
		rows, err := p.q.QueryContext(ctx, s.q(stmt), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			n, err := scanNotification(rows)
			if err != nil {
				return err
			}
			out = append(out, n)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("claim notifications: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID }) // RETURNING gives no order
	return out, nil
}

func (s *SQLStore) Finish(ctx context.Context, n Notification, o Outcome, now time.Time) error {
	stale, err := s.FinishAll(ctx, []Finished{{Notification: n, Outcome: o}}, now)
	if err != nil {
		return err
	}
	if len(stale) > 0 {
		return fmt.Errorf("finish notification %s: %w", n.ID, ErrStale)
	}
	return nil
}

// FinishAll records the outcomes in one READ COMMITTED transaction: on SQLite one fsynced
// commit for the batch instead of one per message, which bounded the send path at about
// 300 messages per second (BenchmarkCommitToHandOff).
func (s *SQLStore) FinishAll(ctx context.Context, fs []Finished, now time.Time) ([]string, error) {
	if len(fs) == 0 {
		return nil, nil
	}
	var stale []string
	err := s.inWrite(ctx, len(fs) > 1, func(ctx context.Context, p *stmts) error {
		stale = nil
		for _, f := range fs {
			n, o := f.Notification, f.Outcome
			k, err := p.exec(ctx, `UPDATE notify_outbox SET status = ?, next_attempt_at_ms = ?, last_error = ?,
 updated_at_ms = ? WHERE id = ? AND status = 'pending' AND attempts = ?`,
				o.Status, toMS(o.NextAttemptAt), o.Error, toMS(now), n.ID, int64(n.Attempts))
			if err != nil {
				return err
			}
			if k == 0 {
				stale = append(stale, n.ID)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("finish notifications: %w", err)
	}
	return stale, nil
}

func (s *SQLStore) Notifications(ctx context.Context, status string, limit int) ([]Notification, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+notificationCols+` FROM notify_outbox WHERE status = ?
 ORDER BY created_at_ms DESC, id DESC LIMIT ?`), status, int64(limit))
	if err != nil {
		return nil, fmt.Errorf("list notifications: %w", err)
	}
	defer rows.Close()
	var out []Notification
	for rows.Next() {
		n, err := scanNotification(rows)
		if err != nil {
			return nil, fmt.Errorf("list notifications: %w", err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list notifications: %w", err)
	}
	return out, nil
}

func prefixed(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = p + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// inTx runs fn at READ COMMITTED. Every statement of this store is a single-row upsert,
// insert-or-nothing, delete, or a conditional update re-checked under its row lock, so the
// transaction needs atomicity, not serializability; SERIALIZABLE (the pool's default on
// PostgreSQL) failed concurrent event handling and outcomes with 40001 under load
// (BenchmarkCommitToHandOff/postgres). CockroachDB without READ COMMITTED enabled runs it
// SERIALIZABLE, and inTxOpts retries.
func (s *SQLStore) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return s.inTxOpts(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted}, fn)
}

// inTxOpts runs fn in a transaction, again on a serialization failure (CockroachDB 40001).
func (s *SQLStore) inTxOpts(ctx context.Context, opts *sql.TxOptions, fn func(tx *sql.Tx) error) error {
	if s.d == SQLite {
		opts = nil // one writer: SQLite transactions are serializable whatever is asked
	}
	return sqlbind.InTx(ctx, s.db, opts, fn)
}

// exec runs one statement in its own READ COMMITTED transaction (inTx), not at the pool's
// default isolation: see inTx.
func (s *SQLStore) exec(ctx context.Context, stmt string, args ...any) (sql.Result, error) {
	var res sql.Result
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		res, err = tx.ExecContext(ctx, stmt, args...)
		return err
	})
	return res, err
}

// RetryNotification applies Retried to the stored row. The update re-checks the status and
// attempt count it read, so of two concurrent retries (or a retry racing anything else) one
// wins and the other answers ErrNotRetryable with the row as it now is.
func (s *SQLStore) RetryNotification(ctx context.Context, id string, now time.Time) (Notification, error) {
	now = fromMS(toMS(now)) // the store keeps milliseconds; answer what is stored
	var out Notification
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		get := func() (Notification, error) {
			n, err := scanNotification(tx.QueryRowContext(ctx, s.q(`SELECT `+notificationCols+` FROM notify_outbox WHERE id = ?`), id))
			if errors.Is(err, sql.ErrNoRows) {
				return Notification{}, ErrNotFound
			}
			return n, err
		}
		n, err := get()
		if err != nil {
			return err
		}
		out = n
		r, ok := Retried(n, now)
		if !ok {
			return ErrNotRetryable
		}
		res, err := tx.ExecContext(ctx, s.q(`UPDATE notify_outbox SET status = ?, next_attempt_at_ms = ?, updated_at_ms = ?
 WHERE id = ? AND status = ? AND attempts = ?`), r.Status, toMS(r.NextAttemptAt), toMS(r.UpdatedAt), id, n.Status, int64(n.Attempts))
		if err != nil {
			return err
		}
		if k, err := res.RowsAffected(); err != nil {
			return err
		} else if k == 0 {
			if out, err = get(); err != nil {
				return err
			}
			return ErrNotRetryable
		}
		out = r
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("retry notification %s: %w", id, err)
	}
	return out, nil
}
