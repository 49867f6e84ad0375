package baseline

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/allot/allot/persistence/postgres"
)

// Baseline kinds.
const (
	KindClassic = "classic"
	KindRedis   = "redis"
	KindEmpty   = "empty"
)

// Config configures Command: which baseline to serve where.
type Config struct {
	// Kind is KindClassic, KindRedis or KindEmpty.
	Kind string
	// Addr is the HTTP listen address (host:port).
	Addr string
	// DBURL is the PostgreSQL/CockroachDB URL of the classic baseline. Allot's migrations
	// are applied to it first (postgres.Migrate).
	DBURL string
	// DBMaxConns sizes the classic baseline's connection pool.
	DBMaxConns int
	// RedisAddr is the Redis server of the Redis baseline (host:port). Run it with
	// appendonly yes and appendfsync always for a durable comparison.
	RedisAddr string
	// RedisPoolSize sizes the Redis baseline's connection pool.
	RedisPoolSize int
}

// DefaultConfig returns the defaults documented on each flag.
func DefaultConfig() Config {
	return Config{Kind: KindEmpty, Addr: "127.0.0.1:8081", DBMaxConns: 32, RedisAddr: "127.0.0.1:6379", RedisPoolSize: 64}
}

// RegisterFlags registers the baseline's flags on fs, with c's current values as defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Kind, "kind", c.Kind, "baseline: classic (PostgreSQL, SELECT FOR UPDATE), redis (Lua script) or empty (HTTP ceiling)")
	fs.StringVar(&c.Addr, "http-addr", c.Addr, "HTTP listen address (host:port)")
	fs.StringVar(&c.DBURL, "db-url", c.DBURL, "PostgreSQL/CockroachDB URL (classic)")
	fs.IntVar(&c.DBMaxConns, "db-max-conns", c.DBMaxConns, "database connection pool size (classic)")
	fs.StringVar(&c.RedisAddr, "redis-addr", c.RedisAddr, "Redis server host:port (redis)")
	fs.IntVar(&c.RedisPoolSize, "redis-pool-size", c.RedisPoolSize, "Redis connection pool size (redis)")
}

func (c *Config) validate() error {
	switch {
	case c.Addr == "":
		return errors.New("--http-addr is required")
	case c.Kind == KindClassic && c.DBURL == "":
		return errors.New("--kind classic needs --db-url")
	case c.Kind == KindClassic && c.DBMaxConns < 1:
		return errors.New("--db-max-conns must be at least 1")
	case c.Kind == KindRedis && (c.RedisAddr == "" || c.RedisPoolSize < 1):
		return errors.New("--kind redis needs --redis-addr and a --redis-pool-size of at least 1")
	case c.Kind != KindClassic && c.Kind != KindRedis && c.Kind != KindEmpty:
		return fmt.Errorf("--kind %q: want classic, redis or empty", c.Kind)
	}
	return nil
}

// Command is `allot-bench baseline`: it serves the configured baseline until ctx is done, and returns
// the process exit status (0, 2 for bad flags, 1 when it cannot start or stop cleanly).
func Command(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("baseline", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := cfg.validate(); err != nil {
		fmt.Fprintf(stderr, "baseline: %v\n", err)
		return 2
	}
	if err := run(ctx, cfg, stdout); err != nil {
		fmt.Fprintf(stderr, "baseline: %v\n", err)
		return 1
	}
	return 0
}

func run(ctx context.Context, cfg Config, stdout io.Writer) (err error) {
	var h *Handler
	switch cfg.Kind {
	case KindClassic:
		mc := postgres.DefaultConfig()
		mc.URL = cfg.DBURL
		if err := postgres.Migrate(ctx, mc); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		pc, err := pgxpool.ParseConfig(cfg.DBURL)
		if err != nil {
			return fmt.Errorf("--db-url: %w", err)
		}
		pc.MaxConns = int32(cfg.DBMaxConns)
		pool, err := pgxpool.NewWithConfig(ctx, pc)
		if err != nil {
			return fmt.Errorf("connect: %w", err)
		}
		defer pool.Close()
		h = NewClassic(pool)
	case KindRedis:
		c := redis.NewClient(&redis.Options{Addr: cfg.RedisAddr, PoolSize: cfg.RedisPoolSize})
		defer c.Close()
		if err := c.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("redis %s: %w", cfg.RedisAddr, err)
		}
		h = NewRedis(c)
	default:
		h = NewEmpty()
	}
	srv, err := Serve(cfg.Addr, h)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "baseline %s listening on %s\n", cfg.Kind, srv.URL())
	<-ctx.Done()
	return srv.Close()
}
