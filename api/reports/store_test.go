package reports_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/allot/allot/api/reports"
	"github.com/allot/allot/api/reports/storetest"
	"github.com/allot/allot/persistence/pgtest"
	"github.com/allot/allot/persistence/sidedbtest"
	"github.com/allot/allot/persistence/sqlite"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestSQLiteStoreContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) reports.Store {
		return mustSQLiteStore(t, filepath.Join(t.TempDir(), "allot.db"))
	})
}

// The contract holds with the batches run through the booking writer's group commits, as a
// node on SQLite runs them (WriteThrough).
func TestSQLiteStoreContractThroughTheWriter(t *testing.T) {
	storetest.Run(t, func(t *testing.T) reports.Store {
		s, closeFn := openSQLiteVia(t, filepath.Join(t.TempDir(), "allot.db"), true)
		t.Cleanup(closeFn)
		return s
	})
}

func TestPostgresStoreContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) reports.Store { return mustPostgresStore(t) })
}

// mustSQLiteStore opens the node's SQLite store on path (which applies the migrations) and
// an SQLStore beside it, as a node does; both close when the test ends, or earlier through
// the returned store's closer (see reopen in the property test).
func mustSQLiteStore(t testing.TB, path string) *reports.SQLStore {
	s, closeFn := openSQLite(t, path)
	t.Cleanup(closeFn)
	return s
}

func openSQLite(t testing.TB, path string) (*reports.SQLStore, func()) {
	t.Helper()
	return openSQLiteVia(t, path, false)
}

// openSQLiteVia is openSQLite, with ApplyBatch run through the main store's writer
// (WriteThrough) when through is set.
func openSQLiteVia(t testing.TB, path string, through bool) (*reports.SQLStore, func()) {
	t.Helper()
	main, err := sqlite.Open(context.Background(), sqlite.DefaultConfig(path))
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.OpenSidePool(path, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	s, err := reports.NewSQLStore(db, reports.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	if through {
		s.WriteThrough(main.InGroup)
	}
	return s, func() { _ = db.Close(); _ = main.Close() }
}

// mustPostgresStore opens an SQLStore on the pool of the node's PostgreSQL store, as a node does.
func mustPostgresStore(t *testing.T) *reports.SQLStore {
	t.Helper()
	s, err := reports.NewSQLStore(sidedbtest.Postgres(t), reports.Postgres)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNewSQLStoreChecks(t *testing.T) {
	if _, err := reports.NewSQLStore(nil, reports.SQLite); err == nil {
		t.Fatal("nil db accepted")
	}
}
