package reports

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/allot/allot/api/feed"
	"github.com/allot/allot/persistence/sqlbind"
)

// ApplyBatch implements Store: one transaction for the whole batch, with the effect of
// applying each event in order as Apply would (once by id, a duplicate within the batch
// included), at the cost of a few statements per batch rather than five per event:
//
//   - the batch's ids are claimed in report_applied with multi-row inserts (RETURNING says
//     which were new), so that a redelivered event adds nothing;
//   - each resource the new events name is read (and on PostgreSQL locked) once, in id order,
//     and evolves in memory event by event, as its row would have (a resource event newer
//     than the row's last one replaces what is known of it), then is written once;
//   - the events' deltas are summed per rollup, hour and lead-time cell in memory and each
//     cell is upserted once (the upserts add, so the sum is what the events one by one made).
//
// On SQLite every write transaction takes the file's single write lock, which the booking
// writer needs for its group commits: fewer statements per batch hold it for less time.
func (s *SQLStore) ApplyBatch(ctx context.Context, evs []feed.Event) ([]bool, error) {
	if len(evs) == 0 {
		return []bool{}, nil
	}
	// Decoded here, before the writer: on SQLite the run below is part of a group commit.
	parsed := make([]parsedEvent, len(evs))
	parseErrs := make([]error, len(evs))
	for i, ev := range evs {
		parsed[i], parseErrs[i] = parseEvent(ev)
	}
	var applied []bool
	var bad []error
	run := func(ctx context.Context, q sqlbind.Querier) error {
		applied = make([]bool, len(evs)) // a run again after a serialization failure starts over
		st := s.stmts(q)
		defer st.close()
		var err error
		bad, err = s.applyBatchIn(ctx, st, evs, parsed, parseErrs, applied)
		return err
	}
	var err error
	if s.group != nil {
		err = s.group(ctx, run)
	} else {
		err = sqlbind.InTx(ctx, s.db, nil, func(tx *sql.Tx) error { return run(ctx, tx) })
	}
	if err != nil {
		return nil, fmt.Errorf("reports: apply batch: %w", err)
	}
	return applied, errors.Join(bad...)
}

// batchResource is what a batch knows of one resource's report_resources row.
type batchResource struct {
	r                    Resource
	lastVersion, lastIdx int64
	placeholder          bool // this batch inserted the row
	applied              int  // events of the batch applied to it
	changed              bool // r, lastVersion, lastIdx, updatedAt to be written back
	updatedAt            int64
}

// applyBatchIn applies evs (decoded by parseEvent as parsed, or not: parseErrs) in st's
// transaction and sets applied[i] for each event applied now. It returns the events refused as bad (ErrBadEvent; they change nothing), and an error
// that leaves the transaction to be rolled back.
func (s *SQLStore) applyBatchIn(ctx context.Context, st *txStmts, evs []feed.Event, parsed []parsedEvent, parseErrs []error, applied []bool) ([]error, error) {
	var bad []error
	// The first occurrence of each id is the one that may apply.
	first := make([]bool, len(evs))
	seen := make(map[string]bool, len(evs))
	var ids []int
	for i, ev := range evs {
		if ev.ResourceID == "" || ev.ID == "" {
			bad = append(bad, fmt.Errorf("%w: %s %s: no resource id or event id", ErrBadEvent, ev.Type, ev.ID))
			continue
		}
		if !seen[ev.ID] {
			seen[ev.ID], first[i] = true, true
			ids = append(ids, i)
		}
	}
	fresh, err := s.claimApplied(ctx, st, evs, ids)
	if err != nil {
		return nil, err
	}

	res := map[string]*batchResource{}
	var resIDs []string
	for _, i := range ids {
		if rid := evs[i].ResourceID; fresh[evs[i].ID] && res[rid] == nil {
			res[rid] = &batchResource{}
			resIDs = append(resIDs, rid)
		}
	}
	slices.Sort(resIDs) // one lock order for every consumer (PostgreSQL)
	for _, rid := range resIDs {
		if err := s.loadBatchResource(ctx, st, rid, res[rid]); err != nil {
			return nil, err
		}
	}

	rows := map[Key]*Counters{}
	hours := map[HourKey]int64{}
	leads := map[LeadKey]int64{}
	var undo []string // ids of bad events: not applied after all
	for i, ev := range evs {
		if !first[i] || !fresh[ev.ID] {
			continue
		}
		br := res[ev.ResourceID]
		r := br.r
		r.ID = ev.ResourceID
		err := parseErrs[i]
		var d Delta
		if err == nil {
			d, err = deriveParsed(ev, parsed[i], r)
		}
		if err != nil {
			bad, undo = append(bad, err), append(undo, ev.ID)
			continue
		}
		applied[i] = true
		br.applied++
		if k := d.Row; k != nil {
			c := rows[*k]
			if c == nil {
				c = &Counters{}
				rows[*k] = c
			}
			c.Add(d.Counters)
		}
		if h := d.Hour; h != nil {
			hours[*h]++
		}
		if l := d.Lead; l != nil {
			leads[*l]++
		}
		v := int64(ev.Version)
		if d.Resource != nil && (v > br.lastVersion || (v == br.lastVersion && int64(ev.Index) > br.lastIdx)) {
			br.r, br.lastVersion, br.lastIdx, br.changed = *d.Resource, v, int64(ev.Index), true
			br.updatedAt = ev.OccurredAt.UnixMilli()
		}
	}

	for _, id := range undo {
		if _, err := st.exec(ctx, `DELETE FROM report_applied WHERE event_id = ?`, id); err != nil {
			return nil, err
		}
	}
	for _, rid := range resIDs {
		if err := s.storeBatchResource(ctx, st, rid, res[rid]); err != nil {
			return nil, err
		}
	}
	if err := s.upsertCells(ctx, st, rows, hours, leads); err != nil {
		return nil, err
	}
	return bad, nil
}

// claimChunk bounds the rows of one multi-row insert (2 parameters each, well within
// SQLite's and PostgreSQL's limits).
const claimChunk = 128

// claimApplied inserts the ids of evs[ids] into report_applied and returns those that were
// not there before.
func (s *SQLStore) claimApplied(ctx context.Context, st *txStmts, evs []feed.Event, ids []int) (map[string]bool, error) {
	fresh := make(map[string]bool, len(ids))
	for len(ids) > 0 {
		n := min(len(ids), claimChunk)
		chunk := ids[:n]
		ids = ids[n:]
		args := make([]any, 0, 2*n)
		for _, i := range chunk {
			args = append(args, evs[i].ID, evs[i].OccurredAt.UnixMilli())
		}
		q := `INSERT INTO report_applied (event_id, occurred_at_ms) VALUES (?, ?)` + strings.Repeat(`, (?, ?)`, n-1) +
			` ON CONFLICT (event_id) DO NOTHING RETURNING event_id`
		stmt, err := st.stmt(ctx, q)
		if err != nil {
			return nil, err
		}
		rows, err := stmt.QueryContext(ctx, args...)
		if err != nil {
			return nil, err
		}
		if err := sqlbind.AddStrings(rows, fresh); err != nil {
			return nil, err
		}
	}
	return fresh, nil
}

// loadBatchResource reads (locks, on PostgreSQL) the resource's row into br, inserting a
// placeholder first, so that two consumers of a new resource lock the same row.
func (s *SQLStore) loadBatchResource(ctx context.Context, st *txStmts, rid string, br *batchResource) error {
	res, err := st.exec(ctx, `INSERT INTO report_resources (resource_id, name, timezone, price_amount,
 price_currency, last_version, last_idx, updated_at_ms) VALUES (?, '', '', 0, '', 0, -1, 0)
 ON CONFLICT (resource_id) DO NOTHING`, rid)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	br.placeholder = n > 0
	lock := ""
	if s.d != SQLite {
		lock = " FOR UPDATE"
	}
	return st.queryRow(ctx, `SELECT name, timezone, price_amount, price_currency, last_version, last_idx
 FROM report_resources WHERE resource_id = ?`+lock, rid).Scan(&br.r.Name, &br.r.TimeZone, &br.r.Price.Amount,
		&br.r.Price.Currency, &br.lastVersion, &br.lastIdx)
}

// storeBatchResource writes back what the batch changed of the resource, and removes a
// placeholder no event was applied to (its events were all bad: they change nothing).
func (s *SQLStore) storeBatchResource(ctx context.Context, st *txStmts, rid string, br *batchResource) error {
	if br.placeholder && br.applied == 0 {
		_, err := st.exec(ctx, `DELETE FROM report_resources WHERE resource_id = ?`, rid)
		return err
	}
	if !br.changed {
		return nil
	}
	// updated_at_ms is the time of the event the row came from, as Apply writes it.
	_, err := st.exec(ctx, `UPDATE report_resources SET name = ?, timezone = ?, price_amount = ?,
 price_currency = ?, last_version = ?, last_idx = ?, updated_at_ms = ? WHERE resource_id = ?`,
		br.r.Name, br.r.TimeZone, br.r.Price.Amount, br.r.Price.Currency, br.lastVersion, br.lastIdx, br.updatedAt, rid)
	return err
}

// upsertCells adds the batch's sums to their cells, each cell once, in key order (one lock
// order for every consumer on PostgreSQL).
func (s *SQLStore) upsertCells(ctx context.Context, st *txStmts, rows map[Key]*Counters, hours map[HourKey]int64, leads map[LeadKey]int64) error {
	for _, k := range slices.SortedFunc(maps.Keys(rows), compareKeys) {
		c := rows[k]
		if _, err := st.exec(ctx, upsertRollup,
			k.ResourceID, k.Bucket, k.DayUTC, k.DayLocal, k.Currency, c.Placed, c.Confirmed, c.Cancelled, c.Expired,
			c.Refunded, c.UnitsPlaced, c.UnitsConfirmed, c.Gross, c.RefundedAmount); err != nil {
			return err
		}
	}
	for _, h := range slices.SortedFunc(maps.Keys(hours), compareHourKeys) {
		if _, err := st.exec(ctx, `INSERT INTO report_hours (resource_id, day_utc, day_local, hour_utc, hour_local, placed)
 VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (resource_id, day_utc, day_local, hour_utc, hour_local)
 DO UPDATE SET placed = report_hours.placed + excluded.placed`, h.ResourceID, h.DayUTC, h.DayLocal, h.HourUTC, h.HourLocal, hours[h]); err != nil {
			return err
		}
	}
	for _, l := range slices.SortedFunc(maps.Keys(leads), compareLeadKeys) {
		if _, err := st.exec(ctx, `INSERT INTO report_lead_times (resource_id, day_utc, day_local, lead_class, confirmed)
 VALUES (?, ?, ?, ?, ?) ON CONFLICT (resource_id, day_utc, day_local, lead_class)
 DO UPDATE SET confirmed = report_lead_times.confirmed + excluded.confirmed`, l.ResourceID, l.DayUTC, l.DayLocal, l.Class, leads[l]); err != nil {
			return err
		}
	}
	return nil
}

func compareKeys(a, b Key) int {
	return cmp.Or(cmp.Compare(a.ResourceID, b.ResourceID), cmp.Compare(a.Bucket, b.Bucket), cmp.Compare(a.DayUTC, b.DayUTC),
		cmp.Compare(a.DayLocal, b.DayLocal), cmp.Compare(a.Currency, b.Currency))
}

func compareHourKeys(a, b HourKey) int {
	return cmp.Or(cmp.Compare(a.ResourceID, b.ResourceID), cmp.Compare(a.DayUTC, b.DayUTC), cmp.Compare(a.DayLocal, b.DayLocal),
		cmp.Compare(a.HourUTC, b.HourUTC), cmp.Compare(a.HourLocal, b.HourLocal))
}

func compareLeadKeys(a, b LeadKey) int {
	return cmp.Or(cmp.Compare(a.ResourceID, b.ResourceID), cmp.Compare(a.DayUTC, b.DayUTC), cmp.Compare(a.DayLocal, b.DayLocal),
		cmp.Compare(a.Class, b.Class))
}

// txStmts prepares each statement of a transaction once, on its first use (a batch runs
// the same few statements per event). Not safe for concurrent use, like the transaction.
type txStmts struct {
	s     *SQLStore
	tx    sqlbind.Querier
	cache map[string]*sql.Stmt
}

func (s *SQLStore) stmts(tx sqlbind.Querier) *txStmts {
	return &txStmts{s: s, tx: tx, cache: map[string]*sql.Stmt{}}
}

func (t *txStmts) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := t.cache[query]; ok {
		return st, nil
	}
	st, err := t.tx.PrepareContext(ctx, t.s.q(query))
	if err != nil {
		return nil, err
	}
	t.cache[query] = st
	return st, nil
}

func (t *txStmts) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := t.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// queryRow is QueryRowContext on the prepared statement; a prepare error comes out of Scan.
func (t *txStmts) queryRow(ctx context.Context, query string, args ...any) rowScanner {
	st, err := t.stmt(ctx, query)
	if err != nil {
		return errRow{err}
	}
	return st.QueryRowContext(ctx, args...)
}

type rowScanner interface{ Scan(dest ...any) error }

type errRow struct{ err error }

func (e errRow) Scan(...any) error { return e.err }

// close closes the prepared statements (the transaction's end closes them too; this frees
// them at once).
func (t *txStmts) close() {
	for _, st := range t.cache {
		_ = st.Close()
	}
}
