package postgres

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/actors/events"
	"github.com/allot/allot/actors/resource"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/persistence/pgtest"
)

// BenchmarkCommitShapes weighs changes to the commit's schema and statements by what they cost
// PostgreSQL, on a shared machine whose noise is larger than the changes sought
// (docs/PERFORMANCE.md, round 18). Each shape gets a database of its own on one server and a
// store with one connection, so that all its commits run on one backend; the shapes take
// turns, 40 commits each, shape after shape, one round per iteration (-benchtime 24x: 24
// rounds), so that every shape sees the same moments of the machine. A commit is the
// in-process benchmark's (BenchmarkHotResourcePostgres: its mean batch, 21 new one-unit holds
// with an Idempotency-Key, their hold.placed events, the bucket's after-image), its holds of 64
// users, as the http benchmark's 64 clients are (a shape may set another batch size: what a
// commit costs whatever its holds, round 20). Measured per
// turn: the backend's CPU from /proc/PID/schedstat (nanoseconds, not 10 ms ticks) and the WAL
// written (pg_current_wal_lsn), per hold; reported: each shape's median (<shape>-db-µs/hold,
// <shape>-wal-B/hold) and the median over rounds of its ratio to the first shape's turn in the
// same round (<shape>/<first>). ALLOT_BENCH_SHAPES picks shapes, in order (default:
// shapeNames). With ALLOT_BENCH_RELAY=1 each commit is followed by the relay's claim (up to
// 256 events) and mark, on the same backend. The shapes that are not "main" are measurements,
// not code the store runs.
func BenchmarkCommitShapes(b *testing.B) {
	names := shapeNames
	relay := os.Getenv("ALLOT_BENCH_RELAY") == "1"
	if v := os.Getenv("ALLOT_BENCH_SHAPES"); v != "" {
		names = strings.Split(v, ",")
	}
	srv := pgtest.MustServer(b)
	ctx := context.Background()
	var shapes []*benchShape
	for _, n := range names {
		sh, ok := commitShapes[n]
		if !ok {
			b.Fatalf("no shape %q (have %v)", n, slices.Sorted(maps.Keys(commitShapes)))
		}
		cfg := testConfig(srv.MustDatabase(b))
		cfg.MaxConns = 1 // one backend per shape
		s := mustOpen(b, cfg)
		for _, ddl := range sh.ddl {
			if _, err := s.pool.Exec(ctx, ddl); err != nil {
				b.Fatalf("%s: %s: %v", n, ddl, err)
			}
		}
		x := &benchShape{name: n, shape: sh, s: s, id: "hot-actor", relay: relay}
		if err := s.pool.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&x.pid); err != nil {
			b.Fatal(err)
		}
		mustCreate(b, s, x.id, booking.Bucket{Key: "all", Capacity: booking.MaxCapacity})
		snap, err := s.Activate(ctx, x.id, time.Time{})
		if err != nil {
			b.Fatal(err)
		}
		x.epoch, x.version = snap.Epoch, snap.Version
		shapes = append(shapes, x)
	}
	const perTurn, batch = 40, 21
	size := func(x *benchShape) int { return cmp.Or(x.shape.batch, batch) }
	for _, x := range shapes { // warm-up: plans cached, first pages extended
		x.commits(b, perTurn, size(x))
	}
	round := 0
	for b.Loop() {
		for k := range shapes {
			x := shapes[(k+round)%len(shapes)] // a different shape first each round
			w0, c0 := walLSN(b, x.s), schedNS(x.pid)
			x.commits(b, perTurn, size(x))
			c1, w1 := schedNS(x.pid), walLSN(b, x.s)
			holds := float64(perTurn * size(x))
			x.cpu = append(x.cpu, float64(c1-c0)/1e3/holds)
			x.wal = append(x.wal, float64(w1-w0)/holds)
		}
		round++
	}
	b.StopTimer()
	first := shapes[0]
	for _, x := range shapes {
		b.ReportMetric(median(x.cpu), x.name+"-db-µs/hold")
		b.ReportMetric(median(x.wal), x.name+"-wal-B/hold")
		if x == first {
			continue
		}
		ratios := make([]float64, len(x.cpu))
		for i := range x.cpu {
			ratios[i] = x.cpu[i] / first.cpu[i]
		}
		b.ReportMetric(median(ratios), x.name+"/"+first.name)
		b.Logf("%s/%s per round: %v", x.name, first.name, ratios)
	}
}

// commitShape is a way to store the commit: DDL run on its database after the migrations,
// and how its statements are sent (nil: Store.Commit, as the node does).
type commitShape struct {
	ddl   []string
	send  func(q *commitBatch) error
	batch int // holds a commit (0: the default, 21)
}

var shapeNames = []string{"main", "main-again", "no-outbox-unpublished", "partial-claim-index",
	"fold-fence-buckets", "one-statement", "outbox-row-per-commit", "outbox-unindexed"}

var commitShapes = map[string]commitShape{
	"main":       {},
	"main-again": {}, // the A/A: the noise
	// The relay's claim index without the published rows (the prune would walk the primary key).
	"no-outbox-unpublished": {ddl: []string{"DROP INDEX outbox_unpublished"}},
	"partial-claim-index": {ddl: []string{"DROP INDEX outbox_unpublished",
		"CREATE INDEX outbox_unpublished_at ON outbox (occurred_at_ms) WHERE published_at_ms = 0"}},
	// Fewer statements per commit: the buckets' upsert a CTE of the fence; every write one
	// statement.
	"fold-fence-buckets": {send: func(q *commitBatch) error { return q.fold([]int{0, 1}, []int{2}, []int{3}) }},
	"one-statement":      {send: func(q *commitBatch) error { return q.fold([]int{0, 1, 2, 3}) }},
	// One outbox row per commit, its data the events' JSON as one array (not the format GET
	// /v1/events and the relay read: the size of that lever).
	"outbox-row-per-commit": {send: func(q *commitBatch) error {
		o := &q.queries[3]
		o.sql = `INSERT INTO outbox (occurred_at_ms, resource_id, version, idx, event_type, subject, data, published_at_ms, claimed_until_ms)
VALUES (($6::INT8[])[1], $1::TEXT, $2::INT8, ($3::INT8[])[1], ($4::TEXT[])[1], ($5::TEXT[])[1], '[' || array_to_string($7::TEXT[], ',') || ']', 0, 0)`
		return nil
	}},
	// Room on each outbox page for the relay's lease update, which changes no indexed column,
	// to stay there (a heap-only update); PostgreSQL only. Not in shapeNames: a relay's cost.
	"outbox-fillfactor-80": {ddl: []string{"ALTER TABLE outbox SET (fillfactor = 80)"}},
	// The key columns compared bytewise (COLLATE "C"), not by the database's collation
	// (C.UTF-8 here, en_US.UTF-8 on many servers): a B-tree insert compares TEXT keys through
	// strcoll unless the collation is C. PostgreSQL only.
	"collate-c": {ddl: []string{`ALTER TABLE holds ALTER COLUMN id TYPE TEXT COLLATE "C"`,
		`ALTER TABLE holds ALTER COLUMN resource_id TYPE TEXT COLLATE "C"`,
		`ALTER TABLE holds ALTER COLUMN user_id TYPE TEXT COLLATE "C"`,
		`ALTER TABLE holds ALTER COLUMN status TYPE TEXT COLLATE "C"`,
		`ALTER TABLE outbox ALTER COLUMN resource_id TYPE TEXT COLLATE "C"`}},
	// main's statements with other batch sizes: what a commit costs whatever its holds.
	"batch-1":  {batch: 1},
	"batch-5":  {batch: 5},
	"batch-64": {batch: 64},
	// What the per-commit statements cost (not the store's semantics: measurements).
	"no-buckets": {send: func(q *commitBatch) error { q.queries = slices.Delete(q.queries, 1, 2); return nil }},
	"buckets-update": {send: func(q *commitBatch) error {
		q.queries[1].sql = `UPDATE buckets SET capacity = k.c, allowance = k.a, held = k.h, confirmed = k.f
FROM (SELECT unnest($2::TEXT[]) AS key, unnest($3::INT8[]) AS c, unnest($4::INT8[]) AS a, unnest($5::INT8[]) AS h, unnest($6::INT8[]) AS f) AS k
WHERE buckets.resource_id = $1::TEXT AND buckets.bucket_key = k.key`
		return nil
	}},
	"fence-version-only": {send: func(q *commitBatch) error {
		a := q.queries[0].args
		q.queries[0] = query{`WITH fence AS (UPDATE resources SET version = $3, lease_until_ms = COALESCE($4::INT8, lease_until_ms)
WHERE id = $1 AND epoch = $2 AND version = $3::INT8 - 1 RETURNING 1)
SELECT 1 / (SELECT count(*) FROM fence)`, []any{a[0], a[1], a[6], a[9]}}
		return nil
	}},
	// What each of the holds table's B-trees costs.
	"no-holds-by-user":     {ddl: []string{"DROP INDEX holds_by_user"}},
	"no-holds-by-resource": {ddl: []string{"DROP INDEX holds_by_resource"}},
	"holds-unindexed": {ddl: []string{"DROP INDEX holds_by_user", "DROP INDEX holds_by_resource",
		"DROP INDEX holds_payment_open", "ALTER TABLE holds DROP CONSTRAINT holds_pkey"}},
	// The outbox's heap rows without an index: what its three B-tree inserts per event cost.
	"outbox-unindexed": {ddl: []string{"DROP INDEX outbox_unpublished", "DROP INDEX outbox_unpublished_by_resource",
		"ALTER TABLE outbox DROP CONSTRAINT outbox_pkey"}},
}

type benchShape struct {
	name           string
	shape          commitShape
	s              *Store
	pid            int
	id             string
	epoch, version uint64
	held           int64
	relay          bool      // claim and mark after each commit
	cpu, wal       []float64 // per turn, per hold
}

// benchUser is the user of a shape's i-th hold: one of 64, as the http benchmark's clients are,
// so that holds_by_user takes its entries at 64 places, not all at its end.
func benchUser(i int) string { return "user-" + strconv.Itoa(i%64) }

// commits sends n commits of size new holds each, with their keys and events.
func (x *benchShape) commits(b *testing.B, n, size int) {
	ctx := context.Background()
	for range n {
		now := time.Now().UTC().Truncate(time.Millisecond)
		bt := &persistence.Batch{ResourceID: x.id, Epoch: x.epoch, Version: x.version + 1, Resource: testResource(x.id), NewHolds: size}
		bt.Holds = make([]booking.Hold, size)
		for i := range bt.Holds {
			h := &bt.Holds[i]
			*h = booking.Hold{ID: resource.NewHoldID(now), ResourceID: x.id, UserID: benchUser(int(x.version)*size + i), Buckets: []string{"all"}, Quantity: 1,
				Status: booking.StatusHeld, CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute), UpdatedAt: now,
				IdempotencyKey: fmt.Sprintf("k-%d-%d", x.version, i)}
			bt.Idempotency = append(bt.Idempotency, booking.IdempotencyEntry{Key: h.IdempotencyKey,
				Fingerprint: booking.Fingerprint(h.Buckets, h.Quantity, h.UserID), HoldID: h.ID, CreatedAt: now})
			bt.Events = append(bt.Events, events.Event{Type: events.HoldPlaced, ResourceID: x.id, Version: x.version + 1,
				Index: i, OccurredAt: now, Subject: h.UserID, Hold: h})
		}
		x.held += int64(size)
		bt.Buckets = []booking.Bucket{{Key: "all", Capacity: booking.MaxCapacity, Held: x.held}}
		if err := x.commit(ctx, bt); err != nil {
			b.Fatalf("%s: %v", x.name, err)
		}
		x.version++
		if x.relay {
			x.publish(ctx, b)
		}
	}
}

// publish claims and marks what the relay would.
func (x *benchShape) publish(ctx context.Context, b *testing.B) {
	recs, err := x.s.ClaimEvents(ctx, time.Now(), 30*time.Second, 256)
	if err != nil {
		b.Fatalf("%s: claim: %v", x.name, err)
	}
	keys := make([]persistence.EventKey, len(recs))
	for i := range recs {
		keys[i] = persistence.KeyOf(&recs[i])
	}
	if err := x.s.MarkPublished(ctx, keys, time.Now()); err != nil {
		b.Fatalf("%s: mark: %v", x.name, err)
	}
}

func (x *benchShape) commit(ctx context.Context, bt *persistence.Batch) error {
	if x.shape.send == nil {
		return x.s.Commit(ctx, bt)
	}
	q, err := newCommitBatch(bt, new(commitArena), false, true)
	if err != nil {
		return err
	}
	if len(q.queries) != 4 { // fence, buckets, holds, outbox
		return fmt.Errorf("%d statements", len(q.queries))
	}
	if err := x.shape.send(q); err != nil {
		return err
	}
	conn, err := x.s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	err = sendCommit(ctx, conn.Conn(), q, &x.s.bufs)
	if err != nil && conn.Conn().PgConn().TxStatus() != 'I' {
		_, _ = conn.Exec(ctx, "ROLLBACK")
	}
	return err
}

var paramRef = regexp.MustCompile(`\$(\d+)`)

const fenceSelect = "\nSELECT 1 / (SELECT count(*) FROM fence)"

// fold makes each group of q's statements one statement: the first one's, with the others as
// data-modifying CTEs (their parameters renumbered after the first one's). A group led by the
// fence keeps the fence's division by zero as its result.
func (q *commitBatch) fold(groups ...[]int) error {
	var out []query
	for _, g := range groups {
		head := q.queries[g[0]]
		args := slices.Clone(head.args)
		var ctes []string
		for j, i := range g[1:] {
			p := q.queries[i]
			off := len(args)
			sql := paramRef.ReplaceAllStringFunc(p.sql, func(m string) string {
				n, _ := strconv.Atoi(m[1:])
				return "$" + strconv.Itoa(n+off)
			})
			ctes = append(ctes, fmt.Sprintf("c%d AS (%s)", j, sql))
			args = append(args, p.args...)
		}
		sql := head.sql
		switch {
		case len(ctes) == 0:
		case head.sql == sqlUpdateResource:
			sql = strings.TrimSuffix(head.sql, fenceSelect) + ", " + strings.Join(ctes, ", ") + fenceSelect
		default:
			sql = "WITH " + strings.Join(ctes, ", ") + " " + head.sql
		}
		out = append(out, query{sql, args})
	}
	q.queries = out
	return nil
}

func walLSN(b *testing.B, s *Store) int64 {
	var at int64
	if err := s.pool.QueryRow(context.Background(), "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn").Scan(&at); err != nil {
		b.Fatal(err)
	}
	return at
}

// schedNS is the CPU time of pid in nanoseconds (the first field of /proc/PID/schedstat).
func schedNS(pid int) int64 {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/schedstat")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(raw))
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.ParseInt(f[0], 10, 64)
	return n
}

func median(x []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	y := slices.Clone(x)
	slices.Sort(y)
	return y[len(y)/2]
}
