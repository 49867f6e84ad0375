package notify_test

import (
	"testing"

	"github.com/allot/allot/api/notify"
	"github.com/allot/allot/api/notify/storetest"
	"github.com/allot/allot/persistence/pgtest"
	"github.com/allot/allot/persistence/sidedbtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestSQLiteStoreContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) notify.Store { return mustSQLiteStore(t) })
}

func TestPostgresStoreContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) notify.Store { return mustPostgresStore(t) })
}

// mustSQLiteStore opens an SQLStore beside the node's SQLite store, as a node does.
func mustSQLiteStore(t testing.TB) *notify.SQLStore {
	t.Helper()
	s, err := notify.NewSQLStore(sidedbtest.SQLite(t, ""), notify.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// mustPostgresStore opens an SQLStore on the pool of the node's PostgreSQL store, as a node does.
func mustPostgresStore(t testing.TB) *notify.SQLStore {
	t.Helper()
	s, err := notify.NewSQLStore(sidedbtest.Postgres(t), notify.Postgres)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
