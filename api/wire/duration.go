package wire

import (
	"strings"
	"time"
)

// FormatDuration formats d as a Go duration string without trailing zero units: 10m, 1h30m,
// 1h, 45s, 1.5s (time.Duration.String says 10m0s, 1h30m0s, 1h0m0s). time.ParseDuration reads
// the result back to d. Inner zero units stay (1h0m30s).
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
		if strings.HasSuffix(s, "h0m") {
			s = strings.TrimSuffix(s, "0m")
		}
	}
	return s
}
