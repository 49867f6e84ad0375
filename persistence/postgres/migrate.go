package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/allot/allot/persistence"
)

// Migration bookkeeping. schema_migrations records applied steps; schema_lock has one row that
// every step's transaction locks, so that steps apply one at a time across all nodes.
const (
	sqlCreateMigrations = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version       BIGINT PRIMARY KEY,
    applied_at_ms BIGINT NOT NULL
)`
	sqlCreateLock = `CREATE TABLE IF NOT EXISTS schema_lock (
    id           BIGINT PRIMARY KEY,
    locked_at_ms BIGINT NOT NULL
)`
	sqlSeedLock    = `INSERT INTO schema_lock (id, locked_at_ms) VALUES (1, 0) ON CONFLICT (id) DO NOTHING`
	sqlLock        = `SELECT locked_at_ms FROM schema_lock WHERE id = 1 FOR UPDATE`
	sqlTouchLock   = `UPDATE schema_lock SET locked_at_ms = $1 WHERE id = 1`
	sqlApplied     = `SELECT version FROM schema_migrations`
	sqlIsApplied   = `SELECT count(*) FROM schema_migrations WHERE version = $1`
	sqlRecordApply = `INSERT INTO schema_migrations (version, applied_at_ms) VALUES ($1, $2)`

	// createAttempts bounds the re-runs of CREATE TABLE IF NOT EXISTS that lost a race.
	createAttempts = 5
)

// Migrate applies the schema migrations to cfg.URL and returns (`allot migrate`). Several
// processes may run it, or Open, on the same database at once: each step is applied once,
// the others wait for it and skip it.
func Migrate(ctx context.Context, cfg Config) error {
	pc, err := cfg.poolConfig(min(cfg.MaxConns, 2))
	if err != nil {
		return err
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return wrap("migrate", err)
	}
	defer pool.Close()
	steps, err := persistence.Migrations()
	if err != nil {
		return err
	}
	s := &Store{cfg: cfg, pool: pool}
	return s.migrate(ctx, steps)
}

// migrate applies steps that schema_migrations does not list, in order.
//
// Each step runs in one SERIALIZABLE transaction: lock the schema_lock row (SELECT ... FOR
// UPDATE, a locking read, so the step's DDL is still the first write of the transaction as
// CockroachDB prefers), check the step is still missing, run its statements, record it, and
// update the lock row. A node that waited on the lock then fails with 40001 (the row changed
// after its snapshot) and cockroach-go re-runs its transaction, which now sees the step
// applied and skips it.
func (s *Store) migrate(ctx context.Context, steps []persistence.Migration) error {
	for _, sql := range []string{sqlCreateMigrations, sqlCreateLock} {
		if err := s.createTable(ctx, sql); err != nil {
			return wrap("migrate", err)
		}
	}
	if err := s.retry(ctx, func(ctx context.Context) error {
		_, err := s.pool.Exec(ctx, sqlSeedLock)
		return err
	}); err != nil {
		return wrap("migrate: seed lock", err)
	}
	applied := map[int64]bool{}
	if err := s.retry(ctx, func(ctx context.Context) error {
		rows, err := s.pool.Query(ctx, sqlApplied)
		if err != nil {
			return err
		}
		versions, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		for _, v := range versions {
			applied[v] = true
		}
		return err
	}); err != nil {
		return wrap("migrate: read versions", err)
	}
	for _, m := range steps {
		if applied[int64(m.Version)] {
			continue
		}
		if err := s.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error { return applyStep(ctx, tx, m) }); err != nil {
			return wrap(fmt.Sprintf("migrate: step %d (%s)", m.Version, m.Name), err)
		}
	}
	return nil
}

func applyStep(ctx context.Context, tx pgx.Tx, m persistence.Migration) error {
	var lockedAt int64
	if err := tx.QueryRow(ctx, sqlLock).Scan(&lockedAt); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	var n int64
	if err := tx.QueryRow(ctx, sqlIsApplied, int64(m.Version)).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil // another node applied it while we waited
	}
	for i, stmt := range m.Statements() {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("statement %d: %w", i+1, err)
		}
	}
	now := time.Now().UnixMilli()
	if _, err := tx.Exec(ctx, sqlRecordApply, int64(m.Version), now); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, sqlTouchLock, now)
	return err
}

// createTable runs a CREATE TABLE IF NOT EXISTS. On PostgreSQL two of them racing for the same
// new table can fail with a unique violation on the catalog (pg_type) or "already exists",
// even with IF NOT EXISTS; the winner has then committed, and running the statement again
// finds the table. This is the one retry here that is not cockroach-go's, and it is not for
// SQLSTATE 40001.
func (s *Store) createTable(ctx context.Context, sql string) error {
	var err error
	for range createAttempts {
		err = s.retry(ctx, func(ctx context.Context) error {
			_, err := s.pool.Exec(ctx, sql)
			return err
		})
		switch sqlState(err) {
		case codeUniqueViolation, codeDuplicateTable, codeDuplicateObject:
			continue
		}
		return err
	}
	return err
}
