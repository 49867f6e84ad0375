package cmd

import (
	"flag"
	"io"
	"testing"
	"time"
)

func TestEnvFallbackAndFlagPrecedence(t *testing.T) {
	env := map[string]string{"ALLOT_DB_URL": "postgresql://env/db", "ALLOT_LEAVE_TIMEOUT": "7s", "ALLOT_HTTP_ADDR": ":1"}
	c := DefaultNodeConfig()
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.RegisterFlags(fs)
	if err := ApplyEnv(fs, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	if err := fs.Parse([]string{"--http-addr", ":2", "--join", "a:1, b:2"}); err != nil {
		t.Fatal(err)
	}
	if c.DBURL != "postgresql://env/db" || c.LeaveTimeout != 7*time.Second {
		t.Fatalf("env not applied: %+v", c)
	}
	if c.HTTPAddr != ":2" {
		t.Fatalf("flag should win over env, got %q", c.HTTPAddr)
	}
	if len(c.Join) != 2 || c.Join[1] != "b:2" {
		t.Fatalf("join = %q", c.Join)
	}
	bad := DefaultNodeConfig()
	fs = flag.NewFlagSet("node", flag.ContinueOnError)
	bad.RegisterFlags(fs)
	if err := ApplyEnv(fs, func(k string) (string, bool) { return "not-a-duration", k == "ALLOT_LEAVE_TIMEOUT" }); err == nil {
		t.Fatal("bad env value accepted")
	}
	if EnvName("db-max-conns") != "ALLOT_DB_MAX_CONNS" {
		t.Fatal(EnvName("db-max-conns"))
	}
}

// TestAddressesByMode: a single node binds gossip and remote on loopback ephemeral ports
// unless told otherwise; a cluster member binds the cluster defaults.
func TestAddressesByMode(t *testing.T) {
	c := DefaultNodeConfig()
	if !c.Single() || c.gossipAddr() != LoopbackAnyPort || c.remoteAddr() != LoopbackAnyPort || c.advertiseAddr() != "127.0.0.1" {
		t.Fatalf("single node: gossip %q remote %q advertise %q", c.gossipAddr(), c.remoteAddr(), c.advertiseAddr())
	}
	c.GossipAddr = "127.0.0.1:9000"
	if c.gossipAddr() != "127.0.0.1:9000" || c.advertiseAddr() != "" {
		t.Fatalf("explicit gossip address on a single node: %q, advertise %q", c.gossipAddr(), c.advertiseAddr())
	}
	for _, mut := range []func(*NodeConfig){
		func(c *NodeConfig) { c.DBURL = "postgresql://x/y" },
		func(c *NodeConfig) { c.Join = []string{"10.0.0.1:7946"} },
	} {
		c := DefaultNodeConfig()
		mut(&c)
		if c.Single() || c.gossipAddr() != ":7946" || c.remoteAddr() != ":8090" || c.advertiseAddr() != "" {
			t.Fatalf("cluster member %+v: gossip %q remote %q", c, c.gossipAddr(), c.remoteAddr())
		}
	}
	// The flags show the cluster defaults and leave the mode's choice to an unset flag.
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	c = DefaultNodeConfig()
	c.RegisterFlags(fs)
	if d := fs.Lookup("gossip-addr").DefValue; d != ":7946" {
		t.Fatalf("--gossip-addr default shown as %q", d)
	}
	if err := fs.Parse([]string{"--remote-addr", ":8090"}); err != nil || c.remoteAddr() != ":8090" || c.gossipAddr() != LoopbackAnyPort {
		t.Fatalf("explicit --remote-addr: %v remote %q gossip %q", err, c.remoteAddr(), c.gossipAddr())
	}
}

// TestCommitTimeoutIsItsOwnSetting: the resource actors' commit timeout is no longer the
// SQL statement timeout.
func TestCommitTimeoutIsItsOwnSetting(t *testing.T) {
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	c := DefaultNodeConfig()
	c.RegisterFlags(fs)
	if err := fs.Parse([]string{"--db-statement-timeout", "2s", "--commit-timeout", "7s"}); err != nil {
		t.Fatal(err)
	}
	if c.DBStatementTimeout != 2*time.Second || c.CommitTimeout != 7*time.Second {
		t.Fatalf("statement %v commit %v", c.DBStatementTimeout, c.CommitTimeout)
	}
	c.CommitTimeout = 0
	if err := c.validate(); err == nil {
		t.Fatal("zero commit timeout accepted")
	}
}
