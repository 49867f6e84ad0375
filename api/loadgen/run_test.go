package loadgen

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// tinyConfig is a small, bounded run against target.
func tinyConfig(target, scenario string) Config {
	cfg := DefaultConfig()
	cfg.Targets = []string{target}
	cfg.Scenario = scenario
	cfg.Clients = 4
	cfg.Stock = 40
	cfg.Resources = 3
	cfg.Days = 5
	cfg.Rooms = 3
	cfg.Duration = 10 * time.Second // a safety net: the tests end on stock or Requests
	cfg.MaxRetryWait = 10 * time.Millisecond
	cfg.RunID = "t"
	cfg.Quiet = true
	return cfg
}

func TestRunFlashSaleSellsExactlyTheStock(t *testing.T) {
	f := &fakeAllot{busyEvery: 7}
	cfg := tinyConfig(mustFakeAllot(t, f), ScenarioFlashSale)
	cfg.CancelRatio = 0.25
	rep, err := Run(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := rep.Audit
	if !a.OK {
		t.Fatalf("audit failed: %q", a.Problems)
	}
	if rep.Sold != cfg.Stock || rep.Stock != cfg.Stock {
		t.Errorf("sold %d of %d, want all %d", rep.Sold, rep.Stock, cfg.Stock)
	}
	if rep.Holds-rep.Cancels != cfg.Stock || a.Acknowledged != rep.Holds || a.Cancelled != rep.Cancels {
		t.Errorf("holds %d - cancels %d != stock %d (audit %+v)", rep.Holds, rep.Cancels, cfg.Stock, a)
	}
	if rep.Cancels == 0 || rep.Confirms != rep.Holds-rep.Cancels {
		t.Errorf("confirms %d, cancels %d of %d holds", rep.Confirms, rep.Cancels, rep.Holds)
	}
	if rep.Elapsed >= cfg.Duration/2 {
		t.Errorf("elapsed %v: the run did not end on sold out", rep.Elapsed)
	}
	if rep.SoldOut < int64(cfg.Clients) {
		t.Errorf("sold out answers %d, want at least one per client", rep.SoldOut)
	}
	if rep.Retries == 0 || rep.StatusCodes[429] != rep.Retries || rep.Errors != 0 {
		t.Errorf("retries %d, 429s %d, errors %d %q: want every 429 retried", rep.Retries, rep.StatusCodes[429], rep.Errors, rep.ErrorSamples)
	}
	if rep.StatusCodes[201] != rep.Holds+1 { // + the resource
		t.Errorf("201s %d, want holds %d + 1 creation", rep.StatusCodes[201], rep.Holds)
	}
	if rep.Latency[OpHold].Count != rep.Holds+rep.SoldOut || rep.Latency[OpCreate].Count != 1 {
		t.Errorf("latency counts %+v", rep.Latency)
	}
	if rep.Ops != rep.Holds+rep.SoldOut+rep.Confirms+rep.Cancels || rep.OpsPerSec <= 0 || rep.HoldsPerSec <= 0 {
		t.Errorf("ops %d at %.0f/s, holds/s %.0f", rep.Ops, rep.OpsPerSec, rep.HoldsPerSec)
	}
}

func TestRunReconcilesUnknownOutcomes(t *testing.T) {
	f := &fakeAllot{lossy: 5}
	cfg := tinyConfig(mustFakeAllot(t, f), ScenarioFlashSale)
	cfg.CancelRatio = 0.3
	rep, err := Run(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := rep.Audit
	if !a.OK || rep.Sold != cfg.Stock {
		t.Fatalf("sold %d, audit %+v", rep.Sold, a)
	}
	if rep.Errors == 0 || rep.StatusCodes[500] == 0 {
		t.Fatalf("errors %d, 500s %d: the fake lost no answer", rep.Errors, rep.StatusCodes[500])
	}
	// Every unknown hold was replayed with its key and every uncertain hold read back.
	if a.Unknown != 0 || a.Uncertain != 0 || a.Acknowledged <= rep.Holds {
		t.Fatalf("audit %+v after %d holds: unknown outcomes not reconciled", a, rep.Holds)
	}
}

func TestRunHoldOnly(t *testing.T) {
	cfg := tinyConfig(mustFakeAllot(t, &fakeAllot{}), ScenarioFlashSale)
	cfg.HoldOnly = true
	rep, err := Run(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Audit.OK || rep.Holds != cfg.Stock || rep.Confirms+rep.Cancels != 0 || rep.Sold != cfg.Stock {
		t.Fatalf("holds %d, confirms %d, cancels %d, sold %d, audit %q", rep.Holds, rep.Confirms, rep.Cancels, rep.Sold, rep.Audit.Problems)
	}
}

func TestRunDetectsOversell(t *testing.T) {
	cfg := tinyConfig(mustFakeAllot(t, &fakeAllot{oversell: true}), ScenarioFlashSale)
	cfg.Stock = 5
	cfg.Requests = 30
	rep, err := Run(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Audit.OK || !hasProblem(&rep.Audit, "OVERSOLD server") {
		t.Fatalf("audit %+v, want OVERSOLD", rep.Audit)
	}
	if n := rep.Ops; n < cfg.Requests || n > cfg.Requests+int64(cfg.Clients) {
		t.Errorf("%d requests, want %d..%d", n, cfg.Requests, cfg.Requests+int64(cfg.Clients))
	}
}

func TestRunDetectsLostHolds(t *testing.T) {
	cfg := tinyConfig(mustFakeAllot(t, &fakeAllot{forget: true}), ScenarioHotel)
	cfg.Requests = 20
	rep, err := Run(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Audit.OK || !hasProblem(&rep.Audit, "LOST server") {
		t.Fatalf("audit %+v, want LOST", rep.Audit)
	}
}

func TestRunScenarios(t *testing.T) {
	for _, sc := range []string{ScenarioHotel, ScenarioBrowse, ScenarioMixed} {
		t.Run(sc, func(t *testing.T) {
			cfg := tinyConfig(mustFakeAllot(t, &fakeAllot{}), sc)
			cfg.Requests = 60
			cfg.Nights = 3
			rep, err := Run(t.Context(), cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !rep.Audit.OK || rep.Errors != 0 {
				t.Fatalf("audit %q, errors %q", rep.Audit.Problems, rep.ErrorSamples)
			}
			wantRes := cfg.Resources
			if sc == ScenarioMixed {
				wantRes++
			}
			if rep.Audit.Resources != wantRes {
				t.Errorf("audited %d resources, want %d", rep.Audit.Resources, wantRes)
			}
			if sc != ScenarioHotel && rep.Reads == 0 {
				t.Error("no availability reads")
			}
			if sc != ScenarioBrowse && rep.Holds+rep.SoldOut == 0 {
				t.Error("no holds")
			}
			if rep.Ops < cfg.Requests {
				t.Errorf("%d ops, want at least %d", rep.Ops, cfg.Requests)
			}
		})
	}
}

func TestRunRefusesExistingResources(t *testing.T) {
	target := mustFakeAllot(t, &fakeAllot{})
	cfg := tinyConfig(target, ScenarioFlashSale)
	cfg.Stock = 2
	if _, err := Run(t.Context(), cfg, nil); err != nil {
		t.Fatal(err)
	}
	_, err := Run(t.Context(), cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second run with the same run id: %v, want already exists", err)
	}
}

func TestRunInvalidConfig(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Clients = 0
	if _, err := Run(t.Context(), cfg, nil); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("err = %v, want ErrInvalidConfig", err)
	}
}

func TestRunCancelledSkipsAudit(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	f := &fakeAllot{oversell: true, onHold: cancel} // the first hold cancels the run
	cfg := tinyConfig(mustFakeAllot(t, f), ScenarioFlashSale)
	rep, err := Run(ctx, cfg, nil)
	if err == nil || rep == nil || rep.Audit.OK || rep.Audit.Skipped == "" {
		t.Fatalf("report %+v, err %v: want the audit skipped", rep, err)
	}
}

func TestReportText(t *testing.T) {
	cfg := tinyConfig(mustFakeAllot(t, &fakeAllot{}), ScenarioFlashSale)
	cfg.Stock = 3
	// No cancels: a cancelled unit is sold again or not depending on whether the other
	// clients were already turned away, so the status counts would vary between runs.
	cfg.CancelRatio = 0
	rep, err := Run(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"run t: flash-sale, 4 clients", "sold 3 of stock 3", "status: 200=3 201=4 409=4", "hold", "p99", "audit OK"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}
