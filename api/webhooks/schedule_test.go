package webhooks

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestScheduleNominal(t *testing.T) {
	s := DefaultSchedule()
	want := []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second}
	for i, w := range want {
		if got := s.Nominal(i + 1); got != w {
			t.Errorf("Nominal(%d) = %s, want %s", i+1, got, w)
		}
	}
	if got := s.Nominal(40); got != 8*time.Hour {
		t.Errorf("Nominal(40) = %s, want the 8h cap", got)
	}
}

// TestScheduleGivesUpWithinThreeDays walks the schedule with jitter for many seeds: every
// wait is within the jitter of its nominal value, and the last attempt is within three days.
func TestScheduleGivesUpWithinThreeDays(t *testing.T) {
	s := DefaultSchedule()
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for seed := uint64(1); seed <= 50; seed++ {
		r := rand.New(rand.NewPCG(seed, seed))
		now, n := created, 1
		for {
			next, ok := s.Next(n, created, now, r)
			if !ok {
				break
			}
			wait, nominal := next.Sub(now), s.Nominal(n)
			if wait < time.Duration(float64(nominal)*0.8) || wait >= time.Duration(float64(nominal)*1.2) {
				t.Fatalf("seed %d attempt %d: wait %s outside ±20%% of %s", seed, n, wait, nominal)
			}
			now, n = next, n+1
		}
		if now.Sub(created) > 72*time.Hour || now.Sub(created) < 56*time.Hour || n < 15 || n > 25 {
			t.Fatalf("seed %d: %d attempts over %s", seed, n, now.Sub(created))
		}
	}
}
