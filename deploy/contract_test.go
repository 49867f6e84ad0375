package deploy

import (
	"flag"
	"io"
	"time"

	"github.com/allot/allot/api"
	"github.com/allot/allot/cmd"
)

// This file is the one place where the deploy tests learn the node's contract. Everything
// else derives from it, so a renamed flag, variable or path fails a manifest check.

// HTTP paths the probes and the Prometheus scrape annotations must use.
var (
	healthzPath = api.HealthzPath
	readyzPath  = api.ReadyzPath
	metricsPath = api.MetricsPath
)

// envName is the environment fallback of a flag: "db-url" -> "ALLOT_DB_URL".
var envName = cmd.EnvName

// newNodeFlagSet returns a fresh, unparsed FlagSet holding exactly the flags of
// `allot node`, with the binary's defaults.
func newNodeFlagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("allot node", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg := cmd.DefaultNodeConfig()
	cfg.RegisterFlags(fs)
	return fs
}

// newMigrateFlagSet returns the flags of `allot migrate`. cmd registers them inside
// runMigrate, out of reach of a test, so they are copied here: keep in step with cmd/cli.go.
func newMigrateFlagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("allot migrate", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.String("db-url", "", "CockroachDB/PostgreSQL URL")
	fs.Duration("timeout", 2*time.Minute, "give up after this long")
	return fs
}
