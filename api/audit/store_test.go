package audit_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/allot/allot/api/audit"
	"github.com/allot/allot/api/audit/storetest"
	"github.com/allot/allot/persistence/pgtest"
	"github.com/allot/allot/persistence/postgres"
	"github.com/allot/allot/persistence/sqlite"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestMemStoreContract(t *testing.T) {
	storetest.Run(t, func(*testing.T) audit.Store { return audit.NewMemStore() })
}

func TestSQLiteStoreContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) audit.Store { return mustSQLiteStore(t) })
}

func TestPostgresStoreContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) audit.Store { return mustPostgresStore(t) })
}

// mustSQLiteStore opens the node's SQLite store on a fresh file (which applies the
// migrations) and an SQLStore beside it, as a node does.
func mustSQLiteStore(t *testing.T) *audit.SQLStore {
	t.Helper()
	path := filepath.Join(t.TempDir(), "allot.db")
	main, err := sqlite.Open(context.Background(), sqlite.DefaultConfig(path))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = main.Close() })
	db, err := sqlite.OpenSidePool(path, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	s, err := audit.NewSQLStore(db, audit.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// mustPostgresStore opens the node's PostgreSQL store on a fresh database (which applies the
// migrations) and an SQLStore on its pool.
func mustPostgresStore(t *testing.T) *audit.SQLStore {
	t.Helper()
	cfg := postgres.DefaultConfig()
	cfg.URL = pgtest.MustServer(t).MustDatabase(t)
	cfg.MaxConns = 4
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	main, err := postgres.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = main.Close() })
	db := stdlib.OpenDBFromPool(main.Pool())
	t.Cleanup(func() { _ = db.Close() })
	s, err := audit.NewSQLStore(db, audit.Postgres)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
