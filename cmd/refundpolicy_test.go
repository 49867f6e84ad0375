package cmd

import (
	"strings"
	"testing"
	"time"

	"github.com/allot/allot/actors/payment"
)

// TestRefundPolicyFlag: --refund-policy reads NOTICE:PERCENT tiers into the node's default
// cancellation policy, checked like a resource's; a bad one stops the node at validate().
func TestRefundPolicyFlag(t *testing.T) {
	p, err := parseRefundPolicy(" 48h:100, 24h:50,0s:0")
	want := []payment.Tier{{Before: 48 * time.Hour, Percent: 100}, {Before: 24 * time.Hour, Percent: 50}, {Before: 0, Percent: 0}}
	if err != nil || len(p.Tiers) != len(want) {
		t.Fatalf("parse: %+v, %v", p, err)
	}
	for i := range want {
		if p.Tiers[i] != want[i] {
			t.Fatalf("tier %d: %+v, want %+v", i, p.Tiers[i], want[i])
		}
	}
	// A 60-hour notice before the first bucket gets everything back, 30 hours half, 1 hour nothing.
	start := time.Date(2026, 12, 24, 15, 0, 0, 0, time.UTC)
	for notice, refund := range map[time.Duration]int64{60 * time.Hour: 10000, 30 * time.Hour: 5000, time.Hour: 0} {
		if got := p.Refund(10000, start, start.Add(-notice)); got != refund {
			t.Errorf("cancelled %s ahead: refund %d, want %d", notice, got, refund)
		}
	}
	if p, err := parseRefundPolicy(""); err != nil || len(p.Tiers) != 0 {
		t.Fatalf("empty: %+v, %v (want no tiers: full refund)", p, err)
	}
	for _, bad := range []string{"48h", "48h:x", "soon:100", "24h:50,48h:100", "48h:150", "48h:50,24h:100"} {
		c := DefaultNodeConfig()
		c.RefundPolicy = bad
		if err := c.validate(); err == nil || !strings.Contains(err.Error(), "--refund-policy") {
			t.Errorf("%q: validate %v, want a --refund-policy error", bad, err)
		}
	}
}
