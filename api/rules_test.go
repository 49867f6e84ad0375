package api

import (
	"strings"
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
)

func TestValidBucketKey(t *testing.T) {
	good := []string{"all", "seat-A1", "2026-12-24", "2026-02-28", "2024-02-29", "2026-12-24T18:30", "2026-12-24T00:00",
		"12-34", "2026", "2026x01-01", "room:101", strings.Repeat("k", 64)}
	bad := []string{"", "a b", "a,b", `a"b`, `a\b`, "caf\u00e9", strings.Repeat("k", 65),
		"2026-02-30", "2025-02-29", "2026-13-01", "2026-00-10", "2026-1-01", "2026-01-1", "2026-12-24T24:00",
		"2026-12-24T18:60", "2026-12-24T9:30", "2026-12-24 18:30", "2026-12-24T18:30:00", "2026-12-24Z", "2026-", "0000-00-00", "2026-12-24t18:30"}
	for _, k := range good {
		if err := validBucketKey(k); err != nil {
			t.Errorf("%q refused: %v", k, err)
		}
	}
	for _, k := range bad {
		err := validBucketKey(k)
		if booking.ErrorCode(err) != booking.CodeInvalid {
			t.Errorf("%q: %v, want invalid", k, err)
		}
	}
}

func TestParseTTL(t *testing.T) {
	good := map[string]time.Duration{"1s": time.Second, "10m": 10 * time.Minute, "1h30m": 90 * time.Minute, "168h": 7 * 24 * time.Hour, "1.5s": 1500 * time.Millisecond}
	for s, want := range good {
		if got, err := parseTTL(s); err != nil || got != want {
			t.Errorf("%q: %v %v, want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "10", "ten", "999ms", "0s", "-1m", "168h1ms", "1.0005s", "1d"} {
		if _, err := parseTTL(s); booking.ErrorCode(err) != booking.CodeInvalid {
			t.Errorf("%q: %v, want invalid", s, err)
		}
	}
}
