package cmd

import (
	"flag"
	"strings"
	"testing"

	"github.com/allot/allot/api"
	"github.com/allot/allot/api/ratelimit"
	"github.com/allot/allot/cluster/clustertest"
)

// loadTestRateLimits gives c the budgets of clustertest.LoadRateLimitArgs: the in-process
// nodes of the tests drive load from one address and few subjects in closed loops. Rate limits
// stay on; the tests of the limits themselves set their own budgets after it.
func loadTestRateLimits(c *NodeConfig) {
	fs := flag.NewFlagSet("node", flag.PanicOnError)
	c.RegisterFlags(fs)
	if err := fs.Parse(clustertest.LoadRateLimitArgs()); err != nil {
		panic(err)
	}
}

// TestAbuseFlags: the abuse-control flags parse into the config, and bad values are refused.
func TestAbuseFlags(t *testing.T) {
	c := DefaultNodeConfig()
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	c.RegisterFlags(fs)
	err := fs.Parse([]string{"--rate-limits", "off", "--rate-limit-subject", "5/s:9", "--rate-limit-holds", "1/2s",
		"--unknown-resource-ttl", "0", "--max-active-resources", "10"})
	if err != nil {
		t.Fatal(err)
	}
	if c.RateLimitSubject != (ratelimit.Limit{Count: 5, Period: 1e9, Burst: 9}) || c.RateLimitHolds.Burst != 1 ||
		c.RateLimits != "off" || c.UnknownResourceTTL != 0 || c.MaxActiveResources != 10 {
		t.Fatalf("parsed %+v", c)
	}
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	rc := c.rateLimitConfig()
	if !rc.Off || rc.Subject != c.RateLimitSubject {
		t.Fatalf("rate-limit config %+v", rc)
	}
	if ac := c.withAbuseControl(api.Config{}); ac.UnknownResourceTTL >= 0 {
		t.Fatalf("--unknown-resource-ttl 0 gives the edge %v, want off (negative)", ac.UnknownResourceTTL)
	}
	fs = flag.NewFlagSet("node", flag.ContinueOnError)
	fs.SetOutput(new(strings.Builder))
	c.RegisterFlags(fs)
	if err := fs.Parse([]string{"--rate-limit-subject", "20"}); err == nil {
		t.Fatal("a limit without a period was accepted")
	}
	for name, bad := range map[string]func(*NodeConfig){
		"rate limits maybe":   func(c *NodeConfig) { c.RateLimits = "maybe" },
		"few keys":            func(c *NodeConfig) { c.RateLimitMaxKeys = 1 },
		"negative ttl":        func(c *NodeConfig) { c.UnknownResourceTTL = -1 },
		"no unknown ids":      func(c *NodeConfig) { c.UnknownResources = 0 },
		"negative active cap": func(c *NodeConfig) { c.MaxActiveResources = -1 },
	} {
		c := DefaultNodeConfig()
		bad(&c)
		if err := c.validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
