package wire

import (
	"testing"
	"time"
)

func TestFormatDuration(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{10 * time.Minute, "10m"},
		{90 * time.Minute, "1h30m"},
		{time.Hour, "1h"},
		{168 * time.Hour, "168h"},
		{45 * time.Second, "45s"},
		{1500 * time.Millisecond, "1.5s"},
		{time.Hour + 30*time.Second, "1h0m30s"},
		{10*time.Minute + 500*time.Millisecond, "10m0.5s"},
		{250 * time.Millisecond, "250ms"},
		{0, "0s"},
		{-10 * time.Minute, "-10m"},
	} {
		got := FormatDuration(tc.d)
		if got != tc.want {
			t.Errorf("FormatDuration(%v) = %q, want %q", tc.d, got, tc.want)
		}
		if back, err := time.ParseDuration(got); err != nil || back != tc.d {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", got, back, err, tc.d)
		}
	}
}
