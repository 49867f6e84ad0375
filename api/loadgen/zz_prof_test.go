package loadgen

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"
)

func TestZZExternal(t *testing.T) {
	target := os.Getenv("LG_TARGET")
	if target == "" {
		t.Skip()
	}
	cfg := DefaultConfig()
	cfg.Targets = []string{target}
	cfg.Clients, _ = strconv.Atoi(os.Getenv("LG_CLIENTS"))
	cfg.Duration, _ = time.ParseDuration(os.Getenv("LG_DUR"))
	cfg.Stock = 1000000000
	cfg.HoldOnly = true
	cfg.NoAudit = os.Getenv("LG_KEY") == ""
	cfg.KeyFile = os.Getenv("LG_KEY")
	cfg.Quiet = true
	rep, err := Run(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("holds %d %.0f/s p50 %v p99 %v audit %v", rep.Holds, rep.HoldsPerSec, rep.Latency[OpHold].P50, rep.Latency[OpHold].P99, rep.Audit.OK)
}
