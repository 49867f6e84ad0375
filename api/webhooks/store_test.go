package webhooks_test

import (
	"testing"

	"github.com/allot/allot/api/webhooks"
	"github.com/allot/allot/api/webhooks/storetest"
	"github.com/allot/allot/persistence/pgtest"
	"github.com/allot/allot/persistence/sidedbtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestMemStoreContract(t *testing.T) {
	storetest.Run(t, func(*testing.T) webhooks.Store { return webhooks.NewMemStore() })
}

func TestSQLiteStoreContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) webhooks.Store { return mustSQLiteStore(t) })
}

// The contract holds with the intake and the records run through the booking writer's group
// commits, as a node on SQLite runs them (WriteThrough).
func TestSQLiteStoreContractThroughTheWriter(t *testing.T) {
	storetest.Run(t, func(t *testing.T) webhooks.Store {
		db, main := sidedbtest.SQLiteWithMain(t, "")
		s, err := webhooks.NewSQLStore(db, webhooks.SQLite)
		if err != nil {
			t.Fatal(err)
		}
		s.WriteThrough(main.InGroup)
		return s
	})
}

func TestPostgresStoreContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) webhooks.Store { return mustPostgresStore(t) })
}

// mustSQLiteStore opens an SQLStore beside the node's SQLite store, as a node does.
func mustSQLiteStore(t *testing.T) *webhooks.SQLStore {
	t.Helper()
	s, err := webhooks.NewSQLStore(sidedbtest.SQLite(t, ""), webhooks.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// mustPostgresStore opens an SQLStore on the pool of the node's PostgreSQL store, as a node does.
func mustPostgresStore(t *testing.T) *webhooks.SQLStore {
	t.Helper()
	s, err := webhooks.NewSQLStore(sidedbtest.Postgres(t), webhooks.Postgres)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
