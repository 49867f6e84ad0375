// Package sidedbtest opens, for tests, the databases of the services that keep their tables
// beside the main store (webhooks, notifications, reports, the audit log) the way a node does:
// the main store first, which applies the migrations, then a database/sql handle beside it.
// A package that uses Postgres must run its tests under pgtest.Main.
package sidedbtest

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/allot/allot/persistence/pgtest"
	"github.com/allot/allot/persistence/postgres"
	"github.com/allot/allot/persistence/sqlite"
)

// SQLite opens the main SQLite store on path (a fresh file in a temporary directory when
// path is empty) and a side pool beside it; both close when the test ends. The pool waits up
// to 30 s for the write lock: a loaded CI machine can hold it for seconds.
func SQLite(tb testing.TB, path string) *sql.DB {
	tb.Helper()
	db, _ := SQLiteWithMain(tb, path)
	return db
}

// SQLiteWithMain is SQLite, and also returns the main store, whose writer a side store may
// write through (its InGroup).
func SQLiteWithMain(tb testing.TB, path string) (*sql.DB, *sqlite.Store) {
	tb.Helper()
	if path == "" {
		path = filepath.Join(tb.TempDir(), "allot.db")
	}
	main, err := sqlite.Open(context.Background(), sqlite.DefaultConfig(path))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = main.Close() })
	db, err := sqlite.OpenSidePool(path, 30*time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = db.Close() })
	return db, main
}

// Postgres opens the main PostgreSQL store on a fresh database of the test server (applying
// the migrations) and returns a database/sql handle on its pool; both close when the test ends.
func Postgres(tb testing.TB) *sql.DB {
	tb.Helper()
	cfg := postgres.DefaultConfig()
	cfg.URL = pgtest.MustServer(tb).MustDatabase(tb)
	cfg.MaxConns = 8
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	main, err := postgres.Open(ctx, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = main.Close() })
	db := stdlib.OpenDBFromPool(main.Pool())
	tb.Cleanup(func() { _ = db.Close() })
	return db
}
