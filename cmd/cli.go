package cmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/allot/allot/persistence/postgres"
)

const usage = `allot: a distributed, actor-based inventory and booking cluster.

Usage:
  allot node     [flags]   run a node (HTTP edge, resource actors, gossip member)
  allot migrate  [flags]   apply database migrations to --db-url and exit
  allot loadgen  [flags]   drive a node or cluster with simulated mobile clients
  allot help               show this text

Run "allot <command> --help" for the flags of a command. Every flag also reads an
environment variable ALLOT_<FLAG> (e.g. --db-url <- ALLOT_DB_URL); a flag on the command line wins.
`

// Execute runs the command line args (without the program name) and returns the exit code.
// It blocks until a node is told to stop by SIGINT or SIGTERM.
func Execute(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "node":
		err = runNode(args[1:], stdout, stderr)
	case "migrate":
		err = runMigrate(args[1:], stderr)
	case "loadgen":
		err = runLoadgen(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "allot: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	var code exitError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &code):
		return int(code)
	default:
		fmt.Fprintf(stderr, "allot %s: %v\n", args[0], err)
		return 1
	}
}

// newFlagSet returns a flag set whose --help names the environment fallbacks.
func newFlagSet(name, summary string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: allot %s [flags]\n\n%s\n\nFlags (each also read from ALLOT_<FLAG>, e.g. ALLOT_HTTP_ADDR):\n", name, summary)
		fs.PrintDefaults()
	}
	return fs
}

func parseWithEnv(fs *flag.FlagSet, args []string) error {
	if err := ApplyEnv(fs, os.LookupEnv); err != nil {
		return err
	}
	return fs.Parse(args)
}

func runNode(args []string, stdout, stderr io.Writer) error {
	m := NewMain()
	m.Stderr = stderr
	fs := newFlagSet("node", "Runs one Allot node. Alone it uses the embedded SQLite store under --data-dir;\nwith --join and --db-url it joins a cluster that shares one CockroachDB/PostgreSQL database.", stderr)
	m.Config.RegisterFlags(fs)
	if err := parseWithEnv(fs, args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := m.Run(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	stop()
	m.Logger.Info("signal received: draining", "deadline", m.Config.LeaveTimeout)
	start := time.Now()
	err := m.Close()
	m.Logger.Info("node stopped", "took", time.Since(start).Round(time.Millisecond), "err", err)
	return err
}

func runMigrate(args []string, stderr io.Writer) error {
	cfg := postgres.DefaultConfig()
	fs := newFlagSet("migrate", "Applies the embedded schema migrations to a CockroachDB/PostgreSQL database and exits.\nSafe to run from several processes at once.", stderr)
	fs.StringVar(&cfg.URL, "db-url", "", "CockroachDB/PostgreSQL URL (postgresql://...)")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after this long")
	if err := parseWithEnv(fs, args); err != nil {
		return err
	}
	if cfg.URL == "" {
		return errors.New("--db-url is required")
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := postgres.Migrate(ctx, cfg); err != nil {
		return err
	}
	fmt.Fprintln(stderr, "allot migrate: schema is up to date")
	return nil
}
