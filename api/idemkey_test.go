package api

import (
	"strings"
	"testing"
)

// TestScopedIdempotencyKeyIsStable: stored idempotency keys are scoped ones, so the scoping
// must give the same key across versions, or a client's retry after an upgrade would place a
// second hold. The values were computed by the streaming sha256 version before the
// stack-built one (a long subject goes past the stack buffer).
func TestScopedIdempotencyKeyIsStable(t *testing.T) {
	for _, c := range []struct{ subject, key, want string }{
		{"u-1", "k-1", "s1.dfvgczmJgK3Z3WFgKXYpKO_uNDBGpItccOjOcfuye0Y"},
		{strings.Repeat("s", 400), "k", "s1.M2QnLls2H5eZHr_713LoiYMJrO9Ak3iIpdiPH5KI214"},
	} {
		if got := scopedIdempotencyKey(c.subject, c.key); got != c.want {
			t.Errorf("scopedIdempotencyKey(%.10q..., %q) = %s, want %s", c.subject, c.key, got, c.want)
		}
	}
}
