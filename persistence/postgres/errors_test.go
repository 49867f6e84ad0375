package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/cockroachdb/cockroach-go/v2/crdb"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/persistence/pgtest"
)

func TestUnavailableClassification(t *testing.T) {
	pg := func(code string) error { return &pgconn.PgError{Code: code} }
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{pg("57014"), true},  // statement timeout
		{pg("57P01"), true},  // admin shutdown
		{pg("57P03"), true},  // cannot connect now
		{pg("08006"), true},  // connection failure
		{pg("53300"), true},  // too many connections
		{pg("40003"), true},  // CockroachDB: completion unknown
		{pg("23514"), false}, // CHECK violation: a bug, not an outage
		{pg("23505"), false},
		{pg("42601"), false},
		{context.DeadlineExceeded, true},
		{fmt.Errorf("x: %w", context.Canceled), true},
		{io.ErrUnexpectedEOF, true},
		{&pgconn.ConnectError{}, true},
		{errors.New("closed pool"), true},
		{errHoldOfOtherResource, false},
		{errors.New("scan: cannot convert"), false},
	} {
		if got := unavailable(tc.err); got != tc.want {
			t.Errorf("unavailable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	if err := wrap("op", pg("57014")); !errors.Is(err, persistence.ErrUnavailable) || sqlState(err) != "57014" {
		t.Errorf("wrap keeps neither the sentinel nor the cause: %v", err)
	}
}

// TestMaxRetriesIsUnavailable: contention that outlasts the retries is reported as
// ErrUnavailable (the caller reloads and tries again later), not as a bug.
func TestMaxRetriesIsUnavailable(t *testing.T) {
	attempts := 0
	s := &Store{cfg: Config{MaxRetries: 3}}
	err := s.retry(context.Background(), func(context.Context) error {
		attempts++
		return &pgconn.PgError{Code: codeSerializationFailure}
	})
	var mre *crdb.MaxRetriesExceededError
	if !errors.As(err, &mre) || attempts != 4 {
		t.Fatalf("err = %v after %d attempts; want MaxRetriesExceededError after 4", err, attempts)
	}
	if !errors.Is(wrap("commit", err), persistence.ErrUnavailable) {
		t.Fatal("retries exhausted is not ErrUnavailable")
	}
}

// TestStatementTimeout: a commit stuck behind a lock that another session holds fails with
// ErrUnavailable after about the statement timeout, and writes nothing.
func TestStatementTimeout(t *testing.T) {
	url := pgtest.MustServer(t).MustDatabase(t)
	cfg := testConfig(url)
	cfg.StatementTimeout = 300 * time.Millisecond
	cfg.OpTimeout = 5 * time.Second
	s := mustOpen(t, cfg)
	ctx := context.Background()
	mustCreate(t, s, "r", booking.Bucket{Key: "a", Capacity: 10})

	blocker := mustConn(t, url)
	tx, err := blocker.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT 1 FROM resources WHERE id = 'r' FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = s.Commit(ctx, &persistence.Batch{ResourceID: "r", Epoch: 1, Version: 2, Resource: testResource("r"),
		Holds: []booking.Hold{testHold("r", "h", 1, 1, "a")}})
	took := time.Since(start)
	if !errors.Is(err, persistence.ErrUnavailable) || sqlState(err) != "57014" {
		t.Fatalf("err = %v, want ErrUnavailable from a statement timeout (57014)", err)
	}
	if took < cfg.StatementTimeout || took > cfg.StatementTimeout+2*time.Second {
		t.Fatalf("the commit failed after %s; statement timeout %s", took, cfg.StatementTimeout)
	}
	// A renewal behind the lock fails the same way.
	if err := s.Renew(ctx, "r", 1, t0.Add(time.Second)); !errors.Is(err, persistence.ErrUnavailable) || sqlState(err) != "57014" {
		t.Fatalf("renew: err = %v, want ErrUnavailable from a statement timeout (57014)", err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetHold(ctx, "r", "h"); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("timed-out commit left its hold: %v", err)
	}
	if snap, err := s.Activate(ctx, "r", time.Time{}); err != nil || !snap.LeaseUntil.IsZero() {
		t.Fatalf("timed-out renewal: lease %v err %v, want none", snap.LeaseUntil, err)
	}
}

// TestOpTimeout: with the statement timeout out of reach, the client-side bound still ends a
// call: ErrUnavailable wrapping context.DeadlineExceeded.
func TestOpTimeout(t *testing.T) {
	url := pgtest.MustServer(t).MustDatabase(t)
	cfg := testConfig(url)
	cfg.StatementTimeout = time.Minute
	cfg.OpTimeout = time.Minute
	s := mustOpen(t, cfg)
	ctx := context.Background()
	mustCreate(t, s, "r", booking.Bucket{Key: "a", Capacity: 10})
	blocker := mustConn(t, url)
	tx, err := blocker.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT 1 FROM resources WHERE id = 'r' FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	_, err = s.Activate(cctx, "r", time.Time{})
	if !errors.Is(err, persistence.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrUnavailable wrapping context.DeadlineExceeded", err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	snap, err := s.Activate(ctx, "r", time.Time{})
	if err != nil || snap.Epoch != 2 {
		t.Fatalf("after the timed-out activation: epoch %v, err %v; want 2 (the timed-out one wrote nothing)", snap, err)
	}
}

func TestOpenUnreachable(t *testing.T) {
	cfg := DefaultConfig()
	cfg.URL = "postgresql://postgres@127.0.0.1:1/none?sslmode=disable"
	cfg.ConnectTimeout = time.Second
	_, err := Open(context.Background(), cfg)
	if !errors.Is(err, persistence.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := DefaultConfig()
	ok.URL = "postgresql://x@127.0.0.1/db"
	if err := ok.validate(); err != nil {
		t.Fatalf("default config with a URL: %v", err)
	}
	for name, mutate := range map[string]func(*Config){
		"no url":          func(c *Config) { c.URL = "" },
		"no conns":        func(c *Config) { c.MaxConns = 0 },
		"no stmt timeout": func(c *Config) { c.StatementTimeout = 0 },
		"no connect":      func(c *Config) { c.ConnectTimeout = 0 },
		"op < statement":  func(c *Config) { c.OpTimeout = c.StatementTimeout / 2 },
		"negative op":     func(c *Config) { c.OpTimeout = -1 },
		"negative retry":  func(c *Config) { c.MaxRetries = -1 },
	} {
		c := ok
		mutate(&c)
		if err := c.validate(); err == nil {
			t.Errorf("%s: validate accepted %+v", name, c)
		}
	}
	if got := ok.opTimeout(); got != 2*ok.StatementTimeout {
		t.Errorf("default OpTimeout = %s, want twice the statement timeout", got)
	}
	pc, err := ok.poolConfig(3)
	if err != nil {
		t.Fatal(err)
	}
	rp := pc.ConnConfig.RuntimeParams
	if rp["statement_timeout"] != "5000" || rp["default_transaction_isolation"] != "serializable" || pc.MaxConns != 3 {
		t.Fatalf("pool config: params %v, max conns %d", rp, pc.MaxConns)
	}
}
