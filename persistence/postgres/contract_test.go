package postgres

import (
	"testing"

	"github.com/allot/allot/persistence"
	"github.com/allot/allot/persistence/pgtest"
	"github.com/allot/allot/persistence/storetest"
)

// TestContract runs the store contract; every subtest gets its own Store (its own pool) on
// one database, as nodes of a cluster would.
func TestContract(t *testing.T) {
	url := pgtest.MustServer(t).MustDatabase(t)
	storetest.RunContract(t, func(t *testing.T) persistence.Store {
		return mustOpen(t, testConfig(url))
	})
}
