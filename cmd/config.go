// Package cmd holds Allot's program: Main (Run/Close), the node configuration and its flags.
// The binary in cmd/allot is a thin wrapper, so end-to-end tests boot the real program
// in-process.
package cmd

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"

	"strings"
	"time"
)

// NodeConfig configures one Allot node. Every field has a flag (RegisterFlags) and an
// environment fallback ALLOT_<FLAG_NAME> (EnvName); a flag given on the command line wins.
type NodeConfig struct {
	// HTTPAddr is where the HTTP edge listens (host:port; port 0 picks a free one).
	HTTPAddr string
	// DataDir holds the embedded SQLite store; used only when DBURL is empty.
	DataDir string
	// DBURL selects the CockroachDB/PostgreSQL store (postgresql://...). Required for a
	// cluster of more than one node: fencing needs one shared database.
	DBURL string
	// DBMaxConns sizes the database connection pool.
	DBMaxConns int
	// DBStatementTimeout bounds every SQL statement.
	DBStatementTimeout time.Duration
	// GossipAddr is the memberlist bind address (host:port).
	GossipAddr string
	// AdvertiseAddr is the host (or host:port for gossip) peers use to reach this node; empty
	// means the bind address, or the first private address when binding to all interfaces.
	AdvertiseAddr string
	// RemoteAddr is the protoactor remote (gRPC) bind address between nodes.
	RemoteAddr string
	// Join lists gossip seeds: host:port entries, or dns:NAME:PORT for a name whose A records
	// are the peers (a Kubernetes headless service).
	Join []string
	// GossipKey is a base64 16, 24 or 32 byte key that encrypts gossip; empty disables it.
	GossipKey string
	// LeaveTimeout bounds a graceful leave on SIGTERM.
	LeaveTimeout time.Duration
	// RequestTimeout bounds one request through the cluster (edge to owner and back).
	RequestTimeout time.Duration
	// IdleTimeout passivates a resource actor after this long without commands.
	IdleTimeout time.Duration
	// MaxPending bounds the commands one resource holds in memory awaiting commit; beyond
	// it requests get 429 busy.
	MaxPending int
	// MaxBatch bounds the commands in one group commit.
	MaxBatch int
	// Lease is how long one store write lets a resource actor answer from memory, and so how
	// long a crashed owner's resources wait before a new owner answers (resource.Config.Lease).
	Lease time.Duration
	// MaxClockOffset bounds the wall-clock difference between nodes that leases tolerate.
	MaxClockOffset time.Duration
	// LogLevel is debug, info, warn or error.
	LogLevel string
	// PprofAddr, if set, serves net/http/pprof's /debug/pprof/ on its own listener
	// (host:port) for profiling; empty (the default) serves nothing.
	PprofAddr string
}

// DefaultNodeConfig returns the defaults documented on each flag.
func DefaultNodeConfig() NodeConfig {
	return NodeConfig{
		HTTPAddr:           ":8080",
		DataDir:            "./data",
		DBMaxConns:         16,
		DBStatementTimeout: 5 * time.Second,
		GossipAddr:         ":7946",
		RemoteAddr:         ":8090",
		LeaveTimeout:       20 * time.Second,
		RequestTimeout:     5 * time.Second,
		IdleTimeout:        2 * time.Minute,
		MaxPending:         10000,
		MaxBatch:           1000,
		Lease:              4 * time.Second,
		MaxClockOffset:     500 * time.Millisecond,
		LogLevel:           "info",
	}
}

// RegisterFlags registers the node's flags on fs, with c's current values as defaults.
func (c *NodeConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.HTTPAddr, "http-addr", c.HTTPAddr, "HTTP edge listen address (host:port)")
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "directory of the embedded SQLite store (single node, used when --db-url is empty)")
	fs.StringVar(&c.DBURL, "db-url", c.DBURL, "CockroachDB/PostgreSQL URL (postgresql://...); required for more than one node")
	fs.IntVar(&c.DBMaxConns, "db-max-conns", c.DBMaxConns, "database connection pool size")
	fs.DurationVar(&c.DBStatementTimeout, "db-statement-timeout", c.DBStatementTimeout, "timeout of one SQL statement")
	fs.StringVar(&c.GossipAddr, "gossip-addr", c.GossipAddr, "memberlist gossip bind address (host:port)")
	fs.StringVar(&c.AdvertiseAddr, "advertise-addr", c.AdvertiseAddr, "address peers use to reach this node (host or host:port); pods pass their pod IP")
	fs.StringVar(&c.RemoteAddr, "remote-addr", c.RemoteAddr, "actor remote (gRPC) bind address between nodes (host:port)")
	fs.Func("join", "comma-separated gossip seeds host:port, or dns:NAME:PORT for a headless service", func(s string) error {
		c.Join = nil
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				c.Join = append(c.Join, p)
			}
		}
		return nil
	})
	fs.StringVar(&c.GossipKey, "gossip-key", c.GossipKey, "base64 gossip encryption key (16, 24 or 32 bytes)")
	fs.DurationVar(&c.LeaveTimeout, "leave-timeout", c.LeaveTimeout, "deadline for a graceful leave on SIGTERM")
	fs.DurationVar(&c.RequestTimeout, "request-timeout", c.RequestTimeout, "deadline of one request from the edge to the resource's owner")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", c.IdleTimeout, "passivate a resource actor after this long idle")
	fs.IntVar(&c.MaxPending, "max-pending", c.MaxPending, "commands one resource may hold awaiting commit before answering 429")
	fs.IntVar(&c.MaxBatch, "max-batch", c.MaxBatch, "commands in one group commit at most")
	fs.DurationVar(&c.Lease, "lease", c.Lease, "how long a store write lets a resource actor answer from memory; a crashed owner's resources wait at most this long for a new owner")
	fs.DurationVar(&c.MaxClockOffset, "max-clock-offset", c.MaxClockOffset, "largest wall-clock difference between nodes that leases tolerate (keep clocks in sync with NTP)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "log level: debug, info, warn or error")
	fs.StringVar(&c.PprofAddr, "pprof-addr", c.PprofAddr, "serve /debug/pprof/ on this separate address (host:port; empty: off); keep it private")
}

// EnvName is the environment variable that backs a flag: "db-url" -> "ALLOT_DB_URL".
func EnvName(flagName string) string {
	return "ALLOT_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// ApplyEnv sets every flag of fs whose environment variable is set (lookup is os.LookupEnv in
// production). Call it before fs.Parse so that command-line flags win.
func ApplyEnv(fs *flag.FlagSet, lookup func(string) (string, bool)) error {
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if v, ok := lookup(EnvName(f.Name)); ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", EnvName(f.Name), err))
			}
		}
	})
	return errors.Join(errs...)
}

func (c *NodeConfig) validate() error {
	switch {
	case c.HTTPAddr == "":
		return errors.New("--http-addr is required")
	case c.DBURL == "" && c.DataDir == "":
		return errors.New("--data-dir or --db-url is required")
	case c.DBURL == "" && len(c.Join) > 0:
		return errors.New("a cluster (--join) needs a shared database (--db-url): the embedded store cannot fence activations on other nodes")
	case c.DBMaxConns < 1:
		return errors.New("--db-max-conns must be at least 1")
	case c.LeaveTimeout <= 0 || c.RequestTimeout <= 0 || c.IdleTimeout <= 0 || c.DBStatementTimeout <= 0:
		return errors.New("timeouts must be positive")
	case c.MaxPending < 1 || c.MaxBatch < 1:
		return errors.New("--max-pending and --max-batch must be at least 1")
	case c.MaxClockOffset < 0 || c.Lease <= 2*c.MaxClockOffset:
		return errors.New("--lease must be more than twice --max-clock-offset")
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return err
	}
	return nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("--log-level: %w", err)
	}
	return l, nil
}
