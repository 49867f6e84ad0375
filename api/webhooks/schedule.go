package webhooks

import (
	"math/rand/v2"
	"time"
)

// Schedule is when failed deliveries are tried again: exponential backoff with jitter, for a
// bounded time after the delivery was created.
//
// After failed attempt n (n ≥ 1) the next one waits min(First·2^(n-1), Max), multiplied by a
// random factor in [1-Jitter, 1+Jitter) so that deliveries failing together do not come back
// together. No attempt is made later than GiveUpAfter after the delivery was created: the
// delivery then fails. With the defaults (5s, 8h, 3 days, ±20%) the nominal waits are 5s, 10s,
// 20s, 40s, 80s, 160s, 5m20s, 10m40s, 21m20s, 42m40s, 85m20s, 2h50m40s, 5h41m20s, then 8h
// until three days have passed: about 20 attempts (docs/WEBHOOKS.md).
type Schedule struct {
	First       time.Duration
	Max         time.Duration
	GiveUpAfter time.Duration
	Jitter      float64 // 0 ≤ Jitter < 1
}

// DefaultSchedule is the schedule of docs/WEBHOOKS.md.
func DefaultSchedule() Schedule {
	return Schedule{First: 5 * time.Second, Max: 8 * time.Hour, GiveUpAfter: 72 * time.Hour, Jitter: 0.2}
}

// Nominal is the wait after failed attempt n before jitter.
func (s Schedule) Nominal(n int) time.Duration {
	d := s.First
	for i := 1; i < n && d < s.Max; i++ {
		d *= 2
	}
	return min(d, s.Max)
}

// Next returns when to try again after failed attempt n of a delivery created at created,
// at now; ok is false when the delivery must give up. r supplies the jitter.
func (s Schedule) Next(n int, created, now time.Time, r *rand.Rand) (at time.Time, ok bool) {
	d := s.Nominal(n)
	if s.Jitter > 0 {
		d = time.Duration(float64(d) * (1 - s.Jitter + 2*s.Jitter*r.Float64()))
	}
	at = now.Add(d)
	if at.Sub(created) > s.GiveUpAfter {
		return time.Time{}, false
	}
	return at, true
}
