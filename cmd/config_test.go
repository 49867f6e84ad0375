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
