package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/allot/allot/api/wire"
)

// dbHold is one row of the holds table.
type dbHold struct {
	ID         string
	ResourceID string
	Status     string
	Quantity   int64
	Buckets    []string
}

// dbBucket is one row of the buckets table.
type dbBucket struct {
	ResourceID string
	Key        string
	Counts     wire.Bucket // Available unused
}

// readDatabase loads the holds and buckets rows of the given resources from the database at
// url (PostgreSQL or CockroachDB, Allot's schema).
func readDatabase(ctx context.Context, url string, resources []string) ([]dbHold, []dbBucket, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, nil, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))

	rows, err := conn.Query(ctx,
		`SELECT id, resource_id, status, quantity, buckets FROM holds WHERE resource_id = ANY($1)`, resources)
	if err != nil {
		return nil, nil, fmt.Errorf("query holds: %w", err)
	}
	var holds []dbHold
	for rows.Next() {
		var h dbHold
		var keys string
		if err := rows.Scan(&h.ID, &h.ResourceID, &h.Status, &h.Quantity, &keys); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("scan hold: %w", err)
		}
		if err := json.Unmarshal([]byte(keys), &h.Buckets); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("hold %s: buckets %q: %w", h.ID, keys, err)
		}
		holds = append(holds, h)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("query holds: %w", err)
	}

	rows, err = conn.Query(ctx,
		`SELECT resource_id, bucket_key, capacity, held, confirmed FROM buckets WHERE resource_id = ANY($1)`, resources)
	if err != nil {
		return nil, nil, fmt.Errorf("query buckets: %w", err)
	}
	var buckets []dbBucket
	for rows.Next() {
		var b dbBucket
		if err := rows.Scan(&b.ResourceID, &b.Key, &b.Counts.Capacity, &b.Counts.Held, &b.Counts.Confirmed); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("scan bucket: %w", err)
		}
		buckets = append(buckets, b)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("query buckets: %w", err)
	}
	return holds, buckets, nil
}

// auditDatabase checks the database's rows for this run's resources: every acknowledged hold
// has a row whose status agrees with what its client was told, no bucket is oversold, each
// bucket's held and confirmed equal the sums over its holds' rows, and the counters are
// within the ledger's bounds.
func auditDatabase(a *Audit, created map[string]map[string]int64, l *ledger, holds []dbHold, buckets []dbBucket) {
	d := &DatabaseAudit{ByStatus: map[string]int64{}}
	a.Database = d
	byID := make(map[string]*dbHold, len(holds))
	sums := map[bucketRef]wire.Bucket{}
	for i := range holds {
		h := &holds[i]
		d.Holds++
		d.ByStatus[h.Status]++
		byID[h.ID] = h
		for _, k := range h.Buckets {
			s := sums[bucketRef{h.ResourceID, k}]
			switch h.Status {
			case "held":
				s.Held += h.Quantity
			case "confirmed":
				s.Confirmed += h.Quantity
			}
			sums[bucketRef{h.ResourceID, k}] = s
		}
	}

	for _, h := range l.Acked {
		row, ok := byID[h.ID]
		if !ok {
			d.Missing++
			a.problem("MISSING database: hold %s of %s was acknowledged to a client but has no row", h.ID, h.ResourceID)
			continue
		}
		if row.ResourceID != h.ResourceID {
			a.problem("database: hold %s belongs to %s, acknowledged for %s", h.ID, row.ResourceID, h.ResourceID)
		}
		want := map[holdState][]string{
			stateHeld:      {"held", "expired"},
			stateConfirmed: {"confirmed"},
			stateCancelled: {"cancelled"},
		}[h.State]
		if want != nil && !slices.Contains(want, row.Status) {
			a.problem("database: hold %s has status %s, its client was told %v", h.ID, row.Status, want)
		}
	}

	rowsByRef := make(map[bucketRef]wire.Bucket, len(buckets))
	for _, b := range buckets {
		rowsByRef[bucketRef{b.ResourceID, b.Key}] = b.Counts
	}
	bs := l.bounds()
	for _, rid := range sortedKeys(created) {
		for _, key := range sortedKeys(created[rid]) {
			ref := bucketRef{rid, key}
			row, ok := rowsByRef[ref]
			if !ok {
				a.problem("database: no buckets row for %s/%s", rid, key)
				continue
			}
			checkBucket(a, "database", ref, created[rid][key], row, bs[ref])
			if s := sums[ref]; s.Held != row.Held || s.Confirmed != row.Confirmed {
				a.problem("database: %s/%s counters held=%d confirmed=%d disagree with its holds' rows held=%d confirmed=%d",
					rid, key, row.Held, row.Confirmed, s.Held, s.Confirmed)
			}
		}
	}
}
