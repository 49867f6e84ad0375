package cmd

import (
	"os/exec"
	"strings"
	"testing"
)

// TestProductionBinaryIsLean: the allot binary operators deploy links no benchmark competitor
// (the baselines, go-redis, the classic SQL transaction) and no test harness (the chaos
// campaign, the cluster test harness, the throwaway PostgreSQL); cmd/allot-bench and the
// tests hold those. See docs/CONTRIBUTING.md.
func TestProductionBinaryIsLean(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "../cmd/allot").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps ./cmd/allot: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 50 {
		t.Fatalf("go list -deps listed only %d packages: %q", len(deps), deps)
	}
	forbidden := []string{
		"github.com/allot/allot/api/baseline",
		"github.com/allot/allot/cluster/chaos",
		"github.com/allot/allot/cluster/clustertest",
		"github.com/allot/allot/persistence/pgtest",
		"github.com/allot/allot/api/stripepay/stripemocktest",
		"github.com/redis/go-redis",
		"github.com/anishathalye/porcupine",
	}
	for _, d := range deps {
		for _, f := range forbidden {
			if d == f || strings.HasPrefix(d, f+"/") {
				t.Errorf("cmd/allot links %s", d)
			}
		}
	}
	// The classic transaction left the production store.
	out, err = exec.Command("go", "doc", "-short", "../persistence/postgres").CombinedOutput()
	if err != nil {
		t.Fatalf("go doc persistence/postgres: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "Classic") {
		t.Errorf("persistence/postgres exports a classic-SQL competitor:\n%s", out)
	}
}
