package ratelimit

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// TestFieldCacheMatchesFresh: whatever the cache held before, an item it returns is the one
// rateLimitField builds for the same decision (randomized, fixed seeds; few distinct
// decisions so that hits, misses and collisions all happen), also from several goroutines.
func TestFieldCacheMatchesFresh(t *testing.T) {
	names := []string{PolicySubject, PolicyAnonymous, PolicyHolds, PolicyAuth}
	for seed := uint64(1); seed <= 4; seed++ {
		var fc fieldCache
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(seed, uint64(g)))
				for range 20000 {
					d := Decision{Allowed: true, Remaining: rng.IntN(600), Reset: time.Duration(rng.Int64N(int64(9 * time.Second)))}
					if rng.IntN(10) == 0 {
						d.Remaining = 999_999 - rng.IntN(3)
					}
					name := names[rng.IntN(len(names))]
					if got, want := fc.item(name, d), rateLimitField(name, d); got != want {
						t.Errorf("seed %d: item(%q, %+v) = %q, want %q", seed, name, d, got, want)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
}

// TestFieldCacheHitAllocatesNothing: a decision seen before costs no allocation.
func TestFieldCacheHitAllocatesNothing(t *testing.T) {
	var fc fieldCache
	d := Decision{Allowed: true, Remaining: 999_999, Reset: time.Microsecond}
	fc.item(PolicyHolds, d)
	if n := testing.AllocsPerRun(100, func() { fc.item(PolicyHolds, d) }); n != 0 {
		t.Fatalf("%v allocations per hit, want 0", n)
	}
}
