package baseline

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/persistence/pgtest"
	"github.com/allot/allot/persistence/postgres"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// mustStore opens Allot's production store on a fresh database: ClassicHold shares its
// tables, and the store's Activate shows what ClassicHold wrote.
func mustStore(tb testing.TB, maxConns int, tracer pgx.QueryTracer) *postgres.Store {
	tb.Helper()
	cfg := postgres.DefaultConfig()
	cfg.URL = pgtest.MustServer(tb).MustDatabase(tb)
	cfg.MaxConns = maxConns
	cfg.Tracer = tracer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := postgres.Open(ctx, cfg)
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

func mustCreate(tb testing.TB, s *postgres.Store, id string, buckets ...booking.Bucket) {
	tb.Helper()
	res := booking.Resource{ID: id, Name: "Room " + id, HoldTTL: 10 * time.Minute, CreatedAt: t0, UpdatedAt: t0}
	if err := s.Commit(context.Background(), &persistence.Batch{ResourceID: id, Version: 1, Create: true, Resource: res, Buckets: buckets}); err != nil {
		tb.Fatalf("create %s: %v", id, err)
	}
}

func testHold(res, id string, ms int64, qty int64, buckets ...string) booking.Hold {
	return booking.Hold{
		ID: id, ResourceID: res, UserID: "u", Buckets: buckets, Quantity: qty, Status: booking.StatusHeld,
		CreatedAt: t0.Add(time.Duration(ms) * time.Millisecond), ExpiresAt: t0.Add(time.Hour), UpdatedAt: t0,
	}
}

// TestClassicHoldNoOversell: 16 goroutines race for 10 units with ClassicHold; exactly 10
// holds land, the rest are sold out, and counters match the holds. At both isolation levels.
func TestClassicHoldNoOversell(t *testing.T) {
	s := mustStore(t, 8, nil)
	ctx := context.Background()
	for _, iso := range []pgx.TxIsoLevel{pgx.Serializable, pgx.ReadCommitted} {
		id := "classic-" + string(iso[:4])
		mustCreate(t, s, id, booking.Bucket{Key: "a", Capacity: 10}, booking.Bucket{Key: "b", Capacity: 12})
		const n = 16
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				h := testHold(id, fmt.Sprintf("%s-h%d", id, i), int64(i), 1, "b", "a")
				_, errs[i] = ClassicHold(ctx, s.Pool(), iso, h)
			})
		}
		wg.Wait()
		ok, sold := 0, 0
		for _, err := range errs {
			switch booking.ErrorCode(err) {
			case "":
				ok++
			case booking.CodeSoldOut:
				sold++
			default:
				t.Errorf("%s: %v", iso, err)
			}
		}
		snap, err := s.Activate(ctx, id, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if ok != 10 || sold != n-10 || len(snap.Holds) != 10 ||
			snap.Buckets[0].Held != 10 || snap.Buckets[1].Held != 10 {
			t.Errorf("%s: %d placed, %d sold out, %d stored, buckets %+v; want 10, 6, 10, held 10/10",
				iso, ok, sold, len(snap.Holds), snap.Buckets)
		}
	}
}

func TestClassicHoldIdempotencyAndValidation(t *testing.T) {
	s := mustStore(t, 8, nil)
	ctx := context.Background()
	mustCreate(t, s, "r", booking.Bucket{Key: "a", Capacity: 10})
	h := testHold("r", "first", 1, 2, "a")
	h.IdempotencyKey = "k"
	if got, err := ClassicHold(ctx, s.Pool(), pgx.Serializable, h); err != nil || got != "first" {
		t.Fatalf("first: %q %v", got, err)
	}
	replay := h
	replay.ID = "second"
	if got, err := ClassicHold(ctx, s.Pool(), pgx.Serializable, replay); err != nil || got != "first" {
		t.Fatalf("replay: %q %v, want the first hold's id", got, err)
	}
	replay.Quantity = 3
	if _, err := ClassicHold(ctx, s.Pool(), pgx.Serializable, replay); booking.ErrorCode(err) != booking.CodeIdempotencyMismatch {
		t.Fatalf("changed request: %v", err)
	}
	for name, bad := range map[string]booking.Hold{
		"unknown bucket": testHold("r", "x1", 1, 1, "nope"),
		"zero quantity":  testHold("r", "x2", 1, 0, "a"),
		"twice":          testHold("r", "x3", 1, 1, "a", "a"),
	} {
		if _, err := ClassicHold(ctx, s.Pool(), pgx.Serializable, bad); booking.ErrorCode(err) != booking.CodeInvalid {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
	snap, err := s.Activate(ctx, "r", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Holds) != 1 || snap.Buckets[0].Held != 2 || len(snap.Idempotency) != 1 {
		t.Fatalf("state %+v", snap)
	}
}

// retryCounter is a pgx tracer that counts statements failing with SQLSTATE 40001, the
// serialization failures cockroach-go retries.
type retryCounter struct{ n atomic.Int64 }

func (c *retryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}

func (c *retryCounter) TraceQueryEnd(_ context.Context, _ *pgx.Conn, d pgx.TraceQueryEndData) {
	var pe *pgconn.PgError
	if errors.As(d.Err, &pe) && pe.Code == "40001" {
		c.n.Add(1)
	}
}

// callers is how many goroutines place holds at once in BenchmarkClassicHold.
const callers = 64

// BenchmarkClassicHold: 64 concurrent callers place one-unit holds on one hot resource with
// ClassicHold, one transaction per hold. Reports holds/s, and 40001s and failures per hold.
func BenchmarkClassicHold(b *testing.B) {
	for _, iso := range []pgx.TxIsoLevel{pgx.Serializable, pgx.ReadCommitted} {
		b.Run(string(iso), func(b *testing.B) {
			var retries retryCounter
			s := mustStore(b, callers, &retries)
			const id = "hot"
			mustCreate(b, s, id, booking.Bucket{Key: "a", Capacity: booking.MaxCapacity})
			ctx := context.Background()
			var seq, failed atomic.Int64
			procs := runtime.GOMAXPROCS(0)
			b.SetParallelism((callers + procs - 1) / procs) // RunParallel runs parallelism × GOMAXPROCS goroutines
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := seq.Add(1)
					h := testHold(id, fmt.Sprintf("h%09d", i), i, 1, "a")
					h.IdempotencyKey = fmt.Sprintf("k%09d", i)
					if _, err := ClassicHold(ctx, s.Pool(), iso, h); err != nil {
						failed.Add(1)
					}
				}
			})
			elapsed := b.Elapsed()
			ok := float64(int64(b.N) - failed.Load())
			b.ReportMetric(ok/elapsed.Seconds(), "holds/s")
			b.ReportMetric(float64(retries.n.Load())/float64(b.N), "40001/op")
			b.ReportMetric(float64(failed.Load())/float64(b.N), "failed/op")
		})
	}
}
