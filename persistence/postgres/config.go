package postgres

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Config configures a Store. Start from DefaultConfig and set URL.
type Config struct {
	// URL is the database, postgresql://user@host:port/db?sslmode=... (CockroachDB or
	// PostgreSQL). Any pool_* parameters in it are overridden by the fields below.
	URL string
	// MaxConns sizes the connection pool.
	MaxConns int
	// StatementTimeout bounds every SQL statement on the server (the session's
	// statement_timeout, sent as a runtime parameter when a connection opens). A statement
	// that runs out fails with SQLSTATE 57014, which the store reports as ErrUnavailable.
	StatementTimeout time.Duration
	// ConnectTimeout bounds dialling and authenticating one connection.
	ConnectTimeout time.Duration
	// OpTimeout bounds one store call on the client, connection wait and retries included,
	// so that a frozen server or a network partition (where no statement timeout can fire)
	// cannot hang a caller whose context has no deadline. Zero means twice StatementTimeout;
	// otherwise it must not be below StatementTimeout.
	OpTimeout time.Duration
	// MaxRetries bounds how often cockroach-go re-runs one transaction that failed with
	// SQLSTATE 40001 (serialization failure); past it the call fails with ErrUnavailable.
	MaxRetries int
	// SkipMigrate makes Open use the schema as it is (someone ran `allot migrate`).
	SkipMigrate bool
	// IdempotencyRows makes Commit write every idempotency entry as an idempotency_keys row,
	// as releases before schema step 18 write and read them, instead of letting a hold carry
	// its own (holdkeys.go; Activate reads both either way). For a rolling upgrade from such
	// a release: a resource that moves to an old node must find the keys of the holds placed
	// on a new one (docs/OPERATIONS.md). Off by default: one insert fewer per durable hold.
	IdempotencyRows bool
	// Tracer, if set, sees every statement (pgx.QueryTracer; it may also implement
	// pgx.BatchTracer). Tests count serialization failures with it.
	Tracer pgx.QueryTracer
}

// DefaultConfig returns the defaults: 16 connections, 5s statement timeout, 5s connect
// timeout, twice the statement timeout per call, 50 retries, migrations applied on Open.
func DefaultConfig() Config {
	return Config{
		MaxConns:         16,
		StatementTimeout: 5 * time.Second,
		ConnectTimeout:   5 * time.Second,
		MaxRetries:       50,
	}
}

// opTimeout is OpTimeout with its default applied.
func (c *Config) opTimeout() time.Duration {
	if c.OpTimeout == 0 {
		return 2 * c.StatementTimeout
	}
	return c.OpTimeout
}

func (c *Config) validate() error {
	switch {
	case c.URL == "":
		return errors.New("postgres: URL is required")
	case c.MaxConns < 1:
		return errors.New("postgres: MaxConns must be at least 1")
	case c.StatementTimeout < time.Millisecond:
		return errors.New("postgres: StatementTimeout must be at least 1ms")
	case c.ConnectTimeout <= 0:
		return errors.New("postgres: ConnectTimeout must be positive")
	case c.OpTimeout != 0 && c.OpTimeout < c.StatementTimeout:
		return errors.New("postgres: OpTimeout must be zero (twice StatementTimeout) or at least StatementTimeout")
	case c.MaxRetries < 0:
		return errors.New("postgres: MaxRetries must not be negative")
	}
	return nil
}

// poolConfig turns c into a pgxpool configuration. Every connection runs at SERIALIZABLE by
// default (explicit transactions also ask for it) with the statement timeout set.
func (c *Config) poolConfig(maxConns int) (*pgxpool.Config, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	pc, err := pgxpool.ParseConfig(c.URL)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse URL: %w", err)
	}
	pc.MaxConns = int32(maxConns)
	pc.MinConns = 0
	pc.ConnConfig.ConnectTimeout = c.ConnectTimeout
	rp := pc.ConnConfig.RuntimeParams
	rp["statement_timeout"] = strconv.FormatInt(c.StatementTimeout.Milliseconds(), 10)
	rp["default_transaction_isolation"] = "serializable"
	if rp["application_name"] == "" {
		rp["application_name"] = "allot"
	}
	if c.Tracer != nil {
		pc.ConnConfig.Tracer = c.Tracer
	}
	return pc, nil
}
