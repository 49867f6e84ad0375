// Package postgres is the Store on CockroachDB, and on PostgreSQL as the wire-compatible
// server under test, through pgx v5.
//
// Every transaction runs at SERIALIZABLE and is retried as a whole on SQLSTATE 40001 by
// cockroach-go (crdb.ExecuteCtx): BEGIN, the work, COMMIT, all re-run in a fresh transaction.
// It deliberately does not use crdbpgxv5.ExecuteTx, whose savepoint protocol ignores the
// error of the final COMMIT, which on PostgreSQL is where serialization failures, deferred
// constraints and a dropped connection show up, and which retries inside the same
// PostgreSQL snapshot (docs/STORAGE.md, TestExecuteTxSavepointProtocolLosesCommitErrors).
//
// SQL is limited to what both CockroachDB and PostgreSQL accept; see docs/STORAGE.md.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/cockroach-go/v2/crdb"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/allot/allot/persistence"
)

// Store is a persistence.Store on a pgx connection pool. It is safe for concurrent use.
type Store struct {
	cfg       Config
	pool      *pgxpool.Pool
	closed    atomic.Bool
	closeOnce sync.Once
	bufs      commitBufs   // a commit's encoding and write buffers, reused (commitpipe.go)
	floors    outboxFloors // the relay's prefix check starts there (outboxfloors.go)

	// Enqueue's pipes (pipeline.go), by resource; pipesWG counts their goroutines, which
	// Close waits for.
	pipesMu     sync.Mutex
	pipes       map[string]*pipe
	serialTail  map[string]chan struct{}
	pipesClosed bool
	pipesWG     sync.WaitGroup
}

var _ persistence.Store = (*Store)(nil)

// Open connects to cfg.URL and, unless cfg.SkipMigrate, applies the schema migrations (safe
// when several nodes open the same empty database at once). It fails with an error wrapping
// persistence.ErrUnavailable when the database cannot be reached.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	pc, err := cfg.poolConfig(cfg.MaxConns)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, wrap("open", err)
	}
	s := &Store{cfg: cfg, pool: pool}
	if !cfg.SkipMigrate {
		steps, err := persistence.Migrations()
		if err != nil {
			pool.Close()
			return nil, err
		}
		if err := s.migrate(ctx, steps); err != nil {
			pool.Close()
			return nil, err
		}
	}
	return s, nil
}

// Pool is the store's connection pool, for tools and baselines (api/baseline.ClassicHold) that share it.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return errClosed("ping")
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	return wrap("ping", s.pool.Ping(ctx))
}

// Close closes the pool, waiting for connections in use to be returned. Safe to call twice.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.pipesMu.Lock()
		s.pipesClosed = true
		s.pipesMu.Unlock()
		s.pipesWG.Wait() // the batches enqueued end (their ctx bounds them)
		s.pool.Close()
	})
	return nil
}

func errClosed(op string) error {
	return fmt.Errorf("%s: %w: store is closed", op, persistence.ErrUnavailable)
}

// opContext bounds one call by OpTimeout.
func (s *Store) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.cfg.opTimeout())
}

// inTx runs fn in a SERIALIZABLE transaction and commits it. cockroach-go re-runs the whole
// transaction, BEGIN to COMMIT, when any step (COMMIT included) fails with SQLSTATE 40001,
// up to MaxRetries times. fn must not keep state between attempts, and must return errors
// from pgx wrapped with %w so that cockroach-go sees the SQLSTATE. Any other error rolls
// back and is returned as it is.
func (s *Store) inTx(ctx context.Context, fn func(ctx context.Context, tx pgx.Tx) error) error {
	ctx = crdb.WithMaxRetries(ctx, s.cfg.MaxRetries)
	attempt := 0
	return crdb.ExecuteCtx(ctx, func(ctx context.Context, _ ...interface{}) error {
		if err := retryPause(ctx, attempt); err != nil {
			return err
		}
		attempt++
		tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.Serializable})
		if err != nil {
			return err
		}
		if err := fn(ctx, tx); err != nil {
			_ = tx.Rollback(ctx) // on a done ctx pgx closes the connection instead
			return err
		}
		if err := tx.Commit(ctx); err != nil {
			if errors.Is(err, pgx.ErrTxCommitRollback) {
				// The server rolled back instead of committing: an error inside fn that fn
				// did not return. Treat it as a failure whose cause is unknown.
				return fmt.Errorf("commit turned into rollback: %w", err)
			}
			return err
		}
		return nil
	})
}

// retry runs fn, a single statement on the pool (an implicit transaction, SERIALIZABLE by the
// session default), re-running it through cockroach-go on SQLSTATE 40001.
func (s *Store) retry(ctx context.Context, fn func(ctx context.Context) error) error {
	ctx = crdb.WithMaxRetries(ctx, s.cfg.MaxRetries)
	attempt := 0
	return crdb.ExecuteCtx(ctx, func(ctx context.Context, _ ...interface{}) error {
		if err := retryPause(ctx, attempt); err != nil {
			return err
		}
		attempt++
		return fn(ctx)
	})
}

// retryPause waits before run attempt of a transaction (none before the first): a random
// pause of up to 1 ms doubled per attempt, at most 64 ms, so that transactions that keep
// failing each other with 40001 (several nodes activating one hot resource at once) spread
// out instead of retrying in lockstep until MaxRetries is used up. It returns ctx's error if
// ctx ends first.
func retryPause(ctx context.Context, attempt int) error {
	if attempt == 0 {
		return nil
	}
	d := time.Duration(rand.Int64N(int64(time.Millisecond << min(attempt-1, 6))))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
