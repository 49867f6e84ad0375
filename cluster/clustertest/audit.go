package clustertest

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
)

// AuditReport is what the database says after a run.
type AuditReport struct {
	Buckets   int
	Holds     int
	Oversold  []string // "resource/bucket: held+confirmed > capacity"
	Drift     []string // bucket counters that disagree with the sum of the holds
	Missing   []string // acknowledged holds not in the database
	WrongStat []string // acknowledged holds whose status is not the last acknowledged one
}

// OK reports whether the audit found nothing wrong.
func (r *AuditReport) OK() bool {
	return len(r.Oversold) == 0 && len(r.Drift) == 0 && len(r.Missing) == 0 && len(r.WrongStat) == 0
}

func (r *AuditReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "audit: %d buckets, %d holds", r.Buckets, r.Holds)
	for _, l := range [][]string{r.Oversold, r.Drift, r.Missing, r.WrongStat} {
		for i, s := range l {
			if i == 10 {
				fmt.Fprintf(&b, "\n  ... %d more", len(l)-10)
				break
			}
			fmt.Fprintf(&b, "\n  %q", s)
		}
	}
	return b.String()
}

// Audit reads every bucket and hold of the resources whose id starts with prefix and checks:
// no bucket oversold; bucket counters equal the sums of their active holds; every hold in
// acked (hold id -> last status acknowledged to a client, or "a|b" alternatives when the
// last transition's outcome is unknown) is present with that status.
func Audit(ctx context.Context, dbURL, prefix string, acked map[string]string) (*AuditReport, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, fmt.Errorf("audit connect: %w", err)
	}
	defer conn.Close(ctx)
	// One snapshot for both reads: a commit that lands between them (a request the client
	// gave up on still commits) must not look like drift.
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("audit begin: %w", err)
	}
	defer tx.Rollback(ctx)
	rep := &AuditReport{}
	type key struct{ rid, bucket string }
	type counters struct{ capacity, held, confirmed int64 }
	stored := map[key]counters{}
	rows, err := tx.Query(ctx, `SELECT resource_id, bucket_key, capacity, held, confirmed FROM buckets WHERE resource_id LIKE $1`, prefix+"%")
	if err != nil {
		return nil, fmt.Errorf("audit buckets: %w", err)
	}
	for rows.Next() {
		var k key
		var c counters
		if err := rows.Scan(&k.rid, &k.bucket, &c.capacity, &c.held, &c.confirmed); err != nil {
			return nil, err
		}
		stored[k] = c
		if c.held+c.confirmed > c.capacity {
			rep.Oversold = append(rep.Oversold, fmt.Sprintf("%s/%s: %d+%d > %d", k.rid, k.bucket, c.held, c.confirmed, c.capacity))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rep.Buckets = len(stored)

	sums := map[key]counters{}
	status := map[string]string{}
	rows, err = tx.Query(ctx, `SELECT id, resource_id, status, quantity, buckets FROM holds WHERE resource_id LIKE $1`, prefix+"%")
	if err != nil {
		return nil, fmt.Errorf("audit holds: %w", err)
	}
	for rows.Next() {
		var id, rid, st, bj string
		var q int64
		if err := rows.Scan(&id, &rid, &st, &q, &bj); err != nil {
			return nil, err
		}
		status[id] = st
		var bs []string
		if err := json.Unmarshal([]byte(bj), &bs); err != nil {
			return nil, fmt.Errorf("hold %s buckets %q: %w", id, bj, err)
		}
		for _, b := range bs {
			c := sums[key{rid, b}]
			switch st {
			case "held":
				c.held += q
			case "confirmed":
				c.confirmed += q
			}
			sums[key{rid, b}] = c
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rep.Holds = len(status)
	for k, c := range stored {
		s := sums[k]
		if s.held != c.held || s.confirmed != c.confirmed {
			rep.Drift = append(rep.Drift, fmt.Sprintf("%s/%s: counters %d/%d, holds sum %d/%d", k.rid, k.bucket, c.held, c.confirmed, s.held, s.confirmed))
		}
		if s.held+s.confirmed > c.capacity {
			rep.Oversold = append(rep.Oversold, fmt.Sprintf("%s/%s: holds sum %d > capacity %d", k.rid, k.bucket, s.held+s.confirmed, c.capacity))
		}
	}
	for id, want := range acked {
		got, ok := status[id]
		switch {
		case !ok:
			rep.Missing = append(rep.Missing, id)
		case !statusIn(got, want):
			rep.WrongStat = append(rep.WrongStat, fmt.Sprintf("%s: acknowledged %s, stored %s", id, want, got))
		}
	}
	for _, l := range [][]string{rep.Oversold, rep.Drift, rep.Missing, rep.WrongStat} {
		sort.Strings(l)
	}
	return rep, nil
}

// statusIn reports whether got is one of the "|"-separated alternatives in want.
func statusIn(got, want string) bool {
	for _, w := range strings.Split(want, "|") {
		if w == got {
			return true
		}
	}
	return false
}
