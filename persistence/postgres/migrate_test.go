package postgres

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/allot/allot/persistence"
	"github.com/allot/allot/persistence/pgtest"
)

// migrateChildEnv makes the test binary a migrating process (see childMigrate).
const migrateChildEnv = "ALLOT_PG_MIGRATE_CHILD_URL"

// testSteps are the real migrations plus three that show how often each step ran: a CREATE
// TABLE without IF NOT EXISTS (a second run fails) and two steps that each insert one row
// into it (a second run leaves two rows).
func testSteps(tb testing.TB) []persistence.Migration {
	steps, err := persistence.Migrations()
	if err != nil {
		tb.Fatal(err)
	}
	n := steps[len(steps)-1].Version // versions may have gaps (persistence.Migrations)
	return append(steps,
		persistence.Migration{Version: n + 1, Name: "log", SQL: "CREATE TABLE migration_log (step BIGINT NOT NULL);"},
		persistence.Migration{Version: n + 2, Name: "row", SQL: fmt.Sprintf("INSERT INTO migration_log (step) VALUES (%d);", n+2)},
		persistence.Migration{Version: n + 3, Name: "index_and_row", SQL: fmt.Sprintf(
			"CREATE INDEX migration_log_by_step ON migration_log (step);\nINSERT INTO migration_log (step) VALUES (%d);", n+3)},
	)
}

// unmigratedStore is a Store on url that has not run migrations.
func unmigratedStore(tb testing.TB, url string) *Store {
	tb.Helper()
	cfg := testConfig(url)
	cfg.MaxConns = 2
	pc, err := cfg.poolConfig(cfg.MaxConns)
	if err != nil {
		tb.Fatal(err)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		tb.Fatal(err)
	}
	s := &Store{cfg: cfg, pool: pool}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// checkAppliedOnce checks that schema_migrations lists every step once and that each test
// step ran exactly once.
func checkAppliedOnce(t *testing.T, url string, steps []persistence.Migration) {
	t.Helper()
	c := mustConn(t, url)
	ctx := context.Background()
	var count, minV, maxV int
	if err := c.QueryRow(ctx, "SELECT count(*), min(version), max(version) FROM schema_migrations").Scan(&count, &minV, &maxV); err != nil {
		t.Fatal(err)
	}
	if count != len(steps) || minV != steps[0].Version || maxV != steps[len(steps)-1].Version {
		t.Fatalf("schema_migrations has %d rows, versions %d..%d; want %d rows %d..%d", count, minV, maxV,
			len(steps), steps[0].Version, steps[len(steps)-1].Version)
	}
	rows, err := c.Query(ctx, "SELECT step, count(*) FROM migration_log GROUP BY step ORDER BY step")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var step, n int
		if err := rows.Scan(&step, &n); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d:%d", step, n))
	}
	if want := fmt.Sprintf("%d:1 %d:1", steps[len(steps)-2].Version, steps[len(steps)-1].Version); strings.Join(got, " ") != want {
		t.Fatalf("migration_log (step:times) = %v, want %s", got, want)
	}
	// The real schema is there.
	if _, err := c.Exec(ctx, "SELECT id, epoch FROM resources LIMIT 1"); err != nil {
		t.Fatalf("resources table: %v", err)
	}
}

func TestConcurrentMigrationsGoroutines(t *testing.T) {
	url := pgtest.MustServer(t).MustDatabase(t)
	steps := testSteps(t)
	const n = 8
	stores := make([]*Store, n)
	for i := range stores {
		stores[i] = unmigratedStore(t, url)
		if err := stores[i].Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			errs[i] = stores[i].migrate(ctx, steps)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("migrator %d: %v", i, err)
		}
	}
	checkAppliedOnce(t, url, steps)

	// Once more, on a migrated database: nothing to do, nothing fails.
	if err := stores[0].migrate(context.Background(), steps); err != nil {
		t.Fatal(err)
	}
	checkAppliedOnce(t, url, steps)
}

// childMigrate runs in a child test binary: it connects, says READY, waits for a line on
// stdin, migrates with testSteps and exits 0, or prints the error and exits 1. It reports
// whether this process was such a child.
func childMigrate() bool {
	url := os.Getenv(migrateChildEnv)
	if url == "" {
		return false
	}
	tb := &childTB{}
	s := unmigratedStore(tb, url)
	err := s.Ping(context.Background())
	if err == nil {
		fmt.Println("READY")
		_, err = bufio.NewReader(os.Stdin).ReadString('\n')
	}
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err = s.migrate(ctx, testSteps(tb))
		cancel()
	}
	_ = s.Close()
	if err != nil || tb.failed {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	fmt.Println("DONE")
	os.Exit(0)
	return true
}

// childTB lets test helpers run outside a test.
type childTB struct {
	testing.TB
	failed bool
}

func (c *childTB) Helper()                   {}
func (c *childTB) Cleanup(func())            {}
func (c *childTB) Fatal(args ...any)         { fmt.Println(args...); os.Exit(1) }
func (c *childTB) Fatalf(f string, a ...any) { fmt.Printf(f+"\n", a...); os.Exit(1) }

func TestConcurrentMigrationsProcesses(t *testing.T) {
	url := pgtest.MustServer(t).MustDatabase(t)
	const n = 3
	type child struct {
		cmd   *exec.Cmd
		stdin io.WriteCloser
		out   *bufio.Reader
	}
	children := make([]child, n)
	for i := range children {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), migrateChildEnv+"="+url)
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		children[i] = child{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
	}
	for i, c := range children { // all connected before any migrates
		if line, err := c.out.ReadString('\n'); err != nil || line != "READY\n" {
			t.Fatalf("child %d: %q %v", i, line, err)
		}
	}
	for _, c := range children {
		if _, err := io.WriteString(c.stdin, "GO\n"); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range children {
		rest, _ := io.ReadAll(c.out)
		if err := c.cmd.Wait(); err != nil || strings.TrimSpace(string(rest)) != "DONE" {
			t.Errorf("child %d: %v, said %q", i, err, rest)
		}
	}
	checkAppliedOnce(t, url, testSteps(t))
}

// TestMigrateLeasesOnExistingData: a database at schema version 1 with a resource in it takes
// step 2 (the lease column): the resource has no lease, and activates, renews and commits.
func TestMigrateLeasesOnExistingData(t *testing.T) {
	url := pgtest.MustServer(t).MustDatabase(t)
	steps, err := persistence.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	old := unmigratedStore(t, url)
	if err := old.migrate(ctx, steps[:1]); err != nil {
		t.Fatal(err)
	}
	// What a version-1 store wrote.
	if _, err := old.pool.Exec(ctx, `INSERT INTO resources
    (id, name, price_amount, price_currency, hold_ttl_ms, epoch, version, created_at_ms, updated_at_ms)
VALUES ('r', 'r', NULL, NULL, 60000, 3, 5, $1, $1)`, t0.UnixMilli()); err != nil {
		t.Fatal(err)
	}
	if err := old.migrate(ctx, steps); err != nil {
		t.Fatal(err)
	}
	s := mustOpen(t, testConfig(url))
	snap, err := s.Activate(ctx, "r", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if !snap.Exists || snap.Epoch != 4 || snap.Version != 5 || !snap.LeaseUntil.IsZero() {
		t.Fatalf("after the migration: %+v, want epoch 4, version 5, no lease", snap)
	}
	if err := s.Renew(ctx, "r", snap.Epoch, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, &persistence.Batch{ResourceID: "r", Epoch: snap.Epoch, Version: 6, Resource: snap.Resource}); err != nil {
		t.Fatal(err)
	}
	if snap, err = s.Activate(ctx, "r", time.Time{}); err != nil || !snap.LeaseUntil.Equal(t0.Add(time.Second)) || snap.Version != 6 {
		t.Fatalf("after renew and commit: %+v %v", snap, err)
	}
}
