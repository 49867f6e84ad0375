package cmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/allot/allot/persistence/postgres"
)

const usage = `allot: a distributed, actor-based inventory and booking cluster.

Usage:
  allot node     [flags]   run a node (HTTP edge, resource actors, gossip member)
  allot migrate  [flags]   apply database migrations to --db-url and exit
  allot loadgen  [flags]   drive a node or cluster with simulated mobile clients
  allot token    [flags]   print a dev-mode bearer token (--sub u-1 [--role operator --mfa])
  allot rekey    [flags]   re-seal stored guest contacts under the newest data key (--data-key-file)
  allot help               show this text
  allot version            print the version, commit and Go version

Run "allot <command> --help" for the flags of a command. Every flag also reads an
environment variable ALLOT_<FLAG> (e.g. --db-url <- ALLOT_DB_URL); a flag on the command line wins.

Exit status, the same for every command:
  0  success (a node stopped by SIGINT/SIGTERM after a complete drain)
  1  failure (a node that could not start or drain; loadgen: the audit found a problem)
  2  usage error: unknown command or flag, bad flag value, missing or inconsistent flags
  3  loadgen: the run could not be done
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
	case "token":
		err = runToken(args[1:], stdout, stderr)
	case "rekey":
		err = runRekey(args[1:], stdout, stderr) // rekey.go
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	case "version", "--version":
		runVersion(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "allot: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	var code exitError
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &code):
		return int(code)
	case errors.As(err, &ue):
		// The flag package has printed a parse error and the usage already.
		if !ue.printed {
			fmt.Fprintf(stderr, "allot %s: %v\n\n", args[0], ue.err)
			ue.fs.Usage()
		}
		return 2
	default:
		fmt.Fprintf(stderr, "allot %s: %v\n", args[0], err)
		return 1
	}
}

// usageError is a mistake in how a command was called (exit status 2, the command's usage
// printed). printed says the flag package printed both already.
type usageError struct {
	fs      *flag.FlagSet
	err     error
	printed bool
}

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// newFlagSet returns a flag set whose --help names the environment fallbacks, with an
// example taken from the command's own first flag.
func newFlagSet(name, summary string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		example := ""
		fs.VisitAll(func(f *flag.Flag) {
			if example == "" {
				example = fmt.Sprintf(", e.g. --%s <- %s", f.Name, EnvName(f.Name))
			}
		})
		fmt.Fprintf(stderr, "Usage: allot %s [flags]\n\n%s\n\nFlags (each also read from ALLOT_<FLAG>%s):\n", name, summary, example)
		fs.PrintDefaults()
	}
	return fs
}

// parseWithEnv applies the environment fallbacks, then the command line. Mistakes in
// either are usage errors.
func parseWithEnv(fs *flag.FlagSet, args []string) error {
	if err := ApplyEnv(fs, os.LookupEnv); err != nil {
		return usageError{fs: fs, err: err}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{fs: fs, err: err, printed: true}
	}
	if fs.NArg() > 0 {
		return usageError{fs: fs, err: fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

func runNode(args []string, stdout, stderr io.Writer) error {
	m := NewMain()
	m.Stderr = stderr
	fs := newFlagSet("node", "Runs one Allot node. Alone it uses the embedded SQLite store under --data-dir;\nwith --join and --db-url it joins a cluster that shares one CockroachDB/PostgreSQL database.\nSIGINT or SIGTERM drains it gracefully; a second signal is ignored, a third exits at once.", stderr)
	m.Config.RegisterFlags(fs)
	if err := parseWithEnv(fs, args); err != nil {
		return err
	}
	if err := m.Config.validate(); err != nil {
		return usageError{fs: fs, err: err}
	}
	// The runtime's memory limit is the process's: set here, by the binary's entry point,
	// never by Main.Run (tests run several nodes in one process).
	memLimit := planMemoryLimit(m.Config.MemoryLimit, os.Getenv, os.DirFS("/"))
	if memLimit.Bytes > 0 {
		debug.SetMemoryLimit(memLimit.Bytes)
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)

	// A signal during start-up cancels the start.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	startSig := make(chan os.Signal, 1)
	started := make(chan struct{})
	var watcher sync.WaitGroup
	watcher.Add(1)
	go func() {
		defer watcher.Done()
		select {
		case s := <-sigs:
			startSig <- s
			cancel()
		case <-started:
		}
	}()
	err := m.Run(ctx)
	close(started)
	watcher.Wait()
	if err != nil {
		return err
	}
	m.Logger.Info("memory limit", "bytes", debug.SetMemoryLimit(-1), "source", memLimit.Source)
	var first os.Signal
	select {
	case first = <-startSig:
	case first = <-sigs:
	}
	start := time.Now()
	err = drainOnSignals(first, sigs, m.Close, os.Exit, m.Logger, m.Config.LeaveTimeout)
	if err != nil {
		m.Logger.Warn("node stopped", "took", time.Since(start).Round(time.Millisecond), "err", err)
		return err
	}
	m.Logger.Info("node stopped", "took", time.Since(start).Round(time.Millisecond))
	return nil
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
		return usageError{fs: fs, err: errors.New("--db-url is required")}
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := postgres.Migrate(ctx, cfg); err != nil {
		return err
	}
	fmt.Fprintln(stderr, "allot migrate: schema is up to date")
	return nil
}
