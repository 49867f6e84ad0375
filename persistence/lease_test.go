package persistence

import (
	"testing"
	"time"
)

func TestLeaseMSRoundsUp(t *testing.T) {
	base := time.UnixMilli(1_700_000_000_123).UTC()
	for _, tt := range []struct {
		in   time.Time
		want int64
	}{
		{time.Time{}, 0},
		{base, 1_700_000_000_123},
		{base.Add(time.Nanosecond), 1_700_000_000_124},
		{base.Add(999 * time.Microsecond), 1_700_000_000_124},
	} {
		if got := LeaseMS(tt.in); got != tt.want {
			t.Errorf("LeaseMS(%v) = %d, want %d", tt.in, got, tt.want)
		}
	}
	if !LeaseFromMS(0).IsZero() || !LeaseFromMS(1_700_000_000_123).Equal(base) {
		t.Fatal("LeaseFromMS does not invert LeaseMS")
	}
}
