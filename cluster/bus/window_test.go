package bus

import (
	"strings"
	"testing"
	"time"
)

// The duplicate window has to cover the oldest republish of a stored event (the invariant at
// MinDuplicateWindow): a claim lease after the claim, or a publish window's wait after the
// send, then the relay's poll and a pass. The
// defaults must keep a margin over that, the cluster's window must be at least as long, and
// validate must refuse a window below MinDuplicateWindow.
func TestDuplicateWindowCoversTheRelaysClaimLease(t *testing.T) {
	cfg, rc := DefaultConfig(), DefaultRelayConfig()
	if need := max(rc.ClaimLease, cfg.Timeout*3/2) + rc.Poll + 3*time.Second; MinDuplicateWindow < need {
		t.Fatalf("MinDuplicateWindow %s does not cover the claim lease %s or a window's wait %s, the poll %s and 3 s for a pass",
			MinDuplicateWindow, rc.ClaimLease, cfg.Timeout*3/2, rc.Poll)
	}
	if ClusterDuplicateWindow < MinDuplicateWindow {
		t.Fatalf("ClusterDuplicateWindow %s is below MinDuplicateWindow %s", ClusterDuplicateWindow, MinDuplicateWindow)
	}
	if got := cfg.duplicateWindow(); got != MinDuplicateWindow {
		t.Fatalf("embedded default window %s, want %s", got, MinDuplicateWindow)
	}
	if c := (Config{URL: "nats://x"}); c.duplicateWindow() != ClusterDuplicateWindow {
		t.Fatalf("cluster default window %s, want %s", c.duplicateWindow(), ClusterDuplicateWindow)
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
