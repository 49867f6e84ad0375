package postgres

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/allot/allot/persistence/pgtest"
)

func TestMain(m *testing.M) {
	if childMigrate() {
		return
	}
	pgtest.Main(m)
}

// testConfig is DefaultConfig for url with timeouts that fit tests.
func testConfig(url string) Config {
	cfg := DefaultConfig()
	cfg.URL = url
	cfg.MaxConns = 8
	return cfg
}

// mustOpen opens a store on url, closed when t ends.
func mustOpen(tb testing.TB, cfg Config) *Store {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Open(ctx, cfg)
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// mustConn opens a plain connection to url, closed when t ends.
func mustConn(tb testing.TB, url string) *pgx.Conn {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	tb.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// retryCounter is a pgx tracer that counts statements failing with SQLSTATE 40001, the
// errors cockroach-go retries.
type retryCounter struct{ n atomic.Int64 }

var (
	_ pgx.QueryTracer = (*retryCounter)(nil)
	_ pgx.BatchTracer = (*retryCounter)(nil)
)

func (c *retryCounter) count(err error) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == codeSerializationFailure {
		c.n.Add(1)
	}
}

func (c *retryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}

func (c *retryCounter) TraceQueryEnd(_ context.Context, _ *pgx.Conn, d pgx.TraceQueryEndData) {
	c.count(d.Err)
}

func (c *retryCounter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}

func (c *retryCounter) TraceBatchQuery(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	c.count(d.Err)
}

func (c *retryCounter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}
