package resource

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/allot/allot/actors/booking"
)

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	m.committed([]booking.Event{booking.HoldPlaced{}, booking.HoldPlaced{}, booking.HoldConfirmed{}, booking.HoldCancelled{}, booking.HoldExpired{}, booking.ResourceUpdated{},
		booking.HoldExtended{}, booking.WaitlistJoined{}, booking.WaitlistJoined{}, booking.WaitlistOffered{}, booking.WaitlistLeft{}})
	m.rejected(booking.CodeSoldOut)
	m.rejected(booking.CodeSoldOut)
	m.rejected(booking.CodeBusy)
	m.commit(5, time.Millisecond, true)
	m.commit(3, time.Millisecond, false) // a failed commit: latency only
	m.depth(3)
	m.depth(-1)
	m.activated()
	m.fence()
	for name, want := range map[string]float64{
		"allot_holds_total": 2, "allot_confirms_total": 1, "allot_cancels_total": 1, "allot_expiries_total": 1,
		"allot_rejections_total": 3, "allot_mailbox_depth": 2, "allot_activations_total": 1, "allot_fenced_total": 1,
		"allot_hold_extensions_total": 1, "allot_waitlist_events_total": 4,
	} {
		if got := counter(t, reg, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if n, sum, _ := histogram(t, reg, "allot_batch_size"); n != 1 || sum != 5 {
		t.Errorf("batch_size: %d samples, sum %v", n, sum)
	}
	if n, _, _ := histogram(t, reg, "allot_commit_seconds"); n != 2 {
		t.Errorf("commit_seconds: %d samples", n)
	}

	// A nil *Metrics is a no-op.
	var none *Metrics
	none.committed([]booking.Event{booking.HoldPlaced{}})
	none.rejected("x")
	none.commit(1, 0, true)
	none.depth(1)
	none.activated()
	none.fence()

	defer func() {
		if recover() == nil {
			t.Error("registering twice did not panic")
		}
	}()
	NewMetrics(reg)
}
