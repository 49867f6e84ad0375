package activation

import (
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
)

// testCoreConfig is the configuration of the cores built by the in-package tests that drive
// a Core by hand (no shell, no store).
func testCoreConfig() Config {
	return Config{ResourceID: "r", MaxPending: 50, MaxBatch: 64, IdleTimeout: time.Hour, CommitTimeout: 5 * time.Second,
		MinReloadBackoff: 10 * time.Millisecond, MaxReloadBackoff: 80 * time.Millisecond, Lease: 4 * time.Second,
		MaxClockOffset: 500 * time.Millisecond}
}

// loadedCore returns a Core of testCoreConfig that has loaded resource "r" (epoch 1,
// version 1) with buckets, and the time it was loaded at.
func loadedCore(t *testing.T, buckets ...booking.Bucket) (*Core, time.Time) {
	t.Helper()
	c, err := New(testCoreConfig())
	if err != nil {
		t.Fatal(err)
	}
	now := time.UnixMilli(1_900_000_000_000).UTC()
	rd := c.Step(now, Start{})
	res := booking.Resource{ID: "r", Name: "R", HoldTTL: time.Hour, CreatedAt: now, UpdatedAt: now}
	c.Step(now, LoadResult{ID: rd.Load.ID, Exists: true, Epoch: 1, Version: 1, Resource: res, Buckets: buckets})
	return c, now
}
