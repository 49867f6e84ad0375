package resource

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/api/baseline"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/persistence/pgtest"
	"github.com/allot/allot/persistence/postgres"
)

// TestMain stops the shared PostgreSQL of pgtest (started by the PostgreSQL benchmarks only)
// when the test binary ends.
func TestMain(m *testing.M) { pgtest.Main(m) }

// pgCallers is how many goroutines place holds at once in BenchmarkHotResourcePostgres, on
// each side.
const pgCallers = 64

// classicWindow bounds the classic side of BenchmarkHotResourcePostgres: it runs as long as
// the actor side did, within these bounds.
const (
	minClassicWindow = 500 * time.Millisecond
	maxClassicWindow = 5 * time.Second
)

// BenchmarkHotResourcePostgres compares, on one PostgreSQL server (pgtest: fsync on), durable
// one-unit holds with an Idempotency-Key on one hot resource, 64 concurrent callers each
// waiting for its answer:
//
//   - actor: b.N holds through the resource actor, which group-commits them (one transaction
//     per batch; the store pipelines: a second batch of 16 or more goes behind the one in
//     flight, on the same connection). This side is what ns/op times.
//   - classic: then, outside the timer, baseline.ClassicHold on another resource of the same
//     database, one READ COMMITTED transaction per hold (SELECT ... FOR UPDATE of the
//     bucket, INSERT the hold, UPDATE the counter, INSERT the key), as the classic HTTP
//     baseline serves it, for as long as the actor side ran (0.5s to 5s).
//
// It reports actor-holds/s, classic-holds/s and their ratio actor/classic (Allot's target:
// at least 50), the actor side's CPU per hold: this process's, callers included
// (cpu-µs/hold), and the PostgreSQL server's processes' (db-cpu-µs/hold), so that a run can be told
// CPU-bound or not; and its commit path, so that a run that is not can be told what it waits
// on: the median and mean holds per commit (median-batch, mean-batch), the mean time a commit
// spent at the store, from Enqueue (or Commit) to its answer (commit-µs), and the share of the
// timed part with at least one commit there (store-busy). With one commit at a time,
// actor-holds/s = mean-batch × store-busy / commit-µs, and the 64 callers split between the
// commit at the store and the batch that waits for it (mean-batch about 32); with two, a
// commit's time includes its wait behind the one ahead.
func BenchmarkHotResourcePostgres(b *testing.B) {
	srv := pgtest.MustServer(b)
	url := srv.MustDatabase(b)
	ctx := context.Background()

	cfg := postgres.DefaultConfig() // a node's pool: 16 connections
	cfg.URL = url
	store := mustPostgres(b, cfg)
	wrapped, rec := recorded(store) // the store pipelines: persistence/postgres, Enqueue
	h := newHarness(b, wrapped)
	const hot = "hot-actor"
	pid := h.spawn(hot)
	h.create(pid, hot, map[string]int64{"all": booking.MaxCapacity})

	ccfg := cfg // the classic baseline's pool: one connection per caller
	ccfg.MaxConns = pgCallers
	ccfg.SkipMigrate = true
	classic := mustPostgres(b, ccfg)
	const cold = "hot-classic"
	now := time.Now().UTC().Truncate(time.Millisecond)
	if err := classic.Commit(ctx, &persistence.Batch{
		ResourceID: cold, Version: 1, Create: true,
		Resource: booking.Resource{ID: cold, Name: cold, HoldTTL: time.Hour, CreatedAt: now, UpdatedAt: now},
		Buckets:  []booking.Bucket{{Key: "all", Capacity: booking.MaxCapacity}},
	}); err != nil {
		b.Fatalf("create %s: %v", cold, err)
	}

	// Actor side (timed).
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	rec.reset()
	b.ResetTimer()
	meter := startCPU(srv)
	start := time.Now()
	for range pgCallers {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				rep, err := h.tryAsk(pid, holdCmd(hot, fmt.Sprintf("a-%d-%d", b.N, i), "user-1", 1, "all"))
				if err != nil || rep.GetError() != nil {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	actorElapsed := time.Since(start)
	b.StopTimer()
	meter.report(b, b.N)
	if n := failed.Load(); n > 0 {
		b.Fatalf("actor: %d of %d holds failed", n, b.N)
	}
	actorRate := float64(b.N) / actorElapsed.Seconds()
	atStore, latency, commits := rec.storeTime()

	// Classic side (untimed): as long as the actor side ran, within the window bounds.
	window := min(max(actorElapsed, minClassicWindow), maxClassicWindow)
	var done, cfailed atomic.Int64
	cstart := time.Now()
	deadline := cstart.Add(window)
	for w := range pgCallers {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				t := time.Now().UTC().Truncate(time.Millisecond)
				hold := booking.Hold{
					ID: fmt.Sprintf("c-%d-%d-%d", b.N, w, i), ResourceID: cold, UserID: "user-1",
					IdempotencyKey: fmt.Sprintf("c-%d-%d-%d", b.N, w, i), Buckets: []string{"all"}, Quantity: 1,
					Status: booking.StatusHeld, CreatedAt: t, ExpiresAt: t.Add(time.Hour), UpdatedAt: t,
				}
				if _, err := baseline.ClassicHold(ctx, classic.Pool(), pgx.ReadCommitted, hold); err != nil {
					cfailed.Add(1)
					continue
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	classicElapsed := time.Since(cstart)
	if n := cfailed.Load(); n > 0 {
		b.Fatalf("classic: %d holds failed (%d succeeded)", n, done.Load())
	}
	classicRate := float64(done.Load()) / classicElapsed.Seconds()

	b.ReportMetric(actorRate, "actor-holds/s")
	b.ReportMetric(classicRate, "classic-holds/s")
	if classicRate > 0 {
		b.ReportMetric(actorRate/classicRate, "actor/classic")
	}
	b.ReportMetric(rec.median(), "median-batch")
	if commits > 0 {
		b.ReportMetric(float64(b.N)/float64(commits), "mean-batch")
		b.ReportMetric(float64(latency.Microseconds())/float64(commits), "commit-µs")
		b.ReportMetric(atStore.Seconds()/actorElapsed.Seconds(), "store-busy")
	}
}

// mustPostgres opens a PostgreSQL store, closed when tb ends.
func mustPostgres(tb testing.TB, cfg postgres.Config) *postgres.Store {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := postgres.Open(ctx, cfg)
	if err != nil {
		tb.Fatalf("open postgres: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}
