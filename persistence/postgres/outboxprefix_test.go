package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/allot/allot/actors/events"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/persistence/pgtest"
)

// insertOutboxRows writes outbox rows of resource rid, versions from..to-1 (one event each),
// with the given published_at_ms, straight into the table.
func insertOutboxRows(tb testing.TB, c *pgx.Conn, rid string, from, to int, publishedMS int64) {
	tb.Helper()
	_, err := c.Exec(context.Background(), `INSERT INTO outbox (occurred_at_ms, resource_id, version, idx, event_type,
    subject, data, published_at_ms, claimed_until_ms)
SELECT 1000 + g, $1, g, 0, 'hold.placed', '', '{}', $4, 0 FROM generate_series($2::INT8, $3::INT8 - 1) AS g`,
		rid, from, to, publishedMS)
	if err != nil {
		tb.Fatal(err)
	}
}

// planReads runs EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) of the prefix check and returns the
// outbox rows its scans produced or filtered out, and the blocks it touched.
func planReads(tb testing.TB, c *pgx.Conn, generic bool, args ...any) (rows, blocks float64) {
	tb.Helper()
	ctx := context.Background()
	mode := "force_custom_plan"
	if generic {
		mode = "force_generic_plan"
	}
	if _, err := c.Exec(ctx, "SET plan_cache_mode = "+mode); err != nil {
		tb.Fatal(err)
	}
	_, _ = c.Exec(ctx, "DEALLOCATE upto") // not DEALLOCATE ALL: pgx's statement cache
	if _, err := c.Exec(ctx, `PREPARE upto (TEXT[], INT8[], INT8[], INT8[], INT8[], INT8) AS `+sqlUnpublishedUpTo); err != nil {
		tb.Fatal(err)
	}
	lits := make([]string, len(args)) // EXPLAIN EXECUTE takes no bind parameters
	for i, a := range args {
		switch a := a.(type) {
		case []string:
			lits[i] = fmt.Sprintf("ARRAY['%s']", strings.Join(a, "','"))
		case []int64:
			lits[i] = strings.ReplaceAll(fmt.Sprintf("ARRAY%v::INT8[]", a), " ", ",")
		case int64:
			lits[i] = fmt.Sprint(a)
		}
	}
	var out []byte
	if err := c.QueryRow(ctx, `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE upto (`+strings.Join(lits, ", ")+`)`).Scan(&out); err != nil {
		tb.Fatal(err)
	}
	var plans []struct{ Plan map[string]any }
	if err := json.Unmarshal(out, &plans); err != nil {
		tb.Fatal(err)
	}
	num := func(n map[string]any, k string) float64 { f, _ := n[k].(float64); return f }
	var walk func(n map[string]any)
	walk = func(n map[string]any) {
		if n["Relation Name"] == "outbox" {
			rows += (num(n, "Actual Rows") + num(n, "Rows Removed by Filter") + num(n, "Rows Removed by Index Recheck") +
				num(n, "Rows Removed by Join Filter")) * num(n, "Actual Loops")
		}
		if sub, ok := n["Plans"].([]any); ok {
			for _, p := range sub {
				walk(p.(map[string]any))
			}
		}
	}
	walk(plans[0].Plan)
	blocks = num(plans[0].Plan, "Shared Hit Blocks") + num(plans[0].Plan, "Shared Read Blocks")
	return rows, blocks
}

// TestClaimPrefixReadsNotTheBacklog: the relay's prefix check reads the claimed resource's
// rows from its floor, not the unpublished backlog of other resources, nor the resource's
// published rows, in the custom plan and in the generic plan that a prepared statement gets
// after five executions. On main's query (a join with the bound as a filter) it read every
// unpublished row: the backlog grew while the relay fell behind, and every claim read more.
func TestClaimPrefixReadsNotTheBacklog(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL")
	}
	url := pgtest.MustServer(t).MustDatabase(t)
	mustOpen(t, testConfig(url)) // migrations
	c := mustConn(t, url)
	ctx := context.Background()
	if _, err := c.Exec(ctx, `ALTER TABLE outbox SET (autovacuum_enabled = false)`); err != nil {
		t.Fatal(err)
	}
	for r := range 100 { // the backlog: 20,000 unpublished rows of other resources
		insertOutboxRows(t, c, fmt.Sprintf("other-%03d", r), 1, 201, 0)
	}
	insertOutboxRows(t, c, "hot", 1, 3001, 0)    // published below (marked: dead index entries)
	insertOutboxRows(t, c, "hot", 3001, 3006, 0) // the unpublished rows, 3001..3005
	if _, err := c.Exec(ctx, `UPDATE outbox SET published_at_ms = 5 WHERE resource_id = 'hot' AND version <= 3000`); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, `ANALYZE outbox`); err != nil {
		t.Fatal(err)
	}
	for _, generic := range []bool{false, true} {
		// With the floor a claim saw (3001, 0) and without one (a relay just started).
		rows, blocks := planReads(t, c, generic, []string{"hot"}, []int64{3001}, []int64{0}, []int64{3004}, []int64{0}, int64(256))
		if rows > 10 || blocks > 20 {
			t.Errorf("generic %v, floor: read %.0f outbox rows, %.0f blocks for a prefix of 4 rows", generic, rows, blocks)
		}
		rows, _ = planReads(t, c, generic, []string{"hot"}, []int64{-1}, []int64{-1}, []int64{3004}, []int64{0}, int64(256))
		if rows > 10 {
			t.Errorf("generic %v, no floor: read %.0f outbox rows for a prefix of 4 rows", generic, rows)
		}
	}
}

// TestRelaysKeepVersionOrderOnOnePostgresOutbox is a randomized model of several nodes'
// relays on one outbox while events are written: three relays (two sharing a Store, as
// never happens in a node but must be safe, one on its own) claim with random limits and
// leases, publish their claims to one stream (each resource's events of a claim in version
// order, as cluster/bus's relay does), and mark them; some give up a claim unpublished or
// after a prefix (a crash, a failed publish). One resource's log times step back now and
// then by up to 40 batches (a clock set back), so its later events come before earlier ones
// in the log and claims bring the earlier ones in. Every event must reach the stream, and
// each resource's first copies must be in (version, index) order.
func TestRelaysKeepVersionOrderOnOnePostgresOutbox(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL")
	}
	url := pgtest.MustServer(t).MustDatabase(t)
	shared, own := mustOpen(t, testConfig(url)), mustOpen(t, testConfig(url))
	writer := mustConn(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	type pos struct {
		v uint64
		i int
	}
	var (
		mu     sync.Mutex
		stream = map[string][]pos{} // first copies, per resource
		copies = map[string]bool{}
	)
	publish := func(rid string, p pos) {
		mu.Lock()
		defer mu.Unlock()
		id := fmt.Sprintf("%s/%d/%d", rid, p.v, p.i)
		if !copies[id] {
			copies[id] = true
			stream[rid] = append(stream[rid], p)
		}
	}
	const resources, batches = 6, 400
	written := 0
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { // the writer: batches of 1-3 events, log time never behind per resource
		defer close(done)
		rng := rand.New(rand.NewPCG(17, 1))
		version := make([]int, resources)
		at := make([]int64, resources) // each resource's log time of its next batch
		for b := range batches {
			r := rng.IntN(resources)
			version[r]++
			at[r] = int64(1000 + b/3)
			if r == 0 && rng.IntN(6) == 0 {
				at[r] -= int64(1 + rng.IntN(40)) // resource r0's clock stepped back
			}
			n := 1 + rng.IntN(3)
			for i := range n {
			again:
				_, err := writer.Exec(ctx, `INSERT INTO outbox (occurred_at_ms, resource_id, version, idx, event_type,
    subject, data, published_at_ms, claimed_until_ms) VALUES ($1, $2, $3, $4, 'hold.placed', '', '{}', 0, 0)`,
					at[r], fmt.Sprintf("r%d", r), version[r], i)
				if pe := (*pgconn.PgError)(nil); errors.As(err, &pe) && pe.Code == codeSerializationFailure {
					goto again // SERIALIZABLE against a claim: as Commit, try again
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
			written += n
			if rng.IntN(8) == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	})
	relay := func(seed uint64, s *Store) {
		rng := rand.New(rand.NewPCG(seed, 2))
		idle := 0
		for ctx.Err() == nil {
			lease := time.Duration(20+rng.IntN(60)) * time.Millisecond
			recs, err := s.ClaimEvents(ctx, time.Now(), lease, 1+rng.IntN(12))
			if err != nil {
				t.Error(err)
				return
			}
			if len(recs) == 0 {
				select {
				case <-done:
					if idle++; idle > 50 {
						return
					}
				default:
				}
				time.Sleep(time.Millisecond)
				continue
			}
			idle = 0
			inVersionOrder(recs)
			n := len(recs)
			switch rng.IntN(10) {
			case 0:
				n = 0 // a crash: the claim runs out
			case 1:
				n = rng.IntN(n + 1) // a failed publish: the prefix before it
			}
			keys := make([]persistence.EventKey, 0, n)
			for _, r := range recs[:n] {
				publish(r.ResourceID, pos{r.Version, r.Index})
				keys = append(keys, persistence.KeyOf(&r))
			}
			if n > 0 {
				if err := s.MarkPublished(ctx, keys, time.Now()); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}
	wg.Go(func() { relay(1, shared) })
	wg.Go(func() { relay(2, shared) })
	wg.Go(func() { relay(3, own) })
	wg.Wait()
	if n, err := own.UnpublishedEvents(ctx); err != nil || n != 0 {
		t.Fatalf("backlog left: %d, %v", n, err)
	}
	if len(copies) != written {
		t.Fatalf("%d events on the stream, %d written", len(copies), written)
	}
	for rid, ps := range stream {
		if !slices.IsSortedFunc(ps, func(a, b pos) int {
			if a.v != b.v {
				return int(a.v) - int(b.v)
			}
			return a.i - b.i
		}) {
			t.Fatalf("%s: first copies out of version order: %v", rid, ps)
		}
	}
}

// inVersionOrder is cluster/bus's: each resource's records of a claim in (version, index)
// order, in the places its records held.
func inVersionOrder(recs []events.Record) {
	at := map[string][]int{}
	for i := range recs {
		at[recs[i].ResourceID] = append(at[recs[i].ResourceID], i)
	}
	for _, is := range at {
		group := make([]events.Record, len(is))
		for j, i := range is {
			group[j] = recs[i]
		}
		slices.SortFunc(group, func(a, b events.Record) int {
			if a.Version != b.Version {
				return int(a.Version) - int(b.Version)
			}
			return a.Index - b.Index
		})
		for j, i := range is {
			recs[i] = group[j]
		}
	}
}

// TestClaimBringsEarlierRowsInButNotHeldOnes: resource st's versions 3..6 come first in the
// log (its clock stepped back), before its versions 1 and 2. A claim brings st's first
// versions in with its candidates, but not while another relay's claim holds st's first
// row (locked by a claim transaction in flight, or leased): then st gives nothing and the
// claim takes other resources' rows.
func TestClaimBringsEarlierRowsInButNotHeldOnes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL")
	}
	url := pgtest.MustServer(t).MustDatabase(t)
	s := mustOpen(t, testConfig(url))
	c := mustConn(t, url)
	ctx := context.Background()
	insert := func(rid string, version int, at int64) {
		t.Helper()
		if _, err := c.Exec(ctx, `INSERT INTO outbox (occurred_at_ms, resource_id, version, idx, event_type, subject, data,
    published_at_ms, claimed_until_ms) VALUES ($1, $2, $3, 0, 'hold.placed', '', '{}', 0, 0)`, at, rid, version); err != nil {
			t.Fatal(err)
		}
	}
	insert("st", 1, 5000)
	insert("st", 2, 5001)
	for v := 3; v <= 6; v++ {
		insert("st", v, int64(1000+v))
	}
	for v := 1; v <= 3; v++ {
		insert("ok", v, int64(2000+v))
	}
	now := time.UnixMilli(10_000)
	claim := func(limit int) []string {
		t.Helper()
		recs, err := s.ClaimEvents(ctx, now, time.Minute, limit)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range recs {
			ids = append(ids, r.ID)
		}
		return ids
	}

	// Another relay's claim transaction has locked st/1 and not yet leased it.
	other, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Exec(ctx, `SELECT 1 FROM outbox WHERE resource_id = 'st' AND version = 1 FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	if got := claim(4); len(got) != 0 { // st/1..st/4: st/1 locked, so none
		t.Fatalf("claim(4) with st/1 locked elsewhere: %v, want none", got)
	}
	if got, want := claim(10), []string{"ok/1/0", "ok/2/0", "ok/3/0"}; !slices.Equal(got, want) {
		t.Fatalf("claim(10) with st/1 locked elsewhere: %v, want %v", got, want)
	}
	if err := other.Rollback(ctx); err != nil {
		t.Fatal(err)
	}

	// st/1 leased by another relay: st waits for it.
	if _, err := c.Exec(ctx, `UPDATE outbox SET claimed_until_ms = $1 WHERE resource_id = 'st' AND version = 1`, now.Add(time.Second).UnixMilli()); err != nil {
		t.Fatal(err)
	}
	if got := claim(10); len(got) != 0 {
		t.Fatalf("claim(10) with st/1 leased elsewhere: %v, want none", got)
	}
	if _, err := c.Exec(ctx, `UPDATE outbox SET claimed_until_ms = 0 WHERE resource_id = 'st' AND version = 1`); err != nil {
		t.Fatal(err)
	}

	// Free: st/3 brings st/1 and st/2 with it (the claim in log order), and holds them: a
	// second claim gets none of st's rows.
	if got, want := claim(3), []string{"st/3/0", "st/1/0", "st/2/0"}; !slices.Equal(got, want) {
		t.Fatalf("claim(3): %v, want %v", got, want)
	}
	if got := claim(10); len(got) != 0 {
		t.Fatalf("claim(10) after st/1..3 were claimed: %v, want none", got)
	}
}
