package persistence

import "time"

// LeaseMS is how a store keeps a lease end (lease_until_ms): Unix milliseconds rounded up, so
// that a successor never sees a lease end earlier than its holder asked for; 0 for the zero
// time (no lease).
func LeaseMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	v := t.UnixMilli() // rounds toward the past: nanoseconds within a second are never negative
	if t.Nanosecond()%int(time.Millisecond) != 0 {
		v++
	}
	return v
}

// LeaseFromMS reads a stored lease end back: 0 is the zero time, anything else UTC.
func LeaseFromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}
