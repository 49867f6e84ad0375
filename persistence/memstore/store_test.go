package memstore

import (
	"testing"

	"github.com/allot/allot/persistence"
	"github.com/allot/allot/persistence/storetest"
)

func TestContract(t *testing.T) {
	storetest.RunContract(t, func(t *testing.T) persistence.Store {
		s := New()
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

func TestContractSharedStore(t *testing.T) {
	s := New()
	t.Cleanup(func() { _ = s.Close() })
	storetest.RunContract(t, func(*testing.T) persistence.Store { return s })
}
