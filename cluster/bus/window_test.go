package bus

import (
	"strings"
	"testing"
	"time"
)

// The duplicate window only has to cover a relay that crashed between publishing and
// marking: the next claim of those events comes at most a claim lease later, and publishing
// a batch takes at most a publish timeout per event in the worst case. The defaults must
// keep that margin, and validate must refuse a window below MinDuplicateWindow.
func TestDuplicateWindowCoversTheRelaysClaimLease(t *testing.T) {
	cfg, rc := DefaultConfig(), DefaultRelayConfig()
	if need := rc.ClaimLease + cfg.Timeout; MinDuplicateWindow <= need {
		t.Fatalf("MinDuplicateWindow %s does not exceed the claim lease %s plus a publish timeout %s", MinDuplicateWindow, rc.ClaimLease, cfg.Timeout)
	}
	if cfg.DuplicateWindow < MinDuplicateWindow {
		t.Fatalf("default duplicate window %s is below MinDuplicateWindow %s", cfg.DuplicateWindow, MinDuplicateWindow)
	}
	cfg.DataDir = t.TempDir()
	if err := cfg.validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	cfg.DuplicateWindow = MinDuplicateWindow - time.Second
	if err := cfg.validate(); err == nil || !strings.Contains(err.Error(), "duplicate window") {
		t.Fatalf("a window below the minimum: got %v, want a duplicate window error", err)
	}
}
