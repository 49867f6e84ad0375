package loadgen

import (
	"flag"
	"io"
	"reflect"
	"testing"
	"time"
)

func TestDefaultConfigIsValid(t *testing.T) {
	for _, sc := range []string{ScenarioFlashSale, ScenarioHotel, ScenarioBrowse, ScenarioMixed} {
		cfg := DefaultConfig()
		cfg.Scenario = sc
		if err := cfg.validate(); err != nil {
			t.Errorf("%s: %v", sc, err)
		}
	}
}

func TestRegisterFlags(t *testing.T) {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	err := fs.Parse([]string{
		"--target", "http://127.0.0.1:1, http://127.0.0.1:2", "--scenario", "hotel", "--clients", "8",
		"--duration", "3s", "--requests", "100", "--stock", "7", "--resources", "2", "--nights", "4",
		"--think", "5ms", "--timeout", "1s", "--retries", "1", "--json", "/tmp/r.json",
		"--db-url", "postgresql://x", "--quiet", "--hold-only", "--run-id", "r1", "--seed", "9",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.Targets = []string{"http://127.0.0.1:1", "http://127.0.0.1:2"}
	want.Scenario, want.Clients, want.Duration, want.Requests = "hotel", 8, 3*time.Second, 100
	want.Stock, want.Resources, want.Nights, want.ThinkTime = 7, 2, 4, 5*time.Millisecond
	want.Timeout, want.MaxRetries, want.JSONPath, want.DBURL = time.Second, 1, "/tmp/r.json", "postgresql://x"
	want.Quiet, want.HoldOnly, want.RunID, want.Seed = true, true, "r1", 9
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("got %+v\nwant %+v", cfg, want)
	}
}

func TestValidateRejects(t *testing.T) {
	for name, mut := range map[string]func(*Config){
		"no target":        func(c *Config) { c.Targets = nil },
		"target not URL":   func(c *Config) { c.Targets = []string{"127.0.0.1:8080"} },
		"scenario":         func(c *Config) { c.Scenario = "stampede" },
		"clients":          func(c *Config) { c.Clients = 0 },
		"hotel unbounded":  func(c *Config) { c.Scenario, c.Duration, c.Requests = ScenarioHotel, 0, 0 },
		"stock":            func(c *Config) { c.Stock = 0 },
		"nights > days":    func(c *Config) { c.Scenario, c.Nights, c.Days = ScenarioHotel, 5, 4 },
		"cancel ratio":     func(c *Config) { c.CancelRatio = 1.5 },
		"timeout":          func(c *Config) { c.Timeout = 0 },
		"retries":          func(c *Config) { c.MaxRetries = -1 },
		"run id with path": func(c *Config) { c.RunID = "a/b" },
	} {
		cfg := DefaultConfig()
		mut(&cfg)
		if err := cfg.validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	cfg := DefaultConfig()
	cfg.Duration = 0 // flash-sale ends on sold out
	if err := cfg.validate(); err != nil {
		t.Errorf("unbounded flash-sale refused: %v", err)
	}
}

func TestHelpListsEveryFlag(t *testing.T) {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg.RegisterFlags(fs)
	for _, name := range []string{"target", "scenario", "clients", "duration", "requests", "stock", "resources",
		"nights", "think", "timeout", "retries", "json", "db-url", "quiet"} {
		if fs.Lookup(name) == nil {
			t.Errorf("no --%s", name)
		}
	}
}
