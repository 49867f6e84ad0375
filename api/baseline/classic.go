package baseline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/api/wire"
)

// NewClassic returns the classic design on PostgreSQL (or CockroachDB): one READ COMMITTED
// transaction per hold that looks up the Idempotency-Key, locks the hold's bucket rows
// (SELECT ... FOR UPDATE, in key order so that multi-night holds cannot deadlock), checks
// capacity, inserts the hold, increments the counters, inserts the key and commits. That is
// persistence/ClassicHold, which this handler calls. Every hold on one resource
// queues on the same row lock, so a hot resource sells one commit (one WAL flush) at a time.
//
// It uses Allot's tables: run postgres.Migrate (`allot migrate`) on the database first. The
// pool is the caller's, not closed by the handler.
func NewClassic(pool *pgxpool.Pool) *Handler { return newHandler(&classic{pool: pool}) }

// classic is the store of NewClassic.
type classic struct{ pool *pgxpool.Pool }

func (s *classic) inTx(ctx context.Context, op string, fn func(pgx.Tx) error) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return unavailable(op, err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback(ctx)
		return classify(op, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return classify(op, err)
	}
	return nil
}

// classify keeps *booking.Error as it is and reports connection-level failures as
// unavailable (a commit whose answer was lost may have been applied, as for Allot's 503).
func classify(op string, err error) error {
	var be *booking.Error
	if errors.As(err, &be) {
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", op, err)
	}
	return unavailable(op, err)
}

func (s *classic) createResource(ctx context.Context, r *resource) error {
	return s.inTx(ctx, "create resource", func(tx pgx.Tx) error {
		var amount *int64
		var currency *string
		if r.Price != nil {
			amount, currency = &r.Price.Amount, &r.Price.Currency
		}
		ms := r.now.UnixMilli()
		tag, err := tx.Exec(ctx, `INSERT INTO resources (id, name, price_amount, price_currency, hold_ttl_ms, epoch, version, created_at_ms, updated_at_ms)
			VALUES ($1, $2, $3, $4, $5, 1, 1, $6, $6) ON CONFLICT (id) DO NOTHING`,
			r.ID, r.Name, amount, currency, r.ttl.Milliseconds(), ms)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return booking.Errorf(booking.CodeAlreadyExists, "resource %q exists", r.ID)
		}
		b := &pgx.Batch{}
		for k, cp := range r.Buckets {
			b.Queue(`INSERT INTO buckets (resource_id, bucket_key, capacity, held, confirmed) VALUES ($1, $2, $3, 0, 0)`, r.ID, k, cp)
		}
		return tx.SendBatch(ctx, b).Close()
	})
}

func (s *classic) availability(ctx context.Context, rid string) (map[string]wire.Bucket, error) {
	rows, err := s.pool.Query(ctx, `SELECT bucket_key, capacity, held, confirmed FROM buckets WHERE resource_id = $1`, rid)
	if err != nil {
		return nil, classify("availability", err)
	}
	out := map[string]wire.Bucket{}
	for rows.Next() {
		var k string
		var b wire.Bucket
		if err := rows.Scan(&k, &b.Capacity, &b.Held, &b.Confirmed); err != nil {
			rows.Close()
			return nil, classify("availability", err)
		}
		b.Available = max(b.Capacity-b.Held-b.Confirmed, 0)
		out[k] = b
	}
	if err := rows.Err(); err != nil {
		return nil, classify("availability", err)
	}
	if len(out) == 0 {
		return nil, notFound(rid) // every resource has at least one bucket
	}
	return out, nil
}

func (s *classic) placeHold(ctx context.Context, h *wire.Hold, idemKey, _ string) ([]byte, bool, error) {
	bh := booking.Hold{
		ID: h.ID, ResourceID: h.ResourceID, UserID: h.UserID, IdempotencyKey: idemKey, Buckets: h.Buckets,
		Quantity: h.Quantity, Status: booking.StatusHeld, CreatedAt: h.CreatedAt, ExpiresAt: *h.ExpiresAt, UpdatedAt: h.UpdatedAt,
	}
	id, err := ClassicHold(ctx, s.pool, pgx.ReadCommitted, bh)
	if isUniqueViolation(err) && idemKey != "" {
		// Two requests with one Idempotency-Key at once: both missed the key, and the second
		// one's key insert conflicted with the first's. Once more finds it committed.
		id, err = ClassicHold(ctx, s.pool, pgx.ReadCommitted, bh)
	}
	if err != nil {
		if booking.ErrorCode(err) == booking.CodeInvalid {
			// ClassicHold reports a missing bucket; the API reports a missing resource as such.
			var exists bool
			if qerr := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM resources WHERE id = $1)`, h.ResourceID).Scan(&exists); qerr != nil {
				return nil, false, classify("place hold", qerr)
			}
			if !exists {
				return nil, false, notFound(h.ResourceID)
			}
		}
		return nil, false, classify("place hold", err)
	}
	if id != h.ID {
		raw, err := s.loadHold(ctx, id)
		return raw, true, err
	}
	raw, err := json.Marshal(h)
	return raw, false, err
}

func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// loadHold returns the answer of an idempotent replay: the original hold.
func (s *classic) loadHold(ctx context.Context, hid string) ([]byte, error) {
	var h wire.Hold
	var keys string
	var created, expires, updated int64
	if err := s.pool.QueryRow(ctx, `SELECT id, resource_id, user_id, status, quantity, buckets, created_at_ms, expires_at_ms, updated_at_ms
		FROM holds WHERE id = $1`, hid).Scan(&h.ID, &h.ResourceID, &h.UserID, &h.Status, &h.Quantity, &keys, &created, &expires, &updated); err != nil {
		return nil, classify("replay hold", err)
	}
	if err := json.Unmarshal([]byte(keys), &h.Buckets); err != nil {
		return nil, fmt.Errorf("hold %s buckets: %w", hid, err)
	}
	h.CreatedAt, h.ExpiresAt, h.UpdatedAt = msTime(created), new(msTime(expires)), msTime(updated)
	return json.Marshal(&h)
}

func msTime(ms int64) time.Time { return time.UnixMilli(ms).UTC() }
