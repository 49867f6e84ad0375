package resource

import (
	"strings"
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
)

func TestConfigValidate(t *testing.T) {
	good := DefaultConfig()
	good.Store = MustMemstore(t)
	if err := good.validate(); err != nil {
		t.Fatalf("default config with a store: %v", err)
	}
	if err := DefaultConfig().validate(); err == nil || !strings.Contains(err.Error(), "Store") {
		t.Fatalf("default config without a store: err = %v", err)
	}
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"no clock", func(c *Config) { c.Now = nil }, "Now"},
		{"no timer", func(c *Config) { c.AfterFunc = nil }, "AfterFunc"},
		{"no hold ids", func(c *Config) { c.NewHoldID = nil }, "NewHoldID"},
		{"idle", func(c *Config) { c.IdleTimeout = 0 }, "IdleTimeout"},
		{"commit timeout", func(c *Config) { c.CommitTimeout = -time.Second }, "CommitTimeout"},
		{"retry after", func(c *Config) { c.RetryAfter = 0 }, "RetryAfter"},
		{"backoff order", func(c *Config) { c.MaxReloadBackoff = time.Millisecond }, "MaxReloadBackoff"},
		{"pending", func(c *Config) { c.MaxPending = 0 }, "MaxPending"},
		{"batch", func(c *Config) { c.MaxBatch = -1 }, "MaxBatch"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.mutate(&c)
			err := c.validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %s", err, tc.want)
			}
		})
	}
}

func TestPropsPanicsOnInvalidConfig(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Props accepted a config without a store")
		}
	}()
	Props(DefaultConfig())
}

func TestNewHoldID(t *testing.T) {
	seen := make(map[string]bool)
	for range 1000 {
		id := NewHoldID(time.Now())
		if !strings.HasPrefix(id, "h_") || len(id) != 32 || !booking.ValidID(id) {
			t.Fatalf("bad hold id %q", id)
		}
		if strings.ToLower(id) != id {
			t.Fatalf("hold id %q not lower case", id)
		}
		if seen[id] {
			t.Fatalf("duplicate hold id %q", id)
		}
		seen[id] = true
	}
}
