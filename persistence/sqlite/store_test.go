package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/allot/allot/persistence"
	"github.com/allot/allot/persistence/storetest"
)

// MustOpen opens a store on cfg (defaults on a fresh temp file when cfg.Path is empty) and
// closes it at cleanup.
func MustOpen(tb testing.TB, cfg Config) *Store {
	tb.Helper()
	if cfg.Path == "" {
		def := DefaultConfig(filepath.Join(tb.TempDir(), "allot.db"))
		if cfg.MaxGroup != 0 {
			def.MaxGroup = cfg.MaxGroup
		}
		cfg = def
	}
	s, err := Open(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("open %s: %v", cfg.Path, err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("close: %v", err)
		}
	})
	return s
}

func TestContract(t *testing.T) {
	storetest.RunContract(t, func(t *testing.T) persistence.Store { return MustOpen(t, Config{}) })
}

// TestContractShared runs the suite against one file that every subtest shares, as a
// production database would be, without group commit folding.
func TestContractSharedNoGroup(t *testing.T) {
	s := MustOpen(t, Config{MaxGroup: 1})
	storetest.RunContract(t, func(*testing.T) persistence.Store { return s })
}
