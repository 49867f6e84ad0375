package api

import (
	"time"
	"unicode/utf8"

	"github.com/allot/allot/actors/booking"
)

// Value rules of the API. They repeat the model's rules (so that bad input never reaches an
// actor) and add the date check on bucket keys; violations are 422 invalid.

// Date-like bucket keys must use one of these layouts exactly.
const (
	dayLayout  = "2006-01-02"
	slotLayout = "2006-01-02T15:04"
)

func oneOf(s string, names ...string) bool {
	for _, n := range names {
		if s == n {
			return true
		}
	}
	return false
}

// validID checks a resource, hold or user id (booking.ValidID) of at most maxLen bytes.
func validID(field, s string, maxLen int) error {
	if !booking.ValidID(s) || len(s) > maxLen {
		return invalid("%s must be 1-%d printable ASCII characters without spaces, / ? # or %%", field, maxLen)
	}
	return nil
}

func validName(s string) error {
	if s == "" || len(s) > booking.MaxNameLength || !utf8.ValidString(s) {
		return invalid("name must be 1-%d bytes of UTF-8", booking.MaxNameLength)
	}
	return nil
}

func validCurrency(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

func validCapacities(buckets map[string]int64) error {
	if len(buckets) > booking.MaxBuckets {
		return invalid("buckets has at most %d buckets", booking.MaxBuckets)
	}
	for k, c := range buckets {
		if err := validBucketKey(k); err != nil {
			return err
		}
		if c < 0 || c > booking.MaxCapacity {
			return invalid("capacity of bucket %s must be between 0 and %d", echo(k), int64(booking.MaxCapacity))
		}
	}
	return nil
}

// validBucketKey checks a bucket key: booking.ValidBucketKey, and a key that looks like a date
// (four digits and '-') must be a real day YYYY-MM-DD or a slot YYYY-MM-DDTHH:MM.
func validBucketKey(k string) error {
	if !booking.ValidBucketKey(k) {
		return invalid("bucket key %s must be 1-%d printable ASCII characters without spaces, commas, quotes or backslashes", echo(k), booking.MaxBucketKeyLen)
	}
	if looksLikeDate(k) && !validDate(k) {
		return invalid("bucket key %s looks like a date but is not a valid YYYY-MM-DD or YYYY-MM-DDTHH:MM", echo(k))
	}
	return nil
}

func looksLikeDate(k string) bool {
	if len(k) < 5 || k[4] != '-' {
		return false
	}
	for i := 0; i < 4; i++ {
		if k[i] < '0' || k[i] > '9' {
			return false
		}
	}
	return true
}

// validDate parses k with the day or the slot layout and requires the canonical form back, so
// that 2026-02-30, 2026-2-3 and 2026-02-03T9:00 are all refused.
func validDate(k string) bool {
	for _, layout := range [...]string{dayLayout, slotLayout} {
		if len(k) != len(layout) {
			continue
		}
		t, err := time.Parse(layout, k)
		return err == nil && t.Format(layout) == k
	}
	return false
}

// parseTTL parses a hold TTL: a Go duration between booking.MinHoldTTL and
// booking.MaxHoldTTL, in whole milliseconds (the unit it travels in).
func parseTTL(s string) (time.Duration, error) {
	ttl, err := time.ParseDuration(s)
	if err != nil {
		return 0, invalid("hold_ttl must be a duration such as 10m or 1h30m")
	}
	if ttl < booking.MinHoldTTL || ttl > booking.MaxHoldTTL {
		return 0, invalid("hold_ttl must be between %s and %s", booking.MinHoldTTL, booking.MaxHoldTTL)
	}
	if ttl%time.Millisecond != 0 {
		return 0, invalid("hold_ttl must be a whole number of milliseconds")
	}
	return ttl, nil
}
