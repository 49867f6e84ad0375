package audit_test

import (
	"testing"

	"github.com/allot/allot/api/audit"
	"github.com/allot/allot/api/audit/storetest"
	"github.com/allot/allot/persistence/pgtest"
	"github.com/allot/allot/persistence/sidedbtest"
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

// mustSQLiteStore opens an SQLStore beside the node's SQLite store, as a node does.
func mustSQLiteStore(t *testing.T) *audit.SQLStore {
	t.Helper()
	s, err := audit.NewSQLStore(sidedbtest.SQLite(t, ""), audit.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// mustPostgresStore opens an SQLStore on the pool of the node's PostgreSQL store, as a node does.
func mustPostgresStore(t *testing.T) *audit.SQLStore {
	t.Helper()
	s, err := audit.NewSQLStore(sidedbtest.Postgres(t), audit.Postgres)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
