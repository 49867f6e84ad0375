package chaos_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/allot/allot/cluster/chaos"
	"github.com/allot/allot/persistence/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestChaos runs the campaign the environment describes (see docs/RELIABILITY.md): by default
// one round of 30s of faults with seed 1, about a minute in all.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and five node processes")
	}
	plan, err := chaos.PlanFromEnv(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	var reps []*chaos.Report
	for _, cfg := range plan.Rounds() {
		t.Run("seed="+strconv.FormatInt(cfg.Seed, 10), func(t *testing.T) {
			reps = append(reps, chaos.RunRound(t, cfg))
		})
	}
	t.Log("\n" + chaos.Summary(reps))
}

// TestRecheckHistory checks a stored history again (ALLOT_CHAOS_RECHECK=artifact dir) and
// writes its visualization there as recheck.html: for working on the model or the checker.
func TestRecheckHistory(t *testing.T) {
	dir := os.Getenv(chaos.EnvRecheck)
	if dir == "" {
		t.Skipf("set %s to a round's artifact directory", chaos.EnvRecheck)
	}
	ops, specs, err := chaos.LoadArtifacts(dir)
	if err != nil {
		t.Fatal(err)
	}
	v, err := chaos.Check(ops, specs, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, rc := range v.Resources {
		t.Logf("%s: %d ops (%d unknown) %s %s explained=%v\n%s", rc.Resource, rc.Ops, rc.Unknown, rc.Result, rc.Class, rc.Explained, rc.Context)
	}
	if err := porcupine.VisualizePath(chaos.Model(), v.Info, filepath.Join(dir, "recheck.html")); err != nil {
		t.Fatal(err)
	}
}
