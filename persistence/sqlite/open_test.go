package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

var t0 = time.UnixMilli(1_900_000_000_000).UTC()

func res(id string) booking.Resource {
	return booking.Resource{ID: id, Name: id, HoldTTL: time.Minute, CreatedAt: t0, UpdatedAt: t0}
}

func newHold(res, id string) booking.Hold {
	return booking.Hold{ID: id, ResourceID: res, UserID: "u", Buckets: []string{"a"}, Quantity: 1,
		Status: booking.StatusHeld, CreatedAt: t0, ExpiresAt: t0.Add(time.Minute), UpdatedAt: t0}
}

func createBatch(id string) *persistence.Batch {
	return &persistence.Batch{ResourceID: id, Version: 1, Create: true, Resource: res(id),
		Buckets: []booking.Bucket{{Key: "a", Capacity: booking.MaxCapacity}}}
}

func mustCommit(t testing.TB, s *Store, b *persistence.Batch) {
	t.Helper()
	if err := s.Commit(context.Background(), b); err != nil {
		t.Fatalf("commit %s: %v", b.ResourceID, err)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := DefaultConfig("x.db")
	if err := ok.validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	for name, mutate := range map[string]func(*Config){
		"no path":       func(c *Config) { c.Path = "" },
		"memory":        func(c *Config) { c.Path = ":memory:" },
		"uri":           func(c *Config) { c.Path = "file:x.db" },
		"no readers":    func(c *Config) { c.ReadConns = 0 },
		"many readers":  func(c *Config) { c.ReadConns = 65 },
		"negative busy": func(c *Config) { c.BusyTimeout = -time.Second },
		"zero group":    func(c *Config) { c.MaxGroup = 0 },
		"huge group":    func(c *Config) { c.MaxGroup = 5000 },
		"long busy":     func(c *Config) { c.BusyTimeout = 2 * time.Hour },
	} {
		c := ok
		mutate(&c)
		if err := c.validate(); err == nil {
			t.Errorf("%s: validate accepted %+v", name, c)
		}
		if _, err := Open(context.Background(), c); err == nil {
			t.Errorf("%s: Open accepted %+v", name, c)
		}
	}
}

// Open creates missing directories, and a path with URI-special characters is a plain path.
func TestOpenCreatesDirectoryAndReopens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a dir", "b?c#d%20", "allot.db")
	s, err := Open(context.Background(), DefaultConfig(path))
	if err != nil {
		t.Fatal(err)
	}
	mustCommit(t, s, createBatch("r"))
	mustCommit(t, s, &persistence.Batch{ResourceID: "r", Epoch: 1, Version: 2, Resource: res("r"), Holds: []booking.Hold{newHold("r", "h")}})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = MustOpen(t, DefaultConfig(path))
	snap, err := s.Activate(context.Background(), "r", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if !snap.Exists || snap.Epoch != 2 || snap.Version != 2 || len(snap.Holds) != 1 || snap.Holds[0].ID != "h" {
		t.Fatalf("after reopen: %+v", snap)
	}
	if got := countMigrations(t, path); got != mustMigrations(t) {
		t.Fatalf("schema_migrations has %d rows after reopen, want %d", got, mustMigrations(t))
	}
}

// Several stores opening one fresh file at once all succeed; each migration is applied once;
// all of them can then write, taking turns on the lock.
func TestConcurrentOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "allot.db")
	const n = 4
	stores := make([]*Store, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = Open(context.Background(), DefaultConfig(path))
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		t.Cleanup(func() { _ = stores[i].Close() })
	}
	if got := countMigrations(t, path); got != mustMigrations(t) {
		t.Fatalf("schema_migrations has %d rows, want %d", got, mustMigrations(t))
	}
	for i, s := range stores {
		wg.Go(func() { errs[i] = s.Commit(context.Background(), createBatch(string(rune('a'+i)))) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("commit through store %d: %v", i, err)
		}
	}
	for i := range n {
		if _, err := stores[0].GetHold(context.Background(), string(rune('a'+i)), "none"); !errors.Is(err, persistence.ErrNotFound) {
			t.Fatal(err)
		}
		snap, err := stores[n-1-i].Activate(context.Background(), string(rune('a'+i)), time.Time{})
		if err != nil || !snap.Exists {
			t.Fatalf("resource %d written through store %d not visible through store %d: %+v %v", i, i, n-1-i, snap, err)
		}
	}
}

// A write lock held by another connection longer than BusyTimeout makes Commit fail with
// ErrUnavailable, and the store recovers once the lock is gone.
func TestBusyIsUnavailable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "allot.db")
	cfg := DefaultConfig(path)
	cfg.BusyTimeout = 50 * time.Millisecond
	s := MustOpen(t, cfg)
	mustCommit(t, s, createBatch("r"))

	other, err := sql.Open("sqlite", cfg.dsn(path, true))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	other.SetMaxOpenConns(1)
	ctx := context.Background()
	c, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	b := &persistence.Batch{ResourceID: "r", Epoch: 1, Version: 2, Resource: res("r"), Holds: []booking.Hold{newHold("r", "h")}}
	if err := s.Commit(ctx, b); !errors.Is(err, persistence.ErrUnavailable) {
		t.Fatalf("commit under a foreign write lock: err = %v, want ErrUnavailable", err)
	}
	// Readers are not blocked by a writer in WAL mode.
	if _, err := s.GetHold(ctx, "r", "h"); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("GetHold beside a foreign write lock: %v", err)
	}
	if _, err := c.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	mustCommit(t, s, b)
}

func TestClosedStoreIsUnavailable(t *testing.T) {
	s := MustOpen(t, Config{})
	mustCommit(t, s, createBatch("r"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Commit(ctx, &persistence.Batch{ResourceID: "r", Epoch: 1, Version: 2, Resource: res("r")}); !errors.Is(err, persistence.ErrUnavailable) {
		t.Fatalf("Commit: %v", err)
	}
	if _, err := s.Activate(ctx, "r", time.Time{}); !errors.Is(err, persistence.ErrUnavailable) {
		t.Fatalf("Activate: %v", err)
	}
	if _, err := s.GetHold(ctx, "r", "h"); !errors.Is(err, persistence.ErrUnavailable) {
		t.Fatalf("GetHold: %v", err)
	}
	if _, err := s.ListHolds(ctx, persistence.HoldFilter{ResourceID: "r"}); !errors.Is(err, persistence.ErrUnavailable) {
		t.Fatalf("ListHolds: %v", err)
	}
	if err := s.Renew(ctx, "r", 1, t0); !errors.Is(err, persistence.ErrUnavailable) {
		t.Fatalf("Renew: %v", err)
	}
	if err := s.Ping(ctx); !errors.Is(err, persistence.ErrUnavailable) {
		t.Fatalf("Ping: %v", err)
	}
}

func TestDSNEscapesPath(t *testing.T) {
	dsn := DefaultConfig("x").dsn("/tmp/a b/c?d#e.db", true)
	if !strings.HasPrefix(dsn, "file:///tmp/a%20b/c%3Fd%23e.db?") {
		t.Fatalf("dsn = %s", dsn)
	}
	for _, want := range []string{"_journal_mode=WAL", "_synchronous=FULL", "busy_timeout%285000%29", "foreign_keys%281%29"} {
		if !strings.Contains(dsn, want) {
			t.Fatalf("dsn %s lacks %s", dsn, want)
		}
	}
}

func mustMigrations(t *testing.T) int {
	m, err := persistence.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	return len(m)
}

func countMigrations(t *testing.T, path string) int {
	t.Helper()
	db, err := sql.Open("sqlite", DefaultConfig(path).dsn(path, false))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM schema_migrations").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// The claims read a resource's unpublished rows by (resource, version, index) under a
// backlog (claims.go): the index of 0017 is in every file, also in one made when SQLite
// skipped that step (step 19 makes it), and the claims' count reads it.
func TestOpenMakesThePrefixIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "allot.db")
	s, err := Open(context.Background(), DefaultConfig(path))
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	db, err := sql.Open("sqlite", DefaultConfig(path).dsn(path, true))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	has := func() int {
		t.Helper()
		if err := db.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE name = 'outbox_unpublished_by_resource'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if has() != 1 {
		t.Fatal("no outbox_unpublished_by_resource in the SQLite file")
	}
	var plan strings.Builder
	rows, err := db.Query(`EXPLAIN QUERY PLAN `+countsUpTo, `[["r",1,0],["q",2,0]]`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan.WriteString(detail + "; ")
	}
	_ = rows.Close()
	// Each resource's count one range of the index: its resource and (version, index) bound.
	if !strings.Contains(plan.String(), "INDEX outbox_unpublished_by_resource (resource_id=? AND (version,idx)<") {
		t.Fatalf("the claims' count does not read the index: %s", plan.String())
	}
	// A file from before step 19, whose step 17 was skipped.
	if _, err := db.Exec(`DROP INDEX outbox_unpublished_by_resource`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DELETE FROM schema_migrations WHERE version = 19`); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	if s, err = Open(context.Background(), DefaultConfig(path)); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	if db, err = sql.Open("sqlite", DefaultConfig(path).dsn(path, false)); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if has() != 1 {
		t.Fatal("step 19 did not make the index")
	}
}

// Step 21 is SQLite's alone (sqliteOnly lines): to every other runner it has no statement.
// On SQLite the outbox's index for claims is the partial one in log order, step 4's is gone,
// also from a file made before (main e4ab791's store), and the relay's statements read the
// partial index or the primary key, never a range of all unpublished or all published rows.
func TestOutboxIndexesOnSQLite(t *testing.T) {
	steps, err := persistence.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	var step21 persistence.Migration
	for _, m := range steps {
		if m.Version == 21 {
			step21 = m
		}
	}
	if got := step21.Statements(); step21.Name == "" || len(got) != 0 {
		t.Fatalf("step 21 %q: other runners see statements %q", step21.Name, got)
	}
	if got := sqliteStatements(step21); len(got) != 2 || !strings.HasPrefix(got[0], "CREATE INDEX") || !strings.HasPrefix(got[1], "DROP INDEX") {
		t.Fatalf("step 21 on SQLite: %q", got)
	}
	for _, file := range []string{"", "testdata/main-e4ab791.db.gz"} {
		path := filepath.Join(t.TempDir(), "allot.db")
		if file != "" {
			unzip(t, file, path)
		}
		s := MustOpen(t, DefaultConfig(path))
		var names []string
		rows, err := s.rdb.Query(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'outbox' ORDER BY name`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				t.Fatal(err)
			}
			names = append(names, n)
		}
		if err := closeRows(rows); err != nil {
			t.Fatal(err)
		}
		want := []string{"outbox_unpublished_by_resource", "outbox_unpublished_in_order", "sqlite_autoindex_outbox_1"}
		if !slices.Equal(names, want) {
			t.Fatalf("file %q: outbox indexes %q, want %q", file, names, want)
		}
		plan := func(q string, args ...any) string {
			t.Helper()
			rows, err := s.rdb.Query(`EXPLAIN QUERY PLAN `+q, args...)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for rows.Next() {
				var id, parent, notused int
				var detail string
				if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
					t.Fatal(err)
				}
				b.WriteString(detail + "; ")
			}
			if err := closeRows(rows); err != nil {
				t.Fatal(err)
			}
			return b.String()
		}
		for q, want := range map[string]string{
			selectUnpublished: "SCAN outbox USING INDEX outbox_unpublished_in_order; ",
			markTexts[1]:      "sqlite_autoindex_outbox_1 (occurred_at_ms=? AND resource_id=? AND version=? AND idx=?)",
			pruneOutbox:       "sqlite_autoindex_outbox_1 (occurred_at_ms<?)",
		} {
			args := make([]any, strings.Count(q, "?"))
			if got := plan(q, args...); !strings.Contains(got, want) {
				t.Errorf("file %q: plan of %q is %q, want %q", file, q, got, want)
			}
		}
	}
}

// Config.PageSize sets the page size of a file Open creates, which WAL mode would otherwise
// fix at the default before a page_size pragma ran (Config.dsn); a file that exists keeps its.
func TestPageSizeOfANewFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "allot.db")
	pageSize := func(cfg Config) int {
		t.Helper()
		s := MustOpen(t, cfg)
		mustCommit(t, s, createBatch(fmt.Sprintf("r%d", cfg.PageSize)))
		var n int
		if err := s.rdb.QueryRow("PRAGMA page_size").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		return n
	}
	cfg := DefaultConfig(path)
	if got := pageSize(DefaultConfig(filepath.Join(t.TempDir(), "default.db"))); got != 4096 {
		t.Fatalf("default page size %d, want 4096", got)
	}
	cfg.PageSize = 8192
	if got := pageSize(cfg); got != 8192 {
		t.Fatalf("new file: page size %d, want 8192", got)
	}
	cfg.PageSize = 16384
	if got := pageSize(cfg); got != 8192 {
		t.Fatalf("existing file: page size %d, want its 8192", got)
	}
}
