package ratelimit

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestAllowAtIsAllowAtThatTime: a budget given the request's time reads no clock and decides
// exactly as a twin whose clock reads that time (randomized, fixed seed).
func TestAllowAtIsAllowAtThatTime(t *testing.T) {
	limit := Limit{Count: 5, Period: time.Second, Burst: 3}
	var clock time.Time
	reads := 0
	given, err := NewLimiter(limit, 1000, func() time.Time { reads++; return time.Time{} })
	if err != nil {
		t.Fatal(err)
	}
	twin, err := NewLimiter(limit, 1000, func() time.Time { return clock })
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	clock = time.Unix(1_900_000_000, 0)
	for i := range 5000 {
		clock = clock.Add(time.Duration(rng.Int64N(int64(400 * time.Millisecond))))
		key := []byte{byte(rng.IntN(4))}
		got, want := given.allowBytesAt(key, clock), twin.allowBytes(key)
		if got != want {
			t.Fatalf("step %d: allowBytesAt = %+v, the twin at that time %+v", i, got, want)
		}
	}
	if reads != 0 {
		t.Fatalf("the clock was read %d times", reads)
	}
}
