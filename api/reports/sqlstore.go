package reports

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/allot/allot/api/feed"
	"github.com/allot/allot/persistence/sqlbind"
)

// Dialect is the SQL engine behind an SQLStore. The statements are shared; placeholders, row
// locking and follower reads differ.
type Dialect int

const (
	// SQLite: ? placeholders; transactions begin IMMEDIATE (see OpenSQLite), which serializes
	// writers.
	SQLite Dialect = iota + 1
	// Postgres: $n placeholders; Apply locks the resource's row FOR UPDATE.
	Postgres
	// CockroachDB: as Postgres, and reads run AS OF SYSTEM TIME follower_read_timestamp(), so
	// that any replica near the node answers them without a round trip to the leaseholder
	// (reports lag the present by a few seconds, which they may).
	CockroachDB
)

// SQLStore is the Store on the tables of migrations 0008 and 0013 (persistence/migrations) over a
// database/sql handle: the sqlite driver (OpenSQLite) or PostgreSQL/CockroachDB through pgx's
// stdlib adapter. The schema must have been migrated (opening the node's main store does it).
// The caller owns db.
type SQLStore struct {
	db *sql.DB
	d  Dialect
	// group, when set (WriteThrough), runs ApplyBatch instead of a transaction of db. Set
	// before use.
	group sqlbind.GroupWriter
}

var _ Store = (*SQLStore)(nil)

// WriteThrough makes ApplyBatch (the consumer's batches: the applied ids and the rollups
// together) run through w, the node's booking writer on SQLite ((*sqlite.Store).InGroup), so
// that it joins the writer's group commits instead of taking the file's write lock between
// them (docs/EVENTS.md, Cost). Its atomicity is w's: a batch commits whole or not at all.
// Call it before the store is used; w must write to the database db reads.
func (s *SQLStore) WriteThrough(w sqlbind.GroupWriter) { s.group = w }

// NewSQLStore returns the Store on db in dialect d.
func NewSQLStore(db *sql.DB, d Dialect) (*SQLStore, error) {
	if db == nil || d < SQLite || d > CockroachDB {
		return nil, errors.New("reports: NewSQLStore needs a db and a known dialect")
	}
	return &SQLStore{db: db, d: d}, nil
}

// q rewrites ? placeholders to $n for PostgreSQL and CockroachDB. Statements here have no ?
// in literals.
func (s *SQLStore) q(stmt string) string {
	if s.d == SQLite {
		return stmt
	}
	return sqlbind.Dollar(stmt)
}

// from names a table to read from, as of a follower read timestamp on CockroachDB.
func (s *SQLStore) from(table string) string {
	if s.d == CockroachDB {
		return table + " AS OF SYSTEM TIME follower_read_timestamp()"
	}
	return table
}

// Apply implements Store. The event's id is inserted into report_applied first: a second
// delivery (a duplicate, a redelivery after later events, the same event on two nodes) finds
// it there and changes nothing, in any order. The resource's row is then locked (FOR UPDATE;
// SQLite transactions begin IMMEDIATE), so that what is known of the resource changes only by
// a resource event newer than the one it came from (the row's last_version and last_idx).
func (s *SQLStore) Apply(ctx context.Context, ev feed.Event) (bool, error) {
	if ev.ResourceID == "" || ev.ID == "" {
		return false, fmt.Errorf("%w: %s %s: no resource id or event id", ErrBadEvent, ev.Type, ev.ID)
	}
	var applied bool
	err := sqlbind.InTx(ctx, s.db, nil, func(tx *sql.Tx) error {
		st := s.stmts(tx)
		defer st.close()
		var err error
		applied, err = s.applyIn(ctx, st, ev)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrBadEvent) {
			return false, err
		}
		return false, fmt.Errorf("reports: apply: %w", err)
	}
	return applied, nil
}

// applyIn applies ev (ids checked) in st's transaction unless its id was applied before. An
// event whose data does not decode leaves the transaction as it found it and is an error
// wrapping ErrBadEvent (a batch goes on without it); any other error leaves the transaction
// to be rolled back.
func (s *SQLStore) applyIn(ctx context.Context, st *txStmts, ev feed.Event) (bool, error) {
	res, err := st.exec(ctx, `INSERT INTO report_applied (event_id, occurred_at_ms) VALUES (?, ?)
 ON CONFLICT (event_id) DO NOTHING`, ev.ID, ev.OccurredAt.UnixMilli())
	if err != nil {
		return false, fmt.Errorf("reports: apply: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return false, fmt.Errorf("reports: apply: %w", err)
	} else if n == 0 {
		return false, nil // applied before
	}
	// A placeholder row first, so that two consumers of a new resource lock the same row.
	res, err = st.exec(ctx, `INSERT INTO report_resources (resource_id, name, timezone, price_amount,
 price_currency, last_version, last_idx, updated_at_ms) VALUES (?, '', '', 0, '', 0, -1, 0)
 ON CONFLICT (resource_id) DO NOTHING`, ev.ResourceID)
	if err != nil {
		return false, fmt.Errorf("reports: apply: %w", err)
	}
	placeholder, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("reports: apply: %w", err)
	}
	lock := ""
	if s.d != SQLite {
		lock = " FOR UPDATE"
	}
	var r Resource
	var lastVersion, lastIdx int64
	if err := st.queryRow(ctx, `SELECT name, timezone, price_amount, price_currency, last_version, last_idx
 FROM report_resources WHERE resource_id = ?`+lock, ev.ResourceID).Scan(&r.Name, &r.TimeZone, &r.Price.Amount,
		&r.Price.Currency, &lastVersion, &lastIdx); err != nil {
		return false, fmt.Errorf("reports: apply: %w", err)
	}
	r.ID = ev.ResourceID
	d, err := Derive(ev, r)
	if err != nil {
		// Undo the id and the placeholder: a bad event changes nothing (and is not applied,
		// so a fixed redelivery could be).
		if _, uerr := st.exec(ctx, `DELETE FROM report_applied WHERE event_id = ?`, ev.ID); uerr != nil {
			return false, fmt.Errorf("reports: apply: %w", uerr)
		}
		if placeholder > 0 {
			if _, uerr := st.exec(ctx, `DELETE FROM report_resources WHERE resource_id = ?`, ev.ResourceID); uerr != nil {
				return false, fmt.Errorf("reports: apply: %w", uerr)
			}
		}
		return false, err
	}
	if err := s.applyDelta(ctx, st, d); err != nil {
		return false, fmt.Errorf("reports: apply: %w", err)
	}
	v := int64(ev.Version)
	if d.Resource != nil && (v > lastVersion || (v == lastVersion && int64(ev.Index) > lastIdx)) {
		nr := *d.Resource
		if _, err := st.exec(ctx, `UPDATE report_resources SET name = ?, timezone = ?, price_amount = ?,
 price_currency = ?, last_version = ?, last_idx = ?, updated_at_ms = ? WHERE resource_id = ?`,
			nr.Name, nr.TimeZone, nr.Price.Amount, nr.Price.Currency, v, int64(ev.Index), ev.OccurredAt.UnixMilli(), ev.ResourceID); err != nil {
			return false, fmt.Errorf("reports: apply: %w", err)
		}
	}
	return true, nil
}

// PruneApplied forgets the ids of applied events that occurred before before, and returns how
// many. Call it with a time further back than the bus keeps events (its retention, plus the
// longest an event may wait in the outbox): such an event cannot be delivered again.
func (s *SQLStore) PruneApplied(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM report_applied WHERE occurred_at_ms < ?`), before.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("reports: prune applied: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("reports: prune applied: %w", err)
	}
	return n, nil
}

// upsertRollup adds a delta's counters to its rollup row.
const upsertRollup = `INSERT INTO report_rollups (resource_id, bucket, day_utc, day_local, currency,
 placed, confirmed, cancelled, expired, refunded, units_placed, units_confirmed, gross, refunded_amount)
 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
 ON CONFLICT (resource_id, bucket, day_utc, day_local, currency) DO UPDATE SET
 placed = report_rollups.placed + excluded.placed, confirmed = report_rollups.confirmed + excluded.confirmed,
 cancelled = report_rollups.cancelled + excluded.cancelled, expired = report_rollups.expired + excluded.expired,
 refunded = report_rollups.refunded + excluded.refunded, units_placed = report_rollups.units_placed + excluded.units_placed,
 units_confirmed = report_rollups.units_confirmed + excluded.units_confirmed, gross = report_rollups.gross + excluded.gross,
 refunded_amount = report_rollups.refunded_amount + excluded.refunded_amount`

func (s *SQLStore) applyDelta(ctx context.Context, st *txStmts, d Delta) error {
	if k := d.Row; k != nil {
		c := d.Counters
		if _, err := st.exec(ctx, upsertRollup,
			k.ResourceID, k.Bucket, k.DayUTC, k.DayLocal, k.Currency, c.Placed, c.Confirmed, c.Cancelled, c.Expired,
			c.Refunded, c.UnitsPlaced, c.UnitsConfirmed, c.Gross, c.RefundedAmount); err != nil {
			return err
		}
	}
	if h := d.Hour; h != nil {
		if _, err := st.exec(ctx, `INSERT INTO report_hours (resource_id, day_utc, day_local, hour_utc, hour_local, placed)
 VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT (resource_id, day_utc, day_local, hour_utc, hour_local)
 DO UPDATE SET placed = report_hours.placed + 1`, h.ResourceID, h.DayUTC, h.DayLocal, h.HourUTC, h.HourLocal); err != nil {
			return err
		}
	}
	if l := d.Lead; l != nil {
		if _, err := st.exec(ctx, `INSERT INTO report_lead_times (resource_id, day_utc, day_local, lead_class, confirmed)
 VALUES (?, ?, ?, ?, 1) ON CONFLICT (resource_id, day_utc, day_local, lead_class)
 DO UPDATE SET confirmed = report_lead_times.confirmed + 1`, l.ResourceID, l.DayUTC, l.DayLocal, l.Class); err != nil {
			return err
		}
	}
	return nil
}

// RecordViews implements Store: one transaction, a statement per view.
func (s *SQLStore) RecordViews(ctx context.Context, views []View) error {
	if len(views) == 0 {
		return nil
	}
	err := sqlbind.InTx(ctx, s.db, nil, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, s.q(`INSERT INTO report_views (resource_id, day_utc, viewer) VALUES (?, ?, ?)
 ON CONFLICT (resource_id, day_utc, viewer) DO NOTHING`))
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, v := range views {
			if _, err := stmt.ExecContext(ctx, v.ResourceID, v.Day, v.Viewer); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reports: record views: %w", err)
	}
	return nil
}

// where builds the WHERE clause of f on the day column col.
func where(f Filter, col string) (string, []any) {
	conds, args := []string{"1 = 1"}, []any{}
	if f.From != "" {
		conds, args = append(conds, col+" >= ?"), append(args, f.From)
	}
	if f.To != "" {
		conds, args = append(conds, col+" < ?"), append(args, f.To)
	}
	if f.ResourceID != "" {
		conds, args = append(conds, "resource_id = ?"), append(args, f.ResourceID)
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

func dayCol(f Filter) string {
	if f.Local {
		return "day_local"
	}
	return "day_utc"
}

// Rows implements Store.
func (s *SQLStore) Rows(ctx context.Context, f Filter) ([]Row, error) {
	col := dayCol(f)
	w, args := where(f, col)
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT resource_id, bucket, `+col+`, currency, CAST(SUM(placed) AS BIGINT), CAST(SUM(confirmed) AS BIGINT),
 CAST(SUM(cancelled) AS BIGINT), CAST(SUM(expired) AS BIGINT), CAST(SUM(refunded) AS BIGINT), CAST(SUM(units_placed) AS BIGINT), CAST(SUM(units_confirmed) AS BIGINT), CAST(SUM(gross) AS BIGINT), CAST(SUM(refunded_amount) AS BIGINT)
 FROM `+s.from("report_rollups")+w+` GROUP BY resource_id, bucket, `+col+`, currency ORDER BY resource_id, bucket, `+col+`, currency`), args...)
	if err != nil {
		return nil, fmt.Errorf("reports: rows: %w", err)
	}
	defer rows.Close()
	var out []Row
	for rows.Next() {
		var r Row
		c := &r.Counters
		if err := rows.Scan(&r.ResourceID, &r.Bucket, &r.Day, &r.Currency, &c.Placed, &c.Confirmed, &c.Cancelled,
			&c.Expired, &c.Refunded, &c.UnitsPlaced, &c.UnitsConfirmed, &c.Gross, &c.RefundedAmount); err != nil {
			return nil, fmt.Errorf("reports: rows: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reports: rows: %w", err)
	}
	return out, nil
}

// Hours implements Store.
func (s *SQLStore) Hours(ctx context.Context, f Filter) ([]HourRow, error) {
	col, hour := dayCol(f), "hour_utc"
	if f.Local {
		hour = "hour_local"
	}
	w, args := where(f, col)
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT resource_id, `+col+`, `+hour+`, CAST(SUM(placed) AS BIGINT) FROM `+s.from("report_hours")+w+
		` GROUP BY resource_id, `+col+`, `+hour+` ORDER BY resource_id, `+col+`, `+hour), args...)
	if err != nil {
		return nil, fmt.Errorf("reports: hours: %w", err)
	}
	defer rows.Close()
	var out []HourRow
	for rows.Next() {
		var r HourRow
		if err := rows.Scan(&r.ResourceID, &r.Day, &r.Hour, &r.Placed); err != nil {
			return nil, fmt.Errorf("reports: hours: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reports: hours: %w", err)
	}
	return out, nil
}

// LeadTimes implements Store.
func (s *SQLStore) LeadTimes(ctx context.Context, f Filter) ([]LeadRow, error) {
	col := dayCol(f)
	w, args := where(f, col)
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT resource_id, `+col+`, lead_class, CAST(SUM(confirmed) AS BIGINT) FROM `+
		s.from("report_lead_times")+w+` GROUP BY resource_id, `+col+`, lead_class ORDER BY resource_id, `+col+`, lead_class`), args...)
	if err != nil {
		return nil, fmt.Errorf("reports: lead times: %w", err)
	}
	defer rows.Close()
	var out []LeadRow
	for rows.Next() {
		var r LeadRow
		if err := rows.Scan(&r.ResourceID, &r.Day, &r.Class, &r.Confirmed); err != nil {
			return nil, fmt.Errorf("reports: lead times: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reports: lead times: %w", err)
	}
	return out, nil
}

// Views implements Store.
func (s *SQLStore) Views(ctx context.Context, f Filter) ([]ViewRow, error) {
	f.Local = false
	w, args := where(f, "day_utc")
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT resource_id, day_utc, COUNT(*) FROM `+s.from("report_views")+w+
		` GROUP BY resource_id, day_utc ORDER BY resource_id, day_utc`), args...)
	if err != nil {
		return nil, fmt.Errorf("reports: views: %w", err)
	}
	defer rows.Close()
	var out []ViewRow
	for rows.Next() {
		var r ViewRow
		if err := rows.Scan(&r.ResourceID, &r.Day, &r.Viewers); err != nil {
			return nil, fmt.Errorf("reports: views: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reports: views: %w", err)
	}
	return out, nil
}

// Resources implements Store.
func (s *SQLStore) Resources(ctx context.Context) (map[string]Resource, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT resource_id, name, timezone, price_amount, price_currency FROM `+
		s.from("report_resources"))
	if err != nil {
		return nil, fmt.Errorf("reports: resources: %w", err)
	}
	defer rows.Close()
	out := map[string]Resource{}
	for rows.Next() {
		var r Resource
		if err := rows.Scan(&r.ID, &r.Name, &r.TimeZone, &r.Price.Amount, &r.Price.Currency); err != nil {
			return nil, fmt.Errorf("reports: resources: %w", err)
		}
		out[r.ID] = r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reports: resources: %w", err)
	}
	return out, nil
}
